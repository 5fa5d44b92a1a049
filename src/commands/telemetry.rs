//! `garnet telemetry compact`: a day's per-minute samples rolled into Parquet in the store
//! (`telemetry::columnar`), verified by reading the files back before anything is deleted.

use anyhow::{Context, Result};
use serde_json::json;

use super::Ctx;
use crate::ExitStatus;
use crate::cli::CompactArgs;
use crate::telemetry::{Sample, columnar};

/// Where a day's Parquet files go.
pub fn parquet_prefix(cluster: &str, day: jiff::civil::Date) -> String {
    format!("telemetry-parquet/cluster={cluster}/date={day}/")
}

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
    let all = store.list(&format!("telemetry/cluster={cluster}/")).await?;
    for day in days {
        let marker = format!("/date={day}/");
        let keys: Vec<&String> = all.iter().filter(|k| k.contains(&marker) && k.ends_with(".json")).collect();
        let mut samples = Vec::with_capacity(keys.len());
        let mut skipped = 0;
        for k in &keys {
            match store.get(k).await?.map(|b| serde_json::from_slice::<Sample>(&b)) {
                Some(Ok(s)) => samples.push(s),
                Some(Err(e)) => {
                    tracing::warn!("skipping corrupt sample `{k}`: {e}");
                    skipped += 1;
                }
                None => {}
            }
        }
        if samples.is_empty() {
            ctx.printer.line(
                &format!("{day}: no samples"),
                &json!({"event": "compact", "date": day.to_string(), "samples": 0}),
            );
            continue;
        }
        samples.sort_by(|a, b| (&a.node, &a.at).cmp(&(&b.node, &b.at)));
        let backend_rows: u64 = samples.iter().map(|s| s.backends.len() as u64).sum();
        let prefix = parquet_prefix(cluster, day);
        let files = [
            ("samples.parquet", columnar::samples_parquet(&samples)?, samples.len() as u64),
            ("backends.parquet", columnar::backends_parquet(&samples)?, backend_rows),
        ];
        let mut bytes = 0;
        for (name, data, want) in &files {
            let key = format!("{prefix}{name}");
            store.put(&key, data).await?;
            // Read back from the store: every row there, or nothing is deleted.
            let back = store.get(&key).await?.with_context(|| format!("`{key}` vanished after writing"))?;
            let got = columnar::rows(&back).with_context(|| format!("`{key}` does not read back"))?;
            anyhow::ensure!(got == *want, "`{key}` holds {got} rows, {want} were written; nothing deleted");
            bytes += data.len();
        }
        let mut deleted = 0;
        if args.delete && skipped == 0 {
            for k in &keys {
                store.delete(k).await?;
                deleted += 1;
            }
        }
        ctx.printer.line(
            &format!(
                "{day}: {} samples, {backend_rows} backend rows → {prefix} ({:.1} KiB){}{}",
                samples.len(),
                bytes as f64 / 1024.0,
                if deleted > 0 { format!("; {deleted} JSON samples deleted") } else { String::new() },
                if skipped > 0 { format!("; {skipped} corrupt skipped (nothing deleted)") } else { String::new() },
            ),
            &json!({"event": "compact", "date": day.to_string(), "samples": samples.len(), "backend_rows": backend_rows,
                    "bytes": bytes, "prefix": prefix, "deleted": deleted, "skipped": skipped}),
        );
    }
    Ok(ExitStatus::Success)
}
