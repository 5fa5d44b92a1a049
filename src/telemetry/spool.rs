//! The disk spool between the monitor and the store: at-least-once shipping with idempotent keys.
//!
//! Every sample is first written to the spool (atomically: temporary file, then rename), then
//! shipped oldest-first; a file is deleted only after the store accepted it. A store that is down
//! leaves the backlog in order on disk, a monitor restart finds it again, and a retried shipment
//! overwrites the same key rather than adding a duplicate. The spool is bounded: past `max_files`
//! the oldest samples are dropped, and the caller is told how many (one warning, not a storm).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::Store;

/// `telemetry/cluster=<c>/node=<n>/date=YYYY-MM-DD/HHMMSS.json`: one object per node per minute,
/// named so a retry overwrites rather than duplicates (hive-style for DuckDB, Athena, Grafana).
pub fn telemetry_key(cluster: &str, node: &str, at: jiff::Timestamp) -> String {
    crate::store::keys::sample(cluster, node, at)
}

#[derive(Serialize, Deserialize)]
struct Entry {
    key: String,
    body: serde_json::Value,
}

#[derive(Clone)]
pub struct Spool {
    dir: PathBuf,
    max_files: usize,
}

#[derive(Debug, Default, PartialEq)]
pub struct ShipReport {
    pub shipped: usize,
    pub remaining: usize,
    /// Why shipping stopped early (the store's error), once per attempt.
    pub error: Option<String>,
}

impl Spool {
    pub fn open(dir: &Path, max_files: usize) -> std::io::Result<Spool> {
        std::fs::create_dir_all(dir)?;
        Ok(Spool { dir: dir.to_path_buf(), max_files: max_files.max(1) })
    }

    fn files(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&self.dir)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        v.sort();
        Ok(v)
    }

    pub fn len(&self) -> usize {
        self.files().map(|f| f.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a sample for `key`; returns how many of the oldest were dropped to stay bounded.
    pub fn push(&self, key: &str, body: &serde_json::Value) -> std::io::Result<usize> {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        // Time first (order across restarts), then a counter (order within one nanosecond).
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("{nanos:024}-{seq:012}-{}", std::process::id());
        let tmp = self.dir.join(format!("{name}.tmp"));
        std::fs::write(&tmp, serde_json::to_vec(&Entry { key: key.into(), body: body.clone() })?)?;
        std::fs::rename(&tmp, self.dir.join(format!("{name}.json")))?;
        let files = self.files()?;
        let excess = files.len().saturating_sub(self.max_files);
        for f in &files[..excess] {
            std::fs::remove_file(f)?;
        }
        Ok(excess)
    }

    /// Ships the backlog oldest-first until done or the store fails (or takes longer than
    /// `deadline` for one object). Samples pushed meanwhile go in the next round.
    pub async fn ship(&self, store: &dyn Store, deadline: std::time::Duration) -> std::io::Result<ShipReport> {
        let files = self.files()?;
        let mut report = ShipReport::default();
        for (i, f) in files.iter().enumerate() {
            let read = std::fs::read(f);
            if read.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
                continue; // dropped meanwhile to keep the spool bounded
            }
            let entry: Entry = match read.ok().and_then(|b| serde_json::from_slice(&b).ok()) {
                Some(e) => e,
                None => {
                    // A torn or foreign file cannot be shipped; keep it aside rather than block the line.
                    let _ = std::fs::rename(f, f.with_extension("corrupt"));
                    continue;
                }
            };
            let body = serde_json::to_vec(&entry.body)?;
            let put = tokio::time::timeout(deadline, store.put(&entry.key, &body)).await;
            match put.unwrap_or(Err(crate::store::StoreError::Timeout(deadline))) {
                Ok(()) => {
                    match std::fs::remove_file(f) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                        _ => {}
                    }
                    report.shipped += 1;
                }
                Err(e) => {
                    report.error = Some(e.to_string());
                    report.remaining = files.len() - i;
                    return Ok(report);
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalStore;

    #[tokio::test]
    async fn nothing_is_lost_while_the_store_is_down_or_the_monitor_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let spool_dir = dir.path().join("spool");
        // A store whose root is a file: every put fails, like an unreachable bucket.
        let blocked = dir.path().join("not-a-dir");
        std::fs::write(&blocked, "").unwrap();
        let down = LocalStore::new(blocked.clone());
        let t0: jiff::Timestamp = "2026-11-26T10:00:00Z".parse().unwrap();
        {
            let spool = Spool::open(&spool_dir, 1000).unwrap();
            for m in 0..5 {
                let at = t0 + jiff::SignedDuration::from_secs(60 * m);
                spool.push(&telemetry_key("c", "n1", at), &serde_json::json!({"minute": m})).unwrap();
                let r = spool.ship(&down, std::time::Duration::from_secs(5)).await.unwrap();
                assert_eq!(r.shipped, 0);
                assert!(r.error.is_some());
            }
            assert_eq!(spool.len(), 5);
        } // the monitor "restarts": a new spool on the same folder
        let spool = Spool::open(&spool_dir, 1000).unwrap();
        assert_eq!(spool.len(), 5);
        let up = LocalStore::new(dir.path().join("store"));
        let r = spool.ship(&up, std::time::Duration::from_secs(5)).await.unwrap();
        assert_eq!((r.shipped, r.remaining, r.error), (5, 0, None));
        let keys = up.list("telemetry/").await.unwrap();
        assert_eq!(keys.len(), 5, "{keys:?}");
        assert_eq!(keys[0], "telemetry/cluster=c/node=n1/date=2026-11-26/100000.json");
        for (m, k) in keys.iter().enumerate() {
            let v: serde_json::Value = serde_json::from_slice(&up.get(k).await.unwrap().unwrap()).unwrap();
            assert_eq!(v["minute"], m, "in order, each exactly once");
        }
        // Shipping the same key again overwrites: still five objects.
        spool.push(&keys[4], &serde_json::json!({"minute": 4})).unwrap();
        spool.ship(&up, std::time::Duration::from_secs(5)).await.unwrap();
        assert_eq!(up.list("telemetry/").await.unwrap().len(), 5);
        assert!(spool.is_empty());
    }

    #[test]
    fn bounded_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 3).unwrap();
        let mut dropped = 0;
        for i in 0..5 {
            dropped += spool.push(&format!("k{i}"), &serde_json::json!(i)).unwrap();
        }
        assert_eq!((dropped, spool.len()), (2, 3));
    }
}
