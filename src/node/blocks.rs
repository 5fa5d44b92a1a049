//! The steps several procedures build from (deploy, hot-swap, offboard): a model's files on a
//! node, a loader's service, installing and removing a service at its generation, readiness
//! checks, routes applied through the router's admin API, the monitor's service and config.
//! Pure: inventory and paths in, plan steps out.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::config::{LoaderWatch, NodeConfig, RouterAdmin};
use super::files::{LocalFile, sha};
use super::service::{self, ServiceSpec};
use crate::inventory::{Inventory, ModelSpec, Node, ServiceBackend, StoreKind};
use crate::plan::{Action, Step};
use crate::transport::shell_quote;

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
pub(crate) fn wait_ready(h: &str, url: &str, model: &str, timeout: Duration, log: &str) -> String {
    format!(
        "{} wait-ready {} --model {} --timeout {}s --log {}",
        shell_quote(&crate::node::layout::garnet(h)),
        shell_quote(url),
        shell_quote(model),
        timeout.as_secs(),
        shell_quote(log)
    )
}

pub(crate) fn run(command: String, changes: bool, timeout: Option<Duration>) -> Action {
    Action::Run {
        command,
        timeout,
        stream: false,
        capture: true,
        changes,
        unchanged_exit: changes.then_some(service::UNCHANGED),
    }
}

pub(crate) fn step(name: impl Into<String>, action: Action) -> Step {
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
    args.extend(m.loader_args.iter().cloned());
    let mut env = BTreeMap::from([
        ("HF_HOME".to_string(), crate::node::layout::hf(h)),
        ("TMPDIR".to_string(), crate::node::layout::tmp(h)),
    ]);
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
pub(crate) fn monitor_spec(h: &str, logs: crate::node::logs::LogRotation) -> ServiceSpec {
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
pub(crate) fn node_config(
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
    fn names_and_urls() {
        assert_eq!(loader_service("Llama 3.1/8B"), "garnet-loader-llama-3-1-8b");
        assert_eq!(local_url("0.0.0.0:8080", 100), ("0.0.0.0:8180".into(), "http://127.0.0.1:8180".into()));
    }
}
