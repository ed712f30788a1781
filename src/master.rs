//! The master's event loop: timer, signals, forks and reaping, on the PHP thread.
//!
//! Owns the processes and descriptors of a running pool. It waits in one `ppoll` on a
//! timerfd (tick due instants), a signalfd (SIGCHLD, SIGTERM, SIGINT) and one channel per
//! worker, feeds what happens to [`Pool`] and [`RespawnPolicy`], and carries out their
//! decisions. No thread is ever started, so `fork()` cannot inherit a lock held elsewhere
//! (spec: fork safety); this is also why there is no async runtime here.
//!
//! A new worker is a fork of this very call: in the child, [`run`] returns
//! [`Exit::Worker`] and the PHP `waitPayload()` that started the pool returns the child's
//! first tick, so each worker starts with the application exactly as the master booted it.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

use crate::config::TickerConfig;
use crate::frame::{Frame, MAX_PAYLOAD};
use crate::log;
use crate::message::{FromWorker, ToWorker};
use crate::payload;
use crate::pool::{Arrival, Delivery, Outcome, Pid, Pool, Tick, WorkerState};
use crate::schedule::{Mono, Schedule, Ticker, WallClock};
use crate::supervisor::{RespawnPolicy, Verdict};
use crate::sys::{self, ExitStatus, Forked, SignalFd, TimerFd};
use crate::transport::{Channel, Filled};
use crate::worker::WorkerLink;

/// How long a worker that closed its channel may take to exit before it is killed.
const CLOSED_GRACE: Duration = Duration::from_secs(1);

/// How [`run`] ended, in this process.
pub enum Exit {
    /// This process is a new worker: serve ticks over this link.
    Worker(WorkerLink),
    /// The master stopped on request; every worker is gone.
    Stopped,
    /// The master could not go on; every worker is gone. The text says why.
    Failed(String),
}

/// Runs the pool until it is stopped. Returns in the master at the end, and in each child
/// right after its fork.
pub fn run(config: &TickerConfig) -> Exit {
    let signals = match SignalFd::new(&[libc::SIGCHLD, libc::SIGTERM, libc::SIGINT]) {
        Ok(s) => s,
        Err(e) => return Exit::Failed(format!("cannot watch signals: {e}")),
    };
    let exit = match Master::new(config) {
        Ok(mut master) => {
            let exit = master.run(&signals);
            // In a child this closes the master's ends of every channel it inherited.
            drop(master);
            exit
        }
        Err(e) => Exit::Failed(format!("cannot start the timer: {e}")),
    };
    signals.restore();
    exit
}

enum Phase {
    Running,
    Stopping { deadline: Mono },
}

struct Master<'a> {
    config: &'a TickerConfig,
    me: Pid,
    timer: TimerFd,
    ticker: Ticker,
    clock: WallClock,
    pool: Pool,
    policy: RespawnPolicy,
    channels: BTreeMap<Pid, Channel>,
    /// Workers whose channel closed, with the instant they get killed if still alive.
    closing: BTreeMap<Pid, Mono>,
    /// Why the master killed a worker, for the report when it is reaped.
    killed: BTreeMap<Pid, String>,
    respawn_at: Mono,
    phase: Phase,
    failure: Option<String>,
}

impl<'a> Master<'a> {
    fn new(config: &'a TickerConfig) -> io::Result<Master<'a>> {
        let now = sys::monotonic_now();
        Ok(Master {
            config,
            me: sys::getpid(),
            timer: TimerFd::new()?,
            ticker: Ticker::new(Schedule::new(now, config.interval)),
            clock: WallClock::new(now, sys::unix_now()),
            pool: Pool::new(config.pool.max_jobs),
            policy: RespawnPolicy::new(config.pool.num_workers),
            channels: BTreeMap::new(),
            closing: BTreeMap::new(),
            killed: BTreeMap::new(),
            respawn_at: now,
            phase: Phase::Running,
            failure: None,
        })
    }

    fn run(&mut self, signals: &SignalFd) -> Exit {
        // The wake-up of a 100 µs tick must not be batched with 50 µs of default slack.
        let _ = sys::set_timer_slack(Some(Duration::from_nanos(1)));
        if let Some(link) = self.top_up() {
            return Exit::Worker(link);
        }
        // Like RoadRunner's ticker, the first tick comes one interval after the start.
        let start = sys::monotonic_now() + self.config.interval;
        self.ticker = Ticker::new(Schedule::new(start, self.config.interval));
        self.clock = WallClock::new(sys::monotonic_now(), sys::unix_now());
        if let Err(e) = self.timer.arm_at(self.ticker.next_due()) {
            self.fail(format!("cannot arm the timer: {e}"));
        }
        log::info(format_args!(
            "master {} ticking every {:?} with {} workers",
            self.me,
            self.config.interval,
            self.pool.len()
        ));
        loop {
            if let Phase::Stopping { .. } = self.phase
                && self.pool.is_empty()
            {
                let _ = sys::set_timer_slack(None);
                return match self.failure.take() {
                    Some(reason) => Exit::Failed(reason),
                    None => Exit::Stopped,
                };
            }
            if let Err(e) = self.wait_and_handle(signals) {
                self.fail(format!("event loop failed: {e}"));
                self.kill_all("the master is failing");
                continue;
            }
            if let Some(link) = self.top_up() {
                return Exit::Worker(link);
            }
            self.enforce_deadlines();
        }
    }

    fn wait_and_handle(&mut self, signals: &SignalFd) -> io::Result<()> {
        let pids: Vec<Pid> = self.channels.keys().copied().collect();
        let mut fds = Vec::with_capacity(2 + pids.len());
        fds.push(sys::pollfd(signals.as_fd()));
        fds.push(sys::pollfd(self.timer.as_fd()));
        for pid in &pids {
            fds.push(sys::pollfd(self.channels[pid].as_fd()));
        }
        let timeout = self
            .next_deadline()
            .map(|at| at.since(sys::monotonic_now()));
        sys::poll(&mut fds, timeout)?;

        if fds[1].revents != 0 && self.timer.acknowledge() {
            self.on_timer();
        }
        for (i, pid) in pids.iter().enumerate() {
            if fds[2 + i].revents != 0 {
                self.on_readable(*pid);
            }
        }
        if fds[0].revents != 0 {
            for signal in signals.drain() {
                self.on_signal(signal);
            }
        }
        Ok(())
    }

    fn next_deadline(&self) -> Option<Mono> {
        let mut deadlines: Vec<Mono> = self.closing.values().copied().collect();
        if let Phase::Stopping { deadline } = self.phase {
            deadlines.push(deadline);
        } else if self.pool.serving() < self.config.pool.num_workers {
            deadlines.push(self.respawn_at);
        }
        deadlines.into_iter().min()
    }

    fn on_timer(&mut self) {
        if !matches!(self.phase, Phase::Running) {
            return;
        }
        let now = sys::monotonic_now();
        for number in self.ticker.poll(now) {
            let tick = Tick::new(number, self.ticker.schedule().due(number));
            match self.pool.arrive(tick, now) {
                Arrival::Deliver(d) => self.deliver(d),
                Arrival::Waiting => {
                    log::debug(format_args!("tick {number} waits: no worker is free"))
                }
                Arrival::Skipped => log::warn(format_args!(
                    "tick {number} skipped: no worker is free and a tick is already waiting \
                     ({} skipped so far)",
                    self.pool.stats().skipped
                )),
            }
        }
        if let Err(e) = self.timer.arm_at(self.ticker.next_due()) {
            self.fail(format!("cannot arm the timer: {e}"));
        }
    }

    fn deliver(&mut self, delivery: Delivery) {
        let frame = payload::job(&delivery, &self.clock).into_frame();
        self.send(delivery.pid, &frame);
    }

    fn send(&mut self, pid: Pid, frame: &Frame) {
        let Some(channel) = self.channels.get(&pid) else {
            return;
        };
        if let Err(e) = channel.send(frame) {
            self.kill(pid, format!("could not be written to: {e}"));
        }
    }

    fn on_readable(&mut self, pid: Pid) {
        let Some(channel) = self.channels.get_mut(&pid) else {
            return;
        };
        match channel.fill() {
            Ok(Filled::Data) => {}
            Ok(Filled::Closed) => return self.on_closed(pid),
            Err(e) => return self.kill(pid, format!("channel read failed: {e}")),
        }
        loop {
            let Some(channel) = self.channels.get_mut(&pid) else {
                return;
            };
            match channel.next_frame() {
                Ok(Some(frame)) => self.on_frame(pid, frame),
                Ok(None) => return,
                Err(e) => return self.kill(pid, format!("sent a malformed frame: {e}")),
            }
        }
    }

    fn on_frame(&mut self, pid: Pid, frame: Frame) {
        let outcome = match FromWorker::from_frame(frame) {
            Ok(FromWorker::Answer { .. }) => Outcome::Done,
            Ok(FromWorker::Error(message)) => Outcome::Failed(message),
            Ok(FromWorker::StopRequest) => Outcome::StopRequested,
            Ok(FromWorker::Pid(_)) => {
                return self.kill(pid, "sent a pid handshake it was not asked for".into());
            }
            Err(e) => return self.kill(pid, format!("broke the protocol: {e}")),
        };
        let now = sys::monotonic_now();
        let finished = match self.pool.finish(pid, outcome.clone(), now) {
            Ok(f) => f,
            Err(e) => return self.kill(pid, format!("broke the protocol: {e}")),
        };
        self.policy.tick_completed();
        let number = finished.tick.number;
        match &outcome {
            Outcome::Done => log::debug(format_args!(
                "tick {number} done by worker {pid} in {:?}",
                finished.took
            )),
            Outcome::Failed(message) => log::warn(format_args!(
                "tick {number} failed on worker {pid}: {message}"
            )),
            Outcome::StopRequested if finished.failed => log::warn(format_args!(
                "tick {number} failed: worker {pid} asked to stop on its second run"
            )),
            Outcome::StopRequested => log::info(format_args!(
                "worker {pid} asked to stop; tick {number} runs again on another worker"
            )),
        }
        if finished.retire || matches!(self.phase, Phase::Stopping { .. }) {
            self.pool.retire(pid);
            self.send(pid, &ToWorker::Stop.into_frame());
        }
        if let Some(next) = finished.next {
            self.deliver(next);
        }
    }

    fn on_closed(&mut self, pid: Pid) {
        self.channels.remove(&pid);
        self.closing
            .insert(pid, sys::monotonic_now() + CLOSED_GRACE);
        // It usually has exited already; reap now rather than wait for SIGCHLD.
        self.reap(pid);
    }

    fn on_signal(&mut self, signal: libc::c_int) {
        match signal {
            libc::SIGCHLD => {
                let pids: Vec<Pid> = self.pool.workers().map(|w| w.pid).collect();
                for pid in pids {
                    self.reap(pid);
                }
            }
            libc::SIGTERM | libc::SIGINT => match self.phase {
                Phase::Running => {
                    self.begin_stop(&format!("received {}", sys::signal_name(signal)));
                }
                Phase::Stopping { .. } => {
                    log::warn(format_args!(
                        "received {} again: killing the workers now",
                        sys::signal_name(signal)
                    ));
                    self.phase = Phase::Stopping {
                        deadline: sys::monotonic_now(),
                    };
                }
            },
            _ => {}
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
        self.channels.remove(&pid);
        self.closing.remove(&pid);
        let why = self
            .killed
            .remove(&pid)
            .map(|reason| format!(" after it {reason}"))
            .unwrap_or_default();
        let Some(worker) = self.pool.remove(pid) else {
            return;
        };
        let what = match worker.state {
            WorkerState::Stopping => {
                log::info(format_args!("worker {pid} stopped ({status}{why})"));
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
            .policy
            .died(worker.handled, &format!("worker {pid} {what}"))
        {
            Verdict::Respawn { after } => {
                self.respawn_at = self.respawn_at.max(sys::monotonic_now() + after);
                if !after.is_zero() {
                    log::warn(format_args!(
                        "workers keep dying early; next replacement in {after:?}"
                    ));
                }
            }
            Verdict::GiveUp { reason } => self.fail(reason),
        }
    }

    /// Forks workers until the pool has its size again. Returns the link in a new child.
    fn top_up(&mut self) -> Option<WorkerLink> {
        if !matches!(self.phase, Phase::Running) || sys::monotonic_now() < self.respawn_at {
            return None;
        }
        while self.pool.serving() < self.config.pool.num_workers {
            match self.spawn() {
                Ok(Some(link)) => return Some(link),
                Ok(None) => {}
                Err(e) => {
                    log::error(format_args!("cannot start a worker: {e}"));
                    self.respawn_at = sys::monotonic_now() + Duration::from_millis(100);
                    return None;
                }
            }
        }
        None
    }

    fn spawn(&mut self) -> io::Result<Option<WorkerLink>> {
        let (ours, theirs) = sys::socket_pair()?;
        match sys::fork()? {
            Forked::Child => {
                drop(ours);
                become_worker(self.me);
                Ok(Some(WorkerLink::new(Channel::socket(theirs, MAX_PAYLOAD))))
            }
            Forked::Parent(pid) => {
                drop(theirs);
                self.channels
                    .insert(pid, Channel::socket(ours, MAX_PAYLOAD));
                log::info(format_args!("worker {pid} started"));
                if let Some(delivery) = self.pool.add(pid, sys::monotonic_now()) {
                    self.deliver(delivery);
                }
                Ok(None)
            }
        }
    }

    fn begin_stop(&mut self, why: &str) {
        if let Phase::Stopping { .. } = self.phase {
            return;
        }
        let _ = self.timer.disarm();
        self.phase = Phase::Stopping {
            deadline: sys::monotonic_now() + self.config.pool.destroy_timeout,
        };
        let (idle, dropped) = self.pool.begin_stop();
        for tick in dropped {
            log::warn(format_args!(
                "tick {} was waiting for a free worker and is dropped at stop",
                tick.number
            ));
        }
        let busy = self.pool.len() - idle.len();
        log::info(format_args!(
            "stopping ({why}): {} idle workers told to stop, waiting up to {:?} for {busy} busy",
            idle.len(),
            self.config.pool.destroy_timeout
        ));
        for pid in idle {
            self.send(pid, &ToWorker::Stop.into_frame());
        }
    }

    /// Stops the pool with a reason that the PHP side will raise.
    fn fail(&mut self, reason: String) {
        log::error(format_args!("{reason}"));
        if self.failure.is_none() {
            self.failure = Some(reason);
        }
        self.begin_stop("the master cannot go on");
    }

    fn kill(&mut self, pid: Pid, reason: String) {
        log::error(format_args!("worker {pid} {reason}; killing it"));
        self.channels.remove(&pid);
        self.closing
            .insert(pid, sys::monotonic_now() + CLOSED_GRACE);
        self.killed.insert(pid, reason);
        let _ = sys::kill(pid, libc::SIGKILL);
    }

    fn kill_all(&mut self, why: &str) {
        let pids: Vec<Pid> = self.pool.workers().map(|w| w.pid).collect();
        for pid in pids {
            let _ = sys::kill(pid, libc::SIGKILL);
            self.killed.insert(pid, why.to_owned());
            let status = sys::reap(pid).unwrap_or(ExitStatus::Signal(libc::SIGKILL));
            self.on_exit(pid, status);
        }
    }

    fn enforce_deadlines(&mut self) {
        let now = sys::monotonic_now();
        let overdue: Vec<Pid> = self
            .closing
            .iter()
            .filter(|&(_, &at)| at <= now)
            .map(|(&pid, _)| pid)
            .collect();
        for pid in overdue {
            self.closing.remove(&pid);
            self.killed
                .entry(pid)
                .or_insert_with(|| "closed its channel but did not exit".into());
            let _ = sys::kill(pid, libc::SIGKILL);
            // SIGKILL cannot be refused, so this wait is short.
            let status = sys::reap(pid).unwrap_or(ExitStatus::Signal(libc::SIGKILL));
            self.on_exit(pid, status);
        }
        if let Phase::Stopping { deadline } = self.phase
            && deadline <= now
            && !self.pool.is_empty()
        {
            log::warn(format_args!(
                "destroy_timeout of {:?} passed: killing {} workers",
                self.config.pool.destroy_timeout,
                self.pool.len()
            ));
            self.kill_all("did not stop within destroy_timeout");
        }
    }
}

/// First steps of a new child, before it returns to PHP as a worker.
fn become_worker(master: Pid) {
    // A worker must never outlive its master: if the master is SIGKILLed, there is no one
    // to stop the worker gracefully, and a busy worker would otherwise run on unsupervised.
    if let Err(e) = sys::die_with_parent(master, libc::SIGKILL) {
        log::warn(format_args!("worker cannot follow its master's death: {e}"));
    }
    // Ctrl-C in a terminal then reaches the master only, which stops workers gracefully.
    let _ = sys::own_process_group();
    let _ = sys::set_timer_slack(None);
}
