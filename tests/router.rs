//! The router in front of real `mlx_lm.server` loaders, driven by the real OpenAI Python SDK.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::common::loaders::{Loader, RouterProc, free_port, http, python, tiny_model};

fn routes(loaders: &[&Loader], extra_backend: Option<u16>, cap: u32) -> String {
    let mut s = format!("models:\n  - name: tiny\n    max_tokens: {cap}\n    backends:\n");
    for (i, l) in loaders.iter().enumerate() {
        s.push_str(&format!(
            "      - {{id: l{}, url: \"{}\", model: \"{}\", max_concurrency: 4}}\n",
            i + 1,
            l.url(),
            l.model
        ));
    }
    if let Some(port) = extra_backend {
        s.push_str(&format!(
            "      - {{id: dead, url: \"http://127.0.0.1:{port}\", model: \"{}\", max_concurrency: 4}}\n",
            loaders[0].model
        ));
    }
    s.push_str(&format!(
        "  - name: narrow\n    queue: 0\n    backends:\n      - {{id: n1, url: \"{}\", model: \"{}\", max_concurrency: 1}}\n",
        loaders[0].url(),
        loaders[0].model
    ));
    s
}

fn stats(r: &RouterProc) -> Value {
    let (status, v) = r.admin("GET", "/admin/stats", "");
    assert_eq!(status, 200, "{v}");
    v
}

fn backend<'a>(stats: &'a Value, id: &str) -> &'a Value {
    stats["models"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["backends"].as_array().unwrap())
        .find(|b| b["id"] == id)
        .unwrap()
}

#[test]
fn openai_sdk_through_the_router() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(&py, 0);
    let (l1, l2) = Loader::start_two(&py, &model, dir.path());
    let keys = dir.path().join("keys");
    std::fs::write(&keys, "client-key-1\nclient-key-2\n").unwrap();
    std::fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let router = RouterProc::start(
        dir.path(),
        &routes(&[&l1, &l2], None, 16),
        &["--api-keys-file", &keys.display().to_string()],
    );
    let out = Command::new(&py)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/openai_client.py"))
        .args([&router.base(), "tiny", "client-key-2"])
        .output()
        .unwrap();
    assert!(out.status.success(), "client: {}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();

    assert_eq!(r["chat"]["model"], "tiny", "{}", r["chat"]);
    assert_eq!(r["chat"]["finish"], "length");
    assert_eq!(r["chat"]["usage"]["completion_tokens"], 5);
    assert!(r["chat"]["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    // No usage chunk reaches a client that did not ask for one; one that asked gets the loader's.
    assert_eq!(r["chat_stream"]["usage"], Value::Null, "{}", r["chat_stream"]);
    assert_eq!(r["chat_stream"]["models"], serde_json::json!(["tiny"]));
    assert_eq!(r["chat_stream"]["finish"], "length");
    assert_eq!(r["chat_stream_usage"]["usage"]["completion_tokens"], 6, "{}", r["chat_stream_usage"]);
    assert_eq!(r["completion"]["usage"]["completion_tokens"], 4);
    assert_eq!(r["completion"]["model"], "tiny");
    assert_eq!(r["completion_stream"]["usage"]["completion_tokens"], 4);
    assert_eq!(r["completion_stream"]["models"], serde_json::json!(["tiny"]));
    assert_eq!(r["capped"]["usage"]["completion_tokens"], 16, "max_tokens is capped to the model's 16");
    assert_eq!(r["models"], serde_json::json!(["tiny", "narrow"]));

    assert_eq!(r["unknown_model"]["exception"], "NotFoundError", "{}", r["unknown_model"]);
    assert_eq!(r["empty_messages"]["exception"], "BadRequestError", "{}", r["empty_messages"]);
    assert_eq!(r["bad_key"]["exception"], "AuthenticationError", "{}", r["bad_key"]);
    assert_eq!(r["rate_limited"]["exception"], "RateLimitError", "{}", r["rate_limited"]);

    // The router's own accounting matches what the client saw: 5 + 6 + 6 + 4 + 4 + 16 tokens on
    // `tiny`, spread over both loaders.
    let s = stats(&router);
    let tiny = s["models"].as_array().unwrap().iter().find(|m| m["model"] == "tiny").unwrap();
    let total: u64 =
        tiny["backends"].as_array().unwrap().iter().map(|b| b["completion_tokens"].as_u64().unwrap()).sum();
    assert_eq!(total, 41, "{s}");
    for id in ["l1", "l2"] {
        assert!(backend(&s, id)["requests"].as_u64().unwrap() > 0, "{id} got no request: {s}");
        assert_eq!(backend(&s, id)["in_flight"], 0);
    }

    // /metrics passes promtool and agrees with the client: 6 answers of 200, 41 generated tokens.
    let (status, metrics) = http(router.port, "GET", "/metrics", None, "");
    assert_eq!(status, 200);
    promtool_check(&metrics);
    grafana_queries_match(&metrics);
    let value = |series: &str| -> f64 {
        metrics
            .lines()
            .filter(|l| l.starts_with(series))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum()
    };
    assert_eq!(value("garnet_router_requests_total{model=\"tiny\",code=\"200\"}"), 6.0, "{metrics}");
    assert_eq!(value("garnet_router_requests_total{model=\"tiny\",code=\"400\"}"), 1.0, "{metrics}");
    assert_eq!(value("garnet_router_requests_total{model=\"narrow\",code=\"429\"}"), 1.0, "{metrics}");
    assert_eq!(value("garnet_router_generation_tokens_total{model=\"tiny\""), 41.0, "{metrics}");
    assert_eq!(value("garnet_router_time_to_first_token_seconds_count{model=\"tiny\"}"), 6.0, "{metrics}");
    assert_eq!(value("garnet_router_requests_in_flight{model=\"tiny\""), 0.0);

    // `garnet bench` through the router: mixed streaming and not, nothing lost, and its client-side
    // token count matches the router's own.
    let keyfile = dir.path().join("client.key");
    std::fs::write(&keyfile, "client-key-1").unwrap();
    std::fs::set_permissions(&keyfile, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let b = crate::common::Garnet::new()
        .args([
            "-o",
            "json",
            "bench",
            "--url",
            &router.base(),
            "--model",
            "tiny",
            "-c",
            "4",
            "-n",
            "40",
            "--max-tokens",
            "8",
        ])
        .args(["--expect-full", "--api-key-file", &keyfile.display().to_string()])
        .run();
    b.expect(0);
    let rep = &b.events()[0];
    assert_eq!(
        (rep["requests"].as_u64(), rep["ok"].as_u64(), rep["failed"].as_u64()),
        (Some(40), Some(40), Some(0)),
        "{rep}"
    );
    assert_eq!(rep["streams"], 20);
    assert_eq!(rep["completion_tokens"], 320);
    assert_eq!(rep["models"]["tiny"], 40, "every answer names the public model: {rep}");
    assert!(rep["ttft"]["p50_ms"].as_f64().unwrap() > 0.0 && rep["inter_token"]["p99_ms"].as_f64().is_some(), "{rep}");
    let s = stats(&router);
    let tiny = s["models"].as_array().unwrap().iter().find(|m| m["model"] == "tiny").unwrap();
    let total: u64 =
        tiny["backends"].as_array().unwrap().iter().map(|b| b["completion_tokens"].as_u64().unwrap()).sum();
    assert_eq!(total, 41 + 320, "{s}");
    assert_eq!(router.stop(), Some(0));

    // Routed from an inventory instead of a routes file: node `a` runs the loader as deploy does
    // (`--model models/<name>` in its garnet home), node `b` (127.0.0.2) has nothing on the port,
    // so requests there are retried on `a`.
    let home = dir.path().join("home-a");
    std::fs::create_dir_all(home.join("models")).unwrap();
    std::os::unix::fs::symlink(&model, home.join("models/tiny-inv")).unwrap();
    let l1 = Loader::start_in(&py, "models/tiny-inv", Some(&home), dir.path());
    let token = RouterProc::token_file(dir.path());
    let inv = dir.path().join("inventory.yaml");
    std::fs::write(
        &inv,
        format!(
            "cluster: {{slug: routed, tier: pro}}\nnodes:\n  - {{name: a, host: 127.0.0.1, transport: local, roles: [loader]}}\n  - {{name: b, host: 127.0.0.2, roles: [loader]}}\nmodels:\n  - {{name: tiny-inv, source: \"{}\", port: {}, max_tokens: 3}}\nplacement:\n  tiny-inv: {{nodes: [a, b]}}\nrouter: {{listen: \"127.0.0.1:0\", admin_listen: \"127.0.0.1:0\", token_file: {}}}\n",
            model.display(),
            l1.port,
            token.display()
        ),
    )
    .unwrap();
    let from_inv =
        RouterProc::spawn(dir.path(), crate::common::Garnet::new().args(["-i", &inv.display().to_string()]), &[]);
    let (_, models) = http(from_inv.port, "GET", "/v1/models", None, "");
    assert!(models.contains("\"tiny-inv\""), "{models}");
    for _ in 0..4 {
        let (status, text) = http(
            from_inv.port,
            "POST",
            "/v1/chat/completions",
            None,
            r#"{"model":"tiny-inv","messages":[{"role":"user","content":"hi"}]}"#,
        );
        assert_eq!(status, 200, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["usage"]["completion_tokens"], 3, "the inventory's max_tokens applies: {text}");
    }
    let (status, b) = from_inv.admin("GET", "/admin/backends/a%2Ftiny-inv", "");
    assert_eq!((status, &b["id"]), (200, &Value::from("a/tiny-inv")), "{b}");
    let (_, routes) = from_inv.admin("GET", "/admin/routes", "");
    assert_eq!(
        routes["routes"]["models"][0]["backends"][1]["url"],
        format!("http://127.0.0.2:{}", l1.port),
        "{routes} {b}"
    );
    assert_eq!(from_inv.stop(), Some(0));
}

/// Every query of `dashboards/garnet-router.json` names metrics the scrape has, and every label it
/// groups, filters or titles by is on those metrics' series (`instance` is Prometheus's own).
fn grafana_queries_match(metrics: &str) {
    let d: Value =
        serde_json::from_str(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/dashboards/garnet-router.json")))
            .unwrap();
    // metric name → its series' label names.
    let mut series: std::collections::HashMap<String, std::collections::HashSet<String>> = Default::default();
    for l in metrics.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (name, labels) = match l.split_once('{') {
            Some((n, rest)) => (n, rest.split_once('}').unwrap().0),
            None => (l.split_whitespace().next().unwrap(), ""),
        };
        let e = series.entry(name.to_string()).or_default();
        e.extend(labels.split(',').filter_map(|kv| kv.split_once('=')).map(|(k, _)| k.to_string()));
    }
    let ident = |s: &str| -> Vec<String> {
        s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let panels = d["panels"].as_array().unwrap();
    assert!(panels.len() >= 10, "{d}");
    let mut checked = 0;
    for p in panels {
        for t in p["targets"].as_array().unwrap() {
            let expr = t["expr"].as_str().unwrap();
            let names: Vec<String> = ident(expr).into_iter().filter(|w| w.starts_with("garnet_")).collect();
            assert!(!names.is_empty(), "{expr}");
            let mut labels = std::collections::HashSet::new();
            for n in &names {
                let s = series
                    .get(n)
                    .unwrap_or_else(|| panic!("`{n}` (panel {}) is not in the scrape:\n{metrics}", p["title"]));
                labels.extend(s.iter().cloned());
            }
            // Labels grouped by, filtered on, and shown in the legend.
            let mut used: Vec<String> = Vec::new();
            for part in expr.split("by (").skip(1) {
                used.extend(ident(part.split(')').next().unwrap()));
            }
            for part in expr.split('{').skip(1) {
                let sel = part.split('}').next().unwrap();
                used.extend(sel.split(',').filter_map(|kv| kv.split(['=', '!']).next()).map(|k| k.trim().to_string()));
            }
            let legend = t["legendFormat"].as_str().unwrap_or("");
            used.extend(legend.split("{{").skip(1).map(|p| p.split("}}").next().unwrap().trim().to_string()));
            for l in used.into_iter().filter(|l| !l.is_empty() && l != "instance") {
                assert!(labels.contains(&l), "label `{l}` of `{expr}` is on none of {names:?}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked} queries");
}

/// `promtool check metrics` on the exposition (CI installs Debian's `prometheus` for it).
pub(crate) fn promtool_check(text: &str) {
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        assert!(std::env::var_os("CI").is_none(), "promtool is missing (apt-get install prometheus)");
        eprintln!("skipping promtool check: promtool not installed");
        return;
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sends a streaming chat request over a raw socket and returns it, positioned after the headers.
fn open_stream(port: u16, max_tokens: u32) -> BufReader<std::net::TcpStream> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let body = format!(
        r#"{{"model":"tiny","messages":[{{"role":"user","content":"go"}}],"max_tokens":{max_tokens},"stream":true}}"#
    );
    write!(s, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line == "\r\n" {
            return r;
        }
    }
}

/// Reads until the first `data: {` event.
fn first_event(r: &mut BufReader<std::net::TcpStream>) {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(r.read_line(&mut line).unwrap() > 0, "stream ended before any event");
        if line.contains("data: {") {
            return;
        }
    }
}

#[test]
fn loader_failures_retries_and_drain() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(&py, 0);
    let (mut l1, l2) = std::thread::scope(|s| {
        let a = s.spawn(|| Loader::start(&py, &model, dir.path()));
        let b = s.spawn(|| Loader::start(&py, &model, dir.path()));
        (a.join().unwrap(), b.join().unwrap())
    });
    // A third backend that refuses connections: requests that land there are retried elsewhere.
    let router = RouterProc::start(dir.path(), &routes(&[&l1, &l2], Some(free_port()), 4000), &[]);
    let body = r#"{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":2}"#;
    for i in 0..6 {
        let (status, text) = http(router.port, "POST", "/v1/chat/completions", None, body);
        assert_eq!(status, 200, "request {i}: {text}");
    }
    // A whole answer says it is JSON, once (its handler leaves the header to the writer).
    let out = crate::common::loaders::http_post(router.port, "/v1/chat/completions", body).unwrap();
    let head = out.split_once("\r\n\r\n").map_or("", |(h, _)| h).to_ascii_lowercase();
    assert_eq!(head.matches("content-type: application/json").count(), 1, "{out}");
    let s = stats(&router);
    assert!(backend(&s, "dead")["failures"].as_u64().unwrap() > 0, "the dead backend was never tried: {s}");

    // Drain l1: nothing new goes there; a stream already on it finishes whole.
    router.admin("POST", "/admin/backends/l2/drain", "");
    let mut on_l1 = open_stream(router.port, 200);
    first_event(&mut on_l1);
    router.admin("POST", "/admin/backends/l2/activate", "");
    let (status, b) = router.admin("POST", "/admin/backends/l1/drain", "");
    assert_eq!(status, 200);
    assert_eq!(b["state"], "draining");
    assert_eq!(b["in_flight"], 1, "{b}");
    let before = backend(&stats(&router), "l1")["requests"].as_u64().unwrap();
    for _ in 0..4 {
        assert_eq!(http(router.port, "POST", "/v1/chat/completions", None, body).0, 200);
    }
    assert_eq!(
        backend(&stats(&router), "l1")["requests"].as_u64().unwrap(),
        before,
        "a draining backend got new requests"
    );
    let mut rest = String::new();
    on_l1.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("data: [DONE]"), "drained stream cut short: {rest}");
    assert!(!rest.contains("\"error\""), "{rest}");
    assert_eq!(router.admin("GET", "/admin/backends/l1", "").1["in_flight"], 0);

    // Kill the loader under a live stream: the client gets an error event and the end, not a hang.
    router.admin("POST", "/admin/backends/l1/activate", "");
    router.admin("POST", "/admin/backends/l2/drain", "");
    let mut doomed = open_stream(router.port, 2000);
    first_event(&mut doomed);
    l1.kill();
    let mut rest = String::new();
    doomed.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("data: {\"error\""), "no error event after the loader died: {rest}");
    // New requests go to the survivor.
    router.admin("POST", "/admin/backends/l2/activate", "");
    for _ in 0..3 {
        let (status, text) = http(router.port, "POST", "/v1/chat/completions", None, body);
        assert_eq!(status, 200, "{text}");
    }
    drop(l2);
}

#[test]
fn admin_api_requires_its_token_and_replaces_routes() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "models:\n  - name: a\n    backends:\n      - {{id: x, url: \"http://127.0.0.1:{}\", model: m}}\n",
        free_port()
    );
    let router = RouterProc::start(dir.path(), &yaml, &[]);
    assert_eq!(http(router.admin_port, "GET", "/admin/routes", None, "").0, 401);
    assert_eq!(http(router.admin_port, "GET", "/admin/routes", Some("wrong"), "").0, 401);
    let (status, v) = router.admin("GET", "/admin/routes", "");
    assert_eq!(status, 200);
    assert_eq!(v["version"], 1);
    let mut cfg = v["routes"].clone();
    cfg["models"][0]["name"] = "b".into();
    let (status, v) = router.admin("PUT", "/admin/routes", &cfg.to_string());
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["version"], 2);
    let (_, models) = http(router.port, "GET", "/v1/models", None, "");
    assert!(models.contains("\"b\"") && !models.contains("\"a\""), "{models}");
    // Invalid routes are refused and change nothing.
    let (status, _) = router.admin(
        "PUT",
        "/admin/routes",
        r#"{"models":[{"name":"c","backends":[{"id":"y","url":"ftp://x","model":"m"}]}]}"#,
    );
    assert_eq!(status, 400);
    assert_eq!(router.admin("GET", "/admin/routes", "").1["version"], 2);
    // OpenAI-shaped errors for what the router itself refuses.
    let (status, body) = http(router.port, "POST", "/v1/chat/completions", None, "{not json");
    assert_eq!(status, 400);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["code"], "invalid_json");
    let (status, body) = http(router.port, "POST", "/v1/chat/completions", None, &"x".repeat(5 << 20));
    assert_eq!(status, 413, "{body}");
    let (status, _) = http(router.port, "GET", "/nope", None, "");
    assert_eq!(status, 404);
    assert_eq!(http(router.port, "GET", "/health", None, "").0, 200);
}

/// Hostile input: random and malformed bodies, odd types, huge values, never a panic or a hang;
/// every answer is an HTTP response with an OpenAI-shaped error (or a success), and the router still
/// serves afterwards. Runs the router in-process (the library's `serve`), bounded to 1,500 requests.
#[test]
fn hostile_requests_get_openai_errors_and_never_break_the_router() {
    use garnet::router::{self, Options, table::RoutesConfig};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dead = free_port();
    let routes: RoutesConfig = serde_json::from_value(serde_json::json!({"models": [
        {"name": "m", "max_tokens": 8, "queue": 1, "timeouts": {"connect_ms": 200, "first_byte_ms": 2000, "idle_ms": 2000, "queue_wait_ms": 200},
         "backends": [{"id": "dead", "url": format!("http://127.0.0.1:{dead}"), "model": "x", "max_concurrency": 2}]}
    ]}))
    .unwrap();
    let r = router::Router::new(&routes, Options { body_limit: 64 * 1024, ..Default::default() }).unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(router::serve(r, listener, None, async {
        let _ = stop_rx.await;
    }));

    // A small deterministic generator (xorshift), so a failure reproduces.
    let mut seed = 0x9e3779b97f4a7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let fragments = [
        r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
        r#"{"model":"m","messages":"nope"}"#,
        r#"{"model":123,"messages":[]}"#,
        r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":-1}"#,
        r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":1e309}"#,
        r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":18446744073709551616}"#,
        r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":"yes","stream_options":7}"#,
        r#"{"model":"m","prompt":{"a":1}}"#,
        r#"{"model":"","messages":[1]}"#,
        r#"[1,2,3]"#,
        r#"null"#,
        r#"{"model":"m\u0000","messages":[{}]}"#,
        r#"{"#,
        "\u{feff}{}",
    ];
    let paths =
        ["/v1/chat/completions", "/v1/completions", "/v1/models", "/v1/../admin", "/%ff", "/v1/chat/completions?x=1"];
    for i in 0..1500u32 {
        let n = next();
        let path = paths[(n % paths.len() as u64) as usize];
        let mut body: Vec<u8> = match (n >> 8) % 5 {
            0 => fragments[((n >> 16) % fragments.len() as u64) as usize].as_bytes().to_vec(),
            1 => (0..(n >> 20) % 300).map(|_| next() as u8).collect(),
            2 => {
                let f = fragments[((n >> 16) % fragments.len() as u64) as usize].as_bytes();
                let cut = (n >> 24) as usize % (f.len() + 1);
                f[..cut].to_vec()
            }
            3 => format!(
                r#"{{"model":"m","messages":[{{"role":"user","content":"{}"}}]}}"#,
                "x".repeat(((n >> 20) % 100_000) as usize)
            )
            .into_bytes(),
            _ => format!(
                r#"{{"model":"{}","messages":[{{"role":"user","content":"hi"}}],"max_tokens":{}}}"#,
                "m".repeat(((n >> 20) % 3) as usize),
                n >> 40
            )
            .into_bytes(),
        };
        if i % 97 == 0 {
            body = vec![b'['; 50_000]; // deep nesting
        }
        let method = if n % 11 == 0 { "PUT" } else { "POST" };
        let (status, text) = http_raw(port, method, path, &body);
        assert!(
            matches!(status, 200 | 400 | 401 | 404 | 413 | 429 | 502 | 503 | 504),
            "request {i}: status {status}: {text}"
        );
        if status >= 400 {
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("request {i}: non-JSON error body ({e}): {text}"));
            assert!(v["error"]["message"].is_string() && v["error"]["type"].is_string(), "request {i}: {text}");
        }
    }
    assert_eq!(http(port, "GET", "/health", None, "").0, 200, "the router died");
    let _ = stop_tx.send(());
    rt.block_on(server).unwrap().unwrap();
}

fn http_raw(port: u16, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len()).unwrap();
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out).into_owned();
    let status = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// Runs the library's router in-process on a loopback port with `routes`; returns the runtime
/// (keep it alive), the router and its port.
fn in_process(
    routes: Value,
    body_limit: usize,
) -> (tokio::runtime::Runtime, std::sync::Arc<garnet::router::Router>, u16) {
    use garnet::router::{self, Options, table::RoutesConfig};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let routes: RoutesConfig = serde_json::from_value(routes).unwrap();
    let r = router::Router::new(&routes, Options { body_limit, ..Default::default() }).unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(router::serve(r.clone(), listener, None, std::future::pending()));
    (rt, r, port)
}

/// A loader stand-in that answers the head of a stream (or nothing) and then only waits: it
/// reports on `closed` when the router closed the connection, i.e. cancelled the generation.
fn stalling_upstream(stream_first: bool) -> (u16, std::sync::mpsc::Receiver<()>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let mut b = [0u8; 4096];
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut b) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&b[..n]),
                    }
                }
                if stream_first {
                    let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n");
                }
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                loop {
                    match s.read(&mut b) {
                        Ok(0) => {
                            let _ = tx.send(());
                            return;
                        }
                        Ok(_) => {}
                        Err(_) => return, // 30 s without the router closing: no report
                    }
                }
            });
        }
    });
    (port, rx)
}

/// The router's own HTTP/1.1 server, at the edges: pipelining, `Expect: 100-continue`, chunked
/// request bodies, HTTP/1.0, bodies over the limit (the answer is readable, not a reset), malformed
/// heads and unsupported codings (OpenAI-shaped errors); and a client that leaves mid-answer or
/// mid-stream cancels the upstream request and frees its slot.
#[test]
fn raw_http_edges_and_client_disconnects() {
    let (up_whole, closed_whole) = stalling_upstream(false);
    let (up_stream, closed_stream) = stalling_upstream(true);
    let (rt, router, port) = in_process(
        serde_json::json!({"models": [
            {"name": "whole", "backends": [{"id": "w", "url": format!("http://127.0.0.1:{up_whole}"), "model": "x"}]},
            {"name": "stream", "backends": [{"id": "s", "url": format!("http://127.0.0.1:{up_stream}"), "model": "x"}]},
        ]}),
        64 * 1024,
    );
    let raw = |wire: &[u8]| -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let _ = s.write_all(wire);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    };
    let bad = b"{\"model\":1}";
    // Pipelined: both answered, in order, on one connection.
    let out = raw(format!("GET /health HTTP/1.1\r\nHost: x\r\n\r\nPOST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}", bad.len(), String::from_utf8_lossy(bad)).as_bytes());
    assert_eq!(out.matches("HTTP/1.1 ").count(), 2, "{out}");
    assert!(out.starts_with("HTTP/1.1 200 OK") && out.contains("HTTP/1.1 400 Bad Request"), "{out}");
    // Expect: 100-continue, then a chunked body.
    let out = raw(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\n{\"mo\r\n7\r\ndel\":1}\r\n0\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400"), "{out}");
    assert!(out.contains("`model` must be a non-empty string"), "{out}");
    // HTTP/1.0: answered, then closed.
    let out = raw(b"GET /health HTTP/1.0\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 200 OK") && out.contains("connection: close"), "{out}");
    // Over the limit: a readable 413 even though the body is never read.
    let big = vec![b'x'; 3 << 20];
    let mut wire =
        format!("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", big.len()).into_bytes();
    wire.extend_from_slice(&big);
    let out = raw(&wire);
    assert!(out.starts_with("HTTP/1.1 413") && out.contains("request_too_large"), "{out}");
    // Chunked past the limit too.
    let mut wire = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..40 {
        wire.extend_from_slice(format!("{:x}\r\n{}\r\n", 4096, "y".repeat(4096)).as_bytes());
    }
    let out = raw(&wire);
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");
    // Malformed and unsupported: OpenAI-shaped errors.
    for (wire, code) in [
        (&b"HELLO\r\n\r\n"[..], "400"),
        (b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "501"),
        (b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "400"),
    ] {
        let out = raw(wire);
        assert!(out.starts_with(&format!("HTTP/1.1 {code}")), "{out}");
        let body = out.split_once("\r\n\r\n").unwrap().1;
        let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert!(v["error"]["message"].is_string(), "{out}");
    }

    // A client that leaves while the loader works: the upstream connection is closed.
    let in_flight =
        |id: &str| router.table.load().backend(id).unwrap().in_flight.load(std::sync::atomic::Ordering::SeqCst);
    for (model, closed, id) in [("whole", &closed_whole, "w"), ("stream", &closed_stream, "s")] {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let body = format!(
            r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}],"stream":{}}}"#,
            model == "stream"
        );
        write!(s, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}", body.len())
            .unwrap();
        if model == "stream" {
            // Wait for the first event, so the stream is under way.
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut got = Vec::new();
            let mut b = [0u8; 4096];
            while !String::from_utf8_lossy(&got).contains("data: ") {
                let n = s.read(&mut b).unwrap();
                assert!(n > 0, "stream ended early");
                got.extend_from_slice(&b[..n]);
            }
        } else {
            std::thread::sleep(Duration::from_millis(300));
        }
        assert_eq!(in_flight(id), 1);
        drop(s);
        closed.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|_| panic!("{model}: upstream not cancelled"));
        let t0 = std::time::Instant::now();
        while in_flight(id) != 0 && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(in_flight(id), 0, "{model}: slot not given back");
    }
    drop(rt);
}

/// The router's latency sketches against a client with its own clock, on real loaders: each
/// quantile within 5% of the client's exact one (the client also counts its connect and read).
#[test]
fn latency_sketches_match_the_clients_clock() {
    let _quiet = crate::common::clocks();
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(&py, 0);
    let (l1, l2) = Loader::start_two(&py, &model, dir.path());
    let router = RouterProc::start(dir.path(), &routes(&[&l1, &l2], None, 64), &[]);
    let port = router.port;
    // Four clients, 80 requests each, lengths 1..64 tokens so latencies spread over a decade.
    let mut client_ms: Vec<f64> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|c| {
                s.spawn(move || {
                    let mut out = Vec::new();
                    for i in 0..80u32 {
                        let tokens = 1 + (i * 7 + c * 13) % 64;
                        let body = format!(
                            r#"{{"model":"tiny","messages":[{{"role":"user","content":"hi"}}],"max_tokens":{tokens}}}"#
                        );
                        let t0 = std::time::Instant::now();
                        let (status, text) = http(port, "POST", "/v1/chat/completions", None, &body);
                        out.push(t0.elapsed().as_secs_f64() * 1000.0);
                        assert_eq!(status, 200, "{text}");
                    }
                    out
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    client_ms.sort_by(f64::total_cmp);
    let s = stats(&router);
    let mut merged = garnet::telemetry::sketch::Sketch::default();
    for b in s["models"][0]["backends"].as_array().unwrap() {
        merged.merge(&serde_json::from_value(b["e2e"].clone()).unwrap());
    }
    assert_eq!(merged.count, 320, "every request in the sketch");
    for q in [0.5, 0.95, 0.99] {
        let exact = client_ms[(q * (client_ms.len() - 1) as f64).floor() as usize];
        let got = merged.quantile(q).unwrap() * 1000.0;
        eprintln!("p{}: router {got:.2} ms, client {exact:.2} ms ({:+.1}%)", q * 100.0, (got / exact - 1.0) * 100.0);
        assert!((got - exact).abs() <= 0.05 * exact, "p{q}: router {got:.2} ms vs client {exact:.2} ms");
    }
}

/// A loader stand-in that answers one whole request's head and half its body, then breaks off:
/// with `dies`, its listener closes too (a killed loader); without, it stays up (a loader that
/// failed this one request). Returns its port.
fn breaking_upstream(dies: bool) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let mut got = Vec::new();
            let mut b = [0u8; 4096];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut b) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&b[..n]),
                }
            }
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{\"id\":\"c\",",
            );
            drop(s);
            if dies {
                return; // the listener goes with the thread: connections are refused from now on
            }
        }
    });
    port
}

/// A whole answer its loader dies in the middle of: nothing reached the client yet, so the
/// request is retried once on another backend and answered; a loader that breaks off an answer
/// and stays up is not retried (the request may be what breaks it) and the client gets a 502.
#[test]
fn a_whole_answer_cut_by_a_dying_loader_is_retried_elsewhere() {
    let ok = canned_upstream();
    let dying = breaking_upstream(true);
    let (rt, router, port) = in_process(
        serde_json::json!({"models": [
            {"name": "m", "backends": [
                {"id": "dying", "url": format!("http://127.0.0.1:{dying}"), "model": "x"},
                {"id": "ok", "url": format!("http://127.0.0.1:{ok}"), "model": "x"}]}]}),
        1 << 20,
    );
    let body = br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":2}"#;
    let (status, text) = http_raw(port, "POST", "/v1/chat/completions", body);
    assert_eq!(status, 200, "{text}");
    let table = router.table.load();
    let count = |id: &str, c: fn(&garnet::router::table::Counters) -> &std::sync::atomic::AtomicU64| {
        let b = table.routes["m"].backends.iter().find(|b| b.id == id).unwrap();
        c(&b.counters).load(std::sync::atomic::Ordering::Relaxed)
    };
    assert_eq!(count("dying", |c| &c.failures), 1, "the dying backend was not the one tried first");
    assert_eq!(count("ok", |c| &c.ok), 1);
    drop(table);
    drop(rt);

    let flaky = breaking_upstream(false);
    let (rt, _router, port) = in_process(
        serde_json::json!({"models": [
            {"name": "m", "backends": [
                {"id": "flaky", "url": format!("http://127.0.0.1:{flaky}"), "model": "x"},
                {"id": "ok", "url": format!("http://127.0.0.1:{ok}"), "model": "x"}]}]}),
        1 << 20,
    );
    let (status, text) = http_raw(port, "POST", "/v1/chat/completions", body);
    assert_eq!(status, 502, "{text}");
    assert!(text.contains("broke off its answer"), "{text}");
    drop(rt);
}

/// A loader stand-in answering every request with one small whole chat completion.
fn canned_upstream() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let mut b = [0u8; 4096];
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut b) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&b[..n]),
                    }
                }
                let body = r#"{"id":"c","object":"chat.completion","model":"x","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#;
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}
