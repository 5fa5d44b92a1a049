//! Every key garnet writes in a cluster's store, in one place (the layout is an interface:
//! `docs/telemetry.md`, the README's store section). Prefixes end with `/`; days are UTC.

use jiff::Timestamp;
use jiff::civil::Date;

/// The cluster's envelope, written by `init`.
pub fn envelope(slug: &str) -> String {
    format!("cluster/{slug}.json")
}

/// The record that the welcome email went out (when, to whom).
pub fn welcome(slug: &str) -> String {
    format!("cluster/{slug}.welcome.json")
}

/// The cluster lock object.
pub fn lock(slug: &str) -> String {
    format!("locks/{slug}")
}

/// Everything the monitors shipped for `cluster`.
pub fn telemetry(cluster: &str) -> String {
    format!("telemetry/cluster={cluster}/")
}

/// One node's samples of one day.
pub fn telemetry_node_day(cluster: &str, node: &str, day: Date) -> String {
    format!("telemetry/cluster={cluster}/node={node}/date={day}/")
}

/// One sample, named for the end of its window (to the second).
pub fn sample(cluster: &str, node: &str, at: Timestamp) -> String {
    format!("telemetry/cluster={cluster}/node={node}/date={}/{}.json", at.strftime("%Y-%m-%d"), at.strftime("%H%M%S"))
}

/// The time a sample key names (`.../date=YYYY-MM-DD/HHMMSS.json`).
pub fn sample_time(key: &str) -> Option<Timestamp> {
    let date = key.split("/date=").nth(1)?.split('/').next()?;
    let hms = key.rsplit('/').next()?.strip_suffix(".json")?;
    if hms.len() != 6 {
        return None;
    }
    format!("{date}T{}:{}:{}Z", &hms[0..2], &hms[2..4], &hms[4..6]).parse().ok()
}

/// The node a sample key names.
pub fn sample_node(key: &str) -> Option<&str> {
    key.split("/node=").nth(1)?.split('/').next()
}

/// The day any dated key names (`…/date=YYYY-MM-DD/…`).
pub fn day_of(key: &str) -> Option<Date> {
    key.split("/date=").nth(1)?.get(..10)?.parse().ok()
}

/// A compacted day's folder (`samples.parquet`, `backends.parquet`).
pub fn parquet_day(cluster: &str, day: Date) -> String {
    format!("telemetry-parquet/cluster={cluster}/date={day}/")
}

/// Records of one kind (`events`, `audit`) of one day.
pub fn records_day(kind: &str, cluster: &str, day: Date) -> String {
    format!("{kind}/cluster={cluster}/date={day}/")
}

/// One lifecycle event.
pub fn event(cluster: &str, node: &str, at: Timestamp, what: &str) -> String {
    format!(
        "events/cluster={cluster}/date={}/{}-{node}-{what}.json",
        at.strftime("%Y-%m-%d"),
        at.strftime("%H%M%S%.3f").to_string().replace('.', "")
    )
}

/// One run's audit entry.
pub fn audit(cluster: &str, started: Timestamp, run_id: &str) -> String {
    format!(
        "audit/cluster={cluster}/date={}/{}-{run_id}.json",
        started.strftime("%Y-%m-%d"),
        started.strftime("%H%M%S")
    )
}

/// The placement records of a cluster.
pub fn placements(cluster: &str) -> String {
    format!("placement/cluster={cluster}/")
}

/// One placement record (its key sorts after every earlier one).
pub fn placement(cluster: &str, at: Timestamp) -> String {
    format!("placement/cluster={cluster}/{}.json", at.strftime("%Y%m%dT%H%M%S%.6fZ"))
}

/// The monthly report (`report.json`, `report.pdf`) of `month` (`YYYY-MM`).
pub fn monthly(cluster: &str, month: &str) -> String {
    format!("reports/cluster={cluster}/month={month}/")
}

/// Every monthly report of a cluster.
pub fn monthly_all(cluster: &str) -> String {
    format!("reports/cluster={cluster}/")
}

/// Every weekly review of a cluster.
pub fn weekly_all(cluster: &str) -> String {
    format!("weekly/cluster={cluster}/")
}

/// The weekly review's artifacts (`placement-diff.json`, …) for the span from `from` (a day, or an
/// instant like `2026-12-03T054907Z`) to the end of `until`.
pub fn weekly_span(cluster: &str, from: &str, until: Date) -> String {
    format!("weekly/cluster={cluster}/span={from}_{until}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_keys_round_trip() {
        let t: Timestamp = "2026-11-26T10:01:02Z".parse().unwrap();
        let k = sample("c", "n-1", t);
        assert_eq!(k, "telemetry/cluster=c/node=n-1/date=2026-11-26/100102.json");
        assert_eq!(
            (sample_time(&k), sample_node(&k), day_of(&k)),
            (Some(t), Some("n-1"), Some(t.to_zoned(jiff::tz::TimeZone::UTC).date()))
        );
        assert_eq!(sample_time("telemetry/cluster=c/node=n/date=2026-11-26/junk.json"), None);
        assert!(k.starts_with(&telemetry_node_day("c", "n-1", "2026-11-26".parse().unwrap())));
        assert!(k.starts_with(&telemetry("c")));
    }
}
