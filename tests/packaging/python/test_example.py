# The Python example suite: run by tests/packaging.sh with pytest, from a fresh virtualenv
# where only the built wheel (and pytest, requests, httpx) were installed, as a user would.
# The `httpfault` argument is the fixture of the wheel's pytest plugin.
import shutil
import subprocess
import time

import httpx
import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

import httpfault as hf


def test_requests_retries_a_reset_post_with_the_same_idempotency_key(httpfault):
    httpfault.set_routes("POST /v1/orders reset*2 status=201")
    session = requests.Session()
    # allowed_methods=None: retry POST too (the client under test claims it is idempotent).
    retry = Retry(total=3, read=3, allowed_methods=None, backoff_factor=0)
    session.mount("http://", HTTPAdapter(max_retries=retry))
    r = session.post(
        httpfault.url + "/v1/orders", json={"item": 1}, headers={"Idempotency-Key": "k1"}
    )
    assert r.status_code == 201
    seen = httpfault.requests(min=3, wait=2)
    assert [(e["method"], e["target"]) for e in seen] == [("POST", "/v1/orders")] * 3
    assert [e["step"] for e in seen] == [1, 2, 3]
    assert [e["end"] for e in seen] == ["reset", "reset", "complete"]
    assert [e["status"] for e in seen] == [None, None, 201]
    assert [e.header("idempotency-key") for e in seen] == ["k1"] * 3


def get_with_retries(client, url, tries=4, backoff=0.1):
    """A client's retry loop: retry on 503 and on a broken connection, with a pause."""
    for attempt in range(tries):
        try:
            r = client.get(url)
            if r.status_code != 503:
                return r
        except (httpx.RemoteProtocolError, httpx.ReadError):
            pass
        time.sleep(backoff)
    raise AssertionError("gave up after %d tries" % tries)


def test_httpx_retry_loop_waits_between_attempts(httpfault):
    httpfault.set_routes(["GET /v1/items status=503 reset ok"])
    with httpx.Client() as client:
        r = get_with_retries(client, httpfault.url + "/v1/items")
    assert r.status_code == 200 and r.text == "Hello, world!"
    seen = httpfault.requests(min=3, wait=2)
    assert [e["status"] for e in seen] == [503, None, 200]
    assert [e["end"] for e in seen] == ["complete", "reset", "complete"]
    # The journal's clock shows the client's pauses (a lower bound: sleeps are never shorter).
    gaps = [b["t"] - a["t"] for a, b in zip(seen, seen[1:])]
    assert all(g >= 0.09 for g in gaps), gaps


@pytest.mark.httpfault(plan="status=204")
def test_requests_min_raises_journal_timeout_naming_what_arrived(httpfault):
    # Issue 29: a wait that runs out used to return fewer entries silently.
    requests.get(httpfault.url + "/a")
    requests.get(httpfault.url + "/b")
    with pytest.raises(hf.JournalTimeout) as caught:
        httpfault.requests(min=5, wait=0.2)
    assert str(caught.value) == (
        "only 2 of the 5 requests waited for arrived within 200ms: "
        "GET /a (complete), GET /b (complete)"
    )
    assert isinstance(caught.value, TimeoutError)
    assert [e["target"] for e in caught.value.entries] == ["/a", "/b"]
    got = httpfault.requests(min=5, wait="100ms", partial=True)
    assert [e["target"] for e in got] == ["/a", "/b"]


@pytest.mark.httpfault(plan="status=204")
def test_entry_header_ignores_the_case_of_names(httpfault):
    # Issue 29: clients differ in the case they send (fetch and HTTP/2 clients: lowercase).
    requests.get(httpfault.url, headers={"x-request-id": "r1", "X-Tag": "a"})
    entry = httpfault.requests(min=1, wait=2)[0]
    assert isinstance(entry, hf.Entry) and isinstance(entry, dict)
    assert (entry.header("X-Request-Id"), entry.header("x-tag")) == ("r1", "a")
    assert entry.header("Missing") is None and entry.header("Missing", "-") == "-"
    assert entry.header_values("X-REQUEST-ID") == ["r1"]


def test_reset_starts_the_sequence_again(httpfault):
    httpfault.set_routes("GET /flaky status=500 ok")
    assert requests.get(httpfault.url + "/flaky").status_code == 500
    assert requests.get(httpfault.url + "/flaky").status_code == 200
    httpfault.reset()
    assert httpfault.requests() == []
    assert requests.get(httpfault.url + "/flaky").status_code == 500
    assert httpfault.metrics()['httpfault_requests_total{end="complete"}'] == 3


@pytest.mark.httpfault(plan="status=418/text=teapot", seed=7)
def test_the_marker_configures_the_fixture(httpfault):
    r = requests.get(httpfault.url + "/anything")
    assert (r.status_code, r.text) == (418, "teapot")
    assert httpfault.plan() == "status=418/text=teapot"


def test_a_bad_plan_raises_plan_error_with_the_binary_reason():
    with pytest.raises(hf.PlanError, match="unknown step 'rset'"):
        hf.Server(plan="rset")
    with pytest.raises(hf.PlanError, match="route 'GET /x status=abc'"):
        hf.Server(routes=["GET /x status=abc"])


def test_a_bad_route_at_run_time_raises_and_changes_nothing(httpfault):
    httpfault.set_routes("GET /a ok")
    with pytest.raises(hf.PlanError, match="line 2"):
        httpfault.set_routes(["GET /b ok", "GET /c rset"])
    assert httpfault.routes() == ["GET /a ok"]
    with pytest.raises(hf.PlanError):
        httpfault.set_plan("status=abc")


def test_context_manager_stops_the_server():
    with hf.Server(plan="status=204") as s:
        assert requests.get(s.url).status_code == 204
    assert not s.running()
    with pytest.raises(requests.ConnectionError):
        requests.get(s.url, timeout=5)


def test_the_command_is_on_path_and_has_the_package_version():
    exe = shutil.which("httpfault")
    assert exe is not None
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout
    assert out == "httpfault %s\n" % hf.__version__
