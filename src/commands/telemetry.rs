//! `garnet telemetry compact`: a day's per-minute samples rolled into Parquet in the store
//! (`telemetry::columnar::compact_day`), verified by reading the files back before anything is
//! deleted. The monitor on one designated node runs the same every hour for yesterday and today.

use anyhow::{Context, Result};
use serde_json::json;

use super::Ctx;
use crate::ExitStatus;
use crate::cli::{CompactArgs, ExportArgs, ExportFormat, UptimeArgs};
use crate::telemetry::columnar;

pub async fn compact(args: &CompactArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let inv = ctx.load_inventory()?;
    let store = crate::store::open_spec(&inv.store).await.context("cannot open the store")?;
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let days: Vec<jiff::civil::Date> = match (args.days, args.date.is_empty()) {
        (Some(n), _) => (0..n.max(1)).rev().filter_map(|i| today.checked_sub(jiff::Span::new().days(i)).ok()).collect(),
        (None, false) => args.date.clone(),
        (None, true) => vec![today.yesterday().unwrap_or(today), today],
    };
    let cluster = &inv.cluster.slug;
    let keys = store.list(&format!("telemetry/cluster={cluster}/")).await?;
    for day in days {
        let r = columnar::compact_day(store.as_ref(), cluster, day, &keys, args.delete).await?;
        let text = if r.samples == 0 {
            format!("{day}: no samples")
        } else {
            format!(
                "{day}: {} samples, {} backend rows → {} ({:.1} KiB){}{}",
                r.samples,
                r.backend_rows,
                r.prefix,
                r.bytes as f64 / 1024.0,
                if r.deleted > 0 { format!("; {} JSON samples deleted", r.deleted) } else { String::new() },
                if r.skipped > 0 {
                    format!("; {} corrupt skipped (nothing deleted)", r.skipped)
                } else {
                    String::new()
                },
            )
        };
        let mut v = json!(r);
        v["event"] = json!("compact");
        ctx.printer.line(&text, &v);
    }
    Ok(ExitStatus::Success)
}

/// CSV columns of `export --format csv`: one row per sample.
const CSV_HEADER: &str = "cluster,node,at,window_secs,requests,failures,prompt_tokens,completion_tokens,cached_tokens,memory_total_bytes,memory_used_bytes,max_celsius,system_watts,energy_joules";

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

pub async fn export(args: &ExportArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let inv = ctx.load_inventory()?;
    let store = crate::store::open_spec(&inv.store).await.context("cannot open the store")?;
    let until = args.until.unwrap_or_else(|| jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date());
    let utc = jiff::tz::TimeZone::UTC;
    let from = args.since.to_zoned(utc.clone())?.timestamp();
    let to = until.tomorrow()?.to_zoned(utc)?.timestamp() - jiff::SignedDuration::from_nanos(1);
    let (samples, corrupt) = crate::telemetry::read::cluster_span(store.as_ref(), &inv.cluster.slug, from, to).await?;
    let write = |path: &std::path::Path, data: &[u8]| {
        std::fs::write(path, data).with_context(|| format!("cannot write `{}`", path.display()))
    };
    match args.format {
        ExportFormat::Jsonl => {
            let mut out = Vec::new();
            for s in &samples {
                serde_json::to_writer(&mut out, s)?;
                out.push(b'\n');
            }
            write(&args.out, &out)?;
        }
        ExportFormat::Csv => {
            let mut out = String::from(CSV_HEADER);
            out.push('\n');
            let opt = |v: Option<String>| v.unwrap_or_default();
            for s in &samples {
                let sum = |g: fn(&crate::telemetry::ModelStats) -> u64| s.models.iter().map(g).sum::<u64>().to_string();
                let p = s.power.clone().unwrap_or_default();
                let row = [
                    csv_field(&s.cluster),
                    csv_field(&s.node),
                    s.at.clone(),
                    s.window_secs.to_string(),
                    sum(|m| m.requests),
                    sum(|m| m.failures),
                    sum(|m| m.prompt_tokens),
                    sum(|m| m.completion_tokens),
                    sum(|m| m.cached_tokens),
                    opt(s.memory.total_bytes.map(|v| v.to_string())),
                    opt(s.memory.used_bytes.map(|v| v.to_string())),
                    opt(s.thermal.max_celsius.map(|v| v.to_string())),
                    opt(p.system_watts.map(|v| v.to_string())),
                    opt(p.energy_joules.map(|v| v.to_string())),
                ];
                out.push_str(&row.join(","));
                out.push('\n');
            }
            write(&args.out, out.as_bytes())?;
        }
        ExportFormat::Parquet => {
            std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create `{}`", args.out.display()))?;
            write(&args.out.join("samples.parquet"), &columnar::samples_parquet(&samples)?)?;
            write(&args.out.join("backends.parquet"), &columnar::backends_parquet(&samples)?)?;
        }
    }
    let backend_rows: usize = samples.iter().map(|s| s.backends.len()).sum();
    ctx.printer.line(
        &format!(
            "{} samples ({backend_rows} backend rows) from {} to {until} → `{}`{}",
            samples.len(),
            args.since,
            args.out.display(),
            if corrupt > 0 { format!("; {corrupt} corrupt skipped") } else { String::new() }
        ),
        &json!({"event": "export", "samples": samples.len(), "backend_rows": backend_rows, "corrupt": corrupt,
                "out": args.out, "since": args.since.to_string(), "until": until.to_string()}),
    );
    Ok(ExitStatus::Success)
}

pub async fn uptime(args: &UptimeArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let inv = ctx.load_inventory()?;
    let store = crate::store::open_spec(&inv.store).await.context("cannot open the store")?;
    let utc = jiff::tz::TimeZone::UTC;
    let now = jiff::Timestamp::now();
    let until = args.until.unwrap_or_else(|| now.to_zoned(utc.clone()).date());
    let from = args.since.to_zoned(utc.clone())?.timestamp();
    let to = until.tomorrow()?.to_zoned(utc)?.timestamp().min(now);
    anyhow::ensure!(to > from, "the span from {} to {until} has not begun", args.since);
    let cluster = &inv.cluster.slug;
    let (samples, _) = crate::telemetry::read::cluster_span(store.as_ref(), cluster, from, to).await?;
    let nodes: Vec<String> = inv.nodes.iter().map(|n| n.name.clone()).collect();
    let interval = f64::from(inv.monitor.interval_secs);
    let u = crate::telemetry::uptime::compute(&samples, &nodes, from, to, interval, 2.0 * interval);
    // Loader crashes and evictions in the span, from the events.
    let mut events = Vec::new();
    for k in store.list(&format!("events/cluster={cluster}/")).await? {
        let Some(day) =
            k.split("/date=").nth(1).and_then(|r| r.get(..10)).and_then(|d| d.parse::<jiff::civil::Date>().ok())
        else {
            continue;
        };
        if day < args.since || day > until || !(k.contains("loader_crashed") || k.contains("loader_evicted")) {
            continue;
        }
        if let Some(Ok(v)) = store.get(&k).await?.map(|b| serde_json::from_slice::<serde_json::Value>(&b)) {
            events.push(
                json!({"at": v["at"], "node": v["node"], "kind": v["kind"], "model": v["model"], "exit": v["exit"]}),
            );
        } else {
            tracing::warn!("skipping corrupt event `{k}`");
        }
    }
    let p = &ctx.printer;
    if p.json {
        p.json_line(&json!({"event": "uptime", "uptime": u, "loader_events": events}));
        return Ok(ExitStatus::Success);
    }
    let mut t = p.table();
    t.set_header(vec!["node", "uptime", "down", "samples"]);
    for n in &u.nodes {
        t.add_row(vec![
            n.node.clone(),
            format!("{:.3}%", n.uptime * 100.0),
            format!("{:.0} s", n.down_secs),
            n.samples.to_string(),
        ]);
    }
    p.out(t);
    p.out(format!("cluster uptime {:.3}% from {} to {}", u.cluster * 100.0, u.from, u.to));
    for g in &u.gaps {
        p.out(format!("gap: {} without samples from {} to {} ({:.0} s)", g.node, g.from, g.to, g.secs));
    }
    for e in &events {
        p.out(format!(
            "{} {} {} {}",
            e["at"].as_str().unwrap_or(""),
            e["node"].as_str().unwrap_or(""),
            e["kind"].as_str().unwrap_or(""),
            e["model"].as_str().unwrap_or("")
        ));
    }
    Ok(ExitStatus::Success)
}
