//! A fast canned OpenAI-compatible backend for benchmarks: every `POST /v1/chat/completions` gets
//! the same small answer at once (streaming requests get a two-chunk SSE stream), so a proxy in
//! front of it, not the model, is what gets measured.
//!
//!     cargo run --release --example canned_backend -- 127.0.0.1:9000

#![allow(clippy::print_stderr, reason = "a standalone benchmark helper says where it listens")]

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, header};
use hyper_util::rt::TokioIo;

const ANSWER: &str = r#"{"id":"chatcmpl-canned","object":"chat.completion","created":0,"model":"canned","choices":[{"index":0,"finish_reason":"length","message":{"role":"assistant","content":"hello from the canned backend"}}],"usage":{"prompt_tokens":8,"completion_tokens":6,"total_tokens":14}}"#;
const STREAM: &str = concat!(
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"canned\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"hello\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"canned\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\n",
    "data: {\"id\":\"c\",\"object\":\"chat.completion\",\"created\":0,\"model\":\"canned\",\"choices\":[],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":1,\"total_tokens\":9}}\n\n",
    "data: [DONE]\n\n"
);

async fn handle(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let stream =
        body.windows(13).any(|w| w == b"\"stream\":true") || body.windows(14).any(|w| w == b"\"stream\": true");
    let (ctype, text) = if stream { ("text/event-stream", STREAM) } else { ("application/json", ANSWER) };
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, ctype)
        .body(Full::new(Bytes::from_static(text.as_bytes())))
        .unwrap())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("canned backend on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(handle)).await;
        });
    }
}
