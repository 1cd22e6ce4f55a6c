//! The WebSocket catalogue (`probe --protocol ws`): the command connects to `{url}` (as
//! `ws://`), sends one message and prints each message it receives on a line. The healthy
//! answer echoes its message, sends three more (`1`, `2`, `3`, 50 ms apart, the first right
//! after the handshake, so the echo may come before or after `1`), then closes with 1000 once
//! four messages went out: a well-behaved command prints four lines and exits 0.

use super::{Protocol, Rule, Scenario, Setup, ALWAYS};

/// The healthy connection's plan.
pub const WS_HEALTHY: &str = "ws-send=3,,50ms/ws-close=1000@4";

const WS: Protocol = Protocol::Ws;

pub const CATALOGUE: &[Scenario] = &[
    Scenario {
        name: "drop-1006",
        about: "FIN after 2 messages, no close frame (1006), once",
        label: "FIN after 2 messages",
        setup: Setup::Plans("ws-send=3,,50ms/close=2msg ws-send=3,,50ms/ws-close=1000@4"),
        rule: Rule::WsCut {
            what: "a FIN with no close frame after 2 messages",
        },
        faults: 1,
        protocol: WS,
    },
    Scenario {
        name: "close-1011",
        about: "a close frame 1011 after 2 messages, once",
        label: "close 1011 after 2 messages",
        setup: Setup::Plans(
            "ws-send=3,,50ms/ws-close=1011,probe@2 ws-send=3,,50ms/ws-close=1000@4",
        ),
        rule: Rule::WsCut {
            what: "a close frame 1011 after 2 messages",
        },
        faults: 1,
        protocol: WS,
    },
    Scenario {
        name: "fin-without-close",
        about: "every message, then a FIN with no close frame (1006), once",
        label: "FIN after 4 messages, no close frame",
        setup: Setup::Plans("ws-send=3,,50ms/close=4msg ws-send=3,,50ms/ws-close=1000@4"),
        rule: Rule::WsNoClose,
        faults: 1,
        protocol: WS,
    },
    Scenario {
        name: "close-no-reply",
        about: "all messages, no close frame, the client's unanswered, once",
        label: "no close, the client's unanswered",
        setup: Setup::Plans("ws-send=3,,50ms/ws-close-no-reply ws-send=3,,50ms/ws-close=1000@4"),
        rule: Rule::WsHang {
            what: "a server that never closes nor answers a close frame",
        },
        faults: 1,
        protocol: WS,
    },
    Scenario {
        name: "pong-never",
        about: "no pong to a ping, silence after the 1st message, once",
        label: "no pong, silent after 1 message",
        setup: Setup::Plans("ws-send=3,,50ms/ws-pong=no/hang=1msg ws-send=3,,50ms/ws-close=1000@4"),
        rule: Rule::WsHang {
            what: "a peer that answers no ping and sends nothing",
        },
        faults: 1,
        protocol: WS,
    },
    Scenario {
        name: "fragmented",
        about: "each message in 3 frames with a ping between, once",
        label: "3 frames a message",
        setup: Setup::Plans(
            "ws-send=3,,50ms/ws-close=1000@4/ws-frag=3 ws-send=3,,50ms/ws-close=1000@4",
        ),
        rule: Rule::WsValid {
            what: "messages in 3 frames each",
        },
        faults: 1,
        protocol: WS,
    },
    Scenario {
        name: "bad-mask",
        about: "a masked frame from the server (1002), once",
        label: "a masked server frame",
        setup: Setup::Plans(
            "ws-send=3,,50ms/ws-close=1000@4/ws-bad=mask ws-send=3,,50ms/ws-close=1000@4",
        ),
        rule: Rule::WsMustFail {
            what: "a masked server frame",
        },
        faults: 1,
        protocol: WS,
    },
    Scenario {
        name: "bad-utf8",
        about: "a text message of invalid UTF-8 (1007), once",
        label: "invalid UTF-8 text",
        setup: Setup::Plans(
            "ws-send=3,,50ms/ws-close=1000@4/ws-bad=utf8 ws-send=3,,50ms/ws-close=1000@4",
        ),
        rule: Rule::WsMustFail {
            what: "a text message of invalid UTF-8",
        },
        faults: 1,
        protocol: WS,
    },
    Scenario {
        name: "bad-opcode",
        about: "a frame with the reserved opcode 0x3 (1002), once",
        label: "reserved opcode 0x3",
        setup: Setup::Plans(
            "ws-send=3,,50ms/ws-close=1000@4/ws-bad=opcode ws-send=3,,50ms/ws-close=1000@4",
        ),
        rule: Rule::WsMustFail {
            what: "a frame with a reserved opcode",
        },
        faults: 1,
        protocol: WS,
    },
    Scenario {
        name: "big-message",
        about: "a 2 MiB text message first, then the healthy ones, once",
        label: "a 2,097,152-byte message",
        setup: Setup::Plans(
            "ws-big=2m/ws-send=3,,50ms/ws-close=1000@5 ws-send=3,,50ms/ws-close=1000@4",
        ),
        rule: Rule::WsBig { size: 2 << 20 },
        faults: 1,
        protocol: WS,
    },
    Scenario {
        name: "refused-403",
        about: "the upgrade refused with 403 Forbidden, every time",
        label: "403",
        setup: Setup::Plans("status=403/text=PROBE-ERROR-403"),
        rule: Rule::WsRefused { status: 403 },
        faults: ALWAYS,
        protocol: WS,
    },
];
