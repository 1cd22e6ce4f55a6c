"""A poller: two GETs 1.1 s apart, each with a 2 s timeout (urllib, standard library), each
body printed when the answer is 200, an error on stderr otherwise; it never retries and always
exits 0 (a failed poll is logged, the next one will do). Used by tests/probe_clients.rs.

    python3 poller.py URL
"""
import sys
import time
import urllib.request

for i in range(2):
    if i:
        time.sleep(1.1)
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
            body = r.read()
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
    except Exception as e:
        print(f"poll {i + 1}: {type(e).__name__}: {e}", file=sys.stderr)
