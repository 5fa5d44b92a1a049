//! `garnet telemetry compact`: a day of samples (garnet's own types, written where the monitor
//! writes them) rolled into Parquet, read back by DuckDB and ClickHouse (chdb) with the same sums
//! garnet computes; a
//! corrupt sample is skipped with its key named and blocks deletion; `--delete` removes the JSON
//! only after the Parquet files verified; a rerun rewrites the day.

use garnet::telemetry::sketch::Sketch;
use garnet::telemetry::{BackendStats, ModelStats, Sample};

use crate::common::Garnet;
use crate::common::loaders::python;

fn sample(node: &str, minute: u32) -> Sample {
    let at = format!("2026-11-30T10:{minute:02}:00Z");
    let mut e2e = Sketch::default();
    for k in 0..=(minute % 7) {
        e2e.add(0.05 + 0.01 * f64::from(k));
    }
    let backends: Vec<BackendStats> = ["n1", "n2"]
        .iter()
        .map(|b| BackendStats {
            backend: format!("{b}/tiny"),
            node: Some(b.to_string()),
            model: "tiny".into(),
            requests: u64::from(minute % 7 + 1),
            ok: u64::from(minute % 7 + 1),
            completion_tokens: u64::from(minute * 3),
            busy_secs: 1.5,
            utilization: Some(0.025),
            e2e: Some(e2e.clone()),
            ..Default::default()
        })
        .collect();
    let model = ModelStats {
        model: "tiny".into(),
        requests: backends.iter().map(|b| b.requests).sum(),
        completion_tokens: backends.iter().map(|b| b.completion_tokens).sum(),
        ..Default::default()
    };
    let mut v = serde_json::json!({"schema_version": 2, "cluster": "cmp", "node": node, "at": at, "window_secs": 60,
        "memory": {"total_bytes": 1u64 << 34, "used_bytes": (1u64 << 30) + u64::from(minute)}, "thermal": {}});
    let mut s: Sample = serde_json::from_value(v.take()).unwrap();
    s.models = vec![model];
    s.backends = if node == "n1" { backends } else { Vec::new() };
    s
}

#[test]
fn a_day_of_samples_compacts_to_parquet_that_duckdb_reads() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = d.join("store");
    let inv = d.join("inventory.yaml");
    std::fs::write(
        &inv,
        format!(
            "cluster: {{slug: cmp, tier: pro}}\nnodes: [{{name: n1, transport: local}}, {{name: n2, transport: local}}]\nstore: {{kind: local, path: {}}}\n",
            store.display()
        ),
    )
    .unwrap();
    let mut samples = Vec::new();
    for node in ["n1", "n2"] {
        for minute in 0..40 {
            let s = sample(node, minute);
            let at: jiff::Timestamp = s.at.parse().unwrap();
            let key = garnet::telemetry::spool::telemetry_key("cmp", node, at);
            let path = store.join(&key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, serde_json::to_vec(&s).unwrap()).unwrap();
            samples.push(s);
        }
    }
    let corrupt = store.join("telemetry/cluster=cmp/node=n2/date=2026-11-30/105900.json");
    std::fs::write(&corrupt, b"{\"schema_version\": 2, trunc").unwrap();
    let g = || Garnet::new().args(["-i", &inv.display().to_string()]);

    let first = g().args(["telemetry", "compact", "--date", "2026-11-30", "--delete"]).run();
    first.expect(0);
    assert!(
        first.stderr.contains("skipping corrupt sample `telemetry/cluster=cmp/node=n2/date=2026-11-30/105900.json`"),
        "{}",
        first.stderr
    );
    assert!(
        first.stdout.contains("80 samples, 80 backend rows")
            && first.stdout.contains("corrupt skipped (nothing deleted)"),
        "{}",
        first.stdout
    );
    assert!(
        store.join("telemetry/cluster=cmp/node=n1/date=2026-11-30/100000.json").exists(),
        "deleted despite a corrupt sample"
    );

    // DuckDB reads the files as they are, with the sums garnet's samples have.
    let day = store.join("telemetry-parquet/cluster=cmp/date=2026-11-30");
    let code = format!(
        r#"
import duckdb
con = duckdb.connect()
s = con.execute("SELECT count(*), sum(requests), sum(completion_tokens), count(DISTINCT node), max(memory_used_bytes) FROM read_parquet('{day}/samples.parquet')").fetchone()
b = con.execute("SELECT count(*), sum(ok), sum(completion_tokens), count(DISTINCT backend_node), sum(e2e_count) FROM read_parquet('{day}/backends.parquet')").fetchone()
print(list(s) + list(b))
"#,
        day = day.display()
    );
    let out = std::process::Command::new(&py).args(["-c", &code]).output().unwrap();
    assert!(out.status.success(), "duckdb: {}", String::from_utf8_lossy(&out.stderr));
    let backends: Vec<&BackendStats> = samples.iter().flat_map(|s| &s.backends).collect();
    let want = vec![
        samples.len() as u64,
        samples.iter().map(|s| s.models[0].requests).sum::<u64>(),
        samples.iter().map(|s| s.models[0].completion_tokens).sum::<u64>(),
        2,
        samples.iter().map(|s| s.memory.used_bytes.unwrap()).max().unwrap(),
        backends.len() as u64,
        backends.iter().map(|b| b.ok).sum::<u64>(),
        backends.iter().map(|b| b.completion_tokens).sum::<u64>(),
        2,
        backends.iter().map(|b| b.e2e.as_ref().unwrap().count).sum::<u64>(),
    ];
    let got: Vec<u64> = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(got, want, "DuckDB's sums vs garnet's");
    // And ClickHouse (in-process, chdb) reads the same files to the same sums.
    let code = format!(
        r#"
import chdb
s = chdb.query("SELECT count(), sum(requests), sum(completion_tokens), uniqExact(node), max(memory_used_bytes) FROM file('{day}/samples.parquet', Parquet)", 'CSV').bytes().decode().strip()
b = chdb.query("SELECT count(), sum(ok), sum(completion_tokens), uniqExact(backend_node), sum(e2e_count) FROM file('{day}/backends.parquet', Parquet)", 'CSV').bytes().decode().strip()
print('[' + s + ',' + b + ']')
"#,
        day = day.display()
    );
    let out = std::process::Command::new(&py).args(["-c", &code]).output().unwrap();
    assert!(out.status.success(), "chdb: {}", String::from_utf8_lossy(&out.stderr));
    let got: Vec<u64> = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(got, want, "ClickHouse's sums vs garnet's");

    // Without the corrupt object, `--delete` removes the JSON once verified; a rerun of an empty
    // day leaves the Parquet as it was.
    std::fs::remove_file(&corrupt).unwrap();
    let second = g().args(["-o", "json", "telemetry", "compact", "--date", "2026-11-30", "--delete"]).run();
    second.expect(0);
    let ev: serde_json::Value = serde_json::from_str(second.stdout.trim()).unwrap();
    assert_eq!((ev["samples"].as_u64(), ev["deleted"].as_u64()), (Some(80), Some(80)), "{ev}");
    assert!(!store.join("telemetry/cluster=cmp/node=n1/date=2026-11-30/100000.json").exists());
    let third = g().args(["telemetry", "compact", "--date", "2026-11-30"]).run();
    third.expect(0);
    assert!(third.stdout.contains("2026-11-30: no samples"), "{}", third.stdout);
    assert!(day.join("samples.parquet").exists() && day.join("backends.parquet").exists());

    // One reader for both forms: the 30th is Parquet only now, the 1st is JSON; `export` reads
    // both, and what it writes adds up (DuckDB reads the CSV and the Parquet).
    let mut later = Vec::new();
    for minute in 0..5 {
        let mut s = sample("n1", minute);
        s.at = format!("2026-12-01T08:{minute:02}:00Z");
        let key = garnet::telemetry::spool::telemetry_key("cmp", "n1", s.at.parse().unwrap());
        let path = store.join(&key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_vec(&s).unwrap()).unwrap();
        later.push(s);
    }
    let all: Vec<&Sample> = samples.iter().chain(&later).collect();
    let out = d.join("export");
    let jsonl = g()
        .args(["telemetry", "export", "--since", "2026-11-30", "--until", "2026-12-01", "--format", "jsonl", "--out"])
        .arg(out.with_extension("jsonl").display().to_string())
        .run();
    jsonl.expect(0);
    let back: Vec<Sample> = std::fs::read_to_string(out.with_extension("jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(back.len(), all.len(), "{}", jsonl.stdout);
    let backend_sum = |v: &[&Sample]| -> (u64, u64) {
        v.iter()
            .flat_map(|s| &s.backends)
            .fold((0, 0), |a, b| (a.0 + b.requests, a.1 + b.e2e.as_ref().map_or(0, |e| e.count)))
    };
    assert_eq!(
        backend_sum(&back.iter().collect::<Vec<_>>()),
        backend_sum(&all),
        "backends and sketches survive the round trip"
    );
    for fmt in ["csv", "parquet"] {
        let path = out.with_extension(fmt);
        g().args(["telemetry", "export", "--since", "2026-11-30", "--until", "2026-12-01", "--format", fmt, "--out"])
            .arg(path.display().to_string())
            .run()
            .expect(0);
        let source = if fmt == "csv" {
            format!("read_csv('{}')", path.display())
        } else {
            format!("read_parquet('{}/samples.parquet')", path.display())
        };
        let code = format!(
            "import duckdb; print(list(duckdb.connect().execute(\"SELECT count(*), sum(requests), sum(completion_tokens) FROM {source}\").fetchone()))"
        );
        let res = std::process::Command::new(&py).args(["-c", &code]).output().unwrap();
        assert!(res.status.success(), "duckdb: {}", String::from_utf8_lossy(&res.stderr));
        let got: Vec<u64> = serde_json::from_str(String::from_utf8_lossy(&res.stdout).trim()).unwrap();
        let want = vec![
            all.len() as u64,
            all.iter().map(|s| s.models[0].requests).sum::<u64>(),
            all.iter().map(|s| s.models[0].completion_tokens).sum::<u64>(),
        ];
        assert_eq!(got, want, "{fmt}");
    }

    // Uptime over the 30th (a Parquet-only day now): 40 one-minute samples a node out of 1,440
    // minutes; the rest is gaps; a loader eviction that day is listed.
    let ev = store.join("events/cluster=cmp/date=2026-11-30/103000000-n1-loader_evicted-tiny.json");
    std::fs::create_dir_all(ev.parent().unwrap()).unwrap();
    std::fs::write(&ev, r#"{"schema_version": 2, "at": "2026-11-30T10:30:00Z", "node": "n1", "kind": "loader_evicted", "model": "tiny", "exit": {"signal": 9}}"#).unwrap();
    let up = g().args(["-o", "json", "telemetry", "uptime", "--since", "2026-11-30", "--until", "2026-11-30"]).run();
    up.expect(0);
    let v: serde_json::Value = serde_json::from_str(up.stdout.trim()).unwrap();
    for n in v["uptime"]["nodes"].as_array().unwrap() {
        assert!((n["uptime"].as_f64().unwrap() - 40.0 / 1440.0).abs() < 1e-4, "{n}");
        assert_eq!(n["samples"], 40);
    }
    assert_eq!(v["uptime"]["gaps"].as_array().unwrap().len(), 4, "before and after the samples, per node: {v}");
    assert_eq!(v["loader_events"][0]["kind"], "loader_evicted");
    let text = g().args(["telemetry", "uptime", "--since", "2026-11-30", "--until", "2026-11-30"]).run();
    assert!(text.stdout.contains("cluster uptime 2.778%"), "{}", text.stdout);
}

/// The span reader (`telemetry summary`) on a synthetic rack: three compacted days, a day with no
/// sample, a day still in JSON. Its numbers equal what DuckDB and ClickHouse compute from the
/// Parquet files with no garnet code (`bench/telemetry_month.py`: tokens per model, p95 from the
/// merged buckets, samples, throttled samples and uptime per node), and the JSON day adds up the
/// same before and after it is compacted.
#[test]
fn a_span_sums_the_same_in_garnet_duckdb_and_clickhouse() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = d.join("store");
    let inv = d.join("inventory.yaml");
    let nodes: String = (1..=8).map(|i| format!("{{name: node-{i:03}, transport: local}}, ")).collect();
    std::fs::write(
        &inv,
        format!(
            "cluster: {{slug: syn, tier: pro}}\nnodes: [{nodes}]\nstore: {{kind: local, path: {}}}\n",
            store.display()
        ),
    )
    .unwrap();
    let g = || Garnet::new().args(["-i", &inv.display().to_string()]);
    let synth = |start: &str, days: &str, format: &str| {
        Garnet::new()
            .args(["telemetry", "synth", "--cluster", "syn", "--nodes", "8", "--start", start, "--days", days])
            .args(["--format", format, "--store", &store.display().to_string()])
            .run()
            .expect(0);
    };
    synth("2026-11-01", "3", "parquet");
    synth("2026-11-05", "1", "json");
    let summary = || {
        let r =
            g().args(["-o", "json", "telemetry", "summary", "--since", "2026-11-01", "--until", "2026-11-05"]).run();
        r.expect(0);
        serde_json::from_str::<serde_json::Value>(r.stdout.trim()).unwrap()
    };
    let before = summary();
    let sources: Vec<(&str, &str)> = before["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["date"].as_str().unwrap(), d["source"].as_str().unwrap()))
        .collect();
    assert_eq!(
        sources,
        [
            ("2026-11-01", "parquet"),
            ("2026-11-02", "parquet"),
            ("2026-11-03", "parquet"),
            ("2026-11-04", "missing"),
            ("2026-11-05", "json")
        ]
    );
    assert_eq!(before["missing_days"], serde_json::json!(["2026-11-04"]));
    // node-008 joins on the second day (of three): its uptime counts from the span's start.
    let n8 = before["nodes"].as_array().unwrap().iter().find(|n| n["node"] == "node-008").unwrap().clone();
    assert_eq!(n8["first_sample"], "2026-11-02T00:00:59Z", "{n8}");

    // The JSON day compacted (without deleting): the same numbers, now read from Parquet, and
    // the JSON samples not counted twice.
    g().args(["telemetry", "compact", "--date", "2026-11-05"]).run().expect(0);
    let after = summary();
    assert_eq!(after["days"][4]["source"], "parquet");
    for k in ["models", "backends", "nodes", "samples", "throttled_share", "cluster_uptime"] {
        assert_eq!(before[k], after[k], "{k} differs once compacted");
    }

    for engine in ["duckdb", "chdb"] {
        let out = std::process::Command::new(&py)
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/bench/telemetry_month.py"))
            .args(["--store", &store.display().to_string(), "--cluster", "syn"])
            .args(["--since", "2026-11-01", "--until", "2026-11-05", "--engine", engine])
            .output()
            .unwrap();
        assert!(out.status.success(), "{engine}: {}", String::from_utf8_lossy(&out.stderr));
        let o: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(after["models"].as_array().unwrap().len(), 4);
        for m in after["models"].as_array().unwrap() {
            let e = &o["models"][m["model"].as_str().unwrap()];
            for k in ["requests", "prompt_tokens", "completion_tokens", "cached_tokens"] {
                assert_eq!(m[k], e[k], "{engine}: {} {k}", m["model"]);
            }
            assert!(m["requests"].as_u64().unwrap() > 1000, "{m}");
            assert_eq!(m["e2e"]["count"], e["e2e_count"], "{engine}");
            let (a, b) = (m["e2e_p95_ms"].as_f64().unwrap(), e["e2e_p95_ms"].as_f64().unwrap());
            assert!((a - b).abs() <= 0.11, "{engine}: {} p95 {a} vs {b}", m["model"]);
        }
        for n in after["nodes"].as_array().unwrap() {
            let e = &o["nodes"][n["node"].as_str().unwrap()];
            assert_eq!((&n["samples"], &n["throttled_samples"]), (&e["samples"], &e["throttled_samples"]), "{engine}");
            let (a, b) = (n["uptime"].as_f64().unwrap(), e["uptime"].as_f64().unwrap());
            assert!((a - b).abs() < 2e-5, "{engine}: {} uptime {a} vs {b}", n["node"]);
        }
    }
    // The hot node is the one throttled well over 3% of its samples.
    let hot: Vec<&str> = after["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["throttled_share"].as_f64().unwrap() > 0.03)
        .map(|n| n["node"].as_str().unwrap())
        .collect();
    assert_eq!(hot, ["node-003"]);

    // `status` finds each node's newest sample in today's Parquet once its JSON is deleted.
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    synth(&today, "1", "json");
    let latest = || {
        let r = g().args(["-o", "json", "status"]).run();
        let v: serde_json::Value =
            serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
        v["nodes"].as_array().unwrap().iter().map(|n| n["last_sample"].clone()).collect::<Vec<_>>()
    };
    let from_json = latest();
    assert!(from_json.iter().all(|t| t.is_string()), "{from_json:?}");
    g().args(["telemetry", "compact", "--date", &today, "--delete"]).run().expect(0);
    assert!(
        !store.join(format!("telemetry/cluster=syn/node=node-001/date={today}")).exists()
            || std::fs::read_dir(store.join(format!("telemetry/cluster=syn/node=node-001/date={today}")))
                .unwrap()
                .next()
                .is_none()
    );
    assert_eq!(latest(), from_json, "the same newest samples, now from Parquet");

    // A corrupt Parquet day is skipped with its key named, and counted missing.
    std::fs::write(store.join("telemetry-parquet/cluster=syn/date=2026-11-02/samples.parquet"), b"PAR1 trunc").unwrap();
    let r = g().args(["telemetry", "summary", "--since", "2026-11-01", "--until", "2026-11-05"]).run();
    r.expect(0);
    assert!(r.stderr.contains("telemetry-parquet/cluster=syn/date=2026-11-02/samples.parquet"), "{}", r.stderr);
    assert!(r.stdout.contains("no samples at all on 2026-11-02, 2026-11-04"), "{}", r.stdout);
}
