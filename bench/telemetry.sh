#!/usr/bin/env bash
# A rack's month of telemetry: compaction, then one month aggregate by garnet and by DuckDB on the
# same Parquet, in one run.
#
# usage: bench/telemetry.sh [NODES=100] [DAYS=30] [ROUNDS=5]
#
# 1. One day of per-minute JSON samples (NODES nodes, 2 models each, the first node's samples
#    carrying every backend, as the router's node does), written by `garnet telemetry synth
#    --format json` where the monitors ship them, compacted by `garnet telemetry compact`: time,
#    JSON bytes vs Parquet bytes.
# 2. DAYS days written straight into compacted files by the same writer (`synth --format parquet`).
# 3. ROUNDS rounds, alternating who goes first: `garnet telemetry summary` over the month (whole
#    process, wall clock and peak RSS from /usr/bin/time) vs bench/telemetry_month.py on DuckDB
#    (the queries alone, timed inside Python after import: DuckDB's own start-up is not counted).
#    Their numbers are compared (tokens and requests per model equal, p95 per model, uptime and
#    throttled samples per node) and the medians and the ratio printed.
# Needs python3 (a venv with duckdb is made in bench/.venv). Local files only.
# GARNET_BIN and BENCH_PYTHON (a python with duckdb) skip the build and the venv: CI runs
# `bench/telemetry.sh 4 2 1` that way, with the debug build, so the script cannot rot.
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${1:-100} DAYS=${2:-30} ROUNDS=${3:-5}
target=${CARGO_TARGET_DIR:-target}
if [ -n "${GARNET_BIN:-}" ]; then G=$GARNET_BIN; else cargo build --release -q; G=$target/release/garnet; fi
if [ -n "${BENCH_PYTHON:-}" ]; then PY=$BENCH_PYTHON; else
  [ -x bench/.venv/bin/python ] || python3 -m venv bench/.venv
  bench/.venv/bin/python -c 'import duckdb' 2>/dev/null || bench/.venv/bin/pip -q install "$(grep -E '^duckdb==' tests/support/requirements.txt)"
  PY=bench/.venv/bin/python
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=2026-11-01
until=$(date -u -d "$start + $((DAYS - 1)) days" +%F)

inventory() { # $1 = store folder
  { echo "cluster: {slug: synthetic, tier: pro}"
    echo "store: {kind: local, path: $1}"
    echo "nodes:"
    for i in $(seq 1 "$NODES"); do printf '  - {name: node-%03d, transport: local}\n' "$i"; done
  } > "$work/inventory-$(basename "$1").yaml"
  echo "$work/inventory-$(basename "$1").yaml"
}

echo "== 1. one day through the monitors' layout, then compacted ($NODES nodes)"
inv_json=$(inventory "$work/json")
"$G" -q telemetry synth --store "$work/json" --nodes "$NODES" --days 1 --start "$start" --format json
json_bytes=$(du -sb "$work/json/telemetry" | cut -f1)
json_files=$(find "$work/json/telemetry" -type f | wc -l)
/usr/bin/time -f "%e %M" -o "$work/compact.time" "$G" -i "$inv_json" -o json telemetry compact --date "$start" > "$work/compact.json"
read -r csecs ckb < "$work/compact.time"
pq_bytes=$(du -sb "$work/json/telemetry-parquet" | cut -f1)
echo "   $json_files JSON objects, $((json_bytes / 1048576)) MiB → Parquet $((pq_bytes / 1048576)) MiB ($(awk "BEGIN{printf \"%.0f\", $json_bytes/$pq_bytes}")x smaller) in ${csecs} s, peak $((ckb / 1024)) MiB"
echo "   a month of compaction at this rate: $(awk "BEGIN{printf \"%.0f\", $csecs*30}") s (the designated monitor does one day an hour, in the background)"
rm -rf "$work/json"

echo "== 2. $DAYS days written as compacted files"
inv=$(inventory "$work/store")
/usr/bin/time -f "%e" -o "$work/synth.time" "$G" -q telemetry synth --store "$work/store" --nodes "$NODES" --days "$DAYS" --start "$start"
month_bytes=$(du -sb "$work/store/telemetry-parquet" | cut -f1)
echo "   $((month_bytes / 1048576)) MiB of Parquet for the month (written in $(cat "$work/synth.time") s)"

compare() { # $1 = label, $2 = garnet's --latency, $3 = telemetry_month.py's --sketches
  local g_secs=() d_secs=() g_mem=() d_mem=() r s kb
  echo "== 3$1. the month aggregate (sketches: $3), garnet vs DuckDB, $ROUNDS rounds"
  for r in $(seq 1 "$ROUNDS"); do
    for who in $( (( r % 2 )) && echo "garnet duckdb" || echo "duckdb garnet"); do
      if [ "$who" = garnet ]; then
        /usr/bin/time -f "%e %M" -o "$work/g.time" "$G" -i "$inv" -o json telemetry summary \
          --since "$start" --until "$until" --latency "$2" > "$work/garnet.json"
        read -r s kb < "$work/g.time"; g_secs+=("$s"); g_mem+=("$((kb / 1024))")
      else
        "$PY" bench/telemetry_month.py --store "$work/store" --cluster synthetic --since "$start" \
          --until "$until" --sketches "$3" > "$work/duckdb.json"
        read -r s kb < <("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(round(d["secs"], 3), d["peak_rss_mb"])' "$work/duckdb.json")
        d_secs+=("$s"); d_mem+=("$kb")
      fi
    done
    echo "   round $r: garnet ${g_secs[-1]} s (${g_mem[-1]} MiB), DuckDB ${d_secs[-1]} s (${d_mem[-1]} MiB)"
  done
  "$PY" bench/telemetry_compare.py "$work/garnet.json" "$work/duckdb.json" "${g_secs[*]}" "${d_secs[*]}" \
    "${g_mem[*]}" "${d_mem[*]}" "$3"
}
compare a e2e e2e
compare b e2e,ttft,queue-wait e2e,ttft,queue_wait
