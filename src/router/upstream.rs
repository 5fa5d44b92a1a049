//! The router's own HTTP/1.1 client to the loaders.
//!
//! A request runs entirely in the task that serves the client: it checks a kept-alive connection
//! out of the backend's pool for the current worker thread (or connects), writes the request in
//! one write, parses the answer's head with `httparse` and reads the body in that same task. A
//! general-purpose pooled client (hyper-util's) hands each request to a separate connection task
//! through channels instead; on the router's hot path that hop cost more than all the JSON work.
//!
//! Bodies are framed by `Content-Length`, chunked encoding, or the end of the connection (what
//! `mlx_lm.server`, an HTTP/1.0 server, does for streams). A connection goes back to the pool only
//! after its body was read to the end and the server allowed keep-alive; dropping a [`Body`] early
//! closes the connection, which is how a client that leaves cancels the generation upstream.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncWriteExt;

use super::h1::{self, DecodeError, Decoder, Framing};
use tokio::net::TcpStream;

/// How long an idle pooled connection is trusted; older ones are closed instead of reused.
const IDLE_FOR: Duration = Duration::from_secs(30);
/// Idle connections kept per backend and worker thread.
const MAX_IDLE: usize = 1024;
/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Whole answers up to this size are copied out of the read buffer rather than split off it.
const COPY_UNDER: usize = 8 * 1024;

/// Why a request failed. Every error happens before anything reached the router's client;
/// `before_response` says no byte of an answer arrived at all, and `unsent` that the loader never
/// got the request (no connection, or it refused the write): only then is retrying elsewhere
/// safe, since a request a loader received and died on would take the next one down too.
#[derive(Debug)]
pub struct Error {
    pub message: String,
    pub before_response: bool,
    pub unsent: bool,
}

impl Error {
    fn new(message: impl Into<String>, before_response: bool) -> Self {
        Error { message: message.into(), before_response, unsent: false }
    }

    fn unsent(message: impl Into<String>) -> Self {
        Error { message: message.into(), before_response: true, unsent: true }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// A request body, written straight into the request's buffer after its head (which states its
/// length first).
pub trait RequestBody {
    /// The bytes [`RequestBody::write`] writes.
    fn byte_len(&self) -> usize;
    fn write(&self, out: &mut Vec<u8>);
}

impl RequestBody for [u8] {
    fn byte_len(&self) -> usize {
        self.len()
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

struct Idle {
    io: TcpStream,
    /// Its read buffer, kept to save an allocation per request.
    buf: BytesMut,
    since: Instant,
}

/// One backend's connections: where to connect and the idle ones, one list per worker thread
/// (a connection belongs to the runtime of the thread that opened it).
pub struct Pool {
    /// `host:port`, for connecting and for the `Host` header.
    authority: String,
    idle: Vec<Mutex<Vec<Idle>>>,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool").field("authority", &self.authority).finish_non_exhaustive()
    }
}

/// An answer's status and its body, still to be read.
pub struct Response {
    pub status: u16,
    pub body: Body,
}

/// A response body being read from its connection.
pub struct Body {
    io: Option<TcpStream>,
    buf: BytesMut,
    decoder: Decoder,
    keep_alive: bool,
    pool: Option<(std::sync::Arc<Pool>, usize)>,
}

impl Pool {
    /// A pool for `authority` (`host:port`) used from `workers` threads.
    pub fn new(authority: &str, workers: usize) -> Pool {
        Pool { authority: authority.to_string(), idle: (0..workers.max(1)).map(|_| Mutex::new(Vec::new())).collect() }
    }

    fn checkout(&self, worker: usize) -> Option<(TcpStream, BytesMut)> {
        let mut idle = self.idle[worker % self.idle.len()].lock().unwrap_or_else(|e| e.into_inner());
        while let Some(c) = idle.pop() {
            if c.since.elapsed() < IDLE_FOR {
                return Some((c.io, c.buf));
            }
        }
        None
    }

    fn checkin(&self, worker: usize, io: TcpStream, mut buf: BytesMut) {
        let mut idle = self.idle[worker % self.idle.len()].lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            buf.clear();
            idle.push(Idle { io, buf, since: Instant::now() });
        }
    }

    /// Whether the server is gone (after a request failed on it: did the loader die, or only
    /// fail that request?). A dying process closes its descriptors one by one, the request's
    /// connection possibly before its listener, so a connection that is accepted must also stay
    /// open for a moment (a live server waits for a request on it; a dying one resets it).
    pub async fn is_down(&self, timeout: Duration) -> bool {
        let Ok(mut io) = self.connect(timeout).await else { return true };
        let mut b = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_millis(100), tokio::io::AsyncReadExt::read(&mut io, &mut b));
        matches!(read.await, Ok(Ok(0) | Err(_)))
    }

    async fn connect(&self, timeout: Duration) -> Result<TcpStream, Error> {
        let io = match tokio::time::timeout(timeout, TcpStream::connect(&self.authority)).await {
            Err(_) => {
                return Err(Error::unsent(format!(
                    "connect to {} timed out after {} ms",
                    self.authority,
                    timeout.as_millis()
                )));
            }
            Ok(Err(e)) => return Err(Error::unsent(format!("connect to {}: {e}", self.authority))),
            Ok(Ok(io)) => io,
        };
        let _ = io.set_nodelay(true);
        Ok(io)
    }

    /// Sends `POST path` with a JSON `body` and reads the answer's head. A kept-alive connection
    /// the server closed meanwhile is retried once on a fresh one (nothing was processed).
    pub async fn post(
        self: &std::sync::Arc<Self>,
        path: &str,
        accept: &str,
        body: &(impl RequestBody + ?Sized),
        connect_timeout: Duration,
    ) -> Result<Response, Error> {
        let worker = super::worker();
        let len = body.byte_len();
        let mut req = Vec::with_capacity(160 + path.len() + self.authority.len() + len);
        req.extend_from_slice(b"POST ");
        req.extend_from_slice(path.as_bytes());
        req.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        req.extend_from_slice(self.authority.as_bytes());
        req.extend_from_slice(b"\r\nContent-Type: application/json\r\nAccept: ");
        req.extend_from_slice(accept.as_bytes());
        req.extend_from_slice(b"\r\nContent-Length: ");
        req.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
        req.extend_from_slice(b"\r\n\r\n");
        let head = req.len();
        body.write(&mut req);
        assert_eq!(req.len() - head, len, "a request body wrote another length than it stated");
        if let Some((io, buf)) = self.checkout(worker) {
            match self.exchange(io, buf, &req, worker).await {
                Err(e) if e.before_response => {} // stale keep-alive connection: once more, fresh
                other => return other,
            }
        }
        let io = self.connect(connect_timeout).await?;
        self.exchange(io, BytesMut::with_capacity(h1::READ_CHUNK), &req, worker).await
    }

    async fn exchange(
        self: &std::sync::Arc<Self>,
        mut io: TcpStream,
        mut buf: BytesMut,
        req: &[u8],
        worker: usize,
    ) -> Result<Response, Error> {
        if let Err(e) = io.write_all(req).await {
            return Err(Error::unsent(format!("sending to {}: {e}", self.authority)));
        }
        loop {
            match h1::fill(&mut io, &mut buf).await {
                Ok(false) if buf.is_empty() => {
                    return Err(Error::new(
                        format!("{} closed the connection without answering", self.authority),
                        true,
                    ));
                }
                Ok(false) => {
                    return Err(Error::new(format!("{} closed the connection mid-head", self.authority), false));
                }
                Ok(true) => {}
                Err(e) => {
                    let before = buf.is_empty();
                    return Err(Error::new(format!("reading from {}: {e}", self.authority), before));
                }
            }
            let mut headers = [httparse::EMPTY_HEADER; 48];
            let mut head = httparse::Response::new(&mut headers);
            match head.parse(&buf) {
                Ok(httparse::Status::Partial) => {
                    if buf.len() > MAX_HEAD {
                        return Err(Error::new(format!("{} sent a response head over 64 KiB", self.authority), false));
                    }
                }
                Err(e) => {
                    return Err(Error::new(format!("{} sent an invalid HTTP response: {e}", self.authority), false));
                }
                Ok(httparse::Status::Complete(n)) => {
                    let status = head.code.unwrap_or(0);
                    if (100..200).contains(&status) {
                        // An interim answer (100 Continue): skip it, the real one follows.
                        buf.advance(n);
                        continue;
                    }
                    let http11 = head.version == Some(1);
                    let (mut keep_alive, mut framing) = (http11, Framing::Eof);
                    for h in head.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            match h1::content_length(h.value) {
                                Some(n) if framing != Framing::Chunked => framing = Framing::Length(n),
                                Some(_) => {}
                                None => {
                                    return Err(Error::new(
                                        format!("{} sent an invalid Content-Length", self.authority),
                                        false,
                                    ));
                                }
                            }
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding") && h1::is_chunked(h.value) {
                            framing = Framing::Chunked;
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            let (close, keep) = h1::connection_tokens(h.value);
                            keep_alive = !close && (http11 || keep);
                        }
                    }
                    // No body by definition.
                    if status == 204 || status == 304 {
                        framing = Framing::Length(0);
                    }
                    buf.advance(n);
                    let mut body = Body {
                        io: Some(io),
                        buf,
                        decoder: Decoder::new(framing),
                        keep_alive: keep_alive && framing != Framing::Eof,
                        pool: Some((self.clone(), worker)),
                    };
                    if body.decoder.is_done() {
                        body.complete();
                    }
                    return Ok(Response { status, body });
                }
            }
        }
    }
}

impl Body {
    /// The next piece of the body; `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        if self.decoder.is_done() {
            return Ok(None);
        }
        let Some(io) = self.io.as_mut() else {
            return Err(Error::new("the answer was already broken off", false));
        };
        match self.decoder.chunk(io, &mut self.buf).await {
            Ok(Some(b)) => {
                if self.decoder.is_done() {
                    self.complete();
                }
                Ok(Some(b))
            }
            Ok(None) => {
                self.complete();
                Ok(None)
            }
            Err(e) => {
                self.io = None;
                Err(Error::new(
                    match e {
                        DecodeError::Closed => "the backend closed the connection mid-answer".to_string(),
                        DecodeError::Invalid(what) => format!("the backend sent {what}"),
                        DecodeError::Io(e) => format!("reading the answer: {e}"),
                    },
                    false,
                ))
            }
        }
    }

    /// The whole body, up to `limit` bytes.
    pub async fn collect(mut self, limit: usize) -> Result<Bytes, Error> {
        if let Some(n) = self.decoder.buffered_rest(&self.buf)
            && n <= COPY_UNDER
        {
            // A small answer already here: copied, so the read buffer stays whole for reuse.
            let all = Bytes::copy_from_slice(&self.buf[..n]);
            self.buf.advance(n);
            self.decoder.finish();
            self.complete();
            return Ok(all);
        }
        if let Some(all) = self.decoder.take_buffered(&mut self.buf) {
            self.complete();
            return Ok(all);
        }
        let mut all = BytesMut::new();
        while let Some(b) = self.chunk().await? {
            if all.len() + b.len() > limit {
                return Err(Error::new(format!("answer larger than {limit} bytes"), false));
            }
            all.extend_from_slice(&b);
        }
        Ok(all.freeze())
    }

    /// The body was read to its end: the connection goes back to the pool if it may be reused
    /// (keep-alive allowed, nothing unexpected after the body).
    fn complete(&mut self) {
        let reusable = self.keep_alive && self.buf.is_empty();
        if let (Some(io), true) = (self.io.take(), reusable)
            && let Some((pool, worker)) = self.pool.take()
        {
            pool.checkin(worker, io, std::mem::take(&mut self.buf));
        }
        self.io = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// A scripted server on loopback: each request on any connection gets the next answer, written
    /// in the given pieces; `close_after` closes a connection after that many answers on it.
    async fn server(answers: Vec<Vec<&'static [u8]>>, close_after: usize) -> (String, Arc<AtomicUsize>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let accepted = Arc::new(AtomicUsize::new(0));
        let answers = Arc::new(Mutex::new(answers.into_iter()));
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = l.accept().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                let answers = answers.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    for _ in 0..close_after {
                        // One request: head, then Content-Length bytes.
                        let body_at = loop {
                            if let Some(p) = memchr::memmem::find(&buf, b"\r\n\r\n") {
                                break p + 4;
                            }
                            let mut b = [0u8; 4096];
                            match s.read(&mut b).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&b[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..body_at]).to_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length: "))
                            .map_or(0, |v| v.trim().parse().unwrap());
                        while buf.len() < body_at + len {
                            let mut b = [0u8; 4096];
                            let n = s.read(&mut b).await.unwrap();
                            buf.extend_from_slice(&b[..n]);
                        }
                        buf.drain(..body_at + len);
                        let pieces = answers.lock().unwrap().next().expect("an answer left");
                        for p in pieces {
                            s.write_all(p).await.unwrap();
                            s.flush().await.unwrap();
                            tokio::time::sleep(Duration::from_millis(2)).await;
                        }
                    }
                });
            }
        });
        (addr, accepted)
    }

    async fn get(pool: &Arc<Pool>) -> Result<(u16, Bytes), Error> {
        let r = pool.post("/v1/chat/completions", "application/json", &b"{}"[..], Duration::from_secs(2)).await?;
        let body = r.body.collect(1 << 20).await?;
        Ok((r.status, body))
    }

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

    #[tokio::test]
    async fn content_length_answers_reuse_one_connection() {
        let (addr, accepted) =
            server(vec![vec![OK], vec![b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n", b"abc"]], 2).await;
        let pool = Arc::new(Pool::new(&addr, 1));
        assert_eq!(get(&pool).await.unwrap(), (200, Bytes::from_static(b"hello")));
        assert_eq!(get(&pool).await.unwrap(), (200, Bytes::from_static(b"abc")));
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn chunked_bodies_split_anywhere_decode_and_keep_the_connection() {
        let answer: Vec<&'static [u8]> = vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r",
            b"\nhel",
            b"lo\r\n",
            b"1",
            b"0\r\n, world and mo",
            b"re\r",
            b"\n0\r\nX-Trailer: yes\r\n",
            b"\r\n",
        ];
        let (addr, accepted) = server(vec![answer, vec![OK]], 2).await;
        let pool = Arc::new(Pool::new(&addr, 1));
        assert_eq!(get(&pool).await.unwrap(), (200, Bytes::from_static(b"hello, world and more")));
        assert_eq!(get(&pool).await.unwrap().1, Bytes::from_static(b"hello"));
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn http10_bodies_end_with_the_connection_which_is_not_reused() {
        let (addr, accepted) = server(
            vec![
                vec![b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\n", b"data: [DONE]\n\n"],
                vec![OK],
            ],
            1,
        )
        .await;
        let pool = Arc::new(Pool::new(&addr, 1));
        let mut r = pool.post("/x", "text/event-stream", &b"{}"[..], Duration::from_secs(2)).await.unwrap();
        let mut all = Vec::new();
        while let Some(c) = r.body.chunk().await.unwrap() {
            all.extend_from_slice(&c);
        }
        assert_eq!(all, b"data: 1\n\ndata: [DONE]\n\n");
        assert_eq!(get(&pool).await.unwrap().1, Bytes::from_static(b"hello"));
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_kept_alive_connection_closed_by_the_server_is_retried_on_a_fresh_one() {
        // The server answers once per connection, announcing keep-alive, then closes.
        let (addr, accepted) = server(vec![vec![OK], vec![OK]], 1).await;
        let pool = Arc::new(Pool::new(&addr, 1));
        get(&pool).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(get(&pool).await.unwrap().1, Bytes::from_static(b"hello"));
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn broken_answers_are_errors_never_short_bodies() {
        let (addr, _) = server(
            vec![
                vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello"],
                vec![b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nhello\r\n"],
                vec![
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhelloXX0\r\n\r\n",
                ],
                vec![b"SMTP ready\r\n\r\n"],
            ],
            1,
        )
        .await;
        let pool = Arc::new(Pool::new(&addr, 1));
        for want in ["closed the connection mid-answer", "bad chunk size", "chunk without its CRLF", "invalid HTTP"] {
            let e = get(&pool).await.unwrap_err();
            assert!(e.message.contains(want), "{e}");
            assert!(!e.before_response && !e.unsent);
        }
    }

    #[tokio::test]
    async fn refused_connections_fail_before_any_answer() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let pool = Arc::new(Pool::new(&format!("127.0.0.1:{port}"), 1));
        let e = get(&pool).await.unwrap_err();
        assert!(e.before_response && e.unsent && e.message.contains("connect to 127.0.0.1"), "{e}");
    }
}
