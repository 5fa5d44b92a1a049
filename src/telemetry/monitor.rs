//! The monitor: the daemon on every node. Every interval it builds one [`Sample`] (memory,
//! thermal, power, and per-model traffic from the router's stats where the router runs), spools
//! it, and ships the spool to the store; it watches the node's loaders and records their start and
//! stop as events. Its health endpoint says when it last sampled and shipped and what is waiting.
//!
//! Nothing is lost: a sample is on disk before shipping is tried; shipping runs apart from
//! sampling, each store call with a deadline, so a store that hangs or refuses only grows the
//! spool (bounded, with one warning when samples must be dropped) and never delays a sample; a restart finds the spool again,
//! and the last router counters are kept on disk too, so the traffic between the last sample before
//! a restart and the first after it is still counted.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hyper::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::sketch::Sketch;
use super::spool::{Spool, telemetry_key};
use super::{ModelStats, Power, SCHEMA_VERSION, Sample};
use crate::node::config::NodeConfig;

/// What the health endpoint reports.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Health {
    pub node: String,
    pub started_at: String,
    pub samples: u64,
    pub last_sample_at: Option<String>,
    pub last_shipped_at: Option<String>,
    pub shipped: u64,
    pub spooled: usize,
    pub dropped: u64,
    /// The store's last error while it is failing; `None` once shipping works.
    pub store_error: Option<String>,
}

/// Router counters kept between samples (and across restarts, in the spool folder).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct RouterCounters {
    version: Option<u64>,
    models: BTreeMap<String, ModelCounters>,
    /// Per backend id (absent in counters saved before schema 2).
    #[serde(default)]
    backends: BTreeMap<String, BackendCounters>,
}

/// One backend's cumulative counters and sketches, as `/admin/stats` reports them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
struct BackendCounters {
    model: String,
    /// Attempts sent, and attempts that failed (including ones retried elsewhere).
    requests: u64,
    failures: u64,
    ok: u64,
    failed: u64,
    cut: u64,
    client_gone: u64,
    rejected: u64,
    prompt_tokens: u64,
    cached_tokens: u64,
    completion_tokens: u64,
    busy_secs: f64,
    e2e: Option<Sketch>,
    ttft: Option<Sketch>,
    itl: Option<Sketch>,
    queue_wait: Option<Sketch>,
}

impl BackendCounters {
    fn ended(&self) -> u64 {
        self.ok + self.failed + self.cut + self.client_gone + self.rejected
    }
}

fn backends_from_stats(v: &Value) -> BTreeMap<String, BackendCounters> {
    let mut out = BTreeMap::new();
    for m in v["models"].as_array().into_iter().flatten() {
        let Some(model) = m["model"].as_str() else { continue };
        for b in m["backends"].as_array().into_iter().flatten() {
            let Some(id) = b["id"].as_str() else { continue };
            if let Ok(mut c) = serde_json::from_value::<BackendCounters>(b.clone()) {
                c.model = model.to_string();
                out.insert(id.to_string(), c);
            }
        }
    }
    out
}

/// Per-backend traffic between two snapshots (all of `now` for a backend whose counters went
/// down: the router restarted).
fn backend_deltas(prev: &RouterCounters, now: &RouterCounters, window: f64) -> Vec<super::BackendStats> {
    now.backends
        .iter()
        .map(|(id, n)| {
            let p = prev.backends.get(id).filter(|p| p.ended() <= n.ended() && p.requests <= n.requests);
            let d = |f: fn(&BackendCounters) -> u64| f(n).saturating_sub(p.map_or(0, f));
            let sk = |f: fn(&BackendCounters) -> &Option<Sketch>| -> Option<Sketch> {
                let now = f(n).as_ref()?;
                let w = match p.and_then(|p| f(p).as_ref()) {
                    Some(before) => now.since(before).unwrap_or_else(|| now.clone()),
                    None => now.clone(),
                };
                (!w.is_empty()).then_some(w)
            };
            let busy = (n.busy_secs - p.map_or(0.0, |p| p.busy_secs)).max(0.0);
            let (failed, cut) = (d(|c| c.failed), d(|c| c.cut));
            super::BackendStats {
                backend: id.clone(),
                node: id.split_once('/').map(|(node, _)| node.to_string()),
                model: n.model.clone(),
                requests: d(BackendCounters::ended),
                ok: d(|c| c.ok),
                failed,
                cut,
                client_gone: d(|c| c.client_gone),
                rejected: d(|c| c.rejected),
                retried_elsewhere: d(|c| c.failures).saturating_sub(failed + cut),
                prompt_tokens: d(|c| c.prompt_tokens),
                cached_tokens: d(|c| c.cached_tokens),
                completion_tokens: d(|c| c.completion_tokens),
                busy_secs: (busy * 1000.0).round() / 1000.0,
                utilization: (window > 0.0).then(|| ((busy / window).min(1.0) * 1000.0).round() / 1000.0),
                e2e: sk(|c| &c.e2e),
                ttft: sk(|c| &c.ttft),
                itl: sk(|c| &c.itl),
                queue_wait: sk(|c| &c.queue_wait),
            }
        })
        .collect()
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct ModelCounters {
    requests: u64,
    failures: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    cached_tokens: u64,
    latency_counts: Vec<u64>,
    latency_bounds: Vec<f64>,
    queue_depth: u64,
    /// Latency sketches merged over the model's backends (cumulative); absent from routers
    /// older than sketches.
    #[serde(default)]
    e2e: Option<Sketch>,
    #[serde(default)]
    ttft: Option<Sketch>,
}

fn counters_from_stats(v: &Value) -> RouterCounters {
    let mut models = BTreeMap::new();
    for m in v["models"].as_array().into_iter().flatten() {
        let Some(name) = m["model"].as_str() else { continue };
        let sum = |k: &str| m["backends"].as_array().into_iter().flatten().filter_map(|b| b[k].as_u64()).sum::<u64>();
        let list = |k: &str| -> Vec<Value> { m["latency"][k].as_array().cloned().unwrap_or_default() };
        models.insert(
            name.to_string(),
            ModelCounters {
                requests: sum("requests"),
                failures: sum("failures"),
                prompt_tokens: sum("prompt_tokens"),
                completion_tokens: sum("completion_tokens"),
                cached_tokens: sum("cached_tokens"),
                latency_counts: list("counts").iter().filter_map(Value::as_u64).collect(),
                latency_bounds: list("bounds").iter().filter_map(Value::as_f64).collect(),
                queue_depth: m["queue_depth"].as_u64().unwrap_or(0),
                e2e: merged(m, "e2e"),
                ttft: merged(m, "ttft"),
            },
        );
    }
    RouterCounters { version: None, models, backends: backends_from_stats(v) }
}

/// A model's backends' `key` sketches merged (`None` when the router reports none).
fn merged(model: &Value, key: &str) -> Option<Sketch> {
    let mut all: Option<Sketch> = None;
    for b in model["backends"].as_array().into_iter().flatten() {
        if let Ok(s) = serde_json::from_value::<Sketch>(b[key].clone()) {
            all.get_or_insert_with(Sketch::default).merge(&s);
        }
    }
    all
}

/// The `q` quantile (0..1) of a histogram given as per-bucket counts, interpolated linearly inside
/// the bucket (the last bucket, above the highest bound, reports that bound).
pub fn quantile(bounds: &[f64], counts: &[u64], q: f64) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut seen = 0.0;
    for (i, c) in counts.iter().enumerate() {
        let next = seen + *c as f64;
        if next >= rank && *c > 0 {
            let lo = if i == 0 { 0.0 } else { bounds[i - 1] };
            let Some(hi) = bounds.get(i) else { return bounds.last().copied() };
            return Some(lo + (hi - lo) * ((rank - seen) / *c as f64).clamp(0.0, 1.0));
        }
        seen = next;
    }
    bounds.last().copied()
}

/// Per-model traffic between two snapshots (a counter that went down means the router restarted:
/// then the new value is the traffic since).
fn model_deltas(prev: &RouterCounters, now: &RouterCounters, window: f64) -> Vec<ModelStats> {
    now.models
        .iter()
        .map(|(name, n)| {
            let p = prev.models.get(name);
            let restarted = p.is_some_and(|p| n.requests < p.requests);
            let d = |f: fn(&ModelCounters) -> u64| match p {
                Some(p) if !restarted => f(n).saturating_sub(f(p)),
                _ => f(n),
            };
            let counts: Vec<u64> = match p {
                Some(p) if !restarted && p.latency_counts.len() == n.latency_counts.len() => {
                    n.latency_counts.iter().zip(&p.latency_counts).map(|(a, b)| a.saturating_sub(*b)).collect()
                }
                _ => n.latency_counts.clone(),
            };
            // The window's sketches: now minus the previous snapshot (all of now after a restart).
            let of_window = |f: fn(&ModelCounters) -> &Option<Sketch>| -> Option<Sketch> {
                let now = f(n).as_ref()?;
                match p.and_then(|p| f(p).as_ref()) {
                    Some(before) if !restarted => now.since(before).or_else(|| Some(now.clone())),
                    _ => Some(now.clone()),
                }
            };
            let (e2e, ttft) = (of_window(|c| &c.e2e), of_window(|c| &c.ttft));
            let round = |s: f64| (s * 1000.0 * 10.0).round() / 10.0;
            let ms = |q| match &e2e {
                Some(s) => s.quantile(q).map(round),
                None => quantile(&n.latency_bounds, &counts, q).map(round),
            };
            let completion = d(|c| c.completion_tokens);
            let (prompt, cached) = (d(|c| c.prompt_tokens), d(|c| c.cached_tokens));
            ModelStats {
                kv_cache_hit_rate: (prompt > 0).then(|| (cached as f64 / prompt as f64 * 1000.0).round() / 1000.0),
                model: name.clone(),
                requests: d(|c| c.requests),
                failures: d(|c| c.failures),
                prompt_tokens: d(|c| c.prompt_tokens),
                completion_tokens: completion,
                cached_tokens: d(|c| c.cached_tokens),
                p50_ms: ms(0.5),
                p95_ms: ms(0.95),
                p99_ms: ms(0.99),
                e2e: e2e.filter(|s| !s.is_empty()),
                ttft: ttft.filter(|s| !s.is_empty()),
                tokens_per_s: (window > 0.0).then(|| (completion as f64 / window * 10.0).round() / 10.0),
                queue_depth: Some(n.queue_depth),
            }
        })
        .collect()
}

/// Energy counters (RAPL, microjoules) where the kernel lets this user read them.
fn rapl_energy_uj() -> Option<u64> {
    let mut total = None;
    for p in glob::glob("/sys/class/powercap/intel-rapl:*/energy_uj").into_iter().flatten().flatten() {
        // Package domains only (`intel-rapl:0`), not their sub-domains (`intel-rapl:0:0`).
        if p.parent().and_then(|d| d.file_name()).is_some_and(|n| n.to_string_lossy().matches(':').count() == 1)
            && let Some(v) = std::fs::read_to_string(&p).ok().and_then(|t| t.trim().parse::<u64>().ok())
        {
            total = Some(total.unwrap_or(0) + v);
        }
    }
    total
}

#[cfg(target_os = "macos")]
fn soc_sensors() -> Option<Arc<std::sync::Mutex<super::power::SocWindow>>> {
    Some(super::power::soc::start())
}

#[cfg(not(target_os = "macos"))]
fn soc_sensors() -> Option<Arc<std::sync::Mutex<super::power::SocWindow>>> {
    None
}

fn local_collect() -> (super::Memory, super::Thermal) {
    if cfg!(target_os = "macos") { super::macos::collect() } else { super::linux::collect() }
}

/// One lifecycle event (`events/` in the store).
pub fn event_key(cluster: &str, node: &str, at: jiff::Timestamp, what: &str) -> String {
    crate::store::keys::event(cluster, node, at, what)
}

struct State {
    cfg: NodeConfig,
    spool: Spool,
    /// The store, for the shipper (replaced when the config names another).
    store: tokio::sync::watch::Sender<Arc<dyn crate::store::Store>>,
    /// Wakes the shipper when something was spooled.
    wake: Arc<tokio::sync::Notify>,
    health: Arc<Mutex<Health>>,
    counters: Option<RouterCounters>,
    counters_file: std::path::PathBuf,
    /// How far each loader's exit log has been read (kept across restarts in the spool folder).
    exit_offsets: BTreeMap<String, u64>,
    exit_offsets_file: std::path::PathBuf,
    /// Per loader: how far its log was read, and its prompt cache as last logged.
    loader_logs: BTreeMap<String, (super::loaders::Cursor, Option<(u64, u64)>)>,
    energy: Option<(u64, Instant)>,
    /// The Apple Silicon sensors' window (macOS).
    soc: Option<Arc<std::sync::Mutex<super::power::SocWindow>>>,
    /// The last PDU reading (watts, when), and whether the power command is failing.
    pdu: Option<(f64, Instant)>,
    pdu_failing: bool,
    loaders_up: BTreeMap<String, bool>,
    last: Option<Instant>,
    /// Where the config came from, and its modification time when last read.
    config_path: Option<std::path::PathBuf>,
    config_mtime: Option<std::time::SystemTime>,
}

impl State {
    async fn router_counters(&self) -> Option<RouterCounters> {
        let r = self.cfg.router.as_ref()?;
        let token = match crate::util::read_secret_file(&r.token_file) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!("router stats: {e:#}");
                return None;
            }
        };
        let url = format!("{}/admin/stats", r.admin_url.trim_end_matches('/'));
        match crate::http::request(Method::GET, &url, Some(&token), None, Duration::from_secs(5)).await {
            Ok(reply) if reply.ok() => reply.json().map(|v| {
                let mut c = counters_from_stats(&v);
                c.version = v["version"].as_u64();
                c
            }),
            Ok(reply) => {
                tracing::warn!("router stats: HTTP {}", reply.status);
                None
            }
            Err(e) => {
                tracing::debug!("router stats: {e}");
                None
            }
        }
    }

    /// Re-reads the config when its file changed (deploy and hot-swap rewrite it: new loaders,
    /// another store) — no restart needed, nothing spooled is lost.
    async fn reload(&mut self) {
        let Some(path) = &self.config_path else { return };
        let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        if mtime == self.config_mtime {
            return;
        }
        self.config_mtime = mtime;
        let new = match NodeConfig::load(path) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("keeping the running config: {e:#}");
                return;
            }
        };
        if new.store != self.cfg.store {
            match crate::store::open_spec(&new.store).await {
                Ok(s) => {
                    let _ = self.store.send(Arc::from(s));
                }
                Err(e) => {
                    tracing::warn!("keeping the running config: the new store cannot be opened: {e}");
                    return;
                }
            }
        }
        tracing::info!("config `{}` reloaded", path.display());
        let spool_dir = self.cfg.spool_dir.clone();
        self.cfg = NodeConfig { spool_dir, ..new };
    }

    /// Each loader's process memory and prompt cache (from the lines its log gained).
    fn loader_stats(&mut self) -> Vec<super::loaders::LoaderStats> {
        use super::loaders::{LoaderStats, child_file, err_log, memory, prompt_cache, read_new};
        let mut out = Vec::new();
        for l in &self.cfg.loaders {
            let Some(exit) = &l.exit_file else { continue };
            let pid = std::fs::read_to_string(child_file(exit))
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok())
                .filter(|p| unsafe { libc::kill(*p as i32, 0) } == 0);
            let mem = pid.map(memory).unwrap_or_default();
            let log = err_log(exit);
            // The first look reads the log's last 64 KiB, to know the cache as it stands.
            let st = self.loader_logs.entry(l.service.clone()).or_insert_with(|| {
                use std::os::unix::fs::MetadataExt;
                let m = std::fs::metadata(&log).ok();
                let cursor = super::loaders::Cursor {
                    inode: m.as_ref().map_or(0, |m| m.ino()),
                    offset: m.map_or(0, |m| m.len()).saturating_sub(64 << 10),
                };
                (cursor, None)
            });
            let (text, next) = read_new(&log, st.0, 4 << 20);
            let (latest, dropped) = prompt_cache(&text, st.1.map(|c: (u64, u64)| c.0));
            let seen_before = st.1.is_some();
            st.0 = next;
            if latest.is_some() {
                st.1 = latest;
            }
            out.push(LoaderStats {
                model: l.model.clone(),
                service: l.service.clone(),
                pid,
                rss_bytes: mem.rss,
                pss_bytes: mem.pss,
                footprint_bytes: mem.footprint,
                prompt_cache_sequences: st.1.map(|c| c.0),
                prompt_cache_bytes: st.1.map(|c| c.1),
                prompt_cache_evictions_inferred: seen_before.then_some(dropped),
            });
        }
        out
    }

    async fn tick(&mut self) -> Result<()> {
        self.reload().await;
        let now = jiff::Timestamp::now();
        let mono = Instant::now();
        let window = self.last.map(|l| mono.duration_since(l).as_secs_f64()).unwrap_or(0.0);
        let (memory, mut thermal) = tokio::task::spawn_blocking(local_collect).await?;
        let mut power = rapl_energy_uj().and_then(|e| {
            let prev = self.energy.replace((e, mono));
            let (pe, pt) = prev?;
            let secs = mono.duration_since(pt).as_secs_f64();
            (e >= pe && secs > 0.0).then(|| {
                let j = (e - pe) as f64 / 1e6;
                Power {
                    package_watts: Some((j / secs * 10.0).round() / 10.0),
                    system_watts: None,
                    energy_joules: Some(j),
                    source: Some("rapl".into()),
                }
            })
        });
        if let Some(soc) = self.soc.as_ref().and_then(|w| w.lock().ok()?.take()) {
            thermal.cpu_celsius = soc.cpu_celsius;
            thermal.gpu_celsius = soc.gpu_celsius;
            if thermal.fans.is_empty() {
                thermal.fans = soc.fans;
            }
            let hottest = [thermal.max_celsius, soc.cpu_celsius, soc.gpu_celsius].into_iter().flatten();
            thermal.max_celsius = hottest.reduce(f64::max);
            power = Some(soc.power);
        }
        if let Some(cmd) = self.cfg.power_command.clone() {
            match super::power::read_pdu(&cmd).await {
                Ok(w) => {
                    let prev = self.pdu.replace((w, mono)).map(|(w0, t0)| (w0, mono.duration_since(t0).as_secs_f64()));
                    let package = power.as_ref().and_then(|p| p.package_watts);
                    power = Some(super::power::pdu_power(w, prev, package));
                    self.pdu_failing = false;
                }
                Err(e) => {
                    // One line when it starts failing, not one per sample.
                    if !self.pdu_failing {
                        tracing::warn!("{e}");
                    }
                    self.pdu_failing = true;
                    self.pdu = None;
                }
            }
        }
        let (mut models, mut backends) = (Vec::new(), Vec::new());
        if let Some(now_c) = self.router_counters().await {
            // First sample after a start: diff against the counters saved before the restart.
            let prev = self.counters.take().unwrap_or_default();
            let window_for_rate = if window > 0.0 { window } else { f64::from(self.cfg.interval_secs) };
            models = model_deltas(&prev, &now_c, window_for_rate);
            backends = backend_deltas(&prev, &now_c, window_for_rate);
            // A model's requests are those that ended on its backends in the window, once each.
            for m in &mut models {
                let mine: Vec<&super::BackendStats> = backends.iter().filter(|b| b.model == m.model).collect();
                if !mine.is_empty() {
                    m.requests = mine.iter().map(|b| b.requests).sum();
                    m.failures = mine.iter().map(|b| b.failed + b.cut).sum();
                }
            }
            if let Ok(b) = serde_json::to_vec(&now_c) {
                let tmp = self.counters_file.with_extension("tmp");
                if std::fs::write(&tmp, b).and_then(|()| std::fs::rename(&tmp, &self.counters_file)).is_err() {
                    tracing::warn!("cannot save the router counters in `{}`", self.counters_file.display());
                }
            }
            self.counters = Some(now_c);
        }
        let loaders = self.loader_stats();
        let sample = Sample {
            schema_version: SCHEMA_VERSION,
            cluster: self.cfg.cluster.clone(),
            node: self.cfg.node.clone(),
            at: now.to_string(),
            window_secs: window.round() as u32,
            memory,
            thermal,
            power,
            models,
            backends,
            loaders,
        };
        self.last = Some(mono);
        let mut dropped = self.spool.push(&telemetry_key(&self.cfg.cluster, &self.cfg.node, now), &json!(sample))?;

        // Every exit the supervisor recorded since the last look, each one event at its own time
        // (a loader may die and be restarted several times between two samples).
        let mut exited = std::collections::HashSet::new();
        for l in self.cfg.loaders.clone() {
            let Some(f) = &l.exit_file else { continue };
            let from = self.exit_offsets.get(&l.service).copied().unwrap_or(0);
            let (records, next) = crate::node::logs::exits_since(f, from);
            for r in records {
                // SIGKILL from outside garnet (its own stops never leave an exit record): the
                // OOM killer, or macOS jetsam under memory pressure — an eviction.
                let kind = if r["signal"] == json!(9) {
                    "loader_evicted"
                } else if r["exit_code"] == json!(0) {
                    "loader_exited"
                } else {
                    "loader_crashed"
                };
                let at: jiff::Timestamp = r["at"].as_str().and_then(|t| t.parse().ok()).unwrap_or(now);
                let body = json!({
                    "schema_version": SCHEMA_VERSION, "cluster": self.cfg.cluster, "node": self.cfg.node,
                    "at": at.to_string(), "kind": kind, "model": l.model, "service": l.service, "exit": r,
                    "memory_pressure": sample.memory.pressure,
                });
                let key = event_key(&self.cfg.cluster, &self.cfg.node, at, &format!("{kind}-{}", l.model));
                dropped += self.spool.push(&key, &body)?;
                tracing::warn!(model = %l.model, "{kind}: {r}");
                exited.insert(l.service.clone());
            }
            if next != from {
                self.exit_offsets.insert(l.service.clone(), next);
                if let Ok(b) = serde_json::to_vec(&self.exit_offsets) {
                    let tmp = self.exit_offsets_file.with_extension("tmp");
                    if std::fs::write(&tmp, b).and_then(|()| std::fs::rename(&tmp, &self.exit_offsets_file)).is_err() {
                        tracing::warn!("cannot save `{}`", self.exit_offsets_file.display());
                    }
                }
            }
        }

        // Loader lifecycle: an event on every change of state (and the first state seen).
        for l in self.cfg.loaders.clone() {
            let url = format!("{}/health", l.url.trim_end_matches('/'));
            let up =
                crate::http::request(Method::GET, &url, None, None, Duration::from_secs(3)).await.is_ok_and(|r| r.ok());
            let before = self.loaders_up.insert(l.service.clone(), up);
            if before != Some(up) {
                let kind = match (before, up) {
                    (_, true) => "loader_up",
                    // Its exit, recorded by the supervisor, was reported above.
                    (Some(true), false) if exited.contains(&l.service) => continue,
                    (Some(true), false) => "loader_down",
                    (_, false) => "loader_not_running",
                };
                let exit = Value::Null;
                let body = json!({
                    "schema_version": SCHEMA_VERSION, "cluster": self.cfg.cluster, "node": self.cfg.node,
                    "at": now.to_string(), "kind": kind, "model": l.model, "service": l.service, "exit": exit,
                    "memory_pressure": sample.memory.pressure,
                });
                let key = event_key(&self.cfg.cluster, &self.cfg.node, now, &format!("{kind}-{}", l.model));
                dropped += self.spool.push(&key, &body)?;
                if kind == "loader_down" {
                    tracing::warn!(model = %l.model, "loader stopped answering");
                } else {
                    tracing::info!(model = %l.model, "{kind}");
                }
            }
        }

        // Shipping runs apart (`ship_loop`): a store that hangs never delays a sample.
        self.wake.notify_one();
        let mut h = self.health.lock().expect("health lock");
        h.samples += 1;
        h.last_sample_at = Some(now.to_string());
        h.dropped += dropped as u64;
        h.spooled = self.spool.len();
        if dropped > 0 {
            tracing::warn!("spool full ({} samples): dropped the {dropped} oldest", self.cfg.spool_max);
        }
        Ok(())
    }
}

/// The designated monitor's compaction (`NodeConfig::compact`): yesterday and today into Parquet,
/// at start and every `every`, apart from sampling; failures are logged and tried next time.
async fn compact_loop(
    cluster: String,
    store: tokio::sync::watch::Receiver<Arc<dyn crate::store::Store>>,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let s = store.borrow().clone();
        let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
        let run = async {
            let keys = s.list(&crate::store::keys::telemetry(&cluster)).await?;
            for day in [today.yesterday().unwrap_or(today), today] {
                let r = super::columnar::compact_day(s.as_ref(), &cluster, day, &keys, false).await?;
                if r.samples > 0 {
                    tracing::info!("compacted {day}: {} samples, {} backend rows", r.samples, r.backend_rows);
                }
            }
            anyhow::Ok(())
        };
        tokio::select! {
            r = tokio::time::timeout(Duration::from_secs(600), run) => match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("telemetry compaction: {e:#}"),
                Err(_) => tracing::warn!("telemetry compaction: gave up after 10 minutes"),
            },
            _ = stop.wait_for(|s| *s) => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Longest one store call may take before it counts as failed (a bucket that accepts and never
/// answers must not hold the backlog forever).
const PUT_DEADLINE: Duration = Duration::from_secs(20);

/// Ships the spool whenever something is spooled, apart from sampling: after a failure it tries
/// again in 1 s, doubling to 60 s, until the store answers; then everything waiting goes, oldest
/// first. On `stop` it makes one last attempt and returns.
async fn ship_loop(
    spool: Spool,
    store: tokio::sync::watch::Receiver<Arc<dyn crate::store::Store>>,
    wake: Arc<tokio::sync::Notify>,
    health: Arc<Mutex<Health>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_secs(1);
    let mut failing = false;
    loop {
        let stopping = *stop.borrow();
        let s = store.borrow().clone();
        let report = spool.ship(s.as_ref(), PUT_DEADLINE).await;
        let wait = {
            let mut h = health.lock().expect("health lock");
            h.spooled = spool.len();
            match report {
                Ok(r) => {
                    h.shipped += r.shipped as u64;
                    match r.error {
                        Some(e) => {
                            if !failing {
                                tracing::warn!(
                                    "store {} unreachable: {e}; {} sample(s) waiting in the spool, retrying with back-off",
                                    s.describe(),
                                    h.spooled
                                );
                            }
                            failing = true;
                            h.store_error = Some(e);
                            let w = backoff;
                            backoff = (backoff * 2).min(Duration::from_secs(60));
                            w
                        }
                        None => {
                            if failing {
                                tracing::info!("store reachable again: shipped {} spooled sample(s)", r.shipped);
                            }
                            failing = false;
                            backoff = Duration::from_secs(1);
                            h.store_error = None;
                            if r.shipped > 0 {
                                h.last_shipped_at = Some(jiff::Timestamp::now().to_string());
                            }
                            Duration::from_secs(60)
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!("spool: {e}");
                    Duration::from_secs(5)
                }
            }
        };
        if stopping {
            return;
        }
        tokio::select! {
            () = wake.notified(), if !failing => {}
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Serves `GET /health` (JSON [`Health`]) on `listener` until `stop`.
async fn serve_health(
    listener: tokio::net::TcpListener,
    health: Arc<Mutex<Health>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    use hyper::service::service_fn;
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
            _ = stop.wait_for(|s| *s) => return,
        };
        let health = health.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let health = health.clone();
                async move {
                    let (status, body) = if req.uri().path() == "/health" {
                        (200, serde_json::to_vec(&*health.lock().expect("health lock")).unwrap_or_default())
                    } else {
                        (404, br#"{"error":"not found"}"#.to_vec())
                    };
                    hyper::Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// Runs the monitor until `shutdown` resolves. `health` is its bound health listener; when
/// `config_path` is given, the config is re-read whenever that file changes.
pub async fn run(
    cfg: NodeConfig,
    config_path: Option<std::path::PathBuf>,
    health_listener: Option<tokio::net::TcpListener>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let spool = Spool::open(&cfg.spool_dir, cfg.spool_max)
        .with_context(|| format!("cannot open the spool `{}`", cfg.spool_dir.display()))?;
    let store: Arc<dyn crate::store::Store> = Arc::from(crate::store::open_spec(&cfg.store).await?);
    let counters_file = cfg.spool_dir.join("router-counters.state");
    let counters = std::fs::read(&counters_file).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let exit_offsets_file = cfg.spool_dir.join("exit-offsets.state");
    let exit_offsets =
        std::fs::read(&exit_offsets_file).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    let health = Arc::new(Mutex::new(Health {
        node: cfg.node.clone(),
        started_at: jiff::Timestamp::now().to_string(),
        spooled: spool.len(),
        ..Default::default()
    }));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = health_listener.map(|l| tokio::spawn(serve_health(l, health.clone(), stop_rx)));
    let interval = Duration::from_secs(u64::from(cfg.interval_secs.max(1)));
    let (store_tx, store_rx) = tokio::sync::watch::channel(store);
    let wake = Arc::new(tokio::sync::Notify::new());
    let (ship_stop_tx, ship_stop_rx) = tokio::sync::watch::channel(false);
    let compactor = cfg.compact.then(|| {
        let every = Duration::from_secs(cfg.compact_every_secs.unwrap_or(3600).max(1));
        tokio::spawn(compact_loop(cfg.cluster.clone(), store_rx.clone(), every, ship_stop_rx.clone()))
    });
    let shipper = tokio::spawn(ship_loop(spool.clone(), store_rx, wake.clone(), health.clone(), ship_stop_rx));
    let mut state = State {
        spool,
        store: store_tx,
        wake,
        health,
        counters,
        counters_file,
        exit_offsets,
        exit_offsets_file,
        loader_logs: BTreeMap::new(),
        energy: None,
        soc: soc_sensors(),
        pdu: None,
        pdu_failing: false,
        loaders_up: BTreeMap::new(),
        last: None,
        config_mtime: config_path.as_ref().and_then(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok()),
        config_path,
        cfg,
    };
    tracing::info!(
        node = %state.cfg.node,
        "monitor: sampling every {}s into {}",
        interval.as_secs(),
        state.store.borrow().describe()
    );
    let mut shutdown = std::pin::pin!(shutdown);
    // The first sample at the start of the next wall-clock second (deploy waits for it), then one
    // per interval. Sample keys are per second: a restarted monitor's first sample must not land
    // in the second of its predecessor's last one (it would overwrite it).
    let into_second = jiff::Timestamp::now().subsec_nanosecond().max(0) as u64;
    let mut next = tokio::time::Instant::now() + Duration::from_nanos(1_000_000_000 - into_second + 5_000_000);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = &mut shutdown => break,
        }
        next += interval;
        if let Err(e) = state.tick().await {
            tracing::error!("sample failed: {e:#}");
        }
        // A slow tick (a slow sensor) must not make samples pile up: skip to the next slot.
        let now = tokio::time::Instant::now();
        while next < now {
            next += interval;
        }
    }
    // On the way out, one more try to ship what is waiting (it stays spooled otherwise).
    let _ = ship_stop_tx.send(true);
    let _ = shipper.await;
    if let Some(c) = compactor {
        let _ = c.await;
    }
    let _ = stop_tx.send(true);
    if let Some(s) = server {
        let _ = s.await;
    }
    let h = state.health.lock().expect("health lock").clone();
    tracing::info!(
        "monitor: stopped after {} samples ({} shipped, {} still spooled)",
        h.samples,
        h.shipped,
        state.spool.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::sketch;

    #[test]
    fn quantiles_from_buckets() {
        let bounds = [0.1, 0.2, 0.5];
        assert_eq!(quantile(&bounds, &[0, 0, 0, 0], 0.5), None);
        // 10 in (0, 0.1], 10 in (0.1, 0.2]: the median is the top of the first bucket.
        assert_eq!(quantile(&bounds, &[10, 10, 0, 0], 0.5), Some(0.1));
        let p95 = quantile(&bounds, &[10, 10, 0, 0], 0.95).unwrap();
        assert!((p95 - 0.19).abs() < 1e-9, "{p95}");
        assert_eq!(quantile(&bounds, &[0, 0, 0, 5], 0.5), Some(0.5), "above the top bound reports it");
    }

    #[test]
    fn deltas_and_router_restarts() {
        let mk = |req, tok, counts: Vec<u64>| RouterCounters {
            version: None,
            models: [(
                "m".to_string(),
                ModelCounters {
                    requests: req,
                    completion_tokens: tok,
                    latency_counts: counts,
                    latency_bounds: vec![0.1, 0.2],
                    ..Default::default()
                },
            )]
            .into(),
            backends: Default::default(),
        };
        let d = model_deltas(&mk(10, 100, vec![10, 0, 0]), &mk(15, 160, vec![10, 5, 0]), 60.0);
        assert_eq!((d[0].requests, d[0].completion_tokens, d[0].tokens_per_s), (5, 60, Some(1.0)));
        assert_eq!(d[0].p50_ms, Some(150.0), "only the window's five requests, all in (0.1, 0.2]");
        // The router restarted: its counters start again from zero.
        let d = model_deltas(&mk(15, 160, vec![10, 5, 0]), &mk(2, 20, vec![2, 0, 0]), 60.0);
        assert_eq!((d[0].requests, d[0].completion_tokens), (2, 20));
    }

    #[test]
    fn backend_windows_count_each_request_once_and_merge_their_sketches() {
        let stats = |ok: u64, cut: u64, failures: u64, busy: f64, lat: &[f64]| {
            let mut e2e = Sketch::default();
            for v in lat {
                e2e.add(*v);
            }
            serde_json::json!({"version": 1, "models": [{"model": "m", "backends": [
                {"id": "n1/m", "requests": ok + cut + 1, "failures": failures, "ok": ok, "cut": cut, "failed": 0,
                 "client_gone": 0, "rejected": 0, "completion_tokens": ok * 10, "busy_secs": busy, "e2e": e2e},
                {"id": "n2/m", "ok": 1, "requests": 1, "e2e": {"count": 1, "sum": 0.5, "min": 0.5, "max": 0.5, "bins": [[sketch::index(0.5), 1]]}},
            ]}]})
        };
        let a = counters_from_stats(&stats(10, 0, 1, 5.0, &[0.1; 10]));
        let b =
            counters_from_stats(&stats(14, 1, 3, 35.0, &[[0.1; 10].as_slice(), &[0.2, 0.2, 0.2, 0.2, 0.9]].concat()));
        let d = backend_deltas(&a, &b, 60.0);
        let n1 = d.iter().find(|x| x.backend == "n1/m").unwrap();
        assert_eq!(n1.node.as_deref(), Some("n1"));
        assert_eq!((n1.requests, n1.ok, n1.cut, n1.retried_elsewhere), (5, 4, 1, 1));
        assert_eq!(n1.completion_tokens, 40);
        assert_eq!((n1.busy_secs, n1.utilization), (30.0, Some(0.5)));
        let w = n1.e2e.as_ref().unwrap();
        assert_eq!(w.count, 5, "only the window's requests");
        assert!((w.quantile(0.5).unwrap() - 0.2).abs() < 0.2 * sketch::ALPHA + 1e-9);
        let n2 = d.iter().find(|x| x.backend == "n2/m").unwrap();
        assert_eq!((n2.requests, n2.e2e.as_ref()), (0, None), "nothing new on n2");
        // The router restarted: all of the new counters are the window.
        let d = backend_deltas(&b, &a, 60.0);
        assert_eq!(d.iter().find(|x| x.backend == "n1/m").unwrap().requests, 10);
    }

    #[test]
    fn event_keys_sort_in_time() {
        let t: jiff::Timestamp = "2026-11-26T10:00:00.5Z".parse().unwrap();
        let k = event_key("c", "n1", t, "loader_up-tiny");
        assert_eq!(k, "events/cluster=c/date=2026-11-26/100000500-n1-loader_up-tiny.json");
    }
}
