//! The dashboard's HTTP server (hyper, HTTP/1.1): read-only (GET and HEAD), every answer with a
//! Content-Security-Policy that allows only garnet's own script, style and images; a token
//! (`Authorization: Bearer`, or `?token=` once, which sets an HttpOnly cookie) whenever one is
//! configured, which `garnet dashboard` requires off loopback. Bounded: at most
//! [`MAX_CONNECTIONS`] open connections (more are closed at once), a request head within
//! [`HEAD_TIMEOUT`], a connection's whole life within [`CONN_LIFETIME`], and out of descriptors
//! the accept loop backs off instead of spinning.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::{Method, Request, Response, StatusCode};
use sha2::Digest as _;

use super::View;
use super::page;
use crate::router::conns;

pub const MAX_CONNECTIONS: usize = 256;
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
pub const CONN_LIFETIME: Duration = Duration::from_secs(300);

pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const JS: &str = include_str!("../../assets/dashboard.js");
const CSS: &str = include_str!("../../assets/dashboard.css");
const LICENSE: &str = include_str!("../../assets/LICENSE.txt");
/// A garnet-red dot.
const ICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="#9b1b30"/></svg>"##;

/// What one refresh rendered: every answer's bytes, ready to send.
pub struct Rendered {
    pub version: u64,
    pub page: Bytes,
    pub fragment: Bytes,
    pub state: Bytes,
    pub hour_svg: Bytes,
    pub day_svg: Bytes,
    /// (kind, period, name) → store key of the artifacts the page links.
    pub files: HashMap<(String, String, String), String>,
}

impl Rendered {
    pub fn of(v: &View, error: Option<&str>) -> Self {
        Rendered {
            version: v.version,
            page: page::page(v, error).into(),
            fragment: page::fragment(v, error).into(),
            state: serde_json::to_vec(v).unwrap_or_default().into(),
            hour_svg: page::chart(&v.hourly).into(),
            day_svg: page::chart(&v.daily).into(),
            files: v
                .artifacts
                .iter()
                .map(|a| ((a.kind.to_string(), a.period.clone(), a.name.clone()), a.key.clone()))
                .collect(),
        }
    }
}

/// The server's shared state.
pub struct Shared {
    pub slug: String,
    pub rendered: ArcSwap<Rendered>,
    /// SHA-256 (hex) of the token, when one is required.
    pub token_hash: Option<String>,
    pub store: Arc<dyn crate::store::Store>,
}

fn hash(token: &str) -> String {
    sha2::Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares in time independent of where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Shared {
    pub fn new(slug: String, rendered: Rendered, token: Option<&str>, store: Arc<dyn crate::store::Store>) -> Self {
        Shared { slug, rendered: ArcSwap::from_pointee(rendered), token_hash: token.map(hash), store }
    }
}

type Resp = Response<Full<Bytes>>;

fn respond(status: StatusCode, ctype: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static(ctype));
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    r
}

fn text(status: StatusCode, msg: &str) -> Resp {
    respond(status, "text/plain; charset=utf-8", format!("{msg}\n"))
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn query<'a>(q: Option<&'a str>, key: &str) -> Option<&'a str> {
    q?.split('&').find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// Whether the request carries the token (header or cookie); `None` when none is required.
fn authorized(shared: &Shared, req: &Request<hyper::body::Incoming>) -> bool {
    let Some(want) = &shared.token_hash else { return true };
    let h = req.headers();
    if let Some(t) = h.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
        && same(hash(t.trim()).as_bytes(), want.as_bytes())
    {
        return true;
    }
    h.get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|c| c.trim().strip_prefix("garnet_dashboard=").is_some_and(|v| same(v.as_bytes(), want.as_bytes())))
}

pub async fn handle(shared: Arc<Shared>, req: Request<hyper::body::Incoming>) -> Resp {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "the dashboard is read-only: GET and HEAD only");
        r.headers_mut().insert("allow", HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let path = req.uri().path().to_string();
    let q = req.uri().query().map(str::to_string);
    match path.as_str() {
        "/healthz" => return text(StatusCode::OK, "ok"),
        "/assets/dashboard.js" => return asset("text/javascript; charset=utf-8", JS),
        "/assets/dashboard.css" => return asset("text/css; charset=utf-8", CSS),
        "/assets/LICENSE.txt" => return asset("text/plain; charset=utf-8", LICENSE),
        "/favicon.ico" | "/assets/icon.svg" => return asset("image/svg+xml", ICON),
        _ => {}
    }
    let base = page::base(&shared.slug);
    // `?token=` once: checked, then kept as an HttpOnly cookie and dropped from the address.
    if let (Some(want), Some(t)) = (&shared.token_hash, query(q.as_deref(), "token")) {
        let t = percent_decode(t).unwrap_or_default();
        if !same(hash(&t).as_bytes(), want.as_bytes()) {
            return refuse();
        }
        let mut r = text(StatusCode::SEE_OTHER, "signed in");
        let h = r.headers_mut();
        h.insert("location", path.parse().unwrap_or_else(|_| base.parse().expect("base path")));
        h.insert(
            "set-cookie",
            format!("garnet_dashboard={want}; Path=/; HttpOnly; SameSite=Strict").parse().expect("cookie"),
        );
        return r;
    }
    if !authorized(&shared, &req) {
        return refuse();
    }
    if path == "/" || path == "/account" || path == "/account/cluster" {
        let mut r = text(StatusCode::FOUND, &format!("see {base}"));
        r.headers_mut().insert("location", base.parse().expect("base path"));
        return r;
    }
    let Some(rest) = path.strip_prefix(&base) else {
        return text(StatusCode::NOT_FOUND, &format!("not found: this dashboard serves {base}"));
    };
    let r = shared.rendered.load();
    match rest {
        "" | "/" => respond(StatusCode::OK, "text/html; charset=utf-8", r.page.clone()),
        "/fragment" => {
            if query(q.as_deref(), "since").and_then(|v| v.parse::<u64>().ok()) == Some(r.version) {
                return respond(StatusCode::NO_CONTENT, "text/plain", Bytes::new());
            }
            respond(StatusCode::OK, "text/html; charset=utf-8", r.fragment.clone())
        }
        "/state.json" => respond(StatusCode::OK, "application/json", r.state.clone()),
        "/cost-hour.svg" => svg(&r.hour_svg),
        "/cost-day.svg" => svg(&r.day_svg),
        _ => match rest.strip_prefix("/files/").map(|f| f.split('/').map(percent_decode).collect::<Vec<_>>()) {
            Some(parts) if parts.len() == 3 && parts.iter().all(Option::is_some) => {
                let p: Vec<String> = parts.into_iter().flatten().collect();
                let Some(key) = r.files.get(&(p[0].clone(), p[1].clone(), p[2].clone())).cloned() else {
                    return text(StatusCode::NOT_FOUND, "no such report or review");
                };
                drop(r);
                file(&shared, &key, &p[2]).await
            }
            _ => text(StatusCode::NOT_FOUND, &format!("not found under {base}")),
        },
    }
}

fn refuse() -> Resp {
    let mut r = text(
        StatusCode::UNAUTHORIZED,
        "this dashboard needs its token: send `Authorization: Bearer <token>`, or open the page once as …?token=<token> (the token is in the file given to `garnet dashboard --token-file`)",
    );
    r.headers_mut().insert("www-authenticate", HeaderValue::from_static("Bearer"));
    r
}

fn asset(ctype: &'static str, body: &'static str) -> Resp {
    let mut r = respond(StatusCode::OK, ctype, Bytes::from_static(body.as_bytes()));
    r.headers_mut().insert("cache-control", HeaderValue::from_static("max-age=300"));
    r
}

fn svg(b: &Bytes) -> Resp {
    if b.is_empty() {
        return text(StatusCode::NOT_FOUND, "no point yet");
    }
    respond(StatusCode::OK, "image/svg+xml", b.clone())
}

async fn file(shared: &Shared, key: &str, name: &str) -> Resp {
    match shared.store.get(key).await {
        Ok(Some(body)) => {
            let ctype = match name.rsplit('.').next() {
                Some("pdf") => "application/pdf",
                Some("json") => "application/json",
                _ => "text/markdown; charset=utf-8",
            };
            let mut r = respond(StatusCode::OK, ctype, body);
            let safe: String = name.chars().filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).collect();
            let disposition = if name.ends_with(".pdf") { "attachment" } else { "inline" };
            if let Ok(v) = format!("{disposition}; filename=\"{safe}\"").parse() {
                r.headers_mut().insert("content-disposition", v);
            }
            r
        }
        Ok(None) => text(StatusCode::NOT_FOUND, "gone from the store since the last refresh"),
        Err(e) => {
            tracing::warn!("dashboard: reading `{key}`: {e}");
            text(StatusCode::BAD_GATEWAY, "the store could not be read")
        }
    }
}

/// Accepts and serves until `shutdown`; connections past [`MAX_CONNECTIONS`] are closed at once.
pub async fn serve(
    shared: Arc<Shared>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut backoff = conns::AcceptBackoff::default();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff.succeeded("dashboard accept");
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    drop(stream);
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    let svc = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(shared, req).await) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(HEAD_TIMEOUT)
                        .max_buf_size(64 * 1024)
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
                    match tokio::time::timeout(CONN_LIFETIME, conn).await {
                        Ok(Err(e)) => tracing::debug!(%peer, "dashboard connection: {e}"),
                        Err(_) => tracing::debug!(%peer, "dashboard connection closed after {CONN_LIFETIME:?}"),
                        Ok(Ok(())) => {}
                    }
                    drop(permit);
                });
            }
            Err(e) if conns::is_resource_error(&e) => {
                let wait = backoff.failed(&e, "dashboard accept");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = &mut shutdown => break,
                }
            }
            Err(e) => tracing::debug!("dashboard accept: {e}"),
        }
    }
}
