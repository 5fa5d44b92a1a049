#!/usr/bin/env bash
# The router soak, long form: two real mlx_lm.server loaders under `garnet supervise --restart`,
# mixed streaming and whole requests from four clients with their own clocks, slowloris heads,
# connection floods and bad bodies beside them, and a loader SIGKILLed every KILL seconds.
# Prints the figures (requests, losses, cut streams, the router's peak descriptors and RSS).
# CI runs the same test for 40 s.
#
#   bench/soak.sh [SECS=1800] [KILL=180]
#
# Needs what the tests need (`.ci/run` installs it): a venv with mlx-lm in GARNET_TEST_PYTHON.
set -euo pipefail
cd "$(dirname "$0")/.."
export GARNET_SOAK_SECS="${1:-1800}" GARNET_SOAK_KILL_SECS="${2:-180}"
export GARNET_TEST_PYTHON="${GARNET_TEST_PYTHON:-/var/cache/garnet-ci/venv/bin/python}"
cargo test --locked --test integration -- --exact soak::soak_mixed_load_hostile_traffic_and_killed_loaders --nocapture 2>&1 \
  | grep -E '^soak:|test result|panicked|lost'
