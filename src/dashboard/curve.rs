//! The cost-per-million-tokens curve: per bucket of the span's series (an hour, or a day summed
//! from its hours) what the cluster cost over the time the bucket covers, split over the models
//! by the same rule as the weekly cost diff and the monthly report
//! ([`crate::report::cost::allocate`]: the larger of memory reserved and busy share, idle apart),
//! over the tokens served in it; beside what the same tokens would have cost at each API. Pure.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::inventory::Inventory;
use crate::report::cost::{self, Use};
use crate::telemetry::summary::Bucket;

/// One point of the curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// The bucket's start (RFC 3339, UTC).
    pub start: String,
    /// Seconds of the bucket the cost counts (from the first sample, up to now).
    pub secs: f64,
    /// The cluster's cost over those seconds (fixed + measured energy).
    pub usd: f64,
    pub tokens: u64,
    /// All of the cluster's cost (idle included) over all tokens; `None` with no token.
    pub all_in_usd_per_mtok: Option<f64>,
    /// model → its allocated cost over its tokens (`None`: no token of it in the bucket).
    pub models: BTreeMap<String, Option<f64>>,
    /// API → what the bucket's tokens of the models it stands in for would cost there, per million.
    pub apis: BTreeMap<String, Option<f64>>,
}

/// The curve: points per bucket, oldest first (buckets with no sample are absent: a gap).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    /// `hour` or `day`.
    pub by: &'static str,
    pub points: Vec<Point>,
    /// Why there is no curve (no `cost:` section), when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_computed: Option<String>,
}

/// Hourly buckets summed into UTC days.
pub fn days(hours: &[Bucket]) -> Vec<Bucket> {
    let mut out: Vec<Bucket> = Vec::new();
    for h in hours {
        let day = h.start_us.div_euclid(86_400_000_000) * 86_400_000_000;
        if out.last().is_none_or(|d| d.start_us != day) {
            out.push(Bucket { start_us: day, secs: 86_400.0, nodes: BTreeMap::new(), backends: BTreeMap::new() });
        }
        let d = out.last_mut().expect("pushed");
        for (n, u) in &h.nodes {
            d.nodes.entry(n.clone()).or_default().add(u);
        }
        for (k, u) in &h.backends {
            d.backends.entry(k.clone()).or_default().add(u);
        }
    }
    out
}

/// The curve over `buckets`: each bucket's cost counts from `first_us` (the first sample's window
/// start) to `now_us`, so neither the first nor the current bucket is charged for time before
/// the cluster was measured or still to come.
pub fn curve(
    inv: &Inventory,
    buckets: &[Bucket],
    by: &'static str,
    memory_share: &dyn Fn(&str, &str) -> Option<f64>,
    first_us: i64,
    now_us: i64,
) -> Curve {
    let Some(c) = inv.cost.as_ref() else {
        return Curve {
            by,
            points: Vec::new(),
            not_computed: Some("the inventory has no `cost:` section: nothing to price the tokens by".into()),
        };
    };
    let mut points = Vec::new();
    for b in buckets {
        let end = b.start_us + (b.secs * 1e6) as i64;
        let secs = ((end.min(now_us) - b.start_us.max(first_us)) as f64 / 1e6).max(0.0);
        if secs <= 0.0 {
            continue;
        }
        let energy: Vec<(String, u64, f64, u64)> =
            b.nodes.iter().map(|(n, u)| (n.clone(), u.samples, u.energy_joules, u.energy_samples)).collect();
        let Some(nodes) = cost::node_costs(inv, &energy, secs) else { continue };
        let mut uses: BTreeMap<String, BTreeMap<String, Use>> = BTreeMap::new();
        for (model, p) in &inv.placement {
            for node in &p.nodes {
                let busy: f64 = b.backends.get(&(model.clone(), node.clone())).map_or(0.0, |u| u.busy_secs);
                uses.entry(node.clone())
                    .or_default()
                    .insert(model.clone(), Use { busy_share: busy / secs, memory_share: memory_share(model, node) });
            }
        }
        let a = cost::allocate(&nodes, &uses);
        let mut tokens: BTreeMap<&str, cost::Tokens> = BTreeMap::new();
        for ((model, _), u) in &b.backends {
            let t = tokens.entry(model.as_str()).or_default();
            t.uncached_input += u.prompt_tokens.saturating_sub(u.cached_tokens);
            t.cached_input += u.cached_tokens;
            t.output += u.completion_tokens;
        }
        let total: u64 = tokens.values().map(cost::Tokens::total).sum();
        let per_m = |usd: f64, n: u64| (n > 0).then(|| usd / n as f64 * 1e6);
        let mut models: BTreeMap<String, Option<f64>> = BTreeMap::new();
        for m in inv.placement.keys().map(String::as_str).chain(tokens.keys().copied()) {
            let n = tokens.get(m).map_or(0, cost::Tokens::total);
            models.insert(m.to_string(), per_m(a.model_usd(m), n));
        }
        // What each API would charge for the tokens of the models it stands in for (the same
        // arithmetic as the cost diff's and the report's comparison, model by model).
        let mut at_api: BTreeMap<String, (f64, u64)> =
            c.api_prices.iter().map(|p| (p.name.clone(), (0.0, 0))).collect();
        for (m, t) in &tokens {
            for a in cost::per_token(inv, m, 0.0, *t, None).vs_api {
                let e = at_api.entry(a.api).or_default();
                e.0 += a.api_usd;
                e.1 += t.total();
            }
        }
        let apis = at_api.into_iter().map(|(name, (usd, n))| (name, per_m(usd, n))).collect();
        points.push(Point {
            start: jiff::Timestamp::from_microsecond(b.start_us).map(|t| t.to_string()).unwrap_or_default(),
            secs,
            usd: a.total_usd,
            tokens: total,
            all_in_usd_per_mtok: per_m(a.total_usd, total),
            models,
            apis,
        });
    }
    Curve { by, points, not_computed: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::summary::{BackendUse, NodeUse};

    fn example() -> Inventory {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/inventory.example.yaml");
        Inventory::from_str(std::path::Path::new(path), &std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn bucket(start_us: i64, node: &str, model: &str, tokens: u64, busy: f64) -> Bucket {
        Bucket {
            start_us,
            secs: 3600.0,
            nodes: [(node.to_string(), NodeUse { samples: 60, energy_joules: 0.0, energy_samples: 0 })].into(),
            backends: [(
                (model.to_string(), node.to_string()),
                BackendUse {
                    requests: 10,
                    prompt_tokens: tokens,
                    cached_tokens: 0,
                    completion_tokens: 0,
                    busy_secs: busy,
                },
            )]
            .into(),
        }
    }

    /// The all-in point is the cluster's fixed cost over the seconds counted, over the tokens; the
    /// first bucket counts from the first sample, the last up to now; days sum their hours.
    #[test]
    fn points_charge_only_the_measured_time() {
        let inv = example();
        let model = inv.placement.keys().next().unwrap().clone();
        let node = inv.placement[&model].nodes[0].clone();
        let h = 3_600_000_000i64;
        let day0 = 1_700_006_400_000_000i64 / 86_400_000_000 * 86_400_000_000;
        let hours = [bucket(day0, &node, &model, 1_000_000, 60.0), bucket(day0 + h, &node, &model, 2_000_000, 60.0)];
        let first = day0 + h / 2;
        let now = day0 + h + h / 4;
        let c = curve(&inv, &hours, "hour", &|_, _| None, first, now);
        let fixed_per_sec = cost::rate(&inv, None).unwrap().usd_per_sec();
        assert_eq!(c.points.len(), 2);
        assert_eq!((c.points[0].secs, c.points[1].secs), (1800.0, 900.0));
        for (p, tokens) in c.points.iter().zip([1e6, 2e6]) {
            let want = fixed_per_sec * p.secs / tokens * 1e6;
            assert!((p.all_in_usd_per_mtok.unwrap() - want).abs() < 1e-9 * want, "{p:?} vs {want}");
        }
        let d = days(&hours);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].backends.values().map(|u| u.prompt_tokens).sum::<u64>(), 3_000_000);
        let c = curve(&inv, &d, "day", &|_, _| None, first, now);
        let want = fixed_per_sec * 2700.0 / 3e6 * 1e6;
        assert!((c.points[0].all_in_usd_per_mtok.unwrap() - want).abs() < 1e-9 * want);
        // An API the example prices stands beside it.
        assert!(c.points[0].apis.values().any(Option::is_some), "{:?}", c.points[0]);
    }
}
