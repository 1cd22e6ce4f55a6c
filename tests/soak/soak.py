#!/usr/bin/env python3
"""Soak test client for httpfault (Python 3.11 standard library only).

Started by tests/soak.sh, which builds the release binary, starts one server with
`-l 127.0.0.1:0 --read-timeout 2s --seed 1` and a text log, and passes its PID, port and
log file here. This program then:

1. reads the baseline: open descriptors (/proc/PID/fd) and `Threads:` (/proc/PID/status);
2. runs the load phase, bounded in time (--duration) and in requests (--max-requests):
   worker threads mix every plan of the catalogue (alone, kept alive, pipelined) with
   hostile clients (clients that vanish mid-response, garbage, oversized heads, too many
   headers, bad Content-Length, chunked request bodies good and bad), while one "slow"
   thread keeps slowloris clients, silent connections, stalled request bodies and stalled
   readers open, and a canary sends one healthy request a second. Every response is checked
   where that is cheap (bytes, framing, how the connection ended); anything else is counted
   as an unexpected outcome, with the first few described. /proc is sampled every second;
3. waits (up to --settle seconds) for descriptors and threads to return to the baseline,
   times one normal request (`/status=200`, must answer within --final-max), and reads the
   server log: no line may contain "panicked";
4. prints a summary and exits 1 if any check failed (0 otherwise, 2 on a usage error).

Only 127.0.0.1 is ever contacted.
"""

import argparse
import os
import random
import re
import socket
import struct
import sys
import threading
import time
from collections import Counter, defaultdict

HOST = "127.0.0.1"
FILLER = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
FILL = FILLER * (16 * 1024 * 1024 // 64)  # body=SIZE is FILLER repeated; up to 16 MiB
HELLO = b"Hello, world!"
NO_BODY_STATUS = {204, 304} | set(range(100, 200))
IO_TIMEOUT = 5.0  # every blocking socket call; hitting it is an unexpected outcome


# ---------------------------------------------------------------------------------------
# Shared state

class Stats:
    """Counters shared by every client thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0  # HTTP requests sent (hostile attempts included)
        self.connections = 0  # successful connect() calls
        self.by_kind = defaultdict(Counter)  # kind -> Counter(requests, ok, bad, outcome:...)
        self.by_mode = defaultdict(Counter)  # mode -> Counter(runs, requests, connections)
        self.unexpected = 0
        self.examples = []  # first unexpected outcomes, described
        self.latencies = []  # canary latencies (s)
        self.timings = defaultdict(list)  # kind -> measured seconds (slowloris close, ...)

    def connected(self):
        with self.lock:
            self.connections += 1

    def request(self, kind, outcome="ok", n=1):
        with self.lock:
            self.requests += n
            c = self.by_kind[kind]
            c["requests"] += n
            c["ok"] += n
            if outcome != "ok":
                c["outcome:" + outcome] += n

    def outcome(self, kind, outcome):
        """An expected outcome of a connection-level kind that sends no request."""
        with self.lock:
            c = self.by_kind[kind]
            c["ok"] += 1
            c["outcome:" + outcome] += 1

    def bad(self, kind, what, n=1):
        with self.lock:
            self.requests += n
            self.unexpected += 1
            c = self.by_kind[kind]
            c["requests"] += n
            c["bad"] += 1
            if len(self.examples) < 40:
                self.examples.append(f"{kind}: {what}")

    def mode(self, mode, runs=1):
        with self.lock:
            self.by_mode[mode]["runs"] += runs

    def timing(self, kind, seconds):
        with self.lock:
            self.timings[kind].append(seconds)


class Unexpected(Exception):
    """A response or connection ending that the plan does not allow."""


STATS = Stats()
STOP = threading.Event()  # the load phase is over
ADDR = (HOST, 0)


def budget_left(deadline, max_requests):
    return (not STOP.is_set() and time.monotonic() < deadline
            and STATS.requests < max_requests)


# ---------------------------------------------------------------------------------------
# A small HTTP/1.1 client over a raw socket

class Conn:
    """A client socket with a read buffer, recording how the server ended the connection."""

    def __init__(self, timeout=IO_TIMEOUT, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            # Set before connect: a fixed receive buffer (no autotuning, a small window).
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(ADDR)
        except OSError:
            self.sock.close()
            raise
        STATS.connected()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.end = None  # None while open, then "eof" or "reset"

    def send(self, data):
        self.sock.sendall(data)

    def fill(self):
        """One recv into the buffer. False once the server has ended the connection."""
        if self.end:
            return False
        try:
            data = self.sock.recv(256 * 1024)
        except ConnectionResetError:
            self.end = "reset"
            return False
        if not data:
            self.end = "eof"
            return False
        self.buf += data
        return True

    def take(self, n):
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_until(self, sep, limit=256 * 1024):
        start = 0
        while True:
            i = self.buf.find(sep, start)
            if i >= 0:
                return self.take(i + len(sep))
            if len(self.buf) > limit:
                raise Unexpected(f"no {sep!r} in {len(self.buf)} bytes")
            start = max(0, len(self.buf) - len(sep) + 1)
            if not self.fill():
                raise Unexpected(f"{self.end} after {len(self.buf)} bytes, wanted {sep!r}: "
                                 f"{bytes(self.buf[:80])!r}")

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self.fill():
                raise Unexpected(f"{self.end} after {len(self.buf)} of {n} bytes")
        return self.take(n)

    def read_to_end(self, limit=32 * 1024 * 1024):
        """Everything until the server ends the connection; returns (bytes, "eof"|"reset")."""
        while self.fill():
            if len(self.buf) > limit:
                raise Unexpected(f"more than {limit} bytes")
        return self.take(len(self.buf)), self.end

    def quiet_for(self, seconds):
        """True if nothing arrives and the connection stays open for `seconds`."""
        self.sock.settimeout(seconds)
        try:
            got = self.fill()
        except TimeoutError:
            return True
        finally:
            self.sock.settimeout(IO_TIMEOUT)
        if got:
            raise Unexpected(f"bytes arrived while the server should be silent: "
                             f"{bytes(self.buf[:60])!r}")
        raise Unexpected(f"connection ended ({self.end}) while it should stay open")

    def close(self, rst=False):
        try:
            if rst:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     struct.pack("ii", 1, 0))
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Response:
    def __init__(self, head):
        self.head = head
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise Unexpected(f"bad status line {lines[0][:80]!r}")
        self.status = int(parts[1])
        self.reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
        self.headers = {}
        for line in lines[1:]:
            if not line:
                continue
            name, colon, value = line.partition(b":")
            if not colon:
                raise Unexpected(f"bad header line {line[:80]!r}")
            self.headers[name.strip().lower().decode("latin-1")] = \
                value.strip().decode("latin-1")
        self.body = b""
        self.chunks = None  # chunk sizes, for chunked bodies

    def header(self, name):
        return self.headers.get(name.lower())

    def closes(self):
        return "close" in (self.header("connection") or "").lower()


def read_response(c, method="GET"):
    """Reads one response with its framing. The body may end with the connection only when
    the response has neither Content-Length nor chunked encoding."""
    r = Response(c.read_until(b"\r\n\r\n"))
    te = r.header("transfer-encoding")
    cl = r.header("content-length")
    if method == "HEAD" or r.status in NO_BODY_STATUS:
        return r
    if te is not None:
        if te.lower() != "chunked":
            raise Unexpected(f"Transfer-Encoding {te!r}")
        body, sizes = bytearray(), []
        while True:
            line = c.read_until(b"\r\n", limit=4096)[:-2]
            try:
                size = int(line, 16)
            except ValueError:
                raise Unexpected(f"bad chunk-size line {line!r}") from None
            sizes.append(size)
            if size == 0:
                if c.read_exact(2) != b"\r\n":
                    raise Unexpected("no CRLF after the last chunk")
                break
            body += c.read_exact(size)
            if c.read_exact(2) != b"\r\n":
                raise Unexpected("no CRLF after chunk data")
        r.body, r.chunks = bytes(body), sizes
    elif cl is not None:
        r.body = c.read_exact(int(cl))
    else:
        r.body, end = c.read_to_end()
        if end != "eof":
            raise Unexpected(f"close-delimited body ended by {end}")
    return r


def get(path, extra=b"", version=b"HTTP/1.1"):
    return b"GET " + path.encode() + b" " + version + b"\r\nHost: 127.0.0.1\r\n" + extra + b"\r\n"


def post(path, body, extra=b""):
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body)


def expect(cond, what):
    if not cond:
        raise Unexpected(what)


def expect_status(r, status, body=None):
    expect(r.status == status, f"status {r.status}, expected {status}")
    if body is not None and r.body != body:
        raise Unexpected(f"body {r.body[:60]!r} ({len(r.body)} bytes), expected "
                         f"{body[:60]!r} ({len(body)} bytes)")


def split_head(raw):
    """Splits raw response bytes into (Response, body bytes)."""
    i = raw.find(b"\r\n\r\n")
    expect(i >= 0, f"no complete head in {raw[:80]!r}")
    return Response(raw[:i + 4]), raw[i + 4:]


# ---------------------------------------------------------------------------------------
# Well-formed cases: used alone, on kept-alive connections and pipelined.
# Each is (kind, build(rng) -> (method, request bytes, check(response, request, elapsed))).

def healthy_cases():
    def simple(kind, path, check, method="GET"):
        def build(rng):
            req = get(path) if method == "GET" else (
                b"HEAD " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            return method, req, check
        return kind, build

    def status503(r, req, t):
        expect_status(r, 503, HELLO)
        expect(r.reason == "Service Unavailable", f"reason {r.reason!r}")

    def status204(r, req, t):
        expect_status(r, 204, b"")
        expect(r.header("content-length") is None, "Content-Length on a 204")

    def status599(r, req, t):
        expect_status(r, 599, HELLO)
        expect(r.reason == "Unknown", f"reason {r.reason!r}")

    def header(r, req, t):
        expect_status(r, 200, HELLO)
        expect(r.header("x-soak") == "abc def", f"X-Soak {r.header('x-soak')!r}")

    def body64k(r, req, t):
        expect_status(r, 200, FILL[:65536])

    def text(r, req, t):
        expect_status(r, 200, b"hi there")

    def chunked8(r, req, t):
        expect_status(r, 200, HELLO)
        expect(r.chunks == [8, 5, 0], f"chunk sizes {r.chunks}")

    def chunked5(r, req, t):
        expect_status(r, 200, FILL[:100])
        expect(r.chunks == [5] * 20 + [0], f"chunk sizes {r.chunks}")

    def delay(r, req, t):
        expect_status(r, 200, HELLO)
        expect(t is None or t >= 0.009, f"delay=10ms answered after {t}s")

    def pause(r, req, t):
        expect_status(r, 200, HELLO)
        expect(t is None or t >= 0.019, f"pause=6,20ms took only {t}s")

    def rate(r, req, t):
        expect_status(r, 200, FILL[:4096])
        # 4096 body bytes plus the head at 64 KiB/s: about 63 ms.
        expect(t is None or t >= 0.05, f"rate=64k/body=4k took only {t}s")

    def head(r, req, t):
        expect_status(r, 200, b"")
        expect(r.header("content-length") == "1024", f"HEAD Content-Length "
                                                     f"{r.header('content-length')!r}")

    def badplan_build(rng):
        path = rng.choice(["/status=abc", "/status=1000", "/body=1x", "/pause=6",
                           "/reset=6/close=6", "/text=a/body=1", "/delay=5", "/chance=2",
                           "/times=0x", "/reuse=maybe", "/header=NoColon", "/rate=0"])
        return "GET", get(path), badplan

    def absolute_build(rng):
        req = b"GET http://127.0.0.1/status=201?q=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        return "GET", req, query

    def bare_lf_build(rng):
        return "GET", b"GET /status=201 HTTP/1.1\nHost: 127.0.0.1\n\n", query

    def badplan(r, req, t):
        expect(r.status == 400, f"status {r.status} for a bad plan")
        expect(r.body.startswith(b"bad plan:") and r.body.endswith(b"\n"),
               f"bad-plan body {r.body[:80]!r}")
        expect(not r.closes(), "a bad path plan closed a kept-alive connection")

    def query(r, req, t):
        expect_status(r, 201, HELLO)

    def echo_check(r, req, t):
        # `req` is the bytes sent for this request. Empty lines sent before a pipelined
        # request line may be echoed or not: both are "the request as received".
        if r.body != req.lstrip(b"\r\n"):
            expect_status(r, 200, req)
        expect(r.status == 200, f"status {r.status}")

    def echo_build(rng):
        body = rng.randbytes(rng.randrange(0, 4096))
        return "POST", post("/echo", body), echo_check

    def echo_chunked_build(rng):
        pieces = [rng.randbytes(rng.randrange(1, 300)) for _ in range(rng.randrange(1, 6))]
        body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
        req = (b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
               + body)
        return "POST", req, echo_check

    def upload_build(rng):
        # A request body the server reads and throws away (the default drain).
        body = rng.randbytes(rng.randrange(1, 200_000))
        req = post("/status=201", body)
        return "POST", req, query

    return [
        simple("status=503", "/status=503", status503),
        simple("status=204", "/status=204", status204),
        simple("status=599", "/status=599", status599),
        simple("header", "/header=X-Soak:abc%20def", header),
        simple("body=64k", "/body=64k", body64k),
        simple("text", "/text=hi%20there", text),
        ("echo", echo_build),
        ("echo-chunked-request", echo_chunked_build),
        ("upload", upload_build),
        simple("chunked", "/chunked", chunked8),
        simple("chunked=5", "/chunked=5/body=100", chunked5),
        simple("delay=10ms", "/delay=10ms", delay),
        simple("pause=6,20ms", "/pause=6,20ms", pause),
        simple("rate=64k", "/rate=64k/body=4k", rate),
        simple("HEAD", "/body=1k", head, method="HEAD"),
        ("bad-plan", badplan_build),
        ("absolute-form-target", absolute_build),
        ("bare-LF-request", bare_lf_build),
        simple("query", "/status=201?x=1&y=%2F", query),
    ]


HEALTHY = healthy_cases()
# Cheap cases weigh more so that the request count is high; slow ones (rate, big bodies) less.
HEALTHY_WEIGHTS = {"rate=64k": 0.3, "body=64k": 0.5, "upload": 0.3, "pause=6,20ms": 0.5,
                   "delay=10ms": 0.7}


def pick_healthy(rng, k, pipelined=False):
    # No big uploads in a pipelined batch: the client writes the whole batch before it reads,
    # so the batch must fit in the socket buffers.
    cases = [c for c in HEALTHY if not (pipelined and c[0] == "upload")]
    weights = [HEALTHY_WEIGHTS.get(kind, 1.0) for kind, _ in cases]
    return rng.choices(cases, weights=weights, k=k)


# ---------------------------------------------------------------------------------------
# Scenarios of the worker threads. Each opens its own connection(s), records its requests
# in STATS and raises Unexpected (or an OSError) when something is off.

def sc_keepalive(rng):
    """5 to 30 requests one after the other on one kept-alive connection."""
    STATS.mode("keepalive")
    cases = pick_healthy(rng, rng.randrange(5, 31))
    with Conn() as c:
        for kind, build in cases:
            method, req, check = build(rng)
            t0 = time.monotonic()
            try:
                c.send(req)
                r = read_response(c, method)
                check(r, req, time.monotonic() - t0)
            except (Unexpected, OSError) as e:
                STATS.bad(kind, f"keep-alive: {e!r}")
                return
            STATS.request(kind)
        how = rng.random()
        if how < 0.2:
            # The last request asks to close: Connection: close, then a FIN.
            try:
                c.send(get("/status=200", b"Connection: close\r\n"))
                r = read_response(c)
                expect_status(r, 200, HELLO)
                expect(r.closes(), "no Connection: close in the answer to one")
                rest, end = c.read_to_end()
                expect(rest == b"" and end == "eof", f"after Connection: close: {end} "
                                                     f"{rest[:40]!r}")
            except (Unexpected, OSError) as e:
                STATS.bad("connection-close-request", repr(e))
                return
            STATS.request("connection-close-request")
        elif how < 0.35:
            c.close(rst=True)  # the client leaves with a reset


def sc_pipelined(rng):
    """2 to 20 requests sent in one write, the answers read afterwards, in order; sometimes
    a fault ends the batch, sometimes the client leaves before reading."""
    STATS.mode("pipelined")
    cases = pick_healthy(rng, rng.randrange(2, 21), pipelined=True)
    built = [(kind,) + build(rng) for kind, build in cases]
    tail = rng.random()
    with Conn() as c:
        # Empty lines before a request line are allowed (RFC 9112, 2.2): sometimes add some.
        built = [(kind, method,
                  (b"\r\n" * rng.randrange(1, 3) if rng.random() < 0.2 else b"") + req, check)
                 for kind, method, req, check in built]
        data = b"".join(req for _, _, req, _ in built)
        if tail < 0.15:
            data += get("/reset=6") + get("/status=200")
        elif tail < 0.25:
            data += get("/close") + get("/status=200")
        elif tail < 0.35:
            data += get("/status=202", b"Connection: close\r\n") + get("/status=200")
        c.send(data)
        if tail > 0.92:
            # Vanish without reading the answers, half of the time with a reset.
            STATS.request("pipelined-then-vanish", n=len(built))
            c.close(rst=rng.random() < 0.5)
            return
        for kind, method, req, check in built:
            try:
                r = read_response(c, method)
                check(r, req, None)
            except (Unexpected, OSError) as e:
                STATS.bad(kind, f"pipelined: {e!r}")
                return
            STATS.request(kind)
        try:
            if tail < 0.15:
                raw, end = c.read_to_end()
                r, body = split_head(raw)
                expect(r.status == 200 and body == b"Hello," and end == "reset",
                       f"pipelined reset=6: {end} {raw[-20:]!r}")
                STATS.request("pipelined-reset=6", n=2)
            elif tail < 0.25:
                raw, end = c.read_to_end()
                expect(raw == b"" and end == "eof", f"pipelined close: {end} {raw[:40]!r}")
                STATS.request("pipelined-close", n=2)
            elif tail < 0.35:
                # The answer to the Connection: close request, then a FIN (never an RST,
                # although the next pipelined request is left unanswered).
                r = read_response(c)
                expect_status(r, 202, HELLO)
                expect(r.closes(), "no Connection: close")
                raw, end = c.read_to_end()
                expect(raw == b"" and end == "eof", f"after Connection: close: {end} "
                                                     f"{raw[:40]!r}")
                STATS.request("pipelined-connection-close", n=2)
        except (Unexpected, OSError) as e:
            STATS.bad("pipelined-fault", repr(e), n=2)


def one_shot(kind):
    """Decorator helper: a scenario of one request on a new connection."""
    def wrap(fn):
        def run(rng):
            STATS.mode("single")
            with Conn() as c:
                try:
                    got = fn(rng, c)
                except (Unexpected, OSError) as e:
                    STATS.bad(kind, repr(e))
                    return
                STATS.request(kind, outcome=got or "ok")
        run.kind = kind
        return run
    return wrap


def fault(kind, path, want_body, want_end, want_status=200):
    """A plan that cuts the response: read everything, compare the body bytes and the end."""
    @one_shot(kind)
    def run(rng, c):
        c.send(get(path))
        raw, end = c.read_to_end()
        if want_body is None:
            expect(raw == b"", f"expected no bytes, got {raw[:60]!r}")
        else:
            r, body = split_head(raw)
            expect(r.status == want_status, f"status {r.status}")
            expect(body == want_body, f"body {len(body)} bytes {body[:40]!r}, expected "
                                      f"{len(want_body)} bytes {want_body[:40]!r}")
        expect(end == want_end, f"ended by {end}, expected {want_end}")
    return run


sc_default = fault("default-plan(reset=6)", "/", b"Hello,", "reset")
sc_default_other = fault("default-plan(reset=6)", "/favicon.ico", b"Hello,", "reset")
sc_reset = fault("reset", "/reset", None, "reset")
sc_reset6 = fault("reset=6", "/reset=6", b"Hello,", "reset")
sc_reset_big = fault("body=1m/reset=512k", "/body=1m/reset=512k", FILL[:512 * 1024], "reset")
sc_close = fault("close", "/close", None, "eof")
sc_close6 = fault("close=6", "/close=6", b"Hello,", "eof")
sc_badchunk = fault("chunked=3/badchunk", "/chunked=3/badchunk",
                    b"3\r\nHel\r\nzz\r\nlo,\r\n3\r\n wo\r\n3\r\nrld\r\n1\r\n!\r\n0\r\n\r\n",
                    "eof")
sc_length_none = fault("length=none", "/length=none", HELLO, "eof")
sc_keepalive_no = fault("keepalive=no", "/keepalive=no", HELLO, "eof")


@one_shot("reset=head:10")
def sc_reset_head(rng, c):
    c.send(get("/reset=head:10"))
    raw, end = c.read_to_end()
    expect(raw == b"HTTP/1.1 2" and end == "reset", f"{end} {raw!r}")


@one_shot("length=N")
def sc_length(rng, c):
    c.send(get("/length=5"))
    r = Response(c.read_until(b"\r\n\r\n"))
    expect(r.header("content-length") == "5", f"Content-Length {r.header('content-length')}")
    body = c.read_exact(13)  # the real body goes out whatever the declared length
    expect(body == HELLO, f"body {body!r}")


@one_shot("garbage=64")
def sc_garbage(rng, c):
    c.send(get("/garbage=64"))
    raw, end = c.read_to_end()
    expect(len(raw) == 64 and end == "eof", f"{len(raw)} bytes, {end}")


RAW = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@one_shot("raw")
def sc_raw(rng, c):
    c.send(get("/raw=HTTP%2F1.1%20200%20OK%0D%0AContent-Length%3A%202%0D%0A%0D%0Aok"))
    raw, end = c.read_to_end()
    expect(raw == RAW and end == "eof", f"{end} {raw!r}")


@one_shot("hang")
def sc_hang(rng, c):
    c.send(get("/hang"))
    c.quiet_for(0.05)
    c.close(rst=rng.random() < 0.3)  # the client leaves


@one_shot("hang=6")
def sc_hang6(rng, c):
    c.send(get("/hang=6"))
    r = Response(c.read_until(b"\r\n\r\n"))
    expect(r.status == 200, f"status {r.status}")
    body = c.read_exact(6)
    expect(body == b"Hello,", f"body {body!r}")
    c.quiet_for(0.05)
    c.close(rst=rng.random() < 0.3)


@one_shot("idle=50ms")
def sc_idle(rng, c):
    c.send(get("/idle=50ms"))
    r = read_response(c)
    expect_status(r, 200, HELLO)
    t0 = time.monotonic()
    rest, end = c.read_to_end()
    t = time.monotonic() - t0
    expect(rest == b"" and end == "eof", f"idle end: {end} {rest[:40]!r}")
    expect(t >= 0.03, f"idle=50ms closed after {t:.3f}s")
    STATS.timing("idle=50ms", t)


def reuse(kind, want_end):
    @one_shot(kind)
    def run(rng, c):
        c.send(get("/" + kind))
        r = read_response(c)
        expect_status(r, 200, HELLO)
        try:
            c.send(get("/status=200"))
        except (BrokenPipeError, ConnectionResetError):
            pass
        raw, end = c.read_to_end()
        expect(raw == b"" and end == want_end, f"second request: {end} {raw[:40]!r}, "
                                               f"expected {want_end}")
    return run


sc_reuse_reset = reuse("reuse=reset", "reset")
sc_reuse_close = reuse("reuse=close", "eof")


def sc_times(rng):
    """times=3/reset on a path of its own: three resets, then a plain 200."""
    STATS.mode("single")
    path = f"/times=3/reset/header=X-Seq:{rng.getrandbits(64):x}"
    for i in range(4):
        with Conn() as c:
            try:
                c.send(get(path))
                if i < 3:
                    raw, end = c.read_to_end()
                    expect(raw == b"" and end == "reset",
                           f"request {i + 1}: {end} {raw[:40]!r}")
                else:
                    expect_status(read_response(c), 200, HELLO)
            except (Unexpected, OSError) as e:
                STATS.bad("times=3/reset", f"request {i + 1}: {e!r}")
                return
        STATS.request("times=3/reset", outcome="reset" if i < 3 else "200-after-3")


TIMES_SHARED = Counter()
TIMES_LOCK = threading.Lock()


def sc_times_shared(rng):
    """times=3/reset on one path shared by every thread: exactly 3 resets in the whole run."""
    STATS.mode("single")
    with Conn() as c:
        try:
            c.send(get("/times=3/reset"))
            if not c.fill() and c.end == "reset" and not c.buf:
                got = "reset"
            else:
                r = read_response(c)
                expect_status(r, 200, HELLO)
                got = "200"
        except (Unexpected, OSError) as e:
            STATS.bad("times=3/reset(shared path)", repr(e))
            return
    with TIMES_LOCK:
        TIMES_SHARED[got] += 1
    STATS.request("times=3/reset(shared path)", outcome=got)


def sc_chance(rng):
    STATS.mode("single")
    with Conn() as c:
        try:
            c.send(get("/chance=0.5/reset"))
            if not c.fill() and c.end == "reset" and not c.buf:
                got = "reset"
            else:
                r = read_response(c)
                expect_status(r, 200, HELLO)
                got = "200"
        except (Unexpected, OSError) as e:
            STATS.bad("chance=0.5/reset", repr(e))
            return
    STATS.request("chance=0.5/reset", outcome=got)


@one_shot("drain=no")
def sc_drain_no(rng, c):
    """drain=no, the body never sent: the whole answer at once, then a FIN."""
    c.send(b"POST /drain=no HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 65536\r\n\r\n")
    raw, end = c.read_to_end()
    r, body = split_head(raw)
    expect(r.status == 200 and body == HELLO, f"{r.status} {body!r}")
    expect(end == "eof", f"ended by {end}")


@one_shot("drain=no+upload")
def sc_drain_no_upload(rng, c):
    """drain=no with the body sent: the server answers without reading it, and closing with
    unread bytes may turn its FIN into an RST (the point of the step). What arrives must be
    a prefix of the answer."""
    body = rng.randbytes(rng.randrange(1000, 300_000))
    how = "sent"
    try:
        c.send(post("/drain=no", body))
    except (BrokenPipeError, ConnectionResetError):
        how = "send-failed"
    try:
        raw, end = c.read_to_end()
    except ConnectionResetError:
        raw, end = b"", "reset"
    want = b"HTTP/1.1 200 OK\r\n"
    expect(raw[:len(want)] == want[:len(raw)], f"not an answer: {raw[:60]!r}")
    if raw.endswith(HELLO):
        return f"{how}/answer/{end}"
    return f"{how}/partial/{end}"


@one_shot("http/1.0")
def sc_http10(rng, c):
    c.send(get("/status=200", version=b"HTTP/1.0"))
    r = Response(c.read_until(b"\r\n\r\n"))
    expect(r.status == 200 and r.closes(), f"{r.status} Connection={r.header('connection')}")
    body, end = c.read_to_end()
    expect(body == HELLO and end == "eof", f"{end} {body!r}")


@one_shot("expect-100-continue")
def sc_expect(rng, c):
    body = rng.randbytes(rng.randrange(1, 5000))
    head = (b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    c.send(head)
    interim = c.read_until(b"\r\n\r\n")
    expect(interim == b"HTTP/1.1 100 Continue\r\n\r\n", f"interim {interim!r}")
    c.send(body)
    r = read_response(c)
    expect_status(r, 200, head + body)


@one_shot("half-close-client")
def sc_half_close(rng, c):
    """The client sends its request and shuts down its side: the answer still comes whole."""
    c.send(get("/status=202"))
    c.sock.shutdown(socket.SHUT_WR)
    r = read_response(c)
    expect_status(r, 202, HELLO)
    rest, end = c.read_to_end()
    expect(rest == b"" and end == "eof", f"after the answer: {end} {rest[:40]!r}")


def bad_request(kind, data, statuses):
    """A request the server must refuse with one of `statuses`, then close with a FIN."""
    @one_shot(kind)
    def run(rng, c):
        payload = data(rng) if callable(data) else data
        try:
            c.send(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
        raw, end = c.read_to_end()
        r, body = split_head(raw)
        expect(r.status in statuses, f"status {r.status}, expected {statuses}")
        expect(end == "eof", f"ended by {end}")
        expect(body.endswith(b"\n") and r.header("content-length") == str(len(body)),
               f"error body {body[:60]!r}")
        return str(r.status)
    return run


def garbage_request(rng):
    n = rng.randrange(1, 2000)
    junk = bytes(b for b in rng.randbytes(n) if b not in b"\r\n") or b"\x00"
    return junk + b"\r\n\r\n"


def big_head(rng):
    return (b"GET /status=200 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
            + b"a" * rng.randrange(66_000, 200_000) + b"\r\n\r\n")


def many_headers(rng):
    return (b"GET /status=200 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + b"".join(b"X-H%d: v\r\n" % i for i in range(rng.randrange(101, 400))) + b"\r\n")


def bad_content_length(rng):
    value = rng.choice([b"abc", b"-1", b"5, 6", b"1e3", b"", b"99999999999999999999",
                        b"0x10"])
    return b"POST /status=200 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + value + \
        b"\r\n\r\nhello"


def bad_chunked_body(rng):
    body = rng.choice([b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n",
                       b"-1\r\nx\r\n0\r\n\r\n", b";5\r\nhello\r\n0\r\n\r\n",
                       b"fffffffffffffffffff\r\nx\r\n0\r\n\r\n"])
    return (b"POST /status=200 HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            + body)


sc_bad_garbage = bad_request("garbage-request", garbage_request, {400, 505, 501, 431})
sc_bad_bighead = bad_request("head>64KiB", big_head, {431})
sc_bad_manyheaders = bad_request("too-many-headers", many_headers, {431})
sc_bad_cl = bad_request("bad-content-length", bad_content_length, {400})
sc_bad_chunked = bad_request("bad-chunked-request-body", bad_chunked_body, {400, 413})
sc_bad_te_cl = bad_request(
    "chunked+content-length",
    b"POST /status=200 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", {400})
sc_bad_te = bad_request(
    "transfer-encoding=gzip",
    b"POST /status=200 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nxx", {501})
sc_bad_echo_big = bad_request(
    "echo-body>1MiB",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n" + b"x" * 1000, {413})
sc_bad_version = bad_request("HTTP/2.0-request", get("/status=200", version=b"HTTP/2.0"),
                             {505})


def sc_garbage_vanish(rng):
    """Binary junk with no line end (a TLS hello, say), then the client leaves."""
    STATS.mode("hostile")
    with Conn() as c:
        junk = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(
            b for b in rng.randbytes(rng.randrange(1, 500)) if b != 10)
        c.send(junk)
        try:
            c.quiet_for(0.02)
        except Unexpected as e:
            STATS.bad("garbage-then-vanish", repr(e))
            return
        c.close(rst=rng.random() < 0.5)
    STATS.request("garbage-then-vanish")


def sc_vanish_body(rng):
    """A client that reads part of a big body, then leaves (FIN with unread data, or RST)."""
    STATS.mode("hostile")
    size = rng.choice(["1m", "4m"])
    total = {"1m": 1 << 20, "4m": 4 << 20}[size]
    with Conn() as c:
        try:
            c.send(get(f"/body={size}"))
            r = Response(c.read_until(b"\r\n\r\n"))
            expect(r.status == 200 and r.header("content-length") == str(total),
                   f"{r.status} {r.header('content-length')}")
            want = rng.randrange(0, 700_000)
            got = bytes(c.buf)
            while len(got) < want:
                if not c.fill():
                    raise Unexpected(f"{c.end} after {len(c.buf)} body bytes")
                got = bytes(c.buf)
            expect(got == FILL[:len(got)], "body bytes differ from the filler")
        except (Unexpected, OSError) as e:
            STATS.bad("vanish-mid-body", repr(e))
            return
        rst = rng.random() < 0.5
        c.close(rst=rst)
    STATS.request("vanish-mid-body", outcome="rst" if rst else "close")


def sc_vanish_slow(rng):
    """A client that leaves while the server waits: in a delay, a pause, a rate-limited
    body, or before a pipelined answer."""
    STATS.mode("hostile")
    path = rng.choice(["/delay=100ms", "/pause=6,200ms", "/rate=64k/body=1m",
                       "/pause=head:5,100ms/body=100k", "/delay=50ms/body=10m"])
    with Conn() as c:
        c.send(get(path))
        time.sleep(rng.uniform(0.0, 0.06))
        c.close(rst=rng.random() < 0.5)
    STATS.request("vanish-while-waiting")


def sc_burst(rng):
    """50 to 150 connections opened at once, each with a request held 50 ms by a delay, then
    all answers read: a burst of connection threads the server must wind down afterwards."""
    STATS.mode("burst")
    n = rng.randrange(50, 151)
    conns = []
    try:
        for _ in range(n):
            c = Conn()
            conns.append(c)
            c.send(get("/delay=50ms/status=201"))
        for c in conns:
            r = read_response(c)
            expect_status(r, 201, HELLO)
    except (Unexpected, OSError) as e:
        STATS.bad("burst", f"connection {len(conns)} of {n}: {e!r}")
        return
    finally:
        for c in conns:
            c.close()
    STATS.request("burst", n=n)


def sc_connect_close(rng):
    """Connect and leave at once, sending nothing (a browser's spare connection)."""
    STATS.mode("hostile")
    c = Conn()
    c.close(rst=rng.random() < 0.3)
    STATS.outcome("connect-and-leave", "ok")


SCENARIOS = [
    # (weight, scenario)
    (14, sc_keepalive), (7, sc_pipelined),
    (1, sc_default), (0.3, sc_default_other), (1, sc_reset), (1, sc_reset6),
    (0.5, sc_reset_big), (1, sc_close), (1, sc_close6), (1, sc_badchunk),
    (1, sc_length_none), (1, sc_keepalive_no), (0.5, sc_reset_head), (1, sc_length),
    (1, sc_garbage), (1, sc_raw), (1, sc_hang), (1, sc_hang6), (0.7, sc_idle),
    (1, sc_reuse_reset), (1, sc_reuse_close), (0.4, sc_times), (0.4, sc_times_shared),
    (1, sc_chance), (0.7, sc_drain_no), (0.7, sc_drain_no_upload), (0.7, sc_http10),
    (0.7, sc_expect), (0.7, sc_half_close),
    (1, sc_bad_garbage), (0.3, sc_bad_bighead), (0.5, sc_bad_manyheaders), (0.7, sc_bad_cl),
    (0.7, sc_bad_chunked), (0.3, sc_bad_te_cl), (0.3, sc_bad_te), (0.3, sc_bad_version),
    (0.7, sc_garbage_vanish), (1.5, sc_vanish_body), (1, sc_vanish_slow),
    (1, sc_connect_close), (0.3, sc_bad_echo_big), (0.05, sc_burst),
]


def worker(wid, seed, deadline, max_requests):
    rng = random.Random(seed * 1000 + wid)
    weights = [w for w, _ in SCENARIOS]
    fns = [f for _, f in SCENARIOS]
    while budget_left(deadline, max_requests):
        fn = rng.choices(fns, weights=weights)[0]
        try:
            fn(rng)
        except (Unexpected, OSError) as e:
            STATS.bad(getattr(fn, "kind", fn.__name__), f"outside a check: {e!r}")
        except Exception as e:  # a bug of this program: counted, so the run fails
            STATS.bad(getattr(fn, "kind", fn.__name__), f"client error: {e!r}")


# ---------------------------------------------------------------------------------------
# The slow thread: slowloris, silent connections, stalled bodies and stalled readers, many
# at once, driven by one loop of non-blocking sockets.

# A stalled reader asks for this much, with a 64 KiB receive buffer: far more than the
# socket buffers hold, so the server's writes stall and its write timeout must end them.
# It reads nothing for STALLED_WAIT seconds, then reads what the server sent before it gave
# up. The server's write timeout (--read-timeout) applies to each write call, and a stalled
# write can still make a little progress while the kernel grows its send buffer, so giving
# up takes up to about 3 x --read-timeout on Linux (6 s here); 10 s leaves room.
STALLED_BODY = 32 << 20
STALLED_WAIT = 10.0
SLOW_HEAD = (b"GET /status=200 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris\r\n"
             b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n")


class Slow:
    def __init__(self, kind, c, rng):
        self.kind, self.c, self.t0 = kind, c, time.monotonic()
        self.sent = 0
        self.next_send = self.t0
        self.received = 0
        if kind == "stalled-body":
            c.send(post("/status=200", b"x" * 1000)[:-rng.randrange(1, 900)])
        elif kind == "stalled-reader":
            c.send(get(f"/body={STALLED_BODY >> 20}m"))
            self.read_at = self.t0 + STALLED_WAIT
        c.sock.setblocking(False)


def slow_driver(seed, deadline, read_timeout):
    rng = random.Random(seed * 7919)
    target = {"slowloris": 14, "silent": 6, "stalled-body": 4, "stalled-reader": 2}
    live = []

    def finish(s, how, detail=""):
        """The server ended a slow connection: after about --read-timeout, with a FIN (an RST
        is accepted for slowloris: its next byte may arrive after the server closed)."""
        t = time.monotonic() - s.t0
        s.c.close()
        STATS.timing(s.kind, t)
        ok_end = how == "eof" or (how == "reset" and s.kind == "slowloris")
        lo, hi = read_timeout - 0.05, read_timeout + 2.0
        if s.kind == "stalled-reader":
            lo, hi = 0.0, STALLED_WAIT + 5.0
        if not ok_end or not lo <= t <= hi or detail:
            STATS.bad(s.kind, f"ended by {how} after {t:.2f}s {detail}",
                      n=0 if s.kind == "silent" else 1)
        elif s.kind == "silent":
            STATS.outcome(s.kind, how)
        else:
            STATS.request(s.kind, outcome=how)

    while not STOP.is_set() and time.monotonic() < deadline:
        for kind, n in target.items():
            while sum(1 for s in live if s.kind == kind) < n:
                try:
                    conn = Conn(rcvbuf=65536 if kind == "stalled-reader" else None)
                    live.append(Slow(kind, conn, rng))
                except OSError as e:
                    STATS.bad(kind, f"connect: {e!r}")
                    break
        now = time.monotonic()
        for s in list(live):
            c = s.c
            if s.kind == "stalled-reader":
                if now < s.read_at:
                    continue
                # Now read what the server sent before it gave up (a prefix, then the end),
                # a few reads per round so the other slow clients keep their pace.
                try:
                    for _ in range(16):
                        if not c.fill():
                            break
                except BlockingIOError:
                    continue
                if not c.end:
                    continue
                live.remove(s)
                try:
                    r, body = split_head(bytes(c.buf))
                    detail = ""
                    if len(body) >= STALLED_BODY:
                        detail = "the whole body arrived: the write timeout did not fire"
                    elif body != FILL[:len(body)]:
                        detail = "body bytes differ from the filler"
                    STATS.timing("stalled-reader body bytes", len(body))
                    finish(s, c.end, detail)
                except Unexpected as e:
                    c.close()
                    STATS.bad(s.kind, repr(e))
                continue
            try:
                data = c.sock.recv(4096)
                how = "eof" if not data else None
                if data:
                    live.remove(s)
                    c.close()
                    STATS.bad(s.kind, f"the server answered: {data[:60]!r}")
                    continue
            except BlockingIOError:
                how = None
            except ConnectionResetError:
                how = "reset"
            if how:
                live.remove(s)
                finish(s, how)
                continue
            if s.kind == "slowloris" and now >= s.next_send:
                if s.sent >= len(SLOW_HEAD):
                    live.remove(s)
                    c.close()
                    STATS.bad(s.kind, "whole head sent one byte at a time, no timeout")
                    continue
                try:
                    c.sock.send(SLOW_HEAD[s.sent:s.sent + 1])
                    s.sent += 1
                    s.next_send += 0.2
                except BlockingIOError:
                    pass
                except (BrokenPipeError, ConnectionResetError):
                    live.remove(s)
                    finish(s, "reset")
        time.sleep(0.02)
    # The load phase is over: leave every remaining slow connection.
    for s in live:
        s.c.close(rst=rng.random() < 0.5)
        STATS.outcome(s.kind, "left-at-end")


# ---------------------------------------------------------------------------------------
# Canary and /proc sampler

def canary(deadline):
    while not STOP.is_set() and time.monotonic() < deadline:
        t0 = time.monotonic()
        try:
            with Conn() as c:
                c.send(get("/status=200"))
                r = read_response(c)
                expect_status(r, 200, HELLO)
            STATS.latencies.append(time.monotonic() - t0)
            STATS.request("canary")
        except (Unexpected, OSError) as e:
            STATS.bad("canary", repr(e))
        STOP.wait(1.0)


def proc_sample(pid):
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/status") as f:
        threads = int(re.search(r"^Threads:\s*(\d+)", f.read(), re.M).group(1))
    return fds, threads


class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.samples = []  # (t, fds, threads)
        self.error = None
        self.done = threading.Event()

    def run(self):
        t0 = time.monotonic()
        while not self.done.is_set():
            try:
                fds, threads = proc_sample(self.pid)
            except (OSError, AttributeError) as e:
                self.error = repr(e)
                return
            self.samples.append((time.monotonic() - t0, fds, threads))
            self.done.wait(1.0)


# ---------------------------------------------------------------------------------------

def parse_log(path):
    events, ends, bad_reasons = Counter(), Counter(), Counter()
    panics, max_conn, lines = [], 0, 0
    timeout_ms = []  # `ms` of requests that ended by the write timeout (stalled readers)
    with open(path, "rb") as f:
        for raw in f:
            lines += 1
            line = raw.decode("utf-8", "replace")
            if "panic" in line:
                panics.append(line.rstrip())
            m = re.search(r" event=(\S+)", line)
            ev = m.group(1) if m else "(not an event line)"
            events[ev] += 1
            m = re.search(r" end=(\S+)", line)
            if m and ev == "request":
                ends[m.group(1)] += 1
                if m.group(1) == "timeout":
                    ms = re.search(r" ms=(\d+)", line)
                    timeout_ms.append(int(ms.group(1)) if ms else -1)
            m = re.search(r" conn=(\d+)", line)
            if m:
                max_conn = max(max_conn, int(m.group(1)))
            if ev == "bad-request":
                m = re.search(r' status=(\d+)', line)
                bad_reasons[m.group(1) if m else "?"] += 1
    return dict(lines=lines, events=events, ends=ends, panics=panics, max_conn=max_conn,
                bad_statuses=bad_reasons, timeout_ms=sorted(timeout_ms))


def final_request():
    t0 = time.monotonic()
    with Conn(timeout=5.0) as c:
        c.send(get("/status=200"))
        r = read_response(c)
        expect_status(r, 200, HELLO)
    return time.monotonic() - t0


def main():
    global ADDR
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pid", type=int, required=True, help="the server's PID")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True, help="the server's text log")
    ap.add_argument("--duration", type=float, default=60, help="load phase, seconds (max)")
    ap.add_argument("--max-requests", type=int, default=500000, help="load phase, requests")
    ap.add_argument("--min-requests", type=int, default=30000,
                    help="fail if the load phase sent fewer")
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--read-timeout", type=float, default=2.0,
                    help="the server's --read-timeout, seconds")
    ap.add_argument("--settle", type=float, default=15, help="max wait for the baseline, s")
    ap.add_argument("--final-max", type=float, default=1.0, help="max final latency, s")
    args = ap.parse_args()
    ADDR = (HOST, args.port)
    started = time.monotonic()
    failures = []

    # Baseline. The server has just started: nothing may be open yet but the listener.
    base_fds, base_threads = proc_sample(args.pid)
    sampler = Sampler(args.pid)
    sampler.start()

    # Load phase.
    load_t0 = time.monotonic()
    deadline = load_t0 + args.duration
    threads = [threading.Thread(target=worker, args=(i, args.seed, deadline, args.max_requests),
                                daemon=True) for i in range(args.workers)]
    threads.append(threading.Thread(target=slow_driver,
                                    args=(args.seed, deadline, args.read_timeout), daemon=True))
    threads.append(threading.Thread(target=canary, args=(deadline,), daemon=True))
    for t in threads:
        t.start()
    last_report = load_t0
    while any(t.is_alive() for t in threads[:args.workers]):
        time.sleep(0.5)
        now = time.monotonic()
        if now - last_report >= 10:
            last_report = now
            s = sampler.samples[-1] if sampler.samples else (0, 0, 0)
            print(f"soak: {now - load_t0:5.1f}s  requests={STATS.requests} "
                  f"connections={STATS.connections} unexpected={STATS.unexpected} "
                  f"fds={s[1]} threads={s[2]}", flush=True)
    STOP.set()  # the request budget may end the phase before the deadline
    for t in threads:
        t.join(timeout=IO_TIMEOUT * 3)
        if t.is_alive():
            failures.append(f"client thread {t.name} did not finish")
    load_secs = time.monotonic() - load_t0
    peak_fds = max((s[1] for s in sampler.samples), default=-1)
    peak_threads = max((s[2] for s in sampler.samples), default=-1)
    load_samples = len(sampler.samples)

    # Back to the baseline?
    settle_t0 = time.monotonic()
    after = (-1, -1)
    try:
        while True:
            after = proc_sample(args.pid)
            if after[0] <= base_fds and after[1] <= base_threads:
                break
            if time.monotonic() - settle_t0 >= args.settle:
                break
            time.sleep(0.25)
        settle_secs = time.monotonic() - settle_t0
        if after[0] > base_fds:
            fd_list = sorted(os.listdir(f"/proc/{args.pid}/fd"), key=int)
            failures.append(f"open descriptors {after[0]} > baseline {base_fds} after "
                            f"{settle_secs:.1f}s: {' '.join(fd_list)}")
        if after[1] > base_threads:
            failures.append(f"threads {after[1]} > baseline {base_threads} after "
                            f"{settle_secs:.1f}s")
    except (OSError, AttributeError) as e:
        settle_secs = time.monotonic() - settle_t0
        failures.append(f"the server process is gone: {e!r}")
    sampler.done.set()

    # Still answering at once?
    try:
        final = final_request()
        if final > args.final_max:
            failures.append(f"final /status=200 took {final:.3f}s (max {args.final_max}s)")
    except (Unexpected, OSError) as e:
        final = None
        failures.append(f"final /status=200 failed: {e!r}")

    # The log.
    time.sleep(0.1)  # the final request's log line
    log = parse_log(args.log)
    if log["panics"]:
        failures.append(f"{len(log['panics'])} log line(s) mention a panic, first: "
                        f"{log['panics'][0][:200]}")
    if sampler.error:
        failures.append(f"/proc sampling stopped: {sampler.error}")
    if STATS.unexpected:
        failures.append(f"{STATS.unexpected} unexpected outcome(s)")
    if STATS.requests < args.min_requests:
        failures.append(f"only {STATS.requests} requests (min {args.min_requests})")
    if log["max_conn"] != STATS.connections:
        failures.append(f"the server numbered {log['max_conn']} connections, the clients "
                        f"opened {STATS.connections}")
    if TIMES_SHARED["reset"] != min(3, sum(TIMES_SHARED.values())):
        failures.append(f"times=3/reset on a shared path: {TIMES_SHARED['reset']} resets in "
                        f"{sum(TIMES_SHARED.values())} requests, expected 3")
    chance = STATS.by_kind["chance=0.5/reset"]
    n_chance = chance["outcome:reset"] + chance["outcome:200"]
    if n_chance >= 100 and not 0.35 <= chance["outcome:reset"] / n_chance <= 0.65:
        failures.append(f"chance=0.5/reset: {chance['outcome:reset']} resets in {n_chance}")
    for kind, c in STATS.by_kind.items():
        if c["ok"] == 0 and kind != "canary":
            failures.append(f"kind {kind}: no expected outcome at all")

    # Summary.
    total = time.monotonic() - started
    print()
    print("=== httpfault soak summary ===")
    print(f"load phase        {load_secs:.1f} s, {args.workers} workers + slow clients + canary"
          f", seed {args.seed}")
    print(f"requests          {STATS.requests} ({STATS.requests / load_secs:.0f}/s), "
          f"connections {STATS.connections}, server numbered {log['max_conn']}")
    print(f"unexpected        {STATS.unexpected}")
    print(f"by mode           " + ", ".join(f"{m} {c['runs']}" for m, c in
                                            sorted(STATS.by_mode.items())))
    print()
    print(f"{'kind':34} {'requests':>9} {'expected':>9} {'unexp.':>7}  outcomes")
    for kind in sorted(STATS.by_kind):
        c = STATS.by_kind[kind]
        outs = ", ".join(f"{k[8:]} {v}" for k, v in sorted(c.items()) if k.startswith("outcome:"))
        print(f"{kind:34} {c['requests']:9} {c['ok']:9} {c['bad']:7}  {outs}")
    print()
    for kind, ts in sorted(STATS.timings.items()):
        ts = sorted(ts)
        if kind.endswith("bytes"):
            print(f"{kind:34} min {ts[0]} max {ts[-1]} of {STALLED_BODY} (n={len(ts)})")
            continue
        print(f"{kind + ' closed after':34} min {ts[0]:.3f}s  median {ts[len(ts) // 2]:.3f}s  "
              f"max {ts[-1]:.3f}s  (n={len(ts)})")
    if log["timeout_ms"]:
        tm = log["timeout_ms"]
        print(f"{'server write timeouts (log ms)':34} min {tm[0]} ms  max {tm[-1]} ms  "
              f"(n={len(tm)}, --read-timeout {args.read_timeout:g}s)")
    if STATS.latencies:
        lat = sorted(STATS.latencies)
        print(f"{'canary latency (1/s during load)':34} min {lat[0] * 1000:.1f} ms  median "
              f"{lat[len(lat) // 2] * 1000:.1f} ms  max {lat[-1] * 1000:.1f} ms  (n={len(lat)})")
    print()
    print(f"descriptors       baseline {base_fds}, peak {peak_fds} during load, "
          f"after {after[0]}  ({load_samples} samples, 1/s)")
    print(f"threads           baseline {base_threads}, peak {peak_threads} during load, "
          f"after {after[1]}")
    print(f"back to baseline  {settle_secs:.1f} s after the load phase"
          + ("" if 0 <= after[0] <= base_fds and 0 <= after[1] <= base_threads
             else " (NOT REACHED)"))
    print(f"final request     " + (f"{final * 1000:.1f} ms" if final is not None else "FAILED"))
    print(f"server log        {log['lines']} lines, panics {len(log['panics'])}; events: "
          + ", ".join(f"{k} {v}" for k, v in log["events"].most_common()))
    print(f"                  request ends: "
          + ", ".join(f"{k} {v}" for k, v in log["ends"].most_common())
          + "; bad-request statuses: "
          + ", ".join(f"{k} {v}" for k, v in sorted(log["bad_statuses"].items())))
    print(f"run time          {total:.1f} s (this program)")
    if STATS.examples:
        print()
        print("first unexpected outcomes:")
        for e in STATS.examples:
            print("  " + e)
    print()
    if failures:
        for f in failures:
            print(f"FAIL: {f}")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
