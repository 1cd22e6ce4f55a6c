"""The OpenAI Python SDK streaming a chat completion from BASE_URL, for `httpfault probe
--protocol sse`: prints each chunk as the SDK yields it, one a line.

    python sse_openai.py BASE_URL [--retries N] [--timeout SECONDS]

The probe's healthy stream is five events whose data is `1` .. `5`: JSON numbers, which the
SDK yields as they are (it builds a chunk object only from a JSON object). The SDK POSTs to
BASE_URL/chat/completions; `max_retries` (default 0 here) retries a 5xx or a failed connect
before the stream starts, never a stream cut midway. An exception ends the script with exit 1
(it is on stderr), as it would end an app that does not catch it.
"""

import argparse
import sys

import openai


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("base_url")
    ap.add_argument("--retries", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=2.0)
    args = ap.parse_args()
    client = openai.OpenAI(
        base_url=args.base_url,
        api_key="sk-test",
        timeout=args.timeout,
        max_retries=args.retries,
    )
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Count to five."}],
        stream=True,
    )
    for chunk in stream:
        print(chunk, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
