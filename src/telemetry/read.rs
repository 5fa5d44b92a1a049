//! Reading telemetry back from the store (`status`, deploy's check, later the weekly and monthly
//! artifacts). A corrupt object is skipped with a warning, never fatal.

use super::Sample;
use crate::store::{Store, StoreError};

use crate::store::keys;
pub use crate::store::keys::sample_time as key_time;

fn day_prefix(cluster: &str, node: &str, day: jiff::civil::Date) -> String {
    keys::telemetry_node_day(cluster, node, day)
}

/// The node's newest readable sample (today and yesterday, UTC; JSON or compacted).
pub async fn latest(
    store: &dyn Store,
    cluster: &str,
    node: &str,
) -> Result<Option<(jiff::Timestamp, Sample)>, StoreError> {
    Ok(latest_all(store, cluster, &[node.to_string()]).await?.remove(node))
}

/// Each node's newest readable sample (looking at today and yesterday, UTC), whether it is still
/// a JSON object or already in the day's Parquet files (compacted with `--delete`): what
/// `status` shows. A node with neither is absent from the map.
pub async fn latest_all(
    store: &dyn Store,
    cluster: &str,
    nodes: &[String],
) -> Result<std::collections::HashMap<String, (jiff::Timestamp, Sample)>, StoreError> {
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let mut out = std::collections::HashMap::new();
    for day in [today, today.yesterday().unwrap_or(today)] {
        // A node's JSON samples first: compaction copies them, so while any of the day's are
        // there, the newest is newer than anything in the day's Parquet (read only for the nodes
        // whose JSON of the day was deleted, once).
        let mut without_json = Vec::new();
        for node in nodes {
            if out.contains_key(node) {
                continue;
            }
            let keys = store.list(&day_prefix(cluster, node, day)).await?;
            let mut found = None;
            for k in keys.iter().rev() {
                let Some(at) = key_time(k) else { continue };
                match store.get(k).await?.map(|b| serde_json::from_slice::<Sample>(&b)) {
                    Some(Ok(s)) => {
                        found = Some((at, s));
                        break;
                    }
                    Some(Err(e)) => tracing::warn!("skipping corrupt sample `{k}`: {e}"),
                    None => {}
                }
            }
            match found {
                Some(f) => _ = out.insert(node.clone(), f),
                None => without_json.push(node),
            }
        }
        if without_json.is_empty() {
            continue;
        }
        let prefix = super::columnar::parquet_prefix(cluster, day);
        let Some(samples) = store.get(&format!("{prefix}samples.parquet")).await? else { continue };
        let backends = store.get(&format!("{prefix}backends.parquet")).await?;
        // Only each wanted node's newest row is built (a whole day decoded would be a day's
        // samples and sketches in memory, on every `status` and every dashboard refresh).
        let newest = match super::columnar::newest_times(&samples) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!("skipping corrupt Parquet `{prefix}samples.parquet`: {e:#}");
                continue;
            }
        };
        let keep =
            |node: &str, at: i64| without_json.iter().any(|n| n.as_str() == node) && newest.get(node) == Some(&at);
        match super::columnar::read_samples_where(&samples, backends.as_deref(), &keep) {
            Ok(rows) => {
                for s in rows.into_iter().filter(|s| without_json.contains(&&s.node)) {
                    let Ok(at) = s.at.parse::<jiff::Timestamp>() else { continue };
                    if out.get(&s.node).is_none_or(|(t, _): &(jiff::Timestamp, Sample)| *t < at) {
                        out.insert(s.node.clone(), (at, s));
                    }
                }
            }
            Err(e) => tracing::warn!("skipping corrupt Parquet `{prefix}samples.parquet`: {e:#}"),
        }
    }
    Ok(out)
}

/// Every readable record of one kind (`events`, `audit`) of a cluster from `since` to `until`
/// (days, UTC, inclusive), in key order (time): the same layout and the same rule as samples (a
/// corrupt object is skipped with its key named).
pub async fn records(
    store: &dyn Store,
    kind: &str,
    cluster: &str,
    since: jiff::civil::Date,
    until: jiff::civil::Date,
) -> Result<Vec<serde_json::Value>, StoreError> {
    let mut out = Vec::new();
    let mut day = since;
    while day <= until {
        for k in store.list(&keys::records_day(kind, cluster, day)).await? {
            match store.get(&k).await?.map(|b| serde_json::from_slice::<serde_json::Value>(&b)) {
                Some(Ok(v)) => out.push(v),
                Some(Err(e)) => tracing::warn!("skipping corrupt record `{k}`: {e}"),
                None => {}
            }
        }
        day = match day.tomorrow() {
            Ok(d) => d,
            Err(_) => break,
        };
    }
    Ok(out)
}

/// Every readable sample of `node` between `from` and `to` (inclusive), oldest first.
pub async fn range(
    store: &dyn Store,
    cluster: &str,
    node: &str,
    from: jiff::Timestamp,
    to: jiff::Timestamp,
) -> Result<(Vec<Sample>, usize), StoreError> {
    let utc = jiff::tz::TimeZone::UTC;
    let mut day = from.to_zoned(utc.clone()).date();
    let last = to.to_zoned(utc).date();
    let (mut out, mut corrupt) = (Vec::new(), 0);
    while day <= last {
        for k in store.list(&day_prefix(cluster, node, day)).await? {
            let Some(at) = key_time(&k) else { continue };
            if at < from || at > to {
                continue;
            }
            if let Some(body) = store.get(&k).await? {
                match serde_json::from_slice::<Sample>(&body) {
                    Ok(s) => out.push(s),
                    Err(e) => {
                        corrupt += 1;
                        tracing::warn!("skipping corrupt sample `{k}`: {e}");
                    }
                }
            }
        }
        day = match day.tomorrow() {
            Ok(d) => d,
            Err(_) => break,
        };
    }
    Ok((out, corrupt))
}

/// Every readable sample of the cluster (all nodes) between `from` and `to` (inclusive), oldest
/// first: the JSON samples, and for what is no longer there as JSON, the day's Parquet files
/// (`telemetry compact`). One reader whatever form a day is in; corrupt objects and files are
/// skipped with their key named, and counted.
pub async fn cluster_span(
    store: &dyn Store,
    cluster: &str,
    from: jiff::Timestamp,
    to: jiff::Timestamp,
) -> Result<(Vec<Sample>, usize), StoreError> {
    let utc = jiff::tz::TimeZone::UTC;
    let (first, last) = (from.to_zoned(utc.clone()).date(), to.to_zoned(utc).date());
    let keys = store.list(&keys::telemetry(cluster)).await?;
    let in_span = |at: &str| at.parse::<jiff::Timestamp>().is_ok_and(|t| t >= from && t <= to);
    let (mut out, mut corrupt) = (Vec::new(), 0);
    let mut day = first;
    while day <= last {
        let marker = format!("/date={day}/");
        let mut seen = std::collections::HashSet::new();
        for k in keys.iter().filter(|k| k.contains(&marker)) {
            if !key_time(k).is_some_and(|t| t >= from && t <= to) {
                continue;
            }
            if let Some(body) = store.get(k).await? {
                match serde_json::from_slice::<Sample>(&body) {
                    Ok(s) => {
                        seen.insert((s.node.clone(), s.at.clone()));
                        out.push(s);
                    }
                    Err(e) => {
                        corrupt += 1;
                        tracing::warn!("skipping corrupt sample `{k}`: {e}");
                    }
                }
            }
        }
        let prefix = super::columnar::parquet_prefix(cluster, day);
        if let Some(samples) = store.get(&format!("{prefix}samples.parquet")).await? {
            let backends = store.get(&format!("{prefix}backends.parquet")).await?;
            match super::columnar::read_samples(&samples, backends.as_deref()) {
                Ok(rows) => out.extend(
                    rows.into_iter().filter(|s| in_span(&s.at) && !seen.contains(&(s.node.clone(), s.at.clone()))),
                ),
                Err(e) => {
                    corrupt += 1;
                    tracing::warn!("skipping corrupt Parquet `{prefix}samples.parquet`: {e:#}");
                }
            }
        }
        day = match day.tomorrow() {
            Ok(d) => d,
            Err(_) => break,
        };
    }
    out.sort_by(|a, b| (&a.at, &a.node).cmp(&(&b.at, &b.node)));
    Ok((out, corrupt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_corrupt_object_is_skipped() {
        use crate::store::LocalStore;
        let dir = tempfile::tempdir().unwrap();
        let st = LocalStore::new(dir.path().to_path_buf());
        let now = jiff::Timestamp::now();
        let sample = |at: jiff::Timestamp| {
            serde_json::json!({"schema_version": 1, "cluster": "c", "node": "n", "at": at.to_string(), "window_secs": 60,
                "memory": {}, "thermal": {}})
        };
        let t1 = now - jiff::SignedDuration::from_secs(2);
        let key = |t| super::super::spool::telemetry_key("c", "n", t);
        st.put(&key(t1), &serde_json::to_vec(&sample(t1)).unwrap()).await.unwrap();
        st.put(&key(now), b"{\"schema_version\": 1, trunc").await.unwrap();
        let (at, s) = latest(&st, "c", "n").await.unwrap().expect("the good one");
        assert_eq!((at.as_second(), s.at), (t1.as_second(), t1.to_string()));
        let (all, corrupt) = range(&st, "c", "n", now - jiff::SignedDuration::from_secs(60), now).await.unwrap();
        assert_eq!((all.len(), corrupt), (1, 1));
    }
}
