//! [`Builder`]: a server's settings, checked and started: plans and routes parsed, TLS made,
//! the listeners bound, the accept threads started, the `listening` event logged.

use super::accept::Listener;
use super::listen::{clock_seed, fill_backlog, thread_limit};
use super::parse_addr;
use super::{
    Error, Inner, LogFormat, Running, Server, DEFAULT_MAX_CONNS, DEFAULT_PLAN, DEFAULT_READ_TIMEOUT,
};
use crate::control::ctx::{Ctx, Mode, Settings};
use crate::control::journal::DEFAULT_JOURNAL;
use crate::log::{Format, Logger, Val};
use crate::plan::files::files_dir;
use crate::plan::router::RouteTable;
use crate::plan::{Files, Plan};
use crate::pool::Pool;
use crate::tcp::TcpPlan;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Configures and starts a [`Server`]. Every method mirrors an option of the `httpfault`
/// binary; a bad value is reported by [`Builder::start`], not before.
///
/// ```
/// use std::time::Duration;
/// let server = httpfault::Server::builder()
///     .listen("127.0.0.1:0") // the default: a free port
///     .plan("status=503/header=Retry-After:1") // for requests no route matches
///     .route("GET /health ok")
///     .routes("POST /v1/upload reset*2 status=201\nGET /v1/items/* delay=100ms\n")
///     .seed(7) // `chance` and `garbage` repeat exactly
///     .read_timeout(Duration::from_secs(5))
///     .max_conns(100)
///     .journal(1000)
///     .start()?;
/// assert!(server.url().starts_with("http://127.0.0.1:"));
/// # Ok::<(), httpfault::Error>(())
/// ```
#[must_use]
pub struct Builder {
    listen: String,
    plan: Option<String>,
    routes: Vec<String>,
    routes_text: String,
    path_plans: bool,
    h2c: bool,
    ws_max_message: u64,
    seed: Option<u64>,
    read_timeout: Duration,
    upstream_idle: Option<Duration>,
    max_conns: usize,
    log: Option<LogFormat>,
    once: bool,
    blackhole: bool,
    journal: usize,
    journal_secrets: bool,
    files: Option<PathBuf>,
    control: Option<bool>,
    control_listen: Option<String>,
    upstream: Option<String>,
    tcp: bool,
    toxiproxy: bool,
    tls: bool,
    tls_files: Option<CertSource>,
    alpn: Option<String>,
    sni: Vec<String>,
    upstream_ca: Option<Vec<u8>>,
    upstream_insecure: bool,
    on_done: Option<Box<dyn FnOnce() + Send>>,
}

/// The user's certificate and key ([`Builder::tls_cert`], [`Builder::tls_cert_files`]).
/// Without the `tls` feature they are kept only for the error [`Builder::start`] gives.
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
enum CertSource {
    Pem(Vec<u8>, Vec<u8>),
    Files(std::path::PathBuf, std::path::PathBuf),
}

/// The user's certificate and key, read, with the names errors give them.
#[cfg(feature = "tls")]
struct UserFiles {
    cert: Vec<u8>,
    key: Vec<u8>,
    cert_name: String,
    key_name: String,
}

impl CertSource {
    #[cfg(feature = "tls")]
    fn read(&self) -> Result<UserFiles, Error> {
        match self {
            CertSource::Pem(cert, key) => Ok(UserFiles {
                cert: cert.clone(),
                key: key.clone(),
                cert_name: "certificate PEM".into(),
                key_name: "key PEM".into(),
            }),
            CertSource::Files(c, k) => {
                let name =
                    |flag: &str, p: &std::path::Path| format!("{flag} file '{}'", p.display());
                let (cert_name, key_name) = (name("--cert", c), name("--key", k));
                let read = |what: &str, p: &std::path::Path| {
                    std::fs::read(p).map_err(|e| Error::Config(format!("cannot read {what}: {e}")))
                };
                Ok(UserFiles {
                    cert: read(&cert_name, c)?,
                    key: read(&key_name, k)?,
                    cert_name,
                    key_name,
                })
            }
        }
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            listen: "127.0.0.1:0".into(),
            plan: None,
            routes: Vec::new(),
            routes_text: String::new(),
            path_plans: true,
            h2c: true,
            ws_max_message: crate::ws::frame::DEFAULT_MAX_MESSAGE,
            seed: None,
            read_timeout: DEFAULT_READ_TIMEOUT,
            upstream_idle: None,
            max_conns: DEFAULT_MAX_CONNS,
            log: None,
            once: false,
            blackhole: false,
            journal: DEFAULT_JOURNAL,
            journal_secrets: false,
            files: None,
            control: None,
            control_listen: None,
            upstream: None,
            tcp: false,
            toxiproxy: false,
            tls: false,
            tls_files: None,
            alpn: None,
            sni: Vec::new(),
            upstream_ca: None,
            upstream_insecure: false,
            on_done: None,
        }
    }
}

impl Builder {
    /// Where to listen: `HOST:PORT`, `[V6]:PORT` or `PORT` (= `127.0.0.1:PORT`). Default
    /// `127.0.0.1:0` (a free port).
    ///
    /// ```
    /// let server = httpfault::Server::builder().listen("127.0.0.1:0").start()?;
    /// assert_eq!(server.addr().ip().to_string(), "127.0.0.1");
    /// let bad = httpfault::Server::builder().listen("nowhere:80").start();
    /// assert!(matches!(bad, Err(httpfault::Error::Address(_))));
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn listen(mut self, addr: &str) -> Self {
        self.listen = addr.to_string();
        self
    }

    /// The default plan, in plan syntax (`"reset=6"`, `"status=503/delay=2s"`). Default:
    /// `reset=6` in server mode; nothing (pass-through) in proxy and TCP modes.
    ///
    /// ```
    /// let server = httpfault::Server::builder().plan("status=503/header=Retry-After:1").start()?;
    /// # drop(server);
    /// assert!(httpfault::Server::builder().plan("status=abc").start().is_err());
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn plan(mut self, plan: &str) -> Self {
        self.plan = Some(plan.to_string());
        self
    }

    /// Adds a route: `[METHOD] PATH PLAN [PLAN ...]` (may repeat; the first match wins).
    ///
    /// ```
    /// let server = httpfault::Server::builder()
    ///     .route("POST /v1/upload reset*2 status=201") // two resets, then 201
    ///     .route("GET /v1/items/* delay=100ms")
    ///     .start()?;
    /// assert_eq!(server.routes().len(), 2);
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn route(mut self, spec: &str) -> Self {
        self.routes.push(spec.to_string());
        self
    }

    /// Routes from the text of a routes file (one SPEC a line, `#` comments), before any
    /// [`Builder::route`]. Called again, the texts add up as one file (its line numbers
    /// run on), as [`Builder::route`] does.
    ///
    /// ```
    /// let server = httpfault::Server::builder()
    ///     .routes("GET /a status=201\n")
    ///     .routes("GET /b status=202\n")
    ///     .route("GET /c status=203")
    ///     .start()?;
    /// assert_eq!(server.routes().len(), 3);
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn routes(mut self, text: &str) -> Self {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if !self.routes_text.is_empty() && !self.routes_text.ends_with('\n') {
            self.routes_text.push('\n');
        }
        self.routes_text.push_str(text);
        self
    }

    /// Whether a request path whose first segment is a step (`/status=503`, `/reset`) is a
    /// plan for that request (default true). `false` (`--no-path-plans`) makes such paths
    /// ordinary, for APIs whose real paths look like steps (`/status`, `/hang`).
    ///
    /// ```
    /// let server = httpfault::Server::builder()
    ///     .path_plans(false)
    ///     .route("GET /status ok") // the API's own `/status`, not the step
    ///     .start()?;
    /// # drop(server);
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn path_plans(mut self, on: bool) -> Self {
        self.path_plans = on;
        self
    }

    /// Whether a first request with `Upgrade: h2c` is upgraded to HTTP/2 (default true, as
    /// curl `--http2` and Java's `HttpClient` ask). `false` serves such a request as
    /// HTTP/1.1 and ignores the header, as RFC 9113 (section 3.1) lets a server do, so an
    /// HTTP/1.1 plan (`chunked`, `reuse=`, `gzip`) reaches a client that would rather speak
    /// HTTP/2. A connection that opens with the HTTP/2 preface (prior knowledge) is served as
    /// HTTP/2 either way; the journal's [`Request::version`](crate::Request::version) says
    /// which protocol each request came over. `httpfault probe` uses it for its HTTP/1.1
    /// catalogue; the binary has no option for it.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// let server = httpfault::Server::builder().plan("body=5").h2c(false).start()?;
    /// let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    /// s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings, close\r\n\
    ///               Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n").unwrap();
    /// let mut got = Vec::new();
    /// s.read_to_end(&mut got).unwrap();
    /// assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n")); // no 101 Switching Protocols
    /// let r = &server.wait_for(1, std::time::Duration::from_secs(10))[0];
    /// assert_eq!(r.version, Some("HTTP/1.1"));
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn h2c(mut self, upgrade: bool) -> Self {
        self.h2c = upgrade;
        self
    }

    /// The largest WebSocket message a client may send (default 16 MiB): a larger one, or a
    /// frame that would make one, gets a close frame with 1009 before its payload is read.
    ///
    /// ```
    /// let server = httpfault::Server::builder().ws_max_message(64 * 1024).start()?;
    /// # drop(server);
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn ws_max_message(mut self, bytes: u64) -> Self {
        self.ws_max_message = bytes;
        self
    }

    /// Seed for everything random (`garbage`, `chance`), so runs repeat exactly.
    ///
    /// ```
    /// // With one seed, `chance` gives the same outcomes in every run.
    /// let server = httpfault::Server::builder().seed(42).plan("chance=0.5/reset").start()?;
    /// # drop(server);
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Time a connection has to send a request head (also each body read and blocked write).
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::Duration;
    /// let server = httpfault::Server::builder()
    ///     .read_timeout(Duration::from_millis(100))
    ///     .start()?;
    /// let mut silent = std::net::TcpStream::connect(server.addr()).unwrap();
    /// // No request head within 100 ms: the server closes the connection.
    /// assert_eq!(silent.read(&mut [0u8; 16]).unwrap(), 0);
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Proxy mode: the longest silence of the upstream within a relayed body, after which the
    /// client's connection is cut with an RST. Without it (the default) there is no limit: the
    /// upstream's timing is relayed as it is (an event stream may be quiet for minutes).
    pub fn upstream_idle(mut self, idle: Duration) -> Self {
        self.upstream_idle = Some(idle);
        self
    }

    /// Most connections served at once; more are closed at once.
    ///
    /// ```
    /// let server = httpfault::Server::builder().max_conns(2).start()?;
    /// # drop(server);
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn max_conns(mut self, n: usize) -> Self {
        self.max_conns = n.max(1);
        self
    }

    /// Log one line per event on stderr. Without this nothing is printed.
    ///
    /// ```
    /// // `event=listening addr=127.0.0.1:... routes=0 ...` and one line per request on stderr.
    /// let server = httpfault::Server::builder().log(httpfault::LogFormat::Text).start()?;
    /// # drop(server);
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn log(mut self, format: LogFormat) -> Self {
        self.log = Some(format);
        self
    }

    /// One-shot: serve one request, then stop (see [`Server::wait`]).
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// let server = httpfault::Server::builder().plan("status=204").once().start()?;
    /// let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    /// s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    /// let mut got = Vec::new();
    /// s.read_to_end(&mut got).unwrap(); // answered with `Connection: close`
    /// assert!(got.starts_with(b"HTTP/1.1 204 "));
    /// assert!(server.wait(Some(std::time::Duration::from_secs(10))));
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn once(mut self) -> Self {
        self.once = true;
        self
    }

    /// Listen but never accept: every connect times out.
    ///
    /// ```
    /// use std::time::Duration;
    /// let server = httpfault::Server::builder().blackhole().start()?;
    /// let err = std::net::TcpStream::connect_timeout(&server.addr(), Duration::from_millis(200))
    ///     .unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn blackhole(mut self) -> Self {
        self.blackhole = true;
        self
    }

    /// Keep the last `n` journal entries (default 10000; 0 keeps none).
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// let server = httpfault::Server::builder().plan("ok").journal(0).start()?;
    /// let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    /// s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    /// s.read_to_end(&mut Vec::new()).unwrap();
    /// assert!(server.requests().is_empty()); // nothing kept
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn journal(mut self, n: usize) -> Self {
        self.journal = n;
        self
    }

    /// Serve the control API under `/__httpfault/` on the main listener. By default it is
    /// served there only when that listener's address is a loopback address (127.0.0.0/8,
    /// `::1`): anyone who reaches the port could read the journal and change the plans.
    /// `true` serves it there whatever the address (the binary's `--control-on-listener`),
    /// `false` never (`--no-control`). [`Builder::control_listen`] serves it on a listener
    /// of its own either way.
    ///
    /// ```
    /// let server = httpfault::Server::builder()
    ///     .listen("0.0.0.0:0")
    ///     .control_listen("127.0.0.1:0") // the API stays on loopback
    ///     .start()?;
    /// assert!(server.control_addr().unwrap().ip().is_loopback());
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// // Never, even on loopback:
    /// let server = httpfault::Server::builder().plan("ok").control(false).start()?;
    /// let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    /// let req = "GET /__httpfault/requests HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    /// s.write_all(req.as_bytes()).unwrap();
    /// let mut got = Vec::new();
    /// s.read_to_end(&mut got).unwrap();
    /// assert!(got.ends_with(b"Hello, world!")); // an ordinary path now
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn control(mut self, on: bool) -> Self {
        self.control = Some(on);
        self
    }

    /// Show the values of `Authorization`, `Proxy-Authorization` and `Cookie` in the journal
    /// as received (`--journal-secrets`). By default they read `[redacted]` (the scheme of
    /// an `Authorization` value is kept: `Bearer [redacted]`).
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// for keep in [false, true] {
    ///     let server = httpfault::Server::builder().plan("status=200").journal_secrets(keep).start()?;
    ///     let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    ///     s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t0k3n\r\nConnection: close\r\n\r\n").unwrap();
    ///     s.read_to_end(&mut Vec::new()).unwrap();
    ///     let seen = server.wait_for(1, std::time::Duration::from_secs(10));
    ///     let want = if keep { "Bearer t0k3n" } else { "Bearer [redacted]" };
    ///     assert_eq!(seen[0].header("authorization"), Some(want));
    /// }
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn journal_secrets(mut self, keep: bool) -> Self {
        self.journal_secrets = keep;
        self
    }

    /// Lets the plans of requests (a path plan, `X-Httpfault-Plan`, `PUT /__httpfault/plan`
    /// and `/routes`) read files under `dir` with `file=PATH` (`--files DIR`; a relative PATH
    /// is under DIR). Without it they read none: a client must never make the server read a
    /// file of its choosing. The operator's own plans ([`Builder::plan`], routes) read any
    /// file either way.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("httpfault-doc-files-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// std::fs::write(dir.join("chat.sse"), "data: hi\n\n").unwrap();
    /// let server = httpfault::Server::builder().files(&dir).start()?;
    /// // Now `GET /file=chat.sse/reset=1ev` serves dir/chat.sse; `file=..%2Fx` is a 400.
    /// # drop(server);
    /// assert!(httpfault::Server::builder().files(dir.join("nope")).start().is_err());
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn files(mut self, dir: impl AsRef<std::path::Path>) -> Self {
        self.files = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Also serve the control API on a second listener at `addr`.
    ///
    /// ```
    /// let server = httpfault::Server::builder().control_listen("127.0.0.1:0").start()?;
    /// let control = server.control_addr().unwrap(); // GET http://{control}/__httpfault/requests
    /// assert_ne!(control, server.addr());
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn control_listen(mut self, addr: &str) -> Self {
        self.control_listen = Some(addr.to_string());
        self
    }

    /// Proxy mode (`http://HOST:PORT`), or with [`Builder::tcp`] the TCP relay's upstream
    /// (`HOST:PORT`).
    ///
    /// ```
    /// // Proxy mode: forward to the upstream, shaped by the plan (here: none, pass-through).
    /// let upstream = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let url = format!("http://{}", upstream.local_addr().unwrap());
    /// let proxy = httpfault::Server::builder().upstream(&url).start()?;
    /// # drop(proxy);
    /// assert!(httpfault::Server::builder().upstream("ftp://x").start().is_err());
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn upstream(mut self, upstream: &str) -> Self {
        self.upstream = Some(upstream.to_string());
        self
    }

    /// TCP mode: relay raw bytes to the upstream.
    ///
    /// ```
    /// let upstream = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = upstream.local_addr().unwrap().to_string();
    /// // Relays raw bytes; the plan (TCP steps) resets both connections after 1 KiB upstream.
    /// let relay = httpfault::Server::builder().tcp().upstream(&addr).plan("reset=1k").start()?;
    /// # drop(relay);
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn tcp(mut self) -> Self {
        self.tcp = true;
        self
    }

    /// toxiproxy's API on the listener (`httpfault toxiproxy`): proxies made through it relay
    /// TCP as TCP mode does, shaped by their toxics. Requests under `/__httpfault/` still go
    /// to the control API, whose journal and metrics cover the proxies' connections.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// let server = httpfault::Server::builder().toxiproxy().start()?;
    /// let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    /// s.write_all(b"GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    /// let mut got = String::new();
    /// s.read_to_string(&mut got).unwrap();
    /// assert!(got.starts_with("HTTP/1.1 200") && got.contains("\"version\""), "{got}");
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn toxiproxy(mut self) -> Self {
        self.toxiproxy = true;
        self
    }

    /// HTTPS (`--tls`): a certificate for `localhost`, `*.localhost`, `127.0.0.1` and `::1`
    /// is made at start, signed by a CA also made at start, whose PEM [`Server::ca_pem`]
    /// gives, so the client under test can trust it. Every plan works inside TLS (offsets
    /// count plaintext), and the `tls=` steps break the handshake itself. Needs the cargo
    /// feature `tls` (on by default); without it [`Builder::start`] fails.
    ///
    /// ```
    /// # #[cfg(feature = "tls")] {
    /// let server = httpfault::Server::builder().tls().plan("status=204").start()?;
    /// assert!(server.url().starts_with("https://127.0.0.1:"));
    /// assert!(server.ca_pem().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    /// # }
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// HTTPS with this certificate chain and private key (PEM text, as `--cert FILE --key
    /// FILE` read them) instead of the one made at start. The faulty certificates of the
    /// `tls=` steps are still made at start.
    /// Then [`Server::ca_pem`] is `None`: the CA made at start did not sign this
    /// certificate.
    pub fn tls_cert(mut self, cert_pem: &[u8], key_pem: &[u8]) -> Self {
        self.tls = true;
        self.tls_files = Some(CertSource::Pem(cert_pem.to_vec(), key_pem.to_vec()));
        self
    }

    /// [`Builder::tls_cert`] with the PEM files read at start, as `--cert FILE --key FILE`:
    /// an error names the file and what is wrong with it (not PEM, no key in it, an encrypted
    /// key, a key that does not match the certificate).
    ///
    /// ```
    /// # #[cfg(feature = "tls")] {
    /// let err = httpfault::Server::builder()
    ///     .tls_cert_files("/nonexistent/cert.pem", "/nonexistent/key.pem")
    ///     .start()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("/nonexistent/cert.pem"));
    /// # }
    /// ```
    pub fn tls_cert_files(
        mut self,
        cert: impl AsRef<std::path::Path>,
        key: impl AsRef<std::path::Path>,
    ) -> Self {
        self.tls = true;
        self.tls_files = Some(CertSource::Files(
            cert.as_ref().to_path_buf(),
            key.as_ref().to_path_buf(),
        ));
        self
    }

    /// The protocols offered by ALPN over TLS, most preferred first, as `--alpn`:
    /// `"h2,http/1.1"` gives HTTP/2 to clients that offer both (curl, Go, browsers); the
    /// default `"http/1.1,h2"` keeps them on HTTP/1.1 and gives HTTP/2 only to clients that
    /// offer nothing else (gRPC's secure channels). Needs [`Builder::tls`].
    ///
    /// ```
    /// # #[cfg(feature = "tls")] {
    /// let server = httpfault::Server::builder().tls().alpn("h2,http/1.1").start()?;
    /// assert!(server.url().starts_with("https://"));
    /// assert!(httpfault::Server::builder().tls().alpn("h3").start().is_err());
    /// # }
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn alpn(mut self, list: &str) -> Self {
        self.alpn = Some(list.to_string());
        self
    }

    /// A plan chosen by the server name a TLS client sends: `NAME PLAN [PLAN ...]` (a
    /// sequence, one plan per connection; `*` in NAME matches any run of characters), as
    /// `--sni` and a routes file's `sni NAME PLAN` lines. It decides the handshake
    /// (`tls=expired`, ...) and stands in for the default plan for that connection's
    /// requests.
    ///
    /// ```
    /// # #[cfg(feature = "tls")] {
    /// let server = httpfault::Server::builder()
    ///     .tls()
    ///     .sni("expired.localhost tls=expired")
    ///     .start()?;
    /// # }
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn sni(mut self, spec: &str) -> Self {
        self.sni.push(spec.to_string());
        self
    }

    /// Proxy mode with an `https://` upstream: trust the CAs in this PEM text
    /// (`--upstream-ca FILE`) instead of the system's bundle.
    pub fn upstream_ca(mut self, pem: &[u8]) -> Self {
        self.upstream_ca = Some(pem.to_vec());
        self
    }

    /// Proxy mode with an `https://` upstream: accept any certificate
    /// (`--upstream-insecure`).
    pub fn upstream_insecure(mut self) -> Self {
        self.upstream_insecure = true;
        self
    }

    /// Runs `f` once when the server stops on its own (the one-shot request served).
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::sync::mpsc;
    /// let (tx, rx) = mpsc::channel();
    /// let server = httpfault::Server::builder()
    ///     .plan("ok")
    ///     .once()
    ///     .on_done(move || tx.send(()).unwrap())
    ///     .start()?;
    /// let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    /// s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    /// s.read_to_end(&mut Vec::new()).unwrap();
    /// rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn on_done(mut self, f: impl FnOnce() + Send + 'static) -> Self {
        self.on_done = Some(Box::new(f));
        self
    }

    /// Binds and starts serving.
    ///
    /// ```
    /// let server = httpfault::Server::builder().route("GET /a ok").start()?;
    /// assert!(server.url().starts_with("http://127.0.0.1:"));
    /// let err = httpfault::Server::builder().route("GET /a rset").start().unwrap_err();
    /// assert!(matches!(err, httpfault::Error::Route(_)));
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn start(self) -> Result<Server, Error> {
        let mode = self.mode()?;
        let files = match &self.files {
            Some(d) => Some(files_dir(d).map_err(|e| Error::Config(format!("--files {e}")))?),
            None => None,
        };
        let files = Files::requests(files);
        let (plan, tcp_plan, routes) = self.plans(&mode, &files.operator())?;
        let route_count = routes.len();
        #[cfg(feature = "tls")]
        let tls_server = self.tls_server(&mode, &routes)?;
        // Every usage error comes before the bind: a bad option exits 2 even when the address
        // is taken.
        #[cfg(feature = "tls")]
        let upstream_tls = self.upstream_tls()?;
        let (listener, control_listener) = self.bind()?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Io("cannot read the bound address", e))?;
        let control_addr = match &control_listener {
            Some(l) => Some(
                l.local_addr()
                    .map_err(|e| Error::Io("cannot read the bound address", e))?,
            ),
            None => None,
        };
        let settings = Settings {
            #[cfg(feature = "tls")]
            upstream_tls,
            files,
            ..self.settings(&mode, addr)
        };
        let seed = settings.seed;
        let max_conns = settings.max_conns;
        let log = Logger {
            format: match self.log {
                Some(LogFormat::Json) => Format::Json,
                _ => Format::Text,
            },
            quiet: self.log.is_none(),
        };
        let journal_secrets = self.journal_secrets;
        let ctx = Arc::new(Ctx::new(
            settings,
            plan,
            tcp_plan,
            routes,
            self.journal,
            log,
            self.on_done,
        ));
        ctx.journal.keep_secrets(journal_secrets);
        let toxiproxy = self.toxiproxy.then(|| {
            let t = Arc::new(crate::tcp::toxiproxy::Toxiproxy::new(&ctx, addr.ip()));
            let m = Arc::clone(&t);
            let _ = ctx.more_metrics.set(Box::new(move |out| m.metrics(out)));
            t
        });
        let notes = Notes {
            control_off: self.control.is_none()
                && !addr.ip().is_loopback()
                && !self.tcp
                && !self.toxiproxy
                && control_addr.is_none(),
            max_conns: (max_conns < self.max_conns).then_some((max_conns, self.max_conns)),
        };
        notes.log(&ctx);
        let server = Server {
            inner: Arc::new(Inner {
                ctx,
                #[cfg(feature = "tls")]
                tls: tls_server,
                toxiproxy,
                addr,
                control_addr,
                pool: Pool::new(),
                running: Mutex::new(Running::default()),
            }),
        };
        if mode == Mode::Blackhole {
            server.inner.running().blackhole = Some(fill_backlog(listener, addr)?);
        } else {
            server.inner.spawn_accept(listener, Listener::Main)?;
        }
        if let Some(l) = control_listener {
            server.inner.spawn_accept(l, Listener::Control)?;
        }
        let listening = Listening {
            mode: &mode,
            once: self.once,
            toxiproxy: self.toxiproxy,
            tls: self.tls,
            seed,
            routes: route_count,
            unmatched_404: route_count > 0 && self.plan.is_none() && mode == Mode::Serve,
        };
        listening.log(&server);
        server.inner.ctx.warn(&server.inner.ctx.routes());
        Ok(server)
    }

    /// The default plan (or TCP mode's), and the routes, checked against the mode; their
    /// `file=` steps read as `files` (the operator's) allows.
    fn plans(&self, mode: &Mode, files: &Files) -> Result<(Plan, TcpPlan, RouteTable), Error> {
        let default_plan = match (&self.plan, mode) {
            (Some(p), _) => p.as_str(),
            (None, Mode::Serve | Mode::Blackhole) => DEFAULT_PLAN,
            (None, _) => "",
        };
        // TCP mode has its own plan language; the HTTP plan is then unused.
        let (plan, tcp_plan) = match mode {
            Mode::Tcp(_) => (
                Plan::default(),
                TcpPlan::parse(default_plan).map_err(Error::TcpPlan)?,
            ),
            _ => (
                Plan::parse_with(default_plan, files).map_err(Error::Plan)?,
                TcpPlan::default(),
            ),
        };
        if matches!(mode, Mode::Tcp(_)) && (!self.routes.is_empty() || !self.routes_text.is_empty())
        {
            return Err(Error::Config(
                "routes are for HTTP requests; TCP mode has none (use one PLAN)".into(),
            ));
        }
        let mut specs = self.routes.clone();
        specs.extend(self.sni.iter().map(|s| format!("sni {}", s.trim())));
        let routes = RouteTable::parse_file_and_specs(&self.routes_text, &specs, files)
            .map_err(Error::Route)?;
        self.check_tls(&plan, &routes)?;
        if let Mode::Proxy(_) = mode {
            plan.check_proxy().map_err(Error::Plan)?;
        }
        if self.alpn.is_some() && !self.tls {
            return Err(Error::Config("--alpn needs --tls".to_string()));
        }
        Ok((plan, tcp_plan, routes))
    }

    /// `--tls`: the certificates (made at start, or the user's) and configurations.
    #[cfg(feature = "tls")]
    fn tls_server(
        &self,
        mode: &Mode,
        routes: &RouteTable,
    ) -> Result<Option<Arc<crate::tls::TlsServer>>, Error> {
        if !self.tls {
            return Ok(None);
        }
        let alpn = self.alpn_list(mode)?;
        let user = self.tls_files.as_ref().map(CertSource::read).transpose()?;
        let user = user.as_ref().map(|u| crate::tls::UserCert {
            cert: &u.cert,
            key: &u.key,
            cert_name: &u.cert_name,
            key_name: &u.key_name,
        });
        let t = crate::tls::TlsServer::new(user, &routes.sni_names(), alpn.as_deref());
        Ok(Some(Arc::new(t.map_err(Error::Config)?)))
    }

    /// The listener, and the control listener when asked for.
    fn bind(&self) -> Result<(TcpListener, Option<TcpListener>), Error> {
        let listen = parse_addr(&self.listen)?;
        let control_addr = self.control_listen.as_deref().map(parse_addr).transpose()?;
        let listener = TcpListener::bind(listen).map_err(|e| Error::Bind(listen, e))?;
        let control_listener = match control_addr {
            Some(a) => Some(TcpListener::bind(a).map_err(|e| Error::Bind(a, e))?),
            None => None,
        };
        Ok((listener, control_listener))
    }

    /// What every connection reads: the mode, limits, timeouts, the seed.
    fn settings(&self, mode: &Mode, addr: std::net::SocketAddr) -> Settings {
        let max_conns = match thread_limit() {
            Some(limit) if limit < self.max_conns => limit.max(1),
            _ => self.max_conns,
        };
        // On a loopback listener by default; elsewhere only when asked.
        let loopback = addr.ip().is_loopback();
        Settings {
            #[cfg(feature = "tls")]
            upstream_tls: None,
            mode: mode.clone(),
            read_timeout: self.read_timeout,
            upstream_idle: self.upstream_idle,
            max_conns,
            once: self.once,
            control: self.toxiproxy || (self.control.unwrap_or(loopback) && !self.tcp),
            seed: self.seed.unwrap_or_else(clock_seed),
            path_plans: self.path_plans,
            h2c: self.h2c,
            ws_max_message: self.ws_max_message,
            plan_given: self.plan.is_some(),
            tls: self.tls,
            files: Files::requests(None),
        }
    }

    /// TLS options that cannot work: TLS without the feature, `--sni` or a handshake fault
    /// without `--tls`, TLS in TCP mode (which relays TLS as bytes), upstream trust without an
    /// `https://` upstream.
    /// The protocols ALPN offers. Proxy mode forwards HTTP/1.1 only, so it offers only that:
    /// an HTTP/2-only client learns it in the handshake instead of being answered in the
    /// upstream's place.
    #[cfg(feature = "tls")]
    fn alpn_list(&self, mode: &Mode) -> Result<Option<Vec<Vec<u8>>>, Error> {
        let alpn = self
            .alpn
            .as_deref()
            .map(crate::tls::parse_alpn)
            .transpose()
            .map_err(Error::Config)?;
        if !matches!(mode, Mode::Proxy(_)) {
            return Ok(alpn);
        }
        if alpn.as_ref().is_some_and(|a| a.iter().any(|p| p == b"h2")) {
            return Err(Error::Config(
                "--alpn h2 cannot be used in proxy mode: it forwards HTTP/1.1 only".into(),
            ));
        }
        Ok(Some(vec![b"http/1.1".to_vec()]))
    }

    fn check_tls(&self, plan: &Plan, routes: &RouteTable) -> Result<(), Error> {
        let config = |m: &str| Err(Error::Config(m.to_string()));
        if self.tls && !cfg!(feature = "tls") {
            return config("--tls needs httpfault built with the cargo feature 'tls'");
        }
        if self.tls && self.tcp {
            return config("--tls is for HTTP; TCP mode relays TLS as bytes (drop --tls)");
        }
        if !self.tls && routes.has_sni() {
            return config("--sni (or an sni line of the routes) needs --tls");
        }
        if let (false, Some(h)) = (self.tls, plan.tls) {
            return Err(Error::Config(format!(
                "the step 'tls={h}' needs --tls (it breaks the TLS handshake)"
            )));
        }
        let https = self
            .upstream
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"));
        if (self.upstream_ca.is_some() || self.upstream_insecure) && !https {
            return config("--upstream-ca and --upstream-insecure need an https:// --upstream");
        }
        if self.upstream_ca.is_some() && self.upstream_insecure {
            // Insecure would silently win: the CA file would check nothing.
            return config(
                "--upstream-ca and --upstream-insecure contradict each other (trust the CA \
                 file, or anything: choose one)",
            );
        }
        if https && !cfg!(feature = "tls") {
            return config(
                "an https:// upstream needs httpfault built with the cargo feature 'tls'",
            );
        }
        Ok(())
    }

    /// The client side for an `https://` upstream.
    #[cfg(feature = "tls")]
    fn upstream_tls(&self) -> Result<Option<Arc<crate::control::ctx::UpstreamTls>>, Error> {
        let Some(rest) = self
            .upstream
            .as_deref()
            .and_then(|u| u.strip_prefix("https://"))
        else {
            return Ok(None);
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let host = match rest.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => h,
            _ => rest,
        };
        let trust = match (&self.upstream_ca, self.upstream_insecure) {
            (Some(pem), _) => crate::tls::UpstreamTrust::Ca(pem.clone()),
            (None, true) => crate::tls::UpstreamTrust::Insecure,
            (None, false) => crate::tls::UpstreamTrust::System,
        };
        let config = crate::tls::client_config(&trust).map_err(Error::Upstream)?;
        let name = crate::tls::server_name(host).map_err(Error::Upstream)?;
        Ok(Some(Arc::new(crate::control::ctx::UpstreamTls {
            config,
            name,
        })))
    }

    fn mode(&self) -> Result<Mode, Error> {
        let upstream = match &self.upstream {
            None if self.tcp => {
                return Err(Error::Config("--tcp needs --upstream HOST:PORT".into()))
            }
            None => None,
            Some(u) if self.tcp => Some(parse_addr(u).map_err(|_| {
                Error::Upstream(format!(
                    "'{}' (expected HOST:PORT)",
                    crate::plan::Escaped(u)
                ))
            })?),
            Some(u) => {
                let (rest, port) = match u.strip_prefix("https://") {
                    Some(rest) => (Some(rest), 443),
                    None => (u.strip_prefix("http://"), 80),
                };
                let rest = rest.ok_or_else(|| {
                    Error::Upstream(format!(
                        "'{}' (expected http://HOST:PORT or https://HOST:PORT)",
                        crate::plan::Escaped(u)
                    ))
                })?;
                let rest = rest.strip_suffix('/').unwrap_or(rest);
                let hostport = if rest.contains(':') && !rest.ends_with(']') {
                    rest.to_string()
                } else {
                    format!("{rest}:{port}")
                };
                Some(parse_addr(&hostport).map_err(|_| {
                    Error::Upstream(format!(
                        "'{}' (expected http://HOST:PORT)",
                        crate::plan::Escaped(u)
                    ))
                })?)
            }
        };
        if self.blackhole && (self.once || upstream.is_some()) {
            return Err(Error::Config(
                "--blackhole cannot be combined with --once, --upstream or --tcp".into(),
            ));
        }
        Ok(match upstream {
            _ if self.blackhole => Mode::Blackhole,
            Some(a) if self.tcp => Mode::Tcp(a),
            Some(a) => Mode::Proxy(a),
            None => Mode::Serve,
        })
    }
}

/// What a start has to say besides `listening`: the control API off on a public address, and
/// a connection limit lowered to what the system allows.
struct Notes {
    control_off: bool,
    /// (the limit, what was asked).
    max_conns: Option<(usize, usize)>,
}

impl Notes {
    fn log(&self, ctx: &Ctx) {
        if self.control_off {
            ctx.conn_event(
                "note",
                &[
                    ("control", Val::Str("off")),
                    ("reason", Val::Str("the listener is not a loopback address")),
                    (
                        "hint",
                        Val::Str("use --control ADDR or --control-on-listener"),
                    ),
                ],
            );
        }
        if let Some((limit, asked)) = self.max_conns {
            ctx.conn_event(
                "limit",
                &[
                    ("max-conns", Val::Num(limit as u64)),
                    ("asked", Val::Num(asked as u64)),
                    ("reason", Val::Str("vm.max_map_count")),
                ],
            );
        }
    }
}

/// The `listening` event: where, how, which plan.
struct Listening<'a> {
    mode: &'a Mode,
    once: bool,
    toxiproxy: bool,
    tls: bool,
    seed: u64,
    routes: usize,
    /// Routes and no default plan: a request no route matches gets a 404.
    unmatched_404: bool,
}

impl Listening<'_> {
    fn log(&self, server: &Server) {
        let ctx = &server.inner.ctx;
        let p = match self.mode {
            Mode::Tcp(_) => ctx.tcp_plan().to_string(),
            _ => ctx.plan().to_string(),
        };
        let a = server.inner.addr.to_string();
        let mode_name = match (self.mode, self.once) {
            (Mode::Blackhole, _) => "blackhole",
            (Mode::Proxy(_), _) => "proxy",
            (Mode::Tcp(_), _) => "tcp",
            _ if self.toxiproxy => "toxiproxy",
            (_, true) => "once",
            _ => "serve",
        };
        // The control listener's real port (it may be `:0`) is only known here: the log is
        // where a script or test finds it.
        let control = server.inner.control_addr.map(|c| c.to_string());
        let mut fields = vec![
            ("addr", Val::Str(&a)),
            ("tls", Val::Raw(if self.tls { "true" } else { "false" })),
            ("plan", Val::Str(&p)),
            ("mode", Val::Str(mode_name)),
            ("seed", Val::Num(self.seed)),
            ("routes", Val::Num(self.routes as u64)),
        ];
        if self.unmatched_404 {
            // `plan=` is then not what a request that matches no route gets: say what it gets.
            fields.push(("unmatched", Val::Str("404")));
        }
        if let Some(c) = &control {
            fields.push(("control", Val::Str(c)));
        }
        ctx.conn_event("listening", &fields);
    }
}
