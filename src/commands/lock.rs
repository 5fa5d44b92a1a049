//! `garnet lock status|release`.

use anyhow::Result;
use serde_json::json;

use super::Ctx;
use crate::ExitStatus;
use crate::cli::LockCommand;
use crate::store::{self, lock};

pub async fn run(cmd: &LockCommand, ctx: &Ctx) -> Result<ExitStatus> {
    let p = &ctx.printer;
    let inv = ctx.load_inventory()?;
    let store = store::open(&inv).await?;
    let key = lock::key(&inv.cluster.slug);
    let holder = lock::read(store.as_ref(), &key).await?;
    match cmd {
        LockCommand::Status => {
            if p.json {
                p.json_line(
                    &json!({"event": "lock", "cluster": inv.cluster.slug, "held": holder.is_some(), "holder": holder}),
                );
            } else {
                match &holder {
                    None => p.out(format!("cluster `{}` is not locked", inv.cluster.slug)),
                    Some(h) => p.out(format!("cluster `{}` is locked by {}", inv.cluster.slug, h.describe())),
                }
            }
            Ok(ExitStatus::Success)
        }
        LockCommand::Release => {
            store.delete(&key).await?;
            if p.json {
                p.json_line(&json!({"event": "lock_released", "cluster": inv.cluster.slug, "previous_holder": holder, "message": ctx.global.message}));
            } else {
                match &holder {
                    None => p.out(format!("cluster `{}` was not locked", inv.cluster.slug)),
                    Some(h) => {
                        p.out(format!("released the lock of cluster `{}` held by {}", inv.cluster.slug, h.describe()))
                    }
                }
            }
            Ok(ExitStatus::Success)
        }
    }
}
