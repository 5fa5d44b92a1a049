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
    let connect = ctx.connect_options();
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
pub struct NodeRow {
    pub node: String,
    /// `up`, `stale` (last sample older than the limit), `no data`
    pub state: &'static str,
    pub last_sample: Option<String>,
    pub age_secs: Option<i64>,
    pub sample: Option<Sample>,
}

/// The cluster as its latest samples tell it, at one moment: what `status -o json` prints (with
/// the routers' live stats) and what the dashboard shows, from one computation.
#[derive(Debug, serde::Serialize)]
pub struct Snapshot {
    pub cluster: String,
    pub at: String,
    pub nodes: Vec<NodeRow>,
    pub models: Vec<ModelStats>,
    /// Per model and node (each backend's share of the fresh samples, summed over routers).
    pub backends: Vec<BackendRow>,
    /// Prompt and completion tokens per second (what the cost is spread over); a model's
    /// `tokens_per_s` counts completion tokens only.
    pub prompt_and_completion_tokens_per_s: f64,
    pub cost: Option<crate::report::cost::CostRate>,
    pub usd_per_mtok: Option<f64>,
    pub nodes_up: usize,
}

/// A model on one node, over the up routers' latest windows.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BackendRow {
    pub model: String,
    pub node: String,
    pub requests: u64,
    pub failed: u64,
    pub requests_per_s: f64,
    pub completion_tokens_per_s: f64,
    /// Share of the window with a request in flight (several routers: summed, may pass 1).
    pub busy_share: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub kv_cache_hit_rate: Option<f64>,
    #[serde(skip)]
    e2e: crate::telemetry::sketch::Sketch,
    #[serde(skip)]
    prompt_tokens: u64,
    #[serde(skip)]
    cached_tokens: u64,
}

/// Reads each node's newest sample and sums them (`stale_after`: older samples make a node stale).
pub(crate) async fn snapshot(
    inv: &crate::inventory::Inventory,
    nodes: &[std::sync::Arc<crate::inventory::Node>],
    store: &dyn crate::store::Store,
    stale_after: std::time::Duration,
) -> Result<Snapshot> {
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    let latest_all = crate::telemetry::read::latest_all(store, &inv.cluster.slug, &names).await?;
    let now = jiff::Timestamp::now();
    let rows = node_rows(nodes, latest_all, now, stale_after);
    let (models, watts) = model_sums(&rows);
    let cost = crate::report::cost::rate(inv, watts);
    // `+ 0.0`: an empty float sum is -0.0, printed as "-0.0".
    let total_tps: f64 = models.values().map(|(_, t)| t).sum::<f64>() + 0.0;
    let usd_per_mtok = cost.as_ref().and_then(|c| c.usd_per_mtok(total_tps));
    Ok(Snapshot {
        cluster: inv.cluster.slug.clone(),
        at: now.to_string(),
        nodes_up: rows.iter().filter(|r| r.state == "up").count(),
        backends: backend_rows(&rows),
        nodes: rows,
        models: models.into_values().map(|(m, _)| m).collect(),
        prompt_and_completion_tokens_per_s: total_tps,
        cost,
        usd_per_mtok,
    })
}

pub async fn run(args: &StatusArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let inv = ctx.load_inventory()?;
    let nodes = ctx.select(&inv)?;
    let store = crate::store::open(&inv).await?;
    let snap = snapshot(&inv, &nodes, store.as_ref(), args.stale_after).await?;
    let live = live_router(ctx, &inv).await;
    let (up, total) = (snap.nodes_up, snap.nodes.len());

    let p = &ctx.printer;
    if p.json {
        let mut v = serde_json::to_value(&snap)?;
        v["event"] = json!("status");
        v["store"] = json!(store.describe());
        v["router_live"] = json!(
            live.iter()
                .map(|(n, r)| json!({"node": n, "stats": r.as_ref().ok(), "error": r.as_ref().err()}))
                .collect::<Vec<_>>()
        );
        p.json_line(&v);
    } else {
        p.out(format!("cluster {} — {up}/{total} node(s) up, samples from {}", snap.cluster, store.describe()));
        p.out(nodes_table(p, &snap.nodes));
        if !snap.models.is_empty() {
            p.out(models_table(p, &snap.models));
        }
        print_live(p, &live);
        p.out(cost_line(snap.cost.as_ref(), snap.usd_per_mtok, snap.prompt_and_completion_tokens_per_s));
    }
    Ok(if up == total {
        ExitStatus::Success
    } else if up == 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Partial
    })
}

/// Per model and node: the up routers' latest windows summed (a backend's requests, tokens and
/// busy time; its latencies merged from the sketches).
fn backend_rows(rows: &[NodeRow]) -> Vec<BackendRow> {
    let mut out: std::collections::BTreeMap<(String, String), BackendRow> = Default::default();
    for r in rows.iter().filter(|r| r.state == "up") {
        let s = r.sample.as_ref().expect("up rows have a sample");
        let w = f64::from(s.window_secs.max(1));
        for b in &s.backends {
            let node = b.node.clone().unwrap_or_default();
            let e = out.entry((b.model.clone(), node.clone())).or_insert_with(|| BackendRow {
                model: b.model.clone(),
                node,
                ..Default::default()
            });
            e.requests += b.requests;
            e.failed += b.failed + b.cut;
            e.requests_per_s += b.requests as f64 / w;
            e.completion_tokens_per_s += b.completion_tokens as f64 / w;
            e.busy_share += b.busy_secs / w;
            e.prompt_tokens += b.prompt_tokens;
            e.cached_tokens += b.cached_tokens;
            if let Some(sk) = &b.e2e {
                e.e2e.merge(sk);
            }
        }
    }
    let round = |v: f64, k: f64| (v * k).round() / k;
    out.into_values()
        .map(|mut b| {
            let ms = |q| b.e2e.quantile(q).map(|v| (v * 10_000.0).round() / 10.0);
            (b.p50_ms, b.p95_ms) = (ms(0.5), ms(0.95));
            b.kv_cache_hit_rate =
                (b.prompt_tokens > 0).then(|| round(b.cached_tokens as f64 / b.prompt_tokens as f64, 1000.0));
            b.requests_per_s = round(b.requests_per_s, 1000.0);
            b.completion_tokens_per_s = round(b.completion_tokens_per_s, 1000.0);
            b.busy_share = round(b.busy_share, 1000.0);
            b
        })
        .collect()
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
                // A sample stamped a little ahead of this clock (skew) is fresh, not stale.
                let age = now.duration_since(at).as_secs().max(0);
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

fn models_table(p: &crate::output::Printer, models: &[ModelStats]) -> comfy_table::Table {
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
    for m in models {
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
