//! Rendering a plan for people (`--dry-run`, the confirmation prompt) and for machines (`-o json`).

use serde_json::json;

use super::{Action, Plan};

/// The plan as text: per node, each command and each file (with its diff when the current content
/// is known). Secrets are never shown.
pub fn text(plan: &Plan, current: &dyn Fn(&str, &str) -> Option<Vec<u8>>) -> String {
    let mut s = String::new();
    for np in &plan.nodes {
        let n = &np.node;
        let how = match n.transport {
            crate::inventory::TransportKind::Local => "local".to_string(),
            t => format!("{} via {}", n.address(), format!("{t:?}").to_lowercase()),
        };
        s.push_str(&format!("{} ({how})\n", n.name));
        for (i, step) in np.steps.iter().enumerate() {
            match &step.action {
                Action::Run { command, timeout, .. } => {
                    let t =
                        timeout.map(|t| format!(" (timeout {})", crate::util::human_duration(t))).unwrap_or_default();
                    let mut lines = command.lines();
                    s.push_str(&format!("  {}. {}{t}: $ {}\n", i + 1, step.name, lines.next().unwrap_or("")));
                    for l in lines {
                        s.push_str(&format!("       {l}\n"));
                    }
                }
                Action::Copy { source, path, mode, size, sha256 } => {
                    s.push_str(&format!(
                        "  {}. {}: copy {} to {path} (mode {mode:04o}, {}, sha256 {}…) unless the node has it\n",
                        i + 1,
                        step.name,
                        source.display(),
                        crate::util::human_bytes(*size),
                        &sha256[..12.min(sha256.len())]
                    ));
                }
                Action::Upload { path, contents, mode, secret } => {
                    s.push_str(&format!(
                        "  {}. {}: write {path} (mode {mode:04o}, {} bytes)\n",
                        i + 1,
                        step.name,
                        contents.len()
                    ));
                    if secret.is_some() {
                        s.push_str("       (secret: content not shown)\n");
                    } else {
                        let old = current(&n.name, path);
                        s.push_str(&indent(&diff(old.as_deref(), contents, path), "       "));
                    }
                }
            }
        }
    }
    s
}

/// The plan as one JSON value (`{"event":"plan",...}`).
pub fn json(plan: &Plan) -> serde_json::Value {
    let nodes: Vec<_> = plan
        .nodes
        .iter()
        .map(|np| {
            let steps: Vec<_> = np
                .steps
                .iter()
                .map(|st| match &st.action {
                    Action::Run { command, timeout, .. } => {
                        json!({"name": st.name, "kind": "run", "command": command, "timeout_secs": timeout.map(|t| t.as_secs_f64())})
                    }
                    Action::Copy { source, path, mode, size, sha256 } => json!({
                        "name": st.name, "kind": "copy", "source": source, "path": path, "mode": format!("{mode:04o}"),
                        "bytes": size, "sha256": sha256,
                    }),
                    Action::Upload { path, contents, mode, secret } => json!({
                        "name": st.name, "kind": "upload", "path": path, "mode": format!("{mode:04o}"), "bytes": contents.len(),
                        "content": if secret.is_some() { None } else { Some(String::from_utf8_lossy(contents)) },
                    }),
                })
                .collect();
            json!({"node": np.node.name, "address": np.node.address(), "steps": steps})
        })
        .collect();
    json!({"event": "plan", "command": plan.command, "mutating": plan.mutating, "nodes": nodes})
}

/// A unified diff of a file's current and planned content (`None` = the file does not exist yet).
pub fn diff(old: Option<&[u8]>, new: &[u8], path: &str) -> String {
    let old_text = old.map(String::from_utf8_lossy).unwrap_or_default();
    let new_text = String::from_utf8_lossy(new);
    if old.is_some() && old_text == new_text {
        return "(unchanged)\n".into();
    }
    let from = if old.is_some() { format!("a{path}") } else { "/dev/null".into() };
    similar::TextDiff::from_lines(old_text.as_ref(), new_text.as_ref())
        .unified_diff()
        .context_radius(3)
        .header(&from, &format!("b{path}"))
        .to_string()
}

fn indent(text: &str, pad: &str) -> String {
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs() {
        assert_eq!(diff(Some(b"a\n"), b"a\n", "/x"), "(unchanged)\n");
        let d = diff(Some(b"a\nb\n"), b"a\nc\n", "/etc/x");
        assert!(d.contains("-b\n") && d.contains("+c\n") && d.contains("--- a/etc/x"), "{d}");
        let d = diff(None, b"new\n", "/x");
        assert!(d.contains("--- /dev/null") && d.contains("+new"), "{d}");
    }
}

/// Current contents of the files a plan writes, read (never written) over each node's transport,
/// so `--dry-run` can show real diffs. Keyed by (node, path); an unreachable node maps to its error.
pub async fn current_files(
    plan: &Plan,
    forks: usize,
    connect: &crate::transport::ConnectOptions,
) -> std::collections::HashMap<(String, String), Result<Option<Vec<u8>>, String>> {
    use std::sync::Arc;
    let sem = Arc::new(tokio::sync::Semaphore::new(forks.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for np in &plan.nodes {
        let paths: Vec<String> = np
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::Upload { path, secret: None, .. } => Some(path.clone()),
                _ => None,
            })
            .collect();
        if paths.is_empty() {
            continue;
        }
        let (node, sem, connect) = (np.node.clone(), sem.clone(), connect.clone());
        set.spawn(async move {
            let _permit = sem.acquire_owned().await.expect("semaphore open");
            let mut out = Vec::new();
            match crate::transport::connect(&node, &connect).await {
                Err(e) => out.extend(paths.into_iter().map(|p| ((node.name.clone(), p), Err(e.message.clone())))),
                Ok(t) => {
                    for p in paths {
                        let r = t.read_file(&p).await.map_err(|e| e.to_string());
                        out.push(((node.name.clone(), p), r));
                    }
                    t.close().await;
                }
            }
            out
        });
    }
    let mut map = std::collections::HashMap::new();
    while let Some(Ok(items)) = set.join_next().await {
        map.extend(items);
    }
    map
}

#[cfg(test)]
mod dry_run_tests {
    use super::*;
    use crate::inventory::Inventory;
    use crate::plan::{NodePlan, Step};

    #[tokio::test]
    async fn dry_run_diffs_against_the_files_on_the_node() {
        let dir = tempfile::tempdir().unwrap();
        let existing = dir.path().join("app.conf");
        std::fs::write(&existing, "port: 8080\nworkers: 2\n").unwrap();
        let inv = Inventory::from_str(
            std::path::Path::new("i.yaml"),
            "cluster: {slug: t, tier: pro}\nnodes:\n  - {name: here, transport: local}\n",
        )
        .unwrap();
        let upload = |path: &std::path::Path, body: &str, secret: bool| Step {
            name: "write".into(),
            action: Action::Upload {
                path: path.display().to_string(),
                contents: body.as_bytes().to_vec(),
                mode: 0o600,
                secret: secret.then(|| std::path::PathBuf::from("/local/token")),
            },
        };
        let plan = Plan {
            command: "deploy".into(),
            mutating: true,
            nodes: vec![NodePlan {
                node: inv.nodes[0].clone(),
                steps: vec![
                    upload(&existing, "port: 8080\nworkers: 4\n", false),
                    upload(&dir.path().join("new.conf"), "fresh\n", false),
                    upload(&dir.path().join("token"), "s3cr3t-value\n", true),
                ],
            }],
        };
        let opts = crate::transport::ConnectOptions::closing(dir.path().join("cm"));
        let current = current_files(&plan, 4, &opts).await;
        let lookup =
            |n: &str, p: &str| current.get(&(n.to_string(), p.to_string())).and_then(|r| r.clone().ok()).flatten();
        let text = text(&plan, &lookup);
        assert!(text.contains("-workers: 2\n") && text.contains("+workers: 4\n"), "{text}");
        assert!(text.contains("--- /dev/null") && text.contains("+fresh"), "{text}");
        assert!(text.contains("(secret: content not shown)") && !text.contains("s3cr3t"), "{text}");
        assert!(!serde_json::to_string(&json(&plan)).unwrap().contains("s3cr3t"));
        // Reading changed nothing.
        assert_eq!(std::fs::read_to_string(&existing).unwrap(), "port: 8080\nworkers: 2\n");
        assert!(!dir.path().join("new.conf").exists());
    }
}
