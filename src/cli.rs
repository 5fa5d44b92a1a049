//! The clap tree, and nothing else. Each `///` doc comment is the help text users read.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::EXIT_CODES_HELP;

/// Operator CLI for LLM inference racks you own: inventory → plan → executor → nodes over SSH.
#[derive(Debug, Parser)]
#[command(name = "garnet", version, after_long_help = EXIT_CODES_HELP, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command shares.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Inventory file describing the rack.
    #[arg(short, long, global = true, env = "GARNET_INVENTORY", default_value = "inventory.yaml")]
    pub inventory: PathBuf,

    /// Output format: human text, or one JSON event per line.
    #[arg(short, long, global = true, value_enum, default_value_t = OutputFormat::Text, env = "GARNET_OUTPUT")]
    pub output: OutputFormat,

    /// Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did
    /// not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated.
    #[arg(short, long, global = true, value_delimiter = ',')]
    pub limit: Vec<String>,

    /// How many nodes to work on at once.
    #[arg(short, long, global = true, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub forks: u32,

    /// Abort the nodes not yet started once more than N nodes (or P% of them) have failed.
    #[arg(long, global = true, value_name = "N|P%")]
    pub max_fail: Option<MaxFail>,

    /// Render the exact plan per node and exit 0 without changing anything.
    #[arg(long, global = true, env = "GARNET_DRY_RUN")]
    pub dry_run: bool,

    /// Apply without asking for confirmation (required when stdin is not a terminal).
    #[arg(short, long, global = true, env = "GARNET_YES")]
    pub yes: bool,

    /// Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`).
    #[arg(long, global = true, value_parser = parse_duration, value_name = "DURATION")]
    pub lock_wait: Option<Duration>,

    /// Why you are running this: recorded in the cluster lock and the audit log.
    #[arg(short, long, global = true)]
    pub message: Option<String>,

    /// Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`).
    #[arg(long, global = true, env = "GARNET_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Keep each node's SSH connection (an OpenSSH master) open this long after a command, so the
    /// next command reuses it without a new handshake; `0` closes it when the command ends.
    /// Masters live in the private `cm/` folder of the state directory; `garnet connections close`
    /// ends them early.
    #[arg(long, global = true, env = "GARNET_SSH_PERSIST", value_parser = parse_duration, value_name = "DURATION", default_value = "60s")]
    pub ssh_persist: Duration,

    /// More detail (repeat for debug logs).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only command output and errors: no progress, no summary.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// `--max-fail`: an absolute count or a percentage of the targeted nodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxFail {
    Count(usize),
    Percent(f64),
}

impl std::str::FromStr for MaxFail {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(p) = s.strip_suffix('%') {
            let p: f64 = p.trim().parse().map_err(|_| format!("`{s}` is not a percentage"))?;
            if !(0.0..=100.0).contains(&p) {
                return Err(format!("`{s}` is not between 0% and 100%"));
            }
            Ok(MaxFail::Percent(p))
        } else {
            s.trim()
                .parse()
                .map(MaxFail::Count)
                .map_err(|_| format!("`{s}` is neither a count (`2`) nor a percentage (`25%`)"))
        }
    }
}

/// Parses `90`, `90s`, `1500ms`, `5m`, `2h` into a duration (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("`{s}` is not a duration (try `30s`, `5m`)"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86_400.0,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (use ms, s, m, h or d)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("`{s}` is too long a duration"))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the cluster envelope (`cluster/<slug>.json` in the store) and a starter inventory.
    /// Idempotent; refuses to overwrite another cluster's inventory or envelope.
    Init(InitArgs),

    /// Run a shell command on every selected node (like `ansible all -a CMD`).
    ///
    /// The words after `--` are joined with spaces and run by the node's login shell, as `ssh` does.
    /// It may change anything, so it takes the cluster lock and asks for confirmation (`--yes` skips).
    Exec(ExecArgs),

    /// Hardware and OS facts per node: os, arch, chip, cores, memory, free disk, link speed.
    Facts(FactsArgs),

    /// Check or list the inventory.
    #[command(subcommand)]
    Inventory(InventoryCommand),

    /// Rerun the last run on only the nodes that did not succeed (same as `--limit @failed`).
    Retry,

    /// Inspect or break the cluster lock.
    #[command(subcommand)]
    Lock(LockCommand),

    /// The SSH connections garnet keeps open to the selected nodes between commands (OpenSSH
    /// masters, see `--ssh-persist`): list them, or close them now.
    #[command(subcommand)]
    Connections(ConnectionsCommand),

    /// Install and start garnet on every node: the binary, the loader runtime, the models, config and
    /// credentials, and the services (monitor everywhere, loaders per the placement, the router on
    /// router nodes). A second run changes nothing and restarts nothing. Ends by checking that each
    /// loader and the router answer a real completion and each node's first sample is in the store.
    Deploy(DeployArgs),

    /// Live state of the cluster from the store's latest samples (and the router's stats when
    /// reachable): per node and per model, with cost per million tokens. A node silent for 3
    /// minutes is stale.
    Status(StatusArgs),

    /// Telemetry over any span: compact days into Parquet, sum a span (`summary`), uptime, export for
    /// other tools, synthetic data.
    #[command(subcommand)]
    Telemetry(TelemetryCommand),

    /// The weekly placement review: what the span's telemetry says about each node × model, and
    /// the moves it calls for, each with its evidence.
    #[command(subcommand)]
    Placement(PlacementCommand),

    /// The monthly executive report: `report.pdf` and `report.json` (every number in the PDF is in
    /// the JSON): inference volume, thermal, evictions, placement, cost against the APIs, uptime
    /// with incidents, recommendations. Written to `--out` and to the store; `--email` sends it
    /// to the cluster's contacts. What the telemetry cannot tell is said, never shown as zero.
    Report(ReportArgs),

    /// The cluster dashboard at `/account/cluster/<slug>`: nodes, models, the cost per million
    /// tokens over time beside the API prices, the placement, recent events and operator actions,
    /// the weekly reviews and monthly reports; live (no reload), read-only, from the store.
    /// Loopback by default; any other address needs `--token-file`.
    Dashboard(DashboardArgs),

    /// The steady-state cadence on this host: the weekly placement review (Mondays 06:00 UTC,
    /// its three artifacts emailed) and the monthly report (the 1st, 06:00 UTC) as systemd user
    /// timers or launchd calendar jobs; missed runs catch up. Each run's outcome is in the audit
    /// log (`status` shows the last).
    #[command(subcommand)]
    Schedule(ScheduleCommand),

    /// A whole cluster on this machine, with the same deploy code: N local nodes (each its own
    /// folder and ports), real `mlx_lm.server` loaders on a tiny generated model, the router, the
    /// monitors, a local-folder store. `lab down` stops all of it.
    #[command(subcommand)]
    Lab(LabCommand),

    /// Replace the loader serving MODEL with another model entry, with zero requests lost: start
    /// B cold beside A, health-check it (a real completion, then test prompts within the latency
    /// budget), flip every router atomically, drain A, stop it, record the placement. A failure
    /// before the flip removes B and leaves A and the traffic untouched.
    HotSwap(HotSwapArgs),

    /// Swap MODEL back to the entry the previous placement record had (a hot-swap in reverse).
    Rollback(RollbackArgs),

    /// Day 1: the intake questionnaire (workload, hardware probed over SSH or declared, network and
    /// access, first model), or `--answers FILE` for CI and repeat runs. Picks the quantization from
    /// the memory math, scopes procurement for Enterprise without hardware, and writes
    /// `inventory.yaml` and `intake.md`.
    Intake(IntakeArgs),

    /// Print a procedure's runbook (deploy, hot-swap, rollback, offboard) with this inventory's
    /// values filled in: every step, the command to run it by hand, what to check, how to undo it.
    Runbook(RunbookArgs),

    /// Roll-off: remove garnet's access and leave the rack serving. Per node: the monitor's store
    /// credentials go (the monitor keeps sampling into a folder on the node, or is removed with
    /// `--remove-monitor`), then garnet's operator key is removed from `authorized_keys`. Loaders
    /// and the router are not touched. Ends with what was removed and what keeps running.
    Offboard(OffboardArgs),

    /// The telemetry daemon every node runs (installed by `deploy`): samples every interval,
    /// spools to disk, ships to the store, serves `/health`.
    Monitor(MonitorArgs),

    /// Run a program as a supervised service (the process backend's supervisor): restart it when
    /// it fails, record how it ended, pass SIGTERM on.
    #[command(hide = true)]
    Supervise(SuperviseArgs),

    /// Call the router's admin API from the router node (deploy and hot-swap run it there).
    #[command(hide = true)]
    AdminCall(AdminCallArgs),

    /// Wait until an OpenAI-compatible endpoint answers a one-token chat completion (deploy's
    /// readiness check, run on the node).
    #[command(hide = true)]
    WaitReady(WaitReadyArgs),

    /// Serve the OpenAI-compatible API in front of the loaders (a daemon; Ctrl-C/SIGTERM stop it
    /// after open requests finish).
    Router(RouterArgs),

    /// Load-test an OpenAI-compatible endpoint: N clients, streaming or not, for a duration or a
    /// request count; reports failures by kind, TTFT, inter-token and end-to-end latency, tokens/s.
    Bench(BenchArgs),

    /// Operator SSH key: create it and install it on every node, or remove exactly that key.
    #[command(subcommand)]
    Keys(KeysCommand),

    /// Model memory math: parameters, weight bytes, KV cache per token, memory at a context ×
    /// concurrency; for a size (`8B`), estimates per quantization.
    #[command(subcommand)]
    Model(ModelCommand),

    /// Print a shell completion script.
    #[command(hide = true)]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the man page (roff).
    #[command(hide = true)]
    Man,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// garnet binary to install on nodes whose platform differs from this machine's (default: the
    /// inventory's `deploy.binaries`, else this binary where the platform matches).
    #[arg(long, value_name = "FILE")]
    pub binary: Option<PathBuf>,

    /// Skip the checks after applying (loader and router completions, first sample in the store).
    #[arg(long)]
    pub no_verify: bool,

    /// How long to wait for each loader to load its model and answer.
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    pub ready_timeout: Duration,
}

#[derive(Debug, Args)]
pub struct HotSwapArgs {
    /// The public model name clients use.
    pub model: String,

    /// The model entry (declared under `models:` with its own source and port) to serve MODEL, or
    /// a source (a local folder, or a Hugging Face repo id) served with MODEL's settings on the
    /// next free port.
    #[arg(long, value_name = "ENTRY|SOURCE")]
    pub to: String,

    #[command(flatten)]
    pub swap: SwapOptions,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The public model name.
    pub model: String,

    #[command(flatten)]
    pub swap: SwapOptions,
}

#[derive(Debug, Args, Clone)]
pub struct SwapOptions {
    /// Only on this node (default: every node the model is placed on, one after another).
    #[arg(long, value_name = "NODE")]
    pub node: Option<String>,

    /// Start B on this spare node instead of beside A (when both do not fit on A's node): traffic
    /// flips to it and A's node is freed; the placement moves with it.
    #[arg(long, value_name = "SPARE")]
    pub via: Option<String>,

    #[command(flatten)]
    pub checks: SwapChecks,
}

/// How a swap judges B and waits for A (hot-swap, rollback, placement apply).
#[derive(Debug, Args, Clone)]
pub struct SwapChecks {
    /// How long B may take to load and answer its first completion.
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    pub ready_timeout: Duration,

    /// Test prompts B must answer (all of them, p99 within the model's `latency_budget_ms`).
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub health_prompts: u32,

    /// Longest wait for A's requests in flight to finish after the flip (default: the model's
    /// `drain_secs`, else 5m); what is still running then is cut and counted.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub drain_max: Option<Duration>,
}

impl Default for SwapChecks {
    fn default() -> Self {
        SwapChecks { ready_timeout: Duration::from_secs(600), health_prompts: 8, drain_max: None }
    }
}

#[derive(Debug, Args)]
pub struct IntakeArgs {
    /// Answers as YAML (the interactive run saves its answers as `intake-answers.yaml`).
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// Where to write inventory.yaml, intake.md (and the answers).
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub out: PathBuf,
    /// Overwrite an existing inventory.yaml there.
    #[arg(long)]
    pub force: bool,
    /// An ssh_config to probe the nodes with (default: yours).
    #[arg(long, value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunbookArgs {
    /// `deploy`, `hot-swap`, `rollback` or `offboard`.
    pub name: String,
    /// The model (hot-swap, rollback, deploy; default: the first placed one).
    #[arg(long)]
    pub model: Option<String>,
    /// The new entry (hot-swap). With `--model`, a hot-swap or rollback runbook is the exact list
    /// `garnet hot-swap` / `rollback` runs, every command, file and route filled in (it reads the
    /// store and the nodes' homes, as `--dry-run` does).
    #[arg(long, value_name = "ENTRY")]
    pub to: Option<String>,
    /// The node (default: the model's first node, else the first node).
    #[arg(long)]
    pub node: Option<String>,
    /// Without values: the generic text, as committed in `runbooks/`.
    #[arg(long)]
    pub generic: bool,
}

#[derive(Debug, Args)]
pub struct OffboardArgs {
    /// Stop and remove the monitor too (default: it keeps sampling into `<garnet home>/store`).
    #[arg(long)]
    pub remove_monitor: bool,

    /// The operator key to remove (default: `<state dir>/keys/<cluster>-ed25519`); lines with the
    /// comment `garnet-operator@<cluster>` are removed either way.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Samples older than this make a node stale.
    #[arg(long, default_value = "3m", value_parser = parse_duration, value_name = "DURATION")]
    pub stale_after: Duration,
}

#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// The node config deploy wrote (`<garnet home>/etc/node.json`).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,

    /// Override the sampling interval (tests, footprint benchmarks).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub interval: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct SuperviseArgs {
    /// Where to record each exit (JSON: time, exit code or signal, restarts so far).
    #[arg(long)]
    pub exit_file: PathBuf,
    /// Start the program again when it exits with a failure (with backoff).
    #[arg(long)]
    pub restart: bool,
    /// Write the program's stdout to this file, rotated by size (else it is inherited).
    #[arg(long, value_name = "FILE")]
    pub log_out: Option<PathBuf>,
    /// Write the program's stderr (and the supervisor's own notes) to this file, rotated by size.
    #[arg(long, value_name = "FILE")]
    pub log_err: Option<PathBuf>,
    /// Size at which a log file is rotated.
    #[arg(long, default_value_t = 10 << 20, value_name = "BYTES")]
    pub log_max_bytes: u64,
    /// Rotated files kept besides the current one (`.1` newest).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub log_keep: u32,
    /// The program and its arguments.
    #[arg(last = true, required = true)]
    pub argv: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AdminCallArgs {
    /// The admin API's base URL, e.g. `http://127.0.0.1:8081`.
    #[arg(long)]
    pub url: String,
    /// The 0600 file holding the admin token.
    #[arg(long)]
    pub token_file: PathBuf,
    /// `apply-routes FILE` (replace the routes unless the router already has exactly these; exit
    /// 100 then), `wait-idle ID --max D` (poll a backend until it has no request in flight), or
    /// `get PATH`.
    #[arg(num_args = 1.., required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub call: Vec<String>,
}

#[derive(Debug, Args)]
pub struct WaitReadyArgs {
    /// Base URL, e.g. `http://127.0.0.1:8001`.
    pub url: String,
    /// The `model` to ask for.
    #[arg(long)]
    pub model: String,
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// A file whose last lines are printed when the endpoint never gets ready (the service's log).
    #[arg(long)]
    pub log: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The cluster's slug: 1-63 lowercase letters, digits and dashes.
    pub slug: String,

    /// Service tier.
    #[arg(long, value_enum)]
    pub tier: TierArg,

    /// Contact addresses (repeat or comma-separate).
    #[arg(long = "contact", value_delimiter = ',')]
    pub contacts: Vec<String>,

    /// Send the welcome email again (it goes once, when the cluster is created, if the
    /// inventory has `mail:` and contacts).
    #[arg(long)]
    pub resend_welcome: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TierArg {
    Pro,
    Scale,
    Enterprise,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Give up on a node's command after this long (e.g. `30s`); the node is reported failed.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Option<Duration>,

    /// The command to run.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RouterArgs {
    /// Routes file (YAML or JSON): models, their backends (loader URL and model id), caps, timeouts.
    /// Without it, routes come from the inventory's `models` and `placement`.
    #[arg(long, env = "GARNET_ROUTES", value_name = "FILE")]
    pub routes: Option<PathBuf>,

    /// Address for the OpenAI API (default: the inventory's `router.listen`, else 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    /// Address for the admin API, keep it on loopback (default: the inventory's
    /// `router.admin_listen`, else 127.0.0.1:8081).
    #[arg(long, value_name = "ADDR")]
    pub admin_listen: Option<String>,

    /// File (mode 0600) holding the admin API's bearer token; without it the admin API refuses
    /// (default: the inventory's `router.token_file`).
    #[arg(long, env = "GARNET_ROUTER_TOKEN_FILE", value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// File (mode 0600) with accepted API keys, one per line; without it `/v1` is open.
    #[arg(long, value_name = "FILE")]
    pub api_keys_file: Option<PathBuf>,

    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = 4 << 20, value_name = "BYTES")]
    pub body_limit: usize,

    /// Write one JSON line per ended request (outcome, durations, tokens) to this file, rotated
    /// at 10 MiB with 3 older files kept.
    #[arg(long, value_name = "FILE")]
    pub access_log: Option<PathBuf>,

    /// Keep what the router counted here (a snapshot every 2 s and a journal of each request's
    /// start and end), so a restart, even after `kill -9`, loses no count; the requests a crash
    /// broke are counted as failed.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Serving threads, each with its own listener (SO_REUSEPORT) and upstream pools
    /// (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Base URL of the API, ending in `/v1`.
    #[arg(long, default_value = "http://127.0.0.1:8080/v1", value_name = "URL")]
    pub url: String,

    /// Model to ask for.
    #[arg(long)]
    pub model: String,

    /// Concurrent clients.
    #[arg(short, long, default_value_t = 8)]
    pub clients: usize,

    /// Stop after this many requests.
    #[arg(short = 'n', long, conflicts_with = "duration")]
    pub requests: Option<u64>,

    /// Stop after this long (e.g. `30s`); the default when `--requests` is not given is 10s.
    #[arg(short, long, value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Option<Duration>,

    /// Share of requests that stream, from 0 (none) to 1 (all).
    #[arg(long, default_value_t = 0.5, value_name = "FRACTION")]
    pub stream: f64,

    /// `max_tokens` of each request.
    #[arg(long, default_value_t = 16)]
    pub max_tokens: u32,

    /// The user message.
    #[arg(long, default_value = "Say something about racks of Macs.")]
    pub prompt: String,

    /// File (mode 0600) holding the API key to send.
    #[arg(long, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,

    /// Give up on one request after this long.
    #[arg(long, value_parser = parse_duration, default_value = "120s", value_name = "DURATION")]
    pub timeout: Duration,

    /// Count an answer with fewer tokens than `--max-tokens` as truncated.
    #[arg(long)]
    pub expect_full: bool,

    /// Open loop: send this many requests per second in all (clients keep warm connections);
    /// latencies count from each request's scheduled time.
    #[arg(long, value_name = "REQ_PER_S")]
    pub rate: Option<f64>,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Write the timers (or LaunchAgents) for this inventory and enable them. Needs `mail:` and
    /// contacts: the runs email what they make. Idempotent.
    Install(ScheduleArgs),
    /// Each job: installed, current (the same as `install` would write), its next and last run
    /// (the audit log's outcome).
    Status(ScheduleArgs),
    /// Disable the jobs and delete their files.
    Remove(ScheduleArgs),
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// systemd user timers or launchd (default: launchd on macOS, systemd elsewhere).
    #[arg(long, value_enum)]
    pub backend: Option<ScheduleBackend>,
    /// Where the unit files or plists go (default `~/.config/systemd/user`,
    /// `~/Library/LaunchAgents`).
    #[arg(long, value_name = "DIR")]
    pub unit_dir: Option<PathBuf>,
    /// Where the runs write their reports and artifacts (default `~/.local/share/garnet/SLUG`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write (or delete) the files only: do not ask systemd or launchd to (un)load them.
    #[arg(long)]
    pub no_enable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleBackend {
    Systemd,
    Launchd,
}

#[derive(Debug, Subcommand)]
pub enum PlacementCommand {
    /// Per node × model over the span (default: the last 7 days): request rate, busy share,
    /// e2e / TTFT / queue-wait p95 against the latency budget, prompt-cache hits and prompt
    /// lengths; per node throttling, heat and uptime; then the proposed moves with their evidence.
    /// Exit 0: no change proposed; 5: changes proposed; 1: no telemetry to judge from.
    Diff(PlacementDiffArgs),
    /// Carries out a placement diff's moves, one after another: a model moving to another node
    /// goes through hot-swap (started there and checked, traffic flipped, the old loader drained
    /// and stopped: no request lost). Plan → confirm → apply under the cluster lock, audited;
    /// `--dry-run` prints every move's plan. Refused when the placement changed since the diff.
    /// A failed move stops: the moves before it stay applied and recorded (`garnet rollback
    /// MODEL` undoes the last). Exit 0: applied (or nothing to apply); 1: a move failed.
    Apply(PlacementApplyArgs),
}

#[derive(Debug, Args)]
pub struct PlacementApplyArgs {
    /// The diff to apply: its JSON (`placement-diff-FROM-TO.json`, or `placement diff -o json`).
    #[arg(value_name = "FILE", required_unless_present = "latest", conflicts_with = "latest")]
    pub file: Option<PathBuf>,
    /// The newest diff in the store (`weekly/cluster=<c>/span=…/placement-diff.json`).
    #[arg(long)]
    pub latest: bool,
    /// Each move's hot-swap checks (B: the model where it goes; A: where it leaves).
    #[command(flatten)]
    pub checks: SwapChecks,
}

#[derive(Debug, Args)]
pub struct PlacementDiffArgs {
    /// First day (UTC), a number of days back ending at `--until` (`7d`), or an instant
    /// (`2026-12-03T05:30:00Z`: what happened since a change).
    #[arg(long, default_value = "7d", value_parser = parse_since, value_name = "DATE|Nd|TIME")]
    pub since: Since,
    /// Last day (UTC; a date, `today` or `yesterday`; default today).
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    pub until: Option<jiff::civil::Date>,
    /// The samples a node, and a model on a node, need before a rule may move them (default
    /// 1440: a day at one a minute, so one noisy hour moves nothing). Lower it only for a span
    /// sampled more often than once a minute, like a lab's.
    #[arg(long, value_name = "N", default_value_t = 1440, value_parser = clap::value_parser!(u64).range(1..))]
    pub min_samples: u64,
    /// The requests a model needs before its prompt cache is judged (default 1000).
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub min_requests: u64,
    /// Also write the artifacts (`placement-diff`, `cost-diff`, `eviction-log`, each
    /// `-FROM-TO.md` and `.json` with the same numbers) into this folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also send the three artifacts to the cluster's contacts through `mail:`.
    #[arg(long)]
    pub email: bool,
}

/// A day (UTC): `YYYY-MM-DD`, `today` or `yesterday`.
pub fn parse_day(s: &str) -> Result<jiff::civil::Date, String> {
    let today = || jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    match s {
        "today" => Ok(today()),
        "yesterday" => today().yesterday().map_err(|e| e.to_string()),
        _ => s.parse().map_err(|_| format!("`{s}`: a date like 2026-11-30, `today` or `yesterday`")),
    }
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The month (UTC), like `2026-11`; default the last whole month.
    #[arg(long, value_name = "YYYY-MM")]
    pub month: Option<String>,
    /// Folder for `report.pdf` and `report.json`.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Also send it (the PDF and the JSON attached) to the cluster's contacts through `mail:`.
    #[arg(long)]
    pub email: bool,
}

#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Address to listen on (`:0` picks a free port). Anything but loopback requires
    /// `--token-file`.
    #[arg(long, default_value = "127.0.0.1:8790", value_name = "ADDR")]
    pub listen: String,
    /// File (mode 0600, at least 16 characters) holding the token every request must carry:
    /// `Authorization: Bearer <token>`, or the page opened once as `…?token=<token>` (then an
    /// HttpOnly cookie).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// How often the store is read again and the page updates.
    #[arg(long, default_value = "15s", value_parser = parse_duration, value_name = "DURATION")]
    pub refresh: Duration,
    /// How far back the cost curve reaches.
    #[arg(long, default_value = "30d", value_parser = parse_duration, value_name = "DURATION")]
    pub since: Duration,
    /// Samples older than this make a node stale.
    #[arg(long, default_value = "3m", value_parser = parse_duration, value_name = "DURATION")]
    pub stale_after: Duration,
}

/// `--since`: a date, or days back.
#[derive(Debug, Clone, Copy)]
pub enum Since {
    Date(jiff::civil::Date),
    Days(u32),
    /// From an instant (`2026-12-03T05:30:00Z`): the review of what happened since a change.
    At(jiff::Timestamp),
}

pub fn parse_since(s: &str) -> Result<Since, String> {
    if let Some(n) = s.strip_suffix('d') {
        return match n.parse::<u32>() {
            Ok(n) if (1..=366).contains(&n) => Ok(Since::Days(n)),
            _ => Err(format!("`{s}`: a number of days from 1 to 366, like `7d`")),
        };
    }
    if s.contains('T')
        && let Ok(t) = s.parse::<jiff::Timestamp>()
    {
        return Ok(Since::At(t));
    }
    s.parse().map(Since::Date).map_err(|_| {
        format!("`{s}` is neither a date (YYYY-MM-DD), an instant (2026-12-03T05:30:00Z) nor days back (`7d`)")
    })
}

#[derive(Debug, Subcommand)]
pub enum TelemetryCommand {
    /// Roll each day's per-minute samples into `telemetry-parquet/cluster=<c>/date=<d>/`
    /// (`samples.parquet`, `backends.parquet`) in the store; a rerun (or a late sample) rewrites
    /// the day. The JSON samples stay unless `--delete`, which removes them only after the
    /// Parquet files were read back with every row.
    Compact(CompactArgs),
    /// Write the cluster's samples over a span of days to a file for other tools: JSON lines,
    /// CSV (one row per sample) or Parquet (a folder with `samples.parquet`, `backends.parquet`),
    /// read from the JSON samples and the compacted days alike.
    Export(ExportArgs),
    /// Uptime per node and for the cluster over a span of days (a node is up while its samples
    /// cover the time; gaps count as down), the gaps, and the loader crashes and evictions.
    Uptime(UptimeArgs),
    /// A span's telemetry summed from the compacted days and the JSON samples alike: per model
    /// requests, outcomes, tokens and percentiles from merged sketches; per node uptime, throttled
    /// share, hottest temperature and energy; days with no sample listed as missing.
    Summary(SummaryArgs),
    /// Write synthetic telemetry (a rack's month of per-minute samples with a known story: a busy
    /// model, a hot node, an outage, a node joining halfway) into a local folder laid out like a
    /// store, for benchmarks and for trying reports and dashboards without a rack.
    Synth(SynthArgs),
}

#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// First day (UTC, YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub since: jiff::civil::Date,
    /// Last day, included (default: today; a span never reaches past now).
    #[arg(long, value_name = "DATE")]
    pub until: Option<jiff::civil::Date>,
    /// Also list each model's numbers per node.
    #[arg(long)]
    pub per_node: bool,
    /// The latency sketches to merge (fewer read less).
    #[arg(long, value_delimiter = ',', default_value = "e2e,ttft,queue-wait",
          value_parser = clap::builder::PossibleValuesParser::new(["e2e", "ttft", "queue-wait"]))]
    pub latency: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// The folder to write into (a local-folder store).
    #[arg(long, value_name = "DIR")]
    pub store: PathBuf,
    /// Synthesise days for this inventory's cluster instead: its slug, nodes, models and
    /// placement (with the synthetic shapes), e.g. days around a lab's real telemetry to try the
    /// report or the placement diff on. Overrides `--cluster` and `--nodes`; days that already
    /// have samples there are refused.
    #[arg(long, value_name = "FILE", conflicts_with = "write_inventory")]
    pub like: Option<PathBuf>,
    #[arg(long, default_value = "synthetic")]
    pub cluster: String,
    #[arg(long, default_value_t = 100)]
    pub nodes: usize,
    /// First day (UTC).
    #[arg(long, value_name = "DATE", default_value = "2026-11-01")]
    pub start: jiff::civil::Date,
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// `parquet`: each day straight into its compacted files; `json`: one object per sample, as
    /// the monitors ship them (then `telemetry compact`).
    #[arg(long, value_enum, default_value = "parquet")]
    pub format: SynthFormat,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also write an inventory of the synthetic rack here (its nodes, models, placement and the
    /// store), for `placement diff`, `report` and the dashboard to read the data with. (Not
    /// `--inventory`: that is the global `-i`, the inventory garnet reads.)
    #[arg(long, value_name = "FILE")]
    pub write_inventory: Option<PathBuf>,
    /// `story`: the rack with a hot node (see `docs/telemetry.md`); `balanced`: without it;
    /// `busy`: the first node's busiest model saturated there; `cold-cache`: the third model's
    /// long prompts barely reused by its prompt cache. Each is what one placement rule looks for.
    #[arg(long, value_enum, default_value = "story")]
    pub scenario: SynthScenario,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SynthScenario {
    Story,
    Balanced,
    Busy,
    ColdCache,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SynthFormat {
    Parquet,
    Json,
}

#[derive(Debug, Args)]
pub struct UptimeArgs {
    /// First day (UTC, YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub since: jiff::civil::Date,
    /// Last day, included (default: today; a span never reaches past now).
    #[arg(long, value_name = "DATE")]
    pub until: Option<jiff::civil::Date>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// First day (UTC, YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub since: jiff::civil::Date,
    /// Last day, included (default: today).
    #[arg(long, value_name = "DATE")]
    pub until: Option<jiff::civil::Date>,
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: ExportFormat,
    /// Where to write: a file (jsonl, csv) or a folder (parquet).
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Csv,
    Parquet,
}

#[derive(Debug, Args)]
pub struct CompactArgs {
    /// A day to compact (UTC, YYYY-MM-DD); repeat for several. Default: yesterday and today.
    #[arg(long, value_name = "DATE")]
    pub date: Vec<jiff::civil::Date>,

    /// Instead: the last N days up to today.
    #[arg(long, value_name = "N", conflicts_with = "date")]
    pub days: Option<u32>,

    /// Instead: every day from this one to today.
    #[arg(long, value_name = "DATE", conflicts_with_all = ["date", "days"])]
    pub since: Option<jiff::civil::Date>,

    /// Remove the day's JSON samples once its Parquet files are verified.
    #[arg(long)]
    pub delete: bool,
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Build (or update) the lab and start it; prints where to send OpenAI requests.
    Up(LabUpArgs),
    /// Stop every service the lab started (its files stay, so `lab up` is quick again).
    Down(LabDirArgs),
}

#[derive(Debug, Args)]
pub struct LabDirArgs {
    /// The lab's folder (inventory, nodes, store, model, venv).
    #[arg(long, default_value = "garnet-lab", env = "GARNET_LAB_DIR", value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct LabUpArgs {
    #[command(flatten)]
    pub lab: LabDirArgs,

    /// Nodes in the lab (all loaders; the first also runs the router).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub nodes: u16,

    /// A python with `mlx-lm` to use (default: a venv in the lab folder, created with pinned
    /// packages from PyPI if missing).
    #[arg(long, env = "GARNET_LAB_PYTHON", value_name = "FILE")]
    pub python: Option<PathBuf>,

    /// Port of the OpenAI API (the admin API takes the next one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an ed25519 operator key (private file 0600, never printed) if missing, and add its
    /// public half to each node's `~/.ssh/authorized_keys` (idempotent).
    Provision(KeysArgs),
    /// Remove exactly that key's line from each node's `authorized_keys`; every other key stays.
    Revoke(KeysArgs),
}

#[derive(Debug, Args)]
pub struct KeysArgs {
    /// The private key file (default: `<state dir>/keys/<cluster>-ed25519`).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Inspect a local model folder (config.json + safetensors headers; no weights are loaded), or
    /// estimate a model known only by its size (`8B`, `70b`, `500M`).
    Inspect(ModelInspectArgs),
}

#[derive(Debug, Args)]
pub struct ModelInspectArgs {
    /// A model folder, or a parameter count such as `8B`.
    pub model: String,

    /// Tokens per sequence to budget the KV cache for (default: the model's own maximum, else 8192).
    #[arg(long)]
    pub context: Option<u64>,

    /// Sequences served at once.
    #[arg(long, default_value_t = 1)]
    pub concurrency: u64,

    /// Bits per KV-cache element (16 = fp16/bf16; `mlx_lm.server --kv-bits` lowers it).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(2..=32))]
    pub kv_bits: u32,

    /// Quantization group size for estimates.
    #[arg(long, default_value_t = 64)]
    pub group_size: u32,
}

#[derive(Debug, Args)]
pub struct FactsArgs {
    /// Give up on a node after this long.
    #[arg(long, value_parser = parse_duration, default_value = "60s", value_name = "DURATION")]
    pub timeout: Duration,
}

#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// Validate the inventory and print every error at once (exit 0 when valid, 2 when not).
    Check,
    /// List the nodes (after `--limit`) as a table, or JSON with `-o json`.
    List,
}

#[derive(Debug, Subcommand)]
pub enum ConnectionsCommand {
    /// Each selected node's kept connection: open (with the master's pid) or none.
    List,
    /// Close the selected nodes' kept connections; commands still running on them finish first.
    Close {
        /// Every kept connection in the control directory, whatever inventory opened it.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// Show who holds the cluster lock, since when, for what.
    Status,
    /// Remove the cluster lock, whoever holds it (say why with `--message`).
    Release,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1500ms").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("soon").is_err());
        // A number too large for a duration is an error, not a panic.
        assert!(parse_duration("99999999999999999999999h").is_err());
        assert!(parse_duration(&"9".repeat(400)).is_err());
    }

    #[test]
    fn max_fail() {
        assert_eq!("2".parse::<MaxFail>().unwrap(), MaxFail::Count(2));
        assert_eq!("25%".parse::<MaxFail>().unwrap(), MaxFail::Percent(25.0));
        assert!("lots".parse::<MaxFail>().is_err());
        assert!("150%".parse::<MaxFail>().is_err());
    }
}
