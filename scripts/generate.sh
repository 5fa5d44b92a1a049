#!/usr/bin/env bash
# Regenerates the committed files that come from the code: shell completions and the man page.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet
bin=target/debug/garnet
"$bin" completions bash > completions/garnet.bash
"$bin" completions zsh > completions/_garnet
"$bin" completions fish > completions/garnet.fish
"$bin" man > completions/garnet.1
echo "regenerated completions/"
