//! The intake: answers (from the questionnaire or a YAML file) → decisions (quantization from the
//! memory math, a procurement scope when there is no hardware yet, the network plan) → the
//! inventory and `intake.md`. Pure apart from reading nothing: both paths of `garnet intake` end
//! here, so they give the same result for the same answers.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::inventory::Tier;
use crate::placement::memory::{RUNTIME_OVERHEAD_BYTES, bits_per_weight};

/// A model garnet knows by name (`data/models.yaml`).
#[derive(Debug, Clone, Deserialize)]
pub struct CatalogModel {
    pub name: String,
    pub params_b: f64,
    pub layers: u64,
    pub kv_heads: u64,
    pub head_dim: u64,
    pub max_context: u64,
    pub source: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChipKind {
    pub chip: String,
    pub bandwidth_gbs: f64,
    pub memory_gb: Vec<u32>,
    pub price_usd: std::collections::BTreeMap<u32, f64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Throughput {
    pub efficiency: f64,
    pub batch_gain: f64,
    pub chips: Vec<ChipKind>,
}

pub fn catalog() -> Vec<CatalogModel> {
    serde_saphyr::from_str(include_str!("../data/models.yaml")).expect("data/models.yaml is valid")
}

pub fn throughput() -> Throughput {
    serde_saphyr::from_str(include_str!("../data/throughput.yaml")).expect("data/throughput.yaml is valid")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Traffic {
    Bursty,
    Steady,
    Scheduled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    #[default]
    #[serde(rename = "10gbe")]
    TenGbE,
    #[serde(rename = "1gbe")]
    OneGbE,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Telemetry {
    /// Outbound only, through a Cloudflare Tunnel: nothing listens on the internet.
    CloudflareTunnel,
    /// Outbound HTTPS straight to the bucket.
    Direct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SshKeys {
    /// garnet creates an operator key and installs it (`garnet keys provision`).
    Garnet,
    /// The customer installs a key they manage.
    Customer,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Answers {
    pub cluster: ClusterAnswers,
    pub workload: Workload,
    pub hardware: Hardware,
    pub access: Access,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClusterAnswers {
    pub slug: String,
    pub tier: Tier,
    #[serde(default)]
    pub contacts: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// What the models are for (free text).
    #[serde(default)]
    pub workloads: Vec<String>,
    /// Models by catalog name; the first is served first.
    pub models: Vec<String>,
    /// Expected peak requests per second.
    pub qps: f64,
    pub latency_budget_ms: u32,
    pub traffic: Traffic,
    #[serde(default = "d_context")]
    pub context: u32,
    #[serde(default = "d_concurrency")]
    pub concurrency: u32,
    /// Average completion tokens per request.
    #[serde(default = "d_completion")]
    pub completion_tokens: u32,
}

fn d_context() -> u32 {
    8192
}
fn d_concurrency() -> u32 {
    4
}
fn d_completion() -> u32 {
    300
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Hardware {
    /// Nodes as found (probed with `garnet facts`) or declared by name.
    #[serde(default)]
    pub nodes: Vec<NodeAnswer>,
    /// Nodes declared by kind: `{chip: M4 Pro, count: 2, memory_gb: 64}`.
    #[serde(default)]
    pub declared: Vec<Declared>,
    #[serde(default = "d_network")]
    pub network: Network,
}

fn d_network() -> Network {
    Network::TenGbE
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeAnswer {
    pub name: String,
    pub host: String,
    #[serde(default)]
    pub user: Option<String>,
    pub chip: String,
    pub memory_gb: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Declared {
    pub chip: String,
    pub count: u32,
    pub memory_gb: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Access {
    pub telemetry: Telemetry,
    pub ssh_keys: SshKeys,
    /// `r2` (the customer's Cloudflare R2 bucket) or `local`.
    #[serde(default = "d_store")]
    pub store: String,
}

fn d_store() -> String {
    "r2".into()
}

/// Checks one answer; the message says why it is refused (used at the prompt and for files).
pub fn check_qps(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(_) => Err("requests per second must be more than 0".into()),
        Err(_) => Err(format!("`{}` is not a number of requests per second (e.g. 5 or 0.5)", s.trim())),
    }
}

pub fn check_memory(s: &str) -> Result<f64, String> {
    match s.trim().trim_end_matches("GB").trim_end_matches("gb").trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(_) => Err("memory must be more than 0 GB".into()),
        Err(_) => Err(format!("`{}` is not a memory size in GB (e.g. 64)", s.trim())),
    }
}

pub fn check_model(s: &str) -> Result<CatalogModel, String> {
    let cat = catalog();
    cat.iter().find(|m| m.name == s.trim()).cloned().ok_or_else(|| {
        let names: Vec<&str> = cat.iter().map(|m| m.name.as_str()).collect();
        let prefix = names.iter().copied().find(|n| n.starts_with(s.trim()) && !s.trim().is_empty());
        match crate::inventory::did_you_mean(s.trim(), names.iter().copied()).or(prefix) {
            Some(g) => format!("unknown model `{}`: did you mean `{g}`?", s.trim()),
            None => format!("unknown model `{}`: garnet knows {}", s.trim(), names.join(", ")),
        }
    })
}

pub fn check_chip(s: &str) -> Result<String, String> {
    let t = throughput();
    t.chips.iter().find(|c| c.chip.eq_ignore_ascii_case(s.trim())).map(|c| c.chip.clone()).ok_or_else(|| {
        format!(
            "unknown chip `{}`: one of {}",
            s.trim(),
            t.chips.iter().map(|c| c.chip.as_str()).collect::<Vec<_>>().join(", ")
        )
    })
}

/// Every problem with a set of answers (field path: message).
pub fn validate(a: &Answers) -> Vec<String> {
    let mut e = Vec::new();
    let slug = &a.cluster.slug;
    if let Err(m) = crate::inventory::check_slug(slug) {
        e.push(format!("cluster.slug: {m}"));
    }
    if let Err(m) = check_qps(&a.workload.qps.to_string()) {
        e.push(format!("workload.qps: {m}"));
    }
    if a.workload.latency_budget_ms == 0 {
        e.push("workload.latency_budget_ms: must be more than 0".into());
    }
    if a.workload.models.is_empty() {
        e.push("workload.models: name at least one model".into());
    }
    for (i, m) in a.workload.models.iter().enumerate() {
        if let Err(msg) = check_model(m) {
            e.push(format!("workload.models[{i}]: {msg}"));
        }
    }
    if a.workload.context == 0 || a.workload.concurrency == 0 {
        e.push("workload: context and concurrency must be more than 0".into());
    }
    for (i, n) in a.hardware.nodes.iter().enumerate() {
        if n.memory_gb.is_nan() || n.memory_gb <= 0.0 {
            e.push(format!("hardware.nodes[{i}].memory_gb: memory must be more than 0 GB"));
        }
    }
    for (i, d) in a.hardware.declared.iter().enumerate() {
        if d.memory_gb.is_nan() || d.memory_gb <= 0.0 {
            e.push(format!("hardware.declared[{i}].memory_gb: memory must be more than 0 GB"));
        }
        if d.count == 0 {
            e.push(format!("hardware.declared[{i}].count: at least 1"));
        }
        if let Err(m) = check_chip(&d.chip) {
            e.push(format!("hardware.declared[{i}].chip: {m}"));
        }
    }
    if a.hardware.nodes.is_empty() && a.hardware.declared.is_empty() && a.cluster.tier != Tier::Enterprise {
        e.push("hardware: Pro and Scale customers own their rack: probe or declare its nodes (Enterprise gets a procurement scope)".into());
    }
    if !matches!(a.access.store.as_str(), "r2" | "local") {
        e.push(format!("access.store: `{}` is neither `r2` nor `local`", a.access.store));
    }
    e
}

/// MLX may wire about 75% of unified memory for the GPU by default (`iogpu.wired_limit_mb`).
pub const USABLE_FRACTION: f64 = 0.75;

/// One quantization considered for a node size.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QuantFit {
    pub quant: &'static str,
    pub weights: u64,
    pub kv: u64,
    pub total: u64,
    pub fits: bool,
}

/// Best quality first: bf16, 8, 6, 4 bit; the first that fits `budget` wins.
pub fn quant_fits(m: &CatalogModel, context: u32, concurrency: u32, budget: u64) -> Vec<QuantFit> {
    let params = m.params_b * 1e9;
    let kv = 2
        * m.layers
        * m.kv_heads
        * m.head_dim
        * 2
        * u64::from(context.min(m.max_context as u32))
        * u64::from(concurrency);
    [("bf16", 16), ("8bit", 8), ("6bit", 6), ("4bit", 4)]
        .into_iter()
        .map(|(quant, bits)| {
            let weights = (params * bits_per_weight(bits, 64) / 8.0).ceil() as u64;
            let total = weights + kv + RUNTIME_OVERHEAD_BYTES;
            QuantFit { quant, weights, kv, total, fits: total <= budget }
        })
        .collect()
}

/// A node in the plan (found, declared, or to buy).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlannedNode {
    pub name: String,
    pub host: String,
    pub user: Option<String>,
    pub chip: String,
    pub memory_gb: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProcurementOption {
    pub chip: String,
    pub memory_gb: u32,
    pub quant: &'static str,
    pub tokens_per_s_per_node: f64,
    pub nodes: u32,
    pub cost_usd: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Decisions {
    pub nodes: Vec<PlannedNode>,
    pub model: String,
    pub source: String,
    pub quant: &'static str,
    pub budget_bytes: u64,
    pub fits: Vec<QuantFit>,
    pub procurement: Vec<ProcurementOption>,
    pub firewall: Vec<String>,
}

fn slug_chip(chip: &str) -> String {
    chip.to_ascii_lowercase().replace(' ', "")
}

fn tokens_per_s(t: &Throughput, chip: &ChipKind, weights: u64) -> f64 {
    t.efficiency * chip.bandwidth_gbs * 1e9 / weights as f64 * t.batch_gain
}

pub fn decide(a: &Answers) -> Result<Decisions, String> {
    let errors = validate(a);
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    let w = &a.workload;
    let model = check_model(&w.models[0])?;
    let t = throughput();
    let mut nodes: Vec<PlannedNode> = a
        .hardware
        .nodes
        .iter()
        .map(|n| PlannedNode {
            name: n.name.clone(),
            host: n.host.clone(),
            user: n.user.clone(),
            chip: n.chip.clone(),
            memory_gb: n.memory_gb,
        })
        .collect();
    for d in &a.hardware.declared {
        for _ in 0..d.count {
            let name = format!("{}-{:02}", slug_chip(&d.chip), nodes.iter().filter(|n| n.chip == d.chip).count() + 1);
            nodes.push(PlannedNode {
                host: format!("{name}.local"),
                name,
                user: None,
                chip: d.chip.clone(),
                memory_gb: d.memory_gb,
            });
        }
    }
    let required = w.qps * f64::from(w.completion_tokens);
    let mut procurement = Vec::new();
    if nodes.is_empty() {
        // Enterprise without hardware: every kind and size that fits, with the node count for the load.
        for chip in &t.chips {
            for &mem in &chip.memory_gb {
                let budget = (f64::from(mem) * USABLE_FRACTION * (1u64 << 30) as f64) as u64;
                let Some(best) = quant_fits(&model, w.context, w.concurrency, budget).into_iter().find(|f| f.fits)
                else {
                    continue;
                };
                let per_node = tokens_per_s(&t, chip, best.weights);
                // One more node than the load needs: the spare a hot-swap can go through.
                let n = (required / per_node * 1.25).ceil().max(1.0) as u32 + 1;
                let price = chip.price_usd.get(&mem).copied().unwrap_or(0.0);
                procurement.push(ProcurementOption {
                    chip: chip.chip.clone(),
                    memory_gb: mem,
                    quant: best.quant,
                    tokens_per_s_per_node: (per_node * 10.0).round() / 10.0,
                    nodes: n,
                    cost_usd: price * f64::from(n),
                });
            }
        }
        procurement.sort_by(|x, y| x.cost_usd.total_cmp(&y.cost_usd));
        let Some(pick) = procurement.first() else {
            return Err(format!("`{}` fits on no node kind garnet knows, even at 4 bit", model.name));
        };
        for i in 0..pick.nodes {
            let name = format!("{}-{:02}", slug_chip(&pick.chip), i + 1);
            nodes.push(PlannedNode {
                host: format!("{name}.local"),
                name,
                user: None,
                chip: pick.chip.clone(),
                memory_gb: f64::from(pick.memory_gb),
            });
        }
    }
    let smallest = nodes.iter().map(|n| n.memory_gb).fold(f64::INFINITY, f64::min);
    let budget = (smallest * USABLE_FRACTION * (1u64 << 30) as f64) as u64;
    let fits = quant_fits(&model, w.context, w.concurrency, budget);
    let Some(choice) = fits.iter().find(|f| f.fits) else {
        return Err(format!(
            "`{}` does not fit a {smallest} GB node even at 4 bit with {} tokens of context × {} concurrent requests ({} needed, {} usable); lower the context or concurrency, or pick a smaller model",
            model.name,
            w.context,
            w.concurrency,
            crate::util::human_bytes(fits.last().map_or(0, |f| f.total)),
            crate::util::human_bytes(budget)
        ));
    };
    let mut firewall = vec![
        "nodes ↔ nodes: TCP 22 (SSH from the operator's machine or bastion), the loader ports, the router port (8080)"
            .to_string(),
        "clients → router node: TCP 8080 (the OpenAI API); keep the admin API (8081) on loopback".to_string(),
    ];
    match a.access.telemetry {
        Telemetry::CloudflareTunnel => firewall.push(
            "outbound only: nodes → Cloudflare (TCP 443/7844 for `cloudflared`, HTTPS 443 to R2); no inbound port is opened".into(),
        ),
        Telemetry::Direct => firewall.push("outbound only: nodes → the bucket endpoint over HTTPS 443".into()),
    }
    Ok(Decisions {
        source: model.source.replace("{quant}", choice.quant),
        model: model.name.clone(),
        quant: choice.quant,
        budget_bytes: budget,
        fits,
        procurement,
        firewall,
        nodes,
    })
}

/// The inventory for the answers and decisions (validated by the caller with the usual checks).
pub fn inventory_yaml(a: &Answers, d: &Decisions) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Written by `garnet intake` on {}; see intake.md for why.",
        jiff::Timestamp::now().strftime("%Y-%m-%d")
    );
    let contacts = a.cluster.contacts.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
    let tier = match a.cluster.tier {
        Tier::Pro => "pro",
        Tier::Scale => "scale",
        Tier::Enterprise => "enterprise",
    };
    let _ = writeln!(s, "cluster: {{slug: {}, tier: {tier}, contacts: [{contacts}]}}", a.cluster.slug);
    let _ =
        writeln!(s, "defaults: {{user: garnet, transport: openssh, service_backend: auto, garnet_home: ~/.garnet}}");
    let _ = writeln!(s, "nodes:");
    let net = if a.hardware.network == Network::TenGbE { "10gbe" } else { "1gbe" };
    for (i, n) in d.nodes.iter().enumerate() {
        let roles = if i == 0 { "[router, loader]" } else { "[loader]" };
        let user = n.user.as_ref().map(|u| format!(", user: {u}")).unwrap_or_default();
        let _ = writeln!(
            s,
            "  - {{name: {}, host: {}{user}, os: macos, chip: \"{}\", memory_gb: {}, roles: {roles}, tags: [{net}]}}",
            n.name,
            n.host,
            n.chip.replace(['\\', '"'], ""),
            n.memory_gb
        );
    }
    let w = &a.workload;
    let _ = writeln!(s, "models:");
    let _ = writeln!(
        s,
        "  - {{name: {}, source: {}, quantization: {}, context: {}, max_tokens: {}, latency_budget_ms: {}, max_concurrency: {}, projected_qps: {}}}",
        d.model,
        d.source,
        d.quant,
        w.context,
        w.context.min(4096),
        w.latency_budget_ms,
        w.concurrency,
        w.qps
    );
    let _ = writeln!(
        s,
        "placement:\n  {}: {{nodes: [{}]}}",
        d.model,
        d.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ")
    );
    let slug = &a.cluster.slug;
    if a.access.store == "r2" {
        let _ = writeln!(
            s,
            "store: {{kind: s3, endpoint: \"https://ACCOUNT.r2.cloudflarestorage.com\", bucket: {slug}-garnet, region: auto, path_style: true, credentials_file: ~/.config/garnet/{slug}-r2.credentials}}"
        );
    } else {
        let _ = writeln!(s, "store: {{kind: local, path: garnet-store}}");
    }
    let _ = writeln!(
        s,
        "router: {{listen: \"0.0.0.0:8080\", admin_listen: \"127.0.0.1:8081\", token_file: ~/.config/garnet/{slug}-router.token}}"
    );
    let t = throughput();
    let mut hw = Vec::new();
    for n in &d.nodes {
        if hw.iter().any(|(c, _)| c == &n.chip) {
            continue;
        }
        let price =
            t.chips.iter().find(|c| c.chip == n.chip).and_then(|c| c.price_usd.get(&(n.memory_gb as u32)).copied());
        if let Some(p) = price {
            hw.push((n.chip.clone(), p));
        }
    }
    let _ = writeln!(s, "cost:\n  usd_per_kwh: 0.20\n  hardware:{}", if hw.is_empty() { " {}" } else { "" });
    for (chip, price) in hw {
        let _ = writeln!(s, "    {chip}: {{price_usd: {price}, amortization_months: 36}}");
    }
    s
}

/// `intake.md`: every answer and every decision, readable.
pub fn summary_md(a: &Answers, d: &Decisions) -> String {
    let h = crate::util::human_bytes;
    let w = &a.workload;
    let mut s = format!("# Intake: {}\n\n", a.cluster.slug);
    let _ = writeln!(
        s,
        "Tier: {:?}. Contacts: {}.\n",
        a.cluster.tier,
        if a.cluster.contacts.is_empty() { "none given".into() } else { a.cluster.contacts.join(", ") }
    );
    let _ = writeln!(s, "## Workload\n");
    let _ = writeln!(s, "| answer | value |\n|---|---|");
    let _ = writeln!(s, "| workloads | {} |", if w.workloads.is_empty() { "-".into() } else { w.workloads.join(", ") });
    let _ = writeln!(s, "| models | {} |", w.models.join(", "));
    let _ = writeln!(
        s,
        "| expected peak | {} requests/s, {} completion tokens each on average ({:.0} tokens/s) |",
        w.qps,
        w.completion_tokens,
        w.qps * f64::from(w.completion_tokens)
    );
    let _ = writeln!(s, "| latency budget | {} ms (p99, whole request) |", w.latency_budget_ms);
    let _ = writeln!(s, "| traffic shape | {:?} |", w.traffic);
    let _ = writeln!(s, "| context × concurrency | {} tokens × {} requests per loader |", w.context, w.concurrency);
    let _ = writeln!(s, "\n## Hardware\n");
    if !d.procurement.is_empty() {
        let _ = writeln!(
            s,
            "No hardware yet: procurement scope (throughput from `data/throughput.yaml`, **estimates** from memory bandwidth; one spare node included for hot-swaps):\n"
        );
        let _ = writeln!(
            s,
            "| node kind | memory | quantization | tokens/s per node (est.) | nodes | hardware cost |\n|---|---|---|---|---|---|"
        );
        for (i, o) in d.procurement.iter().enumerate() {
            let mark = if i == 0 { " **← chosen (cheapest)**" } else { "" };
            let _ = writeln!(
                s,
                "| {} | {} GB | {} | {} | {} | ${:.0}{mark} |",
                o.chip, o.memory_gb, o.quant, o.tokens_per_s_per_node, o.nodes, o.cost_usd
            );
        }
        s.push('\n');
    }
    let _ = writeln!(s, "| node | host | chip | memory |\n|---|---|---|---|");
    for n in &d.nodes {
        let _ = writeln!(s, "| {} | {} | {} | {} GB |", n.name, n.host, n.chip, n.memory_gb);
    }
    let _ = writeln!(
        s,
        "\nNetwork: {}. Hosts ending in `.local` are placeholders (mDNS names): set the real addresses in inventory.yaml.",
        if a.hardware.network == Network::TenGbE { "10GbE" } else { "1GbE" }
    );
    let _ = writeln!(s, "\n## First model: {} at {}\n", d.model, d.quant);
    let _ = writeln!(
        s,
        "The smallest node has {} GB; MLX may use about {:.0}% of it for the GPU, so the budget is {}. Each quantization needs its weights + the KV cache for {} tokens × {} concurrent requests + {} runtime overhead; the best quality that fits wins:\n",
        d.nodes.iter().map(|n| n.memory_gb).fold(f64::INFINITY, f64::min),
        USABLE_FRACTION * 100.0,
        h(d.budget_bytes),
        w.context,
        w.concurrency,
        h(RUNTIME_OVERHEAD_BYTES)
    );
    let _ = writeln!(s, "| quantization | weights | KV cache | total | fits |\n|---|---|---|---|---|");
    for f in &d.fits {
        let mark = if f.quant == d.quant {
            "**yes, chosen**"
        } else if f.fits {
            "yes"
        } else {
            "no"
        };
        let _ = writeln!(s, "| {} | {} | {} | {} | {mark} |", f.quant, h(f.weights), h(f.kv), h(f.total));
    }
    let _ = writeln!(s, "\nSource: `{}` (check the repo exists before `garnet deploy`).", d.source);
    let _ = writeln!(s, "\n## Network and access\n");
    let _ = writeln!(
        s,
        "- Telemetry: {}.\n- SSH: {}.\n- Store: {}.",
        match a.access.telemetry {
            Telemetry::CloudflareTunnel => "outbound only, through a Cloudflare Tunnel",
            Telemetry::Direct => "outbound HTTPS to the bucket",
        },
        match a.access.ssh_keys {
            SshKeys::Garnet => "garnet provisions an operator key (`garnet keys provision`), removed at roll-off",
            SshKeys::Customer => "the customer installs and manages the key garnet uses",
        },
        if a.access.store == "r2" {
            "the customer's Cloudflare R2 bucket (fill in the account endpoint and credentials file)"
        } else {
            "a local folder"
        }
    );
    let _ = writeln!(s, "\nFirewall rules needed:\n");
    for f in &d.firewall {
        let _ = writeln!(s, "- {f}");
    }
    let _ = writeln!(
        s,
        "\n## Next\n\n`garnet inventory check`, `garnet keys provision`, `garnet facts`, `garnet deploy --dry-run`, then `garnet deploy`."
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers() -> Answers {
        serde_saphyr::from_str(
            "cluster: {slug: acme, tier: scale}\n\
             workload: {models: [llama-3.1-8b-instruct], qps: 2, latency_budget_ms: 3000, traffic: steady}\n\
             hardware: {declared: [{chip: M4, count: 2, memory_gb: 16}]}\n\
             access: {telemetry: cloudflare-tunnel, ssh_keys: garnet}\n",
        )
        .unwrap()
    }

    #[test]
    fn quantization_is_the_best_that_fits() {
        let a = answers();
        let d = decide(&a).unwrap();
        // 16 GB × 0.75 = 12 GiB. 8B at 8 bit: 8.03e9 × 8.5 / 8 = 8.53 GB of weights, KV
        // 2 × 32 × 8 × 128 × 2 B = 128 KiB per token × 8192 × 4 = 4 GiB, + 512 MiB: ~13.0 GiB, too much;
        // 6 bit: 8.03e9 × 6.5 / 8 = 6.52 GB + 4 GiB + 0.5 GiB = ~10.6 GiB: fits.
        let f8 = d.fits.iter().find(|f| f.quant == "8bit").unwrap();
        assert_eq!(f8.weights, (8.03e9f64 * 8.5 / 8.0).ceil() as u64);
        assert_eq!(f8.kv, 128 * 1024 * 8192 * 4);
        assert!(!f8.fits);
        assert_eq!(d.quant, "6bit");
        assert_eq!(d.source, "mlx-community/Meta-Llama-3.1-8B-Instruct-6bit");
        let inv = inventory_yaml(&a, &d);
        crate::inventory::Inventory::from_str(std::path::Path::new("inventory.yaml"), &inv).expect("a valid inventory");
    }

    #[test]
    fn enterprise_without_nodes_gets_a_procurement_scope() {
        let mut a = answers();
        a.cluster.tier = Tier::Enterprise;
        a.hardware.declared.clear();
        a.workload.qps = 20.0;
        let d = decide(&a).unwrap();
        assert!(!d.procurement.is_empty());
        let pick = &d.procurement[0];
        assert!(d.procurement.iter().all(|o| o.cost_usd >= pick.cost_usd), "cheapest first");
        assert_eq!(d.nodes.len() as u32, pick.nodes);
        // 20 req/s × 300 tokens = 6000 tokens/s; the pick's nodes carry it with 25% headroom + a spare.
        assert!(f64::from(pick.nodes - 1) * pick.tokens_per_s_per_node >= 6000.0 * 1.25 - pick.tokens_per_s_per_node);
        // Pro/Scale without nodes is refused.
        a.cluster.tier = Tier::Pro;
        assert!(decide(&a).unwrap_err().contains("own their rack"));
    }

    #[test]
    fn bad_answers_are_refused_with_the_reason() {
        assert!(check_qps("lots").unwrap_err().contains("not a number"));
        assert!(check_qps("0").unwrap_err().contains("more than 0"));
        assert!(check_memory("0").unwrap_err().contains("more than 0"));
        assert!(check_model("llama-3.1-8b").unwrap_err().contains("did you mean `llama-3.1-8b-instruct`"));
        assert!(check_chip("M5").unwrap_err().contains("M4 Pro"));
    }
}
