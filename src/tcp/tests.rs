//! Socket tests of the relay over 127.0.0.1: the relay runs in-process between a test client
//! and a test upstream, both written here. Every blocking step has a deadline.

use super::*;
use std::net::TcpListener;
use std::sync::{mpsc, Arc};
use std::thread;

/// The deadline on every blocking step that should finish on its own.
const T: Duration = Duration::from_secs(20);
/// How long a reader waits to call a silence a silence.
const QUIET: Duration = Duration::from_millis(600);

/// A relay under test: the client's socket, and the relay's outcome once it ends.
struct Running {
    client: TcpStream,
    done: mpsc::Receiver<RelayOutcome>,
    stop: Arc<AtomicBool>,
}

impl Running {
    fn outcome(&self) -> RelayOutcome {
        self.done.recv_timeout(T).expect("the relay did not end")
    }
}

fn start(plan: &str, upstream: SocketAddr) -> Running {
    start_with(plan, upstream, Some(T))
}

fn start_with(plan: &str, upstream: SocketAddr, idle: Option<Duration>) -> Running {
    let plan = TcpPlan::parse(plan).unwrap_or_else(|e| panic!("{plan}: {e}"));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    client.set_read_timeout(Some(T)).unwrap();
    client.set_write_timeout(Some(T)).unwrap();
    // Timing tests write single bytes: no Nagle wait for an ACK on the test's side.
    client.set_nodelay(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let (tx, done) = mpsc::channel();
    thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let env = RelayEnv {
                upstream,
                connect_timeout: Duration::from_secs(5),
                idle_timeout: idle,
                stop: &flag,
                seed: 7,
            };
            let _ = tx.send(relay(accepted, &plan, &env));
        })
        .unwrap();
    Running { client, done, stop }
}

/// A test upstream: accepts connections and serves each on its own thread; what `serve`
/// returns arrives on `reports`. Stops accepting when dropped.
struct Upstream<R> {
    addr: SocketAddr,
    reports: mpsc::Receiver<R>,
    stop: Arc<AtomicBool>,
}

impl<R> Upstream<R> {
    fn report(&self) -> R {
        self.reports
            .recv_timeout(T)
            .expect("the upstream did not report")
    }
}

impl<R> Drop for Upstream<R> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn upstream<R: Send + 'static>(
    serve: impl Fn(TcpStream) -> R + Send + Sync + 'static,
) -> Upstream<R> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, reports) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let (flag, serve) = (Arc::clone(&stop), Arc::new(serve));
    thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    s.set_read_timeout(Some(T)).unwrap();
                    s.set_write_timeout(Some(T)).unwrap();
                    s.set_nodelay(true).unwrap();
                    let (tx, serve) = (tx.clone(), Arc::clone(&serve));
                    thread::spawn(move || {
                        let _ = tx.send(serve(s));
                    });
                }
                Err(_) => {
                    let mut fds = [libc::pollfd {
                        fd: listener.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    }];
                    let _ = sys::poll(&mut fds, TICK);
                }
            }
        }
    });
    Upstream {
        addr,
        reports,
        stop,
    }
}

/// How a reader saw its stream end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Got {
    /// `Ok(0)`: a FIN.
    Fin,
    /// `ConnectionReset`: an RST.
    Rst,
    /// The read timed out: nothing came.
    Silence,
    Other(io::ErrorKind),
}

fn got(e: &io::Error) -> Got {
    match e.kind() {
        io::ErrorKind::ConnectionReset => Got::Rst,
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Got::Silence,
        k => Got::Other(k),
    }
}

/// The byte at `offset` of every test stream: position-dependent, so a lost, doubled or
/// reordered byte shows.
fn pattern(offset: u64) -> u8 {
    (offset ^ (offset >> 8) ^ (offset >> 16)).wrapping_mul(0x9d) as u8
}

fn pattern_bytes(from: u64, len: usize) -> Vec<u8> {
    (from..from + len as u64).map(pattern).collect()
}

/// Reads until the stream ends; checks every byte against [`pattern`]. Bytes read and how the
/// stream ended.
fn read_pattern(s: &mut TcpStream) -> (u64, Got) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (total, Got::Fin),
            Ok(n) => {
                for (i, b) in buf[..n].iter().enumerate() {
                    assert_eq!(*b, pattern(total + i as u64), "byte {}", total + i as u64);
                }
                total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (total, got(&e)),
        }
    }
}

/// Reads until the stream ends: bytes, how it ended, and an FNV-1a hash of the bytes.
fn read_hashed(s: &mut TcpStream) -> (u64, Got, u64) {
    let mut buf = vec![0u8; 64 * 1024];
    let (mut total, mut hash) = (0u64, FNV_START);
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (total, Got::Fin, hash),
            Ok(n) => {
                hash = fnv(hash, &buf[..n]);
                total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (total, got(&e), hash),
        }
    }
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// Writes `n` pattern bytes; `Ok` or how the write failed.
fn write_pattern(s: &mut TcpStream, n: u64) -> Result<(), Got> {
    let mut off = 0;
    while off < n {
        let len = (n - off).min(64 * 1024) as usize;
        s.write_all(&pattern_bytes(off, len)).map_err(|e| got(&e))?;
        off += len as u64;
    }
    Ok(())
}

/// An upstream that echoes what it reads, and closes its side after the client's FIN.
fn echo(mut s: TcpStream) -> (u64, Got) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        match s.read(&mut buf) {
            Ok(0) => {
                let _ = s.shutdown(Shutdown::Write);
                return (total, Got::Fin);
            }
            Ok(n) => {
                total += n as u64;
                if let Err(e) = s.write_all(&buf[..n]) {
                    return (total, got(&e));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (total, got(&e)),
        }
    }
}

/// What a source upstream saw: how its write went, then how the connection ended for it.
#[derive(Debug)]
struct SourceSaw {
    write: Result<(), Got>,
    end: Got,
}

/// An upstream that sends `n` pattern bytes, then reads until the relay ends the connection.
fn source(n: u64) -> impl Fn(TcpStream) -> SourceSaw + Send + Sync + 'static {
    move |mut s| {
        let write = write_pattern(&mut s, n);
        let (_, end) = read_pattern(&mut s);
        SourceSaw { write, end }
    }
}

/// An upstream that only reads (checking the pattern), with a short timeout so that a hang
/// shows as silence.
fn sink(mut s: TcpStream) -> (u64, Got) {
    s.set_read_timeout(Some(QUIET * 2)).unwrap();
    read_pattern(&mut s)
}

/// An address where nothing listens.
fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// Does an RST follow within `within`? A FIN read as `Ok(0)` hides a reset that came after
/// it (Linux reports the end of stream first), so a clean close is checked this way too.
fn reset_follows(s: &TcpStream, within: Duration) -> bool {
    let mut fds = [libc::pollfd {
        fd: s.as_raw_fd(),
        events: 0,
        revents: 0,
    }];
    sys::poll(&mut fds, within).unwrap();
    fds[0].revents & (libc::POLLERR | libc::POLLHUP) != 0
}

fn wait_all_acked(s: &TcpStream) {
    let deadline = Instant::now() + T;
    while sys::unacked_bytes(s).unwrap() > 0 {
        assert!(Instant::now() < deadline, "never acknowledged");
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn ring_keeps_order_across_wraps() {
    let mut ring = Ring::new(97);
    let mut model: VecDeque<u8> = VecDeque::new();
    let mut r = crate::rng::Rng::new(5);
    let mut next = 0u8;
    for _ in 0..20_000 {
        if r.next_u64() % 2 == 0 {
            let free = ring.free();
            let n = (r.next_u64() % 40) as usize % (free.len() + 1);
            for b in &mut free[..n] {
                *b = next;
                model.push_back(next);
                next = next.wrapping_add(1);
            }
            ring.commit(n);
        } else {
            let filled = ring.filled();
            let n = (r.next_u64() % 40) as usize % (filled.len() + 1);
            for b in &filled[..n] {
                assert_eq!(Some(*b), model.pop_front());
            }
            ring.consume(n);
        }
        assert_eq!(ring.len, model.len());
        assert!(!ring.filled().is_empty() || model.is_empty());
        assert!(!ring.free().is_empty() || model.len() == 97);
    }
}

#[test]
fn passes_mebibytes_unchanged_both_ways() {
    let up = upstream(echo);
    let run = start("", up.addr);
    let size = 4 * 1024 * 1024;
    let mut r = crate::rng::Rng::new(99);
    let data: Vec<u8> = (0..size).map(|_| r.next_u64() as u8).collect();
    let sent_hash = fnv(FNV_START, &data);
    let mut writer = run.client.try_clone().unwrap();
    let w = thread::spawn(move || {
        writer.write_all(&data).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let (n, end, hash) = read_hashed(&mut run.client.try_clone().unwrap());
    w.join().unwrap();
    assert_eq!((n, end), (size as u64, Got::Fin));
    assert_eq!(hash, sent_hash);
    assert_eq!(up.report(), (size as u64, Got::Fin));
    let o = run.outcome();
    assert_eq!(o.end, End::Complete);
    assert_eq!(
        o.up,
        DirOutcome {
            bytes: size as u64,
            end: DirEnd::Eof
        }
    );
    assert_eq!(
        o.down,
        DirOutcome {
            bytes: size as u64,
            end: DirEnd::Eof
        }
    );
    assert_eq!(o.upstream, None);
    assert!(o.connected);
}

#[test]
fn upstream_fin_first_leaves_the_client_direction_open() {
    let up = upstream(|mut s: TcpStream| {
        s.write_all(b"hello").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        read_pattern(&mut s)
    });
    let mut run = start("", up.addr);
    let mut hello = Vec::new();
    run.client.read_to_end(&mut hello).unwrap();
    assert_eq!(hello, b"hello");
    // The upstream's FIN arrived; the client's direction still carries bytes.
    write_pattern(&mut run.client, 300_000).unwrap();
    run.client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(up.report(), (300_000, Got::Fin));
    let o = run.outcome();
    assert_eq!(o.end, End::Complete);
    assert_eq!((o.up.bytes, o.down.bytes), (300_000, 5));
    assert_eq!((o.up.end, o.down.end), (DirEnd::Eof, DirEnd::Eof));
    assert_eq!(o.upstream, Some("close"));
}

#[test]
fn upstream_reset_is_passed_on_after_its_bytes() {
    let up = upstream(|s: TcpStream| {
        (&s).write_all(b"abc").unwrap();
        wait_all_acked(&s);
        sys::set_linger_zero(&s).unwrap();
    });
    let mut run = start("", up.addr);
    up.report();
    let mut buf = [0u8; 16];
    let mut got_bytes = Vec::new();
    let err = loop {
        match run.client.read(&mut buf) {
            Ok(0) => panic!("a FIN instead of the RST"),
            Ok(n) => got_bytes.extend_from_slice(&buf[..n]),
            Err(e) => break e,
        }
    };
    let o = run.outcome();
    assert_eq!(got_bytes, b"abc", "{o:?}");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    assert_eq!(o.end, End::Reset);
    assert_eq!(
        o.down,
        DirOutcome {
            bytes: 3,
            end: DirEnd::Reset
        }
    );
    assert_eq!(o.up.end, DirEnd::PeerGone);
    assert_eq!(o.upstream, Some("reset"));
}

#[test]
fn client_reset_is_passed_on_after_its_bytes() {
    let up = upstream(|mut s: TcpStream| {
        let mut got_bytes = Vec::new();
        let mut buf = [0u8; 16];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return (got_bytes, Got::Fin),
                Ok(n) => got_bytes.extend_from_slice(&buf[..n]),
                Err(e) => return (got_bytes, got(&e)),
            }
        }
    });
    let run = start("", up.addr);
    (&run.client).write_all(b"xyz").unwrap();
    wait_all_acked(&run.client);
    sys::set_linger_zero(&run.client).unwrap();
    let Running {
        client,
        done,
        stop: _stop,
    } = run;
    drop(client);
    assert_eq!(up.report(), (b"xyz".to_vec(), Got::Rst));
    let o = done.recv_timeout(T).unwrap();
    assert_eq!(o.end, End::PeerGone);
    assert_eq!(
        o.up,
        DirOutcome {
            bytes: 3,
            end: DirEnd::Reset
        }
    );
    assert_eq!(o.down.end, DirEnd::PeerGone);
    assert_eq!(o.upstream, None);
}

/// A cut offset that is no round number, above 1 MiB.
const N: u64 = 1024 * 1024 + 7;

#[test]
fn down_cuts_deliver_exactly_n_bytes_then_rst_fin_or_silence() {
    for (kind, want, end) in [
        ("reset", Got::Rst, End::Reset),
        ("close", Got::Fin, End::Close),
        ("hang", Got::Silence, End::Hang),
    ] {
        let up = upstream(source(N + 100_000));
        let mut run = start(&format!("{kind}={N}"), up.addr);
        if kind == "hang" {
            run.client.set_read_timeout(Some(QUIET)).unwrap();
        }
        assert_eq!(read_pattern(&mut run.client), (N, want), "{kind}");
        if kind == "hang" {
            assert!(
                run.done.try_recv().is_err(),
                "a hang ends when the client leaves"
            );
            let Running { client, done, .. } = run;
            drop(client);
            let o = done.recv_timeout(T).unwrap();
            assert_eq!(o.end, end);
            assert_eq!((o.down.bytes, o.down.end), (N, DirEnd::CutHang));
            continue;
        }
        let o = run.outcome();
        assert_eq!(o.end, end, "{kind}");
        assert_eq!(o.down.bytes, N, "{kind}");
        // The upstream's connection ends the same way; an RST may arrive while it still writes.
        let saw = up.report();
        let upstream_saw = match saw.write {
            Ok(()) => saw.end,
            Err(e) => e,
        };
        assert_eq!(upstream_saw, want, "{kind}: {saw:?}");
    }
}

#[test]
fn up_cuts_deliver_exactly_n_bytes_to_the_upstream() {
    for (kind, want, end) in [
        ("reset", Got::Rst, End::Reset),
        ("close", Got::Fin, End::Close),
        ("hang", Got::Silence, End::Hang),
    ] {
        let up = upstream(sink);
        let mut run = start(&format!("up:{kind}={N}"), up.addr);
        // A few bytes beyond the cut, which the relay must never pass on.
        let wrote = write_pattern(&mut run.client, N + 10);
        assert_eq!(up.report(), (N, want), "{kind}: what the upstream got");
        run.client.set_read_timeout(Some(QUIET)).unwrap();
        let mut buf = [0u8; 16];
        let client_saw = match (wrote, run.client.read(&mut buf)) {
            // The RST may arrive while the client is still writing.
            (Err(Got::Rst), _) => Got::Rst,
            (Ok(()), Ok(0)) => Got::Fin,
            (Ok(()), Err(e)) => got(&e),
            other => panic!("{kind}: {other:?}"),
        };
        assert_eq!(client_saw, want, "{kind}: what the client got");
        if want == Got::Fin {
            assert!(
                !reset_follows(&run.client, QUIET),
                "{kind}: an RST after the FIN"
            );
        }
        let Running { client, done, .. } = run;
        drop(client);
        let o = done.recv_timeout(T).unwrap();
        assert_eq!(o.end, end, "{kind}");
        assert_eq!(o.up.bytes, N, "{kind}");
    }
}

#[test]
fn bare_endings_never_connect_upstream() {
    for (kind, want, end) in [
        ("reset", Got::Rst, End::Reset),
        ("close", Got::Fin, End::Close),
        ("hang", Got::Silence, End::Hang),
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        // The delay lets the client's bytes arrive before the ending acts.
        let mut run = start(
            &format!("delay=200ms/{kind}"),
            listener.local_addr().unwrap(),
        );
        // Bytes the relay never reads: a close must drain them to stay a FIN.
        let wrote = run.client.write_all(b"hello").map_err(|e| got(&e));
        run.client.set_read_timeout(Some(QUIET)).unwrap();
        let mut buf = [0u8; 16];
        let saw = match (wrote, run.client.read(&mut buf)) {
            (Err(Got::Rst), _) => Got::Rst,
            (Ok(()), Ok(0)) => Got::Fin,
            (Ok(()), Err(e)) => got(&e),
            other => panic!("{kind}: {other:?}"),
        };
        assert_eq!(saw, want, "{kind}");
        if want == Got::Fin {
            assert!(
                !reset_follows(&run.client, QUIET),
                "{kind}: an RST after the FIN"
            );
        }
        let Running { client, done, .. } = run;
        drop(client);
        let o = done.recv_timeout(T).unwrap();
        assert_eq!(o.end, end, "{kind}");
        assert!(!o.connected, "{kind}");
        let e = listener.accept().unwrap_err();
        assert_eq!(
            e.kind(),
            io::ErrorKind::WouldBlock,
            "{kind}: upstream connected"
        );
    }
}

#[test]
fn cut_at_zero_connects_then_resets() {
    let up = upstream(source(1000));
    let mut run = start("reset=0", up.addr);
    assert_eq!(read_pattern(&mut run.client), (0, Got::Rst));
    assert!(run.outcome().connected);
    // The upstream was connected to, and reset.
    let saw = up.report();
    assert!(saw.write == Err(Got::Rst) || saw.end == Got::Rst, "{saw:?}");
}

#[test]
fn delay_waits_before_connecting() {
    let up = upstream(echo);
    let mut run = start("delay=300ms", up.addr);
    let t0 = Instant::now();
    run.client.write_all(b"x").unwrap();
    let mut b = [0u8; 1];
    run.client.read_exact(&mut b).unwrap();
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(280), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn latency_delays_each_way_without_adding_up() {
    let up = upstream(echo);
    let mut run = start("latency=200ms/up:latency=200ms", up.addr);
    // A first round trip, so that connecting is out of the measurement.
    let mut b = [0u8; 3];
    run.client.write_all(b"w").unwrap();
    run.client.read_exact(&mut b[..1]).unwrap();
    let t0 = Instant::now();
    // Three writes 50 ms apart come back 400 ms after each was sent, not one after another.
    for i in 0..3u8 {
        run.client.write_all(&[i]).unwrap();
        thread::sleep(Duration::from_millis(50));
    }
    run.client.read_exact(&mut b).unwrap();
    let took = t0.elapsed();
    assert_eq!(b, [0, 1, 2]);
    assert!(took >= Duration::from_millis(500), "{took:?}");
    assert!(
        took < Duration::from_millis(400 * 3),
        "latency accumulated: {took:?}"
    );
}

#[test]
fn pause_stops_at_the_exact_offset_both_ways() {
    let up = upstream(source(2000));
    let mut run = start("pause=1000,400ms", up.addr);
    let mut first = vec![0u8; 1000];
    run.client.read_exact(&mut first).unwrap();
    let t0 = Instant::now();
    let mut b = [0u8; 1];
    run.client.read_exact(&mut b).unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(b[0], pattern(1000));

    let up = upstream(echo);
    let mut run = start("up:pause=1000,400ms", up.addr);
    run.client.write_all(&pattern_bytes(0, 2000)).unwrap();
    run.client.read_exact(&mut first).unwrap();
    let t0 = Instant::now();
    run.client.read_exact(&mut b).unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t0.elapsed()
    );
}

#[test]
fn rate_paces_bytes() {
    let up = upstream(source(40 * 1024));
    let mut run = start("rate=20k", up.addr);
    let t0 = Instant::now();
    let mut buf = vec![0u8; 40 * 1024];
    run.client.read_exact(&mut buf).unwrap();
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(1500), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(buf, pattern_bytes(0, buf.len()));
}

#[test]
fn slice_sends_each_write_as_its_own_segment() {
    for (plan, size) in [("slice=100", 100u32), ("", 0)] {
        let up = upstream(source(10_000));
        let mut run = start(plan, up.addr);
        let mut buf = vec![0u8; 10_000];
        run.client.read_exact(&mut buf).unwrap();
        let segments = sys::data_segments_in(&run.client).unwrap();
        match 10_000u32.checked_div(size) {
            Some(least) => assert!(segments >= least, "{plan}: {segments} segments"),
            None => assert!(segments < 50, "without slice: {segments} segments"),
        }
    }
}

#[test]
fn fifty_concurrent_connections_cut_at_exact_offsets() {
    let up = upstream(source(400_000));
    let clients: Vec<_> = (0..50u64)
        .map(|i| {
            let n = 200_000 + i * 1009;
            let (kind, want) = if i % 2 == 0 {
                ("reset", Got::Rst)
            } else {
                ("close", Got::Fin)
            };
            let mut run = start(&format!("{kind}={n}"), up.addr);
            thread::spawn(move || {
                assert_eq!(read_pattern(&mut run.client), (n, want), "connection {i}");
                let o = run.outcome();
                assert_eq!(o.down.bytes, n, "connection {i}");
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
}

#[test]
fn refused_upstream_resets_the_client() {
    let mut run = start("", closed_port());
    let mut buf = [0u8; 4];
    let e = run.client.read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
    let o = run.outcome();
    assert_eq!(o.end, End::Error);
    assert_eq!(o.upstream, Some("refused"));
    assert_eq!(o.up.end, DirEnd::Refused);
    assert!(!o.connected);
}

#[test]
fn stop_ends_a_hung_or_idle_relay_quickly() {
    for plan in ["hang=10", ""] {
        let up = upstream(source(100));
        let mut run = start(plan, up.addr);
        let mut buf = [0u8; 10];
        run.client.read_exact(&mut buf).unwrap();
        let t0 = Instant::now();
        run.stop.store(true, Ordering::Relaxed);
        let o = run.outcome();
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "{plan}: {:?}",
            t0.elapsed()
        );
        let want = if plan.is_empty() {
            End::Close
        } else {
            End::Hang
        };
        assert_eq!(o.end, want, "{plan}");
    }
}

#[test]
fn idle_relay_times_out() {
    let up = upstream(echo);
    let run = start_with("", up.addr, Some(Duration::from_millis(300)));
    let t0 = Instant::now();
    let o = run.outcome();
    assert!(
        t0.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(o.end, End::Timeout);
    assert_eq!((o.up.end, o.down.end), (DirEnd::Timeout, DirEnd::Timeout));
}
