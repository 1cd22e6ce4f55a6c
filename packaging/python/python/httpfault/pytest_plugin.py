"""The pytest plugin (entry point ``pytest11``): the ``httpfault`` fixture.

    def test_retries(httpfault):
        httpfault.set_routes("POST /v1/orders reset*2 status=201")
        ...

Each test gets a fresh server, stopped after the test whatever its outcome. Options for the
server come from the marker: ``@pytest.mark.httpfault(plan="status=503", routes=[...])``.
"""

import pytest

from . import Server


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "httpfault(plan=None, routes=None, **options): options for the httpfault fixture's Server",
    )


@pytest.fixture
def httpfault(request):
    """A running ``httpfault.Server`` for this test (stopped after it)."""
    marker = request.node.get_closest_marker("httpfault")
    kwargs = dict(marker.kwargs) if marker else {}
    with Server(**kwargs) as server:
        yield server
