//! `garnet hot-swap MODEL --to ENTRY` and `garnet rollback MODEL`: replace the loader serving a
//! public model, node by node, with zero requests lost.
//!
//! Per node N, with A the entry serving MODEL there now and B the new one:
//! 1. fit: A and B must both fit in N's memory at once (from the models' own files);
//! 2. start B cold as its own service on its own port, wait for a real completion, then B must
//!    answer every health prompt with p99 within the model's latency budget — any failure here
//!    stops and removes B: A and the traffic are untouched;
//! 3. flip every router at once: one atomic table swap makes B active and A draining;
//! 4. drain: wait until A has nothing in flight (up to the drain cap; what is still running then
//!    is counted as cut), then the routes without A;
//! 5. stop and remove A's service (its files stay, for `rollback`); record the placement.
//!
//! The steps are [`crate::procedure::HOT_SWAP`], the list `runbooks/hot-swap.md` is rendered from.
//! Here: deciding the swaps (A, B, where B runs, fit) and the shared dry-run / confirm / lock /
//! audit path; [`plan`]: every step of every swap, pure; `exec`: running them phase by phase.

mod exec;
pub mod plan;

use std::sync::Arc;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::Ctx;
use crate::ExitStatus;
use crate::cli::SwapOptions;
use crate::exit::UsageError;
use crate::inventory::{Inventory, ModelSpec, Node};
use crate::node::blocks as nd;
use crate::node::target::Target;
use crate::placement::record::{self, Moves, PlacementRecord, Variants, serving};
use plan::{Kept, RouterNode, Swap, SwapPlan};

/// Memory A (when it stays on the node during the swap) and B need together on `node`, from the
/// models' own files; `Err` says by how much it does not fit.
fn fit_check(node: &Node, a: Option<&ModelSpec>, b: &ModelSpec) -> Result<String, String> {
    let Some(gb) = node.memory_gb else {
        return Ok(format!("{}: no `memory_gb` in the inventory, fit not checked", node.name));
    };
    let need = crate::placement::memory::entry_need;
    let na = match a {
        Some(a) => need(a),
        None => Some(0),
    };
    let (Some(na), Some(nb)) = (na, need(b)) else {
        return Ok(format!("{}: a model is not a local folder, fit not checked", node.name));
    };
    let have = (gb * (1u64 << 30) as f64) as u64;
    let h = crate::util::human_bytes;
    let what = match a {
        Some(a) => {
            format!("A `{}` needs {} and B `{}` needs {}: {} together", a.name, h(na), b.name, h(nb), h(na + nb))
        }
        None => format!("B `{}` needs {}", b.name, h(nb)),
    };
    if na + nb > have {
        Err(format!("{}: {what}, more than the node's {}", node.name, h(have)))
    } else {
        Ok(format!("{}: {what}, of {}", node.name, h(have)))
    }
}

fn empty_record(inv: &Inventory) -> PlacementRecord {
    PlacementRecord {
        schema_version: 1,
        cluster: inv.cluster.slug.clone(),
        at: String::new(),
        command: String::new(),
        variants: Variants::new(),
        previous: None,
        entries: Vec::new(),
        moves: Default::default(),
        removed: Default::default(),
    }
}

/// `--to PATH|REPO` that names no entry: an entry made from the model's own, with that source and
/// the first port after A's that no entry uses (kept in the placement record).
fn adhoc_entry(inv: &Inventory, public: &ModelSpec, source: &str) -> Option<ModelSpec> {
    let looks_like_source = source.starts_with(['/', '.', '~']) || source.contains('/');
    if !looks_like_source {
        return None;
    }
    use sha2::Digest;
    let digest: String = sha2::Sha256::digest(source.as_bytes()).iter().take(3).map(|b| format!("{b:02x}")).collect();
    let port = (public.port.saturating_add(1)..u16::MAX).find(|p| inv.models.iter().all(|m| m.port != *p))?;
    let local = source.starts_with(['/', '.', '~']);
    Some(ModelSpec {
        name: format!("{}-{digest}", public.name),
        source: source.to_string(),
        port,
        local_path: local.then(|| {
            let cwd = std::env::current_dir().unwrap_or_default();
            crate::inventory::expand_path(&cwd, std::path::Path::new(source))
        }),
        ..public.clone()
    })
}

/// The node `model` was on before the latest record moved it to `node` (a `--via` swap the
/// previous record did not have): where a rollback takes it back to.
fn moved_from<'a>(moves: &'a Moves, previous: &PlacementRecord, model: &str, node: &str) -> Option<&'a str> {
    let (origin, _) = moves.get(model)?.iter().find(|(_, to)| to.as_str() == node)?;
    let before = previous.moves.get(model).and_then(|m| m.get(origin));
    (before.map(String::as_str) != Some(node)).then_some(origin.as_str())
}

/// A swap decided and planned, ready to show, confirm and run.
pub struct Prepared {
    pub inv: Inventory,
    /// `hot-swap MODEL --to B` or `rollback MODEL`.
    pub command: String,
    pub routers: Vec<RouterNode>,
    pub plans: Vec<SwapPlan>,
}

impl Prepared {
    /// Every swap as the runbook a person pastes: exactly the steps `run` executes.
    pub fn runbook(&self) -> String {
        self.plans.iter().map(|sp| sp.runbook(&self.command)).collect::<Vec<_>>().join("\n")
    }
}

pub async fn run(model: &str, to: Option<&str>, opts: &SwapOptions, ctx: &Ctx) -> Result<ExitStatus> {
    let Some(pr) = prepare(model, to, opts, ctx).await? else { return Ok(ExitStatus::Success) };
    let p = &ctx.printer;
    if ctx.global.dry_run {
        if p.json {
            let swaps: Vec<Value> = pr
                .plans
                .iter()
                .map(|sp| {
                    json!({"node": sp.swap.from.name, "a": sp.swap.a.name, "b": sp.swap.b.name, "on": sp.swap.on.name,
                        "steps": sp.steps.iter().map(|s| json!({"step": s.phase.name(),
                            "nodes": s.step.work.iter().map(|n| &n.node.name).collect::<Vec<_>>(),
                            "shell": s.step.by_hand.clone().unwrap_or_else(|| crate::procedure::shell::plans(&s.step.work))})).collect::<Vec<_>>()})
                })
                .collect();
            p.json_line(&json!({"event": "plan", "command": pr.command, "dry_run": true, "swaps": swaps}));
        } else {
            p.out(format!(
                "Plan for `{}` — dry run, nothing is changed; pasted in order, these blocks do the same:\n",
                pr.command
            ));
            p.out(pr.runbook().trim_end());
        }
        return Ok(ExitStatus::Success);
    }
    let mut summary = format!("{}: per node, in order:\n", pr.command);
    for sp in &pr.plans {
        let s = &sp.swap;
        summary.push_str(&format!(
            "  {}: A `{}` (port {}) → B `{}` (port {} on {}), drain up to {}\n",
            s.from.name,
            s.a.name,
            s.from.port(s.a.port),
            s.b.name,
            s.on.port(s.b.port),
            s.on.name,
            crate::util::human_duration(sp.drain)
        ));
    }
    for (i, s) in crate::procedure::HOT_SWAP.steps.iter().enumerate() {
        summary.push_str(&format!("  {}. {}: {}\n", i + 1, s.name, s.what));
    }
    if !super::confirm(ctx, &format!("`{}`", pr.command), summary.trim_end(), format!("Apply `{}`?", pr.command))? {
        return Ok(ExitStatus::Failure);
    }
    let held = super::take_lock(ctx, &pr.inv, &pr.command).await?;
    let result = execute(ctx, model, &pr, held.store.as_ref()).await;
    let names: Vec<String> = pr.plans.iter().map(|s| s.swap.from.name.clone()).collect();
    let mut summary = crate::plan::Summary::default();
    let status = match &result {
        Ok(()) => {
            summary.changed = names.len();
            ExitStatus::Success
        }
        Err(_) => {
            summary.failed = 1;
            ExitStatus::Failure
        }
    };
    super::release_lock(ctx, &pr.inv, held, &pr.command, &names, &summary, status).await;
    result?;
    Ok(status)
}

/// Runs a prepared swap (confirmed, under the lock the caller holds).
pub async fn execute(ctx: &Ctx, model: &str, pr: &Prepared, store: &dyn crate::store::Store) -> Result<()> {
    exec::swap_all(ctx, &pr.inv, model, &pr.command, &pr.plans, &pr.routers, store).await
}

/// Reads the placement record, decides the swaps (A and B per node, fit checked), probes the
/// nodes involved and plans every step; `None` when every node already serves B.
pub async fn prepare(model: &str, to: Option<&str>, opts: &SwapOptions, ctx: &Ctx) -> Result<Option<Prepared>> {
    prepare_with(model, to, None, opts, ctx).await
}

/// [`prepare`], with `extra` an entry made by the caller (`placement apply`'s loader-argument
/// change) that `to` may name: kept in the placement record like a `--to SOURCE` entry.
pub async fn prepare_with(
    model: &str,
    to: Option<&str>,
    extra: Option<ModelSpec>,
    opts: &SwapOptions,
    ctx: &Ctx,
) -> Result<Option<Prepared>> {
    prepare_any(model, to.map_or(What::Back, What::To), extra, opts, ctx).await
}

/// `model` taken off `--node` (it stays on its other nodes, which take its traffic): the swap's
/// flip, drain, stop and record, with nothing started (`placement apply`'s eviction).
pub async fn prepare_leave(model: &str, opts: &SwapOptions, ctx: &Ctx) -> Result<Option<Prepared>> {
    prepare_any(model, What::Leave, None, opts, ctx).await
}

/// What a swap does: to an entry, back to the previous record, or off a node.
#[derive(Clone, Copy)]
enum What<'a> {
    To(&'a str),
    Back,
    Leave,
}

async fn prepare_any(
    model: &str,
    what: What<'_>,
    extra: Option<ModelSpec>,
    opts: &SwapOptions,
    ctx: &Ctx,
) -> Result<Option<Prepared>> {
    let to = match what {
        What::To(t) => Some(t),
        _ => None,
    };
    let mut inv = ctx.load_inventory()?;
    let p = &ctx.printer;
    let store = crate::store::open(&inv).await?;
    let latest = record::latest(store.as_ref(), &inv.cluster.slug).await?;
    if let Some((_, r)) = &latest {
        record::apply(&mut inv, r);
    }
    let mut adhoc: Vec<ModelSpec> = latest.as_ref().map(|(_, r)| r.entries.clone()).unwrap_or_default();
    if let Some(e) = extra
        && !inv.models.iter().any(|m| m.name == e.name)
    {
        if !adhoc.iter().any(|x| x.name == e.name) {
            adhoc.push(e.clone());
        }
        inv.models.push(e);
    }
    if let Some(t) = to
        && !inv.models.iter().any(|m| m.name == t)
        && let Some(public) = inv.models.iter().find(|m| m.name == model)
        && let Some(e) = adhoc_entry(&inv, public, t)
    {
        p.note(format!("`{t}` is a source: serving it as entry `{}` on port {}", e.name, e.port));
        if !adhoc.iter().any(|x| x.name == e.name) {
            adhoc.push(e.clone());
        }
        inv.models.push(e);
    }
    let to_entry: Option<String> = to.map(|t| {
        inv.models
            .iter()
            .find(|m| m.name == t || m.source == t && m.name.starts_with(model))
            .map_or(t.to_string(), |m| m.name.clone())
    });
    let to = to_entry.as_deref();
    // B per node: `--to`, or for a rollback the entry the previous record had there.
    let previous: Option<PlacementRecord> = match (to, &latest) {
        (Some(_), _) => None,
        (None, _) if matches!(what, What::Leave) => None,
        (None, Some((_, r))) => match &r.previous {
            Some(k) => match store.get(k).await? {
                Some(b) => Some(serde_json::from_slice::<PlacementRecord>(&b).context("previous placement record")?),
                None => Some(empty_record(&inv)),
            },
            None => Some(empty_record(&inv)),
        },
        (None, None) => {
            return Err(UsageError(format!("no hot-swap of `{model}` on record: nothing to roll back")).into());
        }
    };
    let moves = latest.as_ref().map(|(_, r)| r.moves.clone()).unwrap_or_default();
    let variants: Variants = latest.as_ref().map(|(_, r)| r.variants.clone()).unwrap_or_default();
    let swaps = match (&previous, what) {
        (_, What::Leave) => leave(&inv, model, opts, &variants)?,
        (None, _) => decide(&inv, model, Target_::To(to.expect("a hot-swap names B")), opts, &variants, &moves, p)?,
        (Some(prev), _) => {
            // A rollback of a leave: the nodes the model left since the previous record get it back.
            let left =
                latest.as_ref().map(|(_, r)| r.removed.get(model).cloned().unwrap_or_default()).unwrap_or_default();
            let rejoin: Vec<String> = left
                .into_iter()
                .filter(|n| !prev.removed.get(model).is_some_and(|r| r.contains(n)))
                .filter(|n| opts.node.as_deref().is_none_or(|x| x == n))
                .collect();
            let mut swaps = if rejoin.is_empty() || opts.node.is_none() {
                decide(&inv, model, Target_::Back(prev), opts, &variants, &moves, p)?
            } else {
                Vec::new()
            };
            swaps.extend(join(&inv, model, &rejoin, prev, p)?);
            swaps
        }
    };
    if swaps.is_empty() {
        return Ok(None);
    }
    let routers: Vec<Arc<Node>> = inv.nodes.iter().filter(|n| n.has_role("router")).cloned().collect();
    let Some(router_spec) = inv.router.as_ref().filter(|_| !routers.is_empty()) else {
        return Err(UsageError(
            "hot-swap needs a router (a `router:` section and a node with the `router` role)".into(),
        )
        .into());
    };
    let mut command = match what {
        What::To(t) => format!("hot-swap {model} --to {t}"),
        What::Back => format!("rollback {model}"),
        What::Leave => format!("placement apply: {model} leaves {}", opts.node.as_deref().unwrap_or("?")),
    };
    // The command as typed, so records and audit say exactly what ran.
    if !matches!(what, What::Leave) {
        for (flag, v) in [("--node", &opts.node), ("--via", &opts.via)] {
            if let Some(v) = v {
                command.push_str(&format!(" {flag} {v}"));
            }
        }
    }

    // Probe every node involved (homes, OS).
    let connect = ctx.connect_options();
    let mut involved: Vec<Arc<Node>> = swaps.iter().flat_map(|s| [s.from.clone(), s.on.clone()]).collect();
    involved.dedup_by(|x, y| x.name == y.name);
    for r in &routers {
        if !involved.iter().any(|n| n.name == r.name) {
            involved.push(r.clone());
        }
    }
    let targets = super::deploy::probe_all(&involved, ctx.global.forks as usize, &connect).await;
    let target = |n: &str| -> Result<Target> {
        match targets.get(n) {
            Some(Ok(t)) => Ok(t.clone()),
            Some(Err(e)) => anyhow::bail!("{n}: {e}"),
            None => anyhow::bail!("{n}: not probed"),
        }
    };
    let routers: Vec<RouterNode> = routers
        .iter()
        .map(|r| {
            let t = target(&r.name)?;
            let h = t.garnet_home(&r.garnet_home);
            Ok(RouterNode { node: r.clone(), h, admin_url: nd::local_url(&router_spec.admin_listen, r.port_offset).1 })
        })
        .collect::<Result<_>>()?;
    let input = plan::Inputs {
        inv: &inv,
        model,
        command: &command,
        routers: &routers,
        target: &target,
        opts,
        variants,
        kept: Kept {
            removed: latest.as_ref().map(|(_, r)| r.removed.clone()).unwrap_or_default(),
            latest,
            entries: adhoc,
            moves,
        },
        now: jiff::Timestamp::now(),
    };
    let plans = plan::plan(swaps, input)?;
    Ok(Some(Prepared { inv, command, routers, plans }))
}

/// The public model's entry and where it is placed, or why it cannot be swapped.
fn model_and_placement<'a>(
    inv: &'a Inventory,
    model: &str,
) -> Result<(&'a ModelSpec, &'a crate::inventory::PlacementSpec), UsageError> {
    let public = inv
        .models
        .iter()
        .find(|m| m.name == model)
        .ok_or_else(|| UsageError(format!("no model `{model}` in the inventory")))?;
    let placed =
        inv.placement.get(model).ok_or_else(|| UsageError(format!("model `{model}` is not placed on any node")))?;
    Ok((public, placed))
}

/// The one "swap" of a model leaving `--node`: A stops there, nothing starts; refused when it is
/// the model's only node.
fn leave(inv: &Inventory, model: &str, opts: &SwapOptions, variants: &Variants) -> Result<Vec<Swap>> {
    let (public, placed) = model_and_placement(inv, model)?;
    let Some(node) = opts.node.as_deref() else {
        return Err(UsageError(format!("name the node `{model}` leaves")).into());
    };
    if !placed.nodes.iter().any(|n| n == node) {
        return Ok(Vec::new());
    }
    if placed.nodes.len() < 2 {
        return Err(UsageError(format!(
            "`{model}` is only on {node}: taking it off would leave it unserved (move it instead)"
        ))
        .into());
    }
    let n = inv.node(node).ok_or_else(|| UsageError(format!("no node `{node}` in the inventory")))?.clone();
    let a = serving(inv, variants, public, node).clone();
    let others: Vec<&str> = placed.nodes.iter().filter(|x| *x != node).map(String::as_str).collect();
    Ok(vec![Swap {
        from: n.clone(),
        b: a.clone(),
        a,
        on: n,
        fit: format!("{} keep{} serving it", others.join(", "), if others.len() == 1 { "s" } else { "" }),
        leave: true,
        join: false,
    }])
}

/// The model back on `nodes`, which it left since `prev` (a rollback of `placement apply`'s
/// eviction): on each, the entry `prev` had there starts and joins the routes, fit checked.
fn join(
    inv: &Inventory,
    model: &str,
    nodes: &[String],
    prev: &PlacementRecord,
    p: &crate::output::Printer,
) -> Result<Vec<Swap>> {
    let (public, _) = model_and_placement(inv, model)?;
    let mut swaps = Vec::new();
    for name in nodes {
        let n = inv.node(name).ok_or_else(|| UsageError(format!("no node `{name}` in the inventory")))?.clone();
        let b = serving(inv, &prev.variants, public, name).clone();
        let fit =
            fit_check(&n, None, &b).map_err(|msg| UsageError(format!("`{model}` cannot return to {name}: {msg}")))?;
        p.note(format!("{name}: `{model}` returns (it left with the last placement change); fit: {fit}"));
        swaps.push(Swap {
            from: n.clone(),
            a: b.clone(),
            b,
            on: n,
            fit: format!("returns to {name}; {fit}"),
            leave: false,
            join: true,
        });
    }
    Ok(swaps)
}

/// What B is: the entry `--to` names, or (rollback) the one the previous record had.
enum Target_<'a> {
    To(&'a str),
    Back(&'a PlacementRecord),
}

/// Per node the model is on (or the one `--node` names): A, B, and where B runs, fit checked.
fn decide(
    inv: &Inventory,
    model: &str,
    b_is: Target_<'_>,
    opts: &SwapOptions,
    variants: &Variants,
    moves: &Moves,
    p: &crate::output::Printer,
) -> Result<Vec<Swap>> {
    let (public, placed) = model_and_placement(inv, model)?;
    let nodes: Vec<Arc<Node>> = placed
        .nodes
        .iter()
        .filter(|n| opts.node.as_deref().is_none_or(|x| x == n.as_str()))
        .filter_map(|n| inv.node(n).cloned())
        .collect();
    if nodes.is_empty() {
        return Err(UsageError(format!(
            "model `{model}` is not placed on `{}` (placed on: {})",
            opts.node.as_deref().unwrap_or("?"),
            placed.nodes.join(", ")
        ))
        .into());
    }
    let via = match &opts.via {
        None => None,
        Some(v) => {
            let s = inv.node(v).ok_or_else(|| UsageError(format!("no node `{v}` in the inventory")))?;
            if placed.nodes.contains(v) {
                return Err(
                    UsageError(format!("`{v}` already serves `{model}`: --via needs a node that does not")).into()
                );
            }
            if !s.roles.is_empty() && !s.has_role("loader") {
                return Err(UsageError(format!("`{v}` is not a loader node")).into());
            }
            if nodes.len() != 1 {
                return Err(UsageError(format!(
                    "`{model}` is on {} nodes: name the one to move with `--node` (placed on: {})",
                    nodes.len(),
                    placed.nodes.join(", ")
                ))
                .into());
            }
            Some(s.clone())
        }
    };
    let mut swaps = Vec::new();
    for n in &nodes {
        let a = serving(inv, variants, public, &n.name);
        // A rollback of a `--via` move goes back to the node the model came from.
        let back_to = match b_is {
            Target_::Back(prev) => moved_from(moves, prev, model, &n.name).and_then(|k| inv.node(k)),
            Target_::To(_) => None,
        };
        let on = via.clone().or_else(|| back_to.cloned()).unwrap_or_else(|| n.clone());
        let b_name = match b_is {
            Target_::To(t) => t.to_string(),
            Target_::Back(prev) => serving(inv, &prev.variants, public, &on.name).name.clone(),
        };
        let b = inv.models.iter().find(|m| m.name == b_name).ok_or_else(|| {
            UsageError(format!(
                "no model entry `{b_name}`: declare it under `models:` (its source, port, quantization) to swap to it"
            ))
        })?;
        // The same entry on another node (`--via`) is a move: B is A's entry started there.
        if a.name == b.name && on.name == n.name {
            p.note(format!("{}: `{model}` is already served by `{}`", n.name, b.name));
            continue;
        }
        if a.port == b.port && on.name == n.name {
            return Err(UsageError(format!(
                "`{}` and `{}` both use port {}: A and B run side by side during the swap, give `{}` its own `port`",
                a.name, b.name, a.port, b.name
            ))
            .into());
        }
        let fit = match fit_check(&on, (on.name == n.name).then_some(a), b) {
            Ok(msg) => msg,
            Err(msg) => {
                let spares: Vec<&str> = inv
                    .nodes
                    .iter()
                    .filter(|x| !placed.nodes.contains(&x.name) && (x.roles.is_empty() || x.has_role("loader")))
                    .map(|x| x.name.as_str())
                    .collect();
                let hint = if spares.is_empty() {
                    "add a spare loader node and swap `--via` it".to_string()
                } else {
                    format!("swap `--via` a spare node ({}): B starts there, A's node is freed", spares.join(", "))
                };
                return Err(UsageError(format!("does not fit: {msg}; {hint}")).into());
            }
        };
        p.note(format!("fit: {fit}"));
        swaps.push(Swap { from: n.clone(), a: a.clone(), b: b.clone(), on, fit, leave: false, join: false });
    }
    Ok(swaps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_of_a_move_goes_back_to_the_origin() {
        let inv = crate::inventory::Inventory::from_str(
            std::path::Path::new("i.yaml"),
            "cluster: {slug: c, tier: pro}\nnodes: [{name: node1, transport: local}]\n",
        )
        .unwrap();
        let mut moves = std::collections::BTreeMap::new();
        record::record_move(&mut moves, "tiny", "node1", "node3");
        let before = empty_record(&inv);
        assert_eq!(moved_from(&moves, &before, "tiny", "node3"), Some("node1"));
        assert_eq!(moved_from(&moves, &before, "tiny", "node2"), None);
        // The previous record already had the move: a rollback of a later swap stays on node3.
        let moved_earlier = PlacementRecord { moves: moves.clone(), ..empty_record(&inv) };
        assert_eq!(moved_from(&moves, &moved_earlier, "tiny", "node3"), None);
    }
}
