//! toxiproxy 2.x's HTTP API over TCP mode's relay (`httpfault toxiproxy`), so that toxiproxy's
//! client libraries and Testcontainers modules work unchanged.
//!
//! - [`json`]: the JSON reader and writer (pure, bounded).
//! - [`toxic`]: the toxic types, their attributes, and what each does as TCP mode's steps.
//! - [`proxies`]: the named proxies, each a listener whose connections run the relay with a
//!   live [`Shaper`](crate::tcp::Shaper) over the proxy's toxics; journal and metrics.
//! - [`api`]: the routes, JSON shapes, defaults, status codes and error bodies of toxiproxy's
//!   `api.go`.

pub mod api;
pub mod json;
pub mod proxies;
pub mod toxic;

pub use proxies::Toxiproxy;

/// An error answer: toxiproxy's `{"error": MESSAGE, "status": CODE}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The message; toxiproxy's own where it has one, with what was wrong after it.
    pub message: String,
}

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: u16, message: String) -> ApiError {
        ApiError { status, message }
    }

    /// `{"error":"...","status":N}`, as toxiproxy writes it.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\"error\":");
        crate::log::json_str(&mut out, &self.message);
        out.push_str(&format!(",\"status\":{}}}", self.status));
        out
    }
}

/// `proxy not found` (404).
pub fn proxy_not_found() -> ApiError {
    ApiError::new(404, "proxy not found".into())
}

/// `toxic not found` (404).
pub fn toxic_not_found() -> ApiError {
    ApiError::new(404, "toxic not found".into())
}
