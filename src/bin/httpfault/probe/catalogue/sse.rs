//! The Server-Sent Events catalogue (`probe --protocol sse`): the healthy answer is an event
//! stream of five events (`id: K`, `data: K` for K from 1 to 5, 50 ms apart) that then ends;
//! a reconnect that carries `Last-Event-ID: K` gets the events after K, and once none is left
//! `204 No Content`, the spec's "stop reconnecting". Served as HTTP/1.1 (the `sse` step's
//! protocol).

use super::{Protocol, Rule, Scenario, Setup, ALWAYS};

/// The healthy stream's plan.
pub const SSE_HEALTHY: &str = "sse=5,50ms";

const SSE: Protocol = Protocol::Sse;

pub const CATALOGUE: &[Scenario] = &[
    Scenario {
        name: "cut-after-3",
        about: "RST right after the 3rd event, once",
        label: "RST after 3 events",
        setup: Setup::Plans("sse=5,50ms/reset=3ev sse=5,50ms"),
        rule: Rule::SseResume {
            what: "an RST after event 3",
            after: 3,
            retry_ms: None,
        },
        faults: 1,
        protocol: SSE,
    },
    Scenario {
        name: "close-after-3",
        about: "FIN right after the 3rd event (no last chunk), once",
        label: "FIN after 3 events",
        setup: Setup::Plans("sse=5,50ms/close=3ev sse=5,50ms"),
        rule: Rule::SseResume {
            what: "a FIN after event 3",
            after: 3,
            retry_ms: None,
        },
        faults: 1,
        protocol: SSE,
    },
    Scenario {
        name: "retry-field",
        about: "retry: 2000, RST after the 3rd event, once (then retry: 100)",
        label: "retry: 2000, RST after 3 events",
        setup: Setup::Plans("sse=5,50ms/sse-retry=2000/reset=3ev sse=5,50ms/sse-retry=100"),
        rule: Rule::SseResume {
            what: "an RST after event 3",
            after: 3,
            retry_ms: Some(2000),
        },
        faults: 1,
        protocol: SSE,
    },
    Scenario {
        name: "204-stop",
        about: "204 No Content on every request: stop reconnecting",
        label: "204",
        setup: Setup::Plans("status=204"),
        rule: Rule::SseStop,
        faults: ALWAYS,
        protocol: SSE,
    },
    Scenario {
        name: "stall",
        about: "reads the request, then not a byte, connection open, once",
        label: "silent, no head",
        setup: Setup::Plans("hang sse=5,50ms"),
        rule: Rule::SseStall,
        faults: 1,
        protocol: SSE,
    },
    Scenario {
        name: "cut-mid-event",
        about: "FIN inside the 4th event (before its blank line), once",
        label: "FIN inside event 4",
        setup: Setup::Plans("sse=5,50ms/close=3ev+14 sse=5,50ms"),
        rule: Rule::SseResume {
            what: "a FIN inside event 4",
            after: 3,
            retry_ms: None,
        },
        faults: 1,
        protocol: SSE,
    },
    Scenario {
        name: "503-then-ok",
        about: "503 Service Unavailable, once, then the stream",
        label: "503",
        setup: Setup::Plans("status=503/text=PROBE-ERROR-503 sse=5,50ms"),
        rule: Rule::SseTransient { status: 503 },
        faults: 1,
        protocol: SSE,
    },
];
