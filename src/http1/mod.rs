//! HTTP/1.1, the server's side: the connection loop (`conn`), the executor of one exchange
//! (`exchange`), and the response laid out from a plan (`response`).

pub mod conn;
pub mod control;
pub mod exchange;
pub mod response;
