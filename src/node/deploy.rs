//! What `deploy` puts on one node, as plan steps: the garnet binary, the loader runtime, the model
//! files, config and credentials, the services (loaders, router, monitor) and the readiness checks.
//!
//! Pure: from the inventory, the node's probed [`Target`] (OS, arch, home) and local file digests
//! to a step list. Every step is idempotent, so a second deploy reports `ok` everywhere and
//! restarts nothing; a service restarts exactly when its generation (the hash of its definition and
//! of everything it reads) changed.
//! The parts ([`Part`]) are the deploy runbook's steps (`procedure::DEPLOY`): the command runs them
//! flattened, `garnet runbook deploy` renders them as shell. Paths: [`crate::node::layout`].

use std::collections::BTreeMap;
use std::time::Duration;

use super::blocks::{
    apply_routes, install_service, loader_service, loader_spec, local_url, model_steps, monitor_spec, node_config_step,
    ready_check, run, serving_here, step, wait_ready,
};
use super::files::LocalFile;
use super::service::{self, ServiceSpec};
use super::target::Target;
use crate::inventory::{Inventory, ModelSpec, Node, Os};
use crate::plan::{Action, Step};
use crate::transport::shell_quote;

/// Pinned loader packages for a venv deploy creates (the versions the tests run).
pub const MLX_LM: &str = "mlx-lm==0.32.2";
pub const MLX_LINUX: &str = "mlx[cpu]==0.32.4";
pub const MLX_MACOS: &str = "mlx==0.32.4";

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
