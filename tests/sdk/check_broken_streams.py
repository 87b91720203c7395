"""Streams that break after the edge committed to them, read by the official SDKs, unchanged.

Run by host/tests/e2e/sdk_clients.rs against an edge whose policy points at mock providers:
`cut` (OpenAI chat) and `acut` (Anthropic messages) break inside an SSE event; `open` and
`aopen` end cleanly without their closing event. Each SDK must raise its API error (what
the edge's closing error event turns into), never a JSON decode error, and never end as if
the answer were complete. Prints one line per passed check and exits non-zero on the first
failure. Usage: check_broken_streams.py BASE_URL
"""

import json
import sys

import anthropic
import openai

base = sys.argv[1].rstrip("/")
oa = openai.OpenAI(base_url=base + "/v1", api_key="client-key", max_retries=0)
an = anthropic.Anthropic(base_url=base, api_key="client-key", max_retries=0)


def expect_api_error(name, run, api_error):
    try:
        run()
    except api_error as e:
        print(f"ok {name}: {type(e).__name__}: {e}")
        return
    except json.JSONDecodeError as e:
        raise SystemExit(f"FAILED {name}: a JSON decode error instead of an API error: {e}")
    except Exception as e:  # noqa: BLE001 - any other error is a failure too
        raise SystemExit(f"FAILED {name}: {type(e).__name__}: {e}")
    raise SystemExit(f"FAILED {name}: the stream ended as if it were complete")


def chat(model):
    def run():
        stream = oa.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}], stream=True
        )
        for _ in stream:
            pass

    return run


def messages(model):
    def run():
        with an.messages.stream(
            model=model, max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        ) as s:
            for _ in s.text_stream:
                pass

    return run


expect_api_error("openai.broken_mid_event", chat("cut:cut-model"), openai.APIError)
expect_api_error("openai.no_done", chat("open:open-model"), openai.APIError)
expect_api_error("anthropic.broken_mid_event", messages("acut:acut-model"), anthropic.APIError)
expect_api_error("anthropic.no_message_stop", messages("aopen:aopen-model"), anthropic.APIError)

print("all broken-stream checks passed")
