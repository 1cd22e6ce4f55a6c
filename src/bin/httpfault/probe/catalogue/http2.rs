//! The HTTP/2 catalogue (`probe --protocol http2`): the healthy answer is HTTP/1.1's (`200`,
//! the body of known bytes), served as HTTP/2 (prior knowledge, `Upgrade: h2c`, or ALPN `h2`
//! with `--tls`); the faults are HTTP/2's own (RST_STREAM, GOAWAY, a stalled stream, PINGs
//! unanswered, END_STREAM before `content-length`).

use super::{Protocol, Rule, Scenario, Setup};

const H2: Protocol = Protocol::Http2;

pub const CATALOGUE: &[Scenario] = &[
    Scenario {
        name: "rst-mid-body",
        about: "RST_STREAM INTERNAL_ERROR after half the body, once",
        label: "RST_STREAM after {half} bytes",
        setup: Setup::Plans("body={body}/rst=internal_error@{half} body={body}"),
        rule: Rule::Cut,
        faults: 1,
        protocol: H2,
    },
    Scenario {
        name: "refused-stream",
        about: "RST_STREAM REFUSED_STREAM before the head, once",
        label: "RST_STREAM REFUSED_STREAM",
        setup: Setup::Plans("rst=refused_stream body={body}"),
        rule: Rule::Unprocessed {
            what: "a REFUSED_STREAM",
        },
        faults: 1,
        protocol: H2,
    },
    Scenario {
        name: "goaway-graceful",
        about: "GOAWAY NO_ERROR, stream unprocessed, then FIN, once",
        label: "GOAWAY NO_ERROR, stream unprocessed",
        setup: Setup::Plans("goaway=no_error body={body}"),
        rule: Rule::Unprocessed {
            what: "a GOAWAY NO_ERROR",
        },
        faults: 1,
        protocol: H2,
    },
    Scenario {
        name: "goaway-mid-body",
        about: "GOAWAY INTERNAL_ERROR after half the body, then FIN, once",
        label: "GOAWAY after {half} bytes",
        setup: Setup::Plans("body={body}/goaway=internal_error@{half} body={body}"),
        rule: Rule::Cut,
        faults: 1,
        protocol: H2,
    },
    Scenario {
        name: "stall-mid-body",
        about: "nothing more on the stream after half the body, once",
        label: "stream silent after {half} bytes",
        setup: Setup::Plans("body={body}/stall@{half} body={body}"),
        rule: Rule::Hang,
        faults: 1,
        protocol: H2,
    },
    Scenario {
        name: "ping-timeout",
        about: "no PING answered, stream silent after half the body, once",
        label: "no PING answered, silent after {half} bytes",
        setup: Setup::Plans("body={body}/ping-timeout/stall@{half} body={body}"),
        rule: Rule::Hang,
        faults: 1,
        protocol: H2,
    },
    Scenario {
        name: "length-mismatch",
        about: "END_STREAM at half the body, short of content-length, once",
        label: "END_STREAM after {half} bytes",
        setup: Setup::Plans("body={body}/close={half} body={body}"),
        rule: Rule::Cut,
        faults: 1,
        protocol: H2,
    },
    Scenario {
        name: "503-once",
        about: "503 Service Unavailable, once",
        label: "503",
        setup: Setup::Plans("status=503/text=PROBE-ERROR-503 body={body}"),
        rule: Rule::Transient {
            status: 503,
            retry_after: None,
        },
        faults: 1,
        protocol: H2,
    },
    Scenario {
        name: "headers-only",
        about: "HEADERS without END_STREAM, then nothing, once",
        label: "HEADERS, then silent",
        setup: Setup::Plans("headers-only body={body}"),
        rule: Rule::Hang,
        faults: 1,
        protocol: H2,
    },
];
