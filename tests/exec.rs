//! `garnet exec` over real sshd nodes: fan-out on every transport, unreachable vs failed, retry,
//! timeouts, large output, dry-run, JSON events, max-fail.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::common::{Cluster, sshd_available};

fn by_event<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

fn outcomes(events: &[Value]) -> BTreeMap<String, String> {
    by_event(events, "node_finished")
        .iter()
        .map(|e| (e["node"].as_str().unwrap().to_string(), e["outcome"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn fans_out_over_openssh_russh_and_local() {
    if !sshd_available() {
        return;
    }
    let c = Cluster::start(4);
    let inv =
        c.inventory("fanout", |i| ["openssh", "russh", "openssh", "russh"][i], "  - {name: here, transport: local}\n");
    let r = c.garnet(&inv).args(["--yes", "exec", "--", "echo", "user=$(id -un)", ";", "echo", "oops", ">&2"]).run();
    r.expect(0);
    for i in 1..=4 {
        assert!(r.stdout.contains(&format!("node{i}: user=garnet-t{i}\n")), "node{i} output missing:\n{}", r.stdout);
        assert!(r.stderr.contains(&format!("node{i}: oops\n")), "node{i} stderr missing:\n{}", r.stderr);
    }
    let me = String::from_utf8(std::process::Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
    assert!(r.stdout.contains(&format!("here: user={}", me.trim())), "{}", r.stdout);
    assert!(r.stderr.contains("5 nodes: 5 changed"), "{}", r.stderr);
}

#[test]
fn unreachable_node_is_reported_apart_from_failures_and_retry_touches_only_it() {
    if !sshd_available() {
        return;
    }
    let mut c = Cluster::start(4);
    let inv = c.inventory("partial", |_| "openssh", "");
    c.down(2);
    let r = c.garnet(&inv).args(["-o", "json", "--yes", "exec", "--", "test", "$(id -un)", "!=", "garnet-t4"]).run();
    r.expect(3);
    let ev = r.events();
    let o = outcomes(&ev);
    assert_eq!(o["node1"], "changed");
    assert_eq!(o["node2"], "changed");
    assert_eq!(o["node3"], "unreachable");
    assert_eq!(o["node4"], "failed");
    let n3 = by_event(&ev, "node_finished").into_iter().find(|e| e["node"] == "node3").unwrap();
    assert!(n3["message"].as_str().unwrap().contains("Connection refused"), "{n3}");
    // Refused is transient: retried once (`connect_retries: 1`) before giving up.
    assert!(n3["message"].as_str().unwrap().contains("(after 2 attempts)"), "{n3}");
    let n4 = by_event(&ev, "node_finished").into_iter().find(|e| e["node"] == "node4").unwrap();
    assert!(n4["message"].as_str().unwrap().contains("exit 1"), "{n4}");

    // Bring node3 back: `retry` reruns the same command on node3 and node4 only.
    c.up(2);
    let r = c.garnet(&inv).args(["-o", "json", "--yes", "retry"]).run();
    r.expect(3);
    let ev = r.events();
    let started = by_event(&ev, "run_started");
    assert_eq!(started[0]["nodes"], serde_json::json!(["node3", "node4"]));
    let o = outcomes(&ev);
    assert_eq!(o.len(), 2);
    assert_eq!(o["node3"], "changed");
    assert_eq!(o["node4"], "failed");

    // And `--limit @failed` now means node4 alone.
    let r = c.garnet(&inv).args(["-o", "json", "--yes", "--limit", "@failed", "exec", "--", "true"]).run();
    r.expect(0);
    assert_eq!(outcomes(&r.events()).keys().collect::<Vec<_>>(), ["node4"]);
}

#[test]
fn timeout_fails_the_node_and_says_so() {
    if !sshd_available() {
        return;
    }
    let c = Cluster::start(2);
    let inv = c.inventory("timeout", |i| ["openssh", "russh"][i], "  - {name: here, transport: local}\n");
    let r = c.garnet(&inv).args(["--yes", "exec", "--timeout", "1s", "--", "sleep", "37"]).run();
    r.expect(1);
    for n in ["node1", "node2", "here"] {
        assert!(r.stderr.contains(&format!("{n}: failed: exec: timed out after 1.0s")), "{n}:\n{}", r.stderr);
    }
    // Closing the channel does not stop a silent command; the node-side watchdog does.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let left = std::process::Command::new("pgrep").args(["-f", "^sleep 37$"]).output().unwrap();
        if left.stdout.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed-out command still running: {}",
            String::from_utf8_lossy(&left.stdout)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn ten_megabytes_of_output_arrive_whole_and_in_order() {
    if !sshd_available() {
        return;
    }
    let c = Cluster::start(2);
    let inv = c.inventory("bulk", |i| ["openssh", "russh"][i], "  - {name: here, transport: local}\n");
    let n = 1_500_000u64; // `seq` prints 10.9 MB
    let r = c.garnet(&inv).args(["--yes", "-q", "exec", "--", "seq", "1", &n.to_string()]).run();
    r.expect(0);
    for node in ["node1", "node2", "here"] {
        let prefix = format!("{node}: ");
        let mut expect = 1u64;
        for line in r.stdout.lines().filter_map(|l| l.strip_prefix(&prefix)) {
            assert_eq!(line, expect.to_string(), "{node}: line {expect}");
            expect += 1;
        }
        assert_eq!(expect - 1, n, "{node}: lines received");
    }
}

#[test]
fn dry_run_renders_the_plan_and_touches_nothing() {
    if !sshd_available() {
        return;
    }
    let c = Cluster::start(2);
    let marker = c.path().join("touched");
    // An unreachable node too: a dry run never connects.
    let inv = c.inventory(
        "dry",
        |_| "openssh",
        &format!("  - {{name: ghost, host: 127.0.0.1, port: {}}}\n", crate::common::closed_port()),
    );
    let cmd = format!("touch {}", marker.display());
    let r = c.garnet(&inv).args(["--dry-run", "exec", "--", &cmd]).run();
    r.expect(0);
    assert!(
        r.stdout.contains(&format!("node1 (garnet-t1@{}:{} via openssh)", c.nodes[0].ip, c.nodes[0].port)),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains(&format!("1. exec: $ {cmd}")), "{}", r.stdout);
    assert!(r.stdout.contains("ghost"), "{}", r.stdout);
    assert!(!marker.exists(), "dry run ran the command");
    assert!(!c.path().join("store").exists(), "dry run wrote to the store");
    assert!(!c.path().join("state/runs").exists(), "dry run journaled a run");
    for i in 0..2 {
        assert!(!c.log(i).contains("Accepted publickey"), "dry run logged in to node{}", i + 1);
    }
    // JSON plan too.
    let r = c.garnet(&inv).args(["-o", "json", "--dry-run", "exec", "--", &cmd]).run();
    r.expect(0);
    let ev = r.events();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["event"], "plan");
    assert_eq!(ev[0]["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(ev[0]["nodes"][0]["steps"][0]["command"], cmd);
}

#[test]
fn json_events_parse_and_add_up() {
    if !sshd_available() {
        return;
    }
    let c = Cluster::start(3);
    let inv = c.inventory(
        "events",
        |i| ["openssh", "russh", "openssh"][i],
        &format!("  - {{name: ghost, host: 127.0.0.1, port: {}}}\n", crate::common::closed_port()),
    );
    let r = c
        .garnet(&inv)
        .args([
            "-o",
            "json",
            "--yes",
            "exec",
            "--",
            "printf",
            "'a\\nb\\n'",
            ";",
            "test",
            "$(id -un)",
            "!=",
            "garnet-t2",
        ])
        .run();
    r.expect(3);
    let ev = r.events();
    assert_eq!(ev.first().unwrap()["event"], "run_started");
    assert_eq!(ev.last().unwrap()["event"], "run_finished");
    let run_id = &ev[0]["run_id"];
    assert_eq!(&ev.last().unwrap()["run_id"], run_id);
    let targeted: Vec<&str> = ev[0]["nodes"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(targeted, ["node1", "node2", "node3", "ghost"]);
    let finished = by_event(&ev, "node_finished");
    assert_eq!(finished.len(), 4);
    let summary = &ev.last().unwrap()["summary"];
    for outcome in ["ok", "changed", "failed", "unreachable", "skipped"] {
        let n = finished.iter().filter(|e| e["outcome"] == outcome).count();
        assert_eq!(summary[outcome].as_u64().unwrap() as usize, n, "{outcome}");
    }
    assert_eq!(summary["changed"], 2);
    assert_eq!(summary["failed"], 1);
    assert_eq!(summary["unreachable"], 1);
    assert_eq!(ev.last().unwrap()["exit_code"], 3);
    assert_eq!(by_event(&ev, "step_started").len(), by_event(&ev, "step_finished").len());
    // Two output lines per reachable node, tagged with node and stream.
    let out = by_event(&ev, "output");
    assert_eq!(out.len(), 6);
    assert!(out.iter().all(|e| e["stream"] == "stdout" && (e["line"] == "a" || e["line"] == "b")));
    // The journal holds the same run, minus output lines.
    let journal =
        std::fs::read_to_string(c.path().join(format!("state/runs/events/{}.jsonl", run_id.as_str().unwrap())))
            .unwrap();
    let jev: Vec<Value> = journal.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(jev.len(), ev.len() - out.len());
    assert!(jev.iter().all(|e| e["event"] != "output"));
}

#[test]
fn max_fail_skips_nodes_not_yet_started() {
    if !sshd_available() {
        return;
    }
    let c = Cluster::start(4);
    let inv = c.inventory("maxfail", |_| "openssh", "");
    let r =
        c.garnet(&inv).args(["-o", "json", "--yes", "--forks", "1", "--max-fail", "0", "exec", "--", "false"]).run();
    r.expect(1);
    let o = outcomes(&r.events());
    assert_eq!(o["node1"], "failed");
    for n in ["node2", "node3", "node4"] {
        assert_eq!(o[n], "skipped", "{n}");
    }
}

#[test]
fn strict_host_key_checking_refuses_an_unknown_host() {
    if !sshd_available() {
        return;
    }
    let c = Cluster::start(2);
    let inv = c.inventory("hostkey", |i| ["openssh", "russh"][i], "");
    std::fs::write(c.path().join("known_hosts"), "").unwrap();
    let r = c.garnet(&inv).args(["-o", "json", "--yes", "exec", "--", "true"]).run();
    r.expect(1);
    let ev = r.events();
    let fin = by_event(&ev, "node_finished");
    assert!(fin.iter().all(|e| e["outcome"] == "unreachable"), "{fin:?}");
    let m1 = fin.iter().find(|e| e["node"] == "node1").unwrap()["message"].as_str().unwrap().to_string();
    assert!(m1.contains("Host key verification failed"), "{m1}");
    let m2 = fin.iter().find(|e| e["node"] == "node2").unwrap()["message"].as_str().unwrap().to_string();
    assert!(m2.contains("not in") && m2.contains("strict"), "{m2}");
}

#[test]
fn limit_selects_and_refuses_typos() {
    if !sshd_available() {
        return;
    }
    let c = Cluster::start(3);
    let inv = c.inventory("limit", |_| "openssh", "");
    let r = c.garnet(&inv).args(["-o", "json", "--yes", "-l", "tag:t1,node3", "exec", "--", "true"]).run();
    r.expect(0);
    assert_eq!(outcomes(&r.events()).keys().collect::<Vec<_>>(), ["node1", "node3"]);
    let r = c.garnet(&inv).args(["--yes", "-l", "nodee1", "exec", "--", "true"]).run();
    r.expect(2);
    assert!(r.stderr.contains("`--limit nodee1` matches no node; did you mean `node1`?"), "{}", r.stderr);
}

#[test]
fn refuses_without_yes_when_not_a_terminal() {
    if !sshd_available() {
        return;
    }
    let c = Cluster::start(1);
    let marker = c.path().join("touched");
    let inv = c.inventory("noyes", |_| "openssh", "");
    let r = c.garnet(&inv).args(["exec", "--", "touch", &marker.display().to_string()]).run();
    r.expect(2);
    assert!(r.stderr.contains("needs confirmation, but stdin is not a terminal; pass `--yes`"), "{}", r.stderr);
    assert!(!marker.exists());
}

#[test]
fn accept_new_learns_unknown_hosts_and_refuses_changed_keys() {
    if !sshd_available() {
        return;
    }
    let c = Cluster::start(2);
    let inv = c.inventory("tofu", |i| ["openssh", "russh"][i], "");
    let text =
        std::fs::read_to_string(&inv).unwrap().replace("host_key_checking: strict", "host_key_checking: accept-new");
    std::fs::write(&inv, text).unwrap();
    let kh = c.path().join("known_hosts");
    let real = std::fs::read_to_string(&kh).unwrap();
    std::fs::write(&kh, "").unwrap();
    c.garnet(&inv).args(["--yes", "exec", "--", "true"]).run().expect(0);
    let learned = std::fs::read_to_string(&kh).unwrap();
    for n in &c.nodes {
        assert!(learned.contains(&format!("[{}]:{}", n.ip, n.port)), "{} not learned:\n{learned}", n.name);
    }
    // Swap the two nodes' keys: both now present a key that differs from the recorded one.
    let lines: Vec<&str> = real.lines().collect();
    let key = |l: &str| l.split_once(' ').unwrap().1.to_string();
    let host = |l: &str| l.split_once(' ').unwrap().0.to_string();
    std::fs::write(&kh, format!("{} {}\n{} {}\n", host(lines[0]), key(lines[1]), host(lines[1]), key(lines[0])))
        .unwrap();
    let r = c.garnet(&inv).args(["-o", "json", "--yes", "exec", "--", "true"]).run();
    r.expect(1);
    let ev = r.events();
    for e in by_event(&ev, "node_finished") {
        assert_eq!(e["outcome"], "unreachable", "{e}");
        let m = e["message"].as_str().unwrap();
        assert!(m.contains("Host key verification failed") || m.contains("changed"), "{m}");
    }
}

#[test]
fn keys_from_an_agent_work_on_both_ssh_transports() {
    if !sshd_available() {
        return;
    }
    let c = Cluster::start(2);
    let inv = c.inventory("agent", |i| ["openssh", "russh"][i], "");
    // No identity file: only the agent holds the key.
    let text = std::fs::read_to_string(&inv).unwrap();
    let text = text.lines().filter(|l| !l.contains("identity_file")).collect::<Vec<_>>().join("\n") + "\n";
    std::fs::write(&inv, text).unwrap();
    // `IdentitiesOnly` would make ssh ignore agent keys that no IdentityFile names.
    let cfg = c.path().join("ssh_config");
    let cfg_text = std::fs::read_to_string(&cfg).unwrap().replace("  IdentitiesOnly yes\n", "");
    std::fs::write(&cfg, cfg_text).unwrap();
    let sock = c.path().join("agent.sock");
    let mut agent = std::process::Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while !sock.exists() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let added = std::process::Command::new("ssh-add")
        .arg(c.path().join("id_ed25519"))
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let home = c.path().join("empty-home");
    std::fs::create_dir_all(&home).unwrap();
    let r = c
        .garnet(&inv)
        .env("SSH_AUTH_SOCK", sock.display().to_string())
        .env("HOME", home.display().to_string())
        .args(["--yes", "exec", "--", "id", "-un"])
        .run();
    let _ = agent.kill();
    let _ = agent.wait();
    r.expect(0);
    assert!(r.stdout.contains("node1: garnet-t1") && r.stdout.contains("node2: garnet-t2"), "{}", r.stdout);
}
