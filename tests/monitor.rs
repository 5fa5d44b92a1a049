//! The monitor as a real process against a real S3-compatible server (moto) behind a link that
//! fails: the store goes away for several sample periods, the monitor is killed (SIGKILL) and
//! restarted during the outage, the store comes back; every sample arrives, none twice. Then the
//! telemetry is read by DuckDB straight from the store layout, and a corrupt object is skipped.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::loaders::{S3Server, free_port, python};
use crate::common::{Flaky, Garnet};

fn health(port: u16) -> serde_json::Value {
    let (status, body) = crate::common::loaders::http(port, "GET", "/health", None, "");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start_monitor(config: &Path, log: &Path) -> Child {
    Garnet::new()
        .env("GARNET_LOG", "info")
        .args(["monitor", "--config", &config.display().to_string(), "--interval", "1s"])
        .command()
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

#[test]
fn no_sample_lost_across_a_store_outage_and_a_killed_monitor() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s3 = S3Server::start(&py, d);
    let link = Flaky::start(s3.port);
    let hp = free_port();
    let spool = d.join("spool");
    let config = d.join("node.json");
    let store = serde_json::json!({
        "kind": "s3", "path": "", "endpoint": format!("http://127.0.0.1:{}", link.port), "bucket": s3.bucket,
        "prefix": "faults", "region": "us-east-1", "credentials_file": s3.credentials(d), "path_style": true,
    });
    std::fs::write(
        &config,
        serde_json::to_vec(&serde_json::json!({
            "cluster": "faults", "node": "n1", "interval_secs": 1, "health_listen": format!("127.0.0.1:{hp}"),
            "spool_dir": spool, "spool_max": 1000, "store": store,
        }))
        .unwrap(),
    )
    .unwrap();

    let mut a = start_monitor(&config, &d.join("a.log"));
    wait_for("two samples shipped", 30, || {
        std::net::TcpStream::connect(("127.0.0.1", hp)).is_ok() && health(hp)["shipped"].as_u64() >= Some(2)
    });

    // The store goes away for several sample periods.
    link.down();
    wait_for("the outage to be noticed", 60, || health(hp)["store_error"].is_string());
    let shipped_by_a = health(hp)["shipped"].as_u64().unwrap();
    wait_for("samples piling up in the spool", 60, || health(hp)["spooled"].as_u64() >= Some(3));
    assert_eq!(health(hp)["shipped"].as_u64(), Some(shipped_by_a), "nothing ships during the outage");
    // Killed without a chance to clean up, mid-outage.
    a.kill().unwrap();
    a.wait().unwrap();
    let spooled_by_a = std::fs::read_dir(&spool)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .count();
    assert!(spooled_by_a >= 3, "{spooled_by_a}");
    std::thread::sleep(Duration::from_millis(1100)); // no two samples in one second (one key each)

    let mut b = start_monitor(&config, &d.join("b.log"));
    wait_for("the restarted monitor to sample during the outage", 60, || {
        std::net::TcpStream::connect(("127.0.0.1", hp)).is_ok() && health(hp)["samples"].as_u64() >= Some(3)
    });
    // Shipping runs apart from sampling: its first failure is reported once the store call
    // gives up, which may be after a few samples.
    wait_for("the outage to be noticed again", 60, || health(hp)["store_error"].is_string());
    let log = std::fs::read_to_string(d.join("b.log")).unwrap();
    let complaints = log.lines().filter(|l| l.contains("unreachable")).count();
    let samples_so_far = health(hp)["samples"].as_u64().unwrap() as usize;
    assert!(complaints <= samples_so_far, "one line per failed shipment, not per retry: {complaints} lines\n{log}");

    // The store returns: the backlog ships, in one go, before the next samples.
    link.up();
    wait_for("the spool to drain", 60, || {
        let h = health(hp);
        h["spooled"].as_u64() == Some(0) && h["store_error"].is_null()
    });
    unsafe { libc::kill(b.id() as i32, libc::SIGTERM) };
    assert!(b.wait().unwrap().success());
    let log = std::fs::read_to_string(d.join("b.log")).unwrap();
    let samples_by_b: usize = log
        .lines()
        .find_map(|l| l.split("stopped after ").nth(1)?.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no stop line in\n{log}"));
    assert!(log.contains("store reachable again"), "{log}");

    // Count them: every sample exactly once.
    let spec: garnet::inventory::StoreSpec = serde_json::from_value(serde_json::json!({
        "kind": "s3", "path": "", "endpoint": format!("http://127.0.0.1:{}", s3.port), "bucket": s3.bucket,
        "prefix": "faults", "region": "us-east-1", "credentials_file": s3.credentials(d), "path_style": true,
    }))
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (keys, ats) = rt.block_on(async {
        let st = garnet::store::open_spec(&spec).await.unwrap();
        let keys = st.list("telemetry/cluster=faults/node=n1/").await.unwrap();
        let mut ats = Vec::new();
        for k in &keys {
            let s: garnet::telemetry::Sample = serde_json::from_slice(&st.get(k).await.unwrap().unwrap()).unwrap();
            ats.push(s.at);
        }
        (keys, ats)
    });
    let expected = shipped_by_a as usize + spooled_by_a + samples_by_b;
    assert_eq!(
        keys.len(),
        expected,
        "shipped by A {shipped_by_a} + spooled by A {spooled_by_a} + taken by B {samples_by_b}"
    );
    let mut unique = ats.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ats.len(), "a sample arrived twice");

    // DuckDB reads the layout as it is (hive partitions from the key names).
    let code = format!(
        r#"
import duckdb, sys
con = duckdb.connect()
rows = con.execute("SELECT node, count(*), min(memory.total_bytes) > 0 FROM read_json_auto('{root}/telemetry/*/*/*/*.json', hive_partitioning=true) GROUP BY node").fetchall()
print(rows)
"#,
        root = d.join("mirror").display()
    );
    // Mirror the bucket to a folder (DuckDB's S3 reader needs the httpfs extension, a download).
    rt.block_on(async {
        let st = garnet::store::open_spec(&spec).await.unwrap();
        for k in &keys {
            let p = d.join("mirror").join(k);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, st.get(k).await.unwrap().unwrap()).unwrap();
        }
    });
    let out = std::process::Command::new(&py).args(["-c", &code]).output().unwrap();
    assert!(out.status.success(), "duckdb: {}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(printed.trim(), format!("[('n1', {expected}, True)]"));
}

/// A stand-in loader (one error path: a crash): answers `/health` for two seconds, then exits 3.
const CRASHY: &str = r#"
import http.server, os, sys, threading, time
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
threading.Thread(target=s.serve_forever, daemon=True).start()
time.sleep(2)
# The first run crashes (exit 3); later runs are killed by SIGKILL, as the OOM killer would.
if not os.path.exists(sys.argv[2]):
    open(sys.argv[2], "w").close()
    os._exit(3)
os.kill(os.getpid(), 9)
"#;

#[test]
fn a_crashed_loader_is_restarted_and_its_exit_status_recorded() {
    use garnet::node::service::{ServiceSpec, process_start, process_stop};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (port, hp) = (free_port(), free_port());
    let run = d.join("run");
    let spec = ServiceSpec {
        name: "garnet-loader-crashy".into(),
        program: "python3".into(),
        args: vec!["-c".into(), CRASHY.into(), port.to_string(), d.join("crashed-once").display().to_string()],
        env: Default::default(),
        working_dir: None,
        run_dir: run.display().to_string(),
        restart: true,
        supervisor: Some(env!("CARGO_BIN_EXE_garnet").into()),
        logs: Default::default(),
    };
    let sh = |script: String| std::process::Command::new("sh").arg("-c").arg(script).status().unwrap().code();
    assert_eq!(sh(process_start(&spec)), Some(0));
    let config = d.join("node.json");
    std::fs::write(
        &config,
        serde_json::to_vec(&serde_json::json!({
            "cluster": "crash", "node": "n1", "interval_secs": 1, "health_listen": format!("127.0.0.1:{hp}"),
            "spool_dir": d.join("spool"), "spool_max": 1000,
            "store": {"kind": "local", "path": d.join("store"), "endpoint": null, "bucket": null, "prefix": null,
                      "region": null, "credentials_file": null, "path_style": false},
            "loaders": [{"model": "crashy", "service": spec.name, "url": format!("http://127.0.0.1:{port}"),
                         "exit_file": spec.exit_file()}],
        }))
        .unwrap(),
    )
    .unwrap();
    let mut monitor = start_monitor(&config, &d.join("monitor.log"));
    let events = || -> Vec<serde_json::Value> {
        glob::glob(&format!("{}/store/events/**/*.json", d.display()))
            .unwrap()
            .flatten()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    };
    // up → crashed (exit 3, recorded by the supervisor) → up again (restarted) → evicted (SIGKILL).
    wait_for("a crash, a restart and an eviction", 60, || {
        let ev = events();
        let crashed = ev.iter().filter(|e| e["kind"] == "loader_crashed" && e["exit"]["exit_code"] == 3).count();
        let evicted = ev.iter().filter(|e| e["kind"] == "loader_evicted" && e["exit"]["signal"] == 9).count();
        let up = ev.iter().filter(|e| e["kind"] == "loader_up").count();
        crashed >= 1 && evicted >= 1 && up >= 2
    });
    let ev = events();
    let evicted = ev.iter().find(|e| e["kind"] == "loader_evicted").unwrap();
    assert!(evicted.get("memory_pressure").is_some(), "the eviction says how memory stood: {evicted}");
    let supervisor: i32 = std::fs::read_to_string(spec.pidfile()).unwrap().trim().parse().unwrap();
    assert_eq!(sh(process_stop(&spec)), Some(0));
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        std::fs::read_to_string(format!("/proc/{supervisor}/stat")).map_or(true, |s| s.contains(") Z ")),
        "supervisor survived stop"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "the program survived its supervisor's stop");
    monitor.kill().unwrap();
    let _ = monitor.wait();
}

/// A metered PDU outlet as the node's power source: the monitor runs the node's power command
/// each sample (here a script reading a file the test writes), integrates the energy between
/// readings, and logs a failing command once, not once per sample.
#[test]
fn pdu_power_command_feeds_the_samples() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let watts = d.join("outlet-watts");
    std::fs::write(&watts, "Outlet 4 power: 120\n").unwrap();
    let config = d.join("node.json");
    std::fs::write(
        &config,
        serde_json::to_vec(&serde_json::json!({
            "cluster": "pdu", "node": "n1", "interval_secs": 1, "health_listen": format!("127.0.0.1:{}", free_port()),
            "spool_dir": d.join("spool"), "spool_max": 1000,
            "store": {"kind": "local", "path": d.join("store"), "endpoint": null, "bucket": null, "prefix": null,
                      "region": null, "credentials_file": null, "path_style": false},
            "power_command": format!("cat {}", watts.display()),
        }))
        .unwrap(),
    )
    .unwrap();
    let log = d.join("monitor.log");
    let mut monitor = start_monitor(&config, &log);
    let samples = || -> Vec<serde_json::Value> {
        let mut paths: Vec<_> =
            glob::glob(&format!("{}/store/telemetry/**/*.json", d.display())).unwrap().flatten().collect();
        paths.sort();
        paths.iter().map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()).collect()
    };
    wait_for("three samples", 30, || samples().len() >= 3);
    let s = samples();
    assert_eq!(s[0]["power"]["source"], "pdu", "{}", s[0]);
    assert_eq!(s[0]["power"]["system_watts"], 120.0);
    assert!(s[0]["power"]["energy_joules"].is_null(), "no window before the first reading: {}", s[0]);
    let (e, secs) = (s[1]["power"]["energy_joules"].as_f64().unwrap(), s[1]["window_secs"].as_f64().unwrap());
    assert!((e - 120.0 * secs).abs() <= 120.0 * 0.6, "energy {e} J over a {secs} s window at 120 W");

    // The command starts failing: samples go on without PDU numbers, one log line says why.
    std::fs::write(&watts, "outlet unreachable\n").unwrap();
    let n = samples().len();
    wait_for("three more samples", 30, || samples().len() >= n + 3);
    let last = samples().pop().unwrap();
    assert_ne!(last["power"]["source"], "pdu", "{last}");
    monitor.kill().unwrap();
    let _ = monitor.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches("no watts in its output").count(), 1, "{text}");
}

/// `garnet supervise` writes the program's stdout and stderr to logs rotated by size: each file
/// within the limit, at most `--log-keep` old ones, no line lost at a rotation.
#[test]
fn supervised_logs_are_rotated_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_garnet"))
        .args(["supervise", "--exit-file"])
        .arg(d.join("p.exit"))
        .arg("--log-out")
        .arg(d.join("p.out.log"))
        .arg("--log-err")
        .arg(d.join("p.err.log"))
        .args(["--log-max-bytes", "4096", "--log-keep", "2", "--", "sh", "-c"])
        .arg("i=0; while [ $i -lt 3000 ]; do echo \"out line $i\"; echo \"err line $i\" >&2; i=$((i+1)); done; exit 3")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the program failed, so does its supervisor without --restart");
    let mut names: Vec<String> =
        std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "p.child",
            "p.err.log",
            "p.err.log.1",
            "p.err.log.2",
            "p.exit",
            "p.exits",
            "p.out.log",
            "p.out.log.1",
            "p.out.log.2"
        ]
    );
    for n in names.iter().filter(|n| n.contains(".log")) {
        let len = std::fs::metadata(d.join(n)).unwrap().len();
        assert!(len <= 4096, "{n}: {len} bytes");
    }
    // The newest lines are in the current file, and the three files hold one unbroken run.
    let all: Vec<String> = ["p.out.log.2", "p.out.log.1", "p.out.log"]
        .iter()
        .flat_map(|f| std::fs::read_to_string(d.join(f)).unwrap().lines().map(str::to_string).collect::<Vec<_>>())
        .collect();
    assert_eq!(all.last().unwrap(), "out line 2999");
    let first: usize = all[0].rsplit(' ').next().unwrap().parse().unwrap();
    for (k, line) in all.iter().enumerate() {
        assert_eq!(line, &format!("out line {}", first + k), "a line was lost or cut");
    }
    let exit: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("p.exit")).unwrap()).unwrap();
    assert_eq!(exit["exit_code"], 3);
}

/// A loader that dies again and again, faster than the monitor samples: every exit its supervisor
/// records becomes exactly one event, at the time it happened, not one per sampling instant.
#[test]
fn every_loader_exit_is_one_event_even_between_samples() {
    use garnet::node::service::{ServiceSpec, process_start, process_stop};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let spec = ServiceSpec {
        name: "garnet-loader-dying".into(),
        program: "sh".into(),
        // Up for a moment, then SIGKILLed (as by the OOM killer); restarted after 1, 2, 4 s.
        args: vec!["-c".into(), "sleep 0.2; kill -9 $$".into()],
        env: Default::default(),
        working_dir: None,
        run_dir: d.join("run").display().to_string(),
        restart: true,
        supervisor: Some(env!("CARGO_BIN_EXE_garnet").into()),
        logs: Default::default(),
    };
    let sh = |script: String| std::process::Command::new("sh").arg("-c").arg(script).status().unwrap().code();
    let config = d.join("node.json");
    std::fs::write(
        &config,
        serde_json::to_vec(&serde_json::json!({
            "cluster": "dying", "node": "n1", "interval_secs": 5, "health_listen": format!("127.0.0.1:{}", free_port()),
            "spool_dir": d.join("spool"), "spool_max": 1000,
            "store": {"kind": "local", "path": d.join("store"), "endpoint": null, "bucket": null, "prefix": null,
                      "region": null, "credentials_file": null, "path_style": false},
            "loaders": [{"model": "dying", "service": spec.name, "url": format!("http://127.0.0.1:{}", free_port()),
                         "exit_file": spec.exit_file()}],
        }))
        .unwrap(),
    )
    .unwrap();
    let mut monitor = start_monitor(&config, &d.join("monitor.log"));
    assert_eq!(sh(process_start(&spec)), Some(0));
    let exits_log = std::path::Path::new(&spec.exit_file()).with_extension("exits");
    wait_for("four exits", 30, || std::fs::read_to_string(&exits_log).map_or(0, |t| t.lines().count()) >= 4);
    assert_eq!(sh(process_stop(&spec)), Some(0));
    let exits: Vec<serde_json::Value> =
        std::fs::read_to_string(&exits_log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let events = || -> Vec<serde_json::Value> {
        glob::glob(&format!("{}/store/events/**/*loader_evicted*.json", d.display()))
            .unwrap()
            .flatten()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    };
    wait_for("an event for every exit", 30, || events().len() >= exits.len());
    std::thread::sleep(Duration::from_secs(6)); // one more sample: nothing is reported twice
    let mut ev = events();
    ev.sort_by_key(|e| e["at"].as_str().unwrap().to_string());
    assert_eq!(ev.len(), exits.len(), "one event per exit: {ev:?}");
    for (e, x) in ev.iter().zip(&exits) {
        assert_eq!(e["at"], x["at"], "the event is dated when the loader died");
        assert_eq!(e["exit"]["signal"], 9);
    }
    // Several exits fell between two samples (5 s apart): sampling alone would have seen one.
    let t = |v: &serde_json::Value| v["at"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
    assert!(t(&exits[2]).duration_since(t(&exits[0])).as_secs_f64() < 5.0, "{exits:?}");
    monitor.kill().unwrap();
    let _ = monitor.wait();
}

/// A bucket that hangs (the S3 server paused: it accepts connections and never answers, as a
/// black-holed endpoint would) for longer than a store call's deadline: sampling goes on every
/// second regardless, and once the server is back every sample arrives: no hole in the series.
#[test]
fn a_hung_bucket_leaves_no_hole_in_the_series() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s3 = S3Server::start(&py, d);
    let hp = free_port();
    let config = d.join("node.json");
    let store = serde_json::json!({
        "kind": "s3", "path": "", "endpoint": format!("http://127.0.0.1:{}", s3.port), "bucket": s3.bucket,
        "prefix": "hang", "region": "us-east-1", "credentials_file": s3.credentials(d), "path_style": true,
    });
    std::fs::write(
        &config,
        serde_json::to_vec(&serde_json::json!({
            "cluster": "hang", "node": "n1", "interval_secs": 1, "health_listen": format!("127.0.0.1:{hp}"),
            "spool_dir": d.join("spool"), "spool_max": 1000, "store": store.clone(),
        }))
        .unwrap(),
    )
    .unwrap();
    let mut m = start_monitor(&config, &d.join("m.log"));
    wait_for("two samples shipped", 30, || {
        std::net::TcpStream::connect(("127.0.0.1", hp)).is_ok() && health(hp)["shipped"].as_u64() >= Some(2)
    });
    unsafe { libc::kill(s3.pid() as i32, libc::SIGSTOP) };
    let paused = Instant::now();
    let samples_before = health(hp)["samples"].as_u64().unwrap();
    std::thread::sleep(Duration::from_secs(25));
    let during = health(hp)["samples"].as_u64().unwrap() - samples_before;
    unsafe { libc::kill(s3.pid() as i32, libc::SIGCONT) };
    assert!(during >= 22, "only {during} samples in the 25 s the bucket hung ({:?})", paused.elapsed());
    wait_for("the spool to drain", 90, || {
        let h = health(hp);
        h["spooled"].as_u64() == Some(0) && h["store_error"].is_null()
    });
    unsafe { libc::kill(m.id() as i32, libc::SIGTERM) };
    assert!(m.wait().unwrap().success());
    let spec: garnet::inventory::StoreSpec = serde_json::from_value(store).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut ats: Vec<jiff::Timestamp> = rt.block_on(async {
        let st = garnet::store::open_spec(&spec).await.unwrap();
        let mut ats = Vec::new();
        for k in st.list("telemetry/cluster=hang/node=n1/").await.unwrap() {
            let s: garnet::telemetry::Sample = serde_json::from_slice(&st.get(&k).await.unwrap().unwrap()).unwrap();
            ats.push(s.at.parse().unwrap());
        }
        ats
    });
    ats.sort();
    let worst = ats.windows(2).map(|w| w[1].duration_since(w[0]).as_secs_f64()).fold(0.0, f64::max);
    assert!(ats.len() >= 27, "{} samples", ats.len());
    assert!(worst < 2.5, "a {worst:.1} s hole in the series");
    let log = std::fs::read_to_string(d.join("m.log")).unwrap();
    assert!(log.contains("no answer within 20 s") && log.contains("store reachable again"), "{log}");
}

/// The designated monitor compacts the cluster's telemetry into Parquet by itself (here every
/// 2 s instead of hourly), apart from sampling: the day's file appears and grows with the samples.
#[test]
fn the_designated_monitor_compacts_the_day_into_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = d.join("node.json");
    std::fs::write(
        &config,
        serde_json::to_vec(&serde_json::json!({
            "cluster": "cp", "node": "n1", "interval_secs": 1, "health_listen": format!("127.0.0.1:{}", free_port()),
            "spool_dir": d.join("spool"), "spool_max": 1000,
            "store": {"kind": "local", "path": d.join("store"), "endpoint": null, "bucket": null, "prefix": null,
                      "region": null, "credentials_file": null, "path_style": false},
            "compact": true, "compact_every_secs": 2,
        }))
        .unwrap(),
    )
    .unwrap();
    let mut m = start_monitor(&config, &d.join("m.log"));
    let rows = || -> u64 {
        glob::glob(&format!("{}/store/telemetry-parquet/cluster=cp/date=*/samples.parquet", d.display()))
            .unwrap()
            .flatten()
            .map(|p| garnet::telemetry::columnar::rows(&std::fs::read(p).unwrap()).unwrap())
            .sum()
    };
    wait_for("a compacted day with a few samples", 30, || rows() >= 3);
    let first = rows();
    wait_for("the day rewritten with later samples", 30, || rows() > first);
    m.kill().unwrap();
    let _ = m.wait();
    let log = std::fs::read_to_string(d.join("m.log")).unwrap();
    assert!(log.contains("compacted"), "{log}");
}
