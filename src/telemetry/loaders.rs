//! What the monitor reads of each loader besides its health: its process's memory (the pid its
//! supervisor recorded in `<service>.child`) and its prompt cache, which `mlx_lm.server` shows
//! only in its log (`Prompt Cache: N sequences, X GB`, one line per request; evictions nowhere,
//! so they are inferred from drops in the sequence count, and labelled as inferred).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One loader at the end of a window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoaderStats {
    pub model: String,
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Resident memory of the loader process (Linux: `VmRSS`; macOS: `ps` RSS), bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_bytes: Option<u64>,
    /// Proportional set size where the kernel reports it (Linux `smaps_rollup`), bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pss_bytes: Option<u64>,
    /// macOS: the process's physical footprint (what Activity Monitor and jetsam count, Metal
    /// buffers of the weights included), bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footprint_bytes: Option<u64>,
    /// The prompt cache as the loader last logged it: entries and bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_sequences: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_bytes: Option<u64>,
    /// Entries that left the cache during the window, inferred from drops in the logged count
    /// (the loader reports no evictions itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_evictions_inferred: Option<u64>,
}

/// The supervisor's record of the program's pid, beside its exit file.
pub fn child_file(exit_file: &Path) -> PathBuf {
    exit_file.with_extension("child")
}

/// The loader's stderr log (where `mlx_lm.server` logs), beside its exit file.
pub fn err_log(exit_file: &Path) -> PathBuf {
    exit_file.with_extension("err.log")
}

/// Process memory of `pid`: resident, proportional (Linux) and physical footprint (macOS), bytes.
#[derive(Debug, Default, Clone, Copy)]
pub struct Memory {
    pub rss: Option<u64>,
    pub pss: Option<u64>,
    pub footprint: Option<u64>,
}

pub fn memory(pid: u32) -> Memory {
    if cfg!(target_os = "linux") {
        let kb = |text: &str, key: &str| -> Option<u64> {
            text.lines().find_map(|l| l.strip_prefix(key))?.trim().trim_end_matches(" kB").trim().parse::<u64>().ok()
        };
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        Memory {
            rss: kb(&status, "VmRSS:").map(|k| k * 1024),
            pss: kb(&rollup, "Pss:").map(|k| k * 1024),
            footprint: None,
        }
    } else {
        let out = std::process::Command::new("ps").args(["-o", "rss=", "-p", &pid.to_string()]).output();
        let rss = out.ok().and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<u64>().ok());
        Memory { rss: rss.map(|k| k * 1024), pss: None, footprint: footprint(pid) }
    }
}

#[cfg(target_os = "macos")]
fn footprint(pid: u32) -> Option<u64> {
    let mut info: libc::rusage_info_v2 = unsafe { std::mem::zeroed() };
    let buffer = &mut info as *mut libc::rusage_info_v2 as *mut libc::rusage_info_t;
    let r = unsafe { libc::proc_pid_rusage(pid as libc::c_int, libc::RUSAGE_INFO_V2, buffer) };
    (r == 0).then_some(info.ri_phys_footprint)
}

#[cfg(not(target_os = "macos"))]
fn footprint(_pid: u32) -> Option<u64> {
    None
}

/// What new `Prompt Cache:` lines say: the last (sequences, bytes) and the sum of the drops in
/// the sequence count, starting from `last_sequences` (the count at the previous look).
pub fn prompt_cache(text: &str, mut last_sequences: Option<u64>) -> (Option<(u64, u64)>, u64) {
    let (mut latest, mut dropped) = (None, 0);
    for l in text.lines() {
        let Some(rest) = l.split("Prompt Cache: ").nth(1) else { continue };
        let mut words = rest.split_whitespace();
        let (Some(n), Some("sequences,"), Some(gb), Some("GB")) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            continue;
        };
        let (Ok(n), Ok(gb)) = (n.parse::<u64>(), gb.parse::<f64>()) else { continue };
        if let Some(prev) = last_sequences {
            dropped += prev.saturating_sub(n);
        }
        last_sequences = Some(n);
        latest = Some((n, (gb * 1e9).round() as u64));
    }
    (latest, dropped)
}

/// Where a log was read up to: its inode and the offset in it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cursor {
    pub inode: u64,
    pub offset: u64,
}

/// Old files a rotated log may keep that the reader looks at (`deploy.logs.keep` is smaller).
const MAX_KEPT: usize = 16;

/// Reads what was appended to the log `path` since `at`, following rotations (`<path>.1` is the
/// newest old file, `.2` older, …): the rest of the old file the cursor was in, every newer old
/// file whole, then the new file — nothing lost however many times it rotated between two looks,
/// as long as the cursor's file is still kept (else every kept old file, all newer than the
/// cursor); at most `cap` bytes per file. Returns the text and the cursor for next time.
pub fn read_new(path: &Path, at: Cursor, cap: u64) -> (String, Cursor) {
    use std::os::unix::fs::MetadataExt;
    let read_from = |p: &Path, from: u64| -> Vec<u8> {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = std::fs::File::open(p) else { return Vec::new() };
        let len = f.metadata().map_or(0, |m| m.len());
        let from = from.max(len.saturating_sub(cap)).min(len);
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(from)).is_ok() {
            let _ = f.take(cap).read_to_end(&mut buf);
        }
        buf
    };
    let Ok(meta) = std::fs::metadata(path) else { return (String::new(), Cursor::default()) };
    let mut text = Vec::new();
    let from = if meta.ino() == at.inode && meta.len() >= at.offset {
        at.offset
    } else {
        let old = |k: usize| {
            let mut p = path.as_os_str().to_owned();
            p.push(format!(".{k}"));
            PathBuf::from(p)
        };
        // The kept old files, newest first, up to the one the cursor was in.
        let mut kept = Vec::new();
        for k in 1..=MAX_KEPT {
            let Ok(m) = std::fs::metadata(old(k)) else { break };
            let cursor_here = at.inode != 0 && m.ino() == at.inode;
            kept.push((old(k), if cursor_here { at.offset } else { 0 }));
            if cursor_here {
                break;
            }
        }
        // Never read before: only the newest old file (what came before the first look is old).
        if at.inode == 0 {
            kept.truncate(1);
        }
        for (p, from) in kept.iter().rev() {
            text.extend(read_from(p, *from));
        }
        0
    };
    let new = read_from(path, from);
    let offset = from.max(meta.len().saturating_sub(cap)) + new.len() as u64;
    text.extend(new);
    (String::from_utf8_lossy(&text).into_owned(), Cursor { inode: meta.ino(), offset })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn prompt_cache_lines_and_inferred_evictions() {
        let log = "2026-12-02 05:47:58,284 - INFO - Prompt Cache: 3 sequences, 0.25 GB\n\
                   127.0.0.1 - - [02/Dec/2026 05:47:58] \"POST /v1/chat/completions HTTP/1.1\" 200 -\n\
                   2026-12-02 05:47:59,001 - INFO - Prompt Cache: 10 sequences, 1.20 GB\n\
                   2026-12-02 05:47:59,002 - INFO - - KVCache: 10 sequences, 1.20 GB\n\
                   2026-12-02 05:48:00,100 - INFO - Prompt Cache: 7 sequences, 0.90 GB\n\
                   2026-12-02 05:48:01,100 - INFO - Prompt Cache: 9 sequences, 1.00 GB\n";
        assert_eq!(prompt_cache(log, Some(5)), (Some((9, 1_000_000_000)), 2 + 3));
        assert_eq!(prompt_cache("nothing here\n", Some(5)), (None, 0));
    }

    #[test]
    fn this_process_has_memory() {
        let m = memory(std::process::id());
        assert!(m.rss.unwrap() > 1 << 20);
    }

    #[test]
    fn new_bytes_only_and_across_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.err.log");
        std::fs::write(&p, "one\n").unwrap();
        let (t, at) = read_new(&p, Cursor::default(), 1 << 20);
        assert_eq!((t.as_str(), at.offset), ("one\n", 4));
        std::fs::write(&p, "one\ntwo\n").unwrap();
        let (t, at) = read_new(&p, at, 1 << 20);
        assert_eq!(t, "two\n");
        // Rotated (renamed to .1 after one more line), and the new file already has lines.
        std::fs::OpenOptions::new().append(true).open(&p).unwrap().write_all(b"three\n").unwrap();
        std::fs::rename(&p, dir.path().join("x.err.log.1")).unwrap();
        std::fs::write(&p, "four\nfive\nsix\n").unwrap();
        let (t, at) = read_new(&p, at, 1 << 20);
        assert_eq!(t, "three\nfour\nfive\nsix\n");
        assert_eq!(read_new(&p, at, 1 << 20).0, "");
        // Rotated twice between two looks: the rest of the cursor's file (now .2), `.1` whole,
        // then the new file: nothing lost.
        std::fs::OpenOptions::new().append(true).open(&p).unwrap().write_all(b"six-b\n").unwrap();
        std::fs::rename(dir.path().join("x.err.log.1"), dir.path().join("x.err.log.3")).unwrap();
        std::fs::rename(&p, dir.path().join("x.err.log.2")).unwrap(); // the cursor's file, now .2
        std::fs::write(dir.path().join("x.err.log.1"), "seven\n").unwrap();
        std::fs::write(&p, "eight\n").unwrap();
        let (t, at) = read_new(&p, at, 1 << 20);
        assert_eq!(t, "six-b\nseven\neight\n");
        // Rotated so often the cursor's file is gone: every kept old file (all newer), then the new.
        for k in [3, 2, 1] {
            let _ = std::fs::remove_file(dir.path().join(format!("x.err.log.{k}")));
        }
        std::fs::remove_file(&p).unwrap();
        std::fs::write(dir.path().join("x.err.log.2"), "nine\n").unwrap();
        std::fs::write(dir.path().join("x.err.log.1"), "ten\n").unwrap();
        std::fs::write(&p, "eleven\n").unwrap();
        assert_eq!(read_new(&p, at, 1 << 20).0, "nine\nten\neleven\n");
    }
}
