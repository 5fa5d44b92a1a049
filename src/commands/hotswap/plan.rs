//! The hot-swap as a pure plan: from the swaps decided (what goes where, fit checked), the
//! probed nodes and the placement record, every step of every swap with the work it runs on which
//! nodes — the list `exec` executes and `--dry-run` / `garnet runbook hot-swap` print as
//! the shell a person pastes. Nothing here connects or writes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::cli::SwapOptions;
use crate::inventory::{Inventory, ModelSpec, Node};
use crate::node::blocks as nd;
use crate::node::target::Target;
use crate::placement::record::{self, Moves, PlacementRecord, Variants, backend_id};
use crate::plan::{Action, NodePlan, Step};
use crate::procedure::{self, HOT_SWAP};
use crate::router::table::RoutesConfig;
use crate::transport::shell_quote;

/// One node's swap: A on `from` is replaced by B on `on` (the same node unless `--via`).
pub struct Swap {
    pub from: Arc<Node>,
    pub a: ModelSpec,
    pub b: ModelSpec,
    pub on: Arc<Node>,
    /// What the fit check found (said in the plan).
    pub fit: String,
    /// The model leaves `from` (its other nodes serve it): nothing starts, A drains and stops.
    pub leave: bool,
    /// The model comes back to `from`, a node it had left (a rollback of a leave): B starts and
    /// joins the routes; there is no A to drain or stop (`a` is B).
    pub join: bool,
}

/// A router node as the swap drives it: its admin API through the node's own `garnet admin-call`.
pub struct RouterNode {
    pub node: Arc<Node>,
    pub h: String,
    pub admin_url: String,
}

impl RouterNode {
    pub fn call(&self, args: &str) -> String {
        format!(
            "{} admin-call --url {} --token-file {} {args}",
            shell_quote(&crate::node::layout::garnet(&self.h)),
            shell_quote(&self.admin_url),
            shell_quote(&crate::node::layout::etc(&self.h, "router.token"))
        )
    }

    /// Upload the routes, then apply them (exit 100 when the router has exactly those already).
    fn apply(&self, name: &str, routes: &RoutesConfig) -> Vec<Step> {
        let mut body = serde_json::to_vec_pretty(routes).expect("serializes");
        body.push(b'\n');
        vec![
            Step {
                name: format!("{name} routes file"),
                action: Action::Upload {
                    path: crate::node::layout::etc(&self.h, "routes.json"),
                    contents: body,
                    mode: 0o644,
                    secret: None,
                },
            },
            Step { name: name.into(), action: nd::apply_routes(&self.h, &self.admin_url) },
        ]
    }
}

/// What the latest placement record carries over into the next one.
pub struct Kept {
    pub latest: Option<(String, PlacementRecord)>,
    pub entries: Vec<ModelSpec>,
    pub moves: Moves,
    pub removed: BTreeMap<String, Vec<String>>,
}

/// The phases of one swap, in order; each is one step of [`HOT_SWAP`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Fit,
    StartB,
    Ready,
    Healthy,
    Flip,
    Drain,
    Settle,
    StopA,
    Record,
    MonitorConfig,
}

impl Phase {
    pub const ALL: [Phase; 10] = [
        Phase::Fit,
        Phase::StartB,
        Phase::Ready,
        Phase::Healthy,
        Phase::Flip,
        Phase::Drain,
        Phase::Settle,
        Phase::StopA,
        Phase::Record,
        Phase::MonitorConfig,
    ];

    /// The runbook step this phase is.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Fit => "fit check",
            Phase::StartB => "start B",
            Phase::Ready => "B ready",
            Phase::Healthy => "B healthy",
            Phase::Flip => "flip",
            Phase::Drain => "drain A",
            Phase::Settle => "routes without A",
            Phase::StopA => "stop A",
            Phase::Record => "record",
            Phase::MonitorConfig => "monitor config",
        }
    }
}

/// One phase of one swap: the runbook step and the work.
pub struct PhaseStep {
    pub phase: Phase,
    pub step: procedure::Step,
}

/// Everything one node's swap does, decided before anything runs.
pub struct SwapPlan {
    pub swap: Swap,
    /// A's backend id in the router.
    pub a_id: String,
    pub drain: Duration,
    /// The p99 B must keep (B's `latency_budget_ms`, else the public model's).
    pub budget: Option<u32>,
    /// How many test prompts B must answer.
    pub health_prompts: u32,
    /// The placement record written after this swap.
    pub record: PlacementRecord,
    /// The runbook's `<value>`s for this swap.
    pub values: BTreeMap<String, String>,
    pub steps: Vec<PhaseStep>,
}

impl SwapPlan {
    pub fn step(&self, phase: Phase) -> &procedure::Step {
        &self.steps.iter().find(|s| s.phase == phase).expect("every phase is planned").step
    }

    /// This swap as a runbook: the steps with their real commands, in order.
    pub fn runbook(&self, command: &str) -> String {
        let steps: Vec<&procedure::Step> = self.steps.iter().map(|s| &s.step).collect();
        let heading = format!(
            "`{command}` on {}: `{}` → `{}`{}",
            self.swap.from.name,
            self.swap.a.name,
            self.swap.b.name,
            if self.swap.on.name == self.swap.from.name { String::new() } else { format!(" on {}", self.swap.on.name) }
        );
        procedure::render_steps(&HOT_SWAP, &heading, &steps, &self.values)
    }
}

/// The inputs of [`plan`].
pub struct Inputs<'a> {
    pub inv: &'a Inventory,
    pub model: &'a str,
    pub command: &'a str,
    pub routers: &'a [RouterNode],
    pub target: &'a dyn Fn(&str) -> Result<Target>,
    pub opts: &'a SwapOptions,
    pub variants: Variants,
    pub kept: Kept,
    /// When the records are dated (the executor dates each again when it writes it).
    pub now: jiff::Timestamp,
}

fn on(node: &Arc<Node>, steps: Vec<Step>) -> Vec<NodePlan> {
    vec![NodePlan { node: node.clone(), steps }]
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

/// Every swap's steps. The placement (variants, moves, which node serves the model) evolves
/// from one swap to the next exactly as the executor leaves it.
pub fn plan(swaps: Vec<Swap>, input: Inputs<'_>) -> Result<Vec<SwapPlan>> {
    let Inputs { inv, model, command, routers, target, opts, mut variants, kept, now } = input;
    let Kept { latest, entries, mut moves, mut removed } = kept;
    let mut moved = inv.clone();
    let mut out = Vec::new();
    let public = inv.models.iter().find(|m| m.name == model).context("the public model")?;
    for swap in swaps {
        let Swap { from, a, b, on: node, .. } = &swap;
        let t = target(&node.name)?;
        let h = t.garnet_home(&node.garnet_home);
        let backend = crate::node::service::backend_for(node.service_backend, Some(t.os));
        let t_a = target(&from.name)?;
        let h_a = t_a.garnet_home(&from.garnet_home);
        let backend_a = crate::node::service::backend_for(from.service_backend, Some(t_a.os));
        let python = nd::python_path(inv, &h);
        let (b_spec, b_url) = nd::loader_spec(node, &h, &python, b, inv);
        // B's files are read (and hashed) only when B starts; a model leaving a node starts none.
        let files = match &b.local_path {
            Some(dir) if !swap.leave => {
                Some(crate::node::files::model_files(dir).with_context(|| format!("reading `{}`", dir.display()))?)
            }
            _ => None,
        };
        let (mut start, generation) = nd::model_steps(&h, b, files.as_ref(), &python);
        start.extend(nd::install_service(backend, &b_spec, &t.home, &h, generation.as_bytes()));
        let remove_b =
            on(node, vec![Step { name: "remove B".into(), action: nd::remove_service(backend, &h, &b_spec.name) }]);
        let ready = on(
            node,
            vec![Step {
                name: "B ready".into(),
                action: nd::ready_check(&h, &b_url, &b.loader_id(), opts.checks.ready_timeout, &b_spec),
            }],
        );
        let bench = format!(
            "{} -o json bench --url {} --model {} -n {} -c 1 --max-tokens 8 --stream 0.5",
            shell_quote(&crate::node::layout::garnet(&h)),
            shell_quote(&format!("{b_url}/v1")),
            shell_quote(&b.loader_id()),
            opts.checks.health_prompts.max(1)
        );
        let healthy = on(node, vec![run_step("B healthy", bench, false, opts.checks.ready_timeout)]);

        // The flip: B active, A draining, on every router in one table swap each.
        let a_id = backend_id(&from.name, model, &a.name);
        if swap.leave {
            if let Some(m) = variants.get_mut(model) {
                m.remove(&from.name);
            }
            let r = removed.entry(model.to_string()).or_default();
            if !r.contains(&from.name) {
                r.push(from.name.clone());
            }
            if let Some(p) = moved.placement.get_mut(model) {
                p.nodes.retain(|n| *n != from.name);
            }
        } else {
            variants.entry(model.to_string()).or_default().insert(node.name.clone(), b.name.clone());
        }
        if swap.join {
            if let Some(r) = removed.get_mut(model) {
                r.retain(|n| *n != from.name);
                if r.is_empty() {
                    removed.remove(model);
                }
            }
            if let Some(p) = moved.placement.get_mut(model)
                && !p.nodes.contains(&from.name)
            {
                p.nodes.push(from.name.clone());
            }
        }
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
        let flipped = flip_routes(&moved, &variants, model, &a_id, from, a);
        let flip: Vec<NodePlan> =
            routers.iter().map(|r| NodePlan { node: r.node.clone(), steps: r.apply("flip", &flipped) }).collect();
        let drain = opts.checks.drain_max.unwrap_or(Duration::from_secs(u64::from(a.drain_secs)));
        let wait: Vec<NodePlan> = routers
            .iter()
            .filter(|_| !swap.join)
            .map(|r| {
                let idle = r.call(&format!("wait-idle {} --max {}s", shell_quote(&a_id), drain.as_secs_f64()));
                NodePlan {
                    node: r.node.clone(),
                    steps: vec![run_step("drain A", idle, false, drain + Duration::from_secs(60))],
                }
            })
            .collect();
        let settled = RoutesConfig::from_inventory_with(&moved, &variants);
        let settle: Vec<NodePlan> = routers
            .iter()
            .map(|r| NodePlan { node: r.node.clone(), steps: r.apply("routes without A", &settled) })
            .collect();
        let stop_a = if swap.join {
            Vec::new()
        } else {
            on(
                from,
                vec![Step {
                    name: "stop A".into(),
                    action: nd::remove_service(backend_a, &h_a, &nd::loader_service(&a.name)),
                }],
            )
        };
        let rec = PlacementRecord {
            schema_version: 1,
            cluster: inv.cluster.slug.clone(),
            at: now.to_string(),
            command: command.to_string(),
            variants: variants.clone(),
            // What a rollback returns to: the placement before this command, not before this node.
            previous: latest.as_ref().map(|(k, _)| k.clone()),
            entries: entries.clone(),
            moves: moves.clone(),
            removed: removed.clone(),
        };
        let rec_key = crate::store::keys::placement(&inv.cluster.slug, now);
        let by_hand =
            procedure::shell::store_put(&inv.store, &rec_key, &serde_json::to_vec_pretty(&rec).expect("serializes"));
        // The node's monitor follows (it re-reads its config): it watches B now, not A.
        let with_creds = inv.store.kind == crate::inventory::StoreKind::S3 && inv.store.credentials_file.is_some();
        let mut cfg = vec![NodePlan {
            node: node.clone(),
            steps: vec![nd::node_config_step(node, &moved, &h, &variants, with_creds)],
        }];
        if from.name != node.name {
            cfg.push(NodePlan {
                node: from.clone(),
                steps: vec![nd::node_config_step(from, &moved, &h_a, &variants, with_creds)],
            });
        }

        let budget = b.latency_budget_ms.or(public.latency_budget_ms);
        let values = values(inv, model, &swap, &h, &b_url, &b_spec.name, &a_id, budget, drain, routers);
        let step = |phase: Phase, work: Vec<NodePlan>, undo_work: Vec<NodePlan>, by_hand: Option<String>| PhaseStep {
            phase,
            step: procedure::Step { template: HOT_SWAP.step(phase.name()), work, undo_work, by_hand },
        };
        let nothing = || Some(format!("# nothing to start: {}", swap.fit));
        let (b_steps, b_undo) = if swap.leave {
            ([Vec::new(), Vec::new(), Vec::new()], Vec::new())
        } else {
            ([on(node, start), ready, healthy], remove_b)
        };
        let [start, ready, healthy] = b_steps;
        let by_hand_b = |leave: bool| if leave { nothing() } else { None };
        let no_a = || swap.join.then(|| format!("# nothing to drain or stop: `{model}` was not on {}", from.name));
        let steps = vec![
            step(Phase::Fit, Vec::new(), Vec::new(), Some(format!("# {}", swap.fit))),
            step(Phase::StartB, start, b_undo.clone(), by_hand_b(swap.leave)),
            step(Phase::Ready, ready, b_undo.clone(), by_hand_b(swap.leave)),
            step(Phase::Healthy, healthy, b_undo, by_hand_b(swap.leave)),
            step(Phase::Flip, flip, Vec::new(), None),
            step(Phase::Drain, wait, Vec::new(), no_a()),
            step(Phase::Settle, settle, Vec::new(), None),
            step(Phase::StopA, stop_a, Vec::new(), no_a()),
            step(Phase::Record, Vec::new(), Vec::new(), Some(by_hand)),
            step(Phase::MonitorConfig, cfg, Vec::new(), None),
        ];
        out.push(SwapPlan {
            a_id,
            drain,
            budget,
            health_prompts: opts.checks.health_prompts.max(1),
            record: rec,
            values,
            steps,
            swap,
        });
    }
    Ok(out)
}

/// The routes at the flip: the placement after this swap (B serving) with A still listed, draining.
fn flip_routes(
    after: &Inventory,
    variants: &Variants,
    model: &str,
    a_id: &str,
    from: &Node,
    a: &ModelSpec,
) -> RoutesConfig {
    let mut flipped = RoutesConfig::from_inventory_with(after, variants);
    if let Some(route) = flipped.models.iter_mut().find(|m| m.name == model)
        && !route.backends.iter().any(|b| b.id == a_id)
    {
        route.backends.push(crate::router::table::BackendConfig {
            id: a_id.to_string(),
            url: format!("http://{}:{}", from.service_host(), from.port(a.port)),
            model: a.loader_id(),
            max_concurrency: a.max_concurrency as usize,
            draining: true,
        });
    }
    flipped
}

/// The runbook's `<value>`s for one swap (its texts: what, check, undo).
#[allow(clippy::too_many_arguments, reason = "one value each, named at the one call")]
fn values(
    inv: &Inventory,
    model: &str,
    s: &Swap,
    h: &str,
    b_url: &str,
    b_service: &str,
    a_id: &str,
    budget: Option<u32>,
    drain: Duration,
    routers: &[RouterNode],
) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    let mut set = |k: &str, x: String| {
        v.insert(k.to_string(), x);
    };
    set("cluster", inv.cluster.slug.clone());
    set("node", s.from.name.clone());
    set("ssh", procedure::shell::ssh(&s.on));
    set("user_host", procedure::shell::user_host(&s.on));
    set("h", h.to_string());
    set("model", model.to_string());
    set("a", s.a.name.clone());
    set("b", s.b.name.clone());
    set("b_dir", s.b.local_path.as_ref().map_or_else(|| s.b.source.clone(), |p| p.display().to_string()));
    set("b_service", b_service.to_string());
    set("b_port", s.on.port(s.b.port).to_string());
    set("b_url", b_url.to_string());
    set("b_id", s.b.loader_id());
    set("context", s.b.context.unwrap_or(4096).to_string());
    set("concurrency", s.b.max_concurrency.to_string());
    set(
        "budget_ms",
        budget.map_or_else(
            || "any time (no latency_budget_ms set for either model; only failures count)".into(),
            |b| format!("{b} ms"),
        ),
    );
    set("drain_secs", format!("{}", drain.as_secs_f64()));
    set("a_backend", a_id.to_string());
    set("a_backend_escaped", a_id.replace('/', "%2F"));
    set("b_backend", backend_id(&s.on.name, model, &s.b.name));
    if let Some(r) = routers.first() {
        set("router_ssh", procedure::shell::ssh(&r.node));
        set("router_h", r.h.clone());
        set("admin_url", r.admin_url.clone());
        if let Some(spec) = &inv.router {
            let api = nd::local_url(&spec.listen, r.node.port_offset).1;
            set("api_url", api.replace("127.0.0.1", &r.node.service_host()));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every phase is a step of the hot-swap runbook, in the runbook's order, and every runbook
    /// step is a phase: the list the command runs is the list the runbook renders.
    #[test]
    fn phases_are_the_runbook_steps_in_order() {
        let names: Vec<&str> = Phase::ALL.iter().map(|p| p.name()).collect();
        let steps: Vec<&str> = HOT_SWAP.steps.iter().map(|s| s.name).collect();
        assert_eq!(names, steps);
    }
}
