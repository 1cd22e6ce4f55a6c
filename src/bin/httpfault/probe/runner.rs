//! One run of the command: a fresh server set up for it, the command in its own process
//! group with its output captured and a deadline, and the server's journal on the command's
//! clock.

use super::catalogue::{Protocol, Setup};
use super::options::Config;
use super::verdict::{Attempt, Exit, WsEnd};
use httpfault::{process, Request, Server};
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What one run left: the command's side and the server's.
pub struct Run {
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

/// How a run's server is set up: the scenario's setup, its default plan (the handshake
/// faults), and its route; `faults` is how many plans of the route's sequence are faults.
pub struct Stage<'a> {
    pub name: &'a str,
    pub setup: Setup,
    pub default_plan: Option<&'static str>,
    pub route: Option<String>,
    pub faults: usize,
}

/// Runs the command once against a server staged so.
pub fn run(stage: &Stage, config: &Config) -> Result<Run, (u8, String)> {
    let served = Served::start(stage, config)?;
    let argv = argv(&config.command, &served);
    let finished = run_command(&argv, &served, config)?;
    let journal = match &served.server {
        Some(server) => settled_journal(server),
        None => Vec::new(),
    };
    let offset = finished
        .started
        .duration_since(served.started)
        .as_secs_f64();
    let journal: Vec<(f64, Request)> = journal
        .into_iter()
        .map(|r| (r.t.as_secs_f64() - offset, r))
        .collect();
    let attempts = journal
        .iter()
        .map(|(t, r)| attempt(*t, r, stage.faults))
        .collect();
    Ok(Run {
        url: served.url,
        exit: finished.exit,
        seconds: finished.seconds,
        stdout: finished.stdout,
        stdout_bytes: finished.stdout_bytes,
        stderr_tail: String::from_utf8_lossy(&finished.stderr).into_owned(),
        attempts,
        journal,
    })
}

/// A journal entry as the verdicts see it.
fn attempt(t: f64, r: &Request, faults: usize) -> Attempt {
    Attempt {
        t,
        conn: r.conn,
        method: r.method.clone(),
        target: r.target.clone(),
        version: r.version,
        status: r.status,
        end: r.end,
        done: r.duration.map(|d| t + d.as_secs_f64()),
        healthy: r.step.is_some_and(|step| step > faults),
        idempotency_key: r.header("idempotency-key").map(str::to_string),
        accepts_gzip: r
            .header("accept-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("gzip")),
        range: r.header("range").map(str::to_string),
        last_event_id: r.header("last-event-id").map(str::to_string),
        grpc: r
            .header("content-type")
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/grpc")),
        ws: r.ws.map(|w| WsEnd {
            sent: w.close_sent,
            received: w.close_received,
        }),
    }
}

/// A run's server (none for `refused`), its URL, and the CA file of `{ca}`.
struct Served {
    server: Option<Server>,
    url: String,
    ca: Option<CaFile>,
    started: Instant,
}

impl Served {
    fn start(stage: &Stage, config: &Config) -> Result<Served, (u8, String)> {
        let server_error =
            |e: httpfault::Error| (1, format!("{}: cannot start a server: {e}", stage.name));
        // HTTP/1.1's catalogue (and the event streams, served as HTTP/1.1): no upgrade to
        // h2c, and over TLS no h2 in ALPN, so its HTTP/1.1 steps reach every client (a client
        // with prior knowledge speaks HTTP/2 all the same, and the journal says so). HTTP/2's:
        // prior knowledge, h2c, and ALPN h2 first.
        let h2 = matches!(config.protocol, Protocol::Http2 | Protocol::Grpc);
        let builder = || {
            let b = Server::builder().h2c(h2);
            match (config.tls, h2) {
                (true, true) => b.tls().alpn("h2,http/1.1"),
                (true, false) => b.tls().alpn("http/1.1"),
                (false, _) => b,
            }
        };
        let server = match stage.setup {
            Setup::Plans(_) | Setup::Handshake(_) => Some(
                stage
                    .default_plan
                    .map_or_else(builder, |plan| builder().plan(plan))
                    .route(stage.route.as_deref().unwrap_or_default())
                    .control(false)
                    .read_timeout(config.timeout + Duration::from_secs(5))
                    .start()
                    .map_err(server_error)?,
            ),
            Setup::Blackhole => Some(builder().blackhole().start().map_err(server_error)?),
            Setup::Refused => None,
        };
        let started = Instant::now();
        let (url, ca_pem) = match &server {
            Some(server) => (server.url(), server.ca_pem()),
            None => {
                let scheme = if config.tls { "https" } else { "http" };
                // A CA all the same, so that `{ca}` names a file the command can read.
                let ca = match config.tls {
                    true => builder().start().map_err(server_error)?.ca_pem(),
                    false => None,
                };
                (format!("{scheme}://127.0.0.1:{}", free_port()?), ca)
            }
        };
        let ca = match ca_pem {
            Some(pem) => Some(CaFile::write(stage.name, &pem)?),
            None => None,
        };
        Ok(Served {
            server,
            url,
            ca,
            started,
        })
    }
}

/// A port where nothing listens: the OS's pick, released again.
fn free_port() -> Result<u16, (u8, String)> {
    let err = |e: std::io::Error| (1, format!("cannot find a free port: {e}"));
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(err)?;
    Ok(l.local_addr().map_err(err)?.port())
}

/// The command with `{url}` and `{ca}` filled in.
fn argv(command: &[String], served: &Served) -> Vec<String> {
    let ca = served
        .ca
        .as_ref()
        .map(|c| c.0.to_string_lossy().into_owned());
    command
        .iter()
        .map(|a| {
            let a = a.replace("{url}", &served.url);
            match &ca {
                Some(path) => a.replace("{ca}", path),
                None => a,
            }
        })
        .collect()
}

/// How the command ended, and what it wrote.
struct Finished {
    started: Instant,
    exit: Exit,
    seconds: f64,
    stdout: Vec<u8>,
    stdout_bytes: u64,
    stderr: Vec<u8>,
}

/// Most stdout bytes kept for the verdict (the rest is only counted).
fn stdout_cap(body: u64) -> usize {
    // 4 MiB at least: the ws catalogue's big-message prints a 2 MiB line.
    usize::try_from(body.saturating_mul(4).max(4 << 20)).unwrap_or(usize::MAX)
}

const STDERR_TAIL: usize = 2048;

/// Runs `argv` in a process group of its own, killed with its whole group at `--timeout`.
fn run_command(
    argv: &[String],
    served: &Served,
    config: &Config,
) -> Result<Finished, (u8, String)> {
    let started = Instant::now();
    let mut command = Command::new(&argv[0]);
    if let Some(ca) = &served.ca {
        command.env("HTTPFAULT_CA", &ca.0);
    }
    let mut child = command
        .args(&argv[1..])
        .env("HTTPFAULT_URL", &served.url)
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
    let exit = match (killed, status.code()) {
        (true, _) => Exit::Killed,
        (false, Some(code)) => Exit::Code(code),
        (false, None) => Exit::Signal(status.signal().unwrap_or(0)),
    };
    let until = Instant::now() + Duration::from_secs(2);
    let (stdout, stdout_bytes) = out.take(until);
    let (stderr, _) = err.take(until);
    Ok(Finished {
        started,
        exit,
        seconds: seconds.as_secs_f64(),
        stdout,
        stdout_bytes,
        stderr,
    })
}

/// The CA's PEM of one run's server in a file of its own (`{ca}`, `HTTPFAULT_CA`), removed
/// when dropped.
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
