//! `garnet router`: the OpenAI-compatible proxy as a daemon.

use anyhow::{Context, Result};
use serde_json::json;

use super::Ctx;
use crate::ExitStatus;
use crate::cli::RouterArgs;
use crate::exit::UsageError;
use crate::router::{self, Options, table::RoutesConfig};
use crate::util::read_secret_file;

pub async fn run(args: &RouterArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let text = std::fs::read_to_string(&args.routes)
        .with_context(|| format!("cannot read routes file `{}`", args.routes.display()))?;
    let routes: RoutesConfig = serde_saphyr::from_str(&text)
        .map_err(|e| UsageError(format!("routes file `{}`: {}", args.routes.display(), e.without_snippet())))?;
    let admin_token = args.admin_token_file.as_deref().map(read_secret_file).transpose()?;
    let api_keys = match &args.api_keys_file {
        None => None,
        Some(f) => Some(read_secret_file(f)?.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()),
    };
    let r = router::Router::new(&routes, Options { api_keys, admin_token, body_limit: args.body_limit })
        .map_err(|e| UsageError(format!("routes file `{}`: {e}", args.routes.display())))?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on `{}`", args.listen))?;
    let admin = tokio::net::TcpListener::bind(&args.admin_listen)
        .await
        .with_context(|| format!("cannot listen on `{}`", args.admin_listen))?;
    let (api_addr, admin_addr) = (listener.local_addr()?, admin.local_addr()?);
    let models = r.table.load().order.clone();
    if ctx.printer.json {
        ctx.printer.json_line(
            &json!({"event": "router_listening", "listen": api_addr, "admin_listen": admin_addr, "models": models}),
        );
    } else {
        eprintln!(
            "router: OpenAI API on http://{api_addr}/v1 (models: {}), admin API on http://{admin_addr}/admin",
            models.join(", ")
        );
    }
    router::serve(r, listener, Some(admin), shutdown_signal()).await?;
    eprintln!("router: stopped");
    Ok(ExitStatus::Success)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    eprintln!("router: shutting down: no new connections, open requests finish");
}
