//! What `deploy` puts on one node, as plan steps: the garnet binary, the loader runtime, the model
//! files, config and credentials, the services (loaders, router, monitor) and the readiness checks.
//!
//! Pure: from the inventory, the node's probed [`Target`] (OS, arch, home) and local file digests
//! to a step list. Every step is idempotent, so a second deploy reports `ok` everywhere and
//! restarts nothing; a service restarts exactly when its generation (the hash of its definition and
//! of everything it reads) changed.
//!
//! Layout under the node's garnet home `H`:
//! `bin/garnet`, `venv/` (when garnet creates the runtime), `models/<model>/`, `etc/node.json`,
//! `etc/routes.json`, `etc/router.token` and `etc/store.credentials` (0600), `run/` (pidfiles,
//! logs, generations), `spool/` (the monitor's), `services/` (process backend start scripts).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::config::{LoaderWatch, NodeConfig, RouterAdmin};
use super::service::{self, ServiceSpec};
use crate::inventory::{Inventory, ModelSpec, Node, Os, ServiceBackend, StoreKind};
use crate::plan::{Action, Step};
use crate::transport::shell_quote;

/// Pinned loader packages for a venv deploy creates (the versions the tests run).
pub const MLX_LM: &str = "mlx-lm==0.32.2";
pub const MLX_LINUX: &str = "mlx[cpu]==0.32.4";
pub const MLX_MACOS: &str = "mlx==0.32.4";

/// What the pre-flight probe learned about a node.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub os: Os,
    /// `x86_64`, `aarch64`
    pub arch: String,
    /// The login user's home directory.
    pub home: String,
}

impl Target {
    /// The probe script: one `key=value` per line.
    pub const PROBE: &'static str = "echo \"os=$(uname -s)\"; echo \"arch=$(uname -m)\"; echo \"home=$HOME\"";

    pub fn parse(out: &str) -> Result<Target, String> {
        let get = |k: &str| out.lines().find_map(|l| l.strip_prefix(k)?.strip_prefix('=')).map(str::trim);
        let os = match get("os") {
            Some("Darwin") => Os::Macos,
            Some("Linux") => Os::Linux,
            other => return Err(format!("unsupported OS `{}`", other.unwrap_or("?"))),
        };
        let arch = match get("arch").unwrap_or("") {
            "arm64" | "aarch64" => "aarch64",
            "x86_64" | "amd64" => "x86_64",
            a => return Err(format!("unsupported CPU architecture `{a}`")),
        }
        .to_string();
        let home = get("home").filter(|h| h.starts_with('/')).ok_or("no home directory")?.to_string();
        Ok(Target { os, arch, home })
    }

    /// `linux-x86_64`, `macos-aarch64`: the key of `deploy.binaries`.
    pub fn platform(&self) -> String {
        format!("{}-{}", if self.os == Os::Macos { "macos" } else { "linux" }, self.arch)
    }

    /// The node's garnet home as an absolute path.
    pub fn garnet_home(&self, configured: &str) -> String {
        let c = configured.trim_end_matches('/');
        if c == "~" {
            self.home.clone()
        } else if let Some(rest) = c.strip_prefix("~/") {
            format!("{}/{rest}", self.home)
        } else if c.starts_with('/') {
            c.to_string()
        } else {
            format!("{}/{c}", self.home)
        }
    }
}

/// This machine's platform, in [`Target::platform`]'s spelling.
pub fn local_platform() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

/// A local file with its digest (computed once per deploy, shared by every node).
#[derive(Debug, Clone)]
pub struct LocalFile {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

impl LocalFile {
    pub fn read(path: &Path) -> std::io::Result<LocalFile> {
        use std::io::Read;
        let mut f = std::fs::File::open(path)?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            h.update(&buf[..n]);
        }
        Ok(LocalFile { path: path.to_path_buf(), size, sha256: hex(&h.finalize()) })
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sha(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex(&h.finalize())[..16].to_string()
}

/// A model folder's files (relative path → file), hidden files skipped.
pub fn model_files(dir: &Path) -> std::io::Result<Vec<(String, LocalFile)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let p = e.path();
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if e.file_type()?.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("under dir").to_string_lossy().into_owned();
                out.push((rel, LocalFile::read(&p)?));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Everything local a deploy reads, gathered once.
pub struct Inputs<'a> {
    pub inv: &'a Inventory,
    /// The garnet binary per platform.
    pub binaries: BTreeMap<String, LocalFile>,
    /// Model name → its local files (models with a local source).
    pub models: BTreeMap<String, Vec<(String, LocalFile)>>,
    pub router_token: Option<Vec<u8>>,
    pub store_credentials: Option<Vec<u8>>,
    pub ready_timeout: Duration,
    /// The latest placement record's variants.
    pub variants: crate::placement::record::Variants,
}

/// The model entries whose loaders run on `node`.
pub fn serving_here<'a>(
    inv: &'a Inventory,
    variants: &crate::placement::record::Variants,
    node: &str,
) -> Vec<&'a ModelSpec> {
    inv.models
        .iter()
        .filter(|m| inv.placement.get(&m.name).is_some_and(|p| p.nodes.iter().any(|n| n == node)))
        .map(|m| crate::placement::record::serving(inv, variants, m, node))
        .collect()
}

/// A loader or router readiness check the deploy runs on the node.
fn wait_ready(h: &str, url: &str, model: &str, timeout: Duration, log: &str) -> String {
    format!(
        "{} wait-ready {} --model {} --timeout {}s --log {}",
        shell_quote(&crate::node::layout::garnet(h)),
        shell_quote(url),
        shell_quote(model),
        timeout.as_secs(),
        shell_quote(log)
    )
}

fn run(command: String, changes: bool, timeout: Option<Duration>) -> Action {
    Action::Run {
        command,
        timeout,
        stream: false,
        capture: true,
        changes,
        unchanged_exit: changes.then_some(service::UNCHANGED),
    }
}

fn step(name: impl Into<String>, action: Action) -> Step {
    Step { name: name.into(), action }
}

/// The service name of a model's loader.
pub fn loader_service(model: &str) -> String {
    let slug: String = model
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_ascii_lowercase() } else { '-' })
        .collect();
    format!("garnet-loader-{slug}")
}

/// A listener address shifted by a node's `port_offset`: what to bind, and the URL that reaches it
/// from the node itself (`0.0.0.0` → `127.0.0.1`).
pub fn local_url(listen: &str, offset: u16) -> (String, String) {
    let addr: std::net::SocketAddr = listen.parse().unwrap_or_else(|_| "127.0.0.1:8080".parse().expect("literal"));
    let port = addr.port().saturating_add(offset);
    let bind = std::net::SocketAddr::new(addr.ip(), port).to_string();
    let reach = if addr.ip().is_unspecified() { format!("127.0.0.1:{port}") } else { bind.clone() };
    (bind, format!("http://{reach}"))
}

/// One part of a deploy on a node: a step of the deploy runbook ([`crate::procedure::DEPLOY`]).
pub struct Part {
    pub name: &'static str,
    pub steps: Vec<Step>,
}

/// The steps for one node.
pub fn node_steps(node: &Node, t: &Target, input: &Inputs<'_>) -> Result<Vec<Step>, String> {
    Ok(node_parts(node, t, input)?.into_iter().flat_map(|p| p.steps).collect())
}

/// The steps for one node, by runbook part: binary, runtime, models, config, services, checks.
pub fn node_parts(node: &Node, t: &Target, input: &Inputs<'_>) -> Result<Vec<Part>, String> {
    let inv = input.inv;
    let h = t.garnet_home(&node.garnet_home);
    let binary = input.binaries.get(&t.platform()).ok_or_else(|| {
        format!(
            "no garnet binary for {} ({}): pass `--binary FILE` or set `deploy.binaries.{}`",
            node.name,
            t.platform(),
            t.platform()
        )
    })?;
    let copy_binary = step(
        "garnet binary",
        Action::Copy {
            source: binary.path.clone(),
            path: crate::node::layout::garnet(&h),
            mode: 0o755,
            size: binary.size,
            sha256: binary.sha256.clone(),
        },
    );
    // The loaders this node runs: for each model placed here, the entry serving it (a hot-swap may
    // have put another entry, a variant, in its place).
    let placed = serving_here(inv, &input.variants, &node.name);
    let (runtime, python) = runtime_steps(inv, &h, t, !placed.is_empty());
    let mut models = Vec::new();
    let mut model_gen: BTreeMap<String, String> = BTreeMap::new();
    for m in &placed {
        let (steps, generation) = model_steps(&h, m, input.models.get(&m.name), &python);
        models.extend(steps);
        model_gen.insert(m.name.clone(), generation);
    }
    let config = config_steps(node, &h, input);
    let (services, checks) = service_steps(node, t, &h, input, &placed, &python, &model_gen, &binary.sha256);
    Ok(vec![
        Part { name: "garnet binary", steps: vec![copy_binary] },
        Part { name: "loader runtime", steps: runtime },
        Part { name: "models", steps: models },
        Part { name: "config and secrets", steps: config },
        Part { name: "services", steps: services },
        Part { name: "checks", steps: checks },
    ])
}

/// The loaders' python: the one `deploy.python` names (checked), or a venv with the pinned
/// packages (created or kept); and its path. Nothing when the node runs no loader.
fn runtime_steps(inv: &Inventory, h: &str, t: &Target, has_loaders: bool) -> (Vec<Step>, String) {
    match &inv.deploy.python {
        Some(py) => {
            let check = step(
                "loader runtime (existing python)",
                run(
                    format!(
                        "out=$({py} -c 'import mlx_lm' 2>&1) || {{ echo \"{py} cannot import mlx_lm ($(echo \"$out\" | tail -n 1)): install mlx-lm there or drop deploy.python\" >&2; exit 1; }}",
                        py = shell_quote(py)
                    ),
                    false,
                    Some(Duration::from_secs(120)),
                ),
            );
            (if has_loaders { vec![check] } else { Vec::new() }, py.clone())
        }
        None => {
            let venv = crate::node::layout::venv(h);
            let packages = inv.deploy.packages.clone().unwrap_or_else(|| {
                vec![(if t.os == Os::Macos { MLX_MACOS } else { MLX_LINUX }).to_string(), MLX_LM.to_string()]
            });
            let want = packages.join(" ");
            let create = step(
                "loader runtime (venv)",
                run(
                    format!(
                        "v={v}; want={w}\n\
                         if [ -x \"$v/bin/python\" ] && [ \"$(cat \"$v/.garnet-packages\" 2>/dev/null)\" = \"$want\" ]; then exit {u}; fi\n\
                         python3 -m venv \"$v\" && \"$v/bin/pip\" install -q --disable-pip-version-check {pk} && printf '%s' \"$want\" > \"$v/.garnet-packages\"",
                        v = shell_quote(&venv),
                        w = shell_quote(&want),
                        u = service::UNCHANGED,
                        pk = packages.iter().map(|p| shell_quote(p)).collect::<Vec<_>>().join(" "),
                    ),
                    true,
                    Some(Duration::from_secs(1800)),
                ),
            );
            (if has_loaders { vec![create] } else { Vec::new() }, format!("{venv}/bin/python"))
        }
    }
}

/// The monitor's config and the secrets (mode 0600); on a router node its routes and token.
fn config_steps(node: &Node, h: &str, input: &Inputs<'_>) -> Vec<Step> {
    let inv = input.inv;
    let mut steps = Vec::new();
    if let Some(c) = &input.store_credentials {
        steps.push(step(
            "store credentials",
            Action::Upload {
                path: crate::node::layout::etc(h, "store.credentials"),
                contents: c.clone(),
                mode: 0o600,
                secret: Some(inv.store.credentials_file.clone().unwrap_or_default()),
            },
        ));
    }
    steps.push(node_config_step(node, inv, h, &input.variants, input.store_credentials.is_some()));
    if node.has_role("router") && inv.router.is_some() {
        let routes = crate::router::table::RoutesConfig::from_inventory_with(inv, &input.variants);
        let mut routes_json = serde_json::to_vec_pretty(&routes).expect("serializes");
        routes_json.push(b'\n');
        steps.push(step(
            "router routes",
            Action::Upload {
                path: crate::node::layout::etc(h, "routes.json"),
                contents: routes_json,
                mode: 0o644,
                secret: None,
            },
        ));
        steps.push(step(
            "router admin token",
            Action::Upload {
                path: crate::node::layout::etc(h, "router.token"),
                contents: input.router_token.clone().unwrap_or_default(),
                mode: 0o600,
                secret: Some(inv.router.as_ref().and_then(|r| r.token_file.clone()).unwrap_or_default()),
            },
        ));
    }
    steps
}

/// The services (loaders first, then the router in front of them, then the monitor watching
/// all), the routes applied, loaders no longer placed removed; and the readiness checks.
#[allow(clippy::too_many_arguments, reason = "the parts `node_parts` computed before, named at its one call")]
fn service_steps(
    node: &Node,
    t: &Target,
    h: &str,
    input: &Inputs<'_>,
    placed: &[&ModelSpec],
    python: &str,
    model_gen: &BTreeMap<String, String>,
    binary_sha: &str,
) -> (Vec<Step>, Vec<Step>) {
    let inv = input.inv;
    let run_dir = crate::node::layout::run(h);
    let backend = service::backend_for(node.service_backend, Some(t.os));
    let garnet = crate::node::layout::garnet(h);
    let is_router = node.has_role("router") && inv.router.is_some();
    let router_spec = inv.router.clone();
    let admin = router_spec.as_ref().map(|r| local_url(&r.admin_listen, node.port_offset));
    let token = input.router_token.clone().unwrap_or_default();
    let cred_digest = input.store_credentials.clone().unwrap_or_default();
    // Each service, what its generation depends on, and the (url, model id) to check it with.
    type Check = Option<(String, String)>;
    let mut services: Vec<(ServiceSpec, Vec<u8>, Check)> = Vec::new();
    for m in placed {
        let (spec, url) = loader_spec(node, h, python, m, inv);
        let deps = model_gen.get(&m.name).cloned().unwrap_or_default().into_bytes();
        services.push((spec, deps, Some((url, m.loader_id()))));
    }
    let mut router_checks = Vec::new();
    if let (true, Some(r), Some((admin_bind, _))) = (is_router, &router_spec, &admin) {
        let (listen, url) = local_url(&r.listen, node.port_offset);
        let spec = ServiceSpec {
            name: "garnet-router".into(),
            program: garnet.clone(),
            args: vec![
                "router".into(),
                "--routes".into(),
                crate::node::layout::etc(h, "routes.json"),
                "--listen".into(),
                listen,
                "--admin-listen".into(),
                admin_bind.clone(),
                "--admin-token-file".into(),
                crate::node::layout::etc(h, "router.token"),
                // What it counted survives a restart, even a crash (snapshot + journal).
                "--state-dir".into(),
                crate::node::layout::router_state(h),
            ],
            env: BTreeMap::new(),
            working_dir: Some(h.to_string()),
            run_dir: run_dir.clone(),
            restart: true,
            supervisor: Some(garnet.clone()),
            logs: inv.deploy.logs,
        };
        // Not the routes: a running router takes new routes through its admin API (below), so a
        // placement change never restarts it.
        let deps = [binary_sha.as_bytes(), &token].concat();
        services.push((spec, deps, None));
        for m in inv.models.iter().filter(|m| inv.placement.contains_key(&m.name)) {
            router_checks.push((url.clone(), m.name.clone()));
        }
    }
    // Not the node config: the monitor reloads it when it changes (a hot-swap changes its loaders).
    services.push((monitor_spec(h, inv.deploy.logs), [binary_sha.as_bytes(), &cred_digest].concat(), None));

    let (mut steps, mut checks) = (Vec::new(), Vec::new());
    for (spec, deps, check) in &services {
        steps.extend(install_service(backend, spec, &t.home, h, deps));
        if let Some((url, id)) = check {
            checks.push(step(format!("{} ready", spec.name), ready_check(h, url, id, input.ready_timeout, spec)));
        }
    }
    if let (true, Some((_, admin_url))) = (is_router, &admin) {
        steps.push(step("router routes applied", apply_routes(h, admin_url)));
    }
    let keep: Vec<String> = placed.iter().map(|m| loader_service(&m.name)).collect();
    steps.push(step(
        "remove loaders no longer placed here",
        run(service::prune(backend, &run_dir, h, "garnet-loader-*", &keep), true, Some(Duration::from_secs(60))),
    ));
    for (url, model) in router_checks {
        checks.push(step(
            format!("router serves {model}"),
            run(
                wait_ready(h, &url, &model, input.ready_timeout, &format!("{run_dir}/garnet-router.err.log")),
                false,
                Some(input.ready_timeout + Duration::from_secs(5)),
            ),
        ));
    }
    (steps, checks)
}

/// Steps putting a model's files on the node (or having the node download them), and the digest
/// the loader's generation depends on.
pub fn model_steps(
    h: &str,
    m: &ModelSpec,
    files: Option<&Vec<(String, LocalFile)>>,
    python: &str,
) -> (Vec<Step>, String) {
    let mut steps = Vec::new();
    match files {
        Some(files) => {
            let mut digest = Vec::new();
            for (rel, f) in files {
                steps.push(step(
                    format!("model {} {rel}", m.name),
                    Action::Copy {
                        source: f.path.clone(),
                        path: crate::node::layout::model_file(h, &m.name, rel),
                        mode: 0o644,
                        size: f.size,
                        sha256: f.sha256.clone(),
                    },
                ));
                digest.extend_from_slice(rel.as_bytes());
                digest.extend_from_slice(f.sha256.as_bytes());
            }
            (steps, sha(&[&digest]))
        }
        None => {
            steps.push(step(
                format!("model {} (download on the node)", m.name),
                run(
                    format!(
                        "export HF_HOME={hf}\n\
                         HF_HUB_OFFLINE=1 {py} -c 'import sys; from huggingface_hub import snapshot_download as s; s(sys.argv[1])' {src} >/dev/null 2>&1 && exit {u}\n\
                         {py} -c 'import sys; from huggingface_hub import snapshot_download as s; s(sys.argv[1])' {src}",
                        hf = shell_quote(&crate::node::layout::hf(h)),
                        py = shell_quote(python),
                        src = shell_quote(&m.source),
                        u = service::UNCHANGED
                    ),
                    true,
                    Some(Duration::from_secs(6 * 3600)),
                ),
            ));
            (steps, sha(&[m.source.as_bytes()]))
        }
    }
}

/// The loader service of model entry `m` on `node`, and the URL it answers at (from the node).
pub fn loader_spec(node: &Node, h: &str, python: &str, m: &ModelSpec, inv: &Inventory) -> (ServiceSpec, String) {
    let mut args: Vec<String> = vec![
        "-m".into(),
        "mlx_lm.server".into(),
        "--host".into(),
        node.bind_host(),
        "--port".into(),
        node.port(m.port).to_string(),
        "--model".into(),
        m.loader_id(),
    ];
    if let Some(mt) = m.max_tokens {
        args.extend(["--max-tokens".into(), mt.to_string()]);
    }
    args.extend(inv.deploy.loader_args.iter().cloned());
    let mut env = BTreeMap::from([("HF_HOME".to_string(), crate::node::layout::hf(h))]);
    if m.local_path.is_some() {
        env.insert("HF_HUB_OFFLINE".into(), "1".into());
    }
    let spec = ServiceSpec {
        name: loader_service(&m.name),
        program: python.to_string(),
        args,
        env,
        working_dir: Some(h.to_string()),
        run_dir: crate::node::layout::run(h),
        restart: true,
        supervisor: Some(crate::node::layout::garnet(h)),
        logs: inv.deploy.logs,
    };
    (spec, format!("http://{}:{}", reach_host(&node.bind_host()), node.port(m.port)))
}

/// The python the node's loaders run with.
pub fn python_path(inv: &Inventory, h: &str) -> String {
    inv.deploy.python.clone().unwrap_or_else(|| format!("{}/bin/python", crate::node::layout::venv(h)))
}

/// A service's definition file and the step that makes it run at its generation.
pub fn install_service(backend: ServiceBackend, spec: &ServiceSpec, home: &str, h: &str, deps: &[u8]) -> Vec<Step> {
    let def_path = service::definition_path(backend, spec, home, h);
    let def = service::definition(backend, spec);
    let generation = sha(&[def.as_bytes(), deps]);
    vec![
        step(
            format!("{} definition", spec.name),
            Action::Upload { path: def_path.clone(), contents: def.into_bytes(), mode: 0o644, secret: None },
        ),
        step(
            format!("{} running", spec.name),
            run(service::ensure_running(backend, spec, &def_path, &generation), true, Some(Duration::from_secs(60))),
        ),
    ]
}

/// Waits for a loader to answer a real completion (its log tail printed if it never does).
pub fn ready_check(h: &str, url: &str, model_id: &str, timeout: Duration, spec: &ServiceSpec) -> Action {
    run(wait_ready(h, url, model_id, timeout, &spec.stderr_log()), false, Some(timeout + Duration::from_secs(5)))
}

/// Stops and removes one service (exit 100 if it was not installed).
pub fn remove_service(backend: ServiceBackend, h: &str, name: &str) -> Action {
    run(service::prune(backend, &crate::node::layout::run(h), h, name, &[]), true, Some(Duration::from_secs(60)))
}

/// Replaces the running router's routes with `H/etc/routes.json` unless it has exactly those.
pub fn apply_routes(h: &str, admin_url: &str) -> Action {
    run(
        format!(
            "{} admin-call --url {} --token-file {} apply-routes {}",
            shell_quote(&crate::node::layout::garnet(h)),
            shell_quote(admin_url),
            shell_quote(&crate::node::layout::etc(h, "router.token")),
            shell_quote(&crate::node::layout::etc(h, "routes.json"))
        ),
        true,
        Some(Duration::from_secs(60)),
    )
}

/// The monitor's service.
fn monitor_spec(h: &str, logs: crate::node::logs::LogRotation) -> ServiceSpec {
    ServiceSpec {
        name: "garnet-monitor".into(),
        program: crate::node::layout::garnet(h),
        args: vec!["monitor".into(), "--config".into(), crate::node::layout::etc(h, "node.json")],
        env: BTreeMap::from([("GARNET_LOG".to_string(), "info".to_string())]),
        working_dir: Some(h.to_string()),
        run_dir: crate::node::layout::run(h),
        restart: true,
        supervisor: Some(crate::node::layout::garnet(h)),
        logs,
    }
}

/// The step writing the monitor's config (`H/etc/node.json`) as deploy computes it.
pub fn node_config_step(
    node: &Node,
    inv: &Inventory,
    h: &str,
    variants: &crate::placement::record::Variants,
    with_credentials: bool,
) -> Step {
    let mut store = inv.store.clone();
    if with_credentials {
        store.credentials_file = Some(PathBuf::from(crate::node::layout::etc(h, "store.credentials")));
    }
    if store.kind == StoreKind::Local && node.transport != crate::inventory::TransportKind::Local {
        // A folder on the operator's machine is not reachable from the node: keep it on the node.
        store.path = PathBuf::from(crate::node::layout::store(h));
    }
    let placed = serving_here(inv, variants, &node.name);
    let mut json = serde_json::to_vec_pretty(&node_config(node, inv, h, store, &placed)).expect("serializes");
    json.push(b'\n');
    step(
        "node config",
        Action::Upload { path: crate::node::layout::etc(h, "node.json"), contents: json, mode: 0o644, secret: None },
    )
}

/// The monitor's config for a node.
fn node_config(
    node: &Node,
    inv: &Inventory,
    h: &str,
    store: crate::inventory::StoreSpec,
    placed: &[&ModelSpec],
) -> NodeConfig {
    let is_router = node.has_role("router") && inv.router.is_some();
    NodeConfig {
        cluster: inv.cluster.slug.clone(),
        node: node.name.clone(),
        interval_secs: inv.monitor.interval_secs,
        health_listen: format!("127.0.0.1:{}", node.port(inv.monitor.health_port)),
        spool_dir: PathBuf::from(crate::node::layout::spool(h)),
        spool_max: inv.monitor.spool_max,
        store,
        router: inv.router.as_ref().filter(|_| is_router).map(|r| RouterAdmin {
            admin_url: local_url(&r.admin_listen, node.port_offset).1,
            token_file: PathBuf::from(crate::node::layout::etc(h, "router.token")),
        }),
        loaders: placed
            .iter()
            .map(|m| LoaderWatch {
                model: m.name.clone(),
                service: loader_service(&m.name),
                url: format!("http://{}:{}", reach_host(&node.bind_host()), node.port(m.port)),
                exit_file: Some(PathBuf::from(crate::node::layout::exit_file(h, &loader_service(&m.name)))),
            })
            .collect(),
        power_command: node.power_command.clone(),
        // One monitor compacts the cluster's telemetry: the first router node's (else the first node's).
        compact: inv
            .nodes
            .iter()
            .find(|n| n.has_role("router"))
            .or(inv.nodes.first())
            .is_some_and(|n| n.name == node.name),
        compact_every_secs: None,
    }
}

/// Offboarding one node: the monitor's shipping credentials go, and the monitor either keeps
/// sampling into a folder on the node (`H/store`, the customer's to keep or ship) or is removed.
/// Loaders and the router are not touched. The caller revokes the keys last.
pub fn offboard_steps(
    node: &Node,
    t: &Target,
    inv: &Inventory,
    variants: &crate::placement::record::Variants,
    remove_monitor: bool,
) -> Vec<Step> {
    let h = t.garnet_home(&node.garnet_home);
    let backend = service::backend_for(node.service_backend, Some(t.os));
    let mut steps = vec![step(
        "services that keep running",
        run(
            format!(
                "for f in {}/run/garnet-*.gen; do [ -e \"$f\" ] && basename \"$f\" .gen; done; true",
                shell_quote(&h)
            ),
            false,
            Some(Duration::from_secs(30)),
        ),
    )];
    let monitor = monitor_spec(&h, inv.deploy.logs);
    let def_path = service::definition_path(backend, &monitor, &t.home, &h);
    if remove_monitor {
        steps.push(step(
            "remove the monitor",
            run(
                service::prune(backend, &crate::node::layout::run(&h), &h, "garnet-monitor", &[]),
                true,
                Some(Duration::from_secs(60)),
            ),
        ));
    } else {
        let placed = serving_here(inv, variants, &node.name);
        let local = crate::inventory::StoreSpec::local(PathBuf::from(crate::node::layout::store(&h)));
        let mut node_json = serde_json::to_vec_pretty(&node_config(node, inv, &h, local, &placed)).expect("serializes");
        node_json.push(b'\n');
        let def = service::definition(backend, &monitor);
        let generation = sha(&[def.as_bytes(), &node_json, b"offboarded"]);
        steps.push(step(
            "monitor keeps its samples on the node",
            Action::Upload {
                path: crate::node::layout::etc(&h, "node.json"),
                contents: node_json,
                mode: 0o644,
                secret: None,
            },
        ));
        steps.push(step(
            "monitor restarted without the store",
            run(
                service::ensure_running(backend, &monitor, &def_path, &generation),
                true,
                Some(Duration::from_secs(60)),
            ),
        ));
    }
    steps.push(step(
        "remove the store credentials",
        run(
            format!(
                "f={}; [ -e \"$f\" ] || exit {}; rm -f \"$f\"",
                shell_quote(&crate::node::layout::etc(&h, "store.credentials")),
                service::UNCHANGED
            ),
            true,
            Some(Duration::from_secs(30)),
        ),
    ));
    steps
}

/// Where to reach a listener bound to `bind` from the same machine.
fn reach_host(bind: &str) -> String {
    match bind {
        "0.0.0.0" => "127.0.0.1".into(),
        "::" => "[::1]".into(),
        b if b.contains(':') && !b.starts_with('[') => format!("[{b}]"),
        b => b.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_and_paths() {
        let t = Target::parse("os=Darwin\narch=arm64\nhome=/Users/ops\n").unwrap();
        assert_eq!(t.platform(), "macos-aarch64");
        assert_eq!(t.garnet_home("~/.garnet"), "/Users/ops/.garnet");
        assert_eq!(t.garnet_home("/opt/garnet/"), "/opt/garnet");
        assert_eq!(t.garnet_home("garnet"), "/Users/ops/garnet");
        assert!(Target::parse("os=FreeBSD\narch=amd64\nhome=/h").unwrap_err().contains("FreeBSD"));
        assert_eq!(loader_service("Llama 3.1/8B"), "garnet-loader-llama-3-1-8b");
        assert_eq!(local_url("0.0.0.0:8080", 100), ("0.0.0.0:8180".into(), "http://127.0.0.1:8180".into()));
    }
}
