//! TCP mode's engine: one accepted connection relayed to a new upstream connection, bytes
//! unchanged both ways, shaped by a [`TcpPlan`].
//!
//! One thread (the caller's) runs each relayed connection, with both sockets non-blocking and
//! `poll(2)` over the pair. Why not two threads, one per direction: a cut in one direction must
//! stop the other at once and end both sockets with an RST, which only the close of the last
//! descriptor sends; with one owner of both sockets there are no clones that keep a connection
//! alive, no cross-thread wake-ups, and every count (bytes read, bytes delivered, the next
//! pause, the cut offset) lives in one place. `latency` also needs a reader that goes on
//! reading while earlier chunks wait, which one blocking loop per direction cannot do.
//!
//! Exactness: a direction never reads past its cut offset and never writes past its next pause
//! or cut offset, so `reset=N` delivers exactly N bytes whatever the chunk sizes. Memory is one
//! fixed ring per direction ([`BUF`], or [`LATENCY_BUF`] with `latency`). No `splice(2)`: a
//! pipe hides how many bytes were delivered, and the exact offsets need that count.

pub mod live;
pub mod toxiproxy;

pub use live::{DirShape, Shaper};
mod serve;

#[allow(unused_imports)] // the public API, used once wired in
pub use crate::plan::tcp::{help, Dir, DirPlan, TcpPlan, TcpPlanError};
pub use serve::serve;

use crate::control::journal::End;
use crate::plan::EndKind;
use crate::rng::Rng;
use crate::shape::{At, Next as Step, Timeline};
use crate::sys;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[cfg(test)]
mod tests;

/// The ring of one direction: at most this many bytes are held between read and write.
/// 128 KiB rather than 64: one connection relays about 1.5x faster (fewer syscalls per byte;
/// `make bench-tcp`: 2.1 GB/s against 1.35, where haproxy does 1.8), for at most 256 KiB a
/// relayed connection.
pub const BUF: usize = 128 * 1024;
/// The ring of a direction with `latency`: bytes wait there for their time, so it bounds the
/// throughput to `LATENCY_BUF / latency` (10 MiB/s at 100 ms).
pub const LATENCY_BUF: usize = 1024 * 1024;
/// Most chunks waiting in one direction (a chunk is one read, with its due time).
pub const MAX_CHUNKS: usize = 4096;
/// How often a waiting relay looks at the stop flag.
pub const TICK: Duration = Duration::from_millis(50);
/// How long a clean close reads what the peers still send, so that its FIN stays a FIN.
pub const LINGER: Duration = Duration::from_secs(2);
/// Most bytes a clean close reads and throws away.
pub const LINGER_BYTES: usize = 16 * 1024 * 1024;
/// How long a reset waits for its prefix to be acknowledged when there is no idle timeout.
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);
/// With `slice`, the next write waits until the last one has left the socket, looking again
/// after this long at first, then twice as long each time up to [`SLICE_NAP_MAX`].
const SLICE_NAP_MIN: Duration = Duration::from_micros(100);
/// The longest wait between looks while a slice cannot leave (a receiver that stopped reading).
const SLICE_NAP_MAX: Duration = Duration::from_millis(20);

/// What a relay needs besides the client and the plan.
#[derive(Clone, Copy, Debug)]
pub struct RelayEnv<'a> {
    /// Where every connection is relayed to.
    pub upstream: SocketAddr,
    /// How long a connect to the upstream may take.
    pub connect_timeout: Duration,
    /// The relay ends with `timeout` when no byte moved either way for this long (time the
    /// plan holds bytes back does not count). Also bounds the wait for acknowledgements before
    /// a reset. `None`: no limit.
    pub idle_timeout: Option<Duration>,
    /// When set, the relay ends within about [`TICK`], closing both sides.
    pub stop: &'a AtomicBool,
    /// Seeds the draws of `latency=DUR~JITTER` and `slice=SIZE~VARIATION` (derive it from
    /// `--seed` and the connection, so runs repeat).
    pub seed: u64,
}

/// How one direction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirEnd {
    /// The sender's FIN was passed on as a FIN, after every byte.
    Eof,
    /// The sender's RST was passed on as an RST, after every byte that arrived before it
    /// (acknowledged).
    Reset,
    /// The plan's `reset=OFFSET` (in either direction, or bare) ended the connection.
    CutReset,
    /// The plan's `close=OFFSET` ended the connection.
    CutClose,
    /// The plan's `hang=OFFSET` silenced the connection until the client left.
    CutHang,
    /// The receiver went away (a write failed, or it reset): what was left is dropped.
    PeerGone,
    /// Nothing moved for the idle timeout.
    Timeout,
    /// The upstream refused the connection.
    Refused,
    /// The upstream could not be reached (no route, network down, ...).
    Unreachable,
    /// The stop flag ended the relay.
    Stopped,
    /// A socket call that should not fail did (setting a socket non-blocking, `poll`).
    Error,
}

impl DirEnd {
    /// The name for logs and the journal.
    pub fn name(self) -> &'static str {
        match self {
            DirEnd::Eof => "eof",
            DirEnd::Reset => "reset",
            DirEnd::CutReset => "cut-reset",
            DirEnd::CutClose => "cut-close",
            DirEnd::CutHang => "cut-hang",
            DirEnd::PeerGone => "peer-gone",
            DirEnd::Timeout => "timeout",
            DirEnd::Refused => "refused",
            DirEnd::Unreachable => "unreachable",
            DirEnd::Stopped => "stopped",
            DirEnd::Error => "error",
        }
    }

    fn cut(kind: EndKind) -> DirEnd {
        match kind {
            EndKind::Reset => DirEnd::CutReset,
            EndKind::Close => DirEnd::CutClose,
            EndKind::Hang => DirEnd::CutHang,
        }
    }
}

/// One direction's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirOutcome {
    /// Bytes delivered to the receiver (written; for a reset, also acknowledged).
    pub bytes: u64,
    /// How the direction ended.
    pub end: DirEnd,
}

/// What one relayed connection did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelayOutcome {
    /// Client to upstream.
    pub up: DirOutcome,
    /// Upstream to client.
    pub down: DirOutcome,
    /// How the connection ended.
    pub end: End,
    /// What the upstream did, when it matters: `refused` (cannot connect: refused or
    /// unreachable), `timeout` (the connect timed out), `reset` (it sent an RST, or vanished
    /// under a write), `close` (it sent its FIN before the client sent one).
    pub upstream: Option<&'static str>,
    /// Was an upstream connection made?
    pub connected: bool,
}

/// Relays `client` to a new connection to `env.upstream` until both sides are done, the plan
/// ends the connection, the idle timeout passes or `env.stop` is set. Blocks the calling
/// thread (one per connection; 256 KiB of stack is plenty: the rings are on the heap).
///
/// On the wire: a FIN from one side becomes a FIN to the other while the other direction goes
/// on; an RST from one side becomes an RST to the other, after the bytes that came before it
/// were delivered and acknowledged. A failed upstream connect resets the client. A cut ends
/// both connections at once; bytes still held for the other direction are dropped.
pub fn relay(client: TcpStream, plan: &TcpPlan, env: &RelayEnv<'_>) -> RelayOutcome {
    let shapes = [DirShape::of(&plan.up), DirShape::of(&plan.down)];
    relay_shaped(client, (plan.delay, plan.at_accept), shapes, None, env)
}

/// [`relay`] with shapes that a [`Shaper`] gives and changes while the connection lives
/// (toxiproxy's toxics): asked before connecting, and between chunks after.
pub fn relay_live(client: TcpStream, live: &mut dyn Shaper, env: &RelayEnv<'_>) -> RelayOutcome {
    let start = live.start(Instant::now());
    // The first shapes are asked for once connected, when the relay starts.
    relay_shaped(client, start, Default::default(), Some(live), env)
}

fn relay_shaped(
    client: TcpStream,
    (delay, at_accept): (Option<Duration>, Option<EndKind>),
    [up, down]: [DirShape; 2],
    live: Option<&mut dyn Shaper>,
    env: &RelayEnv<'_>,
) -> RelayOutcome {
    if let Some(d) = delay {
        if !sleep_unless_stopped(d, env.stop) {
            return no_relay(DirEnd::Stopped, End::Close, None);
        }
    }
    if let Some(kind) = at_accept {
        end_at_accept(client, kind, env.stop);
        return no_relay(DirEnd::cut(kind), End::from(kind), None);
    }
    let (upstream, already_reset) = match connect(env) {
        Ok(c) => c,
        Err(DirEnd::Stopped) => return no_relay(DirEnd::Stopped, End::Close, None),
        Err(end) => {
            let name = if end == DirEnd::Timeout {
                "timeout"
            } else {
                "refused"
            };
            // The client cannot be told why; an RST is what it would have got from a closed
            // port, where a FIN would look like an empty, successful answer.
            let _ = sys::set_linger_zero(&client);
            return no_relay(end, End::Error, Some(name));
        }
    };
    match Relay::new(client, upstream, [up, down], live, env) {
        Some(mut r) => {
            // Its bytes are still there to relay; its end of stream is the reset.
            r.down.src_dead = already_reset;
            r.run()
        }
        None => RelayOutcome {
            connected: true,
            ..no_relay(DirEnd::Error, End::Error, None)
        },
    }
}

/// Connects to the upstream, looking at the stop flag meanwhile. `true` beside the socket: the
/// upstream accepted and already reset (what it sent before is still readable). The error is
/// the direction end to report: `Refused`, `Unreachable`, `Timeout` or `Stopped`.
fn connect(env: &RelayEnv<'_>) -> Result<(TcpStream, bool), DirEnd> {
    let failed = |e: &io::Error| match e.kind() {
        io::ErrorKind::ConnectionRefused => DirEnd::Refused,
        io::ErrorKind::TimedOut => DirEnd::Timeout,
        _ => DirEnd::Unreachable,
    };
    let sock = sys::start_connect(&env.upstream).map_err(|e| failed(&e))?;
    let deadline = Instant::now() + env.connect_timeout;
    loop {
        if env.stop.load(Ordering::Relaxed) {
            return Err(DirEnd::Stopped);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(DirEnd::Timeout);
        }
        let mut fds = [libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLOUT,
            revents: 0,
        }];
        sys::poll(&mut fds, (deadline - now).min(TICK)).map_err(|e| failed(&e))?;
        if fds[0].revents != 0 {
            break;
        }
    }
    match sock.take_error() {
        Ok(None) => Ok((sock, false)),
        Ok(Some(e)) | Err(e) => match e.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => Ok((sock, true)),
            _ => Err(failed(&e)),
        },
    }
}

/// The outcome of a connection that was never relayed: the upstream could not be found
/// (`upstream` says what happened), the client was reset.
pub fn no_connection(upstream: Option<&'static str>) -> RelayOutcome {
    no_relay(DirEnd::Unreachable, End::Error, upstream)
}

fn no_relay(end: DirEnd, overall: End, upstream: Option<&'static str>) -> RelayOutcome {
    let dir = DirOutcome { bytes: 0, end };
    RelayOutcome {
        up: dir,
        down: dir,
        end: overall,
        upstream,
        connected: false,
    }
}

/// Sleeps for `d`, looking at the stop flag every [`TICK`]. False when stopped.
fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + d;
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= until {
            return true;
        }
        std::thread::sleep((until - now).min(TICK));
    }
}

/// `reset`, `close` or `hang` without an offset: the client alone, no upstream.
fn end_at_accept(client: TcpStream, kind: EndKind, stop: &AtomicBool) {
    match kind {
        EndKind::Reset => {
            let _ = sys::set_linger_zero(&client);
        }
        EndKind::Close => {
            let _ = client.shutdown(Shutdown::Write);
            drain(&[&client], stop);
        }
        EndKind::Hang => hold(&client, stop),
    }
    // Dropping the only descriptor sends the RST (linger 0) or completes the close.
}

/// Waits until every byte written to `sock` is acknowledged, at most `limit`: a reset throws
/// away whatever is still unacknowledged, and the prefix before it must arrive whole.
fn wait_acked(sock: &TcpStream, limit: Duration, stop: &AtomicBool) {
    let deadline = Instant::now() + limit;
    let mut nap = Duration::from_micros(50);
    while let Ok(n) = sys::unacked_bytes(sock) {
        if n == 0 || Instant::now() >= deadline || stop.load(Ordering::Relaxed) {
            break;
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(5));
    }
}

/// After our FIN, reads and drops what the peers still send until they close too (bounded by
/// [`LINGER`] and [`LINGER_BYTES`]): closing with unread bytes makes Linux send an RST
/// instead of the FIN.
fn drain(socks: &[&TcpStream], stop: &AtomicBool) {
    let deadline = Instant::now() + LINGER;
    let mut done: Vec<bool> = socks
        .iter()
        .map(|s| s.set_nonblocking(true).is_err())
        .collect();
    let mut total = 0usize;
    let mut buf = [0u8; 16 * 1024];
    loop {
        for (sock, done) in socks.iter().zip(done.iter_mut()) {
            while !*done && total < LINGER_BYTES {
                match (&**sock).read(&mut buf) {
                    Ok(0) => *done = true,
                    Ok(n) => total = total.saturating_add(n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => *done = true,
                }
            }
        }
        let now = Instant::now();
        if done.iter().all(|d| *d)
            || total >= LINGER_BYTES
            || now >= deadline
            || stop.load(Ordering::Relaxed)
        {
            return;
        }
        let mut fds: Vec<libc::pollfd> = socks
            .iter()
            .zip(&done)
            .map(|(s, d)| libc::pollfd {
                fd: if *d { -1 } else { s.as_raw_fd() },
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        if sys::poll(&mut fds, (deadline - now).min(TICK)).is_err() {
            return;
        }
    }
}

/// Holds the connection silent until the client leaves (FIN or RST) or the stop flag is set.
/// Nothing is read, so what the client sends stalls in the buffers.
fn hold(client: &TcpStream, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let mut fds = [libc::pollfd {
            fd: client.as_raw_fd(),
            events: libc::POLLRDHUP,
            revents: 0,
        }];
        match sys::poll(&mut fds, TICK) {
            Ok(_) => {
                let gone = libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL;
                if fds[0].revents & gone != 0 {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

/// Bytes between read and write: a fixed ring, so memory stays bounded whatever flows.
struct Ring {
    buf: Box<[u8]>,
    head: usize,
    len: usize,
}

impl Ring {
    fn new(cap: usize) -> Ring {
        Ring {
            buf: vec![0; cap].into_boxed_slice(),
            head: 0,
            len: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Makes room for `cap` bytes in all (never smaller), keeping the bytes in order.
    fn grow(&mut self, cap: usize) {
        if cap <= self.buf.len() {
            return;
        }
        let first = self.filled();
        let rest = self.len - first.len();
        let mut buf = Vec::with_capacity(cap);
        buf.extend_from_slice(first);
        buf.extend_from_slice(self.buf.get(..rest).unwrap_or_default());
        self.len = buf.len();
        buf.resize(cap, 0);
        self.buf = buf.into_boxed_slice();
        self.head = 0;
    }

    /// The oldest bytes, as far as they are contiguous.
    fn filled(&self) -> &[u8] {
        let end = self.head.saturating_add(self.len).min(self.buf.len());
        self.buf.get(self.head..end).unwrap_or_default()
    }

    /// Contiguous free space after the newest byte.
    fn free(&mut self) -> &mut [u8] {
        let cap = self.buf.len();
        if self.len >= cap {
            return &mut [];
        }
        let tail = self.head + self.len;
        let (start, end) = if tail < cap {
            (tail, cap)
        } else {
            (tail - cap, self.head)
        };
        self.buf.get_mut(start..end).unwrap_or_default()
    }

    fn commit(&mut self, n: usize) {
        self.len = self.len.saturating_add(n).min(self.buf.len());
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.len -= n;
        // An empty ring starts over at 0, so the next read gets the whole buffer.
        self.head = if self.len == 0 {
            0
        } else {
            (self.head + n) % self.buf.len()
        };
    }
}

/// A direction's timeline: its plan's pauses, pace and cut (offsets of the direction's bytes).
fn timeline_of(shape: &DirShape) -> Timeline {
    let p = &shape.plan;
    let pauses = p.pauses.iter().map(|&(off, d)| (At::Byte(off), d));
    let cut = p.ending.map(|(kind, at)| (At::Byte(at), kind));
    Timeline::new(pauses, cut, p.rate, None)
}

/// One read's bytes and when they may go out.
struct Chunk {
    due: Instant,
    len: usize,
}

/// The state of the sending side of a direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Src {
    Open,
    Eof,
    Reset,
}

/// One direction: its shape, its ring and its counts.
struct Pipe {
    shape: DirShape,
    ring: Ring,
    /// The ring's bytes in arrival order; their lengths add up to the ring's.
    chunks: VecDeque<Chunk>,
    read: u64,
    sent: u64,
    src: Src,
    /// A write to the source's socket failed, so its end of stream is a reset, not a FIN.
    src_dead: bool,
    /// The one byte timeline (src/shape.rs): pauses, pace and the cut at offsets of this
    /// direction. Bytes are fed to it as they become due (after `latency`).
    timeline: Timeline,
    /// The timeline said to wait until then (a pause, or the pace).
    wait: Option<Instant>,
    /// The timeline said to cut here.
    cut: Option<EndKind>,
    /// With `slice`: the last slice has not left yet; look again at this time.
    slice_retry: Option<Instant>,
    slice_nap: Duration,
    /// With `slice`: the size of the next write (drawn with `~VARIATION`).
    slice_now: u64,
    /// With `slice=SIZE,DELAY`: the next slice waits until then.
    slice_next: Option<Instant>,
    /// `reset_after_data`, armed by the first byte read: the reset's time.
    data_cut: Option<Instant>,
    /// With `eof_delay`: when the FIN may be passed on.
    eof_at: Option<Instant>,
    /// Draws for jitter and slice variation.
    rng: Rng,
    end: Option<DirEnd>,
    want_read: bool,
    want_write: bool,
    /// The source may have bytes (or its end) to read: false after a read found it empty (or
    /// came back short), true again when poll says so. Saves the read that would only say
    /// `EAGAIN`: with many small messages most reads did.
    src_ready: bool,
    /// The destination may take bytes: false after a write was refused or came back short.
    dst_ready: bool,
}

/// What one step of a direction did.
enum Advance {
    Nothing,
    Moved,
    /// The source sent its FIN.
    SrcEof,
    /// The source reset: the other direction's receiver is gone.
    SrcGone,
    /// A write failed: the receiver is gone, so the other direction's source is dead.
    DstGone,
    /// The plan's cut offset is reached.
    Cut(EndKind),
}

fn clamp(n: u64, cap: usize) -> usize {
    usize::try_from(n).map_or(cap, |n| n.min(cap))
}

impl Pipe {
    fn new(shape: DirShape, seed: u64) -> Pipe {
        let mut pipe = Pipe {
            timeline: timeline_of(&shape),
            wait: None,
            cut: None,
            ring: Ring::new(if shape.plan.latency.is_some() {
                LATENCY_BUF
            } else {
                BUF
            }),
            shape,
            chunks: VecDeque::new(),
            read: 0,
            sent: 0,
            src: Src::Open,
            src_dead: false,
            slice_retry: None,
            slice_nap: SLICE_NAP_MIN,
            slice_now: 0,
            slice_next: None,
            data_cut: None,
            eof_at: None,
            rng: Rng::new(seed),
            end: None,
            want_read: false,
            want_write: false,
            src_ready: true,
            dst_ready: true,
        };
        pipe.draw_slice();
        pipe
    }

    /// A new shape from the next chunk on (a toxic added, changed or removed). Bytes already
    /// read keep their times, except that with no latency left they go at once (as
    /// toxiproxy flushes a removed latency toxic's chunks).
    fn reshape(&mut self, shape: DirShape, now: Instant) {
        if shape.plan.latency.is_none() {
            for c in &mut self.chunks {
                c.due = c.due.min(now);
            }
        } else if self.end.is_none() {
            self.ring.grow(LATENCY_BUF);
        }
        // Fed again below as the bytes it holds come due.
        self.timeline = timeline_of(&shape).resume(self.sent);
        self.wait = None;
        if shape.reset_after_data.is_none() {
            self.data_cut = None;
        }
        if shape.eof_delay != self.shape.eof_delay {
            self.eof_at = None;
        }
        self.shape = shape;
        self.draw_slice();
    }

    /// The size of the next slice: SIZE, or drawn from SIZE-VARIATION..=SIZE+VARIATION.
    fn draw_slice(&mut self) {
        let Some(size) = self.shape.plan.slice else {
            return;
        };
        self.slice_now = match self.shape.plan.slice_variation {
            Some(var) => {
                let lo = size.saturating_sub(var).max(1);
                let hi = size.saturating_add(var);
                lo + self.rng.next_u64() % (hi - lo + 1)
            }
            None => size,
        };
    }

    /// When a chunk read now may go out: now + latency, moved by up to plus or minus the
    /// jitter (never before now).
    fn due(&mut self, now: Instant) -> Instant {
        let Some(l) = self.shape.plan.latency else {
            return now;
        };
        let Some(j) = self.shape.plan.jitter else {
            return now + l;
        };
        let span = u64::try_from(j.as_micros()).unwrap_or(u64::MAX / 4);
        let draw = self.rng.next_u64() % (span.saturating_mul(2).saturating_add(1));
        let late = l + Duration::from_micros(draw);
        now + late.saturating_sub(j)
    }

    /// The timed cut due first, if any: the shape's, or the one the first byte armed.
    fn timed_cut(&self) -> Option<(EndKind, Instant)> {
        match (self.shape.cut_at, self.data_cut) {
            (Some((k, a)), Some(b)) if a <= b => Some((k, a)),
            (_, Some(b)) => Some((EndKind::Reset, b)),
            (a, None) => a,
        }
    }

    /// Ends the direction now, dropping what it holds.
    fn give_up(&mut self, end: DirEnd) {
        if self.end.is_none() {
            self.end = Some(end);
        }
        self.ring = Ring::new(0);
        self.chunks = VecDeque::new();
    }

    /// Bytes that may be written now: the timeline's answer over the bytes due (their
    /// latency passed), limited to the front chunk and to a slice.
    fn sendable(&mut self, now: Instant) -> usize {
        self.wait = None;
        if self.shape.hold {
            return 0;
        }
        // Feed what came due.
        let mut due_end = self.sent;
        for c in self.chunks.iter().take_while(|c| c.due <= now) {
            due_end += c.len as u64;
        }
        if due_end > self.timeline.fed() {
            self.timeline.advance(due_end - self.timeline.fed());
        }
        let up_to = match self.timeline.next(self.sent, now) {
            Step::Write(up_to) => up_to,
            Step::Wait(t) => {
                self.wait = Some(t);
                return 0;
            }
            Step::Cut(kind) => {
                self.cut = Some(kind);
                return 0;
            }
            Step::Feed => return 0,
        };
        let Some(front) = self.chunks.front() else {
            return 0;
        };
        let mut n = clamp(up_to - self.sent, front.len.min(self.ring.filled().len()));
        if self.shape.plan.slice.is_some() {
            if self.slice_next.is_some_and(|t| t > now) {
                return 0;
            }
            n = clamp(self.slice_now, n);
        }
        n
    }

    /// When the plan next lets bytes go that it now holds back.
    fn timer(&self, now: Instant) -> Option<Instant> {
        if self.end.is_some() {
            return None;
        }
        let cut = self.timed_cut().map(|(_, t)| t);
        let eof = self.eof_at.filter(|t| *t > now);
        let held = self.held_timer(now);
        [cut, eof, held].into_iter().flatten().min()
    }

    /// When the plan next lets go of bytes it holds back now.
    fn held_timer(&self, now: Instant) -> Option<Instant> {
        if let Some(u) = self.wait.filter(|u| *u > now) {
            return Some(u);
        }
        let front = self.chunks.front()?;
        if front.due > now {
            return Some(front.due);
        }
        if let Some(t) = self.slice_next.filter(|t| *t > now) {
            return Some(t);
        }
        self.slice_retry.filter(|t| *t > now)
    }

    /// With `slice`: may the next slice go, or would it merge into the last one, which has
    /// not left the socket yet? A segment is only cut where a write finds the queue empty.
    fn slice_ready(&mut self, dst: &TcpStream, now: Instant) -> bool {
        if self.shape.plan.slice.is_none() {
            return true;
        }
        match sys::unsent_bytes(dst) {
            Ok(n) if n > 0 => {
                self.slice_retry = Some(now + self.slice_nap);
                self.slice_nap = (self.slice_nap * 2).min(SLICE_NAP_MAX);
                false
            }
            _ => {
                self.slice_retry = None;
                self.slice_nap = SLICE_NAP_MIN;
                true
            }
        }
    }

    fn record_write(&mut self, k: usize, now: Instant) {
        self.ring.consume(k);
        if let Some(front) = self.chunks.front_mut() {
            front.len = front.len.saturating_sub(k);
            if front.len == 0 {
                self.chunks.pop_front();
            }
        }
        let k64 = u64::try_from(k).unwrap_or(u64::MAX);
        self.sent = self.sent.saturating_add(k64);
        if self.shape.plan.slice.is_some() {
            self.slice_next = self.shape.plan.slice_delay.map(|d| now + d);
            self.draw_slice();
        }
    }

    fn record_read(&mut self, k: usize, now: Instant) {
        self.ring.commit(k);
        self.read = self
            .read
            .saturating_add(u64::try_from(k).unwrap_or(u64::MAX));
        if let (Some(d), None) = (self.shape.reset_after_data, self.data_cut) {
            self.data_cut = Some(now + d);
        }
        let due = self.due(now);
        match self.chunks.back_mut() {
            // Without latency every byte is due at once: one chunk is enough.
            Some(last) if self.shape.plan.latency.is_none() || last.due == due => last.len += k,
            // Jitter never reorders: a chunk drawn earlier than the one before waits for it.
            Some(last) => {
                let due = due.max(last.due);
                self.chunks.push_back(Chunk { due, len: k });
            }
            None => self.chunks.push_back(Chunk { due, len: k }),
        }
    }

    /// Moves what it can without blocking: pauses, the cut, one write, the end of stream,
    /// one read. Sets `want_read`/`want_write` when a socket would block.
    fn advance(&mut self, src: &TcpStream, dst: &TcpStream, now: Instant, ack: &Ack) -> Advance {
        self.want_read = false;
        self.want_write = false;
        if self.end.is_some() {
            return Advance::Nothing;
        }
        if let Some((kind, at)) = self.timed_cut() {
            if at <= now {
                return Advance::Cut(kind);
            }
        }
        let n = self.sendable(now);
        if let Some(kind) = self.cut.take() {
            return Advance::Cut(kind);
        }
        let mut moved = false;
        if self.wait.is_none() {
            match self.write_some(dst, n, now) {
                Ok(m) => moved = m,
                Err(done) => return done,
            }
            if self.ring.is_empty() && self.src != Src::Open {
                return self.pass_end(dst, now, ack, moved);
            }
        }
        let moved = if moved {
            Advance::Moved
        } else {
            Advance::Nothing
        };
        if self.src != Src::Open || self.chunks.len() >= MAX_CHUNKS {
            return moved;
        }
        self.read_some(src, now).unwrap_or(moved)
    }

    /// Writes up to `n` bytes (when the destination takes them and a slice may go): whether
    /// bytes moved, or how the direction ended (the receiver gone, the cut right after its
    /// last byte).
    fn write_some(&mut self, dst: &TcpStream, n: usize, now: Instant) -> Result<bool, Advance> {
        if n > 0 && !self.dst_ready {
            self.want_write = true;
            return Ok(false);
        }
        if n == 0 || !self.slice_ready(dst, now) {
            return Ok(false);
        }
        let bytes = self.ring.filled().get(..n).unwrap_or_default();
        match (&*dst).write(bytes) {
            Ok(0) => {
                self.give_up(DirEnd::PeerGone);
                Err(Advance::DstGone)
            }
            Ok(k) => {
                if k < bytes.len() {
                    // The socket's buffer is full: wait for POLLOUT, not EAGAIN.
                    self.dst_ready = false;
                    self.want_write = true;
                }
                self.record_write(k, now);
                // The cut follows its last byte at once (unless a pause comes first), so
                // nothing else, the stop flag included, can come between.
                match self.timeline.next(self.sent, now) {
                    Step::Cut(kind) => Err(Advance::Cut(kind)),
                    _ => Ok(true),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.dst_ready = false;
                self.want_write = true;
                Ok(false)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(true),
            Err(_) => {
                self.give_up(DirEnd::PeerGone);
                Err(Advance::DstGone)
            }
        }
    }

    /// Every byte is out and the source has ended: its FIN passed on (after `eof_delay`), or
    /// its reset, after what was relayed is acknowledged.
    fn pass_end(&mut self, dst: &TcpStream, now: Instant, ack: &Ack, moved: bool) -> Advance {
        if self.src == Src::Eof && !self.src_dead {
            if let Some(d) = self.shape.eof_delay {
                let at = *self.eof_at.get_or_insert(now + d);
                if at > now {
                    return if moved {
                        Advance::Moved
                    } else {
                        Advance::Nothing
                    };
                }
            }
            let _ = dst.shutdown(Shutdown::Write);
            self.give_up(DirEnd::Eof);
        } else {
            ack.wait(dst);
            self.give_up(DirEnd::Reset);
        }
        Advance::Moved
    }

    /// One read from the source, never past the plan's cut offset: what it brought, or
    /// `None` when nothing could be read now.
    fn read_some(&mut self, src: &TcpStream, now: Instant) -> Option<Advance> {
        let left = match self.shape.plan.ending {
            Some((_, at)) => at.saturating_sub(self.read),
            None => u64::MAX,
        };
        let free = self.ring.free();
        let want = clamp(left, free.len());
        if want == 0 {
            return None;
        }
        let free = free.get_mut(..want)?;
        if !self.src_ready {
            self.want_read = true;
            return None;
        }
        match (&*src).read(free) {
            Ok(0) if self.src_dead => {
                self.src = Src::Reset;
                Some(Advance::SrcGone)
            }
            Ok(0) => {
                self.src = Src::Eof;
                Some(Advance::SrcEof)
            }
            Ok(k) => {
                // A short read took all there was: the next read waits for POLLIN.
                if k < want {
                    self.src_ready = false;
                }
                self.record_read(k, now);
                Some(Advance::Moved)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.src_ready = false;
                self.want_read = true;
                None
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Some(Advance::Moved),
            Err(_) => {
                self.src = Src::Reset;
                Some(Advance::SrcGone)
            }
        }
    }
}

/// The bounded wait for acknowledgements before a reset.
struct Ack<'a> {
    limit: Duration,
    stop: &'a AtomicBool,
}

impl Ack<'_> {
    fn wait(&self, sock: &TcpStream) {
        wait_acked(sock, self.limit, self.stop);
    }
}

/// One relayed connection.
struct Relay<'a, 'l> {
    client: TcpStream,
    upstream: TcpStream,
    up: Pipe,
    down: Pipe,
    /// Where the shapes come from while the connection lives, when they may change.
    live: Option<&'l mut (dyn Shaper + 'l)>,
    env: &'a RelayEnv<'a>,
    /// Poll reported a hangup or an error on [client, upstream]: it is not polled again (it
    /// would report the same at once, for ever); reads and writes on it no longer block.
    hup: [bool; 2],
    upstream_reset: bool,
    upstream_fin_first: bool,
}

impl<'a, 'l> Relay<'a, 'l> {
    fn new(
        client: TcpStream,
        upstream: TcpStream,
        [up, down]: [DirShape; 2],
        live: Option<&'l mut (dyn Shaper + 'l)>,
        env: &'a RelayEnv<'a>,
    ) -> Option<Relay<'a, 'l>> {
        client.set_nonblocking(true).ok()?;
        upstream.set_nonblocking(true).ok()?;
        // Chunks go on as they came: Nagle's wait for an ACK would only add latency, and
        // `slice` needs every write to leave as its own segment.
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        let now = Instant::now();
        let mut relay = Relay {
            client,
            upstream,
            up: Pipe::new(up, env.seed),
            down: Pipe::new(down, env.seed ^ 0x5bd1_e995_5bd1_e995),
            live,
            env,
            hup: [false; 2],
            upstream_reset: false,
            upstream_fin_first: false,
        };
        relay.reshape(now);
        Some(relay)
    }

    /// Takes the shapes that changed since the last look (live relays only).
    fn reshape(&mut self, now: Instant) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        if let Some(s) = live.shape(Dir::Up, self.up.sent, now) {
            self.up.reshape(s, now);
        }
        if let Some(s) = live.shape(Dir::Down, self.down.sent, now) {
            self.down.reshape(s, now);
        }
    }

    fn run(mut self) -> RelayOutcome {
        let ack = Ack {
            limit: self.env.idle_timeout.unwrap_or(DEFAULT_ACK_WAIT),
            stop: self.env.stop,
        };
        let mut last_activity = Instant::now();
        loop {
            let now = Instant::now();
            self.reshape(now);
            let mut moved = false;
            for d in [Dir::Up, Dir::Down] {
                let (pipe, other, src, dst) = match d {
                    Dir::Up => (&mut self.up, &mut self.down, &self.client, &self.upstream),
                    Dir::Down => (&mut self.down, &mut self.up, &self.upstream, &self.client),
                };
                match pipe.advance(src, dst, now, &ack) {
                    Advance::Nothing => {}
                    Advance::Moved => moved = true,
                    Advance::SrcEof => {
                        moved = true;
                        if d == Dir::Down && other.src == Src::Open {
                            self.upstream_fin_first = true;
                        }
                    }
                    Advance::SrcGone => {
                        moved = true;
                        self.upstream_reset |= d == Dir::Down;
                        other.give_up(DirEnd::PeerGone);
                    }
                    Advance::DstGone => {
                        moved = true;
                        self.upstream_reset |= d == Dir::Up;
                        other.src_dead = true;
                    }
                    Advance::Cut(kind) => return self.cut(d, kind, &ack),
                }
            }
            if self.up.end.is_some() && self.down.end.is_some() {
                return self.finish(None);
            }
            // Looked at after a round of progress, so that a cut whose bytes are out is
            // reported as the cut, not as the stop.
            if self.env.stop.load(Ordering::Relaxed) {
                return self.finish(Some(DirEnd::Stopped));
            }
            if moved {
                last_activity = now;
                continue;
            }
            let timer = match (self.up.timer(now), self.down.timer(now)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            // Time the plan holds bytes back is not the peers' idleness.
            if timer.is_some() {
                last_activity = now;
            }
            let mut wait = TICK;
            if let Some(t) = timer {
                wait = wait.min(t.saturating_duration_since(now));
            }
            if let Some(idle) = self.env.idle_timeout {
                let deadline = last_activity + idle;
                if now >= deadline {
                    return self.finish(Some(DirEnd::Timeout));
                }
                wait = wait.min(deadline - now);
            }
            if self.wait(wait).is_err() {
                return self.finish(Some(DirEnd::Error));
            }
        }
    }

    /// Polls both sockets for what the directions wait on, at most `timeout`.
    fn wait(&mut self, timeout: Duration) -> io::Result<()> {
        let mut events = [0, 0];
        if self.up.want_read {
            events[0] |= libc::POLLIN;
        }
        if self.down.want_write {
            events[0] |= libc::POLLOUT;
        }
        if self.down.want_read {
            events[1] |= libc::POLLIN;
        }
        if self.up.want_write {
            events[1] |= libc::POLLOUT;
        }
        let socks = [self.client.as_raw_fd(), self.upstream.as_raw_fd()];
        let mut fds = [0, 1].map(|i| libc::pollfd {
            fd: if self.hup[i] { -1 } else { socks[i] },
            events: events[i],
            revents: 0,
        });
        sys::poll(&mut fds, timeout)?;
        for (hup, fd) in self.hup.iter_mut().zip(&fds) {
            if fd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                *hup = true;
            }
        }
        // What poll found ready, for each direction's reads and writes; a socket no longer
        // polled (hung up) never blocks, so it is always ready.
        let ready = |i: usize, what: libc::c_short| self.hup[i] || fds[i].revents & what != 0;
        if ready(0, libc::POLLIN) {
            self.up.src_ready = true;
        }
        if ready(0, libc::POLLOUT) {
            self.down.dst_ready = true;
        }
        if ready(1, libc::POLLIN) {
            self.down.src_ready = true;
        }
        if ready(1, libc::POLLOUT) {
            self.up.dst_ready = true;
        }
        Ok(())
    }

    /// The plan's cut in direction `d`: both connections end at once.
    fn cut(mut self, d: Dir, kind: EndKind, ack: &Ack) -> RelayOutcome {
        let end = DirEnd::cut(kind);
        self.up.give_up(end);
        self.down.give_up(end);
        match kind {
            EndKind::Reset => {
                let dst = match d {
                    Dir::Up => &self.upstream,
                    Dir::Down => &self.client,
                };
                ack.wait(dst);
                let _ = sys::set_linger_zero(&self.client);
                let _ = sys::set_linger_zero(&self.upstream);
            }
            EndKind::Close => {
                let _ = self.client.shutdown(Shutdown::Write);
                let _ = self.upstream.shutdown(Shutdown::Write);
                drain(&[&self.client, &self.upstream], self.env.stop);
            }
            EndKind::Hang => hold(&self.client, self.env.stop),
        }
        self.outcome(End::from(kind))
        // Dropping both sockets sends the RSTs, or completes the closes.
    }

    /// Ends the relay: `end` for the directions still going. A reset passed on, or a peer
    /// gone, makes the close of the other side an RST too.
    fn finish(mut self, end: Option<DirEnd>) -> RelayOutcome {
        if let Some(end) = end {
            self.up.give_up(end);
            self.down.give_up(end);
        }
        let ends = [self.up.end, self.down.end];
        if ends
            .iter()
            .any(|e| matches!(e, Some(DirEnd::Reset | DirEnd::PeerGone)))
        {
            let _ = sys::set_linger_zero(&self.client);
            let _ = sys::set_linger_zero(&self.upstream);
        }
        let has = |x: DirEnd| ends.contains(&Some(x));
        let overall = if has(DirEnd::Stopped) {
            End::Close
        } else if has(DirEnd::Timeout) {
            End::Timeout
        } else if has(DirEnd::Error) {
            End::Error
        } else if self.up.end == Some(DirEnd::Reset) || self.down.end == Some(DirEnd::PeerGone) {
            End::PeerGone
        } else if self.down.end == Some(DirEnd::Reset) || self.up.end == Some(DirEnd::PeerGone) {
            End::Reset
        } else {
            End::Complete
        };
        self.outcome(overall)
    }

    fn outcome(&self, end: End) -> RelayOutcome {
        let dir = |p: &Pipe| DirOutcome {
            bytes: p.sent,
            end: p.end.unwrap_or(DirEnd::Error),
        };
        RelayOutcome {
            up: dir(&self.up),
            down: dir(&self.down),
            end,
            upstream: if self.upstream_reset {
                Some("reset")
            } else if self.upstream_fin_first {
                Some("close")
            } else {
                None
            },
            connected: true,
        }
    }
}
