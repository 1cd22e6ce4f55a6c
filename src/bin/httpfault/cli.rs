//! The command line: the help text (its step list generated from the step table), the
//! options, and parsing with pico-args into a library [`httpfault::Builder`].

use httpfault::{Builder, LogFormat, DEFAULT_MAX_CONNS, DEFAULT_READ_TIMEOUT};
use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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

OPTIONS:
    -l, --listen ADDR      HOST:PORT, [V6]:PORT or PORT (= 127.0.0.1:PORT);
                           default 127.0.0.1:9000; port 0 picks a free port
        --once             serve one request, then exit 0 (the first connection
                           that sends a complete request head wins)
        --blackhole        listen but never accept (connect-timeout tests)
        --port-file FILE   write the bound port (digits, newline) to FILE
        --exit-after DUR   exit 0 after DUR, whatever is going on
        --exit-on-stdin-eof
                           exit 0 when stdin ends: a parent that holds the
                           pipe dies (even by SIGKILL), the server goes too
        --log FORMAT       text (default) or json, one line per event on stderr
    -q, --quiet            no log lines
        --seed N           seed for garbage and chance (default: from the clock,
                           logged at start)
        --max-conns N      most connections at once (default 10000); more are
                           closed at once and logged
        --read-timeout DUR time a connection has to send a request head
                           (default 30s); also the longest wait for each read
                           of a request body and each blocked write. In proxy
                           mode also the upstream's connect and its response
                           head (then 504), never a relayed body. In TCP mode
                           the upstream's connect only
        --route SPEC       a route (repeatable): [METHOD] PATH PLAN [PLAN ...]
        --routes FILE      routes, one SPEC a line (# comments)
        --no-path-plans    paths that start with a step (/status, /reset) are
                           ordinary paths, for APIs whose paths look like steps
        --journal N        keep the last N requests in the journal (default
                           10000; 0 keeps none)
        --journal-secrets  journal Authorization, Proxy-Authorization and Cookie
                           values as sent (default: [redacted])
        --no-control       no control API under /__httpfault/
        --control ADDR     the control API on a second listener too
        --control-on-listener
                           the control API on the main listener even when it is
                           not a loopback address (it is there by default only
                           on 127.0.0.0/8 and ::1: anyone who reaches it can
                           read the journal and change the plans)
        --upstream URL     proxy mode (http://HOST:PORT or https://HOST:PORT),
                           or with --tcp the relay's upstream (HOST:PORT)
        --upstream-idle DUR
                           proxy mode: cut the client (RST) when the upstream
                           is silent this long within a body (default: no
                           limit, its timing is relayed as it is)
        --tcp              TCP mode: relay raw bytes, the plan shapes them
        --tls              HTTPS: a certificate for localhost, *.localhost,
                           127.0.0.1 and ::1 is made at start, signed by a CA
                           made at start (build feature `tls`, on by default)
        --cert-out FILE    with --tls: write the CA's PEM to FILE (trust it:
                           curl --cacert FILE, NODE_EXTRA_CA_CERTS=FILE);
                           not with --cert (that CA did not sign yours)
        --cert FILE --key FILE   HTTPS with this certificate chain and key (PEM;
                           the key unencrypted: PKCS#8, RSA or EC)
        --sni 'NAME PLAN'  with --tls: the plan for connections whose client
                           sends server name NAME (repeatable; `*` globs;
                           case-insensitive; not an IP address: clients send
                           no name for one; PLAN [PLAN ...] is a sequence, one
                           per connection); it picks the handshake and the
                           connection's plan
        --alpn LIST        with --tls: the ALPN protocols, preferred first
                           (default http/1.1,h2: clients offering both stay on
                           HTTP/1.1; h2,http/1.1 gives them HTTP/2)
        --upstream-ca FILE      proxy mode, https:// upstream: trust these CAs
                           (or a self-signed certificate in FILE as itself)
        --upstream-insecure     proxy mode, https:// upstream: trust anything
                           (not with --upstream-ca). The connect and TLS
                           handshake must end within --read-timeout, else 504;
                           a failed handshake (certificate, alert) is a 502
    -h, --help             this help
    -V, --version          the version

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
DUR: 250ms, 2s, 1.5s, 1m. Proxy mode: the plan comes from the X-Httpfault-Plan
header, the routes or the default plan (none: pass-through).
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
        "{HELP_HEAD}{}{HELP_TCP}{}{HELP_TAIL}",
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

/// Everything the command line says.
#[derive(Clone, Debug)]
pub struct Options {
    pub listen: String,
    pub once: bool,
    pub blackhole: bool,
    pub port_file: Option<PathBuf>,
    pub exit_after: Option<Duration>,
    pub exit_on_stdin_eof: bool,
    pub log: LogFormat,
    pub quiet: bool,
    pub seed: Option<u64>,
    pub max_conns: usize,
    pub read_timeout: Duration,
    pub upstream_idle: Option<Duration>,
    pub plan: Option<String>,
    pub routes: Vec<String>,
    pub routes_file: Option<(PathBuf, String)>,
    pub journal: Option<usize>,
    pub no_control: bool,
    pub control_on_listener: bool,
    pub journal_secrets: bool,
    pub no_path_plans: bool,
    pub control: Option<String>,
    pub upstream: Option<String>,
    pub tcp: bool,
    pub tls: bool,
    pub cert_out: Option<PathBuf>,
    /// `--cert FILE --key FILE`, read (and checked) when the server starts.
    pub cert: Option<(PathBuf, PathBuf)>,
    pub sni: Vec<String>,
    pub upstream_ca: Option<Vec<u8>>,
    pub upstream_insecure: bool,
    pub alpn: Option<String>,
    /// `httpfault toxiproxy`: the listener speaks toxiproxy's API.
    pub toxiproxy: bool,
}

impl Options {
    /// The library builder these options describe.
    pub fn builder(&self) -> Result<Builder, UsageError> {
        let mut b = httpfault::Server::builder()
            .listen(&self.listen)
            .read_timeout(self.read_timeout)
            .max_conns(self.max_conns)
            .journal_secrets(self.journal_secrets)
            .path_plans(!self.no_path_plans);
        if self.no_control {
            b = b.control(false);
        } else if self.control_on_listener {
            b = b.control(true);
        }
        if let Some(idle) = self.upstream_idle {
            b = b.upstream_idle(idle);
        }
        if !self.quiet {
            b = b.log(self.log);
        }
        if let Some(p) = &self.plan {
            b = b.plan(p);
        }
        if let Some((path, text)) = &self.routes_file {
            httpfault::check_routes(text)
                .map_err(|e| UsageError(format!("routes file '{}': {e}", path.display())))?;
            b = b.routes(text);
        }
        for r in &self.routes {
            b = b.route(r);
        }
        if let Some(s) = self.seed {
            b = b.seed(s);
        }
        if let Some(n) = self.journal {
            b = b.journal(n);
        }
        if let Some(c) = &self.control {
            b = b.control_listen(c);
        }
        if let Some(u) = &self.upstream {
            b = b.upstream(u);
        }
        if self.tcp {
            b = b.tcp();
        }
        if self.toxiproxy {
            b = b.toxiproxy();
        }
        if self.tls {
            b = b.tls();
        }
        if let Some((cert, key)) = &self.cert {
            b = b.tls_cert_files(cert, key);
        }
        for s in &self.sni {
            b = b.sni(s);
        }
        if let Some(pem) = &self.upstream_ca {
            b = b.upstream_ca(pem);
        }
        if self.upstream_insecure {
            b = b.upstream_insecure();
        }
        if let Some(a) = &self.alpn {
            b = b.alpn(a);
        }
        if self.once {
            b = b.once();
        }
        if self.blackhole {
            b = b.blackhole();
        }
        Ok(b)
    }

    pub fn json_log(&self) -> bool {
        self.log == LogFormat::Json
    }
}

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

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9000";

fn parse_listen(text: &str) -> Result<String, String> {
    httpfault::parse_addr(text)
        .map(|a: SocketAddr| a.to_string())
        .map_err(|_| "HOST:PORT, [V6]:PORT or PORT, with an IP address as HOST".to_string())
}

fn parse_dur(text: &str) -> Result<Duration, String> {
    httpfault::parse_duration(text).ok_or_else(|| "a duration such as 250ms, 2s or 1m".to_string())
}

fn parse_log(text: &str) -> Result<LogFormat, String> {
    match text {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err("'text' or 'json'".to_string()),
    }
}

fn parse_seed(text: &str) -> Result<u64, String> {
    text.parse::<u64>()
        .map_err(|_| "a whole number from 0 to 18446744073709551615".to_string())
}

fn parse_count(text: &str) -> Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| "a whole number of at least 1".to_string())
}

fn parse_journal(text: &str) -> Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|n| *n <= 10_000_000)
        .ok_or_else(|| "a whole number from 0 to 10000000".to_string())
}

fn parse_path(text: &str) -> Result<PathBuf, String> {
    if text.is_empty() {
        return Err("a file name".to_string());
    }
    Ok(PathBuf::from(text))
}

/// `--alpn`: a comma-separated list of `h2` and `http/1.1`, each at most once.
fn parse_alpn(text: &str) -> Result<String, String> {
    let names: Vec<&str> = text.split(',').map(str::trim).collect();
    let known = |n: &&str| *n == "h2" || *n == "http/1.1";
    let repeated = names
        .iter()
        .enumerate()
        .any(|(i, n)| names[..i].contains(n));
    if names.iter().all(known) && !repeated {
        Ok(names.join(","))
    } else {
        Err("a list of h2 and http/1.1, each once, such as h2,http/1.1".to_string())
    }
}

fn parse_text(text: &str) -> Result<String, String> {
    Ok(text.to_string())
}

fn usage_error(name: &str, e: pico_args::Error) -> UsageError {
    match e {
        pico_args::Error::Utf8ArgumentParsingFailed { value, cause } => {
            UsageError(format!("bad value '{value}' for {name} (expected {cause})"))
        }
        pico_args::Error::OptionWithoutAValue(_) => {
            UsageError(format!("option {name} needs a value"))
        }
        pico_args::Error::NonUtf8Argument => {
            UsageError(format!("the value of {name} is not valid UTF-8"))
        }
        other => UsageError(format!("{name}: {other}")),
    }
}

/// Reads one option's value with `parse`, turning every failure into a message that names
/// the option and the bad value.
fn opt<T>(
    args: &mut pico_args::Arguments,
    keys: [&'static str; 2],
    parse: fn(&str) -> Result<T, String>,
) -> Result<Option<T>, UsageError> {
    let name = if keys[1].is_empty() { keys[0] } else { keys[1] };
    let keys: pico_args::Keys = if keys[1].is_empty() {
        keys[0].into()
    } else {
        keys.into()
    };
    args.opt_value_from_fn(keys, parse)
        .map_err(|e| usage_error(name, e))
}

/// Parses the arguments after the program name.
pub fn parse(args: Vec<OsString>) -> Result<Command, UsageError> {
    let mut args = pico_args::Arguments::from_vec(args);
    if args.contains(["-h", "--help"]) {
        return Ok(Command::Help);
    }
    if args.contains(["-V", "--version"]) {
        return Ok(Command::Version);
    }
    let once = args.contains("--once");
    let blackhole = args.contains("--blackhole");
    let quiet = args.contains(["-q", "--quiet"]);
    let no_control = args.contains("--no-control");
    let control_on_listener = args.contains("--control-on-listener");
    let journal_secrets = args.contains("--journal-secrets");
    if no_control && control_on_listener {
        return Err(UsageError(
            "--no-control and --control-on-listener contradict each other".to_string(),
        ));
    }
    let no_path_plans = args.contains("--no-path-plans");
    let tcp = args.contains("--tcp");
    let mut tls = args.contains("--tls");
    let upstream_insecure = args.contains("--upstream-insecure");
    let exit_on_stdin_eof = args.contains("--exit-on-stdin-eof");
    let listen = opt(&mut args, ["-l", "--listen"], parse_listen)?
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let port_file = opt(&mut args, ["--port-file", ""], parse_path)?;
    let exit_after = opt(&mut args, ["--exit-after", ""], parse_dur)?;
    let log = opt(&mut args, ["--log", ""], parse_log)?.unwrap_or(LogFormat::Text);
    let seed = opt(&mut args, ["--seed", ""], parse_seed)?;
    let max_conns = opt(&mut args, ["--max-conns", ""], parse_count)?.unwrap_or(DEFAULT_MAX_CONNS);
    let read_timeout =
        opt(&mut args, ["--read-timeout", ""], parse_dur)?.unwrap_or(DEFAULT_READ_TIMEOUT);
    if read_timeout.is_zero() {
        return Err(UsageError(
            "bad value '0' for --read-timeout (expected a duration above zero)".to_string(),
        ));
    }
    let upstream_idle = opt(&mut args, ["--upstream-idle", ""], parse_dur)?;
    if upstream_idle.is_some_and(|d| d.is_zero()) {
        return Err(UsageError(
            "bad value '0' for --upstream-idle (expected a duration above zero)".to_string(),
        ));
    }
    let journal = opt(&mut args, ["--journal", ""], parse_journal)?;
    let control = opt(&mut args, ["--control", ""], parse_listen)?;
    let upstream = opt(&mut args, ["--upstream", ""], parse_text)?;
    let routes_path = opt(&mut args, ["--routes", ""], parse_path)?;
    let cert_out = opt(&mut args, ["--cert-out", ""], parse_path)?;
    let cert_path = opt(&mut args, ["--cert", ""], parse_path)?;
    let key_path = opt(&mut args, ["--key", ""], parse_path)?;
    let ca_path = opt(&mut args, ["--upstream-ca", ""], parse_path)?;
    let alpn = opt(&mut args, ["--alpn", ""], parse_alpn)?;
    let sni: Vec<String> = args
        .values_from_fn("--sni", parse_text)
        .map_err(|e| usage_error("--sni", e))?;
    let read = |what: &str, path: &PathBuf| {
        std::fs::read(path)
            .map_err(|e| UsageError(format!("cannot read {what} '{}': {e}", path.display())))
    };
    let cert = match (cert_path, key_path) {
        (None, None) => None,
        (Some(c), Some(k)) => {
            tls = true;
            Some((c, k))
        }
        _ => return Err(UsageError("--cert and --key go together".to_string())),
    };
    if cert_out.is_some() && !tls {
        return Err(UsageError("--cert-out needs --tls".to_string()));
    }
    if cert_out.is_some() && cert.is_some() {
        // It would write the CA made at start, which did not sign the user's certificate.
        return Err(UsageError(
            "--cert-out cannot go with --cert: it writes the CA made at start, which did not \
             sign your certificate (give clients your own CA, or drop --cert/--key)"
                .to_string(),
        ));
    }
    if alpn.is_some() && !tls {
        return Err(UsageError("--alpn needs --tls".to_string()));
    }
    let upstream_ca = match &ca_path {
        Some(p) => Some(read("--upstream-ca file", p)?),
        None => None,
    };
    let routes: Vec<String> = args
        .values_from_fn("--route", parse_text)
        .map_err(|e| usage_error("--route", e))?;
    let routes_file = match routes_path {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                UsageError(format!("cannot read routes file '{}': {e}", path.display()))
            })?;
            Some((path, text))
        }
    };

    let mut rest = args.finish().into_iter();
    let plan = match rest.next() {
        None => None,
        Some(arg) => Some(arg.into_string().map_err(|arg| {
            UsageError(format!(
                "argument '{}' is not valid UTF-8",
                arg.to_string_lossy()
            ))
        })?),
    };
    if let Some(text) = &plan {
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
    Ok(Command::Run(Box::new(Options {
        listen,
        once,
        blackhole,
        port_file,
        exit_after,
        exit_on_stdin_eof,
        log,
        quiet,
        seed,
        max_conns,
        read_timeout,
        upstream_idle,
        plan,
        routes,
        routes_file,
        journal,
        no_control,
        control_on_listener,
        journal_secrets,
        no_path_plans,
        control,
        upstream,
        tcp,
        tls,
        cert_out,
        cert,
        sni,
        upstream_ca,
        upstream_insecure,
        alpn,
        toxiproxy: false,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
