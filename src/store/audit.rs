//! The audit log: one immutable object per operator action that changed (or tried to change) the
//! cluster, under `audit/cluster=<slug>/date=YYYY-MM-DD/<HHMMSS>-<run>.json`.

use serde::Serialize;

use super::{Store, StoreError};

#[derive(Debug, Serialize)]
pub struct AuditEntry<'a> {
    pub run_id: &'a str,
    pub cluster: &'a str,
    pub user: &'a str,
    pub host: &'a str,
    pub command: &'a str,
    pub message: Option<&'a str>,
    pub started_at: &'a str,
    pub finished_at: String,
    pub nodes: &'a [String],
    pub summary: &'a crate::plan::Summary,
    pub exit_code: u8,
    /// Why a run that needs no lock failed (a scheduled report whose mail bounced, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub async fn record(store: &dyn Store, entry: &AuditEntry<'_>, started: jiff::Timestamp) -> Result<String, StoreError> {
    let key = super::keys::audit(entry.cluster, started, entry.run_id);
    let body = serde_json::to_vec_pretty(entry).expect("audit entry serializes");
    store.put(&key, &body).await?;
    Ok(key)
}
