//! `garnet init`: starter inventory and envelope, idempotent, refusing someone else's.

use crate::common::Garnet;

#[test]
fn init_writes_a_valid_inventory_and_an_envelope_once() {
    let dir = tempfile::tempdir().unwrap();
    let g = || Garnet::new().cwd(dir.path());
    let r = g().args(["init", "acme-prod", "--tier", "scale", "--contact", "ops@acme.example"]).run();
    r.expect(0);
    assert!(r.stdout.contains("inventory `inventory.yaml` written"), "{}", r.stdout);
    g().args(["inventory", "check"]).run().expect(0);
    let env_path = dir.path().join("garnet-store/cluster/acme-prod.json");
    let env: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&env_path).unwrap()).unwrap();
    assert_eq!(env["slug"], "acme-prod");
    assert_eq!(env["tier"], "scale");
    assert_eq!(env["schema_version"], 1);
    assert_eq!(env["contacts"], serde_json::json!(["ops@acme.example"]));

    // Again: nothing changes.
    let before = std::fs::read_to_string(&env_path).unwrap();
    let r = g().args(["-o", "json", "init", "acme-prod", "--tier", "scale"]).run();
    r.expect(0);
    let ev = &r.events()[0];
    assert_eq!(
        (ev["inventory_written"].as_bool(), ev["envelope_created"].as_bool()),
        (Some(false), Some(false)),
        "{ev}"
    );
    assert_eq!(std::fs::read_to_string(&env_path).unwrap(), before);

    // Another tier for the same cluster, or another cluster in this inventory: refused, unchanged.
    let r = g().args(["init", "acme-prod", "--tier", "pro"]).run();
    r.expect(2);
    assert!(r.stderr.contains("refusing to change it to `pro`"), "{}", r.stderr);
    let r = g().args(["init", "other", "--tier", "pro"]).run();
    r.expect(2);
    assert!(r.stderr.contains("already describes cluster `acme-prod`"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&env_path).unwrap(), before);
    // A bad slug is refused before anything is written.
    let fresh = tempfile::tempdir().unwrap();
    let r = Garnet::new().cwd(fresh.path()).args(["init", "Bad_Slug", "--tier", "pro"]).run();
    r.expect(2);
    assert!(r.stderr.contains("invalid slug `Bad_Slug`"), "{}", r.stderr);
    assert!(std::fs::read_dir(fresh.path()).unwrap().next().is_none());
}
