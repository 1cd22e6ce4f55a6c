//! `httpfault probe`'s options: the help text beside the parser (as pico-args' example does).

use super::catalogue::{self, Protocol, Scenario};
use super::verdict::Grade;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

pub const HELP: &str = "\
httpfault probe: how does MY client cope?

USAGE:
    httpfault probe [OPTIONS] -- COMMAND [ARG...]

Runs COMMAND once against a healthy server (the baseline), then once per
scenario, each time against a fresh server on its own port. Every `{url}` in
the arguments becomes the server's URL (also in the environment as
HTTPFAULT_URL). The healthy answer of --protocol http1 is 200 with a body of
known bytes, served as HTTP/1.1 (an Upgrade: h2c is declined). A verdict per
scenario (ok, warn, bad, or n/a when the run says nothing about the fault)
comes from the requests the server saw and the command's exit status, time
and output, measured against the baseline: requests beyond its count are
retries, and its output is the healthy output. A baseline that fails
(non-zero exit, no request, still running at --timeout) stops the probe with
one sentence.

OPTIONS:
        --protocol P       the catalogue: http1 (default); http2 (the same
                           healthy body over HTTP/2: prior knowledge, h2c, or
                           ALPN h2 with --tls; HTTP/2 faults); grpc (the
                           command makes one unary call on {url}, any method:
                           the answer echoes its message, grpc-status 0); ws
                           (the command opens a WebSocket to {url}, sends one
                           message and prints each it gets on a line: its
                           echo, 1, 2, 3, then close 1000); sse (the command
                           reads {url} as an event stream and prints each
                           event's data on a line: 5 events, ids 1-5, data
                           1..5, then 204 to a reconnect)
        --only NAME,...    run only these scenarios (--list shows them; a fault
                           \"once\" is followed by healthy answers)
        --skip NAME,...    run all but these
        --timeout DUR      a run still going after DUR is killed (its whole
                           process group) and judged hung (default 20s)
        --method M         the method the command uses, for the idempotency
                           verdicts (default: the method the server saw)
        --body SIZE        the healthy body's size (default 64k)
        --tls              HTTPS: {url} is https://127.0.0.1:PORT, and every
                           `{ca}` in the arguments (HTTPFAULT_CA in the
                           environment) names a file with the PEM of the CA
                           that signed the server's certificate. The command
                           must be told to trust it (curl --cacert {ca},
                           NODE_EXTRA_CA_CERTS, Python's verify=): the
                           system's trust store is left alone. ALPN offers
                           http/1.1 only (h2 first for http2 and grpc). With
                           http1, adds the scenarios tls-expired,
                           tls-wrong-host, tls-self-signed, tls-untrusted (a
                           client must refuse them), tls-reset, tls-hang and
                           tls-no-close-notify (--list --tls). Needs the
                           cargo feature tls.
        --json FILE        the baseline and every scenario: verdict, exit
                           status, time, stdout byte count and the server's
                           journal entries
        --html FILE        one self-contained page: the table and an SVG
                           timeline per scenario
        --fail-on GRADE    bad (default), warn or never: exit 1 when a verdict
                           of that grade or worse appears
    -j N                   scenarios in parallel (default 1)
        --list             print the catalogue and exit
    -h, --help             this help

The command should print the body on stdout (as `curl -s {url}` does), print
nothing, or print the same thing in every healthy run: its output is compared
with the baseline's. A command with no `{url}` argument that does not name
HTTPFAULT_URL (in its arguments or in a script file among them) gets a
warning on stderr first.

EXAMPLES:
    httpfault probe --timeout 3s -j 4 -- curl -s {url}
    httpfault probe --only 503-once,429-retry-after -- python3 app.py {url}
    httpfault probe --html report.html --json report.json -- ./sdk-check
    httpfault probe --tls -- curl -s --cacert {ca} {url}
    httpfault probe --protocol http2 -- curl -s --http2-prior-knowledge {url}

EXIT STATUS: 0; 1 when a verdict reaches --fail-on, or when the baseline
failed; 2 a usage error (no command, bad option, a command that cannot be
started).
";

/// When to exit 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    Grade(Grade),
    Never,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub protocol: Protocol,
    pub scenarios: Vec<&'static Scenario>,
    pub tls: bool,
    pub timeout: Duration,
    pub method: Option<String>,
    pub body: u64,
    pub json: Option<PathBuf>,
    pub html: Option<PathBuf>,
    pub fail_on: FailOn,
    pub jobs: usize,
    pub command: Vec<String>,
}

impl Config {
    /// `--timeout` as the reasons say it: `5s`, `1500ms`.
    pub fn timeout_text(&self) -> String {
        let ms = self.timeout.as_millis();
        if ms % 1000 == 0 {
            format!("{}s", ms / 1000)
        } else {
            format!("{ms}ms")
        }
    }
}

pub enum Parsed {
    Run(Config),
    List(u64, bool, Protocol),
    Help,
}

/// The scenarios of `--only` or `--skip` (`option`), by name.
fn names(protocol: Protocol, option: &str, text: &str) -> Result<Vec<&'static Scenario>, String> {
    text.split(',')
        .filter(|n| !n.is_empty())
        .map(|n| {
            catalogue::find_in(protocol, n).ok_or_else(|| {
                let all: Vec<_> = catalogue::all_of(protocol, true).map(|s| s.name).collect();
                format!(
                    "unknown scenario '{n}' for {option} (expected one of {}'s: {})",
                    protocol.name(),
                    all.join(", ")
                )
            })
        })
        .collect()
}

fn value<T>(
    args: &mut pico_args::Arguments,
    name: &'static str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    args.opt_value_from_fn(name, parse).map_err(|e| match e {
        pico_args::Error::Utf8ArgumentParsingFailed { value, cause } => {
            format!("bad value '{value}' for {name} (expected {cause})")
        }
        pico_args::Error::OptionWithoutAValue(_) => format!("option {name} needs a value"),
        other => format!("{name}: {other}"),
    })
}

/// `--only`/`--skip`: the text as given, checked by `names` (its message names the option
/// and lists the catalogue, without being wrapped in another).
fn scenario_list(
    args: &mut pico_args::Arguments,
    protocol: Protocol,
    name: &'static str,
) -> Result<Option<Vec<&'static Scenario>>, String> {
    value(args, name, |t| Ok(t.to_string()))?
        .map(|t| names(protocol, name, &t))
        .transpose()
}

pub fn parse(mut args: Vec<OsString>) -> Result<Parsed, String> {
    let command: Vec<OsString> = match args.iter().position(|a| a == "--") {
        Some(i) => {
            let rest = args.split_off(i + 1);
            args.pop();
            rest
        }
        None => Vec::new(),
    };
    let mut args = pico_args::Arguments::from_vec(args);
    if args.contains(["-h", "--help"]) {
        return Ok(Parsed::Help);
    }
    let list = args.contains("--list");
    let tls = args.contains("--tls");
    if tls && !cfg!(feature = "tls") {
        return Err("probe --tls needs httpfault built with the cargo feature 'tls'".into());
    }
    let protocol = value(&mut args, "--protocol", |t| {
        Protocol::parse(t).ok_or_else(|| "http1, http2, grpc, ws or sse".to_string())
    })?
    .unwrap_or(Protocol::Http1);
    let only = scenario_list(&mut args, protocol, "--only")?;
    let skip = scenario_list(&mut args, protocol, "--skip")?;
    let timeout = value(&mut args, "--timeout", |t| {
        httpfault::parse_duration(t)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| "a duration above zero such as 3s or 1m".to_string())
    })?
    .unwrap_or(Duration::from_secs(20));
    let method = value(&mut args, "--method", |m| {
        if !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(m.to_string())
        } else {
            Err("an uppercase method such as GET or POST".to_string())
        }
    })?;
    let body = value(&mut args, "--body", |t| {
        httpfault::fuzzing::parse_size(t)
            .filter(|n| (1..=1 << 30).contains(n))
            .ok_or_else(|| "a size from 1 to 1024m such as 64k".to_string())
    })?
    .unwrap_or(64 * 1024);
    let json = value(&mut args, "--json", |t| Ok(PathBuf::from(t)))?;
    let html = value(&mut args, "--html", |t| Ok(PathBuf::from(t)))?;
    let fail_on = value(&mut args, "--fail-on", |t| match t {
        "bad" => Ok(FailOn::Grade(Grade::Bad)),
        "warn" => Ok(FailOn::Grade(Grade::Warn)),
        "never" => Ok(FailOn::Never),
        _ => Err("bad, warn or never".to_string()),
    })?
    .unwrap_or(FailOn::Grade(Grade::Bad));
    let jobs = value(&mut args, "-j", |t| {
        t.parse::<usize>()
            .ok()
            .filter(|n| (1..=64).contains(n))
            .ok_or_else(|| "a whole number from 1 to 64".to_string())
    })?
    .unwrap_or(1);
    let rest = args.finish();
    if let Some(extra) = rest.first() {
        return Err(format!(
            "probe: unexpected argument '{}' (the command goes after --)",
            extra.to_string_lossy()
        ));
    }
    if list {
        return Ok(Parsed::List(body, tls, protocol));
    }
    let command = command
        .into_iter()
        .map(|a| {
            a.into_string()
                .map_err(|a| format!("the argument '{}' is not valid UTF-8", a.to_string_lossy()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if command.is_empty() {
        return Err("probe needs a command after -- (httpfault probe -- curl -s {url})".into());
    }
    let skip = skip.unwrap_or_default();
    if let Some(s) = only.iter().flatten().find(|s| !tls && s.needs_tls()) {
        return Err(format!("the scenario '{}' needs --tls", s.name));
    }
    let scenarios: Vec<&'static Scenario> = catalogue::all_of(protocol, tls)
        .filter(|s| {
            only.as_ref()
                .map_or(true, |o| o.iter().any(|x| x.name == s.name))
        })
        .filter(|s| !skip.iter().any(|k| k.name == s.name))
        .collect();
    if scenarios.is_empty() {
        return Err("--only and --skip leave no scenario to run".into());
    }
    Ok(Parsed::Run(Config {
        protocol,
        scenarios,
        tls,
        timeout,
        method,
        body,
        json,
        html,
        fail_on,
        jobs,
        command,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_picks_the_catalogue_and_a_bad_one_is_named() {
        let Ok(Parsed::Run(c)) = parse(args("--protocol http2 --only rst-mid-body,503-once -- x"))
        else {
            panic!("should parse");
        };
        assert_eq!(c.protocol, Protocol::Http2);
        assert_eq!(
            c.scenarios.iter().map(|s| s.name).collect::<Vec<_>>(),
            ["rst-mid-body", "503-once"]
        );
        assert!(c.scenarios.iter().all(|s| s.protocol == Protocol::Http2));
        let Ok(Parsed::Run(c)) = parse(args("-- x")) else {
            panic!("should parse");
        };
        assert_eq!(c.protocol, Protocol::Http1);
        assert!(matches!(
            parse(args("--list --protocol sse")),
            Ok(Parsed::List(_, false, Protocol::Sse))
        ));
        let e = parse(args("--protocol h3 -- x")).err().unwrap_or_default();
        assert_eq!(
            e,
            "bad value 'h3' for --protocol (expected http1, http2, grpc, ws or sse)"
        );
        // An HTTP/1.1 scenario is not in HTTP/2's catalogue.
        let e = parse(args("--protocol http2 --only bad-chunk -- x"))
            .err()
            .unwrap_or_default();
        assert!(e.contains("'bad-chunk'") && e.contains("http2's"), "{e}");
        let Ok(Parsed::Run(c)) = parse(args("--protocol ws --only bad-utf8 -- x")) else {
            panic!("should parse");
        };
        assert_eq!(c.protocol, Protocol::Ws);
    }

    fn args(text: &str) -> Vec<OsString> {
        text.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn options_parse_and_the_command_follows_the_dashes() {
        let Ok(Parsed::Run(c)) = parse(args(
            "--only reset-mid-body,503-once --timeout 3s -j 4 --fail-on warn -- curl -s {url}",
        )) else {
            panic!("should parse");
        };
        assert_eq!(c.command, ["curl", "-s", "{url}"]);
        assert_eq!(
            c.scenarios.iter().map(|s| s.name).collect::<Vec<_>>(),
            ["reset-mid-body", "503-once"]
        );
        assert_eq!(c.timeout, Duration::from_secs(3));
        assert_eq!(c.timeout_text(), "3s");
        assert_eq!(c.jobs, 4);
        assert_eq!(c.fail_on, FailOn::Grade(Grade::Warn));
        assert_eq!(c.body, 65536);
        let Ok(Parsed::Run(c)) = parse(args("--skip refused --timeout 1500ms -- x -j 2")) else {
            panic!("should parse");
        };
        assert_eq!(
            c.command,
            ["x", "-j", "2"],
            "options after -- are the command's"
        );
        assert_eq!(c.timeout_text(), "1500ms");
        assert_eq!(c.scenarios.len(), catalogue::CATALOGUE.len() - 1);
        assert!(!c.tls);
        #[cfg(feature = "tls")]
        {
            let Ok(Parsed::Run(c)) = parse(args("--tls --skip refused -- x")) else {
                panic!("should parse");
            };
            assert_eq!(
                c.scenarios.len(),
                catalogue::CATALOGUE.len() + catalogue::TLS_CATALOGUE.len() - 1
            );
            assert!(c.tls);
        }
        assert_eq!(c.jobs, 1);
    }

    #[test]
    fn help_fits_80_columns() {
        for line in HELP.lines() {
            assert!(line.chars().count() <= 80, "{line}");
        }
    }

    #[test]
    fn bad_options_name_the_value() {
        for (line, needle) in [
            ("--", "needs a command"),
            ("curl {url}", "'curl'"),
            ("--only nope -- x", "'nope'"),
            ("--timeout 3 -- x", "'3'"),
            ("--fail-on sometimes -- x", "'sometimes'"),
            ("-j 0 -- x", "'0'"),
            ("--only refused --skip refused -- x", "no scenario"),
        ] {
            let e = parse(args(line)).err().unwrap_or_else(|| panic!("{line}"));
            assert!(e.contains(needle), "{line}: {e}");
        }
        assert!(matches!(
            parse(args("--list")),
            Ok(Parsed::List(65536, false, Protocol::Http1))
        ));
        // Without the feature, --tls is a usage error saying so.
        match parse(args("--tls -- x")) {
            Ok(Parsed::Run(c)) => assert!(c.tls && cfg!(feature = "tls")),
            Err(e) => assert!(!cfg!(feature = "tls") && e.contains("feature 'tls'"), "{e}"),
            _ => panic!("--tls -- x"),
        }
        let e = parse(args("--only tls-expired -- x"))
            .err()
            .unwrap_or_default();
        assert!(e.contains("'tls-expired'") && e.contains("--tls"), "{e}");
    }

    #[test]
    fn an_unknown_scenario_is_one_message_not_one_inside_another() {
        // Issue 24 item 6: it was "bad value 'nope' for --only (expected unknown scenario ...)".
        for option in ["--only", "--skip"] {
            let e = parse(args(&format!("{option} reset-mid-body,nope -- x")))
                .err()
                .unwrap_or_default();
            assert!(
                e.starts_with(&format!(
                    "unknown scenario 'nope' for {option} (expected one of http1's: "
                )),
                "{e}"
            );
            assert_eq!(e.matches("expected").count(), 1, "{e}");
            assert!(e.contains("redirect-loop"), "{e}");
        }
    }
}
