//! The library's front: a running [`Server`] (url, addr, requests, reset, stop; stops on
//! drop). Its parts: `builder.rs` (the [`Builder`] and its start), `listen.rs` (the accept
//! loop that hands each connection to a thread), `accept.rs` (the one protocol decision for a
//! connection), `error.rs` (why a server cannot start, and addresses).

mod accept;
mod builder;
mod error;
mod listen;

pub use builder::Builder;
pub use error::{parse_addr, Error, LogFormat};

use listen::{accept_loop, Shared};

use crate::control::ctx::Ctx;
use crate::control::journal::Request;
use crate::control::waiter::Waiter;
use crate::plan::router::RouteTable;
use crate::plan::Plan;
use crate::pool::Pool;
use crate::sys;
use accept::Listener;
use std::fmt;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// The plan served when none is given: the classic broken response (`Hello,` then RST).
///
/// ```
/// assert_eq!(httpfault::DEFAULT_PLAN, "reset=6");
/// ```
pub const DEFAULT_PLAN: &str = "reset=6";
/// Default `--max-conns`.
///
/// ```
/// assert_eq!(httpfault::DEFAULT_MAX_CONNS, 10_000);
/// ```
pub const DEFAULT_MAX_CONNS: usize = 10_000;
/// Default `--read-timeout`.
///
/// ```
/// assert_eq!(httpfault::DEFAULT_READ_TIMEOUT, std::time::Duration::from_secs(30));
/// ```
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The accept backlog: large, so that bursts of connects are not dropped.
const BACKLOG: i32 = 4096;
/// Memory mappings each connection thread may take: its stack and guard page, the signal
/// stack std sets up for it and that stack's guard page, an echoed body (glibc maps large
/// allocations on their own) and one to spare.
const MAPS_PER_THREAD: usize = 6;
/// Mappings left for everything else (the binary, libraries, heap arenas).
const MAPS_RESERVED: usize = 4096;
/// How long stopping waits for connection threads to end.
const STOP_WAIT: Duration = Duration::from_secs(2);

/// A running server: a cheap handle to share. `Clone` gives another handle to the same
/// server (an `Arc` inside), to move into a thread or an async task; the server stops when
/// the last handle is dropped, or at once for every handle with [`Server::stop`]: the
/// listener closes, open connections end (a `hang` included), and its threads are joined.
///
/// ```
/// let server = httpfault::Server::start("status=204")?;
/// let handle = server.clone(); // the same server
/// let t = std::thread::spawn(move || handle.requests().len());
/// assert_eq!(t.join().unwrap(), 0);
/// assert_eq!(server.url(), server.clone().url());
/// # Ok::<(), httpfault::Error>(())
/// ```
///
/// ```
/// use std::io::{Read, Write};
/// let server = httpfault::Server::start("reset=6")?;
/// let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
/// s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
/// let mut got = Vec::new();
/// let err = s.read_to_end(&mut got).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
/// assert!(got.ends_with(b"\r\n\r\nHello,"));
/// let seen = server.requests();
/// assert_eq!(seen[0].end, Some(httpfault::End::Reset));
/// # Ok::<(), httpfault::Error>(())
/// ```
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

/// What the handles of one server share; stopping happens when it drops.
struct Inner {
    ctx: Arc<Ctx>,
    /// `httpfault toxiproxy`: the proxies, whose API the listener speaks.
    toxiproxy: Option<Arc<crate::tcp::toxiproxy::Toxiproxy>>,
    /// `--tls`: the certificates and configurations every connection's handshake uses.
    #[cfg(feature = "tls")]
    tls: Option<Arc<crate::tls::TlsServer>>,
    addr: SocketAddr,
    control_addr: Option<SocketAddr>,
    pool: Arc<Pool>,
    running: Mutex<Running>,
}

#[derive(Default)]
struct Running {
    threads: Vec<JoinHandle<()>>,
    /// Blackhole mode: the listener and the connection that fills its backlog.
    blackhole: Option<(TcpListener, TcpStream)>,
    stopped: bool,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.inner.addr)
            .finish()
    }
}

impl Server {
    /// A builder, listening on `127.0.0.1:0` unless told otherwise (see [`Builder`]).
    ///
    /// ```
    /// let server = httpfault::Server::builder().plan("status=204").start()?;
    /// # drop(server);
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Starts a server on `127.0.0.1:0` with this default plan: the shorthand for
    /// `Server::builder().plan(plan).start()`.
    ///
    /// ```
    /// let server = httpfault::Server::start("status=503/delay=100ms")?;
    /// assert!(httpfault::Server::start("status=abc").is_err());
    /// # drop(server);
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn start(plan: &str) -> Result<Server, Error> {
        Builder::default().plan(plan).start()
    }

    /// `http://127.0.0.1:PORT` (`http://[::1]:PORT` for IPv6): the base URL to give the client
    /// under test.
    ///
    /// ```
    /// let server = httpfault::Server::start("reset=6")?;
    /// assert_eq!(server.url(), format!("http://127.0.0.1:{}", server.addr().port()));
    /// assert_ne!(server.addr().port(), 0);
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn url(&self) -> String {
        if self.is_tls() {
            format!("https://{}", self.inner.addr)
        } else {
            format!("http://{}", self.inner.addr)
        }
    }

    /// Serves HTTPS ([`Builder::tls`]).
    pub fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.inner.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// With [`Builder::tls`]: the PEM of the CA that signed the server's certificate (made at
    /// start), for the client under test to trust; `None` without TLS, and with the user's own
    /// certificate ([`Builder::tls_cert`]), which that CA did not sign.
    pub fn ca_pem(&self) -> Option<String> {
        #[cfg(feature = "tls")]
        return self
            .inner
            .tls
            .as_ref()
            .and_then(|t| t.ca_pem().map(str::to_string));
        #[cfg(not(feature = "tls"))]
        None
    }

    /// The bound address, with the real port.
    ///
    /// ```
    /// let server = httpfault::Server::start("ok")?;
    /// let stream = std::net::TcpStream::connect(server.addr()).unwrap();
    /// # drop(stream);
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The control listener's address, if one was asked for with
    /// [`Builder::control_listen`].
    ///
    /// ```
    /// let server = httpfault::Server::builder().control_listen("127.0.0.1:0").start()?;
    /// assert_ne!(server.control_addr().unwrap(), server.addr());
    /// assert_eq!(httpfault::Server::start("hang")?.control_addr(), None);
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn control_addr(&self) -> Option<SocketAddr> {
        self.inner.control_addr
    }

    /// The journal, oldest first. A request is there from the moment its head is complete;
    /// `end` is `None` while its response goes on (for example during a `delay`).
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// let server = httpfault::Server::start("status=204")?;
    /// assert!(server.requests().is_empty());
    /// let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    /// s.write_all(b"GET /a?b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    /// s.read_to_end(&mut Vec::new()).unwrap();
    /// let seen = server.requests();
    /// assert_eq!(seen[0].target, "/a?b");
    /// assert_eq!(seen[0].header("host"), Some("x"));
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn requests(&self) -> Vec<Request> {
        self.inner.ctx.journal.snapshot(0).0
    }

    /// Waits up to `timeout` until the journal holds at least `n` requests whose responses
    /// have ended, and returns the journal then (fewer if the time ran out). It returns as
    /// soon as they have: no sleeping and polling in tests.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::time::Duration;
    /// let server = httpfault::Server::start("delay=200ms")?;
    /// let addr = server.addr();
    /// let client = std::thread::spawn(move || {
    ///     let mut s = std::net::TcpStream::connect(addr).unwrap();
    ///     s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    ///     s.read_to_end(&mut Vec::new()).unwrap();
    /// });
    /// let seen = server.wait_for(1, Duration::from_secs(10));
    /// assert_eq!(seen[0].end, Some(httpfault::End::Complete));
    /// assert!(seen[0].duration.unwrap() >= Duration::from_millis(200));
    /// client.join().unwrap();
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Request> {
        self.inner.ctx.journal.wait_for(0, n, true, timeout).0
    }

    /// [`Server::wait_for`] for async code: a [`Waiter`] (a `Future` built on std alone,
    /// woken by the server) that gives the journal once it holds `n` requests whose
    /// responses have ended, or once `timeout` has passed. It works on any runtime, or none
    /// (`.wait()` blocks); see [`Waiter`] for tokio and async-std.
    ///
    /// `n` counts ended requests, as [`Server::wait_for`] does. The control API's
    /// `?min=N&wait=DUR` counts requests whose head has arrived, ended or not; add
    /// `&complete=1` to count ended ones as the library does.
    ///
    /// ```
    /// use std::time::Duration;
    /// let server = httpfault::Server::start("status=204")?;
    /// // Nothing comes: the deadline gives what there is.
    /// let seen = server.wait_for_async(1, Duration::from_millis(50)).wait();
    /// assert!(seen.is_empty());
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn wait_for_async(&self, n: usize, timeout: Duration) -> Waiter {
        Waiter::new(Arc::clone(&self.inner.ctx), n, Some(timeout))
    }

    /// A [`Waiter`] without a deadline: it is ready once the journal holds `n` ended
    /// requests, or the server stops. Put a runtime's timeout around it
    /// (`tokio::time::timeout(d, server.waiter(3))`), or use [`Server::wait_for_async`].
    ///
    /// ```
    /// let server = httpfault::Server::start("status=204")?;
    /// let waiter = server.waiter(5);
    /// server.clone().stop(); // a stopped server ends every wait
    /// assert!(waiter.wait().is_empty());
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn waiter(&self, n: usize) -> Waiter {
        Waiter::new(Arc::clone(&self.inner.ctx), n, None)
    }

    /// Route counters, `times` counters and the journal back to the start (the routes and
    /// the plan stay), so one server can serve test after test.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// let server = httpfault::Server::builder().route("GET /x close status=201").start()?;
    /// let get = || {
    ///     let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    ///     s.write_all(b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    ///     let mut got = Vec::new();
    ///     s.read_to_end(&mut got).unwrap();
    ///     got
    /// };
    /// assert!(get().is_empty()); // the route's first plan: close, an empty reply
    /// assert!(get().starts_with(b"HTTP/1.1 201"));
    /// server.reset();
    /// assert!(server.requests().is_empty());
    /// assert!(get().is_empty()); // the sequence starts over
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn reset(&self) {
        self.inner.ctx.reset();
    }

    /// Replaces the routes (text of a routes file), their counters from zero. On an error
    /// nothing changes.
    ///
    /// ```
    /// let server = httpfault::Server::builder().route("GET /a status=404").start()?;
    /// server.set_routes("# one SPEC a line\nGET /a ok\nPOST /b reset*3 status=201\n")?;
    /// assert!(server.set_routes("GET /a rset").is_err()); // the routes above stay
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn set_routes(&self, text: &str) -> Result<(), Error> {
        let files = self.inner.ctx.settings.files.operator();
        let table = RouteTable::parse_file_with(text, &files).map_err(Error::Route)?;
        self.inner.ctx.set_routes(table);
        Ok(())
    }

    /// The routes in force, one SPEC each, in order (comments left out).
    ///
    /// ```
    /// let server = httpfault::Server::builder()
    ///     .routes("GET /a ok # the health check\n")
    ///     .route("POST /b reset*2 status=201")
    ///     .start()?;
    /// assert_eq!(server.routes(), ["GET /a ok", "POST /b reset*2 status=201"]);
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn routes(&self) -> Vec<String> {
        self.inner
            .ctx
            .routes()
            .specs()
            .map(str::to_string)
            .collect()
    }

    /// Warnings about the routes in force, one line each: a route that an earlier route
    /// shadows (it can never match), naming where both were written (`line 3`, or `route 2`
    /// for the second [`Builder::route`]). The same lines are logged as `warning` events.
    ///
    /// ```
    /// let server = httpfault::Server::builder()
    ///     .routes("GET /v1/* status=503\nGET /v1/items ok\n")
    ///     .start()?;
    /// let warnings = server.warnings();
    /// assert_eq!(warnings.len(), 1);
    /// assert!(warnings[0].starts_with("line 2: "), "{}", warnings[0]);
    /// assert!(warnings[0].contains("line 1 "), "{}", warnings[0]);
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn warnings(&self) -> Vec<String> {
        self.inner.ctx.routes().warnings()
    }

    /// Replaces the default plan. On an error nothing changes.
    ///
    /// ```
    /// let server = httpfault::Server::start("reset=6")?;
    /// server.set_plan("status=503/header=Retry-After:1")?;
    /// assert!(server.set_plan("status=abc").is_err()); // still 503
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn set_plan(&self, plan: &str) -> Result<(), Error> {
        let files = self.inner.ctx.settings.files.operator();
        let plan = Plan::parse_with(plan, &files).map_err(Error::Plan)?;
        self.inner
            .ctx
            .check_default_plan(&plan)
            .map_err(Error::Config)?;
        self.inner.ctx.set_plan(plan);
        Ok(())
    }

    /// Waits until the server stops on its own (one-shot: the one request served), or
    /// `timeout`; true if it did.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::time::Duration;
    /// let server = httpfault::Server::builder().plan("status=200").once().start()?;
    /// let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    /// s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    /// s.read_to_end(&mut Vec::new()).unwrap(); // answered with Connection: close
    /// assert!(server.wait(Some(Duration::from_secs(10))));
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        self.inner.ctx.wait_done(timeout)
    }

    /// Stops: the listener closes (later connects are refused), open connections end, and the
    /// threads are joined (each gets up to 2 s). Dropping the server does the same.
    ///
    /// ```
    /// let server = httpfault::Server::start("hang")?;
    /// let addr = server.addr();
    /// server.stop();
    /// let refused = std::net::TcpStream::connect(addr).unwrap_err();
    /// assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn stop(self) {
        self.inner.shutdown();
    }
}

impl Inner {
    fn running(&self) -> std::sync::MutexGuard<'_, Running> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn shutdown(&self) {
        let mut running = self.running();
        if running.stopped {
            return;
        }
        running.stopped = true;
        self.ctx.stop.store(true, Ordering::SeqCst);
        // Pending waits (blocking and async) return now.
        self.ctx.journal.close();
        self.ctx.stop_listening();
        self.ctx.registry.close_all();
        if let Some(t) = &self.toxiproxy {
            t.shutdown();
        }
        running.blackhole = None;
        // The last handle can drop on a server thread (in the `on_done` hook): that thread
        // is not joined, it ends on its own once the hook returns.
        let me = thread::current().id();
        for t in running.threads.drain(..) {
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
        self.pool.stop(STOP_WAIT);
    }

    fn spawn_accept(&self, listener: TcpListener, on: Listener) -> Result<(), Error> {
        sys::set_backlog(&listener, BACKLOG).map_err(|e| Error::Io("cannot set backlog", e))?;
        let clone = listener
            .try_clone()
            .map_err(|e| Error::Io("cannot clone the listener", e))?;
        self.ctx
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(clone);
        let pool = Arc::clone(&self.pool);
        let shared = Shared {
            ctx: Arc::clone(&self.ctx),
            #[cfg(feature = "tls")]
            tls: self.tls.clone(),
            toxiproxy: self.toxiproxy.clone(),
        };
        let handle = thread::Builder::new()
            .name("httpfault-accept".into())
            .stack_size(crate::pool::STACK_SIZE)
            .spawn(move || accept_loop(&listener, &shared, &pool, on))
            .map_err(|e| Error::Io("cannot start a thread", e))?;
        self.running().threads.push(handle);
        Ok(())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown();
    }
}
