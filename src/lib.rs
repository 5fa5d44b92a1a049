//! garnet: operator CLI and runbook automation for LLM inference racks you own.
//!
//! Everything goes inventory → plan → executor → transport → node. See `ARCHITECTURE.md`.

pub mod cli;
pub mod exit;
pub mod inventory;

pub use exit::ExitStatus;

pub fn run(_args: impl IntoIterator<Item = std::ffi::OsString>) -> ExitStatus {
    ExitStatus::Success
}
pub mod transport;
pub mod util;
