//! Small helpers shared across modules.

use std::time::Duration;

/// `850ms`, `12.3s`, `4m05s`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let s = d.as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// `23.5 GiB`, `512 MiB`.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{b} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

/// Reads a secret (token, key) from a file that only its owner may read; its content is never
/// put in an error.
pub fn read_secret_file(path: &std::path::Path) -> anyhow::Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta =
        std::fs::metadata(path).map_err(|e| anyhow::anyhow!("cannot read secret file `{}`: {e}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        anyhow::bail!(
            "secret file `{}` has mode {mode:04o}: others can read it; run `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read secret file `{}`: {e}", path.display()))?;
    let text = text.trim().to_string();
    if text.is_empty() {
        anyhow::bail!("secret file `{}` is empty", path.display());
    }
    Ok(text)
}

/// `text` on one line (line breaks become `; `), for a log or a record field.
pub fn one_line(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

/// Whether `host` names this machine's loopback (`localhost`, 127.0.0.0/8, `::1`).
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Raises the soft open-file limit to the hard one (on macOS at most `OPEN_MAX`, what the kernel
/// accepts there). Returns (before, after); `None` if it cannot be read.
pub fn raise_nofile_limit() -> Option<(u64, u64)> {
    let mut l = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) } != 0 {
        return None;
    }
    let before = l.rlim_cur;
    // macOS refuses a soft limit above OPEN_MAX even when the hard limit is unlimited.
    let want = if cfg!(target_os = "macos") { l.rlim_max.min(10_240) } else { l.rlim_max };
    if want > l.rlim_cur {
        let next = libc::rlimit { rlim_cur: want, rlim_max: l.rlim_max };
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &next) } == 0 {
            return Some((before, want));
        }
    }
    Some((before, before))
}

/// A captured macOS command output from `shared/fixtures/macos` (parser tests).
#[cfg(test)]
pub fn macos_fixture(name: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/macos");
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humans() {
        assert_eq!(human_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(human_duration(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(human_duration(Duration::from_secs(245)), "4m05s");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(25_769_803_776), "24.0 GiB");
    }

    #[test]
    fn secret_files_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("token");
        std::fs::write(&f, "hunter2\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_secret_file(&f).unwrap_err().to_string();
        assert!(err.contains("mode 0644") && err.contains("chmod 600") && !err.contains("hunter2"), "{err}");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_secret_file(&f).unwrap(), "hunter2");
    }
}
