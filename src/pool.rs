//! Connection threads: a thread per connection, parked for a while after its connection ends
//! and reused for the next one (a spawn and an exit saved per connection under load), and all
//! joined when the server stops. Counts are kept by guards, so a panic cannot leak them.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// Stack of a connection thread. Only touched pages cost memory; the connection code keeps
/// its buffers on the heap, so a held connection touches a few KiB of it.
pub const STACK_SIZE: usize = 256 * 1024;
/// How long a finished connection thread waits for the next connection before it exits.
const WORKER_IDLE: Duration = Duration::from_secs(5);

type Job = Box<dyn FnOnce() + Send + 'static>;

thread_local! {
    /// The address of the pool whose thread this is (0: none).
    static WORKER_OF: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

struct State {
    jobs: VecDeque<Job>,
    idle: usize,
    live: usize,
    stopping: bool,
}

/// Parked connection threads and the queue that feeds them.
pub struct Pool {
    state: Mutex<State>,
    wake: Condvar,
    gone: Condvar,
}

/// Counts one active connection for `--max-conns`; the count goes down when it drops, however
/// the connection ended (a panic included).
pub struct Active(Arc<AtomicUsize>);

impl Active {
    /// Counts one more, unless `max` are active already.
    pub fn try_new(count: &Arc<AtomicUsize>, max: usize) -> Option<Active> {
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Active(Arc::clone(count)))
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Counts a live thread; the count goes down when the thread ends, however it ends.
struct Live(Arc<Pool>);

impl Drop for Live {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.live -= 1;
        // Not only at 0: a stop called from a worker waits for 1.
        self.0.gone.notify_all();
    }
}

impl Pool {
    /// An empty pool.
    pub fn new() -> Arc<Pool> {
        Arc::new(Pool {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                idle: 0,
                live: 0,
                stopping: false,
            }),
            wake: Condvar::new(),
            gone: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `job` on a parked thread, or on a new one. An error (no thread could be started)
    /// gives the job back unrun, dropped.
    pub fn run(self: &Arc<Pool>, job: Job) -> io::Result<()> {
        let mut st = self.lock();
        if st.stopping {
            return Err(io::Error::other("stopping"));
        }
        if st.idle > st.jobs.len() {
            st.jobs.push_back(job);
            drop(st);
            self.wake.notify_one();
            return Ok(());
        }
        st.live += 1;
        drop(st);
        let live = Live(Arc::clone(self));
        let pool = Arc::clone(self);
        thread::Builder::new()
            .name("httpfault-conn".into())
            .stack_size(STACK_SIZE)
            .spawn(move || {
                let _live = live;
                WORKER_OF.with(|w| w.set(Arc::as_ptr(&pool) as usize));
                pool.work(job);
            })
            .map(drop)
    }

    fn work(&self, first: Job) {
        let mut job = first;
        loop {
            job();
            let mut st = self.lock();
            st.idle += 1;
            let deadline = Instant::now() + WORKER_IDLE;
            job = loop {
                if let Some(next) = st.jobs.pop_front() {
                    st.idle -= 1;
                    break next;
                }
                let now = Instant::now();
                if now >= deadline || st.stopping {
                    st.idle -= 1;
                    return;
                }
                st = self
                    .wake
                    .wait_timeout(st, deadline - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            };
        }
    }

    /// Stops taking jobs, wakes parked threads, and waits up to `limit` for every thread to
    /// end. Returns the threads still running then.
    pub fn stop(&self, limit: Duration) -> usize {
        let mut st = self.lock();
        st.stopping = true;
        self.wake.notify_all();
        // Called from one of this pool's threads (the last server handle dropped in a
        // connection), that thread cannot end while it waits here: it is not waited for.
        let me = WORKER_OF.with(|w| w.get() == self as *const Pool as usize) as usize;
        let deadline = Instant::now() + limit;
        while st.live > me {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = self
                .gone
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        st.live
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn threads_are_reused_and_joined() {
        let pool = Pool::new();
        let (tx, rx) = mpsc::channel();
        for i in 0..4 {
            let tx = tx.clone();
            pool.run(Box::new(move || {
                tx.send((i, thread::current().id())).unwrap();
            }))
            .unwrap();
            rx.recv_timeout(Duration::from_secs(10)).unwrap();
            // The job has run; wait (bounded) until its thread has parked again.
            let deadline = Instant::now() + Duration::from_secs(10);
            while pool.lock().idle == 0 && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(1));
            }
        }
        assert_eq!(
            pool.lock().live,
            1,
            "one thread served all four, one after another"
        );
        assert_eq!(pool.stop(Duration::from_secs(5)), 0);
        assert!(pool.run(Box::new(|| {})).is_err());
    }

    #[test]
    fn a_panicking_job_gives_back_its_counts() {
        let pool = Pool::new();
        let active = Arc::new(AtomicUsize::new(0));
        let guard = Active::try_new(&active, 1).unwrap();
        assert!(Active::try_new(&active, 1).is_none(), "the cap holds");
        pool.run(Box::new(move || {
            let _guard = guard;
            panic!("a connection handler panicked");
        }))
        .unwrap();
        assert_eq!(pool.stop(Duration::from_secs(5)), 0);
        assert_eq!(active.load(Ordering::Acquire), 0);
    }
}
