//! One file per subcommand, each with `run(args, &Ctx) -> Result<ExitStatus>`, plus what they
//! share: [`Ctx`] (flags, environment and printer merged once before dispatch) and [`run_plan`], the
//! one path every plan takes: dry-run → confirm → lock → journal → execute → audit.

pub mod bench;
pub mod completions;
pub mod connections;
pub mod dashboard;
pub mod deploy;
pub mod exec;
pub mod facts;
pub mod hotswap;
pub mod init;
pub mod intake;
pub mod inventory;
pub mod keys;
pub mod lab;
pub mod lock;
pub mod model;
pub mod monitor;
pub mod offboard;
pub mod placement;
pub mod report;
pub mod retry;
pub mod router;
pub mod runbook;
pub mod schedule;
pub mod status;
pub mod telemetry;

use std::path::PathBuf;

use anyhow::{Context, Result};
use tokio::sync::mpsc;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::exit::{ExitStatus, UsageError};
use crate::inventory::{Inventory, Selection};
use crate::output::{self, Printer};
use crate::plan::events::Event;
use crate::plan::executor::{self, ExecOptions};
use crate::plan::journal::{self, Journal};
use crate::plan::{Plan, Report, render};
use crate::store::{self, audit, lock as cluster_lock};

/// Settings for one invocation.
pub struct Ctx {
    pub global: GlobalArgs,
    pub printer: Printer,
    /// The arguments after `garnet`, as typed (what the journal records for `retry`).
    pub argv: Vec<String>,
    /// Set by `retry`: exactly these nodes, instead of `--limit`.
    pub only_nodes: Option<Vec<String>>,
}

impl Ctx {
    pub fn new(global: GlobalArgs, argv: Vec<String>) -> Self {
        let printer = Printer::new(&global);
        Ctx { global, printer, argv, only_nodes: None }
    }

    pub fn state_dir(&self) -> PathBuf {
        if let Some(d) = &self.global.state_dir {
            return d.clone();
        }
        if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
            return PathBuf::from(d).join("garnet");
        }
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
        home.join(".local/state/garnet")
    }

    pub fn load_inventory(&self) -> Result<Inventory> {
        Ok(Inventory::load(&self.global.inventory)?)
    }

    /// The nodes this invocation targets (`--limit`, or `retry`'s list).
    pub fn select(&self, inv: &Inventory) -> Result<Selection> {
        if let Some(only) = &self.only_nodes {
            return Ok(inv.nodes.iter().filter(|n| only.contains(&n.name)).cloned().collect());
        }
        let wants_failed = self.global.limit.iter().any(|p| p.trim_start_matches('!') == "@failed");
        let failed = if wants_failed {
            journal::last_run(&self.state_dir(), &inv.cluster.slug)
                .context("reading the run journal")?
                .map(|r| r.not_succeeded)
        } else {
            None
        };
        let nodes = crate::inventory::select(inv, &self.global.limit, failed.as_deref()).map_err(UsageError)?;
        if nodes.is_empty() {
            return Err(UsageError(if wants_failed {
                "no node failed in the last run: nothing to do".into()
            } else {
                "no node selected".into()
            })
            .into());
        }
        Ok(nodes)
    }

    /// How this run connects: the control directory and how long masters outlive it.
    pub fn connect_options(&self) -> crate::transport::ConnectOptions {
        let p = self.global.ssh_persist;
        crate::transport::ConnectOptions {
            control_dir: self.control_dir(),
            persist: if p.is_zero() { None } else { Some(p) },
        }
    }

    /// Where OpenSSH control sockets go: short, private, per user.
    pub fn control_dir(&self) -> PathBuf {
        let d = self.state_dir().join("cm");
        // Unix socket paths max out at 108 bytes and the openssh crate adds ~46.
        if d.as_os_str().len() <= 56 {
            d
        } else {
            std::env::temp_dir().join(format!("garnet-cm-{}", unsafe { libc::getuid() }))
        }
    }
}

pub async fn dispatch(cli: Cli, argv: Vec<String>) -> Result<ExitStatus> {
    let ctx = Ctx::new(cli.global, argv);
    dispatch_command(&cli.command, &ctx).await
}

pub async fn dispatch_command(command: &Command, ctx: &Ctx) -> Result<ExitStatus> {
    match command {
        Command::Init(args) => init::run(args, ctx).await,
        Command::Exec(args) => exec::run(args, ctx).await,
        Command::Facts(args) => facts::run(args, ctx).await,
        Command::Inventory(cmd) => inventory::run(cmd, ctx),
        Command::Retry => Box::pin(retry::run(ctx)).await,
        Command::Router(args) => router::run(args, ctx).await,
        Command::Deploy(args) => deploy::run(args, ctx).await,
        Command::Status(args) => status::run(args, ctx).await,
        Command::Monitor(args) => monitor::run(args, ctx).await,
        Command::HotSwap(args) => hotswap::run(&args.model, Some(&args.to), &args.swap, ctx).await,
        Command::Rollback(args) => hotswap::run(&args.model, None, &args.swap, ctx).await,
        Command::Intake(args) => intake::run(args, ctx).await,
        Command::Runbook(args) => runbook::run(args, ctx).await,
        Command::Offboard(args) => offboard::run(args, ctx).await,
        Command::Lab(cmd) => Box::pin(lab::run(cmd, ctx)).await,
        Command::Telemetry(crate::cli::TelemetryCommand::Compact(args)) => telemetry::compact(args, ctx).await,
        Command::Telemetry(crate::cli::TelemetryCommand::Export(args)) => telemetry::export(args, ctx).await,
        Command::Telemetry(crate::cli::TelemetryCommand::Uptime(args)) => telemetry::uptime(args, ctx).await,
        Command::Telemetry(crate::cli::TelemetryCommand::Summary(args)) => telemetry::summary(args, ctx).await,
        Command::Telemetry(crate::cli::TelemetryCommand::Synth(args)) => telemetry::synth(args, ctx).await,
        Command::Placement(crate::cli::PlacementCommand::Diff(args)) => placement::diff(args, ctx).await,
        Command::Placement(crate::cli::PlacementCommand::Apply(args)) => placement::apply(args, ctx).await,
        Command::Report(args) => report::run(args, ctx).await,
        Command::Dashboard(args) => dashboard::run(args, ctx).await,
        Command::Schedule(c) => schedule::run(c, ctx).await,
        Command::WaitReady(args) => monitor::wait_ready(args).await,
        Command::AdminCall(args) => monitor::admin_call(args).await,
        Command::Supervise(args) => monitor::supervise(args).await,
        Command::Bench(args) => bench::run(args, ctx).await,
        Command::Model(cmd) => model::run(cmd, ctx),
        Command::Keys(cmd) => keys::run(cmd, ctx).await,
        Command::Lock(cmd) => lock::run(cmd, ctx).await,
        Command::Connections(cmd) => connections::run(cmd, ctx).await,
        Command::Completions { shell } => completions::completions(*shell),
        Command::Man => completions::man(),
    }
}

fn whoami() -> (String, String) {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| format!("uid{}", unsafe { libc::getuid() }));
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    (user, host)
}

/// Runs a plan the one way every command does. `post` turns the report into extra events
/// (e.g. facts) emitted before `run_finished`. Returns `None` for a dry run or a declined prompt.
pub async fn run_plan(
    ctx: &Ctx,
    inv: &Inventory,
    plan: Plan,
    post: impl FnOnce(&Report) -> Vec<Event>,
) -> Result<(ExitStatus, Option<Report>)> {
    let p = &ctx.printer;
    let g = &ctx.global;
    let connect = ctx.connect_options();
    // Files the plan would write are read (never written) so the plan shows real diffs.
    let current = render::current_files(&plan, g.forks as usize, &connect).await;
    let lookup = |node: &str, path: &str| {
        current.get(&(node.to_string(), path.to_string())).and_then(|r| r.clone().ok()).flatten()
    };
    if g.dry_run {
        if p.json {
            p.json_line(&render::json(&plan));
        } else {
            p.out(format!(
                "Plan for `{}` on {} node(s) — dry run, nothing is changed:\n",
                plan.command,
                plan.nodes.len()
            ));
            p.out(render::text(&plan, &lookup).trim_end());
        }
        return Ok((ExitStatus::Success, None));
    }
    if plan.mutating
        && !confirm(
            ctx,
            &format!("`{}` would change {} node(s) and", plan.command, plan.nodes.len()),
            render::text(&plan, &lookup).trim_end(),
            format!("Apply `{}` to {} node(s)?", plan.command, plan.nodes.len()),
        )?
    {
        return Ok((ExitStatus::Failure, None));
    }

    let held = if plan.mutating { Some(take_lock(ctx, inv, &plan.command).await?) } else { None };
    let started = held.as_ref().map_or_else(jiff::Timestamp::now, |h| h.started);
    let run_id = held.as_ref().map_or_else(|| journal::new_run_id(started), |h| h.run_id.clone());

    // From here on a Ctrl-C must release the lock and journal the run: take signals over now.
    let interrupt = interrupted(p.clone());
    let names: Vec<String> = plan.nodes.iter().map(|n| n.node.name.clone()).collect();
    let journal = match Journal::create(&ctx.state_dir(), &inv.cluster.slug, &run_id) {
        Ok(j) => Some(j),
        Err(e) => {
            p.warn(format!(
                "cannot create the run journal under `{}`: {e}; `retry` will not know this run",
                ctx.state_dir().display()
            ));
            None
        }
    };
    let (tx, rx) = mpsc::channel::<Event>(4096);
    let reporter = tokio::spawn(output::report(rx, p.clone(), journal, names.clone()));
    let _ = tx
        .send(Event::RunStarted {
            run_id: run_id.clone(),
            cluster: inv.cluster.slug.clone(),
            command: plan.command.clone(),
            argv: ctx.argv.clone(),
            nodes: names.clone(),
            dry_run: false,
            time: started.to_string(),
        })
        .await;
    let opts = ExecOptions { forks: g.forks as usize, max_fail: g.max_fail, connect };
    let report = executor::execute(&plan, opts, tx.clone(), interrupt).await;
    for ev in post(&report) {
        let _ = tx.send(ev).await;
    }
    let status = report.exit_status();
    let _ = tx
        .send(Event::RunFinished {
            run_id: run_id.clone(),
            summary: report.summary.clone(),
            exit_code: status.code(),
            duration_ms: report.duration.as_millis() as u64,
            interrupted: report.interrupted,
        })
        .await;
    drop(tx);
    let _ = reporter.await;

    if let Some(h) = held {
        let names: Vec<String> = plan.nodes.iter().map(|n| n.node.name.clone()).collect();
        release_lock(ctx, inv, h, &plan.command, &names, &report.summary, status).await;
    }
    output::print_summary(p, &report);
    Ok((status, Some(report)))
}

/// The one confirmation every mutating command goes through: `--yes` goes ahead; at a terminal
/// `shown` is printed and the `question` asked (no is "aborted: nothing was changed"); anywhere
/// else it is a usage error naming `--yes` and `--dry-run`.
pub fn confirm(ctx: &Ctx, what: &str, shown: &str, question: String) -> Result<bool> {
    let p = &ctx.printer;
    if ctx.global.yes {
        return Ok(true);
    }
    if !(p.stdin_tty && p.stderr_tty) {
        return Err(UsageError(format!(
            "{what} needs confirmation, but stdin is not a terminal; pass `--yes` to apply (or `--dry-run` to see the plan)"
        ))
        .into());
    }
    p.prompt(shown);
    let go = dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()
        .context("reading the confirmation")?;
    if !go {
        p.note("aborted: nothing was changed");
    }
    Ok(go)
}

/// The cluster lock, held for one mutating run (or one multi-phase procedure like hot-swap).
pub struct Held {
    pub store: Box<dyn crate::store::Store>,
    guard: cluster_lock::LockGuard,
    pub run_id: String,
    pub started: jiff::Timestamp,
    user: String,
    host: String,
}

/// Takes the cluster lock for `command` (waiting per `--lock-wait`, taking over a stale one).
pub async fn take_lock(ctx: &Ctx, inv: &Inventory, command: &str) -> Result<Held> {
    let p = &ctx.printer;
    let started = jiff::Timestamp::now();
    let run_id = journal::new_run_id(started);
    let (user, host) = whoami();
    let store = store::open(inv).await?;
    let info = cluster_lock::LockInfo {
        user: user.clone(),
        host: host.clone(),
        pid: std::process::id(),
        command: command.to_string(),
        message: ctx.global.message.clone(),
        acquired_at: started.to_string(),
        run_id: run_id.clone(),
    };
    let on_event = |e: cluster_lock::LockEvent<'_>| match e {
        cluster_lock::LockEvent::Waiting(h) => {
            p.note(format!("waiting for the cluster lock, held by {}", h.describe()))
        }
        cluster_lock::LockEvent::Stale(h) => {
            p.warn(format!("taking over a stale cluster lock: {} (that process is gone)", h.describe()))
        }
    };
    let guard = cluster_lock::acquire(store.as_ref(), &inv.cluster.slug, info, ctx.global.lock_wait, on_event).await?;
    Ok(Held { store, guard, run_id, started, user, host })
}

/// Writes the audit entry and releases the lock (problems are warnings: the work is done).
pub async fn release_lock(
    ctx: &Ctx,
    inv: &Inventory,
    h: Held,
    command: &str,
    nodes: &[String],
    summary: &crate::plan::Summary,
    status: ExitStatus,
) {
    let p = &ctx.printer;
    let entry = audit::AuditEntry {
        run_id: &h.run_id,
        cluster: &inv.cluster.slug,
        user: &h.user,
        host: &h.host,
        command,
        message: ctx.global.message.as_deref(),
        started_at: &h.started.to_string(),
        finished_at: jiff::Timestamp::now().to_string(),
        nodes,
        summary,
        exit_code: status.code(),
        error: None,
    };
    if let Err(e) = audit::record(h.store.as_ref(), &entry, h.started).await {
        p.warn(format!("cannot write the audit entry: {e}"));
    }
    if let Err(e) = h.guard.release(h.store.as_ref()).await {
        p.warn(format!("cannot release the cluster lock: {e}; run `garnet lock release`"));
    }
}

/// Records a run that takes no lock (a report, a placement diff: they change nothing on the
/// nodes) in the audit log with its outcome, so a scheduled run that failed is on record. A
/// problem writing it is a warning.
pub async fn audit_run(
    ctx: &Ctx,
    inv: &Inventory,
    store: &dyn crate::store::Store,
    command: &str,
    started: jiff::Timestamp,
    result: &Result<ExitStatus>,
) {
    let (user, host) = whoami();
    let run_id = crate::plan::journal::new_run_id(started);
    let (status, error) = match result {
        Ok(s) => (*s, None),
        Err(e) => (crate::exit::status_of(e), Some(crate::util::one_line(&format!("{e:#}")))),
    };
    let entry = audit::AuditEntry {
        run_id: &run_id,
        cluster: &inv.cluster.slug,
        user: &user,
        host: &host,
        command,
        message: ctx.global.message.as_deref(),
        started_at: &started.to_string(),
        finished_at: jiff::Timestamp::now().to_string(),
        nodes: &[],
        summary: &crate::plan::Summary::default(),
        exit_code: status.code(),
        error,
    };
    if let Err(e) = audit::record(store, &entry, started).await {
        ctx.printer.warn(format!("cannot write the audit entry: {e}"));
    }
}

/// Runs one plan's steps (a phase of a longer procedure) with the usual progress and events, but
/// no prompt, lock, journal or audit: the procedure holds those.
pub async fn run_phase(ctx: &Ctx, plan: &Plan) -> Report {
    let p = &ctx.printer;
    let names: Vec<String> = plan.nodes.iter().map(|n| n.node.name.clone()).collect();
    let (tx, rx) = mpsc::channel::<Event>(4096);
    let reporter = tokio::spawn(output::report(rx, p.clone(), None, names));
    let connect = ctx.connect_options();
    let opts = ExecOptions { forks: ctx.global.forks as usize, max_fail: None, connect };
    let report = executor::execute(plan, opts, tx, std::future::pending()).await;
    let _ = reporter.await;
    report
}

/// Listens for Ctrl-C and SIGTERM from now on (the handlers are installed before this returns, so a
/// signal during start-up is not lost); the future resolves on the first one. A second Ctrl-C quits.
fn interrupted(p: Printer) -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let streams = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()));
    async move {
        let (Ok(mut int), Ok(mut term)) = streams else { return std::future::pending().await };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        p.warn("interrupted: finishing the steps in flight, skipping nodes not started (Ctrl-C again to quit now)");
        tokio::spawn(async move {
            if int.recv().await.is_some() {
                std::process::exit(ExitStatus::Interrupted.code() as i32);
            }
        });
    }
}

/// Resolves on the first SIGINT or SIGTERM (for the daemons), saying so on stderr.
pub async fn shutdown_signal(daemon: &str, what_happens: &str) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    crate::output::daemon_line(format!("{daemon}: shutting down: {what_happens}"));
}
