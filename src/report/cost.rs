//! The cost model: what running the cluster costs per second (retainer, hardware amortization,
//! energy at the measured watts), and so per million tokens at a given token rate.

use crate::inventory::Inventory;

/// Seconds in an average month (365.25 / 12 days).
pub const MONTH_SECS: f64 = 365.25 / 12.0 * 86_400.0;

/// Dollars per second: fixed (retainer + amortized hardware of every node) plus energy at `watts`
/// (the cluster's measured total; `None` when unknown, then energy is left out and said so).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CostRate {
    pub fixed_usd_per_month: f64,
    pub energy_usd_per_month: Option<f64>,
    /// Nodes whose `chip` has no `cost.hardware` entry (counted as free, and listed).
    pub unpriced_nodes: Vec<String>,
}

impl CostRate {
    pub fn usd_per_sec(&self) -> f64 {
        (self.fixed_usd_per_month + self.energy_usd_per_month.unwrap_or(0.0)) / MONTH_SECS
    }

    /// Dollars per million tokens at `tokens_per_sec` (None when there is no traffic).
    pub fn usd_per_mtok(&self, tokens_per_sec: f64) -> Option<f64> {
        (tokens_per_sec > 0.0).then(|| self.usd_per_sec() / tokens_per_sec * 1e6)
    }
}

pub fn rate(inv: &Inventory, watts: Option<f64>) -> Option<CostRate> {
    let cost = inv.cost.as_ref()?;
    let mut fixed = cost.retainer_usd_month.unwrap_or(0.0);
    let mut unpriced = Vec::new();
    for n in &inv.nodes {
        match n.chip.as_ref().and_then(|c| cost.hardware.get(c)) {
            Some(h) if h.amortization_months > 0 => fixed += h.price_usd / f64::from(h.amortization_months),
            _ => unpriced.push(n.name.clone()),
        }
    }
    let energy = watts.zip(cost.usd_per_kwh).map(|(w, p)| w / 1000.0 * (MONTH_SECS / 3600.0) * p);
    Some(CostRate { fixed_usd_per_month: fixed, energy_usd_per_month: energy, unpriced_nodes: unpriced })
}

/// What one node cost over a span: its hardware amortised over the span, its share of the
/// retainer (the retainer split evenly over the nodes), its measured energy.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NodeCost {
    pub node: String,
    pub hardware_usd: f64,
    pub retainer_usd: f64,
    /// `None` when no sample measured power (or no `usd_per_kwh`): left out, and said so.
    pub energy_usd: Option<f64>,
    /// Samples that measured energy, of the node's samples (energy is scaled up to all of them).
    pub energy_samples: u64,
    pub samples: u64,
    pub total_usd: f64,
}

/// Each node's cost over `span_secs` from the inventory's prices and the span's measured energy
/// (`nodes`: name, samples, energy joules, samples that measured it). `None` without `cost:`.
pub fn node_costs(inv: &Inventory, nodes: &[(String, u64, f64, u64)], span_secs: f64) -> Option<Vec<NodeCost>> {
    let cost = inv.cost.as_ref()?;
    let months = span_secs / MONTH_SECS;
    let retainer = cost.retainer_usd_month.unwrap_or(0.0) * months / inv.nodes.len().max(1) as f64;
    Some(
        inv.nodes
            .iter()
            .map(|n| {
                let hardware = match n.chip.as_ref().and_then(|c| cost.hardware.get(c)) {
                    Some(h) if h.amortization_months > 0 => h.price_usd / f64::from(h.amortization_months) * months,
                    _ => 0.0,
                };
                let (samples, joules, measured) =
                    nodes.iter().find(|x| x.0 == n.name).map_or((0, 0.0, 0), |x| (x.1, x.2, x.3));
                let energy = (measured > 0)
                    .then_some(cost.usd_per_kwh)
                    .flatten()
                    .map(|p| joules * samples as f64 / measured as f64 / 3.6e6 * p);
                NodeCost {
                    node: n.name.clone(),
                    hardware_usd: hardware,
                    retainer_usd: retainer,
                    energy_usd: energy,
                    energy_samples: measured,
                    samples,
                    total_usd: hardware + retainer + energy.unwrap_or(0.0),
                }
            })
            .collect(),
    )
}

/// What a model uses of a node: its busy share (of the span) and the share of the node's memory
/// it reserves (`None`: not sized, then the busy share alone counts).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Use {
    pub busy_share: f64,
    pub memory_share: Option<f64>,
}

/// A model's part of one node's cost.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Part {
    pub node: String,
    /// The share of the node's cost it carries: the larger of its busy and memory shares (scaled
    /// down with the others' when they add up to more than the node).
    pub share: f64,
    /// `busy` or `memory`: which of the two it was charged by.
    pub by: &'static str,
    pub usd: f64,
}

/// The span's cost split over models, OpenCost's way: each node's cost goes to the models on it
/// by the larger of the memory they reserve and the time they keep it busy; what no model
/// carries is the node's idle cost, a line of its own.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Allocation {
    /// model → its parts.
    pub models: std::collections::BTreeMap<String, Vec<Part>>,
    /// node → its idle cost.
    pub idle: std::collections::BTreeMap<String, f64>,
    pub total_usd: f64,
}

impl Allocation {
    pub fn model_usd(&self, model: &str) -> f64 {
        self.models.get(model).map_or(0.0, |p| p.iter().map(|p| p.usd).sum())
    }
    pub fn idle_usd(&self) -> f64 {
        self.idle.values().sum()
    }
}

/// Splits `nodes`' costs over the models by `uses` (node → model → use).
pub fn allocate(
    nodes: &[NodeCost],
    uses: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, Use>>,
) -> Allocation {
    let mut a = Allocation { models: Default::default(), idle: Default::default(), total_usd: 0.0 };
    for n in nodes {
        a.total_usd += n.total_usd;
        let empty = Default::default();
        let on = uses.get(&n.node).unwrap_or(&empty);
        let claims: Vec<(&String, f64, &'static str)> = on
            .iter()
            .map(|(m, u)| {
                let mem = u.memory_share.unwrap_or(0.0).clamp(0.0, 1.0);
                let busy = u.busy_share.clamp(0.0, 1.0);
                if mem > busy { (m, mem, "memory") } else { (m, busy, "busy") }
            })
            .collect();
        let total: f64 = claims.iter().map(|c| c.1).sum();
        let scale = if total > 1.0 { 1.0 / total } else { 1.0 };
        for (m, share, by) in claims {
            let share = share * scale;
            a.models.entry(m.clone()).or_default().push(Part {
                node: n.node.clone(),
                share,
                by,
                usd: n.total_usd * share,
            });
        }
        a.idle.insert(n.node.clone(), n.total_usd * (1.0 - total.min(1.0)));
    }
    a
}

/// A model's tokens over a span.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Tokens {
    pub uncached_input: u64,
    pub cached_input: u64,
    pub output: u64,
}

impl Tokens {
    pub fn total(&self) -> u64 {
        self.uncached_input + self.cached_input + self.output
    }
}

/// What the same tokens would cost at one API.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ApiComparison {
    pub api: String,
    pub api_usd: f64,
    pub api_usd_per_mtok: Option<f64>,
    /// `1 - ours / theirs`, in percent (negative: the API would be cheaper).
    pub savings_pct: Option<f64>,
    /// Whether the API's cached-input price was used (else its input price, said so).
    pub cached_price_known: bool,
}

/// A model's cost per million tokens, split by kind of token.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PerToken {
    pub usd: f64,
    pub tokens: Tokens,
    pub usd_per_mtok: Option<f64>,
    /// The model's cost split by where its time goes: the share of its in-slot time spent
    /// before the first byte (prefill of uncached input) goes to uncached input, the rest to
    /// output; cached input takes no prefill time (its memory is in the model's reserved share),
    /// so it is $0 here.
    pub prefill_time_share: Option<f64>,
    pub uncached_input_usd_per_mtok: Option<f64>,
    pub cached_input_usd_per_mtok: Option<f64>,
    pub output_usd_per_mtok: Option<f64>,
    pub vs_api: Vec<ApiComparison>,
}

/// `model`'s `usd` over its `tokens`, split and compared with each of the inventory's API prices
/// that stands in for it (`ApiPrice::covers`).
pub fn per_token(inv: &Inventory, model: &str, usd: f64, tokens: Tokens, prefill_time_share: Option<f64>) -> PerToken {
    let per_m = |usd: f64, n: u64| (n > 0).then(|| usd / n as f64 * 1e6);
    let f = prefill_time_share.map(|f| f.clamp(0.0, 1.0));
    let vs_api = inv
        .cost
        .iter()
        .flat_map(|c| &c.api_prices)
        .filter(|p| p.covers(model))
        .map(|p| {
            let cached = p.cached_input_usd_per_mtok.unwrap_or(p.input_usd_per_mtok);
            let api = (tokens.uncached_input as f64 * p.input_usd_per_mtok
                + tokens.cached_input as f64 * cached
                + tokens.output as f64 * p.output_usd_per_mtok)
                / 1e6;
            ApiComparison {
                api: p.name.clone(),
                api_usd: api,
                api_usd_per_mtok: per_m(api, tokens.total()),
                savings_pct: (api > 0.0).then(|| (1.0 - usd / api) * 100.0),
                cached_price_known: p.cached_input_usd_per_mtok.is_some(),
            }
        })
        .collect();
    PerToken {
        usd,
        tokens,
        usd_per_mtok: per_m(usd, tokens.total()),
        prefill_time_share: f,
        uncached_input_usd_per_mtok: f.and_then(|f| per_m(usd * f, tokens.uncached_input)),
        cached_input_usd_per_mtok: (tokens.cached_input > 0 && f.is_some()).then_some(0.0),
        output_usd_per_mtok: f.and_then(|f| per_m(usd * (1.0 - f), tokens.output)),
        vs_api,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_rack() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/inventory.example.yaml");
        let inv = Inventory::from_str(std::path::Path::new(path), &std::fs::read_to_string(path).unwrap()).unwrap();
        let r = rate(&inv, Some(100.0)).unwrap();
        // 2500 + 2 × 2199/36 + 3999/36 + 999/36
        let fixed = 2500.0 + 2.0 * 2199.0 / 36.0 + 3999.0 / 36.0 + 999.0 / 36.0;
        assert!((r.fixed_usd_per_month - fixed).abs() < 1e-9, "{r:?}");
        // 100 W for a month at $0.21/kWh: 0.1 kW × 730.5 h × 0.21
        assert!((r.energy_usd_per_month.unwrap() - 0.1 * 730.5 * 0.21).abs() < 1e-9);
        assert!(r.unpriced_nodes.is_empty());
        // At 1000 tokens/s: dollars per second / 1000 × 1e6.
        let per_m = r.usd_per_mtok(1000.0).unwrap();
        assert!((per_m - r.usd_per_sec() * 1000.0).abs() < 1e-9);
        assert_eq!(r.usd_per_mtok(0.0), None);
    }

    fn node(name: &str, usd: f64) -> NodeCost {
        NodeCost {
            node: name.into(),
            hardware_usd: usd,
            retainer_usd: 0.0,
            energy_usd: None,
            energy_samples: 0,
            samples: 0,
            total_usd: usd,
        }
    }

    /// OpenCost's rule: the larger of busy and memory; idle is its own line; over-claimed nodes
    /// are scaled; every dollar lands somewhere.
    #[test]
    fn allocation_by_the_larger_share_with_idle_apart() {
        let u = |b: f64, m: Option<f64>| Use { busy_share: b, memory_share: m };
        let uses = [
            ("n1".to_string(), [("a".to_string(), u(0.6, Some(0.3))), ("b".to_string(), u(0.1, Some(0.2)))].into()),
            ("n2".to_string(), [("a".to_string(), u(0.9, Some(0.5))), ("b".to_string(), u(0.2, Some(0.6)))].into()),
        ]
        .into();
        let a = allocate(&[node("n1", 100.0), node("n2", 50.0)], &uses);
        // n1: a by busy 0.6, b by memory 0.2, idle 0.2.
        assert!((a.models["b"][0].usd - 20.0).abs() < 1e-9 && a.models["b"][0].by == "memory");
        assert!((a.idle["n1"] - 20.0).abs() < 1e-9);
        // n2: 0.9 + 0.6 = 1.5 → scaled to 0.6 and 0.4 of 50, no idle.
        assert!((a.models["a"][1].usd - 30.0).abs() < 1e-9 && (a.models["b"][1].usd - 20.0).abs() < 1e-9);
        assert!(a.idle["n2"].abs() < 1e-9);
        assert!((a.model_usd("a") + a.model_usd("b") + a.idle_usd() - a.total_usd).abs() < 1e-9);
    }

    #[test]
    fn per_token_splits_by_prefill_time_and_compares_with_apis() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/inventory.example.yaml");
        let inv = Inventory::from_str(std::path::Path::new(path), &std::fs::read_to_string(path).unwrap()).unwrap();
        let t = Tokens { uncached_input: 2_000_000, cached_input: 1_000_000, output: 1_000_000 };
        let p = per_token(&inv, "m", 10.0, t, Some(0.25));
        assert_eq!(p.usd_per_mtok, Some(2.5));
        assert_eq!(p.uncached_input_usd_per_mtok, Some(1.25));
        assert_eq!(p.output_usd_per_mtok, Some(7.5));
        // gpt-4o-mini: 2 × 0.15 + 1 × 0.075 (cached) + 1 × 0.60 = 0.975 $.
        let mini = p.vs_api.iter().find(|a| a.api == "gpt-4o-mini").unwrap();
        assert!((mini.api_usd - 0.975).abs() < 1e-9, "{mini:?}");
        assert!(mini.cached_price_known);
        assert!(mini.savings_pct.unwrap() < 0.0);
    }
}
