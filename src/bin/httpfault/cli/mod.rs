//! The command line: the help text (its step list generated from the step table), the
//! options, and parsing with pico-args into a library [`httpfault::Builder`].

mod options;

use httpfault::LogFormat;
pub use options::Options;
#[cfg(test)]
pub use options::DEFAULT_LISTEN;
use options::{opt, parse_listen, parse_log, parse_path, parse_seed};
use std::ffi::OsString;
use std::fmt;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

const HELP_HEAD: &str = "\
httpfault: an HTTP/1.1 and HTTP/2 (h2c) server that breaks on purpose

USAGE:
    httpfault [OPTIONS] [PLAN]
    httpfault --upstream http://HOST:PORT [OPTIONS] [PLAN]      (proxy mode)
    httpfault --tcp --upstream HOST:PORT [OPTIONS] [PLAN]       (TCP mode)
    httpfault probe [OPTIONS] -- COMMAND [ARG...]    (judge a client: probe -h)
    httpfault toxiproxy [--listen ADDR]    (toxiproxy's API: toxiproxy -h)

With no PLAN every request gets the classic broken response: HTTP/1.1 200 OK,
Content-Length: 13, the 6 bytes `Hello,`, then a TCP reset (curl: exit 56).
A request path that starts with a step is a plan for that request alone, up to
a segment `-` (what follows is the client's own path):
    curl http://127.0.0.1:9000/status=503/delay=2s
    SDK base URL: http://127.0.0.1:9000/times=2/reset/-
HTTP/2 on the same listener (prior knowledge or Upgrade: h2c), a stream each
exchange; gRPC faults on a route: --route 'POST /pkg.Svc/Method grpc-status=14'
    curl --http2-prior-knowledge http://127.0.0.1:9000/body=10k/rst=cancel@1000
";

const HELP_MORE: &str = "\
ROUTES: --route 'POST /v1/upload reset=1m*2 status=201'
    METHOD is optional; PATH is matched without the query, `*` matches any run
    of characters; the plans are a sequence: the n-th matching request gets
    the n-th plan, the last one repeats. PLAN*N = N times; `ok` = plain 200.
    The first matching route wins; else the path plan; else the default plan.
    With routes and no default PLAN, a request no route matches gets 404 and
    a one-line body naming the closest routes. A word starting with # ends
    the route (a comment; a literal # in a value is %23). A route that an
    earlier one shadows (it can never match) is warned about on stderr.

CONTROL API (main listener if loopback, and --control ADDR):
    GET /__httpfault/requests[?since=SEQ&min=N&wait=DUR&complete=1]: the
    journal; wait=DUR (needs min) waits until N entries after SEQ are there
    (started; with complete=1, ended: what the library's wait_for counts)
    DELETE /__httpfault/requests, GET|PUT /__httpfault/routes,
    GET|PUT /__httpfault/plan, POST /__httpfault/reset, GET /__httpfault/metrics
    Requests to the control API are never journaled, counted or faulted.

TLS FAULTS (--tls): tls=hang (the ClientHello is never answered), tls=reset /
    tls=close (RST / FIN right after the ClientHello), tls=alert=NAME (a fatal
    alert instead of the ServerHello: handshake_failure, protocol_version,
    internal_error, unrecognized_name, ... or a number), tls=expired,
    tls=wrong-host, tls=self-signed, tls=untrusted (the handshake completes with
    such a certificate), tls=no-close-notify (after the response the connection
    ends with a FIN and no close_notify). The handshake steps come from the
    default plan or an --sni plan, never from a path plan. Offsets count
    plaintext bytes.

PLAN: steps separated by /, each `name` or `name=value` (values are
percent-decoded, so a / inside a value is %2F); `ok` alone = plain 200.
OFFSET counts body bytes (6, 64k), or head bytes with head:N, or `end`; for
reset/close/hang, req:N counts request body bytes read. SIZE: 512, 64k, 10m.
DUR: 250ms, 2s, 1.5s, 1m. Message offsets: 3ev = after the 3rd Server-Sent
Event, 3msg = after the 3rd gRPC/WebSocket message, 3ev+10 = 10 bytes into the
4th (reset, close, hang, pause; one unit a plan). sse=N[,INTERVAL]: events
id/data 1..N, chunked, the interval a pause after each; Last-Event-ID: K gets
K+1..N, and 204 once none is left. file=PATH: a / in PATH is %2F.
Proxy mode: the plan comes from the X-Httpfault-Plan header, the routes or the
default plan (none: pass-through).
`times` counts per method and per path (a base URL's plan and the client's
path after `-`), routes per route and method. A request that `times` or
`chance` leaves out gets the plan's content steps (marked *; gzip=bad is a
fault) without its faults: what a healthy server would send.
";

const HELP_TAIL: &str = "
EXAMPLES:
    httpfault                            # Hello, then RST on every request
    httpfault --once status=200          # serve one browser visit, exit 0
    httpfault -l 0 --port-file port 'status=503/delay=2s'
    httpfault --route 'GET /v1/items ok' \\
              --route 'POST /v1/upload reset*2 status=201'
    curl http://127.0.0.1:9000/body=10m/reset=5m    # curl: (56) after 5 MiB
    curl http://127.0.0.1:9000/times=2/reset        # reset twice, then 200
    curl http://127.0.0.1:9000/times=1/body=1m/close=512k  # cut, then whole
    curl http://127.0.0.1:9000/chunked=4/badchunk
    curl http://127.0.0.1:9000/__httpfault/requests
    httpfault --tls --cert-out ca.pem --sni 'expired.localhost tls=expired'
    curl --cacert ca.pem https://localhost:9000/body=1m/reset=512k  # (56)
    curl --cacert ca.pem https://expired.localhost:9000/            # (60)

OUTPUT AND EXIT STATUS:
    stdout has one line, `listening on http://HOST:PORT` (`https://` with
    --tls, `tcp://` in TCP mode), once it listens.
    Logs go to stderr (the `listening` line counts the routes). Exit 0:
    one-shot done, --exit-after, SIGINT or SIGTERM; 1: server failure (address
    in use, ...); 2: bad option, value, plan or route.
";

/// The whole `--help` text.
pub fn help() -> String {
    format!(
        "{HELP_HEAD}\n{}\n{HELP_MORE}{}{HELP_TCP}{}{HELP_TAIL}",
        options::help_section(),
        httpfault::step_help(),
        httpfault::tcp_step_help()
    )
}

const HELP_TCP: &str = "
PROXY MODE (--upstream http://HOST:PORT): two X-Httpfault-Plan headers get 400.
With no plan, bytes and timing pass unchanged. Offsets count the relayed wire
bytes (chunk framing included); length=N also adds Connection: close; bare
reset/close/hang drop the answer once its head arrived; forward=no alone
answers Hello, world!. A cut the proxy makes itself is an RST. --read-timeout
bounds the upstream connect and response head (504), never a relayed body
(see --upstream-idle).

TCP MODE PLAN (--tcp): steps act on the upstream-to-client direction, or with
the prefix up: on client-to-upstream (down: may be written for clarity). OFFSET
is a byte count in that direction.
";

#[derive(Debug)]
pub enum Command {
    Run(Box<Options>),
    Help,
    ToxiproxyHelp,
    Version,
}

/// `httpfault toxiproxy`'s help.
pub const TOXIPROXY_HELP: &str = "\
httpfault toxiproxy: toxiproxy 2.x's HTTP API, with httpfault's exact TCP relay underneath

USAGE:
    httpfault toxiproxy [--listen ADDR] [--port-file FILE] [--seed N] [--control ADDR]

Point toxiproxy's clients (toxiproxy-node-client, toxiproxy-python, toxiproxy-go,
Testcontainers' toxiproxy modules) at http://ADDR: proxies, toxics, populate and
reset work as in toxiproxy. Toxic types: latency, bandwidth, slow_close, timeout,
reset_peer, slicer, limit_data, and httpfault (attribute plan: a TCP-mode plan,
e.g. {\"type\":\"httpfault\",\"attributes\":{\"plan\":\"reset=1m\"}}).

OPTIONS:
    -l, --listen ADDR    the API's address (default 127.0.0.1:8474, toxiproxy's)
        --port-file FILE write the API's port (digits and a newline) to FILE
        --seed N         seed for toxicity draws, jitter and slice sizes
        --control ADDR   httpfault's control API on a listener of its own too (it
                         is always under /__httpfault/ on the API's listener):
                         the journal has one entry per relayed connection with
                         its proxy and the toxics that applied; /metrics counts
                         connections, bytes and endings per proxy
        --log FORMAT     text (default) or json: one line per connection on stderr
    -q, --quiet          no log lines
    -h, --help           this help

The first line on stdout is `listening on http://HOST:PORT`. Exit status: 0 on
SIGINT or SIGTERM, 1 when the address cannot be bound, 2 for a usage error.
See docs/toxiproxy.md (Switching from toxiproxy, and the deliberate differences).
";

/// toxiproxy's default API address.
pub const TOXIPROXY_LISTEN: &str = "127.0.0.1:8474";

/// Parses the arguments after `httpfault toxiproxy`.
pub fn parse_toxiproxy(args: Vec<OsString>) -> Result<Command, UsageError> {
    let mut args = pico_args::Arguments::from_vec(args);
    if args.contains(["-h", "--help"]) {
        return Ok(Command::ToxiproxyHelp);
    }
    let quiet = args.contains(["-q", "--quiet"]);
    let listen = opt(&mut args, ["-l", "--listen"], parse_listen)?
        .unwrap_or_else(|| TOXIPROXY_LISTEN.to_string());
    let port_file = opt(&mut args, ["--port-file", ""], parse_path)?;
    let seed = opt(&mut args, ["--seed", ""], parse_seed)?;
    let control = opt(&mut args, ["--control", ""], parse_listen)?;
    let log = opt(&mut args, ["--log", ""], parse_log)?.unwrap_or(LogFormat::Text);
    if let Some(extra) = args.finish().into_iter().next() {
        let extra = extra.to_string_lossy();
        return Err(UsageError(if extra.starts_with('-') && extra.len() > 1 {
            format!("unknown option '{extra}' (see httpfault toxiproxy --help)")
        } else {
            format!("unexpected argument '{extra}' (httpfault toxiproxy takes options only)")
        }));
    }
    let mut options = match parse(Vec::new())? {
        Command::Run(o) => o,
        _ => return Err(UsageError("cannot build the options".to_string())),
    };
    options.listen = listen;
    options.port_file = port_file;
    options.seed = seed;
    options.control = control;
    options.log = log;
    options.quiet = quiet;
    options.toxiproxy = true;
    Ok(Command::Run(options))
}

/// A usage error: the one line printed after `httpfault: error: `.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Parses the arguments after the program name.
pub fn parse(args: Vec<OsString>) -> Result<Command, UsageError> {
    let mut args = pico_args::Arguments::from_vec(args);
    if args.contains(["-h", "--help"]) {
        return Ok(Command::Help);
    }
    if args.contains(["-V", "--version"]) {
        return Ok(Command::Version);
    }
    let mut o = options::read(&mut args)?;
    options::check(&mut o)?;
    let mut rest = args.finish().into_iter();
    o.plan = match rest.next() {
        None => None,
        Some(arg) => Some(arg.into_string().map_err(|arg| {
            UsageError(format!(
                "argument '{}' is not valid UTF-8",
                arg.to_string_lossy()
            ))
        })?),
    };
    if let Some(text) = &o.plan {
        if text.starts_with('-') && text.len() > 1 {
            return Err(UsageError(format!(
                "unknown option '{text}' (see httpfault --help)"
            )));
        }
    }
    if let Some(extra) = rest.next() {
        let extra = extra.to_string_lossy();
        return Err(UsageError(if extra.starts_with('-') && extra.len() > 1 {
            format!("unknown option '{extra}' (see httpfault --help)")
        } else {
            format!("unexpected argument '{extra}' (give one PLAN, steps joined with /)")
        }));
    }
    Ok(Command::Run(Box::new(o)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    fn run(args: &[&str]) -> Result<Options, String> {
        match parse(args.iter().map(OsString::from).collect()) {
            Ok(Command::Run(c)) => Ok(*c),
            Ok(other) => Err(format!("{other:?}")),
            Err(e) => Err(e.0),
        }
    }

    #[test]
    fn defaults() {
        let c = run(&[]).unwrap();
        assert_eq!(c.listen, DEFAULT_LISTEN);
        assert_eq!(c.plan, None);
        assert_eq!(c.read_timeout, Duration::from_secs(30));
        assert_eq!(c.max_conns, 10_000);
        assert_eq!(c.log, LogFormat::Text);
        assert!(!c.once && !c.blackhole && !c.quiet && !c.no_control && !c.tcp);
        assert!(!c.exit_on_stdin_eof);
        assert!(!c.no_path_plans);
    }

    #[test]
    fn every_option() {
        let c = run(&[
            "-l",
            "0",
            "--once",
            "--blackhole",
            "--port-file",
            "p",
            "--exit-after",
            "1.5s",
            "--exit-on-stdin-eof",
            "--log",
            "json",
            "-q",
            "--seed",
            "7",
            "--max-conns",
            "5",
            "--read-timeout",
            "250ms",
            "--route",
            "GET /a ok",
            "--route",
            "/b reset",
            "--journal",
            "0",
            "--no-control",
            "--no-path-plans",
            "--control",
            "127.0.0.1:0",
            "status=503/delay=2s",
        ])
        .unwrap();
        assert_eq!(c.listen, "127.0.0.1:0");
        assert!(c.once && c.blackhole && c.quiet && c.no_control && c.no_path_plans);
        assert_eq!(c.port_file, Some(PathBuf::from("p")));
        assert_eq!(c.exit_after, Some(Duration::from_millis(1500)));
        assert!(c.exit_on_stdin_eof);
        assert_eq!(c.log, LogFormat::Json);
        assert_eq!(c.seed, Some(7));
        assert_eq!(c.max_conns, 5);
        assert_eq!(c.read_timeout, Duration::from_millis(250));
        assert_eq!(c.plan.as_deref(), Some("status=503/delay=2s"));
        assert_eq!(c.routes, vec!["GET /a ok", "/b reset"]);
        assert_eq!(c.journal, Some(0));
        assert_eq!(c.control.as_deref(), Some("127.0.0.1:0"));
        let c = run(&["--listen=[::1]:8080", "--quiet"]).unwrap();
        assert_eq!(c.listen, "[::1]:8080");
    }

    #[test]
    fn ws_max_message_is_a_size_of_at_least_one_byte() {
        assert_eq!(run(&[]).unwrap().ws_max_message, None);
        let c = run(&["--ws-max-message", "64k"]).unwrap();
        assert_eq!(c.ws_max_message, Some(65536));
        assert!(run(&["--ws-max-message", "0"])
            .unwrap_err()
            .contains("--ws-max-message"));
        assert!(run(&["--ws-max-message", "x"]).unwrap_err().contains("'x'"));
    }

    #[test]
    fn upstream_idle_is_a_duration_above_zero() {
        assert_eq!(run(&[]).unwrap().upstream_idle, None);
        let c = run(&["--upstream-idle", "90s"]).unwrap();
        assert_eq!(c.upstream_idle, Some(Duration::from_secs(90)));
        assert!(run(&["--upstream-idle", "0s"])
            .unwrap_err()
            .contains("--upstream-idle"));
        assert!(run(&["--upstream-idle", "x"]).unwrap_err().contains("'x'"));
    }

    #[test]
    fn errors_name_the_bad_value() {
        assert_eq!(
            run(&["--frobnicate"]).unwrap_err(),
            "unknown option '--frobnicate' (see httpfault --help)"
        );
        assert_eq!(
            run(&["reset", "--frob"]).unwrap_err(),
            "unknown option '--frob' (see httpfault --help)"
        );
        assert!(run(&["reset", "close"])
            .unwrap_err()
            .contains("unexpected argument 'close'"));
        assert!(run(&["-l", "nope"])
            .unwrap_err()
            .starts_with("bad value 'nope' for --listen"));
        assert!(run(&["-l", "example.com:80"]).is_err());
        assert!(run(&["-l", "65536"]).is_err());
        assert_eq!(
            run(&["--listen"]).unwrap_err(),
            "option --listen needs a value"
        );
        assert!(run(&["--log", "xml"]).unwrap_err().contains("'xml'"));
        assert!(run(&["--seed", "-1"]).unwrap_err().contains("'-1'"));
        assert!(run(&["--max-conns", "0"]).unwrap_err().contains("'0'"));
        assert!(run(&["--read-timeout", "5"]).unwrap_err().contains("'5'"));
        assert!(run(&["--read-timeout", "0s"])
            .unwrap_err()
            .contains("--read-timeout"));
        assert!(run(&["--exit-after", "soon"])
            .unwrap_err()
            .contains("'soon'"));
        assert!(run(&["--port-file", ""])
            .unwrap_err()
            .contains("--port-file"));
        assert!(run(&["--journal", "x"]).unwrap_err().contains("'x'"));
        assert!(run(&["--routes", "/nonexistent/routes"])
            .unwrap_err()
            .contains("cannot read routes file '/nonexistent/routes'"));
    }

    #[test]
    fn help_and_version() {
        let cmd = |a: &str| parse(vec![OsString::from(a)]).unwrap();
        assert!(matches!(cmd("-h"), Command::Help));
        assert!(matches!(cmd("--help"), Command::Help));
        assert!(matches!(cmd("-V"), Command::Version));
        let help = help();
        for option in [
            "--listen",
            "--once",
            "--blackhole",
            "--port-file",
            "--exit-after",
            "--exit-on-stdin-eof",
            "--log",
            "--quiet",
            "--seed",
            "--max-conns",
            "--read-timeout",
            "--route ",
            "--routes",
            "--journal",
            "--no-control",
            "--control",
            "--control-on-listener",
            "--journal-secrets",
            "complete=1",
            "never journaled",
            "--upstream",
            "--tcp",
            "--help",
            "--version",
        ] {
            assert!(help.contains(option), "help lacks {option}");
        }
        for step in ["status=CODE", "reset[=OFFSET]"] {
            assert!(
                help.contains(&format!("\n    {step} ")),
                "help lacks {step}"
            );
        }
        // Content steps are marked: they stay when times or chance leaves a request out.
        for step in ["chunked[=SIZE]", "echo", "body=SIZE", "ranges"] {
            assert!(
                help.contains(&format!("\n  * {step} ")),
                "help lacks * {step}"
            );
        }
        for line in [
            "--no-path-plans",
            "never journaled",
            "%23",
            "closest routes",
        ] {
            assert!(help.contains(line), "help lacks {line}");
        }
    }

    /// Issue 16, item 14: the control API's exposure and the journal's secrets.
    #[test]
    fn control_exposure_and_journal_secrets() {
        let c = run(&["--control-on-listener", "--journal-secrets"]).unwrap();
        assert!(c.control_on_listener && c.journal_secrets && !c.no_control);
        let c = run(&[]).unwrap();
        assert!(!c.control_on_listener && !c.journal_secrets);
        let err = run(&["--no-control", "--control-on-listener"]).unwrap_err();
        assert!(err.contains("--control-on-listener"), "{err}");
        let help = help();
        let control = help.split("CONTROL API").nth(1).unwrap();
        let control = control.split("\n\n").next().unwrap();
        assert!(
            control.lines().all(|l| l.chars().count() <= 80),
            "{control}"
        );
    }

    /// Issue 17 item 9: `--help` fits an 80-column terminal, and its TCP section has one
    /// introduction.
    #[test]
    fn help_lines_fit_80_columns() {
        let help = help();
        for (i, line) in help.lines().enumerate() {
            let width = line.chars().count();
            assert!(
                width <= 80,
                "help line {} is {width} columns: {line}",
                i + 1
            );
        }
        assert_eq!(help.matches("TCP MODE PLAN").count(), 1);
        assert!(
            !help.contains("TCP steps ("),
            "a second introduction of TCP steps"
        );
    }

    /// docs/cli.md's option table is the table of the command line's options (issue 25):
    /// `make plans-doc` rewrites it (HTTPFAULT_WRITE_DOCS=1).
    #[test]
    fn docs_cli_md_has_the_option_tables_rows() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cli.md");
        let text = std::fs::read_to_string(&path).unwrap();
        let begin = text
            .find("<!-- options:begin")
            .expect("an options:begin marker");
        let body = begin + text[begin..].find("-->\n").expect("its end") + 4;
        let end = text
            .find("<!-- options:end -->")
            .expect("an options:end marker");
        let want = options::docs_table();
        if std::env::var_os("HTTPFAULT_WRITE_DOCS").is_some() {
            let new = format!("{}{want}{}", &text[..body], &text[end..]);
            std::fs::write(&path, new).unwrap();
            return;
        }
        assert!(
            text[body..end] == want,
            "docs/cli.md's option table differs from the options table: run `make plans-doc`"
        );
    }

    #[test]
    fn every_option_has_help_and_docs_and_parses() {
        for def in options::OPTIONS {
            assert!(!def.help.is_empty(), "{}", def.long);
            if def.long == "--help" || def.long == "--version" {
                continue;
            }
            let mut args = vec![def.long];
            let value = match def.value {
                Some("ADDR") => Some("127.0.0.1:0"),
                Some("DUR") => Some("2s"),
                Some("N") => Some("3"),
                Some("FORMAT") => Some("json"),
                Some("LIST") => Some("h2"),
                Some("URL") => Some("http://127.0.0.1:1"),
                Some("SIZE") => Some("64k"),
                Some(_) => Some("x"),
                None => None,
            };
            args.extend(value);
            let mut a = pico_args::Arguments::from_vec(args.iter().map(OsString::from).collect());
            options::read(&mut a).unwrap_or_else(|e| panic!("{}: {e}", def.long));
            assert!(a.finish().is_empty(), "{} left arguments", def.long);
        }
    }
}
