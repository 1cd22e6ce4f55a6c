//! The only module with `unsafe`: the few socket and process calls std does not offer.
//! Each is a small function that turns `-1` into `io::Error::last_os_error()`.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::AsRawFd;

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `SO_LINGER` with a zero timeout: the next close of the last descriptor sends an RST
/// instead of a FIN, and throws away anything still queued.
pub fn set_linger_zero(sock: &impl AsRawFd) -> io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the descriptor is open for the life of `sock`; the pointer and length describe
    // a live `linger` value of exactly that size.
    let ret = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    check(ret).map(drop)
}

/// Bytes written to the socket that the peer has not acknowledged yet (`SIOCOUTQ`).
pub fn unacked_bytes(sock: &impl AsRawFd) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (= TIOCOUTQ) writes one c_int through the pointer, which points to `n`.
    let ret = unsafe { libc::ioctl(sock.as_raw_fd(), libc::TIOCOUTQ, &mut n as *mut libc::c_int) };
    check(ret)?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Blocks until the peer closes its side (FIN) or resets the connection, without reading
/// anything: bytes the client sends stay unread (`drain=no` must not drain by holding).
pub fn wait_for_hangup(sock: &impl AsRawFd) -> io::Result<()> {
    let mut fd = libc::pollfd {
        fd: sock.as_raw_fd(),
        events: libc::POLLRDHUP,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd, count 1; -1 waits without a timeout.
        let ret = unsafe { libc::poll(&mut fd, 1, -1) };
        if ret == -1 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if fd.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
            return Ok(());
        }
    }
}

/// Stops a listening socket: blocked `accept` calls return, queued connections are reset and
/// new connects are refused (Linux resets a listener on `shutdown`).
pub fn stop_listening(sock: &impl AsRawFd) -> io::Result<()> {
    // SAFETY: a plain syscall on a descriptor that `sock` keeps open.
    check(unsafe { libc::shutdown(sock.as_raw_fd(), libc::SHUT_RDWR) }).map(drop)
}

/// Sets the listen backlog (std uses 128). `listen` on a listening socket only changes it.
pub fn set_backlog(sock: &impl AsRawFd, backlog: i32) -> io::Result<()> {
    // SAFETY: a plain syscall on a descriptor that `sock` keeps open.
    check(unsafe { libc::listen(sock.as_raw_fd(), backlog) }).map(drop)
}

/// Raises the soft limit on open files to the hard limit, so that thousands of held
/// connections work without a `ulimit -n` first. Returns the limit now in force.
pub fn raise_fd_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through a pointer to a live value.
    check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) })?;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: setrlimit reads one rlimit through a pointer to a live value.
        check(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) })?;
    }
    Ok(lim.rlim_cur)
}

/// Is this `accept` error a lack of descriptors or memory (wait and retry), rather than a
/// connection that went away before it was accepted?
pub fn out_of_resources(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// The signals that stop the server.
pub const STOP_SIGNALS: [libc::c_int; 2] = [libc::SIGINT, libc::SIGTERM];

fn stop_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set it is given; sigaddset only sets bits in it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in STOP_SIGNALS {
            libc::sigaddset(&mut set, sig);
        }
        set
    }
}

/// Blocks SIGINT and SIGTERM in this thread and every thread it starts afterwards, so that
/// they wait for [`wait_for_stop_signal`] instead of killing the process. No handler runs,
/// so nothing has to be async-signal-safe.
pub fn block_stop_signals() -> io::Result<()> {
    let set = stop_set();
    // SAFETY: both pointers are valid for the call; a null old-set is allowed.
    let ret = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if ret != 0 {
        return Err(io::Error::from_raw_os_error(ret));
    }
    Ok(())
}

/// Waits until SIGINT or SIGTERM arrives and returns its name.
pub fn wait_for_stop_signal() -> io::Result<&'static str> {
    let set = stop_set();
    let mut sig: libc::c_int = 0;
    // SAFETY: sigwait reads the set and writes one c_int, both pointers to live values.
    let ret = unsafe { libc::sigwait(&set, &mut sig) };
    if ret != 0 {
        return Err(io::Error::from_raw_os_error(ret));
    }
    Ok(if sig == libc::SIGINT {
        "SIGINT"
    } else {
        "SIGTERM"
    })
}

/// Waits until the peer closes its side or resets, or until `timeout` passes; true if the peer
/// hung up. Nothing is read. `ppoll` takes a timespec, so a delay keeps microsecond precision
/// instead of `poll`'s whole milliseconds.
pub fn hangup_within(sock: &impl AsRawFd, timeout: std::time::Duration) -> io::Result<bool> {
    let mut fd = libc::pollfd {
        fd: sock.as_raw_fd(),
        events: libc::POLLRDHUP,
        revents: 0,
    };
    let ts = libc::timespec {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(timeout.subsec_nanos()),
    };
    // SAFETY: one valid pollfd, count 1; the timespec is a live value; a null signal mask
    // leaves the thread's mask as it is.
    let ret = unsafe { libc::ppoll(&mut fd, 1, &ts, std::ptr::null()) };
    if ret == -1 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(e);
    }
    Ok(fd.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0)
}

/// `shutdown(SHUT_RDWR)` on a raw descriptor: wakes a thread blocked on that socket in `read`,
/// `poll` or `write`. Used to stop connections from another thread.
///
/// The caller must know that `fd` is still the open socket it registered (the registry holds
/// its lock while the owner cannot close it); on a wrong descriptor this is a harmless error or
/// a shutdown of the wrong socket, never memory unsafety.
pub fn shutdown_fd(fd: std::os::fd::RawFd) -> io::Result<()> {
    // SAFETY: a plain syscall on an integer descriptor; no memory is passed.
    check(unsafe { libc::shutdown(fd, libc::SHUT_RDWR) }).map(drop)
}

// --- TCP relay (src/tcp): poll over both sockets, and TCP_INFO for its tests. ---

/// Waits until one of `fds` is ready as its `events` ask, or `timeout` passes (rounded up to
/// whole milliseconds, so a timer a fraction of a millisecond away does not spin). Returns how
/// many are ready: 0 on timeout or when a signal interrupted the wait. A negative `fd` is
/// skipped, as poll(2) says.
pub fn poll(fds: &mut [libc::pollfd], timeout: std::time::Duration) -> io::Result<usize> {
    let ms = timeout.as_micros().div_ceil(1000);
    let ms = libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX);
    let count = libc::nfds_t::try_from(fds.len())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: the pointer and count describe the live, exclusively borrowed slice `fds`;
    // poll only writes the `revents` fields inside it.
    let ret = unsafe { libc::poll(fds.as_mut_ptr(), count, ms) };
    if ret == -1 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(e);
    }
    Ok(usize::try_from(ret).unwrap_or(0))
}

/// Bytes written to the socket that have not left it yet (`SIOCOUTQNSD`): while it is above
/// zero, a new write may be merged into a segment still waiting.
pub fn unsent_bytes(sock: &impl AsRawFd) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: SIOCOUTQNSD writes one c_int through the pointer, which points to `n`. The
    // request number's type differs between libcs; the constant fits either.
    let ret = unsafe {
        libc::ioctl(
            sock.as_raw_fd(),
            libc::SIOCOUTQNSD as _,
            &mut n as *mut libc::c_int,
        )
    };
    check(ret)?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Starts a TCP connect to `addr` and returns at once with the socket, non-blocking, its
/// handshake under way: poll it for `POLLOUT`, then ask `take_error`. Unlike std's
/// `connect_timeout`, an upstream that answers and resets at once leaves its bytes readable
/// here instead of an error with the socket gone.
pub fn start_connect(addr: &std::net::SocketAddr) -> io::Result<std::net::TcpStream> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let family = match addr {
        std::net::SocketAddr::V4(_) => libc::AF_INET,
        std::net::SocketAddr::V6(_) => libc::AF_INET6,
    };
    let kind = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: a plain syscall with constant arguments.
    let fd = check(unsafe { libc::socket(family, kind, 0) })?;
    // SAFETY: `fd` was just returned by socket(2) and nothing else owns it.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let ret = match addr {
        std::net::SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: the pointer and length describe the live, initialised `sin`.
            unsafe {
                libc::connect(
                    fd,
                    (&sin as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            }
        }
        std::net::SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: the pointer and length describe the live, initialised `sin6`.
            unsafe {
                libc::connect(
                    fd,
                    (&sin6 as *const libc::sockaddr_in6).cast(),
                    std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                )
            }
        }
    };
    if ret == -1 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(e);
        }
    }
    Ok(std::net::TcpStream::from(sock))
}

/// While alive, the calling thread's timers may fire up to its slack late
/// (`PR_SET_TIMERSLACK`), so that the kernel batches the wake-ups of many threads; dropped,
/// the thread's default slack (50 us) comes back. For threads that sleep and wake many times a
/// second for long (event streams), where a millisecond does not matter.
pub struct TimerSlack(());

impl TimerSlack {
    /// Sets the slack (0 is the default).
    pub fn new(slack: std::time::Duration) -> TimerSlack {
        let ns = libc::c_ulong::try_from(slack.as_nanos()).unwrap_or(libc::c_ulong::MAX);
        set_timer_slack(ns);
        TimerSlack(())
    }
}

impl Drop for TimerSlack {
    fn drop(&mut self) {
        set_timer_slack(0);
    }
}

/// `PR_SET_TIMERSLACK`; 0 restores the default. A failure leaves the slack as it was, which
/// only costs CPU: ignored.
fn set_timer_slack(ns: libc::c_ulong) {
    let zero: libc::c_ulong = 0;
    // SAFETY: prctl(PR_SET_TIMERSLACK) takes its arguments as unsigned longs by value; no
    // memory is passed.
    let _ = check(unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, ns, zero, zero, zero) });
}

/// Data-carrying TCP segments this socket has received (`tcpi_data_segs_in` of `TCP_INFO`,
/// Linux 4.6+): lets a test check that a write became its own segment.
#[cfg(test)]
pub fn data_segments_in(sock: &impl AsRawFd) -> io::Result<u32> {
    // SAFETY: tcp_info is plain integers, for which all zero bytes is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the pointer and length describe the live `info`; the kernel writes at most
    // `len` bytes and stores the length it wrote in `len`.
    let ret = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    check(ret)?;
    Ok(info.tcpi_data_segs_in)
}

// --- proxy mode (src/proxy): poll over the client and upstream sockets. ---

/// What [`poll_io`] waits for on one descriptor, and what it found.
#[derive(Clone, Copy, Debug, Default)]
pub struct Interest {
    /// The descriptor.
    pub fd: std::os::fd::RawFd,
    /// Wait for something to read (data, FIN, RST, an error).
    pub read: bool,
    /// Wait for room to write.
    pub write: bool,
    /// Set by [`poll_io`]: ready to read (or hung up, or failed: a read will say which).
    pub readable: bool,
    /// Set by [`poll_io`]: ready to write (or failed: a write will say how).
    pub writable: bool,
}

/// `poll(2)` on up to three descriptors for `timeout`; sets `readable` and `writable`.
/// Proxy mode waits this way on the client and the upstream at once while a request body
/// goes up and the response comes down.
pub fn poll_io(fds: &mut [Interest], timeout: std::time::Duration) -> io::Result<()> {
    let mut raw = [libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    }; 3];
    let n = fds.len().min(raw.len());
    for (r, i) in raw.iter_mut().zip(fds.iter()) {
        r.fd = i.fd;
        r.events = if i.read {
            libc::POLLIN | libc::POLLRDHUP
        } else {
            0
        } | if i.write { libc::POLLOUT } else { 0 };
    }
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: `raw` is a live array of at least `n` valid pollfd values (n <= 3, which fits
    // nfds_t); unused slots are not passed.
    let ret = unsafe { libc::poll(raw.as_mut_ptr(), n as libc::nfds_t, ms) };
    if ret == -1 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
        raw.iter_mut().for_each(|r| r.revents = 0);
    }
    let failed = libc::POLLHUP | libc::POLLERR | libc::POLLNVAL;
    for (r, i) in raw.iter().zip(fds.iter_mut()) {
        i.readable = i.read && r.revents & (libc::POLLIN | libc::POLLRDHUP | failed) != 0;
        i.writable = i.write && r.revents & (libc::POLLOUT | failed) != 0;
    }
    Ok(())
}

/// Writes what fits now into the socket's send buffer, without blocking (`MSG_DONTWAIT`) and
/// without `SIGPIPE` (`MSG_NOSIGNAL`). `WouldBlock` when nothing fits.
pub fn send_now(sock: &impl AsRawFd, bytes: &[u8]) -> io::Result<usize> {
    // SAFETY: the pointer and length describe the live slice `bytes`, which send only reads.
    let ret = unsafe {
        libc::send(
            sock.as_raw_fd(),
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(ret).unwrap_or(0))
}

/// Whether the child `pid` has exited, without reaping it (`waitid` with `WNOWAIT`): until the
/// caller reaps it, its process id, and so its process group's id, stay reserved, so a kill of
/// the group cannot reach a stranger that got the id.
pub fn has_exited(pid: u32) -> io::Result<bool> {
    // SAFETY: siginfo_t is plain data for which all zeros is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a live siginfo_t that waitid fills in; the flags only ask about the
    // state of one child and leave it unreaped.
    let ret = unsafe {
        libc::waitid(
            libc::P_PID,
            libc::id_t::from(pid),
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    check(ret)?;
    // SAFETY: waitid filled `info`; with WNOHANG its si_pid stays 0 while the child runs.
    Ok(unsafe { info.si_pid() } != 0)
}

/// Sends SIGKILL to every process of the process group `pgid` (a child started as the leader
/// of its own group).
pub fn kill_group(pgid: u32) -> io::Result<()> {
    let pgid = libc::pid_t::try_from(pgid)
        .ok()
        .filter(|p| *p > 1)
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: kill takes plain integers; a negative pid names the group, never pid 1 or all.
    check(unsafe { libc::kill(-pgid, libc::SIGKILL) }).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn linger_zero_turns_close_into_reset() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        server.write_all(b"hi").unwrap();
        while unacked_bytes(&server).unwrap() > 0 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        set_linger_zero(&server).unwrap();
        drop(server);
        let mut buf = [0u8; 8];
        assert_eq!(client.read(&mut buf).unwrap(), 2);
        let err = client.read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    }

    #[test]
    fn hangup_is_seen_without_reading() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        client.write_all(b"unread").unwrap();
        let waiter = std::thread::spawn(move || {
            wait_for_hangup(&server).unwrap();
            server
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!waiter.is_finished(), "data alone is not a hangup");
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut server = waiter.join().unwrap();
        // The data is still there to read: nothing was consumed.
        let mut buf = [0u8; 16];
        assert_eq!(server.read(&mut buf).unwrap(), 6);
    }

    #[test]
    fn timer_slack_is_set_while_the_guard_lives() {
        let get = || {
            // SAFETY: PR_GET_TIMERSLACK takes no pointer; it returns the slack in ns.
            unsafe { libc::prctl(libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) }
        };
        let default = get();
        assert!(default > 0, "{default}");
        let guard = TimerSlack::new(std::time::Duration::from_millis(1));
        assert_eq!(get(), 1_000_000);
        drop(guard);
        assert_eq!(get(), default);
    }

    #[test]
    fn stopped_listener_refuses_connects() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        stop_listening(&listener).unwrap();
        let err = TcpStream::connect(addr).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    }
}
