//! Logs of garnet's services on a node, bounded: every service runs under `garnet supervise`,
//! which reads the program's stdout and stderr through pipes and writes them to
//! `<run>/<name>.out.log` and `.err.log`, rotated by size (`.1` newest … `.<keep>` oldest, the
//! oldest dropped), on every service backend (process, launchd, systemd) alike. A loader writes
//! ~400 bytes per request (measured on the lab: 117 KB for 287 requests); unrotated, a busy node
//! fills its disk in months.
//!
//! The writer never blocks the program for long: a line that cannot be written (disk full) is
//! dropped and counted, so a full disk never stalls inference.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How big a service's logs may grow: each file up to `max_bytes`, `keep` rotated files besides
/// the current one (so at most `(keep + 1) × max_bytes` per stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogRotation {
    pub max_bytes: u64,
    pub keep: u32,
}

impl Default for LogRotation {
    fn default() -> Self {
        LogRotation { max_bytes: 10 << 20, keep: 3 }
    }
}

/// A file that rotates itself when the next write would pass `max_bytes`.
pub struct RotatingFile {
    path: PathBuf,
    limits: LogRotation,
    file: Option<File>,
    size: u64,
    /// Bytes that could not be written (reported in the next file opened).
    pub dropped: u64,
}

impl RotatingFile {
    pub fn open(path: &Path, limits: LogRotation) -> std::io::Result<RotatingFile> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile { path: path.to_path_buf(), limits, file: Some(file), size, dropped: 0 })
    }

    fn rotated(&self, i: u32) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{i}"));
        PathBuf::from(p)
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.file = None;
        if self.limits.keep == 0 {
            std::fs::remove_file(&self.path)
                .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })?;
        } else {
            let _ = std::fs::remove_file(self.rotated(self.limits.keep));
            for i in (1..self.limits.keep).rev() {
                let _ = std::fs::rename(self.rotated(i), self.rotated(i + 1));
            }
            std::fs::rename(&self.path, self.rotated(1))?;
        }
        let mut f = OpenOptions::new().create(true).append(true).open(&self.path)?;
        self.size = 0;
        if self.dropped > 0 {
            let note = format!("garnet: {} bytes of log were dropped (could not be written)\n", self.dropped);
            if f.write_all(note.as_bytes()).is_ok() {
                self.size = note.len() as u64;
                self.dropped = 0;
            }
        }
        self.file = Some(f);
        Ok(())
    }

    /// Appends `data` (whole lines, as the pipe reader hands them), rotating first when it would
    /// pass the size limit. Failures drop the data and count it; they are not returned.
    pub fn write(&mut self, data: &[u8]) {
        if (self.size > 0 && self.size + data.len() as u64 > self.limits.max_bytes || self.file.is_none())
            && self.rotate().is_err()
        {
            self.dropped += data.len() as u64;
            return;
        }
        // One oversized write is cut to the limit rather than growing the file past it.
        let data = &data[..data.len().min(self.limits.max_bytes.max(1) as usize)];
        match self.file.as_mut().map(|f| f.write_all(data)) {
            Some(Ok(())) => self.size += data.len() as u64,
            _ => {
                self.dropped += data.len() as u64;
                self.file = None;
            }
        }
    }
}

/// The log of every exit of a supervised program beside its exit file (`<name>.exits`, JSON
/// lines, oldest first): the exit file holds only the last one, and a loader may die several
/// times between two looks of the monitor. Rotated to `.exits.1` past [`EXITS_MAX`].
pub fn exits_log(exit_file: &Path) -> PathBuf {
    exit_file.with_extension("exits")
}

/// Size past which the exit log is rotated (about 7,000 exits).
pub const EXITS_MAX: u64 = 1 << 20;

/// Appends one exit record to the exit log of `exit_file`.
pub fn append_exit(exit_file: &Path, record: &serde_json::Value) -> std::io::Result<()> {
    let log = exits_log(exit_file);
    if std::fs::metadata(&log).is_ok_and(|m| m.len() > EXITS_MAX) {
        std::fs::rename(&log, log.with_extension("exits.1"))?;
    }
    let mut f = OpenOptions::new().create(true).append(true).open(&log)?;
    f.write_all(format!("{record}\n").as_bytes())
}

/// The exit records appended since byte `offset` of the exit log (following one rotation), and
/// the offset to read from next time.
pub fn exits_since(exit_file: &Path, offset: u64) -> (Vec<serde_json::Value>, u64) {
    let log = exits_log(exit_file);
    let len = std::fs::metadata(&log).map_or(0, |m| m.len());
    let mut text = Vec::new();
    let from = if len < offset {
        // Rotated since: the rest of the old file, then the new one from its start.
        if let Ok(old) = std::fs::read(log.with_extension("exits.1")) {
            text.extend_from_slice(old.get(offset as usize..).unwrap_or_default());
        }
        0
    } else {
        offset
    };
    let new = std::fs::read(&log).unwrap_or_default();
    let new = new.get(from as usize..).unwrap_or_default();
    // Only whole lines: a record being written is read next time.
    let whole = new.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    text.extend_from_slice(&new[..whole]);
    let records = text.split(|b| *b == b'\n').filter_map(|l| serde_json::from_slice(l).ok()).collect();
    (records, from + whole as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_log_is_read_once_across_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let exit = dir.path().join("l.exit");
        let (none, at) = exits_since(&exit, 0);
        assert!(none.is_empty() && at == 0);
        for i in 0..3 {
            append_exit(&exit, &serde_json::json!({"n": i})).unwrap();
        }
        let (first, at) = exits_since(&exit, 0);
        assert_eq!(first.len(), 3);
        assert_eq!(exits_since(&exit, at).0.len(), 0, "nothing twice");
        append_exit(&exit, &serde_json::json!({"n": 3})).unwrap();
        // Rotated meanwhile, then one more.
        std::fs::rename(exits_log(&exit), exits_log(&exit).with_extension("exits.1")).unwrap();
        append_exit(&exit, &serde_json::json!({"n": 4})).unwrap();
        let (rest, _) = exits_since(&exit, at);
        let ns: Vec<i64> = rest.iter().map(|r| r["n"].as_i64().unwrap()).collect();
        assert_eq!(ns, [3, 4]);
    }

    #[test]
    fn rotates_by_size_and_keeps_a_bounded_number_of_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.err.log");
        let mut f = RotatingFile::open(&path, LogRotation { max_bytes: 100, keep: 2 }).unwrap();
        for i in 0..100 {
            f.write(format!("line {i:04} of the log\n").as_bytes()); // 22 bytes
        }
        let mut names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["x.err.log", "x.err.log.1", "x.err.log.2"]);
        for n in &names {
            let len = std::fs::metadata(dir.path().join(n)).unwrap().len();
            assert!(len <= 100, "{n}: {len} bytes");
        }
        // The newest lines are in the current file, the ones before in .1.
        let cur = std::fs::read_to_string(&path).unwrap();
        assert!(cur.ends_with("line 0099 of the log\n"), "{cur}");
        let prev = std::fs::read_to_string(dir.path().join("x.err.log.1")).unwrap();
        let last_prev: u32 = prev.lines().last().unwrap()[5..9].parse().unwrap();
        let first_cur: u32 = cur.lines().next().unwrap()[5..9].parse().unwrap();
        assert_eq!(last_prev + 1, first_cur, "no line lost at the rotation");
        // Reopening continues where the file is (its size counts).
        drop(f);
        let f = RotatingFile::open(&path, LogRotation { max_bytes: 100, keep: 2 }).unwrap();
        assert_eq!(f.size, cur.len() as u64);
    }
}
