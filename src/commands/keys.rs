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
use crate::plan::UNCHANGED;

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
        revoke_script(Some(body), &comment)
    };
    let step = if provision { "authorize key" } else { "remove key" };
    let plan = Plan::same_step(
        format!("keys {}", if provision { "provision" } else { "revoke" }),
        true,
        nodes.clone(),
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
    if report.is_some() && !provision {
        // A kept master authenticated before the revocation would still let commands through.
        super::connections::close(nodes.iter().map(|n| n.as_ref()), ctx).await;
    }
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

/// Shell removing from `~/.ssh/authorized_keys` every line with the key `body` and every line whose
/// comment is exactly `comment` (an operator key made on another laptop); exit 100 if none.
pub fn revoke_script(body: Option<&str>, comment: &str) -> String {
    let q_comment = shell_quote(&format!(" {comment}"));
    // Lines holding the key body (when known), and lines ending with the comment.
    let (has_body, without_body) = match body {
        Some(b) => (format!("grep -F -- {} \"$f\"", shell_quote(b)), format!("grep -vF -- {} \"$f\"", shell_quote(b))),
        None => ("true".to_string(), "cat \"$f\"".to_string()),
    };
    let ends = "length($0) >= length(c) && substr($0, length($0) - length(c) + 1) == c";
    format!(
        "f=\"$HOME/.ssh/authorized_keys\"; [ -f \"$f\" ] || exit {UNCHANGED}\n\
         [ -n \"$({has_body}; awk -v c={q_comment} '{ends}' \"$f\")\" ] || exit {UNCHANGED}\n\
         t=\"$f.garnet-tmp.$$\"; umask 077\n\
         {without_body} | awk -v c={q_comment} '!({ends})' > \"$t\"\n\
         chmod 600 \"$t\" && mv -f \"$t\" \"$f\""
    )
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

#[cfg(test)]
mod tests {
    #[test]
    fn revoke_removes_exactly_garnet_lines() {
        let dir = tempfile::tempdir().unwrap();
        let ssh = dir.path().join(".ssh");
        std::fs::create_dir_all(&ssh).unwrap();
        let f = ssh.join("authorized_keys");
        let keep = "ssh-ed25519 AAAAother customer@laptop\nssh-ed25519 AAAAx garnet-operator@acme-prod-2\n";
        std::fs::write(
            &f,
            format!("ssh-ed25519 AAAAkey1 garnet-operator@acme\n{keep}ssh-ed25519 AAAAkey2 garnet-operator@acme\n"),
        )
        .unwrap();
        let run = |script: String| {
            std::process::Command::new("sh").arg("-c").arg(script).env("HOME", dir.path()).status().unwrap().code()
        };
        // Without the key body: by comment only (the other cluster's key and the customer's stay).
        assert_eq!(run(super::revoke_script(None, "garnet-operator@acme")), Some(0));
        assert_eq!(std::fs::read_to_string(&f).unwrap(), keep);
        assert_eq!(run(super::revoke_script(None, "garnet-operator@acme")), Some(super::UNCHANGED));
        assert_eq!(run(super::revoke_script(Some("AAAAother"), "garnet-operator@acme")), Some(0));
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "ssh-ed25519 AAAAx garnet-operator@acme-prod-2\n");
    }
}
