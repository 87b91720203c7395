"""What the official SDKs, unchanged, make of the statuses the edge answers when every attempt
failed the same way (docs/ai-gateway.md, "Errors").

Run by host/tests/e2e/sdk_clients.rs against an edge whose policy points at mock providers:
`deny` and `adeny` (OpenAI chat, Anthropic messages) answer 401 to every key; `busy` and
`abusy` answer 429 with `Retry-After: 17`, longer than the edge waits, so it moves on and
answers 429 itself. Each SDK must raise its AuthenticationError and RateLimitError, with the
wait readable from the response. The SDKs retry nothing here (max_retries=0): the point is
what they would see. Prints one line per passed check and exits non-zero on the first
failure. Usage: check_failure_statuses.py BASE_URL
"""

import sys

import anthropic
import openai

base = sys.argv[1].rstrip("/")
oa = openai.OpenAI(base_url=base + "/v1", api_key="client-key", max_retries=0)
an = anthropic.Anthropic(base_url=base, api_key="client-key", max_retries=0)


def expect(name, run, error, check=None):
    try:
        run()
    except error as e:
        if check is not None:
            check(e)
        print(f"ok {name}: {type(e).__name__}: status {e.status_code}")
        return
    except Exception as e:  # noqa: BLE001 - any other error is a failure too
        raise SystemExit(f"FAILED {name}: {type(e).__name__} instead of {error.__name__}: {e}")
    raise SystemExit(f"FAILED {name}: no error")


def retry_after_is_17(e):
    got = e.response.headers.get("retry-after")
    if got != "17":
        raise SystemExit(f"FAILED: retry-after is {got!r}, not '17'")


def chat(model):
    return lambda: oa.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}]
    )


def message(model):
    return lambda: an.messages.create(
        model=model, max_tokens=16, messages=[{"role": "user", "content": "hi"}]
    )


expect("openai.all_401", chat("deny:deny-model"), openai.AuthenticationError)
expect("openai.all_429", chat("busy:busy-model"), openai.RateLimitError, retry_after_is_17)
expect("anthropic.all_401", message("adeny:adeny-model"), anthropic.AuthenticationError)
expect(
    "anthropic.all_429", message("abusy:abusy-model"), anthropic.RateLimitError, retry_after_is_17
)
print("all failure-status checks passed")
