//! `garnet connections list|close`: the OpenSSH masters kept between commands.

use anyhow::Result;
use serde_json::json;

use super::Ctx;
use crate::ExitStatus;
use crate::cli::ConnectionsCommand;
use crate::inventory::{Node, TransportKind};
use crate::transport::openssh;

pub async fn run(cmd: &ConnectionsCommand, ctx: &Ctx) -> Result<ExitStatus> {
    let p = &ctx.printer;
    let dir = ctx.control_dir();
    match cmd {
        ConnectionsCommand::List => {
            let inv = ctx.load_inventory()?;
            let nodes = ctx.select(&inv)?;
            let mut t = p.table();
            t.set_header(vec!["node", "address", "connection", "since"]);
            for n in nodes.iter() {
                let (state, pid, since) = if n.transport != TransportKind::Openssh {
                    (format!("none ({} transport)", format!("{:?}", n.transport).to_lowercase()), None, None)
                } else {
                    // The master this inventory's settings use; else any other kept one to the node.
                    let mut socks = vec![openssh::socket_path(n, &dir)];
                    socks.extend(openssh::masters_to(n, &dir));
                    let mut found = None;
                    for sock in socks {
                        if let Some(pid) = openssh::master_pid(&sock).await {
                            found = Some((pid, sock));
                            break;
                        }
                    }
                    match found {
                        Some((pid, sock)) => {
                            let since = std::fs::metadata(&sock)
                                .and_then(|m| m.modified())
                                .ok()
                                .and_then(|t| jiff::Timestamp::try_from(t).ok())
                                .map(|t| {
                                    t.round(jiff::Unit::Second).map(|r| r.to_string()).unwrap_or_else(|_| t.to_string())
                                });
                            (format!("open (ssh pid {pid})"), Some(pid), since)
                        }
                        None => ("none".to_string(), None, None),
                    }
                };
                if p.json {
                    p.json_line(&json!({"event": "connection", "node": n.name, "address": n.address(), "open": pid.is_some(), "pid": pid, "since": since}));
                } else {
                    t.add_row(vec![n.name.clone(), n.address(), state, since.unwrap_or_default()]);
                }
            }
            if !p.json {
                p.out(t);
            }
            Ok(ExitStatus::Success)
        }
        ConnectionsCommand::Close { all } => {
            let closed = if *all {
                close_all(&dir).await
            } else {
                let inv = ctx.load_inventory()?;
                let nodes = ctx.select(&inv)?;
                close(nodes.iter().map(|n| n.as_ref()), ctx).await
            };
            if p.json {
                p.json_line(&json!({"event": "connections_closed", "closed": closed}));
            } else if closed.is_empty() {
                p.out("no kept connection was open");
            } else {
                p.out(format!("closed {} kept connection(s): {}", closed.len(), closed.join(", ")));
            }
            Ok(ExitStatus::Success)
        }
    }
}

/// Closes every kept master to `nodes` (the ones that use OpenSSH), whichever user, key or config
/// opened it; returns the names of the nodes that had one open. `keys` and `offboard` call this after changing a node's access, so no
/// connection authenticated the old way outlives the change.
pub async fn close<'a>(nodes: impl IntoIterator<Item = &'a Node>, ctx: &Ctx) -> Vec<String> {
    let dir = ctx.control_dir();
    let mut closed = Vec::new();
    for n in nodes.into_iter().filter(|n| n.transport == TransportKind::Openssh) {
        let mut any = false;
        for sock in openssh::masters_to(n, &dir) {
            any |= openssh::stop_master(&sock).await;
        }
        if any {
            closed.push(n.name.clone());
        }
    }
    closed
}

/// Closes every master socket in the control directory.
async fn close_all(dir: &std::path::Path) -> Vec<String> {
    use std::os::unix::fs::FileTypeExt;
    let mut closed = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return closed };
    for e in entries.flatten() {
        if e.file_type().map(|t| t.is_socket()).unwrap_or(false) && openssh::stop_master(&e.path()).await {
            closed.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    closed.sort();
    closed
}
