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
/// An idle kept-alive connection is closed after this long (nginx's default).
const KEEP_ALIVE: Duration = Duration::from_secs(75);
/// A request head or body that stalls this long closes the connection.
const READ_STALL: Duration = Duration::from_secs(30);

/// What the OpenAI handlers need of a request.
pub struct ApiRequest {
    pub method: Method,
    /// Without the query string.
    pub path: String,
    pub authorization: Option<String>,
    pub body: Bytes,
}

struct Head {
    method: Method,
    path: String,
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

fn parse_head(buf: &mut BytesMut) -> Parsed {
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
    let target = match target.split_once("://") {
        Some((_, rest)) if !target.starts_with('/') => rest.find('/').map_or("/", |i| &rest[i..]),
        _ => target,
    };
    let path = target.split_once('?').map_or(target, |(p, _)| p).to_string();
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
        } else if name.eq_ignore_ascii_case(b"authorization") {
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

/// Serves one client connection until it closes, idles out, breaks the protocol, or `stop` is
/// raised (then it finishes the request in progress and closes).
pub(super) async fn serve_conn(router: Arc<Router>, mut io: TcpStream, mut stop: watch::Receiver<bool>) {
    let _ = io.set_nodelay(true);
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let mut out = Vec::with_capacity(1024);
    // One timer for the whole connection's waits, moved at most once a second: re-arming a timer
    // for every request would cost more than the wait itself.
    let timer = tokio::time::sleep(KEEP_ALIVE);
    tokio::pin!(timer);
    let mut armed = (tokio::time::Instant::now(), KEEP_ALIVE);
    loop {
        // The head.
        let head = loop {
            if !buf.is_empty() {
                match parse_head(&mut buf) {
                    Parsed::Head(h) => break h,
                    Parsed::Partial => {}
                    Parsed::Bad(e) => {
                        let _ = write_response(&mut io, &mut out, e.response(), true, true, false, &mut buf).await;
                        return;
                    }
                }
            }
            let idle = buf.is_empty();
            if idle && *stop.borrow() {
                return;
            }
            let limit = if idle { KEEP_ALIVE } else { READ_STALL };
            let now = tokio::time::Instant::now();
            if armed.1 != limit || now.duration_since(armed.0) > Duration::from_secs(1) {
                timer.as_mut().reset(now + limit);
                armed = (now, limit);
            }
            tokio::select! {
                r = h1::fill(&mut io, &mut buf) => {
                    if !matches!(r, Ok(true)) {
                        return; // closed or failed: nothing is owed
                    }
                }
                () = &mut timer => return, // idle or stalled
                _ = stop.changed(), if idle => return,
            }
        };

        // The body, within the limit.
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
            let _ = write_response(&mut io, &mut out, too_large().response(), true, head.http11, false, &mut buf).await;
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
                let mut all = BytesMut::new();
                loop {
                    match tokio::time::timeout(READ_STALL, decoder.chunk(&mut io, &mut buf)).await {
                        Ok(Ok(Some(c))) if all.len() + c.len() <= limit => all.extend_from_slice(&c),
                        Ok(Ok(Some(_))) => {
                            let r = too_large().response();
                            let _ = write_response(&mut io, &mut out, r, true, head.http11, false, &mut buf).await;
                            linger(io).await;
                            return;
                        }
                        Ok(Ok(None)) => break all.freeze(),
                        Ok(Err(DecodeError::Invalid(what))) => {
                            let e = ApiError::invalid(format!("Malformed request body: {what}."), None);
                            let _ = write_response(&mut io, &mut out, e.response(), true, head.http11, false, &mut buf)
                                .await;
                            return;
                        }
                        _ => return, // the client left or stalled
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
        match write_response(&mut io, &mut out, resp, close, head.http11, is_head, &mut buf).await {
            Ok(true) if !close => {}
            _ => return,
        }
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

/// Writes `resp`; a stream is relayed as the relay produces it (chunked to HTTP/1.1 clients, to
/// the end of the connection otherwise). Returns whether the connection may serve another request.
async fn write_response(
    io: &mut TcpStream,
    out: &mut Vec<u8>,
    resp: hyper::Response<Body>,
    mut close: bool,
    http11: bool,
    head_only: bool,
    buf: &mut BytesMut,
) -> std::io::Result<bool> {
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
            io.write_all(out).await?;
            Ok(!close)
        }
        Body::Channel(mut rx) => {
            close |= !http11;
            out.extend_from_slice(if http11 { b"transfer-encoding: chunked\r\n" } else { b"" });
            out.extend_from_slice(if close { b"connection: close\r\n\r\n" } else { b"\r\n" });
            io.write_all(out).await?;
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
                    wr.write_all(out).await?;
                }
                if ended {
                    return Ok(http11 && !close);
                }
            }
        }
    }
}
