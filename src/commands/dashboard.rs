//! `garnet dashboard`: reads the store every `--refresh`, renders the page once per refresh, and
//! serves it (see [`crate::dashboard`]). Off loopback only with a token.

use std::sync::Arc;

use anyhow::{Context, Result};

use super::Ctx;
use crate::ExitStatus;
use crate::cli::DashboardArgs;
use crate::dashboard::server::{Rendered, Shared};
use crate::exit::UsageError;

pub async fn run(args: &DashboardArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let inv = ctx.load_inventory()?;
    let addr: std::net::SocketAddr = match tokio::net::lookup_host(args.listen.as_str()).await {
        Ok(mut a) => a.next().ok_or_else(|| UsageError(format!("`--listen {}` resolves to nothing", args.listen)))?,
        Err(e) => {
            return Err(
                UsageError(format!("`--listen {}`: {e} (use HOST:PORT, like 127.0.0.1:8790)", args.listen)).into()
            );
        }
    };
    let token = match &args.token_file {
        Some(f) => {
            let t = crate::util::read_secret_file(f)?.trim().to_string();
            if t.chars().count() < 16 {
                return Err(UsageError(format!(
                    "the token in `{}` is shorter than 16 characters: too easy to guess (e.g. `openssl rand -hex 24 > {}`)",
                    f.display(),
                    f.display()
                ))
                .into());
            }
            Some(t)
        }
        None if !addr.ip().is_loopback() => {
            return Err(UsageError(format!(
                "`--listen {}` is not loopback: anyone who can reach it would read the cluster's state. Give `--token-file FILE` (mode 0600), or listen on 127.0.0.1 and reach it over `ssh -L`",
                args.listen
            ))
            .into());
        }
        None => None,
    };
    let store: std::sync::Arc<dyn crate::store::Store> = crate::store::open(&inv).await?.into();
    let slug = inv.cluster.slug.clone();
    let refresh_secs = args.refresh.as_secs().max(1);
    let mut engine = crate::dashboard::Engine::new(inv, store.clone(), args.stale_after, args.since, refresh_secs);
    let view =
        engine.refresh().await.with_context(|| format!("reading cluster `{slug}` from {}", engine.store.describe()))?;
    let shared = Arc::new(Shared::new(slug.clone(), Rendered::of(&view, None), token.as_deref(), store.clone()));
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on `{addr}`"))?;
    let local = listener.local_addr()?;
    let url = format!("http://{local}{}", crate::dashboard::page::base(&slug));
    if ctx.printer.json {
        ctx.printer
            .json_line(&serde_json::json!({"event": "dashboard_listening", "url": url, "token": token.is_some()}));
    } else {
        crate::daemon_line!(
            "dashboard: {url}{} (read-only, refreshes every {refresh_secs} s)",
            if token.is_some() { " (token required)" } else { "" }
        );
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let refresher = {
        let (shared, mut stop) = (shared.clone(), stop_rx.clone());
        tokio::spawn(async move {
            let mut last = view;
            loop {
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_secs(refresh_secs)) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                match engine.refresh().await {
                    Ok(v) => {
                        shared.rendered.store(Arc::new(Rendered::of(&v, None)));
                        last = v;
                    }
                    Err(e) => {
                        let why = format!("{e:#}");
                        tracing::warn!("dashboard: refresh failed: {why}");
                        last.version += 1;
                        shared.rendered.store(Arc::new(Rendered::of(&last, Some(&why))));
                    }
                }
            }
        })
    };
    let server = {
        let (shared, mut stop) = (shared.clone(), stop_rx.clone());
        tokio::spawn(crate::dashboard::server::serve(shared, listener, async move {
            let _ = stop.wait_for(|s| *s).await;
        }))
    };
    super::shutdown_signal("dashboard", "it stops serving").await;
    let _ = stop_tx.send(true);
    let _ = refresher.await;
    let _ = server.await;
    crate::daemon_line!("dashboard: stopped");
    Ok(ExitStatus::Success)
}
