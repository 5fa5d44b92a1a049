"""A multi-turn chat workload through the real OpenAI SDK, for prefix-affinity routing: CONVERSATIONS
conversations of TURNS turns, OPEN of them open at a time (each conversation's turns in order, a new
one started when one ends) and at most CONCURRENCY requests in flight,
all sharing one system prompt, each turn adding the answer and a new user message to a growing
history. Every request streams with usage; its time to first token and end to end are timed by
this client's own clock, its prompt and cached tokens read from the usage the server reports
(`usage.prompt_tokens_details.cached_tokens`).

usage: chat_workload.py BASE_URL MODEL [--conversations N] [--turns T] [--concurrency C]
       [--open O] [--system-words W] [--user-words U] [--max-tokens M] [--salt S] [--think-ms MS]
       [--sequential]
`--open`: conversations open at once (default: CONCURRENCY). More than a loader's prompt-cache
entries (10 by default) is the case prefix affinity is for: one replica cannot keep them all, two
can if each keeps its own.
`--think-ms`: a user's pause before each next turn (exponential, that mean, seeded), as people
reading an answer take; without it each turn follows the answer at once (a closed loop, in which
the replica that just answered is the one with a free slot).
`--sequential`: one request at a time, conversations interleaved turn by turn (c1t1, c2t1, …,
c1t2, …), so a test can pair requests with the router's access log in order.
Prints one JSON object: per request records and the summary.
"""

import argparse
import json
import os
import random
import threading
import time

from openai import OpenAI

WORDS = ("rack node model token cache prefix latency router loader memory thermal power cluster "
         "placement budget queue stream answer prompt history summary metric sample window").split()


def text(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base_url")
    ap.add_argument("model")
    ap.add_argument("--conversations", type=int, default=40)
    ap.add_argument("--turns", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--open", type=int, default=None)
    ap.add_argument("--system-words", type=int, default=300)
    ap.add_argument("--user-words", type=int, default=120)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--salt", default="")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--think-ms", type=float, default=0.0)
    ap.add_argument("--sequential", action="store_true")
    a = ap.parse_args()
    client = OpenAI(base_url=a.base_url, api_key=os.environ.get("OPENAI_API_KEY", "unused"), max_retries=0, timeout=300)
    rng = random.Random(a.seed)
    system = f"{a.salt} You are a helpful operator assistant. " + text(rng, a.system_words)
    convs = []
    for c in range(a.conversations):
        r = random.Random(a.seed * 1000 + c)
        convs.append({"id": c, "messages": [{"role": "system", "content": system},
                                            {"role": "user", "content": f"[{a.salt}:{c}] " + text(r, a.user_words)}],
                      "rng": r, "think": random.Random(a.seed * 7919 + c)})
    records = []
    lock = threading.Lock()

    def turn(conv, t):
        start = time.perf_counter()
        first = None
        answer = []
        usage = None
        stream = client.chat.completions.create(
            model=a.model, messages=conv["messages"], max_tokens=a.max_tokens, temperature=0.0, stream=True,
            stream_options={"include_usage": True})
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
                if first is None:
                    first = time.perf_counter()
                answer.append(chunk.choices[0].delta.content)
            if chunk.usage:
                usage = chunk.usage
        end = time.perf_counter()
        details = getattr(usage, "prompt_tokens_details", None) if usage else None
        cached = (getattr(details, "cached_tokens", None) or 0) if details else 0
        rec = {"conversation": conv["id"], "turn": t, "ttft_ms": ((first or end) - start) * 1000,
               "e2e_ms": (end - start) * 1000, "prompt_tokens": usage.prompt_tokens if usage else 0,
               "cached_tokens": cached}
        with lock:
            records.append(rec)
        conv["messages"].append({"role": "assistant", "content": "".join(answer) or "ok"})
        conv["messages"].append({"role": "user", "content": text(conv["rng"], a.user_words)})

    wall = time.perf_counter()
    if a.sequential:
        for t in range(a.turns):
            for conv in convs:
                turn(conv, t)
    else:
        pending = list(convs)
        plock = threading.Lock()
        in_flight = threading.BoundedSemaphore(a.concurrency)

        def worker():
            while True:
                with plock:
                    if not pending:
                        return
                    conv = pending.pop(0)
                for t in range(a.turns):
                    if t > 0 and a.think_ms > 0:
                        time.sleep(conv["think"].expovariate(1000.0 / a.think_ms))
                    with in_flight:
                        turn(conv, t)

        threads = [threading.Thread(target=worker) for _ in range(a.open or a.concurrency)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    wall = time.perf_counter() - wall

    def q(vals, p):
        v = sorted(vals)
        return v[min(len(v) - 1, max(0, int(round(p * len(v) + 0.5)) - 1))] if v else None

    prompt = sum(r["prompt_tokens"] for r in records)
    cached = sum(r["cached_tokens"] for r in records)
    # The share a replica that kept every conversation would serve from its cache at least: each
    # later turn's previous prompt (the first turns' shared system prompt not counted).
    by = {(r["conversation"], r["turn"]): r for r in records}
    history = sum(by[(r["conversation"], r["turn"] - 1)]["prompt_tokens"] for r in records if r["turn"] > 0)
    summary = {"requests": len(records), "wall_s": wall, "prompt_tokens": prompt, "cached_tokens": cached,
               "cached_share": cached / prompt if prompt else None,
               "history_share": history / prompt if prompt else None,
               "ttft_p50_ms": q([r["ttft_ms"] for r in records], 0.5),
               "ttft_p95_ms": q([r["ttft_ms"] for r in records], 0.95),
               "e2e_p95_ms": q([r["e2e_ms"] for r in records], 0.95)}
    print(json.dumps({"summary": summary, "records": records}))


if __name__ == "__main__":
    main()
