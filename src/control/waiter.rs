//! Waiting for the journal from async code without an async runtime: [`Waiter`] is a std-only
//! `Future` whose waker is registered with the journal's waits and called from the server's
//! side when the entries are there (or the deadline passes, or the server stops); it also has
//! a blocking form.

use crate::control::ctx::Ctx;
use crate::control::journal::{Request, WaitId};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

/// A wait for the journal to hold at least `n` requests whose responses have ended, made
/// by [`Server::waiter`](crate::Server::waiter) or
/// [`Server::wait_for_async`](crate::Server::wait_for_async). Await it from any async
/// runtime (it is a plain [`Future`], no runtime needed: the server wakes it), or block on
/// it with [`Waiter::wait`]. Either way it gives the journal then, oldest first: fewer than
/// `n` entries if the deadline passed or the server stopped first.
///
/// With tokio (a `#[tokio::test]`, whose runtime has one thread, so a blocking wait there
/// would stop the client task from ever running):
///
/// ```text
/// #[tokio::test]
/// async fn retries_three_times() {
///     let server = httpfault::Server::builder().route("GET /x reset*2 ok").start().unwrap();
///     let url = format!("{}/x", server.url());
///     tokio::spawn(async move { my_client_with_retries(&url).await });
///     let seen = server.wait_for_async(3, Duration::from_secs(10)).await;
///     assert_eq!(seen.len(), 3);
/// }
/// ```
///
/// With async-std, the same: `async_std::task::spawn(client)`, then
/// `server.wait_for_async(3, timeout).await`. Runtime timeouts work too
/// (`tokio::time::timeout(d, server.waiter(3)).await`).
///
/// Blocking, from a thread (the same as [`Server::wait_for`](crate::Server::wait_for)):
///
/// ```
/// use std::io::{Read, Write};
/// use std::time::Duration;
/// let server = httpfault::Server::start("status=204")?;
/// let addr = server.addr();
/// let client = std::thread::spawn(move || {
///     let mut s = std::net::TcpStream::connect(addr).unwrap();
///     s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
///     s.read_to_end(&mut Vec::new()).unwrap();
/// });
/// let seen = server.wait_for_async(1, Duration::from_secs(10)).wait();
/// assert_eq!(seen.len(), 1);
/// client.join().unwrap();
/// # Ok::<(), httpfault::Error>(())
/// ```
///
/// Polled by hand with a waker of one's own (what a runtime does):
///
/// ```
/// use std::future::Future;
/// use std::io::{Read, Write};
/// use std::sync::Arc;
/// use std::task::{Context, Poll, Wake, Waker};
/// use std::time::Duration;
///
/// struct Unpark(std::thread::Thread);
/// impl Wake for Unpark {
///     fn wake(self: Arc<Self>) { self.0.unpark() }
/// }
/// let server = httpfault::Server::start("status=204")?;
/// let mut waiter = std::pin::pin!(server.waiter(1));
/// let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
/// let mut cx = Context::from_waker(&waker);
/// assert!(waiter.as_mut().poll(&mut cx).is_pending()); // nothing yet
/// let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
/// s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
/// s.read_to_end(&mut Vec::new()).unwrap();
/// let seen = loop {
///     match waiter.as_mut().poll(&mut cx) {
///         Poll::Ready(seen) => break seen,
///         Poll::Pending => std::thread::park(), // woken by the server
///     }
/// };
/// assert_eq!(seen[0].status, 204);
/// # Ok::<(), httpfault::Error>(())
/// ```
#[must_use = "a Waiter does nothing unless awaited or waited on"]
pub struct Waiter {
    ctx: Arc<Ctx>,
    n: usize,
    deadline: Option<Instant>,
    wait: Option<WaitId>,
    timer: Option<Timer>,
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiter")
            .field("n", &self.n)
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// Wakes the waiting task at its deadline: a thread that sleeps until then, ended early
/// when the wait ends first.
struct Timer {
    cancelled: Arc<AtomicBool>,
    thread: thread::Thread,
}

impl Waiter {
    pub(crate) fn new(ctx: Arc<Ctx>, n: usize, timeout: Option<Duration>) -> Waiter {
        Waiter {
            ctx,
            n,
            deadline: timeout.map(|t| Instant::now() + t),
            wait: None,
            timer: None,
        }
    }

    /// Blocks the thread until the journal holds `n` ended requests (or the deadline
    /// passes, or the server stops); returns the journal then. For threads, not async tasks.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// let server = httpfault::Server::start("status=204")?;
    /// let waiter = server.waiter(1); // made before the request: nothing is missed
    /// let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    /// s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    /// s.read_to_end(&mut Vec::new()).unwrap();
    /// assert_eq!(waiter.wait()[0].status, 204);
    /// # Ok::<(), httpfault::Error>(())
    /// ```
    pub fn wait(mut self) -> Vec<Request> {
        self.cancel();
        let deadline = self
            .deadline
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 24 * 3600));
        let stop = &self.ctx.stop;
        self.ctx.journal.wait(0, self.n, true, deadline, &mut || {
            !stop.load(Ordering::Relaxed)
        });
        self.ctx.journal.snapshot(0).0
    }

    fn cancel(&mut self) {
        if let Some(w) = self.wait.take() {
            self.ctx.journal.unregister(&w);
        }
        if let Some(t) = self.timer.take() {
            t.cancelled.store(true, Ordering::Release);
            t.thread.unpark();
        }
    }
}

impl Future for Waiter {
    type Output = Vec<Request>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<Request>> {
        let this = &mut *self;
        if this.wait.is_none() {
            this.wait = Some(this.ctx.journal.register(0, this.n, true));
        }
        let Some(wait) = &this.wait else {
            return Poll::Pending;
        };
        wait.signal.set_waker(cx.waker());
        let timed_out = this.deadline.is_some_and(|d| Instant::now() >= d);
        if wait.signal.ready() || timed_out || this.ctx.stop.load(Ordering::Relaxed) {
            this.cancel();
            return Poll::Ready(this.ctx.journal.snapshot(0).0);
        }
        if let (Some(deadline), None) = (this.deadline, &this.timer) {
            let cancelled = Arc::new(AtomicBool::new(false));
            let (flag, signal) = (Arc::clone(&cancelled), Arc::clone(&wait.signal));
            let spawned = thread::Builder::new()
                .name("httpfault-waiter".into())
                .stack_size(64 * 1024)
                .spawn(move || {
                    while !flag.load(Ordering::Acquire) {
                        let now = Instant::now();
                        if now >= deadline {
                            signal.nudge();
                            return;
                        }
                        thread::park_timeout(deadline - now);
                    }
                });
            match spawned {
                Ok(handle) => {
                    this.timer = Some(Timer {
                        cancelled,
                        thread: handle.thread().clone(),
                    })
                }
                // No thread for the timer: answer now rather than never.
                Err(_) => {
                    this.cancel();
                    return Poll::Ready(this.ctx.journal.snapshot(0).0);
                }
            }
        }
        Poll::Pending
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        self.cancel();
    }
}
