//! The replay: a span's measured demand run against a placement through a queueing model, so a
//! move is judged by what it would do before anything moves. Pure: no store, no node.
//!
//! The model, calibrated from the span's own telemetry ([`calibrate`]):
//! - **Demand**: each model's requests per sample interval, as the routers counted them
//!   ([`Summary::demand`]); within an interval, arrivals are Poisson at that interval's rate.
//! - **Servers**: the router queues a model's requests in one queue and hands each to a backend
//!   with a free slot (its `max_concurrency`); so a model is one M/G/c queue, `c` = the slots of
//!   all its backends, shared by least-outstanding routing in proportion to each backend's
//!   capacity (slots over service time).
//! - **Service time** of a backend: its measured end-to-end time less its measured queue wait
//!   (the sketches' sums), i.e. time in a slot; its shape is the model's end-to-end quantiles
//!   moved and narrowed to the service time's mean and variance (`Var(S) = Var(E2E) - Var(W)`,
//!   the wait being independent of the service; the sketches keep no in-slot distribution).
//! - **Co-location**: models on one node share its GPU; while a neighbour is busy, a model runs
//!   at about half speed, so its service time is `S = S_alone × (1 + u)`, `u` the neighbours'
//!   busy share (capped at 1). `S_alone` is calibrated from the measured busy shares; in a replay
//!   `u` follows the neighbours' demand in each interval (their requests × their measured busy
//!   seconds per request, capped at 1).
//! - **Queueing**: Erlang C gives the chance to wait; the wait, when there is one, is
//!   exponential with the Allen–Cunneen mean `S (1 + cs²) / 2 / (c - a)`. An interval at 98% of
//!   the slots or more is counted as overloaded (and replayed at 98%).
//! - **Latency**: the p95 of the span's requests is solved from the mixture over intervals of
//!   `P(S + W > x)`, weighted by each interval's requests.
//!
//! Not modelled: the prompt cache (a larger cache's effect is judged by its evidence alone), heat
//! (a throttled node's slowdown is in its measured service time, not removed by a move), a
//! backend's slots being busy with requests the router did not send.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::inventory::Inventory;
use crate::telemetry::summary::Summary;

/// Points of the service-time shape (quantiles at `(i + 0.5) / SHAPE`).
const SHAPE: usize = 100;
/// The most of a node neighbours can keep busy (all of it).
const MAX_NEIGHBOUR_SHARE: f64 = 1.0;
/// Utilisation at which an interval counts as overloaded.
const OVERLOAD: f64 = 0.98;

/// One backend's calibration: a model on a node.
#[derive(Debug, Clone, Serialize)]
pub struct BackendCal {
    pub node: String,
    /// Mean seconds in a slot, measured (end to end less queue wait).
    pub service_secs: f64,
    /// The neighbours' measured busy share on the node over the span.
    pub neighbours_busy: f64,
    /// Mean seconds in a slot with no neighbour busy: `service_secs / (1 + neighbours_busy)`.
    pub alone_secs: f64,
    pub requests: u64,
}

/// One model's calibration.
#[derive(Debug, Clone, Serialize)]
pub struct ModelCal {
    pub model: String,
    /// Slots per backend (the model's `max_concurrency`).
    pub slots: u32,
    /// Busy seconds per request, measured (how much of a node one request keeps busy).
    pub busy_per_request: f64,
    /// The service time's squared coefficient of variation.
    pub cs2: f64,
    /// Quantiles of the service time over its mean.
    #[serde(skip)]
    pub shape: Vec<f64>,
    pub backends: Vec<BackendCal>,
    /// Requests per interval, dense over the span's intervals.
    #[serde(skip)]
    pub demand: Vec<u32>,
    /// Mean seconds in a slot per interval as measured (pooled over its backends, shrunk toward
    /// the span's mean in intervals with few requests; `0`: not measured).
    #[serde(skip)]
    pub measured: Vec<f32>,
    /// The model's mean service per interval under the current placement (what the model alone
    /// would say): a replay scales the measured service by its own over this.
    #[serde(skip)]
    pub baseline: Vec<f32>,
    pub requests: u64,
}

/// What a replay starts from.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    pub bucket_secs: f64,
    /// Intervals in the span.
    pub buckets: usize,
    pub models: Vec<ModelCal>,
}

/// A placement: model → its nodes.
pub type Placement = BTreeMap<String, Vec<String>>;

/// What the replay predicts for one model.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ModelPrediction {
    pub model: String,
    pub nodes: Vec<String>,
    pub requests: u64,
    /// No node serves it in this placement: its requests go unserved.
    pub unserved: bool,
    pub e2e_p95_ms: Option<f64>,
    pub queue_wait_mean_ms: Option<f64>,
    pub queue_wait_p95_ms: Option<f64>,
    /// Mean share of its slots in use over the span.
    pub utilisation: Option<f64>,
    /// Intervals at 98% of its slots or more.
    pub overloaded_intervals: u64,
    /// Nodes it runs on with no measurement of its own there (service time taken from its other
    /// nodes).
    pub estimated_on: Vec<String>,
}

/// What the replay predicts for a placement.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Prediction {
    pub models: Vec<ModelPrediction>,
    /// node → model → predicted busy share (mean over the span).
    pub busy: BTreeMap<String, BTreeMap<String, f64>>,
}

impl Prediction {
    pub fn model(&self, m: &str) -> Option<&ModelPrediction> {
        self.models.iter().find(|p| p.model == m)
    }
}

/// Requests an interval's measured service is shrunk toward the span's mean by.
const SHRINK: f64 = 3.0;

/// The calibration from a span's summary (read with `demand`) and the placement it ran under.
pub fn calibrate(inv: &Inventory, sum: &Summary, interval_secs: f64, current: &Placement) -> Calibration {
    let from = sum.from.parse::<jiff::Timestamp>().map_or(0, |t| t.as_microsecond());
    let to = sum.to.parse::<jiff::Timestamp>().map_or(from, |t| t.as_microsecond());
    let width = (interval_secs * 1e6).max(1.0) as i64;
    let first = from.div_euclid(width);
    let buckets = ((to.div_euclid(width) - first) + 1).max(1) as usize;
    // Each backend's measured busy share (its busy seconds over its sampled time).
    let busy_share = |node: &str, model: &str| -> f64 {
        sum.backends
            .iter()
            .find(|b| b.node.as_deref() == Some(node) && b.model == model)
            .filter(|b| b.backend_samples > 0)
            .map_or(0.0, |b| b.busy_secs / (b.backend_samples as f64 * interval_secs))
    };
    let mut models = Vec::new();
    for m in &sum.models {
        if m.requests == 0 || m.e2e.count == 0 {
            continue;
        }
        let slots = inv.models.iter().find(|x| x.name == m.model).map_or(4, |x| x.max_concurrency).max(1);
        // The service time's shape: the end-to-end quantiles, moved and narrowed to the service
        // time's own mean and variance. The wait is independent of the service, so
        // Var(S) = Var(E2E) - Var(W), each variance from its sketch's quantiles (the sketches
        // keep no in-slot distribution; this keeps the wait's spread, which the queueing model
        // adds back, out of the service time).
        let points = |sk: &crate::telemetry::sketch::Sketch| -> Vec<f64> {
            (0..SHAPE).map(|i| sk.quantile((i as f64 + 0.5) / SHAPE as f64).unwrap_or(0.0)).collect()
        };
        let moments = |v: &[f64]| {
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            (mean, v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / v.len() as f64)
        };
        let (e, w) = (points(&m.e2e), points(&m.queue_wait));
        let ((e_mean, e_var), (w_mean, w_var)) = (moments(&e), moments(&w));
        let s_mean = (e_mean - w_mean).max(0.05 * e_mean);
        let scale = if e_var > 0.0 { ((e_var - w_var).max(0.0) / e_var).sqrt() } else { 0.0 };
        let shape: Vec<f64> =
            e.iter().map(|x| (s_mean + (x - e_mean) * scale).max(0.05 * s_mean) / s_mean.max(1e-12)).collect();
        // Normalised to a mean of exactly 1 (the floor may have lifted it).
        let mean_shape = shape.iter().sum::<f64>() / SHAPE as f64;
        let shape: Vec<f64> = shape.iter().map(|q| q / mean_shape.max(1e-12)).collect();
        let cs2 = shape.iter().map(|q| (q - 1.0) * (q - 1.0)).sum::<f64>() / SHAPE as f64;
        let backends = sum
            .backends
            .iter()
            .filter(|b| b.model == m.model && b.requests > 0 && b.e2e.count > 0)
            .filter_map(|b| {
                let node = b.node.clone()?;
                let service = ((b.e2e.sum - b.queue_wait_sum_secs) / b.e2e.count as f64).max(1e-6);
                let neighbours: f64 = sum
                    .backends
                    .iter()
                    .filter(|o| o.node.as_deref() == Some(node.as_str()) && o.model != m.model)
                    .map(|o| busy_share(&node, &o.model))
                    .sum::<f64>()
                    .min(MAX_NEIGHBOUR_SHARE);
                Some(BackendCal {
                    service_secs: service,
                    neighbours_busy: neighbours,
                    alone_secs: service / (1.0 + neighbours),
                    requests: b.requests,
                    node,
                })
            })
            .collect();
        let mut demand = vec![0u32; buckets];
        let mut in_slot = vec![0f64; buckets];
        if let Some(d) = sum.demand.iter().find(|d| d.model == m.model) {
            for (start, n, secs) in &d.buckets {
                let i = start.div_euclid(width) - first;
                if (0..buckets as i64).contains(&i) {
                    demand[i as usize] = demand[i as usize].saturating_add(*n as u32);
                    in_slot[i as usize] += secs;
                }
            }
        }
        let (all_n, all_secs) = (demand.iter().map(|n| f64::from(*n)).sum::<f64>(), in_slot.iter().sum::<f64>());
        let mean = if all_n > 0.0 { all_secs / all_n } else { 0.0 };
        let measured: Vec<f32> = demand
            .iter()
            .zip(&in_slot)
            .map(|(n, secs)| {
                if *n == 0 || mean <= 0.0 || *secs <= 0.0 {
                    0.0
                } else {
                    ((secs + SHRINK * mean) / (f64::from(*n) + SHRINK)) as f32
                }
            })
            .collect();
        models.push(ModelCal {
            model: m.model.clone(),
            slots,
            busy_per_request: m.busy_secs / m.requests as f64,
            cs2,
            shape,
            backends,
            requests: m.requests,
            demand,
            measured,
            baseline: Vec::new(),
        });
    }
    let mut cal = Calibration { bucket_secs: interval_secs, buckets, models };
    let (_, services) = run(&cal, current);
    for (m, s) in cal.models.iter_mut().zip(services) {
        m.baseline = s.into_iter().map(|x| x as f32).collect();
    }
    cal
}

/// Erlang C: the chance an arrival waits in an M/M/c queue with `c` servers and offered load
/// `a` (< c).
fn erlang_c(c: u32, a: f64) -> f64 {
    if a <= 0.0 {
        return 0.0;
    }
    // Erlang B by its recurrence, then C from B. Past the load, B only falls: once it is
    // negligible the chance to wait is nil (a pool of hundreds of slots at low load costs a few
    // steps, not hundreds).
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (f64::from(k) + a * b);
        if f64::from(k) > a && b < 1e-15 {
            return 0.0;
        }
    }
    let rho = a / f64::from(c);
    b / (1.0 - rho + rho * b)
}

/// One interval of one model, as the replay sees it.
struct Interval {
    arrivals: f64,
    /// Mean service seconds.
    service: f64,
    /// Chance to wait, and the mean wait of those who do.
    p_wait: f64,
    wait: f64,
}

/// Bins per factor of e (mean service, wait) and per unit (chance to wait): 200, a half percent.
const BINS_PER_E: f64 = 200.0;

/// Intervals alike to within a half percent (mean service, wait) and a half point (chance to
/// wait) merged into one, weighted by their arrivals: a week's ten thousand intervals become a
/// few hundred, so solving for a quantile is cheap, with no visible change to it.
fn binned(ivs: Vec<Interval>) -> Vec<Interval> {
    let mut bins: std::collections::HashMap<(i64, i64, i64), Interval> = Default::default();
    for iv in ivs {
        let log = |x: f64| (x.max(1e-12).ln() * BINS_PER_E).round() as i64;
        let key =
            (log(iv.service), (iv.p_wait * BINS_PER_E).round() as i64, if iv.p_wait > 0.0 { log(iv.wait) } else { 0 });
        let e = bins.entry(key).or_insert(Interval { arrivals: 0.0, service: 0.0, p_wait: 0.0, wait: 0.0 });
        let n = e.arrivals + iv.arrivals;
        let (w0, w1) = (e.arrivals / n, iv.arrivals / n);
        e.service = e.service * w0 + iv.service * w1;
        e.p_wait = e.p_wait * w0 + iv.p_wait * w1;
        e.wait = e.wait * w0 + iv.wait * w1;
        e.arrivals = n;
    }
    let mut out: Vec<((i64, i64, i64), Interval)> = bins.into_iter().collect();
    out.sort_by_key(|(k, _)| *k);
    out.into_iter().map(|(_, v)| v).collect()
}

/// `P(S + W > x)` over the intervals, weighted by arrivals (`shape` scaled by each interval's
/// mean service).
fn tail(x: f64, ivs: &[Interval], shape: &[f64]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    let k = shape.len() as f64;
    for iv in ivs {
        let mut p = 0.0;
        for q in shape {
            let s = q * iv.service;
            if s > x {
                p += 1.0;
            } else if iv.p_wait > 1e-12 {
                p += iv.p_wait * (-(x - s) / iv.wait).exp();
            }
        }
        num += iv.arrivals * p / k;
        den += iv.arrivals;
    }
    if den > 0.0 { num / den } else { 0.0 }
}

/// The smallest `x` with `f(x) <= q` (f decreasing), by bisection on `[0, hi]`.
fn solve(q: f64, mut hi: f64, f: impl Fn(f64) -> f64) -> f64 {
    let mut lo = 0.0;
    while f(hi) > q && hi < 1e7 {
        hi *= 2.0;
    }
    for _ in 0..48 {
        let mid = 0.5 * (lo + hi);
        if f(mid) > q {
            lo = mid
        } else {
            hi = mid
        }
        // To a tenth of a percent (well under the sketches' own 1%).
        if hi - lo < 1e-3 * hi.max(1e-3) {
            break;
        }
    }
    hi
}

/// Replays the calibration's demand against `placement`.
pub fn replay(cal: &Calibration, placement: &Placement) -> Prediction {
    run(cal, placement).0
}

/// The replay, and each model's mean service per interval as the model alone gives it (before the
/// measured service scales it; empty for a model no node serves).
fn run(cal: &Calibration, placement: &Placement) -> (Prediction, Vec<Vec<f64>>) {
    let w = cal.bucket_secs.max(1e-9);
    let mut services: Vec<Vec<f64>> = Vec::new();
    // Per model: its backends in this placement, with their alone service time and share.
    struct Pool<'a> {
        cal: &'a ModelCal,
        nodes: Vec<(String, f64)>,
        estimated: Vec<String>,
        /// Each node's share of the model's requests (capacity-proportional).
        share: Vec<f64>,
    }
    let pools: Vec<Pool> = cal
        .models
        .iter()
        .map(|m| {
            let on = placement.get(&m.model).cloned().unwrap_or_default();
            let measured_alone = if m.backends.is_empty() {
                None
            } else {
                Some(m.backends.iter().map(|b| b.alone_secs).sum::<f64>() / m.backends.len() as f64)
            };
            let mut estimated = Vec::new();
            let nodes: Vec<(String, f64)> = on
                .iter()
                .filter_map(|n| match m.backends.iter().find(|b| &b.node == n) {
                    Some(b) => Some((n.clone(), b.alone_secs)),
                    None => {
                        estimated.push(n.clone());
                        measured_alone.map(|s| (n.clone(), s))
                    }
                })
                .collect();
            let capacity: Vec<f64> = nodes.iter().map(|(_, s)| 1.0 / s).collect();
            let total: f64 = capacity.iter().sum();
            let share = capacity.iter().map(|c| c / total).collect();
            Pool { cal: m, nodes, estimated, share }
        })
        .collect();
    // Each node's busy share from each model, per interval: requests × share × busy per request.
    let mut busy: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    let mut models = Vec::new();
    for (pi, p) in pools.iter().enumerate() {
        let m = p.cal;
        if p.nodes.is_empty() {
            models.push(ModelPrediction {
                model: m.model.clone(),
                nodes: vec![],
                requests: m.requests,
                unserved: m.requests > 0,
                e2e_p95_ms: None,
                queue_wait_mean_ms: None,
                queue_wait_p95_ms: None,
                utilisation: None,
                overloaded_intervals: 0,
                estimated_on: p.estimated.clone(),
            });
            services.push(Vec::new());
            continue;
        }
        let mut series = Vec::with_capacity(m.demand.len());
        let slots = f64::from(m.slots);
        let c_total = m.slots * p.nodes.len() as u32;
        let mut ivs = Vec::with_capacity(m.demand.len());
        let (mut util_sum, mut overloaded) = (0.0, 0u64);
        let mut node_busy = vec![0.0; p.nodes.len()];
        // Per node: the neighbours there, as (their demand, busy seconds per request of theirs
        // that lands on this node).
        let neighbours: Vec<Vec<(&[u32], f64)>> = p
            .nodes
            .iter()
            .map(|(node, _)| {
                pools
                    .iter()
                    .enumerate()
                    .filter(|(qi, _)| *qi != pi)
                    .filter_map(|(_, q)| {
                        let j = q.nodes.iter().position(|(x, _)| x == node)?;
                        Some((q.cal.demand.as_slice(), q.share[j] * q.cal.busy_per_request / w))
                    })
                    .collect()
            })
            .collect();
        for (t, &n) in m.demand.iter().enumerate() {
            // Capacity in requests per second of every backend, slowed by its neighbours now.
            let mut mu = 0.0;
            for (k, (_, alone)) in p.nodes.iter().enumerate() {
                let u: f64 = neighbours[k].iter().map(|(d, coef)| f64::from(d[t]) * coef).sum();
                mu += slots / (alone * (1.0 + u.min(MAX_NEIGHBOUR_SHARE)));
                node_busy[k] += (f64::from(n) / w * p.share[k] * m.busy_per_request).min(1.0);
            }
            let mut service = f64::from(c_total) / mu;
            series.push(service);
            // What was measured in this interval, scaled by this placement over the current one.
            if let (Some(&s), Some(&b)) = (m.measured.get(t), m.baseline.get(t))
                && s > 0.0
                && b > 0.0
            {
                service *= f64::from(s) / f64::from(b);
            }
            if n == 0 {
                continue;
            }
            let lambda = f64::from(n) / w;
            let mut a = lambda * service;
            let c = f64::from(c_total);
            if a >= OVERLOAD * c {
                overloaded += 1;
                a = OVERLOAD * c;
            }
            util_sum += a / c;
            let p_wait = erlang_c(c_total, a);
            let wait = service * (1.0 + m.cs2) / 2.0 / (c - a);
            ivs.push(Interval { arrivals: f64::from(n), service, p_wait, wait });
        }
        let ivs = binned(ivs);
        for (k, (node, _)) in p.nodes.iter().enumerate() {
            busy.entry(node.clone())
                .or_default()
                .insert(m.model.clone(), round(node_busy[k] / cal.buckets.max(1) as f64, 4));
        }
        let arrivals: f64 = ivs.iter().map(|i| i.arrivals).sum();
        let ms = |s: f64| (s * 10_000.0).round() / 10.0;
        let (p95, q_mean, q95) = if arrivals > 0.0 {
            let hi = ivs
                .iter()
                .map(|i| m.shape.last().copied().unwrap_or(1.0) * i.service + 10.0 * i.wait)
                .fold(0.0, f64::max);
            let p95 = solve(0.05, hi.max(1e-3), |x| tail(x, &ivs, &m.shape));
            let q_mean = ivs.iter().map(|i| i.arrivals * i.p_wait * i.wait).sum::<f64>() / arrivals;
            let q_tail =
                |x: f64| ivs.iter().map(|i| i.arrivals * i.p_wait * (-x / i.wait).exp()).sum::<f64>() / arrivals;
            let q95 = if q_tail(0.0) <= 0.05 { 0.0 } else { solve(0.05, hi.max(1e-3), q_tail) };
            (Some(ms(p95)), Some(ms(q_mean)), Some(ms(q95)))
        } else {
            (None, None, None)
        };
        services.push(series);
        models.push(ModelPrediction {
            model: m.model.clone(),
            nodes: p.nodes.iter().map(|(n, _)| n.clone()).collect(),
            requests: m.requests,
            unserved: false,
            e2e_p95_ms: p95,
            queue_wait_mean_ms: q_mean,
            queue_wait_p95_ms: q95,
            utilisation: (!ivs.is_empty()).then(|| round(util_sum / cal.buckets.max(1) as f64, 4)),
            overloaded_intervals: overloaded,
            estimated_on: p.estimated.clone(),
        });
    }
    (Prediction { models, busy }, services)
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A calibration of one model with exponential service (mean `s`) on `nodes`, `n` requests
    /// in each of `buckets` intervals of `w` seconds.
    fn exp_model(name: &str, s: f64, slots: u32, nodes: &[&str], n: u32, buckets: usize) -> ModelCal {
        let shape: Vec<f64> = (0..SHAPE).map(|i| -(1.0 - (i as f64 + 0.5) / SHAPE as f64).ln()).collect();
        let mean = shape.iter().sum::<f64>() / SHAPE as f64;
        let shape: Vec<f64> = shape.iter().map(|q| q / mean).collect();
        ModelCal {
            model: name.into(),
            slots,
            busy_per_request: s / f64::from(slots),
            cs2: 1.0,
            shape,
            backends: nodes
                .iter()
                .map(|n| BackendCal {
                    node: n.to_string(),
                    service_secs: s,
                    neighbours_busy: 0.0,
                    alone_secs: s,
                    requests: 0,
                })
                .collect(),
            demand: vec![n; buckets],
            measured: Vec::new(),
            baseline: Vec::new(),
            requests: u64::from(n) * buckets as u64,
        }
    }

    #[test]
    fn erlang_c_matches_known_values() {
        // M/M/1: the chance to wait is the utilisation.
        assert!((erlang_c(1, 0.7) - 0.7).abs() < 1e-12);
        // M/M/2 at a = 1: C = 1/3 (a textbook value).
        assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
    }

    /// M/M/1 at ρ = 0.5: the response time is exponential with mean S / (1 - ρ), so its p95 is
    /// `2 S ln 20`; the replay must give it (within the shape's 1% resolution).
    #[test]
    fn mm1_response_time_p95_is_exact() {
        let s = 0.2;
        let cal = Calibration { bucket_secs: 60.0, buckets: 10, models: vec![exp_model("m", s, 1, &["a"], 150, 10)] };
        let pl: Placement = [("m".to_string(), vec!["a".to_string()])].into();
        let p = replay(&cal, &pl);
        let got = p.models[0].e2e_p95_ms.unwrap() / 1000.0;
        let want = 2.0 * s * 20f64.ln();
        assert!((got / want - 1.0).abs() < 0.03, "p95 {got} vs {want}");
        // Mean wait of M/M/1: ρ S / (1 - ρ) = S.
        let q = p.models[0].queue_wait_mean_ms.unwrap() / 1000.0;
        assert!((q / s - 1.0).abs() < 0.01, "mean wait {q}");
        assert_eq!(p.models[0].utilisation, Some(0.5));
    }

    /// A second node halves the load: the p95 falls; a neighbour slows it down; no node leaves
    /// the model unserved.
    #[test]
    fn placements_change_the_prediction_the_expected_way() {
        let mut cal =
            Calibration { bucket_secs: 60.0, buckets: 4, models: vec![exp_model("a", 0.5, 1, &["n1", "n2"], 90, 4)] };
        let one: Placement = [("a".to_string(), vec!["n1".to_string()])].into();
        let two: Placement = [("a".to_string(), vec!["n1".to_string(), "n2".to_string()])].into();
        let (p1, p2) = (replay(&cal, &one), replay(&cal, &two));
        assert!(p2.models[0].e2e_p95_ms < p1.models[0].e2e_p95_ms, "{p1:?} {p2:?}");
        cal.models.push(exp_model("b", 1.0, 1, &["n1"], 15, 4));
        let shared: Placement =
            [("a".to_string(), vec!["n1".to_string()]), ("b".to_string(), vec!["n1".to_string()])].into();
        let apart: Placement =
            [("a".to_string(), vec!["n1".to_string()]), ("b".to_string(), vec!["n2".to_string()])].into();
        let (s, a) = (replay(&cal, &shared), replay(&cal, &apart));
        assert!(a.model("a").unwrap().e2e_p95_ms < s.model("a").unwrap().e2e_p95_ms, "{s:?} {a:?}");
        let gone: Placement = [("a".to_string(), vec!["n1".to_string()])].into();
        assert!(replay(&cal, &gone).model("b").unwrap().unserved);
    }
}
