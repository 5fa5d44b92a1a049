//! What `offboard` does on one node, as plan steps: the monitor kept sampling on the node (or
//! removed), the store credentials removed. Loaders and the router are never touched.

use std::path::PathBuf;
use std::time::Duration;

use super::blocks::{monitor_spec, node_config, run, serving_here, step};
use super::files::sha;
use super::service;
use super::target::Target;
use crate::inventory::{Inventory, Node};
use crate::plan::{Action, Step};
use crate::transport::shell_quote;

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
