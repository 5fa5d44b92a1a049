//! Hot-swap proven under load on the real stack: sshd nodes, real `mlx_lm.server` loaders on two
//! tiny models of different seeds (A and B), the deployed router, `garnet bench` running mixed
//! streaming and non-streaming clients throughout. Then a deploy that changes nothing (it honours
//! the placement record), a rollback, a swap whose B never gets ready (rolled back, traffic never
//! left A), and a drain cap that cuts long generations and says how many.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::loaders::{S3Server, answer, free_port, python, tiny_model};
use crate::common::{Cluster, Garnet, home_of, sshd_available};

/// `garnet bench` in the background against the router: mixed streaming, every answer must be
/// exactly `max_tokens` long (`--expect-full`), so a truncated stream counts as a failure.
fn load(api: u16, secs: u32, max_tokens: u32, clients: u32) -> Child {
    Garnet::new()
        .args(["-o", "json", "bench", "--url", &format!("http://127.0.0.1:{api}/v1"), "--model", "tiny"])
        .args(["-d", &format!("{secs}s"), "-c", &clients.to_string(), "--stream", "0.5", "--expect-full"])
        .args(["--max-tokens", &max_tokens.to_string()])
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(c: Child) -> Value {
    let out = c.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).find(|v| v["event"] == "bench").unwrap_or_else(
        || {
            panic!("no bench report: {text}\n{}", String::from_utf8_lossy(&out.stderr));
        },
    )
}

fn swap_report(run: &crate::common::Run) -> Value {
    run.events()
        .into_iter()
        .find(|e| e["event"] == "hot_swap")
        .unwrap_or_else(|| panic!("no hot_swap event\n{}", run.stderr))
}

fn inventory(
    c: &Cluster,
    py: &Path,
    a: &Path,
    b: &Path,
    broken: &Path,
    s3: &S3Server,
    api: u16,
) -> (PathBuf, u16, u16) {
    let d = c.path();
    let mut s = c.deploy_inventory_head("swaplab", ", memory_gb: 16");
    let (pa, pb, pc, admin) = (free_port(), free_port(), free_port(), free_port());
    s.push_str(&format!(
        "models:\n  - {{name: tiny, source: {}, port: {pa}, max_tokens: 2000, latency_budget_ms: 30000}}\n  \
         - {{name: tiny-b, source: {}, port: {pb}, max_tokens: 2000}}\n  \
         - {{name: broken, source: {}, port: {pc}}}\n\
         placement:\n  tiny: {{nodes: [{}]}}\n\
         router: {{listen: \"127.0.0.1:{api}\", admin_listen: \"127.0.0.1:{admin}\", token_file: {}/router.token}}\n\
         monitor: {{interval_secs: 5, health_port: {}}}\n\
         deploy: {{python: {}}}\n",
        a.display(),
        b.display(),
        broken.display(),
        c.nodes.iter().take(2).map(|n| n.name.as_str()).collect::<Vec<_>>().join(", "),
        d.display(),
        free_port(),
        py.display(),
    ));
    s.push_str(&s3.store_yaml(d, "swap-test"));
    let p = d.join("inventory.yaml");
    std::fs::write(&p, s).unwrap();
    (p, pb, admin)
}

#[test]
fn hot_swap_under_load_loses_nothing_and_rolls_back_cleanly() {
    let _quiet = crate::common::clocks();
    if !sshd_available() {
        return;
    }
    let Some(py) = python() else { return };
    let (model_a, model_b) = (tiny_model(&py, 0), tiny_model(&py, 1));
    let c = Cluster::start_as(3, "garnet-h"); // node3: a spare for `--via`
    let _cleanup = crate::common::NodeCleanup(c.nodes.iter().map(|n| home_of(&n.user)).collect());
    let s3 = S3Server::start(&py, c.path());
    // A model B can never load: the loader dies at start.
    let broken = c.path().join("broken-model");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("config.json"), "{\"model_type\": \"nonsense\"}").unwrap();
    std::fs::write(broken.join("model.safetensors"), b"garbage").unwrap();
    let api = free_port();
    let (inv, port_b, admin) = inventory(&c, &py, &model_a, &model_b, &broken, &s3, api);
    let g = || c.garnet(&inv);

    g().args(["--yes", "deploy", "--ready-timeout", "120s"]).run().expect(0);
    let from_a = answer(api);

    // The dry run shows every step with this swap's values, and changes nothing.
    let dry = g().args(["--dry-run", "hot-swap", "tiny", "--to", "tiny-b"]).run();
    dry.expect(0);
    assert!(
        dry.stdout.contains("on node2: `tiny` → `tiny-b`") && dry.stdout.contains(&format!("on port {}", port_b + 1)),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("## 5. flip") && !dry.stdout.contains("<b_url>"), "{}", dry.stdout);
    assert_eq!(answer(api), from_a);

    // The swap, under load: mixed streaming clients the whole time.
    let bench = load(api, 40, 8, 4);
    std::thread::sleep(Duration::from_secs(2));
    let swap = g().args(["--yes", "-o", "json", "hot-swap", "tiny", "--to", "tiny-b", "--ready-timeout", "120s"]).run();
    swap.expect(0);
    let report = swap_report(&swap);
    let after_flip = answer(api);
    let during = finish(bench);
    assert_eq!(during["failed"], 0, "requests failed during the swap: {during}\n{report}");
    assert!(during["requests"].as_u64().unwrap() > 50, "too little load to prove anything: {during}");
    assert!(during["streams"].as_u64().unwrap() > 10, "{during}");
    assert_eq!(report["failed_during"], 0, "{report}");
    assert!(report["requests_during"].as_u64().unwrap() > 0, "{report}");
    assert_ne!(after_flip, from_a, "the answer after the swap still comes from A");
    let b_direct = {
        let body =
            r#"{"model":"models/tiny-b","messages":[{"role":"user","content":"which model are you"}],"max_tokens":12}"#;
        let raw = http_post_to(&c.nodes[0].ip, port_b, body);
        let v: Value = serde_json::from_str(raw.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        v["choices"][0]["message"]["content"].as_str().unwrap().to_string()
    };
    assert_eq!(after_flip, b_direct, "responses after the flip come from B");
    assert!(report["latency"]["baseline_p95_ms"].as_f64().is_some(), "the latency window is reported: {report}");
    let flip_us: Vec<f64> = report["flip_us"].as_array().unwrap().iter().filter_map(Value::as_f64).collect();
    assert_eq!(flip_us.len(), 2, "one flip per node swapped: {report}");
    eprintln!("hot-swap report: {report}\nload during it: {during}");

    // A deploy now keeps B (the placement record), changing nothing.
    let again = g().args(["--yes", "-o", "json", "deploy"]).run();
    again.expect(0);
    let changed: Vec<Value> =
        again.events().into_iter().filter(|e| e["event"] == "step_finished" && e["outcome"] != "ok").collect();
    assert!(changed.is_empty(), "a deploy after the swap changed: {changed:?}\n{}", again.stderr);
    assert_eq!(answer(api), after_flip);

    // A swap to a model that never loads: rolled back before the flip, traffic never left B.
    let bench = load(api, 25, 8, 2);
    let bad =
        g().args(["--yes", "hot-swap", "tiny", "--to", "broken", "--ready-timeout", "15s", "--node", "node1"]).run();
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert!(bad.stderr.contains("failed before the flip, nothing moved"), "{}", bad.stderr);
    let during = finish(bench);
    assert_eq!(during["failed"], 0, "{during}");
    assert_eq!(answer(api), after_flip, "traffic moved to the broken loader");
    assert!(!home_of(&c.nodes[0].user).join(".garnet/run/garnet-loader-broken.pid").exists(), "B was left behind");

    // Rollback: back to A, under load, nothing lost.
    let bench = load(api, 40, 8, 4);
    let back = g().args(["--yes", "-o", "json", "rollback", "tiny", "--ready-timeout", "120s"]).run();
    back.expect(0);
    let during = finish(bench);
    assert_eq!(during["failed"], 0, "{during}");
    assert_eq!(answer(api), from_a, "rollback did not bring A back");

    // A drain cap shorter than the generations in flight: they are cut, and counted. node1 is
    // drained first so that every long generation is on node2's A when it flips.
    let token = std::fs::read_to_string(c.path().join("router.token")).unwrap();
    let (st, body) =
        crate::common::loaders::http(admin, "POST", "/admin/backends/node1%2Ftiny/drain", Some(token.trim()), "");
    assert_eq!(st, 200, "{body}");
    // Long enough to outlast any swap; stopped (SIGINT) once the swap is done.
    let bench = load(api, 300, 1500, 4);
    // The long generations are on node2's A before the swap starts (the router's own view).
    let backend = |id: &str| -> Value {
        let (_, b) =
            crate::common::loaders::http(admin, "GET", &format!("/admin/backends/{id}"), Some(token.trim()), "");
        serde_json::from_str(&b).unwrap_or_default()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while backend("node2%2Ftiny")["in_flight"].as_u64().unwrap_or(0) < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the load never reached node2's A: node1 {} node2 {}",
            backend("node1%2Ftiny"),
            backend("node2%2Ftiny")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let capped = g()
        .env("GARNET_LOG", "garnet=info")
        .args(["--yes", "-o", "json", "hot-swap", "tiny", "--to", "tiny-b", "--node", "node2", "--drain-max", "0s"])
        .run();
    capped.expect(0);
    let report = swap_report(&capped);
    // SAFETY: signalling our own child, which has not been waited for.
    unsafe { libc::kill(bench.id() as i32, libc::SIGINT) };
    let during = finish(bench);
    assert_eq!(during["interrupted"], true, "{during}");
    eprintln!("capped swap: {}", capped.stderr.lines().filter(|l| l.contains("drain")).collect::<Vec<_>>().join("\n"));
    let cut = report["cut_at_drain_cap"].as_u64().unwrap();
    assert!(
        cut >= 1,
        "long generations were in flight, the cap must cut some: {report}\n{during}\n{}\nnode1 {} node2 {}",
        capped.stderr,
        backend("node1%2Ftiny"),
        backend("node2%2Ftiny")
    );
    assert!(during["failed"].as_u64().unwrap() <= cut, "more failures than the cut requests: {during}\n{report}");
    assert!(
        report["failed_during"].as_u64().unwrap() >= during["failed"].as_u64().unwrap(),
        "the router's own count must see what the clients saw: {report}\n{during}"
    );

    // Via a spare, to a bare source: B (model B's folder) starts on node3, node1 is freed.
    let bench = load(api, 30, 8, 4);
    std::thread::sleep(Duration::from_secs(1));
    let moved = g()
        .args(["--yes", "-o", "json", "hot-swap", "tiny", "--to", &model_b.display().to_string()])
        .args(["--node", "node1", "--via", "node3", "--ready-timeout", "120s"])
        .run();
    moved.expect(0);
    let during = finish(bench);
    assert_eq!(during["failed"], 0, "{during}\n{}", moved.stderr);
    for _ in 0..4 {
        assert_eq!(answer(api), after_flip, "every answer now comes from model B (node2's tiny-b, node3's copy)");
    }
    assert!(!home_of(&c.nodes[0].user).join(".garnet/run/garnet-loader-tiny.pid").exists(), "node1 still runs A");
    // And deploy keeps it that way: the moved placement and the source-made entry are on record.
    let again = g().args(["--yes", "-o", "json", "deploy"]).run();
    again.expect(0);
    let changed: Vec<Value> =
        again.events().into_iter().filter(|e| e["event"] == "step_finished" && e["outcome"] != "ok").collect();
    assert!(changed.is_empty(), "a deploy after the move changed: {changed:?}");

    // Rolling the move back: A returns to node1, node3 is freed, nothing lost meanwhile.
    let bench = load(api, 30, 8, 4);
    std::thread::sleep(Duration::from_secs(1));
    let back = g().args(["--yes", "-o", "json", "rollback", "tiny", "--ready-timeout", "120s"]).run();
    back.expect(0);
    let during = finish(bench);
    assert_eq!(during["failed"], 0, "{during}\n{}", back.stderr);
    let loaders = |i: usize| -> Vec<String> {
        std::fs::read_dir(home_of(&c.nodes[i].user).join(".garnet/run"))
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|n| n.starts_with("garnet-loader-") && n.ends_with(".pid"))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(loaders(0), vec!["garnet-loader-tiny.pid".to_string()], "A is back on node1");
    assert!(loaders(2).is_empty(), "node3 still runs a loader: {:?}", loaders(2));
    let answers: Vec<String> = (0..6).map(|_| answer(api)).collect();
    assert!(answers.contains(&from_a), "no answer from node1's A after the rollback: {answers:?}");
    let again = g().args(["--yes", "-o", "json", "deploy"]).run();
    again.expect(0);
    let changed: Vec<Value> =
        again.events().into_iter().filter(|e| e["event"] == "step_finished" && e["outcome"] != "ok").collect();
    assert!(changed.is_empty(), "a deploy after the rollback changed: {changed:?}");
}

fn http_post_to(ip: &str, port: u16, body: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect((ip, port)).unwrap();
    write!(
        s,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {ip}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}
