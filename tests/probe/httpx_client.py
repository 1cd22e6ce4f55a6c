"""A client as many Python programs are written with httpx: its default timeout (5 s per
connect, read, write and pool wait), no redirects followed, raise_for_status, the body on stdout.
With --print the body is printed as text (print(r.text): a newline after it). Used by
tests/probe_clients.rs.

    python httpx_client.py URL [--print]
"""
import sys

import httpx

try:
    response = httpx.get(sys.argv[1])
    response.raise_for_status()
except Exception as e:  # the exception's class is what a user would see
    print(f"{type(e).__module__}.{type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(1)
if "--print" in sys.argv[2:]:
    print(response.text)
else:
    sys.stdout.buffer.write(response.content)
