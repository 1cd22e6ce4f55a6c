#!/usr/bin/env python3
"""benches/h2_limits.py: what hostile HTTP/2 input costs the server (the README's "HTTP/2
limits" figures). Starts target/release/httpfault on port 0 and measures, on 127.0.0.1 only:
  - PING flood: 2M PINGs (34 MB) on one connection: server CPU seconds, bytes answered
  - SETTINGS flood: 2M empty SETTINGS (18 MB): the same
  - CONTINUATION flood: HEADERS + endless empty CONTINUATIONs: frames read before GOAWAY
  - held streams: 100 streams held open (stall@0) on one connection: RSS growth
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
finally:
    p.terminate()
    p.wait()
