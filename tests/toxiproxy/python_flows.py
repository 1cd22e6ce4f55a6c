"""toxiproxy-python's flows against a toxiproxy API (httpfault toxiproxy, or toxiproxy
itself): python python_flows.py API_HOST API_PORT UPSTREAM_HOST:PORT (an echo server).
Prints one "ok NAME" line per flow; exits 1 with the reason on the first failure."""

import socket
import sys
import time

from toxiproxy import Toxiproxy
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

host, port, upstream = sys.argv[1], int(sys.argv[2]), sys.argv[3]
server = Toxiproxy()
server.update_api_consumer(host, port)


def fail(msg):
    print("FAIL " + msg, file=sys.stderr)
    sys.exit(1)


def round_trip(listen, msg, timeout=5.0):
    """(bytes, seconds, error name or None) for one message through LISTEN."""
    h, p = listen.rsplit(":", 1)
    if h in ("[::]", "0.0.0.0", ""):
        h = "127.0.0.1"
    t = time.monotonic()
    got = b""
    try:
        with socket.create_connection((h, int(p)), timeout=timeout) as s:
            s.sendall(msg)
            while len(got) < len(msg):
                d = s.recv(65536)
                if not d:
                    return got, time.monotonic() - t, "closed"
                got += d
    except OSError as e:
        return got, time.monotonic() - t, type(e).__name__
    return got, time.monotonic() - t, None


if not server.running() or b"version" not in server.version():
    fail("version")
print("ok version")

proxy = server.create(upstream=upstream, name="py_redis", listen="127.0.0.1:0")
if proxy.listen.endswith(":0"):
    fail("create: " + proxy.listen)
got, _, err = round_trip(proxy.listen, b"PING\r\n")
if err or got != b"PING\r\n":
    fail("relay: %r %r" % (got, err))
print("ok create")

try:
    server.create(upstream=upstream, name="py_redis", listen="127.0.0.1:0")
    fail("duplicate made")
except ProxyExists:
    pass
print("ok conflict")

# 1 s of latency, so a busy machine cannot blur "applied" (>= 1 s) and "removed" (well under).
proxy.add_toxic(type="latency", attributes={"latency": 1000})
toxics = proxy.toxics()
t = toxics.get("latency_downstream")
if t is None or t.attributes != {"latency": 1000, "jitter": 0} or t.toxicity != 1:
    fail("toxics: %r" % {k: vars(v) for k, v in toxics.items()})
got, took, err = round_trip(proxy.listen, b"GET k\r\n")
if err or took < 1.0:
    fail("latency: %r %.3f" % (err, took))
print("ok latency %.3f" % took)

try:
    proxy.add_toxic(type="nonsense")
    fail("bad toxic accepted")
except InvalidToxic:
    pass
print("ok invalid")

proxy.destroy_toxic("latency_downstream")
got, took, err = round_trip(proxy.listen, b"x")
if err or took >= 0.9:
    fail("removed latency: %r %.3f" % (err, took))
print("ok remove")

proxy.add_toxic(type="reset_peer", attributes={"timeout": 0})
got, _, err = round_trip(proxy.listen, b"SET k v\r\n")
if err != "ConnectionResetError" or got:
    fail("reset_peer: %r %r" % (got, err))
proxy.destroy_toxic("reset_peer_downstream")
print("ok reset_peer")

if "py_redis" not in server.proxies() or server.get_proxy("py_redis").upstream != upstream:
    fail("list")
print("ok list")

with proxy.down():
    _, _, err = round_trip(proxy.listen, b"x", timeout=2)
    if err != "ConnectionRefusedError":
        fail("disabled proxy: %r" % err)
got, _, err = round_trip(proxy.listen, b"back")
if err or got != b"back":
    fail("enabled again: %r %r" % (got, err))
print("ok disable-enable")

made = server.populate([
    {"name": "py_a", "listen": "127.0.0.1:0", "upstream": upstream},
    {"name": "py_b", "listen": "127.0.0.1:0", "upstream": upstream, "enabled": False},
])
if sorted(p.name for p in made) != ["py_a", "py_b"]:
    fail("populate")
print("ok populate")

proxy.add_toxic(type="latency", attributes={"latency": 1000})
server.reset()
if server.get_proxy("py_b").enabled is not True or proxy.toxics():
    fail("reset")
print("ok reset")

try:
    from toxiproxy.api import APIConsumer
    APIConsumer.get("/proxies/nope")
    fail("404 not raised")
except NotFound:
    pass
server.destroy_all()
if server.proxies():
    fail("destroy_all")
print("ok delete")
