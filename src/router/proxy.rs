//! The OpenAI-facing side: `/v1/chat/completions`, `/v1/completions`, `/v1/models`, `/health`,
//! `/ready`. Parses and checks the request, picks a backend (least outstanding, capped, with a
//! bounded queue), rewrites, forwards, and rewrites the answer back.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::{Method, Response, StatusCode, header};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::error::{ApiError, json_response};
pub use super::server::ApiRequest;
use super::sse::{Rewriter, Usage};
use super::table::{Backend, Route};
use super::{Body, Router};

pub async fn handle(router: Arc<Router>, req: ApiRequest) -> Response<Body> {
    match (&req.method, &*req.path) {
        (&Method::GET, "/health") => json_response(StatusCode::OK, &json!({"status": "ok"})),
        (&Method::GET, "/ready") => ready(&router),
        (&Method::GET, "/v1/models") => match authorize(&router, &req) {
            Err(e) => e.response(),
            Ok(()) => models(&router),
        },
        (&Method::GET, "/metrics") => {
            let text = super::metrics::render(&router.table.load(), &router.conns);
            Response::builder()
                .header(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")
                .body(super::full(text))
                .expect("valid response")
        }
        (&Method::POST, "/v1/chat/completions") => counted(router, req, Kind::Chat).await,
        (&Method::POST, "/v1/completions") => counted(router, req, Kind::Text).await,
        (m, p) => {
            ApiError::new(StatusCode::NOT_FOUND, "invalid_request_error", format!("Unknown request URL: {m} {p}."))
                .code("unknown_url")
                .response()
        }
    }
}

/// Runs a completion and counts its final status (and, for whole answers, its latency).
async fn counted(router: Arc<Router>, req: ApiRequest, kind: Kind) -> Response<Body> {
    let started = Instant::now();
    let mut route = None;
    let resp = completion(router, req, kind, &mut route, started).await.unwrap_or_else(|e| e.response());
    if let Some(r) = route {
        r.metrics.status(resp.status().as_u16());
        if !matches!(resp.body(), Body::Channel(_)) && resp.status().is_success() {
            let took = started.elapsed();
            r.metrics.ttft.observe(took);
            r.metrics.e2e.observe(took);
        }
    }
    resp
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Chat,
    Text,
}

fn ready(router: &Router) -> Response<Body> {
    let t = router.table.load();
    let missing: Vec<&String> = t.order.iter().filter(|m| !t.routes[*m].has_active()).collect();
    if missing.is_empty() && !t.order.is_empty() {
        json_response(StatusCode::OK, &json!({"status": "ready", "models": t.order}))
    } else {
        json_response(StatusCode::SERVICE_UNAVAILABLE, &json!({"status": "not ready", "without_backend": missing}))
    }
}

fn models(router: &Router) -> Response<Body> {
    let t = router.table.load();
    let data: Vec<Value> =
        t.order.iter().map(|m| json!({"id": m, "object": "model", "created": 0, "owned_by": "garnet"})).collect();
    json_response(StatusCode::OK, &json!({"object": "list", "data": data}))
}

fn authorize(router: &Router, req: &ApiRequest) -> Result<(), ApiError> {
    let Some(keys) = &router.options.api_keys else { return Ok(()) };
    // The scheme is case-insensitive (RFC 9110 §11.1): `bearer KEY` is as good as `Bearer KEY`.
    let given = req.authorization.as_deref().and_then(bearer);
    match given {
        Some(k) if keys.iter().any(|key| constant_time_eq(key.as_bytes(), k.trim().as_bytes())) => Ok(()),
        Some(_) => Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_request_error", "Incorrect API key provided.")
            .code("invalid_api_key")),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "You didn't provide an API key. Send it as `Authorization: Bearer KEY`.",
        )
        .code("invalid_api_key")),
    }
}

/// The credentials of an `Authorization: Bearer …` value, the scheme matched in any case.
pub(crate) fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a loader answered: a whole body (or the error reading it), or a stream to relay.
enum Answer {
    Whole(u16, Result<Bytes, super::upstream::Error>),
    Stream(super::upstream::Body),
}

/// Largest whole (non-streamed) answer accepted from a loader.
const UPSTREAM_BODY_LIMIT: usize = 64 << 20;

/// A backend slot, given back when dropped (also when a stream ends or the client leaves).
/// The request's end is counted on its backend once, by [`Slot::end`]; a slot dropped without
/// it was dropped because the client left.
struct Slot {
    backend: Arc<Backend>,
    route: Arc<Route>,
    ended: bool,
    /// The request's arrival, its wait for this slot, whether it streams, when its first byte
    /// went out and its usage: what its end records (counters, sketches, the access log).
    started: Instant,
    queue: Duration,
    stream: bool,
    ttft: Option<Duration>,
    usage: Usage,
    log: Option<Arc<super::access::AccessLog>>,
    /// Its start in the router's journal, when the router keeps one (`--state-dir`).
    journal: Option<(Arc<super::journal::Journal>, u64)>,
    /// Prompt bytes counted in the backend's `prefill_pending` until the first byte.
    prefill: usize,
}

/// How a request ended on a backend (see `table::Counters`); `Retried`: this attempt ended, the
/// request goes on elsewhere.
#[derive(Clone, Copy, PartialEq)]
enum Ended {
    Ok,
    Failed,
    Cut,
    Rejected,
    ClientGone,
    Retried,
}

impl Slot {
    fn new(backend: Arc<Backend>, route: &Arc<Route>, prefill: usize, started: Instant, queue: Duration) -> Slot {
        Slot {
            backend,
            route: route.clone(),
            ended: false,
            started,
            queue,
            stream: false,
            ttft: None,
            usage: Usage::default(),
            log: None,
            journal: None,
            prefill,
        }
    }

    /// The first byte is back (or the request ended): its prefill is no longer queued.
    fn first_byte(&mut self) {
        self.first_byte_at(self.started.elapsed());
    }

    /// [`Slot::first_byte`], `elapsed` after the request's arrival.
    fn first_byte_at(&mut self, elapsed: Duration) {
        self.ttft = Some(elapsed);
        self.backend.counters.ttft.observe(elapsed);
        self.prefilled();
    }

    fn prefilled(&mut self) {
        if self.prefill > 0 {
            self.backend.prefill_pending.fetch_sub(self.prefill, Ordering::AcqRel);
            self.prefill = 0;
        }
    }

    /// The backend failed this request after it had it (not retried): counted, and the 502.
    fn failed(&mut self, message: String) -> ApiError {
        self.backend.counters.failures.fetch_add(1, Ordering::Relaxed);
        self.end(Ended::Failed);
        ApiError::new(StatusCode::BAD_GATEWAY, "server_error", message).code("upstream_error")
    }

    /// Counts the request's end once: its outcome, its end-to-end latency (whole answers and
    /// streams, also cut ones), and its access-log line with the very same durations.
    fn end(&mut self, how: Ended) {
        if !self.ended {
            self.end_at(how, self.started.elapsed());
        }
    }

    /// [`Slot::end`], `e2e` after the request's arrival.
    fn end_at(&mut self, how: Ended, e2e: Duration) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.prefilled();
        let name = match how {
            Ended::Ok => "ok",
            Ended::Failed => "failed",
            Ended::Cut => "cut",
            Ended::Rejected => "rejected",
            Ended::ClientGone => "client_gone",
            Ended::Retried => "retried",
        };
        // Outcome, tokens and latency are counted together (and with the journal's line).
        let end = super::journal::End {
            e: self.journal.as_ref().map_or(0, |j| j.1),
            b: std::borrow::Cow::Borrowed(&self.backend.id),
            o: std::borrow::Cow::Borrowed(name),
            l: matches!(how, Ended::Ok | Ended::Cut).then(|| e2e.as_secs_f64()),
            p: self.usage.prompt_tokens,
            c: self.usage.completion_tokens,
            k: self.usage.cached_tokens,
        };
        match &self.journal {
            Some((j, _)) => j.end(&self.backend, end),
            None => super::journal::count_end(&self.backend, &end),
        }
        if how == Ended::Retried {
            return;
        }
        if let Some(log) = &self.log {
            use super::access::ms;
            log.write(&super::access::Record {
                at: jiff::Timestamp::now()
                    .round(jiff::Unit::Millisecond)
                    .unwrap_or_else(|_| jiff::Timestamp::now())
                    .to_string(),
                model: &self.route.name,
                backend: &self.backend.id,
                outcome: name,
                stream: self.stream,
                e2e_ms: ms(e2e),
                ttft_ms: self.ttft.map(ms),
                queue_ms: ms(self.queue),
                prompt_tokens: self.usage.prompt_tokens,
                completion_tokens: self.usage.completion_tokens,
                cached_tokens: self.usage.cached_tokens,
            });
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.end(Ended::ClientGone);
        self.backend.release();
        self.route.queue.notify.notify_one();
    }
}

/// Waits for a slot on `route`, up to the queue limit and the queue-wait timeout.
/// Ends an attempt whose backend failed without a byte sent to the client: the backend is
/// counted as failed and left out of the next pick; an error when no backend is left to try.
fn retry_elsewhere(
    mut slot: Slot,
    tried: &mut Vec<String>,
    model: &str,
    e: &dyn std::fmt::Display,
) -> Result<(), ApiError> {
    slot.backend.counters.failures.fetch_add(1, Ordering::Relaxed);
    tried.push(slot.backend.id.clone());
    let last = tried.len() >= slot.route.backends.len();
    slot.end(if last { Ended::Failed } else { Ended::Retried });
    if last {
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "server_error",
            format!("Every backend of model `{model}` failed: last error: {e}."),
        )
        .code("upstream_unavailable"));
    }
    Ok(())
}

/// The request's own members, checked and shaped for the loader: `messages` or `prompt` present,
/// one choice, `max_tokens` capped (and set when absent), streams asking for their usage.
/// Returns whether it streams, whether the client asked for usage itself, and the `max_tokens`
/// to send (the router writes it over the client's when sending).
fn shape(
    obj: &mut super::rewrite::Members<'_>,
    kind: Kind,
    route: &Route,
) -> Result<(bool, bool, Option<u64>), ApiError> {
    match kind {
        Kind::Chat if obj.is_nonempty_array("messages") => {}
        Kind::Chat if obj.get("messages").is_some() => {
            return Err(ApiError::invalid("`messages` must be a non-empty array.", Some("messages")));
        }
        Kind::Chat => return Err(ApiError::invalid("Missing required parameter: 'messages'.", Some("messages"))),
        Kind::Text => match obj.get("prompt").map(|r| r.as_bytes()[0]) {
            Some(b'"' | b'[') => {}
            Some(_) => return Err(ApiError::invalid("`prompt` must be a string or an array.", Some("prompt"))),
            None => return Err(ApiError::invalid("Missing required parameter: 'prompt'.", Some("prompt"))),
        },
    }

    // One choice per request: the loader (mlx_lm.server) would silently answer `n: 4` with one.
    for key in ["n", "best_of"] {
        match obj.get(key).map(serde_json::from_str::<u64>) {
            None | Some(Ok(1)) => {}
            Some(Ok(n)) => {
                return Err(ApiError::invalid(
                    format!(
                        "`{key}` is {n}, but this model's loader generates one choice per request: send {n} requests instead."
                    ),
                    Some(key),
                )
                .code("unsupported_value"));
            }
            Some(Err(_)) => {
                return Err(ApiError::invalid(format!("`{key}` must be a positive integer."), Some(key)));
            }
        }
    }

    // max_tokens: capped, and set when absent (the loader's own default ignores the context).
    let mut asked = None;
    for key in ["max_tokens", "max_completion_tokens"] {
        if let Some(raw) = obj.get(key) {
            match serde_json::from_str::<u64>(raw) {
                Ok(n) => asked = Some(n),
                Err(_) => {
                    return Err(ApiError::invalid(
                        format!("`{key}` must be a positive integer."),
                        Some(if key == "max_tokens" { "max_tokens" } else { "max_completion_tokens" }),
                    ));
                }
            }
        }
    }
    obj.remove("max_completion_tokens");
    let max_tokens = route.max_tokens.map(|cap| asked.map_or(cap as u64, |a| a.min(cap as u64))).or(asked);
    let stream = match obj.get("stream").map(serde_json::from_str::<bool>) {
        None => false,
        Some(Ok(b)) => b,
        Some(Err(_)) => return Err(ApiError::invalid("`stream` must be a boolean.", Some("stream"))),
    };
    let wants_usage = obj
        .get("stream_options")
        .and_then(|r| serde_json::from_str::<Value>(r).ok())
        .and_then(|o| o.get("include_usage").and_then(|b| b.as_bool()))
        .unwrap_or(false);
    if stream {
        obj.set("stream_options", r#"{"include_usage":true}"#);
    } else {
        obj.remove("stream_options");
    }
    Ok((stream, wants_usage, max_tokens))
}

/// A slot for a request that arrived at `started`; its queue wait is zero when a backend had room
/// at once (the clock is read only for a wait).
async fn acquire(
    route: &Arc<Route>,
    tried: &[String],
    prompt: &super::affinity::Prompt,
    started: Instant,
) -> Result<Slot, ApiError> {
    if let Some((b, prefill)) = route.pick_for(tried, prompt) {
        return Ok(Slot::new(b, route, prefill, started, Duration::ZERO));
    }
    let asked = Instant::now();
    if !route.backends.iter().any(|b| !b.draining.load(Ordering::Acquire) && !tried.contains(&b.id)) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            format!("No ready backend for model `{}`.", route.name),
        )
        .code("no_backend"));
    }
    let q = &route.queue;
    if q.waiting.fetch_add(1, Ordering::AcqRel) >= route.queue_limit {
        q.waiting.fetch_sub(1, Ordering::AcqRel);
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "requests",
            format!("Model `{}` is at capacity and its queue is full; retry shortly.", route.name),
        )
        .code("rate_limit_exceeded");
        e.retry_after = Some(1);
        return Err(e);
    }
    let wait = Duration::from_millis(route.timeouts.queue_wait_ms);
    let result = tokio::time::timeout(wait, async {
        loop {
            let notified = q.notify.notified();
            if let Some(placed) = route.pick_for(tried, prompt) {
                return placed;
            }
            notified.await;
        }
    })
    .await;
    q.waiting.fetch_sub(1, Ordering::AcqRel);
    match result {
        Ok((b, prefill)) => {
            // Pass the wake-up on: another waiter may fit too.
            q.notify.notify_one();
            Ok(Slot::new(b, route, prefill, started, asked.elapsed()))
        }
        Err(_) => {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "requests",
                format!("Model `{}` stayed at capacity for {} ms; retry shortly.", route.name, wait.as_millis()),
            )
            .code("rate_limit_exceeded");
            e.retry_after = Some(1);
            Err(e)
        }
    }
}

/// The model a request names, from the raw JSON of its `model`: most names need no unescaping,
/// and are read straight from the body.
fn model_name(raw: std::borrow::Cow<'_, str>) -> Result<std::borrow::Cow<'_, str>, serde_json::Error> {
    use std::borrow::Cow;
    match raw {
        Cow::Borrowed(raw) => match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            Some(plain) if !plain.contains('\\') => Ok(Cow::Borrowed(plain)),
            _ => serde_json::from_str::<String>(raw).map(Cow::Owned),
        },
        Cow::Owned(raw) => serde_json::from_str::<String>(&raw).map(Cow::Owned),
    }
}

async fn completion(
    router: Arc<Router>,
    req: ApiRequest,
    kind: Kind,
    found: &mut Option<Arc<Route>>,
    started: Instant,
) -> Result<Response<Body>, ApiError> {
    authorize(&router, &req)?;
    let body = req.body;
    // Top-level keys only; nested values (the messages) stay raw, unparsed and copied verbatim.
    if body.iter().find(|c| !c.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::invalid("The request body must be a JSON object.", None).code("invalid_json"));
    }
    let table = router.table.load();
    let max_depth = table.limits.max_json_depth.get();
    // Most bodies are read by the fast scan, which also holds them to the depth limit; the rest
    // are checked for depth (before any recursive parser sees them), then parsed by serde_json,
    // which words the error.
    let fast = std::str::from_utf8(&body).ok().and_then(|text| super::rewrite::Members::scan(text, max_depth));
    let mut obj = match fast {
        Some(m) => m,
        None if super::rewrite::nests_deeper_than(&body, max_depth) => {
            return Err(ApiError::invalid(
                format!("The request body nests arrays or objects deeper than {max_depth} levels."),
                None,
            )
            .code("invalid_json"));
        }
        None => super::rewrite::Members::parse(&body).map_err(|e| {
            ApiError::invalid(format!("We could not parse the JSON body of your request: {e}."), None)
                .code("invalid_json")
        })?,
    };
    let model = match obj.get_cow("model").map(model_name) {
        Some(Ok(m)) if !m.is_empty() => m,
        Some(_) => return Err(ApiError::invalid("`model` must be a non-empty string.", Some("model"))),
        None => return Err(ApiError::invalid("you must provide a model parameter", Some("model"))),
    };
    let Some(route) = table.routes.get(&*model).cloned() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("The model `{model}` does not exist or you do not have access to it."),
        )
        .code("model_not_found"));
    };
    drop(table);
    *found = Some(route.clone());
    let (stream, wants_usage, max_tokens) = shape(&mut obj, kind, &route)?;
    let mut max_tokens_text = itoa::Buffer::new();
    let max_tokens = max_tokens.map(|n| max_tokens_text.format(n));
    // Prefix affinity: the prompt's chained chunk hashes (the raw `messages` or `prompt` text).
    let prompt = match route.routing {
        super::table::Routing::PrefixAffinity => obj
            .get("messages")
            .or_else(|| obj.get("prompt"))
            .map(|p| super::affinity::Prompt::of(p.as_bytes()))
            .unwrap_or_default(),
        _ => super::affinity::Prompt::default(),
    };

    let mut tried = Vec::new();
    // A request whose loader died under it is retried once; a second death is not chased further.
    let mut died_retried = false;
    loop {
        let mut slot = acquire(&route, &tried, &prompt, started).await?;
        let b = slot.backend.clone();
        (slot.stream, slot.log) = (stream, router.access.clone());
        slot.journal = router.journal.as_ref().map(|j| (j.clone(), j.start(&b.id)));
        b.counters.queue_wait.observe(slot.queue);
        // The loader's own model id and the max_tokens decided above, written over the client's.
        let overrides = [("model", b.loader_json.as_str()), ("max_tokens", max_tokens.unwrap_or_default())];
        let payload =
            super::rewrite::Payload { members: &obj, overrides: &overrides[..1 + max_tokens.is_some() as usize] };
        let path = if kind == Kind::Chat { &b.chat_path } else { &b.completions_path };
        let accept = if stream { "text/event-stream" } else { "application/json" };
        b.counters.requests.fetch_add(1, Ordering::Relaxed);
        let first_byte = Duration::from_millis(route.timeouts.first_byte_ms);
        let connect = Duration::from_millis(route.timeouts.connect_ms.max(1));
        // One deadline for the answer's head and, when it comes whole, its body.
        let exchange = async {
            let r = b.pool.post(path, accept, &payload, connect).await?;
            let ok = (200..300).contains(&r.status);
            if stream && ok {
                return Ok(Answer::Stream(r.body));
            }
            Ok::<_, super::upstream::Error>(Answer::Whole(
                r.status,
                r.body.collect(if ok { UPSTREAM_BODY_LIMIT } else { 1 << 20 }).await,
            ))
        };
        // From the attempt's start: the request's arrival, for a first attempt that did not wait.
        let attempt = if tried.is_empty() && slot.queue.is_zero() { started } else { Instant::now() };
        let answer = match tokio::time::timeout_at((attempt + first_byte).into(), exchange).await {
            Err(_) => {
                b.counters.failures.fetch_add(1, Ordering::Relaxed);
                slot.end(Ended::Failed);
                return Err(ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "server_error",
                    format!("Backend `{}` did not answer within {} ms.", b.id, first_byte.as_millis()),
                )
                .code("upstream_timeout"));
            }
            Ok(Err(e)) => {
                // Retried elsewhere only when the loader never got the request, or died with it
                // (killed, crashed; once per request). A loader that stays up after failing a
                // request without answering failed on the request's own doing (a body it cannot
                // parse, say): not retried — a request that breaks one loader would break them
                // all — and not held against the backend.
                let died = !e.unsent && e.before_response && !died_retried && b.pool.is_down(connect).await;
                if !e.unsent && !died {
                    let own = e.before_response;
                    if !own {
                        b.counters.failures.fetch_add(1, Ordering::Relaxed);
                    }
                    slot.end(if own { Ended::Rejected } else { Ended::Failed });
                    tracing::warn!(backend = %b.id, "upstream failed on a request{}: {e}", if own { " and stayed up" } else { "" });
                    return Err(ApiError::new(
                        StatusCode::BAD_GATEWAY,
                        "server_error",
                        format!("Backend `{}` failed on this request: {e}.", b.id),
                    )
                    .code("upstream_error"));
                }
                died_retried |= died;
                tracing::warn!(backend = %b.id, "upstream request {}: {e}", if died { "lost with its loader" } else { "not delivered" });
                retry_elsewhere(slot, &mut tried, &model, &e)?;
                continue;
            }
            Ok(Ok(a)) => a,
        };
        let (status, body) = match answer {
            Answer::Stream(body) => {
                return Ok(stream_response(
                    body,
                    slot,
                    model.into_owned(),
                    wants_usage,
                    Duration::from_millis(route.timeouts.idle_ms),
                    started,
                ));
            }
            Answer::Whole(status, body) => (status, body),
        };
        if !(200..300).contains(&status) {
            // A 4xx is the loader refusing this request: the client's error, not the backend's.
            if (400..500).contains(&status) {
                slot.end(Ended::Rejected);
            } else {
                b.counters.failures.fetch_add(1, Ordering::Relaxed);
                slot.end(Ended::Failed);
            }
            let body = body.unwrap_or_default();
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            let as_json: Option<Value> = serde_json::from_slice(&body).ok();
            let v = match as_json {
                Some(v) if v.get("error").is_some_and(|e| e.is_object()) => v,
                _ => {
                    json!({"error": {"message": format!("Backend `{}` answered {status}: {}", b.id, String::from_utf8_lossy(&body).trim()), "type": "server_error", "param": null, "code": "upstream_error"}})
                }
            };
            return Ok(json_response(status, &v));
        }
        let body = match body {
            Ok(c) => c,
            // Nothing went to the client yet: a whole answer its loader died in the middle of
            // is retried elsewhere, once, as a request lost with its loader before the head is.
            Err(e) if !died_retried && b.pool.is_down(connect).await => {
                died_retried = true;
                tracing::warn!(backend = %b.id, "upstream answer lost with its loader: {e}");
                retry_elsewhere(slot, &mut tried, &model, &e)?;
                continue;
            }
            Err(e) => return Err(slot.failed(format!("Backend `{}` broke off its answer: {e}.", b.id))),
        };
        let scan = match super::rewrite::read_answer(&body) {
            Ok(a) => a,
            Err(e) => return Err(slot.failed(format!("Backend `{}` sent invalid JSON: {e}", b.id))),
        };
        if let Some(u) = scan.usage {
            slot.usage = u;
        }
        let took = started.elapsed();
        slot.first_byte_at(took);
        slot.end_at(Ended::Ok, took);
        drop(slot);
        // The client sees the public name wherever the loader put its own.
        use super::rewrite::ModelAt;
        let out = match scan.model {
            ModelAt::Absent => body,
            ModelAt::At(r) if body[r.clone()] == route.name_json[..] => body,
            ModelAt::At(r) => {
                let mut out = Vec::with_capacity(body.len() - r.len() + route.name_json.len());
                out.extend_from_slice(&body[..r.start]);
                out.extend_from_slice(&route.name_json);
                out.extend_from_slice(&body[r.end..]);
                Bytes::from(out)
            }
            ModelAt::Unknown => match super::rewrite::swap_model(&body, b.loader_json.as_bytes(), &route.name_json) {
                Some(out) => Bytes::from(out),
                None => {
                    let mut v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    if v.get("model").is_some() {
                        v["model"] = Value::String(model.to_string());
                    }
                    Bytes::from(serde_json::to_vec(&v).expect("json serializes"))
                }
            },
        };
        // No header map to fill and free: an answer without a content type is written as JSON.
        return Ok(Response::new(super::full(out)));
    }
}

/// Relays an SSE stream through the rewriter. A failure after the first byte ends the stream with
/// an OpenAI-style error event (the SDK raises it) rather than a silent truncation.
fn stream_response(
    mut upstream: super::upstream::Body,
    slot: Slot,
    model: String,
    wants_usage: bool,
    idle: Duration,
    started: Instant,
) -> Response<Body> {
    let (tx, rx) = mpsc::channel::<Bytes>(32);
    tokio::spawn(async move {
        let mut slot = slot;
        let mut rw = Rewriter::new(&slot.backend.loader_model, &model, wants_usage);
        let metrics = slot.route.metrics.clone();
        let mut first = true;
        let mut last_chunk = started;
        let failure = loop {
            let next = tokio::select! {
                biased;
                r = tokio::time::timeout(idle, upstream.chunk()) => r,
                // The client left while the loader was quiet: stop now, not at its next token.
                () = tx.closed() => {
                    if rw.saw_done {
                        break None; // the whole answer was relayed; the client left before the loader closed
                    }
                    return;
                }
            };
            match next {
                Err(_) => break Some(format!("backend `{}` went silent for {} ms", slot.backend.id, idle.as_millis())),
                Ok(Ok(None)) => break None,
                Ok(Err(e)) => break Some(format!("backend `{}` failed mid-stream: {e}", slot.backend.id)),
                Ok(Ok(Some(data))) => {
                    let out = rw.feed(&data);
                    if !out.is_empty() {
                        let now = Instant::now();
                        if first {
                            metrics.ttft.observe(started.elapsed());
                            slot.first_byte();
                            first = false;
                        } else {
                            slot.backend.counters.itl.observe(now - last_chunk);
                        }
                        last_chunk = now;
                        if tx.send(out).await.is_err() {
                            if rw.saw_done {
                                break None; // the client left right after `[DONE]`: a whole answer
                            }
                            return; // client left: dropping `upstream` closes the connection, stopping the generation
                        }
                    }
                }
            }
        };
        let tail = rw.finish();
        if !tail.is_empty() {
            let _ = tx.send(tail).await;
        }
        let failure = failure.or_else(|| {
            (!rw.saw_done).then(|| format!("backend `{}` ended the stream without [DONE]", slot.backend.id))
        });
        if let Some(u) = rw.usage {
            slot.usage = u;
        }
        if let Some(msg) = &failure {
            slot.backend.counters.failures.fetch_add(1, Ordering::Relaxed);
            metrics.broken_streams.fetch_add(1, Ordering::Relaxed);
            let ev =
                json!({"error": {"message": msg, "type": "server_error", "param": null, "code": "upstream_error"}});
            let _ = tx.send(Bytes::from(format!("data: {ev}\n\n"))).await;
        }
        metrics.e2e.observe(started.elapsed());
        slot.end(if failure.is_some() { Ended::Cut } else { Ended::Ok });
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::Channel(rx))
        .expect("valid response")
}
