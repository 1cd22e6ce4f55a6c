//! Bind, the readiness line, the accept loop, a thread per connection, one-shot mode and
//! blackhole mode. The main thread only waits for a reason to stop.

use crate::cli::Config;
use crate::conn;
use crate::log::{Logger, Val};
use crate::plan::Plan;
use crate::rng::Rng;
use crate::sys;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Stack of a connection thread. Only touched pages cost memory; the connection code keeps
/// its buffers on the heap, so a held connection touches a few KiB of it.
const STACK_SIZE: usize = 256 * 1024;
/// How long a finished connection thread waits for the next connection before it exits.
/// Reusing threads saves a spawn and an exit per connection under load.
const WORKER_IDLE: Duration = Duration::from_secs(5);
/// The accept backlog: large, so that bursts of connects are not dropped.
const BACKLOG: i32 = 4096;
/// Memory mappings each connection thread takes: its stack and guard page, and the signal
/// stack std sets up for it and that stack's guard page.
const MAPS_PER_THREAD: usize = 4;
/// Mappings left for everything else (the binary, libraries, heap arenas).
const MAPS_RESERVED: usize = 4096;

/// The most connection threads the kernel's `vm.max_map_count` allows. Past it, std aborts
/// the whole process when a new thread cannot map its signal stack's guard page, so the
/// server must refuse connections before that point rather than find it.
fn thread_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/sys/vm/max_map_count").ok()?;
    let maps: usize = text.trim().parse().ok()?;
    Some(maps.saturating_sub(MAPS_RESERVED) / MAPS_PER_THREAD)
}

/// Why the server stopped (all are a normal end: exit 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Signal(&'static str),
    ExitAfter,
    OnceDone,
}

/// A failure on the server's own side (exit 1).
#[derive(Debug)]
pub enum ServerError {
    Bind(SocketAddr, io::Error),
    PortFile(PathBuf, io::Error),
    Setup(&'static str, io::Error),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Bind(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
            ServerError::PortFile(path, e) => {
                write!(f, "cannot write port file '{}': {e}", path.display())
            }
            ServerError::Setup(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for ServerError {}

/// One-shot mode: the first connection that delivers a complete request head wins.
pub struct Once {
    listener: TcpListener,
    state: Mutex<OnceState>,
    stop: Mutex<Sender<Stop>>,
}

struct OnceState {
    won: bool,
    /// Every open connection, so that the winner can close the others.
    open: HashMap<u64, TcpStream>,
}

impl Once {
    fn lock(&self) -> MutexGuard<'_, OnceState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records an open connection; false if the one request was already taken.
    pub fn register(&self, id: u64, stream: &TcpStream) -> bool {
        let mut st = self.lock();
        if st.won {
            return false;
        }
        if let Ok(clone) = stream.try_clone() {
            st.open.insert(id, clone);
        }
        true
    }

    pub fn unregister(&self, id: u64) {
        self.lock().open.remove(&id);
    }

    /// Called when connection `id` has a complete request head. The first caller wins: the
    /// listener stops (later connects are refused) and every other connection is closed.
    pub fn try_win(&self, id: u64) -> bool {
        let mut st = self.lock();
        if st.won {
            return false;
        }
        st.won = true;
        // The winner's clone must go: a live clone would keep its socket from closing (and
        // turn a planned reset into nothing at all).
        st.open.remove(&id);
        let _ = sys::stop_listening(&self.listener);
        for (_, other) in st.open.drain() {
            let _ = other.shutdown(Shutdown::Both);
        }
        true
    }

    /// The winner's connection has ended.
    pub fn finish(&self) {
        let tx = self.stop.lock().unwrap_or_else(|e| e.into_inner());
        let _ = tx.send(Stop::OnceDone);
    }

    fn won(&self) -> bool {
        self.lock().won
    }
}

/// What every connection shares.
pub struct Shared {
    pub plan: Plan,
    pub log: Logger,
    pub read_timeout: Duration,
    pub once: Option<Once>,
    max_conns: usize,
    active: AtomicUsize,
    times: Mutex<HashMap<String, u64>>,
    rng: Mutex<Rng>,
}

impl Shared {
    /// Counts a request to `path` for `times=N`; returns its number (1 for the first).
    pub fn count_request(&self, path: &str) -> u64 {
        let mut counts = self.times.lock().unwrap_or_else(|e| e.into_inner());
        let n = counts.entry(path.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }

    /// A draw in [0, 1) from the seeded generator, in request order (for `chance`).
    pub fn next_chance(&self) -> f64 {
        self.rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .next_f64()
    }

    /// The next number of the seeded generator, in request order.
    pub fn next_random(&self) -> u64 {
        self.rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .next_u64()
    }
}

type Job = (TcpStream, SocketAddr, u64);

/// Parked connection threads waiting for their next connection.
struct Pool {
    state: Mutex<PoolState>,
    wake: Condvar,
}

struct PoolState {
    jobs: VecDeque<Job>,
    idle: usize,
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Hands a connection to a parked thread, or starts a new one.
fn dispatch(pool: &Arc<Pool>, shared: &Arc<Shared>, job: Job) -> io::Result<()> {
    {
        let mut st = pool.lock();
        if st.idle > st.jobs.len() {
            st.jobs.push_back(job);
            drop(st);
            pool.wake.notify_one();
            return Ok(());
        }
    }
    let (pool, shared) = (Arc::clone(pool), Arc::clone(shared));
    thread::Builder::new()
        .stack_size(STACK_SIZE)
        .spawn(move || worker(&pool, &shared, job))
        .map(drop)
}

fn worker(pool: &Pool, shared: &Shared, first: Job) {
    let mut job = first;
    loop {
        let (stream, peer, id) = job;
        conn::serve(stream, id, peer, shared);
        shared.active.fetch_sub(1, Ordering::Relaxed);
        let mut st = pool.lock();
        st.idle += 1;
        let deadline = Instant::now() + WORKER_IDLE;
        job = loop {
            if let Some(next) = st.jobs.pop_front() {
                st.idle -= 1;
                break next;
            }
            let now = Instant::now();
            if now >= deadline {
                st.idle -= 1;
                return;
            }
            st = pool
                .wake
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        };
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let pool = Arc::new(Pool {
        state: Mutex::new(PoolState {
            jobs: VecDeque::new(),
            idle: 0,
        }),
        wake: Condvar::new(),
    });
    let mut next_id: u64 = 0;
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(pair) => pair,
            Err(e) => {
                if shared.once.as_ref().is_some_and(Once::won) {
                    return; // the listener was stopped by the one-shot winner
                }
                if sys::out_of_resources(&e) {
                    // Out of descriptors or memory: wait for connections to end.
                    shared
                        .log
                        .event("accept-error", &[("error", Val::Str(&e.to_string()))]);
                    thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
        };
        next_id += 1;
        let id = next_id;
        if shared.active.load(Ordering::Relaxed) >= shared.max_conns {
            refuse(&shared, id, peer, "max-conns");
            continue; // dropping the stream closes it
        }
        // Small writes (a status line before a pause) must go out at once, not wait for Nagle.
        let _ = stream.set_nodelay(true);
        shared.active.fetch_add(1, Ordering::Relaxed);
        if dispatch(&pool, &shared, (stream, peer, id)).is_err() {
            shared.active.fetch_sub(1, Ordering::Relaxed);
            refuse(&shared, id, peer, "thread-spawn-failed");
        }
    }
}

fn refuse(shared: &Shared, id: u64, peer: SocketAddr, reason: &str) {
    if shared.log.enabled() {
        let peer = peer.to_string();
        shared.log.event(
            "refused",
            &[
                ("conn", Val::Num(id)),
                ("peer", Val::Str(&peer)),
                ("reason", Val::Str(reason)),
                ("end", Val::Str("close")),
            ],
        );
    }
}

fn clock_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
}

/// Runs the server until a reason to stop. Only the readiness line goes to stdout.
pub fn run(config: Config) -> Result<Stop, ServerError> {
    // Before any thread starts, so every thread inherits the mask and the signals wait for
    // the one thread that takes them.
    sys::block_stop_signals().map_err(|e| ServerError::Setup("cannot block signals", e))?;
    let listener =
        TcpListener::bind(config.listen).map_err(|e| ServerError::Bind(config.listen, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Setup("cannot read the bound address", e))?;
    // A backlog of 0 lets the kernel queue one connection; later SYNs are dropped, so
    // connects time out (the point of --blackhole).
    let backlog = if config.blackhole { 0 } else { BACKLOG };
    sys::set_backlog(&listener, backlog)
        .map_err(|e| ServerError::Setup("cannot set backlog", e))?;
    let _ = sys::raise_fd_limit();
    if let Some(path) = &config.port_file {
        std::fs::write(path, format!("{}\n", addr.port()))
            .map_err(|e| ServerError::PortFile(path.clone(), e))?;
    }
    {
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = out.flush();
    }
    let log = Logger {
        format: config.log,
        quiet: config.quiet,
    };
    let seed = config.seed.unwrap_or_else(clock_seed);
    if log.enabled() {
        let (addr_text, plan_text) = (addr.to_string(), config.plan.to_string());
        let mode = match (config.once, config.blackhole) {
            (_, true) => "blackhole",
            (true, _) => "once",
            _ => "serve",
        };
        log.event(
            "listening",
            &[
                ("addr", Val::Str(&addr_text)),
                ("plan", Val::Str(&plan_text)),
                ("mode", Val::Str(mode)),
                ("seed", Val::Num(seed)),
            ],
        );
    }

    let (tx, rx) = mpsc::channel();
    let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
        thread::Builder::new()
            .name(name.to_string())
            .stack_size(STACK_SIZE)
            .spawn(f)
            .map(drop)
            .map_err(|e| ServerError::Setup("cannot start a thread", e))
    };
    let signal_tx = tx.clone();
    spawn(
        "signals",
        Box::new(move || {
            if let Ok(name) = sys::wait_for_stop_signal() {
                let _ = signal_tx.send(Stop::Signal(name));
            }
        }),
    )?;
    if let Some(after) = config.exit_after {
        let timer_tx = tx.clone();
        spawn(
            "exit-after",
            Box::new(move || {
                thread::sleep(after);
                let _ = timer_tx.send(Stop::ExitAfter);
            }),
        )?;
    }
    // In blackhole mode nothing accepts: the listener just stays open until the end.
    let _keep_listening;
    if config.blackhole {
        _keep_listening = Some(listener);
    } else {
        _keep_listening = None;
        let once = if config.once {
            Some(Once {
                listener: listener
                    .try_clone()
                    .map_err(|e| ServerError::Setup("cannot clone the listener", e))?,
                state: Mutex::new(OnceState {
                    won: false,
                    open: HashMap::new(),
                }),
                stop: Mutex::new(tx.clone()),
            })
        } else {
            None
        };
        let max_conns = match thread_limit() {
            Some(limit) if limit < config.max_conns => {
                log.event(
                    "limit",
                    &[
                        ("max-conns", Val::Num(limit as u64)),
                        ("asked", Val::Num(config.max_conns as u64)),
                        ("reason", Val::Str("vm.max_map_count")),
                    ],
                );
                limit.max(1)
            }
            _ => config.max_conns,
        };
        let shared = Arc::new(Shared {
            plan: config.plan,
            log,
            read_timeout: config.read_timeout,
            once,
            max_conns,
            active: AtomicUsize::new(0),
            times: Mutex::new(HashMap::new()),
            rng: Mutex::new(Rng::new(seed)),
        });
        spawn("accept", Box::new(move || accept_loop(listener, shared)))?;
    }
    drop(tx);
    // The signal thread holds a sender for the life of the process, so this cannot fail.
    let stop = rx.recv().unwrap_or(Stop::Signal("SIGTERM"));
    if log.enabled() {
        match stop {
            Stop::Signal(name) => log.event("shutdown", &[("signal", Val::Str(name))]),
            Stop::ExitAfter => log.event("exit-after", &[]),
            Stop::OnceDone => log.event("once-done", &[]),
        }
    }
    Ok(stop)
}
