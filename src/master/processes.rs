//! Worker processes: starting them, their channels, reaping, killing, respawn back-off.
//!
//! Owns the master's end of every worker's channel (registered with the poller), the
//! workers whose channel closed and that must exit soon, the workers the master killed and
//! has not reaped yet, and when the next replacement may start ([`RespawnPolicy`]). What a
//! worker's frames mean is `ticking.rs`'s business; which worker gets a tick is the
//! [`Pool`](crate::pool::Pool)'s.
//!
//! Nothing here waits for a process. A kill is a SIGKILL and the worker's removal from the
//! pool, at once: its tick fails then, its replacement may start, and it takes no tick
//! whatever the kernel takes to tear it down (a process in uninterruptible sleep dies only
//! when it wakes). It is reaped when SIGCHLD says it is gone. A worker whose channel is
//! gone is withdrawn from the pool in the same step, so it is never handed a tick either.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::launch::{Launched, Launcher};
use super::{Master, Phase, Source};
use crate::config::TickerConfig;
use crate::frame::Frame;
use crate::log;
use crate::pool::{Pid, Removed, WorkerState};
use crate::schedule::Mono;
use crate::supervisor::{RespawnPolicy, Verdict};
use crate::sys::{self, ExitStatus};
use crate::transport::{Channel, Filled, Sent};
use crate::worker::WorkerLink;

/// How long a worker that closed its channel may take to exit before it is killed.
const CLOSED_GRACE: Duration = Duration::from_secs(1);

/// How long a stopping master waits for workers it killed to be gone before it returns
/// anyway, leaving them to init: SIGKILL takes effect when a process in uninterruptible
/// sleep wakes, which may be never (a hung NFS or FUSE mount).
const KILLED_GRACE: Duration = Duration::from_secs(5);

pub(super) struct Processes {
    launcher: Box<dyn Launcher>,
    channels: BTreeMap<Pid, Channel>,
    /// Workers whose channel closed, with the instant they get killed if still alive.
    closing: BTreeMap<Pid, Mono>,
    /// Workers the master killed, out of the pool already, until they are reaped: why,
    /// and when.
    killed: BTreeMap<Pid, (String, Mono)>,
    respawn: RespawnPolicy,
    respawn_at: Mono,
}

impl Processes {
    pub(super) fn new(config: &TickerConfig, now: Mono, launcher: Box<dyn Launcher>) -> Processes {
        Processes {
            launcher,
            channels: BTreeMap::new(),
            closing: BTreeMap::new(),
            killed: BTreeMap::new(),
            respawn: RespawnPolicy::new(config.pool.num_workers),
            respawn_at: now,
        }
    }

    /// Whether a stopping master may return: every worker it killed is reaped, or has had
    /// [`KILLED_GRACE`] to die.
    pub(super) fn killed_are_gone(&self, now: Mono) -> bool {
        self.killed
            .values()
            .all(|&(_, since)| since + KILLED_GRACE <= now)
    }

    /// When [`Processes::killed_are_gone`] turns true at the latest.
    pub(super) fn killed_deadline(&self) -> Option<Mono> {
        self.killed
            .values()
            .map(|&(_, since)| since + KILLED_GRACE)
            .max()
    }

    /// Workers killed and not reaped, which a stopping master leaves to init.
    pub(super) fn unreaped(&self) -> Vec<Pid> {
        self.killed.keys().copied().collect()
    }

    /// A tick was handled to the end: the application works, a crash streak is over.
    pub(super) fn tick_completed(&mut self) {
        self.respawn.tick_completed();
    }

    /// The earliest instant a worker that closed its channel gets killed.
    pub(super) fn next_closing_deadline(&self) -> Option<Mono> {
        self.closing.values().copied().min()
    }

    pub(super) fn respawn_at(&self) -> Mono {
        self.respawn_at
    }

    /// Workers whose grace after closing their channel is over.
    pub(super) fn take_overdue_closing(&mut self, now: Mono) -> Vec<Pid> {
        let overdue: Vec<Pid> = self
            .closing
            .iter()
            .filter(|&(_, &at)| at <= now)
            .map(|(&pid, _)| pid)
            .collect();
        for pid in &overdue {
            self.closing.remove(pid);
        }
        overdue
    }
}

impl Master<'_> {
    /// Starts workers until the pool has its size again. Returns the link in a new child.
    pub(super) fn top_up(&mut self) -> Option<WorkerLink> {
        if !matches!(self.phase, Phase::Running) || sys::monotonic_now() < self.processes.respawn_at
        {
            return None;
        }
        while self.pool.serving() < self.target {
            match self.spawn() {
                Ok(Some(link)) => return Some(link),
                Ok(None) => {}
                Err(e) => {
                    log::error(format_args!("cannot start a worker: {e}"));
                    self.processes.respawn_at = sys::monotonic_now() + Duration::from_millis(100);
                    return None;
                }
            }
        }
        None
    }

    fn spawn(&mut self) -> io::Result<Option<WorkerLink>> {
        let (pid, channel) = match self.processes.launcher.launch(self.me)? {
            Launched::ThisProcess(link) => return Ok(Some(link)),
            Launched::Worker { pid, channel } => (pid, channel),
        };
        if let Err(e) = self
            .poller
            .add(channel.as_fd(), Source::Worker(pid).token(), false)
        {
            // Unwatched, it could never answer: it is not a worker of this pool.
            let _ = sys::kill(pid, Signal::SIGKILL);
            self.processes
                .killed
                .insert(pid, ("could not be watched".into(), sys::monotonic_now()));
            return Err(e);
        }
        self.processes.channels.insert(pid, channel);
        log::info(format_args!("worker {pid} started"));
        if let Some(delivery) = self.pool.add(pid, sys::monotonic_now()) {
            self.deliver(delivery);
        }
        Ok(None)
    }

    /// Sends a frame to a worker without blocking: what its channel does not take now is
    /// flushed when it becomes writable.
    pub(super) fn send(&mut self, pid: Pid, frame: &Frame) {
        let Some(channel) = self.processes.channels.get_mut(&pid) else {
            return;
        };
        match channel.queue(frame) {
            Ok(Sent::All) => {}
            Ok(Sent::Queued) => self.watch_writable(pid, true),
            // The worker is gone or going (it exited after its answer): reap it as such.
            Err(e) if peer_gone(&e) => self.on_closed(pid),
            Err(e) => self.kill(pid, &format!("could not be written to: {e}")),
        }
    }

    /// Watches a worker's channel for writability (while its outbox holds bytes) or not.
    fn watch_writable(&mut self, pid: Pid, write: bool) {
        let Some(channel) = self.processes.channels.get(&pid) else {
            return;
        };
        let result = if channel.is_duplex() {
            self.poller
                .modify(channel.as_fd(), Source::Worker(pid).token(), write)
        } else if write {
            self.poller
                .add(channel.write_fd(), Source::WorkerOut(pid).token(), true)
        } else {
            self.poller.delete(channel.write_fd());
            Ok(())
        };
        if let Err(e) = result {
            self.kill(pid, &format!("cannot be watched for writing: {e}"));
        }
    }

    pub(super) fn on_writable(&mut self, pid: Pid) {
        let Some(channel) = self.processes.channels.get_mut(&pid) else {
            return;
        };
        match channel.flush() {
            Ok(Sent::All) => self.watch_writable(pid, false),
            Ok(Sent::Queued) => {}
            Err(e) if peer_gone(&e) => self.on_closed(pid),
            Err(e) => self.kill(pid, &format!("could not be written to: {e}")),
        }
    }

    pub(super) fn on_readable(&mut self, pid: Pid) {
        let Some(channel) = self.processes.channels.get_mut(&pid) else {
            return;
        };
        match channel.fill() {
            Ok(Filled::Data) => {}
            Ok(Filled::Closed) => return self.on_closed(pid),
            Err(e) if peer_gone(&e) => return self.on_closed(pid),
            Err(e) => return self.kill(pid, &format!("channel read failed: {e}")),
        }
        loop {
            let Some(channel) = self.processes.channels.get_mut(&pid) else {
                return;
            };
            match channel.next_frame() {
                Ok(Some(frame)) => self.on_frame(pid, frame),
                Ok(None) => return,
                Err(e) => return self.kill(pid, &format!("sent a malformed frame: {e}")),
            }
        }
    }

    /// Forgets a worker's channel, deregistering it first: a child forked a moment ago may
    /// still hold a copy of the descriptor, which would keep it in the poller's set. The
    /// pool learns of it in the same step: a worker the master cannot reach takes no tick.
    fn drop_channel(&mut self, pid: Pid) {
        self.pool.withdraw(pid);
        if let Some(channel) = self.processes.channels.remove(&pid) {
            self.poller.delete(channel.as_fd());
            if !channel.is_duplex() {
                self.poller.delete(channel.write_fd());
            }
        }
    }

    fn on_closed(&mut self, pid: Pid) {
        self.drop_channel(pid);
        self.processes
            .closing
            .insert(pid, sys::monotonic_now() + CLOSED_GRACE);
        // It usually has exited already; reap now rather than wait for SIGCHLD.
        self.reap(pid);
    }

    /// SIGCHLD: reaps every worker that has ended, in the pool or killed (signals
    /// coalesce, so all are looked at).
    pub(super) fn reap_all(&mut self) {
        let pids: Vec<Pid> = self
            .pool
            .workers()
            .map(|w| w.pid)
            .chain(self.processes.killed.keys().copied())
            .collect();
        for pid in pids {
            self.reap(pid);
        }
        self.cluster_reap();
    }

    fn reap(&mut self, pid: Pid) {
        match sys::try_reap(pid) {
            Ok(Some(status)) => self.on_exit(pid, status),
            Ok(None) => {}
            Err(e) => {
                // ECHILD: someone else (a PHP SIGCHLD handler?) reaped it; it is gone anyway.
                log::warn(format_args!("cannot reap worker {pid}: {e}"));
                self.on_exit(pid, ExitStatus::Code(-1));
            }
        }
    }

    fn on_exit(&mut self, pid: Pid, status: ExitStatus) {
        self.drop_channel(pid);
        self.processes.closing.remove(&pid);
        if let Some((reason, _)) = self.processes.killed.remove(&pid) {
            log::debug(format_args!(
                "worker {pid} reaped: it {status} after it {reason}"
            ));
            return;
        }
        self.leave_pool(pid, Left::Died(status));
    }

    /// A worker leaves the pool, dead or killed. The tick it held fails, and its death
    /// counts for the respawn back-off.
    fn leave_pool(&mut self, pid: Pid, how: Left) {
        if let Some(reset) = &mut self.reset {
            reset.gone(pid);
        }
        let Some(Removed { worker, next }) = self.pool.remove(pid, sys::monotonic_now()) else {
            return;
        };
        if let Some(next) = next {
            self.deliver(next);
        }
        let what = match (worker.state, how) {
            (WorkerState::Stopping, Left::Died(status)) => {
                log::info(format_args!("worker {pid} stopped ({status})"));
                return;
            }
            // The kill was logged with its reason; a worker told to stop fails nothing.
            (WorkerState::Stopping, Left::Killed) => return,
            (WorkerState::Busy { tick, .. }, how) => {
                let what = format!("{how} while handling tick {}", tick.number);
                log::error(format_args!(
                    "worker {pid} {what}; tick {} failed",
                    tick.number
                ));
                what
            }
            (WorkerState::Idle, Left::Died(status)) => {
                let what = format!("{status} while idle");
                log::warn(format_args!("worker {pid} {what}"));
                what
            }
            (WorkerState::Idle, Left::Killed) => format!("{} while idle", Left::Killed),
        };
        if !matches!(self.phase, Phase::Running) {
            return;
        }
        match self
            .processes
            .respawn
            .died(worker.handled, &format!("worker {pid} {what}"))
        {
            Verdict::Respawn { after } => {
                self.processes.respawn_at =
                    self.processes.respawn_at.max(sys::monotonic_now() + after);
                if !after.is_zero() {
                    log::warn(format_args!(
                        "workers keep dying early; next replacement in {after:?}"
                    ));
                }
            }
            Verdict::GiveUp { reason } => self.fail(reason),
        }
    }

    /// Kills a worker: SIGKILL, and out of the pool at once (see the module comment). It
    /// is reaped when SIGCHLD says it is gone; nothing waits for that.
    pub(super) fn kill(&mut self, pid: Pid, reason: &str) {
        if self.pool.worker(pid).is_none() {
            return;
        }
        log::error(format_args!("worker {pid} {reason}; killing it"));
        let _ = sys::kill(pid, Signal::SIGKILL);
        self.drop_channel(pid);
        self.processes.closing.remove(&pid);
        self.processes
            .killed
            .insert(pid, (reason.to_owned(), sys::monotonic_now()));
        self.leave_pool(pid, Left::Killed);
        // Usually still there: the kernel takes a moment, and SIGCHLD will tell.
        self.reap(pid);
    }

    pub(super) fn kill_all(&mut self, why: &str) {
        let pids: Vec<Pid> = self.pool.workers().map(|w| w.pid).collect();
        for pid in pids {
            self.kill(pid, why);
        }
    }
}

/// How a worker left the pool.
#[derive(Debug, Clone, Copy)]
enum Left {
    /// It ended by itself (or by someone else's signal), and was reaped.
    Died(ExitStatus),
    /// The master killed it; it is reaped later.
    Killed,
}

impl std::fmt::Display for Left {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Left::Died(status) => status.fmt(f),
            Left::Killed => f.write_str("was killed"),
        }
    }
}

/// Whether a channel error only says that the worker closed its end or died: a socket
/// whose peer went away with unread data gives ECONNRESET rather than end of stream.
fn peer_gone(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ECONNRESET | libc::EPIPE))
}
