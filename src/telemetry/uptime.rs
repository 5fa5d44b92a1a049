//! Uptime and incidents for any span, per node and for the cluster, from the samples (a node is up
//! while its samples cover the time; gaps count as down) and the loader events.

use serde::Serialize;

use super::Sample;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Gap {
    pub node: String,
    pub from: String,
    pub to: String,
    pub secs: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeUptime {
    pub node: String,
    pub samples: usize,
    /// Share of the span the node's samples cover, 0..1.
    pub uptime: f64,
    pub down_secs: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Uptime {
    pub from: String,
    pub to: String,
    pub nodes: Vec<NodeUptime>,
    /// The nodes' mean uptime (each node weighs the same).
    pub cluster: f64,
    /// Stretches of at least `min_gap_secs` with no sample, per node: the incidents samples show.
    pub gaps: Vec<Gap>,
}

fn ts(s: &str) -> Option<jiff::Timestamp> {
    s.parse().ok()
}

/// Uptime of `nodes` over `[from, to]`: each sample covers its window (`at − window_secs, at]`
/// (its interval when the window is 0: the first sample after a start); gaps of at least
/// `min_gap_secs` are listed.
pub fn compute(
    samples: &[Sample],
    nodes: &[String],
    from: jiff::Timestamp,
    to: jiff::Timestamp,
    interval_secs: f64,
    min_gap_secs: f64,
) -> Uptime {
    let span = to.duration_since(from).as_secs_f64().max(1e-9);
    let mut out =
        Uptime { from: from.to_string(), to: to.to_string(), nodes: Vec::new(), cluster: 0.0, gaps: Vec::new() };
    for node in nodes {
        let windows = samples
            .iter()
            .filter(|s| &s.node == node)
            .filter_map(|s| {
                let end = ts(&s.at)?.duration_since(from).as_secs_f64();
                let w = if s.window_secs > 0 { f64::from(s.window_secs) } else { interval_secs };
                Some((end - w, end))
            })
            .collect();
        let n = node_uptime(node, windows, from, span, min_gap_secs, &mut out.gaps);
        out.nodes.push(n);
    }
    out.cluster = if out.nodes.is_empty() {
        0.0
    } else {
        out.nodes.iter().map(|n| n.uptime).sum::<f64>() / out.nodes.len() as f64
    };
    out
}

/// One node's uptime over a span of `span` seconds from `from`, given the windows its samples
/// cover as `(start, end)` seconds from `from` (any order; clipped to the span); its gaps of at
/// least `min_gap_secs` are added to `gaps`.
pub fn node_uptime(
    node: &str,
    mut windows: Vec<(f64, f64)>,
    from: jiff::Timestamp,
    span: f64,
    min_gap_secs: f64,
    gaps: &mut Vec<Gap>,
) -> NodeUptime {
    windows.retain_mut(|w| {
        *w = (w.0.max(0.0), w.1.min(span));
        w.1 > w.0
    });
    windows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut covered, mut cursor) = (0.0, 0.0f64);
    let mut gap = |a: f64, b: f64| {
        if b - a >= min_gap_secs {
            let at = |x: f64| (from + jiff::SignedDuration::from_secs_f64(x)).to_string();
            gaps.push(Gap { node: node.to_string(), from: at(a), to: at(b), secs: ((b - a) * 10.0).round() / 10.0 });
        }
    };
    for (a, b) in &windows {
        if *a > cursor {
            gap(cursor, *a);
        }
        if *b > cursor {
            covered += b - a.max(cursor);
            cursor = *b;
        }
    }
    if span > cursor {
        gap(cursor, span);
    }
    let uptime = (covered / span.max(1e-9)).clamp(0.0, 1.0);
    NodeUptime {
        node: node.to_string(),
        samples: windows.len(),
        uptime: (uptime * 100_000.0).round() / 100_000.0,
        down_secs: ((span - covered).max(0.0) * 10.0).round() / 10.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(node: &str, at: &str) -> Sample {
        serde_json::from_value(serde_json::json!({"schema_version": 2, "cluster": "c", "node": node, "at": at,
            "window_secs": 60, "memory": {}, "thermal": {}}))
        .unwrap()
    }

    #[test]
    fn gaps_count_as_down() {
        let from: jiff::Timestamp = "2026-11-30T10:00:00Z".parse().unwrap();
        let to: jiff::Timestamp = "2026-11-30T11:00:00Z".parse().unwrap();
        // n1: every minute but 10:20–10:30 (10 samples missing); n2: nothing at all.
        let samples: Vec<Sample> = (1..=60)
            .filter(|m| !(21..=30).contains(m))
            .map(|m| s("n1", &format!("2026-11-30T{}:{:02}:00Z", 10 + m / 60, m % 60)))
            .collect();
        let u = compute(&samples, &["n1".into(), "n2".into()], from, to, 60.0, 120.0);
        assert!((u.nodes[0].uptime - 50.0 / 60.0).abs() < 1e-4, "{:?}", u.nodes[0]);
        assert_eq!(u.nodes[0].down_secs, 600.0);
        assert_eq!(
            u.gaps[0],
            Gap {
                node: "n1".into(),
                from: "2026-11-30T10:20:00Z".into(),
                to: "2026-11-30T10:30:00Z".into(),
                secs: 600.0
            }
        );
        assert_eq!((u.nodes[1].uptime, u.nodes[1].down_secs), (0.0, 3600.0));
        assert_eq!(u.gaps.len(), 2, "n2's whole span is one gap");
    }
}
