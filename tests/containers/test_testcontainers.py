"""Python's testcontainers with the package's HttpfaultContainer (issue 29), as a user's test
suite would use them. Run by tests/containers.sh (engine, DOCKER_HOST, images and PYTHONPATH
set there); every container is removed by its `with`.
"""

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

import httpfault
from httpfault.testcontainers import HttpfaultContainer


def test_a_retrying_client_gets_201_after_two_resets_and_the_journal_shows_each_try():
    with HttpfaultContainer(routes=["POST /v1/orders reset*2 status=201"]) as hf:
        assert hf.url.startswith("http://127.0.0.1:")
        session = requests.Session()
        # allowed_methods=None: retry POST too (the client claims it is idempotent).
        retry = Retry(total=3, read=3, allowed_methods=None, backoff_factor=0)
        session.mount("http://", HTTPAdapter(max_retries=retry))
        headers = {"Idempotency-Key": "k1"}
        r = session.post(hf.url + "/v1/orders", json={"item": 1}, headers=headers, timeout=10)
        assert r.status_code == 201
        # The journal, through the container's mapped control port.
        seen = hf.requests(min=3, wait=5)
        assert [(e["method"], e["target"], e["step"]) for e in seen] == [
            ("POST", "/v1/orders", 1),
            ("POST", "/v1/orders", 2),
            ("POST", "/v1/orders", 3),
        ]
        assert [e["end"] for e in seen] == ["reset", "reset", "complete"]
        assert [e["status"] for e in seen] == [None, None, 201]
        assert [e.header("idempotency-key") for e in seen] == ["k1"] * 3
        # The rest of Server's calls, through the same port.
        hf.set_routes(["GET /flaky status=500 ok"])
        assert hf.routes() == ["GET /flaky status=500 ok"]
        flaky = [requests.get(hf.url + "/flaky", timeout=10).status_code for _ in "ab"]
        assert flaky == [500, 200]
        hf.reset()
        assert hf.requests() == []
        hf.set_plan("status=418")
        assert (hf.plan(), requests.get(hf.url, timeout=10).status_code) == ("status=418", 418)
        # Metrics count from the start (reset leaves them): 201, 500, 200, 418.
        assert hf.metrics()['httpfault_requests_total{end="complete"}'] == 4
        with pytest.raises(httpfault.JournalTimeout, match="only 1 of the 2 requests"):
            hf.requests(min=2, wait=0.2)


def test_tls_with_the_ca_from_the_container():
    with HttpfaultContainer(plan="status=201/text=secure", tls=True) as hf:
        assert hf.url.startswith("https://127.0.0.1:")
        assert hf.ca_pem.startswith("-----BEGIN CERTIFICATE-----\n")
        r = requests.get(hf.url + "/x", verify=hf.ca_file, timeout=10)
        assert (r.status_code, r.text) == (201, "secure")
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(hf.url + "/x", timeout=10)  # the system's CAs do not know it
        # The refused handshake sent no request: one entry.
        assert [e["target"] for e in hf.requests(min=1, wait=5)] == ["/x"]


def test_a_bad_plan_raises_plan_error_with_the_binary_reason():
    with pytest.raises(httpfault.PlanError, match="unknown step 'rset'"):
        with HttpfaultContainer(plan="rset"):
            pass
