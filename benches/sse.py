#!/usr/bin/env python3
"""Many concurrent Server-Sent Event streams against httpfault (`make bench-sse`).

    python3 benches/sse.py [--bin target/release/httpfault] [--conns 1000] [--rate 10]
                           [--secs 20] [--warmup 3]

Starts `httpfault -q --route 'GET /events sse=1000000,INTERVAL'` (INTERVAL = 1/rate) on a free
loopback port, opens --conns streams from one asyncio client (std library only), waits until
every stream has its first event, then measures for --secs seconds:

  - the server's CPU (utime + stime from /proc/PID/stat) as a % of one core,
  - its RSS (VmRSS) and threads,
  - the events received (each stream should get `rate` a second), and the longest gap between
    two events of one stream (a late wake-up shows here),
  - the client's own CPU, for scale (it shares the machine's cores).

Prints one Markdown table and exits 1 if the server used 25% of a core or more, or a stream fell
behind by more than 10%. Loopback only, bounded in time; the server is killed (by its PID) at
the end.
"""

import argparse
import asyncio
import os
import resource
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICKS = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> tuple:
    """Seconds of CPU the process has used: (user, system)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After the command: state is field 3; utime and stime are fields 14 and 15.
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS


def proc_status(pid: int, key: str) -> str:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].strip()
    return "?"


class Stream:
    def __init__(self) -> None:
        self.events = 0
        self.last = 0.0
        self.max_gap = 0.0
        self.measuring = False


async def read_stream(port: int, st: Stream, stop: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /events HTTP/1.1\r\nHost: bench\r\n\r\n")
    await writer.drain()
    tail = b""
    while not stop.is_set():
        data = await reader.read(65536)
        if not data:
            break
        now = time.monotonic()
        n = (tail + data).count(b"\n\n")
        tail = (tail + data)[-1:]
        if n:
            if st.measuring and st.last:
                st.max_gap = max(st.max_gap, now - st.last)
            st.last = now
            if st.measuring:
                st.events += n
            else:
                st.events = 1  # the first event arrived: this stream is up
    writer.close()


async def run(port: int, pid: int, args: argparse.Namespace) -> dict:
    stop = asyncio.Event()
    streams = [Stream() for _ in range(args.conns)]
    tasks = []
    for st in streams:
        tasks.append(asyncio.create_task(read_stream(port, st, stop)))
        if len(tasks) % 100 == 0:
            await asyncio.sleep(0.05)  # let the accepts keep up
    deadline = time.monotonic() + 60
    while sum(1 for s in streams if s.events) < args.conns:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {sum(1 for s in streams if s.events)} streams came up")
        await asyncio.sleep(0.1)
    await asyncio.sleep(args.warmup)
    for st in streams:
        st.events = 0
        st.measuring = True
    cpu0, wall0 = proc_cpu(pid), time.monotonic()
    me0 = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.sleep(args.secs)
    cpu1, wall1 = proc_cpu(pid), time.monotonic()
    me1 = resource.getrusage(resource.RUSAGE_SELF)
    rss, threads = proc_status(pid, "VmRSS"), proc_status(pid, "Threads")
    for st in streams:
        st.measuring = False
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    wall = wall1 - wall0
    total = sum(s.events for s in streams)
    slowest = min(s.events for s in streams) / wall
    user, system = (100 * (b - a) / wall for a, b in zip(cpu0, cpu1))
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    return {
        "cpu": user + system,
        "user": user,
        "system": system,
        "load": load,
        "client_cpu": 100 * ((me1.ru_utime + me1.ru_stime) - (me0.ru_utime + me0.ru_stime)) / wall,
        "events_per_s": total / wall,
        "slowest": slowest,
        "max_gap_ms": 1000 * max(s.max_gap for s in streams),
        "rss": rss,
        "threads": threads,
    }


def measure(cmd: list, args: argparse.Namespace) -> dict:
    """Starts the server `cmd`, reads its port from its readiness line, runs the streams."""
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        line = server.stdout.readline().decode()
        port = int(line.rsplit(":", 1)[1])
        return asyncio.run(run(port, server.pid, args))
    finally:
        server.kill()
        server.wait()


def build_floor() -> str:
    out = os.path.join(ROOT, "benches/out/bin")
    os.makedirs(out, exist_ok=True)
    exe = os.path.join(out, "sse_floor")
    src = os.path.join(ROOT, "benches/sse_floor.c")
    subprocess.run(["gcc", "-O2", "-pthread", "-o", exe, src], check=True)
    return exe


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/httpfault"))
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--rate", type=int, default=10)
    ap.add_argument("--secs", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--compare", action="store_true",
                    help="also measure benches/sse_floor.c (C, the same model), right after")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.conns + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.conns + 1000), hard))
    interval_ms = 1000 // args.rate
    plan = f"GET /events sse=1000000,{interval_ms}ms"
    runs = {"httpfault": measure([args.bin, "-q", "-l", "127.0.0.1:0", "--route", plan], args)}
    if args.compare:
        if args.rate != 10:
            raise SystemExit("--compare: the C floor sends 10 events a second")
        runs["C floor"] = measure([build_floor()], args)
    want = args.conns * args.rate
    print(f"{args.conns} streams at {args.rate} events/s each, {args.secs:.0f} s measured "
          f"(`{os.path.basename(args.bin)} -q --route '{plan}'`)\n")
    names = list(runs)
    print("| figure | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    rows = [
        ("server CPU, % of one core", lambda r: f"{r['cpu']:.1f}"),
        ("of which user / system", lambda r: f"{r['user']:.1f} / {r['system']:.1f}"),
        (f"events/s received (want {want})", lambda r: f"{r['events_per_s']:.0f}"),
        ("slowest stream, events/s", lambda r: f"{r['slowest']:.2f}"),
        ("longest gap between two events of a stream, ms", lambda r: f"{r['max_gap_ms']:.0f}"),
        ("server RSS", lambda r: r["rss"]),
        ("server threads", lambda r: r["threads"]),
        ("client CPU (asyncio, for scale), % of one core", lambda r: f"{r['client_cpu']:.1f}"),
        ("machine load average at the end (2 cores)", lambda r: r["load"]),
    ]
    for title, cell in rows:
        print(f"| {title} | " + " | ".join(cell(runs[n]) for n in names) + " |")
    r = runs["httpfault"]
    ok = r["cpu"] < 25 and r["slowest"] >= 0.9 * args.rate
    if not ok:
        print("\nFAILED: the server used 25% of a core or more, or a stream fell behind")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
