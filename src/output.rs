//! All user-facing output goes through here: the [`Printer`] knows TTY or not, `-o text|json`,
//! `--quiet` and NO_COLOR; [`report`] turns a run's event stream into text lines, progress bars,
//! JSON lines and journal entries.
//!
//! Streams: command output lines go to stdout (stderr lines to stderr), each prefixed with the node
//! name; progress, notes, warnings and the summary table go to stderr, so stdout pipes cleanly. With
//! `-o json`, stdout carries one JSON event per line and nothing else.
#![allow(clippy::print_stdout, clippy::print_stderr, reason = "the one place that prints")]

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::cli::{GlobalArgs, OutputFormat};
use crate::plan::events::{Event, StreamName};
use crate::plan::journal::Journal;
use crate::plan::{Outcome, Report};
use crate::util::human_duration;

#[derive(Debug, Clone)]
pub struct Printer {
    pub json: bool,
    pub quiet: bool,
    pub verbose: u8,
    pub color: bool,
    pub stdin_tty: bool,
    pub stderr_tty: bool,
}

impl Printer {
    pub fn new(g: &GlobalArgs) -> Self {
        let stderr_tty = std::io::stderr().is_terminal();
        Printer {
            json: g.output == OutputFormat::Json,
            quiet: g.quiet,
            verbose: g.verbose,
            color: stderr_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            stdin_tty: std::io::stdin().is_terminal(),
            stderr_tty,
        }
    }

    /// Progress bars: text output on a terminal, not quiet.
    pub fn progress(&self) -> bool {
        !self.json && !self.quiet && self.stderr_tty
    }

    /// What a confirmation asks about, on stderr, `--quiet` or not (a prompt must say what it
    /// asks).
    pub fn prompt(&self, text: impl std::fmt::Display) {
        eprintln!("{text}");
    }

    /// A human note on stderr (suppressed by `--quiet`).
    pub fn note(&self, msg: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }

    pub fn warn(&self, msg: impl std::fmt::Display) {
        let tag = if self.color { "\x1b[33mwarning\x1b[0m" } else { "warning" };
        eprintln!("{tag}: {msg}");
    }

    /// One JSON object as a line on stdout.
    pub fn json_line(&self, v: &impl Serialize) {
        let mut out = std::io::stdout().lock();
        let _ = serde_json::to_writer(&mut out, v);
        let _ = out.write_all(b"\n");
        let _ = out.flush();
    }

    /// One result: `text` for people, `json` with `-o json`.
    pub fn line(&self, text: &str, json: &impl Serialize) {
        if self.json { self.json_line(json) } else { self.out(text) }
    }

    /// Plain text on stdout (tables, lists): the command's own result.
    pub fn out(&self, text: impl std::fmt::Display) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
    }

    pub fn table(&self) -> Table {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
        t
    }

    fn paint(&self, o: Outcome) -> String {
        if !self.color {
            return o.as_str().to_string();
        }
        let code = match o {
            Outcome::Ok => "32",
            Outcome::Changed => "33",
            Outcome::Failed | Outcome::Unreachable => "31",
            Outcome::Skipped => "36",
        };
        format!("\x1b[{code}m{}\x1b[0m", o.as_str())
    }
}

/// Consumes a run's events until the sender is dropped: prints them and journals them.
pub async fn report(mut rx: mpsc::Receiver<Event>, printer: Printer, mut journal: Option<Journal>, nodes: Vec<String>) {
    let bars = printer.progress().then(|| Bars::new(&nodes));
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout());
    let mut broken = false;
    while let Some(ev) = rx.recv().await {
        if let Some(j) = journal.as_mut()
            && let Err(e) = j.record(&ev)
        {
            printer.warn(format!("cannot write the run journal `{}`: {e}", j.path().display()));
            journal = None;
        }
        if printer.json {
            if !broken {
                broken = serde_json::to_writer(&mut out, &ev).is_err() || out.write_all(b"\n").is_err();
            }
        } else {
            match &ev {
                Event::Output { node, stream, line, .. } => {
                    let write = |w: &mut dyn Write| writeln!(w, "{node}: {line}").is_ok();
                    match (stream, &bars) {
                        (_, Some(b)) => b.mp.suspend(|| {
                            let _ = out.flush();
                            if *stream == StreamName::Stdout {
                                write(&mut std::io::stdout());
                            } else {
                                write(&mut std::io::stderr());
                            }
                        }),
                        (StreamName::Stdout, None) => {
                            if !broken {
                                broken = !write(&mut out);
                            }
                        }
                        (StreamName::Stderr, None) => {
                            let _ = out.flush();
                            write(&mut std::io::stderr());
                        }
                    }
                }
                Event::StepStarted { node, step, .. } => {
                    if let Some(b) = &bars {
                        b.set(node, step);
                    }
                }
                Event::NodeFinished { node, outcome, message, duration_ms, .. } => {
                    if let Some(b) = &bars {
                        b.done(node, &printer.paint(*outcome), Duration::from_millis(*duration_ms));
                    }
                    if !outcome.succeeded() && *outcome != Outcome::Skipped {
                        let _ = out.flush();
                        let text = format!("{node}: {}: {}", printer.paint(*outcome), message.as_deref().unwrap_or(""));
                        match &bars {
                            Some(b) => b.mp.suspend(|| eprintln!("{text}")),
                            None => eprintln!("{text}"),
                        }
                    }
                }
                _ => {}
            }
        }
        if rx.is_empty() {
            let _ = out.flush();
        }
    }
    let _ = out.flush();
    if let Some(b) = bars {
        b.mp.clear().ok();
    }
}

/// The end of a run on stderr (text mode, not quiet): a table when something needs a look (or with
/// `-v`), and always a one-line tally.
pub fn print_summary(printer: &Printer, report: &Report) {
    if printer.json || printer.quiet {
        return;
    }
    if report.summary.exit_status() != crate::ExitStatus::Success || printer.verbose > 0 {
        let mut t = printer.table();
        t.set_header(vec!["node", "outcome", "time", "detail"]);
        for n in &report.nodes {
            t.add_row(vec![
                n.node.name.clone(),
                printer.paint(n.outcome),
                human_duration(n.duration),
                n.message.clone().unwrap_or_default(),
            ]);
        }
        eprintln!("{t}");
    }
    let s = &report.summary;
    let mut parts = Vec::new();
    for (n, label) in [
        (s.ok, "ok"),
        (s.changed, "changed"),
        (s.failed, "failed"),
        (s.unreachable, "unreachable"),
        (s.skipped, "skipped"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {label}"));
        }
    }
    let interrupted = if report.interrupted { " (interrupted)" } else { "" };
    eprintln!(
        "{} node{}: {} in {}{interrupted}",
        s.total(),
        if s.total() == 1 { "" } else { "s" },
        parts.join(", "),
        human_duration(report.duration)
    );
}

struct Bars {
    mp: MultiProgress,
    bars: HashMap<String, ProgressBar>,
}

impl Bars {
    fn new(nodes: &[String]) -> Self {
        let mp = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style =
            ProgressStyle::with_template("{spinner} {prefix:<20} {wide_msg} {elapsed:>4}").expect("valid template");
        let mut bars = HashMap::new();
        // One line per node up to a screenful; beyond that only the failures and the summary matter.
        for n in nodes.iter().take(24) {
            let pb = mp.add(
                ProgressBar::new_spinner().with_style(style.clone()).with_prefix(n.clone()).with_message("connecting"),
            );
            pb.enable_steady_tick(Duration::from_millis(120));
            bars.insert(n.clone(), pb);
        }
        Bars { mp, bars }
    }

    fn set(&self, node: &str, msg: &str) {
        if let Some(b) = self.bars.get(node) {
            b.set_message(msg.to_string());
        }
    }

    fn done(&self, node: &str, outcome: &str, d: Duration) {
        if let Some(b) = self.bars.get(node) {
            b.finish_with_message(format!("{outcome} ({})", human_duration(d)));
        }
    }
}

/// A line on stderr from a daemon or a node-side helper (the router, the monitor, the supervisor,
/// `wait-ready`): they run without a printer, under a supervisor that keeps their stderr.
pub fn daemon_line(text: impl std::fmt::Display) {
    eprintln!("{text}");
}

/// A line on stdout from a node-side helper whose stdout is its result (`wait-ready`,
/// `admin-call`: the step captures it).
pub fn result_line(text: impl std::fmt::Display) {
    println!("{text}");
}

/// `daemon_line!("…", args)`: [`daemon_line`] with `format!`'s arguments.
#[macro_export]
macro_rules! daemon_line {
    ($($t:tt)*) => { $crate::output::daemon_line(format!($($t)*)) };
}

/// `result_line!("…", args)`: [`result_line`] with `format!`'s arguments.
#[macro_export]
macro_rules! result_line {
    ($($t:tt)*) => { $crate::output::result_line(format!($($t)*)) };
}

/// `prompt_line!("…", args)`: an interactive command's question or heading on stderr (intake).
#[macro_export]
macro_rules! prompt_line {
    ($($t:tt)*) => { $crate::output::daemon_line(format!($($t)*)) };
}
