//! `garnet lab up|down`: the README's first command, for real — the same deploy code on local
//! nodes, real loaders on the generated tiny model, the router, the monitors; the real OpenAI SDK
//! as the client; `lab down` leaves nothing running.

use std::process::Command;

use serde_json::Value;

use crate::common::Garnet;
use crate::common::loaders::{free_port, python};

#[test]
fn lab_up_serves_openai_clients_and_lab_down_stops_everything() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("lab");
    let g = || Garnet::new().env("GARNET_STATE_DIR", dir.path().join("state").display().to_string()).cwd(dir.path());
    // A base whose every derived port is free (the lab refuses busy ones, tested below).
    let port = (0..50)
        .map(|_| free_port())
        .find(|p| {
            garnet::commands::lab::lab_ports(*p, 2)
                .iter()
                .all(|q| std::net::TcpListener::bind(("127.0.0.1", *q)).is_ok())
        })
        .expect("a free block of ports");
    let blocker = std::net::TcpListener::bind(("127.0.0.1", port + 21 + 100)).unwrap();
    let refused = g()
        .args([
            "lab",
            "up",
            "--dir",
            &dir.path().join("other").display().to_string(),
            "--nodes",
            "2",
            "--port",
            &port.to_string(),
        ])
        .args(["--python", &py.display().to_string()])
        .run();
    refused.expect(2);
    assert!(refused.stderr.contains(&format!("port(s) {} are in use", port + 121)), "{}", refused.stderr);
    drop(blocker);
    // Whatever fails below, the lab's services do not outlive the test.
    struct Down(Garnet, String);
    impl Drop for Down {
        fn drop(&mut self) {
            if std::thread::panicking() {
                let _ = std::mem::replace(&mut self.0, Garnet::new()).args(["lab", "down", "--dir", &self.1]).run();
            }
        }
    }
    let _down = Down(g(), lab.display().to_string());
    let up = g()
        .args(["lab", "up", "--dir", &lab.display().to_string(), "--nodes", "2", "--port", &port.to_string()])
        .args(["--python", &py.display().to_string()])
        .run();
    up.expect(0);
    let base = format!("http://127.0.0.1:{port}/v1");
    assert!(up.stdout.contains(&base) && up.stdout.contains("garnet lab down"), "{}", up.stdout);

    let out = Command::new(&py)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/openai_client.py"))
        .args([&base, "tiny"])
        .output()
        .unwrap();
    assert!(out.status.success(), "client: {}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["chat"]["model"], "tiny", "{r}");
    assert_eq!(r["chat"]["usage"]["completion_tokens"], 5, "{r}");
    assert_eq!(r["chat_stream"]["finish"], "length", "{r}");

    let inv = lab.join("inventory.yaml").display().to_string();
    let status = g().args(["-i", &inv, "-o", "json", "status"]).run();
    status.expect(0);
    let v: Value = serde_json::from_str(status.stdout.trim()).unwrap();
    assert_eq!(v["nodes"].as_array().unwrap().len(), 2, "{v}");

    let pids: Vec<i32> = glob::glob(&format!("{}/nodes/*/run/*.pid", lab.display()))
        .unwrap()
        .flatten()
        .map(|p| std::fs::read_to_string(p).unwrap().trim().parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2 * 2 + 1, "two loaders, two monitors, one router: {pids:?}");
    g().args(["lab", "down", "--dir", &lab.display().to_string()]).run().expect(0);
    for pid in pids {
        let alive = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
        assert!(!alive, "pid {pid} survived `lab down`");
    }
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "the router still listens");
}
