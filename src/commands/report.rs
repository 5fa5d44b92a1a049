//! `garnet report --month YYYY-MM`: the monthly executive report, `report.json` and
//! `report.pdf` (every number in the PDF from the JSON), into `--out` and the store; `--email`
//! sends it to the cluster's contacts.

use anyhow::{Context, Result};

use super::Ctx;
use crate::ExitStatus;
use crate::cli::ReportArgs;
use crate::report::monthly;

/// The month's first and last day; the default is the last whole month (UTC).
pub(crate) fn month_days(month: Option<&str>) -> Result<(String, jiff::civil::Date, jiff::civil::Date)> {
    let first = match month {
        Some(m) => format!("{m}-01")
            .parse::<jiff::civil::Date>()
            .ok()
            .filter(|_| m.len() == 7)
            .ok_or_else(|| crate::exit::UsageError(format!("--month `{m}`: a month like 2026-11")))?,
        None => {
            let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
            today.first_of_month().checked_sub(jiff::Span::new().months(1))?
        }
    };
    Ok((first.strftime("%Y-%m").to_string(), first, first.last_of_month()))
}

/// Builds the month's report from the store (no side effect).
pub(crate) async fn build(
    inv: &mut crate::inventory::Inventory,
    store: &dyn crate::store::Store,
    month: &str,
    first: jiff::civil::Date,
    last: jiff::civil::Date,
) -> Result<monthly::Report> {
    let variants = super::deploy::load_variants(inv).await?;
    let (from, to, until) = super::telemetry::day_span(first, Some(last))?;
    let sum = super::telemetry::span_summary(inv, store, from, to, [true; 3], true).await?;
    let cluster = inv.cluster.slug.clone();
    let settling = super::placement::settling(store, &cluster, from, to).await?;
    let interval = f64::from(inv.monitor.interval_secs);
    let d = crate::placement::diff::diff(
        inv,
        &variants,
        &sum,
        interval,
        &crate::placement::diff::Thresholds::default(),
        &settling,
    );
    let events = crate::telemetry::read::records(store, "events", &cluster, first, until)
        .await
        .with_context(|| format!("reading the month's events from {}", store.describe()))?;
    let audit = crate::telemetry::read::records(store, "audit", &cluster, first, until)
        .await
        .with_context(|| format!("reading the month's audit log from {}", store.describe()))?;
    let cost = crate::placement::cost_diff::cost_diff(inv, &sum, &d.placement, &d.placement, None);
    Ok(monthly::build(&monthly::Inputs {
        inv,
        month: month.to_string(),
        sum: &sum,
        events: &events,
        audit: &audit,
        diff: &d,
        cost: cost.as_ref(),
    }))
}

pub async fn run(args: &ReportArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let mut inv = ctx.load_inventory()?;
    let (month, first, last) = month_days(args.month.as_deref())?;
    let store = crate::store::open(&inv).await.context("cannot open the store")?;
    let p = &ctx.printer;
    let started = std::time::Instant::now();
    let report = build(&mut inv, store.as_ref(), &month, first, last).await?;
    let aggregated = started.elapsed();
    for k in &report.coverage.skipped {
        p.warn(format!("skipped unreadable `{k}`"));
    }
    let json = serde_json::to_vec_pretty(&report)?;
    let pdf = render(&report)?;
    let rendered = started.elapsed() - aggregated;
    let prefix = crate::store::keys::monthly(&inv.cluster.slug, &month);
    let mut files: Vec<(&str, &[u8])> = vec![("report.json", &json)];
    if let Some(pdf) = &pdf {
        files.push(("report.pdf", pdf));
    }
    for (name, body) in &files {
        store
            .put(&format!("{prefix}{name}"), body)
            .await
            .with_context(|| format!("cannot write the report to {}", store.describe()))?;
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create `{}`", args.out.display()))?;
    let mut written = Vec::new();
    for (name, body) in &files {
        let path = args.out.join(name);
        std::fs::write(&path, body).with_context(|| format!("cannot write `{}`", path.display()))?;
        written.push(path.display().to_string());
    }
    if p.json {
        p.json_line(&serde_json::json!({
            "event": "report",
            "month": month,
            "files": written,
            "store_prefix": prefix,
            "aggregate_secs": aggregated.as_secs_f64(),
            "render_secs": rendered.as_secs_f64(),
            "pdf": pdf.is_some(),
        }));
    } else {
        p.out(format!(
            "{} report for {month}: {} requests, {} tokens; written {} (and under `{prefix}` in {}); aggregated in {:.2} s, rendered in {:.2} s",
            inv.cluster.slug,
            report.volume.requests,
            report.volume.tokens,
            written.join(", "),
            store.describe(),
            aggregated.as_secs_f64(),
            rendered.as_secs_f64()
        ));
        for u in &report.unknowns {
            p.warn(u);
        }
    }
    Ok(ExitStatus::Success)
}

#[cfg(feature = "pdf")]
fn render(r: &monthly::Report) -> Result<Option<Vec<u8>>> {
    crate::report::render::pdf(r).map(Some)
}

#[cfg(not(feature = "pdf"))]
fn render(_: &monthly::Report) -> Result<Option<Vec<u8>>> {
    tracing::warn!("this garnet was built without the `pdf` feature: report.json only");
    Ok(None)
}
