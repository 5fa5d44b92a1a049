//! garnet: operator CLI and runbook automation for LLM inference racks you own.
//!
//! Everything goes inventory → plan → executor → transport → node. `ARCHITECTURE.md` has the map.

pub mod bench;
pub mod cli;
pub mod commands;
pub mod dashboard;
pub mod exit;
pub mod http;
pub mod intake;
pub mod inventory;
pub mod node;
pub mod output;
pub mod placement;
pub mod plan;
pub mod procedure;
pub mod report;
pub mod router;
pub mod store;
pub mod telemetry;
pub mod transport;
pub mod util;

use std::ffi::OsString;

use clap::Parser;

pub use exit::ExitStatus;

/// Runs garnet with these arguments (the first is the program name) and returns how it ended.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitStatus {
    let args: Vec<OsString> = args.into_iter().collect();
    let cli = match cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitStatus::Usage } else { ExitStatus::Success };
        }
    };
    init_tracing(cli.global.verbose);
    let json = cli.global.output == cli::OutputFormat::Json;
    let argv: Vec<String> = args.iter().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    // The node-side daemon and helpers are small and mostly idle: one thread is plenty and keeps
    // the resident set down (measured by bench/monitor-footprint.sh).
    let small = matches!(
        cli.command,
        cli::Command::Monitor(_) | cli::Command::WaitReady(_) | cli::Command::AdminCall(_) | cli::Command::Supervise(_)
    );
    let mut builder =
        if small { tokio::runtime::Builder::new_current_thread() } else { tokio::runtime::Builder::new_multi_thread() };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            #[allow(clippy::print_stderr, reason = "no runtime, so no printer yet")]
            {
                eprintln!("error: cannot start the async runtime: {e}");
            }
            return ExitStatus::Failure;
        }
    };
    let result = runtime.block_on(commands::dispatch(cli, argv));
    // Background tasks (ssh masters closing) must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(status) => status,
        Err(err) => {
            let status = report_error(&err);
            if json && status != ExitStatus::Success {
                print_json_error(&err, status);
            }
            status
        }
    }
}

/// With `-o json`, a fatal error is also an event on stdout, so CI reads it like everything else.
#[allow(clippy::print_stdout, reason = "the last word of a run that failed before or outside its printer")]
fn print_json_error(err: &anyhow::Error, status: ExitStatus) {
    let mut ev = serde_json::json!({"event": "error", "message": format!("{err:#}"), "exit_code": status.code()});
    if let Some(inventory::LoadError::Invalid(inv)) = err.downcast_ref::<inventory::LoadError>() {
        ev["message"] = serde_json::json!(format!("inventory `{}` is invalid", inv.file.display()));
        ev["diagnostics"] = inv
            .diagnostics
            .iter()
            .map(|d| {
                serde_json::json!({"file": inv.file, "line": d.line, "column": d.column, "path": d.path, "message": d.message, "hint": d.hint})
            })
            .collect();
    }
    println!("{ev}");
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "garnet=info",
        _ => "garnet=debug,info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("GARNET_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none())
        .with_target(false)
        .try_init();
}

/// Prints an error once, with its cause chain and a hint where the fix is known; picks the exit code.
#[allow(clippy::print_stderr, reason = "the last word of a run that failed before or outside its printer")]
fn report_error(err: &anyhow::Error) -> ExitStatus {
    use inventory::LoadError;
    use store::lock::LockError;
    if let Some(e) = err.chain().find_map(|e| e.downcast_ref::<std::io::Error>())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        return ExitStatus::Success;
    }
    let mut status = ExitStatus::Failure;
    let mut hint = None;
    if let Some(e) = err.downcast_ref::<LoadError>() {
        status = ExitStatus::Usage;
        match e {
            LoadError::Invalid(inv) => {
                eprint!("error: {inv}");
                return status;
            }
            LoadError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                hint = Some("pass `-i FILE`, set `GARNET_INVENTORY`, or start from `inventory.example.yaml`");
            }
            LoadError::Read { .. } => {}
        }
    } else if err.downcast_ref::<exit::UsageError>().is_some() {
        status = ExitStatus::Usage;
    } else if let Some(LockError::Held(_)) = err.downcast_ref::<LockError>() {
        status = ExitStatus::Locked;
        hint = Some("wait with `--lock-wait 5m`, or, if that run is really gone, `garnet lock release -m WHY`");
    }
    eprintln!("error: {err:#}");
    if let Some(h) = hint {
        eprintln!("  help: {h}");
    }
    status
}
