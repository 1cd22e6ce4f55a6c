//! The gRPC catalogue (`probe --protocol grpc`): the command calls any unary method on `{url}`
//! (cleartext HTTP/2, gRPC's insecure channels; with `--tls`, ALPN h2); the healthy answer
//! echoes the request's message with `grpc-status: 0` (the plan `ok` on a request with
//! `content-type: application/grpc`). The faults are gRPC statuses, the retry pushback
//! trailer, a stalled call, a call without trailers, and the HTTP/2 faults under a call.

use super::{Protocol, Rule, Scenario, Setup, ALWAYS};

const GRPC: Protocol = Protocol::Grpc;

pub const CATALOGUE: &[Scenario] = &[
    Scenario {
        name: "unavailable-once",
        about: "grpc-status UNAVAILABLE (trailers-only), once",
        label: "UNAVAILABLE",
        setup: Setup::Plans("grpc-status=unavailable ok"),
        rule: Rule::GrpcTransient {
            code: "UNAVAILABLE",
        },
        faults: 1,
        protocol: GRPC,
    },
    Scenario {
        name: "unavailable-always",
        about: "grpc-status UNAVAILABLE on every call",
        label: "UNAVAILABLE",
        setup: Setup::Plans("grpc-status=unavailable"),
        rule: Rule::GrpcAlways {
            code: "UNAVAILABLE",
        },
        faults: ALWAYS,
        protocol: GRPC,
    },
    Scenario {
        name: "pushback",
        about: "RESOURCE_EXHAUSTED with grpc-retry-pushback-ms: 1500, once",
        label: "RESOURCE_EXHAUSTED, pushback 1,500 ms",
        setup: Setup::Plans("grpc-status=resource_exhausted/grpc-pushback=1500 ok"),
        rule: Rule::GrpcPushback {
            code: "RESOURCE_EXHAUSTED",
            ms: 1500,
        },
        faults: 1,
        protocol: GRPC,
    },
    Scenario {
        name: "deadline",
        about: "the answer stalls inside its first message, once",
        label: "stalled after 3 bytes",
        setup: Setup::Plans("stall@3 ok"),
        rule: Rule::GrpcDeadline,
        faults: 1,
        protocol: GRPC,
    },
    Scenario {
        name: "no-trailers",
        about: "the message, then END_STREAM without trailers, once",
        label: "no trailers",
        setup: Setup::Plans("no-trailers ok"),
        rule: Rule::GrpcFailure {
            what: "a call that ended without grpc-status",
        },
        faults: 1,
        protocol: GRPC,
    },
    Scenario {
        name: "rst-mid-message",
        about: "RST_STREAM INTERNAL_ERROR 3 bytes into the message, once",
        label: "RST_STREAM after 3 bytes",
        setup: Setup::Plans("rst=internal_error@3 ok"),
        rule: Rule::GrpcFailure {
            what: "an RST_STREAM inside the message",
        },
        faults: 1,
        protocol: GRPC,
    },
    Scenario {
        name: "goaway",
        about: "GOAWAY NO_ERROR, call unprocessed, then FIN, once",
        label: "GOAWAY NO_ERROR, call unprocessed",
        setup: Setup::Plans("goaway=no_error ok"),
        rule: Rule::Unprocessed {
            what: "a GOAWAY NO_ERROR",
        },
        faults: 1,
        protocol: GRPC,
    },
    Scenario {
        name: "internal-once",
        about: "grpc-status INTERNAL (trailers-only), once",
        label: "INTERNAL",
        setup: Setup::Plans("grpc-status=internal ok"),
        rule: Rule::GrpcFailure { what: "INTERNAL" },
        faults: 1,
        protocol: GRPC,
    },
];
