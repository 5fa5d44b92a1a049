"""Drives garnet's router with the real OpenAI Python SDK and prints what it saw as JSON.

usage: openai_client.py BASE_URL MODEL [API_KEY]

Each scenario records its result (or the SDK exception class); the Rust test asserts on them.
"""

import json
import sys

import openai

base, model = sys.argv[1], sys.argv[2]
key = sys.argv[3] if len(sys.argv) > 3 else "unused"
client = openai.OpenAI(base_url=base, api_key=key, max_retries=0, timeout=60)
msgs = [{"role": "user", "content": "say something"}]
out = {}


def record(name, fn):
    try:
        out[name] = fn()
    except openai.APIError as e:  # includes APIStatusError subclasses
        out[name] = {"exception": type(e).__name__, "status": getattr(e, "status_code", None), "message": str(e)}


def chat():
    r = client.chat.completions.create(model=model, messages=msgs, max_tokens=5)
    return {"model": r.model, "content": r.choices[0].message.content, "finish": r.choices[0].finish_reason, "usage": r.usage.model_dump()}


def chat_stream(include_usage):
    def run():
        kw = {"stream_options": {"include_usage": True}} if include_usage else {}
        s = client.chat.completions.create(model=model, messages=msgs, max_tokens=6, stream=True, **kw)
        chunks, text, usage, models, finish = 0, "", None, set(), None
        for c in s:
            models.add(c.model)
            if c.usage is not None:
                usage = c.usage.model_dump()
            for ch in c.choices:
                chunks += 1
                if ch.delta.content:
                    text += ch.delta.content
                if ch.finish_reason:
                    finish = ch.finish_reason
        return {"chunks": chunks, "text": text, "usage": usage, "models": sorted(models), "finish": finish}

    return run


def completion():
    r = client.completions.create(model=model, prompt="hello", max_tokens=4)
    return {"model": r.model, "text": r.choices[0].text, "usage": r.usage.model_dump()}


def completion_stream():
    s = client.completions.create(model=model, prompt="hello", max_tokens=4, stream=True, stream_options={"include_usage": True})
    usage, models = None, set()
    for c in s:
        models.add(c.model)
        if c.usage is not None:
            usage = c.usage.model_dump()
    return {"usage": usage, "models": sorted(models)}


def capped():
    r = client.chat.completions.create(model=model, messages=msgs, max_tokens=100000)
    return {"usage": r.usage.model_dump()}


record("chat", chat)
record("chat_stream", chat_stream(False))
record("chat_stream_usage", chat_stream(True))
record("completion", completion)
record("completion_stream", completion_stream)
record("capped", capped)
record("models", lambda: [m.id for m in client.models.list()])
record("unknown_model", lambda: client.chat.completions.create(model="no-such-model", messages=msgs, max_tokens=2).model_dump())
record("empty_messages", lambda: client.chat.completions.create(model=model, messages=[], max_tokens=2).model_dump())
record("bad_key", lambda: openai.OpenAI(base_url=base, api_key="wrong-key", max_retries=0).models.list().model_dump())


def rate_limited():
    # `narrow` has one slot and no queue: hold it with an open stream, then ask again.
    held = client.chat.completions.create(model="narrow", messages=msgs, max_tokens=400, stream=True)
    try:
        client.chat.completions.create(model="narrow", messages=msgs, max_tokens=2)
        return {"unexpected": "second request was served"}
    finally:
        held.close()


record("rate_limited", rate_limited)
print(json.dumps(out))
