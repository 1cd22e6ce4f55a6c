"""A WebSocket client for `httpfault probe --protocol ws`, on Python's websockets: connects to
URL (http:// becomes ws://, https:// wss:// trusting $HTTPFAULT_CA), sends one text message,
`hello`, prints each message it receives on a line, and ends when the server closes: exit 0
on a close frame with 1000, 1 otherwise (the close code or the exception on stderr).

    python ws_client.py URL [--keepalive S] [--close-timeout S]

--keepalive S: a ping every S seconds, and the connection fails when its pong is S late
(websockets' ping_interval and ping_timeout; default: websockets' own, 20 s).
--close-timeout S: how long the closing handshake may take (default websockets' 10 s).
websockets' max_size is its default, 1 MiB.
"""

import asyncio
import os
import ssl
import sys

import websockets


async def main() -> int:
    args = sys.argv[1:]
    url = "ws" + args[0][len("http"):] if args[0].startswith("http") else args[0]
    opts = {}
    if "--keepalive" in args:
        k = float(args[args.index("--keepalive") + 1])
        opts.update(ping_interval=k, ping_timeout=k)
    if "--close-timeout" in args:
        opts["close_timeout"] = float(args[args.index("--close-timeout") + 1])
    ca = os.environ.get("HTTPFAULT_CA")
    if url.startswith("wss:") and ca:
        opts["ssl"] = ssl.create_default_context(cafile=ca)
    try:
        async with websockets.connect(url, **opts) as ws:
            await ws.send("hello")
            async for message in ws:
                print(message if isinstance(message, str) else message.hex(), flush=True)
        code = ws.close_code
    except websockets.ConnectionClosed as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - report whatever it raises
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 1
    if code != 1000:
        print(f"closed with {code}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
