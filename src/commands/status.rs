//! `garnet status`: the cluster as its latest samples tell it. Read-only: no lock, no prompt.

use anyhow::Result;
use serde_json::json;

use super::Ctx;
use crate::ExitStatus;
use crate::cli::StatusArgs;
use crate::telemetry::{ModelStats, Sample};
use crate::util::human_bytes;

/// The routers' live stats, asked over SSH on each router node (its admin API is on loopback).
async fn live_router(ctx: &Ctx, inv: &crate::inventory::Inventory) -> Vec<(String, Result<serde_json::Value, String>)> {
    let Some(r) = &inv.router else { return Vec::new() };
    let mut out = Vec::new();
    let connect = crate::transport::ConnectOptions { control_dir: ctx.control_dir() };
    for n in inv.nodes.iter().filter(|n| n.has_role("router")) {
        let admin_url = crate::node::blocks::local_url(&r.admin_listen, n.port_offset).1;
        let h = n.garnet_home.trim_end_matches('/');
        let cmd = format!(
            "{} admin-call --url {admin_url} --token-file {} get /admin/stats",
            crate::transport::shell_path(&crate::node::layout::garnet(h)),
            crate::transport::shell_path(&crate::node::layout::etc(h, "router.token"))
        );
        let res = async {
            let conn = crate::transport::connect(n, &connect).await.map_err(|e| e.to_string())?;
            let req = crate::transport::RunRequest {
                command: cmd,
                capture: true,
                timeout: Some(std::time::Duration::from_secs(10)),
                ..Default::default()
            };
            let r = conn.run(req).await.map_err(|e| e.to_string());
            conn.close().await;
            let r = r?;
            if !r.success() {
                return Err(String::from_utf8_lossy(&r.stderr).trim().lines().last().unwrap_or("failed").to_string());
            }
            serde_json::from_slice(&r.stdout).map_err(|e| e.to_string())
        };
        let res = tokio::time::timeout(std::time::Duration::from_secs(15), res)
            .await
            .unwrap_or_else(|_| Err("timed out".into()));
        out.push((n.name.clone(), res));
    }
    out
}

/// One node's row.
#[derive(Debug, serde::Serialize)]
struct NodeRow {
    node: String,
    /// `up`, `stale` (last sample older than the limit), `no data`
    state: &'static str,
    last_sample: Option<String>,
    age_secs: Option<i64>,
    sample: Option<Sample>,
}

pub async fn run(args: &StatusArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let inv = ctx.load_inventory()?;
    let nodes = ctx.select(&inv)?;
    let store = crate::store::open(&inv).await?;
    let now = jiff::Timestamp::now();
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    let latest_all = crate::telemetry::read::latest_all(store.as_ref(), &inv.cluster.slug, &names).await?;
    let rows = node_rows(&nodes, latest_all, now, args.stale_after);
    let (models, watts) = model_sums(&rows);
    let live = live_router(ctx, &inv).await;
    let cost = crate::report::cost::rate(&inv, watts);
    let total_tps: f64 = models.values().map(|(_, t)| t).sum();
    let per_mtok = cost.as_ref().and_then(|c| c.usd_per_mtok(total_tps));
    let up = rows.iter().filter(|r| r.state == "up").count();

    let p = &ctx.printer;
    if p.json {
        p.json_line(&json!({
            "event": "status", "cluster": inv.cluster.slug, "store": store.describe(), "at": now.to_string(),
            "nodes": rows, "models": models.values().map(|(m, _)| m).collect::<Vec<_>>(),
            // Prompt and completion tokens per second (what the cost is spread over); a model's
            // `tokens_per_s` counts completion tokens only.
            "prompt_and_completion_tokens_per_s": total_tps, "cost": cost, "usd_per_mtok": per_mtok,
            "router_live": live.iter().map(|(n, r)| json!({"node": n, "stats": r.as_ref().ok(), "error": r.as_ref().err()})).collect::<Vec<_>>(),
        }));
    } else {
        p.out(format!(
            "cluster {} — {up}/{} node(s) up, samples from {}",
            inv.cluster.slug,
            rows.len(),
            store.describe()
        ));
        p.out(nodes_table(p, &rows));
        if !models.is_empty() {
            p.out(models_table(p, &models));
        }
        print_live(p, &live);
        p.out(cost_line(cost.as_ref(), per_mtok, total_tps));
    }
    Ok(if up == rows.len() {
        ExitStatus::Success
    } else if up == 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Partial
    })
}

/// Each node's newest sample, up or stale by its age, or no data.
fn node_rows(
    nodes: &[std::sync::Arc<crate::inventory::Node>],
    mut latest_all: std::collections::HashMap<String, (jiff::Timestamp, crate::telemetry::Sample)>,
    now: jiff::Timestamp,
    stale_after: std::time::Duration,
) -> Vec<NodeRow> {
    let mut rows = Vec::new();
    for n in nodes {
        let row = match latest_all.remove(&n.name) {
            None => NodeRow { node: n.name.clone(), state: "no data", last_sample: None, age_secs: None, sample: None },
            Some((at, s)) => {
                let age = now.duration_since(at).as_secs();
                NodeRow {
                    node: n.name.clone(),
                    state: if age as u64 > stale_after.as_secs() { "stale" } else { "up" },
                    last_sample: Some(at.to_string()),
                    age_secs: Some(age),
                    sample: Some(s),
                }
            }
        };
        rows.push(row);
    }
    rows
}

/// Models: the fresh samples' per-model numbers, summed over routers (each reports its traffic),
/// with their prompt and completion tokens per second; and the up nodes' power when any reports it.
fn model_sums(rows: &[NodeRow]) -> (std::collections::BTreeMap<String, (ModelStats, f64)>, Option<f64>) {
    let mut models: std::collections::BTreeMap<String, (ModelStats, f64)> = Default::default();
    let (mut watts, mut watts_known) = (0.0, false);
    for r in rows.iter().filter(|r| r.state == "up") {
        let s = r.sample.as_ref().expect("up rows have a sample");
        if let Some(w) = s.power.as_ref().and_then(|p| p.system_watts.or(p.package_watts)) {
            watts += w;
            watts_known = true;
        }
        for m in &s.models {
            let e = models
                .entry(m.model.clone())
                .or_insert_with(|| (ModelStats { model: m.model.clone(), ..Default::default() }, 0.0));
            e.0.requests += m.requests;
            e.0.failures += m.failures;
            e.0.prompt_tokens += m.prompt_tokens;
            e.0.completion_tokens += m.completion_tokens;
            e.0.cached_tokens += m.cached_tokens;
            // Several routers: the worst one's percentile (an upper bound, not an average).
            let worst = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            e.0.p50_ms = worst(e.0.p50_ms, m.p50_ms);
            e.0.p95_ms = worst(e.0.p95_ms, m.p95_ms);
            e.0.p99_ms = worst(e.0.p99_ms, m.p99_ms);
            // With sketches, the true quantiles of all routers' requests (set below).
            if let Some(sk) = &m.e2e {
                e.0.e2e.get_or_insert_with(Default::default).merge(sk);
            }
            if let Some(sk) = &m.ttft {
                e.0.ttft.get_or_insert_with(Default::default).merge(sk);
            }
            e.0.tokens_per_s = Some(e.0.tokens_per_s.unwrap_or(0.0) + m.tokens_per_s.unwrap_or(0.0));
            e.0.queue_depth = Some(e.0.queue_depth.unwrap_or(0) + m.queue_depth.unwrap_or(0));
            e.0.kv_cache_hit_rate = (e.0.prompt_tokens > 0)
                .then(|| (e.0.cached_tokens as f64 / e.0.prompt_tokens as f64 * 1000.0).round() / 1000.0);
            e.1 += if s.window_secs > 0 {
                (m.prompt_tokens + m.completion_tokens) as f64 / f64::from(s.window_secs)
            } else {
                0.0
            };
        }
    }
    for (m, _) in models.values_mut() {
        if let Some(sk) = m.e2e.as_ref().filter(|s| !s.is_empty()) {
            let ms = |q| sk.quantile(q).map(|v| (v * 10_000.0).round() / 10.0);
            (m.p50_ms, m.p95_ms, m.p99_ms) = (ms(0.5), ms(0.95), ms(0.99));
        }
    }
    (models, watts_known.then_some(watts))
}

fn nodes_table(p: &crate::output::Printer, rows: &[NodeRow]) -> comfy_table::Table {
    let mut t = p.table();
    t.set_header(vec!["node", "state", "last sample", "memory used", "pressure", "swap", "temp", "throttle", "power"]);
    for r in rows {
        let s = r.sample.as_ref();
        let m = s.map(|s| &s.memory);
        let used = match (m.and_then(|m| m.used_bytes), m.and_then(|m| m.total_bytes)) {
            (Some(u), Some(t)) => format!("{} / {}", human_bytes(u), human_bytes(t)),
            _ => "-".into(),
        };
        let th = s.map(|s| &s.thermal);
        let throttle = match th.and_then(|t| t.cpu_speed_limit) {
            Some(l) if l < 100 => format!("limited to {l}%"),
            Some(_) => "no".into(),
            None => th.and_then(|t| t.pressure.clone()).unwrap_or_else(|| "-".into()),
        };
        t.add_row(vec![
            r.node.clone(),
            r.state.to_string(),
            r.age_secs
                .map(|a| {
                    format!("{} ago", crate::util::human_duration(std::time::Duration::from_secs(a.max(0) as u64)))
                })
                .unwrap_or_else(|| "never".into()),
            used,
            m.and_then(|m| m.pressure.clone()).unwrap_or_else(|| "-".into()),
            m.and_then(|m| m.swap_used_bytes).map(human_bytes).unwrap_or_else(|| "-".into()),
            {
                let temp = th.and_then(|t| t.max_celsius).map(|c| format!("{c:.0} °C"));
                let fan = th.and_then(|t| t.fans.iter().map(|f| f.rpm).max()).map(|r| format!("fan {r} rpm"));
                match (temp, fan) {
                    (Some(t), Some(f)) => format!("{t}, {f}"),
                    (t, f) => t.or(f).unwrap_or_else(|| "-".into()),
                }
            },
            throttle,
            s.and_then(|s| s.power.as_ref())
                .and_then(|p| p.system_watts.or(p.package_watts))
                .map(|w| format!("{w:.0} W"))
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    t
}

fn models_table(
    p: &crate::output::Printer,
    models: &std::collections::BTreeMap<String, (ModelStats, f64)>,
) -> comfy_table::Table {
    let mut t = p.table();
    t.set_header(vec![
        "model",
        "requests",
        "failed",
        "p50",
        "p95",
        "tokens/s",
        "queue",
        "KV hits",
        "prompt / completion / cached tokens",
    ]);
    for (m, _) in models.values() {
        let ms = |v: Option<f64>| v.map(|v| format!("{v:.0} ms")).unwrap_or_else(|| "-".into());
        t.add_row(vec![
            m.model.clone(),
            m.requests.to_string(),
            m.failures.to_string(),
            ms(m.p50_ms),
            ms(m.p95_ms),
            m.tokens_per_s.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into()),
            m.queue_depth.map(|q| q.to_string()).unwrap_or_else(|| "-".into()),
            m.kv_cache_hit_rate.map(|r| format!("{:.0}%", r * 100.0)).unwrap_or_else(|| "-".into()),
            format!("{} / {} / {}", m.prompt_tokens, m.completion_tokens, m.cached_tokens),
        ]);
    }
    t
}

/// Each router's live backends (its admin API), or why there are none.
fn print_live(p: &crate::output::Printer, live: &[(String, Result<serde_json::Value, String>)]) {
    for (node, r) in live {
        match r {
            Ok(v) => {
                let mut t = p.table();
                t.set_header(vec!["model", "backend", "state", "in flight", "requests", "failures"]);
                for m in v["models"].as_array().into_iter().flatten() {
                    for b in m["backends"].as_array().into_iter().flatten() {
                        t.add_row(vec![
                            m["model"].as_str().unwrap_or("").to_string(),
                            b["id"].as_str().unwrap_or("").to_string(),
                            b["state"].as_str().unwrap_or("").to_string(),
                            b["in_flight"].to_string(),
                            b["requests"].to_string(),
                            b["failures"].to_string(),
                        ]);
                    }
                }
                p.out(format!("router on {node}, live:"));
                p.out(t);
            }
            Err(e) => p.note(format!("router on {node}: no live stats ({e})")),
        }
    }
}

fn cost_line(cost: Option<&crate::report::cost::CostRate>, per_mtok: Option<f64>, total_tps: f64) -> String {
    match (cost, per_mtok) {
        (Some(c), Some(usd)) => format!(
            "cost: ${usd:.2} per million tokens at the current {total_tps:.1} tokens/s (${:.0}/month fixed{})",
            c.fixed_usd_per_month,
            c.energy_usd_per_month
                .map(|e| format!(" + ${e:.0}/month energy"))
                .unwrap_or_else(|| ", energy not measured".into())
        ),
        (Some(_), None) => "cost: no traffic in the last window, so no cost per token".into(),
        (None, _) => "cost: add a `cost:` section to the inventory for cost per million tokens".into(),
    }
}
