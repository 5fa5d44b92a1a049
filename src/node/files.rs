//! Local files a procedure copies to nodes (the garnet binary, model folders), read and hashed
//! once per run: the only I/O among the node step builders.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// A local file with its digest (computed once per deploy, shared by every node).
#[derive(Debug, Clone)]
pub struct LocalFile {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

impl LocalFile {
    pub fn read(path: &Path) -> std::io::Result<LocalFile> {
        use std::io::Read;
        let mut f = std::fs::File::open(path)?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            h.update(&buf[..n]);
        }
        Ok(LocalFile { path: path.to_path_buf(), size, sha256: hex(&h.finalize()) })
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A short digest of several parts (each length-prefixed): service generations.
pub(crate) fn sha(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex(&h.finalize())[..16].to_string()
}

/// A model folder's files (relative path → file), hidden files skipped.
pub fn model_files(dir: &Path) -> std::io::Result<Vec<(String, LocalFile)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let p = e.path();
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if e.file_type()?.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("under dir").to_string_lossy().into_owned();
                out.push((rel, LocalFile::read(&p)?));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}
