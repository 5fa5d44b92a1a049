//! `garnet intake`: the questionnaire (dialoguer, each answer checked at the prompt) or an answers
//! file, then [`crate::intake`]'s decisions, written as `inventory.yaml` and `intake.md`.

use std::path::Path;

use anyhow::{Context, Result};
use dialoguer::{Input, Select};

use super::Ctx;
use crate::ExitStatus;
use crate::cli::IntakeArgs;
use crate::exit::UsageError;
use crate::intake::{
    self, Access, Answers, ClusterAnswers, Declared, Hardware, Network, NodeAnswer, SshKeys, Telemetry, Traffic,
    Workload,
};
use crate::inventory::Tier;

pub async fn run(args: &IntakeArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let p = &ctx.printer;
    let inv_path = args.out.join("inventory.yaml");
    if inv_path.exists() && !args.force {
        return Err(UsageError(format!(
            "`{}` exists; pass `--force` to replace it, or `--out DIR`",
            inv_path.display()
        ))
        .into());
    }
    let (answers, interactive) = match &args.answers {
        Some(f) => {
            let text = std::fs::read_to_string(f).with_context(|| format!("cannot read answers `{}`", f.display()))?;
            let a: Answers = serde_saphyr::from_str(&text).map_err(|e| {
                let at = e
                    .location()
                    .map(|l| format!("{}:{}:{}", f.display(), l.line(), l.column()))
                    .unwrap_or_else(|| f.display().to_string());
                let msg = e.without_snippet().to_string();
                UsageError(format!("{at}: {}", msg.split(" at line ").next().unwrap_or(&msg)))
            })?;
            (a, false)
        }
        None => {
            if !(p.stdin_tty && p.stderr_tty) {
                return Err(UsageError(
                    "the questionnaire needs a terminal; pass `--answers FILE` (YAML) instead".into(),
                )
                .into());
            }
            (ask(ctx, args.ssh_config.as_deref()).await?, true)
        }
    };
    let errors = intake::validate(&answers);
    if !errors.is_empty() {
        return Err(UsageError(format!("the answers are not usable:\n  {}", errors.join("\n  "))).into());
    }
    let d = intake::decide(&answers).map_err(UsageError)?;
    let inv = intake::inventory_yaml(&answers, &d);
    crate::inventory::Inventory::from_str(&inv_path, &inv)
        .map_err(|e| anyhow::anyhow!("garnet wrote an invalid inventory (a bug): {e}"))?;
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(&inv_path, &inv)?;
    std::fs::write(args.out.join("intake.md"), intake::summary_md(&answers, &d))?;
    if interactive {
        std::fs::write(args.out.join("intake-answers.yaml"), serde_saphyr::to_string(&answers)?)?;
    }
    if p.json {
        p.json_line(&serde_json::json!({"event": "intake", "inventory": inv_path, "decisions": d}));
    } else {
        p.out(format!(
            "first model: {} at {} on {} node(s) ({} of {} usable per node needed)",
            d.model,
            d.quant,
            d.nodes.len(),
            crate::util::human_bytes(d.fits.iter().find(|f| f.quant == d.quant).map_or(0, |f| f.total)),
            crate::util::human_bytes(d.budget_bytes)
        ));
        if let Some(pick) = d.procurement.first() {
            p.out(format!(
                "procurement: {} × {} {} GB (${:.0}, estimates)",
                pick.nodes, pick.chip, pick.memory_gb, pick.cost_usd
            ));
        }
        p.out(format!(
            "wrote {} and {}{}",
            inv_path.display(),
            args.out.join("intake.md").display(),
            if interactive {
                format!(" (answers: {})", args.out.join("intake-answers.yaml").display())
            } else {
                String::new()
            }
        ));
    }
    Ok(ExitStatus::Success)
}

fn text(prompt: &str, default: Option<&str>, check: impl Fn(&str) -> Result<(), String> + 'static) -> Result<String> {
    let mut i = Input::<String>::new().with_prompt(prompt).validate_with(move |s: &String| check(s));
    if let Some(d) = default {
        i = i.default(d.to_string());
    }
    Ok(i.interact_text()?.trim().to_string())
}

fn pick(prompt: &str, items: &[&str]) -> Result<usize> {
    Ok(Select::new().with_prompt(prompt).items(items).default(0).interact()?)
}

fn list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect()
}

fn positive_int(s: &str) -> Result<(), String> {
    match s.trim().parse::<u32>() {
        Ok(v) if v > 0 => Ok(()),
        _ => Err(format!("`{}` is not a whole number above 0", s.trim())),
    }
}

async fn ask(ctx: &Ctx, ssh_config: Option<&Path>) -> Result<Answers> {
    crate::prompt_line!("garnet intake — answers are checked as you go; the result is inventory.yaml and intake.md.\n");
    crate::prompt_line!("1/4 Cluster");
    let slug = text("Cluster slug (e.g. acme-prod)", None, crate::inventory::check_slug)?;
    let tier = [Tier::Pro, Tier::Scale, Tier::Enterprise]
        [pick("Tier", &["pro", "scale", "enterprise (hardware sourcing included)"])?];
    let contacts = list(&text("Contacts (comma-separated e-mails, may be empty)", Some(""), |_| Ok(()))?);

    crate::prompt_line!("\n2/4 Workload");
    let workloads = list(&text("Workloads (e.g. support chat, RAG)", Some(""), |_| Ok(()))?);
    let names: Vec<String> = intake::catalog().into_iter().map(|m| m.name).collect();
    crate::prompt_line!("  models garnet knows: {}", names.join(", "));
    let models = list(&text("Models, first one served first (comma-separated)", None, |s| {
        let l = list(s);
        if l.is_empty() {
            return Err("name at least one model".into());
        }
        l.iter().try_for_each(|m| intake::check_model(m).map(|_| ()))
    })?);
    let qps =
        intake::check_qps(&text("Expected peak requests per second", None, |s| intake::check_qps(s).map(|_| ()))?)
            .map_err(anyhow::Error::msg)?;
    let latency_budget_ms: u32 =
        text("Latency budget, p99 of a whole request, in ms", Some("3000"), positive_int)?.parse()?;
    let traffic = [Traffic::Steady, Traffic::Bursty, Traffic::Scheduled]
        [pick("Traffic shape", &["steady", "bursty", "scheduled"])?];
    let context: u32 = text("Context per request, tokens", Some("8192"), positive_int)?.parse()?;
    let concurrency: u32 = text("Concurrent requests per loader", Some("4"), positive_int)?.parse()?;
    let completion_tokens: u32 = text("Average completion tokens per request", Some("300"), positive_int)?.parse()?;

    crate::prompt_line!("\n3/4 Hardware");
    let how = pick(
        "How do we learn the hardware?",
        &["probe nodes over SSH (garnet facts)", "declare it", "none yet (Enterprise: scope the procurement)"],
    )?;
    let mut hardware = Hardware::default();
    match how {
        0 => {
            let hosts = list(&text("Nodes as user@host[:port], comma-separated", None, |s| {
                if list(s).is_empty() { Err("at least one host".into()) } else { Ok(()) }
            })?);
            hardware.nodes = probe(ctx, &hosts, ssh_config).await?;
        }
        1 => {
            for chip in ["M4", "M4 Pro", "M4 Max", "M3 Ultra"] {
                let count: u32 = text(&format!("How many {chip} nodes"), Some("0"), |s| {
                    s.trim().parse::<u32>().map(|_| ()).map_err(|_| format!("`{}` is not a count", s.trim()))
                })?
                .parse()?;
                if count > 0 {
                    let memory_gb = intake::check_memory(&text(&format!("RAM per {chip} node, GB"), None, |s| {
                        intake::check_memory(s).map(|_| ())
                    })?)
                    .map_err(anyhow::Error::msg)?;
                    hardware.declared.push(Declared { chip: chip.into(), count, memory_gb });
                }
            }
        }
        _ => {}
    }
    hardware.network = [Network::TenGbE, Network::OneGbE][pick("Network between nodes", &["10GbE", "1GbE"])?];

    crate::prompt_line!("\n4/4 Network and access");
    let telemetry = [Telemetry::CloudflareTunnel, Telemetry::Direct]
        [pick("Telemetry path (outbound only either way)", &["Cloudflare Tunnel", "direct HTTPS to the bucket"])?];
    let store = ["r2", "local"][pick("Telemetry store", &["the customer's Cloudflare R2 bucket", "a local folder"])?]
        .to_string();
    let ssh_keys = [SshKeys::Garnet, SshKeys::Customer]
        [pick("SSH access", &["garnet provisions an operator key", "the customer manages the key"])?];
    let a = Answers {
        cluster: ClusterAnswers { slug, tier, contacts },
        workload: Workload {
            workloads,
            models,
            qps,
            latency_budget_ms,
            traffic,
            context,
            concurrency,
            completion_tokens,
        },
        hardware,
        access: Access { telemetry, ssh_keys, store },
    };
    // A combination can still be impossible (e.g. Pro with no nodes): say so now, not after writing.
    let errors = intake::validate(&a);
    if !errors.is_empty() {
        return Err(UsageError(errors.join("\n")).into());
    }
    Ok(a)
}

/// Runs `garnet facts`' probe on each host; what it finds becomes the node's answers.
async fn probe(ctx: &Ctx, hosts: &[String], ssh_config: Option<&Path>) -> Result<Vec<NodeAnswer>> {
    let mut yaml = String::from("cluster: {slug: intake, tier: pro}\n");
    if let Some(c) = ssh_config {
        yaml.push_str(&format!("defaults: {{ssh_config: \"{}\"}}\n", c.display()));
    }
    yaml.push_str("nodes:\n");
    for (i, h) in hosts.iter().enumerate() {
        let (user, rest) = h.split_once('@').map_or((None, h.as_str()), |(u, r)| (Some(u), r));
        let (host, port) = rest.rsplit_once(':').map_or((rest, "22"), |(h, p)| (h, p));
        yaml.push_str(&format!(
            "  - {{name: node-{:02}, host: \"{host}\", port: {port}{}}}\n",
            i + 1,
            user.map(|u| format!(", user: {u}")).unwrap_or_default()
        ));
    }
    let inv =
        crate::inventory::Inventory::from_str(Path::new("intake"), &yaml).map_err(|e| UsageError(e.to_string()))?;
    let connect = ctx.connect_options();
    let mut out = Vec::new();
    for n in &inv.nodes {
        let conn = crate::transport::connect(n, &connect).await.map_err(|e| UsageError(format!("{}: {e}", n.host)))?;
        let r = conn
            .run(crate::transport::RunRequest {
                command: crate::node::facts::PROBE.into(),
                capture: true,
                ..Default::default()
            })
            .await;
        conn.close().await;
        let r = r.map_err(|e| UsageError(format!("{}: {e}", n.host)))?;
        let f = crate::node::facts::parse(&String::from_utf8_lossy(&r.stdout))
            .map_err(|e| UsageError(format!("{}: {e}", n.host)))?;
        let memory_gb = f.memory_bytes.map_or(0.0, |b| (b as f64 / (1u64 << 30) as f64).round());
        crate::prompt_line!("  {}: {} {}, {memory_gb} GB", n.host, f.os, f.chip.as_deref().unwrap_or("?"));
        out.push(NodeAnswer {
            name: n.name.clone(),
            host: n.host.clone(),
            user: n.user.clone(),
            chip: f.chip.unwrap_or_else(|| f.arch.clone()),
            memory_gb,
        });
    }
    Ok(out)
}
