//! `garnet inventory check|list`.

use anyhow::Result;
use serde_json::json;

use super::Ctx;
use crate::ExitStatus;
use crate::cli::InventoryCommand;

pub fn run(cmd: &InventoryCommand, ctx: &Ctx) -> Result<ExitStatus> {
    let p = &ctx.printer;
    match cmd {
        InventoryCommand::Check => {
            let inv = ctx.load_inventory()?;
            if p.json {
                p.json_line(&json!({"event": "inventory_valid", "file": inv.path, "cluster": inv.cluster.slug, "nodes": inv.nodes.len(), "models": inv.models.len()}));
            } else {
                p.out(format!(
                    "`{}` is valid: cluster `{}` ({}), {} node(s), {} model(s), {} placement(s)",
                    inv.path.display(),
                    inv.cluster.slug,
                    format!("{:?}", inv.cluster.tier).to_lowercase(),
                    inv.nodes.len(),
                    inv.models.len(),
                    inv.placement.len()
                ));
            }
            Ok(ExitStatus::Success)
        }
        InventoryCommand::List => {
            let inv = ctx.load_inventory()?;
            let nodes = ctx.select(&inv)?;
            if p.json {
                for n in &nodes {
                    p.json_line(&json!({"event": "node", "node": n}));
                }
                return Ok(ExitStatus::Success);
            }
            let mut t = p.table();
            t.set_header(vec!["node", "address", "transport", "os", "chip", "memory", "roles", "tags"]);
            for n in &nodes {
                t.add_row(vec![
                    n.name.clone(),
                    n.address(),
                    format!("{:?}", n.transport).to_lowercase(),
                    n.os.map(|o| format!("{o:?}").to_lowercase()).unwrap_or_default(),
                    n.chip.clone().unwrap_or_default(),
                    n.memory_gb.map(|m| format!("{m} GB")).unwrap_or_default(),
                    n.roles.join(", "),
                    n.tags.join(", "),
                ]);
            }
            p.out(t);
            Ok(ExitStatus::Success)
        }
    }
}
