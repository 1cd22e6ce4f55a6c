# Not an example: a failing test, after which tests/packaging.sh checks that its server is gone.
import os


def test_fails(httpfault):
    with open(os.environ["HTTPFAULT_PID_FILE"], "w") as f:
        f.write("%d\n" % httpfault.pid)
    assert httpfault.requests() == ["something that is not there"]
