//! What a person at a terminal meets: the confirmation prompt (through a real pseudo-terminal,
//! made by util-linux `script`) and Ctrl-C in the middle of a run.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

use crate::common::Garnet;

fn local_inventory(dir: &std::path::Path, nodes: &[&str]) -> std::path::PathBuf {
    let mut s = String::from("cluster: {slug: lab, tier: pro}\nnodes:\n");
    for n in nodes {
        s.push_str(&format!("  - {{name: {n}, transport: local}}\n"));
    }
    s.push_str(&format!("store: {{kind: local, path: {}/store}}\n", dir.display()));
    let p = dir.join("inventory.yaml");
    std::fs::write(&p, s).unwrap();
    p
}

/// Runs `garnet ARGS` on a pseudo-terminal, answers the prompt with `answer`, returns (code, screen).
fn at_terminal(dir: &std::path::Path, args: &str, answer: &str) -> (i32, String) {
    let garnet = env!("CARGO_BIN_EXE_garnet");
    let cmd = format!("NO_COLOR=1 GARNET_STATE_DIR={}/state {garnet} {args}", dir.display());
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("util-linux `script`");
    let mut out = child.stdout.take().unwrap();
    let mut screen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&screen).contains("[y/N]") {
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "no prompt:\n{}", String::from_utf8_lossy(&screen));
        screen.extend_from_slice(&buf[..n]);
    }
    child.stdin.as_mut().unwrap().write_all(answer.as_bytes()).unwrap();
    out.read_to_end(&mut screen).unwrap();
    let code = child.wait().unwrap().code().unwrap_or(-1);
    (code, String::from_utf8_lossy(&screen).replace('\r', ""))
}

#[test]
fn confirmation_prompt_at_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let inv = local_inventory(dir.path(), &["here"]);
    let marker = dir.path().join("touched");
    let args = format!("-i {} exec -- touch {}", inv.display(), marker.display());

    let (code, screen) = at_terminal(dir.path(), &args, "n");
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains(&format!("1. exec: $ touch {}", marker.display())), "the plan is shown first:\n{screen}");
    assert!(screen.contains("aborted: nothing was changed"), "{screen}");
    assert!(!marker.exists());
    assert!(!dir.path().join("store").exists(), "declining must not take the lock");

    let (code, screen) = at_terminal(dir.path(), &args, "y");
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("1 node: 1 changed"), "{screen}");
    assert!(marker.exists());
}

#[test]
fn ctrl_c_finishes_steps_in_flight_and_skips_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let inv = local_inventory(dir.path(), &["a", "b", "c"]);
    let mut child = Garnet::new()
        .env("GARNET_STATE_DIR", dir.path().join("state").display().to_string())
        .args(["-i", &inv.display().to_string(), "-o", "json", "--yes", "--forks", "1", "exec", "--", "sleep", "1"])
        .command()
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut events = vec![];
    for line in lines.by_ref() {
        let line = line.unwrap();
        let started = line.contains("\"step_started\"");
        events.push(line);
        if started {
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            break;
        }
    }
    events.extend(lines.map(|l| l.unwrap()));
    assert_eq!(child.wait().unwrap().code(), Some(130), "{events:#?}");
    let ev: Vec<serde_json::Value> = events.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    let outcome =
        |n: &str| ev.iter().find(|e| e["event"] == "node_finished" && e["node"] == n).map(|e| e["outcome"].clone());
    assert_eq!(outcome("a"), Some("changed".into()), "{events:#?}");
    assert_eq!(outcome("b"), Some("skipped".into()));
    assert_eq!(outcome("c"), Some("skipped".into()));
    let last = ev.last().unwrap();
    assert_eq!(last["event"], "run_finished");
    assert_eq!(last["interrupted"], true);
    assert_eq!(last["exit_code"], 130);
    // The lock was released on the way out.
    assert!(!dir.path().join("store/locks/lab").exists());
}
