//! The router's optional access log (`garnet router --access-log FILE`): one JSON line per request
//! that reached a backend, written when it ended, with the same durations the latency sketches
//! were given. It is the exact record the sketches summarise: tests compute exact quantiles from
//! it and hold the sketches (and the monitor's windows) to them; operators grep it. Rotated by size
//! like every log garnet writes (`node::logs`).

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::node::logs::{LogRotation, RotatingFile};

/// One ended request.
#[derive(Debug, Serialize)]
pub struct Record<'a> {
    /// When it ended, RFC 3339 UTC with milliseconds.
    pub at: String,
    pub model: &'a str,
    pub backend: &'a str,
    /// `ok`, `failed`, `cut`, `client_gone` or `rejected` (see `table::Counters`).
    pub outcome: &'static str,
    pub stream: bool,
    /// End to end, from the request's arrival; time to the first byte of the answer; waiting
    /// for a slot. Milliseconds, microsecond precision.
    pub e2e_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    pub queue_ms: f64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
}

pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

pub struct AccessLog {
    file: Mutex<RotatingFile>,
}

impl AccessLog {
    pub fn open(path: &Path, rotation: LogRotation) -> std::io::Result<AccessLog> {
        Ok(AccessLog { file: Mutex::new(RotatingFile::open(path, rotation)?) })
    }

    /// Appends one record (one `write`: a line is never split between two writers).
    pub fn write(&self, r: &Record) {
        let mut line = serde_json::to_vec(r).expect("a record serializes");
        line.push(b'\n');
        self.file.lock().unwrap_or_else(|e| e.into_inner()).write(&line);
    }
}
