//! The weekly placement diff: from a span's telemetry ([`crate::telemetry::summary::Summary`]) and
//! the current placement, the evidence per node × model and the moves the seed's rules call for.
//! Pure: no store, no node. Every move carries its evidence (metric, value, threshold, samples,
//! span); a rule fires only on enough samples, so one noisy hour moves nothing.
//!
//! Rules (each fires only on the telemetry that shows it):
//! - **saturation**: a model busy at least 80% of the time on a node with its queue-wait p95 at a
//!   second or more (or its e2e p95 over its latency budget) gets the node to itself: the model
//!   cohabiting there is evicted, moved to the least busy node that does not serve it (or
//!   unloaded when none can take it, said so);
//! - **prompt cache**: a model whose prompts are long (2,000 tokens or more on average) and whose
//!   cache reuses under 20% of them gets a larger prompt-cache budget (`--prompt-cache-size`);
//! - **heat**: a node throttled in more than 3% of its samples (of at least a day's) has one model
//!   moved off it: the one it is least busy with, to the coolest node that does not serve it yet.
//!
//! A destination must be a loader node, not settling (its placement changed inside the span), not
//! too hot, and must fit the model beside what it serves when the models' files say (unknown fit
//! is said in the move, not assumed away). Every alternative is replayed ([`super::replay`]).

use serde::Serialize;

use crate::inventory::Inventory;
use crate::telemetry::summary::Summary;

/// When a rule may fire.
#[derive(Debug, Clone, Serialize)]
pub struct Thresholds {
    /// A node throttled in more than this share of its samples is too hot.
    pub throttled_share: f64,
    /// A node needs at least this many samples for the heat rule (a day at one a minute).
    pub min_node_samples: u64,
    /// A node that takes a model must itself be throttled in at most this share.
    pub cool_share: f64,
    /// Saturation: the busy share of a model on a node …
    pub saturated_busy: f64,
    /// … with its queue-wait p95 at least this (ms), or its e2e p95 over its budget …
    pub saturated_queue_ms: f64,
    /// … over at least this many backend samples.
    pub min_backend_samples: u64,
    /// Prompt cache: a hit rate under this …
    pub cache_hit_low: f64,
    /// … on prompts this long on average (tokens) …
    pub long_prompt_tokens: f64,
    /// … over at least this many requests.
    pub min_requests: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            throttled_share: 0.03,
            min_node_samples: 1440,
            cool_share: 0.01,
            saturated_busy: 0.8,
            saturated_queue_ms: 1000.0,
            min_backend_samples: 1440,
            cache_hit_low: 0.2,
            long_prompt_tokens: 2000.0,
            min_requests: 1000,
        }
    }
}

/// One measured fact a move rests on.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Evidence {
    pub metric: String,
    pub value: f64,
    pub threshold: f64,
    pub samples: u64,
    /// `FROM → TO` of the span.
    pub span: String,
}

/// A change of placement.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Move {
    /// `model` gets `node` to itself: `evict` leaves it for `to` (`None`: unloaded, no node can
    /// take it).
    OwnNode { model: String, node: String, evict: String, to: Option<String> },
    /// `model`'s loaders keep more prompts cached: `--prompt-cache-size` from `from` to `to`.
    PromptCache { model: String, nodes: Vec<String>, from: u32, to: u32 },
    /// `model` leaves `from` (too hot) for `to`; `None` when no node can take it (said so).
    OffHotNode { model: String, from: String, to: Option<String> },
}

/// Destinations the replay tries for one move (the least loaded that qualify).
const CANDIDATES: usize = 4;

/// The requests-weighted mean of each model's p95 after over before (1: unchanged).
fn weighted_p95(before: &super::replay::Prediction, after: &super::replay::Prediction) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for a in &after.models {
        if let (Some(x), Some(y)) = (before.model(&a.model).and_then(|b| b.e2e_p95_ms), a.e2e_p95_ms)
            && x > 0.0
        {
            num += a.requests as f64 * y / x;
            den += a.requests as f64;
        }
    }
    if den > 0.0 { num / den } else { 1.0 }
}

/// `mlx_lm.server`'s default prompt-cache size (entries), when the loader arguments set none.
pub const PROMPT_CACHE_DEFAULT: u32 = 10;

/// A move, why, and what shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Proposed {
    #[serde(flatten)]
    pub change: Move,
    pub why: String,
    pub evidence: Vec<Evidence>,
}

/// What one node did with one model over the span.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub node: String,
    pub model: String,
    pub requests: u64,
    /// Mean requests per minute over the backend's samples.
    pub requests_per_min: f64,
    /// The 95th percentile of its per-minute request rate over the samples.
    pub requests_per_min_p95: Option<f64>,
    /// Share of the sampled time with a request in flight.
    pub busy_share: Option<f64>,
    pub e2e_p95_ms: Option<f64>,
    pub ttft_p95_ms: Option<f64>,
    pub queue_wait_p95_ms: Option<f64>,
    pub latency_budget_ms: Option<u32>,
    /// What intake projected for the model (requests per second, all its nodes), when on record.
    pub projected_qps: Option<f64>,
    /// Cached prompt tokens over prompt tokens.
    pub cache_hit_rate: Option<f64>,
    pub mean_prompt_tokens: Option<f64>,
    pub samples: u64,
}

/// One node over the span.
#[derive(Debug, Clone, Serialize)]
pub struct NodeRow {
    pub node: String,
    pub models: Vec<String>,
    pub samples: u64,
    pub throttled_share: Option<f64>,
    pub max_celsius: Option<f64>,
    pub uptime: f64,
}

/// One eviction: a loader the OS killed (OOM, jetsam), one that crashed, or one the plan itself
/// takes off a node.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Eviction {
    /// When it happened; `None` for the plan's own (they happen at apply).
    pub at: Option<String>,
    pub node: String,
    pub model: Option<String>,
    /// `loader_evicted` (SIGKILL from outside garnet), `loader_crashed`, or `planned`.
    pub kind: String,
    pub detail: String,
}

/// How a loader exit event ended (`loader_evicted`, `loader_crashed`), with the memory pressure
/// when the monitor saw it: the eviction log's and the monthly report's words for it.
pub fn exit_detail(e: &serde_json::Value) -> String {
    let exit = &e["exit"];
    let how = match (exit["signal"].as_i64(), exit["exit_code"].as_i64()) {
        (Some(9), _) => "killed by SIGKILL from outside garnet (the OOM killer or jetsam)".to_string(),
        (Some(sig), _) => format!("killed by signal {sig}"),
        (None, Some(code)) => format!("exited with code {code}"),
        _ => "exited".to_string(),
    };
    let pressure = e["memory_pressure"].as_str().map(|p| format!("; memory pressure {p}")).unwrap_or_default();
    format!("{how}{pressure}")
}

/// The eviction log of a span: its loader evictions and crashes (events), in time order, the
/// prompt-cache evictions per node and model (inferred by the monitors, labelled so), then the
/// evictions the proposed moves make.
pub fn eviction_log(events: &[serde_json::Value], sum: &Summary, moves: &[Proposed]) -> Vec<Eviction> {
    let mut out: Vec<Eviction> = events
        .iter()
        .filter(|e| matches!(e["kind"].as_str(), Some("loader_evicted" | "loader_crashed")))
        .map(|e| Eviction {
            at: e["at"].as_str().map(str::to_string),
            node: e["node"].as_str().unwrap_or("?").to_string(),
            model: e["model"].as_str().map(str::to_string),
            kind: e["kind"].as_str().unwrap_or("?").to_string(),
            detail: exit_detail(e),
        })
        .collect();
    out.sort_by(|a, b| a.at.cmp(&b.at));
    for n in &sum.nodes {
        for (model, count) in &n.prompt_cache_evictions_inferred {
            out.push(Eviction {
                at: None,
                node: n.node.clone(),
                model: Some(model.clone()),
                kind: "prompt_cache_inferred".into(),
                detail: format!(
                    "{count} prompt-cache entries left the loader's cache over the span (inferred from drops in the count it logs; the loader reports no evictions itself)"
                ),
            });
        }
    }
    for m in moves {
        let (node, model, detail) = match &m.change {
            Move::OwnNode { model, node, evict, to } => (
                node.clone(),
                evict.clone(),
                format!(
                    "to give `{model}` the node; {}",
                    to.as_ref().map_or("unloaded: no other node can take it".into(), |t| format!("moves to {t}"))
                ),
            ),
            Move::OffHotNode { model, from, to } => (
                from.clone(),
                model.clone(),
                format!(
                    "to cool the node; {}",
                    to.as_ref().map_or("stays: no cool node can take it".into(), |t| format!("moves to {t}"))
                ),
            ),
            Move::PromptCache { .. } => continue,
        };
        out.push(Eviction { at: None, node, model: Some(model), kind: "planned".into(), detail });
    }
    out
}

/// The eviction log as Markdown.
pub fn eviction_markdown(cluster: &str, from: &str, to: &str, log: &[Eviction]) -> String {
    let mut s = format!("# Eviction log: {cluster}, {from} → {to}\n\n");
    if log.is_empty() {
        s.push_str("No loader was evicted or crashed in the span, and the plan evicts none.\n");
        return s;
    }
    let count = |k: &str| log.iter().filter(|e| e.kind == k).count();
    let (planned, cache) = (count("planned"), count("prompt_cache_inferred"));
    s.push_str(&format!(
        "{} in the span, {planned} planned; prompt-cache evictions (inferred) on {cache} node × model.\n\n| when | node | model | what | detail |\n|---|---|---|---|---|\n",
        log.len() - planned - cache
    ));
    for e in log {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            e.at.as_deref().unwrap_or(match e.kind.as_str() {
                "planned" => "at apply",
                _ => "over the span",
            }),
            e.node,
            e.model.as_deref().unwrap_or("-"),
            e.kind,
            e.detail.replace('|', "\\|")
        ));
    }
    s
}

/// The diff: the evidence and the moves (none when the placement holds).
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub cluster: String,
    pub from: String,
    pub to: String,
    pub missing_days: Vec<String>,
    /// Nodes with telemetry in the span that the inventory does not name (not judged).
    pub unknown_nodes: Vec<String>,
    pub thresholds: Thresholds,
    /// The placement now: model → nodes.
    pub placement: std::collections::BTreeMap<String, Vec<String>>,
    /// The placement after the moves.
    pub proposed: std::collections::BTreeMap<String, Vec<String>>,
    /// Nodes whose placement changed inside the span: not judged (their telemetry is partly from
    /// before the change) and not given a model, until a span after the change.
    pub settling: Vec<Settling>,
    /// Memory each node's models need, now and after (from the models' files).
    pub memory: Vec<NodeMemory>,
    pub nodes: Vec<NodeRow>,
    pub rows: Vec<Row>,
    pub moves: Vec<Proposed>,
    /// Moves a rule called for that the replay did not bear out.
    pub rejected: Vec<Rejected>,
    /// The replay of the span's demand, now and after the moves (`None` without demand).
    pub replay: Option<Replayed>,
}

/// A node whose placement changed inside the span (a placement record dated in it).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Settling {
    pub node: String,
    pub at: String,
    pub command: String,
}

/// A move the replay turned down, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    #[serde(flatten)]
    pub proposed: Proposed,
    pub reason: String,
}

/// The replay's calibration and its predictions for the current and the proposed placement.
#[derive(Debug, Clone, Serialize)]
pub struct Replayed {
    pub calibration: super::replay::Calibration,
    pub before: super::replay::Prediction,
    pub after: super::replay::Prediction,
}

/// One node's memory: what its models need now and after (`None`: a model there is not sized).
#[derive(Debug, Clone, Serialize)]
pub struct NodeMemory {
    pub node: String,
    pub capacity: Option<u64>,
    pub before: Option<u64>,
    pub after: Option<u64>,
}

/// Whether `model` fits beside what `node` serves (`None`: not known, a file or `memory_gb`
/// missing).
fn fits(inv: &Inventory, model: &str, node: &str, serving: &[String]) -> Option<bool> {
    let need = |name: &str| super::memory::entry_need(inv.models.iter().find(|m| m.name == name)?);
    let have = (inv.node(node)?.memory_gb? * (1u64 << 30) as f64) as u64;
    let used: u64 = serving.iter().map(|m| need(m)).sum::<Option<u64>>()?;
    Some(used + need(model)? <= have)
}

/// Whether `model` fits beside what `node` serves, from the models' own files (weights + KV
/// cache at context × concurrency + runtime); said plainly when it cannot be told.
fn fit_note(inv: &Inventory, model: &str, node: &str, serving: &[String]) -> String {
    let Some(n) = inv.node(node) else { return String::new() };
    let need = |name: &str| super::memory::entry_need(inv.models.iter().find(|m| m.name == name)?);
    let (Some(gb), Some(add)) = (n.memory_gb, need(model)) else {
        return "; memory not checked (the model's files are not local, or the node has no `memory_gb`)".into();
    };
    let have = (gb * (1u64 << 30) as f64) as u64;
    let used: Option<u64> = serving.iter().map(|m| need(m)).sum();
    let h = crate::util::human_bytes;
    match used {
        Some(u) if u + add <= have => format!("; fits: {} beside {} of {}", h(add), h(u), h(have)),
        Some(u) => format!("; does NOT fit: {} beside {} of {}", h(add), h(u), h(have)),
        None => format!("; needs {}, what {node} serves now not sized", h(add)),
    }
}

/// The prompt-cache size `model`'s loader on `node` runs with: `--prompt-cache-size` in the
/// serving entry's `loader_args`, else in `deploy.loader_args`, else `mlx_lm.server`'s default.
pub fn prompt_cache_size(inv: &Inventory, variants: &super::record::Variants, model: &str, node: &str) -> u32 {
    let flag = |args: &[String]| -> Option<u32> {
        args.iter().rposition(|a| a == "--prompt-cache-size").and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok())
    };
    let entry = inv.models.iter().find(|m| m.name == model).map(|p| super::record::serving(inv, variants, p, node));
    entry.and_then(|e| flag(&e.loader_args)).or_else(|| flag(&inv.deploy.loader_args)).unwrap_or(PROMPT_CACHE_DEFAULT)
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// The evidence and the moves for `inv` (its placement as the record leaves it) over `sum`.
pub fn diff(
    inv: &Inventory,
    variants: &super::record::Variants,
    sum: &Summary,
    interval_secs: f64,
    th: &Thresholds,
    settling: &[Settling],
) -> Diff {
    let settled = |node: &str| !settling.iter().any(|s| s.node == node);
    let span = format!("{} → {}", sum.from, sum.to);
    let evidence = |metric: String, value: f64, threshold: f64, samples: u64| Evidence {
        metric,
        value,
        threshold,
        samples,
        span: span.clone(),
    };
    let placement: std::collections::BTreeMap<String, Vec<String>> =
        inv.placement.iter().map(|(m, p)| (m.clone(), p.nodes.clone())).collect();
    let on = |node: &str| -> Vec<String> {
        placement.iter().filter(|(_, ns)| ns.iter().any(|n| n == node)).map(|(m, _)| m.clone()).collect()
    };
    let rows: Vec<Row> = sum
        .backends
        .iter()
        .filter_map(|b| {
            let node = b.node.clone()?;
            let minutes = b.backend_samples as f64 * interval_secs / 60.0;
            Some(Row {
                model: b.model.clone(),
                requests: b.requests,
                requests_per_min: if minutes > 0.0 { round(b.requests as f64 / minutes, 3) } else { 0.0 },
                requests_per_min_p95: b.rate_per_min_p95.map(|r| round(r, 3)),
                busy_share: (b.backend_samples > 0)
                    .then(|| round(b.busy_secs / (b.backend_samples as f64 * interval_secs), 4)),
                e2e_p95_ms: b.e2e_p95_ms,
                ttft_p95_ms: b.ttft_p95_ms,
                queue_wait_p95_ms: b.queue_wait_p95_ms,
                latency_budget_ms: inv.models.iter().find(|m| m.name == b.model).and_then(|m| m.latency_budget_ms),
                projected_qps: inv.models.iter().find(|m| m.name == b.model).and_then(|m| m.projected_qps),
                cache_hit_rate: (b.prompt_tokens > 0)
                    .then(|| round(b.cached_tokens as f64 / b.prompt_tokens as f64, 4)),
                mean_prompt_tokens: (b.requests > 0).then(|| round(b.prompt_tokens as f64 / b.requests as f64, 1)),
                samples: b.backend_samples,
                node,
            })
        })
        .collect();
    let nodes: Vec<NodeRow> = inv
        .nodes
        .iter()
        .map(|n| {
            let s = sum.nodes.iter().find(|x| x.node == n.name);
            NodeRow {
                node: n.name.clone(),
                models: on(&n.name),
                samples: s.map_or(0, |s| s.samples),
                throttled_share: s.and_then(|s| s.throttled_share),
                max_celsius: s.and_then(|s| s.max_celsius),
                uptime: s.map_or(0.0, |s| s.uptime),
            }
        })
        .collect();

    let busy = |node: &str, model: &str| -> f64 {
        rows.iter().find(|r| r.node == node && r.model == model).and_then(|r| r.busy_share).unwrap_or(0.0)
    };
    let load = |node: &str| -> f64 { rows.iter().filter(|r| r.node == node).filter_map(|r| r.busy_share).sum() };
    let loader_node = |name: &str| inv.node(name).is_some_and(|x| x.roles.is_empty() || x.has_role("loader"));

    // Each rule gives its moves as groups of alternatives (one intent, several ways to do it):
    // the replay picks the best alternative of each group that it bears out.
    let mut groups: Vec<Vec<Proposed>> = Vec::new();
    let by_load = |candidates: Vec<&NodeRow>| -> Vec<String> {
        let mut c: Vec<&NodeRow> = candidates;
        c.sort_by(|a, b| load(&a.node).partial_cmp(&load(&b.node)).unwrap_or(std::cmp::Ordering::Equal));
        c.into_iter().take(CANDIDATES).map(|x| x.node.clone()).collect()
    };
    let serving = |node: &str| nodes.iter().find(|x| x.node == node).map(|x| x.models.clone()).unwrap_or_default();

    // Saturation: the model gets one of its saturated nodes to itself; the other model there
    // goes (to another node, or, when it has other nodes, just off this one).
    let saturated = |r: &Row| -> Option<(bool, bool)> {
        let b = r.busy_share?;
        let over_budget = matches!((r.e2e_p95_ms, r.latency_budget_ms), (Some(p), Some(l)) if p > f64::from(l));
        let queued = r.queue_wait_p95_ms.is_some_and(|q| q >= th.saturated_queue_ms);
        (settled(&r.node) && r.samples >= th.min_backend_samples && b >= th.saturated_busy && (queued || over_budget))
            .then_some((queued, over_budget))
    };
    let mut models_seen: Vec<&str> = rows.iter().map(|r| r.model.as_str()).collect();
    models_seen.dedup();
    for model in models_seen {
        let mut hot_rows: Vec<&Row> = rows.iter().filter(|r| r.model == model && saturated(r).is_some()).collect();
        hot_rows.sort_by(|a, b| b.busy_share.partial_cmp(&a.busy_share).unwrap_or(std::cmp::Ordering::Equal));
        let mut group = Vec::new();
        for r in hot_rows.into_iter().take(2) {
            let (queued, over_budget) = saturated(r).unwrap_or_default();
            let b = r.busy_share.unwrap_or(0.0);
            let Some(n) = nodes.iter().find(|n| n.node == r.node) else { continue };
            for other in n.models.iter().filter(|m| **m != r.model) {
                let mut ev =
                    vec![evidence(format!("{}/{}: busy share", r.node, r.model), b, th.saturated_busy, r.samples)];
                if queued {
                    ev.push(evidence(
                        format!("{}/{}: queue-wait p95 (ms)", r.node, r.model),
                        r.queue_wait_p95_ms.unwrap_or(0.0),
                        th.saturated_queue_ms,
                        r.requests,
                    ));
                }
                if over_budget {
                    ev.push(evidence(
                        format!("{}/{}: e2e p95 (ms)", r.node, r.model),
                        r.e2e_p95_ms.unwrap_or(0.0),
                        f64::from(r.latency_budget_ms.unwrap_or(0)),
                        r.requests,
                    ));
                }
                // The model's measured rate over all its nodes against what intake projected.
                let measured: f64 =
                    rows.iter().filter(|x| x.model == r.model).map(|x| x.requests_per_min).sum::<f64>() / 60.0;
                let projected = match r.projected_qps {
                    Some(p) if measured > p => format!("{measured:.2} req/s against the {p} projected"),
                    Some(p) => format!("{measured:.2} req/s, within the {p} projected"),
                    None => "no projected QPS on record".into(),
                };
                let head = format!(
                    "`{}` saturates {}: busy {:.0}% of the time{}{} ({:.1} requests/min; {projected}): it gets the node to itself, `{other}` ({:.0}% busy there) ",
                    r.model,
                    r.node,
                    b * 100.0,
                    r.queue_wait_p95_ms
                        .filter(|_| queued)
                        .map(|q| format!(", queue-wait p95 {q:.0} ms"))
                        .unwrap_or_default(),
                    if over_budget {
                        format!(", e2e p95 over its {} ms budget", r.latency_budget_ms.unwrap_or(0))
                    } else {
                        String::new()
                    },
                    r.requests_per_min,
                    busy(&r.node, other) * 100.0,
                );
                let dests = by_load(
                    nodes
                        .iter()
                        .filter(|x| x.node != r.node && !x.models.contains(other) && loader_node(&x.node))
                        .filter(|x| settled(&x.node) && fits(inv, other, &x.node, &x.models) != Some(false))
                        .filter(|x| x.throttled_share.is_none_or(|s| s <= th.throttled_share))
                        .collect(),
                );
                let mut ways: Vec<Option<String>> = dests.into_iter().map(Some).collect();
                let elsewhere = placement.get(other).is_some_and(|ns| ns.iter().any(|x| *x != r.node));
                if elsewhere || ways.is_empty() {
                    ways.push(None);
                }
                for to in ways {
                    let tail = match &to {
                        Some(t) => format!("moves to {t}{}", fit_note(inv, other, t, &serving(t))),
                        None if elsewhere => "leaves it and keeps its other nodes".into(),
                        None => "is unloaded there: no other node can take it".into(),
                    };
                    group.push(Proposed {
                        change: Move::OwnNode {
                            model: r.model.clone(),
                            node: r.node.clone(),
                            evict: other.clone(),
                            to,
                        },
                        why: format!("{head}{tail}"),
                        evidence: ev.clone(),
                    });
                }
            }
        }
        if !group.is_empty() {
            groups.push(group);
        }
    }

    // Prompt cache: long prompts the cache hardly reuses get a larger cache, per model.
    let mut by_model: std::collections::BTreeMap<&str, (u64, f64, f64, Vec<String>)> = Default::default();
    for r in &rows {
        let e = by_model.entry(&r.model).or_default();
        e.0 += r.requests;
        e.1 += r.mean_prompt_tokens.unwrap_or(0.0) * r.requests as f64;
        e.2 += r.cache_hit_rate.unwrap_or(0.0) * r.mean_prompt_tokens.unwrap_or(0.0) * r.requests as f64;
        e.3.push(r.node.clone());
    }
    for (model, (requests, prompt_tokens, cached_tokens, on_nodes)) in by_model {
        if requests < th.min_requests || prompt_tokens <= 0.0 {
            continue;
        }
        let (mean_prompt, hit) = (prompt_tokens / requests as f64, cached_tokens / prompt_tokens);
        if mean_prompt < th.long_prompt_tokens || hit >= th.cache_hit_low {
            continue;
        }
        let from =
            on_nodes.iter().map(|n| prompt_cache_size(inv, variants, model, n)).min().unwrap_or(PROMPT_CACHE_DEFAULT);
        let to = from * 2;
        groups.push(vec![Proposed {
            change: Move::PromptCache { model: model.to_string(), nodes: on_nodes.clone(), from, to },
            why: format!(
                "`{model}`'s prompts average {mean_prompt:.0} tokens and its prompt cache reuses {:.1}% of them: its loaders keep {to} prompts cached instead of {from} (`--prompt-cache-size {to}`), on {}; the memory the larger cache takes depends on the prompts and is not checked; the replay does not model the prompt cache: judged by its evidence",
                hit * 100.0,
                on_nodes.join(", ")
            ),
            evidence: vec![
                evidence(format!("{model}: prompt-cache hit rate"), round(hit, 4), th.cache_hit_low, requests),
                evidence(format!("{model}: mean prompt tokens"), round(mean_prompt, 1), th.long_prompt_tokens, requests),
            ],
        }]);
    }

    // Heat: one model off each node throttled too often, hottest first.
    let mut hot: Vec<&NodeRow> = nodes
        .iter()
        .filter(|n| n.samples >= th.min_node_samples && n.throttled_share.is_some_and(|s| s > th.throttled_share))
        .filter(|n| settled(&n.node))
        .collect();
    hot.sort_by(|a, b| b.throttled_share.partial_cmp(&a.throttled_share).unwrap_or(std::cmp::Ordering::Equal));
    for h in hot {
        // The model this node is least busy with: the cheapest to move, the heat it sheds is its share.
        let Some(model) = h
            .models
            .iter()
            .min_by(|a, b| busy(&h.node, a).partial_cmp(&busy(&h.node, b)).unwrap_or(std::cmp::Ordering::Equal))
        else {
            continue;
        };
        // The coolest, least loaded nodes that do not serve it yet (and may serve models).
        let dests = by_load(
            nodes
                .iter()
                .filter(|n| n.node != h.node && !n.models.contains(model))
                .filter(|n| n.samples >= th.min_node_samples && n.throttled_share.is_some_and(|s| s <= th.cool_share))
                .filter(|n| loader_node(&n.node) && settled(&n.node))
                .filter(|n| fits(inv, model, &n.node, &n.models) != Some(false))
                .collect(),
        );
        let share = h.throttled_share.unwrap_or(0.0);
        let ev = vec![evidence(
            format!("{}: throttled share of samples", h.node),
            round(share, 4),
            th.throttled_share,
            h.samples,
        )];
        let mut group: Vec<Proposed> = dests
            .into_iter()
            .map(|t| Proposed {
                why: format!(
                    "{} was throttled in {:.1}% of its samples (over {:.0}%): `{model}`, the model it is least busy with ({:.0}% busy), moves to {t}, a cool node that does not serve it{}",
                    h.node,
                    share * 100.0,
                    th.throttled_share * 100.0,
                    busy(&h.node, model) * 100.0,
                    fit_note(inv, model, &t, &serving(&t))
                ),
                change: Move::OffHotNode { model: model.clone(), from: h.node.clone(), to: Some(t) },
                evidence: ev.clone(),
            })
            .collect();
        if group.is_empty() {
            group.push(Proposed {
                change: Move::OffHotNode { model: model.clone(), from: h.node.clone(), to: None },
                why: format!(
                    "{} was throttled in {:.1}% of its samples (over {:.0}%), but no cool node can take `{model}`: add a node or improve its cooling",
                    h.node,
                    share * 100.0,
                    th.throttled_share * 100.0
                ),
                evidence: ev,
            });
        }
        groups.push(group);
    }

    // The replay judges every group that changes the placement, in order: of its alternatives,
    // the one with the lowest demand-weighted p95 that it bears out is kept; with no demand to
    // replay, the first (the rules' own order: least loaded destination first).
    let mut proposed = placement.clone();
    let mut rejected = Vec::new();
    let mut moves: Vec<Proposed> = Vec::new();
    let replayed = if sum.demand.is_empty() {
        moves.extend(groups.into_iter().filter_map(|g| g.into_iter().next()));
        for m in &moves {
            if let Some(next) = apply(&proposed, &m.change) {
                proposed = next;
            }
        }
        None
    } else {
        let cal = super::replay::calibrate(inv, sum, interval_secs, &placement);
        let before = super::replay::replay(&cal, &placement);
        let mut now = before.clone();
        for group in groups {
            let mut best: Option<(f64, Proposed, super::replay::Placement, super::replay::Prediction, String)> = None;
            let mut last_reason = None;
            for m in group {
                let Some(next) = apply(&proposed, &m.change) else {
                    best = Some((0.0, m, proposed.clone(), now.clone(), String::new()));
                    break;
                };
                let p = super::replay::replay(&cal, &next);
                match judge(&m.change, &now, &p) {
                    Ok(note) => {
                        let score = weighted_p95(&now, &p);
                        if best.as_ref().is_none_or(|b| score < b.0) {
                            best = Some((score, m, next, p, note));
                        }
                    }
                    Err(reason) => last_reason = Some((m, reason)),
                }
            }
            match best {
                Some((_, mut m, next, p, note)) => {
                    if !note.is_empty() {
                        m.why.push_str(&format!("; replay: {note}"));
                    }
                    (proposed, now) = (next, p);
                    moves.push(m);
                }
                None => {
                    if let Some((m, reason)) = last_reason {
                        rejected.push(Rejected { proposed: m, reason });
                    }
                }
            }
        }
        Some(Replayed { calibration: cal, before, after: now })
    };
    let memory = nodes
        .iter()
        .map(|n| {
            let need = |p: &super::replay::Placement| -> Option<u64> {
                p.iter()
                    .filter(|(_, ns)| ns.contains(&n.node))
                    .map(|(m, _)| super::memory::entry_need(inv.models.iter().find(|x| &x.name == m)?))
                    .sum()
            };
            NodeMemory {
                node: n.node.clone(),
                capacity: inv.node(&n.node).and_then(|x| x.memory_gb).map(|gb| (gb * (1u64 << 30) as f64) as u64),
                before: need(&placement),
                after: need(&proposed),
            }
        })
        .collect();

    Diff {
        cluster: sum.cluster.clone(),
        from: sum.from.clone(),
        to: sum.to.clone(),
        missing_days: sum.missing_days.clone(),
        unknown_nodes: sum
            .nodes
            .iter()
            .filter(|n| n.samples > 0 && inv.node(&n.node).is_none())
            .map(|n| n.node.clone())
            .collect(),
        thresholds: th.clone(),
        placement,
        proposed,
        settling: settling.to_vec(),
        memory,
        nodes,
        rows,
        moves,
        rejected,
        replay: replayed,
    }
}

/// `p` after `m`, `None` when `m` changes no placement (a prompt-cache budget, a hot node's model
/// with nowhere to go).
pub fn apply(p: &super::replay::Placement, m: &Move) -> Option<super::replay::Placement> {
    let mut p = p.clone();
    let (model, from, to) = match m {
        Move::OwnNode { node, evict, to, .. } => (evict, node, to.as_ref()),
        Move::OffHotNode { model, from, to: Some(to) } => (model, from, Some(to)),
        _ => return None,
    };
    let on = p.entry(model.clone()).or_default();
    on.retain(|n| n != from);
    if let Some(t) = to
        && !on.contains(t)
    {
        on.push(t.clone());
    }
    Some(p)
}

/// Whether the replay of a move's placement is better, and how (or why it is not kept): no
/// model's p95 more than 10% worse, none newly overloaded or unserved, and a saturated model's
/// p95 lower.
fn judge(m: &Move, before: &super::replay::Prediction, after: &super::replay::Prediction) -> Result<String, String> {
    let mut notes = Vec::new();
    for a in &after.models {
        let Some(b) = before.model(&a.model) else { continue };
        if a.unserved && !b.unserved {
            return Err(format!("`{}` would be left with no node for its {} requests", a.model, a.requests));
        }
        if a.overloaded_intervals > b.overloaded_intervals {
            return Err(format!(
                "`{}` would be overloaded in {} intervals (now {})",
                a.model, a.overloaded_intervals, b.overloaded_intervals
            ));
        }
        if let (Some(x), Some(y)) = (b.e2e_p95_ms, a.e2e_p95_ms) {
            if y > x * 1.10 {
                return Err(format!("`{}`'s predicted p95 would rise from {x:.0} to {y:.0} ms", a.model));
            }
            if (y - x).abs() >= 0.01 * x {
                notes.push(format!("`{}` p95 {x:.0} → {y:.0} ms", a.model));
            }
        }
    }
    if let Move::OwnNode { model, .. } = m {
        let (b, a) = (before.model(model).and_then(|p| p.e2e_p95_ms), after.model(model).and_then(|p| p.e2e_p95_ms));
        match (b, a) {
            (Some(b), Some(a)) if a < b * 0.98 => {}
            (Some(b), Some(a)) => {
                return Err(format!("`{model}`'s predicted p95 would not fall ({b:.0} → {a:.0} ms)"));
            }
            _ => return Err(format!("`{model}` has no demand to replay")),
        }
    }
    Ok(if notes.is_empty() { "no model's predicted p95 changes by 1% or more".into() } else { notes.join(", ") })
}

impl Diff {
    /// The diff as Markdown: the moves with their evidence, then the tables.
    pub fn markdown(&self) -> String {
        let mut s = format!("# Placement diff: {}, {} → {}\n\n", self.cluster, self.from, self.to);
        if !self.missing_days.is_empty() {
            s.push_str(&format!("Days with no telemetry: {}.\n\n", self.missing_days.join(", ")));
        }
        if !self.unknown_nodes.is_empty() {
            s.push_str(&format!(
                "Telemetry from nodes the inventory does not name (not judged): {}.\n\n",
                self.unknown_nodes.join(", ")
            ));
        }
        if !self.settling.is_empty() {
            s.push_str("Changed inside the span, so not judged and not given a model until a span after the change:\n");
            for x in &self.settling {
                s.push_str(&format!("- {}: `{}` at {}\n", x.node, x.command, x.at));
            }
            s.push('\n');
        }
        if self.moves.is_empty() {
            s.push_str("**No change proposed**: the placement holds for this span.\n");
        } else {
            s.push_str(&format!("## Proposed moves ({})\n\n", self.moves.len()));
            for (i, m) in self.moves.iter().enumerate() {
                s.push_str(&format!("{}. {}\n", i + 1, m.why));
                for e in &m.evidence {
                    s.push_str(&format!(
                        "   - evidence: {} = {} (threshold {}), {} samples, {}\n",
                        e.metric, e.value, e.threshold, e.samples, e.span
                    ));
                }
            }
        }
        if !self.rejected.is_empty() {
            s.push_str("\n## Called for, but not borne out by the replay\n\n");
            for r in &self.rejected {
                s.push_str(&format!("- {} **Not proposed**: {}.\n", r.proposed.why, r.reason));
            }
        }
        if let Some(r) = &self.replay {
            s.push_str(&format!(
                "\n## Replay of the span's demand: now → proposed\n\nEach model's requests per {:.0}-second interval, replayed through a queueing model calibrated from the span (see `docs/placement.md`).\n\n| model | nodes now → proposed | p95 | queue wait (mean) | queue wait p95 | slots in use | overloaded intervals |\n|---|---|---|---|---|---|---|\n",
                r.calibration.bucket_secs
            ));
            let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0} ms"));
            for b in &r.before.models {
                let a = r.after.model(&b.model);
                let pair = |f: &dyn Fn(&super::replay::ModelPrediction) -> String| {
                    let (x, y) = (f(b), a.map_or("unserved".into(), f));
                    if x == y { x } else { format!("{x} → {y}") }
                };
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} |\n",
                    b.model,
                    pair(&|p| if p.nodes.is_empty() { "none".into() } else { p.nodes.join(", ") }),
                    pair(&|p| ms(p.e2e_p95_ms)),
                    pair(&|p| ms(p.queue_wait_mean_ms)),
                    pair(&|p| ms(p.queue_wait_p95_ms)),
                    pair(&|p| p.utilisation.map_or("-".into(), |u| format!("{:.0}%", u * 100.0))),
                    pair(&|p| p.overloaded_intervals.to_string()),
                ));
            }
        }
        let h = |b: Option<u64>| b.map_or("not sized".into(), crate::util::human_bytes);
        s.push_str("\n## Memory per node\n\n| node | memory | needed now | needed after |\n|---|---|---|---|\n");
        for m in &self.memory {
            s.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                m.node,
                m.capacity.map_or("-".into(), crate::util::human_bytes),
                h(m.before),
                h(m.after)
            ));
        }
        s.push_str(
            "\n## Nodes\n\n| node | models | samples | throttled | hottest | uptime |\n|---|---|---|---|---|---|\n",
        );
        for n in &self.nodes {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {:.2}% |\n",
                n.node,
                n.models.join(", "),
                n.samples,
                n.throttled_share.map_or("-".into(), |x| format!("{:.2}%", x * 100.0)),
                n.max_celsius.map_or("-".into(), |c| format!("{c:.0} °C")),
                n.uptime * 100.0
            ));
        }
        s.push_str("\n## Node × model\n\n| node | model | requests | req/min (mean, p95) | busy | e2e p95 | TTFT p95 | queue p95 | budget | cache hits | prompt tokens |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
        let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0} ms"));
        for r in &self.rows {
            s.push_str(&format!(
                "| {} | {} | {} | {:.2}, {} | {} | {} | {} | {} | {} | {} | {} |\n",
                r.node,
                r.model,
                r.requests,
                r.requests_per_min,
                r.requests_per_min_p95.map_or("-".into(), |p| format!("{p:.1}")),
                r.busy_share.map_or("-".into(), |b| format!("{:.0}%", b * 100.0)),
                ms(r.e2e_p95_ms),
                ms(r.ttft_p95_ms),
                ms(r.queue_wait_p95_ms),
                r.latency_budget_ms.map_or("-".into(), |b| format!("{b} ms")),
                r.cache_hit_rate.map_or("-".into(), |c| format!("{:.0}%", c * 100.0)),
                r.mean_prompt_tokens.map_or("-".into(), |p| format!("{p:.0}")),
            ));
        }
        s
    }
}
