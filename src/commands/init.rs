//! `garnet init <slug> --tier …`: day 0. Writes a starter inventory (unless one for this cluster
//! exists) and the cluster envelope `cluster/<slug>.json` in the store (created only if absent; an
//! envelope with the same slug but another tier or creation belongs to someone else: refused).

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Ctx;
use crate::ExitStatus;
use crate::cli::{InitArgs, TierArg};
use crate::exit::UsageError;
use crate::inventory::Inventory;
use crate::store;

/// Version of the envelope's layout.
pub const ENVELOPE_SCHEMA: u32 = 1;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Envelope {
    pub schema_version: u32,
    pub slug: String,
    pub tier: String,
    pub contacts: Vec<String>,
    pub created_at: String,
    pub store: String,
}

fn tier_name(t: TierArg) -> &'static str {
    match t {
        TierArg::Pro => "pro",
        TierArg::Scale => "scale",
        TierArg::Enterprise => "enterprise",
    }
}

fn starter(slug: &str, tier: &str, contacts: &[String]) -> String {
    let contacts = contacts.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
    format!(
        "# garnet inventory for `{slug}`. Validate with `garnet inventory check`; reference: README.md.\n\
         cluster:\n  slug: {slug}\n  tier: {tier}\n  contacts: [{contacts}]\n\n\
         defaults:\n  user: garnet\n  transport: openssh      # openssh | russh | local\n  host_key_checking: accept-new\n\n\
         # One entry per machine, e.g.:\n\
         #   - {{name: m4-01, host: 10.20.0.11, os: macos, chip: M4 Pro, memory_gb: 64, roles: [router, loader]}}\n\
         nodes: []\n\n\
         store:\n  kind: local\n  path: garnet-store\n"
    )
}

pub async fn run(args: &InitArgs, ctx: &Ctx) -> Result<ExitStatus> {
    let p = &ctx.printer;
    let tier = tier_name(args.tier);
    let path = &ctx.global.inventory;
    let mut wrote_inventory = false;
    if path.exists() {
        let inv = Inventory::load(path)?;
        if inv.cluster.slug != args.slug {
            return Err(UsageError(format!(
                "`{}` already describes cluster `{}`; refusing to overwrite it (pass `-i NEW_FILE` for `{}`)",
                path.display(),
                inv.cluster.slug,
                args.slug
            ))
            .into());
        }
    } else {
        let text = starter(&args.slug, tier, &args.contacts);
        // The starter must itself be valid; this also checks the slug.
        Inventory::from_str(path, &text).map_err(crate::inventory::LoadError::Invalid)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, text).with_context(|| format!("cannot write `{}`", path.display()))?;
        wrote_inventory = true;
    }
    let inv = Inventory::load(path)?;
    let st = store::open(&inv).await?;
    let key = crate::store::keys::envelope(&args.slug);
    let envelope = Envelope {
        schema_version: ENVELOPE_SCHEMA,
        slug: args.slug.clone(),
        tier: tier.into(),
        contacts: if args.contacts.is_empty() { inv.cluster.contacts.clone() } else { args.contacts.clone() },
        created_at: jiff::Timestamp::now().to_string(),
        store: st.describe(),
    };
    let created = st.create_new(&key, &serde_json::to_vec_pretty(&envelope)?).await?;
    let existing: Envelope = if created {
        envelope
    } else {
        let bytes = st.get(&key).await?.unwrap_or_default();
        let e: Envelope =
            serde_json::from_slice(&bytes).with_context(|| format!("the existing envelope `{key}` is unreadable"))?;
        if e.tier != tier {
            return Err(UsageError(format!(
                "the store already holds cluster `{}` as tier `{}` (created {}); refusing to change it to `{tier}`",
                e.slug, e.tier, e.created_at
            ))
            .into());
        }
        e
    };
    if p.json {
        p.json_line(&json!({"event": "init", "inventory": path, "inventory_written": wrote_inventory, "envelope": key, "envelope_created": created, "cluster": existing}));
    } else {
        p.out(format!(
            "cluster `{}` ({}): inventory `{}` {}; envelope `{key}` in {} {}",
            existing.slug,
            existing.tier,
            path.display(),
            if wrote_inventory { "written" } else { "already there" },
            st.describe(),
            if created { "created".to_string() } else { format!("already there (created {})", existing.created_at) },
        ));
        if wrote_inventory {
            p.note("next: add your nodes to the inventory, then `garnet inventory check` and `garnet facts`");
        }
    }
    Ok(ExitStatus::Success)
}
