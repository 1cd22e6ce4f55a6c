//! The named proxies of `httpfault toxiproxy`: each a listener whose connections run TCP
//! mode's relay, shaped by the proxy's toxics through a live [`Shaper`]; their state as the
//! API changes it (create, update, enable, disable, populate, reset, delete), and their
//! journal entries and metrics.
//!
//! One lock guards the collection; API calls take it in turn (as toxiproxy's do). Connection
//! threads never take it: they read their proxy's toxics through [`Shared`], a snapshot
//! behind its own lock and a version number they compare per chunk.

use super::json::Value;
use super::toxic::Toxic;
use super::{proxy_not_found, toxic_not_found, ApiError};
use crate::control::ctx::Ctx;
use crate::control::journal::{End, Entry, PlanRef};
use crate::log::Val;
use crate::plan::tcp::{Dir, TcpPlan};
use crate::plan::EndKind;
use crate::pool::{Active, Pool};
use crate::rng::Rng;
use crate::sys;
use crate::tcp::live::{DirShape, Shaper};
use crate::tcp::{self, RelayEnv};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Most proxies at once.
pub const MAX_PROXIES: usize = 1000;
/// Most toxics on one proxy.
pub const MAX_TOXICS: usize = 64;
/// Longest proxy name.
pub const MAX_PROXY_NAME: usize = 256;
/// Longest `listen` or `upstream` text.
pub const MAX_ADDR: usize = 1024;
/// How long a connect to a proxy's upstream may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long disabling a proxy waits for its connections to close.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Most distinct toxic names counted in one proxy's metrics.
const MAX_COUNTED_TOXICS: usize = 256;

/// What a proxy's connections share with the API: the toxics and the counters.
pub struct Shared {
    name: Arc<str>,
    toxics: Mutex<Arc<Vec<Toxic>>>,
    /// Bumped on every change of `toxics`: connections look at it per chunk.
    version: AtomicU64,
    stats: Stats,
}

/// One proxy's metrics.
#[derive(Default)]
struct Stats {
    connections: AtomicU64,
    open: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    ends: [AtomicU64; 7],
    toxics: Mutex<BTreeMap<String, u64>>,
}

impl Shared {
    fn toxics(&self) -> Arc<Vec<Toxic>> {
        Arc::clone(&self.toxics.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn set_toxics(&self, toxics: Vec<Toxic>) {
        *self.toxics.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(toxics);
        self.version.fetch_add(1, Ordering::AcqRel);
    }
}

/// A running listener of a proxy (one per period it is enabled).
struct Run {
    flag: Arc<RunFlag>,
    /// A clone of the listener, to wake its accept.
    listener: TcpListener,
    accept: Option<JoinHandle<()>>,
}

/// What the connections of one run share: its stop flag and count.
struct RunFlag {
    stop: AtomicBool,
    open: AtomicUsize,
    upstream: String,
}

struct Proxy {
    shared: Arc<Shared>,
    /// As the API shows it: the bound address while (or after) it listened.
    listen: String,
    upstream: String,
    enabled: bool,
    run: Option<Run>,
}

/// The proxies of one `httpfault toxiproxy` server.
pub struct Toxiproxy {
    ctx: Weak<Ctx>,
    pool: Arc<Pool>,
    proxies: Mutex<BTreeMap<String, Proxy>>,
    next_id: AtomicU64,
    /// The address a proxy created without `listen` gets (the API's own, port 0).
    default_ip: IpAddr,
    /// Relayed connections open, across proxies (bounded by `--max-conns`).
    active: Arc<AtomicUsize>,
}

/// A proxy as the API gives it, and what creating or updating one asks for.
#[derive(Clone, Debug, Default)]
pub struct ProxySpec {
    /// The name.
    pub name: String,
    /// `HOST:PORT` to listen on.
    pub listen: String,
    /// `HOST:PORT` to connect to.
    pub upstream: String,
    /// Listening or not.
    pub enabled: bool,
}

impl Toxiproxy {
    /// The proxies of the server whose shared state is `ctx`; proxies without `listen` get
    /// `default_ip` and a free port.
    pub fn new(ctx: &Arc<Ctx>, default_ip: IpAddr) -> Toxiproxy {
        Toxiproxy {
            ctx: Arc::downgrade(ctx),
            pool: Pool::new(),
            proxies: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
            default_ip,
            active: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Proxy>> {
        self.proxies.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops every proxy and waits for their threads (the server stops).
    pub fn shutdown(&self) {
        let mut all = self.lock();
        for p in all.values_mut() {
            stop(p);
        }
        all.clear();
        drop(all);
        self.pool.stop(CLOSE_WAIT);
    }

    /// `GET /proxies`: every proxy, by name.
    pub fn list_json(&self) -> String {
        let all = self.lock();
        let mut out = String::from("{");
        for (i, (name, p)) in all.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            crate::log::json_str(&mut out, name);
            out.push(':');
            proxy_json(p, &mut out);
        }
        out.push('}');
        out
    }

    /// `GET /proxies/{name}`.
    pub fn get_json(&self, name: &str) -> Result<String, ApiError> {
        let all = self.lock();
        let p = all.get(name).ok_or_else(proxy_not_found)?;
        let mut out = String::new();
        proxy_json(p, &mut out);
        Ok(out)
    }

    /// `POST /proxies`: a new proxy, listening at once when enabled.
    pub fn create(&self, spec: ProxySpec) -> Result<String, ApiError> {
        let mut all = self.lock();
        if all.contains_key(&spec.name) {
            return Err(ApiError::new(409, "proxy already exists".into()));
        }
        if all.len() >= MAX_PROXIES {
            return Err(ApiError::new(
                400,
                format!("too many proxies (at most {MAX_PROXIES}): delete one first"),
            ));
        }
        let mut p = self.new_proxy(&spec);
        if spec.enabled {
            self.start(&mut p)?;
        }
        let mut out = String::new();
        proxy_json(&p, &mut out);
        all.insert(spec.name, p);
        Ok(out)
    }

    fn new_proxy(&self, spec: &ProxySpec) -> Proxy {
        Proxy {
            shared: Arc::new(Shared {
                name: spec.name.as_str().into(),
                toxics: Mutex::new(Arc::new(Vec::new())),
                version: AtomicU64::new(0),
                stats: Stats::default(),
            }),
            listen: spec.listen.clone(),
            upstream: spec.upstream.clone(),
            enabled: false,
            run: None,
        }
    }

    /// `POST|PATCH /proxies/{name}`: fields not given keep their values. A new listen
    /// address or upstream restarts the proxy (its connections close), as toxiproxy does.
    pub fn update(&self, name: &str, body: &Value) -> Result<String, ApiError> {
        let mut all = self.lock();
        let p = all.get_mut(name).ok_or_else(proxy_not_found)?;
        if !matches!(body, Value::Obj(_)) {
            return Err(ApiError::new(
                400,
                format!("bad request body: expected an object, not {}", body.kind()),
            ));
        }
        let listen = field_str(body, "listen", &p.listen)?;
        let upstream = field_str(body, "upstream", &p.upstream)?;
        let enabled = field_bool(body, "enabled", p.enabled)?;
        let new_listen = listen != p.listen
            && resolve_listen(&listen, self.default_ip).ok()
                != resolve_listen(&p.listen, self.default_ip).ok();
        if new_listen || upstream != p.upstream {
            stop(p);
            p.listen = listen;
            p.upstream = upstream;
        }
        if enabled && !p.enabled {
            self.start(p)?;
        } else if !enabled {
            stop(p);
        }
        let mut out = String::new();
        proxy_json(p, &mut out);
        Ok(out)
    }

    /// `DELETE /proxies/{name}`: stops it (its connections close) and forgets it.
    pub fn delete(&self, name: &str) -> Result<(), ApiError> {
        let mut all = self.lock();
        let mut p = all.remove(name).ok_or_else(proxy_not_found)?;
        stop(&mut p);
        Ok(())
    }

    /// `POST /reset`: every proxy enabled again, every toxic removed.
    pub fn reset(&self) -> Result<(), ApiError> {
        let mut all = self.lock();
        for p in all.values_mut() {
            p.shared.set_toxics(Vec::new());
            if !p.enabled {
                self.start(p)?;
            }
        }
        Ok(())
    }

    /// `POST /populate`: each proxy created, or replaced when its listen address or upstream
    /// differ (toxics dropped), or left as it is. Stops at the first failure and says which
    /// proxies were made before it.
    pub fn populate(&self, specs: Vec<ProxySpec>) -> (Vec<String>, Option<ApiError>) {
        let mut done = Vec::new();
        let mut all = self.lock();
        for spec in specs {
            if let Some(old) = all.get(&spec.name) {
                let same_listen = resolve_listen(&old.listen, self.default_ip).ok()
                    == resolve_listen(&spec.listen, self.default_ip).ok();
                if same_listen && old.upstream == spec.upstream {
                    let mut out = String::new();
                    proxy_json(old, &mut out);
                    done.push(out);
                    continue;
                }
                if let Some(mut old) = all.remove(&spec.name) {
                    stop(&mut old);
                }
            } else if all.len() >= MAX_PROXIES {
                let e = ApiError::new(
                    400,
                    format!("too many proxies (at most {MAX_PROXIES}): delete one first"),
                );
                return (done, Some(e));
            }
            let mut p = self.new_proxy(&spec);
            if spec.enabled {
                if let Err(e) = self.start(&mut p) {
                    return (done, Some(e));
                }
            }
            let mut out = String::new();
            proxy_json(&p, &mut out);
            done.push(out);
            all.insert(spec.name, p);
        }
        (done, None)
    }

    /// `GET /proxies/{name}/toxics`.
    pub fn toxics_json(&self, name: &str) -> Result<String, ApiError> {
        let all = self.lock();
        let p = all.get(name).ok_or_else(proxy_not_found)?;
        let mut out = String::new();
        toxics_json(&p.shared.toxics(), &mut out);
        Ok(out)
    }

    /// `GET /proxies/{name}/toxics/{toxic}`.
    pub fn toxic_json(&self, name: &str, toxic: &str) -> Result<String, ApiError> {
        let all = self.lock();
        let p = all.get(name).ok_or_else(proxy_not_found)?;
        let toxics = p.shared.toxics();
        let t = toxics
            .iter()
            .find(|t| t.name == toxic)
            .ok_or_else(toxic_not_found)?;
        let mut out = String::new();
        t.write_json(&mut out);
        Ok(out)
    }

    /// `POST /proxies/{name}/toxics`: live connections take it from their next chunk.
    pub fn add_toxic(&self, name: &str, body: &Value) -> Result<String, ApiError> {
        let all = self.lock();
        let p = all.get(name).ok_or_else(proxy_not_found)?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut t = Toxic::create(body, id)?;
        let mut toxics: Vec<Toxic> = p.shared.toxics().as_ref().clone();
        if toxics.iter().any(|x| x.name == t.name) {
            return Err(ApiError::new(409, "toxic already exists".into()));
        }
        if toxics.len() >= MAX_TOXICS {
            return Err(ApiError::new(
                400,
                format!("too many toxics on proxy '{name}' (at most {MAX_TOXICS})"),
            ));
        }
        t.set_attributes(body, false)?;
        let mut out = String::new();
        t.write_json(&mut out);
        toxics.push(t);
        p.shared.set_toxics(toxics);
        Ok(out)
    }

    /// `POST|PATCH /proxies/{name}/toxics/{toxic}`: new attributes and toxicity.
    pub fn update_toxic(&self, name: &str, toxic: &str, body: &Value) -> Result<String, ApiError> {
        let all = self.lock();
        let p = all.get(name).ok_or_else(proxy_not_found)?;
        let mut toxics: Vec<Toxic> = p.shared.toxics().as_ref().clone();
        let t = toxics
            .iter_mut()
            .find(|t| t.name == toxic)
            .ok_or_else(toxic_not_found)?;
        t.set_attributes(body, true)?;
        let mut out = String::new();
        t.write_json(&mut out);
        p.shared.set_toxics(toxics);
        Ok(out)
    }

    /// `DELETE /proxies/{name}/toxics/{toxic}`.
    pub fn remove_toxic(&self, name: &str, toxic: &str) -> Result<(), ApiError> {
        let all = self.lock();
        let p = all.get(name).ok_or_else(proxy_not_found)?;
        let mut toxics: Vec<Toxic> = p.shared.toxics().as_ref().clone();
        let before = toxics.len();
        toxics.retain(|t| t.name != toxic);
        if toxics.len() == before {
            return Err(toxic_not_found());
        }
        p.shared.set_toxics(toxics);
        Ok(())
    }

    /// The proxies' counters in Prometheus text format (for `GET /__httpfault/metrics`).
    pub fn metrics(&self, out: &mut String) {
        let all = self.lock();
        let head = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
        };
        let row = |out: &mut String, metric: &str, proxy: &str, rest: &str, n: u64| {
            out.push_str(metric);
            out.push_str("{proxy=");
            crate::log::json_str(out, proxy);
            let _ = writeln!(out, "{rest}}} {n}");
        };
        let m = "httpfault_toxiproxy_connections_total";
        head(
            out,
            m,
            "counter",
            "Connections relayed by each proxy, by how they ended.",
        );
        for (name, p) in all.iter() {
            for end in End::ALL {
                let n = p.shared.stats.ends[end.index()].load(Ordering::Relaxed);
                row(out, m, name, &format!(",end=\"{}\"", end.name()), n);
            }
        }
        let m = "httpfault_toxiproxy_connections_open";
        head(out, m, "gauge", "Connections each proxy relays now.");
        for (name, p) in all.iter() {
            row(
                out,
                m,
                name,
                "",
                p.shared.stats.open.load(Ordering::Relaxed),
            );
        }
        let m = "httpfault_toxiproxy_bytes_total";
        head(out, m, "counter", "Bytes each proxy delivered, by stream.");
        for (name, p) in all.iter() {
            let s = &p.shared.stats;
            row(
                out,
                m,
                name,
                ",stream=\"upstream\"",
                s.bytes_up.load(Ordering::Relaxed),
            );
            row(
                out,
                m,
                name,
                ",stream=\"downstream\"",
                s.bytes_down.load(Ordering::Relaxed),
            );
        }
        let m = "httpfault_toxiproxy_toxic_connections_total";
        head(
            out,
            m,
            "counter",
            "Connections each toxic applied to (its toxicity drawn in favour).",
        );
        for (name, p) in all.iter() {
            let counted = p
                .shared
                .stats
                .toxics
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            for (toxic, n) in counted.iter() {
                let mut rest = String::from(",toxic=");
                crate::log::json_str(&mut rest, toxic);
                row(out, m, name, &rest, *n);
            }
        }
    }

    /// Binds the proxy's listen address and starts accepting.
    fn start(&self, p: &mut Proxy) -> Result<(), ApiError> {
        if p.enabled {
            return Ok(());
        }
        let ctx = self
            .ctx
            .upgrade()
            .ok_or_else(|| ApiError::new(500, "the server is stopping".into()))?;
        let addr = resolve_listen(&p.listen, self.default_ip)
            .map_err(|e| ApiError::new(500, format!("listen tcp: address {}: {e}", p.listen)))?;
        let listener = TcpListener::bind(addr)
            .map_err(|e| ApiError::new(500, format!("listen tcp {addr}: bind: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| ApiError::new(500, format!("listen tcp {addr}: {e}")))?;
        let clone = listener
            .try_clone()
            .map_err(|e| ApiError::new(500, format!("listen tcp {addr}: {e}")))?;
        let flag = Arc::new(RunFlag {
            stop: AtomicBool::new(false),
            open: AtomicUsize::new(0),
            upstream: p.upstream.clone(),
        });
        let conn = ConnCtx {
            ctx,
            shared: Arc::clone(&p.shared),
            flag: Arc::clone(&flag),
            pool: Arc::clone(&self.pool),
            active: Arc::clone(&self.active),
        };
        let accept = thread::Builder::new()
            .name("httpfault-toxiproxy".into())
            .stack_size(crate::pool::STACK_SIZE)
            .spawn(move || accept_loop(&listener, &conn))
            .map_err(|e| ApiError::new(500, format!("cannot start a thread: {e}")))?;
        p.listen = bound.to_string();
        p.enabled = true;
        p.run = Some(Run {
            flag,
            listener: clone,
            accept: Some(accept),
        });
        Ok(())
    }
}

/// Stops listening (connects are refused from now) and closes the proxy's connections.
fn stop(p: &mut Proxy) {
    p.enabled = false;
    let Some(mut run) = p.run.take() else {
        return;
    };
    run.flag.stop.store(true, Ordering::SeqCst);
    let _ = sys::stop_listening(&run.listener);
    if let Some(t) = run.accept.take() {
        let _ = t.join();
    }
    drop(run.listener);
    // Each relay looks at the flag at least every `tcp::TICK`.
    let deadline = Instant::now() + CLOSE_WAIT;
    while run.flag.open.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(2));
    }
}

fn proxy_json(p: &Proxy, out: &mut String) {
    out.push_str("{\"name\":");
    crate::log::json_str(out, &p.shared.name);
    out.push_str(",\"listen\":");
    crate::log::json_str(out, &p.listen);
    out.push_str(",\"upstream\":");
    crate::log::json_str(out, &p.upstream);
    out.push_str(if p.enabled {
        ",\"enabled\":true"
    } else {
        ",\"enabled\":false"
    });
    out.push_str(",\"toxics\":");
    toxics_json(&p.shared.toxics(), out);
    out.push('}');
}

/// Upstream toxics first, then downstream, each in the order added (toxiproxy's order).
fn toxics_json(toxics: &[Toxic], out: &mut String) {
    out.push('[');
    let mut first = true;
    for d in [Dir::Up, Dir::Down] {
        for t in toxics.iter().filter(|t| t.stream == d) {
            if !first {
                out.push(',');
            }
            first = false;
            t.write_json(out);
        }
    }
    out.push(']');
}

fn field_str(body: &Value, key: &str, old: &str) -> Result<String, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(old.to_string()),
        Some(Value::Str(s)) if s.len() <= MAX_ADDR => Ok(s.clone()),
        Some(Value::Str(_)) => Err(ApiError::new(
            400,
            format!("bad request body: field '{key}' is longer than {MAX_ADDR} bytes"),
        )),
        Some(v) => Err(ApiError::new(
            400,
            format!(
                "bad request body: field '{key}' must be a string, not {}",
                v.kind()
            ),
        )),
    }
}

fn field_bool(body: &Value, key: &str, old: bool) -> Result<bool, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(old),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(ApiError::new(
            400,
            format!(
                "bad request body: field '{key}' must be true or false, not {}",
                v.kind()
            ),
        )),
    }
}

/// A proxy's fields from a create or populate body (`enabled` defaults to true). `at`:
/// "" or " at proxy N" (populate's way of naming the entry).
pub fn parse_spec(body: &Value, at: &str) -> Result<ProxySpec, ApiError> {
    if !matches!(body, Value::Obj(_)) {
        return Err(ApiError::new(
            400,
            format!(
                "bad request body: expected an object{at}, not {}",
                body.kind()
            ),
        ));
    }
    let name = field_str(body, "name", "")?;
    if name.is_empty() {
        return Err(ApiError::new(
            400,
            format!("missing required field: name{at}"),
        ));
    }
    if name.len() > MAX_PROXY_NAME {
        return Err(ApiError::new(
            400,
            format!("bad request body: field 'name' is longer than {MAX_PROXY_NAME} bytes{at}"),
        ));
    }
    let upstream = field_str(body, "upstream", "")?;
    if upstream.is_empty() {
        return Err(ApiError::new(
            400,
            format!("missing required field: upstream{at}"),
        ));
    }
    Ok(ProxySpec {
        name,
        listen: field_str(body, "listen", "")?,
        upstream,
        enabled: field_bool(body, "enabled", true)?,
    })
}

/// The socket address of a `listen` text: `HOST:PORT`, `[V6]:PORT`, `:PORT` (every
/// interface) or empty (`default_ip`, a free port). `localhost` is 127.0.0.1.
pub fn resolve_listen(text: &str, default_ip: IpAddr) -> Result<SocketAddr, String> {
    if text.is_empty() {
        return Ok(SocketAddr::new(default_ip, 0));
    }
    if let Some(port) = text.strip_prefix(':') {
        let port: u16 = port.parse().map_err(|_| "invalid port".to_string())?;
        return Ok(SocketAddr::new(IpAddr::from([0, 0, 0, 0]), port));
    }
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok(a);
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err("missing port in address".into());
    };
    let port: u16 = port.parse().map_err(|_| "invalid port".to_string())?;
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port));
    }
    resolve(text)
}

/// The first address a `HOST:PORT` resolves to.
fn resolve(text: &str) -> Result<SocketAddr, String> {
    text.to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| "no address".to_string())
}

/// What a proxy's accept loop and its connections need.
struct ConnCtx {
    ctx: Arc<Ctx>,
    shared: Arc<Shared>,
    flag: Arc<RunFlag>,
    pool: Arc<Pool>,
    active: Arc<AtomicUsize>,
}

fn accept_loop(listener: &TcpListener, c: &ConnCtx) {
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(pair) => pair,
            Err(e) => {
                if c.flag.stop.load(Ordering::SeqCst) {
                    return;
                }
                if sys::out_of_resources(&e) {
                    thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
        };
        if c.flag.stop.load(Ordering::SeqCst) {
            return;
        }
        let id = c.ctx.next_conn_id();
        c.ctx.metrics.connections.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = Active::try_new(&c.active, c.ctx.settings.max_conns) else {
            c.ctx.metrics.refused.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let open = Open::new(c);
        let (ctx, shared, flag) = (
            Arc::clone(&c.ctx),
            Arc::clone(&c.shared),
            Arc::clone(&c.flag),
        );
        let job = Box::new(move || {
            let _slot = slot;
            let _open = open;
            serve_conn(&ctx, &shared, &flag, stream, id, peer);
        });
        if c.pool.run(job).is_err() {
            c.ctx.metrics.refused.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Counts an open connection of a proxy (its run's count, its metrics, the server's gauge)
/// until it drops.
struct Open {
    ctx: Arc<Ctx>,
    shared: Arc<Shared>,
    flag: Arc<RunFlag>,
}

impl Open {
    fn new(c: &ConnCtx) -> Open {
        c.flag.open.fetch_add(1, Ordering::AcqRel);
        c.shared.stats.open.fetch_add(1, Ordering::Relaxed);
        c.shared.stats.connections.fetch_add(1, Ordering::Relaxed);
        c.ctx.active.fetch_add(1, Ordering::Relaxed);
        Open {
            ctx: Arc::clone(&c.ctx),
            shared: Arc::clone(&c.shared),
            flag: Arc::clone(&c.flag),
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.ctx.active.fetch_sub(1, Ordering::Relaxed);
        self.shared.stats.open.fetch_sub(1, Ordering::Relaxed);
        self.flag.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One relayed connection of a proxy, journaled as TCP mode's are (method `TCP`, target the
/// upstream), with the proxy's name and the toxics that applied.
fn serve_conn(
    ctx: &Ctx,
    shared: &Shared,
    flag: &RunFlag,
    client: TcpStream,
    id: u64,
    peer: SocketAddr,
) {
    let arrived = Instant::now();
    let label = format!("TCP {}\r\n", flag.upstream);
    let entry = ctx.begin(Entry::new(
        ctx.journal.since_start(arrived),
        id,
        peer,
        label.as_bytes(),
        None,
        None,
        PlanRef::Tcp(Arc::new(TcpPlan::default())),
    ));
    entry.set_proxy(&shared.name);
    let seed = ctx.settings.seed ^ id.rotate_left(32);
    let mut live = Live::new(shared, seed);
    let out = match resolve(&flag.upstream) {
        Ok(upstream) => {
            let env = RelayEnv {
                upstream,
                connect_timeout: CONNECT_TIMEOUT,
                idle_timeout: None,
                stop: &flag.stop,
                seed,
            };
            tcp::relay_live(client, &mut live, &env)
        }
        Err(reason) => {
            let _ = sys::set_linger_zero(&client);
            drop(client);
            let peer = peer.to_string();
            ctx.conn_event(
                "upstream",
                &[
                    ("conn", Val::Num(id)),
                    ("peer", Val::Str(&peer)),
                    ("upstream", Val::Str("refused")),
                    ("reason", Val::Str(&reason)),
                ],
            );
            tcp::no_connection(Some("refused"))
        }
    };
    let s = &shared.stats;
    s.bytes_up.fetch_add(out.up.bytes, Ordering::Relaxed);
    s.bytes_down.fetch_add(out.down.bytes, Ordering::Relaxed);
    let applied = live.applied_names();
    {
        let mut counted = s.toxics.lock().unwrap_or_else(|e| e.into_inner());
        for name in &applied {
            if let Some(n) = counted.get_mut(name) {
                *n += 1;
            } else if counted.len() < MAX_COUNTED_TOXICS {
                counted.insert(name.clone(), 1);
            }
        }
    }
    entry.set_toxics(applied);
    entry.set_tcp(
        out.up.bytes,
        out.up.end.name(),
        out.down.end.name(),
        out.upstream,
    );
    let end = out.end;
    s.ends[end.index()].fetch_add(1, Ordering::Relaxed);
    ctx.end(&entry, None, out.down.bytes, end, arrived.elapsed());
}

/// A toxic as one connection sees it: whether it applies (toxicity drawn), and from where.
struct Seen {
    id: u64,
    version: u64,
    active: bool,
    /// Bytes delivered in each direction [up, down] when it began to apply.
    base: [Option<u64>; 2],
    since: Instant,
    at_start: bool,
}

/// The live [`Shaper`] of one connection over its proxy's toxics.
struct Live<'a> {
    shared: &'a Shared,
    seed: u64,
    /// The toxics version each direction last took, [up, down].
    taken: [Option<u64>; 2],
    seen: Vec<Seen>,
    applied: Vec<String>,
    started: bool,
}

impl<'a> Live<'a> {
    fn new(shared: &'a Shared, seed: u64) -> Live<'a> {
        Live {
            shared,
            seed,
            taken: [None, None],
            seen: Vec::new(),
            applied: Vec::new(),
            started: false,
        }
    }

    /// The names of the toxics that applied to the connection at some time.
    fn applied_names(&self) -> Vec<String> {
        self.applied.clone()
    }

    /// This connection's view of toxic `t`, drawn anew when the toxic is new or updated.
    fn seen(&mut self, t: &Toxic, now: Instant) -> usize {
        if let Some(i) = self.seen.iter().position(|s| s.id == t.id) {
            if self.seen[i].version == t.version {
                return i;
            }
            self.seen.remove(i);
        }
        let mut r = Rng::new(
            self.seed ^ t.id.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ t.version.rotate_left(17),
        );
        let draw = (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let mut active = draw < f64::from(t.toxicity);
        if let Some((_, plan)) = &t.plan {
            if let Some(p) = plan.chance {
                active &= ((r.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p;
            }
            if let (true, Some(n)) = (active, plan.times) {
                active = t.applied.fetch_add(1, Ordering::Relaxed) < n;
            }
        }
        if active && !self.applied.contains(&t.name) {
            self.applied.push(t.name.clone());
        }
        self.seen.push(Seen {
            id: t.id,
            version: t.version,
            active,
            base: [None, None],
            since: now,
            at_start: !self.started,
        });
        self.seen.len() - 1
    }
}

fn dir_index(d: Dir) -> usize {
    match d {
        Dir::Up => 0,
        Dir::Down => 1,
    }
}

impl Shaper for Live<'_> {
    fn start(&mut self, now: Instant) -> (Option<Duration>, Option<EndKind>) {
        let toxics = self.shared.toxics();
        let mut delay = None;
        let mut at_accept = None;
        for t in toxics.iter() {
            let i = self.seen(t, now);
            if let (true, Some((_, plan))) = (self.seen[i].active, &t.plan) {
                delay = delay.or(plan.delay);
                at_accept = at_accept.or(plan.at_accept);
            }
        }
        self.started = true;
        (delay, at_accept)
    }

    fn shape(&mut self, d: Dir, sent: u64, now: Instant) -> Option<DirShape> {
        let version = self.shared.version.load(Ordering::Acquire);
        let k = dir_index(d);
        if self.taken[k] == Some(version) {
            return None;
        }
        self.taken[k] = Some(version);
        let toxics = self.shared.toxics();
        // Forget the toxics removed since.
        self.seen.retain(|s| toxics.iter().any(|t| t.id == s.id));
        let mut shape = DirShape::default();
        for t in toxics.iter() {
            let i = self.seen(t, now);
            let s = &mut self.seen[i];
            if !s.active {
                continue;
            }
            let base = *s.base[k].get_or_insert(sent);
            t.shape_into(&mut shape, d, base, s.since, s.at_start);
        }
        Some(shape)
    }
}
