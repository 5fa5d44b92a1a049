//! The placement record: which model entry (variant) serves each public model on each node, kept
//! in the store as a history (`placement/cluster=<c>/<time>.json`, never pruned). `hot-swap`
//! writes one after every flip; `deploy` and the router's routes read the latest, so a deploy after
//! a hot-swap keeps what the swap put in place instead of reverting to the inventory's entry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::inventory::{Inventory, ModelSpec};
use crate::store::{Store, StoreError};

/// Public model → node → the model entry whose loader serves it there (absent: the model itself).
pub type Variants = BTreeMap<String, BTreeMap<String, String>>;

/// Public model → the node it was first placed on → the node it serves from now (`--via` moves).
pub type Moves = BTreeMap<String, BTreeMap<String, String>>;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlacementRecord {
    pub schema_version: u32,
    pub cluster: String,
    pub at: String,
    /// What made it, e.g. `hot-swap tiny --to tiny-b`.
    pub command: String,
    pub variants: Variants,
    /// The record this one replaced (for `rollback`).
    #[serde(default)]
    pub previous: Option<String>,
    /// Entries a hot-swap made from a bare source (`--to PATH|REPO`), not declared in the inventory.
    #[serde(default)]
    pub entries: Vec<ModelSpec>,
    /// Model → node it was placed on → node it moved to (`hot-swap --via SPARE`).
    #[serde(default)]
    pub moves: Moves,
    /// Model → nodes it was taken off (`placement apply`: its other nodes serve it).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub removed: BTreeMap<String, Vec<String>>,
}

/// Applies a record to the inventory: its ad-hoc entries join the models, its moves replace
/// nodes in the placement. Everything downstream (routes, deploy, offboard) then just reads the
/// inventory.
pub fn apply(inv: &mut Inventory, rec: &PlacementRecord) {
    for e in &rec.entries {
        if !inv.models.iter().any(|m| m.name == e.name) {
            inv.models.push(e.clone());
        }
    }
    for (model, nodes) in &rec.removed {
        if let Some(p) = inv.placement.get_mut(model) {
            p.nodes.retain(|n| !nodes.contains(n));
        }
    }
    for (model, moves) in &rec.moves {
        if let Some(p) = inv.placement.get_mut(model) {
            for n in p.nodes.iter_mut() {
                if let Some(to) = moves.get(n.as_str())
                    && inv.nodes.iter().any(|x| &x.name == to)
                {
                    *n = to.clone();
                }
            }
        }
    }
}

/// Records that `model` left `from` for `to`, keyed by the node it was first placed on: a move
/// back to that node removes the entry, a second move replaces its destination.
pub fn record_move(moves: &mut Moves, model: &str, from: &str, to: &str) {
    let m = moves.entry(model.to_string()).or_default();
    let origin = m.iter().find(|(_, d)| d.as_str() == from).map(|(k, _)| k.clone()).unwrap_or_else(|| from.to_string());
    if origin == to {
        m.remove(&origin);
    } else {
        m.insert(origin, to.to_string());
    }
    if m.is_empty() {
        moves.remove(model);
    }
}

fn prefix(cluster: &str) -> String {
    crate::store::keys::placements(cluster)
}

/// The newest record (key and content), skipping unreadable ones.
pub async fn latest(store: &dyn Store, cluster: &str) -> Result<Option<(String, PlacementRecord)>, StoreError> {
    let keys = store.list(&prefix(cluster)).await?;
    for k in keys.iter().rev() {
        if let Some(body) = store.get(k).await? {
            match serde_json::from_slice(&body) {
                Ok(r) => return Ok(Some((k.clone(), r))),
                Err(e) => tracing::warn!("skipping corrupt placement record `{k}`: {e}"),
            }
        }
    }
    Ok(None)
}

/// Stores a new record (its key sorts after every earlier one).
pub async fn write(store: &dyn Store, rec: &PlacementRecord) -> Result<String, StoreError> {
    let at: jiff::Timestamp = rec.at.parse().unwrap_or_else(|_| jiff::Timestamp::now());
    let key = crate::store::keys::placement(&rec.cluster, at);
    store.put(&key, &serde_json::to_vec_pretty(rec).expect("serializes")).await?;
    Ok(key)
}

/// The entry serving `model` on `node`: the recorded variant when it is still declared, else the
/// model itself.
pub fn serving<'a>(inv: &'a Inventory, variants: &Variants, model: &'a ModelSpec, node: &str) -> &'a ModelSpec {
    variants
        .get(&model.name)
        .and_then(|m| m.get(node))
        .and_then(|v| inv.models.iter().find(|x| &x.name == v))
        .unwrap_or(model)
}

/// The router's id for the loader of `serving` behind `model` on `node`.
pub fn backend_id(node: &str, model: &str, serving: &str) -> String {
    if model == serving { format!("{node}/{model}") } else { format!("{node}/{model}@{serving}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_chain_back_to_their_origin() {
        let mut m = BTreeMap::new();
        record_move(&mut m, "tiny", "node1", "node3");
        assert_eq!(m["tiny"]["node1"], "node3");
        // A second move keeps the origin; a move back to it clears the entry.
        record_move(&mut m, "tiny", "node3", "node4");
        assert_eq!(m["tiny"].len(), 1);
        assert_eq!(m["tiny"]["node1"], "node4");
        record_move(&mut m, "tiny", "node4", "node1");
        assert!(m.is_empty(), "{m:?}");
    }
}
