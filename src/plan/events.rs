//! The event stream of a run: what `-o json` prints (one object per line), what the journal
//! records, and what the text printer and progress bars are drawn from.

use serde::{Deserialize, Serialize};

use super::{Outcome, Summary};
use crate::transport::Stream;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        run_id: String,
        cluster: String,
        command: String,
        /// The arguments after `garnet` (what `retry` reruns).
        argv: Vec<String>,
        nodes: Vec<String>,
        dry_run: bool,
        time: String,
    },
    StepStarted {
        node: String,
        step: String,
        index: usize,
    },
    Output {
        node: String,
        step: String,
        stream: StreamName,
        line: String,
    },
    StepFinished {
        node: String,
        step: String,
        index: usize,
        outcome: Outcome,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        exit_code: Option<i32>,
        duration_ms: u64,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        message: Option<String>,
    },
    NodeFinished {
        node: String,
        outcome: Outcome,
        duration_ms: u64,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        message: Option<String>,
    },
    /// Command-specific results, e.g. a node's facts.
    Data {
        node: String,
        kind: String,
        data: serde_json::Value,
    },
    RunFinished {
        run_id: String,
        summary: Summary,
        exit_code: u8,
        duration_ms: u64,
        interrupted: bool,
    },
}

/// `stdout` / `stderr` in events (kept separate from the transport type so events stay plain data).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StreamName {
    Stdout,
    Stderr,
}

impl From<Stream> for StreamName {
    fn from(s: Stream) -> Self {
        match s {
            Stream::Stdout => StreamName::Stdout,
            Stream::Stderr => StreamName::Stderr,
        }
    }
}

/// Where the executor sends events.
pub type EventTx = tokio::sync::mpsc::Sender<Event>;
