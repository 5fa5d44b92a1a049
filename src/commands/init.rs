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
    let welcome = welcome(&inv, st.as_ref(), &existing, args.resend_welcome).await?;
    if p.json {
        p.json_line(&json!({"event": "init", "inventory": path, "inventory_written": wrote_inventory, "envelope": key, "envelope_created": created, "cluster": existing, "welcome": welcome}));
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
        match &welcome {
            Welcome::Sent { to, .. } => p.out(format!("welcome email sent to {}", to.join(", "))),
            Welcome::AlreadySent { at, .. } => {
                p.note(format!("welcome email already sent ({at}); `--resend-welcome` sends it again"))
            }
            Welcome::NotSent { why } => p.note(format!("welcome email not sent: {why}")),
        }
    }
    Ok(ExitStatus::Success)
}

/// What became of the welcome email.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Welcome {
    Sent { at: String, to: Vec<String> },
    AlreadySent { at: String, to: Vec<String> },
    NotSent { why: String },
}

/// Day 0's welcome email: the hardware question and the tier's next steps, once per cluster
/// (recorded in the store), when the inventory has `mail:` and the cluster has contacts.
async fn welcome(inv: &Inventory, st: &dyn store::Store, e: &Envelope, resend: bool) -> Result<Welcome> {
    let Some(mail) = &inv.mail else {
        return Ok(Welcome::NotSent { why: "the inventory has no `mail:` section".into() });
    };
    if e.contacts.is_empty() {
        return Ok(Welcome::NotSent { why: "the cluster has no contacts (`--contact`)".into() });
    }
    let key = crate::store::keys::welcome(&e.slug);
    if !resend
        && let Some(b) = st.get(&key).await?
        && let Ok(Welcome::Sent { at, to }) = serde_json::from_slice::<Welcome>(&b)
    {
        return Ok(Welcome::AlreadySent { at, to });
    }
    let message = crate::report::mail::Mail {
        to: e.contacts.clone(),
        subject: format!("Welcome to garnet: cluster {}", e.slug),
        text: welcome_text(e),
        files: vec![],
    };
    crate::report::mail::send(mail, &message).await?;
    let sent = Welcome::Sent { at: jiff::Timestamp::now().to_string(), to: e.contacts.clone() };
    st.put(&key, &serde_json::to_vec_pretty(&sent)?).await?;
    Ok(sent)
}

/// The welcome email's text: the question intake needs answered, and what happens next.
pub fn welcome_text(e: &Envelope) -> String {
    let tier_line = match e.tier.as_str() {
        "enterprise" => {
            "Enterprise: your named garnet engineer runs intake and deploy with you, reviews each weekly placement diff with you before it is applied, and walks you through the monthly report."
        }
        "scale" => {
            "Scale: your garnet engineer runs intake and deploy with you and applies the weekly placement changes you approve."
        }
        _ => {
            "Pro: your team runs the runbooks garnet writes for each step; garnet sends the weekly placement diff and the monthly report."
        }
    };
    format!(
        "Welcome to garnet. Your cluster `{slug}` is set up ({tier} tier).\n\n\
         What hardware are you running?\n\
         Reply with each machine: its model and chip (e.g. Mac Studio M2 Ultra), its memory, how many you have, \
         and where they sit (rack, office, colo), plus the models you want to serve and the traffic you expect.\n\n\
         What happens next:\n\
         - Day 1: intake (`garnet intake`) turns your answers into the inventory; deploy puts the models, the router \
         and the monitors on your machines.\n\
         - Day 7: the first weekly placement diff, from a week of your real traffic.\n\
         - Day 30: the first monthly report (PDF), by email.\n\n\
         {tier_line}\n",
        slug = e.slug,
        tier = e.tier,
    )
}
