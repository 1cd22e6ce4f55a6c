//! The wire over TLS: a [`SocketWire`] carries the ciphertext, rustls's `ServerConnection`
//! turns it into plaintext and back, and the executor sees only plaintext, so every offset of a
//! plan counts plaintext bytes. `fill` decrypts, `write_all` encrypts and sends the records at
//! once, `await_acks` waits until every record sent was acknowledged (so a reset after it still
//! delivers a byte-exact plaintext prefix), `reset` sends an RST with no `close_notify`, and
//! `close` sends `close_notify` (unless `tls=no-close-notify`) and then the FIN, with the same
//! drain rules as plain TCP.

use crate::wire::{Fill, SocketWire, Wire, BODY_BUF, INITIAL_BUF};
use rustls::ServerConnection;
use std::io::{self, Read, Write};
use std::os::fd::RawFd;
use std::time::Instant;

/// Most ciphertext read from the socket at once: four full TLS records.
const CIPHER_BUF: usize = BODY_BUF;

/// Why a handshake did not complete.
#[derive(Debug)]
pub enum HandshakeError {
    /// The client left (FIN or RST) or the server is stopping.
    PeerGone,
    /// `--read-timeout` passed.
    Timeout,
    /// The TLS exchange failed: the client refused the certificate (its alert), or sent
    /// something that is not TLS.
    Tls(rustls::Error),
    /// A write failed.
    Io(io::Error),
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeError::PeerGone => f.write_str("the client left during the handshake"),
            HandshakeError::Timeout => f.write_str("the handshake timed out"),
            HandshakeError::Tls(e) => write!(f, "{e}"),
            HandshakeError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// A plaintext wire over a TLS server connection.
pub struct TlsWire<'a> {
    raw: SocketWire<'a>,
    conn: ServerConnection,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The last read filled the buffer to its end: more is likely waiting.
    filled: bool,
    /// A clean close sends `close_notify` first.
    close_notify: bool,
}

/// Ciphertext out through the raw wire (blocking, with its write timeout).
struct RawOut<'w, 'a>(&'w mut SocketWire<'a>);

impl Write for RawOut<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> TlsWire<'a> {
    /// Wraps a connection whose ClientHello was accepted; [`TlsWire::handshake`] completes it.
    pub fn new(raw: SocketWire<'a>, conn: ServerConnection) -> Self {
        TlsWire {
            raw,
            conn,
            buf: Vec::new(),
            start: 0,
            end: 0,
            filled: false,
            close_notify: true,
        }
    }

    /// Completes the handshake by `deadline`. On a TLS error the alert rustls prepared goes
    /// out first.
    pub fn handshake(&mut self, deadline: Instant) -> Result<(), HandshakeError> {
        loop {
            self.flush_tls().map_err(HandshakeError::Io)?;
            if !self.conn.is_handshaking() {
                return Ok(());
            }
            if self.raw.input().is_empty() {
                match self.raw.fill(deadline, CIPHER_BUF) {
                    Fill::Data(_) | Fill::Full => {}
                    Fill::Eof | Fill::Gone => return Err(HandshakeError::PeerGone),
                    Fill::Timeout => return Err(HandshakeError::Timeout),
                }
            }
            self.feed().map_err(HandshakeError::Tls)?;
        }
    }

    /// The protocol ALPN chose, once the handshake is complete.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    /// Hands the ciphertext read so far to rustls and decrypts it. On an error the alert goes
    /// out (best effort) and the error is returned.
    fn feed(&mut self) -> Result<(), rustls::Error> {
        while !self.raw.input().is_empty() {
            let mut src: &[u8] = self.raw.input();
            // An error: rustls holds as much as it will take; decrypt that first.
            let n = self.conn.read_tls(&mut src).unwrap_or_default();
            self.raw.consume(n);
            if let Err(e) = self.conn.process_new_packets() {
                let _ = self.flush_tls();
                return Err(e);
            }
            if n == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Sends every TLS record rustls has ready.
    fn flush_tls(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            self.conn.write_tls(&mut RawOut(&mut self.raw))?;
        }
        Ok(())
    }

    /// Makes room for plaintext as [`SocketWire`] does; false when the buffer is at `cap`.
    fn make_room(&mut self, cap: usize) -> bool {
        crate::wire::make_room(
            &mut self.buf,
            &mut self.start,
            &mut self.end,
            self.filled,
            cap,
        )
    }
}

impl Wire for TlsWire<'_> {
    fn input(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        crate::wire::consume_window(&mut self.start, &mut self.end, n);
    }

    fn fill(&mut self, deadline: Instant, cap: usize) -> Fill {
        if !self.make_room(cap) {
            return Fill::Full;
        }
        loop {
            match self.conn.reader().read(&mut self.buf[self.end..]) {
                // The client's close_notify: a clean end of its side.
                Ok(0) => return Fill::Eof,
                Ok(n) => {
                    self.end += n;
                    let mut total = n;
                    // What has arrived already is taken now, without a syscall, so that a
                    // poll on the socket afterwards does not wait for bytes that are here.
                    while self.end < self.buf.len() && self.feed().is_ok() {
                        match self.conn.reader().read(&mut self.buf[self.end..]) {
                            Ok(m) if m > 0 => {
                                self.end += m;
                                total += m;
                            }
                            _ => break,
                        }
                    }
                    self.filled = self.end == self.buf.len();
                    return Fill::Data(total);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // A FIN without close_notify: the client's side ended all the same.
                Err(_) => return Fill::Eof,
            }
            if self.raw.input().is_empty() {
                match self.raw.fill(deadline, CIPHER_BUF) {
                    Fill::Data(_) | Fill::Full => {}
                    Fill::Eof => {
                        // Tells rustls the stream ended, so its reader says whether the
                        // client's close_notify came first (it makes no difference here).
                        let _ = self.conn.read_tls(&mut io::empty());
                        return Fill::Eof;
                    }
                    other => return other,
                }
            }
            if self.feed().is_err() {
                return Fill::Gone;
            }
            // Post-handshake messages (key updates) may want an answer.
            if self.flush_tls().is_err() {
                return Fill::Gone;
            }
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = self.conn.writer().write(rest)?;
            rest = &rest[n..];
            // Records go out as they are made: a write is on the wire when this returns, as
            // on plain TCP, so pauses and rates shape the plaintext the same way.
            self.flush_tls()?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
        Ok(())
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wait(&mut self, until: Instant) -> bool {
        self.raw.wait(until)
    }

    fn await_acks(&mut self) {
        let _ = self.flush_tls();
        self.raw.await_acks();
    }

    fn reset(&mut self) {
        // No close_notify: an RST is an abrupt end in TLS too.
        self.raw.reset();
    }

    fn close(&mut self, drain: bool) {
        if self.close_notify {
            self.conn.send_close_notify();
            let _ = self.flush_tls();
        }
        self.raw.close(drain);
    }

    fn hang(&mut self) {
        let _ = self.flush_tls();
        self.buf = Vec::new();
        self.start = 0;
        self.end = 0;
        self.filled = false;
        self.raw.hang();
    }

    fn fd(&self) -> Option<RawFd> {
        self.raw.fd()
    }

    fn pending(&mut self) -> bool {
        !self.raw.input().is_empty()
            || self
                .conn
                .process_new_packets()
                .is_ok_and(|s| s.plaintext_bytes_to_read() > 0)
    }

    fn shrink(&mut self) {
        self.raw.shrink();
        if self.start == self.end && self.buf.len() > 4 * INITIAL_BUF {
            self.buf = Vec::new();
            self.start = 0;
            self.end = 0;
            self.filled = false;
        }
    }

    fn set_close_notify(&mut self, on: bool) {
        self.close_notify = on;
    }
}
