//! Runs the planned swaps ([`super::plan`]) phase by phase: each phase's work is a small plan run
//! by `run_phase` (the executor and events every command uses), judged here (B's health against
//! its budget, what the drain cap cut), with a failure before the flip undone by the step's own
//! undo work. The router's latency is sampled throughout for the elevated-latency window.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Deserialize;
use serde_json::{Value, json};

use super::plan::{Phase, RouterNode, SwapPlan};
use crate::ExitStatus;
use crate::commands::{Ctx, run_phase};
use crate::inventory::{Inventory, Node};
use crate::placement::record;
use crate::plan::{Plan, Report};
use crate::transport::ConnectOptions;

/// The last JSON line a step printed, as `T`.
fn step_json<T: for<'de> Deserialize<'de>>(report: &Report, node: &str, step: &str) -> Option<T> {
    let n = report.nodes.iter().find(|n| n.node.name == node)?;
    let s = n.steps.iter().find(|s| s.name == step)?;
    let out = String::from_utf8_lossy(&s.output.as_ref()?.stdout).into_owned();
    out.lines().rev().find_map(|l| serde_json::from_str(l.trim()).ok())
}

fn step_stderr(report: &Report) -> String {
    report
        .nodes
        .iter()
        .flat_map(|n| n.steps.iter())
        .filter(|s| !s.outcome.succeeded())
        .filter_map(|s| s.output.as_ref().map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What `garnet bench -o json` reports that the health check reads.
#[derive(Deserialize, Default)]
struct BenchReport {
    failed: u64,
    e2e: Option<Latency>,
}

#[derive(Deserialize)]
struct Latency {
    p99_ms: Option<f64>,
}

/// What `admin-call wait-idle` reports: what was still in flight when it stopped waiting.
#[derive(Deserialize)]
struct Idle {
    in_flight: u64,
}

/// What `admin-call apply-routes` reports about the flip.
#[derive(Deserialize)]
struct Applied {
    flip_us: Option<f64>,
}

/// One timed row of the summary.
struct Row {
    node: String,
    step: &'static str,
    took: Duration,
    note: String,
}

/// What the swaps did so far.
#[derive(Default)]
struct Progress {
    rows: Vec<Row>,
    cut: u64,
    flips: Vec<f64>,
    warmups: Vec<f64>,
}

/// The phase's work as a plan of its own.
fn phase_plan(command: &str, sp: &SwapPlan, phase: Phase) -> Plan {
    Plan {
        command: format!("{command}: {}", phase.name()),
        mutating: !matches!(phase, Phase::Healthy | Phase::Drain | Phase::Ready),
        nodes: sp.step(phase).work.clone(),
    }
}

async fn run(ctx: &Ctx, command: &str, sp: &SwapPlan, phase: Phase) -> (bool, Report) {
    let r = run_phase(ctx, &phase_plan(command, sp, phase)).await;
    (r.summary.exit_status() == ExitStatus::Success, r)
}

/// B's side of one swap: start, ready, healthy. `Err` says why B cannot take the traffic.
async fn bring_up_b(ctx: &Ctx, command: &str, sp: &SwapPlan, progress: &mut Progress) -> Result<Duration, String> {
    let node = &sp.swap.on.name;
    let started = Instant::now();
    let (ok, r) = run(ctx, command, sp, Phase::StartB).await;
    if !ok {
        return Err(format!("B did not start: {}", step_stderr(&r)));
    }
    let (ok, r) = run(ctx, command, sp, Phase::Ready).await;
    let warmup = started.elapsed();
    progress.rows.push(Row { node: node.clone(), step: "start B + ready", took: warmup, note: String::new() });
    if !ok {
        return Err(format!("B never answered: {}", step_stderr(&r)));
    }
    let t0 = Instant::now();
    let (ok, r) = run(ctx, command, sp, Phase::Healthy).await;
    let v: BenchReport = step_json(&r, node, "B healthy").unwrap_or(BenchReport { failed: 1, e2e: None });
    let p99 = v.e2e.and_then(|l| l.p99_ms);
    progress.rows.push(Row {
        node: node.clone(),
        step: "B healthy",
        took: t0.elapsed(),
        note: p99.map(|p| format!("p99 {p:.0} ms")).unwrap_or_default(),
    });
    if !ok || v.failed > 0 {
        return Err(format!("B failed {} of {} health prompts: {}", v.failed, sp.health_prompts, step_stderr(&r)));
    }
    if let (Some(p), Some(budget)) = (p99, sp.budget)
        && p > f64::from(budget)
    {
        return Err(format!("B's p99 {p:.0} ms is over the {budget} ms latency budget"));
    }
    Ok(warmup)
}

/// Every swap, node after node. A failure before a flip undoes that swap's B and stops; after a
/// flip the procedure goes on (A's traffic has moved) and says what to converge.
pub async fn swap_all(
    ctx: &Ctx,
    inv: &Inventory,
    model: &str,
    command: &str,
    swaps: &[SwapPlan],
    routers: &[RouterNode],
    store: &dyn crate::store::Store,
) -> Result<()> {
    let p = &ctx.printer;
    let first_router = &routers[0];
    let stats = |label: &str| Plan {
        command: format!("{command}: {label}"),
        mutating: false,
        nodes: vec![crate::plan::NodePlan {
            node: first_router.node.clone(),
            steps: vec![crate::plan::Step {
                name: "stats".into(),
                action: crate::plan::Action::Run {
                    command: first_router.call("get /admin/stats"),
                    timeout: Some(Duration::from_secs(30)),
                    stream: false,
                    capture: true,
                    changes: false,
                    unchanged_exit: None,
                },
            }],
        }],
    };
    let stats_now = |r: &Report| step_json::<Value>(r, &first_router.node.name, "stats").unwrap_or_default();
    let before = stats_now(&run_phase(ctx, &stats("stats before")).await);
    // The router's latency, sampled every second for the whole swap (the elevated-latency window).
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sampler = tokio::spawn(sample_router(
        first_router.node.clone(),
        first_router.call("get /admin/stats"),
        ctx.connect_options(),
        stop_rx,
    ));
    tokio::time::sleep(Duration::from_secs(2)).await; // a baseline before anything changes
    let t_all = Instant::now();
    let mut progress = Progress::default();

    for sp in swaps {
        swap_one(ctx, inv, model, command, sp, routers, store, &mut progress).await?;
    }

    let _ = stop_tx.send(true);
    let series = latency_series(&sampler.await.unwrap_or_default(), model);
    let window = elevated(&series);
    let after = stats_now(&run_phase(ctx, &stats("stats after")).await);
    let (req0, fail0) = model_totals(&before, model);
    let (req1, fail1) = model_totals(&after, model);
    let served = req1.saturating_sub(req0);
    let failures = fail1.saturating_sub(fail0);
    let rows = &progress.rows;
    if p.json {
        p.json_line(&json!({
            "event": "hot_swap", "model": model, "requests_during": served, "failed_during": failures,
            "cut_at_drain_cap": progress.cut, "flip_us": progress.flips, "b_warmup_s": progress.warmups, "latency": window,
            "duration_ms": t_all.elapsed().as_millis() as u64,
            "steps": rows.iter().map(|r| json!({"node": r.node, "step": r.step, "ms": r.took.as_millis() as u64, "note": r.note})).collect::<Vec<_>>(),
        }));
    } else {
        let mut t = p.table();
        t.set_header(vec!["node", "step", "time", "note"]);
        for r in rows {
            t.add_row(vec![r.node.clone(), r.step.to_string(), crate::util::human_duration(r.took), r.note.clone()]);
        }
        p.out(t);
        p.out(format!(
            "{command}: done in {}; the router served {served} request(s) for `{model}` meanwhile, {failures} failed",
            crate::util::human_duration(t_all.elapsed())
        ));
        if let (Some(b), Some(peak)) = (window["baseline_p95_ms"].as_f64(), window["peak_p95_ms"].as_f64()) {
            p.out(format!(
                "latency: p95 {b:.0} ms before, {peak:.0} ms at worst; elevated (over 1.5× before) for {:.0} s",
                window["elevated_secs"].as_f64().unwrap_or(0.0)
            ));
        }
    }
    Ok(())
}

/// One node's swap, phase by phase: B up (or undone, and an error), the flip, the drain, the
/// routes without A, A stopped, the record, the monitors' config.
#[allow(clippy::too_many_arguments, reason = "the run's context, passed through from `swap_all`")]
async fn swap_one(
    ctx: &Ctx,
    inv: &Inventory,
    model: &str,
    command: &str,
    sp: &SwapPlan,
    routers: &[RouterNode],
    store: &dyn crate::store::Store,
    progress: &mut Progress,
) -> Result<()> {
    let p = &ctx.printer;
    let (from, node, a, b) = (&sp.swap.from, &sp.swap.on, &sp.swap.a, &sp.swap.b);
    // 1. B starts, becomes ready, passes the health prompts; else B goes, nothing moved.
    if sp.swap.leave {
        p.note(format!("{}: `{model}` leaves it; {}", from.name, sp.swap.fit));
    } else if sp.swap.join {
        p.note(format!("{}: starting `{}` ({model} returns to it)", node.name, b.name));
    } else if node.name == from.name {
        p.note(format!("{}: starting B `{}` beside A `{}`", node.name, b.name, a.name));
    } else {
        p.note(format!("{}: starting B `{}` to take over from A `{}` on {}", node.name, b.name, a.name, from.name));
    }
    let up = if sp.swap.leave { Ok(Duration::ZERO) } else { bring_up_b(ctx, command, sp, progress).await };
    let warmup = match up {
        Ok(w) => w,
        Err(why) => {
            p.warn(format!("{}: {why}", node.name));
            p.warn(format!("{}: rolling back: removing B `{}`; A `{}` keeps serving", node.name, b.name, a.name));
            let undo = Plan {
                command: format!("{command}: remove B"),
                mutating: true,
                nodes: sp.step(Phase::StartB).undo_work.clone(),
            };
            run_phase(ctx, &undo).await;
            record_event(
                store,
                inv,
                &node.name,
                "swap_rolled_back",
                json!({"model": model, "from": a.name, "to": b.name, "why": why}),
            )
            .await;
            anyhow::bail!("hot-swap of `{model}` on {} failed before the flip, nothing moved: {why}", node.name);
        }
    };

    // 2. The flip on every router.
    let t0 = Instant::now();
    let (ok, r) = run(ctx, command, sp, Phase::Flip).await;
    let flip_us: Vec<f64> = routers
        .iter()
        .filter_map(|x| step_json::<Applied>(&r, &x.node.name, "flip"))
        .filter_map(|v| v.flip_us)
        .collect();
    if !ok {
        anyhow::bail!("the flip failed on a router: {}; run `garnet deploy` to converge the routes", step_stderr(&r));
    }
    let shown: Vec<String> = flip_us.iter().map(|u| format!("{u:.0} µs")).collect();
    progress.rows.push(Row {
        node: node.name.clone(),
        step: "flip",
        took: t0.elapsed(),
        note: format!("in the router: {}", shown.join(", ")),
    });
    progress.flips.extend(flip_us.iter().copied());
    record_event(
        store,
        inv,
        &node.name,
        "swap_flipped",
        json!({"model": model, "from": a.name, "to": b.name, "flip_us": flip_us}),
    )
    .await;

    // 3. Drain A, then the routes without it (a model returning to a node has no A there).
    let t0 = Instant::now();
    let mut cut = 0;
    if !sp.swap.join {
        let (ok, r) = run(ctx, command, sp, Phase::Drain).await;
        if !ok {
            // Blind, but safe: give A the whole drain time before stopping it.
            p.warn(format!(
                "{}: could not watch A drain ({}); waiting the full {}",
                node.name,
                step_stderr(&r),
                crate::util::human_duration(sp.drain)
            ));
            tokio::time::sleep(sp.drain).await;
        }
        cut = routers.iter().filter_map(|x| step_json::<Idle>(&r, &x.node.name, "drain A")).map(|i| i.in_flight).sum();
        progress.cut += cut;
        if cut > 0 {
            p.warn(format!(
                "{}: {cut} request(s) still on A after the {} drain cap are cut",
                node.name,
                crate::util::human_duration(sp.drain)
            ));
        }
        run(ctx, command, sp, Phase::Settle).await;
        progress.rows.push(Row {
            node: node.name.clone(),
            step: "drain A",
            took: t0.elapsed(),
            note: format!("{cut} cut at the cap"),
        });
    }

    // 4. Stop A; 5. record; 6. the monitors follow.
    let t0 = Instant::now();
    if !sp.swap.join {
        run(ctx, command, sp, Phase::StopA).await;
        progress.rows.push(Row { node: node.name.clone(), step: "stop A", took: t0.elapsed(), note: String::new() });
    }
    let rec = record::PlacementRecord { at: jiff::Timestamp::now().to_string(), ..sp.record.clone() };
    record::write(store, &rec).await?;
    run(ctx, command, sp, Phase::MonitorConfig).await;
    if !sp.swap.join {
        record_event(
            store,
            inv,
            &node.name,
            "loader_stopped",
            json!({"model": model, "entry": a.name, "reason": "hot-swap", "cut": cut, "from": from.name}),
        )
        .await;
    }
    progress.warmups.push(warmup.as_secs_f64());
    progress.rows.push(Row { node: node.name.clone(), step: "B warm-up", took: warmup, note: String::new() });
    Ok(())
}

/// The model's answered and failed requests so far (per model: they outlive removed backends).
fn model_totals(stats: &Value, model: &str) -> (u64, u64) {
    let m = stats["models"].as_array().into_iter().flatten().find(|m| m["model"] == model);
    let get = |k: &str| m.and_then(|m| m[k].as_u64()).unwrap_or(0);
    (get("requests_total"), get("failures_total"))
}

/// Polls the router's stats over one SSH connection, about every second, until `stop`.
async fn sample_router(
    node: std::sync::Arc<Node>,
    cmd: String,
    connect: ConnectOptions,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<(f64, Value)> {
    let t0 = Instant::now();
    let Ok(conn) = crate::transport::connect(&node, &connect).await else { return Vec::new() };
    let mut out = Vec::new();
    while !*stop.borrow() {
        let req = crate::transport::RunRequest {
            command: cmd.clone(),
            capture: true,
            timeout: Some(Duration::from_secs(10)),
            ..Default::default()
        };
        if let Ok(r) = conn.run(req).await
            && let Some(v) = String::from_utf8_lossy(&r.stdout).lines().rev().find_map(|l| serde_json::from_str(l).ok())
        {
            out.push((t0.elapsed().as_secs_f64(), v));
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => {}
        }
    }
    conn.close().await;
    out
}

/// p95 (ms) of the model's requests in each interval between two samples of the router's stats:
/// (end time, p95), from the backends' latency sketches (each backend's interval is its sketch
/// minus the one before; backends that came or went during the swap count with what they have).
fn latency_series(samples: &[(f64, Value)], model: &str) -> Vec<(f64, f64)> {
    use crate::telemetry::sketch::Sketch;
    let sketches = |v: &Value| -> Option<std::collections::BTreeMap<String, Sketch>> {
        let m = v["models"].as_array()?.iter().find(|m| m["model"] == model)?;
        let backends = m["backends"].as_array()?;
        Some(
            backends
                .iter()
                .filter_map(|b| Some((b["id"].as_str()?.to_string(), serde_json::from_value(b["e2e"].clone()).ok()?)))
                .collect(),
        )
    };
    samples
        .windows(2)
        .filter_map(|w| {
            let ((_, a), (t, b)) = (&w[0], &w[1]);
            let (before, after) = (sketches(a)?, sketches(b)?);
            let mut interval = Sketch::default();
            for (id, now) in &after {
                let d = before.get(id).and_then(|p| now.since(p)).unwrap_or_else(|| now.clone());
                interval.merge(&d);
            }
            interval.quantile(0.95).map(|q| (*t, q * 1000.0))
        })
        .collect()
}

/// The baseline (first interval), the worst interval, and how long p95 stayed over 1.5× the baseline.
fn elevated(series: &[(f64, f64)]) -> Value {
    let Some(&(t0, base)) = series.first() else { return json!({}) };
    let peak = series.iter().map(|s| s.1).fold(base, f64::max);
    let mut secs = 0.0;
    let mut prev = t0;
    for &(t, p) in &series[1..] {
        if p > base * 1.5 {
            secs += t - prev;
        }
        prev = t;
    }
    json!({
        "baseline_p95_ms": base, "peak_p95_ms": peak, "elevated_secs": secs,
        "series": series.iter().map(|(t, p)| json!([((t * 10.0).round() / 10.0), ((p * 10.0).round() / 10.0)])).collect::<Vec<_>>(),
    })
}

async fn record_event(store: &dyn crate::store::Store, inv: &Inventory, node: &str, kind: &str, detail: Value) {
    let now = jiff::Timestamp::now();
    let key = crate::telemetry::monitor::event_key(&inv.cluster.slug, node, now, kind);
    let body = json!({"schema_version": 1, "cluster": inv.cluster.slug, "node": node, "at": now.to_string(), "kind": kind, "detail": detail});
    if let Err(e) = store.put(&key, &serde_json::to_vec(&body).expect("serializes")).await {
        tracing::warn!("cannot record the `{kind}` event: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_window_from_router_samples() {
        use crate::telemetry::sketch::Sketch;
        // Cumulative sketches of one backend: `fast` requests of 50 ms and `slow` ones of 190 ms.
        let snap = |fast: usize, slow: usize| {
            let mut sk = Sketch::default();
            (0..fast).for_each(|_| sk.add(0.05));
            (0..slow).for_each(|_| sk.add(0.19));
            json!({"models": [{"model": "m", "backends": [{"id": "n1/m", "e2e": sk}]}]})
        };
        // Interval 1: 10 fast requests; interval 2: 10 slow ones; interval 3: fast again.
        let samples = vec![(0.0, snap(0, 0)), (1.0, snap(10, 0)), (2.0, snap(10, 10)), (3.0, snap(20, 10))];
        let s = latency_series(&samples, "m");
        assert_eq!(s.len(), 3);
        assert!((s[0].1 - 50.0).abs() < 0.5 && (s[1].1 - 190.0).abs() < 1.9, "{s:?}");
        let w = elevated(&s);
        assert_eq!(w["baseline_p95_ms"].as_f64(), Some(s[0].1));
        assert_eq!(w["peak_p95_ms"].as_f64(), Some(s[1].1));
        assert_eq!(w["elevated_secs"].as_f64(), Some(1.0));
        assert_eq!(elevated(&[]), json!({}));
    }
}
