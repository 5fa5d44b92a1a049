//! The routing table: public model name → backends, replaced atomically (readers never lock).
//!
//! Backends keep their identity (and so their in-flight count, drain state and counters) across
//! table replacements: a new table reuses the live `Backend` with the same id. Each model has a
//! bounded wait queue for when every backend is at its concurrency cap.

use std::collections::HashMap;
use std::num::{NonZeroU64, NonZeroUsize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

/// The routes file / admin API shape.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoutesConfig {
    pub models: Vec<ModelConfig>,
    /// What clients may hold and how slowly they may send (router-wide; applied live with the routes).
    #[serde(default)]
    pub limits: Limits,
}

/// Router-wide limits on client connections: what a hostile or broken client can hold.
/// Defaults follow nginx where it has an equivalent (`client_header_timeout`, `keepalive_timeout`,
/// `send_timeout`) and Apache's `mod_reqtimeout` for the body's minimum rate. None may be 0 (a
/// 0 is refused where it is written, with its line and column).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Open client connections per router; beyond it a new connection gets a 503 and is closed
    /// at once. Also held below the open-file limit (a quarter of it, at most 256, kept for loaders and files).
    pub max_connections: NonZeroUsize,
    /// Total time to receive a request head, from the connection's start (or a kept-alive
    /// connection's first byte of the next request); each byte does not extend it.
    pub header_timeout_ms: NonZeroU64,
    /// Grace for a request body, extended by one second per `body_min_rate` bytes received.
    pub body_timeout_ms: NonZeroU64,
    /// Slowest accepted body upload, in bytes per second (after the grace).
    pub body_min_rate: NonZeroU64,
    /// An idle kept-alive connection is closed after this long.
    pub keep_alive_ms: NonZeroU64,
    /// Longest a write to the client may wait (a client that stops reading its answer).
    pub send_timeout_ms: NonZeroU64,
    /// Deepest nesting of arrays and objects accepted in a request body (400 beyond).
    pub max_json_depth: NonZeroUsize,
}

impl Default for Limits {
    fn default() -> Self {
        let n = |v: u64| NonZeroU64::new(v).expect("nonzero");
        let u = |v: usize| NonZeroUsize::new(v).expect("nonzero");
        Limits {
            max_connections: u(8192),
            header_timeout_ms: n(10_000),
            body_timeout_ms: n(10_000),
            body_min_rate: n(1024),
            keep_alive_ms: n(75_000),
            send_timeout_ms: n(60_000),
            max_json_depth: u(128),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The public name clients send as `model`.
    pub name: String,
    /// Upper bound applied to `max_tokens` (and the value used when a request has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Requests allowed to wait for a free backend slot; beyond it, 429.
    #[serde(default = "default_queue")]
    pub queue: usize,
    #[serde(default)]
    pub timeouts: Timeouts,
    /// How a request picks among the model's backends (default least-outstanding).
    #[serde(default, skip_serializing_if = "Routing::is_default")]
    pub routing: Routing,
    /// Prompts each backend's loader keeps in its prompt cache (`mlx_lm.server
    /// --prompt-cache-size`, default 10): how long prefix affinity trusts a replica still holds
    /// a prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_entries: Option<usize>,
    pub backends: Vec<BackendConfig>,
}

/// How a model's requests pick a backend among those with a free slot.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Routing {
    /// The fewest requests in flight (ties rotate).
    #[default]
    LeastOutstanding,
    /// The replica most likely holding the prompt's prefix in its prompt cache, within a bounded
    /// load (see `router::affinity`); else least-outstanding.
    PrefixAffinity,
    /// Each backend in turn.
    RoundRobin,
}

impl Routing {
    pub fn is_default(&self) -> bool {
        *self == Routing::LeastOutstanding
    }

    pub fn name(&self) -> &'static str {
        match self {
            Routing::LeastOutstanding => "least-outstanding",
            Routing::PrefixAffinity => "prefix-affinity",
            Routing::RoundRobin => "round-robin",
        }
    }
}

/// `mlx_lm.server`'s default prompt-cache size.
pub const DEFAULT_PROMPT_CACHE_ENTRIES: usize = 10;

fn default_queue() -> usize {
    64
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    #[serde(default = "d_connect")]
    pub connect_ms: u64,
    /// Until the response headers (for a non-streaming request: the whole generation).
    #[serde(default = "d_first_byte")]
    pub first_byte_ms: u64,
    /// Longest silence inside a stream.
    #[serde(default = "d_idle")]
    pub idle_ms: u64,
    /// Longest wait in the queue for a free slot.
    #[serde(default = "d_queue_wait")]
    pub queue_wait_ms: u64,
}

fn d_connect() -> u64 {
    2_000
}
fn d_first_byte() -> u64 {
    300_000
}
fn d_idle() -> u64 {
    60_000
}
fn d_queue_wait() -> u64 {
    30_000
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect_ms: d_connect(),
            first_byte_ms: d_first_byte(),
            idle_ms: d_idle(),
            queue_wait_ms: d_queue_wait(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    /// Unique across the table, e.g. `m4-01/llama`.
    pub id: String,
    /// Base URL of the loader, e.g. `http://10.0.0.11:8001`.
    pub url: String,
    /// The loader's own model id (what `mlx_lm.server --model` was given).
    pub model: String,
    #[serde(default = "default_concurrency")]
    pub max_concurrency: usize,
    #[serde(default)]
    pub draining: bool,
}

fn default_concurrency() -> usize {
    4
}

/// Cumulative per-backend counters (exported by the admin API and `/metrics`).
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    /// Requests the backend failed (no connection, broken or missing answer, 5xx).
    pub failures: AtomicU64,
    /// Requests the backend refused as invalid (4xx): the client's error, not the backend's.
    pub rejected: AtomicU64,
    /// How requests ended on this backend, each counted once, when it ended (a request retried
    /// elsewhere ends on the backend that answered it): a whole answer or a complete stream, a
    /// failure of the backend's (5xx, timeout, broken or missing answer), a stream cut after its
    /// first byte, the client leaving first. `rejected` above is the fifth way.
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    pub cut: AtomicU64,
    pub client_gone: AtomicU64,
    /// Time with at least one request in flight, nanoseconds (cumulative; see `busy_secs`).
    pub busy_nanos: AtomicU64,
    /// When the current busy stretch began (nanoseconds since the router's epoch).
    pub busy_since: AtomicU64,
    /// Latency sketches (cumulative): end to end, time to the first byte of the answer, between
    /// a stream's chunks, and waiting in the queue for a slot.
    pub e2e: crate::telemetry::sketch::AtomicSketch,
    pub ttft: crate::telemetry::sketch::AtomicSketch,
    pub itl: crate::telemetry::sketch::AtomicSketch,
    pub queue_wait: crate::telemetry::sketch::AtomicSketch,
    pub prompt_tokens: AtomicU64,
    pub completion_tokens: AtomicU64,
    pub cached_tokens: AtomicU64,
}

#[derive(Debug)]
pub struct Backend {
    pub id: String,
    /// Upstream paths (the URL's own path prefix kept), computed once.
    pub chat_path: String,
    pub completions_path: String,
    /// Kept-alive connections to the loader.
    pub pool: Arc<super::upstream::Pool>,
    pub url: String,
    pub loader_model: String,
    /// `loader_model` as a JSON string, for the rewrites.
    pub loader_json: String,
    pub max_concurrency: AtomicUsize,
    pub draining: AtomicBool,
    pub in_flight: AtomicUsize,
    /// Prompt bytes placed here by prefix affinity that the loader is likely to prefill (not
    /// found in its cache) and has not answered a first byte for yet: its prefill queue.
    pub prefill_pending: AtomicUsize,
    pub counters: Counters,
}

impl Backend {
    /// Takes a slot if the backend is active and under its cap.
    pub fn try_acquire(&self) -> bool {
        if self.draining.load(Ordering::Acquire) {
            return false;
        }
        let cap = self.max_concurrency.load(Ordering::Relaxed);
        match self.in_flight.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < cap).then_some(n + 1)) {
            Ok(0) => {
                self.counters.busy_since.store(epoch_nanos(), Ordering::Release);
                true
            }
            Ok(_) => true,
            Err(_) => false,
        }
    }

    pub fn release(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            let since = self.counters.busy_since.load(Ordering::Acquire);
            self.counters.busy_nanos.fetch_add(epoch_nanos().saturating_sub(since), Ordering::Relaxed);
        }
    }

    /// Seconds with at least one request in flight, so far (cumulative).
    pub fn busy_secs(&self) -> f64 {
        let mut n = self.counters.busy_nanos.load(Ordering::Relaxed);
        if self.in_flight.load(Ordering::Acquire) > 0 {
            n += epoch_nanos().saturating_sub(self.counters.busy_since.load(Ordering::Acquire));
        }
        n as f64 / 1e9
    }

    pub fn state(&self) -> &'static str {
        if self.draining.load(Ordering::Acquire) { "draining" } else { "active" }
    }
}

/// Nanoseconds since the router's first look at the clock (a monotonic epoch for busy time).
pub fn epoch_nanos() -> u64 {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    EPOCH.get_or_init(std::time::Instant::now).elapsed().as_nanos() as u64
}

/// A model's place in line for a free slot (kept across table replacements, by name).
#[derive(Debug, Default)]
pub struct Queue {
    pub notify: Notify,
    pub waiting: AtomicUsize,
}

#[derive(Debug)]
pub struct Route {
    /// Rotates the starting point among equally loaded backends (round-robin on ties).
    pub turn: AtomicUsize,
    pub name: String,
    /// `name` as a JSON string, for the answers' `model`.
    pub name_json: Vec<u8>,
    pub max_tokens: Option<u32>,
    pub queue_limit: usize,
    pub timeouts: Timeouts,
    pub backends: Vec<Arc<Backend>>,
    pub queue: Arc<Queue>,
    pub metrics: Arc<super::metrics::ModelMetrics>,
    pub routing: Routing,
    pub prompt_cache_entries: Option<usize>,
    /// The prefix index (kept across table replacements, by name).
    pub affinity: Arc<super::affinity::Affinity>,
}

impl Route {
    /// A backend for a request whose prompt is `prompt` (see `router::affinity`; an empty one
    /// when the routing does not use it), by the route's routing, and the prompt bytes it is
    /// expected to prefill there (counted in its `prefill_pending` until the first byte; 0 but
    /// for prefix affinity).
    pub fn pick_for(&self, tried: &[String], prompt: &super::affinity::Prompt) -> Option<(Arc<Backend>, usize)> {
        use super::affinity::{CHUNK, Outcome, within_bound};
        match self.routing {
            Routing::LeastOutstanding => self.pick(tried).map(|b| (b, 0)),
            Routing::RoundRobin => {
                let n = self.backends.len();
                let start = if n == 0 { 0 } else { self.turn.fetch_add(1, Ordering::Relaxed) % n };
                (0..n)
                    .map(|i| &self.backends[(start + i) % n])
                    .filter(|b| !tried.contains(&b.id))
                    .find(|b| b.try_acquire())
                    .map(|b| (b.clone(), 0))
            }
            Routing::PrefixAffinity => {
                let entries = self.prompt_cache_entries.unwrap_or(DEFAULT_PROMPT_CACHE_ENTRIES);
                let held = self.affinity.matches(&prompt.chain, entries, self.backends.len());
                let longest = held.first().map_or(0, |(_, d)| *d);
                let depth = |b: &Backend| held.iter().find(|(id, _)| *id == b.id).map_or(0, |(_, d)| *d);
                // What this prompt would cost there: the part not in its cache.
                let miss = |b: &Backend| prompt.len.saturating_sub(depth(b) * CHUNK);
                let n = self.backends.len();
                let start = if n == 0 { 0 } else { self.turn.fetch_add(1, Ordering::Relaxed) % n };
                let eligible: Vec<&Arc<Backend>> = (0..n)
                    .map(|i| &self.backends[(start + i) % n])
                    .filter(|b| !b.draining.load(Ordering::Acquire) && !tried.contains(&b.id))
                    .collect();
                let total: usize = eligible.iter().map(|b| b.in_flight.load(Ordering::Acquire)).sum();
                // Within the bounded load, the replica where this prompt's first token comes
                // soonest: the fewest bytes to prefill, its queued prefills and this prompt's
                // uncached part together; on a tie the one holding the longest prefix (it keeps
                // the conversation), then the fewest in flight, then the rotation.
                let mut candidates: Vec<(usize, bool, usize, &Arc<Backend>)> = eligible
                    .iter()
                    .filter(|b| within_bound(b.in_flight.load(Ordering::Acquire), total, eligible.len()))
                    .map(|b| {
                        let cost = b.prefill_pending.load(Ordering::Acquire) + miss(b);
                        (cost, depth(b) < longest, b.in_flight.load(Ordering::Acquire), *b)
                    })
                    .collect();
                candidates.sort_by_key(|c| (c.0, c.1, c.2));
                // The cheapest holder of the longest prefix within the bound, if any.
                let home = candidates.iter().find(|c| !c.1).map(|c| c.0);
                let chosen = match candidates.into_iter().find(|c| c.3.try_acquire()) {
                    Some(c) => Some((Arc::clone(c.3), Some(c.0))),
                    None => self.pick(tried).map(|b| (b, None)),
                };
                // Counted and recorded once placed (a full route retries from the queue).
                let (b, cost) = chosen?;
                let outcome = match depth(&b) {
                    _ if longest == 0 => Outcome::Miss,
                    d if d == longest => Outcome::Hit,
                    _ if matches!((cost, home), (Some(c), Some(h)) if c < h) => Outcome::Sooner,
                    _ => Outcome::Overloaded,
                };
                self.affinity.count(outcome);
                if !prompt.chain.is_empty() {
                    self.affinity.record(&prompt.chain, &b.id);
                }
                let bytes = miss(&b);
                b.prefill_pending.fetch_add(bytes, Ordering::AcqRel);
                Some((b, bytes))
            }
        }
    }

    /// Least outstanding requests among active backends with a free slot, skipping `tried`.
    pub fn pick(&self, tried: &[String]) -> Option<Arc<Backend>> {
        let n = self.backends.len();
        let start = if n == 0 { 0 } else { self.turn.fetch_add(1, Ordering::Relaxed) % n };
        // The usual case without allocating: the least loaded in rotation order takes the slot.
        let eligible = |b: &&Arc<Backend>| !b.draining.load(Ordering::Acquire) && !tried.contains(&b.id);
        let best = (0..n)
            .map(|i| &self.backends[(start + i) % n])
            .filter(eligible)
            .min_by_key(|b| b.in_flight.load(Ordering::Acquire));
        match best {
            None => return None,
            Some(b) if b.try_acquire() => return Some(b.clone()),
            Some(_) => {}
        }
        // It filled up meanwhile (or is at its cap): the others, least loaded first.
        let mut candidates: Vec<&Arc<Backend>> = (0..n)
            .map(|i| &self.backends[(start + i) % n])
            .filter(|b| !b.draining.load(Ordering::Acquire) && !tried.contains(&b.id))
            .collect();
        // Stable: among equally loaded backends the rotation decides.
        candidates.sort_by_key(|b| b.in_flight.load(Ordering::Acquire));
        candidates.into_iter().find(|b| b.try_acquire()).cloned()
    }

    /// Whether any backend could ever serve (not all draining).
    pub fn has_active(&self) -> bool {
        self.backends.iter().any(|b| !b.draining.load(Ordering::Acquire))
    }
}

#[derive(Debug, Default)]
pub struct Table {
    pub routes: HashMap<String, Arc<Route>>,
    pub limits: Limits,
    /// Model names in configuration order (for `/v1/models`).
    pub order: Vec<String>,
    pub version: u64,
}

impl Table {
    /// Builds a table from config, reusing live backends and queues from `previous`.
    pub fn build(cfg: &RoutesConfig, previous: &Table, workers: usize) -> Result<Table, String> {
        let mut live: HashMap<&str, &Arc<Backend>> = HashMap::new();
        for r in previous.routes.values() {
            for b in &r.backends {
                live.insert(&b.id, b);
            }
        }
        let mut seen_ids = std::collections::HashSet::new();
        let mut routes = HashMap::new();
        let mut order = Vec::new();
        for m in &cfg.models {
            if m.name.is_empty() {
                return Err("a model has an empty name".into());
            }
            if routes.contains_key(&m.name) {
                return Err(format!("model `{}` is listed twice", m.name));
            }
            let mut backends = Vec::new();
            for b in &m.backends {
                if !seen_ids.insert(b.id.clone()) {
                    return Err(format!("backend id `{}` is used twice", b.id));
                }
                if b.max_concurrency == 0 {
                    return Err(format!("backend `{}`: max_concurrency must be at least 1", b.id));
                }
                let base: hyper::Uri =
                    b.url.parse().map_err(|e| format!("backend `{}`: bad url `{}`: {e}", b.id, b.url))?;
                if base.scheme_str() != Some("http") || base.authority().is_none() {
                    return Err(format!("backend `{}`: url `{}` must be http://host:port", b.id, b.url));
                }
                let backend = match live.get(b.id.as_str()) {
                    Some(old) if old.url == b.url && old.loader_model == b.model => {
                        old.max_concurrency.store(b.max_concurrency, Ordering::Relaxed);
                        old.draining.store(b.draining, Ordering::Release);
                        Arc::clone(old)
                    }
                    _ => Arc::new(Backend {
                        id: b.id.clone(),
                        chat_path: format!("{}/v1/chat/completions", base.path().trim_end_matches('/')),
                        completions_path: format!("{}/v1/completions", base.path().trim_end_matches('/')),
                        pool: Arc::new(super::upstream::Pool::new(
                            &format!("{}:{}", base.host().unwrap_or_default(), base.port_u16().unwrap_or(80)),
                            workers,
                        )),
                        url: b.url.clone(),
                        loader_model: b.model.clone(),
                        loader_json: serde_json::to_string(&b.model).expect("string serializes"),
                        max_concurrency: AtomicUsize::new(b.max_concurrency),
                        draining: AtomicBool::new(b.draining),
                        in_flight: AtomicUsize::new(0),
                        prefill_pending: AtomicUsize::new(0),
                        counters: Counters::default(),
                    }),
                };
                backends.push(backend);
            }
            let queue = previous.routes.get(&m.name).map(|r| r.queue.clone()).unwrap_or_default();
            let metrics = previous.routes.get(&m.name).map(|r| r.metrics.clone()).unwrap_or_default();
            let affinity = previous.routes.get(&m.name).map(|r| r.affinity.clone()).unwrap_or_default();
            if m.prompt_cache_entries == Some(0) {
                return Err(format!("model `{}`: prompt_cache_entries must be at least 1", m.name));
            }
            order.push(m.name.clone());
            routes.insert(
                m.name.clone(),
                Arc::new(Route {
                    turn: AtomicUsize::new(0),
                    name: m.name.clone(),
                    name_json: serde_json::to_vec(&m.name).expect("a string serializes"),
                    max_tokens: m.max_tokens,
                    queue_limit: m.queue,
                    timeouts: m.timeouts,
                    backends,
                    queue,
                    metrics,
                    routing: m.routing,
                    prompt_cache_entries: m.prompt_cache_entries,
                    affinity,
                }),
            );
        }
        Ok(Table { routes, order, limits: cfg.limits, version: previous.version + 1 })
    }

    /// The table as config again (what `GET /admin/routes` returns).
    pub fn to_config(&self) -> RoutesConfig {
        RoutesConfig {
            models: self
                .order
                .iter()
                .map(|name| {
                    let r = &self.routes[name];
                    ModelConfig {
                        name: r.name.clone(),
                        max_tokens: r.max_tokens,
                        queue: r.queue_limit,
                        timeouts: r.timeouts,
                        routing: r.routing,
                        prompt_cache_entries: r.prompt_cache_entries,
                        backends: r
                            .backends
                            .iter()
                            .map(|b| BackendConfig {
                                id: b.id.clone(),
                                url: b.url.clone(),
                                model: b.loader_model.clone(),
                                max_concurrency: b.max_concurrency.load(Ordering::Relaxed),
                                draining: b.draining.load(Ordering::Acquire),
                            })
                            .collect(),
                    }
                })
                .collect(),
            limits: self.limits,
        }
    }

    pub fn backend(&self, id: &str) -> Option<&Arc<Backend>> {
        self.routes.values().flat_map(|r| r.backends.iter()).find(|b| b.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Model `m` on `n` backends (`a`, `b`, …) of 8 slots each, routed by `routing`.
    fn routed(n: usize, routing: Routing) -> (RoutesConfig, Table) {
        let all = [("a", "http://127.0.0.1:1"), ("b", "http://127.0.0.1:2"), ("c", "http://127.0.0.1:3")];
        let mut c = cfg(&all[..n]);
        c.models[0].routing = routing;
        for b in &mut c.models[0].backends {
            b.max_concurrency = 8;
        }
        let t = Table::build(&c, &Table::default(), 1).unwrap();
        (c, t)
    }

    fn cfg(urls: &[(&str, &str)]) -> RoutesConfig {
        RoutesConfig {
            models: vec![ModelConfig {
                name: "m".into(),
                max_tokens: Some(16),
                queue: 2,
                timeouts: Timeouts::default(),
                routing: Routing::default(),
                prompt_cache_entries: None,
                backends: urls
                    .iter()
                    .map(|(id, url)| BackendConfig {
                        id: id.to_string(),
                        url: url.to_string(),
                        model: "/x".into(),
                        max_concurrency: 1,
                        draining: false,
                    })
                    .collect(),
            }],
            limits: Limits::default(),
        }
    }

    #[test]
    fn least_outstanding_with_caps_and_drain() {
        let t = Table::build(&cfg(&[("a", "http://127.0.0.1:1"), ("b", "http://127.0.0.1:2")]), &Table::default(), 1)
            .unwrap();
        let r = &t.routes["m"];
        let first = r.pick(&[]).unwrap();
        let second = r.pick(&[]).unwrap();
        assert_ne!(first.id, second.id, "the idle backend is preferred");
        assert!(r.pick(&[]).is_none(), "both at cap 1");
        first.release();
        assert_eq!(r.pick(&[]).unwrap().id, first.id);
        first.release();
        first.draining.store(true, Ordering::Release);
        assert!(r.pick(&[]).is_none(), "draining backends get nothing new");
    }

    /// Prefix affinity: a conversation's next turn goes where its start went, unless that replica
    /// is over the bounded load; a new prompt goes least-outstanding; the index survives a table
    /// replacement; counts add up.
    #[test]
    fn prefix_affinity_follows_the_conversation_within_a_bounded_load() {
        use super::super::affinity::CHUNK;
        let (c, t) = routed(3, Routing::PrefixAffinity);
        let r = &t.routes["m"];
        let prompt = |conv: u8, turns: usize| super::super::affinity::Prompt::of(&vec![conv; turns * 300]);
        // A request's end: its slot and its queued prefill given back.
        let done = |(b, bytes): (Arc<Backend>, usize)| {
            b.prefill_pending.fetch_sub(bytes, Ordering::AcqRel);
            b.release();
            b
        };
        // Three conversations start: they spread (each replica's queued prefill counts).
        let starts: Vec<Arc<Backend>> = (0..3).map(|k| r.pick_for(&[], &prompt(k, 1)).unwrap()).map(done).collect();
        let mut ids: Vec<&str> = starts.iter().map(|b| b.id.as_str()).collect();
        ids.sort();
        assert_eq!(ids, ["a", "b", "c"]);
        // Their second turns follow them, expected to prefill only what the cache lacks.
        for (k, b) in starts.iter().enumerate() {
            let (next, bytes) = r.pick_for(&[], &prompt(k as u8, 2)).unwrap();
            assert_eq!(next.id, b.id, "conversation {k}");
            assert_eq!(bytes, 600 - CHUNK);
            done((next, bytes));
        }
        assert_eq!(r.affinity.hits.load(Ordering::Relaxed), 3);
        assert_eq!(r.affinity.misses.load(Ordering::Relaxed), 3);
        // Conversation 0's replica busy beyond the bound: its turn goes elsewhere.
        let home = &starts[0];
        for _ in 0..3 {
            assert!(home.try_acquire());
        }
        let (next, bytes) = r.pick_for(&[], &prompt(0, 3)).unwrap();
        assert_ne!(next.id, home.id);
        assert_eq!(bytes, 900, "all of it, elsewhere");
        assert_eq!(r.affinity.overloaded.load(Ordering::Relaxed), 1);
        done((next, bytes));
        for _ in 0..3 {
            home.release();
        }
        assert!(r.backends.iter().all(|b| b.prefill_pending.load(Ordering::Relaxed) == 0));
        // The index and counters survive a route replacement.
        let t2 = Table::build(&c, &t, 1).unwrap();
        assert!(Arc::ptr_eq(&t.routes["m"].affinity, &t2.routes["m"].affinity));
        assert_eq!(t2.to_config().models[0].routing, Routing::PrefixAffinity);
    }

    /// Within the bound, the replica where the first token comes soonest: a conversation's
    /// replica keeps it while it is only busy decoding, and loses it to an idle one when the
    /// prefills queued there outweigh what the turn would prefill elsewhere.
    #[test]
    fn prefix_affinity_weighs_queued_prefill_against_the_cache() {
        use super::super::affinity::{CHUNK, Prompt};
        let (_, t) = routed(2, Routing::PrefixAffinity);
        let r = &t.routes["m"];
        let conv = |turns: usize| Prompt::of(&vec![7u8; turns * 4 * CHUNK]);
        let (home, bytes) = r.pick_for(&[], &conv(1)).unwrap();
        home.prefill_pending.fetch_sub(bytes, Ordering::AcqRel);
        home.release();
        let other = r.backends.iter().find(|b| b.id != home.id).unwrap();
        // Two requests decoding on the home replica (their first bytes back): it keeps the turn
        // (two in flight against none is within the bound's slack).
        assert!(home.try_acquire() && home.try_acquire());
        let (next, bytes) = r.pick_for(&[], &conv(2)).unwrap();
        assert_eq!((next.id.as_str(), bytes), (home.id.as_str(), 4 * CHUNK));
        home.prefill_pending.fetch_sub(bytes, Ordering::AcqRel);
        next.release();
        // A long uncached prompt queued there for prefill: the turn is answered sooner elsewhere.
        home.prefill_pending.fetch_add(20 * CHUNK, Ordering::AcqRel);
        let (next, bytes) = r.pick_for(&[], &conv(3)).unwrap();
        assert_eq!((next.id.as_str(), bytes), (other.id.as_str(), 12 * CHUNK));
        assert_eq!(other.prefill_pending.load(Ordering::Relaxed), 12 * CHUNK);
        assert_eq!(r.affinity.hits.load(Ordering::Relaxed), 1);
        assert_eq!(r.affinity.sooner.load(Ordering::Relaxed), 1);
        assert_eq!(r.affinity.overloaded.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn round_robin_takes_turns_whatever_the_load() {
        let (_, t) = routed(2, Routing::RoundRobin);
        let r = &t.routes["m"];
        let none = super::super::affinity::Prompt::default();
        let ids: Vec<String> = (0..4).map(|_| r.pick_for(&[], &none).unwrap().0.id.clone()).collect();
        assert_eq!(ids, ["a", "b", "a", "b"]);
    }

    #[test]
    fn replacement_keeps_live_backends() {
        let t1 = Table::build(&cfg(&[("a", "http://127.0.0.1:1")]), &Table::default(), 1).unwrap();
        let a = t1.routes["m"].pick(&[]).unwrap();
        let t2 = Table::build(&cfg(&[("a", "http://127.0.0.1:1"), ("b", "http://127.0.0.1:2")]), &t1, 1).unwrap();
        assert_eq!(t2.version, 2);
        assert!(Arc::ptr_eq(&a, &t2.routes["m"].backends[0]));
        assert_eq!(t2.routes["m"].backends[0].in_flight.load(Ordering::Relaxed), 1);
        assert!(Arc::ptr_eq(&t1.routes["m"].queue, &t2.routes["m"].queue));
        assert_eq!(t2.to_config().models[0].backends.len(), 2);
        assert!(Table::build(&cfg(&[("a", "ftp://x"), ("b", "http://127.0.0.1:2")]), &t1, 1).is_err());
        assert!(Table::build(&cfg(&[("a", "http://h:1"), ("a", "http://h:2")]), &t1, 1).is_err());
    }
}

impl RoutesConfig {
    /// Routes from the inventory: each placed model, one backend per node it is placed on, at
    /// `http://<node host>:<model port>`, serving the model's `source` (what its loader was given).
    pub fn from_inventory(inv: &crate::inventory::Inventory) -> RoutesConfig {
        RoutesConfig::from_inventory_with(inv, &Default::default())
    }

    /// Routes for the inventory's placement, each node's loader being the variant the placement
    /// record names (see [`crate::placement::record`]).
    pub fn from_inventory_with(
        inv: &crate::inventory::Inventory,
        variants: &crate::placement::record::Variants,
    ) -> RoutesConfig {
        use crate::placement::record::{backend_id, serving};
        let models = inv
            .models
            .iter()
            .filter_map(|m| {
                let placed = inv.placement.get(&m.name)?;
                let backends = placed
                    .nodes
                    .iter()
                    .filter_map(|n| inv.node(n))
                    .map(|node| {
                        let v = serving(inv, variants, m, &node.name);
                        BackendConfig {
                            id: backend_id(&node.name, &m.name, &v.name),
                            url: format!("http://{}:{}", node.service_host(), node.port(v.port)),
                            model: v.loader_id(),
                            max_concurrency: v.max_concurrency as usize,
                            draining: false,
                        }
                    })
                    .collect();
                // Prefix affinity ages its entries by the smallest prompt cache among the nodes.
                let entries = placed
                    .nodes
                    .iter()
                    .map(|n| crate::placement::diff::prompt_cache_size(inv, variants, &m.name, n) as usize)
                    .min()
                    .filter(|e| *e != DEFAULT_PROMPT_CACHE_ENTRIES && m.routing == Routing::PrefixAffinity);
                Some(ModelConfig {
                    name: m.name.clone(),
                    max_tokens: m.max_tokens,
                    queue: default_queue(),
                    timeouts: Timeouts::default(),
                    routing: m.routing,
                    prompt_cache_entries: entries,
                    backends,
                })
            })
            .collect();
        RoutesConfig { models, limits: inv.router.as_ref().map(|r| r.limits).unwrap_or_default() }
    }
}

#[cfg(test)]
mod inventory_tests {
    use super::*;

    #[test]
    fn routes_follow_the_placement() {
        let inv = crate::inventory::Inventory::from_str(
            std::path::Path::new("inventory.example.yaml"),
            &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/inventory.example.yaml")).unwrap(),
        )
        .unwrap();
        let r = RoutesConfig::from_inventory(&inv);
        assert_eq!(r.models.len(), 2);
        let llama = &r.models[0];
        assert_eq!(llama.name, "llama-3.1-8b-instruct");
        assert_eq!(llama.max_tokens, Some(2048));
        let urls: Vec<&str> = llama.backends.iter().map(|b| b.url.as_str()).collect();
        assert_eq!(urls, ["http://10.20.0.11:8001", "http://10.20.0.12:8001"]);
        assert_eq!(llama.backends[0].id, "m4-01/llama-3.1-8b-instruct");
        assert_eq!(llama.backends[0].model, "mlx-community/Meta-Llama-3.1-8B-Instruct-4bit");
        assert_eq!(r.models[1].backends[0].url, "http://10.20.0.13:8002");
        assert_eq!(r.limits, Limits::default(), "the example shows the defaults");
        Table::build(&r, &Table::default(), 1).unwrap();
    }

    #[test]
    fn limits_come_from_the_inventory_and_zero_is_refused_with_its_place() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/inventory.example.yaml")).unwrap();
        let path = std::path::Path::new("inventory.yaml");
        let inv = crate::inventory::Inventory::from_str(
            path,
            &text.replace("header_timeout_ms: 10000", "header_timeout_ms: 2500"),
        )
        .unwrap();
        let limits = RoutesConfig::from_inventory(&inv).limits;
        assert_eq!(limits, Limits { header_timeout_ms: NonZeroU64::new(2500).unwrap(), ..Limits::default() });
        let bad = text.replace("keep_alive_ms: 75000", "keep_alive_ms: 0");
        let err = crate::inventory::Inventory::from_str(path, &bad).unwrap_err().to_string();
        let line = bad.lines().position(|l| l.contains("keep_alive_ms: 0")).unwrap() + 1;
        assert!(err.contains(&format!("inventory.yaml:{line}:5: router.limits.keep_alive_ms")), "{err}");
        assert!(err.contains("nonzero"), "{err}");
    }
}
