//! The run journal: every run's events (all but output lines) as JSON Lines under the local state
//! directory, `runs/<cluster>/<run-id>.jsonl`, mode 0600. `garnet retry` and `--limit @failed` read
//! the newest one to find the nodes that did not succeed.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::events::Event;

pub struct Journal {
    path: PathBuf,
    out: BufWriter<File>,
}

fn dir(state_dir: &Path, cluster: &str) -> PathBuf {
    state_dir.join("runs").join(cluster)
}

/// A new, sortable run id: UTC time to the millisecond plus the process id.
pub fn new_run_id(now: jiff::Timestamp) -> String {
    format!("{}{:03}Z-{:x}", now.strftime("%Y%m%dT%H%M%S."), now.subsec_millisecond(), std::process::id())
}

impl Journal {
    pub fn create(state_dir: &Path, cluster: &str, run_id: &str) -> std::io::Result<Journal> {
        let d = dir(state_dir, cluster);
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&d)?;
        let path = d.join(format!("{run_id}.jsonl"));
        let f = OpenOptions::new().create_new(true).write(true).mode(0o600).open(&path)?;
        Ok(Journal { path, out: BufWriter::new(f) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends an event (output lines are not journaled); flushed at node and run boundaries so a
    /// crash loses at most the steps in flight.
    pub fn record(&mut self, ev: &Event) -> std::io::Result<()> {
        if matches!(ev, Event::Output { .. }) {
            return Ok(());
        }
        serde_json::to_writer(&mut self.out, ev)?;
        self.out.write_all(b"\n")?;
        if matches!(ev, Event::RunStarted { .. } | Event::NodeFinished { .. } | Event::RunFinished { .. }) {
            self.out.flush()?;
        }
        Ok(())
    }
}

/// The newest journaled run of a cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct LastRun {
    pub run_id: String,
    pub argv: Vec<String>,
    /// Nodes whose outcome was not ok/changed, or that never finished.
    pub not_succeeded: Vec<String>,
}

pub fn last_run(state_dir: &Path, cluster: &str) -> std::io::Result<Option<LastRun>> {
    let d = dir(state_dir, cluster);
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&d) {
        Ok(rd) => rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "jsonl")).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    files.sort();
    let Some(newest) = files.pop() else { return Ok(None) };
    let mut run: Option<LastRun> = None;
    let mut targeted = Vec::new();
    let mut finished_ok = Vec::new();
    for line in BufReader::new(File::open(&newest)?).lines() {
        let line = line?;
        let Ok(ev) = serde_json::from_str::<Event>(&line) else { continue };
        match ev {
            Event::RunStarted { run_id, argv, nodes, .. } => {
                targeted = nodes;
                run = Some(LastRun { run_id, argv, not_succeeded: vec![] });
            }
            Event::NodeFinished { node, outcome, .. } if outcome.succeeded() => finished_ok.push(node),
            _ => {}
        }
    }
    Ok(run.map(|mut r| {
        r.not_succeeded = targeted.into_iter().filter(|n| !finished_ok.contains(n)).collect();
        r
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Outcome, Summary};

    #[test]
    fn last_run_lists_nodes_that_did_not_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let t0: jiff::Timestamp = "2026-11-26T10:00:00Z".parse().unwrap();
        let mut old = Journal::create(dir.path(), "c", &new_run_id(t0)).unwrap();
        old.record(&Event::RunStarted {
            run_id: "old".into(),
            cluster: "c".into(),
            command: "x".into(),
            argv: vec![],
            nodes: vec!["a".into()],
            dry_run: false,
            time: String::new(),
        })
        .unwrap();
        drop(old);
        let id = new_run_id("2026-11-26T11:00:00Z".parse().unwrap());
        let mut j = Journal::create(dir.path(), "c", &id).unwrap();
        let argv = vec!["exec".to_string(), "--".into(), "true".into()];
        j.record(&Event::RunStarted {
            run_id: id.clone(),
            cluster: "c".into(),
            command: "exec -- true".into(),
            argv: argv.clone(),
            nodes: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            dry_run: false,
            time: String::new(),
        })
        .unwrap();
        for (n, o) in [("a", Outcome::Changed), ("b", Outcome::Unreachable), ("c", Outcome::Failed)] {
            j.record(&Event::NodeFinished { node: n.into(), outcome: o, duration_ms: 1, message: None }).unwrap();
        }
        j.record(&Event::RunFinished {
            run_id: id.clone(),
            summary: Summary::default(),
            exit_code: 3,
            duration_ms: 1,
            interrupted: false,
        })
        .unwrap();
        drop(j);
        let last = last_run(dir.path(), "c").unwrap().unwrap();
        assert_eq!(last.run_id, id);
        assert_eq!(last.argv, argv);
        assert_eq!(last.not_succeeded, vec!["b", "c", "d"]);
    }
}
