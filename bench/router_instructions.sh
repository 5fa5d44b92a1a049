#!/usr/bin/env bash
# Benchmark: user-space instructions per request, the garnet router against nginx, each under
# callgrind (valgrind), proxying to the fast canned backend. Instruction counts do not move with
# the other processes on a shared machine the way rates and CPU time do; they leave out the kernel
# (both proxies make about 2 reads and 2 writes per request). One wrk client, 8 connections.
#
#   bench/router_instructions.sh [SECONDS=8]
#
# Needs valgrind, wrk and nginx-light (Debian). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null || apt-get install -y -qq valgrind >/dev/null
command -v wrk >/dev/null && command -v nginx >/dev/null || apt-get install -y -qq wrk nginx-light >/dev/null
. bench/lib.sh
garnet=$(garnet_bin)
canned=$(example_bin canned_backend)
work=$(mktemp -d /tmp/gri.XXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT
"$canned" 127.0.0.1:19100 2>/dev/null & pids+=($!)
cat > "$work/routes.yaml" <<Y
models:
  - name: canned
    queue: 4096
    backends:
      - {id: canned, url: "http://127.0.0.1:19100", model: canned, max_concurrency: 4096}
Y
nginx_proxy_conf "$work" 19102 19100 single
wrk_post_lua "$work/post.lua"

declare -A per
# measure NAME PORT COMMAND...: instructions counted only while the timed wrk run is on.
measure() {
  local name=$1 port=$2 p n ir f; shift 2
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/cg.$name.%p" "$@" 2> "$work/$name.vg" &
  p=$!; pids+=("$p")
  wait_port "$port"
  curl -sf -m 30 "http://127.0.0.1:$port/v1/chat/completions" -H 'content-type: application/json' \
    -d '{"model":"canned","messages":[{"role":"user","content":"hi"}],"max_tokens":8}' | grep -q '"choices"' \
    || { echo "$name does not answer"; exit 1; }
  callgrind_control -i on "$p" > /dev/null 2>&1
  n=$(wrk -t1 -c8 -d"${secs}s" -s "$work/post.lua" "http://127.0.0.1:$port/v1/chat/completions" | awk '/requests in/{print $1}')
  callgrind_control -i off "$p" > /dev/null 2>&1
  callgrind_control -d "$p" > /dev/null 2>&1
  kill "$p"; wait "$p" 2>/dev/null || true
  ir=0
  for f in "$work"/cg."$name".*; do ir=$((ir + $(awk '/^totals:/{s+=$2} END{print s+0}' "$f"))); done
  [ "$n" -gt 0 ] || { echo "$name served no request"; exit 1; }
  per[$name]=$((ir / n))
  printf '%-8s %8d requests  %14d instructions  %8d per request\n' "$name" "$n" "$ir" "${per[$name]}"
}
measure garnet 19101 "$garnet" router --routes "$work/routes.yaml" --listen 127.0.0.1:19101 --admin-listen 127.0.0.1:19111
measure nginx 19102 nginx -c "$work/nginx.conf" -p "$work/nginx"
python3 -c "import sys; g, n = map(int, sys.argv[1:]); print(f'garnet / nginx instructions per request: {g / n:.2f}x')" "${per[garnet]}" "${per[nginx]}"
