//! What every connection of one server shares: the plans and routes in force, the counters,
//! the journal and the log, limits and timeouts, the registry of open connections, and the
//! stop flag. One `Ctx` per server; nothing here is process-wide.

use super::budget::EchoBudget;
use crate::control::journal::{End, Entry, Journal};
use crate::control::registry::Registry;
use crate::http::request;
use crate::log::{Logger, Val};
use crate::plan::router::{self, Counters, RouteTable};
use crate::plan::tcp::TcpPlan;
use crate::plan::{Files, Plan, PlanError, HEALTHY};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Most bytes all `echo` bodies may hold at once.
pub const ECHO_BUDGET: u64 = 64 * 1024 * 1024;
/// The prefix of the control API's paths.
pub const CONTROL_PREFIX: &str = "/__httpfault/";

/// What the server does with connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Answers from plans.
    Serve,
    /// Listens but never accepts.
    Blackhole,
    /// Forwards HTTP to an upstream (`host:port`).
    Proxy(SocketAddr),
    /// Relays raw TCP to an upstream.
    Tcp(SocketAddr),
}

/// Proxy mode's client side for an `https://` upstream.
#[cfg(feature = "tls")]
pub struct UpstreamTls {
    /// Trust and ALPN.
    pub config: Arc<rustls::ClientConfig>,
    /// The name sent as SNI and checked against the certificate.
    pub name: rustls::pki_types::ServerName<'static>,
}

/// Settings fixed at start.
#[derive(Clone)]
pub struct Settings {
    /// Proxy mode with an `https://` upstream.
    #[cfg(feature = "tls")]
    pub upstream_tls: Option<Arc<UpstreamTls>>,
    /// How connections are served.
    pub mode: Mode,
    /// Time a client has to send a request head; also each body read and blocked write.
    pub read_timeout: Duration,
    /// Proxy mode: longest silence of the upstream within a relayed body (`None`: no limit).
    pub upstream_idle: Option<Duration>,
    /// Most connections served at once.
    pub max_conns: usize,
    /// One-shot mode.
    pub once: bool,
    /// The control API on the main listener.
    pub control: bool,
    /// Seed of every random choice.
    pub seed: u64,
    /// A path whose first segment is a step is a plan (`--no-path-plans` turns it off).
    pub path_plans: bool,
    /// `Upgrade: h2c` switches to HTTP/2 ([`crate::server::Builder::h2c`]).
    pub h2c: bool,
    /// The largest WebSocket message a client may send (`--ws-max-message`).
    pub ws_max_message: u64,
    /// A default plan was given at start (else, with routes, unmatched requests get 404).
    pub plan_given: bool,
    /// The listener serves TLS (`--tls`).
    pub tls: bool,
    /// What the plans of requests (path, header, control API) may read with `file=`:
    /// nothing, or files under `--files DIR`. [`Files::operator`] of it for the operator's.
    pub files: Files,
}

/// Most distinct routes `metrics` counts by name; later ones are counted as `other`.
pub const MAX_ROUTE_LABELS: usize = 256;
/// Status codes `metrics` counts one by one (0 to 999: the plan language's range).
const STATUS_LABELS: usize = 1000;

/// Counters for `GET /__httpfault/metrics`. Every label set is bounded: statuses by the
/// code's range, routes by [`MAX_ROUTE_LABELS`].
pub struct Metrics {
    /// Requests by how they ended, in the order of [`End::ALL`].
    pub requests: [AtomicU64; 7],
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections refused (`--max-conns`, no thread).
    pub refused: AtomicU64,
    /// Requests by status sent (index 0: no status line).
    statuses: Box<[AtomicU64]>,
    /// Requests by route SPEC (the empty SPEC: no route), then `other`.
    routes: Mutex<Vec<(Arc<str>, u64)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: Default::default(),
            connections: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            statuses: (0..STATUS_LABELS).map(|_| AtomicU64::new(0)).collect(),
            routes: Mutex::new(Vec::new()),
        }
    }
}

impl Metrics {
    /// Counts a finished request by status and route.
    fn count(&self, status: Option<u16>, route: Option<&Arc<str>>) {
        let i = usize::from(status.unwrap_or(0)).min(STATUS_LABELS - 1);
        self.statuses[i].fetch_add(1, Ordering::Relaxed);
        let Some(route) = route else { return };
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = routes
            .iter_mut()
            .find(|(r, _)| Arc::ptr_eq(r, route) || **r == **route)
        {
            slot.1 += 1;
        } else if routes.len() < MAX_ROUTE_LABELS {
            routes.push((Arc::clone(route), 1));
        } else {
            match routes.iter_mut().find(|(r, _)| &**r == "other") {
                Some(slot) => slot.1 += 1,
                None => routes.push((Arc::from("other"), 1)),
            }
        }
    }

    /// `(status, count)` for every status seen.
    pub fn statuses(&self) -> Vec<(usize, u64)> {
        self.statuses
            .iter()
            .enumerate()
            .map(|(i, n)| (i, n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// `(route SPEC, count)` for every route matched (the last may be `other`).
    pub fn routes(&self) -> Vec<(String, u64)> {
        let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        routes.iter().map(|(r, n)| (r.to_string(), *n)).collect()
    }
}

/// The plan chosen for one request.
pub struct Selection {
    /// The plan to run (after `times` and `chance`).
    pub plan: Arc<Plan>,
    /// The route's SPEC, if a route matched.
    pub route: Option<Arc<str>>,
    /// The plan's place in the route's sequence, from 1.
    pub step: Option<usize>,
}

/// How many routes the 404 of an unmatched request names.
const NEAR_MISSES: usize = 3;

/// Routes and no default plan: a request no route matches is a mistake in the test (a typo
/// in a route), so it must not look like the fault under test: a `404` naming the closest
/// routes. Out of line, as `select`'s other branches.
#[inline(never)]
fn not_found_in(routes: &RouteTable, method: &str, path: &str) -> Selection {
    let reason = routes.near_miss(method, path, NEAR_MISSES);
    Selection {
        plan: Arc::new(not_found(reason)),
        route: None,
        step: None,
    }
}

/// The answer to a request no route matches when no default plan was given: `404`, and a
/// one-line body naming the closest routes.
fn not_found(reason: String) -> Plan {
    let mut body = reason.into_bytes();
    body.push(b'\n');
    Plan {
        status: Some(404),
        headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
        body: crate::plan::Body::Text(body),
        ..Plan::default()
    }
}

/// A request's plan cannot be chosen: its path plan does not parse.
pub struct BadPlan(pub PlanError);

/// The shared state of one server.
pub struct Ctx {
    /// Fixed settings.
    pub settings: Settings,
    /// The default plan.
    plan: RwLock<Arc<Plan>>,
    /// TCP mode's default plan.
    tcp_plan: RwLock<Arc<TcpPlan>>,
    /// The routes.
    routes: RwLock<Arc<RouteTable>>,
    /// `routes` is not empty.
    has_routes: AtomicBool,
    /// A default plan was given, at start or since (`PUT /__httpfault/plan`, `set_plan`).
    plan_given: AtomicBool,
    /// `times` counters of path plans and of the default plan.
    counters: Counters,
    healthy: Arc<Plan>,
    /// The request journal.
    pub journal: Journal,
    /// The stderr log.
    pub log: Logger,
    /// Counters for metrics.
    pub metrics: Metrics,
    /// Open connections, for stopping them and for one-shot mode.
    pub registry: Registry,
    /// Echo memory.
    pub echo_budget: EchoBudget,
    /// Set when the server stops.
    pub stop: AtomicBool,
    /// Connections being served now.
    pub active: AtomicUsize,
    next_conn: AtomicU64,
    /// Clones of the listening sockets, to stop them (one-shot win, stop).
    pub listeners: Mutex<Vec<std::net::TcpListener>>,
    /// More metrics for `GET /__httpfault/metrics` (`httpfault toxiproxy`'s, per proxy).
    #[allow(clippy::type_complexity)]
    pub more_metrics: std::sync::OnceLock<Box<dyn Fn(&mut String) + Send + Sync>>,
    done: Mutex<bool>,
    done_cv: Condvar,
    on_done: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Ctx {
    /// A new context.
    pub fn new(
        settings: Settings,
        plan: Plan,
        tcp_plan: TcpPlan,
        routes: RouteTable,
        journal_cap: usize,
        log: Logger,
        on_done: Option<Box<dyn FnOnce() + Send>>,
    ) -> Ctx {
        let start = Instant::now();
        let plan_given = AtomicBool::new(settings.plan_given);
        Ctx {
            plan_given,
            settings,
            plan: RwLock::new(Arc::new(plan)),
            tcp_plan: RwLock::new(Arc::new(tcp_plan)),
            has_routes: AtomicBool::new(!routes.is_empty()),
            routes: RwLock::new(Arc::new(routes)),
            counters: Counters::new(),
            healthy: Arc::new(HEALTHY),
            journal: Journal::new(journal_cap, start),
            log,
            metrics: Metrics::default(),
            registry: Registry::default(),
            echo_budget: EchoBudget::new(ECHO_BUDGET),
            stop: AtomicBool::new(false),
            active: AtomicUsize::new(0),
            next_conn: AtomicU64::new(0),
            listeners: Mutex::new(Vec::new()),
            more_metrics: std::sync::OnceLock::new(),
            done: Mutex::new(false),
            done_cv: Condvar::new(),
            on_done: Mutex::new(on_done),
        }
    }

    /// The next connection number (from 1).
    pub fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The plain `200 OK` plan.
    pub fn healthy(&self) -> Arc<Plan> {
        Arc::clone(&self.healthy)
    }

    /// Does the listener serve TLS (`--tls`)?
    pub fn serves_tls(&self) -> bool {
        self.settings.tls
    }

    /// A plan that is to become the default plan: a handshake fault needs TLS.
    pub fn check_default_plan(&self, plan: &Plan) -> Result<(), String> {
        if let Mode::Proxy(_) = self.settings.mode {
            plan.check_proxy().map_err(|e| e.to_string())?;
        }
        match plan.tls {
            Some(h) if !self.serves_tls() => Err(format!(
                "the step 'tls={h}' needs --tls (it breaks the TLS handshake)"
            )),
            _ => Ok(()),
        }
    }

    /// The default plan in force.
    pub fn plan(&self) -> Arc<Plan> {
        self.plan.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the default plan.
    pub fn set_plan(&self, plan: Plan) {
        *self.plan.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(plan);
        self.plan_given.store(true, Ordering::Release);
    }

    /// TCP mode's plan in force.
    pub fn tcp_plan(&self) -> Arc<TcpPlan> {
        self.tcp_plan
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces TCP mode's plan.
    pub fn set_tcp_plan(&self, plan: TcpPlan) {
        *self.tcp_plan.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(plan);
    }

    /// TCP mode: the plan for the next connection, after `times` and `chance` (counted per
    /// connection, the draw seeded by the connection's number).
    pub fn select_tcp(&self) -> Arc<TcpPlan> {
        let plan = self.tcp_plan();
        if plan.times.is_none() && plan.chance.is_none() {
            return plan;
        }
        let n = self.counters.next("tcp");
        let over = plan.times.is_some_and(|t| n > t);
        let unlucky = plan
            .chance
            .is_some_and(|p| router::draw(self.settings.seed, "tcp", n) >= p);
        if over || unlucky {
            Arc::new(TcpPlan::default())
        } else {
            plan
        }
    }

    /// The routes in force.
    pub fn routes(&self) -> Arc<RouteTable> {
        self.routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the routes, their counters from zero. Shadowed routes are logged as warnings.
    pub fn set_routes(&self, routes: RouteTable) {
        self.warn(&routes);
        let mut slot = self.routes.write().unwrap_or_else(|e| e.into_inner());
        self.has_routes.store(!routes.is_empty(), Ordering::Release);
        *slot = Arc::new(routes);
    }

    /// Logs one `warning` line per route that an earlier route shadows.
    pub fn warn(&self, routes: &RouteTable) {
        for w in routes.warnings() {
            self.conn_event("warning", &[("warning", Val::Str(&w))]);
        }
    }

    /// Route counters, `times` counters and the journal back to the start.
    pub fn reset(&self) {
        self.routes().reset_counters();
        self.counters.reset();
        self.journal.clear();
    }

    /// Does this request go to the control API?
    pub fn is_control(&self, target: &str) -> bool {
        self.settings.control
            && (target.starts_with(CONTROL_PREFIX)
                || (!target.starts_with('/')
                    && request::target_path(target).starts_with(CONTROL_PREFIX)))
    }

    /// Chooses the plan for a request whose head just completed: the first matching route,
    /// else the path plan (server mode only, unless `--no-path-plans`), else the default plan,
    /// or with routes and no default plan given a `404` naming the closest routes; then
    /// `times` and `chance`. `header_plan` is proxy mode's `X-Httpfault-Plan` and comes first.
    pub fn select(
        &self,
        method: &str,
        target: &str,
        header_plan: Option<&str>,
        conn_plan: Option<&Arc<Plan>>,
    ) -> Result<Selection, BadPlan> {
        let path = request::target_path(target);
        if let Some(text) = header_plan {
            return self.select_parsed(method, text, None);
        }
        // Without routes, no lock and no shared counter is touched on the request path.
        let routes = self
            .has_routes
            .load(Ordering::Acquire)
            .then(|| self.routes());
        if let Some(sel) = routes
            .as_ref()
            .and_then(|r| self.select_routed(r, method, path))
        {
            return Ok(sel);
        }
        if self.settings.mode == Mode::Serve && self.settings.path_plans {
            if let Some((text, rest)) = router::split_path_plan(path) {
                return self.select_parsed(method, text, Some(rest));
            }
        }
        // An SNI route's plan stands in for the default plan on its connections.
        if let Some(p) = conn_plan {
            return Ok(self.counted(Arc::clone(p), method, path));
        }
        if let Some(routes) = routes.filter(|r| {
            self.settings.mode == Mode::Serve
                && !self.plan_given.load(Ordering::Acquire)
                && r.has_http()
        }) {
            return Ok(not_found_in(&routes, method, path));
        }
        let plan = self.plan();
        if plan.times.is_none() && plan.chance.is_none() {
            // The common case: no counter, so no key to build (an allocation a request).
            return Ok(Selection {
                plan,
                route: None,
                step: None,
            });
        }
        Ok(self.counted(plan, method, path))
    }

    // The branches of `select` other than the default plan's live out of line (here and
    // below): parsing a plan and building a counter's key take kilobytes of stack, which
    // every connection thread would otherwise touch on its first request and keep while it
    // waits (memory per held connection).

    /// The first route matching `method` and `path`, counted.
    #[inline(never)]
    fn select_routed(&self, routes: &RouteTable, method: &str, path: &str) -> Option<Selection> {
        let sel = routes.select(method, path)?;
        let route = Some(sel.spec.clone());
        let step = usize::try_from(sel.step).ok();
        let plan = sel.plan.clone();
        // `times` and `chance` count per route and per method, so a HEAD does not use up
        // a GET's faults on a route that takes any method.
        let key = router::times_key(method, sel.spec);
        Some(self.apply_counts(plan, &key, route, step))
    }

    /// A plan given as text: proxy mode's `X-Httpfault-Plan` (`rest` is `None`), or a path
    /// plan (`rest`: the path after it), parsed and counted.
    #[inline(never)]
    fn select_parsed(
        &self,
        method: &str,
        text: &str,
        rest: Option<&str>,
    ) -> Result<Selection, BadPlan> {
        let plan = Plan::parse_with(text, &self.settings.files)
            .and_then(Plan::for_request)
            .map_err(BadPlan)?;
        let key = match rest {
            Some(rest) => router::path_times_key(method, text, rest),
            None => router::times_key(method, &format!("header {text}")),
        };
        Ok(self.apply_counts(Arc::new(plan), &key, None, None))
    }

    /// `plan` counted under the method and path.
    #[inline(never)]
    fn counted(&self, plan: Arc<Plan>, method: &str, path: &str) -> Selection {
        let key = router::times_key(method, path);
        self.apply_counts(plan, &key, None, None)
    }

    /// Counts the request under `key` if the plan needs a count, then applies the limits.
    fn apply_counts(
        &self,
        plan: Arc<Plan>,
        key: &str,
        route: Option<Arc<str>>,
        step: Option<usize>,
    ) -> Selection {
        if plan.times.is_none() && plan.chance.is_none() {
            return Selection { plan, route, step };
        }
        let n = self.counters.next(key);
        self.limit(plan, key, n, route, step)
    }

    /// `times=N`: the plan for the first N requests; `chance=P`: the plan when the seeded draw
    /// for the n-th request of this key falls under P. Otherwise the plan without its faults
    /// (its content steps only; see [`Plan::without_faults`]).
    fn limit(
        &self,
        plan: Arc<Plan>,
        key: &str,
        n: u64,
        route: Option<Arc<str>>,
        step: Option<usize>,
    ) -> Selection {
        let over = plan.times.is_some_and(|t| n > t);
        let unlucky = plan
            .chance
            .is_some_and(|p| router::draw(self.settings.seed, key, n) >= p);
        let plan = if over || unlucky {
            // What a healthy server would send: the plan's content steps, not its faults.
            let rest = plan.without_faults();
            if rest == *self.healthy {
                self.healthy.clone()
            } else {
                Arc::new(rest)
            }
        } else {
            plan
        };
        Selection { plan, route, step }
    }

    /// The plan for a TLS handshake: the first SNI route matching the server name the client
    /// sent (its SPEC and step too), else the default plan in force.
    #[cfg(feature = "tls")]
    pub fn handshake_plan(&self, sni: Option<&str>) -> Selection {
        if let Some(name) = sni {
            if self.has_routes.load(Ordering::Acquire) {
                let routes = self.routes();
                if let Some(sel) = routes.select_sni(name) {
                    return Selection {
                        plan: Arc::clone(sel.plan),
                        route: Some(sel.spec.clone()),
                        step: usize::try_from(sel.step).ok(),
                    };
                }
            }
        }
        Selection {
            plan: self.plan(),
            route: None,
            step: None,
        }
    }

    /// Records a request whose head is complete.
    pub fn begin(&self, entry: Entry) -> Arc<Entry> {
        self.journal.begin(entry)
    }

    /// Records how a request ended in the journal and the metrics, not the log (for a
    /// request the log reports as an event of its own).
    pub fn end_unlogged(
        &self,
        entry: &Entry,
        status: Option<u16>,
        bytes: u64,
        end: End,
        took: Duration,
    ) {
        self.journal.complete(entry, status, bytes, end, took);
        self.metrics.requests[end.index()].fetch_add(1, Ordering::Relaxed);
        self.metrics.count(status, entry.route_arc());
    }

    /// Records how a request ended, in the journal, the metrics and the log.
    pub fn end(&self, entry: &Entry, status: Option<u16>, bytes: u64, end: End, took: Duration) {
        self.journal.complete(entry, status, bytes, end, took);
        self.metrics.requests[end.index()].fetch_add(1, Ordering::Relaxed);
        self.metrics.count(status, entry.route_arc());
        if self.log.enabled() {
            let peer = entry.peer().to_string();
            let t = crate::control::journal::seconds(entry.t());
            let (method, target) = entry.method_target();
            let plan = entry.plan_text();
            let mut fields = vec![
                ("t", Val::Raw(&t)),
                ("conn", Val::Num(entry.conn())),
                ("peer", Val::Str(&peer)),
                ("method", Val::Str(&method)),
                ("target", Val::Str(&target)),
            ];
            if let Some(r) = entry.route() {
                fields.push(("route", Val::Str(r)));
            }
            if let Some(s) = entry.step() {
                fields.push(("step", Val::Num(s as u64)));
            }
            if let Some(s) = entry.stream() {
                fields.push(("stream", Val::Num(u64::from(s))));
            }
            fields.push(("plan", Val::Str(&plan)));
            if let Some(sni) = entry.tls() {
                fields.push(("tls", Val::Raw("true")));
                if let Some(name) = sni {
                    fields.push(("sni", Val::Str(name)));
                }
            }
            if let Some(s) = status {
                fields.push(("status", Val::Num(u64::from(s))));
            }
            let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
            fields.push(("bytes", Val::Num(bytes)));
            fields.push(("end", Val::Str(end.name())));
            fields.push(("ms", Val::Num(ms)));
            self.log.event("request", &fields);
        }
    }

    /// Logs a connection event that is not a request (refused, timeout, bad request, ...).
    pub fn conn_event(&self, event: &str, fields: &[(&str, Val<'_>)]) {
        if self.log.enabled() {
            let t = crate::control::journal::seconds(self.journal.since_start(Instant::now()));
            let mut all = vec![("t", Val::Raw(&t))];
            all.extend(fields.iter().map(|(k, v)| (*k, v.clone())));
            self.log.event(event, &all);
        }
    }

    /// Stops the listeners: blocked `accept` calls return, later connects are refused.
    pub fn stop_listening(&self) {
        for l in self
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = crate::sys::stop_listening(l);
        }
    }

    /// The server has finished on its own (one-shot request served).
    pub fn finish(&self) {
        *self.done.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.done_cv.notify_all();
        let hook = self
            .on_done
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(hook) = hook {
            hook();
        }
    }

    /// Waits until [`Ctx::finish`] or `timeout`; true if finished.
    pub fn wait_done(&self, timeout: Option<Duration>) -> bool {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        let deadline = timeout.map(|t| Instant::now() + t);
        while !*done {
            match deadline {
                None => done = self.done_cv.wait(done).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    done = self
                        .done_cv
                        .wait_timeout(done, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
        true
    }
}

/// One accepted connection as every engine knows it.
#[derive(Clone, Copy, Debug)]
pub struct Accepted {
    /// The connection's number (the journal's and the log's `conn`).
    pub id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// When it was accepted.
    pub at: Instant,
}

/// Signals the one-shot finish when the winner's connection has ended (its socket closed:
/// declared before the wire, it drops after it).
pub struct Finish<'a> {
    ctx: &'a Ctx,
    /// This connection took the one request of `--once`.
    pub won: bool,
}

impl<'a> Finish<'a> {
    /// Not the one-shot winner (yet).
    pub fn new(ctx: &'a Ctx) -> Self {
        Finish { ctx, won: false }
    }
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        if self.won {
            self.ctx.finish();
        }
    }
}
