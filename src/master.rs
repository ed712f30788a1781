//! The master's event loop: timer, signals, forks, reaping and the operator's doors, on the
//! PHP thread.
//!
//! Owns the processes and descriptors of a running pool. It waits in one `ppoll` on a
//! timerfd (tick due instants), a signalfd, one channel per worker, the control socket and
//! the metrics endpoint; feeds what happens to [`Pool`], [`RespawnPolicy`] and [`Limits`];
//! and carries out their decisions. No thread is ever started, so `fork()` cannot inherit
//! a lock held elsewhere (spec: fork safety); this is also why there is no async runtime.
//!
//! A new worker is a fork of this very call: in the child, [`run`] returns
//! [`Exit::Worker`] and the PHP `waitPayload()` that started the pool returns the child's
//! first tick, so each worker starts with the application exactly as the master booted it.
//!
//! Signals: TERM and INT stop gracefully (a second one kills the workers at once), HUP
//! replaces every worker one by one, TTIN and TTOU grow and shrink the pool by one.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

use crate::config::{Missed, TickerConfig};
use crate::control::{self, Conn, Door, Incoming, Request};
use crate::frame::{Frame, MAX_PAYLOAD};
use crate::log;
use crate::message::{FromWorker, ToWorker};
use crate::metrics::{Lateness, Snapshot, TickCounts, WorkerRow};
use crate::payload;
use crate::pool::{Arrival, Delivery, Outcome, Pid, Policy, Pool, Removed, Tick, WorkerState};
use crate::schedule::{Mono, Schedule, Ticker, WallClock};
use crate::supervisor::{Action, Limits, RespawnPolicy, RollingReset, Verdict};
use crate::sys::{self, ExitStatus, Forked, SignalFd, TimerFd};
use crate::transport::{Channel, Filled};
use crate::worker::WorkerLink;

/// How long before its due instant a tick goes to a free worker, at most a quarter of the
/// interval; see [`Master::arm_timer`].
const HANDOFF_LEAD: Duration = Duration::from_micros(200);

/// How long a worker that closed its channel may take to exit before it is killed.
const CLOSED_GRACE: Duration = Duration::from_secs(1);

const SIGNALS: [libc::c_int; 6] = [
    libc::SIGCHLD,
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGTTIN,
    libc::SIGTTOU,
];

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
    let signals = match SignalFd::new(&SIGNALS) {
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

/// What `ppoll` watched, in the order of its descriptors.
#[derive(Clone, Copy)]
enum Watched {
    Signals,
    Timer,
    Door(usize),
    Conn(usize),
    Worker(Pid),
}

struct Master<'a> {
    config: &'a TickerConfig,
    me: Pid,
    started: Mono,
    timer: TimerFd,
    /// The timer is disarmed while the `delay` policy holds the grid.
    paused: bool,
    /// The instant the timer is armed for; `None` once it fired or was disarmed.
    armed: Option<Mono>,
    ticker: Ticker,
    clock: WallClock,
    pool: Pool,
    policy: RespawnPolicy,
    limits: Limits,
    /// Workers the pool keeps: `num_workers`, changed by SIGTTIN and SIGTTOU.
    target: usize,
    channels: BTreeMap<Pid, Channel>,
    /// Workers whose channel closed, with the instant they get killed if still alive.
    closing: BTreeMap<Pid, Mono>,
    /// Why the master killed a worker, for the report when it is reaped.
    killed: BTreeMap<Pid, String>,
    respawn_at: Mono,
    watch_at: Mono,
    reset: Option<RollingReset>,
    lateness: Lateness,
    doors: Vec<Door>,
    conns: Vec<Conn>,
    phase: Phase,
    failure: Option<String>,
}

impl<'a> Master<'a> {
    fn new(config: &'a TickerConfig) -> io::Result<Master<'a>> {
        let now = sys::monotonic_now();
        Ok(Master {
            config,
            me: sys::getpid(),
            started: now,
            timer: TimerFd::new()?,
            paused: false,
            armed: None,
            ticker: Ticker::new(Schedule::new(now, config.interval)),
            clock: WallClock::new(now, sys::unix_now()),
            pool: Pool::new(Policy::from_config(config)),
            policy: RespawnPolicy::new(config.pool.num_workers),
            limits: Limits::from_config(&config.pool.supervisor),
            target: config.pool.num_workers,
            channels: BTreeMap::new(),
            closing: BTreeMap::new(),
            killed: BTreeMap::new(),
            respawn_at: now,
            watch_at: now + config.pool.supervisor.watch_tick,
            reset: None,
            lateness: Lateness::default(),
            doors: vec![],
            conns: vec![],
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
        self.open_doors();
        // Like RoadRunner's ticker, the first tick comes one interval after the start.
        let now = sys::monotonic_now();
        self.ticker = Ticker::new(Schedule::new(
            now + self.config.interval,
            self.config.interval,
        ));
        self.clock = WallClock::new(now, sys::unix_now());
        self.arm_timer();
        log::info(format_args!(
            "master {} ticking every {} with {} workers",
            self.me,
            humantime::format_duration(self.config.interval),
            self.pool.len()
        ));
        loop {
            if let Phase::Stopping { .. } = self.phase
                && self.pool.is_empty()
            {
                let _ = sys::set_timer_slack(None);
                log::info(format_args!("master {} stopped", self.me));
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
            self.advance_reset();
            // A worker may have become free, or the last free one busy.
            self.arm_timer();
        }
    }

    fn open_doors(&mut self) {
        let socket = self
            .config
            .control
            .clone()
            .unwrap_or_else(|| control::default_socket(self.me));
        match Door::control(&socket, self.me) {
            Ok(door) => self.doors.push(door),
            Err(e) => log::warn(format_args!(
                "no control socket at {} ({e}): `ticker status` cannot reach this master",
                socket.display()
            )),
        }
        if let Some(address) = self.config.metrics {
            match Door::metrics(address, self.me) {
                Ok(door) => self.doors.push(door),
                Err(e) => log::error(format_args!(
                    "cannot serve metrics on {address}: {e}; going on without them"
                )),
            }
        }
        for door in &self.doors {
            log::info(format_args!("listening on {}", door.describe()));
        }
    }

    fn wait_and_handle(&mut self, signals: &SignalFd) -> io::Result<()> {
        let mut watched = vec![Watched::Signals, Watched::Timer];
        let mut fds = vec![
            sys::pollfd(signals.as_fd()),
            sys::pollfd(self.timer.as_fd()),
        ];
        for (i, door) in self.doors.iter().enumerate() {
            watched.push(Watched::Door(i));
            fds.push(sys::pollfd(door.as_fd()));
        }
        for (i, conn) in self.conns.iter().enumerate() {
            watched.push(Watched::Conn(i));
            fds.push(sys::pollfd(conn.as_fd()));
        }
        for (pid, channel) in &self.channels {
            watched.push(Watched::Worker(*pid));
            fds.push(sys::pollfd(channel.as_fd()));
        }
        let timeout = self
            .next_deadline()
            .map(|at| at.since(sys::monotonic_now()));
        sys::poll(&mut fds, timeout)?;

        let ready: Vec<Watched> = watched
            .into_iter()
            .zip(&fds)
            .filter(|(_, fd)| fd.revents != 0)
            .map(|(w, _)| w)
            .collect();
        // The timer first: a tick's lateness is what this loop is judged by.
        if ready.iter().any(|w| matches!(w, Watched::Timer)) && self.timer.acknowledge() {
            self.on_timer();
        }
        let mut conns_ready = vec![];
        for w in &ready {
            match *w {
                Watched::Worker(pid) => self.on_readable(pid),
                Watched::Door(i) => {
                    let now = sys::monotonic_now();
                    let accepted = self.doors[i].accept(now);
                    self.conns.extend(accepted);
                }
                Watched::Conn(i) => conns_ready.push(i),
                Watched::Signals | Watched::Timer => {}
            }
        }
        self.serve_conns(&conns_ready);
        if ready.iter().any(|w| matches!(w, Watched::Signals)) {
            for signal in signals.drain() {
                self.on_signal(signal);
            }
        }
        Ok(())
    }

    fn next_deadline(&self) -> Option<Mono> {
        let mut deadlines: Vec<Mono> = self.closing.values().copied().collect();
        deadlines.extend(self.conns.iter().map(|c| c.deadline));
        deadlines.extend(self.pool.next_expiry());
        deadlines.extend(
            self.pool
                .workers()
                .filter_map(|w| self.limits.exec_deadline(w)),
        );
        if let Some(reset) = &self.reset {
            deadlines.push(reset.deadline);
        }
        if self.limits.need_watch() {
            deadlines.push(self.watch_at);
        }
        match self.phase {
            Phase::Stopping { deadline } => deadlines.push(deadline),
            Phase::Running if self.pool.serving() < self.target => {
                deadlines.push(self.respawn_at);
            }
            Phase::Running => {}
        }
        deadlines.into_iter().min()
    }

    /// Arms the timer a little before the next due instant, so that [`Master::on_timer`]
    /// can hand the tick to a free worker early; the worker holds it until it is due (see
    /// [`crate::worker`]). The kernel wakes a sleeping process tens of microseconds late, and
    /// a tick goes through two wake-ups (this one and the worker's); handing it over early
    /// takes both out of the tick's lateness.
    ///
    /// With no worker free, the timer is armed for the due instant itself: waking early would
    /// be for nothing (a saturated pool at 100 µs would wake twice per tick). Called after
    /// every event; it touches the timer only when the instant changes.
    fn arm_timer(&mut self) {
        if !matches!(self.phase, Phase::Running) || self.paused {
            return;
        }
        let due = self.ticker.next_due();
        let at = if self.pool.can_start() {
            let lead = HANDOFF_LEAD.min(self.config.interval / 4);
            Mono(due.0.saturating_sub(duration_nanos(lead)))
        } else {
            due
        };
        if self.armed == Some(at) {
            return;
        }
        match self.timer.arm_at(at) {
            Ok(()) => self.armed = Some(at),
            Err(e) => self.fail(format!("cannot arm the timer: {e}")),
        }
    }

    /// `delay`: the tick that held the grid is gone (delivered, or dropped after
    /// `allocate_timeout`); the grid restarts one interval from now.
    fn resume_grid(&mut self, now: Mono) {
        self.paused = false;
        self.ticker.rebase(now + self.config.interval);
        self.arm_timer();
    }

    fn disarm_timer(&mut self) {
        let _ = self.timer.disarm();
        self.armed = None;
    }

    fn on_timer(&mut self) {
        self.armed = None;
        if !matches!(self.phase, Phase::Running) || self.paused {
            return;
        }
        let due = self.ticker.next_due();
        let now = sys::monotonic_now();
        let horizon = if now >= due {
            now
        } else if self.pool.can_start() {
            due
        } else {
            // The worker that was free is not any more: the tick arrives when it is due.
            self.arm_timer();
            return;
        };
        for number in self.ticker.poll(horizon) {
            let tick = Tick::new(number, self.ticker.due(number));
            match self.pool.arrive(tick, now) {
                Arrival::Deliver(d) => self.deliver(d),
                Arrival::Waiting if self.config.missed == Missed::Delay => {
                    log::debug(format_args!(
                        "tick {number} waits for a free worker; the grid waits with it"
                    ));
                    // Ticks the master woke too late for come after it, on the new grid.
                    self.ticker.rewind(number + 1);
                    self.paused = true;
                    self.disarm_timer();
                    return;
                }
                Arrival::Waiting => {
                    log::debug(format_args!("tick {number} waits: no worker is free"));
                }
                Arrival::Skipped => log::warn(format_args!(
                    "tick {number} skipped: no worker is free and {} tick(s) already wait \
                     ({} skipped so far)",
                    self.pool.waiting(),
                    self.pool.stats().skipped
                )),
            }
        }
        self.arm_timer();
    }

    fn deliver(&mut self, delivery: Delivery) {
        let now = sys::monotonic_now();
        if self.paused && delivery.waited && delivery.tick.attempt == 1 {
            // `delay`: the grid restarts one interval after the late tick (a re-run that
            // goes first is not that tick).
            self.resume_grid(now);
        }
        let frame = payload::job(&delivery, &self.clock).into_frame();
        self.send(delivery.pid, &frame);
    }

    fn send(&mut self, pid: Pid, frame: &Frame) {
        let Some(channel) = self.channels.get(&pid) else {
            return;
        };
        match channel.send(frame) {
            Ok(()) => {}
            // The worker is gone or going (it exited after its answer): reap it as such.
            Err(e) if peer_gone(&e) => self.on_closed(pid),
            Err(e) => self.kill(pid, format!("could not be written to: {e}")),
        }
    }

    fn on_readable(&mut self, pid: Pid) {
        let Some(channel) = self.channels.get_mut(&pid) else {
            return;
        };
        match channel.fill() {
            Ok(Filled::Data) => {}
            Ok(Filled::Closed) => return self.on_closed(pid),
            Err(e) if peer_gone(&e) => return self.on_closed(pid),
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
            Ok(FromWorker::Answer { late, .. }) => {
                if let Some(late) = late {
                    self.lateness.record(late);
                }
                Outcome::Done
            }
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
            Outcome::StopRequested if finished.failed && finished.tick.attempt > 1 => log::warn(
                format_args!("tick {number} failed: worker {pid} asked to stop on its second run"),
            ),
            Outcome::StopRequested if finished.failed => log::warn(format_args!(
                "tick {number} failed: worker {pid} asked to stop, and the master is stopping"
            )),
            Outcome::StopRequested => log::info(format_args!(
                "tick {number} runs again on another worker: worker {pid} asked to stop"
            )),
        }
        if let Some(reason) = &finished.retire {
            log::info(format_args!("replacing worker {pid}: {reason}"));
            self.send(pid, &ToWorker::Stop.into_frame());
        } else if let Phase::Stopping { .. } = self.phase {
            self.pool.retire(pid);
            self.send(pid, &ToWorker::Stop.into_frame());
        }
        if let Some(next) = finished.next {
            self.deliver(next);
        }
    }

    fn on_closed(&mut self, pid: Pid) {
        self.channels.remove(&pid);
        self.pool.withdraw(pid);
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
            libc::SIGHUP => self.begin_reset("received SIGHUP"),
            libc::SIGTTIN => self.resize(self.target + 1),
            libc::SIGTTOU => self.resize(self.target.saturating_sub(1)),
            _ => {}
        }
    }

    fn resize(&mut self, target: usize) {
        let target = target.clamp(1, crate::config::MAX_WORKERS);
        if target == self.target {
            log::warn(format_args!(
                "the pool stays at {target} workers (from 1 to {})",
                crate::config::MAX_WORKERS
            ));
            return;
        }
        log::info(format_args!(
            "pool size {} -> {target} workers",
            self.target
        ));
        self.target = target;
        // Shrinking retires the youngest workers: the older ones are the warmer.
        let mut serving: Vec<(Mono, Pid)> = self
            .pool
            .workers()
            .filter(|w| w.state != WorkerState::Stopping && w.retire_after_tick.is_none())
            .map(|w| (w.started, w.pid))
            .collect();
        serving.sort();
        while serving.len() > target {
            let (_, pid) = serving.pop().expect("longer than target");
            if self.pool.retire_soon(pid, "the pool shrinks".into()) {
                log::info(format_args!("replacing worker {pid}: the pool shrinks"));
                self.send(pid, &ToWorker::Stop.into_frame());
            }
        }
    }

    /// Replaces every worker: each is retired as soon as it is idle (at once, or after its
    /// tick), and the loop forks its replacement right away, so ticks keep finding workers.
    fn begin_reset(&mut self, why: &str) {
        if !matches!(self.phase, Phase::Running) {
            return;
        }
        let reset = RollingReset::new(
            &self.pool,
            sys::monotonic_now(),
            self.config.pool.reset_timeout,
        );
        log::info(format_args!(
            "reset ({why}): replacing {} workers one by one, within reset_timeout ({})",
            reset.outdated(),
            humantime::format_duration(self.config.pool.reset_timeout)
        ));
        self.reset = Some(reset);
        self.advance_reset();
    }

    /// Tells the next worker of a reset to stop, when the previous one has been replaced.
    fn advance_reset(&mut self) {
        let Some(reset) = &mut self.reset else {
            return;
        };
        if reset.is_done() {
            log::info(format_args!(
                "reset done in {:?}",
                sys::monotonic_now().since(reset.started)
            ));
            self.reset = None;
            return;
        }
        if let Some(pid) = reset.next(&self.pool, self.target)
            && self.pool.retire_soon(pid, "reset".into())
        {
            log::debug(format_args!("reset: replacing worker {pid}"));
            self.send(pid, &ToWorker::Stop.into_frame());
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
        if let Some(reset) = &mut self.reset {
            reset.gone(pid);
        }
        let why = self
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
        while self.pool.serving() < self.target {
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
                Ok(Some(WorkerLink::of_ticker(Channel::socket(
                    theirs,
                    MAX_PAYLOAD,
                ))))
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

    fn serve_conns(&mut self, ready: &[usize]) {
        let now = sys::monotonic_now();
        let mut keep = vec![];
        for (i, mut conn) in std::mem::take(&mut self.conns).into_iter().enumerate() {
            let incoming = if ready.contains(&i) {
                conn.read()
            } else {
                Incoming::Pending
            };
            match incoming {
                Incoming::Request(request) => {
                    let answer = self.answer(conn.kind(), request);
                    conn.answer(&answer);
                }
                Incoming::Pending if conn.deadline > now => keep.push(conn),
                Incoming::Pending | Incoming::Gone => {}
            }
        }
        self.conns = keep;
    }

    fn answer(&mut self, kind: control::Kind, request: Request) -> String {
        match request {
            Request::Status => serde_json::to_string(&self.snapshot()).expect("serializes"),
            Request::Reset => {
                self.begin_reset("asked on the control socket");
                r#"{"ok":true,"message":"reset started"}"#.to_string()
            }
            Request::Metrics => control::http_response(
                "200 OK",
                "text/plain; version=0.0.4",
                &self.snapshot().to_prometheus(),
            ),
            Request::Unknown(what) => match kind {
                control::Kind::Http => control::http_response(
                    "404 Not Found",
                    "text/plain",
                    "ticker serves GET /metrics only\n",
                ),
                control::Kind::Control => serde_json::json!({
                    "ok": false,
                    "message": format!("unknown request {what:?}; expected status or reset"),
                })
                .to_string(),
            },
        }
    }

    fn snapshot(&self) -> Snapshot {
        let now = sys::monotonic_now();
        let stats = self.pool.stats();
        Snapshot {
            master_pid: self.me,
            version: env!("CARGO_PKG_VERSION").to_string(),
            interval_secs: self.config.interval.as_secs_f64(),
            uptime_secs: now.since(self.started).as_secs_f64(),
            target_workers: self.target,
            master_rss_bytes: sys::rss_bytes(self.me).ok(),
            ticks: TickCounts {
                due: stats.due,
                delivered: stats.delivered,
                completed: stats.completed,
                failed: stats.failed,
                skipped: stats.skipped,
            },
            lateness: self.lateness.percentiles(),
            workers: self
                .pool
                .workers()
                .map(|w| WorkerRow {
                    pid: w.pid,
                    state: match w.state {
                        WorkerState::Idle => "idle",
                        WorkerState::Busy { .. } => "busy",
                        WorkerState::Stopping => "stopping",
                    }
                    .to_string(),
                    tick: match w.state {
                        WorkerState::Busy { tick, .. } => Some(tick.number),
                        _ => None,
                    },
                    ticks: w.handled,
                    errors: w.failed,
                    rss_bytes: sys::rss_bytes(w.pid).ok(),
                    age_secs: now.since(w.started).as_secs_f64(),
                })
                .collect(),
        }
    }

    fn begin_stop(&mut self, why: &str) {
        if let Phase::Stopping { .. } = self.phase {
            return;
        }
        self.disarm_timer();
        self.reset = None;
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
        let busy = self
            .pool
            .workers()
            .filter(|w| matches!(w.state, WorkerState::Busy { .. }))
            .count();
        log::info(format_args!(
            "stopping ({why}): {} idle workers told to stop, waiting up to {} for {busy} busy",
            idle.len(),
            humantime::format_duration(self.config.pool.destroy_timeout)
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

    /// Kills and reaps at once: SIGKILL cannot be refused, so each wait is short.
    fn kill_now(&mut self, pid: Pid, reason: &str) {
        let _ = sys::kill(pid, libc::SIGKILL);
        self.killed.entry(pid).or_insert_with(|| reason.to_owned());
        let status = sys::reap(pid).unwrap_or(ExitStatus::Signal(libc::SIGKILL));
        self.on_exit(pid, status);
    }

    fn kill_all(&mut self, why: &str) {
        let pids: Vec<Pid> = self.pool.workers().map(|w| w.pid).collect();
        for pid in pids {
            self.kill_now(pid, why);
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
            self.kill_now(pid, "closed its channel but did not exit");
        }
        for tick in self.pool.expire_waiting(now) {
            log::warn(format_args!(
                "tick {} dropped: it waited allocate_timeout ({}) for a free worker",
                tick.number,
                humantime::format_duration(self.pool.policy().allocate_timeout)
            ));
            if self.paused && tick.attempt == 1 {
                self.resume_grid(now);
            }
        }
        self.check_limits(now);
        if self.reset.as_ref().is_some_and(|r| r.deadline <= now) {
            let late = self.reset.take().expect("checked").overdue();
            log::warn(format_args!(
                "reset_timeout ({}) passed: finishing the reset by force, {} worker(s) left",
                humantime::format_duration(self.config.pool.reset_timeout),
                late.len()
            ));
            for pid in late {
                // Idle ones stop now; busy ones (or stopping too long) are killed.
                if self.pool.retire_soon(pid, "reset".into()) {
                    self.send(pid, &ToWorker::Stop.into_frame());
                } else {
                    self.kill_now(pid, "was not replaced within reset_timeout");
                }
            }
        }
        if let Phase::Stopping { deadline } = self.phase
            && deadline <= now
            && !self.pool.is_empty()
        {
            log::warn(format_args!(
                "destroy_timeout ({}) passed: killing {} workers",
                humantime::format_duration(self.config.pool.destroy_timeout),
                self.pool.len()
            ));
            self.kill_all("did not stop within destroy_timeout");
        }
    }

    /// Applies `pool.supervisor`: exact exec_ttl deadlines on every pass, the other limits
    /// every `watch_tick`.
    fn check_limits(&mut self, now: Mono) {
        let watch = self.limits.need_watch() && self.watch_at <= now;
        if watch {
            self.watch_at = now + self.config.pool.supervisor.watch_tick;
        }
        let mut actions = vec![];
        for worker in self.pool.workers() {
            let due_exec = self
                .limits
                .exec_deadline(worker)
                .is_some_and(|at| at <= now);
            if !watch && !due_exec {
                continue;
            }
            let rss = match self.limits.max_memory_bytes {
                Some(_) if watch => sys::rss_bytes(worker.pid).ok(),
                _ => None,
            };
            if let Some(action) = self.limits.check(worker, now, rss) {
                actions.push((worker.pid, action));
            }
        }
        for (pid, action) in actions {
            match action {
                Action::Kill(reason) => {
                    log::error(format_args!("worker {pid} {reason}; killing it"));
                    self.kill_now(pid, &reason);
                }
                Action::Replace(reason) => {
                    if self.pool.retire_soon(pid, reason.clone()) {
                        log::info(format_args!("replacing worker {pid}: {reason}"));
                        self.send(pid, &ToWorker::Stop.into_frame());
                    } else {
                        log::info(format_args!(
                            "worker {pid} will be replaced after its tick: {reason}"
                        ));
                    }
                }
            }
        }
    }
}

/// Whether a channel error only says that the worker closed its end or died: a socket
/// whose peer went away with unread data gives ECONNRESET rather than end of stream.
fn peer_gone(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ECONNRESET | libc::EPIPE))
}

fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
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
