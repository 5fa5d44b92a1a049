#!/usr/bin/env bash
# Benchmark: prefix-affinity routing against least-outstanding and round-robin, on REPLICAS real
# `mlx_lm.server` loaders of the generated tiny model (prompt cache: the default 10 entries), in one
# run, and LiteLLM's proxy on the same loaders as the peer (its strategies simple-shuffle,
# least-busy, and least-busy with its prompt-caching pre-call check).
# The workload (tests/support/chat_workload.py, the real OpenAI SDK): CONVERSATIONS multi-turn
# chats of TURNS turns, OPEN (default CONCURRENCY) open at a time and CONCURRENCY requests in
# flight at most, a shared system prompt, a history growing turn by turn, streamed with usage.
# (The tiny model's 440-token vocabulary makes about 4.8 tokens of a word: SYSTEM_WORDS=40
# USER_WORDS=60 give prompts of 0.5k tokens at the first turn and 1.8k at the fifth.)
# Per routing: the share of prompt tokens the loaders served from their prompt cache (their own
# usage), TTFT p50/p95 and e2e p95 by the client's clock, and the load
# imbalance (the busiest replica's requests over the mean, from the loaders' own request logs).
# ROUNDS rounds, garnet's three routings in a rotating order each round, each with its own system
# prompt; LiteLLM's afterwards; medians reported.
# The ceiling, measured in the first round: the same chats one at a time on one loader (every turn finds
# its conversation's previous prompt and answer cached), the most any routing can serve from cache.
# Beside the cached share, the workload's history share: the part of the prompts that was the
# conversation's previous prompt.
# SYSTEM_WORDS (150), USER_WORDS (40), MAX_TOKENS (16) shape the chats; THINK_MS (0) is each
# user's mean pause before the next turn (0: back to back, a closed loop, in which the replica that
# just answered is the one with a free slot, so least-outstanding keeps most chats in place by
# accident; with pauses the free replica has nothing to do with the chat); OUT_DIR keeps each run's
# per-request records; CEILING=0 skips the ceiling; SKIP_LITELLM=1 (CI's smoke run) leaves out
# the peer (a large PyPI install, made once in bench/.venv-litellm); LITELLM_ROUNDS (ROUNDS) sets
# its rounds per strategy; ONLY_LITELLM=1 runs the peer alone.
#
#   bench/routing.sh [ROUNDS=3] [CONVERSATIONS=40] [TURNS=5] [REPLICAS=2] [CONCURRENCY=16]
#
# Needs GARNET_TEST_PYTHON (a venv with mlx-lm and openai). Loopback only.
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

model="$work/tiny"; "$py" tests/support/make_tiny_model.py "$model" 0 >/dev/null 2>&1
backends=""
for i in $(seq 1 "$replicas"); do
  port=$((19100 + i))
  HF_HUB_OFFLINE=1 HF_HOME="$work/hf" "$py" -m mlx_lm.server --model "$model" --host 127.0.0.1 --port $port >/dev/null 2>"$work/loader-$i.log" & pids+=($!)
  backends+="      - {id: r$i, url: \"http://127.0.0.1:$port\", model: \"$model\", max_concurrency: 16}"$'\n'
done
for i in $(seq 1 "$replicas"); do wait_port $((19100 + i)) 900; done
modes=(round-robin least-outstanding prefix-affinity)
for k in 0 1 2; do
  m=${modes[$k]}
  printf 'models:\n  - name: tiny\n    queue: 256\n    routing: %s\n    backends:\n%s' "$m" "$backends" > "$work/routes-$m.yaml"
  echo "admin-token-for-bench-$k" > "$work/token-$m"; chmod 600 "$work/token-$m"
  "$garnet" router --routes "$work/routes-$m.yaml" --listen 127.0.0.1:$((19110 + k)) --admin-listen 127.0.0.1:$((19120 + k)) \
    --admin-token-file "$work/token-$m" 2>/dev/null & pids+=($!)
  wait_port $((19110 + k)) 900
done
# Warm each loader once (the first request compiles).
for i in $(seq 1 "$replicas"); do
  curl -s -o /dev/null "http://127.0.0.1:$((19100 + i))/v1/chat/completions" -H 'content-type: application/json' \
    -d "{\"model\":\"$model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2}"
done

open=${OPEN:-$conc}
# The chats' shape, the same for every routing and the ceiling.
shape=(--conversations "$convs" --turns "$turns" --system-words "${SYSTEM_WORDS:-150}" --user-words "${USER_WORDS:-40}"
  --max-tokens "${MAX_TOKENS:-16}")
declare -A share hist ttft50 ttft95 e2e95 imb
ceiling=""
# The loaders' own request counts (their access log lines), for the load imbalance whatever routes.
served() { for i in $(seq 1 "$replicas"); do grep -c 'POST /v1/chat/completions' "$work/loader-$i.log" || true; done; }
# measure NAME ROUND URL MODEL [ADMIN_PORT TOKEN]: one run of the workload through URL, its medians'
# inputs recorded under NAME.
measure() {
  local m=$1 r=$2 url=$3 mdl=$4 aport=${5:-} token=${6:-} before after out lb la
  [ -n "$aport" ] && before=$(curl -s -H "authorization: Bearer $token" "http://127.0.0.1:$aport/admin/stats")
  lb=$(served | tr '\n' ' ')
  out=$("$py" tests/support/chat_workload.py "$url" "$mdl" "${shape[@]}" --concurrency "$conc" \
    --open "$open" --think-ms "${THINK_MS:-0}" --salt "$m-$r" --seed "$r")
  [ -n "${OUT_DIR:-}" ] && echo "$out" > "$OUT_DIR/routing-$m-$r.json"
  la=$(served | tr '\n' ' ')
  [ -n "$aport" ] && after=$(curl -s -H "authorization: Bearer $token" "http://127.0.0.1:$aport/admin/stats")
  read -r s t5 t9 e9 ib hmo < <(python3 - "$out" "$lb" "$la" "${before:-}" "${after:-}" <<'PY'
import json, sys
w = json.loads(sys.argv[1])["summary"]
n = [int(a) - int(b) for a, b in zip(sys.argv[3].split(), sys.argv[2].split())]
extra = "-"
if sys.argv[4]:
    b, a = json.loads(sys.argv[4]), json.loads(sys.argv[5])
    aff = a["models"][0].get("affinity") or {}
    was = b["models"][0].get("affinity") or {}
    if aff:
        extra = "/".join(str(aff.get(k, 0) - was.get(k, 0)) for k in ("hits", "misses", "sooner", "overloaded"))
print(f'{w["cached_share"]:.3f}/{w["history_share"]:.3f} {w["ttft_p50_ms"]:.1f} {w["ttft_p95_ms"]:.1f} {w["e2e_p95_ms"]:.1f} {max(n) / (sum(n) / len(n)):.3f} {extra}')
PY
)
  share[$m]+="${s%/*} " hist[$m]+="${s#*/} " ttft50[$m]+="$t5 " ttft95[$m]+="$t9 " e2e95[$m]+="$e9 " imb[$m]+="$ib "
  echo "   round $r $m: cached share / history share $s, TTFT p50 $t5 ms p95 $t9 ms, e2e p95 $e9 ms, imbalance ${ib}x$([ "$hmo" != - ] && echo ", affinity hit/miss/sooner/overloaded $hmo")"
}
for r in $(seq 1 "$( [ -n "${ONLY_LITELLM:-}" ] && echo 0 || echo "$rounds")"); do
  # The ceiling (first round only, to save time): the same chats one at a time on
  # one loader, straight (no router), so every turn finds its conversation's previous prompt and
  # answer in the cache: no routing can serve more from cache than this.
  if [ "$r" -eq 1 ] && [ "${CEILING:-1}" != 0 ]; then
    c=$("$py" tests/support/chat_workload.py "http://127.0.0.1:19101/v1" "$model" "${shape[@]}" --concurrency 1 \
      --salt "ceiling-$r" --seed "$r" | python3 -c 'import json, sys; print("%.3f" % json.load(sys.stdin)["summary"]["cached_share"])')
    ceiling+="$c "
    echo "   ceiling (one chat at a time, one loader): cached share $c"
  fi
  for j in 0 1 2; do
    k=$(( (j + r) % 3 ))
    measure "${modes[$k]}" "$r" "http://127.0.0.1:$((19110 + k))/v1" tiny $((19120 + k)) "admin-token-for-bench-$k"
  done
done
# LiteLLM's proxy on the same loaders, one strategy at a time and alone (its idle workers would
# take CPU from the others' rounds): its routing strategies, and least-busy with its
# prompt-caching pre-call check (which pins a prompt to the deployment that cached it).
lmodes=()
if [ -z "${SKIP_LITELLM:-}" ]; then
  [ -x bench/.venv-litellm/bin/litellm ] || { python3 -m venv bench/.venv-litellm && bench/.venv-litellm/bin/pip -q install 'litellm[proxy]'; }
  lkey=sk-bench-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  lmodes=(litellm:simple-shuffle litellm:least-busy litellm:least-busy+prompt_caching)
  for lm in "${lmodes[@]}"; do
    strategy=${lm#litellm:}; strategy=${strategy%%+*}
    {
      echo "model_list:"
      for i in $(seq 1 "$replicas"); do
        echo "  - model_name: tiny"
        echo "    litellm_params: {model: \"openai/$model\", api_base: \"http://127.0.0.1:$((19100 + i))/v1\", api_key: unused}"
      done
      echo "router_settings:"
      echo "  routing_strategy: $strategy"
      [[ $lm == *+prompt_caching ]] && echo "  optional_pre_call_checks: [prompt_caching]"
    } > "$work/litellm.yaml"
    LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_TELEMETRY=False LITELLM_MASTER_KEY=$lkey \
      bench/.venv-litellm/bin/litellm --config "$work/litellm.yaml" --host 127.0.0.1 --port 19130 > "$work/litellm.log" 2>&1 & lpid=$!; pids+=($lpid)
    wait_port 19130 900 || { tail -20 "$work/litellm.log"; exit 1; }
    for r in $(seq 1 "${LITELLM_ROUNDS:-$rounds}"); do
      OPENAI_API_KEY=$lkey measure "$lm" "$r" "http://127.0.0.1:19130/v1" tiny
    done
    kill "$lpid"; wait "$lpid" 2>/dev/null || true
  done
fi
med() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "== medians of $rounds rounds ($convs conversations x $turns turns, $open open and $conc requests at a time, think ${THINK_MS:-0} ms, $replicas replicas):"
[ -n "${ONLY_LITELLM:-}" ] && modes=()
for m in "${modes[@]}" "${lmodes[@]}"; do
  echo "   $m: cached share $(echo "${share[$m]}" | med) (history share $(echo "${hist[$m]}" | med)), TTFT p50 $(echo "${ttft50[$m]}" | med) ms, p95 $(echo "${ttft95[$m]}" | med) ms, e2e p95 $(echo "${e2e95[$m]}" | med) ms, imbalance $(echo "${imb[$m]}" | med)x"
done
[ -n "${ONLY_LITELLM:-}" ] && exit 0
lo_s=$(echo "${share[least-outstanding]}" | med) pa_s=$(echo "${share[prefix-affinity]}" | med)
if [ -n "$ceiling" ]; then
  echo "   ceiling (one chat at a time on one loader): cached share $(echo "$ceiling" | med)"
  awk -v ls="$lo_s" -v ps="$pa_s" -v c="$(echo "$ceiling" | med)" 'BEGIN {
    printf "== of the ceiling: least-outstanding %.2f, prefix-affinity %.2f; the most any routing could gain over least-outstanding: %.2fx\n", ls / c, ps / c, c / ls }'
else
  echo "   ceiling: not measured (CEILING=0)"
fi
# Round by round (the same round's chats and machine state): how much lower affinity's TTFT p95 is.
paste <(echo "${ttft95[least-outstanding]}" | tr ' ' '\n' | grep -v '^$') <(echo "${ttft95[prefix-affinity]}" | tr ' ' '\n' | grep -v '^$') |
  awk '{ printf "%s%.0f%%", (NR > 1 ? ", " : "== TTFT p95 lower, per round: "), (1 - $2 / $1) * 100 } END { print "" }'
lo_t=$(echo "${ttft95[least-outstanding]}" | med) pa_t=$(echo "${ttft95[prefix-affinity]}" | med)
awk -v ls="$lo_s" -v ps="$pa_s" -v lt="$lo_t" -v pt="$pa_t" -v pi="$(echo "${imb[prefix-affinity]}" | med)" 'BEGIN {
  printf "== prefix-affinity vs least-outstanding: cached share %.2fx (goal >= 1.2x), TTFT p95 %.0f%% lower (goal >= 30%%), imbalance %.2fx (goal <= 1.25x)\n", ps / ls, (1 - pt / lt) * 100, pi }'
