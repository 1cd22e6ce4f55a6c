"""A client as many Python programs are written: requests, no timeout, raise_for_status, the
body on stdout. With --retry, urllib3's Retry as its documentation suggests (backoff, retry on
429/500/502/503/504, Retry-After honoured). Used by tests/probe.rs.

    python requests_client.py URL [--retry]
"""
import sys

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

url = sys.argv[1]
session = requests.Session()
if "--retry" in sys.argv[2:]:
    retry = Retry(total=3, backoff_factor=0.5, status_forcelist=[429, 500, 502, 503, 504])
    session.mount("http://", HTTPAdapter(max_retries=retry))
try:
    response = session.get(url)
    response.raise_for_status()
except Exception as e:  # the exception's class is what a user would see
    print(type(e).__name__, file=sys.stderr)
    sys.exit(1)
sys.stdout.buffer.write(response.content)
