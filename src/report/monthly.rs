//! The monthly report's numbers: one structure ([`Report`]) built from a month's telemetry
//! summary, its events and audit records, the placement planner's verdict and the cost model.
//! The PDF ([`super::render`]) and `report.json` both come from it, so every number in the PDF is
//! in the JSON. Pure: no store, no clock (the same inputs give the same report).
//!
//! Honest with missing data: a day with no sample is listed (never a day of zeros), a node
//! without samples has no uptime figure, a node first seen mid-month is measured from its first
//! sample (said so), a model with no API price or an inventory without `cost:` is named in
//! [`Report::unknowns`].

use std::collections::BTreeMap;

use serde::Serialize;

use crate::inventory::Inventory;
use crate::placement::cost_diff::CostDiff;
use crate::placement::diff::{Diff, Eviction, Move};
use crate::telemetry::summary::{Summary, TempBin};

/// The schema of `report.json` (bumped on any change a reader would notice).
pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub cluster: String,
    pub tier: String,
    /// `YYYY-MM`.
    pub month: String,
    pub from: String,
    pub to: String,
    pub headline: Headline,
    pub coverage: Coverage,
    pub volume: Volume,
    pub thermal: Thermal,
    pub evictions: Evictions,
    pub distribution: Distribution,
    pub cost: CostSection,
    pub uptime: UptimeSection,
    pub recommendations: Vec<Recommendation>,
    /// What the report does not know, each said once in words.
    pub unknowns: Vec<String>,
}

/// The numbers on the cover, each also in its section.
#[derive(Debug, Clone, Serialize)]
pub struct Headline {
    pub requests: u64,
    pub tokens: u64,
    pub all_in_usd_per_mtok: Option<f64>,
    /// The API the cluster saved the most against, and by how much (%).
    pub best_savings: Option<Saving>,
    pub cluster_uptime: Option<f64>,
    pub incidents: usize,
    pub rebalance: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Saving {
    pub api: String,
    pub savings_pct: f64,
    pub api_usd: f64,
}

/// What the month's data covers.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub days: usize,
    pub days_with_samples: usize,
    pub missing_days: Vec<String>,
    pub samples: u64,
    /// Objects and files that could not be read.
    pub skipped: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Volume {
    pub requests: u64,
    pub ok: u64,
    pub failed: u64,
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub completion_tokens: u64,
    /// Prompt + completion tokens.
    pub tokens: u64,
    pub models: Vec<ModelVolume>,
    pub days: Vec<DayVolume>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelVolume {
    pub model: String,
    pub requests: u64,
    pub failed: u64,
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub completion_tokens: u64,
    pub tokens: u64,
    /// Share of the month's tokens (0..1).
    pub token_share: f64,
    pub e2e_p50_ms: Option<f64>,
    pub e2e_p95_ms: Option<f64>,
    pub ttft_p95_ms: Option<f64>,
    pub latency_budget_ms: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DayVolume {
    pub date: String,
    /// `missing` when no sample came that day (its bar is absent, not zero).
    pub source: String,
    pub requests: u64,
    pub tokens: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Thermal {
    /// Throttled share of all samples.
    pub throttled_share: Option<f64>,
    pub throttled_samples: u64,
    pub nodes: Vec<ThermalNode>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ThermalNode {
    pub node: String,
    pub samples: u64,
    pub peak_celsius: Option<f64>,
    /// The 95th percentile of its hottest sensor over the samples (whole degrees).
    pub p95_celsius: Option<u32>,
    pub throttled_samples: u64,
    pub throttled_share: Option<f64>,
    /// The coolest whole degree with a throttled sample from which at least half of the samples
    /// at or above it were throttled.
    pub onset_celsius: Option<u32>,
    /// Throttled share of the samples under the onset (high: throttling not driven by heat).
    pub throttled_below_onset: Option<f64>,
    /// The ambient adjustment it calls for, in °C (negative: cooler), with the reasoning.
    pub ambient_adjust_celsius: Option<i32>,
    pub reasoning: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Evictions {
    /// Loaders killed from outside garnet (the OOM killer, jetsam).
    pub loader_evictions: u64,
    pub loader_crashes: u64,
    /// Prompt-cache entries that left the loaders' caches (inferred by the monitors).
    pub prompt_cache_evictions_inferred: u64,
    /// Models by evictions + crashes, most first.
    pub models: Vec<ModelEvictions>,
    pub log: Vec<Eviction>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelEvictions {
    pub model: String,
    pub evictions: u64,
    pub crashes: u64,
    pub prompt_cache_inferred: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Distribution {
    pub nodes: Vec<NodePlacement>,
    pub rebalance: bool,
    /// The planner's reason: its moves' reasons, or why the placement holds.
    pub reason: String,
    pub moves: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodePlacement {
    pub node: String,
    pub chip: Option<String>,
    pub memory_gb: Option<f64>,
    pub models: Vec<String>,
    /// Share of the month its models kept it busy, summed over them (can pass 1 with slots).
    pub busy_share: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CostSection {
    /// Why there are no figures (no `cost:` section), when there are none.
    pub not_computed: Option<String>,
    pub total_usd: Option<f64>,
    pub idle_usd: Option<f64>,
    pub tokens: u64,
    /// All of the cluster's cost (idle included) over its tokens: the weighted average.
    pub all_in_usd_per_mtok: Option<f64>,
    pub allocated_usd_per_mtok: Option<f64>,
    pub models: Vec<ModelCost>,
    /// The whole month's tokens priced at each API, against what the cluster cost.
    pub apis: Vec<ApiSaving>,
    pub inputs: Option<crate::placement::cost_diff::Inputs>,
    pub nodes: Vec<crate::report::cost::NodeCost>,
    /// The framing the seed asks for.
    pub framing: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelCost {
    pub model: String,
    pub usd: f64,
    pub tokens: u64,
    pub usd_per_mtok: Option<f64>,
    pub vs_api: Vec<crate::report::cost::ApiComparison>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiSaving {
    pub api: String,
    /// The models it stands in for (`cost.api_prices[].models`; all when not given).
    pub models: Vec<String>,
    /// What its price is set against: the cluster's whole cost when it stands in for every
    /// model, else the cost allocated to the models it covers.
    pub compared_with: String,
    pub api_usd: f64,
    pub api_usd_per_mtok: Option<f64>,
    pub savings_pct: Option<f64>,
    pub cached_price_known: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct UptimeSection {
    /// The nodes' mean uptime over the time each was in service.
    pub cluster: Option<f64>,
    pub nodes: Vec<NodeUptime>,
    pub incidents: Vec<Incident>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeUptime {
    pub node: String,
    /// `None`: no sample all month (unknown, not 0).
    pub uptime: Option<f64>,
    pub down_secs: f64,
    /// Measured from here: the month's start, or the node's first sample when it joined later.
    pub measured_from: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub at: String,
    pub node: String,
    /// `loader_crashed`, `loader_evicted`, `loader_down`, `node_gap`, `operator`.
    pub kind: String,
    pub cause: String,
    pub fix: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    /// `placement`, `capacity`, `retirement`, `thermal`.
    pub kind: String,
    pub text: String,
    pub evidence: String,
}

/// Everything the report is built from.
pub struct Inputs<'a> {
    pub inv: &'a Inventory,
    /// `YYYY-MM`.
    pub month: String,
    pub sum: &'a Summary,
    pub events: &'a [serde_json::Value],
    pub audit: &'a [serde_json::Value],
    /// The placement planner's verdict on the month.
    pub diff: &'a Diff,
    /// The month's cost (current placement, measured busy shares); `None` without `cost:`.
    pub cost: Option<&'a CostDiff>,
}

/// A utilisation (busy share per slot) from which a model needs more capacity.
const CAPACITY_UTILISATION: f64 = 0.7;
/// A node's models' busy share under which it counts as idle.
const IDLE_BUSY: f64 = 0.01;

pub fn build(i: &Inputs<'_>) -> Report {
    let sum = i.sum;
    let mut unknowns = Vec::new();
    if sum.samples == 0 {
        unknowns.push(format!(
            "No telemetry at all for {}: every figure below that comes from samples is unknown, not zero.",
            i.month
        ));
    } else if !sum.missing_days.is_empty() {
        unknowns.push(format!(
            "{} day(s) with no sample from any node ({}): their traffic is not counted and their time counts as down.",
            sum.missing_days.len(),
            compact_dates(&sum.missing_days)
        ));
    }
    if !sum.skipped.is_empty() {
        unknowns.push(format!("{} object(s) could not be read and are left out.", sum.skipped.len()));
    }
    let volume = volume(i);
    let thermal = thermal(sum);
    let evictions = evictions(i);
    let distribution = distribution(i);
    let cost = cost(i, &mut unknowns);
    let uptime = uptime(i, &mut unknowns);
    let recommendations = recommendations(i, &thermal, &distribution);
    let best_savings = cost
        .apis
        .iter()
        .filter_map(|a| a.savings_pct.map(|p| Saving { api: a.api.clone(), savings_pct: p, api_usd: a.api_usd }))
        .max_by(|a, b| a.savings_pct.total_cmp(&b.savings_pct));
    Report {
        schema: SCHEMA,
        cluster: i.inv.cluster.slug.clone(),
        tier: serde_json::to_value(i.inv.cluster.tier)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        month: i.month.clone(),
        from: sum.from.clone(),
        to: sum.to.clone(),
        headline: Headline {
            requests: volume.requests,
            tokens: volume.tokens,
            all_in_usd_per_mtok: cost.all_in_usd_per_mtok,
            best_savings,
            cluster_uptime: uptime.cluster,
            incidents: uptime.incidents.len(),
            rebalance: distribution.rebalance,
        },
        coverage: Coverage {
            days: sum.days.len(),
            days_with_samples: sum.days.iter().filter(|d| d.source != "missing").count(),
            missing_days: sum.missing_days.clone(),
            samples: sum.samples,
            skipped: sum.skipped.clone(),
        },
        volume,
        thermal,
        evictions,
        distribution,
        cost,
        uptime,
        recommendations,
        unknowns,
    }
}

/// `2026-11-03, 2026-11-04, 2026-11-05, 2026-11-09` → `2026-11-03 to 2026-11-05, 2026-11-09`.
fn compact_dates(dates: &[String]) -> String {
    let parsed: Vec<Option<jiff::civil::Date>> = dates.iter().map(|d| d.parse().ok()).collect();
    let mut out: Vec<String> = Vec::new();
    let mut k = 0;
    while k < dates.len() {
        let mut j = k;
        while j + 1 < dates.len()
            && matches!((parsed[j], parsed[j + 1]), (Some(a), Some(b)) if a.tomorrow().ok() == Some(b))
        {
            j += 1;
        }
        out.push(if j > k { format!("{} to {}", dates[k], dates[j]) } else { dates[k].clone() });
        k = j + 1;
    }
    out.join(", ")
}

fn volume(i: &Inputs<'_>) -> Volume {
    let sum = i.sum;
    let total_tokens: u64 = sum.models.iter().map(|m| m.prompt_tokens + m.completion_tokens).sum();
    let mut models: Vec<ModelVolume> = sum
        .models
        .iter()
        .map(|m| {
            let tokens = m.prompt_tokens + m.completion_tokens;
            ModelVolume {
                model: m.model.clone(),
                requests: m.requests,
                failed: m.failed,
                prompt_tokens: m.prompt_tokens,
                cached_tokens: m.cached_tokens,
                completion_tokens: m.completion_tokens,
                tokens,
                token_share: if total_tokens > 0 { tokens as f64 / total_tokens as f64 } else { 0.0 },
                e2e_p50_ms: m.e2e_p50_ms,
                e2e_p95_ms: m.e2e_p95_ms,
                ttft_p95_ms: m.ttft_p95_ms,
                latency_budget_ms: i.inv.models.iter().find(|x| x.name == m.model).and_then(|x| x.latency_budget_ms),
            }
        })
        .collect();
    models.sort_by(|a, b| b.tokens.cmp(&a.tokens).then_with(|| a.model.cmp(&b.model)));
    let days = sum
        .days
        .iter()
        .map(|d| DayVolume {
            date: d.date.clone(),
            source: d.source.to_string(),
            requests: d.models.iter().map(|m| m.requests).sum(),
            tokens: d.models.iter().map(|m| m.prompt_tokens + m.completion_tokens).sum(),
        })
        .collect();
    let add = |f: fn(&crate::telemetry::summary::TrafficSummary) -> u64| sum.models.iter().map(f).sum::<u64>();
    Volume {
        requests: add(|m| m.requests),
        ok: add(|m| m.ok),
        failed: add(|m| m.failed),
        prompt_tokens: add(|m| m.prompt_tokens),
        cached_tokens: add(|m| m.cached_tokens),
        completion_tokens: add(|m| m.completion_tokens),
        tokens: total_tokens,
        models,
        days,
    }
}

/// How throttling tracks temperature on one node: the onset (the coolest degree with a throttled
/// sample from which at least half the samples were throttled), the share throttled below it, the p95.
fn onset(bins: &[TempBin]) -> (Option<u32>, Option<f64>, Option<u32>) {
    let samples: u64 = bins.iter().map(|b| b.samples).sum();
    if samples == 0 {
        return (None, None, None);
    }
    let rank = (samples as f64 * 0.95).ceil() as u64;
    let mut seen = 0;
    let p95 = bins.iter().find(|b| {
        seen += b.samples;
        seen >= rank
    });
    // The coolest degree with a throttled sample from which at least half of all the samples at
    // or above it were throttled.
    let mut onset = None;
    let (mut above_n, mut above_t) = (0u64, 0u64);
    for b in bins.iter().rev() {
        above_n += b.samples;
        above_t += b.throttled;
        if b.throttled > 0 && above_t * 2 >= above_n {
            onset = Some(b.celsius);
        }
    }
    let below = onset.map(|o| {
        let (n, t) =
            bins.iter().filter(|b| b.celsius < o).fold((0u64, 0u64), |a, b| (a.0 + b.samples, a.1 + b.throttled));
        if n > 0 { t as f64 / n as f64 } else { 0.0 }
    });
    (onset, below, p95.map(|b| b.celsius))
}

fn thermal(sum: &Summary) -> Thermal {
    let nodes = sum
        .nodes
        .iter()
        .map(|n| {
            let (onset, below, p95) = onset(&n.temperatures);
            let share = n.throttled_share.unwrap_or(0.0);
            let (adjust, reasoning) = match (n.samples, n.throttled_samples, onset, p95) {
                (0, _, _, _) => (None, "no samples: its temperatures are not known".to_string()),
                (_, 0, _, _) => (None, "never throttled".to_string()),
                (_, t, None, _) => (
                    None,
                    format!(
                        "throttled in {t} samples ({}) with no temperature above which most samples throttle: throttling here does not track heat (check power settings such as Low Power Mode) so ambient changes will not help",
                        pct(share)
                    ),
                ),
                (_, t, Some(o), p95) if below.unwrap_or(0.0) > 0.25 => (
                    None,
                    format!(
                        "throttled in {t} samples ({}), {} of them below {o} °C: throttling here is mostly not from heat (check power settings), so ambient changes will not help",
                        pct(share),
                        pct(below.unwrap_or(0.0))
                    )
                    .to_string()
                        + &p95.map(|p| format!("; p95 {p} °C")).unwrap_or_default(),
                ),
                (_, t, Some(o), p95) => {
                    let p95 = p95.unwrap_or(o);
                    // Die temperature follows the intake air roughly one for one at the same load:
                    // bring the p95 a degree under the onset.
                    let need = (i64::from(p95) - i64::from(o) + 1).max(1) as i32;
                    (
                        Some(-need),
                        format!(
                            "throttled in {t} samples ({}); throttling sets in at {o} °C (at least half the samples from there up throttle, {} below it); its p95 is {p95} °C, so holding it under {o} °C takes about {need} °C cooler intake air (die temperature follows ambient roughly one for one at the same load)",
                            pct(share),
                            pct(below.unwrap_or(0.0))
                        ),
                    )
                }
            };
            ThermalNode {
                node: n.node.clone(),
                samples: n.samples,
                peak_celsius: n.max_celsius,
                p95_celsius: p95,
                throttled_samples: n.throttled_samples,
                throttled_share: n.throttled_share,
                onset_celsius: onset,
                throttled_below_onset: below,
                ambient_adjust_celsius: adjust,
                reasoning,
            }
        })
        .collect();
    Thermal {
        throttled_share: sum.throttled_share,
        throttled_samples: sum.nodes.iter().map(|n| n.throttled_samples).sum(),
        nodes,
    }
}

fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

fn evictions(i: &Inputs<'_>) -> Evictions {
    // No moves: the month's own evictions only (the plan's are in the distribution section).
    let log: Vec<Eviction> = crate::placement::diff::eviction_log(i.events, i.sum, &[]);
    fn slot<'a>(per: &'a mut BTreeMap<String, ModelEvictions>, m: &str) -> &'a mut ModelEvictions {
        per.entry(m.to_string()).or_insert_with(|| ModelEvictions {
            model: m.to_string(),
            evictions: 0,
            crashes: 0,
            prompt_cache_inferred: 0,
        })
    }
    let mut per: BTreeMap<String, ModelEvictions> = BTreeMap::new();
    let (mut ev, mut cr, mut pc) = (0, 0, 0);
    for e in &log {
        let m = e.model.as_deref().unwrap_or("?");
        match e.kind.as_str() {
            "loader_evicted" => {
                ev += 1;
                slot(&mut per, m).evictions += 1;
            }
            "loader_crashed" => {
                cr += 1;
                slot(&mut per, m).crashes += 1;
            }
            _ => {}
        }
    }
    for n in &i.sum.nodes {
        for (m, c) in &n.prompt_cache_evictions_inferred {
            pc += c;
            slot(&mut per, m).prompt_cache_inferred += c;
        }
    }
    let mut models: Vec<ModelEvictions> = per.into_values().collect();
    models.sort_by(|a, b| {
        (b.evictions + b.crashes, b.prompt_cache_inferred, &a.model).cmp(&(
            a.evictions + a.crashes,
            a.prompt_cache_inferred,
            &b.model,
        ))
    });
    Evictions { loader_evictions: ev, loader_crashes: cr, prompt_cache_evictions_inferred: pc, models, log }
}

fn distribution(i: &Inputs<'_>) -> Distribution {
    let d = i.diff;
    let span = span_secs(i.sum);
    let nodes = i
        .inv
        .nodes
        .iter()
        .map(|n| {
            let models: Vec<String> =
                d.placement.iter().filter(|(_, on)| on.contains(&n.name)).map(|(m, _)| m.clone()).collect();
            let busy: f64 =
                i.sum.backends.iter().filter(|b| b.node.as_deref() == Some(&n.name)).map(|b| b.busy_secs).sum();
            let sampled = i.sum.nodes.iter().any(|x| x.node == n.name && x.samples > 0);
            NodePlacement {
                node: n.name.clone(),
                chip: n.chip.clone(),
                memory_gb: n.memory_gb,
                models,
                busy_share: (sampled && span > 0.0).then(|| busy / span),
            }
        })
        .collect();
    let moves: Vec<String> = d.moves.iter().map(|m| m.why.clone()).collect();
    let reason = if !moves.is_empty() {
        format!("the planner proposes {} move(s), each borne out by a replay of the month's demand", moves.len())
    } else if i.sum.samples == 0 {
        "no telemetry to judge the placement by".to_string()
    } else if !d.rejected.is_empty() {
        format!(
            "the planner's rules called for {} move(s) but the replay of the month's demand did not bear them out",
            d.rejected.len()
        )
    } else {
        "no node is saturated, too hot or short of prompt cache by the planner's thresholds".to_string()
    };
    Distribution { nodes, rebalance: !moves.is_empty(), reason, moves }
}

fn span_secs(sum: &Summary) -> f64 {
    match (sum.from.parse::<jiff::Timestamp>(), sum.to.parse::<jiff::Timestamp>()) {
        (Ok(a), Ok(b)) => b.duration_since(a).as_secs_f64().max(0.0),
        _ => 0.0,
    }
}

const ALLOCATION_RULE: &str = "Each node's cost (its hardware amortised over the month, its even share of the retainer, the energy it measured) goes to the models on it by the larger of the share of its memory they reserve and the share of the month they kept it busy; what no model claims is the node's idle cost, counted in the all-in figure.";

const FRAMING: &str = "No per-token line item: the cluster is a fixed monthly cost (retainer, hardware amortisation, the energy it drew). The figures per million tokens are what its tokens came to, set against what the same tokens would have cost at each API's list price.";

fn cost(i: &Inputs<'_>, unknowns: &mut Vec<String>) -> CostSection {
    let Some(c) = i.cost else {
        let why = "the inventory has no `cost:` section: nothing to price the tokens by".to_string();
        unknowns.push(format!("Cost: {why}."));
        return CostSection {
            not_computed: Some(why),
            total_usd: None,
            idle_usd: None,
            tokens: i.sum.models.iter().map(|m| m.prompt_tokens + m.completion_tokens).sum(),
            all_in_usd_per_mtok: None,
            allocated_usd_per_mtok: None,
            models: vec![],
            apis: vec![],
            inputs: None,
            nodes: vec![],
            framing: FRAMING.into(),
        };
    };
    if !c.inputs.unpriced_nodes.is_empty() {
        unknowns.push(format!(
            "No hardware price for {} (their chip has no `cost.hardware` entry): counted at $0.",
            c.inputs.unpriced_nodes.join(", ")
        ));
    }
    let unmeasured: Vec<&str> = c.nodes.iter().filter(|n| n.energy_usd.is_none()).map(|n| n.node.as_str()).collect();
    if !unmeasured.is_empty() {
        unknowns.push(format!(
            "No measured energy for {} (no power readings, or no `usd_per_kwh`): their energy is left out of the cost.",
            unmeasured.join(", ")
        ));
    }
    let apis_known = i.inv.cost.as_ref().is_some_and(|c| !c.api_prices.is_empty());
    if !apis_known {
        unknowns.push("No API prices (`cost.api_prices`): no savings can be shown.".into());
    }
    let models: Vec<ModelCost> = c
        .models
        .iter()
        .map(|m| ModelCost {
            model: m.model.clone(),
            usd: m.before.usd,
            tokens: m.before.tokens.total(),
            usd_per_mtok: m.before.usd_per_mtok,
            vs_api: m.before.vs_api.clone(),
        })
        .collect();
    // The month's tokens at each API's prices: against the cluster's whole cost when the API
    // stands in for every model, else against what its models were allocated.
    let mut apis: Vec<ApiSaving> = Vec::new();
    for p in i.inv.cost.iter().flat_map(|c| &c.api_prices) {
        let covered: Vec<&crate::placement::cost_diff::ModelRow> =
            c.models.iter().filter(|m| p.covers(&m.model)).collect();
        let api_usd: f64 =
            covered.iter().flat_map(|m| &m.before.vs_api).filter(|a| a.api == p.name).map(|a| a.api_usd).sum();
        let tokens: u64 = covered.iter().map(|m| m.before.tokens.total()).sum();
        let all = covered.len() == c.models.len();
        let ours = if all { c.before.total_usd } else { covered.iter().map(|m| m.before.usd).sum() };
        apis.push(ApiSaving {
            api: p.name.clone(),
            models: covered.iter().map(|m| m.model.clone()).collect(),
            compared_with: if all {
                "the cluster's whole cost, idle time included".into()
            } else {
                "the cost allocated to the models it stands in for".into()
            },
            api_usd,
            api_usd_per_mtok: (tokens > 0).then(|| api_usd / tokens as f64 * 1e6),
            savings_pct: (api_usd > 0.0).then(|| (1.0 - ours / api_usd) * 100.0),
            cached_price_known: p.cached_input_usd_per_mtok.is_some(),
        });
    }
    if apis_known {
        let unpriced: Vec<&str> = c
            .models
            .iter()
            .filter(|m| !i.inv.cost.iter().flat_map(|c| &c.api_prices).any(|p| p.covers(&m.model)))
            .map(|m| m.model.as_str())
            .collect();
        if !unpriced.is_empty() {
            unknowns.push(format!(
                "No API price stands in for {}: no savings are shown for {}.",
                unpriced.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "),
                if unpriced.len() == 1 { "it" } else { "them" }
            ));
        }
    }
    CostSection {
        not_computed: None,
        total_usd: Some(c.before.total_usd),
        idle_usd: Some(c.before.idle_usd),
        tokens: c.before.tokens,
        all_in_usd_per_mtok: c.before.all_in_usd_per_mtok,
        allocated_usd_per_mtok: c.before.allocated_usd_per_mtok,
        models,
        apis,
        inputs: Some(crate::placement::cost_diff::Inputs { allocation_rule: ALLOCATION_RULE, ..c.inputs.clone() }),
        nodes: c.nodes.clone(),
        framing: FRAMING.into(),
    }
}

fn minutes(secs: f64) -> String {
    if secs >= 5400.0 { format!("{:.1} h", secs / 3600.0) } else { format!("{:.0} min", (secs / 60.0).max(1.0)) }
}

fn uptime(i: &Inputs<'_>, unknowns: &mut Vec<String>) -> UptimeSection {
    let sum = i.sum;
    let span = span_secs(sum);
    let from = sum.from.parse::<jiff::Timestamp>().ok();
    let mut nodes = Vec::new();
    for n in &sum.nodes {
        if n.samples == 0 {
            unknowns.push(format!("Node {} sent no sample all month: its uptime is unknown, not 0.", n.node));
            nodes.push(NodeUptime {
                node: n.node.clone(),
                uptime: None,
                down_secs: 0.0,
                measured_from: None,
                note: Some("no sample all month".into()),
            });
            continue;
        }
        // A node whose samples begin with a gap from the month's start (no sample for two
        // intervals or more, by its own windows) joined then: its uptime counts from its first
        // sample's window, and the report says so.
        let ts = |s: &str| s.parse::<jiff::Timestamp>().ok();
        let late = sum
            .gaps
            .iter()
            .find(|g| {
                g.node == n.node
                    && matches!((ts(&g.from), from), (Some(a), Some(b)) if a.duration_since(b).as_secs_f64().abs() < 1.0)
            })
            .map_or(0.0, |g| g.secs);
        if late > 0.0 && span > late {
            let in_service = span - late;
            let down = (n.down_secs - late).max(0.0);
            let note = format!(
                "first sample {}: measured from then (garnet has no record of it before)",
                n.first_sample.as_deref().unwrap_or("?")
            );
            nodes.push(NodeUptime {
                node: n.node.clone(),
                uptime: Some((1.0 - down / in_service).clamp(0.0, 1.0)),
                down_secs: down,
                measured_from: n.first_sample.clone(),
                note: Some(note),
            });
        } else {
            nodes.push(NodeUptime {
                node: n.node.clone(),
                uptime: Some(n.uptime),
                down_secs: n.down_secs,
                measured_from: Some(sum.from.clone()),
                note: None,
            });
        }
    }
    let known: Vec<f64> = nodes.iter().filter_map(|n| n.uptime).collect();
    let cluster = (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64);
    UptimeSection { cluster, incidents: incidents(i, &nodes), nodes }
}

/// Incidents with cause and fix: loader exits and outages (events), node gaps (telemetry), and
/// the operator's actions (audit), in time order.
fn incidents(i: &Inputs<'_>, nodes: &[NodeUptime]) -> Vec<Incident> {
    let mut out = Vec::new();
    let str_of = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or("").to_string();
    let mut events: Vec<&serde_json::Value> = i.events.iter().collect();
    events.sort_by(|a, b| a["at"].as_str().cmp(&b["at"].as_str()));
    for (k, e) in events.iter().enumerate() {
        let kind = str_of(e, "kind");
        let (node, model, at) = (str_of(e, "node"), str_of(e, "model"), str_of(e, "at"));
        let cause = match kind.as_str() {
            "loader_evicted" | "loader_crashed" => {
                format!("`{model}` {}", crate::placement::diff::exit_detail(e))
            }
            "loader_down" => format!("`{model}` stopped answering its health check"),
            _ => continue,
        };
        // The fix: the loader answering again on that node (its supervisor restarted it).
        let back = events[k + 1..]
            .iter()
            .find(|x| x["kind"] == "loader_up" && x["node"] == e["node"] && x["model"] == e["model"]);
        let fix = match back.and_then(|b| b["at"].as_str()) {
            Some(t) => {
                let secs = match (at.parse::<jiff::Timestamp>(), t.parse::<jiff::Timestamp>()) {
                    (Ok(a), Ok(b)) => b.duration_since(a).as_secs_f64(),
                    _ => 0.0,
                };
                format!("its supervisor restarted it; answering again at {t} ({} later)", minutes(secs))
            }
            None => "no sign in the month's events that it answered again".to_string(),
        };
        out.push(Incident { at, node, kind, cause, fix });
    }
    for g in &i.sum.gaps {
        // A node that joined late: its time before its first sample is not an outage.
        let joined = nodes
            .iter()
            .find(|n| n.node == g.node && n.note.is_some())
            .and_then(|n| n.measured_from.as_deref()?.parse::<jiff::Timestamp>().ok());
        if joined.zip(g.to.parse::<jiff::Timestamp>().ok()).is_some_and(|(j, to)| to <= j) {
            continue;
        }
        out.push(Incident {
            at: g.from.clone(),
            node: g.node.clone(),
            kind: "node_gap".into(),
            cause: format!(
                "no samples for {} (the node was down or unreachable, or its monitor stopped)",
                minutes(g.secs)
            ),
            fix: if g.to == i.sum.to {
                "still without samples at the month's end".to_string()
            } else {
                format!("sampling resumed at {}", g.to)
            },
        });
    }
    for a in i.audit {
        let command = str_of(a, "command");
        let name = command.split_whitespace().nth(1).unwrap_or("");
        if !matches!(name, "hot-swap" | "rollback" | "placement" | "deploy" | "offboard" | "keys") {
            continue;
        }
        let nodes: Vec<&str> = a["nodes"].as_array().into_iter().flatten().filter_map(|n| n.as_str()).collect();
        let message = a["message"].as_str().map(|m| format!(": \"{m}\"")).unwrap_or_default();
        let exit = a["exit_code"].as_u64().unwrap_or(0);
        out.push(Incident {
            at: str_of(a, "started_at"),
            node: if nodes.is_empty() { "-".into() } else { nodes.join(", ") },
            kind: "operator".into(),
            cause: format!("{} ran `{command}`{message}", str_of(a, "user")),
            fix: if exit == 0 { "completed".into() } else { format!("exited with code {exit}") },
        });
    }
    out.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.node.cmp(&b.node)));
    out
}

fn recommendations(i: &Inputs<'_>, thermal: &Thermal, dist: &Distribution) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let sum = i.sum;
    let span = span_secs(sum);
    for m in &i.diff.moves {
        let kind = match m.change {
            Move::PromptCache { .. } => "prompt cache",
            Move::OwnNode { .. } | Move::OffHotNode { .. } => "placement",
        };
        let evidence = m
            .evidence
            .iter()
            .map(|e| format!("{} = {} (threshold {}, {} samples)", e.metric, num(e.value), num(e.threshold), e.samples))
            .collect::<Vec<_>>()
            .join("; ");
        out.push(Recommendation { kind: kind.into(), text: m.why.clone(), evidence });
    }
    // Capacity: a model whose slots were busy past the threshold, or whose p95 broke its budget.
    for t in &sum.models {
        let Some(spec) = i.inv.models.iter().find(|x| x.name == t.model) else { continue };
        let nodes = i.diff.placement.get(&t.model).map_or(0, |n| n.len());
        if nodes == 0 || span <= 0.0 {
            continue;
        }
        let slots = nodes as f64 * f64::from(spec.max_concurrency.max(1));
        let util = t.busy_secs / (span * slots);
        let over_budget = matches!((t.e2e_p95_ms, spec.latency_budget_ms), (Some(p), Some(b)) if p > f64::from(b));
        if util >= CAPACITY_UTILISATION || over_budget {
            let chip = i.diff.placement[&t.model].iter().find_map(|n| i.inv.node(n).and_then(|n| n.chip.clone()));
            let price = chip.as_ref().and_then(|c| {
                i.inv.cost.as_ref()?.hardware.get(c).map(|h| (c.clone(), h.price_usd, h.amortization_months))
            });
            let cost = price.map_or(String::new(), |(c, p, m)| {
                format!(" (one more {c}: ${p:.0}, ${:.0} a month over {m} months)", p / f64::from(m.max(1)))
            });
            out.push(Recommendation {
                kind: "capacity".into(),
                text: format!(
                    "Add a node for `{}`{cost}: its {} slot(s) on {} were busy {} of the month{}.",
                    t.model,
                    slots as u64,
                    i.diff.placement[&t.model].join(", "),
                    pct(util),
                    if over_budget { " and its e2e p95 broke its latency budget" } else { "" }
                ),
                evidence: format!(
                    "utilisation {} (threshold {}); e2e p95 {} against a budget of {}; queue-wait p95 {}",
                    pct(util),
                    pct(CAPACITY_UTILISATION),
                    ms(t.e2e_p95_ms),
                    spec.latency_budget_ms.map_or("none".into(), |b| format!("{b} ms")),
                    ms(t.queue_wait_p95_ms)
                ),
            });
        }
    }
    // Retirements: nodes that served nothing busy, models no one asked for.
    for n in &dist.nodes {
        if let Some(b) = n.busy_share
            && b < IDLE_BUSY
        {
            out.push(Recommendation {
                kind: "retirement".into(),
                text: if n.models.is_empty() {
                    format!("Node {} serves no model: retire it or give it one.", n.node)
                } else {
                    format!(
                        "Node {} was busy {} of the month: consolidate its models ({}) elsewhere and retire it.",
                        n.node,
                        pct(b),
                        n.models.join(", ")
                    )
                },
                evidence: format!("busy share {} (threshold {})", pct(b), pct(IDLE_BUSY)),
            });
        }
    }
    for (model, on) in &i.diff.placement {
        let requests = sum.models.iter().find(|m| &m.model == model).map_or(0, |m| m.requests);
        if requests == 0 && sum.samples > 0 && !on.is_empty() {
            out.push(Recommendation {
                kind: "retirement".into(),
                text: format!("`{model}` had no requests all month: unload it from {} to free memory.", on.join(", ")),
                evidence: "0 requests in the month's samples".into(),
            });
        }
    }
    for t in &thermal.nodes {
        if let Some(a) = t.ambient_adjust_celsius {
            out.push(Recommendation {
                kind: "thermal".into(),
                text: format!("Cool node {} by about {} °C at the intake (or improve its airflow).", t.node, -a),
                evidence: t.reasoning.clone(),
            });
        }
    }
    out
}

fn num(v: f64) -> String {
    if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.3}") }
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.0} ms"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin(celsius: u32, samples: u64, throttled: u64) -> TempBin {
        TempBin { celsius, samples, throttled }
    }

    #[test]
    fn throttling_onset_tracks_temperature() {
        // 90 samples at 70–79 °C never throttled; from 88 °C up all throttled.
        let bins: Vec<TempBin> = (70..80).map(|c| bin(c, 9, 0)).chain((88..93).map(|c| bin(c, 2, 2))).collect();
        let (at, below, p95) = onset(&bins);
        assert_eq!(at, Some(88));
        assert_eq!(below, Some(0.0));
        // 100 samples: the 95th is the 5th of the 10 hot ones, at 90 °C.
        assert_eq!(p95, Some(90));
        // Throttled at every temperature alike: no onset.
        let flat: Vec<TempBin> = (60..70).map(|c| bin(c, 10, 1)).collect();
        assert_eq!(onset(&flat).0, None);
        assert_eq!(onset(&[]), (None, None, None));
    }

    #[test]
    fn dates_are_compacted_into_runs() {
        let d = |s: &[&str]| compact_dates(&s.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            d(&["2026-11-03", "2026-11-04", "2026-11-05", "2026-11-09"]),
            "2026-11-03 to 2026-11-05, 2026-11-09"
        );
        assert_eq!(d(&["2026-11-30", "2026-12-01"]), "2026-11-30 to 2026-12-01");
        assert_eq!(d(&[]), "");
    }
}
