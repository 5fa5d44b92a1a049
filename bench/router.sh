#!/usr/bin/env bash
# Benchmark: the router's proxy overhead against a fast canned OpenAI-compatible backend (so the
# proxy, not a model, is the bottleneck), in one run, medians of several wrk rounds:
#   direct to the backend (the limit), garnet router, nginx reverse proxy (upstream keepalive,
#   worker_processes = garnet's threads), LiteLLM proxy (PyPI).
# Beside the rates, each proxy's CPU time per request (user + system of its processes, from /proc):
# what the work cost, which the other processes on the shared 2 cores move less than the rates.
# Then the real tiny-model loader, direct vs through the router, with `garnet bench`.
#
#   bench/router.sh [SECONDS=10] [ROUNDS=3] [CONNECTIONS=64]     (ONLY=loader: just the loader part)
#
# Needs wrk and nginx-light (Debian), a venv with litellm[proxy] (made in bench/.venv-litellm), and
# optionally GARNET_TEST_PYTHON (a venv with mlx-lm) for the loader part. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}; rounds=${2:-3}; conns=${3:-64}
work=$(mktemp -d /tmp/grb.XXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.3; rm -rf "$work"; }
trap cleanup EXIT

command -v wrk >/dev/null && command -v nginx >/dev/null || { apt-get install -y -qq wrk nginx-light >/dev/null; }
# SKIP_LITELLM=1 (CI's smoke run): without the LiteLLM peer (a large PyPI install).
if [ -z "${SKIP_LITELLM:-}" ]; then
  [ -x bench/.venv-litellm/bin/litellm ] || { python3 -m venv bench/.venv-litellm && bench/.venv-litellm/bin/pip -q install 'litellm[proxy]'; }
fi
. bench/lib.sh
garnet=$(garnet_bin)
canned=$(example_bin canned_backend)


if [ "${ONLY:-}" != loader ]; then
"$canned" 127.0.0.1:19000 2>/dev/null & pids+=($!); canned_pid=$!
cat > "$work/routes.yaml" <<Y
models:
  - name: canned
    queue: 4096
    backends:
      - {id: canned, url: "http://127.0.0.1:19000", model: canned, max_concurrency: 4096}
Y
"$garnet" router --routes "$work/routes.yaml" --listen 127.0.0.1:19001 --admin-listen 127.0.0.1:19011 2>/dev/null & pids+=($!); garnet_pid=$!
nginx_proxy_conf "$work" 19002 19000 2
nginx -c "$work/nginx.conf" -p "$work/nginx" & pids+=($!); nginx_pid=$!
for p in 19000 19001 19002; do wait_port $p; done
sleep 1

wrk_post_lua "$work/post.lua"
# Check each path answers a real completion before timing it.
for p in 19000 19001 19002; do
  curl -sf -m 20 "http://127.0.0.1:$p/v1/chat/completions" -H 'content-type: application/json' -H 'authorization: Bearer sk-0123456789abcdef0123456789abcdef' \
    -d '{"model":"canned","messages":[{"role":"user","content":"hi"}],"max_tokens":8}' | grep -q '"choices"' || { echo "port $p does not answer"; tail -20 "$work/litellm.log"; exit 1; }
done

declare -A rps p50 p99 cpu
# CPU time (user + system, clock ticks) of a process and its children: what serving the round cost
# the proxy itself, whatever else the shared machine did meanwhile.
ticks() { local p t=0; for p in "$1" $(pgrep -P "$1"); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
declare -A serving=([direct]=canned_pid [garnet]=garnet_pid [nginx]=nginx_pid)
measure() {  # name port connections
  local out pid="" t0=0 t1
  [ -n "${serving[$1]:-}" ] && pid=${!serving[$1]}
  [ -n "$pid" ] && t0=$(ticks "$pid")
  out=$(wrk -t2 -c"$3" -d"${secs}s" --latency -s "$work/post.lua" "http://127.0.0.1:$2/v1/chat/completions")
  if [ -n "$pid" ]; then
    t1=$(ticks "$pid")
    # microseconds of CPU per request (ticks are 1/CLK_TCK s)
    cpu[$1]+="$(echo "$out" | awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '/requests in/{printf "%.1f", d / hz * 1e6 / $1}') "
  fi
  rps[$1]+="$(echo "$out" | awk '/Requests\/sec/{print $2}') "
  p50[$1]+="$(echo "$out" | awk '$1=="50%"{print $2}') "
  p99[$1]+="$(echo "$out" | awk '$1=="99%"{print $2}') "
  local errs; errs=$(echo "$out" | awk '/Non-2xx|Socket errors/{print}')
  [ -z "$errs" ] || echo "  $1: $errs"
}
# Warm-up, then rounds alternating the order, so a drift of the shared machine hits both proxies.
for p in 19000 19001 19002; do wrk -t2 -c"$conns" -d2s -s "$work/post.lua" "http://127.0.0.1:$p/v1/chat/completions" >/dev/null; done
for r in $(seq 1 "$rounds"); do
  order="direct:19000 garnet:19001 nginx:19002"; [ $((r % 2)) = 0 ] && order="nginx:19002 garnet:19001 direct:19000"
  for name in $order; do
    measure "${name%%:*}" "${name##*:}" "$conns"
  done
done
# LiteLLM runs alone afterwards: its idle workers would otherwise take CPU from the others' rounds.
if [ -z "${SKIP_LITELLM:-}" ]; then
cat > "$work/litellm.yaml" <<L
model_list:
  - model_name: canned
    litellm_params: {model: openai/canned, api_base: "http://127.0.0.1:19000/v1", api_key: "unused"}
L
LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_TELEMETRY=False LITELLM_MASTER_KEY=sk-0123456789abcdef0123456789abcdef \
  bench/.venv-litellm/bin/litellm --config "$work/litellm.yaml" --host 127.0.0.1 --port 19003 --num_workers 2 > "$work/litellm.log" 2>&1 & litellm_pid=$!; pids+=($litellm_pid)
wait_port 19003; sleep 2
curl -sf -m 20 "http://127.0.0.1:19003/v1/chat/completions" -H 'content-type: application/json' -H 'authorization: Bearer sk-0123456789abcdef0123456789abcdef' \
  -d '{"model":"canned","messages":[{"role":"user","content":"hi"}],"max_tokens":8}' | grep -q '"choices"' || { echo "litellm does not answer"; tail -20 "$work/litellm.log"; exit 1; }
for r in $(seq 1 "$rounds"); do
  measure litellm 19003 $(( conns < 32 ? conns : 32 ))
done
kill "$litellm_pid" 2>/dev/null || true
else
  rps[litellm]="nan"; p50[litellm]="nan"; p99[litellm]="nan"
fi

python3 - "$secs" "$rounds" "$conns" "${rps[direct]}" "${rps[garnet]}" "${rps[nginx]}" "${rps[litellm]}" \
  "${p50[direct]}|${p99[direct]}" "${p50[garnet]}|${p99[garnet]}" "${p50[nginx]}|${p99[nginx]}" "${p50[litellm]}|${p99[litellm]}" \
  "${cpu[direct]}|${cpu[garnet]}|${cpu[nginx]}" <<'PY'
import statistics, sys
secs, rounds, conns = sys.argv[1:4]
names = ["direct", "garnet", "nginx", "litellm"]
def ms(x):
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if x.endswith(unit) and not (unit == "s" and x.endswith(("us", "ms"))):
            return float(x[: -len(unit)]) * f
    return float(x)
rps = {n: statistics.median(float(x) for x in a.split()) for n, a in zip(names, sys.argv[4:8])}
lat = {}
for n, a in zip(names, sys.argv[8:12]):
    p50s, p99s = a.split("|")
    lat[n] = (statistics.median(ms(x) for x in p50s.split()), statistics.median(ms(x) for x in p99s.split()))
print(f"router proxy overhead: wrk, {conns} connections (litellm <= 32), {secs}s x {rounds} rounds, medians")
print(f"{'path':10} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
for n in names:
    print(f"{n:10} {rps[n]:10.0f} {lat[n][0]:8.2f} {lat[n][1]:8.2f}")
print(f"garnet / nginx throughput:   {rps['garnet'] / rps['nginx']:.2f}x (goal >= 1)")
pairs = [float(g) / float(n) for g, n in zip(sys.argv[5].split(), sys.argv[6].split())]
print(f"garnet / nginx per round:    {' '.join(f'{x:.2f}' for x in pairs)}; median {statistics.median(pairs):.3f}")
cpu = dict(zip(["backend", "garnet", "nginx"], (statistics.median(float(x) for x in a.split()) for a in sys.argv[12].split("|"))))
ratio = f"{cpu['nginx'] / cpu['garnet']:.2f}x" if cpu["garnet"] > 0 else "n/a: too short to count"
print(f"CPU per request (user + system, medians): garnet {cpu['garnet']:.1f} us, nginx {cpu['nginx']:.1f} us "
      f"(nginx / garnet {ratio}); the canned backend {cpu['backend']:.1f} us")
print(f"garnet / litellm throughput: {rps['garnet'] / rps['litellm']:.1f}x (goal >= 10)")
print(f"garnet / direct throughput:  {rps['garnet'] / rps['direct']:.2f}x")
PY

# Latency at a fixed 1,000 req/s over 256 warm connections (open loop, from scheduled times).
for r in $(seq 1 "$rounds"); do
  for name in direct:19000 garnet:19001 nginx:19002; do
    n=${name%%:*}; port=${name##*:}
    "$garnet" -o json bench --url "http://127.0.0.1:$port/v1" --model canned -c 256 -d "${secs}s" --rate 1000 --stream 0 \
      | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["e2e"]["p50_ms"], r["e2e"]["p99_ms"], r["failed"])' > "$work/fixed-$n-$r"
  done
done
python3 - "$work" "$rounds" <<'PY'
import statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
med = {}
for n in ("direct", "garnet", "nginx"):
    rows = [open(f"{work}/fixed-{n}-{r}").read().split() for r in range(1, rounds + 1)]
    med[n] = (statistics.median(float(x[0]) for x in rows), statistics.median(float(x[1]) for x in rows), sum(int(x[2]) for x in rows))
print("fixed 1,000 req/s, 256 connections (garnet bench, open loop), medians:")
for n, (p50, p99, failed) in med.items():
    print(f"{n:10} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  failed {failed}")
print(f"garnet added p99 over direct: {med['garnet'][1] - med['direct'][1]:.2f} ms (goal <= 1)")
PY
fi

# The real loader: direct vs through the router (goal: >= 99% of direct).
if [ -n "${GARNET_TEST_PYTHON:-}" ]; then
  model="$work/tiny"; "$GARNET_TEST_PYTHON" tests/support/make_tiny_model.py "$model" 0 >/dev/null 2>&1
  HF_HUB_OFFLINE=1 HF_HOME="$work/hf" "$GARNET_TEST_PYTHON" -m mlx_lm.server --model "$model" --host 127.0.0.1 --port 19020 >/dev/null 2>&1 & pids+=($!)
  cat > "$work/routes-loader.yaml" <<Y
models:
  - name: tiny
    backends:
      - {id: l, url: "http://127.0.0.1:19020", model: "$model", max_concurrency: 4}
Y
  "$garnet" router --routes "$work/routes-loader.yaml" --listen 127.0.0.1:19021 --admin-listen 127.0.0.1:19031 2>/dev/null & pids+=($!)
  wait_port 19020; wait_port 19021; sleep 3
  # Warm both paths up, then alternate which goes first; the ratio is the median of the rounds'
  # paired ratios (the Python loader shares the 2 cores with the client and the router).
  "$garnet" bench --url http://127.0.0.1:19021/v1 --model tiny -c 4 -d 5s --max-tokens 16 --stream 0.5 >/dev/null
  tps() { "$garnet" -o json bench --url "$1" --model "$2" -c 4 -d "${secs}s" --max-tokens 16 --stream 0.5 | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_per_s"])'; }
  for r in $(seq 1 "$rounds"); do
    if [ $((r % 2)) = 1 ]; then
      d=$(tps http://127.0.0.1:19020/v1 "$model"); g=$(tps http://127.0.0.1:19021/v1 tiny)
    else
      g=$(tps http://127.0.0.1:19021/v1 tiny); d=$(tps http://127.0.0.1:19020/v1 "$model")
    fi
    echo "loader round $r: direct $d tokens/s, via garnet $g tokens/s"
    dl+="$d "; gl+="$g "
  done
  python3 -c "import statistics as s,sys; d=list(map(float,'$dl'.split())); g=list(map(float,'$gl'.split())); r=s.median(b/a for a,b in zip(d,g)); print(f'tiny loader: direct {s.median(d):.0f} tok/s, via garnet {s.median(g):.0f} tok/s (medians); median paired ratio {r:.3f} of direct (goal >= 0.99)')"
fi
