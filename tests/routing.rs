//! Prefix-affinity routing on two real `mlx_lm.server` loaders, driven by the real OpenAI SDK with
//! multi-turn chats (`tests/support/chat_workload.py`): each conversation stays on the replica
//! that cached its start, the loaders' own usage shows the reuse, and `/metrics` and
//! `/admin/stats` count the placements; least-outstanding on the same loaders in the same run
//! caches less.

use std::process::Command;

use serde_json::Value;

use crate::common::loaders::{Loader, RouterProc, http, python, tiny_model};

/// The workload through `port`, one request at a time, conversations interleaved turn by turn.
fn workload(py: &std::path::Path, port: u16, salt: &str, conversations: u32, turns: u32) -> Value {
    let out = Command::new(py)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/chat_workload.py"))
        .args([&format!("http://127.0.0.1:{port}/v1"), "tiny", "--sequential", "--salt", salt])
        .args(["--conversations", &conversations.to_string(), "--turns", &turns.to_string()])
        .args(["--system-words", "200", "--user-words", "40", "--max-tokens", "8"])
        .output()
        .unwrap();
    assert!(out.status.success(), "workload: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn access(dir: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("access.log")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn prefix_affinity_keeps_each_conversation_on_the_replica_that_cached_it() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(&py, 0);
    let (a, b) = Loader::start_two(&py, &model, dir.path());
    let (aff_dir, lo_dir) = (dir.path().join("affinity"), dir.path().join("least"));
    std::fs::create_dir_all(&aff_dir).unwrap();
    std::fs::create_dir_all(&lo_dir).unwrap();
    let log = |d: &std::path::Path| d.join("access.log").display().to_string();
    let aff = RouterProc::start(
        &aff_dir,
        &Loader::routes_for_two(&a, &b, "    routing: prefix-affinity\n"),
        &["--access-log", &log(&aff_dir)],
    );
    let lo = RouterProc::start(&lo_dir, &Loader::routes_for_two(&a, &b, ""), &["--access-log", &log(&lo_dir)]);
    let (convs, turns) = (3u32, 3u32);

    let w = workload(&py, aff.port, "affinity", convs, turns);
    let records = w["records"].as_array().unwrap();
    let log = access(&aff_dir);
    assert_eq!(log.len(), records.len(), "one access record per request");
    // In order: request k is conversation k % convs, turn k / convs.
    let backend = |c: u32, t: u32| log[(t * convs + c) as usize]["backend"].as_str().unwrap().to_string();
    for c in 0..convs {
        for t in 1..turns {
            assert_eq!(backend(c, t), backend(c, 0), "conversation {c} turn {t} left its replica: {log:?}");
        }
    }
    // Each later turn reuses at least the earlier turn's prompt from the loader's cache.
    for r in records.iter().filter(|r| r["turn"].as_u64() > Some(0)) {
        let before = records
            .iter()
            .find(|p| p["conversation"] == r["conversation"] && p["turn"].as_u64() == r["turn"].as_u64().map(|t| t - 1))
            .unwrap();
        assert!(
            r["cached_tokens"].as_u64().unwrap() >= before["prompt_tokens"].as_u64().unwrap() * 9 / 10,
            "{r} after {before}"
        );
    }
    // Counted: only the very first request is a miss; every other one shares at least the system
    // prompt with an earlier one (a new conversation goes where the system prompt is cached).
    let (_, metrics) = http(aff.port, "GET", "/metrics", None, "");
    let count = |outcome: &str| -> f64 {
        let series = format!("garnet_router_affinity_total{{model=\"tiny\",outcome=\"{outcome}\"}} ");
        metrics.lines().find_map(|l| l.strip_prefix(series.as_str())).unwrap().parse().unwrap()
    };
    assert_eq!(
        (count("hit"), count("miss"), count("sooner"), count("overloaded")),
        (f64::from(convs * turns - 1), 1.0, 0.0, 0.0)
    );
    crate::router::promtool_check(&metrics);
    let (_, stats) = http(aff.admin_port, "GET", "/admin/stats", Some(&aff.token), "");
    let stats: Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["models"][0]["routing"], "prefix-affinity", "{stats}");
    assert_eq!(stats["models"][0]["affinity"]["hits"], convs * turns - 1, "{stats}");
    // Every placed prefill was settled by a first byte: nothing stays queued after the load.
    for b in stats["models"][0]["backends"].as_array().unwrap() {
        assert_eq!(b["prefill_queued_bytes"], 0, "{stats}");
    }

    // Least-outstanding on the same loaders, another system prompt: turns land where the rotation
    // sends them, and less of the prompts comes from the cache.
    let l = workload(&py, lo.port, "least", convs, turns);
    let share = |w: &Value| w["summary"]["cached_share"].as_f64().unwrap();
    eprintln!("cached share: prefix-affinity {:.3}, least-outstanding {:.3}", share(&w), share(&l));
    assert!(share(&w) > share(&l), "affinity {} vs least-outstanding {}", w["summary"], l["summary"]);
    let (_, lo_metrics) = http(lo.port, "GET", "/metrics", None, "");
    assert!(!lo_metrics.contains("garnet_router_affinity_total"), "no affinity series without affinity");
}
