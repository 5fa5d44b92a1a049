//! The executor: runs a [`Plan`] over its nodes with bounded parallelism.
//!
//! Per node: connect (bounded by the same `--forks` permits, retried inside [`transport::connect`]),
//! then the steps in order, stopping at the first failure. Nodes are independent: one failing or
//! unreachable node never stops the others, unless `--max-fail` is exceeded, in which case nodes not
//! yet started are skipped. An interrupt does the same. Every transition is an [`Event`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::events::{Event, EventTx};
use super::{Action, NodePlan, NodeReport, Outcome, Plan, Report, StepReport, Summary};
use crate::cli::MaxFail;
use crate::transport::{self, ConnectOptions, RunRequest, Transport, TransportError};

pub struct ExecOptions {
    pub forks: usize,
    pub max_fail: Option<MaxFail>,
    pub connect: ConnectOptions,
}

struct Shared {
    events: EventTx,
    abort: AtomicBool,
    failures: AtomicUsize,
    total: usize,
    max_fail: Option<MaxFail>,
    connect: ConnectOptions,
}

impl Shared {
    fn record_failure(&self) {
        let n = self.failures.fetch_add(1, Ordering::SeqCst) + 1;
        let exceeded = match self.max_fail {
            None => false,
            Some(MaxFail::Count(c)) => n > c,
            Some(MaxFail::Percent(p)) => (n as f64) * 100.0 / (self.total.max(1) as f64) > p,
        };
        if exceeded {
            self.abort.store(true, Ordering::SeqCst);
        }
    }
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// Runs the plan; `interrupt` resolves when the user asks to stop.
pub async fn execute(plan: &Plan, opts: ExecOptions, events: EventTx, interrupt: impl Future<Output = ()>) -> Report {
    let started = Instant::now();
    // Each node in flight holds a few descriptors (its mux connection, three pipes); a wide
    // `--forks` would exhaust macOS's default soft limit of 256.
    crate::util::raise_nofile_limit();
    let shared = Arc::new(Shared {
        events,
        abort: AtomicBool::new(false),
        failures: AtomicUsize::new(0),
        total: plan.nodes.len(),
        max_fail: opts.max_fail,
        connect: opts.connect,
    });
    // `forks` workers take nodes in plan order from one queue: bounded, and deterministic in which
    // nodes start first (so `--forks 1 --max-fail 0` stops exactly after the first failure).
    let queue: Arc<Vec<NodePlan>> = Arc::new(plan.nodes.clone());
    let next = Arc::new(AtomicUsize::new(0));
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let mut set = JoinSet::new();
    for _ in 0..opts.forks.clamp(1, plan.nodes.len().max(1)) {
        let (shared, queue, next, done_tx) = (shared.clone(), queue.clone(), next.clone(), done_tx.clone());
        set.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(np) = queue.get(i) else { break };
                let report = run_node(np.clone(), &shared).await;
                let _ = done_tx.send((i, report));
            }
        });
    }
    drop(done_tx);
    let mut reports: Vec<Option<NodeReport>> = vec![None; plan.nodes.len()];
    let mut interrupted = false;
    tokio::pin!(interrupt);
    loop {
        tokio::select! {
            finished = done.recv() => match finished {
                None => break,
                Some((i, r)) => reports[i] = Some(r),
            },
            () = &mut interrupt, if !interrupted => {
                interrupted = true;
                shared.abort.store(true, Ordering::SeqCst);
            }
        }
    }
    let mut summary = Summary::default();
    let nodes: Vec<NodeReport> = reports
        .into_iter()
        .zip(&plan.nodes)
        .map(|(r, np)| {
            r.unwrap_or_else(|| NodeReport {
                node: np.node.clone(),
                outcome: Outcome::Failed,
                duration: Duration::ZERO,
                steps: vec![],
                message: Some("internal error".into()),
            })
        })
        .collect();
    for n in &nodes {
        summary.add(n.outcome);
    }
    while let Some(joined) = set.join_next().await {
        if let Err(e) = joined {
            tracing::error!("executor worker panicked: {e}");
        }
    }
    Report { nodes, summary, interrupted, duration: started.elapsed() }
}

async fn run_node(np: NodePlan, shared: &Shared) -> NodeReport {
    let started = Instant::now();
    let name = np.node.name.clone();
    let finish = |outcome: Outcome, steps: Vec<StepReport>, message: Option<String>| {
        let duration = started.elapsed();
        let ev =
            Event::NodeFinished { node: name.clone(), outcome, duration_ms: ms(duration), message: message.clone() };
        (NodeReport { node: np.node.clone(), outcome, duration, steps, message }, ev)
    };
    if shared.abort.load(Ordering::SeqCst) {
        let (r, ev) = finish(Outcome::Skipped, vec![], Some("not started: the run was aborted".into()));
        let _ = shared.events.send(ev).await;
        return r;
    }
    let conn = match transport::connect(&np.node, &shared.connect).await {
        Ok(c) => c,
        Err(e) => {
            shared.record_failure();
            let (r, ev) = finish(Outcome::Unreachable, vec![], Some(e.message));
            let _ = shared.events.send(ev).await;
            return r;
        }
    };
    let mut steps = Vec::with_capacity(np.steps.len());
    let mut node_outcome = Outcome::Ok;
    let mut message = None;
    for (index, step) in np.steps.iter().enumerate() {
        if node_outcome == Outcome::Failed || node_outcome == Outcome::Unreachable {
            steps.push(StepReport {
                name: step.name.clone(),
                outcome: Outcome::Skipped,
                duration: Duration::ZERO,
                output: None,
                message: None,
            });
            continue;
        }
        let _ = shared.events.send(Event::StepStarted { node: name.clone(), step: step.name.clone(), index }).await;
        let t = Instant::now();
        let (outcome, output, msg) = run_step(&*conn, &name, &step.name, &step.action, &shared.events).await;
        let duration = t.elapsed();
        let exit_code = output.as_ref().and_then(|o| o.exit_code);
        let _ = shared
            .events
            .send(Event::StepFinished {
                node: name.clone(),
                step: step.name.clone(),
                index,
                outcome,
                exit_code,
                duration_ms: ms(duration),
                message: msg.clone(),
            })
            .await;
        match outcome {
            Outcome::Failed | Outcome::Unreachable => {
                node_outcome = outcome;
                message = msg.clone().map(|m| format!("{}: {m}", step.name));
            }
            Outcome::Changed => node_outcome = Outcome::Changed,
            _ => {}
        }
        steps.push(StepReport { name: step.name.clone(), outcome, duration, output, message: msg });
    }
    conn.close().await;
    if !node_outcome.succeeded() {
        shared.record_failure();
    }
    let (r, ev) = finish(node_outcome, steps, message);
    let _ = shared.events.send(ev).await;
    r
}

async fn run_step(
    conn: &dyn Transport,
    node: &str,
    step: &str,
    action: &Action,
    events: &EventTx,
) -> (Outcome, Option<crate::transport::RunOutput>, Option<String>) {
    match action {
        Action::Run { command, timeout, stream, capture, changes, unchanged_exit } => {
            let (tx, mut rx) = mpsc::channel(256);
            // The node enforces the limit too (a second later, so the local timeout reports first).
            let command_line = match timeout {
                Some(t) => crate::transport::with_deadline(command, *t + Duration::from_secs(1)),
                None => command.clone(),
            };
            let req = RunRequest {
                command: command_line,
                stdin: None,
                timeout: *timeout,
                lines: stream.then_some(tx),
                capture: *capture,
            };
            let forward = async {
                while let Some(line) = rx.recv().await {
                    let _ = events
                        .send(Event::Output {
                            node: node.to_string(),
                            step: step.to_string(),
                            stream: line.stream.into(),
                            line: line.text,
                        })
                        .await;
                }
            };
            let (result, ()) = tokio::join!(conn.run(req), forward);
            match result {
                Ok(out) if out.success() => (if *changes { Outcome::Changed } else { Outcome::Ok }, Some(out), None),
                Ok(out) if unchanged_exit.is_some() && out.exit_code == *unchanged_exit => {
                    (Outcome::Ok, Some(out), None)
                }
                Ok(out) => {
                    let mut msg = format!("`{}` failed ({})", short(command), out.describe());
                    if !*stream {
                        let err = String::from_utf8_lossy(&out.stderr);
                        if let Some(last) = err.lines().rev().find(|l| !l.trim().is_empty()) {
                            msg.push_str(&format!(": {}", last.trim()));
                        }
                    }
                    (Outcome::Failed, Some(out), Some(msg))
                }
                Err(TransportError::ConnectionLost(m)) => {
                    (Outcome::Unreachable, None, Some(format!("connection lost: {m}")))
                }
                Err(e) => (Outcome::Failed, None, Some(e.to_string())),
            }
        }
        Action::Copy { source, path, mode, sha256, .. } => {
            let p = crate::transport::shell_path(path);
            let check = format!(
                "p={p}; [ -f \"$p\" ] || exit 0; if command -v sha256sum >/dev/null; then sha256sum \"$p\"; else shasum -a 256 \"$p\"; fi"
            );
            let current = conn.run(RunRequest { command: check, capture: true, ..Default::default() }).await;
            match current {
                Err(TransportError::ConnectionLost(m)) => {
                    (Outcome::Unreachable, None, Some(format!("connection lost: {m}")))
                }
                Err(e) => (Outcome::Failed, None, Some(e.to_string())),
                Ok(out) if String::from_utf8_lossy(&out.stdout).split_whitespace().next() == Some(sha256.as_str()) => {
                    (Outcome::Ok, None, None)
                }
                Ok(_) => match tokio::fs::read(source).await {
                    Err(e) => (Outcome::Failed, None, Some(format!("cannot read `{}`: {e}", source.display()))),
                    Ok(bytes) => match conn.upload(path, &bytes, *mode).await {
                        Ok(()) => (Outcome::Changed, None, None),
                        Err(e) => (Outcome::Failed, None, Some(e.to_string())),
                    },
                },
            }
        }
        Action::Upload { path, contents, mode, .. } => match conn.read_file(path).await {
            Ok(Some(current)) if current == *contents => (Outcome::Ok, None, None),
            Ok(_) => match conn.upload(path, contents, *mode).await {
                Ok(()) => (Outcome::Changed, None, None),
                Err(e) => (Outcome::Failed, None, Some(e.to_string())),
            },
            Err(TransportError::ConnectionLost(m)) => {
                (Outcome::Unreachable, None, Some(format!("connection lost: {m}")))
            }
            Err(e) => (Outcome::Failed, None, Some(e.to_string())),
        },
    }
}

/// A command as quoted in messages: first line, at most 60 characters.
fn short(cmd: &str) -> String {
    let first = cmd.lines().next().unwrap_or("");
    if first.chars().count() > 60 || cmd.lines().count() > 1 {
        format!("{}…", first.chars().take(57).collect::<String>())
    } else {
        first.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(total: usize, max_fail: Option<MaxFail>) -> Shared {
        let (tx, _rx) = mpsc::channel(1);
        Shared {
            events: tx,
            abort: AtomicBool::new(false),
            failures: AtomicUsize::new(0),
            total,
            max_fail,
            connect: ConnectOptions::closing("/tmp".into()),
        }
    }

    #[test]
    fn max_fail_thresholds() {
        let s = shared(10, Some(MaxFail::Count(1)));
        s.record_failure();
        assert!(!s.abort.load(Ordering::SeqCst), "1 failure is within --max-fail 1");
        s.record_failure();
        assert!(s.abort.load(Ordering::SeqCst));

        let p = shared(10, Some(MaxFail::Percent(25.0)));
        p.record_failure();
        p.record_failure();
        assert!(!p.abort.load(Ordering::SeqCst), "20% is within 25%");
        p.record_failure();
        assert!(p.abort.load(Ordering::SeqCst), "30% exceeds 25%");

        let none = shared(2, None);
        none.record_failure();
        none.record_failure();
        assert!(!none.abort.load(Ordering::SeqCst));
    }
}
