//! The procedures garnet automates, as step lists: what each step does, the command to run it by
//! hand, what to check, how to undo it. `runbooks/*.md` are rendered from these templates —
//! committed, and a test fails when a committed runbook is stale. For a real cluster a command
//! builds [`Step`]s: a template's step with the plan work the command executes, so that
//! `hot-swap --dry-run` and `garnet runbook hot-swap --model M --to B` print, as shell a person can
//! paste ([`shell`]), exactly what `hot-swap` then runs.

pub mod shell;

use std::collections::BTreeMap;

use crate::plan::NodePlan;

/// One step of a procedure.
pub struct ProcStep {
    pub name: &'static str,
    pub what: &'static str,
    /// The manual equivalent; `<name>` placeholders are filled from the inventory.
    pub manual: &'static str,
    pub check: &'static str,
    pub undo: &'static str,
}

pub struct Procedure {
    pub name: &'static str,
    pub title: &'static str,
    pub intro: &'static str,
    pub steps: &'static [ProcStep],
    /// The placeholders it uses, with their meaning.
    pub values: &'static [(&'static str, &'static str)],
}

const COMMON: &[(&str, &str)] = &[
    ("cluster", "the cluster's slug"),
    ("node", "the node worked on"),
    ("ssh", "how to log in to it, e.g. `ssh -p 22 garnet@10.20.0.11`"),
    ("h", "garnet's folder on the node (`garnet_home`, default `~/.garnet`)"),
    (
        "start",
        "how a service starts with the node's backend: `sh <h>/services/NAME.sh` (process), `systemctl --user restart NAME` (systemd), `launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/dev.garnet.X.plist` (launchd)",
    ),
    (
        "stop",
        "how a service stops: `kill $(cat <h>/run/NAME.pid)` (process), `systemctl --user disable --now NAME` (systemd), `launchctl bootout gui/$(id -u)/dev.garnet.X` (launchd)",
    ),
];

pub const DEPLOY: Procedure = Procedure {
    name: "deploy",
    title: "Deploy: install and start garnet on a node",
    intro: "What `garnet deploy` does on each node, idempotently: every step can be repeated, and a second run changes nothing. Run it node by node.",
    steps: &[
        ProcStep {
            name: "probe",
            what: "Learn the node's OS, CPU and home folder.",
            manual: "<ssh> 'uname -s; uname -m; echo $HOME'",
            check: "Darwin or Linux; arm64/aarch64 or x86_64",
            undo: "nothing to undo",
        },
        ProcStep {
            name: "garnet binary",
            what: "Copy the garnet binary for the node's platform, unless the node has the same one (same SHA-256).",
            manual: "scp <scp_port> garnet <user_host>:<h>/bin/garnet",
            check: "<ssh> '<h>/bin/garnet --version'",
            undo: "<ssh> 'rm <h>/bin/garnet'",
        },
        ProcStep {
            name: "loader runtime",
            what: "A python with mlx-lm: the one `deploy.python` names, or a venv garnet creates with pinned packages.",
            manual: "<ssh> 'python3 -m venv <h>/venv && <h>/venv/bin/pip install <packages>'",
            check: "<ssh> '<python> -c \"import mlx_lm\"'",
            undo: "<ssh> 'rm -rf <h>/venv'",
        },
        ProcStep {
            name: "models",
            what: "Copy each placed model's folder (only files whose SHA-256 differs), or download a Hugging Face repo on the node.",
            manual: "rsync -a --checksum <model_dir>/ <user_host>:<h>/models/<model>/",
            check: "<ssh> 'ls -l <h>/models/<model>'",
            undo: "<ssh> 'rm -rf <h>/models/<model>'",
        },
        ProcStep {
            name: "config and secrets",
            what: "Write the monitor's config and, mode 0600, the store credentials and the router token (router nodes also get the routes).",
            manual: "garnet deploy --dry-run --limit <node>   # prints node.json and routes.json; copy them to <h>/etc/, then: scp creds <user_host>:<h>/etc/store.credentials && <ssh> 'chmod 600 <h>/etc/store.credentials'",
            check: "<ssh> 'ls -l <h>/etc'   # secrets are -rw-------",
            undo: "<ssh> 'rm <h>/etc/store.credentials <h>/etc/router.token'",
        },
        ProcStep {
            name: "services",
            what: "Install and start the loaders, the router (router nodes) and the monitor; a service restarts only when its definition or what it reads changed. Loaders no longer placed are stopped and removed.",
            manual: "<ssh> '<start>'   # for garnet-loader-<model>, garnet-router, garnet-monitor",
            check: "<ssh> 'ls <h>/run; tail <h>/run/garnet-monitor.err.log'",
            undo: "<ssh> '<stop>'",
        },
        ProcStep {
            name: "checks",
            what: "Each loader and the router answer a real one-token completion; the node's first sample is in the store.",
            manual: "<ssh> 'curl -s <loader_url>/v1/chat/completions -H content-type:application/json -d '\\''{\"model\":\"<loader_id>\",\"messages\":[{\"role\":\"user\",\"content\":\"ping\"}],\"max_tokens\":1}'\\'''",
            check: "HTTP 200 with one choice; `garnet status` shows the node up",
            undo: "nothing to undo",
        },
    ],
    values: &[
        ("user_host", "the node's `user@host`"),
        ("scp_port", "`-P <port>` for scp"),
        ("packages", "the pinned loader packages"),
        ("python", "the loaders' python on the node"),
        ("model", "a model placed on the node"),
        ("model_dir", "that model's folder on your machine"),
        ("loader_url", "that model's loader, from the node"),
        ("loader_id", "the loader's own model id"),
    ],
};

pub const HOT_SWAP: Procedure = Procedure {
    name: "hot-swap",
    title: "Hot-swap: replace the loader serving a model, zero requests lost",
    intro: "B (the new model entry) starts beside A (the current one) on its own port; only once B is healthy does the router flip, atomically; A drains, then stops. Any failure before the flip: remove B, nothing else moved.",
    steps: &[
        ProcStep {
            name: "fit check",
            what: "A and B must both fit in the node's memory at once: weights + KV cache at the model's context × concurrency + runtime overhead.",
            manual: "garnet model inspect <b_dir> --context <context> --concurrency <concurrency>   # and the same for A; add both totals",
            check: "the sum is below the node's memory; else place B on a spare node instead",
            undo: "nothing to undo",
        },
        ProcStep {
            name: "start B",
            what: "Copy B's files, write its service definition and start its loader as its own service (<b_service>) on port <b_port>, beside A.",
            manual: "rsync -a --checksum <b_dir>/ <user_host>:<h>/models/<b>/ && <ssh> '<b_start>'   # `garnet runbook hot-swap --model <model> --to <b>` prints this step with B's service definition filled in",
            check: "<ssh> 'ls <h>/run/<b_service>.*'",
            undo: "<ssh> '<b_stop>'",
        },
        ProcStep {
            name: "B ready",
            what: "Wait until B answers a real one-token chat completion (a multi-GB model takes minutes to load).",
            manual: "<ssh> 'curl -s <b_url>/v1/chat/completions -H content-type:application/json -d '\\''{\"model\":\"<b_id>\",\"messages\":[{\"role\":\"user\",\"content\":\"ping\"}],\"max_tokens\":1}'\\'''",
            check: "HTTP 200 with one choice; on failure read <h>/run/<b_service>.err.log",
            undo: "<ssh> '<b_stop>'",
        },
        ProcStep {
            name: "B healthy",
            what: "Send B the test prompts: all must succeed, with p99 within the model's latency budget.",
            manual: "<ssh> '<h>/bin/garnet bench --url <b_url>/v1 --model <b_id> -n 8 -c 1'",
            check: "0 failed; p99 within <budget_ms>",
            undo: "<ssh> '<b_stop>'",
        },
        ProcStep {
            name: "flip",
            what: "On every router node, replace the routes in one atomic table swap: B active, A draining (it gets no new request).",
            manual: "<router_ssh> 'cat > <router_h>/etc/routes.json' < routes-flipped.json && <router_ssh> '<router_h>/bin/garnet admin-call --url <admin_url> --token-file <router_h>/etc/router.token apply-routes <router_h>/etc/routes.json'   # `garnet runbook hot-swap --model <model> --to <b>` prints routes-flipped.json",
            check: "GET <admin_url>/admin/routes shows <b_backend> active and <a_backend> draining",
            undo: "PUT the previous routes the same way (A active, B removed)",
        },
        ProcStep {
            name: "drain A",
            what: "Wait until A has no request in flight (long generations finish), up to the drain cap; what is still in flight then is cut, and counted.",
            manual: "<router_ssh> '<router_h>/bin/garnet admin-call --url <admin_url> --token-file <router_h>/etc/router.token wait-idle <a_backend> --max <drain_secs>s'",
            check: "it prints `{\"in_flight\":0,…}` (else how many were cut at the cap)",
            undo: "re-activate A: POST <admin_url>/admin/backends/<a_backend_escaped>/activate",
        },
        ProcStep {
            name: "routes without A",
            what: "On every router node, the routes as they now stand: B serving, A gone.",
            manual: "<router_ssh> 'cat > <router_h>/etc/routes.json' < routes-settled.json && <router_ssh> '<router_h>/bin/garnet admin-call --url <admin_url> --token-file <router_h>/etc/router.token apply-routes <router_h>/etc/routes.json'",
            check: "GET <admin_url>/admin/routes lists <b_backend> and not <a_backend>",
            undo: "garnet rollback <model>",
        },
        ProcStep {
            name: "stop A",
            what: "Stop and remove A's service. Its model files stay on the node, for a rollback.",
            manual: "<ssh> '<a_stop>'",
            check: "A's port no longer answers; <api_url>/ready still says ok",
            undo: "garnet rollback <model>",
        },
        ProcStep {
            name: "record",
            what: "Write the new placement record to the store (earlier ones are kept), so deploy keeps B and a rollback knows A.",
            manual: "# garnet writes placement/cluster=<cluster>/TIME.json; `garnet runbook hot-swap --model <model> --to <b>` prints it and the command that stores it",
            check: "`garnet deploy --dry-run` plans no loader change",
            undo: "garnet rollback <model>",
        },
        ProcStep {
            name: "monitor config",
            what: "The node's monitor config (etc/node.json) as deploy now writes it: the monitor re-reads it and watches B, not A.",
            manual: "<ssh> 'cat > <h>/etc/node.json' < node.json   # `garnet runbook hot-swap --model <model> --to <b>` prints it",
            check: "the node's next sample lists <b_service>",
            undo: "garnet deploy",
        },
    ],
    values: &[
        ("model", "the public model name"),
        ("a", "the entry serving it now (A)"),
        ("b", "the new entry (B)"),
        ("b_dir", "B's model folder on your machine (a Hugging Face repo is downloaded on the node instead)"),
        ("b_service", "B's service name"),
        ("b_port", "B's port on the node"),
        ("b_url", "B's loader, from the node"),
        ("b_id", "B's own model id"),
        ("b_start", "starts B's service"),
        ("b_stop", "stops and removes B's service"),
        ("a_stop", "stops and removes A's service"),
        ("user_host", "the node's `user@host`"),
        ("context", "the model's context"),
        ("concurrency", "the model's max concurrency"),
        ("budget_ms", "the model's latency budget"),
        ("router_ssh", "how to log in to a router node"),
        ("router_h", "garnet's folder on the router node"),
        ("admin_url", "the router's admin API, from the router node"),
        ("api_url", "the router's OpenAI API"),
        ("a_backend", "A's backend id in the router"),
        ("a_backend_escaped", "the same with `/` as `%2F`"),
        ("b_backend", "B's backend id in the router"),
        ("drain_secs", "the drain cap in seconds (`--drain-max`, else the model's `drain_secs`)"),
    ],
};

pub const ROLLBACK: Procedure = Procedure {
    name: "rollback",
    title: "Rollback: swap a model back to the entry before the last hot-swap",
    intro: "A rollback is a hot-swap in reverse: B is the entry the previous placement record had (its files are still on the node), A the one serving now. Every step, check and undo is the hot-swap runbook's.",
    steps: &[
        ProcStep {
            name: "find the previous entry",
            what: "Read the latest placement record's `previous` key and the entry that record names for <model> on <node>. If the last swap moved the model `--via` a spare, B starts back on the node it came from (the record's `moves`) and the spare is freed.",
            manual: "garnet runbook hot-swap --model <model> --to <previous>   # then follow it",
            check: "<previous> is declared in the inventory",
            undo: "nothing to undo",
        },
        ProcStep {
            name: "hot-swap back",
            what: "Run the hot-swap procedure with B = <previous>: start, ready, healthy, flip, drain, stop, record.",
            manual: "garnet rollback <model>   # or the hot-swap runbook by hand",
            check: "answers come from <previous>; the router's failure counters did not move",
            undo: "garnet hot-swap <model> --to <a>",
        },
    ],
    values: &[
        ("model", "the public model name"),
        ("a", "the entry serving it now"),
        ("previous", "the entry before the last swap"),
    ],
};

pub const OFFBOARD: Procedure = Procedure {
    name: "offboard",
    title: "Offboard: remove garnet's access, keep the rack serving",
    intro: "Per node, in this order; the key goes last, since garnet cannot log in afterwards. Loaders and the router are never touched.",
    steps: &[
        ProcStep {
            name: "list what keeps running",
            what: "Note the services on the node: they keep running after the roll-off.",
            manual: "<ssh> 'ls <h>/run/*.gen'",
            check: "garnet-loader-*, garnet-router (router nodes), garnet-monitor",
            undo: "nothing to undo",
        },
        ProcStep {
            name: "monitor off the store",
            what: "Point the monitor at a folder on the node (`\"store\": {\"kind\": \"local\", \"path\": \"<h>/store\", ...}` in node.json); it re-reads its config. Or remove it with its service.",
            manual: "<ssh> 'vi <h>/etc/node.json'   # or: <ssh> '<stop>' for garnet-monitor",
            check: "<h>/store/telemetry fills up; nothing new in the bucket",
            undo: "garnet deploy",
        },
        ProcStep {
            name: "store credentials",
            what: "Delete the monitor's shipping credentials.",
            manual: "<ssh> 'rm -f <h>/etc/store.credentials'",
            check: "<ssh> 'ls <h>/etc'",
            undo: "garnet deploy",
        },
        ProcStep {
            name: "garnet's key",
            what: "Remove garnet's operator key (comment `garnet-operator@<cluster>`) from authorized_keys; every other key stays.",
            manual: "<ssh> \"sed -i.bak '/ garnet-operator@<cluster>\\$/d' ~/.ssh/authorized_keys\"",
            check: "garnet's key no longer logs in; yours still does (if garnet ran from your machine in the last minute, end the connection it keeps first: `garnet connections close --limit <node>`)",
            undo: "garnet keys provision (with another key that can log in)",
        },
    ],
    values: &[],
};

/// One step of a procedure on a real cluster: its template (name and texts, `<value>`s filled
/// in), the plan work the command executes on which nodes, the work that undoes it, and for a
/// step without node work the shell a person runs instead (writing the placement record).
pub struct Step {
    pub template: &'static ProcStep,
    pub work: Vec<NodePlan>,
    pub undo_work: Vec<NodePlan>,
    pub by_hand: Option<String>,
}

impl Procedure {
    /// The template step called `name` (a missing one is a programming error, tested).
    pub fn step(&'static self, name: &str) -> &'static ProcStep {
        self.steps.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("{}: no step `{name}`", self.name))
    }
}

/// A runbook's `<value>`s: name → text.
pub type Values = BTreeMap<String, String>;

/// The first line of an undo block: not part of the procedure when pasted in order.
pub const UNDO_MARK: &str = "# undo: only if this step failed";

/// A procedure's steps for one real case as Markdown: each step's shell block is what the
/// command runs (rendered by [`shell`]), so pasting the blocks in order does the procedure.
pub fn render_steps(p: &Procedure, heading: &str, steps: &[&Step], values: &BTreeMap<String, String>) -> String {
    let mut s = format!("# {}: {heading}\n\n{}\n", p.title, fill(p.intro, values));
    for (i, st) in steps.iter().enumerate() {
        let t = st.template;
        s.push_str(&format!("\n## {}. {}\n\n{}\n\n", i + 1, t.name, fill(t.what, values)));
        let block = match (&st.by_hand, st.work.is_empty()) {
            (Some(h), _) => h.clone(),
            (None, false) => shell::plans(&st.work),
            (None, true) => fill(t.manual, values),
        };
        s.push_str(&format!("```sh\n{block}\n```\n\n- **Check:** {}\n", fill(t.check, values)));
        if st.undo_work.is_empty() {
            s.push_str(&format!("- **Undo:** {}\n", fill(t.undo, values)));
        } else {
            // Not indented under the list item: a here-document's end line must stay at column 0.
            s.push_str(&format!("- **Undo:**\n\n```sh\n{UNDO_MARK}\n{}\n```\n", shell::plans(&st.undo_work)));
        }
    }
    s
}

pub const ALL: &[&Procedure] = &[&DEPLOY, &HOT_SWAP, &ROLLBACK, &OFFBOARD];

pub fn find(name: &str) -> Option<&'static Procedure> {
    ALL.iter().copied().find(|p| p.name == name)
}

/// Replaces `<name>` placeholders that have a value; others stay as they are.
fn fill(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = text.to_string();
    for (k, v) in values {
        out = out.replace(&format!("<{k}>"), v);
    }
    out
}

/// The runbook as Markdown; with `values`, for one inventory.
pub fn render(p: &Procedure, values: &BTreeMap<String, String>) -> String {
    let mut s = format!("# {}\n\n", p.title);
    if values.is_empty() {
        s.push_str(&format!(
            "<!-- Rendered from the step list in src/procedure.rs by `scripts/generate.sh`; do not edit. `garnet runbook {}` prints it with your inventory's values. -->\n\n",
            p.name
        ));
    }
    s.push_str(&fill(p.intro, values));
    s.push_str("\n\n");
    let vals: Vec<&(&str, &str)> = COMMON.iter().chain(p.values.iter()).collect();
    s.push_str("| value | meaning |\n|---|---|\n");
    for (k, meaning) in vals {
        let shown =
            values.get(*k).map(|v| format!("`{}`", v.replace('|', "\\|"))).unwrap_or_else(|| format!("`<{k}>`"));
        s.push_str(&format!("| {shown} | {} |\n", meaning.replace('|', "\\|")));
    }
    for (i, st) in p.steps.iter().enumerate() {
        s.push_str(&format!("\n## {}. {}\n\n{}\n\n", i + 1, st.name, fill(st.what, values)));
        s.push_str(&format!("```sh\n{}\n```\n\n", fill(st.manual, values)));
        s.push_str(&format!("- **Check:** {}\n- **Undo:** {}\n", fill(st.check, values), fill(st.undo, values)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test-prompt `curl` of deploy and hot-swap, pasted into a shell as printed (through
    /// `sh -c`, as a local node's `<ssh>` is; `ssh host '…'` parses it the same way): the body
    /// reaching curl is the JSON, quotes intact. curl is replaced by `printf` to see its arguments.
    #[test]
    fn the_curl_bodies_survive_the_shell() {
        let values: BTreeMap<String, String> = [
            ("ssh", "sh -c"),
            ("loader_url", "http://127.0.0.1:9"),
            ("loader_id", "mlx-community/tiny"),
            ("b_url", "http://127.0.0.1:9"),
            ("b_id", "mlx-community/tiny-b"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut seen = 0;
        for p in ALL {
            for st in p
                .steps
                .iter()
                .filter(|st| st.manual.contains("curl -s <loader_url>") || st.manual.contains("curl -s <b_url>"))
            {
                let cmd = fill(st.manual, &values).replace("curl -s", "printf %s@");
                let out = std::process::Command::new("sh").args(["-c", &cmd]).output().unwrap();
                assert!(out.status.success(), "{cmd}: {}", String::from_utf8_lossy(&out.stderr));
                let text = String::from_utf8_lossy(&out.stdout);
                let body = text.split('@').find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no body in {text}"));
                let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{body}: {e}"));
                assert!(v["model"].as_str().is_some_and(|m| m.starts_with("mlx-community/tiny")), "{v}");
                seen += 1;
            }
        }
        assert_eq!(seen, 2, "deploy's and hot-swap's test prompts");
    }

    #[test]
    fn committed_runbooks_are_fresh() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
        let mut stale = Vec::new();
        for p in ALL {
            let want = render(p, &BTreeMap::new());
            if std::fs::read_to_string(dir.join(format!("{}.md", p.name))).ok().as_deref() != Some(want.as_str()) {
                stale.push(p.name);
            }
        }
        assert!(stale.is_empty(), "stale runbooks {stale:?}: run `scripts/generate.sh` and commit");
    }

    #[test]
    fn every_placeholder_is_documented() {
        for p in ALL {
            let documented: Vec<&str> = COMMON.iter().chain(p.values.iter()).map(|(k, _)| *k).collect();
            let text: String = p
                .steps
                .iter()
                .flat_map(|s| [s.what, s.manual, s.check, s.undo])
                .chain([p.intro])
                .collect::<Vec<_>>()
                .join(" ");
            let mut rest = text.as_str();
            while let Some(i) = rest.find('<') {
                rest = &rest[i + 1..];
                let Some(j) = rest.find('>') else { break };
                let name = &rest[..j];
                if !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    assert!(documented.contains(&name), "{}: `<{name}>` is not in its values table", p.name);
                }
                rest = &rest[j..];
            }
        }
    }
}
