# Sourced by the bench scripts (from the repository root).
#
# garnet_bin: the garnet to measure. GARNET_BIN names one (CI's smoke runs use the debug build it
# already has); else a release build, wherever cargo puts it (CARGO_TARGET_DIR or ./target).
garnet_bin() {
  if [ -n "${GARNET_BIN:-}" ]; then
    echo "$GARNET_BIN"
    return
  fi
  cargo build --release --quiet --bin garnet >&2
  echo "${CARGO_TARGET_DIR:-$PWD/target}/release/garnet"
}

# example_bin NAME: an example binary, built beside garnet (debug when GARNET_BIN is given;
# EXAMPLE_DIR names a folder holding it already built, e.g. a release build's `examples/`).
example_bin() {
  if [ -n "${EXAMPLE_DIR:-}" ]; then
    echo "$EXAMPLE_DIR/$1"
    return
  fi
  local dir=${CARGO_TARGET_DIR:-$PWD/target}
  if [ -n "${GARNET_BIN:-}" ]; then
    cargo build --quiet --example "$1" >&2
    echo "$dir/debug/examples/$1"
  else
    cargo build --release --quiet --example "$1" >&2
    echo "$dir/release/examples/$1"
  fi
}
