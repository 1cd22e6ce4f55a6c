//! The command line: help text, [`Config`], and parsing with pico-args.

use crate::log::Format;
use crate::plan::{self, Plan};
use std::ffi::OsString;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The plan served when no PLAN is given: the classic broken response.
pub const DEFAULT_PLAN: &str = "reset=6";

pub const HELP: &str = "\
httpfault: an HTTP/1.1 server that breaks on purpose

USAGE:
    httpfault [OPTIONS] [PLAN]

With no PLAN every request gets the classic broken response: HTTP/1.1 200 OK,
Content-Length: 13, the 6 bytes `Hello,`, then a TCP reset (curl: exit 56).
A request path that starts with a step is a plan for that request alone:
    curl http://127.0.0.1:9000/status=503/delay=2s

OPTIONS:
    -l, --listen ADDR      HOST:PORT, [V6]:PORT or PORT (= 127.0.0.1:PORT);
                           default 127.0.0.1:9000; port 0 picks a free port
        --once             serve one request, then exit 0 (the first connection
                           that sends a complete request head wins)
        --blackhole        listen but never accept (connect-timeout tests)
        --port-file FILE   write the bound port (digits, newline) to FILE
        --exit-after DUR   exit 0 after DUR, whatever is going on
        --log FORMAT       text (default) or json, one line per event on stderr
    -q, --quiet            no log lines
        --seed N           seed for garbage and chance (default: from the clock,
                           logged at start)
        --max-conns N      most connections at once (default 10000); more are
                           closed at once and logged
        --read-timeout DUR time a connection has to send a request head
                           (default 30s); also the longest wait for each read
                           of a request body and each blocked write
    -h, --help             this help
    -V, --version          the version

PLAN: steps separated by /, each `name` or `name=value` (values percent-decoded,
so a / inside a value is %2F). OFFSET counts body bytes (6, 64k), or head bytes
with head:N, or `end`. SIZE: 512, 64k, 10m. DUR: 250ms, 2s, 1.5s, 1m.
    status=CODE        status code, standard reason         status=503
    header=NAME:VALUE  add a header (repeatable)             header=Retry-After:1
    body=SIZE          SIZE bytes of printable filler        body=10m
    text=TEXT          this body                             text=hi%20there
    echo               the request, as received, is the body echo
    length=N|none      declare Content-Length N / none       length=100
    chunked[=SIZE]     chunked encoding, SIZE-byte chunks    chunked=4
    badchunk           a malformed chunk-size line           chunked=4/badchunk
    keepalive=no       Connection: close, then FIN           keepalive=no
    delay=DUR          wait before the first byte            delay=2s
    pause=OFFSET,DUR   stop sending for DUR (repeatable)     pause=6,1s
    rate=SIZE          send SIZE bytes per second            rate=1
    reset[=OFFSET]     RST, no response / after OFFSET        reset=6
    close[=OFFSET]     FIN, no response / after OFFSET        close=head:10
    hang[=OFFSET]      stay silent, no response / after OFFSET hang=6
    garbage=SIZE       SIZE random bytes, then FIN           garbage=64
    raw=TEXT           exactly these bytes, then FIN         raw=HTTP%2F1.1%20200%0D%0A%0D%0A
    drain=no           answer without reading the body       drain=no
    idle=DUR           FIN a kept-alive connection idle DUR  idle=1s
    reuse=reset|close  answer, then kill the connection when it is reused  reuse=reset
    times=N            the plan for the first N requests to this path, then 200  times=2/reset
    chance=P           the plan with probability P, else 200 chance=0.5/reset

EXAMPLES:
    httpfault                                   # Hello, then RST on every request
    httpfault --once status=200                 # serve one browser visit, exit 0
    httpfault -l 0 --port-file port 'status=503/delay=2s'
    curl http://127.0.0.1:9000/body=10m/reset=5m    # curl: (56) after 5 MiB
    curl http://127.0.0.1:9000/times=2/reset        # reset twice, then 200
    curl http://127.0.0.1:9000/chunked=4/badchunk

OUTPUT AND EXIT STATUS:
    stdout has one line, `listening on http://HOST:PORT`, once the socket listens.
    Logs go to stderr. Exit 0: one-shot done, --exit-after, SIGINT or SIGTERM;
    1: server failure (address in use, ...); 2: bad option, value or plan.
";

/// Everything the server needs to run.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub once: bool,
    pub blackhole: bool,
    pub port_file: Option<PathBuf>,
    pub exit_after: Option<Duration>,
    pub log: Format,
    pub quiet: bool,
    pub seed: Option<u64>,
    pub max_conns: usize,
    pub read_timeout: Duration,
    pub plan: Plan,
}

#[derive(Debug)]
pub enum Command {
    Run(Box<Config>),
    Help,
    Version,
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

pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9000);
pub const DEFAULT_MAX_CONNS: usize = 10_000;
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Parses `ADDR` of `--listen`: `HOST:PORT`, `[V6]:PORT`, or a bare `PORT`. Hosts are IP
/// addresses or `localhost`: no name lookups, so the static binary needs no resolver.
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let port = text
            .parse::<u16>()
            .map_err(|_| "a port from 0 to 65535".to_string())?;
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    if let Some(port) = text.strip_prefix("localhost:") {
        let port = port
            .parse::<u16>()
            .map_err(|_| "a port from 0 to 65535".to_string())?;
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    if let Some(port) = text.strip_prefix("[localhost]:") {
        let port = port
            .parse::<u16>()
            .map_err(|_| "a port from 0 to 65535".to_string())?;
        return Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port));
    }
    text.parse::<SocketAddr>()
        .map_err(|_| "HOST:PORT, [V6]:PORT or PORT, with an IP address as HOST".to_string())
}

fn parse_dur(text: &str) -> Result<Duration, String> {
    plan::parse_duration(text).ok_or_else(|| "a duration such as 250ms, 2s or 1m".to_string())
}

fn parse_log(text: &str) -> Result<Format, String> {
    match text {
        "text" => Ok(Format::Text),
        "json" => Ok(Format::Json),
        _ => Err("'text' or 'json'".to_string()),
    }
}

fn parse_seed(text: &str) -> Result<u64, String> {
    text.parse::<u64>()
        .map_err(|_| "a whole number from 0 to 18446744073709551615".to_string())
}

fn parse_max_conns(text: &str) -> Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| "a whole number of at least 1".to_string())
}

fn parse_path(text: &str) -> Result<PathBuf, String> {
    if text.is_empty() {
        return Err("a file name".to_string());
    }
    Ok(PathBuf::from(text))
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
    args.opt_value_from_fn(keys, parse).map_err(|e| match e {
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
    })
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
    let listen = opt(&mut args, ["-l", "--listen"], parse_listen)?.unwrap_or(DEFAULT_LISTEN);
    let port_file = opt(&mut args, ["--port-file", ""], parse_path)?;
    let exit_after = opt(&mut args, ["--exit-after", ""], parse_dur)?;
    let log = opt(&mut args, ["--log", ""], parse_log)?.unwrap_or(Format::Text);
    let seed = opt(&mut args, ["--seed", ""], parse_seed)?;
    let max_conns =
        opt(&mut args, ["--max-conns", ""], parse_max_conns)?.unwrap_or(DEFAULT_MAX_CONNS);
    let read_timeout =
        opt(&mut args, ["--read-timeout", ""], parse_dur)?.unwrap_or(DEFAULT_READ_TIMEOUT);
    if read_timeout.is_zero() {
        return Err(UsageError(
            "bad value '0' for --read-timeout (expected a duration above zero)".to_string(),
        ));
    }

    let mut rest = args.finish().into_iter();
    let plan_text = match rest.next() {
        None => None,
        Some(arg) => Some(arg.into_string().map_err(|arg| {
            UsageError(format!(
                "argument '{}' is not valid UTF-8",
                arg.to_string_lossy()
            ))
        })?),
    };
    if let Some(text) = &plan_text {
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
    let plan = Plan::parse(plan_text.as_deref().unwrap_or(DEFAULT_PLAN))
        .map_err(|e| UsageError(format!("bad plan: {e}")))?;
    Ok(Command::Run(Box::new(Config {
        listen,
        once,
        blackhole,
        port_file,
        exit_after,
        log,
        quiet,
        seed,
        max_conns,
        read_timeout,
        plan,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Config, String> {
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
        assert_eq!(c.plan.to_string(), "reset=6");
        assert_eq!(c.read_timeout, Duration::from_secs(30));
        assert_eq!(c.max_conns, 10_000);
        assert_eq!(c.log, Format::Text);
        assert!(!c.once && !c.blackhole && !c.quiet);
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
            "--log",
            "json",
            "-q",
            "--seed",
            "7",
            "--max-conns",
            "5",
            "--read-timeout",
            "250ms",
            "status=503/delay=2s",
        ])
        .unwrap();
        assert_eq!(c.listen, "127.0.0.1:0".parse().unwrap());
        assert!(c.once && c.blackhole && c.quiet);
        assert_eq!(c.port_file, Some(PathBuf::from("p")));
        assert_eq!(c.exit_after, Some(Duration::from_millis(1500)));
        assert_eq!(c.log, Format::Json);
        assert_eq!(c.seed, Some(7));
        assert_eq!(c.max_conns, 5);
        assert_eq!(c.read_timeout, Duration::from_millis(250));
        assert_eq!(c.plan.to_string(), "status=503/delay=2s");
        let c = run(&["--listen=[::1]:8080", "--quiet"]).unwrap();
        assert_eq!(c.listen, "[::1]:8080".parse().unwrap());
    }

    #[test]
    fn listen_forms() {
        assert_eq!(parse_listen("9000"), Ok("127.0.0.1:9000".parse().unwrap()));
        assert_eq!(
            parse_listen("0.0.0.0:80"),
            Ok("0.0.0.0:80".parse().unwrap())
        );
        assert_eq!(parse_listen("[::1]:0"), Ok("[::1]:0".parse().unwrap()));
        assert_eq!(
            parse_listen("localhost:1"),
            Ok("127.0.0.1:1".parse().unwrap())
        );
        assert!(parse_listen("65536").is_err());
        assert!(parse_listen("example.com:80").is_err());
        assert!(parse_listen("").is_err());
        assert!(parse_listen("1.2.3.4").is_err());
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
        assert!(run(&["rset"])
            .unwrap_err()
            .starts_with("bad plan: unknown step 'rset'"));
        assert!(run(&["-l", "nope"])
            .unwrap_err()
            .starts_with("bad value 'nope' for --listen"));
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
    }

    #[test]
    fn help_and_version() {
        let cmd = |a: &str| parse(vec![OsString::from(a)]).unwrap();
        assert!(matches!(cmd("-h"), Command::Help));
        assert!(matches!(cmd("--help"), Command::Help));
        assert!(matches!(cmd("-V"), Command::Version));
        for step in plan::STEP_NAMES {
            assert!(HELP.contains(&format!("    {step}")), "help lacks {step}");
        }
        for option in [
            "--listen",
            "--once",
            "--blackhole",
            "--port-file",
            "--exit-after",
            "--log",
            "--quiet",
            "--seed",
            "--max-conns",
            "--read-timeout",
            "--help",
            "--version",
        ] {
            assert!(HELP.contains(option), "help lacks {option}");
        }
    }
}
