//! `garnet keys provision|revoke` on real sshd nodes: the new key logs in after provisioning, no
//! longer after revoking; every other key keeps working.

use crate::common::{Cluster, sshd_available};

fn outcomes(r: &crate::common::Run) -> std::collections::BTreeMap<String, String> {
    r.outcomes()
}

#[test]
fn provision_then_revoke_exactly_that_key() {
    if !sshd_available() {
        return;
    }
    let c = Cluster::start(2);
    let inv = c.inventory("keys", |i| ["openssh", "russh"][i], "");
    let key = c.path().join("operator").join("key");
    // Another key already authorized on node1 must survive everything below.
    let other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherOtherOtherOtherOtherOtherOtherOther0 someone@else";
    let home = format!("/home/{}", c.nodes[0].user);
    std::fs::create_dir_all(format!("{home}/.ssh")).unwrap();
    std::fs::write(format!("{home}/.ssh/authorized_keys"), format!("{other}\n")).unwrap();
    let _ = std::fs::remove_file(format!("/home/{}/.ssh/authorized_keys", c.nodes[1].user));
    std::process::Command::new("chown")
        .args(["-R", &format!("{0}:{0}", c.nodes[0].user), &format!("{home}/.ssh")])
        .status()
        .unwrap();

    let provision =
        c.garnet(&inv).args(["-o", "json", "--yes", "keys", "provision", "--key", &key.display().to_string()]).run();
    provision.expect(0);
    assert!(outcomes(&provision).values().all(|o| o == "changed"), "{}", provision.stdout);
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions()) & 0o777;
    assert_eq!(mode, 0o600);
    let private = std::fs::read_to_string(&key).unwrap();
    assert!(!provision.stdout.contains(private.lines().nth(1).unwrap()), "the private key leaked");
    // Idempotent: a second run changes nothing.
    let again =
        c.garnet(&inv).args(["-o", "json", "--yes", "keys", "provision", "--key", &key.display().to_string()]).run();
    again.expect(0);
    assert!(outcomes(&again).values().all(|o| o == "ok"), "{}", again.stdout);
    let text = std::fs::read_to_string(format!("{home}/.ssh/authorized_keys")).unwrap();
    assert_eq!(text.matches("garnet-operator@keys").count(), 1, "{text}");

    // The new key logs in on its own (an inventory that knows only it).
    let with_new = c.path().join("with-new-key.yaml");
    let text = std::fs::read_to_string(&inv)
        .unwrap()
        .replace(&format!("{}/id_ed25519", c.path().display()), &key.display().to_string());
    std::fs::write(&with_new, text).unwrap();
    c.garnet(&with_new).args(["--yes", "exec", "--", "true"]).run().expect(0);

    let revoke =
        c.garnet(&inv).args(["-o", "json", "--yes", "keys", "revoke", "--key", &key.display().to_string()]).run();
    revoke.expect(0);
    assert!(outcomes(&revoke).values().all(|o| o == "changed"), "{}", revoke.stdout);
    let r = c.garnet(&with_new).args(["-o", "json", "--yes", "exec", "--", "true"]).run();
    r.expect(1);
    assert!(outcomes(&r).values().all(|o| o == "unreachable"), "{}", r.stdout);
    assert!(r.stdout.contains("Permission denied"), "{}", r.stdout);
    // Everyone else still gets in, and the other line is untouched.
    c.garnet(&inv).args(["--yes", "exec", "--", "true"]).run().expect(0);
    let text = std::fs::read_to_string(format!("{home}/.ssh/authorized_keys")).unwrap();
    assert_eq!(text, format!("{other}\n"));
    // Revoking again is a no-op.
    let r = c.garnet(&inv).args(["-o", "json", "--yes", "keys", "revoke", "--key", &key.display().to_string()]).run();
    r.expect(0);
    assert!(outcomes(&r).values().all(|o| o == "ok"), "{}", r.stdout);
}
