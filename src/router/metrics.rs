//! `/metrics` in the Prometheus text format: per model and backend request counts by status, token
//! counters, time-to-first-token and end-to-end latency histograms, in-flight and queue depth.
//! Names follow vLLM's and GPUStack's in spirit (`..._prompt_tokens_total`, `..._time_to_first_token_seconds`)
//! so existing dashboards need little change.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::table::Table;

/// Upper bounds (seconds) of the latency buckets.
pub const BUCKETS: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| s <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// Per-bucket counts (not cumulative; the last one is above the highest bound), the count
    /// and the sum in seconds: what the admin API hands the monitor, which diffs two snapshots.
    pub fn snapshot(&self) -> serde_json::Value {
        let mut counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let count = self.count.load(Ordering::Relaxed);
        counts.push(count.saturating_sub(counts.iter().sum::<u64>()));
        serde_json::json!({
            "bounds": BUCKETS, "counts": counts, "count": count,
            "sum_secs": self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
        })
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cum = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cum += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {cum}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
}

/// Final statuses counted per model (others are counted as `other`).
pub const CODES: [u16; 11] = [200, 400, 401, 404, 413, 429, 500, 502, 503, 504, 0];

#[derive(Debug, Default)]
pub struct ModelMetrics {
    pub ttft: Histogram,
    pub e2e: Histogram,
    pub statuses: [AtomicU64; CODES.len()],
    /// Streams that started (200) and then broke: an upstream failure after the first byte.
    pub broken_streams: AtomicU64,
}

impl ModelMetrics {
    /// Requests answered, whatever their status.
    pub fn requests(&self) -> u64 {
        self.statuses.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Requests that did not end in 200, and streams cut by an upstream failure.
    pub fn failures(&self) -> u64 {
        CODES
            .iter()
            .zip(&self.statuses)
            .filter(|(c, _)| **c != 200)
            .map(|(_, n)| n.load(Ordering::Relaxed))
            .sum::<u64>()
            + self.broken_streams.load(Ordering::Relaxed)
    }

    pub fn status(&self, code: u16) {
        let i = CODES.iter().position(|c| *c == code).unwrap_or(CODES.len() - 1);
        self.statuses[i].fetch_add(1, Ordering::Relaxed);
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Which histogram of a model's metrics.
type Pick = fn(&ModelMetrics) -> &Histogram;

pub fn render(t: &Table, conns: &super::conns::ConnStats) -> String {
    let mut o = String::with_capacity(4096);
    let family = |o: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    family(&mut o, "garnet_router_connections_open", "gauge", "Client connections open now.");
    let _ = writeln!(o, "garnet_router_connections_open {}", conns.open.load(Ordering::Relaxed));
    family(
        &mut o,
        "garnet_router_connections_max",
        "gauge",
        "Client connections allowed (limits and open-file limit).",
    );
    let max = t.limits.max_connections.get().min(conns.fd_budget.load(Ordering::Relaxed));
    let _ = writeln!(o, "garnet_router_connections_max {max}");
    family(&mut o, "garnet_router_connections_accepted_total", "counter", "Client connections accepted.");
    let _ = writeln!(o, "garnet_router_connections_accepted_total {}", conns.accepted.load(Ordering::Relaxed));
    family(
        &mut o,
        "garnet_router_connections_closed_total",
        "counter",
        "Client connections refused or closed by a limit: over max_connections, a head or body too slow, an answer not read.",
    );
    for (reason, v) in [
        ("over_limit", &conns.refused),
        ("slow_head", &conns.slow_heads),
        ("slow_body", &conns.slow_bodies),
        ("slow_read", &conns.slow_reads),
    ] {
        let _ =
            writeln!(o, "garnet_router_connections_closed_total{{reason=\"{reason}\"}} {}", v.load(Ordering::Relaxed));
    }
    family(&mut o, "garnet_router_accept_errors_total", "counter", "Failed accepts (out of descriptors or buffers).");
    let _ = writeln!(o, "garnet_router_accept_errors_total {}", conns.accept_errors.load(Ordering::Relaxed));
    family(
        &mut o,
        "garnet_router_requests_total",
        "counter",
        "Requests answered, by model and final HTTP status (code 0: other).",
    );
    for m in &t.order {
        let r = &t.routes[m];
        for (i, c) in CODES.iter().enumerate() {
            let n = r.metrics.statuses[i].load(Ordering::Relaxed);
            let _ = writeln!(o, "garnet_router_requests_total{{model=\"{}\",code=\"{c}\"}} {n}", esc(m));
        }
    }
    let per_backend: [(&str, &str, &str); 6] = [
        ("garnet_router_backend_requests_total", "counter", "Requests sent to a backend."),
        (
            "garnet_router_backend_failures_total",
            "counter",
            "Requests a backend failed (connect, 5xx, no or broken answer).",
        ),
        (
            "garnet_router_backend_rejected_total",
            "counter",
            "Requests a backend refused as invalid (4xx): the client's error.",
        ),
        ("garnet_router_prompt_tokens_total", "counter", "Prompt tokens, as the loader reported them."),
        ("garnet_router_generation_tokens_total", "counter", "Completion tokens, as the loader reported them."),
        ("garnet_router_cached_prompt_tokens_total", "counter", "Prompt tokens served from the loader's prompt cache."),
    ];
    for (name, kind, help) in per_backend {
        family(&mut o, name, kind, help);
        for m in &t.order {
            for b in &t.routes[m].backends {
                let c = &b.counters;
                let v = match name {
                    "garnet_router_backend_requests_total" => &c.requests,
                    "garnet_router_backend_failures_total" => &c.failures,
                    "garnet_router_backend_rejected_total" => &c.rejected,
                    "garnet_router_prompt_tokens_total" => &c.prompt_tokens,
                    "garnet_router_generation_tokens_total" => &c.completion_tokens,
                    _ => &c.cached_tokens,
                };
                let _ = writeln!(
                    o,
                    "{name}{{model=\"{}\",backend=\"{}\"}} {}",
                    esc(m),
                    esc(&b.id),
                    v.load(Ordering::Relaxed)
                );
            }
        }
    }
    family(&mut o, "garnet_router_requests_in_flight", "gauge", "Requests a backend is working on now.");
    for m in &t.order {
        for b in &t.routes[m].backends {
            let _ = writeln!(
                o,
                "garnet_router_requests_in_flight{{model=\"{}\",backend=\"{}\"}} {}",
                esc(m),
                esc(&b.id),
                b.in_flight.load(Ordering::Relaxed)
            );
        }
    }
    family(&mut o, "garnet_router_backend_draining", "gauge", "1 while a backend is draining.");
    for m in &t.order {
        for b in &t.routes[m].backends {
            let _ = writeln!(
                o,
                "garnet_router_backend_draining{{model=\"{}\",backend=\"{}\"}} {}",
                esc(m),
                esc(&b.id),
                u8::from(b.draining.load(Ordering::Relaxed))
            );
        }
    }
    family(&mut o, "garnet_router_queue_depth", "gauge", "Requests waiting for a free backend slot.");
    for m in &t.order {
        let _ = writeln!(
            o,
            "garnet_router_queue_depth{{model=\"{}\"}} {}",
            esc(m),
            t.routes[m].queue.waiting.load(Ordering::Relaxed)
        );
    }
    family(
        &mut o,
        "garnet_router_backend_requests_ended_total",
        "counter",
        "Requests by how they ended on a backend, each once: ok, failed (the backend's fault), cut (a stream broken), client_gone, rejected (the request's fault).",
    );
    for m in &t.order {
        for b in &t.routes[m].backends {
            let c = &b.counters;
            for (outcome, v) in [
                ("ok", &c.ok),
                ("failed", &c.failed),
                ("cut", &c.cut),
                ("client_gone", &c.client_gone),
                ("rejected", &c.rejected),
            ] {
                let _ = writeln!(
                    o,
                    "garnet_router_backend_requests_ended_total{{model=\"{}\",backend=\"{}\",outcome=\"{outcome}\"}} {}",
                    esc(m),
                    esc(&b.id),
                    v.load(Ordering::Relaxed)
                );
            }
        }
    }
    family(
        &mut o,
        "garnet_router_backend_busy_seconds_total",
        "counter",
        "Time a backend had at least one request in flight.",
    );
    for m in &t.order {
        for b in &t.routes[m].backends {
            let _ = writeln!(
                o,
                "garnet_router_backend_busy_seconds_total{{model=\"{}\",backend=\"{}\"}} {}",
                esc(m),
                esc(&b.id),
                b.busy_secs()
            );
        }
    }
    family(
        &mut o,
        "garnet_router_backend_e2e_seconds",
        "summary",
        "End-to-end latency per backend since the router started, from its sketch (1% relative error); merge sketches, not these quantiles, across backends or routers.",
    );
    for m in &t.order {
        for b in &t.routes[m].backends {
            let sk = b.counters.e2e.snapshot();
            let labels = format!("model=\"{}\",backend=\"{}\"", esc(m), esc(&b.id));
            for q in [0.5, 0.95, 0.99] {
                if let Some(v) = sk.quantile(q) {
                    let _ = writeln!(o, "garnet_router_backend_e2e_seconds{{{labels},quantile=\"{q}\"}} {v}");
                }
            }
            let _ = writeln!(o, "garnet_router_backend_e2e_seconds_sum{{{labels}}} {}", sk.sum);
            let _ = writeln!(o, "garnet_router_backend_e2e_seconds_count{{{labels}}} {}", sk.count);
        }
    }
    let affinity = t.order.iter().any(|m| t.routes[m].routing == super::table::Routing::PrefixAffinity);
    if affinity {
        family(
            &mut o,
            "garnet_router_affinity_total",
            "counter",
            "Prefix-affinity placements (models routed by prefix-affinity): hit (the replica holding the longest live prefix), miss (none known), sooner (its replica was within the bound but another would answer sooner: the prefills queued there outweighed the cached part), overloaded (its replica was over the bounded load or full).",
        );
    }
    for m in &t.order {
        let r = &t.routes[m];
        if r.routing != super::table::Routing::PrefixAffinity {
            continue;
        }
        for (outcome, v) in [
            ("hit", &r.affinity.hits),
            ("miss", &r.affinity.misses),
            ("sooner", &r.affinity.sooner),
            ("overloaded", &r.affinity.overloaded),
        ] {
            let _ = writeln!(
                o,
                "garnet_router_affinity_total{{model=\"{}\",outcome=\"{outcome}\"}} {}",
                esc(m),
                v.load(Ordering::Relaxed)
            );
        }
    }
    let histograms: [(&str, &str, Pick); 2] = [
        ("garnet_router_time_to_first_token_seconds", "Time from request to the first byte of the answer.", |m| {
            &m.ttft
        }),
        ("garnet_router_e2e_request_latency_seconds", "Time from request to the end of the answer.", |m| &m.e2e),
    ];
    for (name, help, pick) in histograms {
        family(&mut o, name, "histogram", help);
        for m in &t.order {
            pick(&t.routes[m].metrics).render(&mut o, name, &format!("model=\"{}\"", esc(m)));
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let h = Histogram::default();
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_millis(300));
        h.observe(Duration::from_secs(500));
        let mut s = String::new();
        h.render(&mut s, "x", "model=\"m\"");
        assert!(s.contains("x_bucket{model=\"m\",le=\"0.005\"} 1\n"), "{s}");
        assert!(s.contains("x_bucket{model=\"m\",le=\"0.5\"} 2\n"), "{s}");
        assert!(s.contains("x_bucket{model=\"m\",le=\"120\"} 2\n"), "{s}");
        assert!(s.contains("x_bucket{model=\"m\",le=\"+Inf\"} 3\n"), "{s}");
        assert!(s.contains("x_count{model=\"m\"} 3\n"), "{s}");
    }
}
