"""The Python `websockets` echo server for `make bench-ws` (benches/ws.sh).

    target/venv/bin/python benches/ws_echo.py

Echoes every message back (no compression, as httpfault) and prints
"listening on ws://127.0.0.1:PORT" (a free port) on stdout.
"""
import asyncio

from websockets.asyncio.server import serve


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main():
    async with serve(echo, "127.0.0.1", 0, compression=None, max_size=2**20) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on ws://127.0.0.1:{port}", flush=True)
        await asyncio.get_running_loop().create_future()


asyncio.run(main())
