#!/usr/bin/env python3
"""benches/stack.py: stack pages touched per held connection, read from /proc.

Starts BIN on 127.0.0.1 port 0, holds N connections (plain: each sends a GET and the plan
`hang` holds it; --tls: each finishes its handshake and then sits idle, as benches/tls.sh holds
them), and reads, for every connection thread (its name is httpfault-conn), the resident size
of the stack mapping that holds its stack pointer (/proc/PID/task/TID/syscall gives the
pointer of a thread blocked in a system call; /proc/PID/smaps the mapping's Rss). Fresh
anonymous pages cost memory only once touched, so this is the deepest the connection's code
went, plus the thread's control block at the top of its stack.

Prints one line: `stack_kib_mean=... stack_kib_max=... threads=... rss_kib_per_conn=...`.
With --deepest, also prints the return addresses left in the deepest touched page of one
thread (stale frames stay in memory), symbolised with the symbols of BIN (an unstripped build):
the call chain that went deepest.

Usage: stack.py BIN [--tls | --ws] [-n N] [--deepest]
(--ws: WebSocket connections idle after their 101, against the plan `ok`.)
Loopback only; every step has a deadline; the server is stopped (by its PID) at the end.
"""
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time

PAGE = os.sysconf("SC_PAGE_SIZE")


def maps(pid):
    """[(start, end, perms, rss_kib)] of every mapping, from smaps."""
    out, cur = [], None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) ", line)
            if m:
                cur = [int(m.group(1), 16), int(m.group(2), 16), m.group(3), 0]
                out.append(cur)
            elif line.startswith("Rss:") and cur is not None:
                cur[3] = int(line.split()[1])
    return out


def conn_threads(pid):
    """{tid: stack pointer} of the connection threads blocked in a system call."""
    sps = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() != "httpfault-conn":
                    continue
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                fields = f.read().split()
        except OSError:
            continue
        if len(fields) >= 9:  # nr, 6 args, sp, pc
            sps[int(tid)] = int(fields[7], 16)
    return sps


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start(binary, tls, tmp, ws=False):
    args = [binary, "-q", "--max-conns", "20000", "--read-timeout", "120s", "-l", "127.0.0.1:0"]
    if tls:
        args += ["--tls", "--cert-out", os.path.join(tmp, "ca.pem"), "status=200"]
    elif ws:
        args += ["ok"]
    else:
        args += ["hang"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        m = re.search(r"listening on https?://127\.0\.0\.1:(\d+)", line)
        if m:
            return proc, int(m.group(1))
        if not line and proc.poll() is not None:
            break
    proc.kill()
    sys.exit(f"stack.py: {binary} did not start")


WS_UPGRADE = (b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def hold(port, n, tls, tmp, ws=False):
    ctx = None
    if tls:
        ctx = ssl.create_default_context(cafile=os.path.join(tmp, "ca.pem"))
    held = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        if tls:
            s = ctx.wrap_socket(s, server_hostname="localhost")
        elif ws:
            s.sendall(WS_UPGRADE)
            head = b""
            while not head.endswith(b"\r\n\r\n") and len(head) < 4096:
                b = s.recv(1)
                if not b:
                    sys.exit("stack.py: the server closed during the WebSocket handshake")
                head += b
            if not head.startswith(b"HTTP/1.1 101 "):
                sys.exit(f"stack.py: no 101: {head!r}")
        else:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        held.append(s)
    return held


def symbols(binary):
    """Sorted [(addr, name)] of BIN's function symbols (nm), or [] when stripped."""
    try:
        out = subprocess.run(["nm", "-C", "--defined-only", binary], capture_output=True,
                             text=True, timeout=120).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    syms = []
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in "tTwW":
            syms.append((int(parts[0], 16), parts[2]))
    syms.sort()
    return syms


def deepest(pid, binary, lo, hi, sp):
    """Prints the code addresses found from the lowest touched word of the stack up to sp."""
    import bisect
    text = [(s, e) for s, e, p, _ in maps(pid) if "x" in p]
    base = None
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            if line.rstrip().endswith(os.path.realpath(binary)):
                base = int(line.split("-")[0], 16) - int(line.split()[2], 16)
                break
    syms = symbols(binary)
    addrs = [a for a, _ in syms]
    with open(f"/proc/{pid}/mem", "rb") as mem:
        mem.seek(lo)
        data = mem.read(hi - lo)
    words = [int.from_bytes(data[i:i + 8], "little") for i in range(0, len(data), 8)]
    first = next((i for i, w in enumerate(words) if w), None)
    if first is None:
        return
    low = lo + first * 8
    print(f"deepest touched byte: {sp - low} bytes below the blocked sp, "
          f"{hi - low} bytes below the mapping's top")
    seen = 0
    for i in range(first, len(words)):
        w = words[i]
        if not any(s <= w < e for s, e in text):
            continue
        addr = lo + i * 8
        name = "?"
        if base is not None and syms:
            k = bisect.bisect_right(addrs, w - base) - 1
            if k >= 0:
                name = syms[k][1][:110]
        mark = "*" if addr >= sp else " "
        print(f"  {mark} {hi - addr:6d} from top  {name}")
        seen += 1
        if seen > 80:
            break


def main():
    argv = sys.argv[1:]
    if not argv:
        sys.exit(__doc__)
    binary, tls, n, show = argv[0], "--tls" in argv, 1000, "--deepest" in argv
    ws = "--ws" in argv
    if "-n" in argv:
        n = int(argv[argv.index("-n") + 1])
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start(binary, tls, tmp, ws)
        try:
            warm = hold(port, 20, tls, tmp, ws)
            time.sleep(0.5)
            before = rss_kib(proc.pid)
            maps_before = maps(proc.pid)
            held = hold(port, n, tls, tmp, ws)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(conn_threads(proc.pid)) < n + len(warm):
                time.sleep(0.1)
            time.sleep(0.5)
            after = rss_kib(proc.pid)
            sps = conn_threads(proc.pid)
            mm = maps(proc.pid)
            sizes = []
            one = None
            for sp in sps.values():
                for s, e, p, r in mm:
                    if s <= sp < e:
                        sizes.append(r)
                        one = (s, e, sp)
                        break
            if not sizes:
                sys.exit("stack.py: no connection thread found")
            print(f"stack_kib_mean={sum(sizes) / len(sizes):.2f} stack_kib_max={max(sizes)} "
                  f"threads={len(sizes)} rss_kib_per_conn={(after - before) / n:.2f} "
                  f"held={len(held)} tls={int(tls)} ws={int(ws)}")
            if show:
                stacks = {(st, e) for st, e, p, r in mm for sp in sps.values() if st <= sp < e}
                def other(mapping):
                    return sum(r for st, e, p, r in mapping if (st, e) not in stacks)
                print(f"other (not connection stacks) rss delta per conn: "
                      f"{(other(mm) - other(maps_before)) / n:.2f} KiB")
                old = {(st, e): r for st, e, p, r in maps_before}
                delta = {}
                for st, e, p, r in mm:
                    if (st, e) in stacks:
                        continue
                    key = f"{(e - st) // 1024} KiB {p}"
                    delta[key] = delta.get(key, 0) + r - old.get((st, e), 0)
                for key, d in sorted(delta.items(), key=lambda kv: -abs(kv[1]))[:8]:
                    print(f"   {d:8d} KiB rss more in mappings of {key}")
            if show and one:
                deepest(proc.pid, binary, one[0], one[1], one[2])
        finally:
            proc.kill()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
