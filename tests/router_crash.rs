//! A router killed under load (`kill -9`) loses no count: restarted on its state folder, its
//! counters go on from where they were, and the requests the crash broke are counted as failed.
//! Checked against clients with their own tally, on real loaders.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::Garnet;
use crate::common::loaders::{Loader, RouterProc, free_port, python, tiny_model};

#[derive(Default)]
struct Client {
    /// When its request in flight was sent (ns since `t0`), 0 when none.
    sent_at: AtomicU64,
    holding: AtomicBool,
    /// Requests sent; each ends as one of `ok` or `broken`.
    started: AtomicU64,
    ok: AtomicU64,
    broken: AtomicU64,
    tokens: AtomicU64,
}

/// One request; `Some(tokens)` when it was answered whole, `None` when the connection broke.
fn request(port: u16, stream: bool) -> Option<u64> {
    let body = format!(
        r#"{{"model":"tiny","messages":[{{"role":"user","content":"go"}}],"max_tokens":24,"stream":{stream},"stream_options":{{"include_usage":true}}}}"#
    );
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out);
    if !out.starts_with("HTTP/1.1 200") {
        return None;
    }
    let usage: Value = if stream {
        if !out.contains("data: [DONE]") {
            return None;
        }
        let line = out.lines().rfind(|l| l.contains("\"usage\""))?;
        serde_json::from_str::<Value>(line.trim_start_matches("data: ")).ok()?["usage"].clone()
    } else {
        serde_json::from_str::<Value>(out.split_once("\r\n\r\n")?.1).ok()?["usage"].clone()
    };
    usage["completion_tokens"].as_u64()
}

#[test]
fn a_router_killed_under_load_loses_no_count() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = tiny_model(&py, 0);
    let (l1, l2) = Loader::start_two(&py, &model, d);
    let routes = d.join("routes.yaml");
    std::fs::write(&routes, Loader::routes_for_two(&l1, &l2, "")).unwrap();
    let (port, admin) = (free_port(), free_port());
    let token = RouterProc::token_file(d);
    let args: Vec<String> = [
        "--routes",
        &routes.display().to_string(),
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--admin-listen",
        &format!("127.0.0.1:{admin}"),
        "--admin-token-file",
        &token.display().to_string(),
        "--state-dir",
        &d.join("router-state").display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let start = || RouterProc::spawn(d, Garnet::new(), &args);
    let router = start();

    let t0 = Instant::now();
    let (stop, hold) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let clients: Vec<Arc<Client>> = (0..4).map(|_| Arc::new(Client::default())).collect();
    let workers: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (c, stop, hold) = (c.clone(), stop.clone(), hold.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    if hold.load(Ordering::SeqCst) {
                        c.holding.store(true, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    c.holding.store(false, Ordering::SeqCst);
                    c.started.fetch_add(1, Ordering::SeqCst);
                    c.sent_at.store(t0.elapsed().as_nanos() as u64, Ordering::SeqCst);
                    match request(port, i % 2 == 0) {
                        Some(t) => {
                            c.ok.fetch_add(1, Ordering::SeqCst);
                            c.tokens.fetch_add(t, Ordering::SeqCst);
                        }
                        None => {
                            c.broken.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    c.sent_at.store(0, Ordering::SeqCst);
                }
            })
        })
        .collect();

    std::thread::sleep(Duration::from_secs(3));
    // Hold new requests, then kill while every client is either holding or has had a request
    // in flight for 30 ms (so the router surely dispatched it), with at least two in flight.
    hold.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(20);
    let in_flight = loop {
        let now = t0.elapsed().as_nanos() as u64;
        let flying = clients
            .iter()
            .filter(|c| {
                let s = c.sent_at.load(Ordering::SeqCst);
                s > 0 && now - s > 30_000_000
            })
            .count();
        let settled = clients.iter().all(|c| {
            let s = c.sent_at.load(Ordering::SeqCst);
            c.holding.load(Ordering::SeqCst) || (s > 0 && now - s > 30_000_000)
        });
        if settled && flying >= 2 {
            break flying;
        }
        if settled && flying < 2 {
            // Everyone finished: let them go again and try once more.
            hold.store(false, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(40));
            hold.store(true, Ordering::SeqCst);
        }
        assert!(Instant::now() < deadline, "never caught two requests in flight");
        std::thread::sleep(Duration::from_millis(1));
    };
    // Each client's outstanding request just before the kill (0 or 1), read outcomes first so a
    // request ending between the two reads still counts as outstanding. One counted in flight may
    // still finish whole before the signal lands: that is an answer, not a loss.
    let done = |c: &Client| c.ok.load(Ordering::SeqCst) + c.broken.load(Ordering::SeqCst);
    let before: Vec<(u64, u64)> = clients
        .iter()
        .map(|c| {
            let d = done(c);
            (d, c.started.load(Ordering::SeqCst) - d)
        })
        .collect();
    unsafe { libc::kill(router.pid() as i32, libc::SIGKILL) };
    drop(router);
    // Wait until the killed requests are tallied as broken, then restart on the same state.
    let t = Instant::now();
    while clients.iter().any(|c| c.sent_at.load(Ordering::SeqCst) != 0) && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(in_flight >= 2);
    for (c, (done0, outstanding)) in clients.iter().zip(&before) {
        assert_eq!(done(c) - done0, *outstanding, "the kill ended the requests in flight, no others");
    }
    let router = start();
    hold.store(false, Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }

    let (_, stats) = router.admin("GET", "/admin/stats", "");
    let sum = |k: &str| -> u64 {
        stats["models"][0]["backends"].as_array().unwrap().iter().map(|b| b[k].as_u64().unwrap()).sum()
    };
    let total = |f: fn(&Client) -> &AtomicU64| clients.iter().map(|c| f(c).load(Ordering::SeqCst)).sum::<u64>();
    let (ok, broken, tokens) = (total(|c| &c.ok), total(|c| &c.broken), total(|c| &c.tokens));
    eprintln!(
        "clients: {ok} ok ({tokens} tokens), {broken} broken by the kill; router after its restart: {} ok ({} tokens), {} failed",
        sum("ok"),
        sum("completion_tokens"),
        sum("failed")
    );
    assert!(ok > 20, "hardly any load: {ok}");
    // Every request is counted exactly once, as ok or failed, across the crash. The one thing the
    // router cannot know: an answer it wrote whole just before the SIGKILL, which the kernel then
    // threw away with the connection (a reset) before the client read it. Such a request is ok to
    // the router and broken to the client; at most the requests the kill broke can be like that,
    // and each carries its whole answer's tokens (24).
    assert_eq!(sum("ok") + sum("failed"), ok + broken, "every request counted once, across the crash");
    let lost_answers = sum("ok").checked_sub(ok).expect("the router never counts fewer answers than were read");
    assert!(lost_answers <= broken, "{lost_answers} answers counted ok that the kill broke, of {broken}");
    assert_eq!(sum("completion_tokens"), tokens + 24 * lost_answers, "every token counted once, across the crash");
    assert_eq!(sum("failed"), broken - lost_answers, "the requests the crash broke are counted as failed");
    let log = std::fs::read_to_string(d.join("router.log")).unwrap();
    assert!(log.contains("left unfinished are counted as failed"), "{log}");
    drop((l1, l2));
}
