"""The images `make image` builds, run with the engine's own CLI (podman or docker) and published
ports, as a user would (issue 29). Run by tests/containers.sh, which sets
HTTPFAULT_CONTAINER_ENGINE and builds the images first.

Every blocking step has a deadline: engine commands a subprocess timeout, sockets a timeout.
"""

import json
import os
import re
import socket
import subprocess
import time
import urllib.request
from datetime import datetime

import pytest

ENGINE = os.environ.get("HTTPFAULT_CONTAINER_ENGINE", "podman")
IMAGE = os.environ.get("HTTPFAULT_IMAGE", "httpfault:latest")
IO = 10  # seconds: any one socket operation


def engine(*args, timeout=60, check=True):
    """An engine command; its stdout. A failure shows the command, status and both outputs."""
    cmd = [ENGINE, *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(
            "%s: exit %s\nstdout: %s\nstderr: %s"
            % (" ".join(cmd), r.returncode, r.stdout, r.stderr)
        )
    return r.stdout


class Container:
    """One `ENGINE run -d` with ports published on 127.0.0.1 (free host ports)."""

    def __init__(self, image, args=(), ports=(9000,)):
        publish = [a for p in ports for a in ("-p", "127.0.0.1::%d" % p)]
        self.id = engine("run", "-d", *publish, image, *args).strip()
        self.ports = ports

    def logs(self):
        """(stdout, stderr) of the container so far."""
        r = subprocess.run([ENGINE, "logs", self.id], capture_output=True, text=True, timeout=60)
        return r.stdout, r.stderr

    def wait_ready(self, timeout=30):
        """Waits for the readiness line on the container's stdout; returns it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out, _ = self.logs()
            for line in out.splitlines():
                if line.startswith("listening on "):
                    return line
            if self.state()["Status"] == "exited":
                break
            time.sleep(0.05)
        raise AssertionError("no readiness line: %r %r %r" % (self.state(), *self.logs()))

    def state(self):
        return json.loads(engine("inspect", "--format", "{{json .State}}", self.id))

    def addr(self, port):
        """The host address the container's `port` is published on."""
        line = engine("port", self.id, "%d/tcp" % port).strip().splitlines()[0]
        host, _, p = line.rpartition(":")
        return host, int(p)

    def remove(self):
        engine("rm", "-f", self.id, check=False)


@pytest.fixture
def run():
    """run(image, args, ports) -> a started Container, ready; all removed after the test."""
    started = []

    def start(image=IMAGE, args=(), ports=(9000,)):
        c = Container(image, args, ports)
        started.append(c)
        c.wait_ready()
        return c

    yield start
    for c in started:
        c.remove()


def exchange(addr, request):
    """Sends `request`, reads to the end: (bytes, how it ended: 'eof' or 'reset')."""
    with socket.create_connection(addr, timeout=IO) as s:
        s.settimeout(IO)
        s.sendall(request)
        got = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return got, "reset"
            if not chunk:
                return got, "eof"
            got += chunk


def get(addr, path):
    return exchange(addr, b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path)


def api(addr, path):
    """GET /__httpfault/PATH at addr (urllib: the journal comes chunked); the body."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open("http://%s:%d/__httpfault/%s" % (*addr, path), timeout=IO) as r:
        return r.read().decode()


def status_of(response):
    return int(response.split(b" ", 2)[1])


def test_reset_n_is_byte_exact_through_a_published_port(run):
    c = run()  # the default command: --listen 0.0.0.0:9000
    assert c.logs()[0].splitlines()[0] == "listening on http://0.0.0.0:9000"
    got, end = get(c.addr(9000), b"/reset=3")
    head = b"HTTP/1.1 200 OK\r\nServer: httpfault\r\nContent-Length: 13\r\n"
    head += b"Connection: close\r\n\r\n"
    assert (got, end) == (head + b"Hel", "reset")
    got, end = get(c.addr(9000), b"/reset=100k/body=1m")
    head, _, body = got.partition(b"\r\n\r\n")
    assert (len(body), end) == (100 * 1024, "reset"), head
    _report_start_to_ready(c)


def _report_start_to_ready(c):
    """Prints when the readiness line reached the log against the engine's StartedAt (podman
    records StartedAt after the runtime returns, so the line can come first: a negative
    number), and the server's own `t` of its listening event. A measurement, not an assertion
    (speed targets are not tests)."""
    started = c.state()["StartedAt"]
    stamped = engine("logs", "-t", c.id).splitlines()
    ready = next(x for x in stamped if "listening on " in x).split(" ", 1)[0]
    words = [w for x in c.logs()[1].splitlines() if "event=listening" in x for w in x.split()]
    t_listen = next((w[2:] for w in words if w.startswith("t=")), "?")
    try:
        ms = "%+.1f ms" % ((_instant(ready) - _instant(started)) * 1000)
    except ValueError:
        ms = "?"
    print(
        "start-to-ready: readiness line logged %s from StartedAt (%s, %s); server's own t=%s s"
        % (ms, started, ready, t_listen)
    )


def _instant(stamp):
    """An RFC 3339 timestamp with up to nanoseconds (podman's and docker's), in seconds."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", stamp)
    if m is None:
        raise ValueError(stamp)
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    whole = datetime.fromisoformat(m.group(1) + zone).timestamp()
    return whole + float("0." + (m.group(2) or "0"))


def test_the_control_api_is_only_where_the_dockerfile_says(run):
    # Default command: 0.0.0.0 is not loopback, so /__httpfault/ is an ordinary path there,
    # answered by the default plan (the classic broken response).
    c = run()
    got, end = get(c.addr(9000), b"/__httpfault/health")
    assert (got[-6:], end) == (b"Hello,", "reset"), got
    # --control 0.0.0.0:9001: the API on its own port, the listener still without it.
    args = ["--listen", "0.0.0.0:9000", "--control", "0.0.0.0:9001", "status=201"]
    c = run(args=args, ports=(9000, 9001))
    got, _ = get(c.addr(9001), b"/__httpfault/health")
    assert (status_of(got), got.partition(b"\r\n\r\n")[2]) == (200, b"ok\n")
    got, _ = get(c.addr(9000), b"/__httpfault/requests")
    assert status_of(got) == 201, got  # the plan, not the API
    journal = json.loads(api(c.addr(9001), "requests"))["requests"]
    assert [(e["target"], e["status"]) for e in journal] == [("/__httpfault/requests", 201)]
    # --control-on-listener: the API on 9000 itself.
    c = run(args=["--listen", "0.0.0.0:9000", "--control-on-listener"])
    got, _ = get(c.addr(9000), b"/__httpfault/health")
    assert status_of(got) == 200, got


def test_sigterm_ends_it_with_exit_0_within_a_second(run):
    c = run()
    t0 = time.monotonic()
    # -t 1: the engine sends SIGTERM, and SIGKILL (exit 137) if it is still running 1 s later.
    engine("stop", "-t", "1", c.id)
    print("stop took %.0f ms" % ((time.monotonic() - t0) * 1000))
    state = c.state()
    assert (state["Status"], state["ExitCode"]) == ("exited", 0), state
    assert "event=shutdown signal=SIGTERM" in c.logs()[1]


def test_the_std_image_serves_without_tls(run):
    c = run(image="httpfault:std", args=["--listen", "0.0.0.0:9000", "status=201/text=std"])
    got, _ = get(c.addr(9000), b"/")
    assert (status_of(got), got.partition(b"\r\n\r\n")[2]) == (201, b"std")
    cmd = [ENGINE, "run", "--rm", "httpfault:std", "--tls"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r
    reason = "--tls needs httpfault built with the cargo feature 'tls'"
    assert r.stderr.strip().endswith(reason), r.stderr


def test_the_images_entrypoint_command_user_and_ports():
    def config(image):
        return json.loads(engine("image", "inspect", "--format", "{{json .Config}}", image))

    for image, cmd, port in [
        (IMAGE, ["--listen", "0.0.0.0:9000"], "9000/tcp"),
        ("httpfault:std", ["--listen", "0.0.0.0:9000"], "9000/tcp"),
        ("httpfault:toxiproxy", ["toxiproxy", "--listen", "0.0.0.0:8474"], "8474/tcp"),
    ]:
        c = config(image)
        got = (c["Entrypoint"], c["Cmd"], c["User"])
        assert got == (["/httpfault"], cmd, "65534:65534"), c
        # Exactly that port: the toxiproxy image once inherited 9000 as well, which podman's
        # Docker API then listed as a binding never bound (Testcontainers timed out on it).
        assert sorted(c["ExposedPorts"]) == [port], c
