#!/usr/bin/env python3
"""The control API and journal under abuse (issue 16, items 9-13), loopback only, bounded.

usage: python3 benches/control_dos.py BIN [BIN ...]     (make bench-control)

For each binary, in the same run, one row per figure:
  9   RSS growth while 20 clients ask GET /__httpfault/requests of a ~20 MB journal and never
      read; and p99 / max of 2000 plain requests served while one client reads the journal
      over and over (the stall a journal read causes to everyone else; noisy on a busy host)
  10  --max-conns 20: 20 clients start ?wait long-polls and leave; seconds until a new client
      is served (cut off at 5 s: "no" means it was still locked out)
  11  keep-alive req/s (wrk -t2 -c32 -d3s) with no waiter and with 1000 pending ?wait polls
  12  RSS growth while 200 clients each send all but the last byte of a 1 MiB control PUT
  13  RSS after 600 path plans of `header=a:b` steps in 64 KiB paths
Every server listens on 127.0.0.1:0 and is killed (by its PID) after its scenario.
"""
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time

resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Server:
    def __init__(self, binary, *args):
        self.p = subprocess.Popen([binary, "-q", "--listen", "127.0.0.1:0", *args],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.p.stdout.readline()
        m = re.search(r"http://([\d.]+):(\d+)", line)
        if not m:
            raise SystemExit(f"{binary}: no readiness line: {line!r}")
        self.addr = (m.group(1), int(m.group(2)))

    def rss(self):
        return rss_kib(self.p.pid)

    def close(self):
        self.p.kill()
        self.p.wait()


def connect(addr, timeout=10):
    s = socket.create_connection(addr, timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_response(s):
    """One response on a keep-alive connection (Content-Length or chunked); returns the status."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise ConnectionError("closed")
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ")[1])
    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
    if m:
        n = int(m.group(1))
        while len(rest) < n:
            d = s.recv(65536)
            if not d:
                raise ConnectionError("closed")
            rest += d
    elif re.search(rb"(?i)transfer-encoding:\s*chunked", head):
        while not rest.endswith(b"\r\n0\r\n\r\n") and rest != b"0\r\n\r\n":
            d = s.recv(1 << 20)
            if not d:
                break
            rest += d
    return status


def fill_journal(addr, n, pad):
    s = connect(addr)
    req = f"GET /x HTTP/1.1\r\nHost: x\r\nX-Pad: {'p' * pad}\r\n\r\n".encode()
    for _ in range(n):
        s.sendall(req)
        read_response(s)
    s.close()


def item9(binary):
    srv = Server(binary, "status=200")
    try:
        fill_journal(srv.addr, 2500, 8000)
        time.sleep(0.3)
        before = srv.rss()
        held = []
        for _ in range(20):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(srv.addr)
            s.sendall(b"GET /__httpfault/requests HTTP/1.1\r\nHost: x\r\n\r\n")
            held.append(s)
        time.sleep(3)
        grown = srv.rss() - before
        for s in held:
            s.close()
        # The stall: one reader (a process of its own, so it shares no interpreter lock with
        # the timed client) reads the journal again and again while 2000 plain requests go.
        url = f"http://{srv.addr[0]}:{srv.addr[1]}/__httpfault/requests"
        reader = subprocess.Popen(["sh", "-c", f"while :; do curl -s -o /dev/null {url}; done"],
                                  start_new_session=True)
        time.sleep(0.5)
        c = connect(srv.addr)
        times = []
        for _ in range(2000):
            t0 = time.monotonic()
            c.sendall(b"GET /y HTTP/1.1\r\nHost: x\r\n\r\n")
            read_response(c)
            times.append(time.monotonic() - t0)
        os.killpg(reader.pid, 9)  # the loop and its curl: the group this script started
        reader.wait()
        times.sort()
        return [("9: RSS growth, 20 unread journal reads (MiB)", f"{grown / 1024:.1f}"),
                ("9: plain requests during journal reads, p99 / max (ms)",
                 f"{times[len(times) * 99 // 100] * 1000:.1f} / {times[-1] * 1000:.1f}")]
    finally:
        srv.close()


def item10(binary):
    srv = Server(binary, "--max-conns", "20", "status=200")
    try:
        polls = []
        for _ in range(20):
            s = connect(srv.addr)
            s.sendall(b"GET /__httpfault/requests?min=1000000&wait=300s HTTP/1.1\r\nHost: x\r\n\r\n")
            polls.append(s)
        time.sleep(0.3)
        for s in polls:
            s.close()
        t0 = time.monotonic()
        served = None
        while time.monotonic() - t0 < 5:
            try:
                c = connect(srv.addr, 2)
                c.sendall(b"GET /z HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if read_response(c) == 200:
                    served = time.monotonic() - t0
                    break
            except OSError:
                pass
            time.sleep(0.05)
        return [("10: a new client served after 20 long-polls left (s)",
                 "no (locked out)" if served is None else f"{served:.2f}")]
    finally:
        srv.close()


def wrk(addr):
    out = subprocess.run(["wrk", "-t2", "-c32", "-d3s", f"http://{addr[0]}:{addr[1]}/"],
                         capture_output=True, text=True).stdout
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    return float(m.group(1)) if m else 0.0


def item11(binary):
    if not shutil.which("wrk"):
        return [("11: req/s (wrk missing: apt-get install wrk)", "-")]
    srv = Server(binary, "status=200")
    try:
        base = wrk(srv.addr)
        polls = []
        for _ in range(1000):
            s = connect(srv.addr)
            s.sendall(b"GET /__httpfault/requests?min=1000000000&wait=300s HTTP/1.1\r\nHost: x\r\n\r\n")
            polls.append(s)
        time.sleep(1)
        loaded = wrk(srv.addr)
        for s in polls:
            s.close()
        return [("11: keep-alive req/s, no waiter", f"{base:.0f}"),
                ("11: keep-alive req/s, 1000 pending waits", f"{loaded:.0f}")]
    finally:
        srv.close()


def item12(binary):
    srv = Server(binary, "status=200")
    try:
        time.sleep(0.2)
        before = srv.rss()
        held = []
        body = b"#" * ((1 << 20) - 1)

        def put():
            s = connect(srv.addr, 30)
            held.append(s)
            try:
                s.sendall(b"PUT /__httpfault/routes HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n" + body)
            except OSError:
                pass  # refused (503) and closed: fine

        threads = [threading.Thread(target=put) for _ in range(200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(2)
        grown = srv.rss() - before
        for s in held:
            s.close()
        return [("12: RSS growth, 200 slow 1 MiB control PUTs (MiB)", f"{grown / 1024:.1f}")]
    finally:
        srv.close()


def item13(binary):
    srv = Server(binary, "status=200")
    try:
        plan = "/".join(["header=a:b"] * 5900)
        req = f"GET /{plan}/-/x HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        s = connect(srv.addr, 60)
        for _ in range(600):
            s.sendall(req)
            read_response(s)
        s.close()
        time.sleep(0.3)
        return [("13: RSS after 600 64 KiB path plans (MiB)", f"{srv.rss() / 1024:.1f}")]
    finally:
        srv.close()


def main():
    bins = sys.argv[1:]
    if not bins:
        raise SystemExit(__doc__)
    rows = {}
    order = []
    for b in bins:
        for f in (item9, item10, item11, item12, item13):
            for name, val in f(b):
                if name not in rows:
                    rows[name] = {}
                    order.append(name)
                rows[name][b] = val
                print(f"# {os.path.basename(b)}: {name}: {val}", file=sys.stderr, flush=True)
    print("| figure | " + " | ".join(bins) + " |")
    print("|---|" + "---|" * len(bins))
    for name in order:
        print(f"| {name} | " + " | ".join(rows[name].get(b, "-") for b in bins) + " |")


if __name__ == "__main__":
    main()
