//! Telemetry in Parquet: a day of per-minute samples rolled into two files a cluster's store keeps
//! under `telemetry-parquet/cluster=<c>/date=<d>/` (hive-style, so DuckDB, ClickHouse, Trino and
//! Spark read it as it is): `samples.parquet`, one row per sample (node-level numbers, per-model
//! sums, the models and loaders as JSON text), and `backends.parquet`, one row per backend per
//! sample with its sketches as plain columns (count, sum, min, max, zero and two parallel lists of
//! bucket indexes and counts), so that any engine merges them by adding counts per index
//! (`telemetry::sketch`). The columns are the interface, documented in `docs/telemetry.md`.

use std::sync::Arc;

use arrow_array::builder::{
    Float64Builder, Int32Builder, ListBuilder, StringBuilder, TimestampMicrosecondBuilder, UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::Sample;

fn micros(at: &str) -> Option<i64> {
    at.parse::<jiff::Timestamp>().ok().map(|t| t.as_microsecond())
}

/// Rows per row group: readers decode (and DuckDB parallelises) a group at a time, and the writer
/// holds no more than one group before it is encoded.
const ROW_GROUP: usize = 64 * 1024;

fn props() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP))
        .build()
}

fn write(batch: RecordBatch) -> parquet::errors::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, batch.schema(), Some(props()))?;
    w.write(&batch)?;
    w.close()?;
    Ok(out)
}

/// The two files of a day written a chunk of samples at a time (compaction of a 100-node day
/// holds an hour of samples, not the day).
pub struct DayWriter {
    samples: Option<ArrowWriter<Vec<u8>>>,
    backends: Option<ArrowWriter<Vec<u8>>>,
    pub sample_rows: u64,
    pub backend_rows: u64,
}

impl DayWriter {
    pub fn new() -> Self {
        DayWriter { samples: None, backends: None, sample_rows: 0, backend_rows: 0 }
    }

    /// Appends `chunk` (in the order the file keeps: node, then time).
    pub fn write(&mut self, chunk: &[Sample]) -> parquet::errors::Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        for (w, batch) in [(&mut self.samples, samples_batch(chunk)?), (&mut self.backends, backends_batch(chunk)?)] {
            if w.is_none() {
                *w = Some(ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props()))?);
            }
            w.as_mut().expect("set above").write(&batch)?;
        }
        self.sample_rows += chunk.len() as u64;
        self.backend_rows += chunk.iter().map(|s| s.backends.len() as u64).sum::<u64>();
        Ok(())
    }

    /// The two files' bytes; `None` when nothing was written.
    pub fn finish(self) -> parquet::errors::Result<Option<(Vec<u8>, Vec<u8>)>> {
        match (self.samples, self.backends) {
            (Some(s), Some(b)) => Ok(Some((s.into_inner()?, b.into_inner()?))),
            _ => Ok(None),
        }
    }
}

impl Default for DayWriter {
    fn default() -> Self {
        Self::new()
    }
}

fn ts_field(name: &str) -> Field {
    Field::new(name, DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true)
}

/// `samples.parquet`: one row per sample.
pub fn samples_parquet(samples: &[Sample]) -> parquet::errors::Result<Vec<u8>> {
    write(samples_batch(samples)?)
}

fn samples_batch(samples: &[Sample]) -> parquet::errors::Result<RecordBatch> {
    let (mut cluster, mut node, mut pressure, mut tpressure, mut source, mut models, mut loaders) = (
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let mut at = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let (mut window, mut version, mut speed) = (UInt32Builder::new(), UInt32Builder::new(), UInt32Builder::new());
    let mut u: Vec<UInt64Builder> = (0..10).map(|_| UInt64Builder::new()).collect();
    let mut f: Vec<Float64Builder> = (0..4).map(|_| Float64Builder::new()).collect();
    for s in samples {
        cluster.append_value(&s.cluster);
        node.append_value(&s.node);
        at.append_option(micros(&s.at));
        window.append_value(s.window_secs);
        version.append_value(s.schema_version);
        let m = &s.memory;
        for (b, v) in u.iter_mut().zip([m.total_bytes, m.used_bytes, m.free_bytes, m.swap_used_bytes]) {
            b.append_option(v);
        }
        pressure.append_option(m.pressure.as_deref());
        let sum = |g: fn(&super::ModelStats) -> u64| s.models.iter().map(g).sum::<u64>();
        for (b, v) in u[4..].iter_mut().zip([
            sum(|m| m.requests),
            sum(|m| m.failures),
            sum(|m| m.prompt_tokens),
            sum(|m| m.completion_tokens),
            sum(|m| m.cached_tokens),
            s.backends.len() as u64,
        ]) {
            b.append_value(v);
        }
        let p = s.power.clone().unwrap_or_default();
        for (b, v) in f.iter_mut().zip([s.thermal.max_celsius, p.system_watts, p.package_watts, p.energy_joules]) {
            b.append_option(v);
        }
        tpressure.append_option(s.thermal.pressure.as_deref());
        speed.append_option(s.thermal.cpu_speed_limit);
        source.append_option(p.source.as_deref());
        models.append_value(serde_json::to_string(&s.models).expect("serializes"));
        loaders.append_value(serde_json::to_string(&s.loaders).expect("serializes"));
    }
    let u64f = |n: &str| Field::new(n, DataType::UInt64, true);
    let f64f = |n: &str| Field::new(n, DataType::Float64, true);
    let strf = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
    let schema = Schema::new(vec![
        strf("cluster", false),
        strf("node", false),
        ts_field("at"),
        Field::new("window_secs", DataType::UInt32, false),
        Field::new("schema_version", DataType::UInt32, false),
        u64f("memory_total_bytes"),
        u64f("memory_used_bytes"),
        u64f("memory_free_bytes"),
        u64f("swap_used_bytes"),
        strf("memory_pressure", true),
        Field::new("requests", DataType::UInt64, false),
        Field::new("failures", DataType::UInt64, false),
        Field::new("prompt_tokens", DataType::UInt64, false),
        Field::new("completion_tokens", DataType::UInt64, false),
        Field::new("cached_tokens", DataType::UInt64, false),
        Field::new("backend_rows", DataType::UInt64, false),
        f64f("max_celsius"),
        strf("thermal_pressure", true),
        Field::new("cpu_speed_limit", DataType::UInt32, true),
        f64f("system_watts"),
        f64f("package_watts"),
        f64f("energy_joules"),
        strf("power_source", true),
        strf("models", false),
        strf("loaders", false),
    ]);
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(cluster.finish()),
        Arc::new(node.finish()),
        Arc::new(at.finish()),
        Arc::new(window.finish()),
        Arc::new(version.finish()),
    ];
    let mut u = u.into_iter().map(|mut b| Arc::new(b.finish()) as ArrayRef);
    cols.extend(u.by_ref().take(4));
    cols.push(Arc::new(pressure.finish()));
    cols.extend(u);
    let mut f = f.into_iter().map(|mut b| Arc::new(b.finish()) as ArrayRef);
    cols.push(f.next().expect("max_celsius"));
    cols.push(Arc::new(tpressure.finish()));
    cols.push(Arc::new(speed.finish()));
    cols.extend(f);
    cols.push(Arc::new(source.finish()));
    cols.push(Arc::new(models.finish()));
    cols.push(Arc::new(loaders.finish()));
    Ok(RecordBatch::try_new(Arc::new(schema), cols)?)
}

/// `backends.parquet`: one row per backend per sample, sketches in [`SKETCHES`]' columns.
pub fn backends_parquet(samples: &[Sample]) -> parquet::errors::Result<Vec<u8>> {
    write(backends_batch(samples)?)
}

fn backends_batch(samples: &[Sample]) -> parquet::errors::Result<RecordBatch> {
    let mut s_ = (0..5).map(|_| StringBuilder::new()).collect::<Vec<_>>(); // cluster node backend backend_node model
    let mut sk: Vec<SketchCols> = SKETCHES.iter().map(|_| SketchCols::default()).collect();
    let mut at = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut window = UInt32Builder::new();
    let mut u: Vec<UInt64Builder> = (0..10).map(|_| UInt64Builder::new()).collect();
    let (mut busy, mut util) = (Float64Builder::new(), Float64Builder::new());
    for s in samples {
        for b in &s.backends {
            for (col, v) in s_.iter_mut().zip([
                Some(s.cluster.as_str()),
                Some(s.node.as_str()),
                Some(b.backend.as_str()),
                b.node.as_deref(),
                Some(b.model.as_str()),
            ]) {
                col.append_option(v);
            }
            at.append_option(micros(&s.at));
            window.append_value(s.window_secs);
            for (col, v) in u.iter_mut().zip(b.counters()) {
                col.append_value(v);
            }
            busy.append_value(b.busy_secs);
            util.append_option(b.utilization);
            for (col, v) in sk.iter_mut().zip([&b.e2e, &b.ttft, &b.itl, &b.queue_wait]) {
                col.append(v.as_ref());
            }
        }
    }
    let strf = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
    let mut fields = vec![
        strf("cluster", false),
        strf("node", false),
        strf("backend", false),
        strf("backend_node", true),
        strf("model", false),
        ts_field("at"),
        Field::new("window_secs", DataType::UInt32, false),
    ];
    for n in super::BackendStats::COUNTERS {
        fields.push(Field::new(n, DataType::UInt64, false));
    }
    fields.push(Field::new("busy_secs", DataType::Float64, false));
    fields.push(Field::new("utilization", DataType::Float64, true));
    for n in SKETCHES {
        fields.extend(SketchCols::fields(n));
    }
    let mut cols: Vec<ArrayRef> = s_.into_iter().map(|mut b| Arc::new(b.finish()) as ArrayRef).collect();
    cols.push(Arc::new(at.finish()));
    cols.push(Arc::new(window.finish()));
    cols.extend(u.into_iter().map(|mut b| Arc::new(b.finish()) as ArrayRef));
    cols.push(Arc::new(busy.finish()));
    cols.push(Arc::new(util.finish()));
    for mut b in sk {
        cols.extend(b.finish());
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
}

/// Rows in a Parquet file (from its footer): what compaction checks before deleting anything.
pub fn rows(bytes: &[u8]) -> parquet::errors::Result<u64> {
    use parquet::file::reader::FileReader;
    let r = parquet::file::serialized_reader::SerializedFileReader::new(bytes::Bytes::copy_from_slice(bytes))?;
    Ok(r.metadata().file_metadata().num_rows() as u64)
}

/// What compacting one day did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct DayReport {
    pub date: String,
    pub samples: usize,
    pub backend_rows: u64,
    pub bytes: usize,
    pub prefix: String,
    pub deleted: usize,
    /// Corrupt samples skipped (named in warnings); they block deletion.
    pub skipped: usize,
}

/// Where a day's Parquet files go.
pub fn parquet_prefix(cluster: &str, day: jiff::civil::Date) -> String {
    crate::store::keys::parquet_day(cluster, day)
}

/// Compacts `cluster`'s samples of `day` (from the key listing `keys`) into Parquet in `store`,
/// reads both files back and checks every row, then deletes the JSON when `delete` (and nothing
/// was corrupt). A day without samples writes nothing.
pub async fn compact_day(
    store: &dyn crate::store::Store,
    cluster: &str,
    day: jiff::civil::Date,
    keys: &[String],
    delete: bool,
) -> anyhow::Result<DayReport> {
    use anyhow::Context;
    let marker = format!("/date={day}/");
    let keys: Vec<&String> = keys.iter().filter(|k| k.contains(&marker) && k.ends_with(".json")).collect();
    let mut report = DayReport { date: day.to_string(), prefix: parquet_prefix(cluster, day), ..Default::default() };
    // An hour of one node's samples at a time (keys list node by node, each in time order), so
    // a 100-node day never sits in memory whole.
    let mut w = DayWriter::new();
    let mut chunk: Vec<Sample> = Vec::new();
    let node_of = |k: &str| crate::store::keys::sample_node(k).map(str::to_string);
    let mut current = None;
    for (n, k) in keys.iter().enumerate() {
        let node = node_of(k);
        if (node != current || chunk.len() >= 60) && !chunk.is_empty() {
            chunk.sort_by(|a, b| (&a.node, &a.at).cmp(&(&b.node, &b.at)));
            w.write(&chunk)?;
            chunk.clear();
        }
        current = node;
        match store.get(k).await?.map(|b| serde_json::from_slice::<Sample>(&b)) {
            Some(Ok(s)) => chunk.push(s),
            Some(Err(e)) => {
                tracing::warn!("skipping corrupt sample `{k}`: {e}");
                report.skipped += 1;
            }
            None => {}
        }
        if n + 1 == keys.len() && !chunk.is_empty() {
            chunk.sort_by(|a, b| (&a.node, &a.at).cmp(&(&b.node, &b.at)));
            w.write(&chunk)?;
            chunk.clear();
        }
    }
    report.samples = w.sample_rows as usize;
    report.backend_rows = w.backend_rows;
    let Some((samples_file, backends_file)) = w.finish()? else { return Ok(report) };
    let files = [
        ("samples.parquet", samples_file, report.samples as u64),
        ("backends.parquet", backends_file, report.backend_rows),
    ];
    for (name, data, want) in &files {
        let key = format!("{}{name}", report.prefix);
        store.put(&key, data).await?;
        // Read back from the store: every row there, or nothing is deleted.
        let back = store.get(&key).await?.with_context(|| format!("`{key}` vanished after writing"))?;
        let got = rows(&back).with_context(|| format!("`{key}` does not read back"))?;
        anyhow::ensure!(got == *want, "`{key}` holds {got} rows, {want} were written; nothing deleted");
        report.bytes += data.len();
    }
    if delete && report.skipped == 0 {
        for k in &keys {
            store.delete(k).await?;
            report.deleted += 1;
        }
    }
    Ok(report)
}

/// The sketches a backend row carries, each as seven columns `<name>_count`, `_sum`, `_min`,
/// `_max`, `_zero`, `_bins_index` (list of int32) and `_bins_count` (list of uint64), null when the
/// window had none: any engine merges them by summing counts per index (`docs/telemetry.md`).
pub const SKETCHES: [&str; 4] = ["e2e", "ttft", "itl", "queue_wait"];

#[derive(Default)]
struct SketchCols {
    count: UInt64Builder,
    zero: UInt64Builder,
    sum: Float64Builder,
    min: Float64Builder,
    max: Float64Builder,
    index: ListBuilder<Int32Builder>,
    counts: ListBuilder<UInt64Builder>,
}

impl SketchCols {
    fn append(&mut self, s: Option<&super::sketch::Sketch>) {
        match s {
            Some(s) => {
                self.count.append_value(s.count);
                self.zero.append_value(s.zero);
                self.sum.append_value(s.sum);
                self.min.append_value(s.min);
                self.max.append_value(s.max);
                for (i, n) in &s.bins {
                    self.index.values().append_value(*i);
                    self.counts.values().append_value(*n);
                }
                self.index.append(true);
                self.counts.append(true);
            }
            None => {
                self.count.append_null();
                self.zero.append_null();
                self.sum.append_null();
                self.min.append_null();
                self.max.append_null();
                self.index.append(false);
                self.counts.append(false);
            }
        }
    }
    fn fields(n: &str) -> Vec<Field> {
        let list = |t: DataType| DataType::List(Arc::new(Field::new("item", t, true)));
        vec![
            Field::new(format!("{n}_count"), DataType::UInt64, true),
            Field::new(format!("{n}_zero"), DataType::UInt64, true),
            Field::new(format!("{n}_sum"), DataType::Float64, true),
            Field::new(format!("{n}_min"), DataType::Float64, true),
            Field::new(format!("{n}_max"), DataType::Float64, true),
            Field::new(format!("{n}_bins_index"), list(DataType::Int32), true),
            Field::new(format!("{n}_bins_count"), list(DataType::UInt64), true),
        ]
    }
    fn finish(&mut self) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.count.finish()),
            Arc::new(self.zero.finish()),
            Arc::new(self.sum.finish()),
            Arc::new(self.min.finish()),
            Arc::new(self.max.finish()),
            Arc::new(self.index.finish()),
            Arc::new(self.counts.finish()),
        ]
    }
}

/// One sketch's seven columns of a `backends.parquet` batch, read back.
pub(crate) struct SketchReader {
    count: Vec<Option<u64>>,
    zero: Vec<Option<u64>>,
    sum: Vec<Option<f64>>,
    min: Vec<Option<f64>>,
    max: Vec<Option<f64>>,
    index: arrow_array::ListArray,
    counts: arrow_array::ListArray,
}

impl SketchReader {
    fn new(c: &Cols, n: &str) -> anyhow::Result<Self> {
        use arrow_array::cast::AsArray;
        Ok(SketchReader {
            count: c.u64s(&format!("{n}_count"))?,
            zero: c.u64s(&format!("{n}_zero"))?,
            sum: c.f64s(&format!("{n}_sum"))?,
            min: c.f64s(&format!("{n}_min"))?,
            max: c.f64s(&format!("{n}_max"))?,
            index: c.col(&format!("{n}_bins_index"))?.as_list::<i32>().clone(),
            counts: c.col(&format!("{n}_bins_count"))?.as_list::<i32>().clone(),
        })
    }
    fn get(&self, i: usize) -> Option<super::sketch::Sketch> {
        use arrow_array::cast::AsArray;
        let count = self.count[i]?;
        let (ix, n) = (self.index.value(i), self.counts.value(i));
        let (ix, n) =
            (ix.as_primitive::<arrow_array::types::Int32Type>(), n.as_primitive::<arrow_array::types::UInt64Type>());
        let bins = (0..ix.len().min(n.len())).map(|k| (ix.value(k), n.value(k))).collect();
        Some(super::sketch::Sketch {
            count,
            zero: self.zero[i].unwrap_or(0),
            sum: self.sum[i].unwrap_or(0.0),
            min: self.min[i].unwrap_or(0.0),
            max: self.max[i].unwrap_or(0.0),
            bins,
        })
    }
}

/// A record batch's columns by name, typed (the reader's one way to get at them).
pub(crate) struct Cols<'a>(pub(crate) &'a RecordBatch, pub(crate) &'static str);

impl Cols<'_> {
    pub(crate) fn col(&self, n: &str) -> anyhow::Result<&arrow_array::ArrayRef> {
        self.0.column_by_name(n).ok_or_else(|| anyhow::anyhow!("{} has no `{n}`", self.1))
    }
    pub(crate) fn st(&self, n: &str) -> anyhow::Result<Vec<Option<String>>> {
        use arrow_array::cast::AsArray;
        Ok(self.col(n)?.as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect())
    }
    pub(crate) fn u64s(&self, n: &str) -> anyhow::Result<Vec<Option<u64>>> {
        use arrow_array::cast::AsArray;
        Ok(self.col(n)?.as_primitive::<arrow_array::types::UInt64Type>().iter().collect())
    }
    pub(crate) fn u32s(&self, n: &str) -> anyhow::Result<Vec<Option<u32>>> {
        use arrow_array::cast::AsArray;
        Ok(self.col(n)?.as_primitive::<arrow_array::types::UInt32Type>().iter().collect())
    }
    pub(crate) fn f64s(&self, n: &str) -> anyhow::Result<Vec<Option<f64>>> {
        use arrow_array::cast::AsArray;
        Ok(self.col(n)?.as_primitive::<arrow_array::types::Float64Type>().iter().collect())
    }
}

/// Samples back from a day's two Parquet files (the inverse of `samples_parquet` and
/// `backends_parquet`): what the reader uses for days whose JSON samples were deleted.
pub fn read_samples(samples: &[u8], backends: Option<&[u8]>) -> anyhow::Result<Vec<Sample>> {
    read_samples_where(samples, backends, &|_, _| true)
}

/// Each node's newest sample time (µs) in a day's `samples.parquet`: only the `node` and `at`
/// columns are read.
pub fn newest_times(samples: &[u8]) -> anyhow::Result<std::collections::HashMap<String, i64>> {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::TimestampMicrosecondType;
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let b = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(samples))?;
    let mask = ProjectionMask::columns(b.parquet_schema(), ["node", "at"]);
    let mut out: std::collections::HashMap<String, i64> = Default::default();
    for batch in b.with_projection(mask).build()? {
        let batch = batch?;
        let c = Cols(&batch, "samples.parquet");
        let (node, at) = (c.st("node")?, c.col("at")?.as_primitive::<TimestampMicrosecondType>().clone());
        for (i, n) in node.into_iter().enumerate() {
            if let Some(n) = n
                && !at.is_null(i)
            {
                let e = out.entry(n).or_insert(i64::MIN);
                *e = (*e).max(at.value(i));
            }
        }
    }
    Ok(out)
}

/// [`read_samples`], building only the samples `keep(node, at µs)` accepts (and their backend
/// rows): a day's newest sample per node without a day's worth of samples in memory.
pub fn read_samples_where(
    samples: &[u8],
    backends: Option<&[u8]>,
    keep: &dyn Fn(&str, i64) -> bool,
) -> anyhow::Result<Vec<Sample>> {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::TimestampMicrosecondType;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let batches = |b: &[u8]| -> anyhow::Result<Vec<RecordBatch>> {
        let r = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(b))?.build()?;
        Ok(r.collect::<Result<Vec<_>, _>>()?)
    };
    let at_string = |v: i64| jiff::Timestamp::from_microsecond(v).map(|t| t.to_string()).unwrap_or_default();
    let mut out: Vec<Sample> = Vec::new();
    for batch in batches(samples)? {
        let c = Cols(&batch, "samples.parquet");
        let (cluster, node, at) =
            (c.st("cluster")?, c.st("node")?, c.col("at")?.as_primitive::<TimestampMicrosecondType>().clone());
        let (window, version, speed) = (c.u32s("window_secs")?, c.u32s("schema_version")?, c.u32s("cpu_speed_limit")?);
        let (total, used, free, swap) = (
            c.u64s("memory_total_bytes")?,
            c.u64s("memory_used_bytes")?,
            c.u64s("memory_free_bytes")?,
            c.u64s("swap_used_bytes")?,
        );
        let (mp, tp, source, models, loaders) = (
            c.st("memory_pressure")?,
            c.st("thermal_pressure")?,
            c.st("power_source")?,
            c.st("models")?,
            c.st("loaders")?,
        );
        let (celsius, sys_w, pkg_w, joules) =
            (c.f64s("max_celsius")?, c.f64s("system_watts")?, c.f64s("package_watts")?, c.f64s("energy_joules")?);
        for i in 0..batch.num_rows() {
            if !keep(node[i].as_deref().unwrap_or(""), if at.is_null(i) { i64::MIN } else { at.value(i) }) {
                continue;
            }
            let power =
                (sys_w[i].is_some() || pkg_w[i].is_some() || joules[i].is_some() || source[i].is_some()).then(|| {
                    super::Power {
                        package_watts: pkg_w[i],
                        system_watts: sys_w[i],
                        energy_joules: joules[i],
                        source: source[i].clone(),
                    }
                });
            out.push(Sample {
                schema_version: version[i].unwrap_or(1),
                cluster: cluster[i].clone().unwrap_or_default(),
                node: node[i].clone().unwrap_or_default(),
                at: if at.is_null(i) { String::new() } else { at_string(at.value(i)) },
                window_secs: window[i].unwrap_or(0),
                memory: super::Memory {
                    total_bytes: total[i],
                    used_bytes: used[i],
                    free_bytes: free[i],
                    swap_used_bytes: swap[i],
                    pressure: mp[i].clone(),
                    ..Default::default()
                },
                thermal: super::Thermal {
                    max_celsius: celsius[i],
                    pressure: tp[i].clone(),
                    cpu_speed_limit: speed[i],
                    ..Default::default()
                },
                power,
                models: models[i].as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default(),
                backends: Vec::new(),
                loaders: loaders[i].as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default(),
            });
        }
    }
    // Each backend row back into its sample (same node and time).
    let mut index: std::collections::HashMap<(String, String), usize> =
        out.iter().enumerate().map(|(i, s)| ((s.node.clone(), s.at.clone()), i)).collect();
    for batch in backends.map(batches).transpose()?.unwrap_or_default() {
        let c = Cols(&batch, "backends.parquet");
        let at = c.col("at")?.as_primitive::<TimestampMicrosecondType>().clone();
        let (node, backend, bnode, model) = (c.st("node")?, c.st("backend")?, c.st("backend_node")?, c.st("model")?);
        let n: Vec<Vec<Option<u64>>> =
            super::BackendStats::COUNTERS.iter().map(|n| c.u64s(n)).collect::<anyhow::Result<_>>()?;
        let (busy, util) = (c.f64s("busy_secs")?, c.f64s("utilization")?);
        let sk: Vec<SketchReader> = SKETCHES.iter().map(|n| SketchReader::new(&c, n)).collect::<anyhow::Result<_>>()?;
        for i in 0..batch.num_rows() {
            let key = (
                node[i].clone().unwrap_or_default(),
                if at.is_null(i) { String::new() } else { at_string(at.value(i)) },
            );
            let Some(&k) = index.get(&key) else { continue };
            let v = |j: usize| n[j][i].unwrap_or(0);
            out[k].backends.push(super::BackendStats {
                backend: backend[i].clone().unwrap_or_default(),
                node: bnode[i].clone(),
                model: model[i].clone().unwrap_or_default(),
                requests: v(0),
                ok: v(1),
                failed: v(2),
                cut: v(3),
                client_gone: v(4),
                rejected: v(5),
                retried_elsewhere: v(6),
                prompt_tokens: v(7),
                cached_tokens: v(8),
                completion_tokens: v(9),
                busy_secs: busy[i].unwrap_or(0.0),
                utilization: util[i],
                e2e: sk[0].get(i),
                ttft: sk[1].get(i),
                itl: sk[2].get(i),
                queue_wait: sk[3].get(i),
            });
        }
    }
    index.clear();
    Ok(out)
}
