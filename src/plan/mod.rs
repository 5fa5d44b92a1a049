//! Plans and their execution: what garnet will do to which node, then doing it.
//!
//! A [`Plan`] is steps × nodes, built by a command before anything touches a node. The same plan is
//! rendered for `--dry-run` (and, later, runbooks) and executed by [`executor::execute`], which
//! reports every step and node [`Outcome`] as [`events::Event`]s: the printer, the progress bars and
//! the journal all read that one stream.

/// The exit code a step's script uses for "already so, nothing changed" (every script garnet
/// writes; one value everywhere).
pub const UNCHANGED: i32 = 100;

pub mod events;
pub mod executor;
pub mod journal;
pub mod render;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::inventory::Node;
use crate::transport::RunOutput;

/// Everything a command will do.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The command as the user would type it, e.g. `exec -- uptime`.
    pub command: String,
    /// Changes nodes: confirm first, take the cluster lock, write an audit entry.
    pub mutating: bool,
    pub nodes: Vec<NodePlan>,
}

impl Plan {
    /// The same one step on every node (ad-hoc commands, probes, key changes).
    pub fn same_step(command: String, mutating: bool, nodes: crate::inventory::Selection, step: Step) -> Plan {
        let nodes = nodes.into_iter().map(|node| NodePlan { node, steps: vec![step.clone()] }).collect();
        Plan { command, mutating, nodes }
    }
}

#[derive(Debug, Clone)]
pub struct NodePlan {
    pub node: Arc<Node>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub action: Action,
}

#[derive(Debug, Clone)]
pub enum Action {
    /// A shell command.
    Run {
        command: String,
        timeout: Option<Duration>,
        /// Stream output lines as events (shown to the user).
        stream: bool,
        /// Keep stdout/stderr in the step report (for parsing).
        capture: bool,
        /// A zero exit counts as `changed` rather than `ok`.
        changes: bool,
        /// An exit code meaning "nothing to do" ([`UNCHANGED`]): the step is `ok` (idempotent
        /// steps report it).
        unchanged_exit: Option<i32>,
    },
    /// A file written atomically; unchanged content is `ok`, new or different is `changed`.
    Upload {
        path: String,
        contents: Vec<u8>,
        mode: u32,
        /// A secret (a key, a token), read from this local file: its content is never rendered;
        /// a runbook writes it from that file.
        secret: Option<std::path::PathBuf>,
    },
    /// A local file (a binary, model weights) copied when the node's copy has another SHA-256.
    Copy { source: std::path::PathBuf, path: String, mode: u32, size: u64, sha256: String },
}

/// How a step or a node ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Changed,
    Failed,
    Unreachable,
    Skipped,
}

impl Outcome {
    pub fn succeeded(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Changed)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Changed => "changed",
            Outcome::Failed => "failed",
            Outcome::Unreachable => "unreachable",
            Outcome::Skipped => "skipped",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Nodes per outcome.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    pub ok: usize,
    pub changed: usize,
    pub failed: usize,
    pub unreachable: usize,
    pub skipped: usize,
}

impl Summary {
    pub fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Ok => self.ok += 1,
            Outcome::Changed => self.changed += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Unreachable => self.unreachable += 1,
            Outcome::Skipped => self.skipped += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.ok + self.changed + self.failed + self.unreachable + self.skipped
    }

    /// success when all succeeded, failure when none did, partial otherwise.
    pub fn exit_status(&self) -> crate::ExitStatus {
        let good = self.ok + self.changed;
        if good == self.total() {
            crate::ExitStatus::Success
        } else if good == 0 {
            crate::ExitStatus::Failure
        } else {
            crate::ExitStatus::Partial
        }
    }
}

/// What happened to one step on one node.
#[derive(Debug, Clone)]
pub struct StepReport {
    pub name: String,
    pub outcome: Outcome,
    pub duration: Duration,
    pub output: Option<RunOutput>,
    pub message: Option<String>,
}

/// What happened on one node.
#[derive(Debug, Clone)]
pub struct NodeReport {
    pub node: Arc<Node>,
    pub outcome: Outcome,
    pub duration: Duration,
    pub steps: Vec<StepReport>,
    pub message: Option<String>,
}

/// What happened in one run.
#[derive(Debug, Clone)]
pub struct Report {
    pub nodes: Vec<NodeReport>,
    pub summary: Summary,
    pub interrupted: bool,
    pub duration: Duration,
}

impl Report {
    pub fn exit_status(&self) -> crate::ExitStatus {
        if self.interrupted { crate::ExitStatus::Interrupted } else { self.summary.exit_status() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExitStatus;

    #[test]
    fn exit_status_from_outcomes() {
        let mut s = Summary::default();
        s.add(Outcome::Ok);
        s.add(Outcome::Changed);
        assert_eq!(s.exit_status(), ExitStatus::Success);
        s.add(Outcome::Unreachable);
        assert_eq!(s.exit_status(), ExitStatus::Partial);
        let mut f = Summary::default();
        f.add(Outcome::Failed);
        f.add(Outcome::Skipped);
        assert_eq!(f.exit_status(), ExitStatus::Failure);
    }
}
