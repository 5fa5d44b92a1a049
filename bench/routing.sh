#!/usr/bin/env bash
# Benchmark: prefix-affinity routing against least-outstanding and round-robin, on REPLICAS real
# `mlx_lm.server` loaders of the generated tiny model (prompt cache: the default 10 entries), in one
# run. The workload (tests/support/chat_workload.py, the real OpenAI SDK): CONVERSATIONS multi-turn
# chats of TURNS turns, CONCURRENCY at a time (more live conversations than one loader's
# prompt-cache entries: 16 over 2 replicas of 10 entries each), a shared system prompt, a history growing turn by turn, streamed with usage. Per
# routing: the share of prompt tokens the loaders served from their prompt cache (their own
# usage), TTFT p50/p95 and e2e p95 by the client's clock, and the load imbalance (the busiest
# replica's requests over the mean, from the router's /admin/stats). ROUNDS rounds, the three
# routings in a rotating order each round, each with its own system prompt; medians reported.
# Beside the cached share, the workload's history share: the part of the prompts that was the
# conversation's previous prompt (what a replica that kept every conversation serves from cache
# at least): a cached share near it means the routing lost little.
# SYSTEM_WORDS (150), USER_WORDS (40), MAX_TOKENS (16) shape the chats; OUT_DIR keeps each run's
# per-request records.
#
#   bench/routing.sh [ROUNDS=3] [CONVERSATIONS=40] [TURNS=5] [REPLICAS=2] [CONCURRENCY=16]
#
# Needs GARNET_TEST_PYTHON (a venv with mlx-lm and openai). Loopback only. (LiteLLM's routing
# strategies are not in this run: its proxy is a large PyPI install, see bench/router.sh.)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3} convs=${2:-40} turns=${3:-5} replicas=${4:-2} conc=${5:-16}
py=${GARNET_TEST_PYTHON:?set GARNET_TEST_PYTHON to a venv with mlx-lm and openai}
work=$(mktemp -d /tmp/grt.XXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.3; rm -rf "$work"; }
trap cleanup EXIT
. bench/lib.sh
garnet=$(garnet_bin)
wait_port() { for _ in $(seq 1 900); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened"; return 1; }

model="$work/tiny"; "$py" tests/support/make_tiny_model.py "$model" 0 >/dev/null 2>&1
backends=""
for i in $(seq 1 "$replicas"); do
  port=$((19100 + i))
  HF_HUB_OFFLINE=1 HF_HOME="$work/hf" "$py" -m mlx_lm.server --model "$model" --host 127.0.0.1 --port $port >/dev/null 2>&1 & pids+=($!)
  backends+="      - {id: r$i, url: \"http://127.0.0.1:$port\", model: \"$model\", max_concurrency: 16}"$'\n'
done
for i in $(seq 1 "$replicas"); do wait_port $((19100 + i)); done
modes=(round-robin least-outstanding prefix-affinity)
for k in 0 1 2; do
  m=${modes[$k]}
  printf 'models:\n  - name: tiny\n    queue: 256\n    routing: %s\n    backends:\n%s' "$m" "$backends" > "$work/routes-$m.yaml"
  echo "admin-token-for-bench-$k" > "$work/token-$m"; chmod 600 "$work/token-$m"
  "$garnet" router --routes "$work/routes-$m.yaml" --listen 127.0.0.1:$((19110 + k)) --admin-listen 127.0.0.1:$((19120 + k)) \
    --admin-token-file "$work/token-$m" 2>/dev/null & pids+=($!)
  wait_port $((19110 + k))
done
# Warm each loader once (the first request compiles).
for i in $(seq 1 "$replicas"); do
  curl -s -o /dev/null "http://127.0.0.1:$((19100 + i))/v1/chat/completions" -H 'content-type: application/json' \
    -d "{\"model\":\"$model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2}"
done

declare -A share hist ttft50 ttft95 e2e95 imb
for r in $(seq 1 "$rounds"); do
  for j in 0 1 2; do
    k=$(( (j + r) % 3 )); m=${modes[$k]}
    before=$(curl -s -H "authorization: Bearer admin-token-for-bench-$k" "http://127.0.0.1:$((19120 + k))/admin/stats")
    out=$("$py" tests/support/chat_workload.py "http://127.0.0.1:$((19110 + k))/v1" tiny --conversations "$convs" \
      --turns "$turns" --concurrency "$conc" --system-words "${SYSTEM_WORDS:-150}" --user-words "${USER_WORDS:-40}" --max-tokens "${MAX_TOKENS:-16}" --salt "$m-$r" --seed "$r")
    [ -n "${OUT_DIR:-}" ] && echo "$out" > "$OUT_DIR/routing-$m-$r.json"
    after=$(curl -s -H "authorization: Bearer admin-token-for-bench-$k" "http://127.0.0.1:$((19120 + k))/admin/stats")
    read -r s t5 t9 e9 ib hmo < <(python3 - "$out" "$before" "$after" <<'PY'
import json, sys
w = json.loads(sys.argv[1])["summary"]
b, a = json.loads(sys.argv[2]), json.loads(sys.argv[3])
count = lambda s: {x["id"]: x["requests"] for x in s["models"][0]["backends"]}
n = [count(a)[i] - count(b).get(i, 0) for i in count(a)]
aff = a["models"][0].get("affinity") or {}
was = b["models"][0].get("affinity") or {}
extra = "/".join(str(aff.get(k, 0) - was.get(k, 0)) for k in ("hits", "misses", "overloaded")) if aff else "-"
print(f'{w["cached_share"]:.3f}/{w["history_share"]:.3f} {w["ttft_p50_ms"]:.1f} {w["ttft_p95_ms"]:.1f} {w["e2e_p95_ms"]:.1f} {max(n) / (sum(n) / len(n)):.3f} {extra}')
PY
)
    share[$m]+="${s%/*} " hist[$m]+="${s#*/} " ttft50[$m]+="$t5 " ttft95[$m]+="$t9 " e2e95[$m]+="$e9 " imb[$m]+="$ib "
    echo "   round $r $m: cached share / history share $s, TTFT p50 $t5 ms p95 $t9 ms, e2e p95 $e9 ms, imbalance ${ib}x$([ "$hmo" != - ] && echo ", affinity hit/miss/overloaded $hmo")"
  done
done
med() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "== medians of $rounds rounds ($convs conversations x $turns turns, $conc at a time, $replicas replicas):"
for m in "${modes[@]}"; do
  echo "   $m: cached share $(echo "${share[$m]}" | med) (history share $(echo "${hist[$m]}" | med)), TTFT p50 $(echo "${ttft50[$m]}" | med) ms, p95 $(echo "${ttft95[$m]}" | med) ms, e2e p95 $(echo "${e2e95[$m]}" | med) ms, imbalance $(echo "${imb[$m]}" | med)x"
done
lo_s=$(echo "${share[least-outstanding]}" | med) pa_s=$(echo "${share[prefix-affinity]}" | med)
lo_t=$(echo "${ttft95[least-outstanding]}" | med) pa_t=$(echo "${ttft95[prefix-affinity]}" | med)
awk -v ls="$lo_s" -v ps="$pa_s" -v lt="$lo_t" -v pt="$pa_t" -v pi="$(echo "${imb[prefix-affinity]}" | med)" 'BEGIN {
  printf "== prefix-affinity vs least-outstanding: cached share %.2fx (goal >= 1.2x), TTFT p95 %.0f%% lower (goal >= 30%%), imbalance %.2fx (goal <= 1.25x)\n", ps / ls, (1 - pt / lt) * 100, pi }'
