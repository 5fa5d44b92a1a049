//! The inventory: the YAML model of a rack, its defaults, validation with file:line:col, and node
//! selection (`--limit`).
//!
//! Loading is all-or-nothing: [`Inventory::load`] either returns a fully resolved inventory (every
//! default applied, every path absolute, every reference checked) or an [`InventoryError`] listing
//! every problem at once. Nothing downstream re-validates.

mod diag;
mod schema;
mod select;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_saphyr::Spanned;

pub use diag::{Diagnostic, InventoryError, did_you_mean};
pub use schema::{
    Cost, DeployConfig, HostKeyChecking, MailSecurity, Model, Os, Quantization, ServiceBackend, StoreKind, Tier,
    TransportKind,
};
pub use select::{Selection, select};

use schema::{Defaults, MailConfig, MonitorConfig, Placement, RawInventory, RawNode, RouterConfig, StoreConfig};

/// Roles a node can have. Unknown roles are rejected (with a suggestion) rather than ignored.
pub const ROLES: &[&str] = &["router", "loader"];

/// A validated, resolved inventory.
#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    /// The file it came from.
    pub path: PathBuf,
    pub cluster: ClusterInfo,
    pub nodes: Vec<Arc<Node>>,
    pub models: Vec<ModelSpec>,
    pub placement: BTreeMap<String, PlacementSpec>,
    pub store: StoreSpec,
    pub router: Option<RouterSpec>,
    pub cost: Option<Cost>,
    pub deploy: DeployConfig,
    pub monitor: MonitorSpec,
    pub mail: Option<MailSpec>,
}

/// Outgoing mail with defaults applied (`mail:`).
#[derive(Debug, Clone, Serialize)]
pub struct MailSpec {
    pub host: String,
    pub port: u16,
    pub security: MailSecurity,
    pub from: String,
    pub credentials_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
}

/// The monitor's settings with defaults applied.
#[derive(Debug, Clone, Serialize)]
pub struct MonitorSpec {
    pub interval_secs: u32,
    pub health_port: u16,
    pub spool_max: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClusterInfo {
    pub slug: String,
    pub tier: Tier,
    pub contacts: Vec<String>,
}

/// One node with every default applied.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Node {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub os: Option<Os>,
    pub chip: Option<String>,
    pub memory_gb: Option<f64>,
    pub roles: Vec<String>,
    pub tags: Vec<String>,
    pub garnet_home: String,
    pub transport: TransportKind,
    pub identity_file: Option<PathBuf>,
    pub host_key_checking: HostKeyChecking,
    pub known_hosts: Option<PathBuf>,
    pub ssh_config: Option<PathBuf>,
    #[serde(with = "secs")]
    pub connect_timeout: Duration,
    pub connect_retries: u32,
    pub service_backend: ServiceBackend,
    /// Where other nodes reach this node's services (see [`Node::service_host`]).
    pub address: Option<String>,
    pub port_offset: u16,
    /// Prints the node's watts from its metered PDU outlet (run on the node by the monitor).
    pub power_command: Option<String>,
}

impl Node {
    /// `user@host:port`, or `local` for the local transport: how the node is reached.
    pub fn address(&self) -> String {
        match self.transport {
            TransportKind::Local => "local".to_string(),
            _ => {
                let user = self.user.as_deref().map(|u| format!("{u}@")).unwrap_or_default();
                if self.host.contains(':') {
                    format!("{user}[{}]:{}", self.host, self.port)
                } else {
                    format!("{user}{}:{}", self.host, self.port)
                }
            }
        }
    }
}

impl Node {
    /// The host other nodes (the router) use to reach this node's loaders.
    pub fn service_host(&self) -> String {
        let h = match (&self.address, self.transport) {
            (Some(a), _) => a.clone(),
            (None, TransportKind::Local) => "127.0.0.1".to_string(),
            (None, _) => self.host.clone(),
        };
        if h.contains(':') { format!("[{h}]") } else { h }
    }

    /// The address this node's loaders listen on: its `address`, else `host` when that is an IP
    /// address (a name from ssh_config may not resolve on the node itself), else every interface.
    pub fn bind_host(&self) -> String {
        match (&self.address, self.transport) {
            (Some(a), _) => a.clone(),
            (None, TransportKind::Local) => "127.0.0.1".to_string(),
            (None, _) if self.host.parse::<std::net::IpAddr>().is_ok() => self.host.clone(),
            (None, _) => "0.0.0.0".to_string(),
        }
    }

    /// A service port on this node: `base` shifted by the node's `port_offset`.
    pub fn port(&self, base: u16) -> u16 {
        base.saturating_add(self.port_offset)
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

mod secs {
    pub fn serialize<S: serde::Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct ModelSpec {
    pub name: String,
    pub source: String,
    pub quantization: Option<Quantization>,
    pub context: Option<u32>,
    pub max_tokens: Option<u32>,
    pub latency_budget_ms: Option<u32>,
    /// The loader's port on every node the model is placed on.
    pub port: u16,
    pub max_concurrency: u32,
    /// Longest a hot-swap waits for this model's old loader to drain.
    pub drain_secs: u32,
    /// The weights on this machine when `source` is a path (`/`, `.` or `~` first): deploy copies
    /// them to `models/<name>` under each node's garnet home.
    pub local_path: Option<PathBuf>,
    /// What intake projected, requests per second.
    pub projected_qps: Option<f64>,
    /// Extra loader arguments (after `deploy.loader_args`).
    #[serde(default)]
    pub loader_args: Vec<String>,
    /// How the router picks among this model's replicas.
    #[serde(default, skip_serializing_if = "crate::router::table::Routing::is_default")]
    pub routing: crate::router::table::Routing,
}

impl ModelSpec {
    /// What the loader is started with as `--model`, and so the id the router must send it: the
    /// copied folder relative to the garnet home (the loader's working directory), or the
    /// Hugging Face repo id.
    pub fn loader_id(&self) -> String {
        match self.local_path {
            Some(_) => format!("models/{}", self.name),
            None => self.source.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PlacementSpec {
    pub nodes: Vec<String>,
    pub replicas: u32,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct StoreSpec {
    pub kind: StoreKind,
    /// Local folder (kind `local`).
    pub path: PathBuf,
    pub endpoint: Option<String>,
    pub bucket: Option<String>,
    pub prefix: Option<String>,
    pub region: Option<String>,
    pub credentials_file: Option<PathBuf>,
    pub path_style: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RouterSpec {
    pub listen: String,
    pub admin_listen: String,
    pub token_file: Option<PathBuf>,
    pub limits: crate::router::table::Limits,
}

impl StoreSpec {
    /// A local-folder store at `path`.
    pub fn local(path: PathBuf) -> StoreSpec {
        StoreSpec {
            kind: StoreKind::Local,
            path,
            endpoint: None,
            bucket: None,
            prefix: None,
            region: None,
            credentials_file: None,
            path_style: false,
        }
    }
}

impl Inventory {
    /// Reads, parses and validates `path`.
    pub fn load(path: &Path) -> Result<Inventory, LoadError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| LoadError::Read { path: path.to_path_buf(), source })?;
        Inventory::from_str(path, &text).map_err(LoadError::Invalid)
    }

    /// Parses and validates inventory text; `path` names it in errors and anchors relative paths.
    pub fn from_str(path: &Path, text: &str) -> Result<Inventory, InventoryError> {
        let fail =
            |diagnostics| InventoryError { file: path.to_path_buf(), source_text: text.to_string(), diagnostics };
        let raw: RawInventory = match serde_saphyr::from_str(text) {
            Ok(raw) => raw,
            Err(e) => return Err(fail(vec![parse_diagnostic(&e, text)])),
        };
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
        let mut diags = Vec::new();
        let inv = resolve(path, &dir, raw, &mut diags);
        if diags.is_empty() {
            Ok(inv)
        } else {
            diags.sort_by_key(|d| (d.line, d.column));
            Err(fail(diags))
        }
    }

    pub fn node(&self, name: &str) -> Option<&Arc<Node>> {
        self.nodes.iter().find(|n| n.name == name)
    }
}

/// Why an inventory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read inventory `{}`", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Invalid(InventoryError),
}

fn parse_diagnostic(err: &serde_saphyr::Error, text: &str) -> Diagnostic {
    use serde_saphyr::Error as E;
    let (line, column) = err.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
    let index = PathIndex::build(text);
    let path = index.path_at(line, column);
    match err.without_snippet() {
        E::SerdeUnknownField { field, expected, .. } => {
            let d = Diagnostic::new(line, column, path, format!("unknown key `{field}`"));
            match did_you_mean(field, expected.iter().copied()) {
                Some(s) => d.hint(format!("did you mean `{s}`?")),
                None => d.hint(format!("expected one of {}", list(expected))),
            }
        }
        E::SerdeUnknownVariant { variant, expected, .. } => {
            let d = Diagnostic::new(line, column, path, format!("unknown value `{variant}`"));
            match did_you_mean(variant, expected.iter().copied()) {
                Some(s) => d.hint(format!("did you mean `{s}`? (expected one of {})", list(expected))),
                None => d.hint(format!("expected one of {}", list(expected))),
            }
        }
        E::SerdeMissingField { field, .. } => {
            // Reported at the mapping that lacks the key: name the mapping, not its first key.
            let path = index.container_at(line, column);
            let inner = if path.is_empty() { field.to_string() } else { format!("{path}.{field}") };
            Diagnostic::new(line, column, path, format!("missing required key `{field}`"))
                .hint(format!("add `{inner}`; see inventory.example.yaml"))
        }
        other => {
            // serde-saphyr's own message, minus the location it appends (we print ours in front).
            let msg = other.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).trim().to_string();
            Diagnostic::new(line, column, path, msg)
        }
    }
}

use diag::PathIndex;

fn list(items: &[&str]) -> String {
    items.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
}

fn at<T>(s: &Spanned<T>) -> (u64, u64) {
    (s.referenced.line(), s.referenced.column())
}

/// `~/x` → `$HOME/x`; relative → next to the inventory file.
pub fn expand_path(dir: &Path, p: &Path) -> PathBuf {
    if let Ok(rest) = p.strip_prefix("~")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    if p.is_absolute() { p.to_path_buf() } else { dir.join(p) }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn resolve(path: &Path, dir: &Path, raw: RawInventory, diags: &mut Vec<Diagnostic>) -> Inventory {
    let RawInventory {
        cluster,
        defaults: d,
        nodes: raw_nodes,
        models: raw_models,
        placement: raw_placement,
        store,
        router,
        cost,
        deploy,
        monitor,
        mail,
    } = raw;

    // cluster
    let slug = cluster.slug.value.clone();
    let (l, c) = at(&cluster.slug);
    if check_slug(&slug).is_err() {
        diags.push(
            Diagnostic::new(l, c, "cluster.slug", format!("invalid slug `{slug}`"))
                .hint(format!("{SLUG_RULE}, e.g. `acme-prod`")),
        );
    }

    if let Some(t) = &d.connect_timeout_secs
        && t.value == 0
    {
        let (l, c) = at(t);
        diags.push(Diagnostic::new(l, c, "defaults.connect_timeout_secs", "must be at least 1"));
    }

    let nodes = resolve_nodes(dir, &d, &raw_nodes, diags);
    let models = resolve_models(dir, &raw_models, diags);
    let placement = resolve_placement(raw_placement, &nodes, &models, &raw_models, diags);
    check_ports(&placement, &models, &raw_models, diags);
    let store = resolve_store(dir, store, diags);
    let router = resolve_router(dir, router, diags);
    let monitor = resolve_monitor(monitor, diags);
    let mail = resolve_mail(dir, mail, diags);

    Inventory {
        path: path.to_path_buf(),
        cluster: ClusterInfo { slug, tier: cluster.tier, contacts: cluster.contacts },
        nodes,
        models,
        placement,
        store,
        router,
        cost,
        deploy: deploy.unwrap_or_default(),
        monitor,
        mail,
    }
}

/// `mail:`: the sender parses as a mailbox, plain SMTP only to loopback.
fn resolve_mail(dir: &Path, mail: Option<MailConfig>, diags: &mut Vec<Diagnostic>) -> Option<MailSpec> {
    let m = mail?;
    let security = m.security.as_ref().map(|s| s.value).unwrap_or_default();
    if security == MailSecurity::None && !crate::util::is_loopback_host(&m.host.value) {
        let (l, c) = at(m.security.as_ref().expect("set when not the default"));
        diags.push(
            Diagnostic::new(
                l,
                c,
                "mail.security",
                format!(
                    "`none` sends credentials and reports in the clear: only to a server on loopback, not `{}`",
                    m.host.value
                ),
            )
            .hint("use `starttls` (port 587) or `tls` (port 465)"),
        );
    }
    if !crate::report::mail::is_mailbox(&m.from.value) {
        let (l, c) = at(&m.from);
        diags.push(
            Diagnostic::new(l, c, "mail.from", format!("`{}` is not an email address", m.from.value))
                .hint("e.g. `garnet <reports@example.com>`"),
        );
    }
    Some(MailSpec {
        host: m.host.value.clone(),
        port: m.port.unwrap_or(match security {
            MailSecurity::Starttls => 587,
            MailSecurity::Tls => 465,
            MailSecurity::None => 25,
        }),
        security,
        from: m.from.value.clone(),
        credentials_file: m.credentials_file.as_ref().map(|p| expand_path(dir, p)),
        ca_file: m.ca_file.as_ref().map(|p| expand_path(dir, p)),
    })
}

/// `nodes:`, with `defaults:` applied: names and addresses unique, each node resolved.
fn resolve_nodes(dir: &Path, d: &Defaults, raw_nodes: &[RawNode], diags: &mut Vec<Diagnostic>) -> Vec<Arc<Node>> {
    let mut nodes: Vec<Arc<Node>> = Vec::new();
    let mut seen_names: HashMap<String, u64> = HashMap::new();
    let mut seen_addrs: HashMap<(String, u16), (String, u64)> = HashMap::new();
    for (i, rn) in raw_nodes.iter().enumerate() {
        let name = rn.name.value.clone();
        let (l, c) = at(&rn.name);
        if !valid_name(&name) {
            diags.push(
                Diagnostic::new(l, c, format!("nodes[{i}].name"), format!("invalid node name `{name}`"))
                    .hint("use letters, digits, `-`, `_` and `.`"),
            );
        }
        if let Some(first) = seen_names.get(&name) {
            diags.push(Diagnostic::new(
                l,
                c,
                format!("nodes[{i}].name"),
                format!("duplicate node name `{name}` (first defined on line {first})"),
            ));
        } else {
            seen_names.insert(name.clone(), l);
        }
        let transport = rn.transport.or(d.transport).unwrap_or_default();
        let host = match (&rn.host, transport) {
            (Some(h), _) => {
                if h.value.trim().is_empty() {
                    let (l, c) = at(h);
                    diags.push(Diagnostic::new(l, c, format!("nodes[{i}].host"), "empty host"));
                }
                h.value.clone()
            }
            (None, TransportKind::Local) => "localhost".to_string(),
            (None, _) => {
                diags.push(
                    Diagnostic::new(l, c, format!("nodes[{i}]"), format!("node `{name}` has no `host`"))
                        .hint("add `host:` (an address or a name from ~/.ssh/config), or `transport: local`"),
                );
                String::new()
            }
        };
        let port = rn.port.or(d.port).unwrap_or(22);
        if transport != TransportKind::Local && !host.is_empty() {
            let key = (host.to_ascii_lowercase(), port);
            if let Some((other, line)) = seen_addrs.get(&key) {
                let (hl, hc) = rn.host.as_ref().map(at).unwrap_or((l, c));
                diags.push(Diagnostic::new(
                    hl,
                    hc,
                    format!("nodes[{i}].host"),
                    format!("`{host}:{port}` is also node `{other}` (line {line}): one machine, two names"),
                ));
            } else {
                seen_addrs.insert(key, (name.clone(), l));
            }
        }
        if let Some(m) = &rn.memory_gb
            && (m.value.is_nan() || m.value <= 0.0)
        {
            let (l, c) = at(m);
            diags.push(Diagnostic::new(
                l,
                c,
                format!("nodes[{i}].memory_gb"),
                format!("memory must be more than 0 GB, got {}", m.value),
            ));
        }
        for (j, role) in rn.roles.iter().enumerate() {
            if !ROLES.contains(&role.value.as_str()) {
                let (l, c) = at(role);
                let mut diag =
                    Diagnostic::new(l, c, format!("nodes[{i}].roles[{j}]"), format!("unknown role `{}`", role.value));
                diag = match did_you_mean(&role.value, ROLES.iter().copied()) {
                    Some(s) => diag.hint(format!("did you mean `{s}`?")),
                    None => diag.hint(format!("roles are {}", list(ROLES))),
                };
                diags.push(diag);
            }
        }
        let user = rn.user.clone().or_else(|| d.user.clone());
        let garnet_home =
            rn.garnet_home.clone().or_else(|| d.garnet_home.clone()).unwrap_or_else(|| "~/.garnet".to_string());
        nodes.push(Arc::new(Node {
            name,
            host,
            port,
            user,
            os: rn.os,
            chip: rn.chip.clone(),
            memory_gb: rn.memory_gb.as_ref().map(|m| m.value),
            roles: rn.roles.iter().map(|r| r.value.clone()).collect(),
            tags: rn.tags.clone(),
            garnet_home,
            transport,
            identity_file: rn.identity_file.as_ref().or(d.identity_file.as_ref()).map(|p| expand_path(dir, p)),
            host_key_checking: d.host_key_checking.unwrap_or_default(),
            known_hosts: d.known_hosts.as_ref().map(|p| expand_path(dir, p)),
            ssh_config: d.ssh_config.as_ref().map(|p| expand_path(dir, p)),
            connect_timeout: Duration::from_secs(d.connect_timeout_secs.as_ref().map(|t| t.value.max(1)).unwrap_or(10)),
            connect_retries: d.connect_retries.unwrap_or(2),
            service_backend: rn.service_backend.or(d.service_backend).unwrap_or_default(),
            address: rn.address.as_ref().map(|a| a.value.clone()),
            port_offset: rn.port_offset.unwrap_or(0),
            power_command: rn.power_command.clone(),
        }));
    }

    nodes
}

/// `models:`: names unique, sources and ports checked, local sources resolved.
fn resolve_models(dir: &Path, raw_models: &[Model], diags: &mut Vec<Diagnostic>) -> Vec<ModelSpec> {
    let mut models = Vec::new();
    let mut seen_models: HashMap<String, u64> = HashMap::new();
    for (i, m) in raw_models.iter().enumerate() {
        let (l, c) = at(&m.name);
        if m.name.value.trim().is_empty() {
            diags.push(Diagnostic::new(l, c, format!("models[{i}].name"), "empty model name"));
        }
        if let Some(first) = seen_models.get(&m.name.value) {
            diags.push(Diagnostic::new(
                l,
                c,
                format!("models[{i}].name"),
                format!("duplicate model name `{}` (first defined on line {first})", m.name.value),
            ));
        } else {
            seen_models.insert(m.name.value.clone(), l);
        }
        if m.source.value.trim().is_empty() {
            let (l, c) = at(&m.source);
            diags.push(
                Diagnostic::new(l, c, format!("models[{i}].source"), "empty model source")
                    .hint("a Hugging Face repo id (`mlx-community/...`) or a local path"),
            );
        }
        for (field, v) in
            [("context", &m.context), ("max_tokens", &m.max_tokens), ("latency_budget_ms", &m.latency_budget_ms)]
        {
            if let Some(v) = v
                && v.value == 0
            {
                let (l, c) = at(v);
                diags.push(Diagnostic::new(l, c, format!("models[{i}].{field}"), "must be more than 0"));
            }
        }
        if let (Some(ctx), Some(mt)) = (&m.context, &m.max_tokens)
            && mt.value > ctx.value
        {
            let (l, c) = at(mt);
            diags.push(Diagnostic::new(
                l,
                c,
                format!("models[{i}].max_tokens"),
                format!("max_tokens {} exceeds the context of {}", mt.value, ctx.value),
            ));
        }
        models.push(ModelSpec {
            name: m.name.value.clone(),
            source: m.source.value.clone(),
            quantization: m.quantization,
            context: m.context.as_ref().map(|v| v.value),
            max_tokens: m.max_tokens.as_ref().map(|v| v.value),
            latency_budget_ms: m.latency_budget_ms.as_ref().map(|v| v.value),
            port: m.port.as_ref().map_or(8001 + i as u16, |p| p.value),
            max_concurrency: m.max_concurrency.as_ref().map_or(4, |c| c.value),
            drain_secs: m.drain_secs.unwrap_or(300),
            projected_qps: m.projected_qps.as_ref().map(|q| q.value),
            loader_args: m.loader_args.clone().unwrap_or_default(),
            routing: m.routing.unwrap_or_default(),
            local_path: {
                let src = m.source.value.trim();
                (src.starts_with('/') || src.starts_with('.') || src.starts_with('~'))
                    .then(|| expand_path(dir, Path::new(src)))
            },
        });
        if let Some(c) = &m.max_concurrency
            && c.value == 0
        {
            let (l, col) = at(c);
            diags.push(Diagnostic::new(l, col, format!("models[{i}].max_concurrency"), "must be at least 1"));
        }
        if let Some(p) = &m.port
            && p.value == 0
        {
            let (l, col) = at(p);
            diags.push(Diagnostic::new(l, col, format!("models[{i}].port"), "must be a port number, 1-65535"));
        }
    }

    models
}

/// `placement:`: every model and node named exists, replicas fit, in the file's order.
fn resolve_placement(
    raw_placement: HashMap<Spanned<String>, Placement>,
    nodes: &[Arc<Node>],
    models: &[ModelSpec],
    raw_models: &[Model],
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, PlacementSpec> {
    let mut entries: Vec<_> = raw_placement.into_iter().collect();
    entries.sort_by_key(|(k, _)| at(k));
    let mut placement = BTreeMap::new();
    for (model, p) in entries {
        let (l, c) = at(&model);
        let mpath = format!("placement.{}", model.value);
        if !raw_models.iter().any(|m| m.name.value == model.value) {
            let mut diag =
                Diagnostic::new(l, c, mpath.clone(), format!("placement names unknown model `{}`", model.value));
            diag = match did_you_mean(&model.value, models.iter().map(|m| m.name.as_str())) {
                Some(s) => diag.hint(format!("did you mean `{s}`?")),
                None => diag.hint("declare it under `models:` first"),
            };
            diags.push(diag);
        }
        let mut placed = Vec::new();
        for (j, n) in p.nodes.iter().enumerate() {
            let (l, c) = at(n);
            match nodes.iter().find(|x| x.name == n.value) {
                None => {
                    let mut diag = Diagnostic::new(
                        l,
                        c,
                        format!("{mpath}.nodes[{j}]"),
                        format!("placement names unknown node `{}`", n.value),
                    );
                    diag = match did_you_mean(&n.value, nodes.iter().map(|x| x.name.as_str())) {
                        Some(s) => diag.hint(format!("did you mean `{s}`?")),
                        None => diag.hint("declare it under `nodes:` first"),
                    };
                    diags.push(diag);
                }
                Some(node) if !node.roles.is_empty() && !node.roles.iter().any(|r| r == "loader") => {
                    diags.push(
                        Diagnostic::new(
                            l,
                            c,
                            format!("{mpath}.nodes[{j}]"),
                            format!("node `{}` is not a loader (roles: {})", n.value, node.roles.join(", ")),
                        )
                        .hint("add `loader` to its roles, or place the model elsewhere"),
                    );
                }
                Some(_) => {}
            }
            if placed.contains(&n.value) {
                diags.push(Diagnostic::new(
                    l,
                    c,
                    format!("{mpath}.nodes[{j}]"),
                    format!("node `{}` listed twice", n.value),
                ));
            }
            placed.push(n.value.clone());
        }
        if p.nodes.is_empty() {
            diags.push(Diagnostic::new(l, c, format!("{mpath}.nodes"), "no nodes to place the model on"));
        }
        let replicas = match &p.replicas {
            Some(r) => {
                if r.value == 0 || r.value as usize > p.nodes.len() {
                    let (l, c) = at(r);
                    diags.push(Diagnostic::new(
                        l,
                        c,
                        format!("{mpath}.replicas"),
                        format!("replicas must be between 1 and the {} node(s) listed, got {}", p.nodes.len(), r.value),
                    ));
                }
                r.value
            }
            None => p.nodes.len() as u32,
        };
        placement.insert(model.value.clone(), PlacementSpec { nodes: placed, replicas });
    }

    placement
}

/// Two models placed on one node cannot share a loader port.
fn check_ports(
    placement: &BTreeMap<String, PlacementSpec>,
    models: &[ModelSpec],
    raw_models: &[Model],
    diags: &mut Vec<Diagnostic>,
) {
    let mut taken: HashMap<(String, u16), String> = HashMap::new();
    for (model, p) in placement {
        let Some(spec) = models.iter().find(|m| &m.name == model) else { continue };
        for node in &p.nodes {
            if let Some(other) = taken.insert((node.clone(), spec.port), model.clone()) {
                let (l, c) = raw_models
                    .iter()
                    .find(|m| &m.name.value == model)
                    .and_then(|m| m.port.as_ref().map(at))
                    .unwrap_or((0, 0));
                diags.push(
                    Diagnostic::new(
                        l,
                        c,
                        format!("placement.{model}"),
                        format!("models `{other}` and `{model}` would both use port {} on node `{node}`", spec.port),
                    )
                    .hint("give one of them another `port`"),
                );
            }
        }
    }
}

/// `store:`, or a local folder beside the inventory.
fn resolve_store(dir: &Path, store: Option<Spanned<StoreConfig>>, diags: &mut Vec<Diagnostic>) -> StoreSpec {
    match store {
        None => StoreSpec::local(dir.join("garnet-store")),
        Some(s) => {
            let (l, c) = at(&s);
            let s = s.value;
            if s.kind == StoreKind::S3 && s.bucket.as_deref().unwrap_or("").is_empty() {
                diags.push(Diagnostic::new(l, c, "store", "an `s3` store needs a `bucket`"));
            }
            if let Some(ep) = &s.endpoint
                && !(ep.starts_with("https://") || ep.starts_with("http://"))
            {
                diags.push(Diagnostic::new(l, c, "store.endpoint", format!("endpoint `{ep}` is not an http(s) URL")));
            }
            StoreSpec {
                kind: s.kind,
                path: expand_path(dir, s.path.as_deref().unwrap_or(Path::new("garnet-store"))),
                endpoint: s.endpoint,
                bucket: s.bucket,
                prefix: s.prefix,
                region: s.region,
                credentials_file: s.credentials_file.as_ref().map(|p| expand_path(dir, p)),
                path_style: s.path_style,
            }
        }
    }
}

/// `router:`: addresses checked, defaults filled.
fn resolve_router(dir: &Path, router: Option<RouterConfig>, diags: &mut Vec<Diagnostic>) -> Option<RouterSpec> {
    router.map(|r| {
        let mut check = |v: &Option<Spanned<String>>, field: &str, default: &str| -> String {
            match v {
                Some(s) => {
                    if s.value.parse::<std::net::SocketAddr>().is_err() {
                        let (l, c) = at(s);
                        diags.push(
                            Diagnostic::new(
                                l,
                                c,
                                format!("router.{field}"),
                                format!("`{}` is not an address:port", s.value),
                            )
                            .hint("e.g. `0.0.0.0:8080` or `127.0.0.1:8081`"),
                        );
                    }
                    s.value.clone()
                }
                None => default.to_string(),
            }
        };
        RouterSpec {
            listen: check(&r.listen, "listen", "0.0.0.0:8080"),
            admin_listen: check(&r.admin_listen, "admin_listen", "127.0.0.1:8081"),
            token_file: r.token_file.as_ref().map(|p| expand_path(dir, p)),
            limits: r.limits.unwrap_or_default(),
        }
    })
}

fn resolve_monitor(monitor: Option<MonitorConfig>, diags: &mut Vec<Diagnostic>) -> MonitorSpec {
    let monitor = monitor.unwrap_or_default();
    if let Some(i) = &monitor.interval_secs
        && i.value == 0
    {
        let (l, c) = at(i);
        diags.push(Diagnostic::new(l, c, "monitor.interval_secs", "must be at least 1"));
    }
    MonitorSpec {
        interval_secs: monitor.interval_secs.as_ref().map_or(60, |i| i.value.max(1)),
        health_port: monitor.health_port.unwrap_or(9109),
        spool_max: monitor.spool_max.unwrap_or(10_080),
    }
}

/// The one rule for a cluster slug (the inventory, intake, `telemetry synth`): 1-63 lowercase
/// letters, digits and dashes, not starting or ending with a dash (it names store prefixes, units
/// and URLs).
pub const SLUG_RULE: &str = "use 1-63 lowercase letters, digits and dashes, not starting or ending with a dash";

pub fn check_slug(slug: &str) -> Result<(), String> {
    let ok = !slug.is_empty()
        && slug.len() <= 63
        && slug.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok { Ok(()) } else { Err(format!("invalid slug `{slug}`: {SLUG_RULE}")) }
}
