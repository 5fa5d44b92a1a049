//! `garnet offboard`: the roll-off. Per node: the monitor loses its store credentials (and keeps
//! sampling on the node, or is removed), then garnet's operator key is removed — last, since after
//! it garnet can no longer log in. Loaders and the router keep serving.

use anyhow::Result;

use super::{Ctx, run_plan};
use crate::ExitStatus;
use crate::cli::OffboardArgs;
use crate::plan::{Action, NodePlan, Plan, Step};

/// The offboard plan of every selected node (the inventory, with the placement record applied).
/// The nodes' homes, as probed (for the runbook's values).
type Homes = std::collections::BTreeMap<String, String>;

async fn plan_nodes(args: &OffboardArgs, ctx: &Ctx) -> Result<(crate::inventory::Inventory, Vec<NodePlan>, Homes)> {
    let mut inv = ctx.load_inventory()?;
    let nodes = ctx.select(&inv)?;
    let p = &ctx.printer;
    let comment = format!("garnet-operator@{}", inv.cluster.slug);
    let key =
        args.key.clone().unwrap_or_else(|| ctx.state_dir().join("keys").join(format!("{}-ed25519", inv.cluster.slug)));
    let body = std::fs::read_to_string(key.with_extension("pub"))
        .ok()
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_string));
    if body.is_none() {
        p.note(format!("no operator key at `{}.pub`: removing the lines commented `{comment}`", key.display()));
    }
    let connect = ctx.connect_options();
    let variants = super::deploy::load_variants(&mut inv).await?;
    let targets = super::deploy::probe_all(&nodes, ctx.global.forks as usize, &connect).await;
    let revoke = Step {
        name: "remove garnet's key".into(),
        action: Action::Run {
            command: super::keys::revoke_script(body.as_deref(), &comment),
            timeout: Some(std::time::Duration::from_secs(30)),
            stream: false,
            capture: true,
            changes: true,
            unchanged_exit: Some(crate::node::service::UNCHANGED),
        },
    };
    let mut plan_nodes = Vec::new();
    for n in &nodes {
        let mut steps = match targets.get(&n.name) {
            Some(Ok(t)) => crate::node::offboard::offboard_steps(n, t, &inv, &variants, args.remove_monitor),
            other => super::deploy::unprobed(p, n, other, "offboard"),
        };
        steps.push(revoke.clone());
        plan_nodes.push(NodePlan { node: n.clone(), steps });
    }
    let homes = targets
        .iter()
        .filter_map(|(name, t)| {
            let n = inv.node(name)?;
            Some((name.clone(), t.as_ref().ok()?.garnet_home(&n.garnet_home)))
        })
        .collect();
    Ok((inv, plan_nodes, homes))
}

/// The runbook step (of [`crate::procedure::OFFBOARD`]) an offboard plan step belongs to.
fn part_of(step: &str) -> &'static str {
    match step {
        "services that keep running" => "list what keeps running",
        "remove the store credentials" => "store credentials",
        "remove garnet's key" => "garnet's key",
        _ => "monitor off the store",
    }
}

/// The offboard of node `only` (else every selected node) as a runbook a person pastes: the very
/// steps `garnet offboard` runs, in its order (garnet's key last).
pub(crate) async fn runbook(args: &OffboardArgs, ctx: &Ctx, only: Option<&str>) -> Result<String> {
    let (inv, plans, homes) = plan_nodes(args, ctx).await?;
    let mut out = Vec::new();
    for np in plans.into_iter().filter(|np| only.is_none_or(|o| o == np.node.name)) {
        if np.steps.first().is_some_and(|s| s.name == "probe") {
            anyhow::bail!("{}: cannot reach it to read its home", np.node.name);
        }
        let mut steps: Vec<crate::procedure::Step> = Vec::new();
        for s in np.steps {
            let part = part_of(&s.name);
            match steps.last_mut() {
                Some(last) if last.template.name == part => last.work[0].steps.push(s),
                _ => steps.push(crate::procedure::Step {
                    template: crate::procedure::OFFBOARD.step(part),
                    work: vec![NodePlan { node: np.node.clone(), steps: vec![s] }],
                    undo_work: Vec::new(),
                    by_hand: None,
                }),
            }
        }
        let refs: Vec<&crate::procedure::Step> = steps.iter().collect();
        let values = std::collections::BTreeMap::from([
            ("cluster".to_string(), inv.cluster.slug.clone()),
            ("node".to_string(), np.node.name.clone()),
            ("ssh".to_string(), crate::procedure::shell::ssh(&np.node)),
            ("h".to_string(), homes.get(&np.node.name).cloned().unwrap_or_default()),
        ]);
        out.push(crate::procedure::render_steps(
            &crate::procedure::OFFBOARD,
            &format!("`offboard` on {}", np.node.name),
            &refs,
            &values,
        ));
    }
    Ok(out.join("\n"))
}

pub async fn run(args: &OffboardArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let (inv, plan_nodes, _) = plan_nodes(args, ctx).await?;
    let p = &ctx.printer;
    let nodes: Vec<std::sync::Arc<crate::inventory::Node>> = plan_nodes.iter().map(|n| n.node.clone()).collect();
    let key =
        args.key.clone().unwrap_or_else(|| ctx.state_dir().join("keys").join(format!("{}-ed25519", inv.cluster.slug)));
    let plan = Plan { command: "offboard".into(), mutating: true, nodes: plan_nodes };
    let (status, report) = run_plan(ctx, &inv, plan, |_| Vec::new()).await?;
    let Some(report) = report else { return Ok(status) };
    // garnet's key is gone from the nodes: no kept connection may outlive it.
    super::connections::close(nodes.iter().map(|n| n.as_ref()), ctx).await;

    let mut rows = Vec::new();
    for n in &report.nodes {
        let running: Vec<String> = n
            .steps
            .first()
            .and_then(|s| s.output.as_ref())
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .map(str::trim)
                    .filter(|l| !(l.is_empty() || args.remove_monitor && *l == "garnet-monitor"))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let removed: Vec<&str> = n
            .steps
            .iter()
            .filter(|s| s.outcome == crate::plan::Outcome::Changed && s.name != "monitor keeps its samples on the node")
            .map(|s| match s.name.as_str() {
                "remove the store credentials" => "store credentials",
                "remove the monitor" => "monitor",
                "remove garnet's key" => "garnet's SSH key",
                "monitor restarted without the store" => "monitor's shipping",
                other => other,
            })
            .collect();
        rows.push(serde_json::json!({"node": n.node.name, "outcome": n.outcome, "removed": removed, "keeps_running": running}));
    }
    if p.json {
        p.json_line(&serde_json::json!({"event": "offboard", "nodes": rows}));
    } else {
        let mut t = p.table();
        t.set_header(vec!["node", "outcome", "removed", "keeps running"]);
        for r in &rows {
            let list = |v: &serde_json::Value| {
                v.as_array()
                    .map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            };
            t.add_row(vec![
                r["node"].as_str().unwrap_or("").to_string(),
                r["outcome"].as_str().unwrap_or("").to_string(),
                list(&r["removed"]),
                list(&r["keeps_running"]),
            ]);
        }
        p.out(t);
        let login = nodes.iter().filter_map(|n| n.identity_file.as_ref()).find(|f| **f != key);
        if let Some(f) = login {
            p.note(format!(
                "the inventory logs in with `{}`, which is not garnet's operator key: if garnet should lose that access too, remove its line from the nodes' authorized_keys",
                f.display()
            ));
        }
    }
    Ok(status)
}
