//! `garnet telemetry compact`: a day's per-minute samples rolled into Parquet in the store
//! (`telemetry::columnar::compact_day`), verified by reading the files back before anything is
//! deleted. The monitor on one designated node runs the same every hour for yesterday and today.

use anyhow::{Context, Result};
use serde_json::json;

use super::Ctx;
use crate::ExitStatus;
use crate::cli::{CompactArgs, ExportArgs, ExportFormat, SummaryArgs, SynthArgs, SynthFormat, UptimeArgs};
use crate::telemetry::columnar;

pub async fn compact(args: &CompactArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let inv = ctx.load_inventory()?;
    let store = crate::store::open_spec(&inv.store).await.context("cannot open the store")?;
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let days: Vec<jiff::civil::Date> = match (args.days, args.date.is_empty()) {
        _ if args.since.is_some() => {
            let since = args.since.expect("checked");
            anyhow::ensure!(since <= today, "--since {since} is after today ({today})");
            let mut v = vec![since];
            while let Some(next) = v.last().and_then(|d| d.tomorrow().ok()).filter(|d| *d <= today) {
                v.push(next);
            }
            v
        }
        (Some(n), _) => (0..n.max(1)).rev().filter_map(|i| today.checked_sub(jiff::Span::new().days(i)).ok()).collect(),
        (None, false) => args.date.clone(),
        (None, true) => vec![today.yesterday().unwrap_or(today), today],
    };
    let cluster = &inv.cluster.slug;
    let keys = store.list(&crate::store::keys::telemetry(cluster)).await?;
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

/// The span `[since 00:00, until+1 00:00)` in UTC, never past now.
pub(crate) fn day_span(
    since: jiff::civil::Date,
    until: Option<jiff::civil::Date>,
) -> Result<(jiff::Timestamp, jiff::Timestamp, jiff::civil::Date)> {
    let utc = jiff::tz::TimeZone::UTC;
    let now = jiff::Timestamp::now();
    let until = until.unwrap_or_else(|| now.to_zoned(utc.clone()).date());
    let from = since.to_zoned(utc.clone())?.timestamp();
    let to = (until.tomorrow()?.to_zoned(utc)?.timestamp() - jiff::SignedDuration::from_micros(1)).min(now);
    anyhow::ensure!(to > from, "the span from {since} to {until} has not begun");
    Ok((from, to, until))
}

pub(crate) async fn span_summary(
    inv: &crate::inventory::Inventory,
    store: &dyn crate::store::Store,
    from: jiff::Timestamp,
    to: jiff::Timestamp,
    latencies: [bool; 3],
    demand: bool,
) -> Result<crate::telemetry::summary::Summary> {
    let nodes: Vec<String> = inv.nodes.iter().map(|n| n.name.clone()).collect();
    let req = crate::telemetry::summary::SpanRequest {
        cluster: &inv.cluster.slug,
        nodes: &nodes,
        from,
        to,
        interval_secs: f64::from(inv.monitor.interval_secs),
        workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
        latencies,
        demand,
        series_secs: None,
    };
    crate::telemetry::summary::span(store, &req).await
}

pub async fn uptime(args: &UptimeArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let inv = ctx.load_inventory()?;
    let store = crate::store::open_spec(&inv.store).await.context("cannot open the store")?;
    let (from, to, until) = day_span(args.since, args.until)?;
    let cluster = &inv.cluster.slug;
    let sum = span_summary(&inv, store.as_ref(), from, to, [false; 3], false).await?;
    let u = crate::telemetry::uptime::Uptime {
        from: sum.from.clone(),
        to: sum.to.clone(),
        nodes: sum
            .nodes
            .iter()
            .map(|n| crate::telemetry::uptime::NodeUptime {
                node: n.node.clone(),
                samples: n.samples as usize,
                uptime: n.uptime,
                down_secs: n.down_secs,
            })
            .collect(),
        cluster: sum.cluster_uptime.unwrap_or(0.0),
        gaps: sum.gaps.clone(),
    };
    // Loader crashes and evictions in the span, from the events.
    let events: Vec<serde_json::Value> = crate::telemetry::read::records(
        store.as_ref(),
        "events",
        cluster,
        args.since,
        until,
    )
    .await?
    .into_iter()
    .filter(|v| matches!(v["kind"].as_str(), Some("loader_crashed" | "loader_evicted")))
    .map(|v| json!({"at": v["at"], "node": v["node"], "kind": v["kind"], "model": v["model"], "exit": v["exit"]}))
    .collect();
    let p = &ctx.printer;
    if p.json {
        p.json_line(
            &json!({"event": "uptime", "uptime": u, "loader_events": events, "missing_days": sum.missing_days}),
        );
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
    if !sum.missing_days.is_empty() {
        p.out(format!("no samples at all on {} (counted as down)", sum.missing_days.join(", ")));
    }
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

pub async fn summary(args: &SummaryArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let inv = ctx.load_inventory()?;
    let store = crate::store::open_spec(&inv.store).await.context("cannot open the store")?;
    let (from, to, _) = day_span(args.since, args.until)?;
    let started = std::time::Instant::now();
    let latencies = crate::telemetry::summary::LATENCIES.map(|l| args.latency.iter().any(|a| a.replace('-', "_") == l));
    let sum = span_summary(&inv, store.as_ref(), from, to, latencies, false).await?;
    let p = &ctx.printer;
    if p.json {
        let mut v = json!(sum);
        v["event"] = json!("summary");
        v["read_secs"] = json!(started.elapsed().as_secs_f64());
        p.json_line(&v);
        return Ok(ExitStatus::Success);
    }
    let ms = |v: Option<f64>| v.map(|v| format!("{v:.0} ms")).unwrap_or_else(|| "-".into());
    p.out(format!(
        "cluster {} from {} to {}: {} samples; {} day(s) compacted, {} JSON only, {} missing",
        sum.cluster,
        sum.from,
        sum.to,
        sum.samples,
        sum.days.iter().filter(|d| d.source.starts_with("parquet")).count(),
        sum.days.iter().filter(|d| d.source == "json").count(),
        sum.missing_days.len()
    ));
    let mut t = p.table();
    t.set_header(vec![
        "model",
        "node",
        "requests",
        "failed",
        "prompt tokens",
        "completion tokens",
        "cached",
        "p50",
        "p95",
        "p99",
        "TTFT p95",
    ]);
    let rows = sum.models.iter().chain(if args.per_node { sum.backends.as_slice() } else { &[] });
    for m in rows {
        t.add_row(vec![
            m.model.clone(),
            m.node.clone().unwrap_or_else(|| "all".into()),
            m.requests.to_string(),
            (m.failed + m.cut).to_string(),
            m.prompt_tokens.to_string(),
            m.completion_tokens.to_string(),
            m.cached_tokens.to_string(),
            ms(m.e2e_p50_ms),
            ms(m.e2e_p95_ms),
            ms(m.e2e_p99_ms),
            ms(m.ttft_p95_ms),
        ]);
    }
    p.out(t);
    let mut t = p.table();
    t.set_header(vec!["node", "samples", "uptime", "throttled", "hottest", "energy"]);
    for n in &sum.nodes {
        t.add_row(vec![
            n.node.clone(),
            n.samples.to_string(),
            format!("{:.3}%", n.uptime * 100.0),
            n.throttled_share.map(|s| format!("{:.2}%", s * 100.0)).unwrap_or_else(|| "-".into()),
            n.max_celsius.map(|c| format!("{c:.0} °C")).unwrap_or_else(|| "-".into()),
            if n.energy_samples > 0 { format!("{:.1} kWh", n.energy_joules / 3.6e6) } else { "-".into() },
        ]);
    }
    p.out(t);
    if let Some(u) = sum.cluster_uptime {
        p.out(format!(
            "cluster uptime {:.3}%; throttled in {} of samples",
            u * 100.0,
            sum.throttled_share.map(|s| format!("{:.2}%", s * 100.0)).unwrap_or_else(|| "-".into())
        ));
    }
    if !sum.missing_days.is_empty() {
        p.out(format!("no samples at all on {}: missing, not zero", sum.missing_days.join(", ")));
    }
    for k in &sum.skipped {
        p.note(format!("skipped unreadable `{k}`"));
    }
    Ok(ExitStatus::Success)
}

pub async fn synth(args: &SynthArgs, ctx: &Ctx) -> Result<ExitStatus> {
    use crate::store::Store;
    use crate::telemetry::synth;
    anyhow::ensure!(args.nodes > 0 && args.days > 0, "--nodes and --days must be at least 1");
    let (cluster, nodes, layout) = match &args.like {
        Some(path) => {
            let inv = crate::inventory::Inventory::load(path)?;
            let layout = synth::Layout::of(&inv);
            anyhow::ensure!(
                !layout.nodes.is_empty() && !layout.models.is_empty(),
                "--like `{}`: no node or no placed model to synthesise for",
                path.display()
            );
            (inv.cluster.slug.clone(), layout.nodes.len(), Some(layout))
        }
        None => {
            crate::inventory::check_slug(&args.cluster).map_err(|e| anyhow::anyhow!("--cluster: {e}"))?;
            (args.cluster.clone(), args.nodes, None)
        }
    };
    let store = crate::store::LocalStore::new(args.store.clone());
    if let Some(l) = &layout {
        // Never mix synthetic samples into a day that has real ones.
        for d in 0..args.days {
            let date = args.start.checked_add(jiff::Span::new().days(i64::from(d)))?;
            let mut real = false;
            for n in &l.nodes {
                real |= !store.list(&crate::store::keys::telemetry_node_day(&cluster, n, date)).await?.is_empty();
            }
            let compacted = store.get(&format!("{}samples.parquet", columnar::parquet_prefix(&cluster, date))).await?;
            anyhow::ensure!(
                !real && compacted.is_none(),
                "{date} already has telemetry of `{cluster}` in `{}`: synthesise other days",
                args.store.display()
            );
        }
    }
    let spec = synth::Spec {
        layout,
        cluster: cluster.clone(),
        nodes,
        start: args.start,
        days: args.days,
        interval_secs: 60,
        seed: args.seed,
        scenario: match args.scenario {
            crate::cli::SynthScenario::Story => synth::Scenario::Story,
            crate::cli::SynthScenario::Balanced => synth::Scenario::Balanced,
            crate::cli::SynthScenario::Busy => synth::Scenario::Busy,
            crate::cli::SynthScenario::ColdCache => synth::Scenario::ColdCache,
        },
    };
    if let Some(path) = &args.write_inventory {
        let store = std::path::absolute(&args.store).unwrap_or_else(|_| args.store.clone());
        std::fs::write(path, synth::inventory_yaml(&spec, &store))
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    let started = std::time::Instant::now();
    let (mut samples, mut backend_rows, mut bytes) = (0usize, 0usize, 0usize);
    for d in 0..args.days {
        let spec2 = spec.clone();
        let day = tokio::task::spawn_blocking(move || synth::day(&spec2, d)).await?;
        let date = args.start.checked_add(jiff::Span::new().days(i64::from(d)))?;
        samples += day.len();
        backend_rows += day.iter().map(|s| s.backends.len()).sum::<usize>();
        match args.format {
            SynthFormat::Parquet => {
                let prefix = columnar::parquet_prefix(&cluster, date);
                let (s, b) = tokio::task::spawn_blocking(move || {
                    Ok::<_, anyhow::Error>((columnar::samples_parquet(&day)?, columnar::backends_parquet(&day)?))
                })
                .await??;
                bytes += s.len() + b.len();
                store.put(&format!("{prefix}samples.parquet"), &s).await?;
                store.put(&format!("{prefix}backends.parquet"), &b).await?;
            }
            SynthFormat::Json => {
                for s in &day {
                    let at: jiff::Timestamp = s.at.parse()?;
                    let body = serde_json::to_vec(s)?;
                    bytes += body.len();
                    store.put(&crate::telemetry::spool::telemetry_key(&cluster, &s.node, at), &body).await?;
                }
            }
        }
    }
    ctx.printer.line(
        &format!(
            "{samples} samples ({backend_rows} backend rows) of {} nodes over {} days → `{}` ({:.1} MiB, {:.1} s)",
            nodes,
            args.days,
            args.store.display(),
            bytes as f64 / 1048576.0,
            started.elapsed().as_secs_f64()
        ),
        &json!({"event": "synth", "samples": samples, "backend_rows": backend_rows, "bytes": bytes,
                "store": args.store, "secs": started.elapsed().as_secs_f64()}),
    );
    Ok(ExitStatus::Success)
}
