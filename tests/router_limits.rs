//! The router under hostile clients: slow heads and bodies (slowloris), idle and non-reading
//! clients, a connection cap, running out of descriptors, memory after a flood, and bodies that
//! are the client's fault (deep JSON, `n > 1`) on real loaders.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::Garnet;
use crate::common::loaders::{Loader, RouterProc, free_port, http, python, tiny_model};

/// A router in this process with `limits` and one model whose backend is `upstream`.
fn in_process(limits: Value, upstream: u16) -> (tokio::runtime::Runtime, std::sync::Arc<garnet::router::Router>, u16) {
    use garnet::router::{self, Options, table::RoutesConfig};
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let routes: RoutesConfig = serde_json::from_value(json!({
        "models": [{"name": "m", "backends": [{"id": "b", "url": format!("http://127.0.0.1:{upstream}"), "model": "x"}]}],
        "limits": limits,
    }))
    .unwrap();
    let r = router::Router::new(&routes, Options { body_limit: 1 << 20, ..Default::default() }).unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(router::serve(r.clone(), listener, None, std::future::pending()));
    (rt, r, port)
}

/// Reads until the server closes (or `limit` passes); returns what came and when it closed.
fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (String, Option<Duration>) {
    let t0 = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 4096];
    while t0.elapsed() < limit {
        match s.read(&mut b) {
            Ok(0) => return (String::from_utf8_lossy(&got).into_owned(), Some(t0.elapsed())),
            Ok(n) => got.extend_from_slice(&b[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), Some(t0.elapsed())),
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), None)
}

fn metric(text: &str, line_start: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no `{line_start}` in\n{text}"))
}

/// Slowloris (a head byte at a time), a trickled body, an idle kept-alive connection and a client
/// that stops reading are each closed by their limit; every limit comes from the routes.
#[test]
fn slow_and_idle_clients_are_closed_by_their_limits() {
    let (_rt, _r, port) = in_process(
        json!({"header_timeout_ms": 1000, "body_timeout_ms": 1000, "body_min_rate": 1000, "keep_alive_ms": 1000, "send_timeout_ms": 1000}),
        free_port(),
    );
    // 20 slowloris connections: a byte every 200 ms never completes a head.
    let t0 = Instant::now();
    let mut slow: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    let head =
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let mut closed_at = vec![None; slow.len()];
    'outer: for byte in head.iter().cycle() {
        for (i, s) in slow.iter_mut().enumerate() {
            if closed_at[i].is_none() && s.write_all(&[*byte]).is_err() {
                closed_at[i] = Some(t0.elapsed());
            }
        }
        if closed_at.iter().all(Option::is_some) || t0.elapsed() > Duration::from_secs(6) {
            break 'outer;
        }
        std::thread::sleep(Duration::from_millis(200));
        // A closed socket shows as EOF on read before a write fails.
        for (i, s) in slow.iter_mut().enumerate() {
            s.set_nonblocking(true).unwrap();
            let mut b = [0u8; 512];
            if closed_at[i].is_none() && s.read(&mut b).is_ok() {
                closed_at[i] = Some(t0.elapsed());
            }
            s.set_nonblocking(false).unwrap();
        }
    }
    for (i, c) in closed_at.iter().enumerate() {
        let c = c.unwrap_or_else(|| panic!("slowloris connection {i} still open after {:?}", t0.elapsed()));
        assert!(c < Duration::from_millis(2500), "connection {i} closed only after {c:?}");
    }

    // A body trickling at 50 B/s, below the 1000 B/s minimum: a 408 after about the grace.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{\"model\":").unwrap();
    let t0 = Instant::now();
    let writer = {
        let mut s = s.try_clone().unwrap();
        std::thread::spawn(move || {
            while s.write_all(b"          ").is_ok() && t0.elapsed() < Duration::from_secs(8) {
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let (text, closed) = read_until_closed(&mut s, Duration::from_secs(8));
    let closed = closed.expect("a slow body kept its connection for 8 s");
    assert!(closed < Duration::from_millis(2500), "slow body closed after {closed:?}");
    assert!(text.starts_with("HTTP/1.1 408") && text.contains("request_timeout"), "{text}");
    writer.join().unwrap();

    // A kept-alive connection: open while it makes requests, closed once it idles a second.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for _ in 0..6 {
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut b = [0u8; 1024];
        let n = s.read(&mut b).unwrap();
        assert!(String::from_utf8_lossy(&b[..n]).starts_with("HTTP/1.1 200"), "kept-alive request failed");
        std::thread::sleep(Duration::from_millis(400));
    }
    let (_, closed) = read_until_closed(&mut s, Duration::from_secs(5));
    let closed = closed.expect("an idle kept-alive connection stayed open");
    assert!(closed < Duration::from_millis(2000), "idle connection closed after {closed:?}");

    // A client that sends requests and never reads the answers: closed once a write waits 1 s.
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut w = s.try_clone().unwrap();
    let t0 = Instant::now();
    let flood = std::thread::spawn(move || {
        let req = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1000);
        while t0.elapsed() < Duration::from_secs(20) {
            if w.write_all(&req).is_err() {
                return Some(t0.elapsed());
            }
        }
        None
    });
    let gave_up = flood.join().unwrap().expect("a client that never reads held its connection for 20 s");
    assert!(gave_up < Duration::from_secs(10), "{gave_up:?}");
    drop(s);

    let (status, text) = http(port, "GET", "/metrics", None, "");
    assert_eq!(status, 200);
    assert_eq!(metric(&text, "garnet_router_connections_closed_total{reason=\"slow_head\"}"), 20, "{text}");
    assert_eq!(metric(&text, "garnet_router_connections_closed_total{reason=\"slow_body\"}"), 1);
    assert_eq!(metric(&text, "garnet_router_connections_closed_total{reason=\"slow_read\"}"), 1);
    crate::router::promtool_check(&text);
}

/// Past `max_connections` a new connection gets a 503 at once and is closed; a freed place is
/// taken again.
#[test]
fn connections_over_the_cap_are_refused_at_once() {
    let (_rt, r, port) = in_process(json!({"max_connections": 30}), free_port());
    let held: Vec<TcpStream> = (0..30).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    let open = || r.conns.open.load(std::sync::atomic::Ordering::SeqCst);
    let t0 = Instant::now();
    while open() < 30 && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(open(), 30);
    let mut extra = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (text, closed) = read_until_closed(&mut extra, Duration::from_secs(3));
    assert!(closed.is_some(), "a connection over the cap was kept");
    assert!(text.starts_with("HTTP/1.1 503") && text.contains("too_many_connections"), "{text}");
    drop(held);
    let t0 = Instant::now();
    while open() > 0 && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let (status, text) = http(port, "GET", "/metrics", None, "");
    assert_eq!(status, 200, "{text}");
    assert_eq!(metric(&text, "garnet_router_connections_closed_total{reason=\"over_limit\"}"), 1, "{text}");
    assert_eq!(metric(&text, "garnet_router_connections_max"), 30);
}

/// CPU seconds (user + system) a process has used, from `/proc/PID/stat`.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = stat.rsplit_once(')').unwrap().1;
    let f: Vec<&str> = after.split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap().trim().trim_end_matches(" kB").parse().unwrap()
}

/// Raises this test process's own soft open-file limit (raising never hurts the other tests).
fn raise_own_nofile() {
    garnet::util::raise_nofile_limit();
}

/// An upstream that accepts and never answers (each request holds a descriptor in the router).
fn black_hole() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<TcpStream>>>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let h = held.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            h.lock().unwrap().push(s);
        }
    });
    (port, held)
}

/// With its descriptors used up (open-file limit 256, requests each holding a client and an
/// upstream connection), the router pauses accepting instead of spinning: little CPU, one log line
/// per burst, and it serves again once descriptors free up.
#[test]
fn out_of_descriptors_the_router_backs_off_instead_of_spinning() {
    use std::os::unix::process::CommandExt;
    raise_own_nofile();
    let dir = tempfile::tempdir().unwrap();
    let (up, held_upstream) = black_hole();
    let routes = format!(
        "models:\n  - name: m\n    queue: 0\n    timeouts: {{first_byte_ms: 120000}}\n    backends:\n      - {{id: b, url: \"http://127.0.0.1:{up}\", model: x, max_concurrency: 1000}}\nlimits: {{max_connections: 100000}}\n"
    );
    std::fs::write(dir.path().join("routes.yaml"), &routes).unwrap();
    let token = RouterProc::token_file(dir.path());
    let mut cmd = Garnet::new()
        .args(["-o", "json", "router", "--threads", "2", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .arg("--routes")
        .arg(dir.path().join("routes.yaml").display().to_string())
        .arg("--admin-token-file")
        .arg(token.display().to_string())
        .command();
    unsafe {
        cmd.pre_exec(|| {
            let l = libc::rlimit { rlim_cur: 256, rlim_max: 256 };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &l) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let router = RouterProc::spawn_command(dir.path(), cmd);
    let pid = router.pid();
    let body = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
    // 400 clients, each with a request the black hole never answers.
    let mut clients = Vec::new();
    for _ in 0..400 {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", router.port)) else { break };
        let _ =
            write!(s, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        clients.push(s);
    }
    std::thread::sleep(Duration::from_secs(1));
    let (cpu0, t0) = (cpu_secs(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(3));
    let cpu = (cpu_secs(pid) - cpu0) / t0.elapsed().as_secs_f64();
    let log = std::fs::read_to_string(dir.path().join("router.log")).unwrap();
    let accept_lines = log.lines().filter(|l| l.contains("accept")).count();
    assert!(log.contains("Too many open files"), "the descriptors never ran out, nothing was tested:\n{log}");
    assert!(cpu < 0.25, "the router used {:.0}% of a core while out of descriptors", cpu * 100.0);
    assert!(accept_lines <= 3, "{accept_lines} accept log lines:\n{log}");

    // Free everything: it accepts again, says so, and counts what happened.
    drop(clients);
    held_upstream.lock().unwrap().clear();
    let t0 = Instant::now();
    let status = loop {
        let (st, _) =
            std::panic::catch_unwind(|| http(router.port, "GET", "/health", None, "")).unwrap_or((0, String::new()));
        if st == 200 || t0.elapsed() > Duration::from_secs(10) {
            break st;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status, 200, "the router did not recover");
    let (_, text) = http(router.port, "GET", "/metrics", None, "");
    assert!(metric(&text, "garnet_router_accept_errors_total") > 0, "{text}");
    let log = std::fs::read_to_string(dir.path().join("router.log")).unwrap();
    assert!(log.contains("accepting again after"), "{log}");
}

/// After a flood of connections that each sent part of a head (so each had a read buffer), the
/// router's memory returns near its idle level.
#[test]
fn memory_returns_after_a_connection_flood() {
    raise_own_nofile();
    let dir = tempfile::tempdir().unwrap();
    let router = RouterProc::start(
        dir.path(),
        "models:\n  - name: m\n    backends:\n      - {id: b, url: \"http://127.0.0.1:9\", model: x}\n",
        &["--threads", "2"],
    );
    let pid = router.pid();
    for _ in 0..20 {
        assert_eq!(http(router.port, "GET", "/health", None, "").0, 200);
    }
    let idle = rss_kb(pid);
    let mut flood = Vec::new();
    for _ in 0..3000 {
        let mut s = TcpStream::connect(("127.0.0.1", router.port)).unwrap();
        s.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n").unwrap();
        flood.push(s);
    }
    std::thread::sleep(Duration::from_millis(500));
    let during = rss_kb(pid);
    drop(flood);
    let t0 = Instant::now();
    let mut after = rss_kb(pid);
    while after > idle + 8 * 1024 && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(200));
        after = rss_kb(pid);
    }
    eprintln!("router RSS: idle {idle} kB, 3000 connections {during} kB, after {after} kB");
    assert!(during > idle + 8 * 1024, "the flood did not cost memory ({idle} → {during} kB): nothing was measured");
    assert!(after <= idle + 8 * 1024, "RSS stayed at {after} kB after the flood (idle {idle} kB, during {during} kB)");
    assert_eq!(http(router.port, "GET", "/health", None, "").0, 200);
}

fn two_loader_routes(a: &Loader, b: &Loader) -> String {
    format!(
        "models:\n  - name: tiny\n    max_tokens: 8\n    backends:\n      - {{id: l1, url: \"{}\", model: \"{}\"}}\n      - {{id: l2, url: \"{}\", model: \"{}\"}}\n",
        a.url(),
        a.model,
        b.url(),
        b.model
    )
}

fn backend_counter(r: &RouterProc, id: &str, field: &str) -> u64 {
    let (_, s) = r.admin("GET", "/admin/stats", "");
    s["models"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["backends"].as_array().unwrap())
        .find(|b| b["id"] == id)
        .unwrap_or_else(|| panic!("no backend {id}: {s}"))[field]
        .as_u64()
        .unwrap()
}

/// On real loaders: a deeply nested body is a 400 that reaches no loader and fails no backend;
/// `n > 1` is refused with the reason; the bearer scheme is case-insensitive; a request that a
/// loader receives and dies on is not retried on the other one.
#[test]
fn bad_bodies_are_the_clients_fault_on_real_loaders() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(&py, 0);
    let (l1, l2) = Loader::start_two(&py, &model, dir.path());
    let keys = dir.path().join("keys");
    std::fs::write(&keys, "k-1\n").unwrap();
    std::fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let router =
        RouterProc::start(dir.path(), &two_loader_routes(&l1, &l2), &["--api-keys-file", &keys.display().to_string()]);
    let post = |auth: &str, body: &str| -> (u16, Value) {
        let mut s = TcpStream::connect(("127.0.0.1", router.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        write!(s, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {auth}\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let status = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let v = out.split_once("\r\n\r\n").and_then(|(_, b)| serde_json::from_str(b).ok()).unwrap_or(Value::Null);
        (status, v)
    };
    let sent = |id: &str| backend_counter(&router, id, "requests");

    let deep = format!(r#"{{"model":"tiny","messages":[{{"role":"user","content":{}}}]}}"#, "[".repeat(100_000));
    let (status, v) = post("Bearer k-1", &deep);
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("deeper than 128"), "{v}");
    assert_eq!((sent("l1"), sent("l2")), (0, 0), "a loader saw the deep body");
    assert_eq!(backend_counter(&router, "l1", "failures") + backend_counter(&router, "l2", "failures"), 0);

    let (status, v) = post("Bearer k-1", r#"{"model":"tiny","messages":[{"role":"user","content":"hi"}],"n":1000}"#);
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["param"], "n", "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("one choice per request"), "{v}");
    let (status, v) = post("Bearer k-1", r#"{"model":"tiny","messages":[{"role":"user","content":"hi"}],"n":1}"#);
    assert_eq!(status, 200, "n: 1 is fine: {v}");
    assert_eq!(v["choices"].as_array().unwrap().len(), 1);

    for auth in ["bearer k-1", "BEARER k-1", "Bearer  k-1"] {
        let (status, v) = post(auth, r#"{"model":"tiny","messages":[{"role":"user","content":"hi"}]}"#);
        assert_eq!(status, 200, "`{auth}`: {v}");
    }
    assert_eq!(post("Basic k-1", r#"{"model":"tiny","messages":[]}"#).0, 401);

    // A loader that takes the request and closes without answering (as one that crashed on it
    // would): 502 to the client, and the request is not tried on the healthy loader.
    let (dying_port, _) = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut s in l.incoming().flatten() {
                let mut b = [0u8; 65536];
                let _ = s.read(&mut b);
                drop(s);
            }
        });
        (port, ())
    };
    let routes = json!({"models": [{"name": "tiny", "max_tokens": 8, "backends": [
        {"id": "dies", "url": format!("http://127.0.0.1:{dying_port}"), "model": "x", "max_concurrency": 1000},
        {"id": "l2", "url": l2.url(), "model": l2.model, "max_concurrency": 1},
    ]}]});
    let (st, v) = router.admin("PUT", "/admin/routes", &routes.to_string());
    assert_eq!(st, 200, "{v}");
    let before = sent("l2");
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(post("Bearer k-1", r#"{"model":"tiny","messages":[{"role":"user","content":"hi"}]}"#).0);
    }
    let failed = statuses.iter().filter(|s| **s == 502).count() as u64;
    assert!(failed > 0, "no request reached the dying loader: {statuses:?}");
    assert_eq!(backend_counter(&router, "dies", "rejected"), failed, "the request's own failure");
    assert_eq!(backend_counter(&router, "dies", "failures"), 0, "held against a backend that stayed up");
    assert_eq!(
        sent("l2") - before,
        statuses.iter().filter(|s| **s == 200).count() as u64,
        "a failed request was retried on l2"
    );

    // A loader that dies with the request (its process gone: nothing listens any more) is a
    // lost request, not a bad one: it is tried once more elsewhere and the client never knows.
    let vanishing = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let vport = vanishing.local_addr().unwrap().port();
    let gone = std::thread::spawn(move || {
        let (mut s, _) = vanishing.accept().unwrap();
        let mut b = [0u8; 65536];
        let _ = s.read(&mut b);
        drop(vanishing); // the listener first, as a dying process's lower descriptors close first
        drop(s);
    });
    let routes = json!({"models": [{"name": "tiny", "max_tokens": 8, "backends": [
        {"id": "vanishes", "url": format!("http://127.0.0.1:{vport}"), "model": "x", "max_concurrency": 1000},
        {"id": "l2", "url": l2.url(), "model": l2.model, "max_concurrency": 1},
    ]}]});
    assert_eq!(router.admin("PUT", "/admin/routes", &routes.to_string()).0, 200);
    // Ties rotate, so within a few requests one lands on `vanishes`.
    for _ in 0..8 {
        let (status, v) = post("Bearer k-1", r#"{"model":"tiny","messages":[{"role":"user","content":"hi"}]}"#);
        assert_eq!(status, 200, "{v}");
        if gone.is_finished() {
            break;
        }
    }
    assert!(gone.is_finished(), "no request reached the vanishing loader");
    assert_eq!(backend_counter(&router, "vanishes", "failures"), 1);
    drop((l1, l2));
}
