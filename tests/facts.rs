//! `garnet facts`: the probe runs for real on Linux nodes over SSH and locally.

use crate::common::{Cluster, Garnet, sshd_available};

#[test]
fn facts_of_real_linux_nodes() {
    if !sshd_available() {
        return;
    }
    let c = Cluster::start(2);
    let inv = c.inventory("facts", |i| ["openssh", "russh"][i], "  - {name: here, transport: local}\n");
    let r = c.garnet(&inv).args(["-o", "json", "facts"]).run();
    r.expect(0);
    let ev = r.events();
    let facts: Vec<_> = ev.iter().filter(|e| e["event"] == "data" && e["kind"] == "facts").collect();
    assert_eq!(facts.len(), 3);
    let mem_total: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let cores = std::thread::available_parallelism().unwrap().get() as u64;
    for f in facts {
        let d = &f["data"];
        assert_eq!(d["os"], "linux", "{f}");
        assert_eq!(d["arch"], std::env::consts::ARCH, "{f}");
        assert_eq!(d["memory_bytes"].as_u64().unwrap(), mem_total * 1024, "{f}");
        assert_eq!(d["cores"].as_u64().unwrap(), cores, "{f}");
        assert!(d["disk_free_bytes"].as_u64().unwrap() > 0, "{f}");
    }
    // The text table has a row per node.
    let r = c.garnet(&inv).arg("facts").run();
    r.expect(0);
    for n in ["node1", "node2", "here"] {
        assert!(
            r.stdout.lines().any(|l| l.contains(n) && l.contains("x86_64") || l.contains(n) && l.contains("aarch64")),
            "{n}:\n{}",
            r.stdout
        );
    }
}

#[test]
fn readme_main_job_runs_on_the_shipped_local_inventory() {
    let state = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let r = Garnet::new()
        .cwd(root)
        .env("GARNET_STATE_DIR", state.path().display().to_string())
        .args(["-i", "examples/local.yaml", "facts"])
        .run();
    r.expect(0);
    assert!(r.stdout.contains("this-machine"), "{}", r.stdout);
    assert!(r.stderr.contains("1 node: 1 ok"), "{}", r.stderr);
}
