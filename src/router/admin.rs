//! The admin API, on its own listener (loopback by default), behind a bearer token read from a
//! 0600 file: read and replace the routes, drain or re-activate a backend, read a backend's
//! in-flight count, and cumulative stats. This is what `hot-swap` and the monitor drive.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};

use super::error::{ApiError, json_response};
use super::proxy::constant_time_eq;
use super::table::{Backend, RoutesConfig};
use super::{Body, Router};

pub async fn handle(router: Arc<Router>, req: Request<Incoming>) -> Response<Body> {
    match route(router, req).await {
        Ok(r) => r,
        Err(e) => e.response(),
    }
}

fn backend_json(b: &Backend) -> Value {
    json!({
        "id": b.id, "url": b.url, "model": b.loader_model, "state": b.state(),
        "in_flight": b.in_flight.load(Ordering::Acquire),
        // Prefix affinity's estimate of the uncached prompt bytes waiting for a first byte there.
        "prefill_queued_bytes": b.prefill_pending.load(Ordering::Acquire),
        "max_concurrency": b.max_concurrency.load(Ordering::Relaxed),
        "requests": b.counters.requests.load(Ordering::Relaxed),
        "failures": b.counters.failures.load(Ordering::Relaxed),
        "rejected": b.counters.rejected.load(Ordering::Relaxed),
        "prompt_tokens": b.counters.prompt_tokens.load(Ordering::Relaxed),
        "completion_tokens": b.counters.completion_tokens.load(Ordering::Relaxed),
        "cached_tokens": b.counters.cached_tokens.load(Ordering::Relaxed),
        "ok": b.counters.ok.load(Ordering::Relaxed),
        "failed": b.counters.failed.load(Ordering::Relaxed),
        "cut": b.counters.cut.load(Ordering::Relaxed),
        "client_gone": b.counters.client_gone.load(Ordering::Relaxed),
        "busy_secs": b.busy_secs(),
        "e2e": b.counters.e2e.snapshot(),
        "ttft": b.counters.ttft.snapshot(),
        "itl": b.counters.itl.snapshot(),
        "queue_wait": b.counters.queue_wait.snapshot(),
    })
}

async fn route(router: Arc<Router>, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let token = router.options.admin_token.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "invalid_request_error",
            "the admin API is disabled: no token file configured",
        )
    })?;
    let given = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(super::proxy::bearer);
    if !given.is_some_and(|g| constant_time_eq(g.trim().as_bytes(), token.as_bytes())) {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_request_error", "missing or wrong admin token")
            .code("invalid_admin_token"));
    }
    let path = req.uri().path().trim_end_matches('/').to_string();
    // Backend ids may contain `/` (`m4-01/llama`): clients send it as `%2F`.
    let decoded: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let segs: Vec<&str> = decoded.iter().map(String::as_str).collect();
    match (req.method().clone(), segs.as_slice()) {
        (Method::GET, ["admin", "routes"]) => {
            let t = router.table.load();
            Ok(json_response(StatusCode::OK, &json!({"version": t.version, "routes": t.to_config()})))
        }
        (Method::PUT, ["admin", "routes"]) => {
            let body = Limited::new(req.into_body(), 1 << 20)
                .collect()
                .await
                .map_err(|e| ApiError::invalid(format!("cannot read body: {e}"), None))?
                .to_bytes();
            let cfg: RoutesConfig =
                serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("invalid routes: {e}"), None))?;
            let t0 = std::time::Instant::now();
            let version =
                router.replace_routes(&cfg).map_err(|e| ApiError::invalid(format!("invalid routes: {e}"), None))?;
            // Building the new table and swapping it in: what a flip costs inside the router.
            let flip_us = t0.elapsed().as_secs_f64() * 1e6;
            tracing::info!(version, flip_us, "routes replaced");
            Ok(json_response(StatusCode::OK, &json!({"version": version, "flip_us": flip_us})))
        }
        (Method::GET, ["admin", "stats"]) => {
            let t = router.table.load();
            let models: Vec<Value> = t
                .order
                .iter()
                .map(|m| {
                    let r = &t.routes[m];
                    json!({
                        "model": m, "queue_depth": r.queue.waiting.load(Ordering::Acquire),
                        "latency": r.metrics.e2e.snapshot(), "ttft": r.metrics.ttft.snapshot(),
                        // Per model, kept across route replacements (backends come and go).
                        "requests_total": r.metrics.requests(), "failures_total": r.metrics.failures(),
                        "routing": r.routing.name(),
                        "affinity": (r.routing == crate::router::table::Routing::PrefixAffinity).then(|| json!({
                            "hits": r.affinity.hits.load(Ordering::Relaxed),
                            "misses": r.affinity.misses.load(Ordering::Relaxed),
                            "overloaded": r.affinity.overloaded.load(Ordering::Relaxed),
                            "sooner": r.affinity.sooner.load(Ordering::Relaxed),
                        })),
                        "backends": r.backends.iter().map(|b| backend_json(b)).collect::<Vec<_>>(),
                    })
                })
                .collect();
            Ok(json_response(StatusCode::OK, &json!({"version": t.version, "models": models})))
        }
        (Method::GET, ["admin", "backends", id]) => {
            let t = router.table.load();
            let b = t.backend(id).ok_or_else(|| not_found(id))?;
            Ok(json_response(StatusCode::OK, &backend_json(b)))
        }
        (Method::POST, ["admin", "backends", id, action @ ("drain" | "activate")]) => {
            let t = router.table.load();
            let b = t.backend(id).ok_or_else(|| not_found(id))?;
            b.draining.store(*action == "drain", Ordering::Release);
            if *action == "activate" {
                for r in t.routes.values() {
                    r.queue.notify.notify_waiters();
                }
            }
            tracing::info!(backend = %b.id, action, "backend state changed");
            Ok(json_response(StatusCode::OK, &backend_json(b)))
        }
        (m, _) => {
            Err(ApiError::new(StatusCode::NOT_FOUND, "invalid_request_error", format!("Unknown admin URL: {m} {path}"))
                .code("unknown_url"))
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "invalid_request_error", format!("no backend `{id}`"))
        .code("backend_not_found")
}
