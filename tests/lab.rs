//! `garnet lab up|down`: the README's first command, for real — the same deploy code on local
//! nodes, real loaders on the generated tiny model, the router, the monitors; the real OpenAI SDK
//! as the client; `lab down` leaves nothing running.

use std::process::Command;

use serde_json::{Value, json};

use crate::common::Garnet;
use crate::common::loaders::{answer, free_port, http_post, python, tiny_model};

/// A base port whose every derived port for `nodes` lab nodes is free.
fn lab_port(nodes: u16) -> u16 {
    (0..50)
        .map(|_| free_port())
        .find(|p| {
            garnet::commands::lab::lab_ports(*p, nodes)
                .iter()
                .all(|q| std::net::TcpListener::bind(("127.0.0.1", *q)).is_ok())
        })
        .expect("a free block of ports")
}

/// `lab down` when the test ends (`always`), or only when it fails: its services never outlive it.
struct LabDown {
    g: Garnet,
    dir: String,
    always: bool,
}

impl Drop for LabDown {
    fn drop(&mut self) {
        if self.always || std::thread::panicking() {
            let _ = std::mem::replace(&mut self.g, Garnet::new()).args(["lab", "down", "--dir", &self.dir]).run();
        }
    }
}

#[test]
fn lab_up_serves_openai_clients_and_lab_down_stops_everything() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("lab");
    let g = || Garnet::new().env("GARNET_STATE_DIR", dir.path().join("state").display().to_string()).cwd(dir.path());
    // A base whose every derived port is free (the lab refuses busy ones, tested below); three
    // nodes' worth: the deploy runbook adds a third node (below).
    let port = lab_port(3);
    let blocker = std::net::TcpListener::bind(("127.0.0.1", port + 21 + 100)).unwrap();
    let refused = g()
        .args([
            "lab",
            "up",
            "--dir",
            &dir.path().join("other").display().to_string(),
            "--nodes",
            "2",
            "--port",
            &port.to_string(),
        ])
        .args(["--python", &py.display().to_string()])
        .run();
    refused.expect(2);
    assert!(refused.stderr.contains(&format!("port(s) {} are in use", port + 121)), "{}", refused.stderr);
    drop(blocker);
    // Whatever fails below, the lab's services do not outlive the test.
    let _down = LabDown { g: g(), dir: lab.display().to_string(), always: false };
    let up = g()
        .args(["lab", "up", "--dir", &lab.display().to_string(), "--nodes", "2", "--port", &port.to_string()])
        .args(["--python", &py.display().to_string()])
        .run();
    up.expect(0);
    let base = format!("http://127.0.0.1:{port}/v1");
    assert!(up.stdout.contains(&base) && up.stdout.contains("garnet lab down"), "{}", up.stdout);

    let out = Command::new(&py)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/openai_client.py"))
        .args([&base, "tiny"])
        .output()
        .unwrap();
    assert!(out.status.success(), "client: {}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["chat"]["model"], "tiny", "{r}");
    assert_eq!(r["chat"]["usage"]["completion_tokens"], 5, "{r}");
    assert_eq!(r["chat_stream"]["finish"], "length", "{r}");

    let inv = lab.join("inventory.yaml").display().to_string();
    let status = g().args(["-i", &inv, "-o", "json", "status"]).run();
    status.expect(0);
    let v: Value = serde_json::from_str(status.stdout.trim()).unwrap();
    assert_eq!(v["nodes"].as_array().unwrap().len(), 2, "{v}");
    dashboard_shows_the_lab(&g, &py, &inv);

    runbooks_pasted_into_sh(&g, &py, &lab, port);
    deploy_runbook_pasted_into_sh(&g, &py, &lab, port);
    placement_apply_under_load(&g, &lab, port);

    let pids: Vec<i32> = glob::glob(&format!("{}/nodes/*/run/*.pid", lab.display()))
        .unwrap()
        .flatten()
        .map(|p| std::fs::read_to_string(p).unwrap().trim().parse().unwrap())
        .collect();
    // `tiny` left lab2 and came back (placement apply, rollback): three loaders, three monitors,
    // one router.
    assert_eq!(pids.len(), 3 + 3 + 1, "three loaders, three monitors, one router: {pids:?}");
    g().args(["lab", "down", "--dir", &lab.display().to_string()]).run().expect(0);
    for pid in pids {
        let alive = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
        assert!(!alive, "pid {pid} survived `lab down`");
    }
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "the router still listens");
}

/// `garnet dashboard` on the lab, in Chromium: once the monitors have sampled the client's
/// traffic, the page's nodes, models and per-node rows equal `status -o json` read at the same
/// samples, and the cost curve has its first point (the lab's illustrative `cost:`).
fn dashboard_shows_the_lab(g: &dyn Fn() -> Garnet, py: &std::path::Path, inv: &str) {
    if !crate::dashboard::chromium() {
        return;
    }
    let dash =
        crate::dashboard::Dash::start(g().args(["-i", inv, "dashboard", "--listen", "127.0.0.1:0", "--refresh", "1s"]));
    let status = || {
        let r = g().args(["-i", inv, "-o", "json", "status"]).run();
        serde_json::from_str::<Value>(r.stdout.trim()).unwrap_or_else(|_| panic!("{}", r.stderr))
    };
    let state = || -> Value {
        let path = format!("{}/state.json", crate::dashboard::path_of(&dash.url));
        serde_json::from_str(&crate::dashboard::http(&dash.addr, "GET", &path, &[]).2).unwrap()
    };
    // The client's requests sampled: a model with traffic, and the hour's first cost point.
    let dom = crate::dashboard::compare_with_status(py, &dash, &status, &|s| {
        s["nodes_up"] == 2
            && s["models"].as_array().is_some_and(|m| !m.is_empty())
            && state()["hourly"]["points"].as_array().is_some_and(|p| p.iter().any(|p| p["tokens"].as_u64() > Some(0)))
    });
    let points = dom["points"].as_object().unwrap();
    assert!(!points.is_empty(), "the first cost-per-token point on the page: {dom}");
    assert!(
        points
            .values()
            .any(|p| p["all_in_usd_per_mtok"].as_str().is_some_and(|v| v.parse::<f64>().is_ok_and(|v| v > 0.0))),
        "{dom}"
    );
    let shot = std::env::temp_dir().join(format!("garnet-lab-dashboard-{}.png", std::process::id()));
    crate::dashboard::browser(
        py,
        serde_json::json!([{"goto": dash.url}, {"screenshot": shot.display().to_string(), "width": 1280, "height": 1800}]),
    );
    if let Ok(d) = std::env::var("GARNET_SCREENSHOT_DIR") {
        std::fs::copy(&shot, std::path::Path::new(&d).join("dashboard-lab.png")).unwrap();
    }
    let _ = std::fs::remove_file(shot);
}

/// The hot-swap and rollback runbooks, printed by `garnet runbook` for this lab and pasted block
/// by block into `sh` under load: B (another model) ends up serving with nothing lost, garnet
/// agrees with the end state (its own swap has nothing left to do; a deploy changes no service
/// and no route), and the pasted rollback brings A back.
fn runbooks_pasted_into_sh(g: &dyn Fn() -> Garnet, py: &std::path::Path, lab: &std::path::Path, port: u16) {
    let inv_path = lab.join("inventory.yaml");
    let inv = std::fs::read_to_string(&inv_path).unwrap();
    let model_b = tiny_model(py, 7);
    let b_port = port + 22;
    let inv = inv.replacen(
        "placement:",
        &format!("  - {{name: tiny-b, source: {}, max_tokens: 256, port: {b_port}}}\nplacement:", model_b.display()),
        1,
    );
    std::fs::write(&inv_path, inv).unwrap();
    let i = inv_path.display().to_string();
    let from_a = answer(port);

    let book = g().args(["-i", &i, "runbook", "hot-swap", "--model", "tiny", "--to", "tiny-b", "--node", "lab2"]).run();
    book.expect(0);
    assert!(!book.stdout.contains("routes-flipped.json"), "{}", book.stdout);
    assert_eq!(crate::common::placeholders(&book.stdout), Vec::<String>::new(), "{}", book.stdout);
    let bench = load(port);
    let n = crate::common::paste(&book.stdout, lab);
    assert!(n >= 9, "{n} blocks:\n{}", book.stdout);
    // lab1 still serves A, lab2 serves B (another model, another answer) in the router's routes.
    let token = std::fs::read_to_string(lab.join("router.token")).unwrap();
    let routes = || -> Vec<String> {
        let (st, body) = crate::common::loaders::http(port + 1, "GET", "/admin/routes", Some(token.trim()), "");
        assert_eq!(st, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let mut ids: Vec<String> = v["routes"]["models"][0]["backends"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|b| format!("{}{}", b["id"].as_str().unwrap(), if b["draining"] == true { " draining" } else { "" }))
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(routes(), ["lab1/tiny", "lab2/tiny@tiny-b"]);
    let b_answer = {
        let body = r#"{"model":"tiny","messages":[{"role":"user","content":"which model are you"}],"max_tokens":12}"#
            .replace("\"tiny\"", "\"models/tiny-b\"");
        let raw = http_post(b_port + 100, "/v1/chat/completions", &body).unwrap();
        let v: Value = serde_json::from_str(raw.split("\r\n\r\n").nth(1).unwrap_or(&raw)).unwrap_or_default();
        v["choices"][0]["message"]["content"].as_str().unwrap_or_else(|| panic!("{raw}")).to_string()
    };
    assert_ne!(b_answer, from_a, "B is another model");
    assert!((0..8).map(|_| answer(port)).all(|a| a == from_a || a == b_answer));

    // garnet agrees: its own swap has nothing left to do, and a deploy changes no service or route.
    let again = g().args(["-i", &i, "--yes", "hot-swap", "tiny", "--to", "tiny-b", "--node", "lab2"]).run();
    again.expect(0);
    assert!(again.stderr.contains("already served by `tiny-b`"), "{}", again.stderr);
    let deploy = g().args(["-i", &i, "--yes", "-o", "json", "deploy", "--ready-timeout", "120s"]).run();
    deploy.expect(0);
    let changed = deploy.changed_steps();
    assert!(
        changed.iter().all(|s| !s.contains("garnet-loader") && !s.contains("routes") && !s.contains("node config")),
        "deploy after the pasted swap changed: {changed:?}"
    );

    // The rollback runbook, pasted the same way: A serves everywhere again.
    let back = g().args(["-i", &i, "runbook", "rollback", "--model", "tiny", "--node", "lab2"]).run();
    back.expect(0);
    assert_eq!(crate::common::placeholders(&back.stdout), Vec::<String>::new(), "{}", back.stdout);
    crate::common::paste(&back.stdout, lab);
    assert_eq!(routes(), ["lab1/tiny", "lab2/tiny"]);
    for _ in 0..4 {
        assert_eq!(answer(port), from_a, "the pasted rollback did not bring A back");
    }
    assert!(http_post(b_port + 100, "/v1/models", "").is_err(), "B still runs after the pasted rollback");
    let report = load_report(bench);
    assert_eq!(report["failed"], 0, "requests lost while the runbooks were pasted: {report}");
    assert!(report["ok"].as_u64().unwrap_or(0) > 0, "{report}");
}

/// The deploy runbook, pasted: a third node with a model of its own joins the lab by hand (binary,
/// config, the router token from the operator's file, services, the router's new routes), then
/// `garnet deploy` finds nothing to change anywhere and the router serves the new model.
fn deploy_runbook_pasted_into_sh(g: &dyn Fn() -> Garnet, py: &std::path::Path, lab: &std::path::Path, port: u16) {
    let inv_path = lab.join("inventory.yaml");
    let inv = std::fs::read_to_string(&inv_path).unwrap();
    let home3 = lab.join("nodes/lab3");
    let inv = inv
        .replacen(
            "models:",
            &format!(
                "  - {{name: lab3, garnet_home: {}, port_offset: 200, roles: [loader]}}\nmodels:",
                home3.display()
            ),
            1,
        )
        .replacen(
            "placement:",
            &format!(
                "  - {{name: tiny-c, source: {}, max_tokens: 256, port: {}}}\nplacement:\n  tiny-c: {{nodes: [lab3]}}",
                tiny_model(py, 7).display(),
                port + 23
            ),
            1,
        );
    std::fs::write(&inv_path, inv).unwrap();
    let i = inv_path.display().to_string();
    let book = g().args(["-i", &i, "runbook", "deploy"]).run();
    book.expect(0);
    let token = std::fs::read_to_string(lab.join("router.token")).unwrap();
    assert!(!book.stdout.contains(token.trim()), "the router token is in the runbook");
    assert!(book.stdout.contains("`deploy` on lab3"), "{}", book.stdout);
    assert_eq!(crate::common::placeholders(&book.stdout), Vec::<String>::new(), "{}", book.stdout);
    crate::common::paste(&book.stdout, lab);
    assert!(home3.join("run/garnet-loader-tiny-c.pid").exists(), "lab3's loader was not started by the runbook");

    let deploy = g().args(["-i", &i, "--yes", "-o", "json", "deploy", "--ready-timeout", "120s"]).run();
    deploy.expect(0);
    let changed = deploy.changed_steps();
    assert!(changed.is_empty(), "deploy after the pasted runbook still changed: {changed:?}");
    let body = r#"{"model":"tiny-c","messages":[{"role":"user","content":"hi"}],"max_tokens":3}"#;
    let raw = http_post(port, "/v1/chat/completions", body).unwrap();
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
}

/// `placement apply` under one load throughout, 0 requests failed: a diff moving `tiny` off lab2
/// to lab3 (refused while the diff's placement is not the cluster's; a dry run changes nothing);
/// the diff that follows proposes nothing (lab2 and lab3 changed inside its span); `garnet
/// rollback` takes `tiny` back to lab2; a larger prompt cache (every node swaps to an entry with
/// `--prompt-cache-size 20`); `tiny` leaving lab2 (lab1 serves it alone, and deploy agrees), and
/// `garnet rollback` bringing it back.
fn placement_apply_under_load(g: &dyn Fn() -> Garnet, lab: &std::path::Path, port: u16) {
    let i = lab.join("inventory.yaml").display().to_string();
    let text = std::fs::read_to_string(&i).unwrap();
    let slug = text.split("slug: ").nth(1).unwrap().split([',', '}', '\n']).next().unwrap().trim().to_string();
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    let diff = |placement: Value| {
        serde_json::json!({
            "cluster": slug, "from": format!("{today}T00:00:00Z"), "to": format!("{today}T23:59:59Z"),
            "placement": placement, "proposed": {"tiny": ["lab1", "lab3"], "tiny-c": ["lab3"]},
            "moves": [{"kind": "off_hot_node", "model": "tiny", "from": "lab2", "to": "lab3",
                       "why": "lab2 was throttled in 5.0% of its samples (a test's diff)", "evidence": []}],
        })
    };
    let file = lab.join("placement-diff.json");
    let token = std::fs::read_to_string(lab.join("router.token")).unwrap();
    let backends = || -> Vec<String> {
        let (st, body) = crate::common::loaders::http(port + 1, "GET", "/admin/routes", Some(token.trim()), "");
        assert_eq!(st, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let route = v["routes"]["models"].as_array().unwrap().iter().find(|m| m["name"] == "tiny").unwrap().clone();
        let mut ids: Vec<String> =
            route["backends"].as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap().to_string()).collect();
        ids.sort();
        ids
    };
    assert_eq!(backends(), ["lab1/tiny", "lab2/tiny"]);

    // A diff of another placement: refused, nothing changed.
    std::fs::write(
        &file,
        serde_json::to_vec(&diff(serde_json::json!({"tiny": ["lab1"], "tiny-c": ["lab3"]}))).unwrap(),
    )
    .unwrap();
    let stale = g().args(["-i", &i, "--yes", "placement", "apply", &file.display().to_string()]).run();
    stale.expect(2);
    assert!(stale.stderr.contains("the placement changed since the diff"), "{}", stale.stderr);

    std::fs::write(
        &file,
        serde_json::to_vec(&diff(serde_json::json!({"tiny": ["lab1", "lab2"], "tiny-c": ["lab3"]}))).unwrap(),
    )
    .unwrap();
    let dry = g().args(["-i", &i, "--dry-run", "placement", "apply", &file.display().to_string()]).run();
    dry.expect(0);
    assert!(dry.stdout.contains("## Move 1: `tiny` lab2 → lab3") && dry.stdout.contains("drain"), "{}", dry.stdout);
    assert_eq!(backends(), ["lab1/tiny", "lab2/tiny"], "the dry run changed the routes");

    let bench = load(port);
    let applied = g()
        .args(["-i", &i, "--yes", "placement", "apply", &file.display().to_string(), "--ready-timeout", "120s"])
        .run();
    applied.expect(0);
    eprintln!("placement apply:\n{}{}", applied.stdout, applied.stderr);
    assert_eq!(backends(), ["lab1/tiny", "lab3/tiny"], "{}", applied.stderr);
    assert!(!lab.join("nodes/lab2/run/garnet-loader-tiny.pid").exists(), "tiny still runs on lab2");
    for _ in 0..4 {
        answer(port);
    }
    // Again: the placement is what the diff proposed, nothing to do.
    let again = g().args(["-i", &i, "--yes", "placement", "apply", &file.display().to_string()]).run();
    again.expect(0);
    assert!(again.stdout.contains("already what"), "{}", again.stdout);

    // The diff that follows: the monitors' telemetry is partly from before the move, so lab2 and
    // lab3 are settling and nothing is proposed.
    let after = g().args(["-i", &i, "placement", "diff", "--since", &today, "--until", &today]).run();
    after.expect(0);
    eprintln!("the diff after:\n{}", after.stdout.lines().take(12).collect::<Vec<_>>().join("\n"));
    assert!(
        after.stdout.contains("No change proposed") && after.stdout.contains("- lab3: `hot-swap tiny"),
        "{}",
        after.stdout
    );

    // `garnet rollback` undoes the move: tiny back on lab2, under the same load.
    let back = g().args(["-i", &i, "--yes", "rollback", "tiny", "--ready-timeout", "120s"]).run();
    back.expect(0);
    assert_eq!(backends(), ["lab1/tiny", "lab2/tiny"], "{}", back.stderr);

    // A larger prompt cache: every node of `tiny` swaps to its own entry with
    // `--prompt-cache-size 20` in its loader's arguments.
    let cache = serde_json::json!({
        "cluster": slug, "from": format!("{today}T00:00:00Z"), "to": format!("{today}T23:59:59Z"),
        "placement": {"tiny": ["lab1", "lab2"], "tiny-c": ["lab3"]},
        "proposed": {"tiny": ["lab1", "lab2"], "tiny-c": ["lab3"]},
        "moves": [{"kind": "prompt_cache", "model": "tiny", "nodes": ["lab1", "lab2"], "from": 10, "to": 20,
                   "why": "long prompts, 5% reused (a test's diff)", "evidence": []}],
    });
    std::fs::write(&file, serde_json::to_vec(&cache).unwrap()).unwrap();
    let applied = g()
        .args(["-i", &i, "--yes", "placement", "apply", &file.display().to_string(), "--ready-timeout", "120s"])
        .run();
    applied.expect(0);
    assert_eq!(backends(), ["lab1/tiny@tiny-pc20", "lab2/tiny@tiny-pc20"], "{}", applied.stderr);
    for node in ["lab1", "lab2"] {
        let pid = std::fs::read_to_string(lab.join(format!("nodes/{node}/run/garnet-loader-tiny-pc20.pid"))).unwrap();
        // The supervisor's child is the loader; its command line carries the new size.
        let children =
            std::fs::read_to_string(format!("/proc/{}/task/{}/children", pid.trim(), pid.trim())).unwrap_or_default();
        let cmdlines: Vec<String> = std::iter::once(pid.trim().to_string())
            .chain(children.split_whitespace().map(str::to_string))
            .map(|p| std::fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap_or_default().replace('\0', " "))
            .collect();
        assert!(
            cmdlines.iter().any(|c| c.contains("mlx_lm.server") && c.contains("--prompt-cache-size 20")),
            "{node}: {cmdlines:?}"
        );
    }
    let diff_now = g().args(["-i", &i, "-o", "json", "placement", "diff", "--since", &today, "--until", &today]).run();
    diff_now.expect(0);

    // A model leaving a node it shares with others: `tiny` off lab2, lab1 serves it alone.
    let leave = serde_json::json!({
        "cluster": slug, "from": format!("{today}T00:00:00Z"), "to": format!("{today}T23:59:59Z"),
        "placement": {"tiny": ["lab1", "lab2"], "tiny-c": ["lab3"]},
        "proposed": {"tiny": ["lab1"], "tiny-c": ["lab3"]},
        "moves": [{"kind": "own_node", "model": "tiny-c", "node": "lab2", "evict": "tiny", "to": null,
                   "why": "a test's diff", "evidence": []}],
    });
    std::fs::write(&file, serde_json::to_vec(&leave).unwrap()).unwrap();
    let applied = g().args(["-i", &i, "--yes", "placement", "apply", &file.display().to_string()]).run();
    applied.expect(0);
    eprintln!("placement apply (leave):\n{}{}", applied.stdout, applied.stderr);
    assert_eq!(backends(), ["lab1/tiny@tiny-pc20"], "{}", applied.stderr);
    assert!(!lab.join("nodes/lab2/run/garnet-loader-tiny-pc20.pid").exists(), "tiny still runs on lab2");
    let again = g().args(["-i", &i, "--yes", "placement", "apply", &file.display().to_string()]).run();
    again.expect(0);
    assert!(again.stdout.contains("already what"), "{}", again.stdout);
    // garnet's deploy agrees: it starts nothing on lab2 and changes no route.
    let deploy = g().args(["-i", &i, "--yes", "-o", "json", "deploy", "--ready-timeout", "120s"]).run();
    deploy.expect(0);
    let changed = deploy.changed_steps();
    assert!(
        changed.iter().all(|s| !s.contains("garnet-loader") && !s.contains("routes")),
        "deploy after the leave changed: {changed:?}"
    );
    let lab1_pid = std::fs::read_to_string(lab.join("nodes/lab1/run/garnet-loader-tiny-pc20.pid")).unwrap();
    // Undone by hand: the rollback runbook, pasted into sh, brings `tiny` back to lab2 (start,
    // ready, healthy, into the routes; nothing to drain or stop); lab1's loader is not touched.
    let book = g().args(["-i", &i, "runbook", "rollback", "--model", "tiny"]).run();
    book.expect(0);
    assert!(book.stdout.contains("nothing to drain or stop"), "{}", book.stdout);
    crate::common::paste(&book.stdout, lab);
    assert_eq!(backends(), ["lab1/tiny@tiny-pc20", "lab2/tiny@tiny-pc20"], "after the pasted rejoin");
    assert!(lab.join("nodes/lab2/run/garnet-loader-tiny-pc20.pid").exists(), "the pasted rejoin started no loader");
    assert_eq!(std::fs::read_to_string(lab.join("nodes/lab1/run/garnet-loader-tiny-pc20.pid")).unwrap(), lab1_pid);
    // The same leave again, then `garnet rollback` undoes it: `tiny` starts on lab2 again (the
    // entry it had there), passes its health prompts and rejoins the routes.
    g().args(["-i", &i, "--yes", "placement", "apply", &file.display().to_string()]).run().expect(0);
    assert_eq!(backends(), ["lab1/tiny@tiny-pc20"]);
    let back = g().args(["-i", &i, "--yes", "rollback", "tiny", "--ready-timeout", "120s"]).run();
    back.expect(0);
    eprintln!("rollback (rejoin):\n{}{}", back.stdout, back.stderr);
    assert_eq!(backends(), ["lab1/tiny@tiny-pc20", "lab2/tiny@tiny-pc20"], "{}", back.stderr);
    assert!(lab.join("nodes/lab2/run/garnet-loader-tiny-pc20.pid").exists(), "tiny does not run on lab2 again");
    assert_eq!(std::fs::read_to_string(lab.join("nodes/lab1/run/garnet-loader-tiny-pc20.pid")).unwrap(), lab1_pid);
    let deploy = g().args(["-i", &i, "--yes", "-o", "json", "deploy", "--ready-timeout", "120s"]).run();
    deploy.expect(0);
    let changed = deploy.changed_steps();
    assert!(
        changed.iter().all(|s| !s.contains("garnet-loader") && !s.contains("routes")),
        "deploy after the rollback changed: {changed:?}"
    );

    let report = load_report(bench);
    eprintln!("load during apply and rollback: {report}");
    assert_eq!(report["failed"], 0, "requests lost while the placement was applied and rolled back: {report}");
    assert!(report["ok"].as_u64().unwrap_or(0) > 0, "{report}");
}

/// `garnet bench` against the lab's router for up to 10 minutes, 2 clients, half of them streaming:
/// the independent load the procedures run under.
fn load(port: u16) -> std::process::Child {
    Garnet::new()
        .args(["-o", "json", "bench", "--url", &format!("http://127.0.0.1:{port}/v1"), "--model", "tiny"])
        .args(["-d", "600s", "-c", "2", "--stream", "0.5", "--expect-full", "--max-tokens", "8"])
        .command()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Stops [`load`] and returns its report.
fn load_report(bench: std::process::Child) -> Value {
    // SAFETY: signalling our own child, which has not been waited for.
    unsafe { libc::kill(bench.id() as i32, libc::SIGINT) };
    let out = bench.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "bench")
        .unwrap_or_else(|| panic!("no bench report: {text}"))
}

/// The weekly review on real parts, end to end: a lab node's loader (prompt cache of 10) under a
/// real workload of 15 long prompts in a cycle, which its cache cannot hold; `placement diff`
/// reads the monitors' samples and proposes exactly the seed's prompt-cache move, its hit rate
/// equal to the one the OpenAI SDK's usage shows; `placement apply --latest` carries it out under
/// an independent load with 0 requests failed; the same workload then reuses its prompts, and the
/// diff of the span since the apply proposes nothing.
#[test]
fn a_week_on_real_parts_goes_diff_apply_diff() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("lab");
    let g = || Garnet::new().env("GARNET_STATE_DIR", dir.path().join("state").display().to_string()).cwd(dir.path());
    let port = lab_port(1);
    let _down = LabDown { g: g(), dir: lab.display().to_string(), always: true };
    g().args(["lab", "up", "--dir", &lab.display().to_string(), "--nodes", "1", "--port", &port.to_string()])
        .args(["--python", &py.display().to_string()])
        .run()
        .expect(0);
    let inv = lab.join("inventory.yaml").display().to_string();
    let base = format!("http://127.0.0.1:{port}/v1");
    let out = dir.path().join("weekly");
    let workload = || -> Value {
        let out = Command::new(&py)
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/cache_workload.py"))
            .args([&base, "tiny", "--prompts", "15", "--words", "450", "--requests", "210", "--concurrency", "2"])
            .output()
            .unwrap();
        assert!(out.status.success(), "workload: {}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["failed"], 0, "{v}");
        v
    };
    // The diff of the span since `since`, once the monitors have shipped every request the
    // workload made (the router counts them; the monitor samples its counters every 15 s).
    let diff = |since: &str, requests: u64| -> (i32, Value) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        loop {
            let r = g()
                .args(["-i", &inv, "-o", "json", "placement", "diff", "--since", since])
                .args(["--min-samples", "3", "--min-requests", "200", "--out", &out.display().to_string()])
                .run();
            let v: Value = serde_json::from_str(r.stdout.lines().last().unwrap_or("{}")).unwrap_or(Value::Null);
            let seen: u64 = v["rows"].as_array().map_or(0, |b| b.iter().filter_map(|x| x["requests"].as_u64()).sum());
            if seen >= requests || std::time::Instant::now() > deadline {
                assert!(seen >= requests, "the span shows {seen} of the workload's {requests} requests: {}", r.stdout);
                return (r.code, v);
            }
            std::thread::sleep(std::time::Duration::from_secs(5));
        }
    };
    let now = || jiff::Timestamp::now().to_string();

    // The week before: 15 long prompts in a cycle through a cache of 10 (LRU): nothing reused.
    let t0 = now();
    let before = workload();
    let client_share = before["cached_share"].as_f64().unwrap();
    assert!(before["mean_prompt_tokens"].as_f64().unwrap() >= 2000.0, "{before}");
    assert!(client_share < 0.2, "the cache reused {client_share} of the prompts already: {before}");
    let (code, d) = diff(&t0, before["ok"].as_u64().unwrap());
    assert_eq!(code, 5, "{d}");
    let moves = d["moves"].as_array().unwrap();
    assert_eq!(moves.len(), 1, "{d}");
    let m = &moves[0];
    assert_eq!(
        (m["kind"].as_str(), m["model"].as_str(), &m["from"], &m["to"]),
        (Some("prompt_cache"), Some("tiny"), &json!(10), &json!(20)),
        "{d}"
    );
    // Its evidence is the loader's own account, as the SDK's usage shows it.
    let hit =
        moves[0]["evidence"].as_array().unwrap().iter().find(|e| e["metric"] == "tiny: prompt-cache hit rate").unwrap();
    assert!((hit["value"].as_f64().unwrap() - client_share).abs() < 0.02, "diff {hit} vs client {client_share}");
    // A change the replay does not model moves no dollar in the cost diff.
    let (b, a) = (&d["cost"]["before"]["allocated_usd_per_mtok"], &d["cost"]["after"]["allocated_usd_per_mtok"]);
    assert!(b.as_f64().is_some() && (b.as_f64().unwrap() - a.as_f64().unwrap()).abs() < 1e-9, "{}", d["cost"]);

    // Applied under an independent load: nothing lost.
    let bench = load(port);
    let applied = g().args(["-i", &inv, "--yes", "placement", "apply", "--latest", "--ready-timeout", "120s"]).run();
    applied.expect(0);
    let report = load_report(bench);
    assert_eq!(report["failed"], 0, "requests lost while the diff was applied: {report}");
    assert!(report["ok"].as_u64().unwrap() > 0, "{report}");

    // The week after: the same workload now finds its prompts cached, and the review says no change.
    let t1 = now();
    let after = workload();
    let share = after["cached_share"].as_f64().unwrap();
    assert!(share > 0.6, "the larger cache reused only {share}: {after}");
    let (code, d) = diff(&t1, after["ok"].as_u64().unwrap());
    assert_eq!(code, 0, "{d}");
    assert_eq!(d["moves"], json!([]), "{d}");
    eprintln!("before: {before}\nafter: {after}\napplied: {}\nload: {report}", applied.stdout);
    for name in ["placement-diff", "cost-diff", "eviction-log"] {
        for ext in ["md", "json"] {
            let found = glob::glob(&format!("{}/{name}-*.{ext}", out.display())).unwrap().flatten().count();
            assert!(found > 0, "no {name} .{ext} in {}", out.display());
        }
    }
    if let Ok(keep) = std::env::var("GARNET_KEEP_ARTIFACTS") {
        let _ = Command::new("cp").args(["-r", &out.display().to_string(), &keep]).status();
    }
}
