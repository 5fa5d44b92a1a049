//! Client connections as a resource: how many are open (and the cap), why some were refused or
//! closed early, the accept loop's back-off when the process runs out of descriptors, the
//! open-file limit, and giving a flood's memory back to the system once it is over.
//!
//! Out of descriptors, `accept` fails at once and keeps failing while the connection waits in
//! the backlog: retrying immediately spins a core and floods the log. Go's `net/http` sleeps 5 ms
//! doubling to 1 s between such failures; the router does the same and logs once per burst.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Router-wide connection counters (all serving threads), exported in `/metrics`.
#[derive(Debug, Default)]
pub struct ConnStats {
    pub open: AtomicUsize,
    /// Highest `open` since memory was last given back.
    peak: AtomicUsize,
    pub accepted: AtomicU64,
    /// Closed at once because `max_connections` (or the descriptor budget) was reached.
    pub refused: AtomicU64,
    /// `accept` failures (out of descriptors or buffers).
    pub accept_errors: AtomicU64,
    /// Closed because the request head did not arrive within `header_timeout_ms`.
    pub slow_heads: AtomicU64,
    /// Closed because the body came slower than `body_min_rate`.
    pub slow_bodies: AtomicU64,
    /// Closed because the client stopped reading its answer for `send_timeout_ms`.
    pub slow_reads: AtomicU64,
    /// The most connections the open-file limit leaves room for (`usize::MAX`: not known).
    pub fd_budget: AtomicUsize,
}

impl ConnStats {
    pub fn new() -> ConnStats {
        ConnStats { fd_budget: AtomicUsize::new(usize::MAX), ..Default::default() }
    }

    /// Counts a new connection in, unless `cap` (or the descriptor budget) is reached.
    pub fn admit(self: &std::sync::Arc<Self>, cap: usize) -> Option<ConnGuard> {
        let cap = cap.min(self.fd_budget.load(Ordering::Relaxed));
        self.accepted.fetch_add(1, Ordering::Relaxed);
        if self.open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < cap).then_some(n + 1)).is_err() {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        self.peak.fetch_max(self.open.load(Ordering::Relaxed), Ordering::Relaxed);
        Some(ConnGuard(self.clone()))
    }

    /// Sets the descriptor budget from the open-file limit `nofile`: a quarter of it (at most
    /// 256) is kept for upstream connections, files and the admin API.
    pub fn set_fd_limit(&self, nofile: u64) {
        let nofile = usize::try_from(nofile).unwrap_or(usize::MAX);
        self.fd_budget.store(nofile - (nofile / 4).min(256), Ordering::Relaxed);
    }
}

/// One open client connection; counted out when dropped.
pub struct ConnGuard(std::sync::Arc<ConnStats>);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let s = &self.0;
        let now = s.open.fetch_sub(1, Ordering::AcqRel) - 1;
        // A flood is over (open fell to a quarter of a peak of a hundred or more): give the memory its
        // connections held back to the system, once per flood.
        let peak = s.peak.load(Ordering::Relaxed);
        if peak >= 128
            && now <= peak / 4
            && s.peak.compare_exchange(peak, now, Ordering::AcqRel, Ordering::Relaxed).is_ok()
        {
            release_memory();
        }
    }
}

/// Returns freed heap memory to the system (glibc keeps it in its arenas otherwise).
pub fn release_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Whether an `accept` error means the process (or system) is out of a resource, so retrying at
/// once would fail again: EMFILE, ENFILE, ENOBUFS, ENOMEM.
pub fn is_resource_error(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
}

/// The accept loop's back-off: 5 ms doubling to 1 s while errors last; one log line when a burst
/// starts and one when it ends (with the count).
#[derive(Debug, Default)]
pub struct AcceptBackoff {
    delay: Option<Duration>,
    errors: u64,
    since: Option<std::time::Instant>,
}

impl AcceptBackoff {
    /// A failed accept: how long to wait before the next one.
    pub fn failed(&mut self, e: &std::io::Error, what: &str) -> Duration {
        self.errors += 1;
        let d = match self.delay {
            None => {
                tracing::warn!("{what}: {e}; pausing accepts (5 ms doubling to 1 s) until it clears");
                self.since = Some(std::time::Instant::now());
                Duration::from_millis(5)
            }
            Some(d) => (d * 2).min(Duration::from_secs(1)),
        };
        self.delay = Some(d);
        d
    }

    /// A successful accept: ends a burst (logged with its count).
    pub fn succeeded(&mut self, what: &str) {
        if self.delay.take().is_some() {
            let secs = self.since.take().map_or(0.0, |s| s.elapsed().as_secs_f64());
            tracing::warn!("{what}: accepting again after {} failed accepts over {secs:.1} s", self.errors);
            self.errors = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_second_and_resets() {
        let mut b = AcceptBackoff::default();
        let e = std::io::Error::from_raw_os_error(libc::EMFILE);
        assert!(is_resource_error(&e));
        assert!(!is_resource_error(&std::io::Error::from_raw_os_error(libc::ECONNABORTED)));
        let waits: Vec<u128> = (0..10).map(|_| b.failed(&e, "accept").as_millis()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        b.succeeded("accept");
        assert_eq!(b.failed(&e, "accept").as_millis(), 5);
    }

    #[test]
    fn cap_and_descriptor_budget() {
        let s = std::sync::Arc::new(ConnStats::new());
        let a = s.admit(2).unwrap();
        let _b = s.admit(2).unwrap();
        assert!(s.admit(2).is_none());
        assert_eq!(s.refused.load(Ordering::Relaxed), 1);
        drop(a);
        let _c = s.admit(2).unwrap();
        s.set_fd_limit(256);
        assert_eq!(s.fd_budget.load(Ordering::Relaxed), 192);
        s.set_fd_limit(1 << 20);
        assert_eq!(s.fd_budget.load(Ordering::Relaxed), (1 << 20) - 256);
    }
}
