//! The S3 store against a real S3-compatible server (moto) on loopback: the store contract, the
//! cluster lock as a conditional put between two processes, the audit log, and credential files.

use std::time::{Duration, Instant};

use garnet::inventory::Inventory;

use crate::common::Garnet;
use crate::common::loaders::{S3Server, python};

fn inventory(dir: &std::path::Path, s3: &S3Server, prefix: &str) -> std::path::PathBuf {
    let p = dir.join("inventory.yaml");
    std::fs::write(
        &p,
        format!(
            "cluster: {{slug: s3lab, tier: pro}}\nnodes:\n  - {{name: here, transport: local}}\n{}",
            s3.store_yaml(dir, prefix)
        ),
    )
    .unwrap();
    p
}

#[test]
fn s3_store_contract_lock_and_audit() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start(&py, dir.path());
    let inv_path = inventory(dir.path(), &s3, "prod");
    let inv = Inventory::load(&inv_path).unwrap();

    // The contract, in-process.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let st = garnet::store::open(&inv).await.unwrap();
        assert!(st.describe().contains("garnet-test") && st.describe().contains("prod/"), "{}", st.describe());
        assert_eq!(st.get("audit/none.json").await.unwrap(), None);
        st.put("telemetry/cluster=s3lab/node=a/date=2026-11-26/120000.json", b"{\"v\":1}").await.unwrap();
        st.put("telemetry/cluster=s3lab/node=a/date=2026-11-26/120100.json", b"{\"v\":2}").await.unwrap();
        assert_eq!(st.list("telemetry/").await.unwrap().len(), 2);
        assert_eq!(
            st.get("telemetry/cluster=s3lab/node=a/date=2026-11-26/120100.json").await.unwrap().unwrap(),
            b"{\"v\":2}"
        );
        assert!(st.create_new("locks/x", b"1").await.unwrap());
        assert!(!st.create_new("locks/x", b"2").await.unwrap(), "If-None-Match: * must refuse the second");
        assert_eq!(st.get("locks/x").await.unwrap().unwrap(), b"1");
        st.delete("locks/x").await.unwrap();
        assert!(st.create_new("locks/x", b"3").await.unwrap());
        st.delete("locks/x").await.unwrap();
        st.delete("telemetry/cluster=s3lab/node=a/date=2026-11-26/120000.json").await.unwrap();
        st.delete("telemetry/cluster=s3lab/node=a/date=2026-11-26/120100.json").await.unwrap();
    });

    // Two operators: the lock lives in the bucket.
    let state = dir.path().join("state");
    let g = || {
        Garnet::new().env("GARNET_STATE_DIR", state.display().to_string()).args(["-i", &inv_path.display().to_string()])
    };
    let mut first = g()
        .args(["--yes", "-q", "-m", "rolling the loaders", "exec", "--", "sleep", "3"])
        .command()
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = g().args(["lock", "status"]).run();
        if s.stdout.contains("is locked by") {
            assert!(s.stdout.contains("rolling the loaders"), "{}", s.stdout);
            break;
        }
        assert!(Instant::now() < deadline, "the first run never took the S3 lock: {} {}", s.stdout, s.stderr);
        std::thread::sleep(Duration::from_millis(50));
    }
    let second = g().args(["--yes", "exec", "--", "true"]).run();
    second.expect(4);
    assert!(second.stderr.contains("\"rolling the loaders\""), "{}", second.stderr);
    assert!(first.wait().unwrap().success());
    g().args(["--yes", "exec", "--", "true"]).run().expect(0);

    // Both mutating runs left an audit object in the bucket.
    rt.block_on(async {
        let st = garnet::store::open(&inv).await.unwrap();
        let audit = st.list("audit/cluster=s3lab/").await.unwrap();
        assert_eq!(audit.len(), 2, "{audit:?}");
        assert!(st.list("locks/").await.unwrap().is_empty(), "lock left behind");
    });
}

#[test]
fn s3_credentials_file_must_be_private() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start(&py, dir.path());
    let inv_path = inventory(dir.path(), &s3, "");
    std::fs::set_permissions(dir.path().join("s3.credentials"), std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .unwrap();
    let r = Garnet::new()
        .env("GARNET_STATE_DIR", dir.path().join("state").display().to_string())
        .args(["-i", &inv_path.display().to_string(), "lock", "status"])
        .run();
    r.expect(1);
    assert!(r.stderr.contains("mode 0644") && r.stderr.contains("chmod 600"), "{}", r.stderr);
    assert!(!r.stderr.contains("test-secret"), "secret leaked: {}", r.stderr);
}
