#!/usr/bin/env python3
"""benches/h2_limits.py: what hostile HTTP/2 input costs the server (the README's "HTTP/2
limits" figures). Starts target/release/httpfault on port 0 and measures, on 127.0.0.1 only:
  - PING flood: 2M PINGs (34 MB) on one connection: server CPU seconds, bytes answered
  - SETTINGS flood: 2M empty SETTINGS (18 MB): the same
  - CONTINUATION flood: HEADERS + endless empty CONTINUATIONs: frames read before GOAWAY
  - held streams: 100 streams held open (stall@0) on one connection: RSS growth
  - rapid reset (CVE-2023-44487): HEADERS with END_STREAM then RST_STREAM, in batches of 100,
    up to 100,000 streams: streams sent before GOAWAY, its code, server CPU
  - HPACK amplification: 16 MB of header blocks of 1-byte references to a 4,000-byte table
    entry, against 64 MB of plain literal blocks: server CPU per input MB, and the ratio
  - slowloris (--read-timeout 2s): a frame dripped a byte every 0.2 s after the preface, and
    a stream waiting for its request body: seconds until the server ends them (cap 15 s)
Usage: python3 benches/h2_limits.py [BINARY]"""
import os, socket, struct, subprocess, sys, time

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/httpfault"
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

def fr(kind, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", sid) + payload

def lit(n, v):
    return b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v

def block(path):
    return lit(b":method", b"GET") + lit(b":scheme", b"http") + lit(b":path", path)

def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

def rss(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])

def drain(s, until_bytes=None, secs=10.0):
    s.settimeout(0.5)
    got, end = 0, time.time() + secs
    while time.time() < end:
        try:
            b = s.recv(1 << 20)
        except socket.timeout:
            if until_bytes is None or got >= until_bytes:
                break
            continue
        if not b:
            break
        got += len(b)
        if until_bytes is not None and got >= until_bytes:
            break
    return got

def rapid_reset():
    s = conn()
    h = block(b"/")
    c0, sent, code = cpu(p.pid), 0, None
    s.settimeout(0.001)
    got = b""
    while sent < 100000 and code is None:
        batch = b"".join(fr(1, 5, 2 * (sent + i) + 1, h) + fr(3, 0, 2 * (sent + i) + 1, b"\0\0\0\x08")
                         for i in range(100))
        try:
            s.sendall(batch)
        except OSError:
            break
        sent += 100
        try:
            while True:
                b = s.recv(1 << 20)
                if not b:
                    break
                got += b
        except (socket.timeout, BlockingIOError, OSError):
            pass
        code = goaway_code(got)
    code = code if code is not None else goaway_code(got + drain_bytes(s))
    print(f"rapid reset: {sent} streams sent (HEADERS+END_STREAM, RST_STREAM) before "
          f"{'GOAWAY code %d' % code if code is not None else 'no GOAWAY'}; server CPU "
          f"{cpu(p.pid) - c0:.2f} s")
    s.close()

def goaway_code(buf):
    at = 0
    while at + 9 <= len(buf):
        n = int.from_bytes(buf[at:at + 3], "big")
        if at + 9 + n > len(buf):
            break
        if buf[at + 3] == 7:
            return int.from_bytes(buf[at + 13:at + 17], "big")
        at += 9 + n
    return None

def drain_bytes(s, secs=2.0):
    s.settimeout(0.5)
    out, end = b"", time.time() + secs
    while time.time() < end:
        try:
            b = s.recv(1 << 20)
        except (socket.timeout, OSError):
            break
        if not b:
            break
        out += b
    return out

def hpack_amplification():
    # Table entry: name "x", a 4,000-byte value (literal with incremental indexing).
    setup = b"\x40\x01x\x7f" + bytes([0x80 | ((4000 - 127) & 0x7f), (4000 - 127) >> 7]) + b"v" * 4000
    shapes = {
        "literal": (b"", (b"\x10\x28" + b"n" * 40 + b"\x3c" + b"v" * 60) * 150, 64 << 20),
        "indexed 4 KB entry": (setup, b"\xbe" * 16000, 16 << 20),
    }
    cost = {}
    for name, (first, blk, size) in shapes.items():
        s = conn()
        sid = 1
        if first:
            s.sendall(fr(1, 5, sid, block(b"/") + first))
            sid += 2
        c0 = cpu(p.pid)
        total = 0
        while total < size:
            # HEADERS without END_HEADERS plus CONTINUATIONs: one 16 KB block a stream.
            s.sendall(fr(1, 4, sid, blk))
            total += len(blk)
            sid += 2
            if sid % 64 == 1:
                drain_bytes(s, secs=0.01)
        drain_bytes(s, secs=1.0)
        cost[name] = (cpu(p.pid) - c0) / (total / 1e6)
        s.close()
    lit = cost["literal"]
    for name, c in cost.items():
        print(f"HPACK {name}: {c * 1000:.1f} ms of server CPU per input MB ({c / lit if lit else 0:.1f}x literal)")

def slowloris():
    q = subprocess.Popen([BIN, "-q", "-l", "127.0.0.1:0", "--read-timeout", "2s", "echo"], stdout=subprocess.PIPE)
    a = q.stdout.readline().decode().strip().rsplit("/", 1)[1]
    h, pt = a.rsplit(":", 1)
    try:
        for name, first, drip in [
            ("a frame dripped a byte every 0.2 s", b"", fr(0, 0, 1, b"x" * 1000)),
            ("a stream waiting for its request body", fr(1, 4, 1, block(b"/")), b""),
        ]:
            s = socket.create_connection((h, int(pt)))
            s.sendall(PREFACE + fr(4, 0, 0) + first)
            t0, i, ended = time.time(), 0, False
            s.settimeout(0.2)
            while time.time() - t0 < 15:
                try:
                    b = s.recv(65536)
                    if not b:
                        ended = True
                        break
                except socket.timeout:
                    pass
                except OSError:
                    ended = True
                    break
                if i < len(drip):
                    try:
                        s.sendall(drip[i:i + 1])
                    except OSError:
                        ended = True
                        break
                    i += 1
            took = time.time() - t0
            print(f"slowloris, --read-timeout 2s, {name}: "
                  + (f"connection ended after {took:.1f} s" if ended else f"still open after {took:.0f} s"))
            s.close()
    finally:
        q.terminate()
        q.wait()

p = subprocess.Popen([BIN, "-q", "-l", "127.0.0.1:0", "status=200"], stdout=subprocess.PIPE)
addr = p.stdout.readline().decode().strip().rsplit("/", 1)[1]
host, port = addr.rsplit(":", 1)
def conn():
    s = socket.create_connection((host, int(port)))
    s.sendall(PREFACE + fr(4, 0, 0))
    return s
try:
    for name, frame, n in [("PING", fr(6, 0, 0, b"12345678"), 2000000), ("SETTINGS", fr(4, 0, 0), 2000000)]:
        s = conn()
        c0 = cpu(p.pid)
        data = frame * n
        import threading
        out = {}
        t = threading.Thread(target=lambda: out.update(got=drain(s, until_bytes=len(data), secs=30)))
        t.start()
        s.sendall(data)
        t.join()
        print(f"{name} flood: {n} frames, {len(data)} bytes in; {out['got']} bytes out; "
              f"server CPU {cpu(p.pid) - c0:.2f} s")
        s.close()
    s = conn()
    s.sendall(fr(1, 0, 1, block(b"/")))
    sent = 0
    try:
        for i in range(100000):
            s.sendall(fr(9, 0, 1))
            sent += 1
    except OSError:
        pass
    got = drain(s)
    print(f"CONTINUATION flood: connection ended (GOAWAY) after the client wrote {sent} "
          f"CONTINUATION frames (the server reads at most 64 before ENHANCE_YOUR_CALM; the rest "
          f"are in socket buffers or refused); {got} bytes answered")
    s.close()
    time.sleep(0.3)
    r0 = rss(p.pid)
    s = conn()
    for i in range(100):
        s.sendall(fr(1, 5, 1 + 2 * i, block(b"/stall@0/body=1k")))
    drain(s, secs=1.5)
    r1 = rss(p.pid)
    print(f"held streams: 100 streams held (stall@0) on one connection: RSS +{r1 - r0} KiB "
          f"({(r1 - r0) / 100:.1f} KiB a stream, journal entries included)")
    s.close()
    rapid_reset()
    hpack_amplification()
finally:
    p.terminate()
    p.wait()
slowloris()
