//! Transports: how garnet reaches a node. One trait, three implementations.
//!
//! - [`openssh`]: the system OpenSSH client through a multiplexed master connection, so
//!   `~/.ssh/config`, ProxyJump, ProxyCommand, agents and FIDO keys behave exactly as with `ssh`.
//! - [`russh`]: a native Rust client (key file or agent; known_hosts verified).
//! - [`local`]: this machine, through `sh -c`.
//!
//! Connecting is separate from running: [`connect`] retries transient failures with backoff and
//! reports a node that cannot be reached as [`ConnectError`] (the executor's *unreachable*), distinct
//! from a command that ran and failed (a non-zero [`RunOutput::exit_code`]).

pub mod local;
pub mod openssh;
pub mod russh;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::inventory::{Node, TransportKind};

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One line of a command's output, without its newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub stream: Stream,
    pub text: String,
}

/// What to run and how to treat its output.
#[derive(Debug, Default)]
pub struct RunRequest {
    /// A shell command line, run by the node's shell.
    pub command: String,
    /// Bytes fed to the command's stdin (then EOF); none means an empty stdin.
    pub stdin: Option<Vec<u8>>,
    pub timeout: Option<Duration>,
    /// Where output lines go as they arrive (backpressure: a full channel slows the reader).
    pub lines: Option<mpsc::Sender<Line>>,
    /// Keep stdout and stderr in [`RunOutput`] as well.
    pub capture: bool,
}

impl RunRequest {
    pub fn new(command: impl Into<String>) -> Self {
        RunRequest { command: command.into(), ..Default::default() }
    }
}

/// A command that ran to completion (whatever its exit status).
#[derive(Debug, Default, Clone)]
pub struct RunOutput {
    /// The exit code, or `None` when the command was killed by a signal.
    pub exit_code: Option<i32>,
    /// The signal's name when it was killed by one.
    pub signal: Option<String>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl RunOutput {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// `exit 3`, or `killed by TERM`.
    pub fn describe(&self) -> String {
        match (self.exit_code, &self.signal) {
            (Some(c), _) => format!("exit {c}"),
            (None, Some(s)) => format!("killed by signal {s}"),
            (None, None) => "ended without an exit status".to_string(),
        }
    }
}

/// A command could not be run to completion.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("timed out after {}", crate::util::human_duration(*.0))]
    Timeout(Duration),
    #[error("connection lost: {0}")]
    ConnectionLost(String),
    #[error("{0}")]
    Other(String),
}

/// A node could not be reached.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    pub message: String,
    /// Worth retrying (refused, reset, timed out) as opposed to final (auth, host key).
    pub transient: bool,
}

impl ConnectError {
    pub fn new(message: impl Into<String>, transient: bool) -> Self {
        ConnectError { message: message.into(), transient }
    }

    /// Classifies an SSH client's error text.
    pub fn from_ssh_text(text: &str) -> Self {
        let text = text.trim();
        let lower = text.to_ascii_lowercase();
        let transient = [
            "connection refused",
            "timed out",
            "connection reset",
            "connection closed",
            "no route to host",
            "kex_exchange_identification",
            "network is unreachable",
            "broken pipe",
        ]
        .iter()
        .any(|p| lower.contains(p));
        ConnectError::new(text, transient)
    }
}

/// An open connection to one node.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Runs a shell command, streaming its output; returns once it has exited.
    async fn run(&self, req: RunRequest) -> Result<RunOutput, TransportError>;

    /// Closes the connection (best effort).
    async fn close(self: Box<Self>);

    /// Writes `contents` to `path` atomically (temporary file, then rename) with `mode`.
    async fn upload(&self, path: &str, contents: &[u8], mode: u32) -> Result<(), TransportError> {
        let p = shell_path(path);
        let cmd = format!(
            "set -e; umask 077; p={p}; mkdir -p \"$(dirname \"$p\")\"; t=\"$p.garnet-tmp.$$\"; cat > \"$t\"; chmod {mode:o} \"$t\"; mv -f \"$t\" \"$p\""
        );
        let out = self
            .run(RunRequest { command: cmd, stdin: Some(contents.to_vec()), capture: true, ..Default::default() })
            .await?;
        if out.success() {
            Ok(())
        } else {
            Err(TransportError::Other(format!(
                "upload to `{path}` failed ({}): {}",
                out.describe(),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// Reads a file; `None` when it does not exist.
    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, TransportError> {
        let p = shell_path(path);
        let cmd = format!("p={p}; if [ -e \"$p\" ]; then cat -- \"$p\"; else exit 44; fi");
        let out = self.run(RunRequest { command: cmd, capture: true, ..Default::default() }).await?;
        match out.exit_code {
            Some(0) => Ok(Some(out.stdout)),
            Some(44) => Ok(None),
            _ => Err(TransportError::Other(format!(
                "reading `{path}` failed ({}): {}",
                out.describe(),
                String::from_utf8_lossy(&out.stderr).trim()
            ))),
        }
    }
}

/// Quotes a path for a POSIX shell, keeping a leading `~/` expandable.
pub fn shell_path(path: &str) -> String {
    match path.strip_prefix("~/") {
        Some(rest) => format!("\"$HOME\"/{}", shell_quote(rest)),
        None if path == "~" => "\"$HOME\"".to_string(),
        None => shell_quote(path),
    }
}

/// Wraps a command so that the node itself ends it after `limit`: a watchdog sends TERM to the
/// command's whole process tree, then KILL three seconds later. Closing an SSH channel does not stop
/// a command that neither reads nor writes, so without this a timed-out command would keep running
/// on the node. Portable to macOS and Linux `sh` (job control is unavailable without a terminal, so
/// the tree is walked with `pgrep -P`). Stdin of the command is `/dev/null`.
pub fn with_deadline(command: &str, limit: Duration) -> String {
    let secs = limit.as_secs_f64().ceil().max(1.0) as u64;
    format!(
        "k() {{ for p in $(pgrep -P \"$1\" 2>/dev/null); do k \"$p\" \"$2\"; done; kill -\"$2\" \"$1\" 2>/dev/null; }}\n\
         sh -c {cmd} &\n\
         c=$!\n\
         (sleep {secs}; k $c TERM; sleep 3; k $c KILL) </dev/null >/dev/null 2>&1 &\n\
         w=$!\n\
         wait $c; rc=$?\n\
         k $w TERM\n\
         exit $rc",
        cmd = shell_quote(command)
    )
}

/// Single-quotes a word for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Settings shared by every connection of one run.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Where OpenSSH control sockets live (kept short: unix sockets max 108 bytes).
    pub control_dir: PathBuf,
    /// Keep each node's OpenSSH master this long after the last use, for the next command to
    /// reuse; `None` closes masters when the run ends.
    pub persist: Option<Duration>,
}

impl ConnectOptions {
    /// Masters closed when the run ends, in `control_dir`.
    pub fn closing(control_dir: PathBuf) -> Self {
        ConnectOptions { control_dir, persist: None }
    }
}

/// Opens a connection to `node`, retrying transient failures with exponential backoff.
pub async fn connect(node: &Node, opts: &ConnectOptions) -> Result<Box<dyn Transport>, ConnectError> {
    let mut attempt = 0;
    loop {
        let result = match node.transport {
            TransportKind::Local => Ok(Box::new(local::Local) as Box<dyn Transport>),
            TransportKind::Openssh => openssh::connect(node, opts).await.map(|t| Box::new(t) as Box<dyn Transport>),
            TransportKind::Russh => russh::connect(node).await.map(|t| Box::new(t) as Box<dyn Transport>),
        };
        match result {
            Err(e) if e.transient && attempt < node.connect_retries => {
                let backoff = Duration::from_millis(200 * (1 << attempt.min(5)));
                tracing::debug!(node = %node.name, attempt, error = %e, "connect failed, retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                attempt += 1;
            }
            Err(mut e) => {
                if attempt > 0 {
                    e.message = format!("{} (after {} attempts)", e.message, attempt + 1);
                }
                return Err(e);
            }
            ok => return ok,
        }
    }
}

/// Splits byte chunks into lines, sends them on, and optionally keeps the bytes.
pub(crate) struct OutputPump {
    lines: Option<mpsc::Sender<Line>>,
    capture: bool,
    pending: [Vec<u8>; 2],
    captured: [Vec<u8>; 2],
}

impl OutputPump {
    pub(crate) fn new(req: &RunRequest) -> Self {
        OutputPump {
            lines: req.lines.clone(),
            capture: req.capture,
            pending: Default::default(),
            captured: Default::default(),
        }
    }

    pub(crate) async fn feed(&mut self, stream: Stream, data: &[u8]) {
        let i = stream as usize;
        if self.capture {
            self.captured[i].extend_from_slice(data);
        }
        let Some(tx) = &self.lines else { return };
        let buf = &mut self.pending[i];
        buf.extend_from_slice(data);
        let mut start = 0;
        while let Some(pos) = buf[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos;
            let line = &buf[start..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let _ = tx.send(Line { stream, text: String::from_utf8_lossy(line).into_owned() }).await;
            start = end + 1;
        }
        buf.drain(..start);
    }

    /// Flushes a last line without a newline; returns (stdout, stderr) when capturing.
    pub(crate) async fn finish(mut self) -> (Vec<u8>, Vec<u8>) {
        if let Some(tx) = &self.lines {
            for (i, stream) in [Stream::Stdout, Stream::Stderr].into_iter().enumerate() {
                if !self.pending[i].is_empty() {
                    let text = String::from_utf8_lossy(&self.pending[i]).into_owned();
                    let _ = tx.send(Line { stream, text }).await;
                }
            }
        }
        let [o, e] = std::mem::take(&mut self.captured);
        (o, e)
    }
}

/// Reads two async streams to the end into one pump, interleaving as data arrives.
pub(crate) async fn pump_two<O, E>(pump: &mut OutputPump, mut out: Option<O>, mut err: Option<E>) -> std::io::Result<()>
where
    O: tokio::io::AsyncRead + Unpin,
    E: tokio::io::AsyncRead + Unpin,
{
    use tokio::io::AsyncReadExt;
    let mut ob = vec![0u8; 32 * 1024];
    let mut eb = vec![0u8; 32 * 1024];
    while out.is_some() || err.is_some() {
        tokio::select! {
            r = async { out.as_mut().unwrap().read(&mut ob).await }, if out.is_some() => {
                match r? { 0 => out = None, n => pump.feed(Stream::Stdout, &ob[..n]).await }
            }
            r = async { err.as_mut().unwrap().read(&mut eb).await }, if err.is_some() => {
                match r? { 0 => err = None, n => pump.feed(Stream::Stderr, &eb[..n]).await }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("abc/d.e"), "abc/d.e");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_path("~/x y"), "\"$HOME\"/'x y'");
    }

    #[test]
    fn classify_ssh_errors() {
        assert!(ConnectError::from_ssh_text("ssh: connect to host 127.0.0.9 port 22: Connection refused").transient);
        assert!(!ConnectError::from_ssh_text("Permission denied (publickey).").transient);
        assert!(!ConnectError::from_ssh_text("Host key verification failed.").transient);
    }

    #[tokio::test]
    async fn pump_splits_lines_across_chunks() {
        let (tx, mut rx) = mpsc::channel(16);
        let req = RunRequest { lines: Some(tx), capture: true, ..Default::default() };
        let mut pump = OutputPump::new(&req);
        drop(req);
        pump.feed(Stream::Stdout, b"one\ntw").await;
        pump.feed(Stream::Stdout, b"o\r\nthree").await;
        pump.feed(Stream::Stderr, b"err\n").await;
        let (out, err) = pump.finish().await;
        assert_eq!(out, b"one\ntwo\r\nthree");
        assert_eq!(err, b"err\n");
        let mut got = Vec::new();
        while let Ok(l) = rx.try_recv() {
            got.push((l.stream, l.text));
        }
        assert_eq!(
            got,
            vec![
                (Stream::Stdout, "one".into()),
                (Stream::Stdout, "two".into()),
                (Stream::Stderr, "err".into()),
                (Stream::Stdout, "three".into())
            ]
        );
    }
}
