//! The cluster lock between two garnet processes, `lock status|release`, and the audit log.

use std::time::{Duration, Instant};

use crate::common::{Cluster, sshd_available};

#[test]
fn second_operator_is_told_who_holds_the_lock_then_waits_for_it() {
    if !sshd_available() {
        return;
    }
    let c = Cluster::start(2);
    let inv = c.inventory("locked", |_| "openssh", "");
    let lock_file = c.path().join("store/locks/locked");
    let mut first = c
        .garnet(&inv)
        .args(["--yes", "-q", "-m", "swapping llama to 6bit", "exec", "--", "sleep", "3"])
        .command()
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !lock_file.exists() {
        assert!(Instant::now() < deadline, "the first run never took the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = c.garnet(&inv).args(["lock", "status"]).run();
    status.expect(0);
    assert!(
        status.stdout.contains("is locked by")
            && status.stdout.contains("swapping llama to 6bit")
            && status.stdout.contains("exec -- sleep 3"),
        "{}",
        status.stdout
    );

    let second = c.garnet(&inv).args(["--yes", "exec", "--", "true"]).run();
    second.expect(4);
    assert!(second.stderr.contains("the cluster lock is held by"), "{}", second.stderr);
    assert!(second.stderr.contains("\"swapping llama to 6bit\""), "{}", second.stderr);
    assert!(second.stderr.contains(&format!("(pid {})", first.id())), "{}", second.stderr);

    let waited = c.garnet(&inv).args(["--yes", "--lock-wait", "60s", "exec", "--", "true"]).run();
    waited.expect(0);
    assert!(waited.stderr.contains("waiting for the cluster lock"), "{}", waited.stderr);
    assert!(first.wait().unwrap().success());
    assert!(!lock_file.exists(), "lock left behind");

    // Both runs are in the audit log, with the message.
    let audit: Vec<_> = walk(&c.path().join("store/audit/cluster=locked"));
    assert_eq!(audit.len(), 2, "{audit:?}");
    let texts: Vec<String> = audit.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    assert!(texts.iter().any(|t| t.contains("swapping llama to 6bit") && t.contains("\"changed\": 2")), "{texts:?}");
}

#[test]
fn lock_release_breaks_a_lock() {
    if !sshd_available() {
        return;
    }
    let c = Cluster::start(1);
    let inv = c.inventory("broken", |_| "openssh", "");
    let key = c.path().join("store/locks/broken");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::write(&key, r#"{"user":"bob","host":"other-laptop","pid":1,"command":"exec -- reboot","message":null,"acquired_at":"2026-11-26T10:00:00Z","run_id":"x"}"#).unwrap();
    let r = c.garnet(&inv).args(["--yes", "exec", "--", "true"]).run();
    r.expect(4);
    assert!(r.stderr.contains("bob@other-laptop (pid 1)"), "{}", r.stderr);
    let r = c.garnet(&inv).args(["lock", "release", "-m", "bob's laptop died"]).run();
    r.expect(0);
    assert!(r.stdout.contains("released the lock") && r.stdout.contains("bob@other-laptop"), "{}", r.stdout);
    c.garnet(&inv).args(["--yes", "exec", "--", "true"]).run().expect(0);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}
