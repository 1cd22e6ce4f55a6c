//! The connection as the executor sees it: buffered input it can read and consume, output it
//! writes, a clock, waits that notice the client leaving, and the three ways to end (RST, FIN,
//! silence). [`SocketWire`] is the real one over a `TcpStream`; the executor's tests use a
//! scripted one with a virtual clock (see `http1/exchange.rs`).

use crate::sys;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// First size of the input buffer; it grows as a head needs, up to the caller's cap.
pub(crate) const INITIAL_BUF: usize = 256;
/// Size of the input buffer while a request body is read and thrown away: large reads keep
/// the syscall count and CPU low for big uploads.
pub const BODY_BUF: usize = 64 * 1024;
/// How long a clean close waits for the client to close its side too.
const LINGER: Duration = Duration::from_secs(2);
/// A FIN that arrives within this time of the last bytes read from the client is a half-close
/// (the client still reads the response), a later one a client leaving.
const HALF_CLOSE_GRACE: Duration = Duration::from_millis(50);
/// How often a wait for a half-closed client checks for a reset or the server stopping.
const HALF_CLOSED_NAP: Duration = Duration::from_millis(20);
/// Most bytes a clean close reads from a client that goes on sending.
const LINGER_BYTES: usize = 16 * 1024 * 1024;

/// What a read brought.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    /// This many new bytes are in [`Wire::input`].
    Data(usize),
    /// The client closed its side (FIN).
    Eof,
    /// The deadline passed first.
    Timeout,
    /// The connection failed (RST) or the server is stopping.
    Gone,
    /// The buffer is at its cap.
    Full,
}

/// The connection, for the executor.
pub trait Wire {
    /// Bytes read and not consumed yet.
    fn input(&self) -> &[u8];
    /// Drops the first `n` bytes of [`Wire::input`].
    fn consume(&mut self, n: usize);
    /// Reads more, keeping at most `cap` bytes buffered, waiting until `deadline`.
    fn fill(&mut self, deadline: Instant, cap: usize) -> Fill;
    /// Writes all of `bytes`; a write that cannot progress for the write timeout is an error of
    /// kind `WouldBlock` or `TimedOut`.
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Now, on the wire's clock.
    fn now(&self) -> Instant;
    /// When the last read returned bytes (a wire that does not keep it says now).
    fn last_data(&self) -> Instant {
        self.now()
    }
    /// Waits until `until`, or until the client leaves (FIN or RST): false if it left.
    fn wait(&mut self, until: Instant) -> bool;
    /// Has the client left (FIN or RST), looked at now without waiting? A FIN that came right
    /// after the request is a half-close (the client still reads): then only a reset counts.
    /// For waits the wire does not run itself (a control API long-poll).
    fn left(&mut self) -> bool {
        false
    }
    /// Waits (bounded) until every byte written was acknowledged: a reset throws away
    /// unacknowledged data, so without this the client could miss the end of a prefix.
    fn await_acks(&mut self);
    /// Ends with an RST.
    fn reset(&mut self);
    /// Ends with a FIN; with `drain`, reads and drops what the client still sends until it
    /// closes too (bounded), because closing with unread bytes makes Linux send an RST.
    fn close(&mut self, drain: bool);
    /// Ends with silence: holds the connection, reading nothing, until the client leaves.
    fn hang(&mut self);
    /// The socket under the wire, for waits that poll it beside another socket (proxy mode);
    /// `None` for a wire without one (the executor's tests).
    fn fd(&self) -> Option<RawFd> {
        None
    }
    /// Bytes already received but not yet in [`Wire::input`] (TLS records decrypted or read
    /// ahead): a poll on [`Wire::fd`] would not see them, so a wait must `fill` first.
    fn pending(&mut self) -> bool {
        false
    }
    /// Gives back memory after a large body or head, so held keep-alive connections stay
    /// small.
    fn shrink(&mut self) {}
    /// Whether a clean close tells the peer so inside the protocol under the wire (TLS's
    /// `close_notify`, on by default); plain TCP has nothing to say. `tls=no-close-notify`
    /// turns it off.
    fn set_close_notify(&mut self, _on: bool) {}
}

/// The real wire: a socket, its input buffer, the server's stop flag.
pub struct SocketWire<'a> {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The last read filled the buffer to its end: more is likely waiting.
    filled: bool,
    /// When the last bytes arrived.
    last_data: Instant,
    /// The read timeout now set on the socket, to skip needless `setsockopt` calls.
    timeout: Option<Duration>,
    stop: &'a AtomicBool,
    /// Longest wait for acknowledgements before a reset.
    ack_limit: Duration,
    /// [`Wire::left`] saw a half-close.
    half_closed: bool,
}

impl<'a> SocketWire<'a> {
    /// Wraps an accepted connection.
    pub fn new(stream: TcpStream, stop: &'a AtomicBool, ack_limit: Duration) -> Self {
        SocketWire {
            stream,
            buf: Vec::new(),
            start: 0,
            end: 0,
            filled: false,
            last_data: Instant::now(),
            timeout: None,
            stop,
            ack_limit,
            half_closed: false,
        }
    }

    /// The socket's descriptor (for the registry that stops connections).
    pub fn raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    /// Sets the socket's read timeout, unless the one in force already ends in time.
    fn set_timeout(&mut self, want: Duration) {
        let fine = self.timeout.is_some_and(|cur| {
            // A timeout up to 2 ms longer than wanted is close enough; a shorter one only wakes
            // the loop early, which then sets a new one.
            cur <= want + Duration::from_millis(2) && cur + Duration::from_secs(1) > want
        });
        if fine {
            return;
        }
        // A zero timeout is an error for std; the deadline check before the read handles it.
        let want = want.max(Duration::from_millis(1));
        if self.stream.set_read_timeout(Some(want)).is_ok() {
            self.timeout = Some(want);
        }
    }
}

impl SocketWire<'_> {
    /// [`Wire::wait`] for a client whose FIN is already in: a poll would return at once (the
    /// FIN stays pending), so this naps and peeks; false if the client reset or the server is
    /// stopping.
    fn wait_half_closed(&mut self, until: Instant) -> bool {
        let mut probe = [0u8; 1];
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return false;
            }
            // After a FIN `peek` returns at once: 0, or pipelined bytes; an RST is an error.
            if let Err(e) = self.stream.peek(&mut probe) {
                if !is_timeout(&e) && e.kind() != io::ErrorKind::Interrupted {
                    return false;
                }
            }
            let now = Instant::now();
            if now >= until {
                return true;
            }
            std::thread::sleep((until - now).min(HALF_CLOSED_NAP));
        }
    }
}

/// Drops the first `n` bytes of the window `start..end` of a read buffer; an emptied window
/// goes back to the start of the buffer (the next read has all of it).
pub(crate) fn consume_window(start: &mut usize, end: &mut usize, n: usize) {
    *start = (*start + n).min(*end);
    if *start == *end {
        *start = 0;
        *end = 0;
    }
}

/// Makes room after the window `start..end` of a read buffer: when the buffer is full, or
/// the last read `filled` it, the window moves to the front and the buffer doubles up to
/// `cap`; false when it is `cap` bytes of unconsumed input.
pub(crate) fn make_room(
    buf: &mut Vec<u8>,
    start: &mut usize,
    end: &mut usize,
    filled: bool,
    cap: usize,
) -> bool {
    if *end == buf.len() || filled {
        if *start > 0 {
            buf.copy_within(*start..*end, 0);
            *end -= *start;
            *start = 0;
        }
        let grown = (buf.len() * 2).clamp(INITIAL_BUF, cap.max(INITIAL_BUF));
        if grown > buf.len() {
            buf.resize(grown, 0);
        } else if *end == buf.len() {
            return false;
        }
    }
    true
}

impl Wire for SocketWire<'_> {
    fn fd(&self) -> Option<RawFd> {
        Some(self.stream.as_raw_fd())
    }

    fn shrink(&mut self) {
        if self.start == self.end && self.buf.len() > 4 * INITIAL_BUF {
            self.buf = Vec::new();
            self.start = 0;
            self.end = 0;
            self.filled = false;
        }
    }

    fn input(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        consume_window(&mut self.start, &mut self.end, n);
    }

    fn fill(&mut self, deadline: Instant, cap: usize) -> Fill {
        // Grow when the buffer is full, and also when the last read filled it even if its bytes
        // were consumed since: a body arriving in bulk is then read in reads of up to `cap`
        // bytes, not `INITIAL_BUF` at a time, while a slow head keeps a small buffer.
        if !make_room(
            &mut self.buf,
            &mut self.start,
            &mut self.end,
            self.filled,
            cap,
        ) {
            return Fill::Full;
        }
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Fill::Gone;
            }
            let now = Instant::now();
            if now >= deadline {
                return Fill::Timeout;
            }
            self.set_timeout(deadline - now);
            match self.stream.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    return if self.stop.load(Ordering::Relaxed) {
                        Fill::Gone
                    } else {
                        Fill::Eof
                    }
                }
                Ok(n) => {
                    self.last_data = Instant::now();
                    self.end += n;
                    self.filled = self.end == self.buf.len();
                    return Fill::Data(n);
                }
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Fill::Gone,
            }
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        (&self.stream).write_all(bytes)
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn last_data(&self) -> Instant {
        self.last_data
    }

    fn wait(&mut self, until: Instant) -> bool {
        // A client that closes its sending side right after its request (`send` then
        // `shutdown(SHUT_WR)`, as `nc -N` and HTTP/1.0 scripts do) still reads the response:
        // for it only a reset or the server stopping ends the wait early. A FIN that comes
        // later is a client leaving (curl's `--max-time` closes its socket). The two look the
        // same on the wire; the time tells them apart: a half-closing client's FIN follows the
        // last bytes of its request within moments.
        let half_close_until = self.last_data + HALF_CLOSE_GRACE;
        loop {
            let now = Instant::now();
            if now >= until {
                return true;
            }
            match sys::hangup_within(&self.stream, until - now) {
                Ok(false) => {}
                Ok(true) if Instant::now() < half_close_until => {
                    return self.wait_half_closed(until)
                }
                Ok(true) | Err(_) => return false,
            }
        }
    }

    fn left(&mut self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return true;
        }
        if !self.half_closed {
            match sys::hangup_within(&self.stream, Duration::ZERO) {
                Ok(false) => return false,
                Ok(true) if Instant::now() < self.last_data + HALF_CLOSE_GRACE => {
                    self.half_closed = true;
                }
                Ok(true) | Err(_) => return true,
            }
        }
        // Half-closed: `peek` returns at once (0, or pipelined bytes); a reset is an error.
        let mut probe = [0u8; 1];
        match self.stream.peek(&mut probe) {
            Err(e) => !is_timeout(&e) && e.kind() != io::ErrorKind::Interrupted,
            Ok(_) => false,
        }
    }

    fn await_acks(&mut self) {
        let deadline = Instant::now() + self.ack_limit;
        let mut nap = Duration::from_micros(50);
        while let Ok(n) = sys::unacked_bytes(&self.stream) {
            if n == 0 || Instant::now() >= deadline || self.stop.load(Ordering::Relaxed) {
                break;
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(5));
        }
    }

    fn reset(&mut self) {
        // The RST goes out when the descriptor closes, as the wire is dropped.
        let _ = sys::set_linger_zero(&self.stream);
    }

    fn close(&mut self, drain: bool) {
        let _ = self.stream.shutdown(Shutdown::Write);
        if !drain {
            return;
        }
        let deadline = Instant::now() + LINGER;
        let mut total = 0;
        while total < LINGER_BYTES {
            self.start = 0;
            self.end = 0;
            match self.fill(deadline, BODY_BUF) {
                Fill::Data(n) => total += n,
                _ => break,
            }
        }
        self.start = 0;
        self.end = 0;
    }

    fn hang(&mut self) {
        // Thousands of held connections stay cheap: no buffer is kept while holding.
        self.buf = Vec::new();
        self.start = 0;
        self.end = 0;
        self.filled = false;
        if !self.stop.load(Ordering::Relaxed) {
            // Nor the stack pages deeper calls touched before (the plan's choice, the journal).
            sys::release_stack_below();
            let _ = sys::wait_for_hangup(&self.stream);
        }
    }
}

/// A read timeout shows up as `WouldBlock` on Unix (`TimedOut` elsewhere).
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
