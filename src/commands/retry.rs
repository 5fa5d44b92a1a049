//! `garnet retry`: the last run again, on only the nodes that did not succeed.

use anyhow::{Context, Result};
use clap::Parser;

use super::{Ctx, dispatch_command};
use crate::ExitStatus;
use crate::cli::{Cli, Command};
use crate::exit::UsageError;
use crate::plan::journal;

pub async fn run(ctx: &Ctx) -> Result<ExitStatus> {
    let inv = ctx.load_inventory()?;
    let last = journal::last_run(&ctx.state_dir(), &inv.cluster.slug).context("reading the run journal")?.ok_or_else(
        || {
            UsageError(format!(
                "no run of cluster `{}` is journaled under `{}`: nothing to retry",
                inv.cluster.slug,
                ctx.state_dir().display()
            ))
        },
    )?;
    if last.not_succeeded.is_empty() {
        ctx.printer.note(format!("every node succeeded in the last run ({}): nothing to retry", last.run_id));
        return Ok(ExitStatus::Success);
    }
    let original = Cli::try_parse_from(std::iter::once("garnet".to_string()).chain(last.argv.iter().cloned()))
        .map_err(|e| UsageError(format!("the last run's command line cannot be parsed again: {e}")))?;
    if matches!(original.command, Command::Retry) {
        return Err(UsageError("the last journaled run is itself a retry".into()).into());
    }
    ctx.printer.note(format!("retrying `{}` on {}", last.argv.join(" "), last.not_succeeded.join(", ")));
    // This invocation's flags (`--yes`, `-o`, …) with the original command, on the failed nodes only.
    let mut sub = Ctx::new(ctx.global.clone(), last.argv.clone());
    sub.only_nodes = Some(last.not_succeeded);
    dispatch_command(&original.command, &sub).await
}
