"""gRPC client for tests/h2.rs (Python grpcio, no code generation): calls
/helloworld.Greeter/SayHello once on ADDR and prints one JSON line
{"code": "OK"|"UNAVAILABLE"|..., "reply": hex|null, "details": str|null}.

Usage: python grpc_client.py ADDR [--retry] [--deadline SECONDS] [--method /SERVICE/METHOD]
    [--stream]
--stream: a server-streaming call; "reply" is then the number of messages received.
--retry: the channel's service config retries UNAVAILABLE up to 4 attempts (the README's
recipe)."""
import json
import sys

import grpc

# A HelloRequest{name: "world"} as protobuf bytes, written by hand: field 1, length 5.
REQUEST = b"\x0a\x05world"

RETRY_CONFIG = json.dumps({
    "methodConfig": [{
        "name": [{"service": "helloworld.Greeter"}],
        "retryPolicy": {
            "maxAttempts": 4,
            "initialBackoff": "0.1s",
            "maxBackoff": "1s",
            "backoffMultiplier": 2,
            "retryableStatusCodes": ["UNAVAILABLE"],
        },
    }]
})


def main():
    addr = sys.argv[1]
    args = sys.argv[2:]
    options = []
    if "--retry" in args:
        options = [("grpc.enable_retries", 1), ("grpc.service_config", RETRY_CONFIG)]
    timeout = None
    if "--deadline" in args:
        timeout = float(args[args.index("--deadline") + 1])
    method = "/helloworld.Greeter/SayHello"
    if "--method" in args:
        method = args[args.index("--method") + 1]
    with grpc.insecure_channel(addr, options=options) as channel:
        kind = channel.unary_stream if "--stream" in args else channel.unary_unary
        call = kind(
            method,
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )
        try:
            if "--stream" in args:
                reply = len(list(call(REQUEST, timeout=timeout)))
            else:
                reply = call(REQUEST, timeout=timeout).hex()
            out = {"code": "OK", "reply": reply, "details": None}
        except grpc.RpcError as e:
            out = {"code": e.code().name, "reply": None, "details": e.details()}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
