//! Prefix-affinity routing: send a request to the replica that most likely holds its prompt's
//! prefix in its prompt cache (`mlx_lm.server` keeps an LRU of recent prompts, 10 by default,
//! and reuses the longest shared prefix).
//!
//! A request's prompt (the raw text of `messages`, or `prompt`) is cut into [`CHUNK`]-byte chunks
//! and each full chunk's hash is chained with the one before it, so chunk `k`'s hash names the
//! whole prefix up to it. The index maps a prefix hash to the replicas that last served it and
//! each one's request count at the time; an entry is live while the replica has served fewer
//! than its cache's entries since (each request takes one LRU slot there, so older prefixes are
//! likely evicted). [`Affinity::matches`] gives each replica's longest live prefix, hence the
//! bytes of the prompt it would still prefill; the route (`table::Route::pick_for`) adds each
//! replica's queued prefill and, among the replicas within the bounded load ([`within_bound`]:
//! at most [`LOAD_FACTOR`] × the mean in flight, rounded up, counting this request, or at most
//! [`LOAD_SLACK`] above the mean), takes the one with the fewest bytes to prefill. Approximate by
//! design: a wrong guess costs a cache miss, never a wrong answer.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes per prefix chunk (about 60 tokens of chat JSON).
pub const CHUNK: usize = 256;
/// Longest prefix indexed, in chunks (128 KiB of prompt).
pub const MAX_CHUNKS: usize = 512;
/// A replica may take an affinity request while its in-flight count, this one included, stays
/// within this factor of the mean (rounded up)…
pub const LOAD_FACTOR: f64 = 1.25;
/// …or within this many requests above the mean: at a few requests in flight, 1.25x
/// is less than one request, and passing a conversation's replica over for one request's
/// difference costs a whole uncached prefill (SGLang's cache-aware router and Ray Serve's prefix
/// router also judge imbalance in absolute terms before leaving the cache).
pub const LOAD_SLACK: usize = 2;
/// Prefix hashes kept per model (oldest forgotten first).
pub const CAPACITY: usize = 1 << 16;
/// Replicas remembered per prefix.
pub const HOLDERS: usize = 4;

/// The chained hashes of a prompt's full chunks, shortest prefix first.
pub fn chain(prompt: &[u8]) -> Vec<u64> {
    // A fixed seed: the same prompt hashes the same in every router thread and run.
    let state = std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default();
    let mut out = Vec::new();
    let mut prev = 0u64;
    for chunk in prompt.chunks_exact(CHUNK).take(MAX_CHUNKS) {
        let mut h = state.build_hasher();
        h.write_u64(prev);
        h.write(chunk);
        prev = h.finish();
        out.push(prev);
    }
    out
}

/// What prefix affinity knows of a request's prompt: its chain and its length in bytes.
#[derive(Debug, Default, Clone)]
pub struct Prompt {
    pub chain: Vec<u64>,
    pub len: usize,
}

impl Prompt {
    pub fn of(prompt: &[u8]) -> Prompt {
        Prompt { chain: chain(prompt), len: prompt.len() }
    }
}

/// How an affinity request was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// To the replica holding its longest live prefix.
    Hit,
    /// No live prefix known (a new conversation, or evicted since).
    Miss,
    /// Its replica was over the bounded load (or full, or draining): placed elsewhere.
    Overloaded,
    /// Its replica was within the bound, but another one would give the first token sooner: the
    /// prefills queued there outweighed the cached part of the prompt.
    Sooner,
}

#[derive(Debug, Default)]
struct Index {
    /// Prefix hash → (replica id, that replica's served count when it last served the prefix).
    /// (A shared prefix, a system prompt say, is held by several replicas: up to [`HOLDERS`].)
    entries: HashMap<u64, Vec<(std::sync::Arc<str>, u64)>>,
    /// Insertion order, for forgetting the oldest past [`CAPACITY`].
    order: VecDeque<u64>,
    /// Replica id → requests placed on it (affinity or not).
    served: HashMap<std::sync::Arc<str>, u64>,
}

/// One model's prefix index and its counters (kept across route table replacements).
#[derive(Debug, Default)]
pub struct Affinity {
    index: Mutex<Index>,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub overloaded: AtomicU64,
    pub sooner: AtomicU64,
}

impl Affinity {
    /// Per replica, the longest live prefix of `chain` it holds, in chunks, longest first
    /// (replicas holding none are left out; the walk stops once `replicas` are found).
    pub fn matches(&self, chain: &[u64], entries: usize, replicas: usize) -> Vec<(String, usize)> {
        let ix = self.index.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<(String, usize)> = Vec::new();
        for (depth, h) in chain.iter().enumerate().rev() {
            let Some(holders) = ix.entries.get(h) else { continue };
            for (id, at) in holders {
                let live = ix.served.get(id).copied().unwrap_or(0).saturating_sub(*at) < entries as u64;
                if live && !out.iter().any(|(o, _)| **o == **id) {
                    out.push((id.to_string(), depth + 1));
                }
            }
            if out.len() >= replicas {
                break;
            }
        }
        out
    }

    /// Records that `id` served a request with this chain: its prefixes point there now.
    pub fn record(&self, chain: &[u64], id: &str) {
        let mut ix = self.index.lock().unwrap_or_else(|e| e.into_inner());
        // One shared copy of the id for all its entries.
        let key: std::sync::Arc<str> = match ix.served.get_key_value(id) {
            Some((k, _)) => k.clone(),
            None => id.into(),
        };
        let n = {
            let c = ix.served.entry(key.clone()).or_default();
            *c += 1;
            *c
        };
        for h in chain {
            let fresh = !ix.entries.contains_key(h);
            let holders = ix.entries.entry(*h).or_default();
            holders.retain(|(id, _)| **id != *key);
            if holders.len() >= HOLDERS {
                // The one that served it longest ago (by its own count) goes.
                holders.remove(0);
            }
            holders.push((key.clone(), n));
            if fresh {
                ix.order.push_back(*h);
            }
        }
        while ix.order.len() > CAPACITY {
            if let Some(old) = ix.order.pop_front() {
                ix.entries.remove(&old);
            }
        }
    }

    pub fn count(&self, o: Outcome) {
        let c = match o {
            Outcome::Hit => &self.hits,
            Outcome::Miss => &self.misses,
            Outcome::Overloaded => &self.overloaded,
            Outcome::Sooner => &self.sooner,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// Whether a replica with `in_flight` may take one more when `total` are in flight over `n`
/// eligible replicas: with `mean = (total + 1) / n`,
/// `in_flight + 1 <= max(ceil(LOAD_FACTOR × mean), mean + LOAD_SLACK)`.
pub fn within_bound(in_flight: usize, total: usize, n: usize) -> bool {
    let mean = (total + 1) as f64 / n.max(1) as f64;
    let cap = (LOAD_FACTOR * mean).ceil().max(mean + LOAD_SLACK as f64);
    (in_flight + 1) as f64 <= cap
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The replicas holding the longest live prefix of `chain` (several when it is shared).
    fn lookup(a: &Affinity, chain: &[u64], entries: usize) -> Vec<String> {
        let held = a.matches(chain, entries, usize::MAX);
        let longest = held.first().map_or(0, |(_, d)| *d);
        held.into_iter().filter(|(_, d)| *d == longest).map(|(id, _)| id).collect()
    }

    #[test]
    fn a_longer_conversation_shares_the_chain_of_its_start() {
        let turn1 = format!(
            r#"[{{"role":"system","content":"{}"}},{{"role":"user","content":"{}"}}]"#,
            "s".repeat(900),
            "hi".repeat(200)
        );
        let turn2 = format!(
            r#"{},{{"role":"assistant","content":"hello"}},{{"role":"user","content":"more"}}]"#,
            &turn1[..turn1.len() - 1]
        );
        let (a, b) = (chain(turn1.as_bytes()), chain(turn2.as_bytes()));
        assert_eq!(a.len(), turn1.len() / CHUNK);
        assert!(b.len() >= a.len() && b[..a.len()] == a[..], "the shared full chunks hash alike");
        let other = chain(turn1.replace("hihi", "yoyo").as_bytes());
        assert_eq!(other[..3], a[..3], "the same system prompt");
        assert_ne!(other.last(), a.last(), "a different question");
        assert!(chain(b"short").is_empty());
    }

    #[test]
    fn entries_age_out_as_the_replica_serves_others() {
        let a = Affinity::default();
        let conv = chain(&[b'x'; 3 * CHUNK]);
        a.record(&conv, "r1");
        assert_eq!(lookup(&a, &conv, 10), ["r1"]);
        // Turn 2 extends it: found by its shared prefix.
        let mut longer = conv.clone();
        longer.extend(chain(&[b'y'; 2 * CHUNK]).iter().map(|h| h ^ 1));
        assert_eq!(lookup(&a, &longer, 10), ["r1"]);
        // Ten other prompts on r1 later, its cache likely dropped it.
        for k in 0..10u8 {
            a.record(&chain(&[k; CHUNK]), "r1");
        }
        assert!(lookup(&a, &conv, 10).is_empty());
        // Others on r2 do not age r1's entries.
        a.record(&conv, "r1");
        for k in 0..20u8 {
            a.record(&chain(&[k; CHUNK]), "r2");
        }
        assert_eq!(lookup(&a, &conv, 10), ["r1"]);
        // A prefix two replicas served (a shared system prompt): both hold it.
        a.record(&conv[..1], "r2");
        assert_eq!(lookup(&a, &conv[..1], 10), ["r1", "r2"]);
        assert_eq!(lookup(&a, &conv, 10), ["r1"], "the longer prefix only r1 has");
        // Each replica's own longest: what the pick weighs against its queued prefill.
        assert_eq!(a.matches(&conv, 10, 2), [("r1".to_string(), 3), ("r2".to_string(), 1)]);
    }

    #[test]
    fn bounded_load() {
        // Idle pair: the first request may go anywhere.
        assert!(within_bound(0, 0, 2));
        // 7 in flight over 2, this one the 8th: mean 4, the slack's cap 4 + 2 = 6 (1.25x: 5), so
        // a replica with 5 takes one more (6 against the other's 2), with 6 not.
        assert!(within_bound(5, 7, 2));
        assert!(!within_bound(6, 7, 2));
        // Nothing elsewhere: up to 4 on one replica (at the fourth the mean is 2: cap 2 + 2), not
        // a fifth (mean 2.5: cap max(ceil(3.1), 4.5)).
        assert!(within_bound(3, 3, 2));
        assert!(!within_bound(4, 4, 2));
        // At scale 1.25x rules: 80 over 2 (mean 40.5): cap ceil(50.6) = 51, not 42.5.
        assert!(within_bound(50, 80, 2));
        assert!(!within_bound(51, 80, 2));
        // Three replicas, 11 in flight, this the 12th: mean 4, cap max(5, 6) = 6.
        assert!(within_bound(5, 11, 3));
        assert!(!within_bound(6, 11, 3));
    }
}
