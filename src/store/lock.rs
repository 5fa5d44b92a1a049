//! The cluster lock: one mutating run per cluster at a time, whoever and wherever the operator is.
//!
//! The lock is a store object `locks/<slug>` created with [`Store::create_new`]; it records who,
//! where, when, which command and why (`--message`). A second operator is told all of that and
//! either waits (`--lock-wait`) or stops with exit code 4. A lock left by a garnet process that no
//! longer runs on this same host is stale and taken over with a warning.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockInfo {
    pub user: String,
    pub host: String,
    pub pid: u32,
    pub command: String,
    pub message: Option<String>,
    pub acquired_at: String,
    pub run_id: String,
}

impl LockInfo {
    pub fn describe(&self) -> String {
        let msg = self.message.as_deref().map(|m| format!(": \"{m}\"")).unwrap_or_default();
        format!(
            "{}@{} (pid {}) since {}, running `{}`{msg}",
            self.user, self.host, self.pid, self.acquired_at, self.command
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the cluster lock is held by {}", .0.describe())]
    Held(Box<LockInfo>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the lock object `{key}` is unreadable: {error}")]
    Corrupt { key: String, error: String },
}

pub fn key(slug: &str) -> String {
    super::keys::lock(slug)
}

/// A held lock; call [`LockGuard::release`] when done.
pub struct LockGuard {
    key: String,
    info: LockInfo,
}

impl LockGuard {
    /// Removes the lock if it is still ours.
    pub async fn release(self, store: &dyn Store) -> Result<(), StoreError> {
        if let Ok(Some(current)) = read(store, &self.key).await
            && current.run_id == self.info.run_id
        {
            store.delete(&self.key).await?;
        }
        Ok(())
    }
}

pub async fn read(store: &dyn Store, key: &str) -> Result<Option<LockInfo>, LockError> {
    match store.get(key).await? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| LockError::Corrupt { key: key.into(), error: e.to_string() }),
    }
}

fn pid_alive(pid: u32) -> bool {
    // Signal 0 checks existence; EPERM means it exists but is someone else's.
    let r = unsafe { libc::kill(pid as i32, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Takes the lock, waiting up to `wait` for the current holder; `on_wait` is told once who holds it.
pub async fn acquire(
    store: &dyn Store,
    slug: &str,
    info: LockInfo,
    wait: Option<Duration>,
    mut on_event: impl FnMut(LockEvent<'_>),
) -> Result<LockGuard, LockError> {
    let key = key(slug);
    let body = serde_json::to_vec_pretty(&info).expect("lock info serializes");
    let deadline = wait.map(|w| Instant::now() + w);
    let mut told = false;
    loop {
        if store.create_new(&key, &body).await? {
            return Ok(LockGuard { key, info });
        }
        let holder = match read(store, &key).await {
            Ok(Some(h)) => h,
            Ok(None) => continue, // released in between
            Err(e) => return Err(e),
        };
        if holder.host == info.host && !pid_alive(holder.pid) {
            on_event(LockEvent::Stale(&holder));
            store.delete(&key).await?;
            continue;
        }
        match deadline {
            Some(d) if Instant::now() < d => {
                if !told {
                    on_event(LockEvent::Waiting(&holder));
                    told = true;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            _ => return Err(LockError::Held(Box::new(holder))),
        }
    }
}

pub enum LockEvent<'a> {
    Waiting(&'a LockInfo),
    Stale(&'a LockInfo),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalStore;

    fn info(run: &str, pid: u32) -> LockInfo {
        LockInfo {
            user: "ana".into(),
            host: "laptop-a".into(),
            pid,
            command: "exec -- true".into(),
            message: Some("maintenance".into()),
            acquired_at: "now".into(),
            run_id: run.into(),
        }
    }

    #[tokio::test]
    async fn second_holder_is_refused_then_gets_it_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStore::new(dir.path().into());
        let me = std::process::id();
        let g = acquire(&s, "c", info("r1", me), None, |_| {}).await.unwrap();
        let err = acquire(&s, "c", info("r2", me), Some(Duration::from_millis(300)), |_| {}).await.err().unwrap();
        let msg = err.to_string();
        assert!(msg.contains("ana@laptop-a") && msg.contains("maintenance"), "{msg}");
        g.release(&s).await.unwrap();
        acquire(&s, "c", info("r2", me), None, |_| {}).await.unwrap();
    }

    #[tokio::test]
    async fn stale_lock_of_a_dead_process_on_this_host_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStore::new(dir.path().into());
        // A pid that cannot exist (above pid_max).
        acquire(&s, "c", info("r1", 99_999_999), None, |_| {}).await.unwrap();
        let mut stale = false;
        acquire(&s, "c", info("r2", std::process::id()), None, |e| stale |= matches!(e, LockEvent::Stale(_)))
            .await
            .unwrap();
        assert!(stale);
    }
}
