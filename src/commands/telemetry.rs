//! `garnet telemetry compact`: a day's per-minute samples rolled into Parquet in the store
//! (`telemetry::columnar::compact_day`), verified by reading the files back before anything is
//! deleted. The monitor on one designated node runs the same every hour for yesterday and today.

use anyhow::{Context, Result};
use serde_json::json;

use super::Ctx;
use crate::ExitStatus;
use crate::cli::CompactArgs;
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
