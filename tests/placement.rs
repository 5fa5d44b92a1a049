//! `garnet placement diff` on synthetic weeks written by garnet's own telemetry writer
//! (`telemetry synth`): the story's hot node gets exactly one move, with evidence DuckDB confirms
//! from the same Parquet files; a balanced week proposes nothing; no telemetry is an error that
//! proposes nothing.

use std::process::Command;

use serde_json::Value;

use crate::common::Garnet;
use crate::common::loaders::python;

/// A synthetic week of `nodes` nodes into `dir/store`, with its inventory at `dir/inventory.yaml`.
fn week(dir: &std::path::Path, scenario: &str) -> String {
    Garnet::new()
        .args(["telemetry", "synth", "--store", &dir.join("store").display().to_string(), "--cluster", "wk"])
        .args(["--nodes", "8", "--days", "7", "--start", "2026-11-02", "--scenario", scenario])
        .args(["--write-inventory", &dir.join("inventory.yaml").display().to_string()])
        .run()
        .expect(0);
    dir.join("inventory.yaml").display().to_string()
}

#[test]
fn the_hot_node_gets_one_move_with_evidence_duckdb_confirms() {
    let dir = tempfile::tempdir().unwrap();
    let inv = week(dir.path(), "story");
    // Two loader exits of the week as the monitors record them (an OOM kill, a crash), and one
    // outside the span: the eviction log has the two, in time order, then the plan's own.
    let events = dir.path().join("store/events/cluster=wk");
    for (day, file, body) in [
        (
            "2026-11-05",
            "143000000-node-004-loader_crashed-phi-4-mini.json",
            r#"{"schema_version":2,"cluster":"wk","node":"node-004","at":"2026-11-05T14:30:00Z","kind":"loader_crashed","model":"phi-4-mini","exit":{"exit_code":1}}"#,
        ),
        (
            "2026-11-04",
            "100000000-node-005-loader_evicted-llama-3.1-8b-instruct.json",
            r#"{"schema_version":2,"cluster":"wk","node":"node-005","at":"2026-11-04T10:00:00Z","kind":"loader_evicted","model":"llama-3.1-8b-instruct","exit":{"signal":9},"memory_pressure":"critical"}"#,
        ),
        (
            "2026-10-20",
            "100000000-node-005-loader_evicted-llama-3.1-8b-instruct.json",
            r#"{"schema_version":2,"cluster":"wk","node":"node-005","at":"2026-10-20T10:00:00Z","kind":"loader_evicted","model":"llama-3.1-8b-instruct","exit":{"signal":9}}"#,
        ),
    ] {
        std::fs::create_dir_all(events.join(format!("date={day}"))).unwrap();
        std::fs::write(events.join(format!("date={day}")).join(file), body).unwrap();
    }
    let out = dir.path().join("artifacts");
    let r = Garnet::new()
        .args(["-i", &inv, "-o", "json", "placement", "diff", "--since", "2026-11-02", "--until", "2026-11-08"])
        .args(["--out", &out.display().to_string()])
        .run();
    r.expect(5);
    let d: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let moves = d["moves"].as_array().unwrap();
    assert_eq!(moves.len(), 1, "exactly the hot node's move: {:#}", d["moves"]);
    let m = &moves[0];
    assert_eq!((m["kind"].as_str(), m["from"].as_str()), (Some("off_hot_node"), Some("node-003")), "{m}");
    // node-003 serves mistral-small-24b and phi-4-mini; phi is the one it is least busy with.
    assert_eq!(m["model"], "phi-4-mini", "{m}");
    let to = m["to"].as_str().expect("a node takes it");
    let placed = d["placement"]["phi-4-mini"].as_array().unwrap();
    assert!(to != "node-003" && !placed.iter().any(|n| n == to), "{to} already serves it: {placed:?}");
    let share = m["evidence"][0]["value"].as_f64().unwrap();
    let samples = m["evidence"][0]["samples"].as_u64().unwrap();
    assert!(share > 0.03 && samples >= 7 * 1440 - 10, "{m}");

    // The same numbers from the Parquet files, with no garnet code.
    if let Some(py) = python() {
        let script = r#"
import duckdb, json, sys
con = duckdb.connect()
root = sys.argv[1]
t = con.execute(f"SELECT avg(CASE WHEN cpu_speed_limit < 100 THEN 1.0 ELSE 0.0 END), count(*) FROM read_parquet('{root}/**/samples.parquet') WHERE node = 'node-003'").fetchone()
b = con.execute(f"SELECT model, sum(busy_secs) / (count(*) * 60.0) FROM read_parquet('{root}/**/backends.parquet') WHERE backend_node = 'node-003' GROUP BY model").fetchall()
print(json.dumps({"share": t[0], "samples": t[1], "busy": dict(b)}))
"#;
        let o =
            Command::new(&py).args(["-c", script, &dir.path().join("store").display().to_string()]).output().unwrap();
        assert!(o.status.success(), "duckdb: {}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["samples"].as_u64(), Some(samples), "{v}");
        assert!((v["share"].as_f64().unwrap() - share).abs() < 1e-4, "duckdb {v} vs garnet {share}");
        let busy = |model: &str| v["busy"][model].as_f64().unwrap();
        assert!(busy("phi-4-mini") < busy("mistral-small-24b"), "{v}");
        let row = d["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["node"] == "node-003" && r["model"] == "phi-4-mini")
            .unwrap();
        assert!((row["busy_share"].as_f64().unwrap() - busy("phi-4-mini")).abs() < 1e-3, "{row} vs {v}");
    }

    // The cost diff: every dollar of the span lands on a model or on a node's idle line, and its
    // energy, tokens and API bills are what DuckDB computes from the same files with the prices
    // in the inventory.
    let c = &d["cost"];
    let total: f64 = c["nodes"].as_array().unwrap().iter().map(|n| n["total_usd"].as_f64().unwrap()).sum();
    assert!((c["before"]["total_usd"].as_f64().unwrap() - total).abs() < 1e-6, "{c:#}");
    for side in ["before", "after"] {
        let t = &c[side];
        let (a, i) = (t["allocated_usd"].as_f64().unwrap(), t["idle_usd"].as_f64().unwrap());
        assert!((a + i - total).abs() < 1e-6 && i >= 0.0, "{side}: {t}");
        let by_model: f64 = c["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| if side == "before" { &m["before"] } else { &m["after"] })
            .map(|m| m["usd"].as_f64().unwrap())
            .sum();
        assert!((by_model - a).abs() < 1e-6, "{side}: {by_model} vs {a}");
    }
    if let Some(v) = duckdb(
        dir.path(),
        "SELECT (SELECT sum(energy_joules) FROM read_parquet('ROOT/**/samples.parquet') WHERE node = 'node-003'), model, sum(prompt_tokens - cached_tokens), sum(cached_tokens), sum(completion_tokens) FROM read_parquet('ROOT/**/backends.parquet') GROUP BY model ORDER BY model",
    ) {
        let rows = v.as_array().unwrap();
        let joules = rows[0][0].as_f64().unwrap();
        let n3 = c["nodes"].as_array().unwrap().iter().find(|n| n["node"] == "node-003").unwrap();
        let energy = joules / 3.6e6 * 0.21;
        assert!((n3["energy_usd"].as_f64().unwrap() - energy).abs() < 1e-6, "duckdb {energy} vs {n3}");
        for r in rows {
            let model = r[1].as_str().unwrap();
            let m = c["models"].as_array().unwrap().iter().find(|m| m["model"] == model).unwrap();
            let tk = &m["before"]["tokens"];
            let (u, k, o) = (r[2].as_f64().unwrap(), r[3].as_f64().unwrap(), r[4].as_f64().unwrap());
            assert_eq!(
                (tk["uncached_input"].as_f64(), tk["cached_input"].as_f64(), tk["output"].as_f64()),
                (Some(u), Some(k), Some(o)),
                "{model}"
            );
            // gpt-4o-mini's bill for the same tokens: 0.15 / 0.075 / 0.60 per million.
            let bill = (u * 0.15 + k * 0.075 + o * 0.60) / 1e6;
            let api = m["before"]["vs_api"].as_array().unwrap().iter().find(|a| a["api"] == "gpt-4o-mini").unwrap();
            assert!((api["api_usd"].as_f64().unwrap() - bill).abs() < 1e-6, "{model}: {api} vs {bill}");
            let ours = m["before"]["usd"].as_f64().unwrap();
            let savings = (1.0 - ours / bill) * 100.0;
            assert!((api["savings_pct"].as_f64().unwrap() - savings).abs() < 1e-6, "{model}: {api}");
        }
    }

    let ev = d["evictions"].as_array().unwrap();
    let kinds: Vec<(&str, &str)> =
        ev.iter().map(|e| (e["kind"].as_str().unwrap(), e["node"].as_str().unwrap())).collect();
    assert_eq!(
        kinds,
        [("loader_evicted", "node-005"), ("loader_crashed", "node-004"), ("planned", "node-003")],
        "{ev:#?}"
    );
    assert!(
        ev[0]["detail"].as_str().unwrap().contains("OOM killer")
            && ev[0]["detail"].as_str().unwrap().contains("critical")
    );
    assert_eq!(ev[2]["model"], "phi-4-mini");

    // The artifacts: Markdown and JSON with the same numbers.
    // The same files in the store, under the span's weekly prefix.
    let weekly = dir.path().join("store/weekly/cluster=wk/span=2026-11-02_2026-11-08");
    for f in [
        "placement-diff.md",
        "placement-diff.json",
        "cost-diff.md",
        "cost-diff.json",
        "eviction-log.md",
        "eviction-log.json",
    ] {
        let stem = f.split_once('.').unwrap();
        let local = out.join(format!("{}-2026-11-02-2026-11-08.{}", stem.0, stem.1));
        assert_eq!(std::fs::read(weekly.join(f)).ok(), Some(std::fs::read(&local).unwrap()), "{f}");
    }
    let log: Value =
        serde_json::from_slice(&std::fs::read(out.join("eviction-log-2026-11-02-2026-11-08.json")).unwrap()).unwrap();
    assert_eq!(&log["evictions"], &d["evictions"]);
    let log_md = std::fs::read_to_string(out.join("eviction-log-2026-11-02-2026-11-08.md")).unwrap();
    assert!(
        log_md.contains("2 in the span, 1 planned")
            && log_md.contains("| at apply | node-003 | phi-4-mini | planned |"),
        "{log_md}"
    );
    let md = std::fs::read_to_string(out.join("placement-diff-2026-11-02-2026-11-08.md")).unwrap();
    let json: Value =
        serde_json::from_slice(&std::fs::read(out.join("placement-diff-2026-11-02-2026-11-08.json")).unwrap()).unwrap();
    assert_eq!(json["moves"], d["moves"]);
    assert!(md.contains("node-003 was throttled in") && md.contains(&format!("moves to {to}")), "{md}");
}

#[test]
fn a_balanced_week_proposes_nothing_and_no_telemetry_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let inv = week(dir.path(), "balanced");
    let r = Garnet::new().args(["-i", &inv, "placement", "diff", "--since", "7d", "--until", "2026-11-08"]).run();
    r.expect(0);
    assert!(r.stdout.contains("No change proposed"), "{}", r.stdout);
    assert!(r.stdout.contains("| node-003 |"), "{}", r.stdout);

    // A span with no telemetry: said plainly, nothing proposed.
    let none =
        Garnet::new().args(["-i", &inv, "placement", "diff", "--since", "2026-10-01", "--until", "2026-10-07"]).run();
    none.expect(1);
    assert!(none.stderr.contains("no telemetry for cluster `wk` from 2026-10-01 to 2026-10-07"), "{}", none.stderr);
    let bad = Garnet::new().args(["-i", &inv, "placement", "diff", "--since", "0d"]).run();
    bad.expect(2);
    assert!(bad.stderr.contains("a number of days from 1 to 366"), "{}", bad.stderr);

    // `placement apply`: the newest diff in the store proposes nothing; a file that is not a
    // diff and a store with no diff are clear errors.
    let latest = Garnet::new().args(["-i", &inv, "--yes", "placement", "apply", "--latest"]).run();
    latest.expect(0);
    assert!(latest.stdout.contains("proposes no change"), "{}", latest.stdout);
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"not\": \"a diff\"}").unwrap();
    let r = Garnet::new().args(["-i", &inv, "--yes", "placement", "apply", &junk.display().to_string()]).run();
    r.expect(2);
    assert!(r.stderr.contains("is not a placement diff's JSON"), "{}", r.stderr);
    let empty = tempfile::tempdir().unwrap();
    let other = week(empty.path(), "balanced");
    std::fs::remove_dir_all(empty.path().join("store/weekly")).ok();
    let r = Garnet::new().args(["-i", &other, "--yes", "placement", "apply", "--latest"]).run();
    r.expect(2);
    assert!(r.stderr.contains("no placement diff for cluster `wk`"), "{}", r.stderr);
}

/// Runs DuckDB on a synthetic week's Parquet; `None` without the test venv.
fn duckdb(dir: &std::path::Path, sql: &str) -> Option<Value> {
    let py = python()?;
    let script = r#"
import duckdb, json, sys
con = duckdb.connect()
print(json.dumps(con.execute(sys.argv[2].replace("ROOT", sys.argv[1])).fetchall()))
"#;
    let o = Command::new(&py).args(["-c", script, &dir.join("store").display().to_string(), sql]).output().unwrap();
    assert!(o.status.success(), "duckdb: {}", String::from_utf8_lossy(&o.stderr));
    Some(serde_json::from_slice(&o.stdout).unwrap())
}

/// Each of the other two seed scenarios gives exactly its move, from numbers DuckDB confirms: a
/// model saturating its node gets it to itself (the cohabiting model leaves), and long prompts
/// the cache hardly reuses get a larger prompt cache.
#[test]
fn a_saturated_model_gets_its_node_and_a_cold_cache_grows() {
    let diff = |dir: &std::path::Path, inv: &str| -> Value {
        let r = Garnet::new()
            .args(["-i", inv, "-o", "json", "placement", "diff", "--since", "2026-11-02", "--until", "2026-11-08"])
            .run();
        r.expect(5);
        let _ = dir;
        serde_json::from_str(r.stdout.trim()).unwrap()
    };

    let busy = tempfile::tempdir().unwrap();
    let inv = week(busy.path(), "busy");
    // What intake projected for the busy model: the diff quotes the measured rate against it.
    let text = std::fs::read_to_string(&inv).unwrap();
    std::fs::write(
        &inv,
        text.replace("name: llama-3.1-8b-instruct,", "name: llama-3.1-8b-instruct, projected_qps: 0.1,"),
    )
    .unwrap();
    let d = diff(busy.path(), &inv);
    let moves = d["moves"].as_array().unwrap();
    assert_eq!(moves.len(), 1, "{:#}", d["moves"]);
    let m = &moves[0];
    assert_eq!(
        (m["kind"].as_str(), m["model"].as_str(), m["node"].as_str(), m["evict"].as_str()),
        (Some("own_node"), Some("llama-3.1-8b-instruct"), Some("node-001"), Some("qwen2.5-coder-7b")),
        "{m}"
    );
    assert!(m["why"].as_str().unwrap().contains("req/s against the 0.1 projected"), "{m}");
    // The evicted model goes to a node that does not serve it, or keeps its other nodes.
    if let Some(to) = m["to"].as_str() {
        assert!(!d["placement"]["qwen2.5-coder-7b"].as_array().unwrap().iter().any(|n| n == to), "{to}");
    }
    assert!(!d["proposed"]["qwen2.5-coder-7b"].as_array().unwrap().iter().any(|n| n == "node-001"), "{d:#}");
    // The replay bears it out: the saturated model's predicted p95 and queueing fall, and no
    // model's p95 rises more than 10%.
    let r = &d["replay"];
    let p = |side: &str, model: &str, k: &str| {
        r[side]["models"].as_array().unwrap().iter().find(|x| x["model"] == model).unwrap()[k].as_f64().unwrap()
    };
    let llama = "llama-3.1-8b-instruct";
    assert!(p("after", llama, "e2e_p95_ms") < p("before", llama, "e2e_p95_ms"), "{r:#}");
    assert!(p("after", llama, "queue_wait_mean_ms") < p("before", llama, "queue_wait_mean_ms"), "{r:#}");
    for x in r["before"]["models"].as_array().unwrap() {
        let m = x["model"].as_str().unwrap();
        assert!(p("after", m, "e2e_p95_ms") <= 1.1 * p("before", m, "e2e_p95_ms"), "{m}: {r:#}");
    }
    let busy_share = m["evidence"][0]["value"].as_f64().unwrap();
    if let Some(v) = duckdb(
        busy.path(),
        "SELECT sum(busy_secs) / (count(*) * 60.0) FROM read_parquet('ROOT/**/backends.parquet') WHERE backend_node = 'node-001' AND model = 'llama-3.1-8b-instruct'",
    ) {
        let dk = v[0][0].as_f64().unwrap();
        assert!((dk - busy_share).abs() < 1e-3, "duckdb {dk} vs garnet {busy_share}");
    }

    let cold = tempfile::tempdir().unwrap();
    let d = diff(cold.path(), &week(cold.path(), "cold-cache"));
    let moves = d["moves"].as_array().unwrap();
    assert_eq!(moves.len(), 1, "{:#}", d["moves"]);
    let m = &moves[0];
    assert_eq!((m["kind"].as_str(), m["model"].as_str()), (Some("prompt_cache"), Some("mistral-small-24b")), "{m}");
    assert_eq!((m["from"].as_u64(), m["to"].as_u64()), (Some(10), Some(20)), "{m}");
    // The eviction log names the prompt-cache evictions the monitors inferred, per node, labelled
    // so; DuckDB sums the same from the samples' `loaders` JSON.
    let ev: Vec<&Value> =
        d["evictions"].as_array().unwrap().iter().filter(|e| e["kind"] == "prompt_cache_inferred").collect();
    assert_eq!(ev.len(), 4, "mistral's four nodes: {ev:#?}");
    if let Some(v) = duckdb(
        cold.path(),
        "SELECT node, sum(CAST(json_extract(loaders, '$[0].prompt_cache_evictions_inferred') AS BIGINT) + CAST(json_extract(loaders, '$[1].prompt_cache_evictions_inferred') AS BIGINT)) FROM read_parquet('ROOT/**/samples.parquet') GROUP BY node HAVING sum(CAST(json_extract(loaders, '$[0].prompt_cache_evictions_inferred') AS BIGINT) + CAST(json_extract(loaders, '$[1].prompt_cache_evictions_inferred') AS BIGINT)) > 0 ORDER BY node",
    ) {
        for row in v.as_array().unwrap() {
            let (node, n) = (row[0].as_str().unwrap(), row[1].as_u64().unwrap());
            let e = ev.iter().find(|e| e["node"] == node).unwrap_or_else(|| panic!("{node}: {ev:#?}"));
            assert_eq!(e["model"], "mistral-small-24b");
            assert!(e["detail"].as_str().unwrap().starts_with(&format!("{n} prompt-cache entries")), "{e} vs {n}");
        }
        assert_eq!(v.as_array().unwrap().len(), 4, "{v}");
    }
    // apply's plan for it: every node of the model swaps to an entry whose loader keeps 20.
    let cold_inv = cold.path().join("inventory.yaml").display().to_string();
    let r = Garnet::new().args(["-i", &cold_inv, "--dry-run", "placement", "apply", "--latest"]).run();
    r.expect(0);
    assert!(
        r.stdout.contains("## Move 1: `mistral-small-24b` → `mistral-small-24b-pc20` (--prompt-cache-size 20)")
            && r.stdout.matches("\"--prompt-cache-size\" \"20\"").count() >= 4,
        "{}",
        r.stdout
    );
    let hit = m["evidence"][0]["value"].as_f64().unwrap();
    let prompt = m["evidence"][1]["value"].as_f64().unwrap();
    if let Some(v) = duckdb(
        cold.path(),
        "SELECT sum(cached_tokens) / sum(prompt_tokens), sum(prompt_tokens) / sum(requests) FROM read_parquet('ROOT/**/backends.parquet') WHERE model = 'mistral-small-24b'",
    ) {
        let (dh, dp) = (v[0][0].as_f64().unwrap(), v[0][1].as_f64().unwrap());
        assert!((dh - hit).abs() < 1e-3 && (dp - prompt).abs() < 0.5, "duckdb {v} vs garnet {hit} {prompt}");
    }
}

/// The replay against reality: two real loaders (one slot each, so requests queue in the router),
/// an open-loop Poisson load at about 25% of their capacity alone from a client with its own clock, the
/// monitor sampling every 5 s. The replay of the span's demand, calibrated from the same span's
/// telemetry, must predict the p95 the client measured within 25%.
#[test]
fn the_replay_predicts_the_p95_a_client_measures_on_real_loaders() {
    use crate::common::loaders::{Loader, RouterProc, tiny_model};
    use std::time::{Duration, Instant};
    let _quiet = crate::common::clocks();
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = tiny_model(&py, 0);
    let (l1, l2) = Loader::start_two(&py, &model, d);
    let routes = format!(
        "models:\n  - name: tiny\n    max_tokens: 64\n    backends:\n      - {{id: n1/tiny, url: \"{}\", model: \"{}\", max_concurrency: 1}}\n      - {{id: n2/tiny, url: \"{}\", model: \"{}\", max_concurrency: 1}}\n",
        l1.url(),
        l1.model,
        l2.url(),
        l2.model
    );
    let router = RouterProc::start(d, &routes, &[]);
    let port = router.port;
    let request = move || crate::common::loaders::timed_chat(port, false, 24).1 / 1000.0;
    // The service time alone, one request at a time, sets the load: about 25% of two slots alone
    // (the loaders, the router, the client and other tests share two cores, so a request in a
    // slot takes longer under load than alone: room for the machine to be twice as slow without
    // the queue running away).
    let alone: Vec<f64> = (0..20).map(|_| request()).collect();
    let service = alone[5..].iter().sum::<f64>() / 15.0;
    let rate = 0.5 / service;
    eprintln!("service alone {:.1} ms: offering {rate:.1} requests/s", service * 1000.0);

    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let mut monitor = router.monitor(d, "rp");
    let samples = || glob::glob(&format!("{}/store/telemetry/**/*.json", d.display())).unwrap().count();
    let t0 = Instant::now();
    while samples() == 0 {
        assert!(t0.elapsed() < Duration::from_secs(30), "no first sample");
        std::thread::sleep(Duration::from_millis(50));
    }
    // 40 s of Poisson arrivals (open loop: each request on its own thread, whatever the others do).
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut unit = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let start = Instant::now();
    let mut e2e: Vec<f64> = std::thread::scope(|s| {
        let mut threads = Vec::new();
        let mut next = 0.0;
        while next < 40.0 && threads.len() < 2000 {
            next += -(1.0 - unit()).ln() / rate;
            if let Some(wait) = Duration::from_secs_f64(next).checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
            threads.push(s.spawn(request));
        }
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let have = samples();
    let t0 = Instant::now();
    while samples() < have + 2 {
        assert!(t0.elapsed() < Duration::from_secs(30), "the monitor stopped sampling");
        std::thread::sleep(Duration::from_millis(100));
    }
    unsafe { libc::kill(monitor.id() as i32, libc::SIGTERM) };
    monitor.wait().unwrap();
    e2e.sort_by(f64::total_cmp);
    let measured = e2e[(0.95 * (e2e.len() - 1) as f64).floor() as usize] * 1000.0;

    let inv = d.join("inventory.yaml");
    std::fs::write(
        &inv,
        format!(
            "cluster: {{slug: rp, tier: pro}}\ndefaults: {{transport: local}}\nmonitor: {{interval_secs: 5}}\nstore: {{kind: local, path: {}}}\nnodes:\n  - {{name: n1, roles: [router, loader]}}\n  - {{name: n2, roles: [loader]}}\nmodels:\n  - {{name: tiny, source: {}, max_concurrency: 1}}\nplacement:\n  tiny: {{nodes: [n1, n2]}}\n",
            d.join("store").display(),
            model.display()
        ),
    )
    .unwrap();
    let r = Garnet::new()
        .args(["-i", &inv.display().to_string(), "-o", "json", "placement", "diff"])
        .args(["--since", &today.to_string(), "--until", &today.to_string()])
        .run();
    r.expect(0);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let p = &v["replay"]["before"]["models"][0];
    assert_eq!(p["model"], "tiny", "{v:#}");
    let predicted = p["e2e_p95_ms"].as_f64().unwrap();
    let requests = p["requests"].as_u64().unwrap();
    let routers: Vec<f64> = v["rows"].as_array().unwrap().iter().filter_map(|r| r["e2e_p95_ms"].as_f64()).collect();
    eprintln!(
        "{} requests: p95 measured by the client {measured:.1} ms (the router's, per backend: {routers:?}), predicted by the replay {predicted:.1} ms ({:+.1}%); predicted queue wait mean {} ms, p95 {} ms",
        e2e.len(),
        (predicted / measured - 1.0) * 100.0,
        p["queue_wait_mean_ms"],
        p["queue_wait_p95_ms"]
    );
    assert_eq!(requests, e2e.len() as u64 + 20, "the routers counted every request (and the 20 alone)");
    assert!((predicted / measured - 1.0).abs() <= 0.25, "predicted {predicted} ms vs measured {measured} ms");
}

/// Bad input proposes nothing it cannot justify and says what it does not know: half a week of
/// telemetry names its missing days (and the story's hot node still moves on the three days it
/// has, a day's samples being the rule's minimum); a node the inventory no longer names is listed,
/// not judged.
#[test]
fn half_a_week_and_a_node_not_in_the_inventory_are_said() {
    let dir = tempfile::tempdir().unwrap();
    Garnet::new()
        .args(["telemetry", "synth", "--store", &dir.path().join("store").display().to_string(), "--cluster", "wk"])
        .args(["--nodes", "8", "--days", "3", "--start", "2026-11-02", "--scenario", "story"])
        .args(["--write-inventory", &dir.path().join("inventory.yaml").display().to_string()])
        .run()
        .expect(0);
    let inv = dir.path().join("inventory.yaml");
    let text = std::fs::read_to_string(&inv).unwrap();
    let without = text
        .lines()
        .filter(|l| !l.contains("name: node-008"))
        .map(|l| l.replace(", node-008", "").replace("node-008, ", ""))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&inv, without).unwrap();
    let r = Garnet::new()
        .args(["-i", &inv.display().to_string(), "-o", "json", "placement", "diff"])
        .args(["--since", "2026-11-02", "--until", "2026-11-08"])
        .run();
    r.expect(5);
    let d: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(
        d["missing_days"],
        serde_json::json!(["2026-11-05", "2026-11-06", "2026-11-07", "2026-11-08"]),
        "{}",
        d["missing_days"]
    );
    assert_eq!(d["unknown_nodes"], serde_json::json!(["node-008"]));
    assert!(d["nodes"].as_array().unwrap().iter().all(|n| n["node"] != "node-008"), "node-008 was judged");
    let moves = d["moves"].as_array().unwrap();
    assert!(
        moves.iter().all(|m| m["to"] != "node-008" && m["node"] != "node-008" && m["from"] != "node-008"),
        "{moves:#?}"
    );
    let md = Garnet::new()
        .args(["-i", &inv.display().to_string(), "placement", "diff"])
        .args(["--since", "2026-11-02", "--until", "2026-11-08"])
        .run();
    assert!(
        md.stdout.contains("Days with no telemetry: 2026-11-05, 2026-11-06, 2026-11-07, 2026-11-08")
            && md.stdout.contains("not judged): node-008"),
        "{}",
        md.stdout
    );
}

/// `telemetry synth` writes an inventory only when asked (`--write-inventory`): never over the
/// one garnet reads (`-i`, default `./inventory.yaml`).
#[test]
fn synth_never_writes_over_the_inventory_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let mine = "# my rack\ncluster: {slug: mine, tier: pro}\nnodes: []\n";
    std::fs::write(dir.path().join("inventory.yaml"), mine).unwrap();
    Garnet::new()
        .cwd(dir.path())
        .args(["telemetry", "synth", "--store", "store", "--nodes", "2", "--days", "1"])
        .run()
        .expect(0);
    assert_eq!(std::fs::read_to_string(dir.path().join("inventory.yaml")).unwrap(), mine);
    // --like reads it and writes days for it; the file stays as it was.
    Garnet::new()
        .cwd(dir.path())
        .args(["telemetry", "synth", "--store", "store2", "--days", "1", "--like", "inventory.yaml"])
        .run()
        .expect(1);
    assert_eq!(std::fs::read_to_string(dir.path().join("inventory.yaml")).unwrap(), mine);
}
