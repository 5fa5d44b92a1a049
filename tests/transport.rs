//! The `Transport` contract on every implementation, against real sshd nodes: streamed output,
//! stdin, exit codes, atomic upload with a mode, read-back, missing files. And the OpenSSH masters
//! kept between commands: reused, replaced when dead or stuck, closed on request and on revocation.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use garnet::inventory::{HostKeyChecking, Node, ServiceBackend, TransportKind};
use garnet::transport::{self, ConnectOptions, RunRequest, Stream};

use crate::common::{Cluster, sshd_available};

fn node(c: &Cluster, i: usize, transport: TransportKind) -> Arc<Node> {
    let n = &c.nodes[i];
    let d = c.path();
    Arc::new(Node {
        name: n.name.clone(),
        host: n.ip.clone(),
        port: n.port,
        user: Some(n.user.clone()),
        os: None,
        chip: None,
        memory_gb: None,
        roles: vec![],
        tags: vec![],
        garnet_home: "~/.garnet".into(),
        transport,
        identity_file: Some(d.join("id_ed25519")),
        host_key_checking: HostKeyChecking::Strict,
        known_hosts: Some(d.join("known_hosts")),
        ssh_config: Some(d.join("ssh_config")),
        connect_timeout: std::time::Duration::from_secs(5),
        connect_retries: 0,
        service_backend: ServiceBackend::Process,
        address: None,
        port_offset: 0,
        power_command: None,
    })
}

#[test]
fn every_transport_keeps_the_contract() {
    if !sshd_available() {
        return;
    }
    let c = Cluster::start(2);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let closing = ConnectOptions::closing(c.path().join("cm"));
    // The master kept after the run (the CLI's default): the same contract, over a reused master too.
    let kept = ConnectOptions { persist: Some(std::time::Duration::from_secs(30)), ..closing.clone() };
    let local_dir = c.path().join("local-home");
    for (i, kind, opts) in [
        (0, TransportKind::Openssh, &closing),
        (0, TransportKind::Openssh, &kept),
        (0, TransportKind::Openssh, &kept),
        (1, TransportKind::Russh, &closing),
        (0, TransportKind::Local, &closing),
    ] {
        let n = node(&c, i, kind);
        rt.block_on(async {
            let t = transport::connect(&n, opts).await.unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            // Where to write: the node user's home over SSH, a private folder locally.
            let base = if kind == TransportKind::Local {
                local_dir.display().to_string()
            } else {
                "~/transport-test".to_string()
            };

            // Output streams, exit code, stdin.
            let (tx, mut rx) = tokio::sync::mpsc::channel(16);
            let out = t
                .run(RunRequest {
                    command: "read x; echo \"got $x\"; echo warn >&2; exit 7".into(),
                    stdin: Some(b"hello\n".to_vec()),
                    lines: Some(tx),
                    capture: true,
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(out.exit_code, Some(7), "{kind:?}");
            assert_eq!(out.stdout, b"got hello\n", "{kind:?}");
            assert_eq!(out.stderr, b"warn\n", "{kind:?}");
            let mut lines = vec![];
            while let Ok(l) = rx.try_recv() {
                lines.push((l.stream, l.text));
            }
            lines.sort_by_key(|(s, _)| *s as u8);
            assert_eq!(
                lines,
                vec![(Stream::Stdout, "got hello".to_string()), (Stream::Stderr, "warn".to_string())],
                "{kind:?}"
            );

            // Upload: atomic, with the mode asked for, creating the folder; read back.
            let path = format!("{base}/sub/secret.txt");
            t.upload(&path, b"token-1\n", 0o600).await.unwrap();
            t.upload(&path, b"token-2\n", 0o600).await.unwrap();
            assert_eq!(t.read_file(&path).await.unwrap().as_deref(), Some(&b"token-2\n"[..]), "{kind:?}");
            let stat = t
                .run(RunRequest {
                    command: format!(
                        "stat -c %a {}; ls -a {}/sub",
                        garnet::transport::shell_path(&path),
                        garnet::transport::shell_path(&base)
                    ),
                    capture: true,
                    ..Default::default()
                })
                .await
                .unwrap();
            let text = String::from_utf8_lossy(&stat.stdout);
            assert!(text.starts_with("600\n"), "{kind:?}: mode {text}");
            assert!(!text.contains("garnet-tmp"), "{kind:?}: temporary file left: {text}");
            assert_eq!(t.read_file(&format!("{base}/missing")).await.unwrap(), None, "{kind:?}");
            if kind == TransportKind::Local {
                let m = std::fs::metadata(local_dir.join("sub/secret.txt")).unwrap().permissions().mode();
                assert_eq!(m & 0o777, 0o600);
            }
            t.close().await;
        });
    }
}

/// `Accepted publickey` lines in node `i`'s sshd log: the handshakes it served.
fn logins(c: &Cluster, i: usize) -> usize {
    c.log(i).matches("Accepted publickey").count()
}

fn master_pid(c: &Cluster, inv: &std::path::Path, node: &str) -> Option<u64> {
    let r = c.garnet(inv).args(["-o", "json", "connections", "list"]).run();
    r.expect(0);
    r.events().into_iter().find(|e| e["node"] == node).and_then(|e| e["pid"].as_u64())
}

#[test]
fn kept_masters_are_reused_replaced_and_closed() {
    if !sshd_available() {
        return;
    }
    let c = Cluster::start(2);
    let inv = c.inventory("kept", |_| "openssh", "");
    let exec = |extra: &[&str]| {
        let r =
            c.garnet(&inv).args(["--yes", "-o", "json"]).args(extra.iter().copied()).args(["exec", "--", "true"]).run();
        r.expect(0);
    };
    // Three commands in a row: one handshake per node (the sshd's own log), one master each.
    exec(&[]);
    let (p1, p2) = (master_pid(&c, &inv, "node1").expect("kept"), master_pid(&c, &inv, "node2").expect("kept"));
    exec(&[]);
    exec(&[]);
    assert_eq!((logins(&c, 0), logins(&c, 1)), (1, 1), "{}", c.log(0));
    assert_eq!((master_pid(&c, &inv, "node1"), master_pid(&c, &inv, "node2")), (Some(p1), Some(p2)));
    // The control directory is the operator's alone; so is each socket.
    let cm = c.path().join("state/cm");
    assert_eq!(std::fs::metadata(&cm).unwrap().permissions().mode() & 0o777, 0o700);
    for e in std::fs::read_dir(&cm).unwrap().flatten() {
        let mode = e.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", e.path().display());
    }

    // A master killed (its socket left behind) and one stopped (it no longer answers): both are
    // replaced and the command runs.
    unsafe {
        libc::kill(p1 as i32, libc::SIGKILL);
        libc::kill(p2 as i32, libc::SIGSTOP);
    }
    exec(&[]);
    let (q1, q2) = (master_pid(&c, &inv, "node1").unwrap(), master_pid(&c, &inv, "node2").unwrap());
    assert!(q1 != p1 && q2 != p2, "{p1}->{q1} {p2}->{q2}");
    assert_eq!((logins(&c, 0), logins(&c, 1)), (2, 2));
    unsafe {
        libc::kill(p2 as i32, libc::SIGKILL);
    }

    // Two garnet processes at once start one master per node between them, not two.
    let r = c.garnet(&inv).args(["connections", "close"]).run();
    r.expect(0);
    assert!(r.stdout.contains("closed 2"), "{}", r.stdout);
    assert_eq!(master_pid(&c, &inv, "node1"), None);
    let spawn = || c.garnet(&inv).args(["-q", "facts"]).command().stdout(std::process::Stdio::null()).spawn().unwrap();
    let (mut a, mut b) = (spawn(), spawn());
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    assert_eq!((logins(&c, 0), logins(&c, 1)), (3, 3));

    // `--ssh-persist 0`: closed when the command ends, as before.
    c.garnet(&inv).args(["connections", "close"]).run().expect(0);
    exec(&["--ssh-persist", "0"]);
    assert_eq!(master_pid(&c, &inv, "node1"), None);
    assert_eq!(logins(&c, 0), 4);

    // A short persist: the master outlives the command, then times out on its own. Long enough
    // that a loaded machine still finds it after the command (1 s did not, once, in CI).
    exec(&["--ssh-persist", "4s"]);
    let p = master_pid(&c, &inv, "node1").expect("kept for a few seconds");
    let gone = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        unsafe { libc::kill(p as i32, 0) != 0 }
    });
    assert!(gone, "the master outlived its ControlPersist");

    // A node that goes down takes its master with it: the next command says unreachable, fast.
    exec(&[]);
    let mut c = c;
    c.down(1);
    let t = std::time::Instant::now();
    let r = c.garnet(&inv).args(["--yes", "-o", "json", "exec", "--", "true"]).run();
    r.expect(3);
    assert_eq!(r.outcomes()["node2"], "unreachable", "{}", r.stdout);
    assert!(t.elapsed() < std::time::Duration::from_secs(20), "{:?}", t.elapsed());
}
