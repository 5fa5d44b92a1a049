//! `garnet monitor` (the node daemon) and `garnet wait-ready` (deploy's readiness check).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::Ctx;
use crate::ExitStatus;
use crate::cli::{MonitorArgs, WaitReadyArgs};
use crate::node::config::NodeConfig;

pub async fn run(args: &MonitorArgs, _ctx: &Ctx) -> Result<ExitStatus> {
    let mut cfg = NodeConfig::load(&args.config)?;
    if let Some(i) = args.interval {
        cfg.interval_secs = i.as_secs().max(1) as u32;
    }
    let listener = tokio::net::TcpListener::bind(&cfg.health_listen)
        .await
        .with_context(|| format!("monitor: cannot listen on `{}`", cfg.health_listen))?;
    eprintln!("monitor: node `{}`, health on http://{}/health", cfg.node, listener.local_addr()?);
    crate::telemetry::monitor::run(cfg, listener, super::shutdown_signal("monitor", "shipping what is spooled"))
        .await?;
    Ok(ExitStatus::Success)
}

pub async fn wait_ready(args: &WaitReadyArgs) -> Result<ExitStatus> {
    let start = Instant::now();
    let mut last;
    loop {
        let left = args.timeout.saturating_sub(start.elapsed());
        match crate::http::one_token(
            &args.url,
            &args.model,
            left.clamp(Duration::from_secs(1), Duration::from_secs(60)),
        )
        .await
        {
            Ok(()) => {
                println!("ready: {} serves `{}` after {:.1}s", args.url, args.model, start.elapsed().as_secs_f64());
                return Ok(ExitStatus::Success);
            }
            Err(e) => last = e,
        }
        if start.elapsed() >= args.timeout {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!(
        "not ready: {} did not answer a completion for `{}` within {}: {last}",
        args.url,
        args.model,
        crate::util::human_duration(args.timeout)
    );
    for log in &args.log {
        if let Ok(text) = std::fs::read_to_string(log) {
            let lines: Vec<&str> = text.lines().collect();
            eprintln!("--- last lines of {} ---", log.display());
            for l in &lines[lines.len().saturating_sub(20)..] {
                eprintln!("{l}");
            }
        }
    }
    Ok(ExitStatus::Failure)
}
