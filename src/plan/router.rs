//! Routes, sequences and counters: `(method, path)` in, the plan for this request out. No I/O.
//!
//! A route is `[METHOD] PATH PLAN [PLAN ...]`. The plans after the path are a sequence: the
//! n-th request that matches the route gets the n-th plan, and the last plan repeats once the
//! sequence is used up. A [`RouteTable`] is immutable once built and shared behind an `Arc`;
//! only its per-route request counters change, atomically, so every connection thread can
//! select from it without a lock. Replacing the routes means building a new table.
//!
//! Also here: splitting a path plan off a base URL at its `-` segment ([`split_path_plan`]),
//! the bounded `times` counters of path plans ([`Counters`]), and the per-request random draw
//! behind `chance` ([`draw`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::plan::{path_is_plan, EscapedUpTo, Files, Plan, PlanError};

/// Most routes in one table (command line or routes file).
pub const MAX_ROUTES: usize = 10_000;
/// Most plans written in one route's sequence (`PLAN*N` counts once).
pub const MAX_SEQUENCE: usize = 10_000;
/// Most plans written in all routes of a table together: bounds the memory of a routes file.
pub const MAX_TABLE_PLANS: usize = 100_000;
/// Largest `N` in `PLAN*N`. Runs are stored as (plan, count), so this bounds only the numbers.
pub const MAX_REPEAT: u64 = 1_000_000;
/// Longest SPEC, in bytes. Enough for a sequence of thousands of short plans.
pub const MAX_SPEC_BYTES: usize = 64 * 1024;
/// Most keys a [`Counters`] map holds; the least recently used one is evicted beyond that.
pub const MAX_COUNTER_KEYS: usize = 10_000;
/// Most key bytes a [`Counters`] map holds (keys are request paths, each bounded by the head
/// limit); least recently used keys are evicted beyond that.
pub const MAX_COUNTER_BYTES: usize = 4 * 1024 * 1024;

/// What is wrong with one SPEC.
///
/// ```
/// use httpfault::{check_routes, Error, Problem, RouteError};
/// let Err(Error::Route(RouteError::Line(2, e))) = check_routes("GET /a ok\nGET /b?x ok\n") else {
///     panic!()
/// };
/// let RouteError::Spec { problem, .. } = *e else { panic!() };
/// assert_eq!(problem, Problem::Query("/b?x".into()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// Nothing but whitespace.
    Empty,
    /// Longer than 64 KiB; holds the length.
    TooLong(usize),
    /// A control byte (a newline would break the one-SPEC-a-line listing).
    Control(u8),
    /// The first word is neither an uppercase method nor a path.
    BadMethod(String),
    /// A method and nothing after it.
    NoPath,
    /// `sni` and no server name after it, or a name with a `/`.
    BadSni(String),
    /// An `sni` name no TLS client ever sends (an IP address, a character no host name
    /// has), and why.
    SniNeverMatches(String, &'static str),
    /// The path does not start with `/`.
    BadPath(String),
    /// The path has a `?` or `#`: routes match the path without its query, so it never matches.
    Query(String),
    /// No plan after the path.
    NoPlan,
    /// `PLAN*N` with a bad `N` (the whole word), or an empty plan before `*`.
    BadRepeat(String),
    /// More than 10,000 plans.
    SequenceTooLong,
    /// A plan of the sequence does not parse.
    Plan(PlanError),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Empty => f.write_str("empty route (expected [METHOD] PATH PLAN [PLAN ...])"),
            Problem::TooLong(n) => write!(f, "{n} bytes long (at most {MAX_SPEC_BYTES})"),
            Problem::Control(b) => write!(f, "control character \\x{b:02x} in the route"),
            Problem::BadMethod(m) => write!(
                f,
                "bad method '{}' (expected an uppercase token such as GET or POST, \
                 or a path starting with '/')",
                escaped(m)
            ),
            Problem::NoPath => f.write_str("no path after the method"),
            Problem::BadSni(n) => write!(
                f,
                "bad server name '{}' (expected sni NAME PLAN [PLAN ...], NAME a host name \
                 such as expired.localhost, `*` for any run of characters)",
                escaped(n)
            ),
            Problem::SniNeverMatches(n, why) => {
                write!(f, "server name '{}' can never match: {why}", escaped(n))
            }
            Problem::BadPath(p) => write!(f, "path '{}' does not start with '/'", escaped(p)),
            Problem::Query(p) => write!(
                f,
                "path '{}' has a '?' or '#' (routes match the path without its query)",
                escaped(p)
            ),
            Problem::NoPlan => f.write_str("no plan after the path (use 'ok' for a plain 200)"),
            Problem::BadRepeat(w) => write!(
                f,
                "bad repetition '{}' (expected PLAN*N with N from 1 to {MAX_REPEAT}; \
                 a literal '*' in a value is %2A)",
                escaped(w)
            ),
            Problem::SequenceTooLong => {
                write!(f, "too many plans in the sequence (at most {MAX_SEQUENCE})")
            }
            Problem::Plan(e) => e.fmt(f),
        }
    }
}

/// Why routes do not parse. The message is one line naming the route (and the line of a file).
///
/// ```
/// let err = httpfault::check_routes("# api\nGET /a rset\n").unwrap_err();
/// let httpfault::Error::Route(e) = &err else { panic!() };
/// assert!(matches!(e, httpfault::RouteError::Line(2, _)));
/// assert!(e.to_string().starts_with("line 2: route 'GET /a rset': unknown step 'rset'"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// `route 'SPEC': PROBLEM`.
    Spec {
        /// The SPEC, trimmed.
        spec: String,
        /// What is wrong with it.
        problem: Problem,
    },
    /// More than 10,000 routes.
    TooManyRoutes,
    /// More than 100,000 plans in all routes together.
    TooManyPlans,
    /// An error on a line (counted from 1) of a routes file.
    Line(usize, Box<RouteError>),
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::Spec { spec, problem } => {
                write!(f, "route '{}': {problem}", escaped(spec))
            }
            RouteError::TooManyRoutes => write!(f, "too many routes (at most {MAX_ROUTES})"),
            RouteError::TooManyPlans => write!(
                f,
                "too many plans in all routes together (at most {MAX_TABLE_PLANS})"
            ),
            RouteError::Line(n, e) => write!(f, "line {n}: {e}"),
        }
    }
}

impl std::error::Error for RouteError {
    /// The [`Problem`] of a SPEC, the error of a line, or nothing (the bounds).
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RouteError::Spec { problem, .. } => Some(problem),
            RouteError::Line(_, e) => Some(&**e),
            RouteError::TooManyRoutes | RouteError::TooManyPlans => None,
        }
    }
}

impl std::error::Error for Problem {
    /// The [`PlanError`] of a plan that does not parse.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Problem::Plan(e) => Some(e),
            _ => None,
        }
    }
}

/// User text in an error message, on one line (see [`EscapedUpTo`]); cut at 200 bytes, so a
/// hostile routes file cannot flood a log line.
fn escaped(text: &str) -> EscapedUpTo<'_> {
    EscapedUpTo(text, 200)
}

/// A path pattern: literal pieces around `*`s. `*` matches any run of bytes, `/` included.
#[derive(Debug)]
struct Glob {
    /// The text split at every `*`: one piece means no `*` at all.
    pieces: Box<[Box<str>]>,
}

impl Glob {
    fn new(pattern: &str) -> Glob {
        Glob {
            pieces: pattern.split('*').map(Box::from).collect(),
        }
    }

    /// Linear in `path.len()` whatever the pattern: with `*` as the only wildcard, the path
    /// matches iff it starts with the first piece, ends with the last, and the middle pieces
    /// occur in order in between; taking each middle piece at its leftmost occurrence is always
    /// safe (it leaves the most room for the rest), so there is no backtracking at all, and
    /// `str::find` (two-way search) is linear.
    fn matches(&self, path: &str) -> bool {
        let (first, rest) = match self.pieces.split_first() {
            Some(split) => split,
            None => return path.is_empty(),
        };
        let (last, middle) = match rest.split_last() {
            Some(split) => split,
            None => return path == &**first,
        };
        // Prefix first, then the suffix of what is left, so the two never overlap.
        let Some(mut between) = path
            .strip_prefix(&**first)
            .and_then(|r| r.strip_suffix(&**last))
        else {
            return false;
        };
        for piece in middle.iter().filter(|p| !p.is_empty()) {
            let Some(at) = between.find(&**piece) else {
                return false;
            };
            // `at + piece.len()` is a char boundary (the end of a match); `get` keeps it panic-free.
            between = between.get(at.saturating_add(piece.len())..).unwrap_or("");
        }
        true
    }
}

/// One run of a sequence: `plan` repeated until request number `end` (a prefix sum).
#[derive(Debug)]
struct Run {
    plan: Arc<Plan>,
    end: u64,
}

/// Why no TLS client's server name can ever match the `sni` pattern `name`, if so: clients
/// send no server name for an IP address (RFC 6066 section 3), and a server name is letters,
/// digits, `-` and `_` in non-empty labels whose last is not all digits.
fn sni_never_matches(name: &str) -> Option<&'static str> {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return Some(
            "it is an IP address, and clients send no server name (SNI) when they connect to \
             an IP address (use a host name such as localhost)",
        );
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '*');
    if !name.chars().all(ok) {
        return Some("a server name has only letters, digits, '-', '_', '.' (and '*' here)");
    }
    // A trailing dot (a fully qualified name) may be sent as written.
    let labels = name.strip_suffix('.').unwrap_or(name);
    if labels.split('.').any(str::is_empty) {
        return Some("it has an empty label (a leading dot or '..')");
    }
    if labels
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Some("its last label is all digits, which clients take for an IP address");
    }
    None
}

/// A parsed route: `[METHOD] PATH PLAN [PLAN ...]`, with its own request counter; or an SNI
/// route, `sni NAME PLAN [PLAN ...]`, whose plans are chosen by the server name a TLS client
/// sends, one per connection.
#[derive(Debug)]
pub struct Route {
    spec: Arc<str>,
    /// An SNI route: `path` is the server name pattern.
    sni: bool,
    method: Option<Box<str>>,
    path: Box<str>,
    glob: Glob,
    /// The runs before the last, `end`s strictly increasing.
    init: Box<[Run]>,
    /// The last run: its plan repeats once the sequence is used up.
    tail: Run,
    /// Requests claimed so far, shared by all connections.
    claimed: AtomicU64,
}

impl Route {
    /// Parses one SPEC. The SPEC text is kept as given, trimmed, for the journal and listings.
    ///
    /// A word that starts with `#` ends the SPEC: the rest is a comment (`GET /a ok # why`).
    /// A literal `#` in a plan value is written `%23` (values are percent-decoded).
    ///
    /// Pure: a `file=` body is not read; [`Route::parse_with`] reads files.
    pub fn parse(spec: &str) -> Result<Route, RouteError> {
        Route::parse_with(spec, &Files::SYNTAX)
    }

    /// [`Route::parse`], its plans reading files as `files` allows.
    pub fn parse_with(spec: &str, files: &Files) -> Result<Route, RouteError> {
        let spec = without_comment(spec).trim();
        Route::parse_trimmed(spec, files).map_err(|problem| RouteError::Spec {
            spec: spec.to_string(),
            problem,
        })
    }

    fn parse_trimmed(spec: &str, files: &Files) -> Result<Route, Problem> {
        if spec.len() > MAX_SPEC_BYTES {
            return Err(Problem::TooLong(spec.len()));
        }
        if let Some(b) = spec.bytes().find(|b| b.is_ascii_control() && *b != b'\t') {
            return Err(Problem::Control(b));
        }
        let mut words = spec.split([' ', '\t']).filter(|w| !w.is_empty());
        let first = words.next().ok_or(Problem::Empty)?;
        let sni = first == "sni";
        let (method, path) = if sni {
            let name = words.next().unwrap_or("");
            if name.is_empty() || name.contains('/') {
                return Err(Problem::BadSni(name.to_string()));
            }
            if let Some(why) = sni_never_matches(name) {
                return Err(Problem::SniNeverMatches(name.to_string(), why));
            }
            (None, name)
        } else if first.starts_with('/') {
            (None, first)
        } else if first.contains('/') {
            // `v1/items ok`: a path that lost its leading slash, not a method.
            return Err(Problem::BadPath(first.to_string()));
        } else {
            if !is_method(first) {
                return Err(Problem::BadMethod(first.to_string()));
            }
            (Some(first), words.next().ok_or(Problem::NoPath)?)
        };
        if !sni && !path.starts_with('/') {
            return Err(Problem::BadPath(path.to_string()));
        }
        if !sni && path.contains(['?', '#']) {
            return Err(Problem::Query(path.to_string()));
        }
        let mut runs: Vec<Run> = Vec::new();
        let mut end: u64 = 0;
        for word in words {
            if runs.len() == MAX_SEQUENCE {
                return Err(Problem::SequenceTooLong);
            }
            let (text, count) = parse_repeat(word)?;
            let plan = if sni {
                Plan::parse_with(text, files)
            } else {
                // A request's route comes after the handshake: no handshake faults in it.
                Plan::parse_with(text, files).and_then(Plan::for_request)
            };
            let plan = plan.map_err(Problem::Plan)?;
            // At most MAX_SEQUENCE * MAX_REPEAT = 1e10: far from overflowing.
            end = end.saturating_add(count);
            runs.push(Run {
                plan: Arc::new(plan),
                end,
            });
        }
        let tail = runs.pop().ok_or(Problem::NoPlan)?;
        // TLS stacks lowercase the name a client sends (rustls does): a server name pattern
        // matches case-insensitively, as DNS names do.
        let path = match sni {
            true => path.to_ascii_lowercase(),
            false => path.to_string(),
        };
        Ok(Route {
            spec: Arc::from(spec),
            sni,
            method: method.map(Box::from),
            glob: Glob::new(&path),
            path: path.into_boxed_str(),
            init: runs.into_boxed_slice(),
            tail,
            claimed: AtomicU64::new(0),
        })
    }

    /// The SPEC text, trimmed, as given.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// The method this route is limited to, if any.
    pub fn method(&self) -> Option<&str> {
        self.method.as_deref()
    }

    /// The path pattern (`*` matches any run of characters).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The length of the expanded sequence (`reset*2 ok` is 3).
    pub fn sequence_len(&self) -> u64 {
        self.tail.end
    }

    /// The number of plans written in the sequence (`reset*2 ok` is 2).
    fn plans_written(&self) -> usize {
        self.init.len().saturating_add(1)
    }

    /// Does a request with this method and path (without its query) match?
    pub fn matches(&self, method: &str, path: &str) -> bool {
        !self.sni && self.method.as_deref().map_or(true, |m| m == method) && self.glob.matches(path)
    }

    /// The plan for the n-th request (from 1) and its step: the position in the expanded
    /// sequence, which stays at the last plan once the sequence is used up.
    pub fn plan_for(&self, n: u64) -> (u64, &Arc<Plan>) {
        let step = n.clamp(1, self.sequence_len().max(1));
        // The first run whose end reaches `step`: a binary search over the prefix sums, so a
        // `PLAN*1000000` costs one run, not a million plans.
        let i = self.init.partition_point(|r| r.end < step);
        let run = self.init.get(i).unwrap_or(&self.tail);
        (step, &run.plan)
    }

    /// Claims this route's next request number (the route being `index` in its table) and
    /// selects its plan for it.
    fn claim(&self, index: usize) -> Selected<'_> {
        // Relaxed is enough: the counter orders nothing but itself, and fetch_add hands every
        // number out exactly once. It cannot wrap in practice (2^64 requests); saturate anyway.
        let n = self
            .claimed
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        let (step, plan) = self.plan_for(n);
        Selected {
            index,
            spec: &self.spec,
            step,
            n,
            plan,
        }
    }
}

/// The SPEC up to its first word that starts with `#` (a comment), or all of it.
fn without_comment(spec: &str) -> &str {
    let bytes = spec.as_bytes();
    let at = bytes.iter().enumerate().position(|(i, b)| {
        *b == b'#' && (i == 0 || matches!(bytes.get(i.wrapping_sub(1)), Some(b' ' | b'\t')))
    });
    // `#` is ASCII, so `at` is a char boundary.
    at.and_then(|at| spec.get(..at)).unwrap_or(spec)
}

/// An HTTP method as a route writes it: a token (RFC 9110 tchar) without lowercase letters
/// that starts with an uppercase letter (`GET`, `POST`, `M-SEARCH`). `*` is left out so that
/// nothing in a route but a path or a repetition holds it.
fn is_method(word: &str) -> bool {
    word.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
        && word
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"!#$%&'+-.^_`|~".contains(&b))
}

/// Splits `PLAN*N` into the plan text and N; a word without `*` is the plan once.
fn parse_repeat(word: &str) -> Result<(&str, u64), Problem> {
    let Some((text, count)) = word.split_once('*') else {
        return Ok((word, 1));
    };
    let bad = || Problem::BadRepeat(word.to_string());
    // Digits only: no sign, no second `*`, no spaces; u64 parsing refuses the overflowing.
    if text.is_empty() || count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n = count
        .parse::<u64>()
        .ok()
        .filter(|n| (1..=MAX_REPEAT).contains(n))
        .ok_or_else(bad)?;
    Ok((text, n))
}

/// What [`RouteTable::select`] found: the route, its request number and the plan to use.
#[derive(Debug)]
pub struct Selected<'a> {
    /// The route's position in the table, from 0.
    pub index: usize,
    /// The route's SPEC text (for `route` in the journal); cloning the `Arc` is cheap.
    pub spec: &'a Arc<str>,
    /// Which plan of the expanded sequence was used, from 1 (`step` in the journal).
    pub step: u64,
    /// This request's number on the route, from 1.
    pub n: u64,
    /// The plan to run.
    pub plan: &'a Arc<Plan>,
}

/// The routes in force, in order. Immutable once built (share it behind an `Arc` and replace
/// it whole); only the request counters change, atomically.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Box<[Route]>,
    /// Where each route was written (`line 3`, `route 2`), for warnings.
    origins: Box<[Origin]>,
    /// Routes that an earlier route shadows, found when the table was built.
    shadowed: Box<[Shadowed]>,
}

/// Where a route was written: a line of a routes file, or the n-th `--route`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A line of a routes file, from 1.
    Line(usize),
    /// The n-th `--route` (or `Builder::route`), from 1.
    Arg(usize),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Line(n) => write!(f, "line {n}"),
            Origin::Arg(n) => write!(f, "route {n}"),
        }
    }
}

/// A route that can never match, because an earlier one matches every request it would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shadowed {
    /// The shadowed route's position in the table, from 0.
    pub index: usize,
    /// The earlier route's position, from 0.
    pub by: usize,
}

/// Most (earlier glob route, later route) pairs compared when looking for shadowed routes:
/// bounds the work of a table of thousands of globs (literal paths cost a hash lookup each).
const MAX_SHADOW_CHECKS: usize = 1_000_000;

/// Builds a table, counting routes and plans against the bounds as they come.
#[derive(Default)]
struct TableBuilder {
    routes: Vec<Route>,
    origins: Vec<Origin>,
    plans: usize,
    /// What `file=` steps may read.
    files: Files,
}

impl TableBuilder {
    fn push(&mut self, route: Route, origin: Origin) -> Result<(), RouteError> {
        if self.routes.len() == MAX_ROUTES {
            return Err(RouteError::TooManyRoutes);
        }
        self.plans = self.plans.saturating_add(route.plans_written());
        if self.plans > MAX_TABLE_PLANS {
            return Err(RouteError::TooManyPlans);
        }
        self.routes.push(route);
        self.origins.push(origin);
        Ok(())
    }

    /// The lines of a routes file: blank lines and lines whose first non-blank character is
    /// `#` are skipped, and so is a UTF-8 byte order mark before the first line.
    fn file(&mut self, text: &str) -> Result<(), RouteError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (i, line) in text.lines().enumerate() {
            let n = i.saturating_add(1);
            let at = |e: RouteError| RouteError::Line(n, Box::new(e));
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if self.routes.len() == MAX_ROUTES {
                return Err(at(RouteError::TooManyRoutes));
            }
            let route = Route::parse_with(line, &self.files).map_err(at)?;
            self.push(route, Origin::Line(n)).map_err(at)?;
        }
        Ok(())
    }

    fn specs(&mut self, specs: &[String]) -> Result<(), RouteError> {
        if self.routes.len().saturating_add(specs.len()) > MAX_ROUTES {
            return Err(RouteError::TooManyRoutes);
        }
        for (i, spec) in specs.iter().enumerate() {
            let route = Route::parse_with(spec, &self.files)?;
            self.push(route, Origin::Arg(i.saturating_add(1)))?;
        }
        Ok(())
    }

    fn build(self) -> RouteTable {
        let shadowed = find_shadowed(&self.routes);
        RouteTable {
            routes: self.routes.into_boxed_slice(),
            origins: self.origins.into_boxed_slice(),
            shadowed: shadowed.into_boxed_slice(),
        }
    }
}

/// Every route that an earlier route shadows, with the earliest such route. Sound, not
/// complete: a reported route can never match, but an odd pair of globs may go unreported.
fn find_shadowed(routes: &[Route]) -> Vec<Shadowed> {
    // A route covers another when its method is none or the same, and its path matches every
    // path the other one does. A literal path is covered by an earlier equal literal (a hash
    // lookup) or by an earlier glob that matches it. A glob is covered by an earlier glob that
    // matches the glob's own text with its `*`s as plain characters: each of them then falls
    // where the earlier glob has a `*` of its own (its literal pieces hold no `*`), which
    // matches whatever the `*` stands for. A literal never covers a glob.
    let mut literals: HashMap<(Option<&str>, &str), usize> = HashMap::new();
    let mut globs: Vec<usize> = Vec::new();
    let mut checks: usize = 0;
    let mut found = Vec::new();
    for (j, b) in routes.iter().enumerate() {
        let is_glob = b.path.contains('*');
        let mut by: Option<usize> = None;
        if !is_glob {
            let any = literals.get(&(None, &*b.path)).copied();
            let same = b
                .method
                .as_deref()
                .and_then(|m| literals.get(&(Some(m), &*b.path)).copied());
            by = match (any, same) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            };
        }
        for &i in &globs {
            if by.is_some_and(|k| k < i) || checks >= MAX_SHADOW_CHECKS {
                break;
            }
            checks = checks.saturating_add(1);
            let Some(a) = routes.get(i) else { break };
            let method_covers = a.method.is_none() || a.method == b.method;
            // SNI routes match server names, HTTP routes paths: neither covers the other.
            if method_covers && a.sni == b.sni && a.glob.matches(&b.path) {
                by = Some(by.map_or(i, |k| k.min(i)));
                break;
            }
        }
        if let Some(i) = by {
            found.push(Shadowed { index: j, by: i });
        }
        if is_glob {
            globs.push(j);
        } else {
            literals.entry((b.method.as_deref(), &*b.path)).or_insert(j);
        }
    }
    found
}

impl RouteTable {
    /// Routes from `--route` arguments, in order. An error names the route.
    pub fn parse_specs(specs: &[String]) -> Result<RouteTable, RouteError> {
        let mut b = TableBuilder::default();
        b.specs(specs)?;
        Ok(b.build())
    }

    /// Routes from the text of a routes file: one SPEC a line; blank lines and lines whose first
    /// non-blank character is `#` are ignored, and so is a UTF-8 byte order mark. An error
    /// names the line (from 1) and the route.
    ///
    /// Pure: a `file=` body is not read; [`RouteTable::parse_file_with`] reads files.
    pub fn parse_file(text: &str) -> Result<RouteTable, RouteError> {
        RouteTable::parse_file_with(text, &Files::SYNTAX)
    }

    /// [`RouteTable::parse_file`], its plans reading files as `files` allows.
    pub fn parse_file_with(text: &str, files: &Files) -> Result<RouteTable, RouteError> {
        let mut b = TableBuilder {
            files: files.clone(),
            ..TableBuilder::default()
        };
        b.file(text)?;
        Ok(b.build())
    }

    /// The routes of a routes file's text, then `--route` SPECs, as one table; their plans
    /// read files as `files` allows.
    pub fn parse_file_and_specs(
        text: &str,
        specs: &[String],
        files: &Files,
    ) -> Result<RouteTable, RouteError> {
        let mut b = TableBuilder {
            files: files.clone(),
            ..TableBuilder::default()
        };
        b.file(text)?;
        b.specs(specs)?;
        Ok(b.build())
    }

    /// Where the route at `index` was written.
    pub fn origin(&self, index: usize) -> Option<Origin> {
        self.origins.get(index).copied()
    }

    /// The routes that an earlier route shadows (they never match), in order.
    pub fn shadowed(&self) -> &[Shadowed] {
        &self.shadowed
    }

    /// One line per shadowed route, naming both routes and where they were written:
    /// `line 3: route 'GET /a ok' never matches: line 1 'GET /a reset' matches first`.
    pub fn warnings(&self) -> Vec<String> {
        self.shadowed
            .iter()
            .filter_map(|s| {
                let (later, earlier) = (self.routes.get(s.index)?, self.routes.get(s.by)?);
                Some(format!(
                    "{}: route '{}' never matches: {} '{}' matches every request it would",
                    self.origin(s.index)?,
                    escaped(later.spec()),
                    self.origin(s.by)?,
                    escaped(earlier.spec()),
                ))
            })
            .collect()
    }

    /// A one-line reason for a request that no route matches, naming the closest routes
    /// (at most `most`): ranked by the distance between the paths, plus 2 when the route
    /// is for another method (as WireMock's near-miss report does).
    pub fn near_miss(&self, method: &str, path: &str, most: usize) -> String {
        let mut ranked: Vec<(usize, usize)> = self
            .routes
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let other_method = r.method.as_deref().is_some_and(|m| m != method);
                let d = distance(path, &r.path).saturating_add(if other_method { 2 } else { 0 });
                (d, i)
            })
            .collect();
        ranked.sort_unstable();
        let mut line = format!("no route matches {} {}", escaped(method), escaped(path));
        for (k, (_, i)) in ranked.iter().take(most).enumerate() {
            line.push_str(if k == 0 { "; closest: " } else { ", " });
            if let Some(r) = self.routes.get(*i) {
                line.push_str(&format!("'{}'", EscapedUpTo(r.spec(), 100)));
            }
        }
        line
    }

    /// The number of routes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// No routes at all.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The routes, in order.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The SPEC texts, in order.
    pub fn specs(&self) -> impl Iterator<Item = &str> {
        self.routes.iter().map(Route::spec)
    }

    /// The routes as the text of a routes file, one SPEC a line (for `GET /__httpfault/routes`);
    /// empty when there are none. Parsing it back gives the same routes.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for spec in self.specs() {
            text.push_str(spec);
            text.push('\n');
        }
        text
    }

    /// The first route whose method (if it has one) and path match, and the plan for this
    /// request. Selecting claims the route's next request number: call it once per request,
    /// when its head is complete. `path` is the request path without its query.
    pub fn select(&self, method: &str, path: &str) -> Option<Selected<'_>> {
        let (index, route) = self
            .routes
            .iter()
            .enumerate()
            .find(|(_, r)| r.matches(method, path))?;
        Some(route.claim(index))
    }

    /// The first SNI route whose name pattern matches `name` (case-insensitive, as DNS names
    /// are; the client sends it lowercase as a rule), and its plan for this connection.
    pub fn select_sni(&self, name: &str) -> Option<Selected<'_>> {
        let name = name.to_ascii_lowercase();
        let (index, route) = self
            .routes
            .iter()
            .enumerate()
            .find(|(_, r)| r.sni && r.glob.matches(&name))?;
        Some(route.claim(index))
    }

    /// The server names of the SNI routes that have no `*`: the certificate made at start
    /// names them too, since clients refuse a wildcard just under `localhost`.
    pub fn sni_names(&self) -> Vec<String> {
        self.routes
            .iter()
            .filter(|r| r.sni && !r.path.contains('*'))
            .map(|r| r.path.to_string())
            .collect()
    }

    /// Is there a route for HTTP requests (not an SNI route)?
    pub fn has_http(&self) -> bool {
        self.routes.iter().any(|r| !r.sni)
    }

    /// Is there an SNI route?
    pub fn has_sni(&self) -> bool {
        self.routes.iter().any(|r| r.sni)
    }

    /// Puts every route's counter back to zero (`POST /__httpfault/reset`).
    pub fn reset_counters(&self) {
        for route in self.routes.iter() {
            route.claimed.store(0, Ordering::Relaxed);
        }
    }
}

/// Most bytes of each path compared by [`distance`]: a near-miss report ranks thousands of
/// routes, so each comparison is bounded (64 x 64 steps).
const DISTANCE_BYTES: usize = 64;

/// The Levenshtein distance between the first 64 bytes of two paths, plus the difference of
/// the lengths beyond that.
fn distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let tail = a.len().abs_diff(b.len());
    let a = a.get(..DISTANCE_BYTES).unwrap_or(a);
    let b = b.get(..DISTANCE_BYTES).unwrap_or(b);
    // Two rows of the classic table; `windows(2)` gives each cell's diagonal and upper
    // neighbours without an index that could be out of bounds.
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = Vec::with_capacity(prev.len());
    for (i, ca) in a.iter().enumerate() {
        cur.clear();
        cur.push(i.saturating_add(1));
        for (cb, pair) in b.iter().zip(prev.windows(2)) {
            let &[diag, up] = pair else { break };
            let left = cur.last().copied().unwrap_or(0);
            let substitute = diag.saturating_add(usize::from(ca != cb));
            cur.push(
                substitute
                    .min(up.saturating_add(1))
                    .min(left.saturating_add(1)),
            );
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let within = prev.last().copied().unwrap_or(0);
    // The bytes past the first 64 count only by how much longer one path is.
    within.max(tail)
}

/// Splits a path plan off a base URL: `/times=2/reset/-/v1/items` is the plan
/// `/times=2/reset` and the client's path `/v1/items`. `None` when the path is not a plan
/// (its first segment is not a step name). The plan ends before the first segment that is
/// exactly `-`; the rest after it starts with `/` (`"/"` when nothing follows). Without a `-`
/// segment the whole path is the plan and the rest is `""`. `path` has no query.
pub fn split_path_plan(path: &str) -> Option<(&str, &str)> {
    if !path_is_plan(path) {
        return None;
    }
    // A `/` inside a plan value is written `%2F`, so every `/` here separates segments, and a
    // step never is `-`: the first `-` segment is the end of the plan.
    let mut from = 0;
    while let Some(found) = path.get(from..).and_then(|p| p.find("/-")) {
        let at = from.saturating_add(found);
        let after = path.get(at.saturating_add(2)..).unwrap_or("");
        if after.is_empty() {
            return Some((path.get(..at)?, "/"));
        }
        if after.starts_with('/') {
            return Some((path.get(..at)?, after));
        }
        from = at.saturating_add(2);
    }
    Some((path, ""))
}

/// The key of a `times` and `chance` counter: per method and per `what` (a route's SPEC, a
/// default plan's path), so `HEAD` does not use up `GET`'s faults.
pub fn times_key(method: &str, what: &str) -> String {
    path_times_key(method, what, "")
}

/// The key of a path plan's counter: per method, per plan up to `-` and per client path after
/// it (as the step table says, "the first N requests to this exact path"), so an SDK that
/// calls `/token` before `/items` through one base URL does not use up `/items`' faults on
/// `/token`. The base URL with and without its trailing `/` is one path (`rest` is `"/"`).
pub fn path_times_key(method: &str, plan_text: &str, rest: &str) -> String {
    let mut key = String::with_capacity(
        method
            .len()
            .saturating_add(plan_text.len())
            .saturating_add(rest.len())
            .saturating_add(2),
    );
    key.push_str(method);
    key.push(' ');
    key.push_str(plan_text);
    if !rest.is_empty() {
        key.push_str(" -");
        key.push_str(rest);
    }
    key
}

/// The random number in [0, 1) behind `chance` for the n-th request of a route (key: its SPEC
/// text) or of a path plan (key: its counter key). A pure function of its inputs, so a test's
/// outcomes never depend on other traffic.
pub fn draw(seed: u64, key: &str, n: u64) -> f64 {
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    // FNV-1a over the key, started from the mixed seed, then SplitMix64's finalizer over the
    // request number: similar keys and neighbouring numbers still give unrelated draws.
    let mut h = mix64(seed ^ 0xcbf2_9ce4_8422_2325);
    for b in key.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
    }
    h = mix64(h ^ mix64(n));
    // 53 random bits: every value is exact in f64, and the result stays below 1.
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// SplitMix64's output function (Steele, Lea, Flood 2014): a bijection that spreads every input
/// bit over every output bit.
fn mix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Request counters by key (path plans' `times`), bounded to [`MAX_COUNTER_KEYS`] keys and
/// [`MAX_COUNTER_BYTES`] of key text.
///
/// When full, the least recently used key is evicted, not the oldest: a test's keys are the
/// ones in use, and evicting one would restart its count and repeat faults it has used up,
/// while a key nobody asked for in a while (an earlier test, a scan of random paths) costs
/// nothing to forget. Exact LRU in O(log n) a call: a map from key to count and tick, and an
/// ordered map from tick to key.
#[derive(Debug, Default)]
pub struct Counters {
    inner: Mutex<Lru>,
}

#[derive(Debug, Default)]
struct Lru {
    counts: HashMap<Arc<str>, Slot>,
    by_use: BTreeMap<u64, Arc<str>>,
    tick: u64,
    bytes: usize,
}

#[derive(Debug)]
struct Slot {
    count: u64,
    tick: u64,
}

impl Counters {
    /// An empty map.
    pub fn new() -> Counters {
        Counters::default()
    }

    /// Counts one more request for `key` and returns its number: 1 for the first.
    pub fn next(&self, key: &str) -> u64 {
        let mut guard = self.lock();
        let lru = &mut *guard;
        // One tick a call: 2^64 calls never happen, saturate anyway.
        lru.tick = lru.tick.saturating_add(1);
        let tick = lru.tick;
        if let Some(slot) = lru.counts.get_mut(key) {
            if let Some(k) = lru.by_use.remove(&slot.tick) {
                lru.by_use.insert(tick, k);
            }
            slot.tick = tick;
            slot.count = slot.count.saturating_add(1);
            return slot.count;
        }
        while !lru.counts.is_empty()
            && (lru.counts.len() >= MAX_COUNTER_KEYS
                || lru.bytes.saturating_add(key.len()) > MAX_COUNTER_BYTES)
        {
            let Some((_, old)) = lru.by_use.pop_first() else {
                break;
            };
            lru.bytes = lru.bytes.saturating_sub(old.len());
            lru.counts.remove(&*old);
        }
        let k: Arc<str> = Arc::from(key);
        lru.bytes = lru.bytes.saturating_add(key.len());
        lru.by_use.insert(tick, Arc::clone(&k));
        lru.counts.insert(k, Slot { count: 1, tick });
        1
    }

    /// Forgets every key (`POST /__httpfault/reset`).
    pub fn reset(&self) {
        let mut lru = self.lock();
        *lru = Lru::default();
    }

    /// The number of keys held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().counts.len()
    }

    /// No keys held.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A panic elsewhere while holding the lock leaves the map consistent (every update is
    /// complete before anything can panic), so a poisoned lock is used as it is.
    fn lock(&self) -> MutexGuard<'_, Lru> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{EndKind, Offset};
    use std::time::{Duration, Instant};

    fn route(spec: &str) -> Route {
        Route::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"))
    }

    fn problem(spec: &str) -> Problem {
        match Route::parse(spec) {
            Err(RouteError::Spec { problem, .. }) => problem,
            other => panic!("{spec}: expected a SPEC error, got {other:?}"),
        }
    }

    fn table(specs: &[&str]) -> RouteTable {
        let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
        RouteTable::parse_specs(&specs).unwrap()
    }

    /// The canonical text of the plan used for each of the first `count` requests.
    fn sequence(r: &RouteTable, method: &str, path: &str, count: usize) -> Vec<String> {
        (0..count)
            .map(|_| r.select(method, path).unwrap().plan.to_string())
            .collect()
    }

    // ---- parsing ----

    #[test]
    fn method_is_optional() {
        let r = route("POST /v1/upload reset");
        assert_eq!(r.method(), Some("POST"));
        assert_eq!(r.path(), "/v1/upload");
        let r = route("/v1/upload reset");
        assert_eq!(r.method(), None);
        assert_eq!(r.path(), "/v1/upload");
        assert!(route("M-SEARCH / ok").matches("M-SEARCH", "/"));
    }

    #[test]
    fn spec_is_kept_trimmed_as_given() {
        let r = route("  \tPOST   /v1/upload\treset=1m*2   status=201 \r");
        assert_eq!(r.spec(), "POST   /v1/upload\treset=1m*2   status=201");
        assert_eq!(r.sequence_len(), 3);
    }

    #[test]
    fn plans_parse_with_the_plan_language() {
        let r = route("GET /x status=503/header=Retry-After:1 reset=6 ok");
        let plans: Vec<String> = [1, 2, 3]
            .iter()
            .map(|n| r.plan_for(*n).1.to_string())
            .collect();
        assert_eq!(plans, ["status=503/header=Retry-After:1", "reset=6", ""]);
        assert_eq!(*r.plan_for(3).1.as_ref(), Plan::default());
        let reset = r.plan_for(2).1;
        assert_eq!(reset.ending.map(|e| e.kind), Some(EndKind::Reset));
        assert_eq!(reset.ending.and_then(|e| e.at), Some(Offset::Body(6)));
    }

    #[test]
    fn repetition() {
        let r = route("/x reset*2 status=503*3 ok");
        assert_eq!(r.sequence_len(), 6);
        let steps: Vec<(u64, String)> = (1..=8)
            .map(|n| {
                let (s, p) = r.plan_for(n);
                (s, p.to_string())
            })
            .collect();
        let want = [
            (1, "reset"),
            (2, "reset"),
            (3, "status=503"),
            (4, "status=503"),
            (5, "status=503"),
            (6, ""),
            (6, ""),
            (6, ""),
        ];
        let want: Vec<(u64, String)> = want.iter().map(|(s, p)| (*s, p.to_string())).collect();
        assert_eq!(steps, want);
        let big = route("/x reset*1000000 ok");
        assert_eq!(big.sequence_len(), 1_000_001);
        assert_eq!(big.plan_for(1_000_000).1.to_string(), "reset");
        assert_eq!(big.plan_for(1_000_001).1.to_string(), "");
    }

    #[test]
    fn percent_2a_is_a_literal_star() {
        let r = route("/x text=a%2Ab*2");
        assert_eq!(r.sequence_len(), 2);
        assert_eq!(
            r.plan_for(1).1.body,
            crate::plan::Body::Text(b"a*b".to_vec())
        );
    }

    #[test]
    fn bad_repetitions() {
        for word in [
            "reset*0",
            "reset*abc",
            "reset*",
            "*3",
            "reset*-1",
            "reset*+2",
            "reset*2*3",
        ] {
            assert_eq!(
                problem(&format!("/x {word}")),
                Problem::BadRepeat(word.to_string()),
                "{word}"
            );
        }
        for huge in ["reset*1000001", "reset*99999999999999999999999"] {
            assert!(matches!(
                problem(&format!("/x {huge}")),
                Problem::BadRepeat(_)
            ));
        }
        assert!(Route::parse("/x reset*1000000").is_ok());
        // A star in plan text is always the repetition, even inside a value.
        assert!(matches!(problem("/x text=a*b"), Problem::BadRepeat(_)));
    }

    #[test]
    fn sni_routes_match_server_names_never_paths() {
        let t = RouteTable::parse_specs(&[
            "sni expired.localhost tls=expired".into(),
            "sni *.flaky.localhost tls=reset*2 ok".into(),
            "GET /x status=201".into(),
        ])
        .unwrap();
        assert!(t.has_sni() && t.has_http());
        assert_eq!(t.sni_names(), ["expired.localhost"]);
        assert!(t.select("GET", "expired.localhost").is_none());
        assert_eq!(t.select("GET", "/x").unwrap().index, 2);
        let pick = |name: &str| t.select_sni(name).map(|s| s.plan.to_string());
        assert_eq!(pick("EXPIRED.localhost").as_deref(), Some("tls=expired"));
        assert_eq!(pick("a.flaky.localhost").as_deref(), Some("tls=reset"));
        assert_eq!(pick("b.flaky.localhost").as_deref(), Some("tls=reset"));
        assert_eq!(pick("a.flaky.localhost").as_deref(), Some(""));
        assert_eq!(pick("localhost"), None);
        assert!(t.shadowed().is_empty());
        // SNI routes may hold handshake faults, request routes may not.
        assert!(matches!(problem("sni"), Problem::BadSni(_)));
        // Issue 24 item 21: capitals match the lowercase name TLS stacks hand over, and
        // names no client sends are refused, naming the name.
        let specs = ["sni Expired.LOCALHOST tls=expired".into()];
        let t = RouteTable::parse_file_and_specs("", &specs, &Files::SYNTAX).unwrap();
        assert_eq!(
            t.select_sni("expired.localhost")
                .map(|s| s.plan.to_string()),
            Some("tls=expired".to_string())
        );
        assert_eq!(t.sni_names(), ["expired.localhost"]);
        for never in [
            "127.0.0.1",
            "::1",
            "[::1]",
            "localhost:8443",
            "a..localhost",
            ".localhost",
            "host.123",
            "caf\u{e9}.localhost",
        ] {
            let p = problem(&format!("sni {never} ok"));
            assert!(
                matches!(&p, Problem::SniNeverMatches(n, _) if n == never),
                "{never}: {p:?}"
            );
            // (Non-ASCII is shown escaped, `caf\xc3\xa9`.)
            assert!(p.to_string().contains(never) || !never.is_ascii(), "{p}");
        }
        for fine in [
            "*.localhost",
            "a_b.localhost",
            "localhost.",
            "*",
            "x-1.test",
        ] {
            assert!(Route::parse(&format!("sni {fine} ok")).is_ok(), "{fine}");
        }
        assert!(matches!(problem("sni a/b ok"), Problem::BadSni(_)));
        assert!(matches!(
            problem("GET /x tls=reset"),
            Problem::Plan(PlanError::Handshake(_))
        ));
    }

    #[test]
    fn bad_methods_and_paths() {
        assert_eq!(problem("get /x ok"), Problem::BadMethod("get".into()));
        assert_eq!(problem("Get /x ok"), Problem::BadMethod("Get".into()));
        assert_eq!(problem("reset"), Problem::BadMethod("reset".into()));
        assert_eq!(problem("G*T /x ok"), Problem::BadMethod("G*T".into()));
        assert_eq!(problem("v1/items ok"), Problem::BadPath("v1/items".into()));
        assert_eq!(
            problem("GET v1/items ok"),
            Problem::BadPath("v1/items".into())
        );
        assert_eq!(problem("GET"), Problem::NoPath);
        assert_eq!(problem("GET /x"), Problem::NoPlan);
        assert_eq!(problem("/x"), Problem::NoPlan);
        assert_eq!(problem("   "), Problem::Empty);
        assert_eq!(problem("/x?a=1 ok"), Problem::Query("/x?a=1".into()));
        assert_eq!(problem("/x ok\nGET /y ok"), Problem::Control(b'\n'));
    }

    #[test]
    fn bad_plans_name_the_route() {
        let e = Route::parse("POST /v1/upload rset").unwrap_err();
        assert!(matches!(
            &e,
            RouteError::Spec { problem: Problem::Plan(PlanError::UnknownStep(s)), .. } if s == "rset"
        ));
        let msg = e.to_string();
        assert!(
            msg.starts_with("route 'POST /v1/upload rset': unknown step 'rset' (expected one of: "),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
        // `ok` only stands alone.
        assert!(matches!(problem("/x ok/status=201"), Problem::Plan(_)));
        assert!(matches!(problem("/x status=99"), Problem::Plan(_)));
    }

    #[test]
    fn bounds_on_a_spec() {
        let long = format!("/x {}", "ok ".repeat(MAX_SPEC_BYTES / 3));
        assert!(matches!(problem(&long), Problem::TooLong(_)));
        let many = format!("/x {}", "ok ".repeat(MAX_SEQUENCE + 1));
        assert!(many.trim().len() <= MAX_SPEC_BYTES);
        assert_eq!(problem(&many), Problem::SequenceTooLong);
        let most = format!("/x {}", "ok ".repeat(MAX_SEQUENCE));
        assert_eq!(route(&most).sequence_len(), 10_000);
    }

    #[test]
    fn error_messages_escape_and_cut_hostile_text() {
        let spec = format!("/x \u{1b}[31m{}", "a".repeat(1000));
        let msg = Route::parse(&spec).unwrap_err().to_string();
        assert!(msg.contains("\\x1b"), "{msg}");
        assert!(msg.len() < 600, "{}", msg.len());
        assert!(!msg.bytes().any(|b| b.is_ascii_control()));
    }

    #[test]
    fn routes_files() {
        let text = "# routes for the SDK test\n\n  # indented comment\nGET /v1/items ok\r\n\
                    \tPOST /v1/upload reset*2 status=201  \n/health ok\n";
        let t = RouteTable::parse_file(text).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(
            t.specs().collect::<Vec<_>>(),
            [
                "GET /v1/items ok",
                "POST /v1/upload reset*2 status=201",
                "/health ok"
            ]
        );
        assert_eq!(
            t.to_text(),
            "GET /v1/items ok\nPOST /v1/upload reset*2 status=201\n/health ok\n"
        );
        let again = RouteTable::parse_file(&t.to_text()).unwrap();
        assert_eq!(again.to_text(), t.to_text());

        for empty in ["", "\n\n", "# nothing\n   \n"] {
            let t = RouteTable::parse_file(empty).unwrap();
            assert!(t.is_empty());
            assert_eq!(t.to_text(), "");
            assert!(t.select("GET", "/").is_none());
        }
    }

    #[test]
    fn file_errors_name_the_line() {
        let text = "# header\nGET /v1/items ok\n\nPOST /v1/upload rset\n";
        let e = RouteTable::parse_file(text).unwrap_err();
        assert!(
            matches!(&e, RouteError::Line(4, inner) if matches!(**inner, RouteError::Spec { .. }))
        );
        let msg = e.to_string();
        assert!(
            msg.starts_with("line 4: route 'POST /v1/upload rset': unknown step 'rset'"),
            "{msg}"
        );
        let e = RouteTable::parse_file("GET /x ok\nget /y ok\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2: route 'get /y ok': bad method 'get' (expected an uppercase token such as \
             GET or POST, or a path starting with '/')"
        );
    }

    #[test]
    fn spec_errors_name_the_route() {
        let specs = vec!["GET /a ok".to_string(), "/b reset*0".to_string()];
        let msg = RouteTable::parse_specs(&specs).unwrap_err().to_string();
        assert!(
            msg.starts_with("route '/b reset*0': bad repetition 'reset*0'"),
            "{msg}"
        );
    }

    #[test]
    fn bounds_on_a_table() {
        let line = "/x ok\n";
        let ok = line.repeat(MAX_ROUTES);
        assert_eq!(RouteTable::parse_file(&ok).unwrap().len(), MAX_ROUTES);
        let too_many = format!("{ok}# a comment does not count\n{line}");
        let e = RouteTable::parse_file(&too_many).unwrap_err();
        assert_eq!(
            e,
            RouteError::Line(MAX_ROUTES + 2, Box::new(RouteError::TooManyRoutes))
        );
        let specs = vec!["/x ok".to_string(); MAX_ROUTES + 1];
        assert_eq!(
            RouteTable::parse_specs(&specs).unwrap_err(),
            RouteError::TooManyRoutes
        );

        let wide = format!("/x {}\n", "ok ".repeat(MAX_SEQUENCE));
        let lines = MAX_TABLE_PLANS / MAX_SEQUENCE;
        assert!(RouteTable::parse_file(&wide.repeat(lines)).is_ok());
        let e = RouteTable::parse_file(&wide.repeat(lines + 1)).unwrap_err();
        assert_eq!(
            e,
            RouteError::Line(lines + 1, Box::new(RouteError::TooManyPlans))
        );
    }

    // ---- routes files: byte order mark, comments, shadowed routes (issue 17 item 5) ----

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let t = RouteTable::parse_file("\u{feff}GET /a ok\nPOST /b reset\n").unwrap();
        assert_eq!(
            t.specs().collect::<Vec<_>>(),
            ["GET /a ok", "POST /b reset"]
        );
        // Only before the first line: elsewhere it is still a bad method.
        assert!(RouteTable::parse_file("GET /a ok\n\u{feff}GET /b ok\n").is_err());
    }

    #[test]
    fn a_word_starting_with_hash_ends_the_route() {
        let t = RouteTable::parse_file("GET /a ok # the health check\n/b reset\t#why\n").unwrap();
        assert_eq!(t.specs().collect::<Vec<_>>(), ["GET /a ok", "/b reset"]);
        assert_eq!(
            route("/c text=a%23b #c").plan_for(1).1.to_string(),
            "text=a%23b"
        );
        assert_eq!(
            route("/c text=a%23b").plan_for(1).1.body,
            crate::plan::Body::Text(b"a#b".to_vec())
        );
        // Inside a word it is no comment: a path with `#` is still refused.
        assert!(matches!(
            Route::parse("/a#b ok"),
            Err(RouteError::Spec {
                problem: Problem::Query(_),
                ..
            })
        ));
        assert_eq!(
            Route::parse("GET /a # no plan").unwrap_err().to_string(),
            "route 'GET /a': no plan after the path (use 'ok' for a plain 200)"
        );
    }

    #[test]
    fn shadowed_routes_are_found_with_both_origins() {
        type Case<'a> = (&'a [&'a str], &'a [(usize, usize)]);
        let cases: &[Case<'_>] = &[
            (&["GET /a ok", "GET /a reset"], &[(1, 0)]),
            (&["/a ok", "POST /a reset"], &[(1, 0)]),
            (&["GET /a ok", "POST /a reset", "/a close"], &[]),
            (&["GET /a ok", "/a reset"], &[]),
            (&["/v1/* ok", "GET /v1/items reset"], &[(1, 0)]),
            (&["/v1/* ok", "/v1/*/parts reset"], &[(1, 0)]),
            (&["/v1/*/parts ok", "/v1/* reset"], &[]),
            (&["/a*b ok", "/a* reset"], &[]),
            (&["/*x* ok", "/* reset"], &[]),
            (&["/* ok", "/a reset", "GET /b* close"], &[(1, 0), (2, 0)]),
            (
                &["GET /x ok", "/y ok", "GET /x status=201", "/y status=202"],
                &[(2, 0), (3, 1)],
            ),
        ];
        for (specs, want) in cases {
            let t = table(specs);
            let got: Vec<(usize, usize)> = t.shadowed().iter().map(|s| (s.index, s.by)).collect();
            assert_eq!(&got, want, "{specs:?}");
        }
        let t =
            RouteTable::parse_file("# api\nGET /v1/* status=503\n\nGET /v1/items ok\n").unwrap();
        assert_eq!(
            t.warnings(),
            [
                "line 4: route 'GET /v1/items ok' never matches: line 2 'GET /v1/* status=503' \
              matches every request it would"
            ]
        );
        let t = RouteTable::parse_file_and_specs(
            "/a ok\n",
            &["/b ok".into(), "/a reset".into()],
            &Files::SYNTAX,
        )
        .unwrap();
        assert!(t.warnings()[0].starts_with("route 2: route '/a reset' never matches: line 1 "));
        // Ten thousand equal routes: each is found in one lookup.
        let t = RouteTable::parse_file(&"/x ok\n".repeat(MAX_ROUTES)).unwrap();
        assert_eq!(t.shadowed().len(), MAX_ROUTES - 1);
    }

    // ---- near misses (issue 17 item 4) ----

    #[test]
    fn near_misses_rank_by_path_then_method() {
        assert_eq!(distance("/v1/items", "/v1/items"), 0);
        assert_eq!(distance("/v1/itms", "/v1/items"), 1);
        assert_eq!(distance("", "/abc"), 4);
        assert_eq!(distance(&"a".repeat(1000), &"a".repeat(10)), 990);
        let t = table(&[
            "GET /health ok",
            "POST /v1/upload reset*2 status=201",
            "GET /v1/items ok",
            "DELETE /v1/itemz ok",
            "/zzzzzzzzzzzzzzzzzzzz ok",
        ]);
        assert_eq!(
            t.near_miss("GET", "/v1/itme", 3),
            "no route matches GET /v1/itme; closest: 'GET /v1/items ok', \
             'DELETE /v1/itemz ok', 'GET /health ok'"
        );
        let miss = t.near_miss("GET", "/a\nb", 1);
        assert!(!miss.contains('\n') && miss.contains("/a\\x0ab"), "{miss}");
    }

    // ---- matching ----

    #[test]
    fn globs() {
        let cases: &[(&str, &str, bool)] = &[
            ("/v1/items", "/v1/items", true),
            ("/v1/items", "/v1/items/", false),
            ("/v1/items", "/v1/item", false),
            ("/v1/items/*", "/v1/items/42/parts", true),
            ("/v1/items/*", "/v1/items/", true),
            ("/v1/items/*", "/v1/items", false),
            ("/*", "/", true),
            ("*", "/anything/at/all", true),
            ("/v1/*/parts", "/v1/42/parts", true),
            ("/v1/*/parts", "/v1/a/b/parts", true),
            ("/v1/*/parts", "/v1/parts", false),
            ("/v1/*/parts", "/v1//parts", true),
            ("/a*b*c", "/abc", true),
            ("/a*b*c", "/axxbyyc", true),
            ("/a*b*c", "/axxcyyb", false),
            ("/a*a", "/a", false),
            ("/a*a", "/aa", true),
            ("/*.json", "/x.json", true),
            ("/*.json", "/x.json.bak", false),
            ("/**x", "/x", true),
            ("/*/*", "/a/b", true),
            ("/*/*", "/ab", false),
            ("/*ab*ab", "/abab", true),
            ("/*aba*", "/ab", false),
            ("/é*ü", "/éxü", true),
            ("/é*ü", "/éü", true),
        ];
        for (pattern, path, want) in cases {
            assert_eq!(
                Glob::new(pattern).matches(path),
                *want,
                "{pattern} vs {path}"
            );
        }
    }

    #[test]
    fn hostile_glob_is_fast() {
        // Exponential for a backtracking matcher: many stars, a long path that almost matches.
        let pattern = format!("/{}b", "*a".repeat(200));
        let path = format!("/{}", "a".repeat(64 * 1024));
        let start = Instant::now();
        for _ in 0..10 {
            assert!(!Glob::new(&pattern).matches(&path));
        }
        let mut hit = path.clone();
        hit.push('b');
        assert!(Glob::new(&pattern).matches(&hit));
        // Generous: linear work is well under a millisecond a match even in a debug build.
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn method_matching_and_first_match_wins() {
        let t = table(&[
            "GET /v1/items/* status=404",
            "POST /v1/* status=201",
            "/v1/* status=503",
            "GET /v1/items/42 status=200",
        ]);
        let pick = |m: &str, p: &str| t.select(m, p).map(|s| (s.index, s.plan.to_string()));
        assert_eq!(pick("GET", "/v1/items/42"), Some((0, "status=404".into())));
        assert_eq!(pick("POST", "/v1/items/42"), Some((1, "status=201".into())));
        assert_eq!(pick("PUT", "/v1/items/42"), Some((2, "status=503".into())));
        assert_eq!(pick("HEAD", "/v1/items/42"), Some((2, "status=503".into())));
        // Methods are case-sensitive tokens (RFC 9110).
        assert_eq!(pick("get", "/v1/items/42"), Some((2, "status=503".into())));
        assert_eq!(pick("GET", "/v2/items"), None);
        // The caller strips the query; with it left on, a literal path does not match.
        let t = table(&["GET /v1/items ok"]);
        assert!(t.select("GET", "/v1/items").is_some());
        assert!(t.select("GET", "/v1/items?page=2").is_none());
    }

    #[test]
    fn a_match_counts_only_on_its_route() {
        let t = table(&["GET /a reset ok", "/a status=503 ok"]);
        let s = t.select("GET", "/a").unwrap();
        assert_eq!((s.index, s.n, s.step), (0, 1, 1));
        let s = t.select("POST", "/a").unwrap();
        assert_eq!((s.index, s.n, s.step), (1, 1, 1));
        assert_eq!(s.plan.to_string(), "status=503");
        let s = t.select("GET", "/a").unwrap();
        assert_eq!((s.index, s.n, s.step), (0, 2, 2));
        assert_eq!(&**s.spec, "GET /a reset ok");
    }

    // ---- sequences ----

    #[test]
    fn nth_request_gets_nth_plan_and_the_last_repeats() {
        let t = table(&["POST /v1/upload reset=1m*2 status=503/header=Retry-After:1 status=201"]);
        assert_eq!(
            sequence(&t, "POST", "/v1/upload", 6),
            [
                "reset=1m",
                "reset=1m",
                "status=503/header=Retry-After:1",
                "status=201",
                "status=201",
                "status=201"
            ]
        );
        let s = t.select("POST", "/v1/upload").unwrap();
        assert_eq!((s.n, s.step), (7, 4));
    }

    #[test]
    fn steps_and_numbers() {
        let t = table(&["/x reset*3 ok"]);
        let got: Vec<(u64, u64)> = (0..6)
            .map(|_| {
                let s = t.select("GET", "/x").unwrap();
                (s.n, s.step)
            })
            .collect();
        assert_eq!(got, [(1, 1), (2, 2), (3, 3), (4, 4), (5, 4), (6, 4)]);
    }

    #[test]
    fn reset_counters_starts_every_sequence_again() {
        let t = table(&["/a reset ok", "/b close ok"]);
        assert_eq!(sequence(&t, "GET", "/a", 3), ["reset", "", ""]);
        assert_eq!(sequence(&t, "GET", "/b", 1), ["close"]);
        t.reset_counters();
        let s = t.select("GET", "/a").unwrap();
        assert_eq!(
            (s.n, s.step, s.plan.to_string()),
            (1, 1, "reset".to_string())
        );
        assert_eq!(sequence(&t, "GET", "/b", 2), ["close", ""]);
    }

    #[test]
    fn concurrent_claims_take_each_number_exactly_once() {
        const THREADS: usize = 32;
        const EACH: usize = 500;
        let t = Arc::new(table(&[
            "/other ok",
            "POST /v1/upload reset*100 status=201",
        ]));
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let t = Arc::clone(&t);
                std::thread::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn(move || {
                        (0..EACH)
                            .map(|_| {
                                let s = t.select("POST", "/v1/upload").unwrap();
                                (s.n, s.step, s.plan.to_string())
                            })
                            .collect::<Vec<_>>()
                    })
                    .unwrap()
            })
            .collect();
        let mut all: Vec<(u64, u64, String)> = Vec::new();
        for w in workers {
            all.extend(w.join().unwrap());
        }
        all.sort();
        let total = u64::try_from(THREADS * EACH).unwrap();
        assert_eq!(all.len(), THREADS * EACH);
        for (i, (n, step, plan)) in all.iter().enumerate() {
            let want_n = u64::try_from(i).unwrap() + 1;
            assert_eq!(*n, want_n);
            assert_eq!(*step, want_n.min(101));
            assert_eq!(plan, if want_n <= 100 { "reset" } else { "status=201" });
        }
        assert_eq!(t.select("POST", "/v1/upload").unwrap().n, total + 1);
        assert_eq!(t.select("GET", "/other").unwrap().n, 1);
    }

    // ---- path plans in a base URL ----

    #[test]
    fn split_path_plans() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            (
                "/times=2/reset/-/v1/items",
                Some(("/times=2/reset", "/v1/items")),
            ),
            ("/reset/-", Some(("/reset", "/"))),
            ("/reset/-/", Some(("/reset", "/"))),
            ("/reset", Some(("/reset", ""))),
            ("/reset/", Some(("/reset/", ""))),
            ("/v1/x", None),
            ("/", None),
            ("", None),
            ("/-/reset", None),
            ("/reset/-x/-/a/-/b", Some(("/reset/-x", "/a/-/b"))),
            ("/reset/--/a", Some(("/reset/--/a", ""))),
            ("/text=a-b/-/c", Some(("/text=a-b", "/c"))),
            (
                "/status=503/-/v1/items/-",
                Some(("/status=503", "/v1/items/-")),
            ),
            ("//reset/-/a", Some(("//reset", "/a"))),
        ];
        for (path, want) in cases {
            assert_eq!(split_path_plan(path), *want, "{path}");
        }
        let (plan, _) = split_path_plan("/times=2/reset/-/v1/items").unwrap();
        assert_eq!(Plan::parse(plan).unwrap().times, Some(2));
    }

    #[test]
    fn times_keys_are_per_method_plan_and_client_path() {
        let key = |m: &str, path: &str| {
            let (plan, rest) = split_path_plan(path).unwrap();
            path_times_key(m, plan, rest)
        };
        let items = key("GET", "/times=2/reset/-/v1/items");
        assert_ne!(items, key("GET", "/times=2/reset/-/v1/other"));
        assert_ne!(items, key("HEAD", "/times=2/reset/-/v1/items"));
        assert_ne!(items, key("GET", "/times=1/reset/-/v1/items"));
        assert_eq!(items, "GET /times=2/reset -/v1/items");
        assert_eq!(key("GET", "/reset/-"), key("GET", "/reset/-/"));
        assert_eq!(key("GET", "/reset"), "GET /reset");
        assert_eq!(times_key("GET", "/reset"), "GET /reset");
    }

    // ---- chance ----

    #[test]
    fn draws_are_pure_and_in_range() {
        let spec = "POST /v1/upload chance=0.5/reset";
        assert_eq!(draw(7, spec, 1), draw(7, spec, 1));
        assert_ne!(draw(7, spec, 1), draw(8, spec, 1));
        assert_ne!(draw(7, spec, 1), draw(7, spec, 2));
        assert_ne!(
            draw(7, spec, 1),
            draw(7, "POST /v1/upload chance=0.5/resex", 1)
        );
        assert_eq!(draw(0, "", 0), draw(0, "", 0));
        for seed in [0, 1, u64::MAX] {
            for n in [0, 1, u64::MAX] {
                let d = draw(seed, spec, n);
                assert!((0.0..1.0).contains(&d), "{d}");
            }
        }
    }

    #[test]
    fn draws_are_roughly_uniform() {
        // A pure function: the counts are fixed, so the bounds (about 5 sigma) never flake.
        let mut buckets = [0u32; 10];
        for n in 1..=100_000u64 {
            let d = draw(42, "GET /v1/items chance=0.3/reset", n);
            let i = (d * 10.0) as usize; // d < 1, so 0..=9
            buckets[i.min(9)] += 1;
        }
        for (i, b) in buckets.iter().enumerate() {
            assert!((9_500..10_500).contains(b), "bucket {i}: {b}");
        }
    }

    #[test]
    fn draws_of_neighbours_are_independent() {
        // Neighbouring request numbers, similar keys and neighbouring seeds: the joint
        // frequency of "both below 0.5" must be near 1/4, as for independent draws.
        let both = |f: &dyn Fn(u64) -> (f64, f64)| {
            (1..=40_000u64)
                .filter(|n| {
                    let (a, b) = f(*n);
                    a < 0.5 && b < 0.5
                })
                .count()
        };
        let near = 9_400..10_600;
        let k = "/x chance=0.5";
        let c = both(&|n| (draw(1, k, n), draw(1, k, n + 1)));
        assert!(near.contains(&c), "adjacent n: {c}");
        let c = both(&|n| (draw(1, "/a chance=0.5", n), draw(1, "/b chance=0.5", n)));
        assert!(near.contains(&c), "similar keys: {c}");
        let c = both(&|n| (draw(n, k, 1), draw(n + 1, k, 1)));
        assert!(near.contains(&c), "adjacent seeds: {c}");
        // Other traffic cannot shift a route's draws: the sequence is the same however the
        // calls for another key are interleaved.
        let alone: Vec<f64> = (1..=100).map(|n| draw(9, k, n)).collect();
        let mixed: Vec<f64> = (1..=100)
            .map(|n| {
                let _ = draw(9, "/other chance=0.5", n * 3);
                draw(9, k, n)
            })
            .collect();
        assert_eq!(alone, mixed);
    }

    // ---- bounded counters ----

    #[test]
    fn counters_count_per_key_and_reset() {
        let c = Counters::new();
        assert_eq!(c.next("GET /times=2/reset"), 1);
        assert_eq!(c.next("GET /times=2/reset"), 2);
        assert_eq!(c.next("HEAD /times=2/reset"), 1);
        assert_eq!(c.next("GET /times=2/reset"), 3);
        assert_eq!(c.len(), 2);
        c.reset();
        assert!(c.is_empty());
        assert_eq!(c.next("GET /times=2/reset"), 1);
    }

    #[test]
    fn counters_are_bounded_and_keep_the_keys_in_use() {
        let c = Counters::new();
        assert_eq!(c.next("active"), 1);
        let mut active = 1;
        for i in 0..3 * MAX_COUNTER_KEYS {
            assert_eq!(c.next(&format!("GET /reset/-/{i}")), 1);
            if i % 1_000 == 0 {
                active += 1;
                assert_eq!(c.next("active"), active);
            }
            assert!(c.len() <= MAX_COUNTER_KEYS);
        }
        assert_eq!(c.len(), MAX_COUNTER_KEYS);
        // The key in use survived three times the bound; the oldest stale keys were forgotten.
        assert_eq!(c.next("active"), active + 1);
        assert_eq!(c.next("GET /reset/-/0"), 1);
        // The most recent stale key is still there.
        let last = format!("GET /reset/-/{}", 3 * MAX_COUNTER_KEYS - 1);
        assert_eq!(c.next(&last), 2);
    }

    #[test]
    fn counters_bound_key_bytes() {
        let c = Counters::new();
        let big = "x".repeat(64 * 1024);
        for i in 0..200 {
            c.next(&format!("{i} {big}"));
        }
        let lru = c.lock();
        assert!(lru.bytes <= MAX_COUNTER_BYTES, "{}", lru.bytes);
        assert_eq!(lru.bytes, lru.counts.keys().map(|k| k.len()).sum::<usize>());
        assert_eq!(lru.counts.len(), lru.by_use.len());
        assert!(lru.counts.len() < 200 && lru.counts.len() >= 60);
    }

    #[test]
    fn counters_under_concurrency() {
        const THREADS: usize = 32;
        let c = Arc::new(Counters::new());
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let c = Arc::clone(&c);
                std::thread::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn(move || {
                        (0..200)
                            .map(|_| c.next("GET /times=5/reset"))
                            .collect::<Vec<_>>()
                    })
                    .unwrap()
            })
            .collect();
        let mut all: Vec<u64> = workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        all.sort_unstable();
        let want: Vec<u64> = (1..=u64::try_from(THREADS * 200).unwrap()).collect();
        assert_eq!(all, want);
    }
}
