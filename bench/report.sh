#!/usr/bin/env bash
# The monthly report at rack scale: a synthetic month of NODES nodes (4 models, 2 per node, one
# per-minute sample per node, the story's hot node, a node joining mid-month, an outage) written
# as compacted Parquet by garnet's own writer, then `garnet report --month 2026-11` ROUNDS times:
# the aggregation (the month read with latencies and demand, the planner's verdict with its
# replay, events, audit, cost) and the rendering (typst → PDF) timed inside garnet, the whole
# process and its peak memory by /usr/bin/time.
#
# usage: bench/report.sh [NODES=100] [ROUNDS=3]
#
# No other tool renders an inference cluster's monthly report, so there is no peer to run beside
# it; the goals are the issue's: aggregation < 5 s and the PDF < 10 s on 2 cores. Local files
# only. GARNET_BIN skips the release build (CI runs `bench/report.sh 8 1` on the debug build so
# the script cannot rot).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
NODES=${1:-100} ROUNDS=${2:-3}
G=$(garnet_bin)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$G" telemetry synth --store "$work/store" --cluster month --nodes "$NODES" --days 30 --start 2026-11-01 \
  --write-inventory "$work/inventory.yaml" > /dev/null
echo "== a month of $NODES nodes: $(du -sb "$work/store/telemetry-parquet" | cut -f1 | awk '{printf "%.0f", $1/1048576}') MiB of Parquet"

median() { tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
agg=() ren=() wall=() mb=()
for r in $(seq 1 "$ROUNDS"); do
  /usr/bin/time -f "%e %M" -o "$work/time" "$G" -i "$work/inventory.yaml" -o json report --month 2026-11 \
    --out "$work/out" > "$work/report.out"
  read -r s kb < <(tail -1 "$work/time")
  read -r a p < <(python3 -c 'import json,sys; j=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); print("%.3f %.3f" % (j["aggregate_secs"], j["render_secs"]))' "$work/report.out")
  agg+=("$a") ren+=("$p") wall+=("$s") mb+=("$((kb / 1024))")
  echo "   round $r: aggregate $a s, render $p s, whole run $s s (peak ${mb[-1]} MiB)"
done
pages=$(python3 - "$work/out/report.pdf" <<'PY'
import re, sys
print(len(re.findall(rb"/Type\s*/Page[^s]", open(sys.argv[1], "rb").read())))
PY
)
echo "   report.pdf: $(stat -c %s "$work/out/report.pdf") bytes, $pages pages; report.json: $(stat -c %s "$work/out/report.json") bytes"
echo "== medians of $ROUNDS: aggregate $(echo "${agg[*]}" | median) s (goal < 5 s), render $(echo "${ren[*]}" | median) s, month → PDF $(echo "${wall[*]}" | median) s (goal < 10 s), peak $(echo "${mb[*]}" | median) MiB"
