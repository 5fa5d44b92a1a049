//! Inventory validation as a user meets it: exact messages (snapshots) with file:line:col.

use crate::common::Garnet;

/// Runs `garnet inventory check` on `text` written as `inventory.yaml`; returns (code, stderr).
fn check(text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inventory.yaml"), text).unwrap();
    let r = Garnet::new().cwd(dir.path()).args(["inventory", "check"]).run();
    (r.code, r.stderr)
}

#[test]
fn example_inventory_is_valid() {
    let root = env!("CARGO_MANIFEST_DIR");
    let r = Garnet::new().cwd(root).args(["-i", "inventory.example.yaml", "inventory", "check"]).run();
    r.expect(0);
    insta::assert_snapshot!(r.stdout, @"`inventory.example.yaml` is valid: cluster `acme-prod` (scale), 4 node(s), 2 model(s), 2 placement(s)");
    let r = Garnet::new()
        .cwd(root)
        .args(["-i", "inventory.example.yaml", "-o", "json", "-l", "role:router", "inventory", "list"])
        .run();
    r.expect(0);
    let ev = r.events();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["node"]["name"], "m4-01");
    assert_eq!(ev[0]["node"]["user"], "garnet");
    assert_eq!(ev[0]["node"]["port"], 22);
    assert_eq!(ev[0]["node"]["transport"], "openssh");
}

#[test]
fn unknown_key_with_suggestion() {
    let (code, err) = check("cluster:\n  slug: acme\n  tier: pro\nnodes:\n  - name: m4-01\n    hots: 10.0.0.1\n");
    assert_eq!(code, 2);
    insta::assert_snapshot!(err, @r"
    error: inventory `inventory.yaml` is invalid (1 error); nothing was run
    inventory.yaml:6:5: nodes[0].hots: unknown key `hots`
     6 |     hots: 10.0.0.1
       |     ^
      help: did you mean `host`?
    ");
}

#[test]
fn unknown_value_with_suggestion() {
    let (code, err) = check("cluster:\n  slug: acme\n  tier: scael\n");
    assert_eq!(code, 2);
    insta::assert_snapshot!(err, @r"
    error: inventory `inventory.yaml` is invalid (1 error); nothing was run
    inventory.yaml:3:9: cluster.tier: unknown value `scael`
     3 |   tier: scael
       |         ^
      help: did you mean `scale`? (expected one of `pro`, `scale`, `enterprise`)
    ");
}

#[test]
fn missing_key() {
    let (code, err) = check("cluster:\n  tier: pro\n");
    assert_eq!(code, 2);
    insta::assert_snapshot!(err, @r"
    error: inventory `inventory.yaml` is invalid (1 error); nothing was run
    inventory.yaml:2:3: cluster: missing required key `slug`
     2 |   tier: pro
       |   ^
      help: add `cluster.slug`; see inventory.example.yaml
    ");
}

#[test]
fn yaml_syntax_error() {
    let (code, err) = check("cluster:\n  slug: acme\n  tier: pro\nnodes:\n  - name: a\n   host: b\n");
    assert_eq!(code, 2);
    assert!(
        err.starts_with("error: inventory `inventory.yaml` is invalid (1 error); nothing was run\ninventory.yaml:"),
        "{err}"
    );
    assert!(err.contains("^"), "{err}");
}

#[test]
fn every_semantic_error_at_once() {
    let text = "\
cluster:
  slug: Acme_Prod
  tier: pro
nodes:
  - name: m4-01
    host: 10.0.0.1
    roles: [router, lodaer]
  - name: m4-01
    host: 10.0.0.1
    memory_gb: 0
  - name: m4-03
models:
  - name: llama
    source: mlx-community/x
    context: 100
    max_tokens: 200
placement:
  lama:
    nodes: [m4-01, m4-02]
router:
  listen: everywhere
";
    let (code, err) = check(text);
    assert_eq!(code, 2);
    insta::assert_snapshot!(err);
}

#[test]
fn nothing_runs_against_nodes_when_the_inventory_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("touched");
    std::fs::write(dir.path().join("inventory.yaml"), "cluster: {slug: x, tier: pro}\nnodes:\n  - {name: here, transport: local}\n  - {name: here, transport: local}\n").unwrap();
    let r = Garnet::new()
        .cwd(dir.path())
        .env("GARNET_STATE_DIR", dir.path().join("state").display().to_string())
        .args(["--yes", "exec", "--", "touch", &marker.display().to_string()])
        .run();
    r.expect(2);
    assert!(r.stderr.contains("duplicate node name `here`"), "{}", r.stderr);
    assert!(!marker.exists());
    assert!(!dir.path().join("state").exists());
}

#[test]
fn missing_inventory_file() {
    let dir = tempfile::tempdir().unwrap();
    let r = Garnet::new().cwd(dir.path()).args(["inventory", "check"]).run();
    r.expect(2);
    insta::assert_snapshot!(r.stderr, @r"
    error: cannot read inventory `inventory.yaml`: No such file or directory (os error 2)
      help: pass `-i FILE`, set `GARNET_INVENTORY`, or start from `inventory.example.yaml`
    ");
}

#[test]
fn json_mode_reports_diagnostics_as_an_event() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("inventory.yaml"),
        "cluster: {slug: x, tier: pro}\nnodes:\n  - {name: a, host: h, rols: [loader]}\n",
    )
    .unwrap();
    let r = Garnet::new().cwd(dir.path()).args(["-o", "json", "inventory", "check"]).run();
    r.expect(2);
    let ev = r.events();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["event"], "error");
    assert_eq!(ev[0]["exit_code"], 2);
    let d = &ev[0]["diagnostics"][0];
    assert_eq!((d["line"].as_u64(), d["column"].as_u64()), (Some(3), Some(24)), "{d}");
    assert_eq!(d["path"], "nodes[0].rols");
    assert_eq!(d["hint"], "did you mean `roles`?");
}

#[test]
fn two_models_on_one_node_cannot_share_a_port() {
    let text = "\
cluster: {slug: x, tier: pro}
nodes:
  - {name: a, host: h1}
models:
  - {name: m1, source: s1, port: 8001}
  - {name: m2, source: s2, port: 8001}
placement:
  m1: {nodes: [a]}
  m2: {nodes: [a]}
";
    let (code, err) = check(text);
    assert_eq!(code, 2);
    assert!(err.contains("inventory.yaml:6:"), "{err}");
    assert!(err.contains("placement.m2: models `m1` and `m2` would both use port 8001 on node `a`"), "{err}");
    assert!(err.contains("help: give one of them another `port`"), "{err}");
    // Defaults (8001 + index) never collide.
    let (code, err) = check(&text.replace(", port: 8001", ""));
    assert_eq!(code, 0, "{err}");
}
