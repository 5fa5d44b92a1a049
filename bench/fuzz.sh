#!/usr/bin/env bash
# Fuzzes the router's parsers with libFuzzer (coverage-guided), each target for SECS seconds
# (default 300), starting from the checked-in corpus in fuzz/corpus/<target>. New inputs that
# reach new code go to a scratch corpus (not committed); crashes land in fuzz/artifacts/.
# CI runs the same targets on the corpus and 20,000 mutations each (`cargo test fuzz`).
#
#   bench/fuzz.sh [SECS] [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain it is run with
# RUSTC_BOOTSTRAP=1 for the sanitizer flags.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-300}"; shift || true
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(http_head body_decoder json_request json_answer)
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2; exit 2; }
scratch="$(mktemp -d)"; trap 'rm -rf "$scratch"' EXIT
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t"
  echo "== $t: ${secs}s"
  RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz "$t" "$scratch/$t" fuzz/corpus/$t -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 \
    | grep -E '^(#[0-9]+ +DONE|Done|stat::number_of_executed_units|stat::new_units_added|==|SUMMARY)' || true
  if compgen -G "fuzz/artifacts/$t/*" >/dev/null; then
    echo "$t: crashes in fuzz/artifacts/$t" >&2; exit 1
  fi
done
echo "fuzz: no crash, no hang"
