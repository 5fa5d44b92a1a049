//! The soak: the router process in front of two real `mlx_lm.server` loaders (each under
//! `garnet supervise --restart`, as the process backend runs them), mixed streaming and whole
//! requests from clients with their own clocks, hostile traffic beside them (slowloris heads,
//! connection floods, bad bodies), and a loader SIGKILLed every few seconds. Every well-formed
//! request must be answered (a stream whose loader died under it ends with an error event), and
//! the router's memory and descriptors must stay bounded. `GARNET_SOAK_SECS` sets the length
//! (CI: 40 s; `bench/soak.sh`: 30 minutes), and the figures are printed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::common::loaders::{RouterProc, free_port, python, tiny_model};

/// A loader under the supervisor, restarted when killed.
struct Supervised {
    port: u16,
    model: String,
    sup: Child,
}

impl Supervised {
    fn start(py: &Path, model: &Path, dir: &Path, name: &str) -> Supervised {
        let port = free_port();
        let hf = dir.join("hf-home");
        std::fs::create_dir_all(&hf).unwrap();
        let sup = Command::new(env!("CARGO_BIN_EXE_garnet"))
            .args(["supervise", "--restart", "--exit-file"])
            .arg(dir.join(format!("{name}.exit")))
            .arg("--log-err")
            .arg(dir.join(format!("{name}.err.log")))
            .arg("--")
            .arg(py)
            .args(["-m", "mlx_lm.server", "--host", "127.0.0.1", "--port", &port.to_string(), "--model"])
            .arg(model)
            .env("HF_HUB_OFFLINE", "1")
            .env("HF_HOME", &hf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let s = Supervised { port, model: model.display().to_string(), sup };
        s.wait_ready(Duration::from_secs(60));
        s
    }

    fn wait_ready(&self, limit: Duration) {
        let t0 = Instant::now();
        let body =
            format!(r#"{{"model":"{}","messages":[{{"role":"user","content":"hi"}}],"max_tokens":1}}"#, self.model);
        while t0.elapsed() < limit {
            if let Ok(out) = crate::common::loaders::http_post(self.port, "/v1/chat/completions", &body)
                && out.starts_with("HTTP/1.0 200")
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("loader on {} not ready after {limit:?}", self.port);
    }

    /// SIGKILLs the loader process (the supervisor's child), as the OOM killer would.
    fn kill_loader(&self) -> bool {
        let sup = self.sup.id().to_string();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
            let Some((_, rest)) = stat.rsplit_once(')') else { continue };
            if rest.split_whitespace().nth(1) == Some(sup.as_str()) {
                let pid: i32 = e.file_name().to_string_lossy().parse().unwrap();
                return unsafe { libc::kill(pid, libc::SIGKILL) } == 0;
            }
        }
        false
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        unsafe { libc::kill(self.sup.id() as i32, libc::SIGTERM) };
        let _ = self.sup.wait();
    }
}

#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    ok: AtomicU64,
    streams_cut_with_error: AtomicU64,
    /// Well-formed requests that got anything else: what must stay 0.
    lost: AtomicU64,
    hostile: AtomicU64,
}

/// One well-formed request over its own connection; streams are read to their end.
fn well_formed(port: u16, stream: bool, t: &Tally, lost_detail: &std::sync::Mutex<Vec<String>>) {
    t.sent.fetch_add(1, Ordering::Relaxed);
    let body = format!(
        r#"{{"model":"tiny","messages":[{{"role":"user","content":"count to ten"}}],"max_tokens":16,"stream":{stream}}}"#
    );
    let result = (|| -> std::io::Result<String> {
        let mut s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        write!(
            s,
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        let mut out = String::new();
        BufReader::new(s).read_to_string(&mut out)?;
        Ok(out)
    })();
    let verdict = match &result {
        Ok(out) if out.starts_with("HTTP/1.1 200") && !stream => {
            let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b);
            let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            if v["usage"]["completion_tokens"] == 16 { "ok" } else { "short" }
        }
        Ok(out) if out.starts_with("HTTP/1.1 200") => {
            if out.contains("data: [DONE]") && !out.contains("\"error\"") {
                "ok"
            } else if out.contains("data: {\"error\"") {
                "cut"
            } else {
                "short"
            }
        }
        _ => "lost",
    };
    match verdict {
        "ok" => t.ok.fetch_add(1, Ordering::Relaxed),
        "cut" => t.streams_cut_with_error.fetch_add(1, Ordering::Relaxed),
        _ => {
            let mut d = lost_detail.lock().unwrap();
            if d.len() < 5 {
                d.push(format!("{verdict}: {:?}", result.map(|o| o.chars().take(300).collect::<String>())));
            }
            t.lost.fetch_add(1, Ordering::Relaxed)
        }
    };
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

#[test]
fn soak_mixed_load_hostile_traffic_and_killed_loaders() {
    let _quiet = crate::common::clocks();
    let Some(py) = python() else { return };
    let secs: u64 = std::env::var("GARNET_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(40);
    let kill_every =
        Duration::from_secs(std::env::var("GARNET_SOAK_KILL_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(10));
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(&py, 0);
    let loaders = std::thread::scope(|s| {
        let a = s.spawn(|| Supervised::start(&py, &model, dir.path(), "l1"));
        let b = s.spawn(|| Supervised::start(&py, &model, dir.path(), "l2"));
        [a.join().unwrap(), b.join().unwrap()]
    });
    let routes = format!(
        "models:\n  - name: tiny\n    max_tokens: 16\n    queue: 256\n    backends:\n{}limits: {{header_timeout_ms: 2000, body_timeout_ms: 2000, max_connections: 2000}}\n",
        loaders
            .iter()
            .enumerate()
            .map(|(i, l)| format!(
                "      - {{id: l{}, url: \"http://127.0.0.1:{}\", model: \"{}\", max_concurrency: 4}}\n",
                i + 1,
                l.port,
                l.model
            ))
            .collect::<String>()
    );
    let router = RouterProc::start(dir.path(), &routes, &["--threads", "2"]);
    let (pid, port) = (router.pid(), router.port);
    let (fd0, rss0) = (fds(pid), rss_mb(pid));

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let lost_detail = Arc::new(std::sync::Mutex::new(Vec::new()));
    let deadline = Instant::now() + Duration::from_secs(secs);
    std::thread::scope(|s| {
        // Well-formed load: two streaming and two whole-answer clients.
        for c in 0..4 {
            let (tally, lost_detail) = (tally.clone(), lost_detail.clone());
            s.spawn(move || {
                while Instant::now() < deadline {
                    well_formed(port, c % 2 == 0, &tally, &lost_detail);
                }
            });
        }
        // Slowloris: 50 connections trickling a head, reopened when the router closes them.
        let (st, t) = (stop.clone(), tally.clone());
        s.spawn(move || {
            let mut conns: Vec<Option<TcpStream>> = (0..50).map(|_| None).collect();
            while !st.load(Ordering::Relaxed) {
                for c in conns.iter_mut() {
                    if c.as_mut().is_none_or(|s| s.write_all(b"a").is_err()) {
                        *c = TcpStream::connect(("127.0.0.1", port)).ok().inspect(|s| {
                            let _ = (&*s).write_all(b"POST /v1/chat/completions HTTP/1.1\r\nX: ");
                        });
                        t.hostile.fetch_add(1, Ordering::Relaxed);
                    }
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        // Connection floods: 300 opened at once, held a moment, dropped.
        let (st, t) = (stop.clone(), tally.clone());
        s.spawn(move || {
            while !st.load(Ordering::Relaxed) {
                let flood: Vec<TcpStream> =
                    (0..300).filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok()).collect();
                t.hostile.fetch_add(flood.len() as u64, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(300));
                drop(flood);
                std::thread::sleep(Duration::from_millis(700));
            }
        });
        // Bad bodies: deep nesting, broken JSON, unsupported `n`, garbage heads.
        let (st, t) = (stop.clone(), tally.clone());
        s.spawn(move || {
            let deep = format!(r#"{{"model":"tiny","messages":[{{"role":"user","content":{}}}]}}"#, "[".repeat(50_000));
            let bodies =
                [deep.as_str(), r#"{"model":"tiny","messages":[{"#, r#"{"model":"tiny","messages":[{"role":"user","content":"x"}],"n":5}"#];
            let mut i = 0;
            while !st.load(Ordering::Relaxed) {
                let b = bodies[i % bodies.len()];
                if let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) {
                    let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
                    let wire = if i % 4 == 3 {
                        "\x16\x03\x01\x02\x00\x01\x00\x01\x7c\x03\x03 GET / HTTP/9.9\r\n\r\n".to_string()
                    } else {
                        format!("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{b}", b.len())
                    };
                    let _ = c.write_all(wire.as_bytes());
                    let mut line = String::new();
                    let _ = BufReader::new(c).read_line(&mut line);
                    assert!(line.starts_with("HTTP/1.1 4"), "a bad request got `{line}`");
                }
                t.hostile.fetch_add(1, Ordering::Relaxed);
                i += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        // A loader SIGKILLed every few seconds, alternately; the supervisor restarts it.
        let st = stop.clone();
        let loaders = &loaders;
        s.spawn(move || {
            let mut k = 0;
            let mut next = Instant::now() + kill_every;
            while !st.load(Ordering::Relaxed) {
                if Instant::now() >= next && Instant::now() + Duration::from_secs(8) < deadline {
                    assert!(loaders[k % 2].kill_loader(), "no loader process to kill");
                    k += 1;
                    next = Instant::now() + kill_every;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            eprintln!("soak: {k} loaders killed");
        });
        // The router's footprint, once a second.
        let st = stop.clone();
        let watch = s.spawn(move || {
            let (mut max_fd, mut max_rss) = (0usize, 0f64);
            while Instant::now() < deadline {
                max_fd = max_fd.max(fds(pid));
                max_rss = max_rss.max(rss_mb(pid));
                std::thread::sleep(Duration::from_secs(1));
            }
            st.store(true, Ordering::Relaxed);
            (max_fd, max_rss)
        });
        let (max_fd, max_rss) = watch.join().unwrap();
        eprintln!("soak: router peak {max_fd} descriptors, {max_rss:.1} MB RSS (idle {fd0} descriptors, {rss0:.1} MB)");
        assert!(max_fd < 2600, "descriptors unbounded: {max_fd}");
        assert!(max_rss < rss0 + 150.0, "RSS unbounded: {max_rss:.1} MB");
    });
    // Once the hostile connections are gone, the router is back near idle.
    let t0 = Instant::now();
    while fds(pid) > fd0 + 16 && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let (fd1, rss1) = (fds(pid), rss_mb(pid));
    let t = &*tally;
    let (sent, ok, cut, lost) = (
        t.sent.load(Ordering::Relaxed),
        t.ok.load(Ordering::Relaxed),
        t.streams_cut_with_error.load(Ordering::Relaxed),
        t.lost.load(Ordering::Relaxed),
    );
    eprintln!(
        "soak: {secs} s: {sent} well-formed requests: {ok} ok, {cut} streams cut by a killed loader (error event), {lost} lost; {} hostile connections; router after: {fd1} descriptors, {rss1:.1} MB",
        t.hostile.load(Ordering::Relaxed)
    );
    assert_eq!(lost, 0, "well-formed requests lost: {:?}", lost_detail.lock().unwrap());
    assert_eq!(ok + cut, sent);
    assert!(ok > 50, "hardly any load got through: {ok}");
    assert!(fd1 <= fd0 + 16, "descriptors left open: {fd0} → {fd1}");
    let (status, _) = crate::common::loaders::http(port, "GET", "/health", None, "");
    assert_eq!(status, 200);
}
