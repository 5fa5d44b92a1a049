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

/// A program on a pseudo-terminal (util-linux `script`): wait for text, type answers.
struct Pty {
    child: std::process::Child,
    screen: std::sync::Arc<std::sync::Mutex<String>>,
    seen: usize,
}

impl Pty {
    fn spawn(cmd: &str) -> Pty {
        let mut child = Command::new("script")
            .args(["-q", "-e", "-c", cmd, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("util-linux `script`");
        let mut out = child.stdout.take().unwrap();
        let screen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let s = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Pty { child, screen, seen: 0 }
    }

    /// Waits until `text` appears after what was already matched.
    fn expect(&mut self, text: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let s = self.screen.lock().unwrap().clone();
            if let Some(i) = s[self.seen..].find(text) {
                self.seen += i + text.len();
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "never saw {text:?}; screen:\n{}",
                &s[self.seen.saturating_sub(2000)..]
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    fn send(&mut self, keys: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(keys.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    fn answer(&mut self, prompt: &str, keys: &str) {
        self.expect(prompt);
        std::thread::sleep(std::time::Duration::from_millis(50));
        self.send(keys);
    }
}

#[test]
fn intake_questionnaire_at_a_terminal_matches_the_answers_file() {
    let dir = tempfile::tempdir().unwrap();
    let (asked, filed) = (dir.path().join("asked"), dir.path().join("filed"));
    let garnet = env!("CARGO_BIN_EXE_garnet");
    let mut t = Pty::spawn(&format!("NO_COLOR=1 {garnet} intake --out {}", asked.display()));
    const DOWN: &str = "\x1b[B";
    t.answer("Cluster slug", "Acme Prod\r");
    t.expect("1-63 lowercase letters");
    t.send("acme-prod\r");
    t.answer("Tier", &format!("{DOWN}\r"));
    t.answer("Contacts", "ops@acme.example\r");
    t.answer("Workloads", "support chat, document Q&A\r");
    t.answer("Models, first one served first", "llama-3.1-8b\r");
    t.expect("did you mean `llama-3.1-8b-instruct`");
    t.send("llama-3.1-8b-instruct\r");
    t.answer("Expected peak requests per second", "lots\r");
    t.expect("`lots` is not a number");
    t.send("4\r");
    t.answer("Latency budget", "\r");
    t.answer("Traffic shape", &format!("{DOWN}\r"));
    t.answer("Context per request", "\r");
    t.answer("Concurrent requests per loader", "\r");
    t.answer("Average completion tokens", "\r");
    t.answer("How do we learn the hardware?", &format!("{DOWN}\r"));
    t.answer("How many M4 nodes", "\r");
    t.answer("How many M4 Pro nodes", "2\r");
    t.answer("RAM per M4 Pro node, GB", "0\r");
    t.expect("memory must be more than 0 GB");
    t.send("24\r");
    t.answer("How many M4 Max nodes", "\r");
    t.answer("How many M3 Ultra nodes", "\r");
    t.answer("Network between nodes", "\r");
    t.answer("Telemetry path", "\r");
    t.answer("Telemetry store", "\r");
    t.answer("SSH access", "\r");
    t.expect("wrote ");
    assert!(t.child.wait().unwrap().success());

    let answers = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/intake-answers.yaml");
    Garnet::new().args(["intake", "--answers", answers, "--out", &filed.display().to_string()]).run().expect(0);
    let read = |d: &std::path::Path, f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    assert_eq!(read(&asked, "inventory.yaml"), read(&filed, "inventory.yaml"), "both paths give the same inventory");
    assert_eq!(read(&asked, "intake.md"), read(&filed, "intake.md"));
    // The saved answers reproduce the run.
    let again = dir.path().join("again");
    let saved = asked.join("intake-answers.yaml").display().to_string();
    Garnet::new().args(["intake", "--answers", &saved, "--out", &again.display().to_string()]).run().expect(0);
    assert_eq!(read(&again, "inventory.yaml"), read(&filed, "inventory.yaml"));
}

#[test]
fn intake_refuses_bad_answer_files_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    let good = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/intake-answers.yaml")).unwrap();
    std::fs::write(&bad, good.replace("qps: 4 ", "qps: 0 ").replace("memory_gb: 24", "memory_gb: 0")).unwrap();
    let out = dir.path().join("out");
    let r = Garnet::new()
        .args(["intake", "--answers", &bad.display().to_string(), "--out", &out.display().to_string()])
        .run();
    r.expect(2);
    assert!(r.stderr.contains("workload.qps: requests per second must be more than 0"), "{}", r.stderr);
    assert!(r.stderr.contains("hardware.declared[0].memory_gb: memory must be more than 0 GB"), "{}", r.stderr);
    assert!(!out.exists(), "nothing is written for bad answers");
    std::fs::write(&bad, good.replace("qps: 4 ", "qps: lots ")).unwrap();
    let r = Garnet::new().args(["intake", "--answers", &bad.display().to_string()]).run();
    r.expect(2);
    assert!(
        r.stderr.contains("bad.yaml:10:8: invalid floating point\n"),
        "file:line:col for a wrong type: {}",
        r.stderr
    );
    // Not at a terminal and no answers file: a clear refusal.
    let r = Garnet::new().args(["intake", "--out", &out.display().to_string()]).run();
    r.expect(2);
    assert!(r.stderr.contains("--answers"), "{}", r.stderr);
}

#[test]
fn intake_probes_real_nodes_over_ssh() {
    if !crate::common::sshd_available() {
        return;
    }
    let c = crate::common::Cluster::start(1);
    let d = c.path();
    let cfg = d.join("probe_ssh_config");
    let base = std::fs::read_to_string(d.join("ssh_config")).unwrap();
    std::fs::write(&cfg, format!("{base}  IdentityFile {}\n", d.join("id_ed25519").display())).unwrap();
    let out = d.join("intake");
    let garnet = env!("CARGO_BIN_EXE_garnet");
    let mut t =
        Pty::spawn(&format!("NO_COLOR=1 {garnet} intake --out {} --ssh-config {}", out.display(), cfg.display()));
    t.answer("Cluster slug", "probed\r");
    t.answer("Tier", "\r");
    t.answer("Contacts", "\r");
    t.answer("Workloads", "\r");
    t.answer("Models, first one served first", "qwen2.5-7b-instruct\r");
    t.answer("Expected peak requests per second", "1\r");
    t.answer("Latency budget", "\r");
    t.answer("Traffic shape", "\r");
    t.answer("Context per request", "2048\r");
    t.answer("Concurrent requests per loader", "1\r");
    t.answer("Average completion tokens", "\r");
    t.answer("How do we learn the hardware?", "\r");
    let n = &c.nodes[0];
    t.answer("Nodes as user@host[:port]", &format!("{}@{}:{}\r", n.user, n.ip, n.port));
    t.expect(&format!("{}: linux", n.ip));
    t.answer("Network between nodes", "\r");
    t.answer("Telemetry path", "\r");
    t.answer("Telemetry store", "\r");
    t.answer("SSH access", "\r");
    t.expect("intake.md");
    let ok = t.child.wait().unwrap().success();
    assert!(ok, "{}", t.screen.lock().unwrap());
    let inv = std::fs::read_to_string(out.join("inventory.yaml")).unwrap();
    assert!(inv.contains(&format!("host: {}, user: {}", n.ip, n.user)), "{inv}");
    // The memory the probe found on this machine is the node's.
    let mem_gb = (std::fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<f64>()
        .unwrap()
        / (1u64 << 20) as f64)
        .round();
    assert!(inv.contains(&format!("memory_gb: {mem_gb}")), "{inv}");
}
