//! `garnet lab up|down`: a whole cluster on this machine, built by the same deploy code a rack
//! gets. Each lab node is a `local`-transport node with its own garnet home and ports
//! (`port_offset` 100 × its index), services on the `process` backend, a local-folder store.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::Ctx;
use crate::ExitStatus;
use crate::cli::{DeployArgs, LabCommand, LabUpArgs};
use crate::node::deploy::{MLX_LINUX, MLX_LM, MLX_MACOS};

/// Writes the tiny random-weight model the lab serves (the same script the tests use).
const MAKE_TINY_MODEL: &str = include_str!("../../tests/support/make_tiny_model.py");

pub async fn run(cmd: &LabCommand, ctx: &Ctx) -> Result<ExitStatus> {
    match cmd {
        LabCommand::Up(args) => up(args, ctx).await,
        LabCommand::Down(args) => down(&args.dir, ctx).await,
    }
}

fn absolute(p: &Path) -> Result<PathBuf> {
    Ok(if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir()?.join(p) })
}

/// Runs `cmd`, showing its latest output line on a spinner (pip's progress), failing with its tail.
fn run_with_spinner(ctx: &Ctx, what: &str, cmd: &mut Command) -> Result<()> {
    let bar = if ctx.printer.progress() {
        let b = indicatif::ProgressBar::new_spinner().with_message(what.to_string());
        b.set_style(indicatif::ProgressStyle::with_template("{spinner} {prefix}: {wide_msg}").expect("template"));
        b.set_prefix(what.to_string());
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        Some(b)
    } else {
        ctx.printer.note(format!("{what}…"));
        None
    };
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start `{:?}`", cmd.get_program()))?;
    let stderr = child.stderr.take().expect("piped");
    let errs =
        std::thread::spawn(move || std::io::BufReader::new(stderr).lines().map_while(Result::ok).collect::<Vec<_>>());
    let mut tail = Vec::new();
    for line in std::io::BufReader::new(child.stdout.take().expect("piped")).lines().map_while(Result::ok) {
        if let Some(b) = &bar {
            b.set_message(line.trim().chars().take(100).collect::<String>());
        }
        tail.push(line);
        if tail.len() > 20 {
            tail.remove(0);
        }
    }
    let status = child.wait()?;
    let errs = errs.join().unwrap_or_default();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if !status.success() {
        bail!("{what} failed ({status}):\n{}\n{}", tail.join("\n"), errs.join("\n"));
    }
    Ok(())
}

fn ensure_python(args: &LabUpArgs, dir: &Path, ctx: &Ctx) -> Result<PathBuf> {
    if let Some(py) = &args.python {
        return absolute(py);
    }
    let venv = dir.join("venv");
    let py = venv.join("bin/python");
    let usable = |py: &Path| Command::new(py).args(["-c", "import mlx_lm"]).output().is_ok_and(|o| o.status.success());
    if usable(&py) {
        return Ok(py);
    }
    run_with_spinner(ctx, "creating the loader venv", Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    let mlx = if cfg!(target_os = "macos") { MLX_MACOS } else { MLX_LINUX };
    run_with_spinner(
        ctx,
        "installing mlx-lm (about 350 MB, once)",
        Command::new(venv.join("bin/pip")).args([
            "install",
            "--disable-pip-version-check",
            "--progress-bar",
            "off",
            mlx,
            MLX_LM,
        ]),
    )?;
    if !usable(&py) {
        bail!("the lab venv `{}` still cannot import mlx_lm", venv.display());
    }
    Ok(py)
}

fn inventory_text(args: &LabUpArgs, dir: &Path, python: &Path) -> String {
    let mut s = String::from(
        "# The lab: written by `garnet lab up`; every node is this machine, each with its own folder and ports.\n\
         cluster: {slug: lab, tier: pro}\n\
         defaults: {transport: local, service_backend: process}\n\
         nodes:\n",
    );
    for i in 0..args.nodes {
        let roles = if i == 0 { "[router, loader]" } else { "[loader]" };
        s.push_str(&format!(
            "  - {{name: lab{n}, garnet_home: {home}, port_offset: {off}, roles: {roles}}}\n",
            n = i + 1,
            home = dir.join(format!("nodes/lab{}", i + 1)).display(),
            off = u32::from(i) * 100,
        ));
    }
    s.push_str(&format!(
        "models:\n  - {{name: tiny, source: {model}, max_tokens: 256, port: {lp}}}\n\
         placement:\n  tiny: {{nodes: [{nodes}]}}\n\
         router: {{listen: \"127.0.0.1:{api}\", admin_listen: \"127.0.0.1:{admin}\", token_file: {dir}/router.token}}\n\
         monitor: {{interval_secs: 15, health_port: {hp}}}\n\
         store: {{kind: local, path: {dir}/store}}\n\
         deploy: {{python: {py}}}\n\
         # Illustrative prices, so `garnet dashboard` and `garnet report` have a cost per token to\n\
         # show: this machine's hardware is not priced (listed as unpriced), a retainer sets the scale.\n\
         cost:\n  retainer_usd_month: 100\n  usd_per_kwh: 0.21\n  api_prices:\n\
         \x20   - {{name: gpt-4o-mini, input_usd_per_mtok: 0.15, cached_input_usd_per_mtok: 0.075, output_usd_per_mtok: 0.60}}\n",
        model = dir.join("model").display(),
        lp = args.port.saturating_add(21),
        nodes = (1..=args.nodes).map(|i| format!("lab{i}")).collect::<Vec<_>>().join(", "),
        api = args.port,
        admin = args.port.saturating_add(1),
        hp = args.port.saturating_add(29),
        dir = dir.display(),
        py = python.display(),
    ));
    s
}

/// The ports the lab uses: per node k (offset 100·k) the API, the admin API, the loader and the
/// monitor's health endpoint (only node 1 runs the router).
pub fn lab_ports(base: u16, nodes: u16) -> Vec<u16> {
    let mut v = vec![base, base.saturating_add(1)];
    for k in 0..nodes {
        let off = k.saturating_mul(100);
        v.push(base.saturating_add(21).saturating_add(off));
        v.push(base.saturating_add(29).saturating_add(off));
    }
    v
}

/// Ports another program already holds (a lab of ours that is up owns its own: not a conflict).
fn busy_ports(ports: &[u16], inventory: &Path) -> Vec<u16> {
    if inventory.exists() {
        return Vec::new(); // `lab up` again: its services hold these ports and stay as they are
    }
    ports.iter().copied().filter(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_err()).collect()
}

async fn up(args: &LabUpArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let dir = absolute(&args.lab.dir)?;
    let busy = busy_ports(&lab_ports(args.port, args.nodes), &dir.join("inventory.yaml"));
    if !busy.is_empty() {
        return Err(crate::exit::UsageError(format!(
            "port(s) {} are in use by another program; pick another base with `--port` (the lab uses it, +1, and +21/+29 per node, nodes 100 apart)",
            busy.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
        ))
        .into());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create the lab folder `{}`", dir.display()))?;
    let python = ensure_python(args, &dir, ctx)?;
    let model = dir.join("model");
    if !model.join("model.safetensors").exists() {
        let script = dir.join("make_tiny_model.py");
        std::fs::write(&script, MAKE_TINY_MODEL)?;
        run_with_spinner(ctx, "generating the tiny model", Command::new(&python).arg(&script).arg(&model))?;
    }
    let inv = dir.join("inventory.yaml");
    std::fs::write(&inv, inventory_text(args, &dir, &python))?;

    let mut global = ctx.global.clone();
    global.inventory = inv.clone();
    global.yes = true;
    global.limit.clear();
    let lab_ctx = Ctx::new(global, ctx.argv.clone());
    let deploy = DeployArgs { binary: None, no_verify: false, ready_timeout: std::time::Duration::from_secs(300) };
    let status = super::deploy::run(&deploy, &lab_ctx).await?;
    if status != ExitStatus::Success {
        return Ok(status);
    }
    let p = &ctx.printer;
    let base = format!("http://127.0.0.1:{}/v1", args.port);
    if p.json {
        p.json_line(&serde_json::json!({"event": "lab_up", "openai_base_url": base, "model": "tiny", "inventory": inv, "nodes": args.nodes}));
    } else {
        let inv_arg = crate::transport::shell_quote(&inv.display().to_string());
        p.out(format!(
            "\nThe lab is up: {n} node(s), model `tiny`.\n\
             \n  OpenAI API   {base}   (any API key; model \"tiny\")\n\
             \n  try it       curl -s {base}/chat/completions -H 'content-type: application/json' \\\n\
             \x20              -d '{{\"model\":\"tiny\",\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}],\"max_tokens\":8}}'\n\
             \x20 load         garnet bench --url {base} --model tiny -d 10s\n\
             \x20 status       garnet -i {inv_arg} status\n\
             \x20 stop         garnet lab down{dir_flag}",
            n = args.nodes,
            dir_flag = if args.lab.dir == Path::new("garnet-lab") { String::new() } else { format!(" --dir {}", args.lab.dir.display()) },
        ));
    }
    Ok(ExitStatus::Success)
}

async fn down(dir: &Path, ctx: &Ctx) -> Result<ExitStatus> {
    let dir = absolute(dir)?;
    let inv_path = dir.join("inventory.yaml");
    if !inv_path.exists() {
        return Err(crate::exit::UsageError(format!("no lab in `{}` (nothing to stop)", dir.display())).into());
    }
    let mut global = ctx.global.clone();
    global.inventory = inv_path;
    global.yes = true;
    global.limit.clear();
    let lab_ctx = Ctx::new(global, ctx.argv.clone());
    let inv = lab_ctx.load_inventory()?;
    let nodes = lab_ctx.select(&inv)?;
    let mut plan_nodes = Vec::new();
    for n in nodes {
        let home = n.garnet_home.clone();
        let script = crate::node::service::prune(
            crate::inventory::ServiceBackend::Process,
            &format!("{home}/run"),
            &home,
            "garnet-*",
            &[],
        );
        plan_nodes.push(crate::plan::NodePlan {
            node: n,
            steps: vec![crate::plan::Step {
                name: "stop services".into(),
                action: crate::plan::Action::Run {
                    command: script,
                    timeout: Some(std::time::Duration::from_secs(60)),
                    stream: false,
                    capture: true,
                    changes: true,
                    unchanged_exit: Some(crate::node::service::UNCHANGED),
                },
            }],
        });
    }
    let plan = crate::plan::Plan { command: "lab down".into(), mutating: true, nodes: plan_nodes };
    let (status, _) = super::run_plan(&lab_ctx, &inv, plan, |_| Vec::new()).await?;
    Ok(status)
}
