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

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::Ctx;
use crate::ExitStatus;
use crate::cli::SwapOptions;
use crate::exit::UsageError;
use crate::inventory::{Inventory, ModelSpec, Node};
use crate::node::deploy::{self as nd, Target};
use crate::placement::record::{self, Moves, PlacementRecord, Variants, backend_id, serving};
use crate::plan::{Action, NodePlan, Plan, Report, Step};
use crate::router::table::RoutesConfig;
use crate::transport::{ConnectOptions, shell_quote};

/// A command's captured stdout as JSON (the last JSON line), from a report.
fn step_json(report: &Report, node: &str, step: &str) -> Option<Value> {
    let n = report.nodes.iter().find(|n| n.node.name == node)?;
    let s = n.steps.iter().find(|s| s.name == step)?;
    let out = String::from_utf8_lossy(&s.output.as_ref()?.stdout).into_owned();
    out.lines().rev().find_map(|l| serde_json::from_str(l.trim()).ok())
}

fn step_stderr(report: &Report) -> String {
    report
        .nodes
        .iter()
        .flat_map(|n| n.steps.iter())
        .filter(|s| !s.outcome.succeeded())
        .filter_map(|s| s.output.as_ref().map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn run_step(name: &str, command: String, changes: bool, timeout: Duration) -> Step {
    Step {
        name: name.into(),
        action: Action::Run {
            command,
            timeout: Some(timeout),
            stream: false,
            capture: true,
            changes,
            unchanged_exit: changes.then_some(crate::node::service::UNCHANGED),
        },
    }
}

/// Memory A (when it stays on the node during the swap) and B need together on `node`, from the
/// models' own files; `Err` says by how much it does not fit.
fn fit_check(node: &Node, a: Option<&ModelSpec>, b: &ModelSpec) -> Result<String, String> {
    let Some(gb) = node.memory_gb else {
        return Ok(format!("{}: no `memory_gb` in the inventory, fit not checked", node.name));
    };
    let need = |m: &ModelSpec| -> Option<u64> {
        let info = crate::placement::memory::inspect(m.local_path.as_ref()?).ok()?;
        let ctx = u64::from(m.context.unwrap_or(4096));
        info.need(ctx, u64::from(m.max_concurrency), 16).map(|n| n.total)
    };
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

/// One node's swap: A on `from` is replaced by B on `on` (the same node unless `--via`).
struct Swap<'a> {
    from: std::sync::Arc<Node>,
    a: &'a ModelSpec,
    b: &'a ModelSpec,
    on: std::sync::Arc<Node>,
}

/// What the latest placement record carries over into the next one.
struct Kept {
    latest: Option<(String, PlacementRecord)>,
    entries: Vec<ModelSpec>,
    moves: Moves,
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
    }
}

struct RouterNode {
    node: std::sync::Arc<Node>,
    h: String,
    admin_url: String,
}

impl RouterNode {
    fn call(&self, args: &str) -> String {
        format!(
            "{} admin-call --url {} --token-file {} {args}",
            shell_quote(&format!("{}/bin/garnet", self.h)),
            shell_quote(&self.admin_url),
            shell_quote(&format!("{}/etc/router.token", self.h))
        )
    }

    /// Upload the routes, then apply them.
    fn apply(&self, name: &str, routes: &RoutesConfig) -> Vec<Step> {
        let mut body = serde_json::to_vec_pretty(routes).expect("serializes");
        body.push(b'\n');
        vec![
            Step {
                name: format!("{name} routes file"),
                action: Action::Upload {
                    path: format!("{}/etc/routes.json", self.h),
                    contents: body,
                    mode: 0o644,
                    secret: false,
                },
            },
            Step { name: name.into(), action: nd::apply_routes(&self.h, &self.admin_url) },
        ]
    }
}

/// A phase on every router node at once.
fn on_routers(
    routers: &[RouterNode],
    command: String,
    mutating: bool,
    steps: impl Fn(&RouterNode) -> Vec<Step>,
) -> Plan {
    Plan {
        command,
        mutating,
        nodes: routers.iter().map(|r| NodePlan { node: r.node.clone(), steps: steps(r) }).collect(),
    }
}

/// The model's answered and failed requests so far (per model: they outlive removed backends).
fn model_totals(stats: &Value, model: &str) -> (u64, u64) {
    let m = stats["models"].as_array().into_iter().flatten().find(|m| m["model"] == model);
    let get = |k: &str| m.and_then(|m| m[k].as_u64()).unwrap_or(0);
    (get("requests_total"), get("failures_total"))
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

pub async fn run(model: &str, to: Option<&str>, opts: &SwapOptions, ctx: &Ctx) -> Result<ExitStatus> {
    let mut inv = ctx.load_inventory()?;
    let p = &ctx.printer;
    let store = crate::store::open(&inv).await?;
    let latest = record::latest(store.as_ref(), &inv.cluster.slug).await?;
    if let Some((_, r)) = &latest {
        record::apply(&mut inv, r);
    }
    let mut adhoc: Vec<ModelSpec> = latest.as_ref().map(|(_, r)| r.entries.clone()).unwrap_or_default();
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
    let moves = latest.as_ref().map(|(_, r)| r.moves.clone()).unwrap_or_default();
    let inv = inv;
    let public = inv
        .models
        .iter()
        .find(|m| m.name == model)
        .ok_or_else(|| UsageError(format!("no model `{model}` in the inventory")))?;
    let placed =
        inv.placement.get(model).ok_or_else(|| UsageError(format!("model `{model}` is not placed on any node")))?;
    let variants: Variants = latest.as_ref().map(|(_, r)| r.variants.clone()).unwrap_or_default();
    let nodes: Vec<std::sync::Arc<Node>> = placed
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
    // B per node: `--to`, or for a rollback the entry the previous record had there.
    let previous: Option<PlacementRecord> = match (to, &latest) {
        (Some(_), _) => None,
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
    let mut swaps: Vec<Swap> = Vec::new();
    for n in &nodes {
        let a = serving(&inv, &variants, public, &n.name);
        // A rollback of a `--via` move goes back to the node the model came from.
        let back_to =
            previous.as_ref().and_then(|prev| moved_from(&moves, prev, model, &n.name)).and_then(|k| inv.node(k));
        let on = via.clone().or_else(|| back_to.cloned()).unwrap_or_else(|| n.clone());
        let b_name = match (to, &previous) {
            (Some(t), _) => t.to_string(),
            (None, Some(prev)) => serving(&inv, &prev.variants, public, &on.name).name.clone(),
            (None, None) => unreachable!("rollback has a previous mapping"),
        };
        let b = inv.models.iter().find(|m| m.name == b_name).ok_or_else(|| {
            UsageError(format!(
                "no model entry `{b_name}`: declare it under `models:` (its source, port, quantization) to swap to it"
            ))
        })?;
        if a.name == b.name {
            p.note(format!("{}: `{model}` is already served by `{}`", n.name, b.name));
            continue;
        }
        if a.port == b.port {
            return Err(UsageError(format!(
                "`{}` and `{}` both use port {}: A and B run side by side during the swap, give `{}` its own `port`",
                a.name, b.name, a.port, b.name
            ))
            .into());
        }
        match fit_check(&on, (on.name == n.name).then_some(a), b) {
            Ok(msg) => p.note(format!("fit: {msg}")),
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
        }
        swaps.push(Swap { from: n.clone(), a, b, on });
    }
    if swaps.is_empty() {
        return Ok(ExitStatus::Success);
    }
    let routers: Vec<std::sync::Arc<Node>> = inv.nodes.iter().filter(|n| n.has_role("router")).cloned().collect();
    if inv.router.is_none() || routers.is_empty() {
        return Err(UsageError(
            "hot-swap needs a router (a `router:` section and a node with the `router` role)".into(),
        )
        .into());
    }
    let command = match to {
        Some(t) => format!("hot-swap {model} --to {t}"),
        None => format!("rollback {model}"),
    };

    // Probe every node involved (homes, OS).
    let connect = ConnectOptions { control_dir: ctx.control_dir() };
    let mut involved: Vec<std::sync::Arc<Node>> = swaps.iter().flat_map(|s| [s.from.clone(), s.on.clone()]).collect();
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
    let router_nodes: Vec<RouterNode> = routers
        .iter()
        .map(|r| {
            let t = target(&r.name)?;
            let h = t.garnet_home(&r.garnet_home);
            let admin_url = nd::local_url(&inv.router.as_ref().expect("checked").admin_listen, r.port_offset).1;
            Ok(RouterNode { node: r.clone(), h, admin_url })
        })
        .collect::<Result<_>>()?;

    if ctx.global.dry_run || !ctx.global.yes {
        let mut text = format!("{command}: per node, in order:\n");
        for Swap { from: n, a, b, on } in &swaps {
            text.push_str(&format!(
                "  {}: A `{}` (port {}) → B `{}` (port {} on {}), drain up to {}\n",
                n.name,
                a.name,
                n.port(a.port),
                b.name,
                on.port(b.port),
                on.name,
                crate::util::human_duration(opts.drain_max.unwrap_or(Duration::from_secs(u64::from(a.drain_secs))))
            ));
        }
        if ctx.global.dry_run {
            // Every step with this swap's real values: the hot-swap runbook, filled in, per node.
            p.out(text.trim_end());
            for Swap { from: n, a, b, .. } in &swaps {
                let args = crate::cli::RunbookArgs {
                    name: "hot-swap".into(),
                    model: Some(model.to_string()),
                    to: Some(b.name.clone()),
                    node: Some(n.name.clone()),
                    generic: false,
                };
                let mut v = super::runbook::values(&args, &inv)?;
                if let Ok(t) = target(&n.name) {
                    v.insert("h".into(), t.garnet_home(&n.garnet_home));
                }
                let h = v.get("h").cloned().unwrap_or_default();
                let a_backend = backend_id(&n.name, model, &a.name);
                v.insert("a".into(), a.name.clone());
                v.insert("a_backend_escaped".into(), a_backend.replace('/', "%2F"));
                v.insert("a_backend".into(), a_backend);
                v.insert("a_stop".into(), super::runbook::service_cmds(n, &h, &nd::loader_service(&a.name)).1);
                p.out(format!(
                    "\n--- {} ---\n{}",
                    n.name,
                    crate::procedure::render(&crate::procedure::HOT_SWAP, &v).trim_end()
                ));
            }
            return Ok(ExitStatus::Success);
        }
        for (i, s) in crate::procedure::HOT_SWAP.steps.iter().enumerate() {
            text.push_str(&format!("  {}. {}: {}\n", i + 1, s.name, s.what));
        }
        if !(p.stdin_tty && p.stderr_tty) {
            return Err(UsageError(format!(
                "`{command}` needs confirmation, but stdin is not a terminal; pass `--yes` (or `--dry-run` to see the plan)"
            ))
            .into());
        }
        p.prompt(text.trim_end());
        if !dialoguer::Confirm::new().with_prompt(format!("Apply `{command}`?")).default(false).interact()? {
            p.note("aborted: nothing was changed");
            return Ok(ExitStatus::Failure);
        }
    }

    let held = super::take_lock(ctx, &inv, &command).await?;
    let kept = Kept { latest, entries: adhoc, moves };
    let result =
        swap_all(ctx, &inv, model, &swaps, &router_nodes, &target, opts, variants, kept, &command, held.store.as_ref())
            .await;
    let names: Vec<String> = swaps.iter().map(|s| s.from.name.clone()).collect();
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
    super::release_lock(ctx, &inv, held, &command, &names, &summary, status).await;
    result?;
    Ok(status)
}

#[allow(clippy::too_many_arguments, reason = "to be cut into phases over a typed state (#15)")]
async fn swap_all(
    ctx: &Ctx,
    inv: &Inventory,
    model: &str,
    swaps: &[Swap<'_>],
    routers: &[RouterNode],
    target: &dyn Fn(&str) -> Result<Target>,
    opts: &SwapOptions,
    mut variants: Variants,
    kept: Kept,
    command: &str,
    store: &dyn crate::store::Store,
) -> Result<()> {
    let p = &ctx.printer;
    let first_router = &routers[0];
    let stats = |label: &'static str| Plan {
        command: format!("{command}: {label}"),
        mutating: false,
        nodes: vec![NodePlan {
            node: first_router.node.clone(),
            steps: vec![run_step("stats", first_router.call("get /admin/stats"), false, Duration::from_secs(30))],
        }],
    };
    let stats_now = |r: &Report| step_json(r, &first_router.node.name, "stats").unwrap_or_default();
    let before = stats_now(&super::run_phase(ctx, &stats("stats before")).await);
    // The router's latency, sampled every second for the whole swap (the elevated-latency window).
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sampler = tokio::spawn(sample_router(
        first_router.node.clone(),
        first_router.call("get /admin/stats"),
        ConnectOptions { control_dir: ctx.control_dir() },
        stop_rx,
    ));
    tokio::time::sleep(Duration::from_secs(2)).await; // a baseline before anything changes
    let t_all = Instant::now();
    let mut rows: Vec<(String, String, Duration, String)> = Vec::new();
    let (mut cut_total, mut flips, mut warmups) = (0u64, Vec::new(), Vec::new());

    let Kept { latest, entries, mut moves } = kept;
    let mut moved = inv.clone();
    for Swap { from, a, b, on: node } in swaps {
        let (a, b) = (*a, *b);
        // B's side: `node` (the spare with --via, else A's node); A's side: `from`.
        let t = target(&node.name)?;
        let h = t.garnet_home(&node.garnet_home);
        let backend = crate::node::service::backend_for(node.service_backend, Some(t.os));
        let t_a = target(&from.name)?;
        let h_a = t_a.garnet_home(&from.garnet_home);
        let backend_a = crate::node::service::backend_for(from.service_backend, Some(t_a.os));
        let python = nd::python_path(inv, &h);
        let (b_spec, b_url) = nd::loader_spec(node, &h, &python, b, inv);
        let files = match &b.local_path {
            Some(dir) => Some(nd::model_files(dir).with_context(|| format!("reading `{}`", dir.display()))?),
            None => None,
        };
        let (mut start, generation) = nd::model_steps(&h, b, files.as_ref(), &python);
        start.extend(nd::install_service(backend, &b_spec, &t.home, &h, generation.as_bytes()));
        let started = Instant::now();
        let phase = |name: &str, steps: Vec<Step>, on: &std::sync::Arc<Node>| Plan {
            command: format!("{command}: {name}"),
            mutating: true,
            nodes: vec![NodePlan { node: on.clone(), steps }],
        };
        // 1. B starts, becomes ready, passes the health prompts.
        p.note(format!("{}: starting B `{}` beside A `{}`", node.name, b.name, a.name));
        let r = super::run_phase(ctx, &phase("start B", start, node)).await;
        let mut failed = (!r.summary.exit_status().eq(&ExitStatus::Success))
            .then(|| format!("B did not start: {}", step_stderr(&r)));
        let mut warmup = None;
        if failed.is_none() {
            let ready = vec![Step {
                name: "B ready".into(),
                action: nd::ready_check(&h, &b_url, &b.loader_id(), opts.ready_timeout, &b_spec),
            }];
            let r = super::run_phase(ctx, &phase("B ready", ready, node)).await;
            warmup = Some(started.elapsed());
            if r.summary.exit_status() != ExitStatus::Success {
                failed = Some(format!("B never answered: {}", step_stderr(&r)));
            }
        }
        rows.push((node.name.clone(), "start B + ready".into(), started.elapsed(), String::new()));
        let budget =
            b.latency_budget_ms.or(inv.models.iter().find(|m| m.name == model).and_then(|m| m.latency_budget_ms));
        if failed.is_none() {
            let t0 = Instant::now();
            let bench = format!(
                "{} -o json bench --url {} --model {} -n {} -c 1 --max-tokens 8 --stream 0.5",
                shell_quote(&crate::node::layout::garnet(&h)),
                shell_quote(&format!("{b_url}/v1")),
                shell_quote(&b.loader_id()),
                opts.health_prompts.max(1)
            );
            let r = super::run_phase(
                ctx,
                &phase("B healthy", vec![run_step("B healthy", bench, false, opts.ready_timeout)], node),
            )
            .await;
            let v = step_json(&r, &node.name, "B healthy").unwrap_or_default();
            let p99 = v["e2e"]["p99_ms"].as_f64();
            let bad = v["failed"].as_u64().unwrap_or(1);
            failed = if r.summary.exit_status() != ExitStatus::Success || bad > 0 {
                Some(format!("B failed {bad} of {} health prompts: {}", opts.health_prompts, step_stderr(&r)))
            } else {
                match (p99, budget) {
                    (Some(p), Some(budget)) if p > f64::from(budget) => {
                        Some(format!("B's p99 {p:.0} ms is over the {budget} ms latency budget"))
                    }
                    _ => None,
                }
            };
            rows.push((
                node.name.clone(),
                "B healthy".into(),
                t0.elapsed(),
                p99.map(|p| format!("p99 {p:.0} ms")).unwrap_or_default(),
            ));
        }
        if let Some(why) = failed {
            // Before the flip: B goes, A and the traffic never moved.
            p.warn(format!("{}: {why}", node.name));
            p.warn(format!("{}: rolling back: removing B `{}`; A `{}` keeps serving", node.name, b.name, a.name));
            let rm = vec![Step { name: "remove B".into(), action: nd::remove_service(backend, &h, &b_spec.name) }];
            super::run_phase(ctx, &phase("remove B", rm, node)).await;
            record_event(
                store,
                inv,
                &node.name,
                "swap_rolled_back",
                json!({"model": model, "from": a.name, "to": b.name, "why": why}),
            )
            .await;
            anyhow::bail!("hot-swap of `{model}` on {} failed before the flip, nothing moved: {why}", node.name);
        }

        // 2. The flip: B active, A draining, on every router in one table swap each.
        let a_id = backend_id(&from.name, model, &a.name);
        variants.entry(model.to_string()).or_default().insert(node.name.clone(), b.name.clone());
        if from.name != node.name {
            record::record_move(&mut moves, model, &from.name, &node.name);
            if let Some(m) = variants.get_mut(model) {
                m.remove(&from.name);
            }
        }
        // The inventory as it stands after this swap: B's node serves the model instead of A's.
        if let Some(p) = moved.placement.get_mut(model) {
            for n in p.nodes.iter_mut().filter(|n| **n == from.name) {
                *n = node.name.clone();
            }
        }
        let mut flipped = RoutesConfig::from_inventory_with(&moved, &variants);
        if let Some(route) = flipped.models.iter_mut().find(|m| m.name == model)
            && !route.backends.iter().any(|b| b.id == a_id)
        {
            route.backends.push(crate::router::table::BackendConfig {
                id: a_id.clone(),
                url: format!("http://{}:{}", from.service_host(), from.port(a.port)),
                model: a.loader_id(),
                max_concurrency: a.max_concurrency as usize,
                draining: true,
            });
        }
        let t0 = Instant::now();
        let flip = on_routers(routers, format!("{command}: flip"), true, |r| r.apply("flip", &flipped));
        let r = super::run_phase(ctx, &flip).await;
        let flip_us: Vec<f64> = routers
            .iter()
            .filter_map(|x| step_json(&r, &x.node.name, "flip"))
            .filter_map(|v| v["flip_us"].as_f64())
            .collect();
        if r.summary.exit_status() != ExitStatus::Success {
            anyhow::bail!(
                "the flip failed on a router: {}; run `garnet deploy` to converge the routes",
                step_stderr(&r)
            );
        }
        rows.push((
            node.name.clone(),
            "flip".into(),
            t0.elapsed(),
            format!("in the router: {}", flip_us.iter().map(|u| format!("{:.0} µs", u)).collect::<Vec<_>>().join(", ")),
        ));
        flips.extend(flip_us.iter().copied());
        record_event(
            store,
            inv,
            &node.name,
            "swap_flipped",
            json!({"model": model, "from": a.name, "to": b.name, "flip_us": flip_us}),
        )
        .await;

        // 3. Drain A, then the routes without it.
        let drain = opts.drain_max.unwrap_or(Duration::from_secs(u64::from(a.drain_secs)));
        let t0 = Instant::now();
        let wait = on_routers(routers, format!("{command}: drain A"), false, |r| {
            let idle = r.call(&format!("wait-idle {} --max {}s", shell_quote(&a_id), drain.as_secs_f64()));
            vec![run_step("drain A", idle, false, drain + Duration::from_secs(60))]
        });
        let r = super::run_phase(ctx, &wait).await;
        if r.summary.exit_status() != ExitStatus::Success {
            // Blind, but safe: give A the whole drain time before stopping it.
            p.warn(format!(
                "{}: could not watch A drain ({}); waiting the full {}",
                node.name,
                step_stderr(&r),
                crate::util::human_duration(drain)
            ));
            tokio::time::sleep(drain).await;
        }
        let watched: Vec<Value> = routers.iter().filter_map(|x| step_json(&r, &x.node.name, "drain A")).collect();
        tracing::info!(?watched, "drain of `{a_id}`");
        let cut: u64 = watched.iter().filter_map(|v| v["in_flight"].as_u64()).sum();
        cut_total += cut;
        if cut > 0 {
            p.warn(format!(
                "{}: {cut} request(s) still on A after the {} drain cap are cut",
                node.name,
                crate::util::human_duration(drain)
            ));
        }
        let settled = RoutesConfig::from_inventory_with(&moved, &variants);
        let done = on_routers(routers, format!("{command}: routes without A"), true, |r| {
            r.apply("routes without A", &settled)
        });
        super::run_phase(ctx, &done).await;
        rows.push((node.name.clone(), "drain A".into(), t0.elapsed(), format!("{cut} cut at the cap")));

        // 4. Stop A; 5. record.
        let t0 = Instant::now();
        let a_service = nd::loader_service(&a.name);
        let stop = vec![Step { name: "stop A".into(), action: nd::remove_service(backend_a, &h_a, &a_service) }];
        super::run_phase(ctx, &phase("stop A", stop, from)).await;
        rows.push((node.name.clone(), "stop A".into(), t0.elapsed(), String::new()));
        let rec = PlacementRecord {
            schema_version: 1,
            cluster: inv.cluster.slug.clone(),
            at: jiff::Timestamp::now().to_string(),
            command: command.to_string(),
            variants: variants.clone(),
            // What a rollback returns to: the placement before this command, not before this node.
            previous: latest.as_ref().map(|(k, _)| k.clone()),
            entries: entries.clone(),
            moves: moves.clone(),
        };
        record::write(store, &rec).await?;
        // The node's monitor follows (it re-reads its config): it watches B now, not A.
        let with_creds = inv.store.kind == crate::inventory::StoreKind::S3 && inv.store.credentials_file.is_some();
        let cfg = vec![nd::node_config_step(node, &moved, &h, &variants, with_creds)];
        super::run_phase(ctx, &phase("monitor config", cfg, node)).await;
        if from.name != node.name {
            let cfg = vec![nd::node_config_step(from, &moved, &h_a, &variants, with_creds)];
            super::run_phase(ctx, &phase("monitor config", cfg, from)).await;
        }
        record_event(
            store,
            inv,
            &node.name,
            "loader_stopped",
            json!({"model": model, "entry": a.name, "reason": "hot-swap", "cut": cut}),
        )
        .await;
        if let Some(w) = warmup {
            warmups.push(w.as_secs_f64());
            rows.push((node.name.clone(), "B warm-up".into(), w, String::new()));
        }
    }

    let _ = stop_tx.send(true);
    let series = latency_series(&sampler.await.unwrap_or_default(), model);
    let window = elevated(&series);
    let after = stats_now(&super::run_phase(ctx, &stats("stats after")).await);
    let (req0, fail0) = model_totals(&before, model);
    let (req1, fail1) = model_totals(&after, model);
    let served = req1.saturating_sub(req0);
    let failures = fail1.saturating_sub(fail0);
    if p.json {
        p.json_line(&json!({
            "event": "hot_swap", "model": model, "requests_during": served, "failed_during": failures,
            "cut_at_drain_cap": cut_total, "flip_us": flips, "b_warmup_s": warmups, "latency": window,
            "duration_ms": t_all.elapsed().as_millis() as u64,
            "steps": rows.iter().map(|(n, s, d, note)| json!({"node": n, "step": s, "ms": d.as_millis() as u64, "note": note})).collect::<Vec<_>>(),
        }));
    } else {
        let mut t = p.table();
        t.set_header(vec!["node", "step", "time", "note"]);
        for (n, s, d, note) in &rows {
            t.add_row(vec![n.clone(), s.clone(), crate::util::human_duration(*d), note.clone()]);
        }
        p.out(t);
        p.out(format!(
            "{command}: done in {}; the router served {served} request(s) for `{model}` meanwhile, {failures} failed",
            crate::util::human_duration(t_all.elapsed())
        ));
        if let (Some(b), Some(peak)) = (window["baseline_p95_ms"].as_f64(), window["peak_p95_ms"].as_f64()) {
            p.out(format!(
                "latency: p95 {b:.0} ms before, {peak:.0} ms at worst; elevated (over 1.5× before) for {:.0} s",
                window["elevated_secs"].as_f64().unwrap_or(0.0)
            ));
        }
    }
    Ok(())
}

/// Polls the router's stats over one SSH connection, about every second, until `stop`.
async fn sample_router(
    node: std::sync::Arc<Node>,
    cmd: String,
    connect: ConnectOptions,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<(f64, Value)> {
    let t0 = Instant::now();
    let Ok(conn) = crate::transport::connect(&node, &connect).await else { return Vec::new() };
    let mut out = Vec::new();
    while !*stop.borrow() {
        let req = crate::transport::RunRequest {
            command: cmd.clone(),
            capture: true,
            timeout: Some(Duration::from_secs(10)),
            ..Default::default()
        };
        if let Ok(r) = conn.run(req).await
            && let Some(v) = String::from_utf8_lossy(&r.stdout).lines().rev().find_map(|l| serde_json::from_str(l).ok())
        {
            out.push((t0.elapsed().as_secs_f64(), v));
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => {}
        }
    }
    conn.close().await;
    out
}

/// p95 (ms) of the model's requests in each interval between two samples of the router's stats:
/// (end time, p95), from the backends' latency sketches (each backend's interval is its sketch
/// minus the one before; backends that came or went during the swap count with what they have).
fn latency_series(samples: &[(f64, Value)], model: &str) -> Vec<(f64, f64)> {
    use crate::telemetry::sketch::Sketch;
    let sketches = |v: &Value| -> Option<std::collections::BTreeMap<String, Sketch>> {
        let m = v["models"].as_array()?.iter().find(|m| m["model"] == model)?;
        let backends = m["backends"].as_array()?;
        Some(
            backends
                .iter()
                .filter_map(|b| Some((b["id"].as_str()?.to_string(), serde_json::from_value(b["e2e"].clone()).ok()?)))
                .collect(),
        )
    };
    samples
        .windows(2)
        .filter_map(|w| {
            let ((_, a), (t, b)) = (&w[0], &w[1]);
            let (before, after) = (sketches(a)?, sketches(b)?);
            let mut interval = Sketch::default();
            for (id, now) in &after {
                let d = before.get(id).and_then(|p| now.since(p)).unwrap_or_else(|| now.clone());
                interval.merge(&d);
            }
            interval.quantile(0.95).map(|q| (*t, q * 1000.0))
        })
        .collect()
}

/// The baseline (first interval), the worst interval, and how long p95 stayed over 1.5× the baseline.
fn elevated(series: &[(f64, f64)]) -> Value {
    let Some(&(t0, base)) = series.first() else { return json!({}) };
    let peak = series.iter().map(|s| s.1).fold(base, f64::max);
    let mut secs = 0.0;
    let mut prev = t0;
    for &(t, p) in &series[1..] {
        if p > base * 1.5 {
            secs += t - prev;
        }
        prev = t;
    }
    json!({
        "baseline_p95_ms": base, "peak_p95_ms": peak, "elevated_secs": secs,
        "series": series.iter().map(|(t, p)| json!([((t * 10.0).round() / 10.0), ((p * 10.0).round() / 10.0)])).collect::<Vec<_>>(),
    })
}

async fn record_event(store: &dyn crate::store::Store, inv: &Inventory, node: &str, kind: &str, detail: Value) {
    let now = jiff::Timestamp::now();
    let key = crate::telemetry::monitor::event_key(&inv.cluster.slug, node, now, kind);
    let body = json!({"schema_version": 1, "cluster": inv.cluster.slug, "node": node, "at": now.to_string(), "kind": kind, "detail": detail});
    if let Err(e) = store.put(&key, &serde_json::to_vec(&body).expect("serializes")).await {
        tracing::warn!("cannot record the `{kind}` event: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_window_from_router_samples() {
        use crate::telemetry::sketch::Sketch;
        // Cumulative sketches of one backend: `fast` requests of 50 ms and `slow` ones of 190 ms.
        let snap = |fast: usize, slow: usize| {
            let mut sk = Sketch::default();
            (0..fast).for_each(|_| sk.add(0.05));
            (0..slow).for_each(|_| sk.add(0.19));
            json!({"models": [{"model": "m", "backends": [{"id": "n1/m", "e2e": sk}]}]})
        };
        // Interval 1: 10 fast requests; interval 2: 10 slow ones; interval 3: fast again.
        let samples = vec![(0.0, snap(0, 0)), (1.0, snap(10, 0)), (2.0, snap(10, 10)), (3.0, snap(20, 10))];
        let s = latency_series(&samples, "m");
        assert_eq!(s.len(), 3);
        assert!((s[0].1 - 50.0).abs() < 0.5 && (s[1].1 - 190.0).abs() < 1.9, "{s:?}");
        let w = elevated(&s);
        assert_eq!(w["baseline_p95_ms"].as_f64(), Some(s[0].1));
        assert_eq!(w["peak_p95_ms"].as_f64(), Some(s[1].1));
        assert_eq!(w["elevated_secs"].as_f64(), Some(1.0));
        assert_eq!(elevated(&[]), json!({}));
    }

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
