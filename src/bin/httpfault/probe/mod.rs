//! `httpfault probe`: runs the user's own client command once against a healthy server (the
//! baseline), then once per scenario of a catalogue, each time against a fresh in-process
//! server, and gives a verdict per scenario from what the server saw (the journal) and what
//! the command did (exit status, time, standard output), measured against the baseline.
//!
//! Layout: `options.rs` is the help and the option parser, `catalogue.rs` the scenarios as
//! data, `runner.rs` one run (server, command, journal), `verdict/` the pure judgement,
//! `report.rs` the table, JSON and HTML; this file puts them together.

mod catalogue;
mod options;
mod report;
mod runner;
mod verdict;

use catalogue::{Protocol, Scenario, Setup};
use options::{Config, FailOn, Parsed};
use runner::{Run, Stage};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use verdict::{Baseline, Exit, Outcome};

/// `httpfault probe ARGS...`: the whole subcommand, exit status included.
pub fn main(args: Vec<OsString>) -> std::process::ExitCode {
    match run(args) {
        Ok(code) => std::process::ExitCode::from(code),
        Err((code, message)) => {
            let _ = writeln!(std::io::stderr().lock(), "httpfault: error: {message}");
            std::process::ExitCode::from(code)
        }
    }
}

fn run(args: Vec<OsString>) -> Result<u8, (u8, String)> {
    let config = match options::parse(args).map_err(|e| (2, e))? {
        Parsed::Help => {
            let _ = std::io::stdout().lock().write_all(options::HELP.as_bytes());
            return Ok(0);
        }
        Parsed::List(body, tls, protocol) => {
            let mut out = String::new();
            for s in catalogue::all_of(protocol, tls) {
                out.push_str(&format!("{:<19} {}\n", s.name, s.describe(body)));
            }
            let _ = std::io::stdout().lock().write_all(out.as_bytes());
            return Ok(0);
        }
        Parsed::Run(c) => c,
    };
    let base = runner::run(&baseline_stage(config.protocol, config.body), &config)?;
    // Once the command could be started, and before the scenarios take their time.
    if let Some(warning) = url_warning(&config.command) {
        let _ = writeln!(std::io::stderr().lock(), "httpfault: warning: {warning}");
    }
    if let Some(sentence) = baseline_failed(&base, &config) {
        let _ = writeln!(std::io::stdout().lock(), "{sentence}");
        write_reports(&config, &base, Some(&sentence), &[])?;
        return Ok(1);
    }
    let baseline = Baseline::new(&base.attempts, base.stdout.clone());
    let healthy = match config.protocol {
        Protocol::Http1 | Protocol::Http2 => healthy_body(config.body),
        // Judged by the lines it printed against the healthy run's (`verdict/sse.rs`).
        _ => Vec::new(),
    };
    let timeout = config.timeout_text();
    let judged: Vec<report::Judged> = run_all(&config)?
        .into_iter()
        .map(|(scenario, run)| {
            let outcome = Outcome {
                exit: run.exit,
                seconds: run.seconds,
                timeout: &timeout,
                timeout_secs: config.timeout.as_secs_f64(),
                stdout: &run.stdout,
                stderr: &run.stderr_tail,
                attempts: &run.attempts,
                method: config.method.as_deref(),
            };
            let verdict = verdict::judge(scenario, &outcome, &baseline, &healthy);
            report::Judged {
                scenario,
                run,
                verdict,
            }
        })
        .collect();
    let text = report::baseline_line(&base, &baseline) + &report::table(&judged);
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    write_reports(&config, &base, None, &judged)?;
    let worst = judged.iter().map(|j| j.verdict.grade).max();
    Ok(match (config.fail_on, worst) {
        (FailOn::Grade(g), Some(w)) if w >= g => 1,
        _ => 0,
    })
}

fn write_reports(
    config: &Config,
    base: &Run,
    stopped: Option<&str>,
    judged: &[report::Judged],
) -> Result<(), (u8, String)> {
    let write = |path: &std::path::Path, text: String| {
        std::fs::write(path, text)
            .map_err(|e| (1, format!("cannot write '{}': {e}", path.display())))
    };
    if let Some(path) = &config.json {
        write(path, report::json(config, base, stopped, judged))?;
    }
    if let Some(path) = &config.html {
        write(path, report::html(config, base, stopped, judged))?;
    }
    Ok(())
}

/// The healthy run's server: the protocol's healthy answer to every request.
fn baseline_stage(protocol: Protocol, body: u64) -> Stage<'static> {
    Stage {
        name: "baseline",
        setup: Setup::Plans("body={body}"),
        default_plan: None,
        route: Some(format!("/* {}", protocol.healthy_plan(body))),
        faults: 0,
    }
}

fn stage(s: &'static Scenario, body: u64) -> Stage<'static> {
    Stage {
        name: s.name,
        setup: s.setup,
        default_plan: s.default_plan(),
        route: s.route(body),
        faults: s.faults,
    }
}

/// The one sentence that stops the probe when the healthy run failed, or `None`.
fn baseline_failed(base: &Run, config: &Config) -> Option<String> {
    let requests = base.attempts.iter().filter(|a| a.is_request()).count();
    let what = format!(
        "{} after {:.2} s, {}, {} bytes on stdout",
        base.exit,
        base.seconds,
        match requests {
            1 => "1 request".to_string(),
            n => format!("{n} requests"),
        },
        base.stdout_bytes
    );
    let stderr = match base
        .stderr_tail
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
    {
        Some(line) => format!("; its stderr ends: {}", line.trim()),
        None => String::new(),
    };
    if base.exit == Exit::Killed {
        return Some(format!(
            "The command was still running at --timeout {} against a healthy server (the \
             baseline run: {what}{stderr}): it must finish by itself there before its faults can \
             be judged (raise --timeout?).",
            config.timeout_text()
        ));
    }
    if requests == 0 {
        let tls = match config.tls {
            true => {
                " With --tls, a client must be told to trust the CA in the file {ca} \
                 (HTTPFAULT_CA), as in curl --cacert {ca} {url}: was it?"
            }
            false => "",
        };
        return Some(format!(
            "The command made no request to a healthy server (the baseline run: {what}{stderr}): \
             it is not an HTTP client of the URL it was given ({{url}} in its arguments, \
             HTTPFAULT_URL in its environment), so there is nothing to judge.{tls}"
        ));
    }
    if let Some(v) = base
        .attempts
        .iter()
        .filter_map(|a| a.version)
        .find(|v| !config.protocol.meets(v))
    {
        let (whose, hint) = match config.protocol {
            Protocol::Http2 => (
                "HTTP/2's",
                "make it speak HTTP/2 (curl --http2-prior-knowledge), or use --protocol http1",
            ),
            Protocol::Grpc => (
                "gRPC's, over HTTP/2",
                "give it a gRPC client of {url} (an insecure channel to its host and port)",
            ),
            Protocol::Sse => (
                "served as HTTP/1.1",
                "make it read the event stream over HTTP/1.1",
            ),
            _ => ("HTTP/1.1's", "use --protocol http2"),
        };
        return Some(format!(
            "The command spoke {v} to a healthy server (the baseline run: {what}), and this \
             catalogue is {whose}: {hint}."
        ));
    }
    if config.protocol == Protocol::Grpc && !base.attempts.iter().any(|a| a.grpc) {
        return Some(format!(
            "The command made no gRPC call to a healthy server (the baseline run: {what}; no \
             request had content-type: application/grpc): give it a gRPC client of {{url}} (an \
             insecure channel to its host and port)."
        ));
    }
    if config.protocol == Protocol::Ws && !base.attempts.iter().any(|a| a.ws.is_some()) {
        return Some(format!(
            "The command opened no WebSocket to a healthy server (the baseline run: {what}; no \
             request was upgraded): give it a WebSocket client of {{url}} (as ws://)."
        ));
    }
    if base.exit != Exit::Code(0) {
        return Some(format!(
            "The command failed against a healthy server (the baseline run: {what}{stderr}): it \
             must succeed there before its faults can be judged."
        ));
    }
    None
}

/// Most bytes of a file named in the command read to look for `HTTPFAULT_URL`.
const SCRIPT_PEEK: u64 = 1 << 20;

/// The warning for a command that has no `{url}` argument and does not name `HTTPFAULT_URL`
/// in its arguments, nor in the first MiB of a file an argument names (a script): it will
/// likely make no request to the probe's servers.
fn url_warning(command: &[String]) -> Option<String> {
    let named = |a: &String| a.contains("{url}") || a.contains("HTTPFAULT_URL");
    if command.iter().any(named) {
        return None;
    }
    let in_file = |a: &String| {
        let mut text = Vec::new();
        std::fs::File::open(a)
            .and_then(|f| f.take(SCRIPT_PEEK).read_to_end(&mut text))
            .is_ok_and(|_| text.windows(13).any(|w| w == b"HTTPFAULT_URL"))
    };
    if command.iter().any(in_file) {
        return None;
    }
    Some(
        "the command has no {url} argument and names HTTPFAULT_URL neither in its arguments nor \
         in a file they name: unless it reads HTTPFAULT_URL from its environment, it will make \
         no request"
            .into(),
    )
}

/// Byte `i` of the healthy body: the server's `body=SIZE` filler.
const FILLER: &[u8; 64] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

fn healthy_body(size: u64) -> Vec<u8> {
    (0..size).map(|i| FILLER[(i % 64) as usize]).collect()
}

/// Every scenario of `config`, `-j` at a time, in catalogue order.
fn run_all(config: &Config) -> Result<Vec<(&'static Scenario, Run)>, (u8, String)> {
    let n = config.scenarios.len();
    let next = AtomicUsize::new(0);
    type Slot = Option<Result<Run, (u8, String)>>;
    let results: Mutex<Vec<Slot>> = Mutex::new((0..n).map(|_| None).collect());
    thread::scope(|scope| {
        for _ in 0..config.jobs.min(n) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let result = runner::run(&stage(config.scenarios[i], config.body), config);
                let failed = result.is_err();
                if let Ok(mut r) = results.lock() {
                    r[i] = Some(result);
                }
                if failed {
                    // The same command will not start for the next scenario either.
                    next.store(n, Ordering::Relaxed);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_default();
    let mut runs = Vec::with_capacity(n);
    for (s, r) in config.scenarios.iter().zip(results) {
        match r {
            Some(Ok(run)) => runs.push((*s, run)),
            Some(Err(e)) => return Err(e),
            None => {}
        }
    }
    if runs.len() < n {
        return Err((1, "a scenario did not run".into()));
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use httpfault::Server;
    use std::time::Duration;

    #[test]
    fn the_healthy_body_is_what_the_server_sends() {
        let server = Server::start("body=200").unwrap();
        let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        let body_at = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(&got[body_at..], healthy_body(200).as_slice());
    }

    fn cmd(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn config(args: &str) -> Config {
        let args = args.split_whitespace().map(OsString::from).collect();
        match options::parse(args) {
            Ok(Parsed::Run(c)) => c,
            _ => panic!("should parse"),
        }
    }

    /// A healthy run of one request over `version`, a gRPC call or not.
    fn healthy_run(version: &'static str, grpc: bool) -> Run {
        Run {
            url: "http://127.0.0.1:1".into(),
            exit: Exit::Code(0),
            seconds: 0.05,
            stdout: Vec::new(),
            stdout_bytes: 0,
            stderr_tail: String::new(),
            attempts: vec![verdict::Attempt {
                t: 0.01,
                conn: 1,
                method: "POST".into(),
                target: "/".into(),
                version: Some(version),
                status: 200,
                end: Some(httpfault::End::Complete),
                done: Some(0.02),
                healthy: true,
                idempotency_key: None,
                accepts_gzip: false,
                range: None,
                last_event_id: None,
                grpc,
                ws: None,
            }],
            journal: Vec::new(),
        }
    }

    #[test]
    fn a_baseline_over_the_other_protocol_stops_the_probe_with_one_sentence() {
        let said = |args: &str, version, grpc| {
            baseline_failed(&healthy_run(version, grpc), &config(args)).unwrap_or_default()
        };
        let s = said("--protocol http2 -- x", "HTTP/1.1", false);
        assert!(
            s.starts_with("The command spoke HTTP/1.1 to a healthy server")
                && s.ends_with(
                    "this catalogue is HTTP/2's: make it speak HTTP/2 (curl \
                     --http2-prior-knowledge), or use --protocol http1."
                ),
            "{s}"
        );
        let s = said("-- x", "HTTP/2", false);
        assert!(
            s.ends_with("catalogue is HTTP/1.1's: use --protocol http2."),
            "{s}"
        );
        let s = said("--protocol sse -- x", "HTTP/2", false);
        assert!(s.contains("served as HTTP/1.1"), "{s}");
        let s = said("--protocol grpc -- x", "HTTP/2", false);
        assert!(s.starts_with("The command made no gRPC call"), "{s}");
        let s = said("--protocol ws -- x", "HTTP/1.1", false);
        assert!(s.starts_with("The command opened no WebSocket"), "{s}");
        // The protocol each catalogue wants: no sentence.
        for (args, version, grpc) in [
            ("--protocol grpc -- x", "HTTP/2", true),
            ("--protocol http2 -- x", "HTTP/2", false),
            ("--protocol sse -- x", "HTTP/1.1", false),
            ("-- x", "HTTP/1.0", false),
        ] {
            assert_eq!(said(args, version, grpc), "", "{args}");
        }
    }

    #[test]
    fn a_command_without_url_or_httpfault_url_is_warned_about() {
        assert!(url_warning(&cmd(&["curl", "-s", "{url}"])).is_none());
        assert!(url_warning(&cmd(&["curl", "-s", "{url}/v1/items"])).is_none());
        assert!(url_warning(&cmd(&["sh", "-c", "curl \"$HTTPFAULT_URL\""])).is_none());
        let w = url_warning(&cmd(&["curl", "-s", "http://127.0.0.1:9/"])).unwrap();
        assert!(w.contains("{url}") && w.contains("HTTPFAULT_URL"), "{w}");
        // A script that reads the environment variable is found in the file.
        let dir = std::env::temp_dir().join(format!("httpfault-probe-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("client.py");
        std::fs::write(&script, "import os\nurl = os.environ['HTTPFAULT_URL']\n").unwrap();
        let path = script.to_string_lossy().into_owned();
        assert!(url_warning(&cmd(&["python3", &path])).is_none());
        std::fs::write(&script, "print('hello')\n").unwrap();
        assert!(url_warning(&cmd(&["python3", &path])).is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
