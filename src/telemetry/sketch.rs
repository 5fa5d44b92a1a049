//! Latency as mergeable sketches: DDSketch's logarithmic buckets (Masson, Rim & Lee, VLDB 2019),
//! so that every quantile of any span or set (a minute, a week, several routers or nodes) comes
//! from adding bucket counts, never from averaging percentiles.
//!
//! A value `x` (seconds) above [`MIN_SECS`] falls in bucket `i = ceil(ln x / ln γ)` with
//! `γ = (1 + α) / (1 − α)`, `α` = [`ALPHA`] = 1%; the bucket's estimate `2γ^i / (γ + 1)` is within
//! `α` of every value in it, so each quantile is within 1% of a value at that rank. Values at or
//! below `MIN_SECS` (a microsecond) count in the zero bucket.
//!
//! Two forms: [`AtomicSketch`], a fixed array of counters over 1 µs … ~1.3 h that the router
//! updates lock-free on its hot path (larger values count in the last bucket and are kept exactly
//! in `max`); and [`Sketch`], the sparse serialized form (`{"count", "sum", "min", "max", "zero",
//! "bins": [[index, count], …]}`, documented in `docs/telemetry.md`) that samples carry and
//! readers merge. The difference of two cumulative snapshots is the window's sketch.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Relative accuracy of every quantile.
pub const ALPHA: f64 = 0.01;
/// At or below this (seconds), a value counts in the zero bucket.
pub const MIN_SECS: f64 = 1e-6;
/// Lowest and highest bucket indexes the atomic form keeps (1 µs … γ^HI ≈ 4,700 s).
const LO: i32 = -690;
const HI: i32 = 425;

fn gamma() -> f64 {
    (1.0 + ALPHA) / (1.0 - ALPHA)
}

/// The bucket of `secs` (> `MIN_SECS`).
pub fn index(secs: f64) -> i32 {
    (secs.ln() / gamma().ln()).ceil() as i32
}

/// The estimate a bucket stands for: within `ALPHA` of every value that falls in it.
pub fn value(i: i32) -> f64 {
    let g = gamma();
    2.0 * g.powi(i) / (g + 1.0)
}

/// A sketch as carried in samples and merged by readers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sketch {
    pub count: u64,
    /// Sum of the values, seconds (for means).
    pub sum: f64,
    /// Smallest and largest value seen (exact), seconds; 0 when empty.
    pub min: f64,
    pub max: f64,
    /// Values at or below `MIN_SECS`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub zero: u64,
    /// `[index, count]` pairs, ascending, counts > 0.
    pub bins: Vec<(i32, u64)>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Sketch {
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds one value (seconds).
    pub fn add(&mut self, secs: f64) {
        let secs = if secs.is_finite() && secs > 0.0 { secs } else { 0.0 };
        self.min = if self.count == 0 { secs } else { self.min.min(secs) };
        self.max = self.max.max(secs);
        self.count += 1;
        self.sum += secs;
        if secs <= MIN_SECS {
            self.zero += 1;
            return;
        }
        let i = index(secs);
        match self.bins.binary_search_by_key(&i, |b| b.0) {
            Ok(k) => self.bins[k].1 += 1,
            Err(k) => self.bins.insert(k, (i, 1)),
        }
    }

    /// Adds `other`'s values: the sketch of both sets.
    pub fn merge(&mut self, other: &Sketch) {
        if other.count == 0 {
            return;
        }
        self.min = if self.count == 0 { other.min } else { self.min.min(other.min) };
        self.max = self.max.max(other.max);
        self.count += other.count;
        self.sum += other.sum;
        self.zero += other.zero;
        let mut m: BTreeMap<i32, u64> = self.bins.iter().copied().collect();
        for (i, c) in &other.bins {
            *m.entry(*i).or_default() += c;
        }
        self.bins = m.into_iter().collect();
    }

    /// The value at quantile `q` (0..=1), within `ALPHA` of the value of that rank (the lower
    /// of the two middle ones for an even count); `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * (self.count - 1) as f64).floor() as u64;
        let mut seen = self.zero;
        if rank < seen {
            return Some(self.min.min(MIN_SECS));
        }
        for (i, c) in &self.bins {
            seen += c;
            if rank < seen {
                return Some(value(*i).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// The values in this sketch and not in `earlier` (both cumulative snapshots of the same
    /// counters, `earlier` first). `None` when `earlier` is not contained (counters were reset).
    pub fn since(&self, earlier: &Sketch) -> Option<Sketch> {
        if earlier.count > self.count || earlier.zero > self.zero {
            return None;
        }
        let now: BTreeMap<i32, u64> = self.bins.iter().copied().collect();
        let mut bins = now.clone();
        for (i, c) in &earlier.bins {
            let have = now.get(i).copied().unwrap_or(0);
            if *c > have {
                return None;
            }
            bins.insert(*i, have - c);
        }
        let bins: Vec<(i32, u64)> = bins.into_iter().filter(|b| b.1 > 0).collect();
        let count = self.count - earlier.count;
        // min and max of the window are not known exactly from cumulative snapshots: the
        // extreme buckets' bounds stand in (clamped to the cumulative extremes).
        let (min, max) = match (bins.first(), bins.last()) {
            (Some(lo), Some(hi)) => {
                let g = gamma();
                ((g.powi(lo.0 - 1)).max(self.min), g.powi(hi.0).min(self.max))
            }
            _ => (0.0, if count > 0 { MIN_SECS } else { 0.0 }),
        };
        Some(Sketch { count, sum: (self.sum - earlier.sum).max(0.0), min, max, zero: self.zero - earlier.zero, bins })
    }
}

/// A sketch's numbers besides its buckets.
#[derive(Debug, Clone, Copy, Default)]
pub struct Head {
    pub count: u64,
    pub zero: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

/// Many sketches merged into one at array speed (a month of per-minute sketches): dense counts
/// over the atomic form's range, anything outside it kept sparse. `finish` gives the same sketch
/// as merging them one by one with [`Sketch::merge`].
#[derive(Debug, Clone)]
pub struct Merger {
    count: u64,
    zero: u64,
    sum: f64,
    min: f64,
    max: f64,
    dense: Vec<u64>,
    sparse: BTreeMap<i32, u64>,
}

impl Default for Merger {
    fn default() -> Self {
        Merger {
            count: 0,
            zero: 0,
            sum: 0.0,
            min: 0.0,
            max: 0.0,
            dense: vec![0; (HI - LO + 1) as usize],
            sparse: BTreeMap::new(),
        }
    }
}

impl Merger {
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds one sketch given as its parts (`index[k]` holds `counts[k]` values).
    pub fn add_parts(&mut self, head: Head, index: &[i32], counts: &[u64]) {
        let Head { count, zero, sum, min, max } = head;
        if count == 0 {
            return;
        }
        self.min = if self.count == 0 { min } else { self.min.min(min) };
        self.max = self.max.max(max);
        self.count += count;
        self.zero += zero;
        self.sum += sum;
        for (i, n) in index.iter().zip(counts) {
            match self.dense.get_mut(i.wrapping_sub(LO) as usize) {
                Some(slot) if *i >= LO => *slot += n,
                _ => *self.sparse.entry(*i).or_default() += n,
            }
        }
    }

    pub fn add(&mut self, s: &Sketch) {
        let (index, counts): (Vec<i32>, Vec<u64>) = s.bins.iter().copied().unzip();
        self.add_parts(Head { count: s.count, zero: s.zero, sum: s.sum, min: s.min, max: s.max }, &index, &counts);
    }

    pub fn merge(&mut self, other: &Merger) {
        if other.count == 0 {
            return;
        }
        self.min = if self.count == 0 { other.min } else { self.min.min(other.min) };
        self.max = self.max.max(other.max);
        self.count += other.count;
        self.zero += other.zero;
        self.sum += other.sum;
        for (a, b) in self.dense.iter_mut().zip(&other.dense) {
            *a += b;
        }
        for (i, n) in &other.sparse {
            *self.sparse.entry(*i).or_default() += n;
        }
    }

    pub fn finish(&self) -> Sketch {
        let mut bins: BTreeMap<i32, u64> = self.sparse.clone();
        for (k, n) in self.dense.iter().enumerate().filter(|(_, n)| **n > 0) {
            *bins.entry(LO + k as i32).or_default() += n;
        }
        Sketch {
            count: self.count,
            sum: self.sum,
            min: self.min,
            max: self.max,
            zero: self.zero,
            bins: bins.into_iter().collect(),
        }
    }
}

/// Lock-free counters in the sketch's buckets, for the router's hot path.
#[derive(Debug)]
pub struct AtomicSketch {
    bins: Box<[AtomicU64]>,
    zero: AtomicU64,
    count: AtomicU64,
    sum_nanos: AtomicU64,
    min_nanos: AtomicU64,
    max_nanos: AtomicU64,
}

impl Default for AtomicSketch {
    fn default() -> Self {
        AtomicSketch {
            bins: (LO..=HI).map(|_| AtomicU64::new(0)).collect(),
            zero: AtomicU64::new(0),
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
            min_nanos: AtomicU64::new(u64::MAX),
            max_nanos: AtomicU64::new(0),
        }
    }
}

impl AtomicSketch {
    pub fn observe(&self, d: Duration) {
        let nanos = d.as_nanos().min(u64::MAX as u128) as u64;
        let secs = d.as_secs_f64();
        if secs <= MIN_SECS {
            self.zero.fetch_add(1, Ordering::Relaxed);
        } else {
            let i = index(secs).clamp(LO, HI);
            self.bins[(i - LO) as usize].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.min_nanos.fetch_min(nanos, Ordering::Relaxed);
        self.max_nanos.fetch_max(nanos, Ordering::Relaxed);
        // Counted last: a snapshot never sees a count its buckets do not hold yet.
        self.count.fetch_add(1, Ordering::Release);
    }

    /// Adds a saved sketch's counts (a restarted router picking up what it had counted).
    pub fn add(&self, s: &Sketch) {
        if s.count == 0 {
            return;
        }
        for (i, c) in &s.bins {
            self.bins[(i.clamp(&LO, &HI) - LO) as usize].fetch_add(*c, Ordering::Relaxed);
        }
        self.zero.fetch_add(s.zero, Ordering::Relaxed);
        self.sum_nanos.fetch_add((s.sum * 1e9) as u64, Ordering::Relaxed);
        self.min_nanos.fetch_min((s.min * 1e9) as u64, Ordering::Relaxed);
        self.max_nanos.fetch_max((s.max * 1e9) as u64, Ordering::Relaxed);
        self.count.fetch_add(s.count, Ordering::Release);
    }

    /// The cumulative sketch so far.
    pub fn snapshot(&self) -> Sketch {
        let count = self.count.load(Ordering::Acquire);
        let bins: Vec<(i32, u64)> = self
            .bins
            .iter()
            .enumerate()
            .map(|(k, c)| (k as i32 + LO, c.load(Ordering::Relaxed)))
            .filter(|b| b.1 > 0)
            .collect();
        let zero = self.zero.load(Ordering::Relaxed);
        // Racing observations may have bumped buckets past `count`: take the buckets' total.
        let count = count.max(zero + bins.iter().map(|b| b.1).sum::<u64>());
        let nanos = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64 / 1e9;
        let min = if count == 0 { 0.0 } else { nanos(&self.min_nanos) };
        Sketch { count, sum: nanos(&self.sum_nanos), min, max: nanos(&self.max_nanos), zero, bins }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exact quantile by the same rank rule.
    fn exact(sorted: &[f64], q: f64) -> f64 {
        sorted[(q * (sorted.len() - 1) as f64).floor() as usize]
    }

    fn xorshift(seed: u64) -> impl FnMut() -> f64 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn every_quantile_within_one_percent_and_merges_equal_the_whole() {
        for seed in 1..=20u64 {
            let mut r = xorshift(seed * 7919);
            // Latency-like: log-uniform over 2 ms … 20 s, plus a heavy tail and some ties.
            let mut values: Vec<f64> = (0..(500 + seed as usize * 300))
                .map(|k| if k % 17 == 0 { 0.125 } else { 0.002 * (10_000f64).powf(r()) })
                .collect();
            let (mut whole, mut a, mut b) = (Sketch::default(), Sketch::default(), Sketch::default());
            let atomic = AtomicSketch::default();
            for (k, v) in values.iter().enumerate() {
                whole.add(*v);
                if k % 3 == 0 {
                    a.add(*v)
                } else {
                    b.add(*v)
                }
                atomic.observe(Duration::from_secs_f64(*v));
            }
            let mut merged = a.clone();
            merged.merge(&b);
            assert_eq!(merged.bins, whole.bins, "merging is adding buckets");
            assert_eq!(merged.count, whole.count);
            values.sort_by(f64::total_cmp);
            for q in [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0] {
                let want = exact(&values, q);
                for (name, s) in [("whole", &whole), ("merged", &merged), ("atomic", &atomic.snapshot())] {
                    let got = s.quantile(q).unwrap();
                    assert!(
                        (got - want).abs() <= ALPHA * want + 1e-9,
                        "{name} seed {seed} q {q}: {got} vs exact {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn windows_are_differences_of_snapshots() {
        let s = AtomicSketch::default();
        for ms in [5, 10, 20] {
            s.observe(Duration::from_millis(ms));
        }
        let first = s.snapshot();
        for ms in [100, 200, 300, 400] {
            s.observe(Duration::from_millis(ms));
        }
        let w = s.snapshot().since(&first).unwrap();
        assert_eq!(w.count, 4);
        let p50 = w.quantile(0.5).unwrap();
        assert!((p50 - 0.2).abs() <= 0.2 * ALPHA, "{p50}");
        assert!((w.sum - 1.0).abs() < 1e-6);
        assert!(first.since(&s.snapshot()).is_none(), "a later snapshot is not contained in an earlier one");
        // The serialized form is what the docs say.
        let v = serde_json::to_value(&first).unwrap();
        assert_eq!(v["count"], 3);
        assert_eq!(v["bins"].as_array().unwrap().len(), 3);
        assert_eq!(v["bins"][0][0], index(0.005));
        let back: Sketch = serde_json::from_value(v).unwrap();
        assert_eq!(back, first);
        assert_eq!(Sketch::default().quantile(0.5), None);
    }

    #[test]
    fn the_merger_equals_merging_one_by_one() {
        let mut parts = Vec::new();
        for k in 0..50u32 {
            let mut s = Sketch::default();
            for j in 0..(k % 7) {
                s.add(1e-7 + f64::from(k * 13 + j) * 0.37); // includes zero-bucket and huge values
            }
            s.add(1e5 * f64::from(k)); // beyond the dense range
            parts.push(s);
        }
        let (mut one, mut m, mut other) = (Sketch::default(), Merger::default(), Merger::default());
        for (k, s) in parts.iter().enumerate() {
            one.merge(s);
            if k % 2 == 0 { m.add(s) } else { other.add(s) }
        }
        m.merge(&other);
        let got = m.finish();
        assert!((got.sum - one.sum).abs() <= 1e-9 * one.sum, "{} vs {}", got.sum, one.sum);
        assert_eq!(Sketch { sum: one.sum, ..got }, one);
    }
}
