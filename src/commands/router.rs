//! `garnet router`: the OpenAI-compatible proxy as a daemon, thread-per-core.
//!
//! Each serving thread runs its own single-threaded runtime with its own listener on the same
//! address (SO_REUSEPORT: the kernel spreads connections) and its own upstream pools, so a request
//! never hops threads — the cross-thread wake-ups of a work-stealing runtime cost more than the
//! proxying itself at high request rates. The routing table is shared (`ArcSwap`).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use serde_json::json;
use tokio::sync::watch;

use super::Ctx;
use crate::ExitStatus;
use crate::cli::RouterArgs;
use crate::exit::UsageError;
use crate::router::{self, Options, table::RoutesConfig};
use crate::util::read_secret_file;

fn bind(addr: SocketAddr, reuseport: bool) -> std::io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    if reuseport {
        socket.set_reuseport(true)?;
    }
    socket.bind(addr)?;
    socket.listen(1024)?.into_std()
}

fn resolve(s: &str) -> Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    s.to_socket_addrs()?.next().with_context(|| format!("`{s}` resolves to no address"))
}

pub async fn run(args: &RouterArgs, ctx: &Ctx) -> Result<ExitStatus> {
    // A routes file stands alone; otherwise the inventory says everything.
    let (routes, source, inv_router) = match &args.routes {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read routes file `{}`", path.display()))?;
            let routes: RoutesConfig = serde_saphyr::from_str(&text)
                .map_err(|e| UsageError(format!("routes file `{}`: {}", path.display(), e.without_snippet())))?;
            (routes, format!("routes file `{}`", path.display()), None)
        }
        None => {
            let inv = ctx.load_inventory()?;
            let routes = RoutesConfig::from_inventory(&inv);
            if routes.models.is_empty() {
                return Err(UsageError(format!(
                    "inventory `{}` places no model: add `placement`, or pass `--routes FILE`",
                    inv.path.display()
                ))
                .into());
            }
            (routes, format!("inventory `{}`", inv.path.display()), inv.router.clone())
        }
    };
    let listen = args
        .listen
        .clone()
        .or_else(|| inv_router.as_ref().map(|r| r.listen.clone()))
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let admin_listen = args
        .admin_listen
        .clone()
        .or_else(|| inv_router.as_ref().map(|r| r.admin_listen.clone()))
        .unwrap_or_else(|| "127.0.0.1:8081".into());
    let token_file = args.admin_token_file.clone().or_else(|| inv_router.as_ref().and_then(|r| r.token_file.clone()));
    let admin_token = token_file.as_deref().map(read_secret_file).transpose()?;
    let api_keys = match &args.api_keys_file {
        None => None,
        Some(f) => Some(read_secret_file(f)?.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()),
    };
    let workers = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let r = router::Router::new(
        &routes,
        Options {
            api_keys,
            admin_token,
            body_limit: args.body_limit,
            workers,
            access_log: args.access_log.clone(),
            state_dir: args.state_dir.clone(),
        },
    )
    .map_err(|e| UsageError(format!("{source}: {e}")))?;

    // Each client connection is a descriptor: run with the hard open-file limit (launchd's
    // default soft limit is 256), and keep the connection cap within it.
    match crate::util::raise_nofile_limit() {
        Some((before, after)) => {
            r.conns.set_fd_limit(after);
            if after != before {
                crate::daemon_line!("router: open-file limit raised from {before} to {after}");
            }
            let cap = r.table.load().limits.max_connections.get();
            let budget = r.conns.fd_budget.load(std::sync::atomic::Ordering::Relaxed);
            if budget < cap {
                crate::daemon_line!(
                    "router: the open-file limit ({after}) holds client connections to {budget} (limits.max_connections is {cap})"
                );
            }
        }
        None => tracing::warn!("cannot read the open-file limit"),
    }

    // The first listener resolves a `:0` port; the others join it on the same port.
    let first = bind(resolve(&listen)?, true).with_context(|| format!("cannot listen on `{listen}`"))?;
    let api_addr = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..workers {
        listeners.push(bind(api_addr, true).with_context(|| format!("cannot listen on `{api_addr}`"))?);
    }
    let admin = bind(resolve(&admin_listen)?, false).with_context(|| format!("cannot listen on `{admin_listen}`"))?;
    let admin_addr = admin.local_addr()?;

    let models = r.table.load().order.clone();
    if ctx.printer.json {
        ctx.printer.json_line(
            &json!({"event": "router_listening", "listen": api_addr, "admin_listen": admin_addr, "models": models, "threads": workers}),
        );
    } else {
        crate::daemon_line!(
            "router: OpenAI API on http://{api_addr}/v1 (models: {}; {workers} threads), admin API on http://{admin_addr}/admin",
            models.join(", ")
        );
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut admin = Some(admin);
    let mut threads = Vec::new();
    for (i, listener) in listeners.into_iter().enumerate() {
        let (r, mut stop, admin) = (Arc::clone(&r), stop_rx.clone(), admin.take());
        threads.push(
            std::thread::Builder::new()
                .name(format!("router-{i}"))
                .spawn(move || -> std::io::Result<()> {
                    router::set_worker(i);
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                    rt.block_on(async move {
                        let listener = tokio::net::TcpListener::from_std(listener)?;
                        let admin = admin.map(tokio::net::TcpListener::from_std).transpose()?;
                        router::serve(r, listener, admin, async move {
                            let _ = stop.wait_for(|s| *s).await;
                        })
                        .await
                    })
                })
                .context("cannot start a router thread")?,
        );
    }
    // What the router counted, saved every 2 s (and once more at the end).
    let saver = {
        let (r, mut stop) = (Arc::clone(&r), stop_rx.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => r.save_state(),
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        })
    };
    super::shutdown_signal("router", "no new connections, open requests finish").await;
    let _ = stop_tx.send(true);
    let _ = saver.await;
    let joined = tokio::task::spawn_blocking(move || threads.into_iter().map(|t| t.join()).collect::<Vec<_>>()).await?;
    for j in joined {
        match j {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e).context("router thread failed"),
            Err(_) => anyhow::bail!("a router thread panicked"),
        }
    }
    r.save_state();
    crate::daemon_line!("router: stopped");
    Ok(ExitStatus::Success)
}
