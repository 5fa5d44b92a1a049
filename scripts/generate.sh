#!/usr/bin/env bash
# Regenerates the committed files that come from the code: shell completions, the man page and
# the runbooks (rendered from the procedures' step lists).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet
bin="${CARGO_TARGET_DIR:-target}/debug/garnet"
"$bin" completions bash > completions/garnet.bash
"$bin" completions zsh > completions/_garnet
"$bin" completions fish > completions/garnet.fish
"$bin" man > completions/garnet.1
for name in deploy hot-swap rollback offboard; do
  "$bin" runbook --generic "$name" > "runbooks/$name.md"
done
echo "regenerated completions/ and runbooks/"
