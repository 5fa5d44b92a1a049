//! `garnet bench`: a load generator for any OpenAI-compatible endpoint, and the client-side truth
//! that later checks the router's and the monitor's own numbers.
//!
//! N concurrent clients send chat completions (streaming, non-streaming, or a mix) for a duration
//! or a request count. Every failure is counted by kind, never hidden: connect errors, HTTP statuses,
//! error events inside streams, truncated streams (no `[DONE]`, or fewer tokens than asked when
//! `expect_full` is set), timeouts. Latencies: time to first token, inter-token, end to end.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, header};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::router::{UpstreamClient, upstream_client};

#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Base URL ending in `/v1`.
    pub url: String,
    pub model: String,
    pub clients: usize,
    pub requests: Option<u64>,
    pub duration: Option<Duration>,
    /// Fraction of requests that stream (0.0 none, 1.0 all), spread evenly.
    pub stream_fraction: f64,
    pub max_tokens: u32,
    pub prompt: String,
    pub api_key: Option<String>,
    pub timeout: Duration,
    /// Count a reply with fewer completion tokens than `max_tokens` as truncated.
    pub expect_full: bool,
    /// Open-loop rate (requests/s over all clients). Latencies are then measured from each
    /// request's scheduled time, so a stall is not hidden by requests that were never sent.
    pub rate: Option<f64>,
}

/// One request's outcome.
#[derive(Debug, Clone, Default)]
struct Sample {
    stream: bool,
    ok: bool,
    failure: Option<String>,
    ttft: Option<Duration>,
    e2e: Duration,
    itl: Vec<Duration>,
    completion_tokens: u64,
    /// `(served by) model` field of the answer, to check routing.
    model: Option<String>,
    finished_at: Duration,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

fn percentiles(mut xs: Vec<Duration>) -> Option<Percentiles> {
    if xs.is_empty() {
        return None;
    }
    xs.sort();
    let at = |q: f64| {
        let i = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len()) - 1;
        xs[i].as_secs_f64() * 1000.0
    };
    Some(Percentiles { p50_ms: at(0.50), p95_ms: at(0.95), p99_ms: at(0.99), max_ms: at(1.0) })
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct BenchReport {
    pub url: String,
    pub model: String,
    pub clients: usize,
    pub requests: u64,
    pub ok: u64,
    pub failed: u64,
    /// Failures by kind (`connect`, `http_429`, `stream_error`, `truncated`, `timeout`, …).
    pub failures: BTreeMap<String, u64>,
    pub streams: u64,
    pub completion_tokens: u64,
    pub duration_s: f64,
    pub requests_per_s: f64,
    pub tokens_per_s: f64,
    pub ttft: Option<Percentiles>,
    pub inter_token: Option<Percentiles>,
    pub e2e: Option<Percentiles>,
    /// How many answers named each model (the router restores the public name).
    pub models: BTreeMap<String, u64>,
    /// Stopped early by SIGINT/SIGTERM (the requests in flight then were finished and counted).
    pub interrupted: bool,
}

pub async fn run(cfg: BenchConfig) -> anyhow::Result<BenchReport> {
    let client = upstream_client(Duration::from_secs(5));
    let base = cfg.url.trim_end_matches('/').to_string();
    let issued = Arc::new(AtomicU64::new(0));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let clients = cfg.clients.max(1);
    if cfg.rate.is_some() {
        // Open every client's connection first, so the measured phase runs over warm connections.
        let warm: Vec<_> = (0..clients)
            .map(|_| {
                let (client, cfg, base) = (client.clone(), cfg.clone(), base.clone());
                tokio::spawn(async move { one(&client, &cfg, &base, false, Instant::now()).await })
            })
            .collect();
        for w in warm {
            w.await?;
        }
    }
    let started = Instant::now();
    let deadline = cfg.duration.map(|d| started + d);
    // SIGINT / SIGTERM: no new requests; the ones in flight finish and the report is printed.
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let signals = tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
            return;
        };
        tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
        let _ = stop_tx.send(true);
    });
    let mut tasks = Vec::new();
    for i in 0..clients {
        let (client, cfg, base, issued, samples) =
            (client.clone(), cfg.clone(), base.clone(), issued.clone(), samples.clone());
        let mut stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut k = 0u32;
            loop {
                if *stop.borrow() {
                    break;
                }
                // Open loop: client i sends at i/rate, then every clients/rate seconds.
                let scheduled = match cfg.rate {
                    Some(rate) => {
                        let at = started + Duration::from_secs_f64((i as f64 + k as f64 * clients as f64) / rate);
                        k += 1;
                        if deadline.is_some_and(|d| at >= d) {
                            break;
                        }
                        tokio::select! {
                            _ = tokio::time::sleep_until(at.into()) => {}
                            _ = stop.changed() => break,
                        }
                        at
                    }
                    None => Instant::now(),
                };
                let n = issued.fetch_add(1, Ordering::SeqCst);
                if cfg.requests.is_some_and(|max| n >= max) || deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                // Spread streaming requests evenly: request n streams when the running share is due.
                let stream = ((n + 1) as f64 * cfg.stream_fraction).floor() > (n as f64 * cfg.stream_fraction).floor();
                let mut s = one(&client, &cfg, &base, stream, scheduled).await;
                s.finished_at = started.elapsed();
                samples.lock().await.push(s);
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    signals.abort();
    let wall = started.elapsed();
    let samples = std::mem::take(&mut *samples.lock().await);
    let mut r = summarize(&cfg, samples, wall);
    r.interrupted = *stop.borrow();
    Ok(r)
}

fn summarize(cfg: &BenchConfig, samples: Vec<Sample>, wall: Duration) -> BenchReport {
    let mut r =
        BenchReport { url: cfg.url.clone(), model: cfg.model.clone(), clients: cfg.clients, ..Default::default() };
    let (mut ttft, mut itl, mut e2e) = (vec![], vec![], vec![]);
    for s in &samples {
        r.requests += 1;
        r.streams += u64::from(s.stream);
        r.completion_tokens += s.completion_tokens;
        if let Some(m) = &s.model {
            *r.models.entry(m.clone()).or_default() += 1;
        }
        if s.ok {
            r.ok += 1;
            e2e.push(s.e2e);
            ttft.extend(s.ttft);
            itl.extend(s.itl.iter().copied());
        } else {
            r.failed += 1;
            *r.failures.entry(s.failure.clone().unwrap_or_else(|| "unknown".into())).or_default() += 1;
        }
    }
    r.duration_s = wall.as_secs_f64();
    r.requests_per_s = r.requests as f64 / r.duration_s.max(1e-9);
    r.tokens_per_s = r.completion_tokens as f64 / r.duration_s.max(1e-9);
    r.ttft = percentiles(ttft);
    r.inter_token = percentiles(itl);
    r.e2e = percentiles(e2e);
    r
}

async fn one(client: &UpstreamClient, cfg: &BenchConfig, base: &str, stream: bool, t0: Instant) -> Sample {
    let mut body = json!({
        "model": cfg.model,
        "messages": [{"role": "user", "content": cfg.prompt}],
        "max_tokens": cfg.max_tokens,
        "stream": stream,
    });
    if stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    let mut req = Request::post(format!("{base}/chat/completions")).header(header::CONTENT_TYPE, "application/json");
    if let Some(k) = &cfg.api_key {
        req = req.header(header::AUTHORIZATION, format!("Bearer {k}"));
    }
    let req = req.body(Full::new(Bytes::from(body.to_string()))).expect("valid request");
    let mut s = Sample { stream, ..Default::default() };
    let fail = |mut s: Sample, kind: String| {
        s.failure = Some(kind);
        s.e2e = t0.elapsed();
        s
    };
    let resp = match tokio::time::timeout(cfg.timeout, client.request(req)).await {
        Err(_) => return fail(s, "timeout".into()),
        Ok(Err(e)) => return fail(s, if e.is_connect() { "connect".into() } else { "connection".into() }),
        Ok(Ok(r)) => r,
    };
    let status = resp.status();
    if !status.is_success() {
        let _ = resp.into_body().collect().await;
        return fail(s, format!("http_{}", status.as_u16()));
    }
    let mut body = resp.into_body();
    if !stream {
        let bytes = match tokio::time::timeout(cfg.timeout, body.collect()).await {
            Err(_) => return fail(s, "timeout".into()),
            Ok(Err(_)) => return fail(s, "connection".into()),
            Ok(Ok(b)) => b.to_bytes(),
        };
        s.ttft = Some(t0.elapsed());
        let Ok(v) = serde_json::from_slice::<Value>(&bytes) else { return fail(s, "invalid_json".into()) };
        s.model = v["model"].as_str().map(str::to_string);
        s.completion_tokens = v.pointer("/usage/completion_tokens").and_then(|x| x.as_u64()).unwrap_or(0);
        if cfg.expect_full && s.completion_tokens != cfg.max_tokens as u64 {
            return fail(s, "truncated".into());
        }
        s.ok = true;
        s.e2e = t0.elapsed();
        return s;
    }
    let mut pending = Vec::new();
    let mut last = None;
    let mut done = false;
    let end = t0 + cfg.timeout;
    loop {
        let frame = match tokio::time::timeout_at(end.into(), body.frame()).await {
            Err(_) => return fail(s, "timeout".into()),
            Ok(None) => break,
            Ok(Some(Err(_))) => return fail(s, "connection".into()),
            Ok(Some(Ok(f))) => f,
        };
        let Ok(data) = frame.into_data() else { continue };
        pending.extend_from_slice(&data);
        while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&line);
            let Some(payload) = line.trim_end().strip_prefix("data: ") else { continue };
            if payload == "[DONE]" {
                done = true;
                continue;
            }
            let Ok(v) = serde_json::from_str::<Value>(payload) else { continue };
            if v.get("error").is_some() {
                return fail(s, "stream_error".into());
            }
            if let Some(m) = v["model"].as_str() {
                s.model.get_or_insert_with(|| m.to_string());
            }
            if let Some(n) = v.pointer("/usage/completion_tokens").and_then(|x| x.as_u64()) {
                s.completion_tokens = n;
            }
            let has_content = v["choices"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|ch| ch.pointer("/delta/content").is_some_and(|t| t.as_str().is_some_and(|t| !t.is_empty())))
            });
            if has_content {
                let now = Instant::now();
                match last {
                    None => s.ttft = Some(now - t0),
                    Some(prev) => s.itl.push(now - prev),
                }
                last = Some(now);
            }
        }
    }
    if !done {
        return fail(s, "truncated".into());
    }
    if cfg.expect_full && s.completion_tokens != cfg.max_tokens as u64 {
        return fail(s, "truncated".into());
    }
    s.ok = true;
    s.e2e = t0.elapsed();
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_ranks() {
        let xs: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let p = percentiles(xs).unwrap();
        assert_eq!((p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms), (50.0, 95.0, 99.0, 100.0));
        assert!(percentiles(vec![]).is_none());
    }

    #[test]
    fn failures_are_counted_by_kind() {
        let cfg = BenchConfig {
            url: "u".into(),
            model: "m".into(),
            clients: 1,
            requests: None,
            duration: None,
            stream_fraction: 0.5,
            max_tokens: 4,
            prompt: "p".into(),
            api_key: None,
            timeout: Duration::from_secs(1),
            expect_full: true,
            rate: None,
        };
        let ok = Sample { ok: true, completion_tokens: 4, e2e: Duration::from_millis(10), ..Default::default() };
        let bad = Sample { failure: Some("http_429".into()), ..Default::default() };
        let r = summarize(&cfg, vec![ok.clone(), ok, bad], Duration::from_secs(1));
        assert_eq!((r.requests, r.ok, r.failed), (3, 2, 1));
        assert_eq!(r.failures["http_429"], 1);
        assert_eq!(r.completion_tokens, 8);
    }
}
