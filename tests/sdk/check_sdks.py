"""Drives the edge with the official OpenAI and Anthropic Python SDKs, unchanged.

Run by host/tests/e2e/sdk_clients.rs against an edge started with `--demo` and
policies/quickstart.yaml. Every check raises on failure; the script prints one line per
passed check and exits non-zero on the first failure, so the Rust test sees which one broke.
Usage: check_sdks.py BASE_URL  (e.g. http://127.0.0.1:8080)
"""

import sys

import anthropic
import openai

base = sys.argv[1].rstrip("/")
oa = openai.OpenAI(base_url=base + "/v1", api_key="client-key-for-the-gateway", max_retries=0)
an = anthropic.Anthropic(base_url=base, api_key="client-key-for-the-gateway", max_retries=0)


def check(name, cond, detail=""):
    if not cond:
        raise SystemExit(f"FAILED {name}: {detail}")
    print(f"ok {name}")


# Chat completion (non-streaming).
chat = oa.chat.completions.create(
    model="demo-chat", messages=[{"role": "user", "content": "hello gateway"}]
)
check("chat", "hello gateway" in (chat.choices[0].message.content or ""), chat.model_dump_json())
check("chat.finish_reason", chat.choices[0].finish_reason == "stop", chat.choices[0].finish_reason)

# Raw response: the gateway's headers are visible to SDK users too.
raw = oa.chat.completions.with_raw_response.create(
    model="demo-chat", messages=[{"role": "user", "content": "headers"}]
)
check("chat.headers", raw.headers.get("x-aigw-model") == "demo-chat", dict(raw.headers))

# Streaming chat.
stream = oa.chat.completions.create(
    model="demo-chat", messages=[{"role": "user", "content": "stream please"}], stream=True
)
text = "".join((c.choices[0].delta.content or "") for c in stream if c.choices)
check("chat.stream", "stream please" in text, text)

# A failover the SDK user can see: the first model fails, the `models` fallback serves.
raw = oa.chat.completions.with_raw_response.create(
    model="fail-503",
    messages=[{"role": "user", "content": "fail over"}],
    extra_body={"models": ["demo-chat"]},
)
check("failover.attempts", raw.headers.get("x-aigw-attempts") == "2", dict(raw.headers))
check("failover.body", "fail over" in (raw.parse().choices[0].message.content or ""), raw.text)

# Embeddings.
emb = oa.embeddings.create(model="demo-embed", input=["one", "two"])
check("embeddings", len(emb.data) == 2 and len(emb.data[0].embedding) > 0, emb.model_dump_json()[:200])

# Models list, answered by the gateway from what the policy allows.
ids = [m.id for m in oa.models.list()]
check("models", any("demo-chat" in i for i in ids), ids)

# A gateway error must parse as an SDK error with our error body.
try:
    oa.chat.completions.create(model="nosuchprovider:nosuchmodel", messages=[{"role": "user", "content": "x"}])
    check("error", False, "expected an error")
except openai.APIStatusError as e:
    body = e.body if isinstance(e.body, dict) else {}
    check("error.status", 400 <= e.status_code < 500, e.status_code)
    check("error.body", isinstance(body.get("code") or body.get("error", {}).get("code"), str), e.body)

# When every attempt fails the SDK gets a 5xx it can parse, with our code.
try:
    oa.chat.completions.create(model="fail-503", messages=[{"role": "user", "content": "x"}])
    check("error.5xx", False, "expected an error")
except openai.APIStatusError as e:
    body = e.body if isinstance(e.body, dict) else {}
    code = body.get("code") or body.get("error", {}).get("code")
    check("error.5xx.status", e.status_code >= 500, e.status_code)
    check("error.5xx.code", code == e.response.headers.get("x-edge-error-code"), (code, dict(e.response.headers)))

# Anthropic Messages, non-streaming.
msg = an.messages.create(model="demo-chat", max_tokens=64, messages=[{"role": "user", "content": "plain claude"}])
check("messages", "plain claude" in msg.content[0].text, msg.model_dump_json())

# Anthropic Messages, streaming.
with an.messages.stream(
    model="demo-chat", max_tokens=64, messages=[{"role": "user", "content": "hi claude"}]
) as s:
    streamed = "".join(s.text_stream)
    final = s.get_final_message()
check("messages.stream", "hi claude" in streamed, streamed)
check("messages.stop_reason", final.stop_reason == "end_turn", final.stop_reason)

# Anthropic error shape.
try:
    an.messages.create(model="nosuchprovider:nosuchmodel", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    check("messages.error", False, "expected an error")
except anthropic.APIStatusError as e:
    check("messages.error.status", 400 <= e.status_code < 500, e.status_code)
    check("messages.error.body", isinstance(e.body, dict) and e.body.get("type") == "error", e.body)

print("all sdk checks passed")
