//! The inventory as written in YAML: every key the file may hold, with its default.
//!
//! These types mirror the file one to one (`deny_unknown_fields` everywhere, so a typo is an error
//! with a "did you mean"). Names that other parts reference are `Spanned` so that validation errors
//! can point at their line and column. [`super::Inventory`] is the resolved form commands use.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInventory {
    pub cluster: Cluster,
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(default)]
    pub nodes: Vec<RawNode>,
    #[serde(default)]
    pub models: Vec<Model>,
    #[serde(default)]
    pub placement: HashMap<Spanned<String>, Placement>,
    #[serde(default)]
    pub store: Option<Spanned<StoreConfig>>,
    #[serde(default)]
    pub router: Option<RouterConfig>,
    #[serde(default)]
    pub cost: Option<Cost>,
    #[serde(default)]
    pub deploy: Option<DeployConfig>,
    #[serde(default)]
    pub monitor: Option<MonitorConfig>,
    /// Outgoing mail (the monthly report, the welcome email).
    #[serde(default)]
    pub mail: Option<MailConfig>,
}

/// What `deploy` installs besides the services.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DeployConfig {
    /// An existing Python on the nodes with `mlx-lm` installed (a node-side path). Without it,
    /// deploy creates a venv under each node's garnet home and installs `packages` into it.
    pub python: Option<String>,
    /// pip requirement specifiers for the created venv (default: pinned `mlx-lm` and `mlx`).
    pub packages: Option<Vec<String>>,
    /// garnet binaries for platforms other than this machine's, by `os-arch`
    /// (`macos-aarch64`, `linux-x86_64`, ...); local paths.
    #[serde(default)]
    pub binaries: HashMap<String, PathBuf>,
    /// Extra arguments for every `mlx_lm.server`.
    #[serde(default)]
    pub loader_args: Vec<String>,
    /// Size-based rotation of every service's logs on the nodes (default: 10 MiB, 3 kept).
    #[serde(default)]
    pub logs: crate::node::logs::LogRotation,
}

/// The monitor every node runs.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    /// Seconds between samples (default 60).
    pub interval_secs: Option<Spanned<u32>>,
    /// Loopback port of its health endpoint (default 9109, plus the node's `port_offset`).
    pub health_port: Option<u16>,
    /// Samples kept on disk while the store is unreachable (default 10080: a week of minutes).
    pub spool_max: Option<usize>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    pub slug: Spanned<String>,
    pub tier: Tier,
    #[serde(default)]
    pub contacts: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Pro,
    Scale,
    Enterprise,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TransportKind {
    /// The system OpenSSH client with connection multiplexing.
    #[default]
    Openssh,
    /// garnet's own SSH client.
    Russh,
    /// This machine, no SSH.
    Local,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum HostKeyChecking {
    /// Unknown hosts are learned on first contact; a changed key is refused.
    #[default]
    AcceptNew,
    /// Only hosts already in known_hosts are accepted.
    Strict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ServiceBackend {
    /// `launchd` (macOS default).
    Launchd,
    /// `systemd` (Linux default).
    Systemd,
    /// A detached process with a pidfile (containers, CI).
    Process,
    /// Pick from the node's OS.
    #[default]
    Auto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    Macos,
    Linux,
}

/// Settings every node inherits unless it says otherwise.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_file: Option<PathBuf>,
    pub transport: Option<TransportKind>,
    pub service_backend: Option<ServiceBackend>,
    pub host_key_checking: Option<HostKeyChecking>,
    pub known_hosts: Option<PathBuf>,
    pub ssh_config: Option<PathBuf>,
    pub connect_timeout_secs: Option<Spanned<u64>>,
    pub connect_retries: Option<u32>,
    pub garnet_home: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNode {
    pub name: Spanned<String>,
    pub host: Option<Spanned<String>>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub os: Option<Os>,
    pub chip: Option<String>,
    pub memory_gb: Option<Spanned<f64>>,
    #[serde(default)]
    pub roles: Vec<Spanned<String>>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub garnet_home: Option<String>,
    pub transport: Option<TransportKind>,
    pub identity_file: Option<PathBuf>,
    pub service_backend: Option<ServiceBackend>,
    /// Address other nodes reach this one's services at, and that its loaders listen on
    /// (default: `host` when it is an IP address, else loaders listen on all interfaces).
    pub address: Option<Spanned<String>>,
    /// Added to every port garnet's services use on this node (loaders, router, monitor), so
    /// several nodes can share one machine (the lab, containers on one host).
    pub port_offset: Option<u16>,
    /// A command (run on the node by its monitor, `sh -c`) printing the watts of the node's
    /// metered PDU outlet, e.g. an `snmpget` of the outlet's power OID.
    pub power_command: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum Quantization {
    #[serde(rename = "3bit")]
    Q3,
    #[serde(rename = "4bit")]
    Q4,
    #[serde(rename = "6bit")]
    Q6,
    #[serde(rename = "8bit")]
    Q8,
    #[serde(rename = "bf16")]
    Bf16,
    #[serde(rename = "fp16")]
    Fp16,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// The public name clients send as `model`.
    pub name: Spanned<String>,
    /// Where the weights come from: a Hugging Face repo id or a local path.
    pub source: Spanned<String>,
    pub quantization: Option<Quantization>,
    /// Context length the loader serves.
    pub context: Option<Spanned<u32>>,
    /// Upper bound the router applies to `max_tokens`.
    pub max_tokens: Option<Spanned<u32>>,
    /// p99 latency budget for a whole request, in milliseconds.
    pub latency_budget_ms: Option<Spanned<u32>>,
    /// TCP port of this model's loader on each node it is placed on (default 8001 + its index).
    pub port: Option<Spanned<u16>>,
    /// Requests one loader works on at once; the router queues the rest (default 4).
    pub max_concurrency: Option<Spanned<u32>>,
    /// Longest a hot-swap waits for the old loader's requests to finish (default 300).
    pub drain_secs: Option<u32>,
    /// The requests per second intake projected (the placement diff compares the measured rate).
    pub projected_qps: Option<Spanned<f64>>,
    /// Extra arguments for this model's loader, after `deploy.loader_args` (a flag given in both:
    /// this one wins), e.g. `[--prompt-cache-size, "20"]`.
    pub loader_args: Option<Vec<String>>,
    /// How the router picks among this model's replicas: `least-outstanding` (default), or
    /// `prefix-affinity` (the replica most likely holding the prompt's prefix in its prompt cache,
    /// within a bounded load: multi-turn chats and shared system prompts), or `round-robin`.
    pub routing: Option<crate::router::table::Routing>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    pub nodes: Vec<Spanned<String>>,
    pub replicas: Option<Spanned<u32>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    #[default]
    Local,
    S3,
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    #[serde(default)]
    pub kind: StoreKind,
    /// Local folder (kind `local`), relative to the inventory file.
    pub path: Option<PathBuf>,
    pub endpoint: Option<String>,
    pub bucket: Option<String>,
    pub prefix: Option<String>,
    pub region: Option<String>,
    /// A 0600 file with the S3 credentials; never inline secrets in the inventory.
    pub credentials_file: Option<PathBuf>,
    #[serde(default)]
    pub path_style: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouterConfig {
    pub listen: Option<Spanned<String>>,
    pub admin_listen: Option<Spanned<String>>,
    pub token_file: Option<PathBuf>,
    /// Client connection limits (timeouts, connection cap, JSON depth); see `docs/router.md`.
    pub limits: Option<crate::router::table::Limits>,
}

/// SMTP settings: where garnet hands its mail over.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    pub host: Spanned<String>,
    /// Default: 587 with STARTTLS, 465 with TLS, 25 with none.
    pub port: Option<u16>,
    #[serde(default)]
    pub security: Option<Spanned<MailSecurity>>,
    /// The sender, e.g. `garnet <reports@example.com>`.
    pub from: Spanned<String>,
    /// `username` on the first line, `password` on the second; mode 0600.
    pub credentials_file: Option<PathBuf>,
    /// A PEM file of certificates to trust besides the system's (a private relay's CA).
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MailSecurity {
    /// Plain connection upgraded with STARTTLS (required: refused if the server does not offer it).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
    /// No encryption: only to a server on loopback.
    None,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cost {
    pub retainer_usd_month: Option<f64>,
    pub usd_per_kwh: Option<f64>,
    /// Per node kind (the node's `chip`, e.g. "M4 Pro"): price and amortization.
    #[serde(default)]
    pub hardware: HashMap<String, HardwareCost>,
    /// API prices to compare against, per million tokens.
    #[serde(default)]
    pub api_prices: Vec<ApiPrice>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HardwareCost {
    pub price_usd: f64,
    pub amortization_months: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiPrice {
    pub name: String,
    pub input_usd_per_mtok: f64,
    /// The price of input tokens the API serves from its prompt cache (its input price when
    /// not given).
    #[serde(default)]
    pub cached_input_usd_per_mtok: Option<f64>,
    pub output_usd_per_mtok: f64,
    /// The models this API stands in for (the ones it would replace); all models when not given.
    #[serde(default)]
    pub models: Option<Vec<String>>,
}

impl ApiPrice {
    /// Whether this API is what `model`'s tokens are compared against.
    pub fn covers(&self, model: &str) -> bool {
        self.models.as_ref().is_none_or(|m| m.iter().any(|x| x == model))
    }
}
