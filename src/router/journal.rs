//! What the router has counted survives the router (`garnet router --state-dir DIR`; deploy
//! sets it): a snapshot of every backend's counters and sketches (`state.json`, every 2 s and at
//! shutdown) and, between snapshots, a journal of each request's start (when it is dispatched to
//! a backend) and end (with what its end counted). A restarted router loads the snapshot, replays
//! the journal, and counts every request that started and never ended — the ones its crash broke
//! — as `failed` on its backend. So a `kill -9` loses no count: the monitor, diffing cumulative
//! counters, sees them continue.
//!
//! Counting an end and journaling it happen under one lock with the snapshot, so each end is in
//! exactly one of the two. Requests still waiting for a slot when the router died were not yet
//! dispatched: their clients see the connection break, and nothing counts them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::table::{Backend, Table};
use crate::telemetry::sketch::Sketch;

/// One backend's counters as saved.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Saved {
    pub requests: u64,
    pub failures: u64,
    pub rejected: u64,
    pub ok: u64,
    pub failed: u64,
    pub cut: u64,
    pub client_gone: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
    pub busy_nanos: u64,
    pub e2e: Sketch,
    pub ttft: Sketch,
    pub itl: Sketch,
    pub queue_wait: Sketch,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    backends: HashMap<String, Saved>,
    /// Requests dispatched and not ended when the snapshot was taken: sequence → backend id.
    open: HashMap<u64, String>,
}

/// A journal line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Line<'a> {
    Start { s: u64, b: Cow<'a, str> },
    End(End<'a>),
}

/// What a request's end counted (borrowed on the live path: nothing is allocated per request
/// unless it is journaled).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct End<'a> {
    pub e: u64,
    pub b: Cow<'a, str>,
    /// `ok`, `failed`, `cut`, `client_gone`, `rejected`, `retried`.
    pub o: Cow<'a, str>,
    /// End to end, seconds, when the end observed it (ok and cut).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l: Option<f64>,
    pub p: u64,
    pub c: u64,
    pub k: u64,
}

struct Inner {
    file: File,
    open: HashMap<u64, String>,
}

pub struct Journal {
    dir: PathBuf,
    inner: Mutex<Inner>,
    seq: AtomicU64,
}

/// Adds an end's counts to a backend (the live path and the replay use this one function).
pub fn count_end(b: &Backend, e: &End) {
    let c = &b.counters;
    let n = match e.o.as_ref() {
        "ok" => &c.ok,
        "failed" => &c.failed,
        "cut" => &c.cut,
        "rejected" => &c.rejected,
        "client_gone" => &c.client_gone,
        _ => return, // an attempt retried elsewhere: the request ends there
    };
    n.fetch_add(1, Ordering::Relaxed);
    c.prompt_tokens.fetch_add(e.p, Ordering::Relaxed);
    c.completion_tokens.fetch_add(e.c, Ordering::Relaxed);
    c.cached_tokens.fetch_add(e.k, Ordering::Relaxed);
    if let Some(l) = e.l {
        c.e2e.observe(std::time::Duration::from_secs_f64(l));
    }
}

fn save(b: &Backend) -> Saved {
    let c = &b.counters;
    let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
    Saved {
        requests: l(&c.requests),
        failures: l(&c.failures),
        rejected: l(&c.rejected),
        ok: l(&c.ok),
        failed: l(&c.failed),
        cut: l(&c.cut),
        client_gone: l(&c.client_gone),
        prompt_tokens: l(&c.prompt_tokens),
        completion_tokens: l(&c.completion_tokens),
        cached_tokens: l(&c.cached_tokens),
        busy_nanos: (b.busy_secs() * 1e9) as u64,
        e2e: c.e2e.snapshot(),
        ttft: c.ttft.snapshot(),
        itl: c.itl.snapshot(),
        queue_wait: c.queue_wait.snapshot(),
    }
}

fn restore(b: &Backend, s: &Saved) {
    let c = &b.counters;
    let add = |a: &AtomicU64, v: u64| {
        a.fetch_add(v, Ordering::Relaxed);
    };
    add(&c.requests, s.requests);
    add(&c.failures, s.failures);
    add(&c.rejected, s.rejected);
    add(&c.ok, s.ok);
    add(&c.failed, s.failed);
    add(&c.cut, s.cut);
    add(&c.client_gone, s.client_gone);
    add(&c.prompt_tokens, s.prompt_tokens);
    add(&c.completion_tokens, s.completion_tokens);
    add(&c.cached_tokens, s.cached_tokens);
    add(&c.busy_nanos, s.busy_nanos);
    c.e2e.add(&s.e2e);
    c.ttft.add(&s.ttft);
    c.itl.add(&s.itl);
    c.queue_wait.add(&s.queue_wait);
}

impl Journal {
    /// Opens `dir`, restores what a previous router counted into `table`'s backends (by id) and
    /// counts the requests it left unfinished as failed; returns the journal and how many
    /// requests were found broken.
    pub fn open(dir: &Path, table: &Table) -> std::io::Result<(Journal, u64)> {
        std::fs::create_dir_all(dir)?;
        let state_path = dir.join("state.json");
        let mut state: State = match std::fs::read(&state_path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, format!("`{}`: {e}", state_path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(e),
        };
        for (id, saved) in &state.backends {
            match table.backend(id) {
                Some(b) => restore(b, saved),
                None => {
                    tracing::warn!("router state: backend `{id}` is no longer in the routes; its counts are dropped")
                }
            }
        }
        let journal_path = dir.join("journal");
        let text = std::fs::read_to_string(&journal_path).unwrap_or_default();
        for l in text.lines() {
            // A line cut by the crash is the request's start or end that did not happen.
            match serde_json::from_str::<Line>(l) {
                Ok(Line::Start { s, b }) => {
                    if let Some(be) = table.backend(&b) {
                        be.counters.requests.fetch_add(1, Ordering::Relaxed);
                    }
                    state.open.insert(s, b.into_owned());
                }
                Ok(Line::End(e)) => {
                    state.open.remove(&e.e);
                    if let Some(b) = table.backend(&e.b) {
                        count_end(b, &e);
                    }
                }
                Err(_) => {}
            }
        }
        let broken = state.open.len() as u64;
        for id in state.open.values() {
            if let Some(b) = table.backend(id) {
                b.counters.failed.fetch_add(1, Ordering::Relaxed);
                b.counters.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(&journal_path)?;
        let j = Journal {
            dir: dir.to_path_buf(),
            inner: Mutex::new(Inner { file, open: HashMap::new() }),
            seq: AtomicU64::new(0),
        };
        j.snapshot(table)?;
        Ok((j, broken))
    }

    /// A request was dispatched to backend `id`: its sequence number.
    pub fn start(&self, id: &str) -> u64 {
        let s = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut line = serde_json::to_vec(&Line::Start { s, b: Cow::Borrowed(id) }).expect("serializes");
        line.push(b'\n');
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let _ = g.file.write_all(&line);
        g.open.insert(s, id.to_string());
        s
    }

    /// A request ended: counts it on `b` and journals it, together.
    pub fn end(&self, b: &Backend, e: End<'_>) {
        let mut line = serde_json::to_vec(&Line::End(e.clone())).expect("serializes");
        line.push(b'\n');
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        count_end(b, &e);
        let _ = g.file.write_all(&line);
        g.open.remove(&e.e);
    }

    /// Saves every backend's counters and the open requests, then empties the journal (one lock
    /// with `start`/`end`: nothing is in both, nothing in neither).
    pub fn snapshot(&self, table: &Table) -> std::io::Result<()> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut backends = HashMap::new();
        for r in table.routes.values() {
            for b in &r.backends {
                backends.insert(b.id.clone(), save(b));
            }
        }
        let state = State { backends, open: g.open.clone() };
        let tmp = self.dir.join("state.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&state).expect("serializes"))?;
        std::fs::rename(&tmp, self.dir.join("state.json"))?;
        g.file.set_len(0)?;
        Ok(())
    }
}
