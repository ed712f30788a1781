//! Thin, checked wrappers over the Linux calls the master and its workers need.
//!
//! Owns every `unsafe` call into libc outside the PHP bindings: clocks, timerfd, signalfd,
//! poll, fork, socket pairs, reaping, signals and prctl. Each wrapper turns a C return code
//! into `io::Result` and owns its file descriptors, so no caller handles raw fds or errno.
//! It makes no decisions: policy lives in [`crate::pool`], [`crate::supervisor`] and
//! [`crate::master`].

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::pool::Pid;
use crate::schedule::Mono;

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

pub fn monotonic_now() -> Mono {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    Mono(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

pub fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn timespec(nanos: u64) -> libc::timespec {
    libc::timespec {
        tv_sec: (nanos / 1_000_000_000) as libc::time_t,
        tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
    }
}

/// A `CLOCK_MONOTONIC` timerfd armed at absolute instants: the kernel wakes the poll at the
/// due instant itself, so late wake-ups do not accumulate and there is no 1 ms rounding.
pub struct TimerFd(OwnedFd);

impl TimerFd {
    pub fn new() -> io::Result<TimerFd> {
        // SAFETY: plain syscall with constant flags; the returned fd is checked and owned.
        let fd = check(unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_CLOEXEC | libc::TFD_NONBLOCK,
            )
        })?;
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        Ok(TimerFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Fires once at `at` (immediately if `at` has passed).
    pub fn arm_at(&self, at: Mono) -> io::Result<()> {
        // A zero it_value would disarm the timer; the monotonic clock is never at zero.
        let spec = libc::itimerspec {
            it_interval: timespec(0),
            it_value: timespec(at.0.max(1)),
        };
        // SAFETY: valid fd and a fully initialised itimerspec; the old value is not wanted.
        check(unsafe {
            libc::timerfd_settime(
                self.0.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        })?;
        Ok(())
    }

    pub fn disarm(&self) -> io::Result<()> {
        let spec = libc::itimerspec {
            it_interval: timespec(0),
            it_value: timespec(0),
        };
        // SAFETY: as in `arm_at`.
        check(unsafe {
            libc::timerfd_settime(self.0.as_raw_fd(), 0, &spec, std::ptr::null_mut())
        })?;
        Ok(())
    }

    /// Clears the readiness; returns whether the timer had fired.
    pub fn acknowledge(&self) -> bool {
        let mut expirations = 0u64;
        // SAFETY: reads 8 bytes into a u64 we own; the fd is non-blocking.
        let n = unsafe { libc::read(self.0.as_raw_fd(), (&mut expirations as *mut u64).cast(), 8) };
        n == 8
    }
}

impl AsFd for TimerFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Signals delivered as readable events instead of asynchronous handlers. While it lives,
/// its signals are blocked for the thread; [`SignalFd::restore`] puts the old mask back.
pub struct SignalFd {
    fd: OwnedFd,
    old_mask: libc::sigset_t,
}

fn sigset(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set; sigaddset only sets bits of valid signals.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

impl SignalFd {
    pub fn new(signals: &[libc::c_int]) -> io::Result<SignalFd> {
        let set = sigset(signals);
        // SAFETY: `old` is written by pthread_sigmask before it is read.
        let mut old_mask: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid sets; blocking only affects this (the only) thread.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old_mask) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        // SAFETY: -1 asks for a new fd; `set` is initialised.
        let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
        if fd < 0 {
            let err = io::Error::last_os_error();
            // SAFETY: restores the mask saved above.
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut()) };
            return Err(err);
        }
        Ok(SignalFd {
            // SAFETY: fresh descriptor, owned from here on.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            old_mask,
        })
    }

    /// Signals received since the last call (each signal at most once: they coalesce).
    pub fn drain(&self) -> Vec<libc::c_int> {
        let mut out = vec![];
        loop {
            // SAFETY: signalfd_siginfo is plain data; zeroed is a valid value.
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            // SAFETY: reads at most `size` bytes into `info`; the fd is non-blocking.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    (&mut info as *mut libc::signalfd_siginfo).cast(),
                    size,
                )
            };
            if n != size as isize {
                return out;
            }
            out.push(info.ssi_signo as libc::c_int);
        }
    }

    /// Unblocks the signals again (the mask from before [`SignalFd::new`]). Signals that
    /// arrived meanwhile and were not drained are delivered now, with their usual effect.
    pub fn restore(self) {
        // SAFETY: puts back the mask saved at creation.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old_mask, std::ptr::null_mut()) };
    }
}

impl AsFd for SignalFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Waits until one of `fds` is ready or `timeout` passes (`None`: no timeout). An
/// interrupted wait counts as a timeout: the caller's loop simply looks again.
pub fn poll(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> io::Result<usize> {
    let ts = timeout.map(|t| timespec(u64::try_from(t.as_nanos()).unwrap_or(u64::MAX)));
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const _);
    // SAFETY: `fds` is a valid slice of pollfd; `ts_ptr` is null or points to `ts`.
    let n = unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            ts_ptr,
            std::ptr::null(),
        )
    };
    match check(n) {
        Ok(n) => Ok(n as usize),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
        Err(e) => Err(e),
    }
}

pub fn pollfd(fd: BorrowedFd<'_>) -> libc::pollfd {
    libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }
}

/// A connected pair of Unix stream sockets, close-on-exec.
pub fn socket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors socketpair writes.
    check(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    // SAFETY: both descriptors are fresh and owned from here on.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub enum Forked {
    Parent(Pid),
    Child,
}

/// `fork()`. Safe to call only while no other thread exists in the process (the master
/// never starts one), since locks held by another thread would stay locked in the child.
pub fn fork() -> io::Result<Forked> {
    // SAFETY: the caller upholds the single-thread rule above; the child continues in Rust
    // with only async-signal-safe expectations until it returns to PHP.
    match check(unsafe { libc::fork() })? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl ExitStatus {
    fn from_raw(status: libc::c_int) -> ExitStatus {
        if libc::WIFSIGNALED(status) {
            ExitStatus::Signal(libc::WTERMSIG(status))
        } else {
            ExitStatus::Code(libc::WEXITSTATUS(status))
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExitStatus::Code(code) => write!(f, "exited with status {code}"),
            ExitStatus::Signal(sig) => write!(f, "was killed by signal {}", signal_name(sig)),
        }
    }
}

pub fn signal_name(sig: libc::c_int) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGTTIN => "SIGTTIN",
        libc::SIGTTOU => "SIGTTOU",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        _ => return sig.to_string(),
    };
    format!("{sig} ({name})")
}

/// Reaps `pid` if it has ended. Only the given child is waited for, so children that the
/// application started itself (proc_open) keep their exit status for their owner.
pub fn try_reap(pid: Pid) -> io::Result<Option<ExitStatus>> {
    let mut status = 0;
    // SAFETY: `status` is a valid out-pointer; WNOHANG never blocks.
    let rc = check(unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) })?;
    Ok((rc == pid).then(|| ExitStatus::from_raw(status)))
}

/// Waits for `pid` to end (after it was sent SIGKILL, so the wait is short).
pub fn reap(pid: Pid) -> io::Result<ExitStatus> {
    let mut status = 0;
    loop {
        // SAFETY: as in `try_reap`, blocking.
        match check(unsafe { libc::waitpid(pid, &mut status, 0) }) {
            Ok(_) => return Ok(ExitStatus::from_raw(status)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

pub fn kill(pid: Pid, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall; a vanished pid gives ESRCH, which the caller may ignore.
    check(unsafe { libc::kill(pid, signal) })?;
    Ok(())
}

pub fn getpid() -> Pid {
    // SAFETY: getpid cannot fail.
    unsafe { libc::getpid() }
}

/// Makes the kernel send `signal` to this process when the thread that forked it dies, and
/// closes the race where the parent died before the call.
pub fn die_with_parent(parent: Pid, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number as its only argument.
    check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0) })?;
    // SAFETY: getppid cannot fail.
    if unsafe { libc::getppid() } != parent {
        // SAFETY: raising a signal on ourselves.
        unsafe { libc::raise(signal) };
    }
    Ok(())
}

/// The last part of [`wait_until`], spent spinning rather than asleep.
pub const SPIN_WINDOW: Duration = Duration::from_micros(100);

/// Returns at `at` on the monotonic clock, as closely as a CPU can: sleeps until shortly
/// before it, then spins. The kernel wakes a sleeper tens of microseconds late; spinning
/// costs at most [`SPIN_WINDOW`] of CPU.
pub fn wait_until(at: Mono) {
    let window = SPIN_WINDOW.as_nanos() as u64;
    let now = monotonic_now();
    if at.0 > now.0 + window {
        let wake = at.0 - window;
        let ts = libc::timespec {
            tv_sec: (wake / 1_000_000_000) as libc::time_t,
            tv_nsec: (wake % 1_000_000_000) as libc::c_long,
        };
        // SAFETY: `ts` is a valid timespec; a null remainder is allowed with TIMER_ABSTIME.
        // An early return (EINTR) only means spinning longer.
        unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &ts,
                std::ptr::null_mut(),
            )
        };
    }
    while monotonic_now() < at {
        std::hint::spin_loop();
    }
}

/// Timer slack: how late the kernel may wake this thread to batch wake-ups (default 50 µs).
/// `None` restores the default.
pub fn set_timer_slack(slack: Option<Duration>) -> io::Result<()> {
    let nanos = slack.map_or(0, |d| {
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
    });
    // SAFETY: PR_SET_TIMERSLACK takes the slack in ns; 0 means the default.
    check(unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, nanos as libc::c_ulong, 0, 0, 0) })?;
    Ok(())
}

/// Moves this process into a process group of its own, so that Ctrl-C in a terminal
/// reaches only the master, which then stops its workers gracefully.
pub fn own_process_group() -> io::Result<()> {
    // SAFETY: setpgid(0, 0) acts on the calling process only.
    check(unsafe { libc::setpgid(0, 0) })?;
    Ok(())
}

/// Resident memory of a process, in bytes, from `/proc/<pid>/statm`.
pub fn rss_bytes(pid: Pid) -> io::Result<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm"))?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable statm"))?;
    // SAFETY: sysconf with a valid name has no preconditions.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Ok(pages * u64::try_from(page_size).unwrap_or(4096))
}

/// How many threads this process has: one entry per thread in `/proc/self/task`. fork()
/// copies only the calling thread, so a lock another thread holds stays locked in the child.
pub fn thread_count() -> io::Result<usize> {
    std::fs::read_dir("/proc/self/task")?.try_fold(0, |n, entry| entry.map(|_| n + 1))
}
