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
