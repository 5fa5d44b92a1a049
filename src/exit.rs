//! Exit codes, one meaning each, documented in `--help` and the README.

/// How a garnet invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitStatus {
    /// Everything asked for was done (or, for `--dry-run`, rendered).
    Success,
    /// Nothing succeeded: every targeted node failed or was unreachable, or garnet itself failed.
    Failure,
    /// Bad usage or an invalid inventory: nothing was run against any node.
    Usage,
    /// Some nodes succeeded, others failed, were unreachable or were skipped.
    Partial,
    /// The cluster lock is held by another operator (and `--lock-wait` ran out).
    Locked,
    /// Interrupted by Ctrl-C / SIGTERM.
    Interrupted,
    /// `placement diff`: the telemetry calls for changes (CI can gate on it).
    Proposed,
    /// Hidden node-side helpers only (`admin-call apply-routes`): nothing needed doing, the
    /// convention of deploy's idempotent steps.
    Unchanged,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Partial => 3,
            ExitStatus::Locked => 4,
            ExitStatus::Interrupted => 130,
            ExitStatus::Proposed => 5,
            ExitStatus::Unchanged => crate::node::service::UNCHANGED as u8,
        }
    }
}

/// The exit status an error ends a run with, as the last-resort report picks it (usage errors
/// are 2, the lock held is 4, anything else 1).
pub fn status_of(err: &anyhow::Error) -> ExitStatus {
    if err.downcast_ref::<UsageError>().is_some() || err.downcast_ref::<crate::inventory::LoadError>().is_some() {
        ExitStatus::Usage
    } else if let Some(crate::store::lock::LockError::Held(_)) = err.downcast_ref::<crate::store::lock::LockError>() {
        ExitStatus::Locked
    } else {
        ExitStatus::Failure
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status.code())
    }
}

/// The exit-code table as shown in `--help` (kept here so help, README and code agree).
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    success: every targeted node ok or changed (or the dry-run was rendered)
  1    failure: every targeted node failed or was unreachable, or garnet itself failed
  2    usage or inventory error: nothing ran against any node
  3    partial: some nodes succeeded, others failed, were unreachable or skipped
  4    the cluster lock is held by another operator
  130  interrupted";

/// Bad usage detected after parsing (a `--limit` that matches nothing, a missing `--yes`):
/// exit code 2, nothing was run.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);
