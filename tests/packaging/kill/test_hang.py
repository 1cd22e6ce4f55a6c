# Not an example: tests/packaging.sh runs this test and kills pytest in the middle of it
# (SIGKILL, or SIGINT as a Ctrl-C would), then checks that the server it started is gone.
import os
import signal
import time

# A background job of a non-interactive shell starts with SIGINT ignored; a terminal's Ctrl-C
# reaches a pytest whose handler is Python's default, so put that back.
signal.signal(signal.SIGINT, signal.default_int_handler)


def test_hang(httpfault):
    pid_file = os.environ["HTTPFAULT_PID_FILE"]
    with open(pid_file + ".tmp", "w") as f:
        f.write("%d\n" % httpfault.pid)
    os.rename(pid_file + ".tmp", pid_file)
    time.sleep(120)
