//! A small HTTP/1 client for garnet's own calls (the monitor polling the router's admin API and
//! the loaders, readiness checks, `status`): one request, a deadline for all of it, the body whole.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, header};

/// An answer: status and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request to `url`; errors are connection failures and the deadline, never a status.
pub async fn request(
    method: Method,
    url: &str,
    bearer: Option<&str>,
    body: Option<&serde_json::Value>,
    timeout: Duration,
) -> Result<Reply, String> {
    let client = crate::router::upstream_client(timeout.min(Duration::from_secs(5)));
    let mut req = Request::builder().method(method).uri(url).header(header::USER_AGENT, "garnet");
    if let Some(t) = bearer {
        req = req.header(header::AUTHORIZATION, format!("Bearer {}", t.trim()));
    }
    let body = match body {
        Some(v) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Bytes::from(serde_json::to_vec(v).map_err(|e| e.to_string())?)
        }
        None => Bytes::new(),
    };
    let req = req.body(Full::new(body)).map_err(|e| format!("bad request for `{url}`: {e}"))?;
    let work = async {
        let resp = client.request(req).await.map_err(|e| describe(&e))?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok(Reply { status, body })
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| format!("no answer within {}", crate::util::human_duration(timeout)))?
}

/// The innermost cause (hyper-util's error says only "client error (Connect)").
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg = s.to_string();
        src = s.source();
    }
    msg
}

/// Asks a chat endpoint for a one-token completion: the loader (or router) is ready only when that
/// works (mlx_lm.server's `/health` says ok before the model has loaded).
pub async fn one_token(base: &str, model: &str, timeout: Duration) -> Result<(), String> {
    let body = serde_json::json!({
        "model": model, "max_tokens": 1,
        "messages": [{"role": "user", "content": "ping"}],
    });
    let url = format!("{}/v1/chat/completions", base.trim_end_matches('/'));
    let r = request(Method::POST, &url, None, Some(&body), timeout).await?;
    if r.ok() && r.json().is_some_and(|v| v["choices"].as_array().is_some_and(|c| !c.is_empty())) {
        Ok(())
    } else {
        let t = r.text();
        Err(format!("HTTP {}: {}", r.status, t.chars().take(300).collect::<String>()))
    }
}
