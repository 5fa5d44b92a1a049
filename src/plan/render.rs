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
                Action::Upload { path, contents, mode, secret } => {
                    s.push_str(&format!(
                        "  {}. {}: write {path} (mode {mode:04o}, {} bytes)\n",
                        i + 1,
                        step.name,
                        contents.len()
                    ));
                    if *secret {
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
                    Action::Upload { path, contents, mode, secret } => json!({
                        "name": st.name, "kind": "upload", "path": path, "mode": format!("{mode:04o}"), "bytes": contents.len(),
                        "content": if *secret { None } else { Some(String::from_utf8_lossy(contents)) },
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
