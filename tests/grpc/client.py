"""gRPC streaming calls with Python grpcio for tests/grpc_streams.rs, no code generation (raw
bytes in and out). Usage: python client.py ADDR CALL...; each CALL is a JSON object, run in
order on one channel per call; one JSON line is printed per call:

  {"code": "OK"|"CANCELLED"|..., "details": str, "messages": [hex, ...], "times": [s, ...],
   "answered_after": N|null, "elapsed": s}

CALL fields:
  kind      "unary" | "server" (server streaming) | "client" (client streaming) | "bidi"
  method    "/SERVICE/METHOD"
  deadline  seconds (default 10)
  retry     a retryPolicy object: the channel's service config retries with it
  send      client and bidi: how many messages the client sends (m1, m2, ...; default 1)
  size      client and bidi: each message padded with dots to this many bytes
  expect    client and bidi: the server must answer right after message `expect`: after each
            earlier one the client waits `hold` seconds (default 0.5) for an answer that must
            not come yet; after it, up to the deadline for the answer, before sending more
"""
import json
import sys
import threading
import time

import grpc

REQUEST = b"\x0a\x05world"


def message(i, size=0):
    return (b"m%d" % i).ljust(size, b".")


def options(call):
    if "retry" not in call:
        return []
    config = {"methodConfig": [{
        "name": [{"service": call["method"].split("/")[1]}],
        "retryPolicy": call["retry"],
    }]}
    return [("grpc.enable_retries", 1), ("grpc.service_config", json.dumps(config))]


class Answer:
    """When the first sign of the server's answer came, counted in messages sent."""

    def __init__(self):
        self.event = threading.Event()
        self.sent = 0
        self.after = None

    def came(self):
        if self.after is None:
            self.after = self.sent
        self.event.set()


def requests(call, answer, t0):
    """The client's messages, waiting between them as `expect` says."""
    expect = call.get("expect")
    hold = call.get("hold", 0.5)
    deadline = call.get("deadline", 10)
    for i in range(1, call.get("send", 1) + 1):
        answer.sent = i
        yield message(i, call.get("size", 0))
        if expect is not None and not answer.event.is_set():
            wait = hold if i < expect else max(0.0, deadline - (time.monotonic() - t0))
            answer.event.wait(wait)


def run(addr, call):
    kind = call["kind"]
    deadline = call.get("deadline", 10)
    out = {"code": "OK", "details": None, "messages": [], "times": [], "answered_after": None}
    t0 = time.monotonic()
    answer = Answer()
    ident = dict(request_serializer=lambda b: b, response_deserializer=lambda b: b)
    with grpc.insecure_channel(addr, options=options(call)) as channel:
        try:
            if kind == "unary":
                reply = channel.unary_unary(call["method"], **ident)(REQUEST, timeout=deadline)
                out["messages"].append(reply.hex())
                out["times"].append(time.monotonic() - t0)
            elif kind == "server":
                stream = channel.unary_stream(call["method"], **ident)(REQUEST, timeout=deadline)
                for m in stream:
                    out["messages"].append(m.hex())
                    out["times"].append(time.monotonic() - t0)
            elif kind == "client":
                fut = channel.stream_unary(call["method"], **ident).future(
                    requests(call, answer, t0), timeout=deadline)
                fut.add_done_callback(lambda _: answer.came())
                reply = fut.result()
                out["messages"].append(reply.hex())
                out["times"].append(time.monotonic() - t0)
            elif kind == "bidi":
                stream = channel.stream_stream(call["method"], **ident)(
                    requests(call, answer, t0), timeout=deadline)
                stream.add_done_callback(answer.came)
                for m in stream:
                    answer.came()
                    out["messages"].append(m.hex())
                    out["times"].append(time.monotonic() - t0)
            else:
                raise SystemExit("unknown kind %r" % kind)
        except grpc.RpcError as e:
            answer.came()
            out["code"] = e.code().name
            out["details"] = e.details()
    out["answered_after"] = answer.after
    out["elapsed"] = time.monotonic() - t0
    return out


def main():
    addr = sys.argv[1]
    for text in sys.argv[2:]:
        print(json.dumps(run(addr, json.loads(text))), flush=True)


if __name__ == "__main__":
    main()
