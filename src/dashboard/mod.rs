//! The cluster dashboard (`garnet dashboard`): `/account/cluster/<slug>`, read from the store.
//!
//! One [`View`] is built per refresh (`Engine::refresh`): the same [`Snapshot`] `garnet status`
//! prints, the placement, recent events and operator actions, the weekly and monthly artifacts,
//! and the cost curve per hour and per day. The page, its fragment, `state.json` and the charts
//! are rendered from that view once and served as bytes ([`server`]), so a request costs a copy
//! whatever the rack's size; the curve's history is read once and only the last two hours are
//! read again on each refresh.

pub mod curve;
pub mod page;
pub mod server;

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use crate::commands::status::Snapshot;
use crate::inventory::Inventory;
use crate::store::Store;
use crate::telemetry::summary::Bucket;

/// Hour buckets of the curve.
const HOUR_US: i64 = 3_600_000_000;

/// A model's placement: the nodes it is on and the entry serving it on each.
#[derive(Debug, Clone, Serialize)]
pub struct Placed {
    pub model: String,
    pub nodes: Vec<(String, String)>,
}

/// A weekly artifact or a monthly report in the store.
#[derive(Debug, Clone, Serialize)]
pub struct Artifact {
    /// `weekly` or `monthly`.
    pub kind: &'static str,
    /// The span (`2026-11-26_2026-12-02`) or the month (`2026-11`).
    pub period: String,
    pub name: String,
    pub key: String,
}

/// Everything the page shows, at one refresh.
#[derive(Debug, Serialize)]
pub struct View {
    pub cluster: String,
    pub version: u64,
    pub refresh_secs: u64,
    pub status: Snapshot,
    pub placement: Vec<Placed>,
    /// The last week's loader events, newest first (at most 30).
    pub events: Vec<serde_json::Value>,
    /// The last 30 days' operator actions, newest first (at most 20).
    pub audit: Vec<serde_json::Value>,
    pub artifacts: Vec<Artifact>,
    /// The first sample's time, when any.
    pub first_sample: Option<String>,
    pub hourly: curve::Curve,
    pub daily: curve::Curve,
    /// Objects that could not be read (named).
    pub skipped: Vec<String>,
    /// How long this refresh took to read the store and build the view, milliseconds.
    pub refresh_ms: f64,
}

/// What stays between refreshes: the curve's hours read so far.
pub struct Engine {
    /// The inventory as written; each refresh applies the latest placement record to a copy.
    pub base: Inventory,
    /// The inventory with the latest placement record applied (hot-swaps, `--via` moves, models
    /// taken off nodes), as of the last refresh.
    pub inv: Inventory,
    /// The entries hot-swaps put in place (the placement record's variants).
    pub variants: crate::placement::record::Variants,
    pub store: std::sync::Arc<dyn Store>,
    pub stale_after: std::time::Duration,
    pub since: std::time::Duration,
    pub refresh_secs: u64,
    hours: BTreeMap<i64, Bucket>,
    /// Start of the first sample's window (µs), once seen.
    first_us: Option<i64>,
    /// Whether the span before the last two hours has been read.
    history: bool,
    version: u64,
}

impl Engine {
    pub fn new(
        inv: Inventory,
        store: std::sync::Arc<dyn Store>,
        stale_after: std::time::Duration,
        since: std::time::Duration,
        refresh_secs: u64,
    ) -> Self {
        Engine {
            base: inv.clone(),
            inv,
            variants: Default::default(),
            store,
            stale_after,
            since,
            refresh_secs,
            hours: BTreeMap::new(),
            first_us: None,
            history: false,
            version: 0,
        }
    }

    /// Reads the store and builds the view: the history once, then from the start of the previous
    /// hour (late samples of it included) on every call.
    pub async fn refresh(&mut self) -> Result<View> {
        let started = std::time::Instant::now();
        // The placement as the latest record leaves it, read every time (a hot-swap or a
        // `placement apply` while the page is open shows on the next refresh).
        let record = crate::placement::record::latest(self.store.as_ref(), &self.base.cluster.slug).await?;
        self.inv = self.base.clone();
        self.variants = match record {
            Some((_, r)) => {
                crate::placement::record::apply(&mut self.inv, &r);
                r.variants
            }
            None => Default::default(),
        };
        let now = jiff::Timestamp::now();
        let now_us = now.as_microsecond();
        let since = jiff::SignedDuration::try_from(self.since).unwrap_or(jiff::SignedDuration::from_hours(24 * 30));
        let from = if self.history {
            jiff::Timestamp::from_microsecond((now_us.div_euclid(HOUR_US) - 1) * HOUR_US)?
        } else {
            now.checked_sub(since)?
        };
        let names: Vec<String> = self.inv.nodes.iter().map(|n| n.name.clone()).collect();
        let interval = f64::from(self.inv.monitor.interval_secs);
        let req = crate::telemetry::summary::SpanRequest {
            cluster: &self.inv.cluster.slug,
            nodes: &names,
            from,
            to: now,
            interval_secs: interval,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            latencies: [false; 3],
            demand: false,
            series_secs: Some(3600),
        };
        let sum = crate::telemetry::summary::span(self.store.as_ref(), &req).await?;
        let from_us = from.as_microsecond();
        // Hours read again are replaced; hours older than `--since` leave the curve.
        let oldest = now.checked_sub(since)?.as_microsecond().div_euclid(HOUR_US) * HOUR_US;
        self.hours.retain(|start, _| *start + HOUR_US <= from_us && *start >= oldest);
        for b in &sum.series {
            self.hours.insert(b.start_us, b.clone());
        }
        self.history = true;
        {
            let first = sum
                .nodes
                .iter()
                .filter_map(|n| n.first_sample.as_deref()?.parse::<jiff::Timestamp>().ok())
                .min()
                .map(|t| t.as_microsecond() - (interval * 1e6) as i64);
            self.first_us = match (self.first_us, first) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let nodes = self.inv.nodes.clone();
        let status =
            crate::commands::status::snapshot(&self.inv, &nodes, self.store.as_ref(), self.stale_after).await?;
        let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
        let week_ago = today.checked_sub(jiff::Span::new().days(6))?;
        let month_ago = today.checked_sub(jiff::Span::new().days(29))?;
        let slug = &self.inv.cluster.slug;
        let mut events = crate::telemetry::read::records(self.store.as_ref(), "events", slug, week_ago, today).await?;
        events.reverse();
        events.truncate(30);
        let mut audit = crate::telemetry::read::records(self.store.as_ref(), "audit", slug, month_ago, today).await?;
        audit.reverse();
        audit.truncate(20);
        let artifacts = artifacts(self.store.as_ref(), slug).await?;
        let (inv, variants) = (&self.inv, &self.variants);
        let memory_share = |model: &str, node: &str| {
            crate::placement::cost_diff::memory_share(inv, &variants_entry(variants, model, node), node)
        };
        let hours: Vec<Bucket> = self.hours.values().cloned().collect();
        let first_us = self.first_us.unwrap_or(now_us);
        let hourly = curve::curve(inv, &hours, "hour", &memory_share, first_us, now_us);
        let daily = curve::curve(inv, &curve::days(&hours), "day", &memory_share, first_us, now_us);
        self.version += 1;
        Ok(View {
            cluster: slug.clone(),
            version: self.version,
            refresh_secs: self.refresh_secs,
            status,
            placement: placement(inv, variants),
            events,
            audit,
            artifacts,
            first_sample: self.first_us.and_then(|us| {
                jiff::Timestamp::from_microsecond(us + (interval * 1e6) as i64).ok().map(|t| t.to_string())
            }),
            hourly,
            daily,
            skipped: sum.skipped,
            refresh_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }
}

/// The entry serving `model` on `node` (a hot-swap's variant, else the model itself).
fn variants_entry(variants: &crate::placement::record::Variants, model: &str, node: &str) -> String {
    variants.get(model).and_then(|v| v.get(node)).cloned().unwrap_or_else(|| model.to_string())
}

fn placement(inv: &Inventory, variants: &crate::placement::record::Variants) -> Vec<Placed> {
    inv.placement
        .iter()
        .map(|(m, p)| Placed {
            model: m.clone(),
            nodes: p.nodes.iter().map(|n| (n.clone(), variants_entry(variants, m, n))).collect(),
        })
        .collect()
}

/// The weekly artifacts and monthly reports in the store, newest first.
async fn artifacts(store: &dyn Store, cluster: &str) -> Result<Vec<Artifact>> {
    let mut out = Vec::new();
    for (kind, prefix, field) in [
        ("monthly", crate::store::keys::monthly_all(cluster), "month="),
        ("weekly", crate::store::keys::weekly_all(cluster), "span="),
    ] {
        for key in store.list(&prefix).await? {
            let Some(rest) = key.strip_prefix(&prefix) else { continue };
            let Some((period, name)) = rest.strip_prefix(field).and_then(|r| r.split_once('/')) else { continue };
            if name.contains('/') || !(name.ends_with(".pdf") || name.ends_with(".md") || name.ends_with(".json")) {
                continue;
            }
            out.push(Artifact { kind, period: period.to_string(), name: name.to_string(), key: key.clone() });
        }
    }
    out.sort_by(|a, b| b.period.cmp(&a.period).then(a.kind.cmp(b.kind)).then(a.name.cmp(&b.name)));
    Ok(out)
}
