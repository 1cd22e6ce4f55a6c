//! httpfault: an HTTP/1.1 server (and proxy, and TCP relay) that breaks connections on
//! purpose, byte-exact and time-exact, for testing how HTTP clients, SDK retry logic and
//! proxies cope with broken servers.
//!
//! Start a server inside a test, point the client under test at [`Server::url`], and read
//! what the server saw from [`Server::requests`]:
//!
//! ```
//! use std::io::{Read, Write};
//! use std::time::Duration;
//!
//! // Resets the first two uploads after the response head, then answers 201.
//! let server = httpfault::Server::builder()
//!     .route("POST /v1/upload reset=0*2 status=201")
//!     .start()?;
//! for _ in 0..3 {
//!     let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
//!     let req = "POST /v1/upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi";
//!     s.write_all(req.as_bytes()).unwrap();
//!     let mut got = Vec::new();
//!     let _ = s.read_to_end(&mut got);
//! }
//! let seen = server.wait_for(3, Duration::from_secs(10));
//! let ends: Vec<_> = seen.iter().map(|r| r.end).collect();
//! use httpfault::End::*;
//! assert_eq!(ends, [Some(Reset), Some(Reset), Some(Complete)]);
//! assert_eq!(seen[2].status, 201);
//! assert_eq!(seen[0].step, Some(1));
//! # Ok::<(), httpfault::Error>(())
//! ```
//!
//! The plan language, the routes and the control API are those of the `httpfault` binary;
//! see the README.
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod base64;
mod control;
mod h2;
mod http;
mod http1;
mod log;
mod plan;
mod pool;
mod proxy;
mod rng;
mod server;
mod sha256;
mod shape;
mod sys;
mod tcp;
#[cfg(feature = "tls")]
mod tls;
mod wire;
mod ws;

pub use control::journal::{End, Request, WsStats};
pub use control::waiter::Waiter;
pub use plan::router::{Problem, RouteError};
pub use plan::PlanError;
pub use server::{
    parse_addr, Builder, Error, LogFormat, Server, DEFAULT_MAX_CONNS, DEFAULT_PLAN,
    DEFAULT_READ_TIMEOUT,
};
pub use tcp::TcpPlanError;

/// The plan language's step list, one line a step (`name=VALUE`, what it does, an example),
/// as `httpfault --help` shows it.
///
/// ```
/// let help = httpfault::step_help();
/// assert!(help.lines().any(|l| l.trim_start().starts_with("reset")));
/// ```
pub fn step_help() -> String {
    plan::steps::help_lines()
}

/// TCP mode's step list, one line a step, as `httpfault --help` shows it.
///
/// ```
/// let help = httpfault::tcp_step_help();
/// assert!(help.lines().any(|l| l.trim_start().starts_with("[up:]reset")));
/// assert!(help.lines().all(|l| l.len() <= 80));
/// ```
pub fn tcp_step_help() -> String {
    tcp::help()
}

/// Checks plan text without starting a server: `Err` names the bad step and value.
///
/// ```
/// assert!(httpfault::check_plan("status=503/header=Retry-After:1").is_ok());
/// let err = httpfault::check_plan("status=abc").unwrap_err();
/// assert!(matches!(err, httpfault::Error::Plan(_)));
/// assert!(err.to_string().contains("'abc'"));
/// ```
pub fn check_plan(text: &str) -> Result<(), Error> {
    // The caller's own plan, as on the command line: `file=` reads the file.
    let files = plan::Files::SYNTAX.operator();
    plan::Plan::parse_with(text, &files)
        .map(drop)
        .map_err(Error::Plan)
}

/// Checks the text of a routes file without starting a server.
///
/// ```
/// let routes = "# the SDK's API\nGET /v1/items ok\nPOST /v1/upload reset*2 status=201\n";
/// assert!(httpfault::check_routes(routes).is_ok());
/// let err = httpfault::check_routes("GET /v1/items ok\nPOST /v1/upload rset\n").unwrap_err();
/// assert!(err.to_string().starts_with("bad route: line 2:"), "{err}");
/// ```
pub fn check_routes(text: &str) -> Result<(), Error> {
    // A routes file of the caller's, as `--routes FILE`: `file=` reads the file.
    let files = plan::Files::SYNTAX.operator();
    plan::router::RouteTable::parse_file_with(text, &files)
        .map(drop)
        .map_err(Error::Route)
}

/// Parses a duration as the plan language writes it (`250ms`, `2s`, `1.5s`, `1m`).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(httpfault::parse_duration("1.5s"), Some(Duration::from_millis(1500)));
/// assert_eq!(httpfault::parse_duration("100us"), Some(Duration::from_micros(100)));
/// assert_eq!(httpfault::parse_duration("2"), None); // a unit is required
/// ```
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    plan::parse_duration(text)
}

/// Entry points for the fuzz targets in `fuzz/` and for property tests: the pure parsers,
/// with no promise of stability.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::control::journal::plan_cost;
    pub use crate::http::request::{parse_head, ChunkedScanner, HeadScan, MAX_HEAD};
    pub use crate::http::response::{
        parse_response_head, ResponseHead as ResponseHeadRef, ResponseScan,
    };
    pub use crate::plan::reference::markdown as step_reference;
    pub use crate::plan::router::{Route, RouteTable};
    pub use crate::plan::steps::{Proxy, StepDef as StepDefRef, STEPS};
    pub use crate::plan::{parse_duration, parse_offset, parse_size, Plan, ProxyUse};
    /// toxiproxy's API: the JSON reader and the toxic parser.
    pub mod toxiproxy {
        pub use crate::tcp::toxiproxy::json::{parse, Value, MAX_DEPTH};
        pub use crate::tcp::toxiproxy::toxic::Toxic;
    }
    /// WebSocket's frames.
    pub mod ws {
        pub use crate::ws::frame::{client_frame, parse_head, Event, Fail, Reader, MAX_HEADER};
    }
    /// HTTP/2's frame layer and HPACK.
    pub mod h2 {
        pub use crate::h2::mem::{run, MAX_OUTPUT};
        pub use crate::h2::{frame, hpack};
        pub use crate::h2::{
            MAX_CLIENT_RESETS, MAX_CONTINUATIONS, MAX_HEADER_BLOCK, MAX_HEADER_LIST, MAX_STREAMS,
            TABLE_SIZE,
        };
    }
}

/// JSON text as the journal and the log write it, for the binary's reports.
#[doc(hidden)]
pub mod json {
    pub use crate::log::json_str as string;
}

/// What belongs to a process, not a server: the binary's signal handling and descriptor limit,
/// and `probe`'s watch over the command it runs.
/// (The library itself never touches signals.) The only `unsafe` code stays in one module.
#[doc(hidden)]
pub mod process {
    pub use crate::sys::{
        block_stop_signals, has_exited, kill_group, raise_fd_limit, wait_for_stop_signal,
    };
}
