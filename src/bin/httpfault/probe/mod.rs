//! `httpfault probe`: runs the user's own client command once per scenario of a catalogue,
//! each time against a fresh in-process server, and gives a verdict per scenario from what
//! the server saw (the journal) and what the command did (exit status, time, standard output).
//!
//! Layout: `catalogue.rs` is the scenarios as data, `verdict.rs` the pure judgement,
//! `report.rs` the table, JSON and HTML; this file parses the options and runs the command.

mod catalogue;
mod report;
mod verdict;

use catalogue::{Scenario, Setup};
use httpfault::{process, Request, Server};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use verdict::{Attempt, Exit, Grade, Outcome, Verdict};

const HELP: &str = "\
httpfault probe: how does MY client cope?

USAGE:
    httpfault probe [OPTIONS] -- COMMAND [ARG...]

Runs COMMAND once per scenario, each time against a fresh server on its own
port. Every `{url}` in the arguments becomes the server's URL (also in the
environment as HTTPFAULT_URL). The healthy answer is 200 with a body of known
bytes; the command should print the body on stdout (as `curl -s {url}` does)
or print nothing. A verdict per scenario (ok, warn, bad) comes from the
requests the server saw and the command's exit status, time and output.

OPTIONS:
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
                           system's trust store is left alone. Adds the
                           scenarios tls-expired, tls-wrong-host,
                           tls-self-signed, tls-untrusted (a client must
                           refuse them), tls-reset, tls-hang and
                           tls-no-close-notify (--list --tls). Needs the
                           cargo feature tls.
        --json FILE        every scenario: verdict, exit status, time, stdout
                           byte count and the server's journal entries
        --html FILE        one self-contained page: the table and an SVG
                           timeline per scenario
        --fail-on GRADE    bad (default), warn or never: exit 1 when a verdict
                           of that grade or worse appears
    -j N                   scenarios in parallel (default 1)
        --list             print the catalogue and exit
    -h, --help             this help

A command that never connects in any scenario gets one plain sentence
instead of the table (its scenarios count as bad).

EXAMPLES:
    httpfault probe --timeout 3s -j 4 -- curl -s {url}
    httpfault probe --only 503-once,429-retry-after -- python3 app.py {url}
    httpfault probe --html report.html --json report.json -- ./sdk-check
    httpfault probe --tls -- curl -s --cacert {ca} {url}

EXIT STATUS: 0; 1 when a verdict reaches --fail-on; 2 a usage error (no
command, bad option, a command that cannot be started).
";

/// When to exit 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FailOn {
    Grade(Grade),
    Never,
}

#[derive(Clone, Debug)]
struct Config {
    scenarios: Vec<&'static Scenario>,
    tls: bool,
    timeout: Duration,
    method: Option<String>,
    body: u64,
    json: Option<PathBuf>,
    html: Option<PathBuf>,
    fail_on: FailOn,
    jobs: usize,
    command: Vec<String>,
}

enum Parsed {
    Run(Config),
    List(u64, bool),
    Help,
}

fn usage(text: String) -> String {
    text
}

fn names(text: &str) -> Result<Vec<&'static Scenario>, String> {
    text.split(',')
        .filter(|n| !n.is_empty())
        .map(|n| {
            catalogue::find(n).ok_or_else(|| {
                let all: Vec<_> = catalogue::all(true).map(|s| s.name).collect();
                format!(
                    "unknown scenario '{n}' (expected one of: {})",
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

fn parse(mut args: Vec<OsString>) -> Result<Parsed, String> {
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
    let only = value(&mut args, "--only", names)?;
    let skip = value(&mut args, "--skip", names)?;
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
        return Ok(Parsed::List(body, tls));
    }
    let command = command
        .into_iter()
        .map(|a| {
            a.into_string()
                .map_err(|a| format!("the argument '{}' is not valid UTF-8", a.to_string_lossy()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if command.is_empty() {
        return Err(usage(
            "probe needs a command after -- (httpfault probe -- curl -s {url})".into(),
        ));
    }
    let skip = skip.unwrap_or_default();
    if let Some(s) = only.iter().flatten().find(|s| !tls && s.needs_tls()) {
        return Err(format!("the scenario '{}' needs --tls", s.name));
    }
    let scenarios: Vec<&'static Scenario> = catalogue::all(tls)
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

/// `httpfault probe ARGS...`: the whole subcommand, exit status included.
pub fn main(args: Vec<OsString>) -> ExitCode {
    match run(args) {
        Ok(code) => ExitCode::from(code),
        Err((code, message)) => {
            let _ = writeln!(std::io::stderr().lock(), "httpfault: error: {message}");
            ExitCode::from(code)
        }
    }
}

fn run(args: Vec<OsString>) -> Result<u8, (u8, String)> {
    let config = match parse(args).map_err(|e| (2, e))? {
        Parsed::Help => {
            let _ = std::io::stdout().lock().write_all(HELP.as_bytes());
            return Ok(0);
        }
        Parsed::List(body, tls) => {
            let mut out = String::new();
            for s in catalogue::all(tls) {
                out.push_str(&format!("{:<19} {}\n", s.name, s.describe(body)));
            }
            let _ = std::io::stdout().lock().write_all(out.as_bytes());
            return Ok(0);
        }
        Parsed::Run(c) => c,
    };
    let healthy = healthy_body(config.body);
    let runs = run_all(&config)?;
    let never = never_connected(&runs, config.tls);
    let judged: Vec<report::Judged> = runs
        .into_iter()
        .map(|r| {
            let verdict = match &never {
                Some(_) => Verdict {
                    grade: Grade::Bad,
                    reason: format!("never connected ({})", r.exit),
                },
                None => verdict::judge(
                    r.scenario,
                    &Outcome {
                        exit: r.exit,
                        seconds: r.seconds,
                        stdout: &r.stdout,
                        attempts: &r.attempts,
                        method: config.method.as_deref(),
                    },
                    &healthy,
                ),
            };
            report::Judged { run: r, verdict }
        })
        .collect();
    let text = match &never {
        Some(statement) => format!("{statement}\n"),
        None => report::table(&judged),
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    if let Some(path) = &config.json {
        std::fs::write(
            path,
            report::json(&config.command, config.body, config.tls, &judged),
        )
        .map_err(|e| (1, format!("cannot write '{}': {e}", path.display())))?;
    }
    if let Some(path) = &config.html {
        std::fs::write(
            path,
            report::html(&config.command, config.body, never.as_deref(), &judged),
        )
        .map_err(|e| (1, format!("cannot write '{}': {e}", path.display())))?;
    }
    let worst = judged.iter().map(|j| j.verdict.grade).max();
    Ok(match (config.fail_on, worst) {
        (FailOn::Grade(g), Some(w)) if w >= g => 1,
        _ => 0,
    })
}

/// The plain statement for a command that never connected, when every scenario with a
/// listening server saw no request (and there was at least one).
fn never_connected(runs: &[ScenarioRun], tls: bool) -> Option<String> {
    let listening: Vec<_> = runs.iter().filter(|r| r.scenario.answers()).collect();
    if listening.is_empty() || listening.iter().any(|r| !r.attempts.is_empty()) {
        return None;
    }
    let mut exits: Vec<String> = listening.iter().map(|r| r.exit.to_string()).collect();
    exits.sort();
    exits.dedup();
    Some(format!(
        "The command never connected: in {} scenario{} with a server listening at the URL it was \
         given ({{url}} in its arguments, HTTPFAULT_URL in its environment) it made no request \
         ({}). It is not an HTTP client of that URL, so there is nothing to judge.{}",
        listening.len(),
        if listening.len() == 1 { "" } else { "s" },
        exits.join(", "),
        if tls {
            " With --tls, a client must be told to trust the CA in the file {ca} \
             (HTTPFAULT_CA), as in curl --cacert {ca} {url}: was it?"
        } else {
            ""
        }
    ))
}

/// Byte `i` of the healthy body: the server's `body=SIZE` filler.
const FILLER: &[u8; 64] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

fn healthy_body(size: u64) -> Vec<u8> {
    (0..size).map(|i| FILLER[(i % 64) as usize]).collect()
}

/// What one scenario's run left: the command's side and the server's.
pub struct ScenarioRun {
    pub scenario: &'static Scenario,
    pub url: String,
    pub exit: Exit,
    pub seconds: f64,
    pub stdout: Vec<u8>,
    pub stdout_bytes: u64,
    pub stderr_tail: String,
    pub attempts: Vec<Attempt>,
    /// The journal entries, oldest first, with `t` moved onto the command's clock.
    pub journal: Vec<(f64, Request)>,
}

fn run_all(config: &Config) -> Result<Vec<ScenarioRun>, (u8, String)> {
    let n = config.scenarios.len();
    let next = AtomicUsize::new(0);
    type Slot = Option<Result<ScenarioRun, (u8, String)>>;
    let results: Mutex<Vec<Slot>> = Mutex::new((0..n).map(|_| None).collect());
    thread::scope(|scope| {
        for _ in 0..config.jobs.min(n) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let result = run_one(config.scenarios[i], config);
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
    for r in results {
        match r {
            Some(Ok(run)) => runs.push(run),
            Some(Err(e)) => return Err(e),
            None => {}
        }
    }
    if runs.len() < n {
        return Err((1, "a scenario did not run".into()));
    }
    Ok(runs)
}

/// Most stdout bytes kept for the verdict (the rest is only counted).
fn stdout_cap(body: u64) -> usize {
    usize::try_from(body.saturating_mul(4).max(1 << 20)).unwrap_or(usize::MAX)
}

const STDERR_TAIL: usize = 2048;

fn run_one(s: &'static Scenario, config: &Config) -> Result<ScenarioRun, (u8, String)> {
    let server_error = |e: httpfault::Error| (1, format!("{}: cannot start a server: {e}", s.name));
    let builder = || {
        let b = Server::builder();
        if config.tls {
            b.tls()
        } else {
            b
        }
    };
    let server = match s.setup {
        Setup::Plans(_) | Setup::Handshake(_) => Some(
            s.default_plan()
                .map_or_else(builder, |plan| builder().plan(plan))
                .route(&s.route(config.body).unwrap_or_default())
                .control(false)
                .read_timeout(config.timeout + Duration::from_secs(5))
                .start()
                .map_err(server_error)?,
        ),
        Setup::Blackhole => Some(builder().blackhole().start().map_err(server_error)?),
        Setup::Refused => None,
    };
    let (url, ca_pem) = match &server {
        Some(server) => (server.url(), server.ca_pem()),
        None => {
            // A port where nothing listens: the OS's pick, released again.
            let l = std::net::TcpListener::bind("127.0.0.1:0")
                .map_err(|e| (1, format!("cannot find a free port: {e}")))?;
            let port = l
                .local_addr()
                .map_err(|e| (1, format!("cannot find a free port: {e}")))?
                .port();
            drop(l);
            let scheme = if config.tls { "https" } else { "http" };
            // A CA all the same, so that `{ca}` names a file the command can read.
            let ca = match config.tls {
                true => builder().start().map_err(server_error)?.ca_pem(),
                false => None,
            };
            (format!("{scheme}://127.0.0.1:{port}"), ca)
        }
    };
    let server_start = Instant::now();
    let ca = match ca_pem {
        Some(pem) => Some(CaFile::write(s.name, &pem)?),
        None => None,
    };
    let ca_path = ca
        .as_ref()
        .map(|c| c.0.to_string_lossy().into_owned())
        .unwrap_or_default();
    let argv: Vec<String> = config
        .command
        .iter()
        .map(|a| {
            let a = a.replace("{url}", &url);
            if ca.is_some() {
                a.replace("{ca}", &ca_path)
            } else {
                a
            }
        })
        .collect();
    let started = Instant::now();
    let mut command = Command::new(&argv[0]);
    if ca.is_some() {
        command.env("HTTPFAULT_CA", &ca_path);
    }
    let mut child = command
        .args(&argv[1..])
        .env("HTTPFAULT_URL", &url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| (2, format!("cannot run '{}': {e}", argv[0])))?;
    let pid = child.id();
    let out = Capture::start(child.stdout.take(), stdout_cap(config.body), false);
    let err = Capture::start(child.stderr.take(), STDERR_TAIL, true);
    let mut killed = false;
    let seconds = loop {
        // Not reaped yet, so the group id cannot have gone to another process.
        match process::has_exited(pid) {
            Ok(true) | Err(_) => break started.elapsed(),
            Ok(false) => {}
        }
        if started.elapsed() >= config.timeout {
            killed = true;
            break started.elapsed();
        }
        thread::sleep(Duration::from_millis(2));
    };
    // Whatever is left of the group (the command's own children) goes too.
    let _ = process::kill_group(pid);
    let status = child
        .wait()
        .map_err(|e| (1, format!("cannot wait for the command: {e}")))?;
    let exit = if killed {
        Exit::Killed
    } else if let Some(code) = status.code() {
        Exit::Code(code)
    } else {
        Exit::Signal(status.signal().unwrap_or(0))
    };
    let grace = Duration::from_secs(2);
    let until = Instant::now() + grace;
    let (stdout, stdout_bytes) = out.take(until);
    let (stderr, _) = err.take(until);
    let journal = match &server {
        Some(server) => settled_journal(server),
        None => Vec::new(),
    };
    drop(server);
    let offset = started.duration_since(server_start).as_secs_f64();
    let journal: Vec<(f64, Request)> = journal
        .into_iter()
        .map(|r| (r.t.as_secs_f64() - offset, r))
        .collect();
    let attempts = journal
        .iter()
        .map(|(t, r)| Attempt {
            t: *t,
            conn: r.conn,
            method: r.method.clone(),
            status: r.status,
            end: r.end,
            healthy: r.step.is_some_and(|step| step > s.faults),
            idempotency_key: r.header("idempotency-key").map(str::to_string),
            accepts_gzip: r
                .header("accept-encoding")
                .is_some_and(|v| v.to_ascii_lowercase().contains("gzip")),
        })
        .collect();
    Ok(ScenarioRun {
        scenario: s,
        url,
        exit,
        seconds: seconds.as_secs_f64(),
        stdout,
        stdout_bytes,
        stderr_tail: String::from_utf8_lossy(&stderr).into_owned(),
        attempts,
        journal,
    })
}

/// The CA's PEM of one scenario's server in a file of its own (`{ca}`, `HTTPFAULT_CA`),
/// removed when dropped.
struct CaFile(PathBuf);

impl CaFile {
    fn write(scenario: &str, pem: &str) -> Result<CaFile, (u8, String)> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "httpfault-probe-{}-{}-{scenario}-ca.pem",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, pem)
            .map_err(|e| (1, format!("cannot write '{}': {e}", path.display())))?;
        Ok(CaFile(path))
    }
}

impl Drop for CaFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The journal once every entry has ended (the server notices a client that left a moment
/// after it left), or as it is after a second.
fn settled_journal(server: &Server) -> Vec<Request> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let seen = server.requests();
        if seen.iter().all(|r| r.end.is_some()) || Instant::now() >= deadline {
            return seen;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// A pipe read to its end on a thread: the first `cap` bytes (or with `tail`, the last), and
/// the count of all of them.
struct Capture {
    shared: Arc<Mutex<(Vec<u8>, u64)>>,
    done: mpsc::Receiver<()>,
}

impl Capture {
    fn start(pipe: Option<impl Read + Send + 'static>, cap: usize, tail: bool) -> Capture {
        let shared = Arc::new(Mutex::new((Vec::new(), 0u64)));
        let (tx, done) = mpsc::channel();
        let Some(mut pipe) = pipe else {
            return Capture { shared, done };
        };
        let into = Arc::clone(&shared);
        // If the thread cannot start, `take` finds nothing read.
        let _ = thread::Builder::new().stack_size(64 * 1024).spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            loop {
                let n = match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                let mut g = into.lock().unwrap_or_else(|e| e.into_inner());
                g.1 += n as u64;
                let kept = &mut g.0;
                if tail {
                    kept.extend_from_slice(&buf[..n]);
                    let over = kept.len().saturating_sub(cap);
                    kept.drain(..over);
                } else {
                    let room = cap.saturating_sub(kept.len()).min(n);
                    kept.extend_from_slice(&buf[..room]);
                }
            }
            let _ = tx.send(());
        });
        Capture { shared, done }
    }

    /// What was read: all of it once the pipe ends, or what came by `until` (a process
    /// that left the command's group, with `setsid` say, may keep the pipe open).
    fn take(self, until: Instant) -> (Vec<u8>, u64) {
        let _ = self
            .done
            .recv_timeout(until.saturating_duration_since(Instant::now()));
        let mut g = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        (std::mem::take(&mut g.0), g.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(c.jobs, 4);
        assert_eq!(c.fail_on, FailOn::Grade(Grade::Warn));
        assert_eq!(c.body, 65536);
        let Ok(Parsed::Run(c)) = parse(args("--skip refused -- x -j 2")) else {
            panic!("should parse");
        };
        assert_eq!(
            c.command,
            ["x", "-j", "2"],
            "options after -- are the command's"
        );
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
            Ok(Parsed::List(65536, false))
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
}
