//! What the executor runs, as the shell a person pastes: a plan's [`Action`]s on a node rendered
//! as `ssh … 'command'` (the command itself on a local node), files as here-documents, local files
//! as `scp`. The runbooks print these, so the manual path and garnet's run the very same commands
//! (`tests/runbooks.rs` pastes them into `sh` on a real cluster).

use crate::inventory::{HostKeyChecking, Node, StoreKind, StoreSpec, TransportKind};
use crate::plan::{Action, NodePlan};
use crate::transport::shell_quote;

/// The `ssh` (or `scp`, with `-P`) that logs in to `node` as garnet does: its identity, known
/// hosts, config and host-key rule; `None` for a local node.
fn login(node: &Node, scp: bool) -> Option<String> {
    if node.transport == TransportKind::Local {
        return None;
    }
    let mut s = String::from(if scp { "scp" } else { "ssh" });
    if let Some(c) = &node.ssh_config {
        s.push_str(&format!(" -F {}", shell_quote(&c.display().to_string())));
    }
    if let Some(k) = &node.identity_file {
        s.push_str(&format!(" -i {}", shell_quote(&k.display().to_string())));
    }
    if let Some(k) = &node.known_hosts {
        s.push_str(&format!(" -o UserKnownHostsFile={}", shell_quote(&k.display().to_string())));
    }
    s.push_str(match node.host_key_checking {
        HostKeyChecking::Strict => " -o StrictHostKeyChecking=yes",
        HostKeyChecking::AcceptNew => " -o StrictHostKeyChecking=accept-new",
    });
    s.push_str(&format!(" {} {}", if scp { "-P" } else { "-p" }, node.port));
    if !scp {
        s.push(' ');
        s.push_str(&user_host(node));
    }
    Some(s)
}

/// `user@host` (or `host`).
pub fn user_host(node: &Node) -> String {
    format!("{}{}", node.user.as_deref().map(|u| format!("{u}@")).unwrap_or_default(), node.host)
}

/// How to run one command on `node` by hand: `ssh … 'cmd'`, or `cmd` itself on a local node.
pub fn ssh(node: &Node) -> String {
    login(node, false).unwrap_or_else(|| "sh -c".into())
}

/// A here-document delimiter that no line of `body` equals.
fn delimiter(body: &str) -> String {
    let mut d = String::from("GARNET_EOF");
    while body.lines().any(|l| l == d) {
        d.push('_');
    }
    d
}

/// `command` run on `node`, with `body` (when given) as a here-document on its stdin.
fn on_node(node: &Node, command: &str, body: Option<&str>, tail: &str) -> String {
    let line = match login(node, false) {
        Some(ssh) => format!("{ssh} {}", shell_quote(command)),
        None => command.to_string(),
    };
    match body {
        None => format!("{line}{tail}"),
        Some(b) => {
            let d = delimiter(b);
            let nl = if b.ends_with('\n') { "" } else { "\n" };
            format!("{line} <<'{d}'{tail}\n{b}{nl}{d}")
        }
    }
}

/// One action on `node`, as pasted into a shell. A step that answers "nothing to do" with its own
/// exit code is followed by `|| [ $? -eq N ]`, so a second paste of the same runbook passes.
pub fn action(node: &Node, a: &Action) -> String {
    match a {
        Action::Run { command, unchanged_exit, .. } => {
            let tail = unchanged_exit.map(|u| format!(" || [ $? -eq {u} ]")).unwrap_or_default();
            let simple = !command.contains('\n') && !command.split_whitespace().any(|w| w == "exit");
            if simple { on_node(node, command, None, &tail) } else { on_node(node, "sh -s", Some(command), &tail) }
        }
        Action::Upload { path, contents, mode, secret } => {
            let dir = parent(path);
            if let Some(from) = secret {
                // Written from the operator's own copy, as garnet reads it (surrounding blank
                // space and newlines trimmed): the content never appears in the runbook.
                let cmd = format!(
                    "mkdir -p {} && umask 077 && cat > {} && chmod 600 {1}",
                    shell_quote(&dir),
                    shell_quote(path)
                );
                let read = format!("printf %s \"$(cat {})\"", shell_quote(&from.display().to_string()));
                return match login(node, false) {
                    Some(ssh) => format!("{read} | {ssh} {}", shell_quote(&cmd)),
                    None => format!("{read} | ({cmd})"),
                };
            }
            // As the executor writes it: beside the file, then renamed over it in one step.
            let text = String::from_utf8_lossy(contents);
            let (p, tmp) = (shell_quote(path), shell_quote(&format!("{path}.garnet-new")));
            let mkdir = format!("mkdir -p {} && ", shell_quote(&dir));
            let then = format!(" && chmod {mode:o} {tmp} && mv {tmp} {p}");
            if login(node, false).is_some() {
                on_node(node, &format!("{mkdir}cat > {tmp}{then}"), Some(&text), "")
            } else {
                // Here, the here-document must feed `cat`, not the commands after it.
                format!("{mkdir}{}", on_node(node, &format!("cat > {tmp}"), Some(&text), &then))
            }
        }
        Action::Copy { source, path, mode, .. } => {
            // Copied beside the file, then renamed over it: a running binary cannot be
            // overwritten in place ("Text file busy"), and a reader never sees half a file.
            let src = shell_quote(&source.display().to_string());
            let (p, tmp) = (shell_quote(path), shell_quote(&format!("{path}.garnet-new")));
            let dir = shell_quote(&parent(path));
            let finish = format!("chmod {mode:o} {tmp} && mv {tmp} {p}");
            match login(node, true) {
                None => format!("mkdir -p {dir} && cp {src} {tmp} && {finish}"),
                Some(scp) => format!(
                    "{} && {scp} {src} {}:{tmp} && {}",
                    on_node(node, &format!("mkdir -p {dir}"), None, ""),
                    user_host(node),
                    on_node(node, &finish, None, "")
                ),
            }
        }
    }
}

fn parent(path: &str) -> String {
    std::path::Path::new(path).parent().map(|p| p.display().to_string()).unwrap_or_else(|| ".".into())
}

/// A plan's steps on its nodes, as one shell block's lines: each node's steps in order, under a
/// `# on NODE` line when there are several nodes.
pub fn plans(plans: &[NodePlan]) -> String {
    let mut out = Vec::new();
    for np in plans {
        if plans.len() > 1 {
            out.push(format!("# on {}", np.node.name));
        }
        for s in &np.steps {
            out.push(action(&np.node, &s.action));
        }
    }
    out.join("\n")
}

/// Puts `contents` at `key` in the store, by hand: a file under a local store's folder, or the
/// AWS CLI for an S3-compatible bucket.
pub fn store_put(store: &StoreSpec, key: &str, contents: &[u8]) -> String {
    let text = String::from_utf8_lossy(contents);
    let cmd = match store.kind {
        StoreKind::Local => {
            let path = store.path.join(key).display().to_string();
            format!("mkdir -p {} && cat > {}", shell_quote(&parent(&path)), shell_quote(&path))
        }
        StoreKind::S3 => {
            let prefix = store.prefix.clone().unwrap_or_default();
            let prefix = if prefix.is_empty() || prefix.ends_with('/') { prefix } else { format!("{prefix}/") };
            let mut c = format!(
                "aws s3 cp - {}",
                shell_quote(&format!("s3://{}/{prefix}{key}", store.bucket.as_deref().unwrap_or("BUCKET")))
            );
            if let Some(e) = &store.endpoint {
                c.push_str(&format!(" --endpoint-url {}", shell_quote(e)));
            }
            c
        }
    };
    let d = delimiter(&text);
    let nl = if text.ends_with('\n') { "" } else { "\n" };
    format!("{cmd} <<'{d}'\n{text}{nl}{d}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> Node {
        let inv = crate::inventory::Inventory::from_str(std::path::Path::new("/tmp/inv.yaml"),
            "cluster: {slug: t, tier: pro}\nnodes:\n  - {name: n1, host: localhost, transport: local, garnet_home: /tmp/x}\n",
        ).unwrap();
        (*inv.nodes[0]).clone()
    }

    /// Every kind of action, pasted into `sh` on a local node, does what the executor does.
    #[test]
    fn actions_pasted_into_sh_do_what_they_say() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let node = local();
        let src = dir.path().join("src.bin");
        std::fs::write(&src, b"weights").unwrap();
        let acts = [
            Action::Upload {
                path: format!("{d}/etc/a b.json"),
                contents: b"{\"x\": 'quoted'}\nGARNET_EOF\n".to_vec(),
                mode: 0o640,
                secret: None,
            },
            Action::Upload {
                path: format!("{d}/etc/token"),
                contents: b"never shown".to_vec(),
                mode: 0o600,
                secret: Some(dir.path().join("token.local")),
            },
            Action::Copy {
                source: src.clone(),
                path: format!("{d}/models/m/w.bin"),
                mode: 0o755,
                size: 7,
                sha256: String::new(),
            },
            Action::Run {
                command: format!("echo 'it''s' > {d}/ran\nexit 100"),
                timeout: None,
                stream: false,
                capture: true,
                changes: true,
                unchanged_exit: Some(100),
            },
        ];
        let script: Vec<String> = acts.iter().map(|a| action(&node, a)).collect();
        let script = script.join("\n");
        assert!(!script.contains("never shown"), "{script}");
        std::fs::write(dir.path().join("token.local"), "s3cr3t\n").unwrap();
        let out = std::process::Command::new("sh").args(["-e", "-c", &script]).output().unwrap();
        assert!(out.status.success(), "{script}\n{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::read(format!("{d}/etc/a b.json")).unwrap(), b"{\"x\": 'quoted'}\nGARNET_EOF\n");
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: String| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(format!("{d}/etc/a b.json")), 0o640);
        assert_eq!(std::fs::read(format!("{d}/models/m/w.bin")).unwrap(), b"weights");
        assert_eq!(mode(format!("{d}/models/m/w.bin")), 0o755);
        assert_eq!(std::fs::read_to_string(format!("{d}/ran")).unwrap(), "its\n");
        assert_eq!(std::fs::read_to_string(format!("{d}/etc/token")).unwrap(), "s3cr3t", "trimmed, as garnet reads it");
        assert_eq!(mode(format!("{d}/etc/token")), 0o600);
    }

    #[test]
    fn ssh_nodes_log_in_as_garnet_does() {
        let inv = crate::inventory::Inventory::from_str(std::path::Path::new("/tmp/inv.yaml"),
            "cluster: {slug: t, tier: pro}\ndefaults: {identity_file: /k/id, known_hosts: /k/kh, host_key_checking: strict}\nnodes:\n  - {name: n1, host: 10.0.0.1, user: ops, port: 2222}\n",
        ).unwrap();
        let n = &inv.nodes[0];
        let run = Action::Run {
            command: "ls '/a b'".into(),
            timeout: None,
            stream: false,
            capture: false,
            changes: false,
            unchanged_exit: None,
        };
        assert_eq!(
            action(n, &run),
            "ssh -i /k/id -o UserKnownHostsFile=/k/kh -o StrictHostKeyChecking=yes -p 2222 ops@10.0.0.1 'ls '\\''/a b'\\'''"
        );
    }
}
