"""A long-prompt workload that thrashes a small prompt cache, through the real OpenAI SDK: PROMPTS
distinct prompts of about WORDS words (each opens with its own words, so no two share a prefix
beyond the chat template), sent in a cycle, CONCURRENCY at a time, REQUESTS in all. A loader that
keeps fewer prompts than the cycle is long (LRU) reuses none of them; one that keeps the whole
cycle reuses nearly all after the first round.

usage: cache_workload.py BASE_URL MODEL [--prompts N] [--words W] [--requests R] [--concurrency C]
       [--seed S]
Prints one JSON object: requests, failures, and the usage the server reported (prompt tokens,
cached tokens, their share).
"""

import argparse
import json
import random
import threading

from openai import OpenAI

WORDS = ("rack node model token cache prefix latency router loader memory thermal power cluster "
         "placement budget queue stream answer prompt history summary metric sample window").split()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base_url")
    ap.add_argument("model")
    ap.add_argument("--prompts", type=int, default=15)
    ap.add_argument("--words", type=int, default=1200)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    client = OpenAI(base_url=a.base_url, api_key="unused", max_retries=0, timeout=300)
    prompts = []
    for i in range(a.prompts):
        r = random.Random(a.seed * 7919 + i)
        prompts.append(f"Document {i} of {a.seed}: " + " ".join(r.choice(WORDS) for _ in range(a.words)))
    lock = threading.Lock()
    state = {"next": 0, "ok": 0, "failed": 0, "prompt": 0, "cached": 0, "errors": []}

    def worker():
        while True:
            with lock:
                k = state["next"]
                if k >= a.requests:
                    return
                state["next"] += 1
            try:
                r = client.chat.completions.create(
                    model=a.model, max_tokens=1,
                    messages=[{"role": "user", "content": prompts[k % a.prompts]}])
                u = r.usage
                details = getattr(u, "prompt_tokens_details", None)
                cached = (getattr(details, "cached_tokens", 0) or 0) if details else 0
                with lock:
                    state["ok"] += 1
                    state["prompt"] += u.prompt_tokens
                    state["cached"] += cached
            except Exception as e:  # counted and reported, never hidden
                with lock:
                    state["failed"] += 1
                    state["errors"].append(str(e)[:200])

    threads = [threading.Thread(target=worker) for _ in range(a.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = state["ok"]
    print(json.dumps({
        "requests": ok + state["failed"], "ok": ok, "failed": state["failed"], "errors": state["errors"][:5],
        "prompt_tokens": state["prompt"], "cached_tokens": state["cached"],
        "mean_prompt_tokens": state["prompt"] / ok if ok else None,
        "cached_share": state["cached"] / state["prompt"] if state["prompt"] else None,
    }))


if __name__ == "__main__":
    main()
