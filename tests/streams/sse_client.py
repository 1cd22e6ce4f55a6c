"""An event stream read with httpx-sse, resuming as an app does (and as EventSource does).

    python sse_client.py URL... [--timeout SECONDS] [--resume N]

For each URL in turn (one process), prints `url URL`, then for each attempt: it connects (with `Last-Event-ID` set to the last id seen, after the first) and
prints one line per thing that happens:
    connect LAST_ID        an attempt starts (LAST_ID: - for none)
    status CODE            the response's status, when it is not 200
    retry MS               an event carried a retry field
    event ID DATA          an event was dispatched (ID: - for none)
    end                    the stream ended cleanly
    error CLASS            reading raised CLASS (an httpx exception, or httpx-sse's SSEError)
After an error or a clean end it reconnects, up to N times (default 0); a 204 stops it, as
the HTML spec says. Exit 0: the test reads the lines (tests/streams.rs, docs/streams.md).
"""

import argparse
import sys

import httpx
from httpx_sse import connect_sse


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("url", nargs="+")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--resume", type=int, default=0)
    args = ap.parse_args()
    for url in args.url:
        print("url", url, flush=True)
        read(url, args.timeout, args.resume)
    return 0


def read(url: str, timeout: float, resume: int) -> None:
    last = None
    with httpx.Client(timeout=timeout) as client:
        for _ in range(resume + 1):
            headers = {} if last is None else {"Last-Event-ID": last}
            print("connect", last or "-", flush=True)
            try:
                with connect_sse(client, "GET", url, headers=headers) as source:
                    status = source.response.status_code
                    if status != 200:
                        print("status", status, flush=True)
                    if status == 204:
                        return
                    for ev in source.iter_sse():
                        if ev.retry is not None:
                            print("retry", ev.retry, flush=True)
                        if ev.id:
                            last = ev.id
                        print("event", ev.id or "-", ev.data, flush=True)
                print("end", flush=True)
            except Exception as e:  # noqa: BLE001 - the point is to report whatever it raises
                print("error", type(e).__name__, flush=True)


if __name__ == "__main__":
    sys.exit(main())
