//! The cost-per-million-tokens diff: each model's cost over the span under the current placement
//! (measured busy shares) and under the proposed one (the replay's busy shares), allocated
//! OpenCost's way ([`crate::report::cost::allocate`]), split by kind of token, and compared with
//! each API price. Every input of the cost model is in the artifact.

use std::collections::BTreeMap;

use serde::Serialize;

use super::replay::{Placement, Prediction};
use crate::inventory::Inventory;
use crate::report::cost::{self, Allocation, NodeCost, PerToken, Tokens, Use};
use crate::telemetry::summary::Summary;

/// The cost model's inputs, as the artifact shows them.
#[derive(Debug, Clone, Serialize)]
pub struct Inputs {
    pub span_secs: f64,
    pub retainer_usd_month: Option<f64>,
    pub usd_per_kwh: Option<f64>,
    /// chip → (price, amortisation months).
    pub hardware: BTreeMap<String, (f64, u32)>,
    /// Nodes whose chip has no price (their hardware counts as $0, said so).
    pub unpriced_nodes: Vec<String>,
    pub allocation_rule: &'static str,
    pub token_split_rule: &'static str,
}

/// One model, before and after.
#[derive(Debug, Clone, Serialize)]
pub struct ModelRow {
    pub model: String,
    pub before: PerToken,
    pub after: Option<PerToken>,
    pub before_parts: Vec<cost::Part>,
    pub after_parts: Vec<cost::Part>,
    /// Why `after` is missing or differs in kind (unloaded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The weighted average of all models (idle included: what the cluster costs per token).
#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    pub total_usd: f64,
    pub allocated_usd: f64,
    pub idle_usd: f64,
    pub tokens: u64,
    /// Allocated cost over tokens.
    pub allocated_usd_per_mtok: Option<f64>,
    /// All of the cluster's cost (idle included) over tokens.
    pub all_in_usd_per_mtok: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CostDiff {
    pub cluster: String,
    pub from: String,
    pub to: String,
    pub inputs: Inputs,
    pub nodes: Vec<NodeCost>,
    pub models: Vec<ModelRow>,
    pub before: Totals,
    pub after: Totals,
    pub idle_before: BTreeMap<String, f64>,
    pub idle_after: BTreeMap<String, f64>,
}

/// The share of a node's memory a model entry reserves (from its own files), if sized.
pub fn memory_share(inv: &Inventory, entry: &str, node: &str) -> Option<f64> {
    let gb = inv.node(node)?.memory_gb?;
    let need = super::memory::entry_need(inv.models.iter().find(|m| m.name == entry)?)?;
    Some(need as f64 / (gb * (1u64 << 30) as f64))
}

fn totals(a: &Allocation, tokens: u64) -> Totals {
    let allocated = a.total_usd - a.idle_usd();
    let per_m = |usd: f64| (tokens > 0).then(|| usd / tokens as f64 * 1e6);
    Totals {
        total_usd: a.total_usd,
        allocated_usd: allocated,
        idle_usd: a.idle_usd(),
        tokens,
        allocated_usd_per_mtok: per_m(allocated),
        all_in_usd_per_mtok: per_m(a.total_usd),
    }
}

/// The diff, `None` when the inventory has no `cost:`. `replayed`: the replay's busy shares under
/// `before` and under `after` (`None`: after is as measured, for a placement as it ran). After is
/// the measured busy share moved by what the replay predicts the change does (after − before, per
/// node × model), so a node × model the moves do not touch costs after exactly what it cost.
pub fn cost_diff(
    inv: &Inventory,
    sum: &Summary,
    before: &Placement,
    after: &Placement,
    replayed: Option<(&Prediction, &Prediction)>,
) -> Option<CostDiff> {
    let c = inv.cost.as_ref()?;
    let (from, to) = (sum.from.parse::<jiff::Timestamp>().ok()?, sum.to.parse::<jiff::Timestamp>().ok()?);
    let span_secs = to.duration_since(from).as_secs_f64().max(1.0);
    let energy: Vec<(String, u64, f64, u64)> =
        sum.nodes.iter().map(|n| (n.node.clone(), n.samples, n.energy_joules, n.energy_samples)).collect();
    let nodes = cost::node_costs(inv, &energy, span_secs)?;
    let uses = |placement: &Placement, busy: &dyn Fn(&str, &str) -> f64| {
        let mut u: BTreeMap<String, BTreeMap<String, Use>> = BTreeMap::new();
        for (model, on) in placement {
            for node in on {
                u.entry(node.clone()).or_default().insert(
                    model.clone(),
                    Use { busy_share: busy(node, model), memory_share: memory_share(inv, model, node) },
                );
            }
        }
        u
    };
    let measured = |node: &str, model: &str| {
        sum.backends
            .iter()
            .filter(|b| b.node.as_deref() == Some(node) && b.model == model)
            .map(|b| b.busy_secs)
            .sum::<f64>()
            / span_secs
    };
    // Without a prediction (the monthly report: the placement as it ran), after is as measured.
    let predicted = |node: &str, model: &str| match replayed {
        Some((b, a)) => {
            let busy = |p: &Prediction| p.busy.get(node).and_then(|m| m.get(model)).copied().unwrap_or(0.0);
            (measured(node, model) + busy(a) - busy(b)).clamp(0.0, 1.0)
        }
        None => measured(node, model),
    };
    let a_before = cost::allocate(&nodes, &uses(before, &measured));
    let a_after = cost::allocate(&nodes, &uses(after, &predicted));
    let mut models = Vec::new();
    let (mut tok_before, mut tok_after) = (0, 0);
    let names: std::collections::BTreeSet<&String> = before.keys().chain(sum.models.iter().map(|m| &m.model)).collect();
    for model in names {
        let t = sum.models.iter().find(|m| &m.model == model);
        let tokens = t.map_or(Tokens::default(), |t| Tokens {
            uncached_input: t.prompt_tokens.saturating_sub(t.cached_tokens),
            cached_input: t.cached_tokens,
            output: t.completion_tokens,
        });
        let prefill = t.and_then(|t| {
            let in_slot = t.e2e.sum - t.queue_wait_sum_secs;
            (in_slot > 0.0).then(|| ((t.ttft_sum_secs - t.queue_wait_sum_secs) / in_slot).clamp(0.0, 1.0))
        });
        let served_after = after.get(model).is_some_and(|n| !n.is_empty());
        tok_before += tokens.total();
        if served_after {
            tok_after += tokens.total();
        }
        models.push(ModelRow {
            model: model.clone(),
            before: cost::per_token(inv, model, a_before.model_usd(model), tokens, prefill),
            after: served_after.then(|| cost::per_token(inv, model, a_after.model_usd(model), tokens, prefill)),
            before_parts: a_before.models.get(model).cloned().unwrap_or_default(),
            after_parts: a_after.models.get(model).cloned().unwrap_or_default(),
            note: (!served_after).then(|| "unloaded by the plan: its tokens are no longer served".to_string()),
        });
    }
    let unpriced_nodes = inv
        .nodes
        .iter()
        .filter(|n| !n.chip.as_ref().is_some_and(|ch| c.hardware.contains_key(ch)))
        .map(|n| n.name.clone())
        .collect();
    Some(CostDiff {
        cluster: sum.cluster.clone(),
        from: sum.from.clone(),
        to: sum.to.clone(),
        inputs: Inputs {
            span_secs,
            retainer_usd_month: c.retainer_usd_month,
            usd_per_kwh: c.usd_per_kwh,
            hardware: c.hardware.iter().map(|(k, h)| (k.clone(), (h.price_usd, h.amortization_months))).collect(),
            unpriced_nodes,
            allocation_rule: "each node's cost (hardware amortised over the span + its even share of the retainer + its measured energy) goes to the models on it by the larger of the share of its memory they reserve (weights + KV cache + runtime, from their files) and the share of the span they keep it busy; when the claims add up to more than the node they are scaled down; what no model claims is the node's idle cost. Busy shares: measured before; after, the measured ones moved by the replay's predicted change (a node × model no move touches keeps its measured share); energy held at the measured value.",
            token_split_rule: "a model's cost is split by where its time in a slot goes: before the first byte (prefill of uncached input) to uncached input tokens, the rest to output tokens; input served from the prompt cache takes no prefill time, so $0 here (its memory is in the reserved share)",
        },
        before: totals(&a_before, tok_before),
        after: totals(&a_after, tok_after),
        idle_before: a_before.idle.clone(),
        idle_after: a_after.idle.clone(),
        nodes,
        models,
    })
}

fn usd(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("${v:.4}"))
}

impl CostDiff {
    pub fn markdown(&self) -> String {
        let mut s = format!("# Cost-per-million-tokens diff: {}, {} → {}\n\n", self.cluster, self.from, self.to);
        s.push_str(&format!(
            "The cluster cost **${:.2}** over the span; **{}** per million tokens all in (idle included) before, **{}** after; allocated to models: {} → {}.\n\n",
            self.before.total_usd,
            usd(self.before.all_in_usd_per_mtok),
            usd(self.after.all_in_usd_per_mtok),
            usd(self.before.allocated_usd_per_mtok),
            usd(self.after.allocated_usd_per_mtok),
        ));
        s.push_str("No per-token line item: the cluster is a fixed cost; these are what its tokens come to.\n\n");
        s.push_str("## Per model\n\n| model | $ before | $ after | $/M before | $/M after | uncached input $/M | cached input $/M | output $/M | prefill share |\n|---|---|---|---|---|---|---|---|---|\n");
        for m in &self.models {
            let after = m.after.as_ref();
            s.push_str(&format!(
                "| {} | ${:.2} | {} | {} | {} | {} → {} | {} | {} → {} | {} |\n",
                m.model,
                m.before.usd,
                after.map_or(m.note.clone().unwrap_or("-".into()), |a| format!("${:.2}", a.usd)),
                usd(m.before.usd_per_mtok),
                usd(after.and_then(|a| a.usd_per_mtok)),
                usd(m.before.uncached_input_usd_per_mtok),
                usd(after.and_then(|a| a.uncached_input_usd_per_mtok)),
                usd(m.before.cached_input_usd_per_mtok),
                usd(m.before.output_usd_per_mtok),
                usd(after.and_then(|a| a.output_usd_per_mtok)),
                m.before.prefill_time_share.map_or("-".into(), |f| format!("{:.0}%", f * 100.0)),
            ));
        }
        s.push_str("\n## Against the APIs (the same tokens at their prices)\n\n| model | API | API $ | API $/M | savings before | savings after |\n|---|---|---|---|---|---|\n");
        for m in &self.models {
            for (i, a) in m.before.vs_api.iter().enumerate() {
                let after = m.after.as_ref().and_then(|x| x.vs_api.get(i)).and_then(|x| x.savings_pct);
                s.push_str(&format!(
                    "| {} | {}{} | ${:.2} | {} | {} | {} |\n",
                    m.model,
                    a.api,
                    if a.cached_price_known { "" } else { " (no cached price: input price used)" },
                    a.api_usd,
                    usd(a.api_usd_per_mtok),
                    a.savings_pct.map_or("-".into(), |p| format!("{p:.1}%")),
                    after.map_or("-".into(), |p| format!("{p:.1}%")),
                ));
            }
        }
        s.push_str(
            "\n## How each model's cost was allocated\n\n| model | node | before | after |\n|---|---|---|---|\n",
        );
        for m in &self.models {
            let mut nodes: Vec<&String> = m.before_parts.iter().chain(&m.after_parts).map(|p| &p.node).collect();
            nodes.sort();
            nodes.dedup();
            for n in nodes {
                let part = |ps: &[cost::Part]| {
                    ps.iter()
                        .find(|p| &p.node == n)
                        .map_or("-".into(), |p| format!("{:.1}% by {} = ${:.2}", p.share * 100.0, p.by, p.usd))
                };
                s.push_str(&format!(
                    "| {} | {} | {} | {} |\n",
                    m.model,
                    n,
                    part(&m.before_parts),
                    part(&m.after_parts)
                ));
            }
        }
        s.push_str("\n## Nodes (idle cost: what no model claims)\n\n| node | hardware | retainer | energy | total | idle before | idle after |\n|---|---|---|---|---|---|---|\n");
        for n in &self.nodes {
            s.push_str(&format!(
                "| {} | ${:.2} | ${:.2} | {} | ${:.2} | ${:.2} | ${:.2} |\n",
                n.node,
                n.hardware_usd,
                n.retainer_usd,
                match n.energy_usd {
                    Some(e) => format!("${e:.2} ({} of {} samples measured)", n.energy_samples, n.samples),
                    None => "not measured".into(),
                },
                n.total_usd,
                self.idle_before.get(&n.node).copied().unwrap_or(0.0),
                self.idle_after.get(&n.node).copied().unwrap_or(0.0),
            ));
        }
        let i = &self.inputs;
        s.push_str(&format!(
            "\n## Inputs\n\n- span: {:.1} days\n- retainer: {}\n- energy price: {}\n- hardware: {}\n- allocation: {}\n- token split: {}\n",
            i.span_secs / 86_400.0,
            i.retainer_usd_month.map_or("none".into(), |r| format!("${r:.2} a month, split evenly over the nodes")),
            i.usd_per_kwh.map_or("none (energy left out)".into(), |p| format!("${p}/kWh")),
            if i.hardware.is_empty() {
                "none priced".to_string()
            } else {
                i.hardware.iter().map(|(k, (p, m))| format!("{k}: ${p} over {m} months")).collect::<Vec<_>>().join("; ")
            },
            i.allocation_rule,
            i.token_split_rule,
        ));
        if !i.unpriced_nodes.is_empty() {
            s.push_str(&format!("- nodes with no hardware price (counted as $0): {}\n", i.unpriced_nodes.join(", ")));
        }
        s
    }
}
