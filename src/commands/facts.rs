//! `garnet facts`: hardware and OS facts per node (read-only: no lock, no prompt).

use anyhow::Result;

use super::{Ctx, run_plan};
use crate::ExitStatus;
use crate::cli::FactsArgs;
use crate::node::facts::{self, Facts};
use crate::plan::events::Event;
use crate::plan::{Action, Plan, Step};
use crate::util::human_bytes;

pub async fn run(args: &FactsArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let inv = ctx.load_inventory()?;
    let nodes = ctx.select(&inv)?;
    let plan = Plan::same_step(
        "facts".into(),
        false,
        nodes,
        Step {
            name: "probe".into(),
            action: Action::Run {
                command: facts::PROBE.into(),
                timeout: Some(args.timeout),
                stream: false,
                capture: true,
                changes: false,
                unchanged_exit: None,
            },
        },
    );
    let mut found: Vec<(String, Result<Facts, String>)> = Vec::new();
    let (status, report) = run_plan(ctx, &inv, plan, |report| {
        let mut events = Vec::new();
        for n in &report.nodes {
            let Some(out) = n.steps.first().and_then(|s| s.output.as_ref()).filter(|o| o.success()) else { continue };
            let parsed = facts::parse(&String::from_utf8_lossy(&out.stdout));
            match &parsed {
                Ok(f) => events.push(Event::Data {
                    node: n.node.name.clone(),
                    kind: "facts".into(),
                    data: serde_json::to_value(f).expect("facts serialize"),
                }),
                Err(e) => ctx.printer.warn(format!("{}: cannot parse the facts probe output: {e}", n.node.name)),
            }
            found.push((n.node.name.clone(), parsed));
        }
        events
    })
    .await?;
    if report.is_none() || ctx.printer.json {
        return Ok(status);
    }
    let p = &ctx.printer;
    let mut t = p.table();
    t.set_header(vec!["node", "os", "arch", "chip", "cores (P+E)", "memory", "free disk", "link"]);
    for (name, f) in &found {
        let Ok(f) = f else { continue };
        let cores = match (f.cores, f.performance_cores, f.efficiency_cores) {
            (Some(c), Some(pc), Some(ec)) => format!("{c} ({pc}+{ec})"),
            (Some(c), _, _) => c.to_string(),
            _ => "?".into(),
        };
        let link = match (&f.link, f.link_speed_mbps) {
            (Some(l), Some(s)) if s >= 1000 => format!("{l} {}GbE", s / 1000),
            (Some(l), Some(s)) => format!("{l} {s}Mb/s"),
            (Some(l), None) => l.clone(),
            _ => "?".into(),
        };
        t.add_row(vec![
            name.clone(),
            f.os_version.clone().unwrap_or_else(|| f.os.clone()),
            f.arch.clone(),
            f.chip.clone().unwrap_or_else(|| "?".into()),
            cores,
            f.memory_bytes.map(human_bytes).unwrap_or_else(|| "?".into()),
            f.disk_free_bytes.map(human_bytes).unwrap_or_else(|| "?".into()),
            link,
        ]);
    }
    if !found.is_empty() {
        p.out(t);
    }
    Ok(status)
}
