//! Worker processes: starting them, their channels, reaping, killing, respawn back-off.
//!
//! Owns the master's end of every worker's channel (registered with the poller), the
//! workers whose channel closed and that must exit soon, why the master killed a worker,
//! and when the next replacement may start ([`RespawnPolicy`]). What a worker's frames mean
//! is `ticking.rs`'s business; which worker gets a tick is the [`Pool`](crate::pool::Pool)'s.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::launch::{Fork, Launched, Launcher};
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

pub(super) struct Processes {
    launcher: Box<dyn Launcher>,
    channels: BTreeMap<Pid, Channel>,
    /// Workers whose channel closed, with the instant they get killed if still alive.
    closing: BTreeMap<Pid, Mono>,
    /// Why the master killed a worker, for the report when it is reaped.
    killed: BTreeMap<Pid, String>,
    respawn: RespawnPolicy,
    respawn_at: Mono,
}

impl Processes {
    pub(super) fn new(config: &TickerConfig, now: Mono) -> Processes {
        Processes {
            launcher: Box::new(Fork),
            channels: BTreeMap::new(),
            closing: BTreeMap::new(),
            killed: BTreeMap::new(),
            respawn: RespawnPolicy::new(config.pool.num_workers),
            respawn_at: now,
        }
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
            let _ = sys::reap(pid);
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
            Err(e) => self.kill(pid, format!("could not be written to: {e}")),
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
            self.kill(pid, format!("cannot be watched for writing: {e}"));
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
            Err(e) => self.kill(pid, format!("could not be written to: {e}")),
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
            Err(e) => return self.kill(pid, format!("channel read failed: {e}")),
        }
        loop {
            let Some(channel) = self.processes.channels.get_mut(&pid) else {
                return;
            };
            match channel.next_frame() {
                Ok(Some(frame)) => self.on_frame(pid, frame),
                Ok(None) => return,
                Err(e) => return self.kill(pid, format!("sent a malformed frame: {e}")),
            }
        }
    }

    /// Forgets a worker's channel, deregistering it first: a child forked a moment ago may
    /// still hold a copy of the descriptor, which would keep it in the poller's set.
    fn drop_channel(&mut self, pid: Pid) {
        if let Some(channel) = self.processes.channels.remove(&pid) {
            self.poller.delete(channel.as_fd());
            if !channel.is_duplex() {
                self.poller.delete(channel.write_fd());
            }
        }
    }

    fn on_closed(&mut self, pid: Pid) {
        self.drop_channel(pid);
        self.pool.withdraw(pid);
        self.processes
            .closing
            .insert(pid, sys::monotonic_now() + CLOSED_GRACE);
        // It usually has exited already; reap now rather than wait for SIGCHLD.
        self.reap(pid);
    }

    /// SIGCHLD: reaps every worker that has ended (signals coalesce, so all are looked at).
    pub(super) fn reap_all(&mut self) {
        let pids: Vec<Pid> = self.pool.workers().map(|w| w.pid).collect();
        for pid in pids {
            self.reap(pid);
        }
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
        if let Some(reset) = &mut self.reset {
            reset.gone(pid);
        }
        let why = self
            .processes
            .killed
            .remove(&pid)
            .map(|reason| format!(" after it {reason}"))
            .unwrap_or_default();
        let Some(Removed { worker, next }) = self.pool.remove(pid, sys::monotonic_now()) else {
            return;
        };
        if let Some(next) = next {
            self.deliver(next);
        }
        let what = match worker.state {
            WorkerState::Stopping if why.is_empty() => {
                log::info(format_args!("worker {pid} stopped ({status})"));
                return;
            }
            WorkerState::Stopping => {
                log::warn(format_args!("worker {pid} {status}{why}"));
                return;
            }
            WorkerState::Busy { tick, .. } => {
                let what = format!("{status} while handling tick {}{why}", tick.number);
                log::error(format_args!(
                    "worker {pid} {what}; tick {} failed",
                    tick.number
                ));
                what
            }
            WorkerState::Idle => {
                let what = format!("{status} while idle{why}");
                log::warn(format_args!("worker {pid} {what}"));
                what
            }
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

    /// Kills a worker that misbehaved; it is reaped when SIGCHLD says it is gone.
    pub(super) fn kill(&mut self, pid: Pid, reason: String) {
        log::error(format_args!("worker {pid} {reason}; killing it"));
        self.drop_channel(pid);
        self.processes
            .closing
            .insert(pid, sys::monotonic_now() + CLOSED_GRACE);
        self.processes.killed.insert(pid, reason);
        let _ = sys::kill(pid, Signal::SIGKILL);
    }

    /// Kills and reaps at once: SIGKILL cannot be refused, so each wait is short.
    pub(super) fn kill_now(&mut self, pid: Pid, reason: &str) {
        let _ = sys::kill(pid, Signal::SIGKILL);
        self.processes
            .killed
            .entry(pid)
            .or_insert_with(|| reason.to_owned());
        let status = sys::reap(pid).unwrap_or(ExitStatus::Signal(Signal::SIGKILL));
        self.on_exit(pid, status);
    }

    pub(super) fn kill_all(&mut self, why: &str) {
        let pids: Vec<Pid> = self.pool.workers().map(|w| w.pid).collect();
        for pid in pids {
            self.kill_now(pid, why);
        }
    }
}

/// Whether a channel error only says that the worker closed its end or died: a socket
/// whose peer went away with unread data gives ECONNRESET rather than end of stream.
fn peer_gone(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ECONNRESET | libc::EPIPE))
}
