"""httpfault in a container, for Python's Testcontainers (``pip install testcontainers``).

    from httpfault.testcontainers import HttpfaultContainer

    with HttpfaultContainer(routes=["POST /v1/orders reset*2 status=201"]) as hf:
        hf.url                        # "http://127.0.0.1:MAPPED" (the listener, port 9000)
        hf.requests(min=3, wait=2)    # the journal, through the mapped control port (9001)

The same calls as ``httpfault.Server`` (``url``, ``requests``, ``set_routes``, ``set_plan``,
``reset``, ``metrics``...), on the image ``make image`` builds (``httpfault:latest``; another with
``image=`` or ``$HTTPFAULT_IMAGE``). ``testcontainers`` is needed only by this module: the
``httpfault`` package itself depends on nothing.

The image is ``FROM scratch``: there is no shell for the exec-based port check Testcontainers
does by default, so ``start()`` waits for the binary's readiness line in the container's log
instead (and reports the binary's own one-line reason if it exits first). Inside the container
the server listens on 0.0.0.0:9000 and serves the control API on 0.0.0.0:9001 only (the
listener stays free of it, as the Dockerfile documents); both ports are published.
"""

import os
import re
import tempfile
import time

try:
    from testcontainers.core.container import DockerContainer
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "httpfault.testcontainers needs the 'testcontainers' package (pip install testcontainers)"
    ) from e

from . import HttpfaultError, PlanError, _Control

__all__ = ["HttpfaultContainer"]

_READY = "listening on "
_ERROR = "httpfault: error: "
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----\n.*?-----END CERTIFICATE-----\n", re.S)


def default_image():
    """``$HTTPFAULT_IMAGE``, else ``httpfault:latest`` (what ``make image`` tags)."""
    return os.environ.get("HTTPFAULT_IMAGE") or "httpfault:latest"


class HttpfaultContainer(DockerContainer, _Control):
    """httpfault in a container: a ``testcontainers`` ``DockerContainer`` with the calls of
    ``httpfault.Server``.

    ``plan``, ``routes``, ``seed``, ``journal``, ``args``: as for ``Server``. ``tls=True``:
    HTTPS with a certificate for ``localhost`` and ``127.0.0.1`` made at start; the CA is in
    ``ca_pem`` and in the file ``ca_file`` (``requests.get(url, verify=hf.ca_file)``).
    ``log``: ``"text"`` (default: the container's log is where to look when a test fails),
    ``"json"`` or ``None`` (quiet). ``image``: default ``default_image()``.
    ``start_timeout``: seconds to wait for the readiness line once the container runs.
    Other keyword arguments go to ``DockerContainer`` (``network``, ``network_aliases``...).
    """

    PORT = 9000
    CONTROL_PORT = 9001

    def __init__(
        self,
        plan=None,
        routes=None,
        *,
        image=None,
        tls=False,
        seed=None,
        journal=None,
        log="text",
        args=(),
        start_timeout=30.0,
        **kwargs,
    ):
        super().__init__(image or default_image(), **kwargs)
        cmd = ["--listen", "0.0.0.0:%d" % self.PORT, "--control", "0.0.0.0:%d" % self.CONTROL_PORT]
        cmd += ["--log", log] if log else ["-q"]
        if tls:
            # The CA goes to stdout before the readiness line: nothing to copy out of the
            # container (a FROM scratch image has no writable directory for it anyway).
            cmd += ["--tls", "--cert-out", "/dev/stdout"]
        if seed is not None:
            cmd += ["--seed", str(seed)]
        if journal is not None:
            cmd += ["--journal", str(journal)]
        if isinstance(routes, str):
            lines = (line.strip() for line in routes.splitlines())
            routes = [line for line in lines if line and not line.startswith("#")]
        for r in routes or ():
            cmd += ["--route", r]
        cmd += list(args)
        if plan is not None:
            cmd.append(plan)
        self.command = cmd
        self.with_command(cmd)
        self.with_exposed_ports(self.PORT, self.CONTROL_PORT)
        self.tls = tls
        self.start_timeout = start_timeout
        self.url = None
        self.control_url = None
        self.ca_pem = None
        self.ca_file = None

    def start(self):
        super().start()
        try:
            stdout = self._wait_ready()
            host = self.get_container_host_ip()
            scheme = stdout.split(_READY, 1)[1].split("://", 1)[0]
            self.url = "%s://%s:%s" % (scheme, host, self.get_exposed_port(self.PORT))
            self.control_url = "http://%s:%s" % (host, self.get_exposed_port(self.CONTROL_PORT))
            if self.tls:
                pem = _PEM.search(stdout)
                if pem is None:
                    raise HttpfaultError("no CA certificate in the container's output")
                self.ca_pem = pem.group(0)
                fd, self.ca_file = tempfile.mkstemp(prefix="httpfault-ca-", suffix=".pem")
                with os.fdopen(fd, "w") as f:
                    f.write(self.ca_pem)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self):
        """The container's stdout up to its readiness line; the binary's reason if it exits."""
        deadline = time.monotonic() + self.start_timeout
        pause = 0.01
        container = self.get_wrapped_container()
        while True:
            stdout = container.logs(stdout=True, stderr=False).decode("utf-8", "replace")
            if _READY in stdout and "\n" in stdout.split(_READY, 1)[1]:
                return stdout
            container.reload()
            if container.status in ("exited", "dead"):
                code = container.attrs.get("State", {}).get("ExitCode")
                err = container.logs(stdout=False, stderr=True).decode("utf-8", "replace")
                reason = next(
                    (x[len(_ERROR):] for x in reversed(err.splitlines()) if x.startswith(_ERROR)),
                    None,
                )
                if code == 2:
                    raise PlanError(reason or "bad option, plan or route")
                raise HttpfaultError(
                    reason or "httpfault exited with %s before listening: %s" % (code, err[-500:])
                )
            if time.monotonic() > deadline:
                raise HttpfaultError(
                    "httpfault printed no readiness line within %ss" % self.start_timeout
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.2)

    def stop(self, *args, **kwargs):
        """Removes the container (a second call does nothing)."""
        if self.ca_file:
            try:
                os.unlink(self.ca_file)
            except OSError:
                pass
            self.ca_file = None
        if self._container is None:
            return
        try:
            super().stop(*args, **kwargs)
        finally:
            self._container = None

    def running(self):
        """The container is up (its state as the engine reports it now)."""
        container = self._container
        if container is None:
            return False
        container.reload()
        return container.status == "running"

    def log_lines(self):
        """The server's log lines (the container's stderr)."""
        err = self.get_wrapped_container().logs(stdout=False, stderr=True)
        return err.decode("utf-8", "replace").splitlines()

    def _control_url(self):
        if self.control_url is None:
            raise HttpfaultError("the container is not started")
        return self.control_url

    def __repr__(self):
        return "<httpfault.testcontainers.HttpfaultContainer %s>" % (self.url,)
