"""One unary gRPC call with Python grpcio, for `httpfault probe --protocol grpc`: the method
/probe.Echo/Say on URL (http://HOST:PORT, the scheme dropped for grpc's insecure channel),
raw bytes in and out (no code generation), the reply printed as hex on a line.

    python grpc_unary.py URL [--deadline S] [--retry]

--deadline: the call's deadline in seconds (default: none, grpcio waits forever).
--retry: the channel's service config gives the method a retry policy (4 attempts, backoff
0.2 s to 2 s, on UNAVAILABLE and RESOURCE_EXHAUSTED), so grpcio honours
grpc-retry-pushback-ms too. A failed call: `grpc error CODE: DETAILS` on stderr, exit 1.
"""

import json
import sys

import grpc

REQUEST = b"\x0a\x05world"
METHOD = "/probe.Echo/Say"
POLICY = {
    "maxAttempts": 4,
    "initialBackoff": "0.2s",
    "maxBackoff": "2s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE", "RESOURCE_EXHAUSTED"],
}


def main() -> int:
    args = sys.argv[1:]
    addr = args[0].split("://", 1)[-1].rstrip("/")
    deadline = float(args[args.index("--deadline") + 1]) if "--deadline" in args else None
    options = []
    if "--retry" in args:
        config = {"methodConfig": [{"name": [{"service": "probe.Echo"}], "retryPolicy": POLICY}]}
        options = [("grpc.enable_retries", 1), ("grpc.service_config", json.dumps(config))]
    with grpc.insecure_channel(addr, options=options) as channel:
        say = channel.unary_unary(
            METHOD, request_serializer=lambda b: b, response_deserializer=lambda b: b
        )
        try:
            reply = say(REQUEST, timeout=deadline)
        except grpc.RpcError as e:
            print(f"grpc error {e.code().name}: {e.details()}", file=sys.stderr)
            return 1
    print(reply.hex(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
