//! `--limit`: which nodes a command touches.
//!
//! Patterns: a node name or glob (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (the nodes that did
//! not succeed in the last run, resolved by the caller from the journal), and `!PATTERN` to exclude.
//! A bare word that is no node's name also matches a role or tag of that name. An include pattern
//! that matches nothing is an error: a typo must not silently shrink (or empty) the target set.

use std::sync::Arc;

use super::{Inventory, Node};

/// The nodes chosen, in inventory order.
pub type Selection = Vec<Arc<Node>>;

pub fn select(inv: &Inventory, patterns: &[String], last_failed: Option<&[String]>) -> Result<Selection, String> {
    let patterns: Vec<&str> = patterns.iter().map(|p| p.trim()).filter(|p| !p.is_empty()).collect();
    let (excludes, includes): (Vec<&str>, Vec<&str>) = patterns.iter().partition(|p| p.starts_with('!'));
    let mut chosen = vec![includes.is_empty(); inv.nodes.len()];
    for pat in &includes {
        let hits = matches(inv, pat, last_failed)?;
        if !hits.iter().any(|&h| h) && *pat != "@failed" {
            let names: Vec<&str> = inv.nodes.iter().map(|n| n.name.as_str()).collect();
            let hint = match super::did_you_mean(pat, names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("nodes are: {}", names.join(", ")),
            };
            return Err(format!("`--limit {pat}` matches no node; {hint}"));
        }
        for (c, h) in chosen.iter_mut().zip(hits) {
            *c |= h;
        }
    }
    for pat in &excludes {
        let hits = matches(inv, &pat[1..], last_failed)?;
        for (c, h) in chosen.iter_mut().zip(hits) {
            *c &= !h;
        }
    }
    Ok(inv.nodes.iter().zip(chosen).filter(|(_, c)| *c).map(|(n, _)| n.clone()).collect())
}

fn matches(inv: &Inventory, pat: &str, last_failed: Option<&[String]>) -> Result<Vec<bool>, String> {
    if pat == "@failed" {
        let failed = last_failed.ok_or("`@failed`: no previous run of this cluster is journaled")?;
        return Ok(inv.nodes.iter().map(|n| failed.contains(&n.name)).collect());
    }
    if let Some(role) = pat.strip_prefix("role:") {
        return Ok(inv.nodes.iter().map(|n| n.roles.iter().any(|r| r == role)).collect());
    }
    if let Some(tag) = pat.strip_prefix("tag:") {
        return Ok(inv.nodes.iter().map(|n| n.tags.iter().any(|t| t == tag)).collect());
    }
    let glob = glob::Pattern::new(pat).map_err(|e| format!("`--limit {pat}`: {e}"))?;
    let by_name: Vec<bool> = inv.nodes.iter().map(|n| glob.matches(&n.name)).collect();
    if by_name.iter().any(|&b| b) {
        return Ok(by_name);
    }
    Ok(inv.nodes.iter().map(|n| n.roles.iter().chain(&n.tags).any(|x| x == pat)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn inv() -> Inventory {
        let text = "cluster: {slug: t, tier: pro}\nnodes:\n  - {name: a1, host: h1, roles: [router], tags: [rack-a]}\n  - {name: a2, host: h2, roles: [loader], tags: [rack-a]}\n  - {name: b1, host: h3, roles: [loader], tags: [rack-b]}\n";
        Inventory::from_str(Path::new("i.yaml"), text).unwrap()
    }

    fn names(s: Selection) -> Vec<String> {
        s.iter().map(|n| n.name.clone()).collect()
    }

    fn sel(p: &[&str]) -> Result<Vec<String>, String> {
        let p: Vec<String> = p.iter().map(|s| s.to_string()).collect();
        select(&inv(), &p, Some(&["b1".to_string()])).map(names)
    }

    #[test]
    fn patterns() {
        assert_eq!(sel(&[]).unwrap(), ["a1", "a2", "b1"]);
        assert_eq!(sel(&["a*"]).unwrap(), ["a1", "a2"]);
        assert_eq!(sel(&["role:loader"]).unwrap(), ["a2", "b1"]);
        assert_eq!(sel(&["tag:rack-b", "a1"]).unwrap(), ["a1", "b1"]);
        assert_eq!(sel(&["rack-a"]).unwrap(), ["a1", "a2"]);
        assert_eq!(sel(&["!a1"]).unwrap(), ["a2", "b1"]);
        assert_eq!(sel(&["role:loader", "!b*"]).unwrap(), ["a2"]);
        assert_eq!(sel(&["@failed"]).unwrap(), ["b1"]);
    }

    #[test]
    fn typo_is_an_error() {
        let err = sel(&["a3"]).unwrap_err();
        assert!(err.contains("matches no node"), "{err}");
        assert!(err.contains("did you mean `a1`?") || err.contains("`a2`"), "{err}");
    }
}
