//! `garnet exec -- CMD…`: ad-hoc fan-out, like `ansible all -a CMD`.

use anyhow::Result;

use super::{Ctx, run_plan};
use crate::ExitStatus;
use crate::cli::ExecArgs;
use crate::plan::{Action, Plan, Step};

pub async fn run(args: &ExecArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let inv = ctx.load_inventory()?;
    let nodes = ctx.select(&inv)?;
    // Joined with spaces and run by the remote shell, exactly as `ssh host CMD…` does.
    let command = args.command.join(" ");
    let plan = Plan::same_step(
        format!("exec -- {command}"),
        true,
        nodes,
        Step {
            name: "exec".into(),
            action: Action::Run {
                command,
                timeout: args.timeout,
                stream: true,
                capture: false,
                changes: true,
                unchanged_exit: None,
            },
        },
    );
    let (status, _) = run_plan(ctx, &inv, plan, |_| vec![]).await?;
    Ok(status)
}
