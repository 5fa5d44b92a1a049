//! `garnet deploy` on real sshd nodes with the process backend, real `mlx_lm.server` loaders on the
//! tiny model, the router, the monitors shipping to a real S3-compatible server (moto); then
//! traffic, `status`, a second deploy that changes nothing, and a node unreachable during deploy.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::loaders::{S3Server, free_port, python, tiny_model};
use crate::common::{Cluster, home_of, sshd_available};

fn inventory(c: &Cluster, py: &Path, model: &Path, s3: &S3Server, ports: (u16, u16, u16, u16)) -> PathBuf {
    let d = c.path();
    let (loader, api, admin, health) = ports;
    let mut s = c.deploy_inventory_head("deploylab", "");
    s.push_str(&format!(
        "models:\n  - {{name: tiny, source: {}, max_tokens: 8, port: {loader}}}\n\
         placement:\n  tiny: {{nodes: [{}]}}\n\
         router: {{listen: \"127.0.0.1:{api}\", admin_listen: \"127.0.0.1:{admin}\", token_file: {}/router.token}}\n\
         monitor: {{interval_secs: 2, health_port: {health}}}\n\
         deploy: {{python: {}, logs: {{max_bytes: 1024, keep: 2}}}}\n\
         cost: {{retainer_usd_month: 1000, usd_per_kwh: 0.2}}\n",
        model.display(),
        c.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", "),
        d.display(),
        py.display(),
    ));
    s.push_str(&s3.store_yaml(d, "deploy-test"));
    let p = d.join("inventory.yaml");
    std::fs::write(&p, s).unwrap();
    p
}

#[test]
fn deploy_serve_status_redeploy_and_an_unreachable_node() {
    if !sshd_available() {
        return;
    }
    let Some(py) = python() else { return };
    let model = tiny_model(&py, 0);
    let mut c = Cluster::start_as(2, "garnet-d");
    let _cleanup = crate::common::NodeCleanup(c.nodes.iter().map(|n| home_of(&n.user)).collect());
    let s3 = S3Server::start(&py, c.path());
    let api = free_port();
    let inv = inventory(&c, &py, &model, &s3, (free_port(), api, free_port(), free_port()));
    let base = c.garnet(&inv);
    let g = || base.clone();

    // The dry run shows each file and changes nothing.
    let dry = g().args(["deploy", "--dry-run"]).run();
    dry.expect(0);
    assert!(dry.stdout.contains("garnet-router definition") && dry.stdout.contains("\"loaders\""), "{}", dry.stdout);
    assert!(!c.path().join("router.token").exists(), "dry run created the token");

    let first = g().args(["--yes", "-o", "json", "deploy", "--ready-timeout", "120s"]).run();
    first.expect(0);
    let outcomes = first.outcomes();
    assert_eq!(outcomes.values().filter(|o| *o == "changed").count(), 2, "{outcomes:?}\n{}", first.stderr);
    assert!(first.stderr.contains("fresh sample"), "{}", first.stderr);
    let mode = std::fs::metadata(c.path().join("router.token")).unwrap().permissions();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777, 0o600);

    // Traffic through the deployed router reaches both loaders.
    let bench = crate::common::Garnet::new()
        .args(["-o", "json", "bench", "--url", &format!("http://127.0.0.1:{api}/v1"), "--model", "tiny"])
        .args(["-n", "24", "-c", "4", "--max-tokens", "8"])
        .run();
    bench.expect(0);
    let report = bench.events().into_iter().find(|e| e["event"] == "bench").expect("bench event");
    assert_eq!((report["ok"].as_u64(), report["failed"].as_u64()), (Some(24), Some(0)), "{report}");

    // `status` sees both nodes up and the traffic in the router node's samples.
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let s = g().args(["-o", "json", "status"]).run();
        let v: serde_json::Value = serde_json::from_str(s.stdout.trim()).unwrap_or_default();
        let served: u64 = v["models"].as_array().into_iter().flatten().filter_map(|m| m["requests"].as_u64()).sum();
        // The traffic and its rate (a node's first sample may have no window yet to rate it by).
        if s.code == 0 && served > 0 && v["usd_per_mtok"].as_f64().is_some() {
            break v;
        }
        assert!(Instant::now() < deadline, "status never showed the traffic: {}\n{}", s.stdout, s.stderr);
        std::thread::sleep(Duration::from_millis(500));
    };
    let states: Vec<&str> = status["nodes"].as_array().unwrap().iter().map(|n| n["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["up", "up"], "{status}");
    assert!(status["usd_per_mtok"].as_f64().is_some_and(|c| c > 0.0), "{status}");
    let live = &status["router_live"][0];
    assert_eq!(live["node"], "node1", "{status}");
    let backends = live["stats"]["models"][0]["backends"].as_array().unwrap_or_else(|| panic!("no live stats: {live}"));
    assert_eq!(backends.len(), 2, "the router's live view has both loaders: {live}");
    assert!(status["models"][0]["kv_cache_hit_rate"].as_f64().is_some(), "{status}");
    // The text view, once a sample's window holds traffic (a later window may have none: a
    // request each round keeps traffic in the windows to come).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = r#"{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":2}"#;
        let _ = crate::common::loaders::http_post(api, "/v1/chat/completions", body);
        let text = g().args(["status"]).run();
        if text.stdout.contains("tiny") && text.stdout.contains("per million tokens") {
            break;
        }
        assert!(Instant::now() < deadline, "{}", text.stdout);
        std::thread::sleep(Duration::from_millis(500));
    }

    // The samples say which node served what (schema 2: per backend), each loader's memory and
    // its prompt cache.
    let spec: garnet::inventory::StoreSpec = serde_json::from_value(serde_json::json!({
        "kind": "s3", "path": "", "endpoint": format!("http://127.0.0.1:{}", s3.port), "bucket": s3.bucket,
        "prefix": "deploy-test", "region": "us-east-1", "credentials_file": s3.credentials(c.path()), "path_style": true,
    }))
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let read = || -> Vec<serde_json::Value> {
        rt.block_on(async {
            let st = garnet::store::open_spec(&spec).await.unwrap();
            let mut out = Vec::new();
            for k in st.list("telemetry/cluster=deploylab/").await.unwrap() {
                out.push(serde_json::from_slice(&st.get(&k).await.unwrap().unwrap()).unwrap());
            }
            out
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let samples = read();
        let served = |node: &str| -> u64 {
            samples
                .iter()
                .flat_map(|s| s["backends"].as_array().cloned().unwrap_or_default())
                .filter(|b| b["node"] == node)
                .map(|b| b["requests"].as_u64().unwrap_or(0))
                .sum()
        };
        let cache_seen = |node: &str| {
            samples.iter().filter(|s| s["node"] == node).any(|s| {
                s["loaders"][0]["prompt_cache_sequences"].as_u64().is_some()
                    && s["loaders"][0]["rss_bytes"].as_u64().is_some_and(|b| b > 20 << 20)
            })
        };
        let (s1, s2) = (served("node1"), served("node2"));
        if s1 + s2 >= 24 && s1 > 0 && s2 > 0 && cache_seen("node1") && cache_seen("node2") {
            assert!(samples.iter().all(|s| s["schema_version"] == 2));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no per-backend and loader numbers in the samples: node1 {s1}, node2 {s2}, cache {} {}: {}",
            cache_seen("node1"),
            cache_seen("node2"),
            samples.iter().rfind(|s| s["node"] == "node1").map(|s| s.to_string()).unwrap_or_default()
        );
        // A little more traffic while waiting: the prompt-cache line is read from the loader's log
        // in the window it is written, and the burst above may have come before a monitor's
        // first look at that log (what came before the first look is not read).
        if !(cache_seen("node1") && cache_seen("node2")) {
            crate::common::Garnet::new()
                .args(["-o", "json", "bench", "--url", &format!("http://127.0.0.1:{api}/v1"), "--model", "tiny"])
                .args(["-n", "2", "-c", "2", "--max-tokens", "4"])
                .run();
        }
        std::thread::sleep(Duration::from_millis(500));
    }

    // Every service's logs are rotated at the inventory's size, with at most `keep` old files.
    for n in &c.nodes {
        let run = home_of(&n.user).join(".garnet/run");
        let mut rotated = 0;
        for e in std::fs::read_dir(&run).unwrap().flatten() {
            let name = e.file_name().into_string().unwrap();
            if name.contains(".log") {
                let len = e.metadata().unwrap().len();
                assert!(len <= 1024, "{}: `{name}` is {len} bytes", n.name);
                assert!(!name.ends_with(".log.3"), "{}: more than 2 rotated files: {name}", n.name);
                rotated += usize::from(name.ends_with(".log.1"));
            }
        }
        assert!(rotated > 0, "{}: no log was rotated", n.name);
        assert!(run.join("garnet-loader-tiny.err.log").exists(), "{}: the loader's log is missing", n.name);
    }

    // A second deploy changes nothing and restarts nothing.
    let pid = |i: usize, svc: &str| {
        std::fs::read_to_string(home_of(&c.nodes[i].user).join(format!(".garnet/run/{svc}.pid"))).unwrap()
    };
    let before = (pid(0, "garnet-router"), pid(0, "garnet-loader-tiny"), pid(1, "garnet-monitor"));
    let second = g().args(["--yes", "-o", "json", "deploy"]).run();
    second.expect(0);
    assert!(second.outcomes().values().all(|o| o == "ok"), "{:?}\n{}", second.outcomes(), second.stderr);
    let changed: Vec<_> =
        second.events().into_iter().filter(|e| e["event"] == "step_finished" && e["outcome"] != "ok").collect();
    assert!(changed.is_empty(), "{changed:?}");
    assert_eq!(before, (pid(0, "garnet-router"), pid(0, "garnet-loader-tiny"), pid(1, "garnet-monitor")));

    // One node unreachable: the other deploys, the run is partial, the dead one is named.
    c.down(1);
    let partial = g().args(["--yes", "-o", "json", "deploy", "--no-verify"]).run();
    partial.expect(3);
    let o = partial.outcomes();
    assert_eq!((o["node1"].as_str(), o["node2"].as_str()), ("ok", "unreachable"), "{}", partial.stderr);
    c.up(1);

    // Roll-off. garnet logs in with its operator key only (the harness key is withdrawn).
    g().args(["--yes", "keys", "provision"]).run().expect(0);
    let key = c.path().join("state/keys/deploylab-ed25519");
    let text = std::fs::read_to_string(&inv).unwrap();
    let inv2 = c.path().join("offboard.yaml");
    std::fs::write(&inv2, text.replace(&format!("{}/id_ed25519", c.path().display()), &key.display().to_string()))
        .unwrap();
    std::fs::write(c.path().join("authorized_keys"), "").unwrap();
    let g2 = || c.garnet(&inv2);
    g2().args(["--yes", "exec", "--", "true"]).run().expect(0);
    // node2 by hand, from its runbook pasted into `sh`; node1 by garnet: the same end state.
    let book = g2().args(["runbook", "offboard", "--node", "node2"]).run();
    book.expect(0);
    assert!(book.stdout.contains("`offboard` on node2") && !book.stdout.contains("node1"), "{}", book.stdout);
    assert_eq!(crate::common::placeholders(&book.stdout), Vec::<String>::new(), "{}", book.stdout);
    let pasted = crate::common::paste(&book.stdout, c.path());
    assert_eq!(pasted, 4, "{}", book.stdout);
    // The step's check: the connection garnet kept from the exec above ends with the key.
    g2().args(["connections", "close", "--limit", "node2"]).run().expect(0);
    let off = g2().args(["--yes", "-o", "json", "--limit", "node1", "offboard"]).run();
    off.expect(0);
    let report = off.events().into_iter().find(|e| e["event"] == "offboard").expect("offboard report");
    let node1 = &report["nodes"][0];
    let removed: Vec<&str> = node1["removed"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(removed, ["monitor's shipping", "store credentials", "garnet's SSH key"], "{report}");
    let running: Vec<&str> = node1["keeps_running"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(running.contains(&"garnet-loader-tiny") && running.contains(&"garnet-router"), "{report}");
    // garnet can no longer log in; the rack keeps serving; the monitor keeps its samples on the node.
    let after = g2().args(["--yes", "-o", "json", "exec", "--", "true"]).run();
    after.expect(1);
    assert!(after.outcomes().values().all(|o| o == "unreachable"), "{:?}", after.outcomes());
    let served = crate::common::Garnet::new()
        .args(["-o", "json", "bench", "--url", &format!("http://127.0.0.1:{api}/v1"), "--model", "tiny", "-n", "8"])
        .run();
    served.expect(0);
    for n in &c.nodes {
        let home = home_of(&n.user).join(".garnet");
        assert!(!home.join("etc/store.credentials").exists(), "{}: credentials left", n.name);
        let deadline = Instant::now() + Duration::from_secs(20);
        while glob::glob(&format!("{}/store/telemetry/**/*.json", home.display())).unwrap().flatten().next().is_none() {
            assert!(Instant::now() < deadline, "{}: the monitor stopped sampling after offboard", n.name);
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
