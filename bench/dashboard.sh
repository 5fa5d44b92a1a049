#!/usr/bin/env bash
# The dashboard at rack scale: a synthetic month of NODES nodes (4 models, 2 per node, one sample a
# minute) compacted to Parquet by garnet's own writer, ending yesterday (inside the page's 30-day
# curve), then `garnet dashboard` started ROUNDS times. Per round: the first read (every hour of the
# month: the curve per hour and per day, the status snapshot, events, audit, artifacts) timed by
# garnet (`refresh_ms` in state.json) and the whole start (process to listening); then REQUESTS
# requests each of the page, the live fragment and state.json, timed by curl's own clock.
#
# The peer: DuckDB computing just the curve's raw sums (tokens and energy per hour over the same
# Parquet; no status, no allocation, no rendering) in the same run. The page itself is rendered
# once per refresh, so a request is a copy: the goal is < 200 ms a page on 2 cores.
#
# usage: bench/dashboard.sh [NODES=100] [ROUNDS=3] [REQUESTS=50]
# Loopback only. GARNET_BIN skips the release build; BENCH_PYTHON is a python with duckdb
# (CI runs `bench/dashboard.sh 4 1 5` on the debug build so the script cannot rot).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
NODES=${1:-100} ROUNDS=${2:-3} REQUESTS=${3:-50}
G=$(garnet_bin)
PY=${BENCH_PYTHON:-${GARNET_TEST_PYTHON:-python3}}
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

start=$(date -u -d "30 days ago" +%Y-%m-%d)
"$G" telemetry synth --store "$work/store" --cluster rack --nodes "$NODES" --days 30 --start "$start" \
  --write-inventory "$work/inventory.yaml" > /dev/null
echo "== $NODES nodes, 30 days from $start: $(du -sb "$work/store/telemetry-parquet" | cut -f1 | awk '{printf "%.0f", $1/1048576}') MiB of Parquet"

median() { tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
p95() { tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END {i=int(NR*0.95+0.999); if (i<1) i=1; print a[i]}'; }
first=() startup=() duck=() page=() frag=() state=() page95=() kb=()
for r in $(seq 1 "$ROUNDS"); do
  t0=$(date +%s.%N)
  "$G" -i "$work/inventory.yaml" dashboard --listen 127.0.0.1:0 --refresh 1h 2> "$work/log" &
  pid=$!
  url=
  for _ in $(seq 1 1200); do
    url=$(grep -o 'http://[^ ]*' "$work/log" | head -1 || true)
    [ -n "$url" ] && break
    sleep 0.05
  done
  [ -n "$url" ] || { cat "$work/log"; exit 1; }
  t1=$(date +%s.%N)
  s=$(curl -sf "$url/state.json" | "$PY" -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["refresh_ms"])')
  times() { for _ in $(seq 1 "$REQUESTS"); do curl -s -o /dev/null -w '%{time_total} ' "$1"; done; }
  pt=$(times "$url") ft=$(times "$url/fragment") st=$(times "$url/state.json")
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  d=$("$PY" - "$work/store/telemetry-parquet" <<'PY'
import duckdb, sys, time
root = sys.argv[1]
t = time.perf_counter()
con = duckdb.connect()
con.execute(f"""SELECT epoch(time_bucket(INTERVAL 1 HOUR, "at" - INTERVAL 1 MICROSECOND)), sum(prompt_tokens + completion_tokens), sum(busy_secs) FROM read_parquet('{root}/**/backends.parquet') GROUP BY 1""").fetchall()
con.execute(f"""SELECT epoch(time_bucket(INTERVAL 1 HOUR, "at" - INTERVAL 1 MICROSECOND)), node, count(*), sum(energy_joules) FROM read_parquet('{root}/**/samples.parquet') GROUP BY 1, 2""").fetchall()
print("%.0f" % ((time.perf_counter() - t) * 1000))
PY
)
  ms() { echo "$1" | awk '{for (i=1;i<=NF;i++) printf "%.2f ", $i*1000}'; }
  pms=$(ms "$pt") fms=$(ms "$ft") sms=$(ms "$st")
  first+=("$s") startup+=("$(awk "BEGIN {print $t1 - $t0}")") duck+=("$d") kb+=("$rss")
  page+=("$(echo "$pms" | median)") page95+=("$(echo "$pms" | p95)") frag+=("$(echo "$fms" | median)") state+=("$(echo "$sms" | median)")
  echo "   round $r: first read ${s} ms (DuckDB's hourly sums alone ${d} ms), start to listening $(printf %.2f "${startup[-1]}") s; page median ${page[-1]} ms (p95 ${page95[-1]}), fragment ${frag[-1]} ms, state.json ${state[-1]} ms; peak $((rss / 1024)) MiB"
done
f=$(echo "${first[*]}" | median) dk=$(echo "${duck[*]}" | median)
echo "== medians of $ROUNDS: first read $f ms vs DuckDB's hourly sums $dk ms ($(awk "BEGIN {printf \"%.2f\", $f / $dk}")x), start $(echo "${startup[*]}" | median) s; page $(echo "${page[*]}" | median) ms (p95 $(echo "${page95[*]}" | median) ms; goal < 200 ms), fragment $(echo "${frag[*]}" | median) ms, state.json $(echo "${state[*]}" | median) ms; peak $(( $(echo "${kb[*]}" | median | cut -d. -f1) / 1024 )) MiB"
