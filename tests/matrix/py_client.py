#!/usr/bin/env python3
"""Matrix helper: Python's http.client and urllib.request, and curl (one curl process per
request, as people use it), driven by tasks on stdin.

    python3 py_client.py http.client|urllib|curl

One task per line on stdin, tab-separated (the protocol of every helper, see matrix.py):

    ID  HOST:PORT  TIMEOUT_MS  METHOD  UPLOAD_BYTES  MODE  SLEEP_MS  PATH [PATH...]

MODE: `one` (one request), `same` (the requests on one connection, as far as the client keeps
connections; SLEEP_MS between them; a later request that the client sent on a new connection
instead is marked `(new connection)`), `new` (each request with a new connection/client).
For each task one JSON line on stdout: {"id": ID, "out": [outcome per request]}.

Outcomes:
  http.client  exception class name, or `ok STATUS N bytes`
  urllib       the same; HTTPError as `HTTPError STATUS`, URLError as `URLError(ReasonClass)`
  curl         `(EXIT) message` (ports and timings removed), or `ok STATUS N bytes`
"""

import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


def exc_name(e):
    return type(e).__name__


# --- http.client --------------------------------------------------------------------------

def hc_exchange(conn, method, path, body):
    conn.request(method, path, body=body)
    resp = conn.getresponse()
    data = resp.read()
    return f"ok {resp.status} {len(data)} bytes"


def run_http_client(host, port, timeout, method, body, mode, sleep, paths):
    out = []
    if mode == "same":
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            for i, path in enumerate(paths):
                if i:
                    time.sleep(sleep)
                # http.client reconnects by itself only when it has closed the socket.
                fresh = " (new connection)" if i and conn.sock is None else ""
                try:
                    out.append(hc_exchange(conn, method, path, body) + fresh)
                except Exception as e:  # noqa: BLE001 - the class name is the result
                    out.append(exc_name(e))
                    break
        finally:
            conn.close()
        return out
    for i, path in enumerate(paths):
        if i:
            time.sleep(sleep)
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            out.append(hc_exchange(conn, method, path, body))
        except Exception as e:  # noqa: BLE001
            out.append(exc_name(e))
        finally:
            conn.close()
    return out


# --- urllib.request -----------------------------------------------------------------------

def run_urllib(host, port, timeout, method, body, mode, sleep, paths):
    # urllib has no connection reuse at all (it sends `Connection: close`), so `same` is `new`.
    out = []
    for i, path in enumerate(paths):
        if i:
            time.sleep(sleep)
        req = urllib.request.Request(f"http://{host}:{port}{path}", data=body, method=method)
        fresh = " (new connection)" if i and mode == "same" else ""
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                data = resp.read()
                out.append(f"ok {resp.status} {len(data)} bytes{fresh}")
        except urllib.error.HTTPError as e:
            out.append(f"HTTPError {e.code}")
        except urllib.error.URLError as e:
            r = e.reason
            out.append(f"URLError({exc_name(r) if isinstance(r, BaseException) else r})")
        except Exception as e:  # noqa: BLE001
            out.append(exc_name(e))
    return out


# --- curl ---------------------------------------------------------------------------------

WRITE_OUT = "%{exitcode}\t%{http_code}\t%{size_download}\t%{num_connects}\t%{errormsg}\n"
UPLOAD_FILES = {}


def upload_file(n):
    if n not in UPLOAD_FILES:
        fd, name = tempfile.mkstemp(prefix="httpfault-matrix-", suffix=".bin")
        with os.fdopen(fd, "wb") as f:
            f.write(b"x" * n)
        UPLOAD_FILES[n] = name
    return UPLOAD_FILES[n]


def clean_curl_msg(msg):
    msg = re.sub(r" after \d+ ms", "", msg)
    msg = re.sub(r" after \d+ milliseconds", "", msg)
    msg = re.sub(r"\b\d{1,3}(\.\d{1,3}){3}\b", "HOST", msg)
    msg = re.sub(r"port \d+", "port PORT", msg)
    return msg.strip()


def curl_lines(args, n_transfers, timeout, mark_new=False):
    """Runs curl; returns one outcome per transfer that curl reported. With mark_new, a
    transfer after the first that opened a connection is marked `(new connection)`."""
    try:
        p = subprocess.run(args, capture_output=True, timeout=timeout * (n_transfers + 1) + 10)
    except subprocess.TimeoutExpired:
        return ["curl did not exit"]
    out = []
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split("\t", 4)
        if len(parts) != 5:
            continue
        code, status, size, connects, msg = parts
        fresh = " (new connection)" if mark_new and out and connects != "0" else ""
        if code == "0":
            out.append(f"ok {status} {size} bytes{fresh}")
        else:
            out.append(f"({code}) {clean_curl_msg(msg)}")
    if not out:
        out.append(f"(exit {p.returncode}) {p.stderr.decode('utf-8', 'replace').strip()}")
    return out


def run_curl(host, port, timeout, method, body, mode, sleep, paths):
    base = ["curl", "-q", "-s", "-o", "/dev/null", "-w", WRITE_OUT, "-m", f"{timeout:g}"]
    if body is not None:
        base += ["--data-binary", "@" + upload_file(len(body))]
    if method not in ("GET", "POST"):
        base += ["-X", method]
    urls = [f"http://{host}:{port}{p}" for p in paths]
    if mode == "same":
        # One curl for all URLs: curl keeps the connection and reuses it. --rate spaces the
        # transfers SLEEP_MS apart (curl has no other way to wait between them).
        args = list(base)
        if sleep > 0:
            args += ["--rate", f"{max(1, round(3600 / sleep))}/h"]
        # Each URL needs its own -o.
        args = args + urls[:1] + sum((["-o", "/dev/null", u] for u in urls[1:]), [])
        return curl_lines(args, len(urls), timeout, mark_new=True)
    out = []
    for i, u in enumerate(urls):
        if i:
            time.sleep(sleep)
        out += curl_lines(base + [u], 1, timeout)
    return out


RUNNERS = {"http.client": run_http_client, "urllib": run_urllib, "curl": run_curl}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in RUNNERS:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(RUNNERS)}")
    run = RUNNERS[sys.argv[1]]
    try:
        for line in sys.stdin:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            f = line.split("\t")
            tid, addr, timeout_ms, method, upload, mode, sleep_ms = f[:7]
            paths = f[7:]
            host, port = addr.rsplit(":", 1)
            body = b"x" * int(upload) if int(upload) > 0 else None
            try:
                out = run(host, int(port), int(timeout_ms) / 1000, method, body, mode,
                          int(sleep_ms) / 1000, paths)
            except Exception as e:  # noqa: BLE001 - never let one task stop the run
                out = [f"helper error: {exc_name(e)}: {e}"]
            sys.stdout.write(json.dumps({"id": tid, "out": out}) + "\n")
            sys.stdout.flush()
    finally:
        for name in UPLOAD_FILES.values():
            try:
                os.unlink(name)
            except OSError:
                pass


if __name__ == "__main__":
    main()
