//! Why a server could not start, the log format, and addresses as the command line and the
//! library take them.

use crate::plan::router::RouteError;
use crate::plan::PlanError;
use crate::tcp::TcpPlanError;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why a server could not start (or why [`Server::set_plan`] or [`Server::set_routes`] changed
/// nothing). `Display` gives one lowercase line naming the bad value.
///
/// ```
/// use httpfault::{Error, Server};
/// let err = Server::start("reset=6/delay=soon").unwrap_err();
/// assert!(matches!(err, Error::Plan(_)));
/// assert!(err.is_usage());
/// assert!(err.to_string().contains("'soon'"), "{err}");
///
/// let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let port = taken.local_addr().unwrap().port().to_string();
/// let err = Server::builder().listen(&port).start().unwrap_err();
/// assert!(matches!(err, Error::Bind(..)));
/// assert!(!err.is_usage());
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The plan does not parse.
    Plan(PlanError),
    /// The plan does not parse as a TCP mode plan.
    TcpPlan(TcpPlanError),
    /// A route does not parse.
    Route(RouteError),
    /// An address that is not `HOST:PORT`, `[V6]:PORT` or `PORT`.
    Address(String),
    /// The address cannot be listened on (in use, not local, no permission).
    Bind(SocketAddr, io::Error),
    /// The upstream address does not resolve or is not of the form the mode needs.
    Upstream(String),
    /// Options that do not go together.
    Config(String),
    /// Another failure to set the server up.
    Io(&'static str, io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Plan(e) => write!(f, "bad plan: {e}"),
            Error::TcpPlan(e) => write!(f, "bad plan: {e}"),
            Error::Route(e) => write!(f, "bad route: {e}"),
            Error::Address(a) => write!(
                f,
                "bad address '{}' (expected HOST:PORT, [V6]:PORT or PORT, with an IP address or localhost as HOST)",
                crate::plan::Escaped(a)
            ),
            Error::Bind(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
            Error::Upstream(e) => write!(f, "bad upstream: {e}"),
            Error::Config(e) => f.write_str(e),
            Error::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Plan(e) => Some(e),
            Error::TcpPlan(e) => Some(e),
            Error::Route(e) => Some(e),
            Error::Bind(_, e) | Error::Io(_, e) => Some(e),
            _ => None,
        }
    }
}

impl Error {
    /// Is this a usage error (bad plan, route, address, options) rather than a failure of the
    /// machine (address in use)? The binary exits 2 for the first, 1 for the second.
    ///
    /// ```
    /// let err = httpfault::Server::start("delay=soon").unwrap_err();
    /// assert!(err.is_usage()); // the binary exits 2
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn is_usage(&self) -> bool {
        !matches!(self, Error::Bind(..) | Error::Io(..))
    }
}

/// Log lines on stderr, asked for with [`Builder::log`]. Without it the library prints nothing.
///
/// ```
/// let server = httpfault::Server::builder()
///     .log(httpfault::LogFormat::Json) // one JSON object a line on stderr
///     .start()?;
/// # drop(server);
/// # Ok::<(), httpfault::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// `key=value` lines (the default).
    #[default]
    Text,
    /// One JSON object a line.
    Json,
}

/// Parses `HOST:PORT`, `[V6]:PORT`, or a bare `PORT` (= `127.0.0.1:PORT`). Hosts are IP
/// addresses or `localhost`: no name lookups, so the static binary needs no resolver.
///
/// ```
/// use httpfault::parse_addr;
/// assert_eq!(parse_addr("9000")?, "127.0.0.1:9000".parse().unwrap());
/// assert_eq!(parse_addr("localhost:0")?, "127.0.0.1:0".parse().unwrap());
/// assert_eq!(parse_addr("[::1]:8080")?, "[::1]:8080".parse().unwrap());
/// assert!(parse_addr("example.com:80").is_err()); // no name lookups
/// # Ok::<(), httpfault::Error>(())
/// ```
pub fn parse_addr(text: &str) -> Result<SocketAddr, Error> {
    let bad = || Error::Address(text.to_string());
    let port = |p: &str| p.parse::<u16>().map_err(|_| bad());
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            port(text)?,
        ));
    }
    if let Some(p) = text.strip_prefix("localhost:") {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port(p)?));
    }
    if let Some(p) = text.strip_prefix("[localhost]:") {
        return Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port(p)?));
    }
    text.parse::<SocketAddr>().map_err(|_| bad())
}
