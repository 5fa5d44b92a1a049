#!/usr/bin/env bash
# Benchmark: the monitor's footprint, side by side with Debian's prometheus-node-exporter, both at
# 1-second sampling to magnify it (the monitor samples every second; node-exporter is scraped
# every second), for SECONDS (default 600), in one run on this machine:
#   - garnet monitor shipping to a local-folder store (the default store),
#   - garnet monitor shipping to an S3-compatible bucket (moto on loopback; needs a venv with
#     moto, e.g. GARNET_TEST_PYTHON), when available,
#   - prometheus-node-exporter (default collectors) scraped by curl.
# Reports CPU time (utime+stime from /proc) and peak RSS (VmHWM) per process, CPU per sample, and
# the extrapolation to 60-second sampling (CPU per sample / 60 + the idle cost measured between
# samples is not separated: the 1 s figure is an upper bound).
#
#   bench/monitor-footprint.sh [SECONDS=600]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
work=$(mktemp -d /tmp/gmf.XXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT

command -v prometheus-node-exporter >/dev/null || apt-get install -y -qq --no-install-recommends prometheus-node-exporter >/dev/null
. bench/lib.sh
garnet=$(garnet_bin)
tick=$(getconf CLK_TCK)

cpu_secs() { awk -v t="$tick" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
hwm_mb() { awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

node_config() { # name store-json
  cat > "$work/$1.json" <<J
{"cluster": "bench", "node": "$1", "interval_secs": 1, "health_listen": "127.0.0.1:$(free_port)",
 "spool_dir": "$work/$1-spool", "spool_max": 100000, "store": $2}
J
}

names=()
node_config local "{\"kind\": \"local\", \"path\": \"$work/store\", \"endpoint\": null, \"bucket\": null, \"prefix\": null, \"region\": null, \"credentials_file\": null, \"path_style\": false}"
"$garnet" monitor --config "$work/local.json" 2>"$work/local.log" & pids+=($!); names+=("garnet monitor (local store):$!")

py=${GARNET_TEST_PYTHON:-}
if [ -n "$py" ] && "$py" -c 'import moto, boto3' 2>/dev/null; then
  s3port=$(free_port)
  "$py" -m moto.server -H 127.0.0.1 -p "$s3port" >/dev/null 2>&1 & pids+=($!)
  for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$s3port) 2>/dev/null && break; sleep 0.1; done
  "$py" -c "import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:$s3port', aws_access_key_id='k', aws_secret_access_key='s', region_name='us-east-1').create_bucket(Bucket='garnet-footprint')"
  printf '[default]\naws_access_key_id = k\naws_secret_access_key = s\n' > "$work/creds"; chmod 600 "$work/creds"
  node_config s3 "{\"kind\": \"s3\", \"path\": \"\", \"endpoint\": \"http://127.0.0.1:$s3port\", \"bucket\": \"garnet-footprint\", \"prefix\": null, \"region\": \"us-east-1\", \"credentials_file\": \"$work/creds\", \"path_style\": true}"
  "$garnet" monitor --config "$work/s3.json" 2>"$work/s3.log" & pids+=($!); names+=("garnet monitor (S3 store):$!")
fi

nport=$(free_port)
prometheus-node-exporter --web.listen-address="127.0.0.1:$nport" >/dev/null 2>&1 & pids+=($!); ne=$!
names+=("prometheus-node-exporter:$ne")
( end=$((SECONDS + secs)); while [ $SECONDS -lt $end ]; do curl -s -o /dev/null "http://127.0.0.1:$nport/metrics"; sleep 1; done ) &
scraper=$!; pids+=($scraper)

echo "sampling every second for ${secs}s…" >&2
sleep "$secs"
printf '%-32s %10s %12s %14s %12s\n' process "cpu s" "% of a core" "ms per sample" "peak RSS MB"
for entry in "${names[@]}"; do
  name=${entry%%:*}; pid=${entry##*:}
  cpu=$(cpu_secs "$pid"); rss=$(hwm_mb "$pid")
  awk -v n="$name" -v c="$cpu" -v s="$secs" -v r="$rss" 'BEGIN {
    printf "%-32s %10.2f %12.3f %14.2f %12s\n", n, c, 100 * c / s, 1000 * c / s, r }'
done
echo "at 60-second sampling the per-sample cost is spread over 60 s: % of a core ≈ (ms per sample) / 600" >&2
