"""Python websockets against httpfault: runs every scenario of a JSON list at once and prints
one JSON list of what the client saw. tests/ws.rs asserts it.

    target/venv/bin/python tests/ws/client.py ws://127.0.0.1:PORT SCENARIOS_JSON [CA_PEM_FILE]

With CA_PEM_FILE (and a wss:// base) the client trusts that CA, as a `wss://` client of a
`--tls` server does.

A scenario: {"name", "path", "send": [text...], "until": N (close with 1000 after N messages,
0: wait for the server), "timeout": ms, and websockets options: "max_size",
"ping_interval", "ping_timeout", "close_timeout", "subprotocols"}. A result: {"name", "got":
[message...] (a binary one as "bin:LEN", a text over 64 characters as "len:LEN"), "code" and
"reason" of the close frame received (null: none), "sent" (the code of the close frame the
client sent), "error" (the exception's class), "status" (a refused handshake's), "timeout"
(the scenario's time ran out with the connection open)}.
"""
import asyncio
import json
import ssl
import sys

import websockets

CA = sys.argv[3] if len(sys.argv) > 3 else None


def shown(m):
    if isinstance(m, bytes):
        return f"bin:{len(m)}"
    return m if len(m) <= 64 else f"len:{len(m)}"


async def scenario(base, s):
    r = {"name": s["name"], "got": [], "code": None, "reason": None, "sent": None,
         "error": None, "status": None, "timeout": False}
    opts = {k: s[k] for k in ("max_size", "ping_interval", "ping_timeout", "close_timeout",
                              "subprotocols") if k in s}
    opts.setdefault("close_timeout", 2)
    if CA:
        ctx = ssl.create_default_context(cafile=CA)
        ctx.check_hostname = False
        opts["ssl"] = ctx
    limit = asyncio.timeout(s.get("timeout", 5000) / 1000)
    try:
        async with limit:
            async with websockets.connect(base + s["path"], open_timeout=5, **opts) as ws:
                for m in s.get("send", []):
                    await ws.send(m)
                while True:
                    if s.get("until") and len(r["got"]) >= s["until"]:
                        await ws.close()
                        break
                    r["got"].append(shown(await ws.recv()))
                r["code"], r["reason"] = ws.close_code, ws.close_reason
    except websockets.ConnectionClosed as e:
        r["error"] = type(e).__name__
        if e.rcvd:
            r["code"], r["reason"] = int(e.rcvd.code), e.rcvd.reason
        if e.sent:
            r["sent"] = int(e.sent.code)
    except websockets.InvalidStatus as e:
        r["error"], r["status"] = type(e).__name__, e.response.status_code
    except TimeoutError:
        pass
    except Exception as e:  # the handshake's failures: InvalidHeaderValue, NegotiationError
        r["error"] = type(e).__name__
    if limit.expired():
        r["timeout"] = True
    return r


async def main():
    base, scenarios = sys.argv[1], json.loads(sys.argv[2])
    results = await asyncio.gather(*(scenario(base, s) for s in scenarios))
    print(json.dumps(results))


asyncio.run(main())
