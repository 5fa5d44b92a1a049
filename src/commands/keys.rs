//! `garnet keys provision|revoke`: the operator's SSH key on the nodes.
//!
//! The key is made by `ssh-keygen` (the same OpenSSH the default transport uses): ed25519, private
//! file 0600 in a 0700 folder, never printed. Its public line carries a recognisable comment
//! (`garnet-operator@<cluster>`). Provisioning appends the line to `~/.ssh/authorized_keys` unless
//! the key is already there; revoking removes the lines holding exactly that key (matched by its
//! base64 body), atomically, and leaves every other line alone.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::{Ctx, run_plan};
use crate::ExitStatus;
use crate::cli::KeysCommand;
use crate::plan::{Action, Plan, Step};
use crate::transport::shell_quote;

/// Exit code the node scripts use for "already so".
const UNCHANGED: i32 = 100;

pub async fn run(cmd: &KeysCommand, ctx: &Ctx) -> Result<ExitStatus> {
    let inv = ctx.load_inventory()?;
    let nodes = ctx.select(&inv)?;
    let (args, provision) = match cmd {
        KeysCommand::Provision(a) => (a, true),
        KeysCommand::Revoke(a) => (a, false),
    };
    let key =
        args.key.clone().unwrap_or_else(|| ctx.state_dir().join("keys").join(format!("{}-ed25519", inv.cluster.slug)));
    let comment = format!("garnet-operator@{}", inv.cluster.slug);
    if provision && !ctx.global.dry_run {
        ensure_key(&key, &comment)?;
    }
    let public = match std::fs::read_to_string(key.with_extension("pub")) {
        Ok(p) => p,
        Err(_) if ctx.global.dry_run => format!("ssh-ed25519 (created-on-apply) {comment}"),
        Err(e) => return Err(e).with_context(|| format!("cannot read the public key `{}.pub`", key.display())),
    };
    let line = public.lines().next().unwrap_or("").trim().to_string();
    let mut fields = line.split_whitespace();
    let (Some(_kind), Some(body)) = (fields.next(), fields.next()) else {
        bail!("`{}.pub` is not an OpenSSH public key", key.display());
    };
    let (q_body, q_line) = (shell_quote(body), shell_quote(&line));
    let script = if provision {
        format!(
            "umask 077; mkdir -p \"$HOME/.ssh\"; f=\"$HOME/.ssh/authorized_keys\"; touch \"$f\"\n\
             if grep -qF -- {q_body} \"$f\"; then exit {UNCHANGED}; fi\n\
             printf '%s\\n' {q_line} >> \"$f\""
        )
    } else {
        format!(
            "f=\"$HOME/.ssh/authorized_keys\"; [ -f \"$f\" ] || exit {UNCHANGED}\n\
             grep -qF -- {q_body} \"$f\" || exit {UNCHANGED}\n\
             t=\"$f.garnet-tmp.$$\"; umask 077; grep -vF -- {q_body} \"$f\" > \"$t\"; chmod 600 \"$t\" && mv -f \"$t\" \"$f\""
        )
    };
    let step = if provision { "authorize key" } else { "remove key" };
    let plan = Plan::same_step(
        format!("keys {}", if provision { "provision" } else { "revoke" }),
        true,
        nodes,
        Step {
            name: step.into(),
            action: Action::Run {
                command: script,
                timeout: Some(std::time::Duration::from_secs(30)),
                stream: false,
                capture: true,
                changes: true,
                unchanged_exit: Some(UNCHANGED),
            },
        },
    );
    let (status, report) = run_plan(ctx, &inv, plan, |_| vec![]).await?;
    if report.is_some() && !ctx.printer.json {
        let what = if provision { "authorized" } else { "revoked" };
        ctx.printer.note(format!(
            "key `{}` ({comment}) {what}; private key stays at `{}`",
            key.display(),
            key.display()
        ));
    }
    Ok(status)
}

/// Creates the key pair with `ssh-keygen` unless it exists; refuses a private key others can read.
fn ensure_key(key: &Path, comment: &str) -> Result<()> {
    if key.exists() {
        let mode = std::fs::metadata(key)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!("private key `{}` has mode {mode:04o}; run `chmod 600 {}`", key.display(), key.display());
        }
        return Ok(());
    }
    let dir: PathBuf = key.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(key)
        .output()
        .context("cannot run `ssh-keygen` (install the OpenSSH client)")?;
    if !out.status.success() {
        bail!("ssh-keygen failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}
