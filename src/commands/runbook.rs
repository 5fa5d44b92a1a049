//! `garnet runbook NAME`: a procedure's runbook ([`crate::procedure`]) with the inventory's values.

use std::collections::BTreeMap;

use anyhow::Result;

use super::Ctx;
use crate::ExitStatus;
use crate::cli::RunbookArgs;
use crate::exit::UsageError;
use crate::inventory::{Inventory, Node, Os, ServiceBackend, TransportKind};
use crate::procedure;

/// How to start and stop service `name` on `node` by hand.
pub(crate) fn service_cmds(node: &Node, h: &str, name: &str) -> (String, String) {
    let label = format!("dev.garnet.{}", name.trim_start_matches("garnet-"));
    match crate::node::service::backend_for(node.service_backend, node.os) {
        ServiceBackend::Launchd => (
            format!("launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/{label}.plist"),
            format!("launchctl bootout gui/$(id -u)/{label}; rm ~/Library/LaunchAgents/{label}.plist"),
        ),
        ServiceBackend::Systemd => (
            format!("systemctl --user enable --now {name}"),
            format!("systemctl --user disable --now {name}; rm ~/.config/systemd/user/{name}.service"),
        ),
        _ => (
            format!("sh {}", crate::node::layout::service_script(h, name)),
            format!(
                "kill $(cat {h}/run/{name}.pid); rm -f {h}/run/{name}.pid {h}/run/{name}.gen {h}/services/{name}.sh"
            ),
        ),
    }
}

fn ssh(node: &Node) -> String {
    match node.transport {
        TransportKind::Local => "sh -c".into(),
        _ => format!("ssh -p {} {}", node.port, user_host(node)),
    }
}

fn user_host(node: &Node) -> String {
    format!("{}{}", node.user.as_deref().map(|u| format!("{u}@")).unwrap_or_default(), node.host)
}

pub(crate) fn values(args: &RunbookArgs, inv: &Inventory) -> Result<BTreeMap<String, String>> {
    let mut v = BTreeMap::new();
    let model = match &args.model {
        Some(m) => Some(
            inv.models
                .iter()
                .find(|x| &x.name == m)
                .ok_or_else(|| UsageError(format!("no model `{m}` in the inventory")))?,
        ),
        None => inv.models.iter().find(|m| inv.placement.contains_key(&m.name)),
    };
    let node = match &args.node {
        Some(n) => inv.node(n).ok_or_else(|| UsageError(format!("no node `{n}` in the inventory")))?.clone(),
        None => model
            .and_then(|m| inv.placement.get(&m.name))
            .and_then(|p| p.nodes.first())
            .and_then(|n| inv.node(n))
            .or_else(|| inv.nodes.first())
            .ok_or_else(|| UsageError("the inventory has no node".into()))?
            .clone(),
    };
    let h = node.garnet_home.trim_end_matches('/').to_string();
    let (start, stop) = service_cmds(&node, &h, "NAME");
    v.insert("cluster".into(), inv.cluster.slug.clone());
    v.insert("node".into(), node.name.clone());
    v.insert("ssh".into(), ssh(&node));
    v.insert("user_host".into(), user_host(&node));
    v.insert("scp_port".into(), format!("-P {}", node.port));
    v.insert("h".into(), h.clone());
    v.insert("start".into(), start);
    v.insert("stop".into(), stop);
    let python = crate::node::blocks::python_path(inv, &h);
    v.insert("python".into(), python);
    let mlx = if node.os == Some(Os::Macos) { crate::node::deploy::MLX_MACOS } else { crate::node::deploy::MLX_LINUX };
    v.insert(
        "packages".into(),
        inv.deploy
            .packages
            .clone()
            .map(|p| p.join(" "))
            .unwrap_or_else(|| format!("'{mlx}' {}", crate::node::deploy::MLX_LM)),
    );
    let host = node.bind_host();
    let reach = if host == "0.0.0.0" { "127.0.0.1".to_string() } else { host };
    if let Some(m) = model {
        v.insert("model".into(), m.name.clone());
        v.insert("a".into(), m.name.clone());
        v.insert(
            "model_dir".into(),
            m.local_path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| m.source.clone()),
        );
        v.insert("loader_url".into(), format!("http://{reach}:{}", node.port(m.port)));
        v.insert("loader_id".into(), m.loader_id());
        v.insert("context".into(), m.context.unwrap_or(4096).to_string());
        v.insert("concurrency".into(), m.max_concurrency.to_string());
        if let Some(b) = m.latency_budget_ms {
            v.insert("budget_ms".into(), format!("{b} ms"));
        }
        let a_backend = format!("{}/{}", node.name, m.name);
        v.insert("a_backend_escaped".into(), a_backend.replace('/', "%2F"));
        v.insert("a_backend".into(), a_backend);
        v.insert("a_stop".into(), service_cmds(&node, &h, &crate::node::blocks::loader_service(&m.name)).1);
        if let Some(to) = &args.to {
            let b = inv
                .models
                .iter()
                .find(|x| &x.name == to)
                .ok_or_else(|| UsageError(format!("no model entry `{to}`")))?;
            v.insert("b".into(), b.name.clone());
            v.insert("previous".into(), b.name.clone());
            v.insert(
                "b_dir".into(),
                b.local_path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| b.source.clone()),
            );
            v.insert("b_port".into(), node.port(b.port).to_string());
            v.insert("b_url".into(), format!("http://{reach}:{}", node.port(b.port)));
            v.insert("b_id".into(), b.loader_id());
            // As hot-swap does: B's budget, else A's; said plainly when neither has one.
            let budget = b.latency_budget_ms.or(m.latency_budget_ms);
            v.insert(
                "budget_ms".into(),
                budget.map_or_else(
                    || "any time (no latency_budget_ms set for either model; only failures count)".into(),
                    |b| format!("{b} ms"),
                ),
            );
            v.insert("b_service".into(), crate::node::blocks::loader_service(&b.name));
            v.insert("b_backend".into(), format!("{}/{}@{}", node.name, m.name, b.name));
            let (bs, bx) = service_cmds(&node, &h, &crate::node::blocks::loader_service(&b.name));
            v.insert("b_start".into(), bs);
            v.insert("b_stop".into(), bx);
        }
    }
    if let (Some(r), Some(rn)) = (&inv.router, inv.nodes.iter().find(|n| n.has_role("router"))) {
        v.insert("router_ssh".into(), ssh(rn));
        v.insert("router_h".into(), rn.garnet_home.trim_end_matches('/').to_string());
        let shift = |addr: &str| crate::node::blocks::local_url(addr, rn.port_offset).1;
        v.insert("admin_url".into(), shift(&r.admin_listen));
        v.insert("api_url".into(), shift(&r.listen).replace("127.0.0.1", &rn.service_host()));
    }
    Ok(v)
}

pub async fn run(args: &RunbookArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let Some(p) = procedure::find(&args.name) else {
        let names: Vec<&str> = procedure::ALL.iter().map(|p| p.name).collect();
        let hint = crate::inventory::did_you_mean(&args.name, names.iter().copied())
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        return Err(UsageError(format!("no runbook `{}`{hint}; there are: {}", args.name, names.join(", "))).into());
    };
    // A hot-swap (or rollback) of a named model: the very steps `hot-swap` would run, with their
    // commands, files and routes (this reads the store and probes the nodes involved).
    let swap = match (args.name.as_str(), &args.model, &args.to) {
        ("hot-swap", Some(m), Some(to)) => Some((m, Some(to.as_str()))),
        ("rollback", Some(m), _) => Some((m, None)),
        _ => None,
    };
    if let (false, Some((model, to))) = (args.generic, swap) {
        let opts = crate::cli::SwapOptions { node: args.node.clone(), via: None, checks: Default::default() };
        match super::hotswap::prepare(model, to, &opts, ctx).await {
            Ok(Some(pr)) => {
                ctx.printer.out(pr.runbook().trim_end());
                return Ok(ExitStatus::Success);
            }
            Ok(None) => {
                ctx.printer.note(format!("`{model}` is already served by that entry: nothing to do"));
                return Ok(ExitStatus::Success);
            }
            Err(e) if e.downcast_ref::<UsageError>().is_some() => return Err(e),
            // Nodes or store out of reach (CI, a laptop off the VPN): the template, filled in.
            Err(e) => ctx.printer.warn(format!(
                "{e:#}: the steps below are the runbook with this inventory's values; its exact commands (service definition, routes, record) need the nodes and the store"
            )),
        }
    }
    if !args.generic && args.name == "deploy" {
        let per_node = |inv: &Inventory, n: &Node| {
            values(
                &RunbookArgs {
                    node: Some(n.name.clone()),
                    name: args.name.clone(),
                    model: args.model.clone(),
                    to: None,
                    generic: false,
                },
                inv,
            )
        };
        match super::deploy::runbook(ctx, args.node.as_deref(), &per_node).await {
            Ok(text) => {
                ctx.printer.out(text.trim_end());
                return Ok(ExitStatus::Success);
            }
            Err(e) if e.downcast_ref::<UsageError>().is_some() => return Err(e),
            Err(e) => ctx.printer.warn(format!(
                "{e:#}: the steps below are the runbook with this inventory's values; its exact commands (files, services, secrets) need the nodes"
            )),
        }
    }
    if !args.generic && args.name == "offboard" {
        let off = crate::cli::OffboardArgs { remove_monitor: false, key: None };
        match super::offboard::runbook(&off, ctx, args.node.as_deref()).await {
            Ok(text) => {
                ctx.printer.out(text.trim_end());
                return Ok(ExitStatus::Success);
            }
            Err(e) if e.downcast_ref::<UsageError>().is_some() => return Err(e),
            Err(e) => ctx.printer.warn(format!(
                "{e:#}: the steps below are the runbook with this inventory's values; its exact commands need the nodes"
            )),
        }
    }
    let values = if args.generic { BTreeMap::new() } else { values(args, &ctx.load_inventory()?)? };
    ctx.printer.out(procedure::render(p, &values).trim_end());
    Ok(ExitStatus::Success)
}
