//! The Linux calls the master and its workers need, over the `nix` crate.
//!
//! Owns every call into the OS outside the PHP bindings: clocks, timerfd, signalfd, epoll,
//! fork, socket pairs, reaping, signals, prctl, and what a forked helper process that never
//! returns into PHP does to leave the master's state behind. Each wrapper returns
//! `io::Result` and owns its file descriptors, so no caller handles raw fds or errno. What the
//! master changes in the process for the time it runs (the signal mask, SIGCHLD's disposition)
//! is held by a guard that puts it back when dropped, on every way out, unwinding included.
//! Where `nix` has the call, `nix` makes it; the few `unsafe` blocks left are `fork` itself,
//! `sigaction`, the precise sleep, closing inherited descriptors (`close_range`), redirecting
//! a descriptor that PHP owns, `mincore` and `MADV_COLLAPSE`, which `nix` does not wrap. It
//! makes no decisions: policy lives in [`crate::pool`], [`crate::supervisor`] and
//! [`crate::master`].

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd as NixSignalFd};
use nix::sys::socket::{AddressFamily, SockFlag, SockType};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{
    ClockId, Expiration, TimerFd as NixTimerFd, TimerFlags, TimerSetTimeFlags,
};
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::time::{ClockId as Clock, clock_gettime};
use nix::unistd::{ForkResult, Pid as NixPid};

use crate::pid::Pid;
use crate::schedule::Mono;
use crate::spin::SpinWindow;

fn os(e: Errno) -> io::Error {
    io::Error::from(e)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn timespec(nanos: u64) -> TimeSpec {
    TimeSpec::from_duration(Duration::from_nanos(nanos))
}

pub fn monotonic_now() -> Mono {
    // CLOCK_MONOTONIC always exists on Linux; the call cannot fail with a valid clock.
    let ts = clock_gettime(Clock::CLOCK_MONOTONIC).expect("CLOCK_MONOTONIC is readable");
    Mono(ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64)
}

pub fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// A `CLOCK_MONOTONIC` timerfd armed at absolute instants: the kernel wakes the loop at the
/// due instant itself, so late wake-ups do not accumulate and there is no 1 ms rounding.
pub struct TimerFd(NixTimerFd);

impl TimerFd {
    pub fn new() -> io::Result<TimerFd> {
        NixTimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_CLOEXEC | TimerFlags::TFD_NONBLOCK,
        )
        .map(TimerFd)
        .map_err(os)
    }

    /// Fires once at `at` (immediately if `at` has passed).
    pub fn arm_at(&self, at: Mono) -> io::Result<()> {
        // A zero instant would disarm the timer; the monotonic clock is never at zero.
        self.0
            .set(
                Expiration::OneShot(timespec(at.0.max(1))),
                TimerSetTimeFlags::TFD_TIMER_ABSTIME,
            )
            .map_err(os)
    }

    pub fn disarm(&self) -> io::Result<()> {
        self.0.unset().map_err(os)
    }

    /// Clears the readiness; returns whether the timer had fired.
    pub fn acknowledge(&self) -> bool {
        // Non-blocking: `wait` reads the expiration count, or fails with EAGAIN.
        self.0.wait().is_ok()
    }
}

impl AsFd for TimerFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Tells the loop that the wall clock was set (an NTP step, an operator, a VM that resumed):
/// a `CLOCK_REALTIME` timerfd armed far in the future with `TFD_TIMER_CANCEL_ON_SET` turns
/// readable whenever the clock is set, and its read fails with `ECANCELED`.
pub struct ClockSteps(NixTimerFd);

/// Where the watch is armed: 2096, never reached, so only a set clock makes it readable.
const FAR_FUTURE_SECS: u64 = 4_000_000_000;

impl ClockSteps {
    pub fn new() -> io::Result<ClockSteps> {
        let fd = NixTimerFd::new(
            ClockId::CLOCK_REALTIME,
            TimerFlags::TFD_CLOEXEC | TimerFlags::TFD_NONBLOCK,
        )
        .map_err(os)?;
        let steps = ClockSteps(fd);
        steps.arm()?;
        Ok(steps)
    }

    fn arm(&self) -> io::Result<()> {
        self.0
            .set(
                Expiration::OneShot(timespec(FAR_FUTURE_SECS * 1_000_000_000)),
                TimerSetTimeFlags::TFD_TIMER_ABSTIME | TimerSetTimeFlags::TFD_TIMER_CANCEL_ON_SET,
            )
            .map_err(os)
    }

    /// Clears the readiness: whether the clock was set since the last call. The watch is
    /// armed again for the next step.
    pub fn stepped(&self) -> bool {
        // nix's `wait` reads the timer and takes ECANCELED, the clock being set, for an
        // expiry; a watch armed for 2096 does not expire. EAGAIN: nothing happened.
        if self.0.wait().is_err() {
            return false;
        }
        if let Err(e) = self.arm() {
            log::error!("cannot watch the wall clock for steps any more: {e}");
        }
        true
    }
}

impl AsFd for ClockSteps {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Signals delivered as readable events instead of asynchronous handlers. While it lives,
/// its signals are blocked for the thread; dropping it puts the old mask back.
pub struct SignalFd {
    fd: NixSignalFd,
    old_mask: SigSet,
}

fn sigset(signals: &[Signal]) -> SigSet {
    let mut set = SigSet::empty();
    for &s in signals {
        set.add(s);
    }
    set
}

impl SignalFd {
    pub fn new(signals: &[Signal]) -> io::Result<SignalFd> {
        let set = sigset(signals);
        let mut old_mask = SigSet::empty();
        // Blocking only affects this (the only) thread.
        nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old_mask))
            .map_err(os)?;
        match NixSignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK) {
            Ok(fd) => Ok(SignalFd { fd, old_mask }),
            Err(e) => {
                let _ = old_mask.thread_set_mask();
                Err(os(e))
            }
        }
    }

    /// Signals received since the last call (each signal at most once: they coalesce).
    pub fn drain(&self) -> Vec<Signal> {
        let mut out = vec![];
        while let Ok(Some(info)) = self.fd.read_signal() {
            if let Ok(signal) = Signal::try_from(info.ssi_signo as i32) {
                out.push(signal);
            }
        }
        out
    }
}

impl Drop for SignalFd {
    /// Unblocks the signals again (the mask from before [`SignalFd::new`]). Signals that
    /// arrived meanwhile and were not drained are delivered now, with their usual effect.
    fn drop(&mut self) {
        let _ = self.old_mask.thread_set_mask();
    }
}

/// The signals blocked for this thread now.
pub fn blocked_signals() -> io::Result<SigSet> {
    SigSet::thread_get_mask().map_err(os)
}

/// SIGCHLD at its default disposition while it lives, whatever the application set: with
/// SIGCHLD ignored (`pcntl_signal(SIGCHLD, SIG_IGN)`), or `SA_NOCLDWAIT`, the kernel reaps
/// children itself, so their exit statuses are lost and their pids may be reused while the
/// master still signals them. Dropping it puts the application's disposition back.
pub struct ChildSignalDefault {
    old: SigAction,
}

impl ChildSignalDefault {
    pub fn new() -> io::Result<ChildSignalDefault> {
        let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
        // SAFETY: SIG_DFL installs no handler, so no code runs in signal context.
        let old = unsafe { nix::sys::signal::sigaction(Signal::SIGCHLD, &default) }.map_err(os)?;
        Ok(ChildSignalDefault { old })
    }
}

impl Drop for ChildSignalDefault {
    fn drop(&mut self) {
        // SAFETY: the action is the one the application had installed: putting it back
        // runs nothing now, and its handler (if any) was valid for it before.
        let _ = unsafe { nix::sys::signal::sigaction(Signal::SIGCHLD, &self.old) };
    }
}

/// Ignores `signal` unless the application handles it: for a worker, SIGTTIN and SIGTTOU
/// would otherwise stop it when it touches a terminal from its own process group.
pub fn ignore_unless_handled(signal: Signal) -> io::Result<()> {
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    // SAFETY: SIG_IGN installs no handler, so no code runs in signal context.
    let old = unsafe { nix::sys::signal::sigaction(signal, &ignore) }.map_err(os)?;
    if !matches!(old.handler(), SigHandler::SigDfl) {
        // SAFETY: puts back the application's own action, as it was installed.
        unsafe { nix::sys::signal::sigaction(signal, &old) }.map_err(os)?;
    }
    Ok(())
}

/// Makes `/dev/null` this process's stdin.
pub fn stdin_from_dev_null() -> io::Result<()> {
    let null = std::fs::File::open("/dev/null")?;
    nix::unistd::dup2_stdin(&null).map_err(os)
}

impl AsFd for SignalFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// What a descriptor is ready for, in one event of [`Poller::wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ready {
    pub token: u64,
    /// Readable, or closed or failed (a read then tells which).
    pub readable: bool,
    pub writable: bool,
}

/// An epoll instance: descriptors are registered once, with a token, and each wait returns
/// only those that are ready, so a pass costs what happened, not how many fds are watched.
///
/// A forked child inherits this instance (the same kernel object) with every registration;
/// it must drop it without deregistering anything, which dropping does.
pub struct Poller {
    epoll: Epoll,
    events: Vec<EpollEvent>,
}

fn interest(write: bool) -> EpollFlags {
    if write {
        EpollFlags::EPOLLIN | EpollFlags::EPOLLOUT
    } else {
        EpollFlags::EPOLLIN
    }
}

impl Poller {
    /// Events taken per wait; more ready descriptors are reported by the next wait.
    const BATCH: usize = 256;

    pub fn new() -> io::Result<Poller> {
        Ok(Poller {
            epoll: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(os)?,
            events: vec![EpollEvent::empty(); Self::BATCH],
        })
    }

    /// Watches `fd` for reading (and writing, if `write`).
    pub fn add(&self, fd: BorrowedFd<'_>, token: u64, write: bool) -> io::Result<()> {
        self.epoll
            .add(fd, EpollEvent::new(interest(write), token))
            .map_err(os)
    }

    /// Changes whether `fd` is also watched for writing.
    pub fn modify(&self, fd: BorrowedFd<'_>, token: u64, write: bool) -> io::Result<()> {
        self.epoll
            .modify(fd, &mut EpollEvent::new(interest(write), token))
            .map_err(os)
    }

    /// Stops watching `fd`. Called before the master closes a descriptor: a child forked
    /// a moment ago may still hold a copy of it, which would keep it registered.
    pub fn delete(&self, fd: BorrowedFd<'_>) {
        let _ = self.epoll.delete(fd);
    }

    /// Waits until something is ready or `timeout` passes (`None`: no timeout). An
    /// interrupted wait returns nothing: the caller's loop simply looks again.
    pub fn wait(&mut self, timeout: Option<Duration>) -> io::Result<Vec<Ready>> {
        // epoll takes milliseconds: round up, so the loop never wakes before a deadline and
        // spins. Sub-millisecond precision is the timerfd's job, which is one of the fds.
        let timeout = match timeout {
            None => EpollTimeout::NONE,
            Some(t) => {
                let ms = t.as_nanos().div_ceil(1_000_000);
                EpollTimeout::try_from(u32::try_from(ms).unwrap_or(u32::MAX).min(i32::MAX as u32))
                    .unwrap_or(EpollTimeout::MAX)
            }
        };
        let n = match self.epoll.wait(&mut self.events, timeout) {
            Ok(n) => n,
            Err(Errno::EINTR) => 0,
            Err(e) => return Err(os(e)),
        };
        Ok(self.events[..n]
            .iter()
            .map(|e| {
                let flags = e.events();
                Ready {
                    token: e.data(),
                    readable: flags.intersects(
                        EpollFlags::EPOLLIN | EpollFlags::EPOLLHUP | EpollFlags::EPOLLERR,
                    ),
                    writable: flags.intersects(EpollFlags::EPOLLOUT | EpollFlags::EPOLLERR),
                }
            })
            .collect())
    }
}

/// A connected pair of Unix stream sockets, close-on-exec.
pub fn socket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    nix::sys::socket::socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(os)
}

/// A pipe, both ends close-on-exec: (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(os)
}

/// Marks every descriptor from 3 up close-on-exec, so that a program this process execs
/// inherits only its stdin, stdout and stderr: PHP opens files and sockets without
/// `O_CLOEXEC`, and a worker must not hold the master's database connections or listening
/// sockets. Descriptors stay open until the exec itself (std's own error pipe needs to).
pub fn close_on_exec_from_3() -> io::Result<()> {
    // SAFETY: close_range(2) with CLOSE_RANGE_CLOEXEC only sets a flag on descriptors of
    // this process; no memory is passed. (`nix` does not wrap it.)
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    // Older kernels (before 5.11): one descriptor at a time, as /proc lists them.
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    for fd in open_fd_list()?.into_iter().filter(|&fd| fd >= 3) {
        // SAFETY: the descriptor was open in this process a moment ago; one closed since
        // is reported as EBADF, ignored below.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let _ = fcntl(borrowed, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
    }
    Ok(())
}

/// Unblocks every signal of this thread: a program exec'd from the master would otherwise
/// inherit the signals the master blocks for its signalfd (SIGTERM among them).
pub fn unblock_all_signals() -> io::Result<()> {
    SigSet::empty().thread_set_mask().map_err(os)
}

/// A user's or a group's ids, as the system's user database has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub uid: u32,
    pub gid: u32,
    /// The supplementary groups of a user (its own group included); empty for a group.
    pub groups: Vec<u32>,
}

/// Looks a user up by name (`getpwnam`), with its groups (`getgrouplist`, as `initgroups`
/// sets them). `None`: no such user.
pub fn user_named(name: &str) -> io::Result<Option<Account>> {
    let Some(user) = nix::unistd::User::from_name(name).map_err(os)? else {
        return Ok(None);
    };
    let groups = match std::ffi::CString::new(name) {
        Ok(cname) => nix::unistd::getgrouplist(&cname, user.gid)
            .map_err(os)?
            .into_iter()
            .map(|g| g.as_raw())
            .collect(),
        Err(_) => vec![user.gid.as_raw()],
    };
    Ok(Some(Account {
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        groups,
    }))
}

/// Looks a group up by name (`getgrnam`). `None`: no such group.
pub fn group_named(name: &str) -> io::Result<Option<u32>> {
    Ok(nix::unistd::Group::from_name(name)
        .map_err(os)?
        .map(|g| g.gid.as_raw()))
}

/// This process's effective user and group ids.
pub fn effective_ids() -> (u32, u32) {
    (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    )
}

/// Drops this process's privileges for good: supplementary groups, then the group, then
/// the user (after `setuid` it could no longer change its groups). It needs root.
pub fn become_user(uid: u32, gid: u32, groups: &[u32]) -> io::Result<()> {
    use nix::unistd::{Gid, Uid, setgid, setgroups, setuid};
    let groups: Vec<Gid> = groups.iter().map(|&g| Gid::from_raw(g)).collect();
    setgroups(&groups).map_err(os)?;
    setgid(Gid::from_raw(gid)).map_err(os)?;
    setuid(Uid::from_raw(uid)).map_err(os)
}

/// Ends this process at once with `code`: no atexit handlers, no flushing of stdio buffers
/// (a forked child's copies of the master's), no PHP shutdown.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit(2) ends the process; it touches no memory of ours.
    unsafe { libc::_exit(code) }
}

/// Ends this process as `exit(3)` would, but without its atexit handlers: C's output
/// buffers are written out, then `_exit(2)`.
pub fn exit_flushed(code: i32) -> ! {
    // SAFETY: fflush(NULL) writes out every open C stream of this single-threaded process;
    // nothing runs after it but _exit.
    unsafe { libc::fflush(std::ptr::null_mut()) };
    exit_now(code)
}

/// A signal ignored while it lives: SIGPIPE, while the master writes to pipes whose
/// reader may be gone (EPIPE then, instead of death). Dropping it puts the old action back.
pub struct SignalIgnored {
    signal: Signal,
    old: SigAction,
}

impl SignalIgnored {
    pub fn new(signal: Signal) -> io::Result<SignalIgnored> {
        let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
        // SAFETY: SIG_IGN installs no handler, so no code runs in signal context.
        let old = unsafe { nix::sys::signal::sigaction(signal, &ignore) }.map_err(os)?;
        Ok(SignalIgnored { signal, old })
    }
}

impl Drop for SignalIgnored {
    fn drop(&mut self) {
        // SAFETY: puts back the action that was installed before, as it was.
        let _ = unsafe { nix::sys::signal::sigaction(self.signal, &self.old) };
    }
}

/// Makes a descriptor non-blocking: the master's ends of its channels never block it.
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL).map_err(os)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).map_err(os)?;
    Ok(())
}

pub enum Forked {
    Parent(Pid),
    Child,
}

/// `fork()`. Safe to call only while no other thread exists in the process (the master
/// never starts one), since locks held by another thread would stay locked in the child.
pub fn fork() -> io::Result<Forked> {
    // SAFETY: the caller upholds the single-thread rule above; the child continues in Rust
    // and returns to PHP, which is single-threaded too.
    match unsafe { nix::unistd::fork() }.map_err(os)? {
        ForkResult::Child => Ok(Forked::Child),
        ForkResult::Parent { child } => Ok(Forked::Parent(child.as_raw())),
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(Signal),
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExitStatus::Code(code) => write!(f, "exited with status {code}"),
            ExitStatus::Signal(sig) => write!(f, "was killed by signal {}", signal_name(sig)),
        }
    }
}

impl From<std::process::ExitStatus> for ExitStatus {
    fn from(status: std::process::ExitStatus) -> ExitStatus {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => ExitStatus::Code(code),
            (None, Some(signal)) => Signal::try_from(signal)
                .map(ExitStatus::Signal)
                .unwrap_or(ExitStatus::Code(-1)),
            (None, None) => ExitStatus::Code(-1),
        }
    }
}

/// `15 (SIGTERM)`: the number that `kill -l` users know, and the name.
pub fn signal_name(sig: Signal) -> String {
    format!("{} ({})", sig as i32, sig.as_str())
}

/// Reaps `pid` if it has ended. Only the given child is waited for, so children that the
/// application started itself (proc_open) keep their exit status for their owner.
pub fn try_reap(pid: Pid) -> io::Result<Option<ExitStatus>> {
    match nix::sys::wait::waitpid(NixPid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, code)) => Ok(Some(ExitStatus::Code(code))),
        Ok(WaitStatus::Signaled(_, signal, _)) => Ok(Some(ExitStatus::Signal(signal))),
        Ok(_) => Ok(None),
        Err(e) => Err(os(e)),
    }
}

/// A child of this process that has ended and is not reaped yet, left unreaped: the
/// kernel's answer to "which one?", where [`try_reap`] can only ask one pid at a time.
/// `None` when no child has ended (or there is none). Which of several it names is the
/// kernel's choice, so a child that is not the caller's to reap can hide the others.
pub fn ended_child() -> io::Result<Option<Pid>> {
    use nix::sys::wait::{Id, waitid};
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    match waitid(Id::All, flags) {
        Ok(status) => Ok(status.pid().map(NixPid::as_raw)),
        Err(Errno::ECHILD) => Ok(None),
        Err(e) => Err(os(e)),
    }
}

pub fn kill(pid: Pid, signal: Signal) -> io::Result<()> {
    nix::sys::signal::kill(NixPid::from_raw(pid), signal).map_err(os)
}

pub fn getpid() -> Pid {
    nix::unistd::getpid().as_raw()
}

/// Makes the kernel send `signal` to this process when the thread that forked it dies, and
/// closes the race where the parent died before the call.
pub fn die_with_parent(parent: Pid, signal: Signal) -> io::Result<()> {
    nix::sys::prctl::set_pdeathsig(signal).map_err(os)?;
    if nix::unistd::getppid().as_raw() != parent {
        nix::sys::signal::raise(signal).map_err(os)?;
    }
    Ok(())
}

/// Returns at `at` on the monotonic clock, as closely as a CPU can: sleeps until `spin`'s
/// window before it, then spins. The sleep runs with the finest timer slack, so the kernel
/// does not batch its wake-up with others (50 µs later by default), and how late it woke is
/// recorded in `spin`, which sizes the next window from it. A signal handler that runs
/// meanwhile does not cut the sleep short: the sleep is to an absolute instant, so it simply
/// sleeps again.
///
/// The calling thread keeps that slack from its first sleep on: a thread that waits here
/// does so on every tick, and lowering the slack and putting it back around each sleep
/// took three system calls per tick, a measurable share of a worker's CPU per tick.
pub fn wait_until(at: Mono, spin: &mut SpinWindow) {
    let window = nanos(spin.window());
    if at.0 > monotonic_now().0 + window {
        let wake = Mono(at.0 - window);
        lower_timer_slack_once();
        sleep_until(wake);
        spin.record(monotonic_now().since(wake));
    }
    while monotonic_now() < at {
        std::hint::spin_loop();
    }
}

/// Sleeps until `at` on the monotonic clock, at this thread's timer slack, and again after
/// a signal handler ran: one absolute sleep, no spin.
pub fn sleep_until(at: Mono) {
    let wake_at = libc::timespec {
        tv_sec: (at.0 / 1_000_000_000) as libc::time_t,
        tv_nsec: (at.0 % 1_000_000_000) as libc::c_long,
    };
    loop {
        // SAFETY: `wake_at` is a valid timespec; a null remainder is allowed with
        // TIMER_ABSTIME. (`nix` has no absolute sleep.)
        let rc = unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &wake_at,
                std::ptr::null_mut(),
            )
        };
        if rc != libc::EINTR {
            break;
        }
    }
}

thread_local! {
    /// Whether this thread's timer slack was lowered for [`wait_until`]. Timer slack is per
    /// thread, and a fork copies the calling thread's along with this flag.
    static SLACK_LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn lower_timer_slack_once() {
    SLACK_LOWERED.with(|lowered| {
        if !lowered.get() {
            lowered.set(nix::sys::prctl::set_timerslack(1).is_ok());
        }
    });
}

/// Timer slack: how late the kernel may wake this thread to batch wake-ups (default 50 µs).
/// `None` restores the default.
pub fn set_timer_slack(slack: Option<Duration>) -> io::Result<()> {
    let ns = slack.map_or(0, |d| nanos(d).max(1));
    // The next wait_until() lowers it again.
    SLACK_LOWERED.with(|lowered| lowered.set(false));
    // 0 means the default.
    nix::sys::prctl::set_timerslack(ns as libc::c_ulong).map_err(os)
}

/// Moves this process into a process group of its own, so that Ctrl-C in a terminal
/// reaches only the master, which then stops its workers gracefully.
pub fn own_process_group() -> io::Result<()> {
    nix::unistd::setpgid(NixPid::from_raw(0), NixPid::from_raw(0)).map_err(os)
}

/// Resident memory of a process, in bytes, from `/proc/<pid>/statm`.
pub fn rss_bytes(pid: Pid) -> io::Result<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm"))?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable statm"))?;
    Ok(pages * page_size() as u64)
}

/// The size of the system's base page.
pub fn page_size() -> usize {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|size| usize::try_from(size).ok())
        .unwrap_or(4096)
}

/// How many of the pages from `start` are in memory: `residency` has one entry per page
/// (`mincore`). `start` is page-aligned and the range lies in this process's mappings.
pub fn resident_pages(start: usize, residency: &mut [u8]) -> io::Result<usize> {
    let len = residency.len() * page_size();
    // SAFETY: mincore only reads the kernel's page tables for the range and writes one
    // byte per page into `residency`, which is exactly that long; an unmapped range is an
    // error (ENOMEM), not undefined behaviour.
    let rc = unsafe { libc::mincore(start as *mut libc::c_void, len, residency.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(residency.iter().filter(|&&page| page & 1 == 1).count())
}

/// Asks the kernel to move `start..start + len` of this process's anonymous memory onto
/// transparent huge pages now (`MADV_COLLAPSE`, Linux 6.1). The contents stay the same.
pub fn collapse_into_huge_pages(start: usize, len: usize) -> io::Result<()> {
    // SAFETY: MADV_COLLAPSE copies the range's pages into a huge page and maps it in their
    // place with the same contents and protections; no memory Rust or PHP holds changes
    // meaning, and the master has no other thread that could observe the move.
    let rc = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_COLLAPSE) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// How many threads this process has: one entry per thread in `/proc/self/task`. fork()
/// copies only the calling thread, so a lock another thread holds stays locked in the child.
pub fn thread_count() -> io::Result<usize> {
    std::fs::read_dir("/proc/self/task")?.try_fold(0, |n, entry| entry.map(|_| n + 1))
}

/// Makes `target` refer to the file `source` refers to (dup2): every holder of `target`,
/// such as PHP's output layer for fd 1, then reads or writes that file instead.
pub fn redirect(source: BorrowedFd<'_>, target: BorrowedFd<'_>) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: dup2 replaces the open file behind `target`, which stays a valid
        // descriptor owned by whoever owned it; no memory is read or written. (`nix`'s
        // dup2 wants to own the target, and fd 0 and 1 belong to PHP.)
        let rc = unsafe { libc::dup2(source.as_raw_fd(), target.as_raw_fd()) };
        if rc >= 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// The soft limit on this process's open file descriptors (`RLIMIT_NOFILE`).
pub fn fd_limit() -> io::Result<u64> {
    Ok(fd_limits()?.0)
}

/// The soft and hard limits on this process's open file descriptors (`RLIMIT_NOFILE`).
pub fn fd_limits() -> io::Result<(u64, u64)> {
    use nix::sys::resource::{Resource, getrlimit};
    getrlimit(Resource::RLIMIT_NOFILE).map_err(os)
}

/// Raises the soft limit on open file descriptors to `soft`, the hard one unchanged (an
/// unprivileged process may raise its soft limit up to the hard one).
pub fn set_fd_soft_limit(soft: u64) -> io::Result<()> {
    use nix::sys::resource::{Resource, setrlimit};
    let (_, hard) = fd_limits()?;
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).map_err(os)
}

/// How many file descriptors this process has open, from `/proc/self/fd`.
pub fn open_fds() -> io::Result<usize> {
    // Reading the directory takes a descriptor of its own, which it lists too.
    Ok(std::fs::read_dir("/proc/self/fd")?
        .count()
        .saturating_sub(1))
}

impl Poller {
    /// Watches `fd` for writing only: a peer that has sent all it will (its end shut)
    /// stays readable, which would wake every wait while the master only has to write.
    pub fn modify_write_only(&self, fd: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        self.epoll
            .modify(fd, &mut EpollEvent::new(EpollFlags::EPOLLOUT, token))
            .map_err(os)
    }
}

/// The host's name, for naming this process to other hosts (`host:pid`).
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Closes every descriptor but stdin, stdout, stderr and `keep`: in a forked helper, the
/// master's channels, poller and sockets, and the application's connections.
pub fn close_other_fds(keep: BorrowedFd<'_>) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: called only in a forked child that never returns into PHP or to the master's
    // code: no object that owns one of these descriptors is used again.
    unsafe { close_all_but(&[0, 1, 2, keep.as_raw_fd()]) }
}

/// The descriptors this process has open, in order, from `/proc/self/fd`.
pub fn open_fd_list() -> io::Result<Vec<RawFd>> {
    let dir = std::fs::read_dir("/proc/self/fd")?;
    let mut fds = Vec::new();
    for entry in dir {
        if let Some(fd) = entry?.file_name().to_str().and_then(|n| n.parse().ok()) {
            fds.push(fd);
        }
    }
    // The directory's own descriptor, closed by now, is listed too: only those still open.
    fds.retain(|&fd| fcntl_ok(fd));
    fds.sort_unstable();
    Ok(fds)
}

fn fcntl_ok(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only asks whether `fd` is open; no memory is passed.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// Closes every descriptor of this process but those in `keep`, a few `close_range(2)`
/// calls over the gaps between them (Linux 5.9). An error comes before anything is closed.
///
/// # Safety
/// Nothing that owns one of the closed descriptors may use or close it afterwards: its
/// number can belong to another file by then.
pub unsafe fn close_all_but(keep: &[RawFd]) -> io::Result<()> {
    for (first, last) in gaps(keep) {
        // SAFETY: close_range only closes descriptors of this process; the caller
        // guarantees no owner uses them again. (`nix` has no close_range.)
        if unsafe { libc::close_range(first, last, 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The ranges of descriptor numbers, first and last included, that `keep` leaves out.
fn gaps(keep: &[RawFd]) -> Vec<(libc::c_uint, libc::c_uint)> {
    let mut keep: Vec<libc::c_uint> = keep
        .iter()
        .filter_map(|&fd| libc::c_uint::try_from(fd).ok())
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut gaps = Vec::new();
    let mut first: libc::c_uint = 0;
    for fd in keep {
        if fd > first {
            gaps.push((first, fd - 1));
        }
        first = fd.saturating_add(1);
    }
    gaps.push((first, libc::c_uint::MAX));
    gaps
}

/// Default handling and no mask for the signals that end a process: a forked helper must
/// not keep the master's signalfd mask or PHP's handlers (which could never run there).
pub fn default_signals() {
    use nix::sys::signal::{SigHandler, signal};
    for sig in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGPIPE,
    ] {
        // SAFETY: SIG_DFL installs no handler, so no code of ours runs in signal context.
        let _ = unsafe { signal(sig, SigHandler::SigDfl) };
    }
    let _ = SigSet::all().thread_unblock();
}

/// Names this process in `ps` and `top` (15 bytes at most).
pub fn set_process_name(name: &str) -> io::Result<()> {
    let name = std::ffi::CString::new(name).map_err(io::Error::other)?;
    nix::sys::prctl::set_name(&name).map_err(os)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_thread_keeps_the_finest_timer_slack_until_it_is_set() {
        // A thread of its own: timer slack is per thread.
        std::thread::spawn(|| {
            let mut spin = SpinWindow::new(crate::spin::Goal::Tail);
            let slack = || nix::sys::prctl::get_timerslack().unwrap();
            set_timer_slack(None).unwrap();
            assert_ne!(slack(), 1, "the default slack is 50 µs");
            // Far enough ahead that it sleeps before it spins.
            wait_until(monotonic_now() + Duration::from_millis(1), &mut spin);
            assert_eq!(slack(), 1, "lowered for the sleep and kept");
            set_timer_slack(Some(Duration::from_micros(20))).unwrap();
            assert_eq!(slack(), 20_000);
            wait_until(monotonic_now() + Duration::from_millis(1), &mut spin);
            assert_eq!(slack(), 1, "lowered again after it was set");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_set_wall_clock_is_noticed_once() {
        let steps = ClockSteps::new().unwrap();
        assert!(!steps.stepped(), "nothing set the clock yet");
        // A step of 50 µs forward (never back: other tests read the clock meanwhile) is a
        // set all the same; it needs CAP_SYS_TIME, which a test run by another user lacks.
        let ahead = clock_gettime(Clock::CLOCK_REALTIME).unwrap()
            + TimeSpec::from_duration(Duration::from_micros(50));
        match nix::time::clock_settime(Clock::CLOCK_REALTIME, ahead) {
            Err(Errno::EPERM) => {
                eprintln!("not allowed to set the clock here: only the quiet case is checked");
                return;
            }
            result => result.unwrap(),
        }
        assert!(steps.stepped(), "the set clock was noticed");
        assert!(!steps.stepped(), "once, then the watch is armed again");
    }

    #[test]
    fn the_gaps_are_everything_but_the_descriptors_kept() {
        let max = libc::c_uint::MAX;
        assert_eq!(gaps(&[0, 1, 2, 7]), vec![(3, 6), (8, max)]);
        assert_eq!(gaps(&[9, 2, 0, 1, 2, 10]), vec![(3, 8), (11, max)]);
        assert_eq!(gaps(&[5]), vec![(0, 4), (6, max)]);
        assert_eq!(gaps(&[]), vec![(0, max)]);
        assert_eq!(gaps(&[-1, 0]), vec![(1, max)]);
    }

    #[test]
    fn the_list_of_open_descriptors_holds_one_just_opened() {
        let file = std::fs::File::open("/proc/self/status").unwrap();
        let fds = open_fd_list().unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
        assert!(fds.contains(&fd) && fds.contains(&2), "{fds:?}");
        assert!(fds.is_sorted());
    }
}
