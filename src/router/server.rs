//! The router's HTTP/1.1 server for the OpenAI API: one task per client connection reads a
//! request head (`httparse`), its body (by length or chunked, within the body limit), runs the
//! handler and writes the answer, then the next request on the same connection (keep-alive,
//! pipelining). A stream is written chunk by chunk as the relay produces it.
//!
//! It replaces hyper's server on this one listener because hyper's general dispatcher (header map,
//! body channels, service futures) was most of the router's user-space CPU per request; the admin
//! API keeps hyper. What it does not do is refused plainly: other transfer codings (501), heads over
//! 64 KiB (431), malformed requests (400): every such answer an OpenAI-shaped JSON error, and the
//! connection closed after it.
//!
//! While a handler runs, the connection is watched for the client leaving: the handler is then
//! dropped, which cancels its upstream.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Buf, Bytes, BytesMut};
use hyper::{Method, StatusCode};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::error::ApiError;
use super::h1::{self, DecodeError, Decoder, Framing};
use super::{Body, Router};

const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 64;

/// What the OpenAI handlers need of a request.
pub struct ApiRequest {
    pub method: Method,
    /// Without the query string; the paths the router serves are not copied.
    pub path: Cow<'static, str>,
    pub authorization: Option<String>,
    pub body: Bytes,
}

struct Head {
    method: Method,
    path: Cow<'static, str>,
    http11: bool,
    framing: Framing,
    /// The client asked to close, or the framing requires it afterwards.
    close: bool,
    expect_continue: bool,
    authorization: Option<String>,
}

enum Parsed {
    Head(Head),
    Partial,
    Bad(ApiError),
}

/// The paths the OpenAI side serves (see `proxy::handle`): a request for one of them holds it
/// without an allocation.
const PATHS: [&str; 6] = ["/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/ready", "/metrics"];

/// Parses a request head off `buf`; its `Authorization` value is kept when `keep_auth` (the
/// router checks API keys).
fn parse_head(buf: &mut BytesMut, keep_auth: bool) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let n = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
            return Parsed::Bad(
                ApiError::new(
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    "invalid_request_error",
                    "The request head is larger than 64 KiB.",
                )
                .code("request_too_large"),
            );
        }
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => {
            return Parsed::Bad(
                ApiError::new(
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    "invalid_request_error",
                    format!("The request has more than {MAX_HEADERS} headers."),
                )
                .code("request_too_large"),
            );
        }
        Err(e) => return Parsed::Bad(ApiError::invalid(format!("Malformed HTTP request: {e}."), None)),
    };
    let method = match Method::from_bytes(req.method.unwrap_or_default().as_bytes()) {
        Ok(m) => m,
        Err(_) => return Parsed::Bad(ApiError::invalid("Malformed HTTP request: bad method.", None)),
    };
    let http11 = req.version == Some(1);
    let target = req.path.unwrap_or("/");
    // Absolute form (`http://host/path`), as some proxies send it.
    let target = if target.starts_with('/') {
        target
    } else {
        match target.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => target,
        }
    };
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    let path = PATHS.iter().find(|k| **k == path).map_or_else(|| Cow::Owned(path.to_string()), |k| Cow::Borrowed(*k));
    let (mut length, mut chunked, mut close, mut keep, mut expect_continue, mut authorization) =
        (None, false, false, false, false, None);
    for h in req.headers.iter() {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            match h1::content_length(h.value) {
                Some(n) if length.is_none_or(|l| l == n) => length = Some(n),
                _ => return Parsed::Bad(ApiError::invalid("Malformed HTTP request: bad Content-Length.", None)),
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if !h1::is_chunked(h.value) {
                return Parsed::Bad(
                    ApiError::new(
                        StatusCode::NOT_IMPLEMENTED,
                        "invalid_request_error",
                        "Only the chunked transfer coding is supported.",
                    )
                    .code("unsupported_encoding"),
                );
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            let (c, k) = h1::connection_tokens(h.value);
            close |= c;
            keep |= k;
        } else if name.eq_ignore_ascii_case(b"expect") {
            expect_continue = h.value.trim_ascii().eq_ignore_ascii_case(b"100-continue");
        } else if keep_auth && name.eq_ignore_ascii_case(b"authorization") {
            authorization = std::str::from_utf8(h.value).ok().map(str::to_string);
        }
    }
    let framing = match (chunked, length) {
        (true, _) => Framing::Chunked,
        (false, n) => Framing::Length(n.unwrap_or(0)),
    };
    // Both codings at once is a smuggling pattern: serve it by the chunked coding, then close.
    close |= chunked && length.is_some();
    close |= !http11 && !keep;
    buf.advance(n);
    Parsed::Head(Head { method, path, http11, framing, close, expect_continue, authorization })
}

/// The head parser for the fuzz targets: the body framing of a parsed head (the head consumed
/// from `buf`), or `None` for a partial or refused one.
pub(crate) fn fuzz_head(buf: &mut BytesMut) -> Option<Framing> {
    match parse_head(buf, true) {
        Parsed::Head(h) => Some(h.framing),
        _ => None,
    }
}

/// A connection over the cap: a 503 if the socket takes it at once, then closed.
pub(super) fn refuse(io: TcpStream) {
    let e = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "server_error",
        "The router is at its connection limit; retry shortly.",
    )
    .code("too_many_connections");
    let _ = io.try_write(&canned(e));
}

/// An error answer as bytes, for writes that must not wait (`try_write`).
fn canned(e: ApiError) -> Vec<u8> {
    let (parts, body) = e.response().into_parts();
    let body = match body {
        Body::Full(b) => b.unwrap_or_default(),
        Body::Channel(_) => Bytes::new(),
    };
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        parts.status.as_str(),
        parts.status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

fn timed_out(what: &str) -> ApiError {
    ApiError::new(StatusCode::REQUEST_TIMEOUT, "invalid_request_error", format!("The request {what} came too slowly."))
        .code("request_timeout")
}

/// Serves one client connection until it closes, idles out, breaks the protocol, is too slow, or
/// `stop` is raised (then it finishes the request in progress and closes).
///
/// Deadlines (the routes' `limits`): the request head must arrive whole within
/// `header_timeout_ms` of the connection's start (or of the first byte of a kept-alive
/// connection's next request), however it trickles in; a body within `body_timeout_ms` plus a
/// second per `body_min_rate` bytes; an idle kept-alive connection lasts `keep_alive_ms`; a write
/// to a client that does not read waits at most `send_timeout_ms`.
pub(super) async fn serve_conn(
    router: Arc<Router>,
    mut io: TcpStream,
    stop: watch::Receiver<bool>,
    _guard: super::conns::ConnGuard,
) {
    use std::sync::atomic::Ordering::Relaxed;
    use tokio::time::Instant;
    let _ = io.set_nodelay(true);
    let limits = router.table.load().limits;
    let keep_auth = router.options.api_keys.is_some();
    let ms = |v: std::num::NonZeroU64| Duration::from_millis(v.get());
    let (header_timeout, keep_alive, send_timeout) =
        (ms(limits.header_timeout_ms), ms(limits.keep_alive_ms), ms(limits.send_timeout_ms));
    // Buffers are allocated when the client first sends something: a flood of idle connections
    // costs a socket and a task each, not a read buffer.
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    // One timer for the whole connection's waits. It is moved earlier when a deadline comes
    // sooner (a head starts), and when it fires early for a later deadline it is moved then:
    // re-arming a timer for every request would cost more than the wait itself.
    let mut head_deadline = Some(Instant::now() + header_timeout);
    let mut idle_since = Instant::now();
    let mut armed = head_deadline.unwrap_or(idle_since + keep_alive);
    let timer = tokio::time::sleep_until(armed);
    tokio::pin!(timer);
    // The stop signal has one waiter for the connection's whole life, too: a fresh `changed()`
    // per request registered and dropped a waiter each time, under the channel's lock.
    let mut watch_stop = stop.clone();
    let stopped = async move {
        let _ = watch_stop.changed().await; // raised, or the router is gone
    };
    tokio::pin!(stopped);
    loop {
        // The head.
        let head = loop {
            if !buf.is_empty() {
                match parse_head(&mut buf, keep_auth) {
                    Parsed::Head(h) => break h,
                    Parsed::Partial => {}
                    Parsed::Bad(e) => {
                        write_closing(&mut io, &mut out, &mut buf, e.response(), true, send_timeout).await;
                        return;
                    }
                }
            }
            let idle = buf.is_empty();
            if idle && *stop.borrow() {
                return;
            }
            if !idle && head_deadline.is_none() {
                head_deadline = Some(Instant::now() + header_timeout);
            }
            let due = head_deadline.unwrap_or(idle_since + keep_alive);
            if due < armed {
                timer.as_mut().reset(due);
                armed = due;
            }
            tokio::select! {
                r = fill_lazily(&mut io, &mut buf) => {
                    if !matches!(r, Ok(true)) {
                        return; // closed or failed: nothing is owed
                    }
                }
                () = &mut timer => {
                    if Instant::now() < due {
                        timer.as_mut().reset(due);
                        armed = due;
                        continue;
                    }
                    if !idle {
                        router.conns.slow_heads.fetch_add(1, Relaxed);
                        let _ = io.try_write(&canned(timed_out("head")));
                    }
                    return; // idle too long, or the head too slow
                }
                () = &mut stopped, if idle => return,
            }
        };
        head_deadline = None;

        // The body, within the limit and the minimum rate.
        let limit = router.options.body_limit;
        let too_large = || {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                format!("Request body is larger than {limit} bytes."),
            )
            .code("request_too_large")
        };
        if matches!(head.framing, Framing::Length(n) if n > limit as u64) {
            let r = too_large().response();
            write_closing(&mut io, &mut out, &mut buf, r, head.http11, send_timeout).await;
            linger(io).await;
            return;
        }
        let mut decoder = Decoder::new(head.framing);
        let body = match decoder.take_buffered(&mut buf) {
            Some(b) => b,
            None => {
                if head.expect_continue && io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await.is_err() {
                    return;
                }
                let started = Instant::now();
                let grace = ms(limits.body_timeout_ms);
                let mut all = BytesMut::new();
                loop {
                    let allowed = grace + Duration::from_secs_f64(all.len() as f64 / limits.body_min_rate.get() as f64);
                    match tokio::time::timeout_at(started + allowed, decoder.chunk(&mut io, &mut buf)).await {
                        Ok(Ok(Some(c))) if all.len() + c.len() <= limit => all.extend_from_slice(&c),
                        Ok(Ok(Some(_))) => {
                            let r = too_large().response();
                            write_closing(&mut io, &mut out, &mut buf, r, head.http11, send_timeout).await;
                            linger(io).await;
                            return;
                        }
                        Ok(Ok(None)) => break all.freeze(),
                        Ok(Err(DecodeError::Invalid(what))) => {
                            let e = ApiError::invalid(format!("Malformed request body: {what}."), None);
                            let r = e.response();
                            write_closing(&mut io, &mut out, &mut buf, r, head.http11, send_timeout).await;
                            return;
                        }
                        Ok(Err(_)) => return, // the client left
                        Err(_) => {
                            router.conns.slow_bodies.fetch_add(1, Relaxed);
                            let _ = io.try_write(&canned(timed_out("body")));
                            return;
                        }
                    }
                }
            }
        };

        // The handler, dropped if the client leaves meanwhile.
        let is_head = head.method == Method::HEAD;
        let req = ApiRequest { method: head.method, path: head.path, authorization: head.authorization, body };
        let handler = super::proxy::handle(router.clone(), req);
        tokio::pin!(handler);
        let resp = tokio::select! {
            biased;
            r = &mut handler => r,
            () = client_gone(&mut io, &mut buf) => return,
        };
        let close = head.close || *stop.borrow();
        match write_response(
            &mut io,
            &mut out,
            resp,
            Reply { close, http11: head.http11, head_only: is_head },
            &mut buf,
            send_timeout,
        )
        .await
        {
            Ok(true) if !close => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                router.conns.slow_reads.fetch_add(1, Relaxed);
                return;
            }
            _ => return,
        }
        idle_since = Instant::now();
    }
}

/// Reads more into `buf`, allocating it only once the socket has something to read.
async fn fill_lazily(io: &mut TcpStream, buf: &mut BytesMut) -> std::io::Result<bool> {
    if buf.capacity() == 0 {
        io.readable().await?;
    }
    h1::fill(io, buf).await
}

/// Writes a refusal and leaves the connection to be closed (errors are moot: it closes anyway).
async fn write_closing(
    io: &mut TcpStream,
    out: &mut Vec<u8>,
    buf: &mut BytesMut,
    resp: hyper::Response<Body>,
    http11: bool,
    send_timeout: Duration,
) {
    let _ = write_response(io, out, resp, Reply::closing(http11), buf, send_timeout).await;
}

/// `write_all` that gives up after `limit` (a client that stopped reading).
async fn send(w: &mut (impl tokio::io::AsyncWrite + Unpin), data: &[u8], limit: Duration) -> std::io::Result<()> {
    match tokio::time::timeout(limit, w.write_all(data)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the client stopped reading")),
    }
}

/// After an answer refusing a request whose body was not read: stop writing, then read and
/// discard what the client still sends (for a while), so it gets to read the answer instead of a
/// reset (nginx's lingering close).
async fn linger(mut io: TcpStream) {
    let _ = io.shutdown().await;
    let discard = async {
        let mut sink = vec![0u8; 64 * 1024];
        let mut total = 0usize;
        while total < 64 << 20 {
            match tokio::io::AsyncReadExt::read(&mut io, &mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), discard).await;
}

/// Resolves when the client closes its side (bytes it sends meanwhile, a pipelined request, are
/// kept for later, up to a limit past which the connection is not read). Watching from the start
/// measured no slower than after a grace timer (one failed read against a timer's arm and clear).
async fn client_gone<R: tokio::io::AsyncRead + Unpin>(io: &mut R, buf: &mut BytesMut) {
    while buf.len() < MAX_HEAD {
        if !matches!(h1::fill(io, buf).await, Ok(true)) {
            return;
        }
    }
    std::future::pending::<()>().await
}

thread_local! {
    static DATE: RefCell<(u64, String)> = const { RefCell::new((0, String::new())) };
}

/// The `Date` header's value, formatted once per second per thread.
fn http_date(out: &mut Vec<u8>) {
    let now = SystemTime::now();
    let secs = now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE.with(|d| {
        let mut d = d.borrow_mut();
        if d.0 != secs || d.1.is_empty() {
            *d = (secs, httpdate::fmt_http_date(now));
        }
        out.extend_from_slice(d.1.as_bytes());
    });
}

/// How an answer is written: whether the connection closes after it, the client's HTTP version,
/// and whether the request was `HEAD` (no body).
#[derive(Clone, Copy)]
struct Reply {
    close: bool,
    http11: bool,
    head_only: bool,
}

impl Reply {
    /// An answer after which the connection closes (refusals).
    fn closing(http11: bool) -> Reply {
        Reply { close: true, http11, head_only: false }
    }
}

/// Writes `resp`; a stream is relayed as the relay produces it (chunked to HTTP/1.1 clients, to
/// the end of the connection otherwise). Returns whether the connection may serve another request.
async fn write_response(
    io: &mut TcpStream,
    out: &mut Vec<u8>,
    resp: hyper::Response<Body>,
    reply: Reply,
    buf: &mut BytesMut,
    send_timeout: Duration,
) -> std::io::Result<bool> {
    let Reply { mut close, http11, head_only } = reply;
    let (parts, body) = resp.into_parts();
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(parts.status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(parts.status.canonical_reason().unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        if matches!(name.as_str(), "content-length" | "transfer-encoding" | "connection") {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !parts.headers.contains_key(hyper::header::CONTENT_TYPE) {
        // The handlers leave it out of a whole JSON answer (see `proxy::completion`).
        out.extend_from_slice(b"content-type: application/json\r\n");
    }
    out.extend_from_slice(b"date: ");
    http_date(out);
    out.extend_from_slice(b"\r\n");
    match body {
        Body::Full(b) => {
            let b = b.unwrap_or_default();
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(itoa::Buffer::new().format(b.len()).as_bytes());
            out.extend_from_slice(if close { b"\r\nconnection: close\r\n\r\n" } else { b"\r\n\r\n" });
            if !head_only {
                out.extend_from_slice(&b);
            }
            // Most answers fit the socket's buffer: written at once, with no timer set up.
            let sent = match io.try_write(out) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
                Err(e) => return Err(e),
            };
            if sent < out.len() {
                send(io, &out[sent..], send_timeout).await?;
            }
            Ok(!close)
        }
        Body::Channel(mut rx) => {
            close |= !http11;
            out.extend_from_slice(if http11 { b"transfer-encoding: chunked\r\n" } else { b"" });
            out.extend_from_slice(if close { b"connection: close\r\n\r\n" } else { b"\r\n" });
            send(io, out, send_timeout).await?;
            if head_only {
                return Ok(false);
            }
            // One watch for the client leaving over the whole stream (not a read per chunk), and
            // the chunks that are already waiting go out in one write.
            let (mut rd, mut wr) = io.split();
            let gone = client_gone(&mut rd, buf);
            tokio::pin!(gone);
            loop {
                let first = tokio::select! {
                    biased;
                    c = rx.recv() => c,
                    () = &mut gone => return Ok(false), // dropping `rx` stops the relay
                };
                out.clear();
                let mut next = first;
                let ended = loop {
                    match next {
                        Some(c) if c.is_empty() => {}
                        Some(c) if http11 => {
                            out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                            out.extend_from_slice(&c);
                            out.extend_from_slice(b"\r\n");
                        }
                        Some(c) => out.extend_from_slice(&c),
                        None => {
                            if http11 {
                                out.extend_from_slice(b"0\r\n\r\n");
                            }
                            break true;
                        }
                    }
                    match rx.try_recv() {
                        Ok(c) => next = Some(c),
                        Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => next = None,
                        Err(tokio::sync::mpsc::error::TryRecvError::Empty) => break false,
                    }
                };
                if !out.is_empty() {
                    send(&mut wr, out, send_timeout).await?;
                }
                if ended {
                    return Ok(http11 && !close);
                }
            }
        }
    }
}
