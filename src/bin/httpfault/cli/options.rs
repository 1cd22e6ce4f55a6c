//! The command line's options as one table ([`OPTIONS`]): each row holds an option's names,
//! its value, its `--help` text, its docs (docs/cli.md's option table is generated from it,
//! and tests/docs.rs checks the committed one) and what it does to the [`Options`]. Parsing,
//! `--help`'s OPTIONS section and the docs all come from the table, as ripgrep's
//! `flags/defs.rs` feeds its parser and man page; a new option is one more row.

use super::UsageError;
use httpfault::{Builder, LogFormat, DEFAULT_MAX_CONNS, DEFAULT_READ_TIMEOUT};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// One option of the command line.
pub struct OptDef {
    /// `-l`.
    pub short: Option<&'static str>,
    /// `--listen`.
    pub long: &'static str,
    /// The value's name (`ADDR`); `None` for a switch.
    pub value: Option<&'static str>,
    /// May be given more than once.
    pub repeat: bool,
    /// `--help`'s text (wrapped there to 80 columns).
    pub help: &'static str,
    /// docs/cli.md's text (Markdown); empty for an option documented with the one before.
    /// (Read by the test that keeps docs/cli.md's table in step.)
    #[cfg_attr(not(test), allow(dead_code))]
    pub docs: &'static str,
    /// What the option (and its value, `""` for a switch) does to the options.
    apply: fn(&mut Options, &str) -> Result<(), String>,
}

impl OptDef {
    /// `-l, --listen ADDR`.
    pub fn synopsis(&self) -> String {
        let mut s = match self.short {
            Some(short) => format!("{short}, {}", self.long),
            None => self.long.to_string(),
        };
        if let Some(v) = self.value {
            s.push(' ');
            s.push_str(v);
        }
        s
    }

    fn keys(&self) -> pico_args::Keys {
        match self.short {
            Some(short) => [short, self.long].into(),
            None => self.long.into(),
        }
    }
}

/// Every option, in `--help`'s order.
pub static OPTIONS: &[OptDef] = &[
    OptDef {
        short: Some("-l"),
        long: "--listen",
        value: Some("ADDR"),
        repeat: false,
        help: "HOST:PORT, [V6]:PORT or PORT (= 127.0.0.1:PORT); default 127.0.0.1:9000; port 0 picks a free port",
        docs: "`HOST:PORT`, `[V6]:PORT`, or a bare `PORT` (= `127.0.0.1:PORT`). Default `127.0.0.1:9000`. Port 0 = a free port. Hosts are IP addresses (or `localhost`): no name lookups.",
        apply: |o, v| {
            o.listen = parse_listen(v)?;
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--once",
        value: None,
        repeat: false,
        help: "serve one request, then exit 0 (the first connection that sends a complete request head wins)",
        docs: "serve one request and exit 0. The first connection that delivers a complete request head wins: the listener closes (later connects are refused), every other open connection is closed, the request is answered with `Connection: close`, and the process exits 0 when that connection ends. Connections that send nothing do not count (Chromium opens one before its page request; see [one-shot mode](#one-shot-mode-and-browsers)).",
        apply: |o, _| {
            o.once = true;
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--blackhole",
        value: None,
        repeat: false,
        help: "listen but never accept (connect-timeout tests)",
        docs: "listen but never accept: every connect times out, the first one included (the server fills the kernel's backlog itself), for connect-timeout tests",
        apply: |o, _| {
            o.blackhole = true;
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--port-file",
        value: Some("FILE"),
        repeat: false,
        help: "write the bound port (digits, newline) to FILE",
        docs: "after listening, write the bound port (digits and a newline) to FILE",
        apply: |o, v| {
            o.port_file = Some(parse_path(v)?);
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--exit-after",
        value: Some("DUR"),
        repeat: false,
        help: "exit 0 after DUR, whatever is going on",
        docs: "exit 0 after DUR, whatever is going on",
        apply: |o, v| {
            o.exit_after = Some(parse_dur(v)?);
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--exit-on-stdin-eof",
        value: None,
        repeat: false,
        help: "exit 0 when stdin ends: a parent that holds the pipe dies (even by SIGKILL), the server goes too",
        docs: "exit 0 when stdin reaches end of file: a parent that starts the server with a pipe as its stdin takes it along when it dies, even by SIGKILL (the [Python](python.md) and [JavaScript](javascript.md) helpers do this)",
        apply: |o, _| {
            o.exit_on_stdin_eof = true;
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--log",
        value: Some("FORMAT"),
        repeat: false,
        help: "text (default) or json, one line per event on stderr",
        docs: "`text` (default) or `json`, one line per event on stderr",
        apply: |o, v| {
            o.log = parse_log(v)?;
            Ok(())
        },
    },
    OptDef {
        short: Some("-q"),
        long: "--quiet",
        value: None,
        repeat: false,
        help: "no log lines",
        docs: "no log lines",
        apply: |o, _| {
            o.quiet = true;
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--seed",
        value: Some("N"),
        repeat: false,
        help: "seed for garbage and chance (default: from the clock, logged at start)",
        docs: "seed for `garbage` and `chance`; without it the seed comes from the clock and is logged at start",
        apply: |o, v| {
            o.seed = Some(parse_seed(v)?);
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--max-conns",
        value: Some("N"),
        repeat: false,
        help: "most connections at once (default 10000); more are closed at once and logged",
        docs: "most connections at once (default 10000); beyond that a new connection is closed at once and logged",
        apply: |o, v| {
            o.max_conns = parse_count(v)?;
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--read-timeout",
        value: Some("DUR"),
        repeat: false,
        help: "time a connection has to send a request head (default 30s); also the longest wait for each read of a request body and each blocked write. In proxy mode also the upstream's connect and its response head (then 504), never a relayed body. In TCP mode the upstream's connect only. On a WebSocket connection also the idle bound and the wait for the client's close frame",
        docs: "time a connection has to send a request head (default 30s); also the longest wait for each read of a request body, and for each blocked write to a client that stopped reading. In proxy mode also the upstream's connect and its response head (then `504`), never a relayed body; in TCP mode the upstream's connect only. On a [WebSocket](websocket.md) connection also the idle bound (no bytes either way: close 1001) and the wait for the client's close frame",
        apply: |o, v| {
            o.read_timeout = nonzero(parse_dur(v)?)?;
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--ws-max-message",
        value: Some("SIZE"),
        repeat: false,
        help: "largest WebSocket message a client may send (default 16m); a larger one gets close code 1009",
        docs: "the largest [WebSocket](websocket.md) message a client may send (default `16m`); a larger one, or a frame that would make one, gets a close frame with 1009 before its payload is read",
        apply: |o, v| {
            let n = httpfault::fuzzing::parse_size(v)
                .filter(|n| *n >= 1)
                .ok_or_else(|| "a size of at least 1 byte, e.g. 64k or 16m".to_string())?;
            o.ws_max_message = Some(n);
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--route",
        value: Some("SPEC"),
        repeat: true,
        help: "a route (repeatable): [METHOD] PATH PLAN [PLAN ...]",
        docs: "a route, repeatable: `[METHOD] PATH PLAN [PLAN ...]`, for example `--route 'POST /v1/upload reset*2 status=201'` ([testing an SDK](sdk-testing.md))",
        apply: |o, v| {
            o.routes.push(v.to_string());
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--routes",
        value: Some("FILE"),
        repeat: false,
        help: "routes, one SPEC a line (# comments)",
        docs: "routes from FILE, one SPEC a line; blank lines and lines starting with `#` are ignored, and so are a UTF-8 byte order mark and a trailing ` # comment`. Taken before any `--route`",
        apply: |o, v| {
            o.routes_path = Some(parse_path(v)?);
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--no-path-plans",
        value: None,
        repeat: false,
        help: "paths that start with a step (/status, /reset) are ordinary paths, for APIs whose paths look like steps",
        docs: "a path whose first segment is a step name (`/status`, `/reset=6`) is an ordinary path, not a plan (library: `.path_plans(false)`)",
        apply: |o, _| {
            o.no_path_plans = true;
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--files",
        value: Some("DIR"),
        repeat: false,
        help: "plans from requests (path, X-Httpfault-Plan, control API) may use file=PATH for files under DIR (without it, only the command line, routes and the library)",
        docs: "a plan that a request chooses (its path, `X-Httpfault-Plan`, `PUT /__httpfault/plan` or `/routes`) may use `file=PATH` for files under DIR (a relative PATH is under DIR; `..`, absolute paths and symbolic links that lead out of DIR are a `400`). Without it only the operator's plans (the command line, routes, the library) read files (library: `.files(dir)`); see [streams](streams.md#filepath-a-recorded-stream)",
        apply: |o, v| {
            o.files = Some(parse_path(v)?);
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--no-h2c",
        value: None,
        repeat: false,
        help: "decline Upgrade: h2c: such requests are served as HTTP/1.1 (prior knowledge and ALPN h2 still get HTTP/2)",
        docs: "decline `Upgrade: h2c` (RFC 9113 allows it): the request is served as HTTP/1.1, so every HTTP/1 plan reaches a client that asks to upgrade (curl `--http2`, Java's `HttpClient`); prior knowledge and ALPN `h2` still get HTTP/2 (library: `.h2c(false)`; `httpfault probe` serves its `http1` catalogue so)",
        apply: |o, _| {
            o.no_h2c = true;
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--journal",
        value: Some("N"),
        repeat: false,
        help: "keep the last N requests in the journal (default 10000; 0 keeps none)",
        docs: "keep the last N requests in the journal of the control API (default 10000; older ones are dropped and counted; 0 keeps none)",
        apply: |o, v| {
            o.journal = Some(parse_journal(v)?);
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--journal-secrets",
        value: None,
        repeat: false,
        help: "journal Authorization, Proxy-Authorization and Cookie values as sent (default: [redacted])",
        docs: "journal the values of `Authorization`, `Proxy-Authorization` and `Cookie` as sent; by default they read `[redacted]` (an `Authorization` keeps its scheme: `Bearer [redacted]`)",
        apply: |o, _| {
            o.journal_secrets = true;
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--no-control",
        value: None,
        repeat: false,
        help: "no control API under /__httpfault/",
        docs: "no control API: `/__httpfault/...` is then an ordinary path",
        apply: |o, _| {
            o.no_control = true;
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--control",
        value: Some("ADDR"),
        repeat: false,
        help: "the control API on a second listener too",
        docs: "serve the [control API](control-api.md) on a second listener at ADDR as well (same forms as `--listen`)",
        apply: |o, v| {
            o.control = Some(parse_listen(v)?);
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--control-on-listener",
        value: None,
        repeat: false,
        help: "the control API on the main listener even when it is not a loopback address (it is there by default only on 127.0.0.0/8 and ::1: anyone who reaches it can read the journal and change the plans)",
        docs: "serve the control API on the main listener even when its address is not a loopback address. Without it the API is on the main listener only when it listens on `127.0.0.0/8` or `::1`; on any other address (`0.0.0.0`, a LAN address) it is off there, with a one-line note on stderr (`event=note control=off`): use `--control ADDR` or this option ([limits and safety](limits.md))",
        apply: |o, _| {
            o.control_on_listener = true;
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--upstream",
        value: Some("URL"),
        repeat: false,
        help: "proxy mode (http://HOST:PORT or https://HOST:PORT), or with --tcp the relay's upstream (HOST:PORT)",
        docs: "[proxy mode](proxy.md): forward every request to `http://HOST:PORT` or `https://HOST:PORT` (an IP address or `localhost`) and fault its responses. With `--tcp`, the relay's upstream, `HOST:PORT`",
        apply: |o, v| {
            o.upstream = Some(v.to_string());
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--upstream-idle",
        value: Some("DUR"),
        repeat: false,
        help: "proxy mode: cut the client (RST) when the upstream is silent this long within a body (default: no limit, its timing is relayed as it is)",
        docs: "proxy mode: cut the client (RST) when the upstream is silent this long within a body (default: no limit, its timing is relayed as it is)",
        apply: |o, v| {
            o.upstream_idle = Some(nonzero(parse_dur(v)?)?);
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--tcp",
        value: None,
        repeat: false,
        help: "TCP mode: relay raw bytes, the plan shapes them",
        docs: "[TCP mode](tcp.md), with `--upstream HOST:PORT`: a raw TCP relay, bytes unchanged both ways, shaped by a plan of TCP steps",
        apply: |o, _| {
            o.tcp = true;
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--tls",
        value: None,
        repeat: false,
        help: "HTTPS: a certificate for localhost, *.localhost, 127.0.0.1 and ::1 is made at start, signed by a CA made at start (build feature `tls`, on by default)",
        docs: "HTTPS: a certificate for `localhost`, `*.localhost`, `127.0.0.1` and `::1` is made at start, signed by a CA also made at start; the readiness line says `https://` ([TLS](tls.md))",
        apply: |o, _| {
            o.tls = true;
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--cert-out",
        value: Some("FILE"),
        repeat: false,
        help: "with --tls: write the CA's PEM to FILE (trust it: curl --cacert FILE, NODE_EXTRA_CA_CERTS=FILE); not with --cert (that CA did not sign yours)",
        docs: "with `--tls`: write the CA's certificate (PEM) to FILE, for clients to trust (`curl --cacert FILE`, `NODE_EXTRA_CA_CERTS=FILE`, `verify=FILE`)",
        apply: |o, v| {
            o.cert_out = Some(parse_path(v)?);
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--cert",
        value: Some("FILE"),
        repeat: false,
        help: "with --key: HTTPS with this certificate chain and key (PEM; the key unencrypted: PKCS#8, RSA or EC)",
        docs: "HTTPS with this certificate chain and private key (unencrypted PEM: PKCS#8, RSA or EC) instead of the one made at start (implies `--tls`; not with `--cert-out`, whose CA did not sign it)",
        apply: |o, v| {
            o.cert_path = Some(parse_path(v)?);
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--key",
        value: Some("FILE"),
        repeat: false,
        help: "the private key of --cert",
        docs: "",
        apply: |o, v| {
            o.key_path = Some(parse_path(v)?);
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--sni",
        value: Some("'NAME PLAN'"),
        repeat: true,
        help: "with --tls: the plan for connections whose client sends server name NAME (repeatable; `*` globs; case-insensitive; not an IP address: clients send no name for one; PLAN [PLAN ...] is a sequence, one per connection); it picks the handshake and the connection's plan",
        docs: "with `--tls`: the plan for connections whose client sends the server name NAME (`*` matches any run of characters; a sequence is one plan per connection). It chooses the handshake (`tls=expired`, ...) and stands in for the default plan for that connection's requests. Repeatable; a routes file takes the same as a line `sni NAME PLAN ...`",
        apply: |o, v| {
            o.sni.push(v.to_string());
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--alpn",
        value: Some("LIST"),
        repeat: false,
        help: "with --tls: the ALPN protocols, preferred first (default http/1.1,h2: clients offering both stay on HTTP/1.1; h2,http/1.1 gives them HTTP/2)",
        docs: "with `--tls`: the protocols ALPN offers, preferred first (`h2`, `http/1.1`). Default `http/1.1,h2`: a client that offers both (curl, browsers, Go) stays on HTTP/1.1 and every HTTP/1 plan; a client that offers only `h2` (gRPC's secure channels) gets HTTP/2. `--alpn h2,http/1.1` gives HTTP/2 to every client that can speak it",
        apply: |o, v| {
            o.alpn = Some(parse_alpn(v)?);
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--upstream-ca",
        value: Some("FILE"),
        repeat: false,
        help: "proxy mode, https:// upstream: trust these CAs (or a self-signed certificate in FILE as itself)",
        docs: "proxy mode with an `https://` upstream: trust the CAs (and self-signed certificates) in FILE / any certificate (default: the system's CA bundle, `SSL_CERT_FILE` first); not both",
        apply: |o, v| {
            o.ca_path = Some(parse_path(v)?);
            Ok(())
        },
    },
    OptDef {
        short: None,
        long: "--upstream-insecure",
        value: None,
        repeat: false,
        help: "proxy mode, https:// upstream: trust anything (not with --upstream-ca). The connect and TLS handshake must end within --read-timeout, else 504; a failed handshake (certificate, alert) is a 502",
        docs: "",
        apply: |o, _| {
            o.upstream_insecure = true;
            Ok(())
        },
    },
    OptDef {
        short: Some("-h"),
        long: "--help",
        value: None,
        repeat: false,
        help: "this help",
        docs: "help with every step and examples / the version",
        apply: |_, _| Ok(()),
    },
    OptDef {
        short: Some("-V"),
        long: "--version",
        value: None,
        repeat: false,
        help: "the version",
        docs: "",
        apply: |_, _| Ok(()),
    },
];

/// Reads every option of the table from `args` into options (defaults for the rest); the
/// free arguments are left in `args`.
pub fn read(args: &mut pico_args::Arguments) -> Result<Options, UsageError> {
    let mut o = Options {
        listen: DEFAULT_LISTEN.to_string(),
        max_conns: DEFAULT_MAX_CONNS,
        read_timeout: DEFAULT_READ_TIMEOUT,
        log: LogFormat::Text,
        ..Options::default()
    };
    for def in OPTIONS {
        let bad = |e: String| UsageError(e.replace("{}", def.long));
        if def.value.is_none() {
            if args.contains(def.keys()) {
                (def.apply)(&mut o, "").map_err(bad)?;
            }
            continue;
        }
        let values: Vec<String> = if def.repeat {
            args.values_from_fn(def.keys(), text)
                .map_err(|e| usage_error(def.long, e))?
        } else {
            args.opt_value_from_fn(def.keys(), text)
                .map_err(|e| usage_error(def.long, e))?
                .into_iter()
                .collect()
        };
        for v in values {
            (def.apply)(&mut o, &v).map_err(|expected| {
                UsageError(format!(
                    "bad value '{v}' for {} (expected {expected})",
                    def.long
                ))
            })?;
        }
    }
    Ok(o)
}

/// `--help`'s OPTIONS section: a synopsis column and the help text wrapped to 80 columns.
pub fn help_section() -> String {
    const COLUMN: usize = 27;
    const WIDTH: usize = 80;
    let mut out = String::from("OPTIONS:\n");
    for def in OPTIONS {
        let syn = format!(
            "    {}{}",
            if def.short.is_some() { "" } else { "    " },
            def.synopsis()
        );
        let mut line = syn.clone();
        if line.len() + 1 > COLUMN {
            out.push_str(&line);
            out.push('\n');
            line = String::new();
        }
        for word in def.help.split(' ') {
            let indent = line.is_empty() || line.len() < COLUMN;
            if indent {
                while line.len() < COLUMN {
                    line.push(' ');
                }
            } else if line.len() + 1 + word.len() > WIDTH {
                out.push_str(&line);
                out.push('\n');
                line = " ".repeat(COLUMN);
            } else {
                line.push(' ');
            }
            line.push_str(word);
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// docs/cli.md's option table (between its `options` markers): one row an option, options
/// documented together in one row.
#[cfg(test)]
pub fn docs_table() -> String {
    use std::fmt::Write as _;
    let mut out = String::from("| option | meaning |\n|---|---|\n");
    let mut rows: Vec<(String, &str)> = Vec::new();
    for def in OPTIONS {
        match rows.last_mut() {
            Some((syn, _)) if def.docs.is_empty() => {
                let _ = write!(syn, "` / `{}", def.synopsis());
            }
            _ => rows.push((def.synopsis(), def.docs)),
        }
    }
    for (syn, docs) in rows {
        let _ = writeln!(out, "| `{syn}` | {docs} |");
    }
    out
}

/// What the options require of each other, and the files they name, read.
pub fn check(o: &mut Options) -> Result<(), UsageError> {
    let err = |m: &str| Err(UsageError(m.to_string()));
    if o.no_control && o.control_on_listener {
        return err("--no-control and --control-on-listener contradict each other");
    }
    o.cert = match (o.cert_path.take(), o.key_path.take()) {
        (None, None) => None,
        (Some(c), Some(k)) => {
            o.tls = true;
            Some((c, k))
        }
        _ => return err("--cert and --key go together"),
    };
    if o.cert_out.is_some() && !o.tls {
        return err("--cert-out needs --tls");
    }
    if o.cert_out.is_some() && o.cert.is_some() {
        // It would write the CA made at start, which did not sign the user's certificate.
        return err(
            "--cert-out cannot go with --cert: it writes the CA made at start, which did not \
             sign your certificate (give clients your own CA, or drop --cert/--key)",
        );
    }
    if o.alpn.is_some() && !o.tls {
        return err("--alpn needs --tls");
    }
    if let Some(p) = &o.ca_path {
        let pem = std::fs::read(p).map_err(|e| {
            UsageError(format!(
                "cannot read --upstream-ca file '{}': {e}",
                p.display()
            ))
        })?;
        o.upstream_ca = Some(pem);
    }
    if let Some(path) = o.routes_path.take() {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            UsageError(format!("cannot read routes file '{}': {e}", path.display()))
        })?;
        o.routes_file = Some((path, text));
    }
    Ok(())
}

/// A duration above zero.
fn nonzero(d: Duration) -> Result<Duration, String> {
    if d.is_zero() {
        return Err("a duration above zero".to_string());
    }
    Ok(d)
}

fn text(v: &str) -> Result<String, String> {
    Ok(v.to_string())
}

/// Everything the command line says.
#[derive(Clone, Debug, Default)]
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
    pub ws_max_message: Option<u64>,
    pub plan: Option<String>,
    pub routes: Vec<String>,
    pub routes_path: Option<PathBuf>,
    /// `--routes FILE`, read.
    pub routes_file: Option<(PathBuf, String)>,
    pub journal: Option<usize>,
    pub no_control: bool,
    pub control_on_listener: bool,
    pub journal_secrets: bool,
    pub no_path_plans: bool,
    pub no_h2c: bool,
    /// `--files DIR`: request plans may read files under DIR.
    pub files: Option<PathBuf>,
    pub control: Option<String>,
    pub upstream: Option<String>,
    pub tcp: bool,
    pub tls: bool,
    pub cert_out: Option<PathBuf>,
    pub cert_path: Option<PathBuf>,
    pub key_path: Option<PathBuf>,
    /// `--cert FILE --key FILE`, read (and checked) when the server starts.
    pub cert: Option<(PathBuf, PathBuf)>,
    pub sni: Vec<String>,
    pub ca_path: Option<PathBuf>,
    /// `--upstream-ca FILE`, read.
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
            .path_plans(!self.no_path_plans)
            .h2c(!self.no_h2c);
        if self.no_control {
            b = b.control(false);
        } else if self.control_on_listener {
            b = b.control(true);
        }
        if let Some(idle) = self.upstream_idle {
            b = b.upstream_idle(idle);
        }
        if let Some(max) = self.ws_max_message {
            b = b.ws_max_message(max);
        }
        if !self.quiet {
            b = b.log(self.log);
        }
        if let Some(dir) = &self.files {
            b = b.files(dir);
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

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9000";

pub(super) fn parse_listen(text: &str) -> Result<String, String> {
    httpfault::parse_addr(text)
        .map(|a: SocketAddr| a.to_string())
        .map_err(|_| "HOST:PORT, [V6]:PORT or PORT, with an IP address as HOST".to_string())
}

pub(super) fn parse_dur(text: &str) -> Result<Duration, String> {
    httpfault::parse_duration(text).ok_or_else(|| "a duration such as 250ms, 2s or 1m".to_string())
}

pub(super) fn parse_log(text: &str) -> Result<LogFormat, String> {
    match text {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err("'text' or 'json'".to_string()),
    }
}

pub(super) fn parse_seed(text: &str) -> Result<u64, String> {
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

pub(super) fn parse_path(text: &str) -> Result<PathBuf, String> {
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

pub(super) fn usage_error(name: &str, e: pico_args::Error) -> UsageError {
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
pub(super) fn opt<T>(
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
