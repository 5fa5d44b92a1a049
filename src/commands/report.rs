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

/// The mail settings `--email` needs, checked before any work so a run that cannot send changes
/// nothing: `None` without `--email`.
pub(crate) fn mail_for(email: bool, inv: &crate::inventory::Inventory) -> Result<Option<crate::inventory::MailSpec>> {
    match (email, &inv.mail) {
        (false, _) => Ok(None),
        (true, None) => Err(crate::exit::UsageError(
            "--email: the inventory has no `mail:` section (SMTP host, sender, credentials file)".into(),
        )
        .into()),
        (true, Some(_)) if inv.cluster.contacts.is_empty() => {
            Err(crate::exit::UsageError("--email: `cluster.contacts` names no one to send it to".into()).into())
        }
        (true, Some(m)) => Ok(Some(m.clone())),
    }
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
    let mail = mail_for(args.email, &inv)?;
    let store = crate::store::open(&inv).await.context("cannot open the store")?;
    let at = jiff::Timestamp::now();
    let command = format!("garnet report --month {month}{}", if args.email { " --email" } else { "" });
    let result = write(args, ctx, &mut inv, store.as_ref(), &month, first, last, mail.as_ref()).await;
    // The run's outcome on record, failures included (a scheduled run's mail that bounced).
    super::audit_run(ctx, &inv, store.as_ref(), &command, at, &result).await;
    result
}

#[allow(clippy::too_many_arguments, reason = "one call site: run's checked inputs")]
async fn write(
    args: &ReportArgs,
    ctx: &Ctx,
    inv: &mut crate::inventory::Inventory,
    store: &dyn crate::store::Store,
    month: &str,
    first: jiff::civil::Date,
    last: jiff::civil::Date,
    mail: Option<&crate::inventory::MailSpec>,
) -> Result<ExitStatus> {
    let p = &ctx.printer;
    let started = std::time::Instant::now();
    let report = build(inv, store, month, first, last).await?;
    let aggregated = started.elapsed();
    for k in &report.coverage.skipped {
        p.warn(format!("skipped unreadable `{k}`"));
    }
    let json = serde_json::to_vec_pretty(&report)?;
    let pdf = render(&report)?;
    let rendered = started.elapsed() - aggregated;
    let prefix = crate::store::keys::monthly(&inv.cluster.slug, month);
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
    let mut sent_to = Vec::new();
    if let Some(spec) = mail {
        let mut files = vec![crate::report::mail::File {
            name: format!("{}-{month}-report.json", inv.cluster.slug),
            content_type: "application/json",
            body: json.clone(),
        }];
        if let Some(pdf) = &pdf {
            files.insert(
                0,
                crate::report::mail::File {
                    name: format!("{}-{month}-report.pdf", inv.cluster.slug),
                    content_type: "application/pdf",
                    body: pdf.clone(),
                },
            );
        }
        let message = crate::report::mail::Mail {
            to: inv.cluster.contacts.clone(),
            subject: format!("{}: monthly report for {}", inv.cluster.slug, month_name(first)),
            text: email_text(&report, first),
            files,
        };
        crate::report::mail::send(spec, &message).await?;
        sent_to = inv.cluster.contacts.clone();
    }
    if p.json {
        p.json_line(&serde_json::json!({
            "event": "report",
            "emailed_to": sent_to,
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
        if !sent_to.is_empty() {
            p.out(format!("emailed to {}", sent_to.join(", ")));
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

fn month_name(first: jiff::civil::Date) -> String {
    first.strftime("%B %Y").to_string()
}

/// The email's text: the headline numbers, from the same report as the PDF.
fn email_text(r: &monthly::Report, first: jiff::civil::Date) -> String {
    let h = &r.headline;
    let mut s = format!("garnet monthly report: {}, {}\n\n", r.cluster, month_name(first));
    s.push_str(&format!("Tokens served: {} in {} requests\n", h.tokens, h.requests));
    if let Some(c) = h.all_in_usd_per_mtok {
        s.push_str(&format!("Cost per million tokens (all in): ${c:.4}\n"));
    }
    if let Some(b) = &h.best_savings {
        s.push_str(&format!("Saved against {}: {:.1}%\n", b.api, b.savings_pct));
    }
    if let Some(u) = h.cluster_uptime {
        s.push_str(&format!("Cluster uptime: {:.3}%\n", u * 100.0));
    }
    s.push_str(&format!(
        "Incidents: {}\nRebalance recommended: {}\n",
        h.incidents,
        if h.rebalance { "yes" } else { "no" }
    ));
    if !r.unknowns.is_empty() {
        s.push_str("\nWhat the report does not know:\n");
        for u in &r.unknowns {
            s.push_str(&format!("- {u}\n"));
        }
    }
    s.push_str("\nThe PDF is attached, with report.json: the same numbers, for your own tools.\n");
    s
}
