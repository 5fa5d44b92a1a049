//! Generated files (`completions/`) must match what the binary generates now.

use std::path::Path;

use crate::common::Garnet;

#[test]
fn completions_and_man_page_are_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let cases = [("bash", "garnet.bash"), ("zsh", "_garnet"), ("fish", "garnet.fish")];
    let mut stale = vec![];
    for (shell, file) in cases {
        let r = Garnet::new().args(["completions", shell]).run();
        r.expect(0);
        if std::fs::read_to_string(root.join(file)).unwrap_or_default() != r.stdout {
            stale.push(file);
        }
    }
    let r = Garnet::new().arg("man").run();
    r.expect(0);
    if std::fs::read_to_string(root.join("garnet.1")).unwrap_or_default() != r.stdout {
        stale.push("garnet.1");
    }
    assert!(stale.is_empty(), "stale generated files {stale:?}: run `scripts/generate.sh` and commit");
}

#[test]
fn runbook_fills_in_the_inventory() {
    let inv = concat!(env!("CARGO_MANIFEST_DIR"), "/inventory.example.yaml");
    let r = Garnet::new()
        .args(["-i", inv, "runbook", "hot-swap", "--model", "llama-3.1-8b-instruct", "--to", "qwen2.5-32b-instruct"])
        .run();
    r.expect(0);
    assert!(
        r.stdout.contains("ssh -p 22 garnet@10.20.0.11 'ls ~/.garnet/run/garnet-loader-qwen2-5-32b-instruct.*'"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("m4-01%2Fllama-3.1-8b-instruct"), "{}", r.stdout);
    for unfilled in ["<b_port>", "<ssh>", "<h>/", "<admin_url>"] {
        let steps = r.stdout.split("\n## ").skip(1).collect::<String>();
        assert!(!steps.contains(unfilled), "{unfilled} left in the steps:\n{steps}");
    }
    let bad = Garnet::new().args(["-i", inv, "runbook", "hotswap"]).run();
    bad.expect(2);
    assert!(bad.stderr.contains("did you mean `hot-swap`"), "{}", bad.stderr);
}

/// Every command's `--help`, as a user sees it, in one reviewed snapshot
/// (`tests/snapshots/integration__generated__help.snap`): a change of wording, a new flag or a
/// lost one shows in review. `INSTA_UPDATE=always cargo test help` rewrites it.
#[test]
fn help() {
    use clap::CommandFactory;
    fn walk(cmd: &mut clap::Command, path: &str, out: &mut String) {
        cmd.build();
        out.push_str(&format!("===== {path} --help\n"));
        out.push_str(&cmd.render_long_help().to_string());
        out.push('\n');
        let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
        for n in names {
            if n == "help" {
                continue;
            }
            let sub = cmd.find_subcommand_mut(&n).expect("listed");
            walk(sub, &format!("{path} {n}"), out);
        }
    }
    let mut cmd = garnet::cli::Cli::command().term_width(100);
    let mut out = String::new();
    walk(&mut cmd, "garnet", &mut out);
    insta::assert_snapshot!(out);
}
