//! The weekly placement diff: from a span's telemetry ([`crate::telemetry::summary::Summary`]) and
//! the current placement, the evidence per node × model and the moves the seed's rules call for.
//! Pure: no store, no node. Every move carries its evidence (metric, value, threshold, samples,
//! span); a rule fires only on enough samples, so one noisy hour moves nothing.
//!
//! Rules (each fires only on the telemetry that shows it; the replay lands next, `#16`):
//! - **saturation**: a model busy at least 80% of the time on a node with its queue-wait p95 at a
//!   second or more (or its e2e p95 over its latency budget) gets the node to itself: the model
//!   cohabiting there is evicted, moved to the least busy node that does not serve it (or
//!   unloaded when none can take it, said so);
//! - **prompt cache**: a model whose prompts are long (2,000 tokens or more on average) and whose
//!   cache reuses under 20% of them gets a larger prompt-cache budget (`--prompt-cache-size`);
//! - **heat**: a node throttled in more than 3% of its samples (of at least a day's) has one model
//!   moved off it: the one it is least busy with, to the coolest node that does not serve it yet.

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
#[derive(Debug, Clone, Serialize, PartialEq)]
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

/// The eviction log of a span: its loader evictions and crashes (events), in time order, then
/// the evictions the proposed moves make.
pub fn eviction_log(events: &[serde_json::Value], moves: &[Proposed]) -> Vec<Eviction> {
    let mut out: Vec<Eviction> = events
        .iter()
        .filter(|e| matches!(e["kind"].as_str(), Some("loader_evicted" | "loader_crashed")))
        .map(|e| {
            let exit = &e["exit"];
            let how = match (exit["signal"].as_i64(), exit["exit_code"].as_i64()) {
                (Some(9), _) => "killed by SIGKILL from outside garnet (the OOM killer or jetsam)".to_string(),
                (Some(sig), _) => format!("killed by signal {sig}"),
                (None, Some(code)) => format!("exited with code {code}"),
                _ => "exited".to_string(),
            };
            let pressure = e["memory_pressure"].as_str().map(|p| format!("; memory pressure {p}")).unwrap_or_default();
            Eviction {
                at: e["at"].as_str().map(str::to_string),
                node: e["node"].as_str().unwrap_or("?").to_string(),
                model: e["model"].as_str().map(str::to_string),
                kind: e["kind"].as_str().unwrap_or("?").to_string(),
                detail: format!("{how}{pressure}"),
            }
        })
        .collect();
    out.sort_by(|a, b| a.at.cmp(&b.at));
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
    let (seen, planned) =
        (log.iter().filter(|e| e.kind != "planned").count(), log.iter().filter(|e| e.kind == "planned").count());
    s.push_str(&format!(
        "{seen} in the span, {planned} planned.\n\n| when | node | model | what | detail |\n|---|---|---|---|---|\n"
    ));
    for e in log {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            e.at.as_deref().unwrap_or("at apply"),
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
    pub nodes: Vec<NodeRow>,
    pub rows: Vec<Row>,
    pub moves: Vec<Proposed>,
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

/// The prompt-cache size the loaders run with (`--prompt-cache-size` in `deploy.loader_args`).
fn prompt_cache_size(inv: &Inventory) -> u32 {
    let args = &inv.deploy.loader_args;
    args.iter()
        .position(|a| a == "--prompt-cache-size")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(PROMPT_CACHE_DEFAULT)
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// The evidence and the moves for `inv` (its placement as the record leaves it) over `sum`.
pub fn diff(inv: &Inventory, sum: &Summary, interval_secs: f64, th: &Thresholds) -> Diff {
    let span = format!("{} → {}", sum.from, sum.to);
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

    let mut moves = Vec::new();
    let busy = |node: &str, model: &str| -> f64 {
        rows.iter().find(|r| r.node == node && r.model == model).and_then(|r| r.busy_share).unwrap_or(0.0)
    };
    let load = |node: &str| -> f64 { rows.iter().filter(|r| r.node == node).filter_map(|r| r.busy_share).sum() };
    let loader_node = |name: &str| inv.node(name).is_some_and(|x| x.roles.is_empty() || x.has_role("loader"));

    // Saturation: the model gets its node to itself; the other model there goes.
    for r in &rows {
        let Some(b) = r.busy_share else { continue };
        let over_budget = matches!((r.e2e_p95_ms, r.latency_budget_ms), (Some(p), Some(l)) if p > f64::from(l));
        let queued = r.queue_wait_p95_ms.is_some_and(|q| q >= th.saturated_queue_ms);
        if r.samples < th.min_backend_samples || b < th.saturated_busy || !(queued || over_budget) {
            continue;
        }
        let Some(n) = nodes.iter().find(|n| n.node == r.node) else { continue };
        for other in n.models.iter().filter(|m| **m != r.model) {
            let to = nodes
                .iter()
                .filter(|x| x.node != r.node && !x.models.contains(other) && loader_node(&x.node))
                .filter(|x| x.throttled_share.is_none_or(|s| s <= th.throttled_share))
                .min_by(|a, b| load(&a.node).partial_cmp(&load(&b.node)).unwrap_or(std::cmp::Ordering::Equal))
                .map(|x| x.node.clone());
            let mut evidence = vec![Evidence {
                metric: format!("{}/{}: busy share", r.node, r.model),
                value: b,
                threshold: th.saturated_busy,
                samples: r.samples,
                span: span.clone(),
            }];
            if queued {
                evidence.push(Evidence {
                    metric: format!("{}/{}: queue-wait p95 (ms)", r.node, r.model),
                    value: r.queue_wait_p95_ms.unwrap_or(0.0),
                    threshold: th.saturated_queue_ms,
                    samples: r.requests,
                    span: span.clone(),
                });
            }
            if over_budget {
                evidence.push(Evidence {
                    metric: format!("{}/{}: e2e p95 (ms)", r.node, r.model),
                    value: r.e2e_p95_ms.unwrap_or(0.0),
                    threshold: f64::from(r.latency_budget_ms.unwrap_or(0)),
                    samples: r.requests,
                    span: span.clone(),
                });
            }
            // The model's measured rate over all its nodes against what intake projected.
            let measured: f64 =
                rows.iter().filter(|x| x.model == r.model).map(|x| x.requests_per_min).sum::<f64>() / 60.0;
            let projected = match r.projected_qps {
                Some(p) if measured > p => format!("{measured:.2} req/s against the {p} projected"),
                Some(p) => format!("{measured:.2} req/s, within the {p} projected"),
                None => "no projected QPS on record".into(),
            };
            let why = format!(
                "`{}` saturates {}: busy {:.0}% of the time{}{} ({:.1} requests/min; {projected}): it gets the node to itself, `{other}` ({:.0}% busy there) {}",
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
                match &to {
                    Some(t) => format!(
                        "moves to {t}, the least busy node that does not serve it{}",
                        fit_note(
                            inv,
                            other,
                            t,
                            &nodes.iter().find(|x| &x.node == t).map(|x| x.models.clone()).unwrap_or_default()
                        )
                    ),
                    None => "is unloaded there: no other node can take it".into(),
                }
            );
            moves.push(Proposed {
                change: Move::OwnNode { model: r.model.clone(), node: r.node.clone(), evict: other.clone(), to },
                why,
                evidence,
            });
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
        let from = prompt_cache_size(inv);
        let to = from * 2;
        moves.push(Proposed {
            change: Move::PromptCache { model: model.to_string(), nodes: on_nodes.clone(), from, to },
            why: format!(
                "`{model}`'s prompts average {mean_prompt:.0} tokens and its prompt cache reuses {:.1}% of them: its loaders keep {to} prompts cached instead of {from} (`--prompt-cache-size {to}`), on {}; memory not checked (the models' files are not local)",
                hit * 100.0,
                on_nodes.join(", ")
            ),
            evidence: vec![
                Evidence {
                    metric: format!("{model}: prompt-cache hit rate"),
                    value: round(hit, 4),
                    threshold: th.cache_hit_low,
                    samples: requests,
                    span: span.clone(),
                },
                Evidence {
                    metric: format!("{model}: mean prompt tokens"),
                    value: round(mean_prompt, 1),
                    threshold: th.long_prompt_tokens,
                    samples: requests,
                    span: span.clone(),
                },
            ],
        });
    }

    // Heat: one model off each node throttled too often, hottest first.
    let mut hot: Vec<&NodeRow> = nodes
        .iter()
        .filter(|n| n.samples >= th.min_node_samples && n.throttled_share.is_some_and(|s| s > th.throttled_share))
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
        // The coolest, least loaded node that does not serve it yet (and may serve models).
        let to = nodes
            .iter()
            .filter(|n| n.node != h.node && !n.models.contains(model))
            .filter(|n| n.samples >= th.min_node_samples && n.throttled_share.is_some_and(|s| s <= th.cool_share))
            .filter(|n| loader_node(&n.node))
            .min_by(|a, b| load(&a.node).partial_cmp(&load(&b.node)).unwrap_or(std::cmp::Ordering::Equal))
            .map(|n| n.node.clone());
        let share = h.throttled_share.unwrap_or(0.0);
        let why = match &to {
            Some(t) => format!(
                "{} was throttled in {:.1}% of its samples (over {:.0}%): `{model}`, the model it is least busy with ({:.0}% busy), moves to {t}, the coolest node that does not serve it{}",
                h.node,
                share * 100.0,
                th.throttled_share * 100.0,
                busy(&h.node, model) * 100.0,
                fit_note(
                    inv,
                    model,
                    t,
                    &nodes.iter().find(|x| &x.node == t).map(|x| x.models.clone()).unwrap_or_default()
                )
            ),
            None => format!(
                "{} was throttled in {:.1}% of its samples (over {:.0}%), but no cool node can take `{model}`: add a node or improve its cooling",
                h.node,
                share * 100.0,
                th.throttled_share * 100.0
            ),
        };
        moves.push(Proposed {
            change: Move::OffHotNode { model: model.clone(), from: h.node.clone(), to },
            why,
            evidence: vec![Evidence {
                metric: format!("{}: throttled share of samples", h.node),
                value: round(share, 4),
                threshold: th.throttled_share,
                samples: h.samples,
                span: span.clone(),
            }],
        });
    }

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
        nodes,
        rows,
        moves,
    }
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
        s.push_str("\n## Node × model\n\n| node | model | requests | req/min | busy | e2e p95 | TTFT p95 | queue p95 | budget | cache hits | prompt tokens |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
        let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0} ms"));
        for r in &self.rows {
            s.push_str(&format!(
                "| {} | {} | {} | {:.2} | {} | {} | {} | {} | {} | {} | {} |\n",
                r.node,
                r.model,
                r.requests,
                r.requests_per_min,
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
