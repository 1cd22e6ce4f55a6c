"""An event-stream client for `httpfault probe --protocol sse`, on httpx-sse.

    python sse_httpx.py URL [--resume] [--timeout SECONDS]

Prints each event's data on a line (stdout), as the probe's sse catalogue expects.
Without --resume it reads the stream once, as most apps do: exit 0 when the stream ends,
1 (the exception on stderr) on an error or a status other than 200.
With --resume it behaves as the HTML spec's EventSource: after an error or the stream's
end it reconnects, waiting the stream's `retry:` (default 500 ms), with `Last-Event-ID`
set to the last id it dispatched; a 204 stops it (exit 0); any other status but 200, or a
sixth reconnect, ends it with exit 1.
--timeout is httpx's timeout (connect and each read), default 2 s.
"""

import argparse
import sys
import time

import httpx
from httpx_sse import connect_sse

RECONNECTS = 5


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--timeout", type=float, default=2.0)
    args = ap.parse_args()
    last = None
    delay = 0.5
    with httpx.Client(timeout=args.timeout) as client:
        for attempt in range(RECONNECTS + 1 if args.resume else 1):
            if attempt > 0:
                time.sleep(delay)
            headers = {} if last is None else {"Last-Event-ID": last}
            try:
                with connect_sse(client, "GET", args.url, headers=headers) as source:
                    status = source.response.status_code
                    if status == 204 and args.resume:
                        return 0
                    if status != 200:
                        print(f"status {status}", file=sys.stderr)
                        return 1
                    for ev in source.iter_sse():
                        if ev.retry is not None:
                            delay = ev.retry / 1000
                        if ev.id:
                            last = ev.id
                        if ev.event == "message" and ev.data:
                            print(ev.data, flush=True)
                if not args.resume:
                    return 0
            except Exception as e:  # noqa: BLE001 - report whatever it raises
                print(f"{type(e).__name__}: {e}", file=sys.stderr)
                if not args.resume:
                    return 1
    return 1


if __name__ == "__main__":
    sys.exit(main())
