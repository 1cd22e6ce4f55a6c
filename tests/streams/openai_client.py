"""The OpenAI Python SDK streaming a chat completion from BASE_URL, as an LLM app does.

    python openai_client.py BASE_URL... [--timeout SECONDS] [--retries N]

For each BASE_URL in turn (one process, so the SDK is imported once), prints `url BASE_URL`,
one line per chunk's content (`chunk TEXT`, JSON-quoted), then how the stream ended:
    done TEXT FINISH          the iteration ended without an error (FINISH: the last
                              finish_reason seen, or none)
    error CLASS KIND CAUSE TEXT
                              the SDK raised CLASS while streaming (KIND: `api-connection`
                              when it is an openai.APIConnectionError, `api-timeout` for
                              openai.APITimeoutError, `httpx` for an httpx exception that
                              passed through unwrapped, else `other`; CAUSE: the class of
                              its __cause__, or none); TEXT what arrived
Exit 0 in both cases: the test reads the lines (tests/streams.rs, docs/streams.md).
"""

import argparse
import json
import sys

import httpx
import openai


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("base_url", nargs="+")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--retries", type=int, default=0)
    args = ap.parse_args()
    for url in args.base_url:
        print("url", url, flush=True)
        stream_one(url, args.timeout, args.retries)
    return 0


def stream_one(base_url: str, timeout: float, retries: int) -> None:
    client = openai.OpenAI(
        base_url=base_url,
        api_key="sk-test",
        timeout=timeout,
        max_retries=retries,
    )
    text = []
    finish = None
    try:
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Say the pangram."}],
            stream=True,
        )
        for chunk in stream:
            for choice in chunk.choices:
                if choice.delta.content:
                    text.append(choice.delta.content)
                    print("chunk", json.dumps(choice.delta.content), flush=True)
                if choice.finish_reason:
                    finish = choice.finish_reason
    except Exception as e:  # noqa: BLE001 - the point is to report whatever it raises
        if isinstance(e, openai.APITimeoutError):
            kind = "api-timeout"
        elif isinstance(e, openai.APIConnectionError):
            kind = "api-connection"
        elif isinstance(e, httpx.HTTPError):
            kind = "httpx"
        else:
            kind = "other"
        cause = type(e.__cause__).__name__ if e.__cause__ else "none"
        print("error", type(e).__name__, kind, cause, json.dumps("".join(text)), flush=True)
        return
    print("done", json.dumps("".join(text)), finish or "none", flush=True)


if __name__ == "__main__":
    sys.exit(main())
