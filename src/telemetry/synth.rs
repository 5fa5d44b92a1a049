//! Synthetic telemetry: a cluster's month (or any number of days) of per-minute samples with
//! realistic shapes, for benchmarks (`bench/telemetry.sh`), the report, the planner and the
//! dashboard to run on without a rack. Deterministic: the same spec gives the same samples.
//!
//! The story it tells (so tests can look for it):
//! - node `i` serves models `MODELS[i % 4]` and `MODELS[(i + 1) % 4]`; the first node runs the
//!   router, so its samples carry every backend's traffic (`backends[]`) and the per-model sums;
//! - demand follows the day (a trough at 04:00 UTC, a peak at 16:00) and is lower at weekends;
//!   the first model is the busiest;
//! - the third node runs hot: throttled in about 5% of its samples (others: about 0.2%);
//! - the seventh node is down 02:00–05:00 on the twelfth day (no samples);
//! - the last node joins halfway through (no samples before).

use super::sketch::Sketch;
use super::{BackendStats, Memory, ModelStats, Power, Sample, Thermal};

/// Prompt-cache entries of a synthetic loader (`mlx_lm.server`'s default).
const PROMPT_CACHE_ENTRIES: u64 = 10;

/// The models synthetic nodes serve, busiest first, with their peak requests per minute per
/// backend, mean completion tokens and time per output token (seconds).
pub const MODELS: [(&str, f64, f64, f64); 4] = [
    ("llama-3.1-8b-instruct", 14.0, 260.0, 0.022),
    ("qwen2.5-coder-7b", 8.0, 380.0, 0.020),
    ("mistral-small-24b", 5.0, 300.0, 0.048),
    ("phi-4-mini", 3.0, 120.0, 0.012),
];

#[derive(Debug, Clone)]
pub struct Spec {
    pub cluster: String,
    pub nodes: usize,
    pub start: jiff::civil::Date,
    pub days: u32,
    pub interval_secs: u32,
    pub seed: u64,
    pub scenario: Scenario,
    /// Another cluster's nodes, models and placement (`--like INVENTORY`); `None`: the synthetic
    /// rack's (`node-001` …, [`MODELS`], two models per node).
    pub layout: Option<Layout>,
}

/// Which nodes serve which models, when synthesising days for a real inventory.
#[derive(Debug, Clone)]
pub struct Layout {
    pub nodes: Vec<String>,
    pub models: Vec<String>,
    /// Per node, the models (indexes into `models`) it serves.
    pub serves: Vec<Vec<usize>>,
    /// The node whose router carries every backend.
    pub router: usize,
}

impl Layout {
    /// The inventory's nodes, models and placement (models without a placement left out).
    pub fn of(inv: &crate::inventory::Inventory) -> Layout {
        let nodes: Vec<String> = inv.nodes.iter().map(|n| n.name.clone()).collect();
        let models: Vec<String> = inv.placement.keys().cloned().collect();
        let serves = nodes
            .iter()
            .map(|n| {
                models.iter().enumerate().filter(|(_, m)| inv.placement[*m].nodes.contains(n)).map(|(k, _)| k).collect()
            })
            .collect();
        let router = inv.nodes.iter().position(|n| n.roles.iter().any(|r| r == "router")).unwrap_or(0);
        Layout { nodes, models, serves, router }
    }
}

impl Spec {
    fn node(&self, i: usize) -> String {
        match &self.layout {
            Some(l) => l.nodes[i].clone(),
            None => node_name(i),
        }
    }

    fn serves(&self, i: usize) -> Vec<usize> {
        match &self.layout {
            Some(l) => l.serves[i].clone(),
            None => models_of(i).to_vec(),
        }
    }

    /// Model `k`'s name and shape (a real inventory's models take the synthetic shapes in turn).
    fn model(&self, k: usize) -> (String, f64, f64, f64) {
        let (name, peak, tokens, tpot) = MODELS[k % MODELS.len()];
        match &self.layout {
            Some(l) => (l.models[k].clone(), peak, tokens, tpot),
            None => (name.to_string(), peak, tokens, tpot),
        }
    }

    fn router(&self) -> usize {
        self.layout.as_ref().map_or(0, |l| l.router)
    }
}

/// Degrees the hot node runs over the others, and the temperature from which it throttles.
const HOT_EXTRA: f64 = 24.0;
const HOT_ONSET: f64 = 95.5;

/// What the synthetic rack shows beyond its everyday shape: each the telemetry one rule of the
/// placement diff looks for, and only that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// The third node runs hot (throttled in ~5% of its samples).
    Story,
    /// Nothing to move.
    Balanced,
    /// The busiest model is saturated on its nodes (demand ×2.2, long queues).
    Busy,
    /// The third model gets long prompts that its prompt cache hardly reuses (its loaders log a
    /// full cache evicting an entry per request).
    ColdCache,
}

/// The name of node `i` (0-based): `node-001` …
pub fn node_name(i: usize) -> String {
    format!("node-{:03}", i + 1)
}

/// splitmix64: small, fast, good enough for shapes (not for secrets).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1).
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Exponential with mean `m`.
    fn exp(&mut self, m: f64) -> f64 {
        -m * self.unit().ln()
    }
    /// Poisson with mean `l` (inversion; `l` is small here).
    fn poisson(&mut self, l: f64) -> u64 {
        if l > 60.0 {
            return (l + l.sqrt() * (self.unit() - 0.5) * 3.46).max(0.0).round() as u64;
        }
        let (limit, mut p, mut k) = ((-l).exp(), 1.0, 0);
        loop {
            p *= self.unit();
            if p <= limit {
                return k;
            }
            k += 1;
        }
    }
}

/// The demand multiplier at `minute` of the day on `weekday` (0 = Monday): 0.25 … 1.
fn diurnal(minute: u32, weekend: bool) -> f64 {
    let h = f64::from(minute) / 60.0;
    let x = ((h - 4.0) / 24.0 * std::f64::consts::PI).sin();
    let d = 0.25 + 0.75 * x * x;
    if weekend { d * 0.6 } else { d }
}

/// Whether node `i` has a sample at `minute` of day `d` (0-based day of the span).
fn present(spec: &Spec, i: usize, d: u32, minute: u32) -> bool {
    if spec.nodes >= 4 && i == spec.nodes - 1 && d < spec.days / 2 {
        return false;
    }
    !(i == 6 && d == 11 && (120..300).contains(&minute))
}

/// An inventory of the synthetic rack (nodes, models, placement), its store the folder `store`.
pub fn inventory_yaml(spec: &Spec, store: &std::path::Path) -> String {
    let mut s = format!(
        "# A synthetic rack, written by `garnet telemetry synth`: its telemetry is in the store below.\n\
         cluster: {{slug: {}, tier: pro}}\n\
         defaults: {{transport: local}}\n\
         monitor: {{interval_secs: {}}}\n\
         router: {{listen: \"127.0.0.1:4000\", admin_listen: \"127.0.0.1:4001\"}}\n\
         store: {{kind: local, path: {}}}\n\
         nodes:\n",
        spec.cluster,
        spec.interval_secs,
        store.display()
    );
    for i in 0..spec.nodes {
        let roles = if i == 0 { "[router, loader]" } else { "[loader]" };
        s.push_str(&format!("  - {{name: {}, chip: M2 Ultra, memory_gb: 192, roles: {roles}}}\n", node_name(i)));
    }
    s.push_str("models:\n");
    for (k, (m, ..)) in MODELS.iter().enumerate() {
        s.push_str(&format!("  - {{name: {m}, source: mlx-community/{m}, port: {}}}\n", 8100 + k));
    }
    s.push_str("placement:\n");
    for (k, (m, ..)) in MODELS.iter().enumerate() {
        let nodes: Vec<String> = (0..spec.nodes).filter(|i| models_of(*i).contains(&k)).map(node_name).collect();
        if !nodes.is_empty() {
            s.push_str(&format!("  {m}: {{nodes: [{}]}}\n", nodes.join(", ")));
        }
    }
    // What the rack costs, and what it is compared with (list prices, per million tokens).
    s.push_str(
        "cost:\n  retainer_usd_month: 2500\n  usd_per_kwh: 0.21\n  hardware:\n    M2 Ultra: {price_usd: 6599, amortization_months: 36}\n  api_prices:\n    - {name: gpt-4o-mini, input_usd_per_mtok: 0.15, cached_input_usd_per_mtok: 0.075, output_usd_per_mtok: 0.60}\n    - {name: gpt-4o, input_usd_per_mtok: 2.50, cached_input_usd_per_mtok: 1.25, output_usd_per_mtok: 10.00}\n",
    );
    s
}

/// The models node `i` serves.
pub fn models_of(i: usize) -> [usize; 2] {
    [i % MODELS.len(), (i + 1) % MODELS.len()]
}

/// Day `d` (0-based) of the spec: every node's samples, sorted by node then time.
pub fn day(spec: &Spec, d: u32) -> Vec<Sample> {
    let date = spec.start.checked_add(jiff::Span::new().days(i64::from(d))).expect("date in range");
    let weekend = matches!(date.weekday(), jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday);
    let midnight = date.to_zoned(jiff::tz::TimeZone::UTC).expect("UTC date").timestamp();
    let per_day = 86_400 / spec.interval_secs.max(1);
    let w = f64::from(spec.interval_secs);
    let mut out = Vec::with_capacity(spec.nodes * per_day as usize);
    // The router node's backends, built while walking every node's minute.
    let mut router: Vec<Vec<BackendStats>> = vec![Vec::new(); per_day as usize];
    for i in 0..spec.nodes {
        let mut rng = Rng(spec.seed ^ (u64::from(d) << 32) ^ (i as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
        let name = spec.node(i);
        let hot = spec.scenario == Scenario::Story && i == 2;
        for m in 0..per_day {
            let minute = m * spec.interval_secs / 60;
            // A second before the interval's end, so that every sample of the day is keyed to it.
            let at = midnight + jiff::SignedDuration::from_secs(i64::from((m + 1) * spec.interval_secs - 1));
            let load = diurnal(minute, weekend);
            let up = present(spec, i, d, minute);
            let mut node_busy = 0.0;
            let mut loaders = Vec::new();
            for k in spec.serves(i) {
                let (model, peak, tokens, tpot) = spec.model(k);
                let model = model.as_str();
                if !up {
                    continue;
                }
                let swamped = spec.scenario == Scenario::Busy && k == 0;
                let cold = spec.scenario == Scenario::ColdCache && k == 2;
                let n = rng.poisson(peak * load * w / 60.0 * if swamped { 2.2 } else { 1.0 });
                let mut b = BackendStats {
                    backend: format!("{name}/{model}"),
                    node: Some(name.clone()),
                    model: model.to_string(),
                    ..Default::default()
                };
                let (mut e2e, mut ttft, mut itl, mut queue) =
                    (Sketch::default(), Sketch::default(), Sketch::default(), Sketch::default());
                let mut busy = 0.0;
                for _ in 0..n {
                    let prompt = if cold {
                        3_000 + (rng.exp(4_000.0) as u64).min(28_000)
                    } else {
                        200 + (rng.exp(900.0) as u64).min(16_000)
                    };
                    let completion = 10 + (rng.exp(tokens) as u64).min(4_000);
                    let cached = (prompt as f64 * rng.unit() * if cold { 0.1 } else { 0.7 }) as u64;
                    let q = if swamped {
                        if rng.unit() < load { rng.exp(4.0 * load) } else { 0.0 }
                    } else if rng.unit() < load * 0.3 {
                        rng.exp(0.15 * load)
                    } else {
                        0.0
                    };
                    let first = q + 0.04 + (prompt - cached) as f64 * tpot * 0.012 * (1.0 + rng.unit() * 0.2);
                    let per_token = tpot * (0.9 + rng.unit() * 0.25) * if hot { 1.15 } else { 1.0 };
                    let total = first + completion as f64 * per_token;
                    e2e.add(total);
                    ttft.add(first);
                    itl.add(per_token);
                    queue.add(q);
                    busy += total - q;
                    b.prompt_tokens += prompt;
                    b.cached_tokens += cached;
                    b.completion_tokens += completion;
                }
                // A failure now and then, a client leaving, a cut stream.
                let failed = u64::from(n > 0 && rng.unit() < 0.004);
                let gone = u64::from(n > failed && rng.unit() < 0.01);
                // The cold scenario's loaders log a full prompt cache; the cold model's misses each
                // evict an entry (what the monitor infers from the logged count).
                if spec.scenario == Scenario::ColdCache {
                    loaders.push(super::loaders::LoaderStats {
                        model: model.to_string(),
                        service: format!("garnet-loader-{model}"),
                        prompt_cache_sequences: Some(PROMPT_CACHE_ENTRIES),
                        prompt_cache_evictions_inferred: Some(if cold { n } else { 0 }),
                        ..Default::default()
                    });
                }
                b.requests = n;
                b.failed = failed;
                b.client_gone = gone;
                b.ok = n - failed - gone;
                b.busy_secs = (busy * 0.8).min(w);
                b.utilization = Some(((b.busy_secs / w) * 1000.0).round() / 1000.0);
                node_busy += b.busy_secs / w;
                if n > 0 {
                    (b.e2e, b.ttft, b.itl, b.queue_wait) = (Some(e2e), Some(ttft), Some(itl), Some(queue));
                }
                router[m as usize].push(b);
            }
            if !up {
                continue;
            }
            let heat =
                46.0 + 14.0 * load + 10.0 * node_busy.min(1.0) + rng.unit() * 3.0 + if hot { HOT_EXTRA } else { 0.0 };
            // The hot node throttles when it is hottest (as Apple silicon does past its limit);
            // the others now and then whatever their temperature (a power setting, say).
            let throttled = if hot { heat >= HOT_ONSET } else { rng.unit() < 0.002 };
            let watts = 45.0 + 160.0 * node_busy.min(1.2) + rng.unit() * 8.0;
            let total = 192u64 << 30;
            let used = (118u64 << 30) + (rng.unit() * f64::from(8u32 << 20) * 1024.0) as u64;
            out.push(Sample {
                schema_version: super::SCHEMA_VERSION,
                cluster: spec.cluster.clone(),
                node: name.clone(),
                at: at.to_string(),
                window_secs: spec.interval_secs,
                memory: Memory {
                    total_bytes: Some(total),
                    used_bytes: Some(used),
                    free_bytes: Some(total - used),
                    swap_used_bytes: Some(0),
                    pressure: Some("normal".into()),
                    ..Default::default()
                },
                thermal: Thermal {
                    max_celsius: Some((heat * 10.0).round() / 10.0),
                    pressure: Some(if throttled { "throttled" } else { "nominal" }.into()),
                    cpu_speed_limit: Some(if throttled { 78 } else { 100 }),
                    ..Default::default()
                },
                power: Some(Power {
                    package_watts: Some((watts * 0.8 * 10.0).round() / 10.0),
                    system_watts: Some((watts * 10.0).round() / 10.0),
                    energy_joules: Some((watts * w).round()),
                    source: Some("soc".into()),
                }),
                models: Vec::new(),
                backends: Vec::new(),
                loaders,
            });
        }
    }
    // The router's node carries every backend, and the per-model sums and merged sketches.
    let first = spec.node(spec.router());
    for s in out.iter_mut().filter(|s| s.node == first) {
        let m =
            s.at.parse::<jiff::Timestamp>()
                .map(|t| (t.duration_since(midnight).as_secs() / i64::from(spec.interval_secs)) as usize)
                .unwrap_or(0);
        s.backends = std::mem::take(&mut router[m.min(per_day as usize - 1)]);
        s.models = per_model(&s.backends, w);
    }
    out
}

/// The per-model sums of a sample's backends (what the monitor writes beside them).
fn per_model(backends: &[BackendStats], w: f64) -> Vec<ModelStats> {
    let mut by: std::collections::BTreeMap<&str, ModelStats> = Default::default();
    for b in backends {
        let m = by.entry(&b.model).or_insert_with(|| ModelStats { model: b.model.clone(), ..Default::default() });
        m.requests += b.requests;
        m.failures += b.failed + b.cut;
        m.prompt_tokens += b.prompt_tokens;
        m.completion_tokens += b.completion_tokens;
        m.cached_tokens += b.cached_tokens;
        if let Some(e) = &b.e2e {
            m.e2e.get_or_insert_with(Default::default).merge(e);
        }
        if let Some(e) = &b.ttft {
            m.ttft.get_or_insert_with(Default::default).merge(e);
        }
    }
    by.into_values()
        .map(|mut m| {
            if let Some(e) = &m.e2e {
                let ms = |q| e.quantile(q).map(|v| (v * 10_000.0).round() / 10.0);
                (m.p50_ms, m.p95_ms, m.p99_ms) = (ms(0.5), ms(0.95), ms(0.99));
            }
            m.tokens_per_s = Some(((m.completion_tokens as f64 / w) * 10.0).round() / 10.0);
            m.queue_depth = Some(0);
            m.kv_cache_hit_rate = (m.prompt_tokens > 0)
                .then(|| ((m.cached_tokens as f64 / m.prompt_tokens as f64) * 1000.0).round() / 1000.0);
            m
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(nodes: usize, days: u32) -> Spec {
        Spec {
            cluster: "c".into(),
            nodes,
            start: "2026-11-01".parse().unwrap(),
            days,
            interval_secs: 60,
            seed: 7,
            scenario: Scenario::Story,
            layout: None,
        }
    }

    #[test]
    fn days_for_a_real_inventory_use_its_names_and_placement() {
        let yaml = "cluster: {slug: lab, tier: pro}\ndefaults: {transport: local}\nnodes:\n  - {name: lab1, roles: [loader]}\n  - {name: lab2, roles: [router, loader]}\nmodels:\n  - {name: tiny, source: /m/tiny}\n  - {name: small, source: /m/small}\nplacement:\n  tiny: {nodes: [lab1, lab2]}\n  small: {nodes: [lab2]}\n";
        let inv = crate::inventory::Inventory::from_str(std::path::Path::new("lab.yaml"), yaml).unwrap();
        let layout = Layout::of(&inv);
        assert_eq!(layout.router, 1);
        let s = Spec { cluster: "lab".into(), nodes: 2, layout: Some(layout), ..spec(2, 1) };
        let d = day(&s, 2);
        assert_eq!(d.len(), 2 * 1440);
        assert!(d.iter().all(|x| x.node == "lab1" || x.node == "lab2"));
        // The router's node carries every backend: tiny on both, small on lab2.
        let r = d.iter().find(|x| x.node == "lab2" && x.at.ends_with("12:00:59Z")).unwrap();
        let mut backends: Vec<&str> = r.backends.iter().map(|b| b.backend.as_str()).collect();
        backends.sort_unstable();
        assert_eq!(backends, ["lab1/tiny", "lab2/small", "lab2/tiny"]);
        assert!(d.iter().filter(|x| x.node == "lab1").all(|x| x.backends.is_empty()));
    }

    #[test]
    fn the_story_is_in_the_samples() {
        let s = spec(8, 12);
        let d0 = day(&s, 0);
        // Every node but the one that joins halfway, a sample a minute.
        assert_eq!(d0.len(), 7 * 1440);
        assert!(d0.iter().all(|x| x.node != node_name(7)));
        // The router's node carries all backends: 7 nodes × 2 models each minute.
        let r: Vec<&Sample> = d0.iter().filter(|x| x.node == node_name(0)).collect();
        assert!(r.iter().all(|x| x.backends.len() == 14), "{}", r[0].backends.len());
        let reqs: u64 = r.iter().flat_map(|x| &x.backends).map(|b| b.requests).sum();
        let in_models: u64 = r.iter().flat_map(|x| &x.models).map(|m| m.requests).sum();
        assert_eq!(reqs, in_models);
        assert!(reqs > 10_000, "{reqs}");
        // The hot node throttles in about 5% of its samples on a weekday (when it is hottest); the
        // others far less.
        let weekday = day(&s, 2);
        let share = |n: &str| {
            let v: Vec<&Sample> = weekday.iter().filter(|x| x.node == n).collect();
            v.iter().filter(|x| x.thermal.cpu_speed_limit < Some(100)).count() as f64 / v.len() as f64
        };
        assert!((0.03..0.08).contains(&share(&node_name(2))), "{}", share(&node_name(2)));
        assert!(share(&node_name(3)) < 0.01);
        // The seventh node's outage on day 12, and the same samples again for the same spec.
        assert_eq!(day(&s, 11).iter().filter(|x| x.node == node_name(6)).count(), 1440 - 180);
        assert_eq!(day(&s, 3), day(&s, 3));
        assert_eq!(day(&s, 6).len(), 8 * 1440, "the last node has joined");
    }
}
