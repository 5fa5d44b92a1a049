//! A span's telemetry in one structure (a week for the placement diff, a month for the report,
//! any span for `garnet telemetry summary`): per model the requests, outcomes, tokens, busy time
//! and merged latency sketches; per backend (model × node) the same; per node the samples, uptime
//! (gaps count as down), throttled share, hottest temperature and energy; each day's source
//! (`parquet`, `json`, both, or `missing`: a day with no samples is reported missing, never as
//! zero).
//!
//! Compacted days are read column by column from their Parquet files (only the columns needed,
//! dictionary-encoded names as integer keys, sketches merged into dense arrays), one day per core
//! at a time; samples still in JSON (an open day, or a late one) go through the same accumulator.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, TimestampMicrosecondType, UInt32Type, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use serde::Serialize;

use super::Sample;
use super::sketch::{Head, Merger, Sketch};
use crate::store::Store;

/// Counters of a backend row, in this order.
const COUNTERS: [&str; 10] = super::BackendStats::COUNTERS;

/// Traffic of one model, or of one model on one node.
#[derive(Debug, Clone, Default)]
struct Traffic {
    counters: [u64; 10],
    busy_secs: f64,
    rows: u64,
    e2e: Merger,
    ttft: Merger,
    queue_wait: Merger,
    /// Requests in one sample → how many samples had that many (with [`SpanRequest::demand`]).
    rates: HashMap<u64, u64>,
}

impl Traffic {
    fn merge(&mut self, o: &Traffic) {
        for (a, b) in self.counters.iter_mut().zip(o.counters) {
            *a += b;
        }
        self.busy_secs += o.busy_secs;
        self.rows += o.rows;
        self.e2e.merge(&o.e2e);
        self.ttft.merge(&o.ttft);
        self.queue_wait.merge(&o.queue_wait);
        for (n, k) in &o.rates {
            *self.rates.entry(*n).or_default() += k;
        }
    }
}

#[derive(Debug, Clone, Default)]
struct NodeAcc {
    /// Sample windows as (end, window) in microseconds since the epoch and seconds.
    windows: Vec<(i64, u32)>,
    throttled: u64,
    max_celsius: Option<f64>,
    energy_joules: f64,
    energy_samples: u64,
    /// model → prompt-cache entries evicted (inferred by the monitor from the loader's log).
    cache_evictions: BTreeMap<String, u64>,
    /// Samples and throttled samples per whole degree of the hottest sensor (index: °C, clamped
    /// to 0..=149; empty until a sample reads a temperature).
    temps: Vec<[u64; 2]>,
}

impl NodeAcc {
    fn add_temp(&mut self, celsius: f64, throttled: bool) {
        if !celsius.is_finite() {
            return;
        }
        if self.temps.is_empty() {
            self.temps = vec![[0; 2]; 150];
        }
        let b = &mut self.temps[celsius.floor().clamp(0.0, 149.0) as usize];
        b[0] += 1;
        b[1] += u64::from(throttled);
    }

    fn merge(&mut self, n: NodeAcc) {
        self.windows.extend(n.windows);
        self.throttled += n.throttled;
        self.max_celsius = max_opt(self.max_celsius, n.max_celsius);
        self.energy_joules += n.energy_joules;
        self.energy_samples += n.energy_samples;
        self.add_evictions(&n.cache_evictions);
        if !n.temps.is_empty() {
            if self.temps.is_empty() {
                self.temps = n.temps;
            } else {
                for (a, b) in self.temps.iter_mut().zip(n.temps) {
                    a[0] += b[0];
                    a[1] += b[1];
                }
            }
        }
    }

    fn add_evictions(&mut self, o: &BTreeMap<String, u64>) {
        for (m, n) in o {
            *self.cache_evictions.entry(m.clone()).or_default() += n;
        }
    }
}

/// The prompt-cache evictions a sample's `loaders` JSON reports, per model (only texts that name
/// a non-zero count are parsed).
fn cache_evictions(text: &str) -> Vec<(String, u64)> {
    const KEY: &str = "\"prompt_cache_evictions_inferred\":";
    let nonzero =
        text.match_indices(KEY).any(|(i, _)| text[i + KEY.len()..].trim_start().as_bytes().first() != Some(&b'0'));
    if !nonzero {
        return Vec::new();
    }
    serde_json::from_str::<Vec<super::loaders::LoaderStats>>(text)
        .map(|ls| {
            ls.into_iter()
                .filter_map(|l| Some((l.model, l.prompt_cache_evictions_inferred.filter(|n| *n > 0)?)))
                .collect()
        })
        .unwrap_or_default()
}

/// What one day (or one set of JSON samples) adds up to.
#[derive(Debug, Default)]
struct Acc {
    /// (model, node) → traffic; node is `""` when the backend id named none.
    backends: HashMap<(String, String), Traffic>,
    nodes: HashMap<String, NodeAcc>,
    samples: u64,
    /// model → bucket (sample interval since the epoch) → requests and their seconds in a slot
    /// (end to end less queue wait) (with [`SpanRequest::demand`]).
    demand: HashMap<String, HashMap<i64, (u64, f64)>>,
    /// Bucket (of [`SpanRequest::series_secs`] since the epoch) → what it holds (with a series).
    series: HashMap<i64, BucketAcc>,
}

/// One bucket of a span's series: per node its samples and measured energy; per (model, node)
/// its requests, tokens and busy seconds.
#[derive(Debug, Default)]
struct BucketAcc {
    nodes: HashMap<String, NodeUse>,
    backends: HashMap<(String, String), BackendUse>,
}

impl BucketAcc {
    fn merge(&mut self, o: BucketAcc) {
        for (k, n) in o.nodes {
            self.nodes.entry(k).or_default().add(&n);
        }
        for (k, b) in o.backends {
            self.backends.entry(k).or_default().add(&b);
        }
    }
}

/// A node within one bucket of a series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct NodeUse {
    pub samples: u64,
    pub energy_joules: f64,
    /// Samples that measured energy.
    pub energy_samples: u64,
}

impl NodeUse {
    pub fn add(&mut self, o: &NodeUse) {
        self.samples += o.samples;
        self.energy_joules += o.energy_joules;
        self.energy_samples += o.energy_samples;
    }
}

/// A model on a node within one bucket of a series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct BackendUse {
    pub requests: u64,
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub completion_tokens: u64,
    pub busy_secs: f64,
}

impl BackendUse {
    pub fn add(&mut self, o: &BackendUse) {
        self.requests += o.requests;
        self.prompt_tokens += o.prompt_tokens;
        self.cached_tokens += o.cached_tokens;
        self.completion_tokens += o.completion_tokens;
        self.busy_secs += o.busy_secs;
    }

    /// From a backend row's counters (in [`COUNTERS`]' order) and busy seconds.
    fn of(c: &[u64; 10], busy_secs: f64) -> Self {
        BackendUse { requests: c[0], prompt_tokens: c[7], cached_tokens: c[8], completion_tokens: c[9], busy_secs }
    }
}

/// One bucket of [`Summary::series`]: its start, and what its samples hold (buckets with no
/// sample are left out: a gap, not zeros).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    /// Start, microseconds since the epoch (a whole number of buckets).
    pub start_us: i64,
    pub secs: f64,
    pub nodes: BTreeMap<String, NodeUse>,
    /// (model, node) → use; node is `""` when the backend named none.
    pub backends: BTreeMap<(String, String), BackendUse>,
}

impl Acc {
    fn merge(&mut self, o: Acc) {
        for (b, x) in o.series {
            self.series.entry(b).or_default().merge(x);
        }
        for (k, t) in o.backends {
            self.backends.entry(k).or_default().merge(&t);
        }
        for (k, n) in o.nodes {
            self.nodes.entry(k).or_default().merge(n);
        }
        self.samples += o.samples;
        for (m, d) in o.demand {
            let e = self.demand.entry(m).or_default();
            for (b, (n, secs)) in d {
                let x = e.entry(b).or_default();
                x.0 += n;
                x.1 += secs;
            }
        }
    }

    /// One JSON sample, the way a Parquet row adds up (`bucket_us`: the demand's bucket width,
    /// `None` when the span does not ask for it).
    fn add_sample(&mut self, s: &Sample, at: i64, bucket_us: Option<i64>, series_us: Option<i64>) {
        self.samples += 1;
        if let Some(w) = series_us {
            let x = self.series.entry((at - 1).div_euclid(w)).or_default();
            let e = s.power.as_ref().and_then(|p| p.energy_joules);
            x.nodes.entry(s.node.clone()).or_default().add(&NodeUse {
                samples: 1,
                energy_joules: e.unwrap_or(0.0),
                energy_samples: u64::from(e.is_some()),
            });
            for b in &s.backends {
                x.backends
                    .entry((b.model.clone(), b.node.clone().unwrap_or_default()))
                    .or_default()
                    .add(&BackendUse::of(&b.counters(), b.busy_secs));
            }
        }
        let n = self.nodes.entry(s.node.clone()).or_default();
        n.windows.push((at, s.window_secs));
        let hot = throttled(s.thermal.cpu_speed_limit, s.thermal.pressure.as_deref());
        n.throttled += u64::from(hot);
        n.max_celsius = max_opt(n.max_celsius, s.thermal.max_celsius);
        if let Some(c) = s.thermal.max_celsius {
            n.add_temp(c, hot);
        }
        if let Some(j) = s.power.as_ref().and_then(|p| p.energy_joules) {
            n.energy_joules += j;
            n.energy_samples += 1;
        }
        if bucket_us.is_some() {
            for l in &s.loaders {
                if let Some(e) = l.prompt_cache_evictions_inferred.filter(|e| *e > 0) {
                    *n.cache_evictions.entry(l.model.clone()).or_default() += e;
                }
            }
        }
        for b in &s.backends {
            let t = self.backends.entry((b.model.clone(), b.node.clone().unwrap_or_default())).or_default();
            for (a, x) in t.counters.iter_mut().zip(b.counters()) {
                *a += x;
            }
            t.busy_secs += b.busy_secs;
            t.rows += 1;
            if let Some(w) = bucket_us {
                *t.rates.entry(b.requests).or_default() += 1;
                let in_slot = b.e2e.as_ref().map_or(0.0, |s| s.sum) - b.queue_wait.as_ref().map_or(0.0, |s| s.sum);
                let x = self.demand.entry(b.model.clone()).or_default().entry((at - 1).div_euclid(w)).or_default();
                x.0 += b.requests;
                x.1 += in_slot.max(0.0);
            }
            for (m, sk) in [(&mut t.e2e, &b.e2e), (&mut t.ttft, &b.ttft), (&mut t.queue_wait, &b.queue_wait)] {
                if let Some(sk) = sk {
                    m.add(sk);
                }
            }
        }
    }
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// A sample counts as throttled when the CPU speed was limited below 100 % or the thermal
/// pressure was anything but nominal (the same rule in `docs/telemetry.md`'s SQL).
pub fn throttled(cpu_speed_limit: Option<u32>, pressure: Option<&str>) -> bool {
    cpu_speed_limit.is_some_and(|l| l < 100) || pressure.is_some_and(|p| p != "nominal")
}

/// Per-row integer keys of a string column and the strings they stand for (dictionary columns as
/// they are; plain ones keyed here).
fn keyed(col: &ArrayRef) -> Result<(Vec<u32>, Vec<String>)> {
    if let Some(d) = col.as_dictionary_opt::<Int32Type>() {
        let values = d.values().as_string::<i32>();
        let names = (0..values.len()).map(|i| values.value(i).to_string()).collect();
        let keys = d.keys().iter().map(|k| k.map_or(u32::MAX, |k| k as u32)).collect();
        return Ok((keys, names));
    }
    let s = col.as_string_opt::<i32>().context("a name column is not text")?;
    let mut index: HashMap<&str, u32> = HashMap::new();
    let mut names = Vec::new();
    let keys = s
        .iter()
        .map(|v| match v {
            None => u32::MAX,
            Some(v) => *index.entry(v).or_insert_with(|| {
                names.push(v.to_string());
                names.len() as u32 - 1
            }),
        })
        .collect();
    Ok((keys, names))
}

fn column<'a>(b: &'a RecordBatch, file: &str, n: &str) -> Result<&'a ArrayRef> {
    b.column_by_name(n).with_context(|| format!("{file} has no `{n}`"))
}

/// Rows decoded at a time: small enough that each column's buffer is reused by the allocator
/// (larger ones are fresh pages every batch) and a batch's columns stay in cache.
const BATCH: usize = 2048;

/// A Parquet file to read: its bytes, or the file itself in a local store (then only the column
/// chunks asked for are read).
pub enum Source {
    Bytes(bytes::Bytes),
    File(std::fs::File),
}

impl Source {
    /// The object `key` of `store`, `None` when it does not exist.
    pub async fn open(store: &dyn Store, key: &str) -> Result<Option<Source>> {
        if let Some(path) = store.local_path(key) {
            return match std::fs::File::open(&path) {
                Ok(f) => Ok(Some(Source::File(f))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e).with_context(|| format!("cannot open `{key}`")),
            };
        }
        Ok(store.get(key).await?.map(|b| Source::Bytes(b.into())))
    }
}

/// Reads the named columns of a Parquet file, batch by batch, names as dictionary keys.
fn batches(
    src: Source,
    want: &[&str],
) -> Result<Box<dyn Iterator<Item = Result<RecordBatch, arrow_schema::ArrowError>>>> {
    match src {
        Source::Bytes(b) => batches_of(b, want),
        Source::File(f) => batches_of(f, want),
    }
}

fn batches_of<T: parquet::file::reader::ChunkReader + 'static>(
    input: T,
    want: &[&str],
) -> Result<Box<dyn Iterator<Item = Result<RecordBatch, arrow_schema::ArrowError>>>> {
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
    let meta = ArrowReaderMetadata::load(&input, ArrowReaderOptions::new())?;
    // Strings read as dictionaries: each row's name becomes an integer key.
    let fields: Vec<arrow_schema::Field> = meta
        .schema()
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            arrow_schema::DataType::Utf8 => f.as_ref().clone().with_data_type(arrow_schema::DataType::Dictionary(
                Box::new(arrow_schema::DataType::Int32),
                Box::new(arrow_schema::DataType::Utf8),
            )),
            _ => f.as_ref().clone(),
        })
        .collect();
    let opts = ArrowReaderOptions::new().with_schema(Arc::new(arrow_schema::Schema::new(fields)));
    let meta = ArrowReaderMetadata::try_new(meta.metadata().clone(), opts)?;
    let b = ParquetRecordBatchReaderBuilder::new_with_metadata(input, meta);
    let mask = ProjectionMask::columns(b.parquet_schema(), want.iter().copied());
    Ok(Box::new(b.with_projection(mask).with_batch_size(BATCH).build()?))
}

/// One compacted day's two files into an accumulator, rows outside `[from, to]` (µs) left out.
/// The latency sketches a span can merge, in [`SpanRequest::latencies`]' order.
pub const LATENCIES: [&str; 3] = ["e2e", "ttft", "queue_wait"];

fn read_day(
    samples: Source,
    backends: Option<Source>,
    from: i64,
    to: i64,
    latencies: [bool; 3],
    bucket_us: Option<i64>,
    series_us: Option<i64>,
) -> Result<Acc> {
    let mut acc = Acc::default();
    let mut want =
        vec!["node", "at", "window_secs", "cpu_speed_limit", "thermal_pressure", "max_celsius", "energy_joules"];
    if bucket_us.is_some() {
        want.push("loaders");
    }
    for b in batches(samples, &want).context("samples.parquet")? {
        let b = b.context("samples.parquet")?;
        let f = "samples.parquet";
        let (node, names) = keyed(column(&b, f, "node")?)?;
        let at = column(&b, f, "at")?.as_primitive::<TimestampMicrosecondType>();
        let window = column(&b, f, "window_secs")?.as_primitive::<UInt32Type>();
        let limit = column(&b, f, "cpu_speed_limit")?.as_primitive::<UInt32Type>();
        let (pkeys, pnames) = keyed(column(&b, f, "thermal_pressure")?)?;
        let celsius = column(&b, f, "max_celsius")?.as_primitive::<Float64Type>();
        let joules = column(&b, f, "energy_joules")?.as_primitive::<Float64Type>();
        let pressure_throttled: Vec<bool> = pnames.iter().map(|p| throttled(None, Some(p))).collect();
        // Each distinct `loaders` text's evictions, parsed once.
        let loaders = match bucket_us {
            Some(_) => Some(keyed(column(&b, f, "loaders")?)?),
            None => None,
        };
        let evictions: Vec<Vec<(String, u64)>> =
            loaders.as_ref().map(|(_, texts)| texts.iter().map(|t| cache_evictions(t)).collect()).unwrap_or_default();
        let mut per: Vec<NodeAcc> = vec![NodeAcc::default(); names.len()];
        // (bucket, node key) → the node's use in it (with a series).
        let mut uses: HashMap<(i64, u32), NodeUse> = HashMap::new();
        for i in 0..b.num_rows() {
            if at.is_null(i) || node[i] == u32::MAX {
                continue;
            }
            let t = at.value(i);
            if t < from || t > to {
                continue;
            }
            let n = &mut per[node[i] as usize];
            n.windows.push((t, window.value(i)));
            let lim = (!limit.is_null(i)).then(|| limit.value(i));
            let pt = pkeys[i] != u32::MAX && pressure_throttled[pkeys[i] as usize];
            let hot = throttled(lim, None) || pt;
            n.throttled += u64::from(hot);
            if !celsius.is_null(i) {
                n.max_celsius = max_opt(n.max_celsius, Some(celsius.value(i)));
                n.add_temp(celsius.value(i), hot);
            }
            if !joules.is_null(i) {
                n.energy_joules += joules.value(i);
                n.energy_samples += 1;
            }
            if let Some(w) = series_us {
                let u = uses.entry(((t - 1).div_euclid(w), node[i])).or_default();
                u.samples += 1;
                if !joules.is_null(i) {
                    u.energy_joules += joules.value(i);
                    u.energy_samples += 1;
                }
            }
            if let Some((keys, _)) = &loaders
                && keys[i] != u32::MAX
            {
                for (m, e) in &evictions[keys[i] as usize] {
                    *n.cache_evictions.entry(m.clone()).or_default() += e;
                }
            }
            acc.samples += 1;
        }
        for ((bucket, k), u) in uses {
            acc.series.entry(bucket).or_default().nodes.entry(names[k as usize].clone()).or_default().add(&u);
        }
        for (name, n) in names.into_iter().zip(per) {
            if n.windows.is_empty() {
                continue;
            }
            acc.nodes.entry(name).or_default().merge(n);
        }
    }
    let Some(backends) = backends else { return Ok(acc) };
    let mut want: Vec<String> = ["backend_node", "model", "at", "busy_secs"].iter().map(|s| s.to_string()).collect();
    want.extend(COUNTERS.iter().map(|s| s.to_string()));
    let merged: Vec<(usize, &str)> = LATENCIES.iter().copied().enumerate().filter(|(j, _)| latencies[*j]).collect();
    for (_, n) in &merged {
        for part in ["count", "zero", "sum", "min", "max", "bins_index", "bins_count"] {
            want.push(format!("{n}_{part}"));
        }
    }
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    // The day's traffic per (model, node), found once per batch per pair by name.
    let mut day: Vec<Traffic> = Vec::new();
    let mut by_name: HashMap<(String, String), usize> = HashMap::new();
    // (bucket, traffic index) → its use in the bucket (with a series).
    let mut uses: HashMap<(i64, u32), BackendUse> = HashMap::new();
    for b in batches(backends, &want).context("backends.parquet")? {
        let b = b.context("backends.parquet")?;
        let f = "backends.parquet";
        let (node, nodes) = keyed(column(&b, f, "backend_node")?)?;
        let (model, models) = keyed(column(&b, f, "model")?)?;
        let at = column(&b, f, "at")?.as_primitive::<TimestampMicrosecondType>();
        let busy = column(&b, f, "busy_secs")?.as_primitive::<Float64Type>();
        let counters: Vec<&arrow_array::UInt64Array> =
            COUNTERS.iter().map(|n| column(&b, f, n).map(|c| c.as_primitive::<UInt64Type>())).collect::<Result<_>>()?;
        let sketches: Vec<(usize, SketchCols)> =
            merged.iter().map(|(j, n)| Ok((*j, SketchCols::new(&b, n)?))).collect::<Result<_>>()?;
        // (model key, node key) → this batch's traffic, by a dense index (no hashing per row).
        let width = nodes.len() + 1;
        let mut slot: Vec<u32> = vec![u32::MAX; models.len() * width];
        let at_v = at.values();
        let check_at = at.null_count() > 0;
        let values: Vec<&[u64]> = counters.iter().map(|c| c.values().as_ref()).collect();
        let busy_v = busy.values();
        // Each row's traffic and counters first, then the sketches of one traffic's rows together:
        // its merged buckets stay in cache (rows come ordered by time, a different backend each).
        // A row's seconds in a slot: its end-to-end sum less its queue-wait sum (when read).
        let sum_of = |j: usize| sketches.iter().find(|(k, _)| *k == j).map(|(_, c)| c.sum);
        let (e2e_sum, queue_sum) = (sum_of(0), sum_of(2));
        let in_slot = |i: usize| -> f64 {
            let v = |a: Option<&arrow_array::Float64Array>| a.filter(|a| !a.is_null(i)).map_or(0.0, |a| a.value(i));
            (v(e2e_sum) - v(queue_sum)).max(0.0)
        };
        let mut cells: Vec<u32> = vec![u32::MAX; b.num_rows()];
        for (i, cell_of_row) in cells.iter_mut().enumerate() {
            if (check_at && at.is_null(i)) || model[i] == u32::MAX {
                continue;
            }
            let t = at_v[i];
            if t < from || t > to {
                continue;
            }
            let n = if node[i] == u32::MAX { nodes.len() } else { node[i] as usize };
            let cell = &mut slot[model[i] as usize * width + n];
            if *cell == u32::MAX {
                let name = (models[model[i] as usize].clone(), nodes.get(n).cloned().unwrap_or_default());
                *cell = *by_name.entry(name).or_insert_with(|| {
                    day.push(Traffic::default());
                    day.len() - 1
                }) as u32;
            }
            *cell_of_row = *cell;
            // Counters in row order (each column read straight through).
            let tr = &mut day[*cell as usize];
            for (a, c) in tr.counters.iter_mut().zip(&values) {
                *a += c[i];
            }
            tr.busy_secs += busy_v[i];
            tr.rows += 1;
            if let Some(w) = series_us {
                let mut c = [0u64; 10];
                for (a, v) in c.iter_mut().zip(&values) {
                    *a = v[i];
                }
                uses.entry(((t - 1).div_euclid(w), *cell)).or_default().add(&BackendUse::of(&c, busy_v[i]));
            }
            if let Some(w) = bucket_us {
                let n = values[0][i];
                *tr.rates.entry(n).or_default() += 1;
                let m = &models[model[i] as usize];
                let d = match acc.demand.get_mut(m) {
                    Some(d) => d,
                    None => acc.demand.entry(m.clone()).or_default(),
                };
                let x = d.entry((t - 1).div_euclid(w)).or_default();
                x.0 += n;
                x.1 += in_slot(i);
            }
        }
        let mut start = vec![0usize; day.len() + 1];
        for c in cells.iter().filter(|c| **c != u32::MAX) {
            start[*c as usize + 1] += 1;
        }
        for k in 1..start.len() {
            start[k] += start[k - 1];
        }
        let mut order = vec![0u32; start[day.len()]];
        let mut fill = start.clone();
        for (i, c) in cells.iter().enumerate().filter(|(_, c)| **c != u32::MAX) {
            order[fill[*c as usize]] = i as u32;
            fill[*c as usize] += 1;
        }
        // One sketch at a time: a smaller working set.
        for (j, sk) in &sketches {
            for (k, tr) in day.iter_mut().enumerate() {
                let m = [&mut tr.e2e, &mut tr.ttft, &mut tr.queue_wait].into_iter().nth(*j).expect("three sketches");
                for &i in &order[start[k]..start[k + 1]] {
                    sk.add_to(i as usize, m);
                }
            }
        }
    }
    if !uses.is_empty() {
        let mut names = vec![None; day.len()];
        for (name, k) in &by_name {
            names[*k] = Some(name);
        }
        for ((bucket, k), u) in uses {
            let Some(name) = names[k as usize] else { continue };
            acc.series.entry(bucket).or_default().backends.entry(name.clone()).or_default().add(&u);
        }
    }
    for (name, k) in by_name {
        acc.backends.insert(name, std::mem::take(&mut day[k]));
    }
    Ok(acc)
}

/// One sketch's columns in a batch of `backends.parquet`.
struct SketchCols<'a> {
    count: &'a arrow_array::UInt64Array,
    zero: &'a arrow_array::UInt64Array,
    sum: &'a arrow_array::Float64Array,
    min: &'a arrow_array::Float64Array,
    max: &'a arrow_array::Float64Array,
    index: &'a arrow_array::ListArray,
    index_values: &'a [i32],
    counts: &'a arrow_array::ListArray,
    count_values: &'a [u64],
}

impl<'a> SketchCols<'a> {
    fn new(b: &'a RecordBatch, n: &str) -> Result<Self> {
        let f = "backends.parquet";
        let index = column(b, f, &format!("{n}_bins_index"))?.as_list::<i32>();
        let counts = column(b, f, &format!("{n}_bins_count"))?.as_list::<i32>();
        Ok(SketchCols {
            count: column(b, f, &format!("{n}_count"))?.as_primitive::<UInt64Type>(),
            zero: column(b, f, &format!("{n}_zero"))?.as_primitive::<UInt64Type>(),
            sum: column(b, f, &format!("{n}_sum"))?.as_primitive::<Float64Type>(),
            min: column(b, f, &format!("{n}_min"))?.as_primitive::<Float64Type>(),
            max: column(b, f, &format!("{n}_max"))?.as_primitive::<Float64Type>(),
            index_values: index.values().as_primitive::<Int32Type>().values(),
            count_values: counts.values().as_primitive::<UInt64Type>().values(),
            index,
            counts,
        })
    }

    fn add_to(&self, i: usize, m: &mut Merger) {
        if self.count.is_null(i) {
            return;
        }
        let (io, co) = (self.index.value_offsets(), self.counts.value_offsets());
        let (ia, ib, ca, cb) = (io[i] as usize, io[i + 1] as usize, co[i] as usize, co[i + 1] as usize);
        let len = (ib - ia).min(cb - ca);
        let head = Head {
            count: self.count.value(i),
            zero: if self.zero.is_null(i) { 0 } else { self.zero.value(i) },
            sum: self.sum.value(i),
            min: self.min.value(i),
            max: self.max.value(i),
        };
        m.add_parts(head, &self.index_values[ia..ia + len], &self.count_values[ca..ca + len]);
    }
}

/// One day of the span and where its samples came from.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Day {
    pub date: String,
    /// `parquet`, `json`, `parquet+json` (compacted, with samples that came after), or
    /// `missing` (no samples at all: not a day of zeros).
    pub source: &'static str,
    pub samples: u64,
    /// Each model's traffic that day (models with none left out).
    pub models: Vec<DayModel>,
}

/// One model's traffic on one day.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct DayModel {
    pub model: String,
    pub requests: u64,
    pub ok: u64,
    pub failed: u64,
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub completion_tokens: u64,
}

impl DayModel {
    fn add(&mut self, c: &[u64; 10]) {
        self.requests += c[0];
        self.ok += c[1];
        self.failed += c[2];
        self.prompt_tokens += c[7];
        self.cached_tokens += c[8];
        self.completion_tokens += c[9];
    }
}

/// A day's accumulator's traffic per model.
fn day_models(acc: &Acc, into: &mut BTreeMap<String, DayModel>) {
    for ((model, _), t) in &acc.backends {
        let e = into.entry(model.clone()).or_insert_with(|| DayModel { model: model.clone(), ..Default::default() });
        e.add(&t.counters);
    }
}

/// Samples and throttled samples of a node at one whole degree of its hottest sensor.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TempBin {
    pub celsius: u32,
    pub samples: u64,
    pub throttled: u64,
}

/// Traffic totals and merged latencies of a model, or of a model on one node.
#[derive(Debug, Clone, Serialize)]
pub struct TrafficSummary {
    pub model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub requests: u64,
    pub ok: u64,
    pub failed: u64,
    pub cut: u64,
    pub client_gone: u64,
    pub rejected: u64,
    pub retried_elsewhere: u64,
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub completion_tokens: u64,
    /// Seconds with a request in flight, summed over the model's backends.
    pub busy_secs: f64,
    /// Backend-minutes of samples behind these numbers.
    pub backend_samples: u64,
    pub e2e_p50_ms: Option<f64>,
    pub e2e_p95_ms: Option<f64>,
    pub e2e_p99_ms: Option<f64>,
    pub ttft_p95_ms: Option<f64>,
    pub queue_wait_p95_ms: Option<f64>,
    /// Seconds of first-byte and of queue wait summed over the requests (the sketches' sums).
    pub ttft_sum_secs: f64,
    pub queue_wait_sum_secs: f64,
    /// The 95th percentile of the per-minute request rate over the samples (with
    /// [`SpanRequest::demand`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_per_min_p95: Option<f64>,
    /// The merged end-to-end sketch (quantiles of the whole span, any rank).
    pub e2e: Sketch,
    /// The merged queue-wait sketch (not serialized: its p95 and sum are above).
    #[serde(skip)]
    pub queue_wait: Sketch,
}

impl TrafficSummary {
    fn new(model: &str, node: Option<&str>, t: &Traffic, interval_secs: f64) -> Self {
        let c = t.counters;
        let e2e = t.e2e.finish();
        let (ttft, queue) = (t.ttft.finish(), t.queue_wait.finish());
        // The rate p95: the smallest count with at least 95% of the samples at or under it.
        let rate_per_min_p95 = (!t.rates.is_empty()).then(|| {
            let mut counts: Vec<(u64, u64)> = t.rates.iter().map(|(a, b)| (*a, *b)).collect();
            counts.sort_unstable();
            let total: u64 = counts.iter().map(|c| c.1).sum();
            let rank = (total as f64 * 0.95).ceil() as u64;
            let mut seen = 0;
            let n = counts.iter().find(|c| {
                seen += c.1;
                seen >= rank
            });
            n.map_or(0.0, |c| c.0 as f64) * 60.0 / interval_secs.max(1e-9)
        });
        let ms = |s: &Sketch, q: f64| s.quantile(q).map(|v| (v * 10_000.0).round() / 10.0);
        TrafficSummary {
            model: model.to_string(),
            node: node.map(str::to_string),
            requests: c[0],
            ok: c[1],
            failed: c[2],
            cut: c[3],
            client_gone: c[4],
            rejected: c[5],
            retried_elsewhere: c[6],
            prompt_tokens: c[7],
            cached_tokens: c[8],
            completion_tokens: c[9],
            busy_secs: (t.busy_secs * 1000.0).round() / 1000.0,
            backend_samples: t.rows,
            e2e_p50_ms: ms(&e2e, 0.5),
            e2e_p95_ms: ms(&e2e, 0.95),
            e2e_p99_ms: ms(&e2e, 0.99),
            ttft_p95_ms: ms(&ttft, 0.95),
            queue_wait_p95_ms: ms(&queue, 0.95),
            ttft_sum_secs: ttft.sum,
            queue_wait_sum_secs: queue.sum,
            rate_per_min_p95,
            e2e,
            queue_wait: queue,
        }
    }
}

/// One node over the span.
#[derive(Debug, Clone, Serialize)]
pub struct NodeSummary {
    pub node: String,
    pub samples: u64,
    /// Share of the span its samples cover (0..1); gaps count as down.
    pub uptime: f64,
    pub down_secs: f64,
    pub first_sample: Option<String>,
    pub last_sample: Option<String>,
    /// Samples with the CPU speed limited or the thermal pressure above nominal.
    pub throttled_samples: u64,
    pub throttled_share: Option<f64>,
    pub max_celsius: Option<f64>,
    /// Energy over the samples that measured it, joules (and how many did).
    pub energy_joules: f64,
    pub energy_samples: u64,
    /// model → prompt-cache entries evicted over the span, inferred from drops in the loader's
    /// logged count (read with [`SpanRequest::demand`]).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub prompt_cache_evictions_inferred: BTreeMap<String, u64>,
    /// Samples and throttled samples per whole degree of the hottest sensor, coolest first
    /// (degrees with no sample left out): how throttling tracks temperature.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub temperatures: Vec<TempBin>,
}

/// A span's telemetry, summed and merged.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub cluster: String,
    pub from: String,
    pub to: String,
    pub days: Vec<Day>,
    /// Days in the span with no sample at all.
    pub missing_days: Vec<String>,
    pub samples: u64,
    pub models: Vec<TrafficSummary>,
    /// Per model and node (the backend's node).
    pub backends: Vec<TrafficSummary>,
    pub nodes: Vec<NodeSummary>,
    /// The nodes' mean uptime; `None` with no node.
    pub cluster_uptime: Option<f64>,
    /// Throttled share of all samples; `None` with no sample.
    pub throttled_share: Option<f64>,
    /// Stretches of at least two sample intervals with no sample, per node.
    pub gaps: Vec<super::uptime::Gap>,
    /// Objects and files that could not be read (named; their days counted without them).
    pub skipped: Vec<String>,
    /// Each model's requests per sample interval, in time order (with [`SpanRequest::demand`];
    /// not serialized: a week is ten thousand numbers per model).
    #[serde(skip)]
    pub demand: Vec<Demand>,
    /// The span in buckets of [`SpanRequest::series_secs`], in time order (buckets with no
    /// sample left out; not serialized).
    #[serde(skip)]
    pub series: Vec<Bucket>,
}

/// One model's demand over a span: per bucket of `bucket_secs` (buckets with none left out), its
/// start (microseconds since the epoch), the requests and their seconds in a slot (end to end
/// less queue wait, summed: `0` when the latencies were not read).
#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    pub model: String,
    pub bucket_secs: f64,
    pub buckets: Vec<(i64, u64, f64)>,
}

/// How to read a span.
pub struct SpanRequest<'a> {
    pub cluster: &'a str,
    /// Nodes to account for even with no sample (the inventory's); nodes seen in the data are added.
    pub nodes: &'a [String],
    pub from: jiff::Timestamp,
    pub to: jiff::Timestamp,
    /// The monitor's sample interval (a sample without a window covers this much).
    pub interval_secs: f64,
    /// Days decoded at once (default: the cores).
    pub workers: usize,
    /// Which of [`LATENCIES`] to merge (a sketch not merged reads no column and has no
    /// quantiles).
    pub latencies: [bool; 3],
    /// Also keep each model's requests per sample interval ([`Summary::demand`]) and each
    /// backend's per-minute rate p95 (the placement diff's replay needs them).
    pub demand: bool,
    /// Also keep a series of buckets this many seconds wide ([`Summary::series`]: the
    /// dashboard's cost curve per hour).
    pub series_secs: Option<u32>,
}

/// Reads and sums `[from, to]` of a cluster's telemetry, compacted or not.
pub async fn span(store: &dyn Store, req: &SpanRequest<'_>) -> Result<Summary> {
    let utc = jiff::tz::TimeZone::UTC;
    let (first, last) = (req.from.to_zoned(utc.clone()).date(), req.to.to_zoned(utc).date());
    let (from_us, to_us) = (req.from.as_microsecond(), req.to.as_microsecond());
    let json_keys = store.list(&crate::store::keys::telemetry(req.cluster)).await?;
    let mut json_by_day: BTreeMap<String, Vec<&String>> = BTreeMap::new();
    for k in &json_keys {
        if !k.ends_with(".json") || !super::read::key_time(k).is_some_and(|t| t >= req.from && t <= req.to) {
            continue;
        }
        if let Some(d) = crate::store::keys::day_of(k).map(|d| d.to_string()) {
            json_by_day.entry(d.to_string()).or_default().push(k);
        }
    }
    let mut list = Vec::new();
    let mut day = first;
    while day <= last {
        list.push(day);
        day = match day.tomorrow() {
            Ok(d) => d,
            Err(_) => break,
        };
    }
    // Compacted days, decoded `workers` at a time and summed as they finish. What each day's
    // Parquet held is kept: its sample count, and (where JSON samples of the day exist too) its
    // (node, second) pairs, so no sample counts twice.
    struct Compacted {
        samples: u64,
        have: HashSet<(String, i64)>,
        models: BTreeMap<String, DayModel>,
    }
    let mut total = Acc::default();
    let mut compacted: HashMap<usize, Result<Compacted, String>> = HashMap::new();
    let absorb =
        |total: &mut Acc, pos: usize, r: Result<Acc>, compacted: &mut HashMap<usize, Result<Compacted, String>>| {
            let r = r.map(|a| {
                let mut have = HashSet::new();
                if json_by_day.contains_key(&list[pos].to_string()) {
                    for (n, acc) in &a.nodes {
                        have.extend(acc.windows.iter().map(|(t, _)| (n.clone(), t.div_euclid(1_000_000))));
                    }
                }
                let samples = a.samples;
                let mut models = BTreeMap::new();
                day_models(&a, &mut models);
                total.merge(a);
                Compacted { samples, have, models }
            });
            compacted.insert(pos, r.map_err(|e| format!("{e:#}")));
        };
    let workers = req.workers.max(1);
    let latencies = req.latencies;
    let bucket_us = req.demand.then(|| ((req.interval_secs * 1e6) as i64).max(1));
    let series_us = req.series_secs.map(|s| (s.max(1) as i64) * 1_000_000);
    let mut running: tokio::task::JoinSet<(usize, Result<Acc>)> = tokio::task::JoinSet::new();
    // Days are summed in date order whatever order they finish in (float sums come out the same
    // every run): those that finish early wait in `done`, at most `workers` of them.
    let mut order: std::collections::VecDeque<usize> = Default::default();
    let mut done: BTreeMap<usize, Result<Acc>> = BTreeMap::new();
    let drain = |total: &mut Acc,
                 order: &mut std::collections::VecDeque<usize>,
                 done: &mut BTreeMap<usize, Result<Acc>>,
                 compacted: &mut HashMap<usize, Result<Compacted, String>>| {
        while let Some(r) = order.front().and_then(|p| done.remove(p)) {
            let p = order.pop_front().expect("front");
            absorb(total, p, r, compacted);
        }
    };
    for (pos, day) in list.iter().enumerate() {
        let prefix = super::columnar::parquet_prefix(req.cluster, *day);
        let Some(samples) = Source::open(store, &format!("{prefix}samples.parquet")).await? else { continue };
        let backends = Source::open(store, &format!("{prefix}backends.parquet")).await?;
        compacted.insert(pos, Err("the reader stopped".into()));
        order.push_back(pos);
        while running.len() >= workers {
            match running.join_next().await {
                Some(Ok((p, r))) => _ = done.insert(p, r),
                Some(Err(e)) => anyhow::bail!("a day's reader failed: {e}"),
                None => break,
            }
            drain(&mut total, &mut order, &mut done, &mut compacted);
        }
        running.spawn_blocking(move || {
            (pos, read_day(samples, backends, from_us, to_us, latencies, bucket_us, series_us))
        });
    }
    while let Some(joined) = running.join_next().await {
        match joined {
            Ok((p, r)) => _ = done.insert(p, r),
            Err(e) => anyhow::bail!("a day's reader failed: {e}"),
        }
        drain(&mut total, &mut order, &mut done, &mut compacted);
    }
    let mut skipped = Vec::new();
    let mut days = Vec::new();
    for (pos, day) in list.iter().enumerate() {
        let d = day.to_string();
        let (mut samples, mut source) = (0, "missing");
        let mut have = HashSet::new();
        let mut models = BTreeMap::new();
        match compacted.remove(&pos) {
            Some(Ok(c)) => {
                (samples, source, have, models) = (c.samples, "parquet", c.have, c.models);
            }
            Some(Err(e)) => {
                let key = format!("{}samples.parquet", super::columnar::parquet_prefix(req.cluster, *day));
                tracing::warn!("skipping unreadable Parquet `{key}`: {e}");
                skipped.push(key);
            }
            None => {}
        }
        let mut json = Acc::default();
        for k in json_by_day.get(&d).into_iter().flatten() {
            let node = crate::store::keys::sample_node(k).unwrap_or_default();
            let Some(at) = super::read::key_time(k) else { continue };
            if have.contains(&(node.to_string(), at.as_second())) {
                continue;
            }
            let Some(body) = store.get(k).await? else { continue };
            match serde_json::from_slice::<Sample>(&body) {
                Ok(s) => {
                    let t = s.at.parse::<jiff::Timestamp>().map_or(at.as_microsecond(), |t| t.as_microsecond());
                    if (from_us..=to_us).contains(&t) {
                        json.add_sample(&s, t, bucket_us, series_us);
                    }
                }
                Err(e) => {
                    tracing::warn!("skipping corrupt sample `{k}`: {e}");
                    skipped.push(k.to_string());
                }
            }
        }
        if json.samples > 0 {
            source = if source == "parquet" { "parquet+json" } else { "json" };
            samples += json.samples;
            day_models(&json, &mut models);
            total.merge(json);
        }
        if samples == 0 {
            source = "missing";
        }
        let models =
            models.into_values().filter(|m| m.requests > 0 || m.prompt_tokens + m.completion_tokens > 0).collect();
        days.push(Day { date: d, source, samples, models });
    }
    Ok(finish(req, total, days, skipped))
}

fn finish(req: &SpanRequest<'_>, total: Acc, days: Vec<Day>, skipped: Vec<String>) -> Summary {
    let mut by_model: BTreeMap<String, Traffic> = BTreeMap::new();
    let mut backends = Vec::new();
    let mut keys: Vec<&(String, String)> = total.backends.keys().collect();
    keys.sort();
    for k in keys {
        let t = &total.backends[k];
        by_model.entry(k.0.clone()).or_default().merge(t);
        let node = Some(&k.1).filter(|n| !n.is_empty()).map(|n| n.as_str());
        backends.push(TrafficSummary::new(&k.0, node, t, req.interval_secs));
    }
    let models = by_model.iter().map(|(m, t)| TrafficSummary::new(m, None, t, req.interval_secs)).collect();
    let width = ((req.interval_secs * 1e6) as i64).max(1);
    let mut demand: Vec<Demand> = total
        .demand
        .iter()
        .map(|(m, d)| {
            let mut buckets: Vec<(i64, u64, f64)> = d.iter().map(|(b, (n, secs))| (b * width, *n, *secs)).collect();
            buckets.sort_unstable_by_key(|b| b.0);
            Demand { model: m.clone(), bucket_secs: req.interval_secs, buckets }
        })
        .collect();
    demand.sort_by(|a, b| a.model.cmp(&b.model));
    let series_secs = f64::from(req.series_secs.unwrap_or(0).max(1));
    let mut series: Vec<Bucket> = total
        .series
        .into_iter()
        .map(|(b, x)| Bucket {
            start_us: b * series_secs as i64 * 1_000_000,
            secs: series_secs,
            nodes: x.nodes.into_iter().collect(),
            backends: x.backends.into_iter().collect(),
        })
        .collect();
    series.sort_unstable_by_key(|b| b.start_us);
    let span = req.to.duration_since(req.from).as_secs_f64().max(1e-9);
    let mut names: Vec<String> = req.nodes.to_vec();
    for n in total.nodes.keys() {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    let mut gaps = Vec::new();
    let mut nodes = Vec::new();
    let empty = NodeAcc::default();
    let stamp = |us: i64| jiff::Timestamp::from_microsecond(us).map(|t| t.to_string()).ok();
    for name in &names {
        let n = total.nodes.get(name).unwrap_or(&empty);
        let from_us = req.from.as_microsecond();
        let windows = n
            .windows
            .iter()
            .map(|(end, w)| {
                let end = (end - from_us) as f64 / 1e6;
                let w = if *w > 0 { f64::from(*w) } else { req.interval_secs };
                (end - w, end)
            })
            .collect();
        let u = super::uptime::node_uptime(name, windows, req.from, span, 2.0 * req.interval_secs, &mut gaps);
        let samples = n.windows.len() as u64;
        nodes.push(NodeSummary {
            node: name.clone(),
            samples,
            uptime: u.uptime,
            down_secs: u.down_secs,
            first_sample: n.windows.iter().map(|w| w.0).min().and_then(stamp),
            last_sample: n.windows.iter().map(|w| w.0).max().and_then(stamp),
            throttled_samples: n.throttled,
            throttled_share: (samples > 0).then(|| n.throttled as f64 / samples as f64),
            max_celsius: n.max_celsius,
            energy_joules: n.energy_joules,
            energy_samples: n.energy_samples,
            prompt_cache_evictions_inferred: n.cache_evictions.clone(),
            temperatures: n
                .temps
                .iter()
                .enumerate()
                .filter(|(_, b)| b[0] > 0)
                .map(|(c, b)| TempBin { celsius: c as u32, samples: b[0], throttled: b[1] })
                .collect(),
        });
    }
    let throttled: u64 = nodes.iter().map(|n| n.throttled_samples).sum();
    let missing_days = days.iter().filter(|d| d.source == "missing").map(|d| d.date.clone()).collect();
    Summary {
        cluster: req.cluster.to_string(),
        from: req.from.to_string(),
        to: req.to.to_string(),
        days,
        missing_days,
        samples: total.samples,
        models,
        backends,
        cluster_uptime: (!nodes.is_empty()).then(|| nodes.iter().map(|n| n.uptime).sum::<f64>() / nodes.len() as f64),
        throttled_share: (total.samples > 0).then(|| throttled as f64 / total.samples as f64),
        nodes,
        gaps,
        skipped,
        demand,
        series,
    }
}
