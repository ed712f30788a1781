//! Worker processes: starting them, their channels, reaping, killing, respawn back-off.
//!
//! Owns the master's end of every worker's channel (registered with the poller), the pid
//! handshake of command-started workers (sent at start; the worker is
//! [`Starting`](crate::pool::WorkerState::Starting) and takes no tick until it answers
//! `{"pid":N}`, N > 0, within `server.relay_timeout`; a wrong answer, a broken frame or
//! silence gets it killed and counted as an early death, so the crash-loop back-off
//! applies), their stderr pipes ([`WorkerStderr`], read until end of file), and when the
//! next replacement may start ([`RespawnPolicy`]). What a worker owes and when it is killed
//! if still there (its handshake, its time to exit once told to stop or once its channel
//! closed), and once killed why and until when a stopping master waits for its reap, is in
//! its record in the pool ([`crate::workers`]); this file sets those and acts on them. What
//! a worker's frames mean once it is ready is `ticking.rs`'s business; which worker gets a
//! tick is the [`Pool`](crate::pool::Pool)'s; how a worker process is made is `launch.rs`'.
//!
//! Nothing here waits for a process. A kill is a SIGKILL and the worker's removal from the
//! pool, at once ([`Pool::kill`](crate::pool::Pool::kill)): its tick fails then, its
//! replacement may start, and it takes no tick whatever the kernel takes to tear it down (a
//! process in uninterruptible sleep dies only when it wakes). Its record, killed, stays
//! until SIGCHLD says it is gone and it is reaped. A worker whose channel is gone is
//! withdrawn from the pool in the same step, so it is never handed a tick either.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::launch::{Launched, Launcher, Started};
use super::stderr::{Readout, WorkerStderr};
use super::{Master, Phase, Source};
use crate::config::TickerConfig;
use crate::frame::Frame;
use crate::message::{FromWorker, ToWorker};
use crate::pool::{Killed, Leaving, Pid, Removed, Why, WorkerState};
use crate::schedule::Mono;
use crate::supervisor::{DescriptorNeed, FdPlan, FdShortage, RespawnPolicy, Verdict};
use crate::sys::{self, ExitStatus};
use crate::transport::{Channel, Filled, Sent};
use crate::worker::WorkerLink;

/// How long a worker that closed its channel may take to exit before it is killed, unless
/// it was told to stop: that one has `destroy_timeout` from then (see [`Master::on_closed`]).
const CLOSED_GRACE: Duration = Duration::from_secs(1);

/// How long a stopping master waits for workers it killed to be gone before it returns
/// anyway, leaving them to init: SIGKILL takes effect when a process in uninterruptible
/// sleep wakes, which may be never (a hung NFS or FUSE mount).
const KILLED_GRACE: Duration = Duration::from_secs(5);

pub(super) struct Processes {
    launcher: Box<dyn Launcher>,
    channels: BTreeMap<Pid, Channel>,
    /// Stderr pipes of command-started workers, by the id of their [`Source::WorkerErr`].
    stderr: BTreeMap<u64, WorkerStderr>,
    next_stderr: u64,
    respawn: RespawnPolicy,
    respawn_at: Mono,
    /// Workers the pool keeps: `num_workers`, changed by SIGTTIN and SIGTTOU.
    target: usize,
    /// What the pool needs of the open file limit: checked at start, and when it grows.
    descriptors: DescriptorNeed,
    /// Workers that could not be started since the master started.
    starts_failed: u64,
    /// Why the last start failed, until the pool has all its workers again.
    start_error: Option<String>,
    /// When a failed start was last logged: a pool that stays short logs it now and then,
    /// not at every try.
    start_error_logged: Option<Mono>,
}

/// How often a pool that keeps failing to start workers says so again in the log.
const START_ERROR_LOG_EVERY: Duration = Duration::from_secs(60);

impl Processes {
    pub(super) fn new(
        config: &TickerConfig,
        now: Mono,
        launcher: Box<dyn Launcher>,
        descriptors: DescriptorNeed,
    ) -> Processes {
        Processes {
            launcher,
            channels: BTreeMap::new(),
            stderr: BTreeMap::new(),
            next_stderr: 0,
            respawn: RespawnPolicy::new(config.pool.num_workers),
            respawn_at: now,
            target: config.pool.num_workers,
            descriptors,
            starts_failed: 0,
            start_error: None,
            start_error_logged: None,
        }
    }

    /// Workers the pool keeps.
    pub(super) fn target(&self) -> usize {
        self.target
    }

    /// The pool is resized: replacements are started up to `target` from now on.
    pub(super) fn set_target(&mut self, target: usize) {
        self.target = target;
    }

    /// What the pool needs of the open file limit.
    pub(super) fn descriptors(&self) -> &DescriptorNeed {
        &self.descriptors
    }

    /// Workers that could not be started, and why the last one could not while the pool
    /// lacks workers.
    pub(super) fn start_failures(&self) -> (u64, Option<&str>) {
        (self.starts_failed, self.start_error.as_deref())
    }

    /// Whether the last try to start a worker failed.
    pub(super) fn failing_to_start(&self) -> bool {
        self.respawn.failed_starts() > 0
    }

    /// Bytes waiting in a worker's outbox.
    #[cfg(test)]
    pub(super) fn queued(&self, pid: Pid) -> usize {
        self.channels.get(&pid).map_or(0, Channel::queued)
    }

    /// How workers start, for the master's first log line.
    pub(super) fn describe(&self) -> String {
        self.launcher.describe()
    }

    /// A tick was handled to the end: the application works, a crash streak is over.
    pub(super) fn tick_completed(&mut self) {
        self.respawn.tick_completed();
    }

    pub(super) fn respawn_at(&self) -> Mono {
        self.respawn_at
    }
}

/// Why the open file limit cannot hold a pool.
#[derive(Debug, thiserror::Error)]
pub(super) enum FdLimitError {
    #[error(transparent)]
    Short(#[from] FdShortage),
    #[error(
        "{workers} workers need {to} open file descriptors and the limit is {soft}; raising \
         it to {to} failed: {error}"
    )]
    RaiseFailed {
        workers: usize,
        to: u64,
        soft: u64,
        error: io::Error,
    },
}

/// Makes the open file limit hold a pool of `workers`: raises the soft limit when the hard
/// one allows it, and otherwise says, in one line, what the pool needs and how to get it.
pub(super) fn fit_fd_limit(need: &DescriptorNeed, workers: usize) -> Result<(), FdLimitError> {
    // Unknown limits leave the pool to find out: each failed start is logged and counted.
    let Ok((soft, hard)) = sys::fd_limits() else {
        return Ok(());
    };
    match need.plan(workers, soft, hard) {
        FdPlan::Fits => Ok(()),
        FdPlan::Raise { to } => match sys::set_fd_soft_limit(to) {
            Ok(()) => {
                log::info!(
                    "raised the open file limit from {soft} to {to} (hard limit {hard}) for \
                    {workers} workers"
                );
                Ok(())
            }
            Err(error) => Err(FdLimitError::RaiseFailed {
                workers,
                to,
                soft,
                error,
            }),
        },
        FdPlan::Refuse(shortage) => Err(shortage.into()),
    }
}

/// Failures that say the system, not the application, is short: descriptors (this process's
/// or the system's), processes or memory.
fn is_out_of_resources(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::EAGAIN | libc::ENOMEM)
    )
}

impl Master<'_> {
    /// Whether a stopping master may return: every worker it killed is reaped, or has had
    /// [`KILLED_GRACE`] to die.
    pub(super) fn killed_are_gone(&self, now: Mono) -> bool {
        self.killed_deadline().is_none_or(|at| at <= now)
    }

    /// When [`Master::killed_are_gone`] turns true at the latest.
    pub(super) fn killed_deadline(&self) -> Option<Mono> {
        self.pool.killed_until()
    }

    /// Workers killed and not reaped, which a stopping master leaves to init.
    pub(super) fn unreaped(&self) -> Vec<Pid> {
        let mut pids: Vec<Pid> = self.pool.unreaped().map(|(pid, _)| pid).collect();
        pids.sort_unstable();
        pids
    }

    /// Tells a worker to stop (the stop control frame), and gives it `destroy_timeout` to
    /// exit, as a stopping pool gives its busy workers: a worker retired while the pool runs
    /// (max_jobs, ttl, a reset, a smaller pool) whose code after its loop never returns
    /// is killed then rather than left behind.
    pub(super) fn tell_to_stop(&mut self, pid: Pid) {
        self.send(pid, &ToWorker::Stop.into_frame());
        let kill_at = sys::monotonic_now() + self.config.pool.destroy_timeout;
        self.pool.leaving(
            pid,
            Leaving {
                kill_at,
                why: Why::ToldToStop,
            },
        );
    }

    /// Starts workers until the pool has its size again. Returns the link in a new child.
    pub(super) fn top_up(&mut self) -> Option<WorkerLink> {
        if !matches!(self.phase, Phase::Running) || sys::monotonic_now() < self.processes.respawn_at
        {
            return None;
        }
        while self.pool.serving() < self.processes.target {
            match self.spawn() {
                Ok(Some(link)) => return Some(link),
                Ok(None) => self.processes.respawn.started(),
                Err(e) => {
                    self.start_failed(&e);
                    return None;
                }
            }
        }
        if self.processes.start_error.take().is_some() {
            log::info!("the pool has its {} workers again", self.processes.target);
            self.processes.start_error_logged = None;
        }
        None
    }

    /// A worker could not be started: an early death as any other (a command that cannot
    /// run, a typo or a missing binary, backs off and ends in the crash-loop verdict), with
    /// a back-off of its own, so that a pool short of descriptors or processes ticks with
    /// the workers it has, tries again now and then, and says what it lacks.
    fn start_failed(&mut self, e: &io::Error) {
        let now = sys::monotonic_now();
        let processes = &mut self.processes;
        processes.starts_failed += 1;
        processes.start_error = Some(format!("cannot start a worker: {e}"));
        let lacking = processes.target.saturating_sub(self.pool.serving());
        if processes
            .start_error_logged
            .is_none_or(|at| at + START_ERROR_LOG_EVERY <= now)
        {
            processes.start_error_logged = Some(now);
            let hint = if is_out_of_resources(e) {
                " (the open file limit, `ulimit -n`, or the process limit, `ulimit -u`)"
            } else {
                ""
            };
            log::error!(
                "cannot start a worker: {e}{hint}; the pool lacks {lacking} of its {} workers \
                ({} starts failed so far; trying again with a back-off, said again at most \
                every {})",
                processes.target,
                processes.starts_failed,
                crate::config::format_duration(START_ERROR_LOG_EVERY)
            );
        }
        match processes
            .respawn
            .start_failed(&format!("could not be started: {e}"))
        {
            Verdict::Respawn { after } => processes.respawn_at = now + after,
            Verdict::GiveUp { reason } => self.fail(reason),
        }
    }

    fn spawn(&mut self) -> io::Result<Option<WorkerLink>> {
        let Started {
            pid,
            channel,
            stderr,
            handshake,
        } = match self.processes.launcher.launch(self.me)? {
            Launched::ThisProcess(link) => return Ok(Some(link)),
            Launched::Worker(started) => started,
        };
        let now = sys::monotonic_now();
        if let Some(fd) = stderr {
            // Watched from the start, and whatever becomes of the channel: the worker's last
            // words (a fatal error) come as it dies.
            let id = self.processes.next_stderr;
            self.processes.next_stderr += 1;
            let stderr = WorkerStderr::new(pid, fd);
            match self
                .poller
                .add(stderr.as_fd(), Source::WorkerErr(id).token(), false)
            {
                Ok(()) => {
                    self.processes.stderr.insert(id, stderr);
                }
                Err(e) => log::warn!(
                    "the stderr of worker {pid} cannot be watched ({e}); it is not logged"
                ),
            }
        }
        if let Err(e) = self
            .poller
            .add(channel.as_fd(), Source::Worker(pid).token(), false)
        {
            // Unwatched, it could never answer: it is not a worker of this pool.
            let _ = sys::kill(pid, Signal::SIGKILL);
            self.pool
                .add_killed(pid, now, killed("could not be watched", now));
            return Err(e);
        }
        self.processes.channels.insert(pid, channel);
        let Some(timeout) = handshake else {
            log::info!("worker {pid} started");
            let delivery = self.pool.add(pid, now);
            self.read_rss(pid, now);
            if let Some(delivery) = delivery {
                self.deliver(delivery);
            }
            return Ok(None);
        };
        log::info!(
            "worker {pid} started; waiting up to {} (relay_timeout) for its pid handshake",
            crate::config::format_duration(timeout)
        );
        self.pool.add_starting(pid, now, Some(timeout));
        self.read_rss(pid, now);
        // Sent at once, as RoadRunner does: it waits in the pipe while the worker boots.
        let me = u32::try_from(self.me).unwrap_or_default();
        self.send(pid, &ToWorker::TickerPid(me).into_frame());
        Ok(None)
    }

    /// A frame from a worker that owes its pid handshake: the answer, or a refusal.
    fn on_handshake(&mut self, pid: Pid, frame: Frame) {
        let Some(handshake) = self.pool.answer_handshake(pid) else {
            return;
        };
        let answered = match FromWorker::from_frame(frame) {
            Ok(FromWorker::Pid(answered)) => answered,
            Ok(other) => {
                let what = match other {
                    FromWorker::Error(message) => format!("an error ({message:?})"),
                    FromWorker::StopRequest => "a stop request".into(),
                    _ => "an answer".into(),
                };
                return self.kill(
                    pid,
                    &format!("sent {what} instead of answering its pid handshake"),
                );
            }
            Err(e) => {
                return self.kill(pid, &format!("answered its pid handshake wrongly: {e}"));
            }
        };
        // RoadRunner checks only that the pid is positive (the decoder did): a command
        // that runs the worker under a wrapper (`sh -c`, `nice`, a launcher script) answers
        // with the wrapper's child, and RoadRunner accepts it, so this master does too.
        if i64::from(answered) != i64::from(pid) {
            log::warn!(
                "worker {pid} answered its pid handshake with pid {answered}: the command \
                 starts the worker through another process; signals, max_worker_memory and \
                 status apply to {pid}"
            );
        }
        let now = sys::monotonic_now();
        log::debug!(
            "worker {pid} is ready: it answered its pid handshake in {:?}",
            now.since(handshake.sent)
        );
        if let Some(delivery) = self.pool.ready(pid, now) {
            self.deliver(delivery);
        }
    }

    /// A command-started worker's stderr is readable: its lines go to the log.
    pub(super) fn on_stderr(&mut self, id: u64) {
        let Some(stderr) = self.processes.stderr.get_mut(&id) else {
            return;
        };
        if stderr.read() == Readout::Closed {
            self.poller.delete(stderr.as_fd());
            self.processes.stderr.remove(&id);
        }
    }

    /// The master is done: what workers' stderr pipes still hold is logged, and they close
    /// (one held open by a process a worker left behind is not waited for).
    pub(super) fn flush_stderr(&mut self) {
        for (_, mut stderr) in std::mem::take(&mut self.processes.stderr) {
            if stderr.read() == Readout::Open {
                stderr.finish();
            }
            self.poller.delete(stderr.as_fd());
        }
    }

    /// Sends a frame to a worker without blocking: what its channel does not take now is
    /// flushed when it becomes writable.
    pub(super) fn send(&mut self, pid: Pid, frame: &Frame) {
        let Some(channel) = self.processes.channels.get_mut(&pid) else {
            return;
        };
        // Watched for writing already while the outbox holds bytes: a pipe's write end is
        // registered once (a second registration would fail).
        let watched = channel.queued() > 0;
        match channel.queue(frame) {
            Ok(Sent::All) => {}
            Ok(Sent::Queued) if watched => {}
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
            let handshaking = self.pool.owes_handshake(pid);
            match channel.next_frame() {
                Ok(Some(frame)) if handshaking => self.on_handshake(pid, frame),
                Ok(Some(frame)) => self.on_frame(pid, frame),
                Ok(None) => return,
                Err(e) if handshaking => {
                    return self.kill(
                        pid,
                        &format!(
                            "sent a malformed frame instead of answering its pid handshake: \
                             {e} (does the script print to stdout before it creates its \
                             worker? stdout is the channel)"
                        ),
                    );
                }
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

    /// A worker's channel closed. One that was told to stop closes it when its loop ends,
    /// and then runs the rest of the application (code after the loop, shutdown functions,
    /// destructors), which may take a while, the more so when hundreds stop at once: the
    /// `destroy_timeout` it got when told ([`Master::tell_to_stop`]) bounds it, not the
    /// grace of a channel that closed. Any other worker that closes its channel is on its
    /// way out, and has [`CLOSED_GRACE`].
    fn on_closed(&mut self, pid: Pid) {
        let told_to_stop = self
            .pool
            .worker(pid)
            .is_some_and(|w| w.state == WorkerState::Stopping);
        self.drop_channel(pid);
        if !told_to_stop {
            let kill_at = sys::monotonic_now() + CLOSED_GRACE;
            self.pool.leaving(
                pid,
                Leaving {
                    kill_at,
                    why: Why::ChannelClosed,
                },
            );
        }
        // It usually has exited already; reap now rather than wait for SIGCHLD.
        self.reap(pid);
    }

    /// SIGCHLD: reaps every worker that has ended, in the pool or killed. Signals
    /// coalesce, so one may stand for many exits; the kernel names the ended children one
    /// by one, so reaping n of them costs n steps, not n times the pool. Only this pool's
    /// workers are reaped: a child the application started itself (proc_open) keeps its
    /// exit status for its owner. While such a child is ended and unreaped it is all the
    /// kernel names, and each worker is then asked in turn (and the cluster's killed lease
    /// helpers, the master's only other children).
    pub(super) fn reap_all(&mut self) {
        loop {
            match sys::ended_child() {
                Ok(None) => return,
                Ok(Some(pid)) if self.is_worker(pid) && self.reap(pid) => {}
                Ok(Some(_)) | Err(_) => return self.reap_each(),
            }
        }
    }

    /// Asks every worker, in the pool or killed, whether it has ended.
    fn reap_each(&mut self) {
        let pids: Vec<Pid> = self
            .pool
            .workers()
            .map(|w| w.pid)
            .chain(self.pool.unreaped().map(|(pid, _)| pid))
            .collect();
        for pid in pids {
            self.reap(pid);
        }
        self.cluster_reap();
    }

    fn is_worker(&self, pid: Pid) -> bool {
        self.pool.knows(pid)
    }

    /// Reaps `pid` if it has ended; whether it had.
    fn reap(&mut self, pid: Pid) -> bool {
        match sys::try_reap(pid) {
            Ok(Some(status)) => self.on_exit(pid, status),
            Ok(None) => return false,
            Err(e) => {
                // ECHILD: someone else (a PHP SIGCHLD handler?) reaped it; it is gone anyway.
                log::warn!("cannot reap worker {pid}: {e}");
                self.on_exit(pid, ExitStatus::Code(-1));
            }
        }
        true
    }

    fn on_exit(&mut self, pid: Pid, status: ExitStatus) {
        self.drop_channel(pid);
        if let Some(killed) = self.pool.reap_killed(pid) {
            log::debug!("worker {pid} reaped: it {status} after it {}", killed.why);
            return;
        }
        if let Some(removed) = self.pool.remove(pid, sys::monotonic_now()) {
            self.left_pool(pid, removed, Left::Died(status));
        }
    }

    /// A worker left the pool, dead or killed. The tick it held failed, and its death
    /// counts for the respawn back-off.
    fn left_pool(&mut self, pid: Pid, removed: Removed, how: Left) {
        let Removed { worker, next } = removed;
        if let Some(next) = next {
            self.deliver(next);
        }
        let what = match (worker.state, how) {
            (WorkerState::Stopping, Left::Died(status)) => {
                log::info!("worker {pid} stopped ({status})");
                return;
            }
            // The kill was logged with its reason; a worker told to stop fails nothing.
            (WorkerState::Stopping, Left::Killed) => return,
            (WorkerState::Busy { tick, .. }, how) => {
                let what = format!("{how} while handling tick {}", tick.number);
                log::error!("worker {pid} {what}; tick {} failed", tick.number);
                what
            }
            (WorkerState::Idle, Left::Died(status)) => {
                let what = format!("{status} while idle");
                log::warn!("worker {pid} {what}");
                what
            }
            (WorkerState::Idle, Left::Killed) => format!("{} while idle", Left::Killed),
            (WorkerState::Starting, Left::Died(status)) => {
                let what = format!("{status} while starting, before it answered its pid handshake");
                log::error!("worker {pid} {what}");
                what
            }
            // Refused at its handshake: the crash-loop verdict names why.
            (WorkerState::Starting, Left::Killed) => match self.pool.killed(pid) {
                Some(killed) => {
                    format!("{} before it was ready: it {}", Left::Killed, killed.why)
                }
                None => format!("{} before it was ready", Left::Killed),
            },
            // Out of the pool since its kill, which said all there was to say.
            (WorkerState::Killed(_), _) => return,
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
                    log::warn!("workers keep dying early; next replacement in {after:?}");
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
        log::error!("worker {pid} {reason}; killing it");
        let _ = sys::kill(pid, Signal::SIGKILL);
        self.drop_channel(pid);
        let now = sys::monotonic_now();
        if let Some(removed) = self.pool.kill(pid, killed(reason, now), now) {
            self.left_pool(pid, removed, Left::Killed);
        }
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

/// A worker killed at `now` for `why`: a stopping master waits [`KILLED_GRACE`] for its reap.
fn killed(why: &str, now: Mono) -> Killed {
    Killed {
        why: why.to_owned(),
        wait_until: now + KILLED_GRACE,
    }
}

/// Whether a channel error only says that the worker closed its end or died: a socket
/// whose peer went away with unread data gives ECONNRESET rather than end of stream.
fn peer_gone(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ECONNRESET | libc::EPIPE))
}
