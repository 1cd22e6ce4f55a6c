//! The catalogue: one row a scenario, as data. A row names the scenario, says in one line what
//! the server does, how the server is set up, and which verdict rule judges the outcome
//! (`verdict.rs`). Adding a scenario is adding a row. A fault that happens "once" is the first
//! plan of a sequence: every later request gets the healthy answer, so a retry can succeed.
//!
//! Each protocol has its own catalogue: HTTP/1.1's rows are below, HTTP/2's in `http2.rs`,
//! Server-Sent Events' in `sse.rs`.

mod grpc;
mod http2;
mod sse;
mod ws;

pub use sse::SSE_HEALTHY;
pub use ws::WS_HEALTHY;

/// The protocol a catalogue is for (`probe --protocol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    Http2,
    Grpc,
    Ws,
    Sse,
}

impl Protocol {
    pub const ALL: [Protocol; 5] = [
        Protocol::Http1,
        Protocol::Http2,
        Protocol::Grpc,
        Protocol::Ws,
        Protocol::Sse,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Http1 => "http1",
            Protocol::Http2 => "http2",
            Protocol::Grpc => "grpc",
            Protocol::Ws => "ws",
            Protocol::Sse => "sse",
        }
    }

    pub fn parse(text: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.name() == text)
    }

    /// Its scenarios (without the TLS ones).
    pub fn catalogue(self) -> &'static [Scenario] {
        match self {
            Protocol::Http1 => CATALOGUE,
            Protocol::Http2 => http2::CATALOGUE,
            Protocol::Sse => sse::CATALOGUE,
            Protocol::Grpc => grpc::CATALOGUE,
            Protocol::Ws => ws::CATALOGUE,
        }
    }

    /// The plan of the healthy answer (the baseline's, and every scenario's once its faults
    /// are used up), for a healthy body of `body` bytes.
    pub fn healthy_plan(self, body: u64) -> String {
        match self {
            Protocol::Sse => SSE_HEALTHY.to_string(),
            // On a request with content-type application/grpc: the request's message echoed,
            // grpc-status 0.
            Protocol::Grpc => "ok".to_string(),
            Protocol::Ws => WS_HEALTHY.to_string(),
            _ => format!("body={body}"),
        }
    }

    /// Whether a request over `version` (the journal's "HTTP/1.1", "HTTP/2") meets this
    /// catalogue's faults as served.
    pub fn meets(self, version: &str) -> bool {
        match self {
            Protocol::Http2 | Protocol::Grpc => version == "HTTP/2",
            _ => version != "HTTP/2",
        }
    }
}

/// How the server of a scenario is set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// A server whose one route `/*` plays these plans in sequence (the last one repeats).
    /// `{body}` is the healthy body's size, `{half}` half of it, `{slow}` a rate that takes
    /// about 128 s for the whole body.
    Plans(&'static str),
    /// A listener that never accepts (`--blackhole`): connects time out.
    Blackhole,
    /// A port where nothing listens: connects are refused.
    Refused,
    /// `--tls` only: a server whose default plan (this one) breaks every TLS handshake; the
    /// requests of a client that goes on anyway get the healthy answer (route `/*`).
    Handshake(&'static str),
}

/// Which rule judges a scenario (see `verdict::judge`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// The body is cut short or broken once; failing loudly or retrying is right, exit 0 with
    /// less than the body is not.
    Cut,
    /// Nothing at all arrives once (RST or FIN before any byte, `what`): an idempotent request
    /// should be retried.
    NoBytes { what: &'static str },
    /// The server stays silent once: the client needs a timeout.
    Hang,
    /// The body trickles slower than any sane deadline: the client needs an overall deadline.
    Dribble,
    /// A transient status once (`status`), with `Retry-After` seconds if any: a retry fixes it.
    Transient {
        status: u16,
        retry_after: Option<u32>,
    },
    /// The same error status every time: report it, retry with backoff or not at all.
    Always { status: u16 },
    /// Keep-alive connections are closed by the server when reused.
    Stale,
    /// A gzip body with one byte changed, so its CRC check fails: the data must not be kept.
    BadGzip,
    /// More bytes than Content-Length.
    Extra,
    /// Nothing listens.
    Refused,
    /// The connect never completes.
    ConnectTimeout,
    /// Every answer redirects to itself.
    RedirectLoop,
    /// `--tls`: a certificate the client must refuse (`what`): sending a request over it is bad.
    BadCert { what: &'static str },
    /// `--tls`: every handshake breaks (`what`) before any HTTP byte: the client must fail
    /// and say so.
    HandshakeCut { what: &'static str },
    /// `--tls`: a body framed by the connection's end, cut by a FIN without `close_notify`:
    /// only `close_notify` tells it from the whole body.
    NoCloseNotify,
    /// HTTP/2: the stream was refused unprocessed (`what`: REFUSED_STREAM, a GOAWAY whose
    /// last-stream-id is below it): a retry is safe for any method, and fixes it.
    Unprocessed { what: &'static str },
    /// Server-Sent Events: the stream ends after `after` events (`what`); the client must
    /// reconnect with `Last-Event-ID: after` (after `retry_ms` if the stream set it) and
    /// print every event once.
    SseResume {
        what: &'static str,
        after: u32,
        retry_ms: Option<u32>,
    },
    /// Server-Sent Events: `204` on every request: the client must stop reconnecting.
    SseStop,
    /// Server-Sent Events: no byte at all once: an idle timeout must end the wait.
    SseStall,
    /// Server-Sent Events: a transient status once: a reconnect gets the stream.
    SseTransient { status: u16 },
    /// gRPC: a retryable status (`code`) once: a retry fixes it.
    GrpcTransient { code: &'static str },
    /// gRPC: the same status on every call: fail, after retries with backoff or none.
    GrpcAlways { code: &'static str },
    /// gRPC: `code` with `grpc-retry-pushback-ms: ms` once: a retry must wait that long.
    GrpcPushback { code: &'static str, ms: u32 },
    /// gRPC: a call that failed (`what`): it must not be reported as a success.
    GrpcFailure { what: &'static str },
    /// gRPC: the answer stalls once: a deadline must end the call.
    GrpcDeadline,
    /// WebSocket: the connection ends early (`what`) once: fail loudly, or reconnect to
    /// every message.
    WsCut { what: &'static str },
    /// WebSocket: every message, then a FIN with no close frame (1006).
    WsNoClose,
    /// WebSocket: the connection stays open and silent (`what`): a timeout must end it.
    WsHang { what: &'static str },
    /// WebSocket: a valid stream in an unusual shape (`what`): it must read as the healthy one.
    WsValid { what: &'static str },
    /// WebSocket: a frame the client must fail the connection on (`what`), never delivering it.
    WsMustFail { what: &'static str },
    /// WebSocket: one message of `size` bytes: take it whole, or refuse it (1009) and fail.
    WsBig { size: u64 },
    /// WebSocket: the upgrade refused with `status`, every time.
    WsRefused { status: u16 },
}

/// One scenario.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    /// The stable name (`--only`, `--skip`, the JSON).
    pub name: &'static str,
    /// What the server does, in one line (`--list`).
    pub about: &'static str,
    /// The fault in a few plain words, for the HTML timeline's marks ("RST after {half}
    /// bytes"); numbers are filled in with thousands separators.
    pub label: &'static str,
    pub setup: Setup,
    pub rule: Rule,
    /// How many plans of the sequence are faults; later attempts get the healthy answer.
    /// `usize::MAX`: every attempt meets the fault.
    pub faults: usize,
    /// The catalogue it belongs to.
    pub protocol: Protocol,
}

/// The bytes that follow the body in `extra-bytes`.
pub const EXTRA: &str = "EXTRA-BYTES-PAST-CONTENT-LENGTH";

/// The body of every error answer (503, 429, 500, 302) starts so, then the status: a command
/// that prints it has printed an error answer as data.
pub const ERROR_MARK: &str = "PROBE-ERROR-";

/// Where `redirect-loop` sends the command, and then sends it again: a request for another
/// target starts a new run of the chain (the command's own, or a retry of it).
pub const LOOP_TARGET: &str = "/redirect-loop";

pub const ALWAYS: usize = usize::MAX;

/// Every scenario, in the order they are run and printed.
pub const CATALOGUE: &[Scenario] = &[
    Scenario {
        name: "reset-mid-body",
        about: "RST after half the body, once",
        label: "RST after {half} bytes",
        setup: Setup::Plans("body={body}/reset={half} body={body}"),
        rule: Rule::Cut,
        faults: 1,
        protocol: Protocol::Http1,
    },
    Scenario {
        name: "close-mid-body",
        about: "FIN after half the body (short of Content-Length), once",
        label: "FIN after {half} bytes",
        setup: Setup::Plans("body={body}/close={half} body={body}"),
        rule: Rule::Cut,
        faults: 1,
        protocol: Protocol::Http1,
    },
    Scenario {
        name: "empty-reply",
        about: "FIN with no bytes at all, once",
        label: "FIN, no bytes",
        setup: Setup::Plans("close body={body}"),
        rule: Rule::NoBytes {
            what: "an empty reply",
        },
        faults: 1,
        protocol: Protocol::Http1,
    },
    Scenario {
        name: "reset-before-head",
        about: "RST before any byte, once",
        label: "RST before any byte",
        setup: Setup::Plans("reset body={body}"),
        rule: Rule::NoBytes {
            what: "a reset before any byte",
        },
        faults: 1,
        protocol: Protocol::Http1,
    },
    Scenario {
        name: "hang-before-head",
        about: "reads the request, then silence, connection open, once",
        label: "silent, no head",
        setup: Setup::Plans("hang body={body}"),
        rule: Rule::Hang,
        faults: 1,
        protocol: Protocol::Http1,
    },
    Scenario {
        name: "hang-mid-body",
        about: "silence after half the body, connection open, once",
        label: "silent after {half} bytes",
        setup: Setup::Plans("body={body}/hang={half} body={body}"),
        rule: Rule::Hang,
        faults: 1,
        protocol: Protocol::Http1,
    },
    Scenario {
        name: "dribble",
        about: "the response at {slow} bytes/s (about 128 s), once",
        label: "{slow} bytes a second",
        setup: Setup::Plans("body={body}/rate={slow} body={body}"),
        rule: Rule::Dribble,
        faults: 1,
        protocol: Protocol::Http1,
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
        protocol: Protocol::Http1,
    },
    Scenario {
        name: "503-retry-after",
        about: "503 with Retry-After: 2, once",
        label: "503, Retry-After: 2",
        setup: Setup::Plans("status=503/header=Retry-After:2/text=PROBE-ERROR-503 body={body}"),
        rule: Rule::Transient {
            status: 503,
            retry_after: Some(2),
        },
        faults: 1,
        protocol: Protocol::Http1,
    },
    Scenario {
        name: "429-retry-after",
        about: "429 Too Many Requests with Retry-After: 1, once",
        label: "429, Retry-After: 1",
        setup: Setup::Plans("status=429/header=Retry-After:1/text=PROBE-ERROR-429 body={body}"),
        rule: Rule::Transient {
            status: 429,
            retry_after: Some(1),
        },
        faults: 1,
        protocol: Protocol::Http1,
    },
    Scenario {
        name: "500-always",
        about: "500 Internal Server Error on every request",
        label: "500",
        setup: Setup::Plans("status=500/text=PROBE-ERROR-500"),
        rule: Rule::Always { status: 500 },
        faults: ALWAYS,
        protocol: Protocol::Http1,
    },
    Scenario {
        name: "stale-keepalive",
        about: "healthy answers; a kept-alive connection is closed if reused",
        label: "closes a reused connection",
        setup: Setup::Plans("body={body}/reuse=close"),
        rule: Rule::Stale,
        faults: 0,
        protocol: Protocol::Http1,
    },
    Scenario {
        name: "bad-chunk",
        about: "chunked body with a malformed chunk-size line, once",
        label: "bad chunk size after 4,096 bytes",
        setup: Setup::Plans("body={body}/chunked=4k/badchunk body={body}"),
        rule: Rule::Cut,
        faults: 1,
        protocol: Protocol::Http1,
    },
    Scenario {
        name: "bad-gzip",
        about: "gzip with its middle byte changed, so the CRC fails, once",
        label: "gzip, a byte changed, CRC fails",
        setup: Setup::Plans("body={body}/gzip=bad body={body}"),
        rule: Rule::BadGzip,
        faults: 1,
        protocol: Protocol::Http1,
    },
    Scenario {
        name: "extra-bytes",
        about: "31 bytes more than Content-Length after the body, every time",
        label: "31 bytes past Content-Length",
        setup: Setup::Plans("body={body}/extra=EXTRA-BYTES-PAST-CONTENT-LENGTH"),
        rule: Rule::Extra,
        faults: ALWAYS,
        protocol: Protocol::Http1,
    },
    Scenario {
        name: "refused",
        about: "nothing listens on the port: the connect is refused",
        label: "nothing listens",
        setup: Setup::Refused,
        rule: Rule::Refused,
        faults: ALWAYS,
        protocol: Protocol::Http1,
    },
    Scenario {
        name: "connect-timeout",
        about: "the listener never accepts (--blackhole): connects time out",
        label: "connect never accepted",
        setup: Setup::Blackhole,
        rule: Rule::ConnectTimeout,
        faults: ALWAYS,
        protocol: Protocol::Http1,
    },
    Scenario {
        name: "redirect-loop",
        about: "302 to /redirect-loop, which redirects to itself, every time",
        label: "302 to /redirect-loop",
        setup: Setup::Plans("status=302/header=Location:%2Fredirect-loop/text=PROBE-ERROR-302"),
        rule: Rule::RedirectLoop,
        faults: ALWAYS,
        protocol: Protocol::Http1,
    },
];

/// The scenarios added by `probe --tls`, run after the others. The handshake faults come
/// from the default plan (a handshake happens before any path is read), so they meet every
/// connection.
pub const TLS_CATALOGUE: &[Scenario] = &[
    Scenario {
        name: "tls-expired",
        about: "a certificate that expired (by the CA), every time",
        label: "expired certificate",
        setup: Setup::Handshake("tls=expired"),
        rule: Rule::BadCert {
            what: "an expired certificate",
        },
        faults: ALWAYS,
        protocol: Protocol::Http1,
    },
    Scenario {
        name: "tls-wrong-host",
        about: "a certificate for another name (by the CA), every time",
        label: "certificate for another host",
        setup: Setup::Handshake("tls=wrong-host"),
        rule: Rule::BadCert {
            what: "a certificate for another host",
        },
        faults: ALWAYS,
        protocol: Protocol::Http1,
    },
    Scenario {
        name: "tls-self-signed",
        about: "a self-signed certificate, every time",
        label: "self-signed certificate",
        setup: Setup::Handshake("tls=self-signed"),
        rule: Rule::BadCert {
            what: "a self-signed certificate",
        },
        faults: ALWAYS,
        protocol: Protocol::Http1,
    },
    Scenario {
        name: "tls-untrusted",
        about: "a certificate signed by a CA nobody trusts, every time",
        label: "untrusted certificate",
        setup: Setup::Handshake("tls=untrusted"),
        rule: Rule::BadCert {
            what: "an untrusted certificate",
        },
        faults: ALWAYS,
        protocol: Protocol::Http1,
    },
    Scenario {
        name: "tls-reset",
        about: "RST right after the ClientHello, every time",
        label: "RST after the ClientHello",
        setup: Setup::Handshake("tls=reset"),
        rule: Rule::HandshakeCut {
            what: "a reset during the TLS handshake",
        },
        faults: ALWAYS,
        protocol: Protocol::Http1,
    },
    Scenario {
        name: "tls-hang",
        about: "the ClientHello is never answered, every time",
        label: "ClientHello never answered",
        setup: Setup::Handshake("tls=hang"),
        rule: Rule::HandshakeCut {
            what: "a TLS handshake that never ends",
        },
        faults: ALWAYS,
        protocol: Protocol::Http1,
    },
    Scenario {
        name: "tls-no-close-notify",
        about: "no Content-Length, FIN after half the body, no close_notify",
        label: "FIN after {half} bytes, no close_notify",
        setup: Setup::Plans("body={body}/length=none/close={half}/tls=no-close-notify body={body}"),
        rule: Rule::NoCloseNotify,
        faults: 1,
        protocol: Protocol::Http1,
    },
];

/// Every HTTP/1.1 scenario: the catalogue, then with `--tls` the TLS ones.
#[cfg(test)]
pub fn all(tls: bool) -> impl Iterator<Item = &'static Scenario> {
    all_of(Protocol::Http1, tls)
}

/// Every scenario of `protocol`'s catalogue; for HTTP/1.1 with `--tls`, then the TLS ones.
pub fn all_of(protocol: Protocol, tls: bool) -> impl Iterator<Item = &'static Scenario> {
    let tls_rows = match (protocol, tls) {
        (Protocol::Http1, true) => TLS_CATALOGUE,
        _ => &[],
    };
    protocol.catalogue().iter().chain(tls_rows.iter())
}

/// The HTTP/1.1 scenario of that name (a TLS one too).
#[cfg(test)]
pub fn find(name: &str) -> Option<&'static Scenario> {
    find_in(Protocol::Http1, name)
}

/// The scenario of that name in `protocol`'s catalogue (for HTTP/1.1, a TLS one too).
pub fn find_in(protocol: Protocol, name: &str) -> Option<&'static Scenario> {
    all_of(protocol, true).find(|s| s.name == name)
}

/// The byte rate of `dribble` for a body of `body` bytes: about 128 s for the whole body.
pub fn slow_rate(body: u64) -> u64 {
    (body / 128).max(1)
}

impl Scenario {
    /// The route for this scenario's server (`/* PLAN PLAN ...`), for a healthy body of `body`
    /// bytes; `None` when no server answers.
    pub fn route(&self, body: u64) -> Option<String> {
        match self.setup {
            Setup::Plans(plans) => Some(format!("/* {}", fill(plans, body))),
            Setup::Handshake(_) => Some(format!("/* body={body}")),
            Setup::Blackhole | Setup::Refused => None,
        }
    }

    /// The one-line description with the numbers of this run.
    pub fn describe(&self, body: u64) -> String {
        fill(self.about, body)
    }

    /// The fault in plain words with this run's numbers ("RST after 32,768 bytes").
    pub fn label(&self, body: u64) -> String {
        fill_with(self.label, body, thousands)
    }

    /// Whether a client that connects at all reaches a server that answers.
    pub fn answers(&self) -> bool {
        matches!(self.setup, Setup::Plans(_))
    }

    /// The default plan of this scenario's server (the handshake faults), if any.
    pub fn default_plan(&self) -> Option<&'static str> {
        match self.setup {
            Setup::Handshake(plan) => Some(plan),
            _ => None,
        }
    }

    /// Only with `--tls`.
    pub fn needs_tls(&self) -> bool {
        TLS_CATALOGUE.iter().any(|s| s.name == self.name)
    }
}

fn fill(text: &str, body: u64) -> String {
    fill_with(text, body, |n| n.to_string())
}

fn fill_with(text: &str, body: u64, number: fn(u64) -> String) -> String {
    text.replace("{body}", &number(body))
        .replace("{half}", &number(body / 2))
        .replace("{slow}", &number(slow_rate(body)))
}

/// `32768` as `32,768`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_contracts_and_unique() {
        let names: Vec<_> = CATALOGUE.iter().map(|s| s.name).collect();
        for want in [
            "reset-mid-body",
            "close-mid-body",
            "empty-reply",
            "reset-before-head",
            "hang-before-head",
            "hang-mid-body",
            "dribble",
            "503-once",
            "503-retry-after",
            "429-retry-after",
            "500-always",
            "stale-keepalive",
            "bad-chunk",
            "bad-gzip",
            "extra-bytes",
            "refused",
            "connect-timeout",
            "redirect-loop",
        ] {
            assert!(names.contains(&want), "{want} missing");
        }
        for want in [
            "tls-expired",
            "tls-wrong-host",
            "tls-self-signed",
            "tls-untrusted",
            "tls-reset",
            "tls-hang",
            "tls-no-close-notify",
        ] {
            assert!(!names.contains(&want), "{want} without --tls");
            assert!(find(want).is_some_and(Scenario::needs_tls), "{want}");
        }
        let names: Vec<_> = all(true).map(|s| s.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "duplicate names");
    }

    #[test]
    fn every_protocols_names_are_the_contracts_and_unique() {
        let want: &[(Protocol, &[&str])] = &[
            (
                Protocol::Http2,
                &[
                    "rst-mid-body",
                    "refused-stream",
                    "goaway-graceful",
                    "goaway-mid-body",
                    "stall-mid-body",
                    "ping-timeout",
                    "length-mismatch",
                    "503-once",
                    "headers-only",
                ],
            ),
            (
                Protocol::Grpc,
                &[
                    "unavailable-once",
                    "unavailable-always",
                    "pushback",
                    "deadline",
                    "no-trailers",
                    "rst-mid-message",
                    "goaway",
                    "internal-once",
                ],
            ),
            (
                Protocol::Ws,
                &[
                    "drop-1006",
                    "close-1011",
                    "fin-without-close",
                    "close-no-reply",
                    "pong-never",
                    "fragmented",
                    "bad-mask",
                    "bad-utf8",
                    "bad-opcode",
                    "big-message",
                    "refused-403",
                ],
            ),
            (
                Protocol::Sse,
                &[
                    "cut-after-3",
                    "close-after-3",
                    "retry-field",
                    "204-stop",
                    "stall",
                    "cut-mid-event",
                    "503-then-ok",
                ],
            ),
        ];
        for (p, names) in want {
            let got: Vec<_> = p.catalogue().iter().map(|s| s.name).collect();
            assert_eq!(&got, names, "{}", p.name());
            assert!(p.catalogue().iter().all(|s| s.protocol == *p));
            assert_eq!(Protocol::parse(p.name()), Some(*p));
        }
        assert!(CATALOGUE.iter().all(|s| s.protocol == Protocol::Http1));
    }

    /// Every scenario of every catalogue (HTTP/1.1's TLS ones too).
    fn every() -> impl Iterator<Item = &'static Scenario> {
        Protocol::ALL.into_iter().flat_map(|p| all_of(p, true))
    }

    #[test]
    fn every_route_parses() {
        for p in Protocol::ALL {
            let healthy = format!("/* {}", p.healthy_plan(65536));
            httpfault::check_routes(&healthy).unwrap_or_else(|e| panic!("{}: {e}", p.name()));
        }
        for s in every() {
            if let Some(plan) = s.default_plan() {
                httpfault::check_plan(plan).unwrap_or_else(|e| panic!("{}: {e}", s.name));
            }
            if let Some(route) = s.route(65536) {
                httpfault::check_routes(&route).unwrap_or_else(|e| panic!("{}: {e}", s.name));
            }
        }
        assert_eq!(
            find("reset-mid-body").unwrap().route(65536).unwrap(),
            "/* body=65536/reset=32768 body=65536"
        );
    }

    #[test]
    fn list_lines_fit_80_columns() {
        for s in every() {
            let line = format!("{:<19} {}", s.name, s.describe(65536));
            assert!(line.chars().count() <= 80, "{line}");
        }
    }

    #[test]
    fn labels_are_plain_words_with_separated_numbers() {
        let label = |n: &str| find(n).unwrap().label(65536);
        assert_eq!(label("reset-mid-body"), "RST after 32,768 bytes");
        assert_eq!(label("dribble"), "512 bytes a second");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        for s in every() {
            let l = s.label(1 << 30);
            assert!(!l.contains('=') && !l.contains('{'), "{}: {l}", s.name);
        }
    }

    #[test]
    fn error_answers_carry_the_mark_and_the_loop_its_target() {
        for s in every() {
            let Setup::Plans(plans) = s.setup else {
                continue;
            };
            for plan in plans.split(' ') {
                let status = plan.split('/').find_map(|st| st.strip_prefix("status="));
                // A 204 has no body to carry the mark.
                if let Some(code) = status.filter(|c| *c != "204") {
                    assert!(plan.contains(&format!("text={ERROR_MARK}{code}")), "{plan}");
                }
            }
        }
        let loop_plan = find("redirect-loop").unwrap().route(1).unwrap();
        assert!(
            loop_plan.contains("Location:%2Fredirect-loop"),
            "{loop_plan}"
        );
        assert_eq!(LOOP_TARGET, "/redirect-loop");
    }

    #[test]
    fn extra_matches_its_plan() {
        let s = find("extra-bytes").unwrap();
        assert!(matches!(s.setup, Setup::Plans(p) if p.ends_with(EXTRA)));
        assert!(s.about.starts_with(&EXTRA.len().to_string()));
    }
}
