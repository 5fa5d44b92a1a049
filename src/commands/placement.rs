//! `garnet placement diff`: the span's telemetry per node × model, and the moves it calls for
//! ([`crate::placement::diff`]), as a table or JSON, and as Markdown + JSON files with `--out`.

use anyhow::{Context, Result};

use super::Ctx;
use crate::ExitStatus;
use crate::cli::{PlacementDiffArgs, Since};
use crate::placement::diff;

pub async fn diff(args: &PlacementDiffArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let mut inv = ctx.load_inventory()?;
    // The placement as the latest record leaves it (hot-swaps, `--via` moves).
    super::deploy::load_variants(&mut inv).await?;
    let store = crate::store::open(&inv).await.context("cannot open the store")?;
    let until = args.until.unwrap_or_else(|| jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date());
    let since = match args.since {
        Since::Date(d) => d,
        Since::Days(n) => until.checked_sub(jiff::Span::new().days(i64::from(n) - 1))?,
    };
    let (from, to, until) = super::telemetry::day_span(since, Some(until))?;
    let sum = super::telemetry::span_summary(&inv, store.as_ref(), from, to, [true; 3], true).await?;
    let p = &ctx.printer;
    for k in &sum.skipped {
        p.warn(format!("skipped unreadable `{k}`"));
    }
    if sum.samples == 0 {
        anyhow::bail!(
            "no telemetry for cluster `{}` from {since} to {until} in {}: nothing to judge a placement by",
            inv.cluster.slug,
            store.describe()
        );
    }
    let d = diff::diff(&inv, &sum, f64::from(inv.monitor.interval_secs), &diff::Thresholds::default());
    let events = crate::telemetry::read::records(store.as_ref(), "events", &inv.cluster.slug, since, until)
        .await
        .with_context(|| format!("reading the span's events from {}", store.describe()))?;
    let evictions = diff::eviction_log(&events, &d.moves);
    let markdown = d.markdown();
    let evictions_md = diff::eviction_markdown(&d.cluster, &d.from, &d.to, &evictions);
    let log = serde_json::json!({"cluster": d.cluster, "from": d.from, "to": d.to, "evictions": evictions});
    let costs = d
        .replay
        .as_ref()
        .and_then(|r| crate::placement::cost_diff::cost_diff(&inv, &sum, &d.placement, &d.proposed, &r.after));
    let (cost_md, cost_json) = match &costs {
        Some(c) => (c.markdown(), serde_json::to_vec_pretty(c)?),
        None => {
            let why = "the inventory has no `cost:` section: nothing to price the tokens by";
            (
                format!(
                    "# Cost-per-million-tokens diff: {}, {} → {}\n\nNot computed: {why}.\n",
                    d.cluster, d.from, d.to
                ),
                serde_json::to_vec_pretty(
                    &serde_json::json!({"cluster": d.cluster, "from": d.from, "to": d.to, "not_computed": why}),
                )?,
            )
        }
    };
    let files = [
        ("placement-diff", "md", markdown.clone().into_bytes()),
        ("placement-diff", "json", serde_json::to_vec_pretty(&d)?),
        ("cost-diff", "md", cost_md.clone().into_bytes()),
        ("cost-diff", "json", cost_json),
        ("eviction-log", "md", evictions_md.clone().into_bytes()),
        ("eviction-log", "json", serde_json::to_vec_pretty(&log)?),
    ];
    // In the store, under the span's weekly prefix (the dashboard links them), and with `--out`.
    let prefix = crate::store::keys::weekly(&inv.cluster.slug, since, until);
    for (name, ext, body) in &files {
        store
            .put(&format!("{prefix}{name}.{ext}"), body)
            .await
            .with_context(|| format!("cannot write the weekly artifacts to {}", store.describe()))?;
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
        for (name, ext, body) in &files {
            let path = dir.join(format!("{name}-{since}-{until}.{ext}"));
            std::fs::write(&path, body).with_context(|| format!("cannot write `{}`", path.display()))?;
        }
    }
    if p.json {
        let mut v = serde_json::to_value(&d)?;
        v["event"] = "placement_diff".into();
        v["evictions"] = serde_json::to_value(&evictions)?;
        v["cost"] = serde_json::to_value(&costs)?;
        p.json_line(&v);
    } else {
        p.out(markdown.trim_end());
        p.out(format!("\n{}", cost_md.trim_end()));
        p.out(format!("\n{}", evictions_md.trim_end()));
    }
    Ok(if d.moves.is_empty() { ExitStatus::Success } else { ExitStatus::Proposed })
}
