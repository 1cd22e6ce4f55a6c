"""Start the httpfault binary from a test and drive it through its control API.

    import httpfault
    with httpfault.Server(plan="reset=6", routes=["POST /v1/orders reset*2 status=201"]) as s:
        s.url                        # "http://127.0.0.1:PORT"
        s.requests(min=3, wait=2)    # the journal, as dicts; waits up to 2 s for 3 entries

Standard library only. The server runs as a child process on 127.0.0.1 and a free port, in its
own process group (a Ctrl-C in the terminal reaches the test, which then stops it), and never
outlives the Python process: it is stopped by the context manager, by ``stop()``, at interpreter
exit (atexit), and, if the process dies without running any of those (SIGKILL, a crash), by the
binary itself: it is started with ``--exit-on-stdin-eof`` and its stdin is a pipe that only this
process holds, so the kernel closes the pipe and the server exits.
"""

import atexit
import collections
import json
import os
import selectors
import subprocess
import sysconfig
import threading
import time

# urllib.request (http.client, email, ssl) and importlib.metadata are imported when first
# needed: pytest imports this module through the plugin in every session, used or not.

__all__ = [
    "Server",
    "Entry",
    "PlanError",
    "HttpfaultError",
    "JournalTimeout",
    "binary_path",
    "__version__",
]


def __getattr__(name):
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("httpfault")  # the wheel's, which is the crate's
        except PackageNotFoundError:  # imported from a source tree
            return "unknown"
    raise AttributeError("module 'httpfault' has no attribute %r" % name)

_CONTROL = "/__httpfault/"
_READY = "listening on "
_ERROR = "httpfault: error: "


class HttpfaultError(Exception):
    """The server could not start, died, or its control API failed."""


class PlanError(HttpfaultError, ValueError):
    """A bad plan, route or option. The message is the binary's one-line reason."""


class JournalTimeout(HttpfaultError, TimeoutError):
    """``requests(min=N, wait=...)`` saw fewer than N entries when the wait ran out.

    ``entries``: what did arrive (``Entry`` dicts); ``wanted``: N. The message names how many
    arrived and which requests they were."""

    def __init__(self, message, entries, wanted):
        super().__init__(message)
        self.entries = entries
        self.wanted = wanted


class Entry(dict):
    """A journal entry: a ``dict`` of the fields the server sent (``seq``, ``t``, ``conn``,
    ``peer``, ``method``, ``target``, ``headers``, ``route``, ``step``, ``plan``, ``status``,
    ``bytes``, ``end``, ``ms``, ``body_len``, ``body_sha256``, ``stream`` for HTTP/2, and
    ``ws`` for a WebSocket connection),
    plus header lookups that ignore the case of names: clients differ (fetch and every
    HTTP/2 client send lowercase names), and ``headers`` keeps them as received."""

    def header(self, name, default=None):
        """The value of the request header field ``name`` (any case); several fields of that
        name are joined with ``", "`` as RFC 9110 does; ``default`` when there is none."""
        values = self.header_values(name)
        return ", ".join(values) if values else default

    def header_values(self, name):
        """Every value of the request header field ``name`` (any case), in the order sent."""
        want = name.lower()
        return [v for n, v in self.get("headers") or () if n.lower() == want]


def binary_path():
    """The httpfault binary: $HTTPFAULT_BIN, else the one this wheel installed, else PATH."""
    env = os.environ.get("HTTPFAULT_BIN")
    if env:
        return env
    exe = "httpfault.exe" if os.name == "nt" else "httpfault"
    dirs = [sysconfig.get_path("scripts")]
    try:
        dirs.append(sysconfig.get_path("scripts", os.name + "_user"))
    except KeyError:
        pass
    for d in dirs:
        if d:
            p = os.path.join(d, exe)
            if os.path.isfile(p) and os.access(p, os.X_OK):
                return p
    import shutil

    found = shutil.which(exe)
    if found:
        return found
    raise HttpfaultError(
        "the httpfault binary is not installed (pip install httpfault), or set HTTPFAULT_BIN"
    )


_opener = None


def _open(req, timeout):
    global _opener
    import urllib.request

    if _opener is None:
        # Control requests go straight to 127.0.0.1, whatever http_proxy says.
        _opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return _opener.open(req, timeout=timeout)

_live = set()
_live_lock = threading.Lock()


@atexit.register
def _stop_all():
    with _live_lock:
        servers = list(_live)
    for s in servers:
        s.stop()


def _duration(value):
    """Seconds (a number) or plan text (``"250ms"``, ``"2s"``) as a DUR."""
    if isinstance(value, str):
        return value
    return "%dms" % max(0, round(value * 1000))


def _routes_text(routes):
    if isinstance(routes, str):
        return routes
    return "".join(r + "\n" for r in routes)


def _shortfall(entries, wanted, wait):
    seen = ", ".join(
        "%s %s (%s)" % (e.get("method"), e.get("target"), e.get("end") or "not ended")
        for e in entries[:5]
    )
    more = ", ..." if len(entries) > 5 else ""
    within = " within %s" % _duration(wait) if wait is not None else ""
    return "only %d of the %d requests waited for arrived%s%s" % (
        len(entries),
        wanted,
        within,
        ": " + seen + more if entries else "",
    )


class _Control:
    """The control API's calls, shared by ``Server`` and ``testcontainers.HttpfaultContainer``:
    each says where the API is with ``_control_url()``."""

    def _control_url(self):
        raise NotImplementedError

    def _call(self, method, path, body=None, timeout=30.0):
        base = self._control_url()
        import urllib.error
        import urllib.request

        data = body.encode("utf-8") if isinstance(body, str) else body
        req = urllib.request.Request(base + _CONTROL + path, data=data, method=method)
        try:
            with _open(req, timeout) as resp:
                return resp.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            reason = e.read().decode("utf-8", "replace").strip()
            if e.code == 400:
                raise PlanError(reason) from None
            what = "%s %s%s: %s %s" % (method, _CONTROL, path, e.code, reason)
            raise HttpfaultError(what) from None

    def requests(self, min=None, wait=None, since=None, partial=False):
        """The journal, oldest first, as ``Entry`` dicts (``seq``, ``t``, ``method``,
        ``target``, ``headers``, ``route``, ``step``, ``plan``, ``status``, ``bytes``,
        ``end``, ``ms``...; ``entry.header(name)`` looks a header up in any case).
        ``min=N, wait=SECONDS`` waits up to ``wait`` (seconds, or a DUR such as ``"250ms"``)
        until there are at least N entries, and raises ``JournalTimeout`` (naming how many
        arrived) if there are fewer then; ``partial=True`` returns what came instead.
        ``since=SEQ``: only entries after SEQ."""
        query = {}
        if min is not None:
            query["min"] = str(int(min))
        if wait is not None:
            query["wait"] = _duration(wait)
        if since is not None:
            query["since"] = str(int(since))
        from urllib.parse import urlencode

        path = "requests" + ("?" + urlencode(query) if query else "")
        timeout = 30.0 + (float(wait) if isinstance(wait, (int, float)) else 300.0)
        answer = json.loads(self._call("GET", path, timeout=timeout))
        entries = [Entry(e) for e in answer["requests"]]
        if min is not None and len(entries) < int(min) and not partial:
            raise JournalTimeout(_shortfall(entries, int(min), wait), entries, int(min))
        return entries

    def clear_requests(self):
        """Empty the journal."""
        self._call("DELETE", "requests")

    def set_routes(self, routes):
        """Replace the routes (a list of SPECs, or a routes file's text); counters restart."""
        self._call("PUT", "routes", _routes_text(routes))

    def routes(self):
        """The routes in force, one SPEC each."""
        return [line for line in self._call("GET", "routes").splitlines() if line]

    def set_plan(self, plan):
        """Replace the default plan."""
        self._call("PUT", "plan", plan)

    def plan(self):
        """The default plan, as plan text."""
        return self._call("GET", "plan").strip()

    def reset(self):
        """Route and ``times`` counters and the journal back to the start."""
        self._call("POST", "reset")

    def metrics(self):
        """The Prometheus metrics as a dict, sample -> value:
        ``{'httpfault_requests_total{end="reset"}': 2.0, ...}``."""
        out = {}
        for line in self._call("GET", "metrics").splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                try:
                    out[name] = float(value)
                except ValueError:
                    pass
        return out


class Server(_Control):
    """A running httpfault server on 127.0.0.1 and a free port.

    ``plan``: the default plan (plan text); ``routes``: route SPECs (a list, or the text of a
    routes file); ``seed``, ``journal``: as ``--seed`` and ``--journal``; ``log``: ``None``
    (quiet), ``"text"`` or ``"json"`` (the lines are kept in ``log_lines``); ``args``: more
    command-line options; ``binary``: the binary to run (default ``binary_path()``);
    ``start_timeout``: seconds to wait for the readiness line (default 10) before raising
    ``HttpfaultError`` (a server on a loaded CI machine starts in milliseconds; the limit is
    for a binary that hangs).
    Raises ``PlanError`` for a bad plan, route or option, with the binary's reason.
    """

    def __init__(
        self,
        plan=None,
        routes=None,
        *,
        seed=None,
        journal=None,
        log=None,
        args=(),
        binary=None,
        start_timeout=10.0,
    ):
        cmd = [binary or binary_path(), "-l", "127.0.0.1:0", "--exit-on-stdin-eof"]
        cmd += ["--log", log] if log else ["-q"]
        if seed is not None:
            cmd += ["--seed", str(seed)]
        if journal is not None:
            cmd += ["--journal", str(journal)]
        if isinstance(routes, str):
            # A routes file's text: blank lines and # comments are not routes.
            lines = (line.strip() for line in routes.splitlines())
            routes = [line for line in lines if line and not line.startswith("#")]
        for r in routes or ():
            cmd += ["--route", r]
        cmd += list(args)
        if plan is not None:
            cmd.append(plan)
        self.command = cmd
        self.url = None
        self.log_lines = collections.deque(maxlen=1000)
        self._proc = None
        self._start(start_timeout)

    # -- process ------------------------------------------------------------------------------

    def _start(self, timeout):
        proc = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._proc = proc
        with _live_lock:
            _live.add(self)
        self._stderr_thread = threading.Thread(
            target=self._drain_stderr, name="httpfault-stderr", daemon=True
        )
        self._stderr_thread.start()
        line = self._read_line(proc.stdout.fileno(), timeout)
        if line is None or not line.startswith(_READY):
            try:
                code = proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
            self.stop()
            self._stderr_thread.join(timeout=5)
            reason = next(
                (x[len(_ERROR):] for x in reversed(self.log_lines) if x.startswith(_ERROR)),
                None,
            )
            if code == 2:
                raise PlanError(reason or "bad option, plan or route")
            if line is None and code is None:
                raise HttpfaultError("httpfault printed no readiness line within %ss" % timeout)
            raise HttpfaultError(
                reason or "httpfault did not start (exit %s, stdout %r)" % (code, line)
            )
        self.url = line[len(_READY):].strip()

    @staticmethod
    def _read_line(fd, timeout):
        buf = b""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                if not sel.select(left):
                    continue
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                buf += chunk
        return buf.decode("utf-8", "replace").split("\n", 1)[0] if buf else None

    def _drain_stderr(self):
        # Always read stderr, so a chatty server never blocks on a full pipe.
        with self._proc.stderr as err:
            for raw in err:
                self.log_lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    @property
    def pid(self):
        return self._proc.pid if self._proc else None

    def running(self):
        return self._proc is not None and self._proc.poll() is None

    def stop(self, timeout=5.0):
        """Stop the server (SIGTERM, then SIGKILL after ``timeout``) and wait for it."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                proc.terminate()
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            except ProcessLookupError:
                pass
        for f in (proc.stdin, proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        with _live_lock:
            _live.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return "<httpfault.Server %s pid=%s>" % (self.url, self.pid)

    def _control_url(self):
        if self._proc is None or self._proc.poll() is not None:
            raise HttpfaultError("the server is not running")
        return self.url
