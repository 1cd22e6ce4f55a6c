"""A client as many Python programs are written with httpx: its default timeout (5 s per
connect, read, write and pool wait), no redirects followed, raise_for_status, the body on stdout.
With --print the body is printed as text (print(r.text): a newline after it). With --http2 it
speaks HTTP/2 only (httpx.Client(http1=False, http2=True): prior knowledge over http://, ALPN
h2 over https://, trusting $HTTPFAULT_CA; the h2 package). --timeout S sets httpx's timeout.
Used by tests/probe_clients.rs and tests/probe_h2.rs.

    python httpx_client.py URL [--print] [--http2] [--timeout S]
"""
import os
import ssl
import sys

import httpx

args = sys.argv[2:]
timeout = float(args[args.index("--timeout") + 1]) if "--timeout" in args else 5.0
ca = os.environ.get("HTTPFAULT_CA")
verify = ssl.create_default_context(cafile=ca) if ca else True
try:
    if "--http2" in args:
        with httpx.Client(http1=False, http2=True, timeout=timeout, verify=verify) as c:
            response = c.get(sys.argv[1])
    else:
        response = httpx.get(sys.argv[1], timeout=timeout)
    response.raise_for_status()
except Exception as e:  # the exception's class is what a user would see
    print(f"{type(e).__module__}.{type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(1)
if "--print" in args:
    print(response.text)
else:
    sys.stdout.buffer.write(response.content)
