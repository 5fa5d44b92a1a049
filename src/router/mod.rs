//! The router: an OpenAI-compatible proxy in front of the loaders (`mlx_lm.server`), so OpenAI
//! apps work unmodified, and the place where hot-swap flips traffic and per-model numbers are counted.
//!
//! [`serve`] is a library function taking bound listeners and a shutdown future (tests run it on
//! `127.0.0.1:0`; `garnet router` runs it as a daemon). The routing [`table::Table`] sits behind an
//! `ArcSwap`: requests read it without locking, the admin API replaces it whole. The loader's quirks
//! are absorbed here: `model` is rewritten to the loader's id and restored in every response and
//! chunk, `max_tokens` is capped, usage is always requested in streams and the extra chunk stripped
//! when the client did not ask for it, and connection failures before the first byte are retried
//! on another backend.

pub mod access;
pub mod admin;
pub mod affinity;
pub mod conns;
pub mod error;
#[doc(hidden)]
pub mod fuzz;
pub mod h1;
pub mod journal;
mod json;
pub mod metrics;
pub mod proxy;
pub mod rewrite;
pub mod server;
pub mod sse;
pub mod table;
pub mod upstream;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Frame;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use table::{RoutesConfig, Table};

/// Response bodies: a whole buffer, or chunks fed by a task (streams).
pub enum Body {
    Full(Option<Bytes>),
    Channel(mpsc::Receiver<Bytes>),
}

pub fn full(b: impl Into<Bytes>) -> Body {
    Body::Full(Some(b.into()))
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Channel(rx) => rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            Body::Full(Some(b)) => hyper::body::SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => hyper::body::SizeHint::with_exact(0),
            Body::Channel(_) => hyper::body::SizeHint::default(),
        }
    }
}

thread_local! {
    static WORKER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Marks the current thread as serving worker `i` (thread-per-core: each worker has its own
/// runtime, listener and upstream connection pools, so a request never hops threads).
pub fn set_worker(i: usize) {
    WORKER.with(|w| w.set(i));
}

pub(crate) fn worker() -> usize {
    WORKER.with(|w| w.get())
}

/// Router settings beyond the routes.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Serving threads (each with its own upstream pools); 0 means 1.
    pub workers: usize,
    /// Accepted `Authorization: Bearer` keys for `/v1`; none means open.
    pub api_keys: Option<Vec<String>>,
    /// Bearer token for the admin API; the admin listener refuses everything without it.
    pub admin_token: Option<String>,
    /// Largest accepted request body.
    pub body_limit: usize,
    /// Where to write the access log (one JSON line per ended request), if anywhere.
    pub access_log: Option<std::path::PathBuf>,
    /// Where to keep what the router counted across restarts (snapshot + journal), if anywhere.
    pub state_dir: Option<std::path::PathBuf>,
}

/// The pooled HTTP client a route uses to reach its loaders.
pub type UpstreamClient = Client<HttpConnector, Full<Bytes>>;

/// A client whose connection attempts give up after `connect`.
pub fn upstream_client(connect: Duration) -> UpstreamClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(connect));
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(connector)
}

/// Shared state of a running router.
pub struct Router {
    pub table: ArcSwap<Table>,
    pub options: Options,
    /// Open client connections and why some were refused or closed (all serving threads).
    pub conns: Arc<conns::ConnStats>,
    pub access: Option<Arc<access::AccessLog>>,
    pub journal: Option<Arc<journal::Journal>>,
}

impl Router {
    pub fn new(routes: &RoutesConfig, mut options: Options) -> Result<Arc<Router>, String> {
        options.workers = options.workers.max(1);
        let table = Table::build(routes, &Table::default(), options.workers)?;
        if options.body_limit == 0 {
            options.body_limit = 4 << 20;
        }
        let access = match &options.access_log {
            Some(p) => Some(Arc::new(
                access::AccessLog::open(p, Default::default())
                    .map_err(|e| format!("cannot open the access log `{}`: {e}", p.display()))?,
            )),
            None => None,
        };
        let journal = match &options.state_dir {
            Some(dir) => {
                let (j, broken) = journal::Journal::open(dir, &table)
                    .map_err(|e| format!("cannot use the state folder `{}`: {e}", dir.display()))?;
                if broken > 0 {
                    tracing::warn!("{broken} request(s) the previous router left unfinished are counted as failed");
                }
                Some(Arc::new(j))
            }
            None => None,
        };
        Ok(Arc::new(Router {
            table: ArcSwap::from_pointee(table),
            options,
            conns: Arc::new(conns::ConnStats::new()),
            access,
            journal,
        }))
    }

    /// Saves what the router counted (with `state_dir`; every 2 s and at shutdown).
    pub fn save_state(&self) {
        if let Some(j) = &self.journal
            && let Err(e) = j.snapshot(&self.table.load())
        {
            tracing::warn!("cannot save the router's counts: {e}");
        }
    }

    /// Replaces the routing table atomically; in-flight requests keep their backends.
    pub fn replace_routes(&self, routes: &RoutesConfig) -> Result<u64, String> {
        let current = self.table.load();
        let next = Table::build(routes, &current, self.options.workers)?;
        let v = next.version;
        self.table.store(Arc::new(next));
        Ok(v)
    }
}

/// Serves the OpenAI API on `listener` (and the admin API on `admin`) until `shutdown` resolves,
/// then stops accepting and lets open requests finish (up to 30 s).
pub async fn serve(
    router: Arc<Router>,
    listener: TcpListener,
    admin: Option<TcpListener>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // API connections hold a receiver: raising it closes idle ones and ends the others after
    // their request; the sender learns when the last one is gone.
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    // Out of descriptors, accepts pause (5 ms doubling to 1 s) instead of spinning.
    let (mut api_backoff, mut admin_backoff) = (conns::AcceptBackoff::default(), conns::AcceptBackoff::default());
    let (mut api_resume, mut admin_resume): (Option<tokio::time::Instant>, Option<tokio::time::Instant>) = (None, None);
    let now = tokio::time::Instant::now;
    loop {
        tokio::select! {
            accepted = listener.accept(), if api_resume.is_none() => match accepted {
                Ok((stream, _)) => {
                    api_backoff.succeeded("accept");
                    let cap = router.table.load().limits.max_connections.get();
                    match router.conns.admit(cap) {
                        Some(guard) => {
                            tokio::spawn(server::serve_conn(router.clone(), stream, stop_rx.clone(), guard));
                        }
                        None => server::refuse(stream),
                    }
                }
                Err(e) if conns::is_resource_error(&e) => {
                    router.conns.accept_errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    api_resume = Some(now() + api_backoff.failed(&e, "accept"));
                }
                Err(e) => tracing::debug!("accept: {e}"), // the connection's own failure (reset in the backlog)
            },
            () = tokio::time::sleep_until(api_resume.unwrap_or_else(now)), if api_resume.is_some() => api_resume = None,
            accepted = async { admin.as_ref().unwrap().accept().await }, if admin.is_some() && admin_resume.is_none() => {
                match accepted {
                    Ok((stream, peer)) => {
                        admin_backoff.succeeded("admin accept");
                        let r = router.clone();
                        spawn_conn(&graceful, stream, peer, move |req| admin::handle(r.clone(), req));
                    }
                    Err(e) if conns::is_resource_error(&e) => {
                        admin_resume = Some(now() + admin_backoff.failed(&e, "admin accept"));
                    }
                    Err(e) => tracing::debug!("admin accept: {e}"),
                }
            }
            () = tokio::time::sleep_until(admin_resume.unwrap_or_else(now)), if admin_resume.is_some() => admin_resume = None,
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    drop(stop_rx);
    let _ = stop.send(true);
    let all = async {
        stop.closed().await;
        graceful.shutdown().await;
    };
    if tokio::time::timeout(Duration::from_secs(30), all).await.is_err() {
        tracing::warn!("connections still open after 30 s; closing them");
    }
    Ok(())
}

fn spawn_conn<F, Fut>(
    graceful: &hyper_util::server::graceful::GracefulShutdown,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    f: F,
) where
    F: Fn(hyper::Request<hyper::body::Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = hyper::Response<Body>> + Send + 'static,
{
    let _ = stream.set_nodelay(true);
    let conn = http1::Builder::new().keep_alive(true).serve_connection(
        TokioIo::new(stream),
        service_fn(move |req| {
            let fut = f(req);
            async move { Ok::<_, Infallible>(fut.await) }
        }),
    );
    let watched = graceful.watch(conn);
    tokio::spawn(async move {
        if let Err(e) = watched.await {
            tracing::debug!(%peer, "connection: {e}");
        }
    });
}
