//! `garnet deploy`: probe each node (OS, arch, home), build its steps ([`crate::node::deploy`]),
//! run the plan the usual way, then check that every node's monitor has a fresh sample in the store.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use super::{Ctx, run_plan};
use crate::ExitStatus;
use crate::cli::DeployArgs;
use crate::exit::UsageError;
use crate::inventory::{Inventory, Node};
use crate::node::deploy::{self as nd, Inputs};
use crate::node::files::LocalFile;
use crate::node::target::Target;
use crate::plan::{Action, NodePlan, Plan, Step};
use crate::transport::{ConnectOptions, RunRequest};

/// Runs the probe on every node at once (bounded by `--forks`); an error says why a node could not
/// be probed (it is then planned with a step that fails with that reason).
pub(crate) async fn probe_all(
    nodes: &[Arc<Node>],
    forks: usize,
    connect: &ConnectOptions,
) -> BTreeMap<String, Result<Target, String>> {
    let sem = Arc::new(tokio::sync::Semaphore::new(forks.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for n in nodes {
        let (n, sem, connect) = (n.clone(), sem.clone(), connect.clone());
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let r = async {
                let conn = crate::transport::connect(&n, &connect).await.map_err(|e| e.to_string())?;
                let out = conn
                    .run(RunRequest {
                        command: Target::PROBE.into(),
                        capture: true,
                        timeout: Some(Duration::from_secs(30)),
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| e.to_string());
                conn.close().await;
                let out = out?;
                if !out.success() {
                    return Err(format!("probe failed ({})", out.describe()));
                }
                Target::parse(&String::from_utf8_lossy(&out.stdout))
            }
            .await;
            (n.name.clone(), r)
        });
    }
    let mut out = BTreeMap::new();
    while let Some(r) = set.join_next().await {
        if let Ok((name, r)) = r {
            out.insert(name, r);
        }
    }
    out
}

/// Applies the latest placement record (ad-hoc entries, moves) to `inv` and returns its variants
/// (none before the first hot-swap).
pub(crate) async fn load_variants(inv: &mut Inventory) -> Result<crate::placement::record::Variants> {
    let store = crate::store::open(inv).await?;
    let latest = crate::placement::record::latest(store.as_ref(), &inv.cluster.slug)
        .await
        .with_context(|| format!("reading the placement record from {}", store.describe()))?;
    Ok(match latest {
        Some((_, r)) => {
            crate::placement::record::apply(inv, &r);
            r.variants
        }
        None => Default::default(),
    })
}

/// The plan of a node the probe could not reach or read: one step failing with the reason (so
/// the node ends `unreachable` or `failed`, never silently skipped).
pub(crate) fn unprobed(
    p: &crate::output::Printer,
    n: &Node,
    probe: Option<&Result<Target, String>>,
    what: &str,
) -> Vec<Step> {
    let why = match probe {
        Some(Err(e)) => e.clone(),
        _ => "not probed".into(),
    };
    p.warn(format!("{}: {why}", n.name));
    vec![Step {
        name: "probe".into(),
        action: Action::Run {
            command: format!("echo {} >&2; exit 1", crate::transport::shell_quote(&format!("cannot {what}: {why}"))),
            timeout: None,
            stream: false,
            capture: true,
            changes: false,
            unchanged_exit: None,
        },
    }]
}

/// A random admin token (hex), for a `router.token_file` that does not exist yet.
fn new_token() -> Result<String> {
    use std::io::Read;
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn router_token(inv: &Inventory, dry_run: bool, p: &crate::output::Printer) -> Result<Option<Vec<u8>>> {
    let Some(r) = &inv.router else { return Ok(None) };
    if !inv.nodes.iter().any(|n| n.has_role("router")) {
        return Ok(None);
    }
    let Some(f) = &r.token_file else {
        return Err(UsageError(
            "the router needs an admin token: set `router.token_file` (a 0600 file; deploy creates it if missing)"
                .into(),
        )
        .into());
    };
    if !f.exists() {
        if dry_run {
            p.note(format!("would create the router admin token `{}` (0600)", f.display()));
            return Ok(Some(b"(new token)".to_vec()));
        }
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        if let Some(d) = f.parent() {
            std::fs::create_dir_all(d)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(f)
            .with_context(|| format!("cannot create the router token file `{}`", f.display()))?;
        writeln!(file, "{}", new_token()?)?;
        p.note(format!("created the router admin token `{}` (0600)", f.display()));
    }
    Ok(Some(crate::util::read_secret_file(f)?.trim().as_bytes().to_vec()))
}

/// Everything a deploy plans from: the inventory with the placement record applied, the selected
/// nodes and their probes, and the local inputs (binaries, model files, secrets) read before any
/// node is touched.
pub(crate) struct Prepared {
    pub inv: Inventory,
    pub nodes: Vec<Arc<Node>>,
    pub targets: BTreeMap<String, Result<Target, String>>,
    binaries: BTreeMap<String, LocalFile>,
    models: BTreeMap<String, Vec<(String, LocalFile)>>,
    router_token: Option<Vec<u8>>,
    store_credentials: Option<Vec<u8>>,
    variants: crate::placement::record::Variants,
}

impl Prepared {
    pub fn inputs(&self, ready_timeout: Duration) -> Inputs<'_> {
        Inputs {
            inv: &self.inv,
            binaries: self.binaries.clone(),
            models: self.models.clone(),
            router_token: self.router_token.clone(),
            store_credentials: self.store_credentials.clone(),
            ready_timeout,
            variants: self.variants.clone(),
        }
    }
}

/// `writes`: a missing router token file is created (deploy), or only said (dry run, runbook).
pub(crate) async fn prepare(ctx: &Ctx, binary: Option<&std::path::Path>, writes: bool) -> Result<Prepared> {
    let mut inv = ctx.load_inventory()?;
    let nodes = ctx.select(&inv)?;
    let p = &ctx.printer;
    let connect = ctx.connect_options();

    let variants = load_variants(&mut inv).await?;
    // Local inputs first: a missing model folder or secret fails before any node is touched.
    let mut models = BTreeMap::new();
    let serving: std::collections::BTreeSet<&str> = nodes
        .iter()
        .flat_map(|n| crate::node::blocks::serving_here(&inv, &variants, &n.name))
        .map(|m| m.name.as_str())
        .collect();
    for m in &inv.models {
        let Some(dir) = &m.local_path else { continue };
        if !serving.contains(m.name.as_str()) {
            continue;
        }
        let files = crate::node::files::model_files(dir)
            .map_err(|e| UsageError(format!("model `{}`: cannot read `{}`: {e}", m.name, dir.display())))?;
        if files.is_empty() {
            return Err(UsageError(format!("model `{}`: `{}` holds no files", m.name, dir.display())).into());
        }
        models.insert(m.name.clone(), files);
    }
    let store_credentials = match &inv.store.credentials_file {
        Some(f) if inv.store.kind == crate::inventory::StoreKind::S3 => {
            Some(crate::util::read_secret_file(f)?.into_bytes())
        }
        _ => None,
    };
    let router_token = router_token(&inv, !writes, p)?;

    let targets = probe_all(&nodes, ctx.global.forks as usize, &connect).await;
    let mut binaries = BTreeMap::new();
    for (name, path) in &inv.deploy.binaries {
        let f = LocalFile::read(&crate::inventory::expand_path(
            inv.path.parent().unwrap_or(std::path::Path::new(".")),
            path,
        ))
        .map_err(|e| UsageError(format!("deploy.binaries.{name}: cannot read `{}`: {e}", path.display())))?;
        binaries.insert(name.clone(), f);
    }
    let needed: std::collections::BTreeSet<String> =
        targets.values().filter_map(|t| t.as_ref().ok()).map(Target::platform).collect();
    for platform in needed {
        if binaries.contains_key(&platform) {
            continue;
        }
        let path = match (binary, platform == crate::node::target::local_platform()) {
            (Some(b), _) => b.to_path_buf(),
            (None, true) => std::env::current_exe().context("cannot find this garnet binary")?,
            (None, false) => continue, // reported per node by the plan builder
        };
        let f =
            LocalFile::read(&path).with_context(|| format!("cannot read the garnet binary `{}`", path.display()))?;
        binaries.insert(platform, f);
    }
    Ok(Prepared { inv, nodes, targets, binaries, models, router_token, store_credentials, variants })
}

/// The deploy of every selected node as a runbook: per node, each part's steps as the shell a
/// person pastes (secrets written from the operator's own files, never shown).
pub(crate) async fn runbook(
    ctx: &Ctx,
    only: Option<&str>,
    values_of: &dyn Fn(&Inventory, &Node) -> Result<crate::procedure::Values>,
) -> Result<String> {
    let pr = prepare(ctx, None, false).await?;
    let input = pr.inputs(Duration::from_secs(600));
    let mut out = Vec::new();
    // Each node's parts in turn; every node's checks at the end, once all of them run (a router
    // serves a model only once the node loading it is up).
    let mut checks = Vec::new();
    for n in pr.nodes.iter().filter(|n| only.is_none_or(|o| o == n.name)) {
        let t = match pr.targets.get(&n.name) {
            Some(Ok(t)) => t,
            Some(Err(e)) => anyhow::bail!("{}: {e}", n.name),
            None => anyhow::bail!("{}: not probed", n.name),
        };
        let probe = vec![Step {
            name: "probe".into(),
            action: Action::Run {
                command: Target::PROBE.into(),
                timeout: None,
                stream: false,
                capture: true,
                changes: false,
                unchanged_exit: None,
            },
        }];
        let parts = nd::node_parts(n, t, &input).map_err(UsageError)?;
        let steps: Vec<crate::procedure::Step> = std::iter::once(nd::Part { name: "probe", steps: probe })
            .chain(parts)
            .filter_map(|p| {
                let work = vec![NodePlan { node: n.clone(), steps: p.steps }];
                if p.name == "checks" {
                    checks.extend(work);
                    return None;
                }
                Some(crate::procedure::Step {
                    template: crate::procedure::DEPLOY.step(p.name),
                    work,
                    undo_work: Vec::new(),
                    by_hand: None,
                })
            })
            .collect();
        let refs: Vec<&crate::procedure::Step> = steps.iter().collect();
        let mut values = values_of(&pr.inv, n)?;
        values.insert("ssh".to_string(), crate::procedure::shell::ssh(n));
        values.insert("h".to_string(), t.garnet_home(&n.garnet_home));
        values.insert("node".to_string(), n.name.clone());
        values.insert("cluster".to_string(), pr.inv.cluster.slug.clone());
        out.push(crate::procedure::render_steps(
            &crate::procedure::DEPLOY,
            &format!("`deploy` on {}", n.name),
            &refs,
            &values,
        ));
    }
    if out.is_empty() {
        return Err(UsageError(format!("no node `{}` selected", only.unwrap_or("?"))).into());
    }
    let checks = crate::procedure::Step {
        template: crate::procedure::DEPLOY.step("checks"),
        work: checks,
        undo_work: Vec::new(),
        by_hand: None,
    };
    out.push(crate::procedure::render_steps(
        &crate::procedure::DEPLOY,
        "checks, once every node above is done",
        &[&checks],
        &BTreeMap::new(),
    ));
    Ok(out.join("\n"))
}

pub async fn run(args: &DeployArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let pr = prepare(ctx, args.binary.as_deref(), !ctx.global.dry_run).await?;
    let p = &ctx.printer;
    let input = pr.inputs(args.ready_timeout);
    let (inv, nodes, targets) = (&pr.inv, &pr.nodes, &pr.targets);
    let mut plan_nodes = Vec::new();
    for n in nodes {
        let steps = match targets.get(&n.name) {
            Some(Ok(t)) => nd::node_steps(n, t, &input).map_err(UsageError)?,
            other => unprobed(p, n, other, "deploy"),
        };
        plan_nodes.push(NodePlan { node: n.clone(), steps });
    }
    let plan = Plan { command: "deploy".into(), mutating: true, nodes: plan_nodes };
    let started = jiff::Timestamp::now();
    let (status, report) = run_plan(ctx, inv, plan, |_| Vec::new()).await?;
    let Some(report) = report else { return Ok(status) };
    if args.no_verify || report.interrupted {
        return Ok(status);
    }
    // Each node that deployed has a sample in the store from this interval (the monitor samples at
    // start, so a restarted one has a new one; an unchanged one has one from the last interval).
    let ok: Vec<&str> = report.nodes.iter().filter(|n| n.outcome.succeeded()).map(|n| n.node.name.as_str()).collect();
    if ok.is_empty()
        || inv.store.kind == crate::inventory::StoreKind::Local
            && nodes.iter().any(|n| n.transport != crate::inventory::TransportKind::Local)
    {
        return Ok(status);
    }
    let store = crate::store::open(inv).await?;
    let since = started - jiff::SignedDuration::from_secs(i64::from(inv.monitor.interval_secs) + 5);
    // A monitor that had to be restarted (its supervisor backs off) samples later: allow an interval.
    let deadline = std::time::Instant::now() + Duration::from_secs(30 + u64::from(inv.monitor.interval_secs));
    let mut missing: Vec<&str> = ok.clone();
    while !missing.is_empty() {
        let mut still = Vec::new();
        for n in &missing {
            match crate::telemetry::read::latest(store.as_ref(), &inv.cluster.slug, n).await {
                Ok(Some((at, _))) if at >= since => {}
                _ => still.push(*n),
            }
        }
        missing = still;
        if missing.is_empty() || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if missing.is_empty() {
        p.note(format!(
            "verified: loaders and router answer, and {} node(s) have a fresh sample in {}",
            ok.len(),
            store.describe()
        ));
        Ok(status)
    } else {
        p.warn(format!(
            "no fresh telemetry sample in {} from: {} (check `garnet-monitor` logs under the node's run/)",
            store.describe(),
            missing.join(", ")
        ));
        Ok(if missing.len() == ok.len() { ExitStatus::Failure } else { ExitStatus::Partial })
    }
}
