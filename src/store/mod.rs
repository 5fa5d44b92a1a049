//! The store: where cluster-wide state lives (the lock and the audit log now; telemetry, events and
//! envelopes later). A local folder by default; S3-compatible buckets arrive with `deploy`.
//!
//! Keys are `/`-separated and hive-style where they hold time series
//! (`audit/cluster=<slug>/date=YYYY-MM-DD/<HHMMSS>-<run>.json`), so tools other than garnet can read
//! them. Every write is atomic (temporary file + rename); [`Store::create_new`] is the primitive the
//! lock stands on (`O_EXCL` locally, `If-None-Match: *` on S3).

pub mod audit;
pub mod keys;
pub mod lock;
pub mod s3;

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::inventory::{Inventory, StoreKind, StoreSpec};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store key `{key}`: {source}")]
    Io { key: String, source: std::io::Error },
    #[error("{0}")]
    Unsupported(String),
    #[error("no answer within {} s", .0.as_secs())]
    Timeout(std::time::Duration),
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Writes (or overwrites) `key` atomically.
    async fn put(&self, key: &str, data: &[u8]) -> Result<(), StoreError>;
    /// Creates `key` only if it does not exist; `Ok(false)` when it already does.
    async fn create_new(&self, key: &str, data: &[u8]) -> Result<bool, StoreError>;
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Keys under `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
    /// Where it is, for messages.
    fn describe(&self) -> String;
    /// The file holding `key`, where the store is a folder on this machine: readers that need
    /// only part of an object (a Parquet file's columns) read that part instead of all of it.
    fn local_path(&self, _key: &str) -> Option<PathBuf> {
        None
    }
}

/// Opens the store the inventory names.
pub async fn open(inv: &Inventory) -> Result<Box<dyn Store>, StoreError> {
    open_spec(&inv.store).await
}

/// Opens a store from its settings (the monitor has no inventory, only its node config).
pub async fn open_spec(spec: &StoreSpec) -> Result<Box<dyn Store>, StoreError> {
    match spec.kind {
        StoreKind::Local => Ok(Box::new(LocalStore::new(spec.path.clone()))),
        StoreKind::S3 => Ok(Box::new(s3::S3Store::new(spec).await?)),
    }
}

/// A folder on this machine.
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: PathBuf) -> Self {
        LocalStore { root }
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        if key.split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..") {
            return Err(StoreError::Io { key: key.into(), source: std::io::Error::other("invalid key") });
        }
        Ok(self.root.join(key))
    }
}

fn io(key: &str) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { key: key.to_string(), source }
}

fn ensure_parent(p: &Path) -> std::io::Result<()> {
    match p.parent() {
        Some(d) => std::fs::create_dir_all(d),
        None => Ok(()),
    }
}

#[async_trait]
impl Store for LocalStore {
    async fn put(&self, key: &str, data: &[u8]) -> Result<(), StoreError> {
        let p = self.path(key)?;
        ensure_parent(&p).map_err(io(key))?;
        let tmp = p.with_extension(format!("tmp.{}", std::process::id()));
        std::fs::write(&tmp, data).map_err(io(key))?;
        std::fs::rename(&tmp, &p).map_err(io(key))
    }

    async fn create_new(&self, key: &str, data: &[u8]) -> Result<bool, StoreError> {
        use std::io::Write;
        let p = self.path(key)?;
        ensure_parent(&p).map_err(io(key))?;
        // Write the content aside, then hard-link it into place: the link is the O_EXCL step, and
        // a reader never sees a half-written lock.
        let tmp = p.with_extension(format!("new.{}.{}", std::process::id(), nanos()));
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(io(key))?;
        f.write_all(data).and_then(|_| f.sync_all()).map_err(io(key))?;
        let linked = std::fs::hard_link(&tmp, &p);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io(key)(e)),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match std::fs::read(self.path(key)?) {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(key)(e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match std::fs::remove_file(self.path(key)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(key)(e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        // Only the folder the prefix names is walked (its part up to the last `/`), not the whole
        // store: `status` lists each node's day, and a store holds a day of every node's samples.
        let start = match prefix.rfind('/') {
            Some(i) => match self.path(&prefix[..i]) {
                Ok(p) => p,
                Err(_) => self.root.clone(), // an odd prefix: the whole walk, filtered below
            },
            None => self.root.clone(),
        };
        let mut stack = vec![start];
        while let Some(dir) = stack.pop() {
            let rd = match std::fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(prefix)(e)),
            };
            for entry in rd.flatten() {
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(rel) = p.strip_prefix(&self.root) {
                    let key = rel.to_string_lossy().replace('\\', "/");
                    if key.starts_with(prefix) && !key.contains(".tmp.") && !key.contains(".new.") {
                        out.push(key);
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn describe(&self) -> String {
        format!("local folder `{}`", self.root.display())
    }
    fn local_path(&self, key: &str) -> Option<PathBuf> {
        self.path(key).ok()
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_store_roundtrip_and_exclusive_create() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStore::new(dir.path().to_path_buf());
        assert!(s.create_new("locks/c", b"one").await.unwrap());
        assert!(!s.create_new("locks/c", b"two").await.unwrap());
        assert_eq!(s.get("locks/c").await.unwrap().unwrap(), b"one");
        s.put("audit/x=1/a.json", b"{}").await.unwrap();
        assert_eq!(s.list("audit/").await.unwrap(), vec!["audit/x=1/a.json".to_string()]);
        s.delete("locks/c").await.unwrap();
        assert!(s.get("locks/c").await.unwrap().is_none());
        assert!(s.put("../escape", b"").await.is_err());
    }

    /// A prefix lists exactly the keys that start with it, whether it ends at a folder or in the
    /// middle of a name, however deep; other folders are not walked (`list` starts at the
    /// prefix's folder), and a prefix that names no folder lists nothing.
    #[tokio::test]
    async fn local_list_matches_prefixes_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStore::new(dir.path().to_path_buf());
        let keys = [
            "telemetry/cluster=a/node=n1/date=2026-12-03/000100.json",
            "telemetry/cluster=a/node=n1/date=2026-12-03/000200.json",
            "telemetry/cluster=a/node=n10/date=2026-12-03/000100.json",
            "telemetry/cluster=a/node=n2/date=2026-12-02/235900.json",
            "telemetry/cluster=ab/node=n1/date=2026-12-03/000100.json",
            "events/cluster=a/date=2026-12-03/x.json",
        ];
        for k in keys {
            s.put(k, b"{}").await.unwrap();
        }
        let want = |p: &str| -> Vec<String> {
            let mut v: Vec<String> = keys.iter().filter(|k| k.starts_with(p)).map(|k| k.to_string()).collect();
            v.sort();
            v
        };
        for p in [
            "",
            "telemetry/",
            "telemetry/cluster=a/",
            "telemetry/cluster=a",
            "telemetry/cluster=a/node=n1",
            "telemetry/cluster=a/node=n1/",
            "telemetry/cluster=a/node=n1/date=2026-12-03/0001",
            "events/cluster=a/date=2026-12-03/",
            "nothing/here/",
        ] {
            assert_eq!(s.list(p).await.unwrap(), want(p), "prefix `{p}`");
        }
        // The walk starts in the prefix's folder: a folder elsewhere that cannot be read is not
        // touched (a file where a folder would be is simply not a folder).
        std::fs::write(dir.path().join("reports"), b"not a folder").unwrap();
        assert_eq!(s.list("telemetry/cluster=a/node=n2/").await.unwrap(), want("telemetry/cluster=a/node=n2/"));
    }
}
