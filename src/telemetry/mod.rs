//! Telemetry: the per-node sample and its collectors. Parsers for macOS command outputs live in
//! [`macos`] and are tested everywhere on captured outputs; [`linux`] reads `/proc` and `/sys`.

pub mod columnar;
pub mod linux;
pub mod loaders;
pub mod macos;
pub mod monitor;
pub mod power;
pub mod read;
pub mod sketch;
pub mod spool;
pub mod summary;
pub mod synth;
pub mod uptime;

use serde::{Deserialize, Serialize};

/// Version of the sample layout (stored with every sample).
pub const SCHEMA_VERSION: u32 = 2;

/// One node's sample for one window (a minute by default). The layout is documented in
/// `docs/telemetry.md`; a change of meaning bumps [`SCHEMA_VERSION`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub schema_version: u32,
    pub cluster: String,
    pub node: String,
    /// End of the window, RFC 3339 UTC.
    pub at: String,
    pub window_secs: u32,
    pub memory: Memory,
    pub thermal: Thermal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power: Option<Power>,
    /// Per served model (from the router's stats where the router runs).
    #[serde(default)]
    pub models: Vec<ModelStats>,
    /// Per backend (a model's loader on a node, as this node's router saw it): which node served
    /// what, how busy each loader was (schema 2; absent in schema-1 samples).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<BackendStats>,
    /// This node's loaders: process memory and prompt cache (schema 2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loaders: Vec<loaders::LoaderStats>,
}

/// One backend's traffic over the window, every request counted once, in the window it ended in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BackendStats {
    /// The router's backend id (`<node>/<model>[@<variant>]` when deployed from the inventory).
    pub backend: String,
    /// The node its loader runs on (from the id), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub model: String,
    /// Requests that ended here: `ok + failed + cut + client_gone + rejected`.
    pub requests: u64,
    pub ok: u64,
    /// The backend's fault: 5xx, timeout, broken or missing answer (not retried).
    pub failed: u64,
    /// Streams cut after their first byte by a backend failure.
    pub cut: u64,
    /// The client left before the answer ended.
    pub client_gone: u64,
    /// The request's own fault: the loader refused it (4xx) or failed on it and stayed up.
    pub rejected: u64,
    /// Attempts that failed before the loader had the request (or died with it) and were
    /// retried on another backend: not requests of this backend's.
    pub retried_elsewhere: u64,
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub completion_tokens: u64,
    /// Seconds with at least one request in flight, and that as a share of the window.
    pub busy_secs: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization: Option<f64>,
    /// The window's sketches: end to end, first byte, between stream chunks, queue wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e: Option<sketch::Sketch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft: Option<sketch::Sketch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itl: Option<sketch::Sketch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_wait: Option<sketch::Sketch>,
}

impl BackendStats {
    /// The counters as `backends.parquet` names its columns, in [`BackendStats::counters`]' order.
    pub const COUNTERS: [&'static str; 10] = [
        "requests",
        "ok",
        "failed",
        "cut",
        "client_gone",
        "rejected",
        "retried_elsewhere",
        "prompt_tokens",
        "cached_tokens",
        "completion_tokens",
    ];

    /// The counters' values, in [`BackendStats::COUNTERS`]' order.
    pub fn counters(&self) -> [u64; 10] {
        [
            self.requests,
            self.ok,
            self.failed,
            self.cut,
            self.client_gone,
            self.rejected,
            self.retried_elsewhere,
            self.prompt_tokens,
            self.cached_tokens,
            self.completion_tokens,
        ]
    }
}

/// Power over the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Power {
    pub package_watts: Option<f64>,
    pub system_watts: Option<f64>,
    /// Energy over the window, joules (the system's when known, else the package's).
    pub energy_joules: Option<f64>,
    /// Where the numbers come from: `rapl`, `soc` (Apple Silicon sensors), `pdu` (the node's
    /// metered outlet, `nodes[].power_command`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// One model's traffic over the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelStats {
    pub model: String,
    pub requests: u64,
    pub failures: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
    /// End-to-end latency percentiles over the window, from the `e2e` sketch (from the router's
    /// fixed histogram for samples written before sketches).
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
    /// Completion tokens per second of the window.
    pub tokens_per_s: Option<f64>,
    pub queue_depth: Option<u64>,
    /// Share of prompt tokens served from the loaders' KV cache (cached / prompt) over the window.
    #[serde(default)]
    pub kv_cache_hit_rate: Option<f64>,
    /// The window's latency sketches (end to end; time to the first byte), mergeable over any
    /// span or set of routers: see [`sketch`] and `docs/telemetry.md`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e: Option<sketch::Sketch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft: Option<sketch::Sketch>,
}

/// Memory of one node at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    pub total_bytes: Option<u64>,
    pub used_bytes: Option<u64>,
    pub free_bytes: Option<u64>,
    /// Held by the memory compressor (macOS).
    pub compressed_bytes: Option<u64>,
    pub swap_total_bytes: Option<u64>,
    pub swap_used_bytes: Option<u64>,
    /// `normal`, `warn` or `critical` (macOS memorystatus), or from PSI on Linux.
    pub pressure: Option<String>,
    /// Cumulative pages swapped in/out since boot.
    pub swapins: Option<u64>,
    pub swapouts: Option<u64>,
}

/// Temperatures and throttling.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Thermal {
    /// Hottest sensor, °C.
    pub max_celsius: Option<f64>,
    /// `nominal`, `moderate`, `heavy`, … or a CPU speed limit below 100 %.
    pub pressure: Option<String>,
    /// CPU speed limit in percent (100 = not throttled).
    pub cpu_speed_limit: Option<u32>,
    /// Average CPU / GPU die temperature, °C (Apple Silicon, from the SoC's sensors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_celsius: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_celsius: Option<f64>,
    /// Fans and their speed (hwmon on Linux, the SMC on macOS); empty on fanless machines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fans: Vec<Fan>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Fan {
    pub name: String,
    pub rpm: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_is_a_sample() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/telemetry.md")).unwrap();
        let json = doc
            .split("```json")
            .nth(1)
            .and_then(|r| r.split("```").next())
            .expect("a json example in docs/telemetry.md");
        let s: Sample = serde_json::from_str(json).unwrap();
        assert_eq!(s.schema_version, SCHEMA_VERSION);
        assert_eq!(serde_json::from_str::<Sample>(&serde_json::to_string(&s).unwrap()).unwrap(), s);
        // Its percentiles are its sketch's, as the monitor computes them.
        let m = &s.models[0];
        let e2e = m.e2e.as_ref().unwrap();
        assert_eq!(e2e.count, m.requests);
        let ms = |q| e2e.quantile(q).map(|v| (v * 10_000.0).round() / 10.0);
        assert_eq!((ms(0.5), ms(0.95), ms(0.99)), (m.p50_ms, m.p95_ms, m.p99_ms));
        // And its numbers are its backends' sums and merges.
        let mut merged = sketch::Sketch::default();
        for b in &s.backends {
            merged.merge(b.e2e.as_ref().unwrap());
            assert_eq!(b.requests, b.ok + b.failed + b.cut + b.client_gone + b.rejected);
        }
        assert_eq!(merged.bins, e2e.bins);
        assert_eq!(s.backends.iter().map(|b| b.requests).sum::<u64>(), m.requests);
        assert_eq!(s.backends.iter().map(|b| b.completion_tokens).sum::<u64>(), m.completion_tokens);
    }
}
