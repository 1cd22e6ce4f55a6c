//! The library from async code and shared between threads (issue 17, item 7): a `Waiter` is a
//! `Future` on std alone, woken by the server, and `Server` is a cheap `Clone` handle. No
//! async runtime here: the futures are polled by a minimal executor of the test's own, the
//! way any runtime polls them (tests/external has the same with tokio).

use httpfault::{End, Server};
use std::future::Future;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// Wakes the thread that polls, and counts the wakes.
struct Unpark(std::thread::Thread, AtomicUsize);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.unpark();
    }
}

/// Polls `f` to the end on this thread, parking between polls (a one-task executor).
fn block_on<F: Future>(f: F) -> (F::Output, usize) {
    let unpark = Arc::new(Unpark(std::thread::current(), AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&unpark));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return (v, unpark.1.load(Ordering::SeqCst));
        }
        std::thread::park();
    }
}

fn get(addr: SocketAddr, path: &str) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let _ = s.read_to_end(&mut Vec::new());
}

/// The future is pending until the server has three ended requests, and it is the server that
/// wakes it (the executor only polls again when woken).
#[test]
fn a_waiter_is_a_future_the_server_wakes() {
    let server = Server::builder()
        .route("GET /x reset*2 status=200")
        .start()
        .unwrap();
    let addr = server.addr();
    let client = std::thread::spawn(move || {
        for _ in 0..3 {
            get(addr, "/x");
        }
    });
    let (seen, wakes) = block_on(server.wait_for_async(3, Duration::from_secs(60)));
    client.join().unwrap();
    let ends: Vec<_> = seen.iter().map(|r| r.end).collect();
    assert_eq!(
        ends,
        [Some(End::Reset), Some(End::Reset), Some(End::Complete)]
    );
    assert!(wakes >= 1);
}

/// A deadline with nothing coming: the timer wakes the future, which gives what there is.
#[test]
fn a_waiter_with_a_deadline_ends_empty_handed() {
    let server = Server::start("status=204").unwrap();
    let (seen, wakes) = block_on(server.wait_for_async(1, Duration::from_millis(100)));
    assert!(seen.is_empty());
    assert_eq!(wakes, 1, "woken once, by its timer");
}

/// Stopping the server (from any handle) ends pending waits, async and blocking.
#[test]
fn stopping_the_server_ends_pending_waits() {
    let server = Server::start("status=204").unwrap();
    let blocking = server.waiter(10);
    let async_wait = server.waiter(10);
    let stopper = server.clone();
    let t = std::thread::spawn(move || blocking.wait());
    let s = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        stopper.stop();
    });
    let (seen, _) = block_on(async_wait);
    assert!(seen.is_empty());
    assert!(t.join().unwrap().is_empty());
    s.join().unwrap();
    let refused = std::net::TcpStream::connect(server.addr()).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
}

/// Clones are handles to one server: a request through one is seen by all; the server lives
/// until the last handle goes.
#[test]
fn clones_share_one_server_until_the_last_is_dropped() {
    let server = Server::start("status=204").unwrap();
    let addr = server.addr();
    let clone = server.clone();
    get(addr, "/one");
    assert_eq!(clone.requests().len(), 1);
    drop(server);
    get(addr, "/two"); // still serving: a handle is left
    let seen = clone.wait_for(2, Duration::from_secs(10));
    assert_eq!(seen.len(), 2);
    drop(clone);
    let refused = std::net::TcpStream::connect(addr).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
}

/// Many waits pending at once, each with its own count, each woken when its own holds.
#[test]
fn many_pending_waiters_each_end_at_their_own_count() {
    let server = Server::start("status=204").unwrap();
    let waits: Vec<_> = (1..=5)
        .map(|n| {
            let w = server.waiter(n);
            std::thread::spawn(move || w.wait().len())
        })
        .collect();
    for i in 0..5 {
        get(server.addr(), &format!("/{i}"));
    }
    for w in waits {
        assert!(w.join().unwrap() >= 1);
    }
}
