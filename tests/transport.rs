//! The `Transport` contract on every implementation, against real sshd nodes: streamed output,
//! stdin, exit codes, atomic upload with a mode, read-back, missing files.

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
    let opts = ConnectOptions { control_dir: c.path().join("cm") };
    let local_dir = c.path().join("local-home");
    for (i, kind) in [(0, TransportKind::Openssh), (1, TransportKind::Russh), (0, TransportKind::Local)] {
        let n = node(&c, i, kind);
        rt.block_on(async {
            let t = transport::connect(&n, &opts).await.unwrap_or_else(|e| panic!("{kind:?}: {e}"));
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
