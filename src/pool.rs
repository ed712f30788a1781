//! The master's bookkeeping of workers and ticks: decisions only.
//!
//! Owns which worker is starting, idle, busy, stopping or killed and not reaped, which tick
//! each one holds, the ticks that wait for a free worker, the skipped-tick accounting and
//! the pool's counters. It never forks, signals, reads a clock or touches a socket:
//! [`crate::master`] feeds it events and carries out what it returns, so every rule here is
//! testable without processes. The native ticker ([`crate::native`]) runs the same rules
//! with one consumer.
//!
//! The accounting, which every event keeps exact (a property test drives random sequences
//! of events through it):
//!
//! - due + manual = delivered + skipped + the first attempts waiting for a worker;
//! - delivered = completed + failed + the ticks running + the re-runs waiting.
//!
//! `manual` counts the runs an operator asked for ([`Pool::run_now`]) that went to a
//! worker: they are real runs, so they count as delivered and then as completed or failed,
//! but no schedule made them come due. One never waits: it starts at once or is refused,
//! so it never takes a `burst` queue's place, never holds a `delay` grid and is never
//! skipped.
//!
//! A tick ends exactly once: completed, failed or skipped (dropped after
//! `allocate_timeout` or at stop counts as skipped, a dropped re-run as failed). A busy
//! worker that leaves the pool fails its tick then: when the master kills it, at once; when
//! it dies by itself, when it is reaped. Only workers the master can reach take ticks: a
//! worker whose channel closed is [`Pool::withdraw`]n and never handed one again, and one
//! the master kills leaves the pool at the kill ([`Pool::kill`]), before the kernel has torn
//! it down; its record stays, killed, until it is reaped ([`Pool::reap_killed`]), and counts
//! for nothing meanwhile.
//!
//! A tick goes to the idle worker that became idle last. Its memory and caches are still
//! warm from its previous tick, and a replacement, which joins last, takes the next tick;
//! the workers that are not needed sleep in `read()` and cost nothing. (Handing ticks round
//! the pool in turn made every tick the first one in `workers × interval` for its worker:
//! with 500 workers at 10 ms the median lateness grew tenfold, and a replacement waited
//! its turn for 500 ticks.) Whatever the size of the pool, no decision here scans it: each
//! worker is one record in [`Workers`], whose indexes keep the counts and orders the
//! master asks for, in step with every transition.

use std::collections::VecDeque;
use std::time::Duration;

use crate::config::{Missed, ScheduleConfig, TickerConfig};
use crate::histogram::Buckets;
use crate::schedule::Mono;
use crate::tick::ScheduleId;
use crate::timetable::Timetable;

pub use crate::pid::Pid;
pub use crate::tick::{Delivery, Tick};
use crate::workers::Workers;
pub use crate::workers::{Handshake, Killed, Leaving, Overdue, Reading, Why, Worker, WorkerState};

/// The rules the pool applies, from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Ticks a worker handles before it is replaced (`max_jobs`; 1 in `debug` mode).
    pub max_jobs: Option<u64>,
    /// How long a tick may wait for a free worker before it is dropped.
    pub allocate_timeout: Duration,
    /// Each schedule's rules, by [`ScheduleId`]; never empty.
    pub schedules: Vec<SchedulePolicy>,
}

/// What one schedule's ticks may do when no worker is free, or while one of them runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulePolicy {
    pub missed: Missed,
    /// Ticks of the schedule that may wait for a free worker at once; `None`: no limit.
    pub queue_limit: Option<usize>,
    /// Whether a tick of the schedule may start while another one of it runs.
    pub overlap: bool,
    /// How long one of its runs may take before its worker is killed; `None`: no limit.
    pub exec_ttl: Option<Duration>,
}

impl SchedulePolicy {
    /// `max_queue_size` is the pool's (`None`: off).
    pub fn new(missed: Missed, overlap: bool, max_queue: Option<usize>) -> SchedulePolicy {
        SchedulePolicy {
            missed,
            queue_limit: match missed {
                // One tick waits; `max_queue_size` may allow more, as in RoadRunner.
                Missed::Skip => Some(max_queue.unwrap_or(1)),
                // The grid stops while a tick waits, so a second one never comes due.
                Missed::Delay => Some(1),
                Missed::Burst => max_queue,
            },
            overlap,
            exec_ttl: None,
        }
    }

    /// `pool` is `pool.supervisor.exec_ttl`, for a schedule that has none of its own.
    fn of(
        schedule: &ScheduleConfig,
        max_queue: Option<usize>,
        pool: Option<Duration>,
    ) -> SchedulePolicy {
        SchedulePolicy {
            exec_ttl: schedule.exec_ttl.limit(pool),
            ..SchedulePolicy::new(schedule.missed, schedule.overlap, max_queue)
        }
    }
}

impl Default for SchedulePolicy {
    fn default() -> Self {
        SchedulePolicy::new(Missed::Skip, true, None)
    }
}

impl Policy {
    pub fn from_config(config: &TickerConfig) -> Policy {
        let pool = &config.pool;
        let max_queue = pool
            .max_queue_size
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        Policy {
            max_jobs: if pool.debug { Some(1) } else { pool.max_jobs },
            allocate_timeout: pool.allocate_timeout,
            schedules: config
                .schedules
                .iter()
                .map(|s| SchedulePolicy::of(s, max_queue, pool.supervisor.exec_ttl))
                .collect(),
        }
    }

    /// One schedule's rules, the pool's defaults for the rest.
    pub fn single(schedule: SchedulePolicy) -> Policy {
        Policy {
            schedules: vec![schedule],
            ..Policy::default()
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_jobs: None,
            allocate_timeout: Duration::from_secs(60),
            schedules: vec![SchedulePolicy::default()],
        }
    }
}

/// What became of a tick that had come due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    Deliver(Delivery),
    /// No worker was free: it waits for the next one.
    Waiting,
    /// No worker was free and another tick was already waiting: dropped and counted.
    Skipped,
}

/// How a worker finished the tick it held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// `error()`: the tick failed, the worker stays.
    Failed(String),
    /// `stop()`: the worker wants to be replaced; the tick is re-run once elsewhere.
    StopRequested,
}

/// The result of [`Pool::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub tick: Tick,
    pub took: Duration,
    /// Why the worker must be told to stop now (it asked to, reached `max_jobs`, or a
    /// limit marked it during the tick); `None`: it stays.
    pub retire: Option<String>,
    /// The tick was given up: it failed, or it was already a re-run when its worker stopped.
    pub failed: bool,
    /// The next tick for this worker or another one (a waiting or re-run tick).
    pub next: Option<Delivery>,
}

/// The result of [`Pool::remove`] and [`Pool::kill`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// The worker as it was when it left the pool.
    pub worker: Worker,
    /// A waiting tick that an idle worker may start now.
    pub next: Option<Delivery>,
}

/// Why a manual run ([`Pool::run_now`]) did not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Every worker is busy (or starting).
    NoIdleWorker,
    /// A tick of the schedule runs, and its `overlap` is off.
    Running,
    /// The master is stopping.
    Stopping,
    /// A cluster instance without the lease delivers nothing.
    Held,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::NoIdleWorker => "no worker is free",
            Refusal::Running => "a run of it goes on and its overlap is off",
            Refusal::Stopping => "the master is stopping",
            Refusal::Held => "this instance does not hold the cluster's lease",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolError {
    UnknownWorker(Pid),
    /// A worker answered while it held no tick: a protocol violation.
    NotBusy(Pid),
    /// A worker answered after its channel closed.
    Withdrawn(Pid),
}

impl std::fmt::Display for PoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PoolError::UnknownWorker(pid) => write!(f, "no worker with pid {pid}"),
            PoolError::NotBusy(pid) => write!(f, "worker {pid} answered without holding a tick"),
            PoolError::Withdrawn(pid) => {
                write!(f, "worker {pid} answered after its channel closed")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub due: u64,
    pub delivered: u64,
    pub completed: u64,
    pub failed: u64,
    pub skipped: u64,
    /// Manual runs handed to a worker (see [`Pool::run_now`]).
    pub manual: u64,
}

impl std::ops::AddAssign for Stats {
    fn add_assign(&mut self, other: Stats) {
        self.manual += other.manual;
        self.due += other.due;
        self.delivered += other.delivered;
        self.completed += other.completed;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }
}

/// How a run on a worker ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunResult {
    /// `respond()`.
    Completed,
    /// `error()`, its worker died or was killed holding it, or it was given up after its
    /// worker asked to stop (on a re-run, or while the master stops).
    Failed,
}

impl RunResult {
    pub fn name(self) -> &'static str {
        match self {
            RunResult::Completed => "completed",
            RunResult::Failed => "failed",
        }
    }
}

/// A schedule's last run that ended on a worker. A tick handed on to another worker (its
/// worker asked to stop) has not ended; a skipped tick never ran, so neither is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastRun {
    /// Its tick's number.
    pub tick: u64,
    pub finished: Mono,
    pub result: RunResult,
    /// From its start (its due instant, or its delivery when it waited) to its end.
    pub took: Duration,
}

/// One schedule's share of the pool: its counts, what the next delivery's header says, how
/// its last runs ended, and how late and how long its runs were since the start.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Lane {
    stats: Stats,
    skipped_since_delivery: u64,
    /// The last tick of the schedule's own (not a manual run) handed to a worker: the
    /// next delivery's `lastTick`, and the last run a state file keeps.
    last_delivered: Option<Tick>,
    last_run: Option<LastRun>,
    /// When the last completed run ended: what an alert on a schedule that stopped
    /// succeeding watches.
    last_success: Option<Mono>,
    /// The lateness its workers report with their answers.
    lateness: Buckets,
    /// How long each run that ended on a worker took.
    run_duration: Buckets,
}

impl Lane {
    fn new() -> Lane {
        Lane {
            stats: Stats::default(),
            skipped_since_delivery: 0,
            last_delivered: None,
            last_run: None,
            last_success: None,
            lateness: Buckets::lateness(),
            run_duration: Buckets::run_duration(),
        }
    }

    fn skipped(&mut self, n: u64) {
        self.stats.skipped += n;
        self.skipped_since_delivery += n;
    }

    /// A run of `tick` that started at `since` ended at `now`: counted, and remembered.
    fn ran(&mut self, tick: &Tick, since: Mono, now: Mono, result: RunResult) {
        match result {
            RunResult::Completed => {
                self.stats.completed += 1;
                self.last_success = Some(now);
            }
            RunResult::Failed => self.stats.failed += 1,
        }
        let took = now.since(since);
        self.run_duration.record(took);
        self.last_run = Some(LastRun {
            tick: tick.number,
            finished: now,
            result,
            took,
        });
    }
}

/// Ticks waiting for a free worker. Re-runs go first and do not count against the queue
/// limit. Each queue is in the order ticks started waiting, which is also the order they
/// expire in, so every operation is O(1) however many ticks a `burst` backlog holds; only
/// the ticks of a schedule without overlap whose run goes on are passed over to find the
/// first that may start.
#[derive(Debug, Default)]
struct Waiting {
    reruns: VecDeque<(Tick, Mono)>,
    first: VecDeque<(Tick, Mono)>,
    /// First attempts waiting, by schedule: what its queue limit is checked against.
    first_by_schedule: Vec<usize>,
}

impl Waiting {
    fn len(&self) -> usize {
        self.reruns.len() + self.first.len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn first_attempts(&self, schedule: ScheduleId) -> usize {
        self.first_by_schedule
            .get(schedule.index())
            .copied()
            .unwrap_or(0)
    }

    fn count(&mut self, tick: &Tick, up: bool) {
        if tick.attempt != 1 {
            return;
        }
        let index = tick.schedule.index();
        if self.first_by_schedule.len() <= index {
            self.first_by_schedule.resize(index + 1, 0);
        }
        if up {
            self.first_by_schedule[index] += 1;
        } else {
            self.first_by_schedule[index] -= 1;
        }
    }

    fn push(&mut self, tick: Tick, since: Mono) {
        self.count(&tick, true);
        if tick.attempt == 1 {
            self.first.push_back((tick, since));
        } else {
            self.reruns.push_back((tick, since));
        }
    }

    /// The first tick, re-runs first, that `may_start` lets start. The queues keep their
    /// order (the order ticks expire in); only a schedule without overlap, whose run goes
    /// on, is passed over.
    fn pop(&mut self, may_start: impl Fn(ScheduleId) -> bool) -> Option<Tick> {
        let take = |queue: &mut VecDeque<(Tick, Mono)>| {
            let i = queue
                .iter()
                .position(|(tick, _)| may_start(tick.schedule))?;
            queue.remove(i).map(|(tick, _)| tick)
        };
        let tick = take(&mut self.reruns).or_else(|| take(&mut self.first))?;
        self.count(&tick, false);
        Some(tick)
    }

    fn oldest_since(&self) -> Option<Mono> {
        let front = |q: &VecDeque<(Tick, Mono)>| q.front().map(|&(_, since)| since);
        front(&self.reruns)
            .into_iter()
            .chain(front(&self.first))
            .min()
    }

    /// Removes the ticks `expired(since)` says are too old, oldest first.
    fn expire(&mut self, expired: impl Fn(Mono) -> bool) -> Vec<Tick> {
        let mut gone = vec![];
        for queue in [&mut self.reruns, &mut self.first] {
            while let Some(&(tick, since)) = queue.front() {
                if !expired(since) {
                    break;
                }
                queue.pop_front();
                gone.push(tick);
            }
        }
        for tick in &gone {
            self.count(tick, false);
        }
        gone
    }

    fn drain(&mut self) -> Vec<Tick> {
        self.first_by_schedule.clear();
        self.reruns
            .drain(..)
            .chain(self.first.drain(..))
            .map(|(tick, _)| tick)
            .collect()
    }
}

#[derive(Debug, Default)]
pub struct Pool {
    /// Every worker, one record each, with the indexes over them.
    workers: Workers,
    /// Ticks waiting for a free worker, with the instant each started waiting.
    waiting: Waiting,
    /// Each schedule's counts and header state, by [`ScheduleId`].
    lanes: Vec<Lane>,
    /// The master is stopping: nothing more is delivered, not even a re-run.
    stopping: bool,
    /// Waiting ticks stay waiting (see [`Pool::hold`]).
    held: bool,
    policy: Policy,
}

impl Pool {
    pub fn new(policy: Policy) -> Pool {
        Pool {
            lanes: vec![Lane::new(); policy.schedules.len()],
            policy,
            ..Pool::default()
        }
    }

    fn lane(&mut self, schedule: ScheduleId) -> &mut Lane {
        &mut self.lanes[schedule.index()]
    }

    /// The rules of `schedule`'s ticks.
    pub fn rules(&self, schedule: ScheduleId) -> &SchedulePolicy {
        &self.policy.schedules[schedule.index()]
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Ticks waiting for a worker.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// When the oldest waiting tick runs out of `allocate_timeout`.
    pub fn next_expiry(&self) -> Option<Mono> {
        self.waiting
            .oldest_since()
            .map(|since| since + self.policy.allocate_timeout)
    }

    /// Drops the ticks that waited longer than `allocate_timeout`; they count as skipped.
    pub fn expire_waiting(&mut self, now: Mono) -> Vec<Tick> {
        let timeout = self.policy.allocate_timeout;
        let expired = self.waiting.expire(|since| since + timeout <= now);
        for tick in &expired {
            self.dropped(tick);
        }
        expired
    }

    /// While held, no waiting tick (nor re-run) goes to a worker: a cluster instance that
    /// lost the lease may not deliver. Arrivals are the caller's to withhold.
    pub fn hold(&mut self, held: bool) {
        self.held = held;
    }

    /// Drops every waiting tick and returns them: first attempts count as skipped (and in
    /// the next delivery's header), re-runs as failed.
    pub fn drop_waiting(&mut self) -> Vec<Tick> {
        let dropped = self.waiting.drain();
        for tick in &dropped {
            self.dropped(tick);
        }
        dropped
    }

    /// A waiting tick is dropped: a first attempt counts as skipped (and in the next
    /// delivery's header), a re-run as failed.
    fn dropped(&mut self, tick: &Tick) {
        let lane = self.lane(tick.schedule);
        if tick.attempt == 1 {
            lane.skipped(1);
        } else {
            lane.stats.failed += 1;
        }
    }

    /// `n` ticks of `schedule` came due that this pool never saw (a cluster's failover,
    /// when no instance held the lease): counted as due and skipped, and in the next
    /// delivery's header.
    pub fn skip(&mut self, schedule: ScheduleId, n: u64) {
        let lane = self.lane(schedule);
        lane.stats.due += n;
        lane.skipped(n);
    }

    /// Whether a tick of `schedule` may start now on an idle worker: with its overlap off,
    /// only when no other tick of it runs.
    fn may_start(&self, schedule: ScheduleId) -> bool {
        self.rules(schedule).overlap || !self.workers.runs(schedule)
    }

    /// An operator's run of `schedule` now, outside its grid: it goes to an idle worker at
    /// once, or is refused and leaves no trace. It never waits, so that a `ticker run` is
    /// done now or not at all, never later behind the schedule's own ticks. It is numbered
    /// by the manual runs of its schedule (see [`Tick::manual`]) and leaves the header state
    /// of the schedule's ticks alone: the next one still carries the last tick of the grid
    /// and the skips since.
    pub fn run_now(&mut self, schedule: ScheduleId, now: Mono) -> Result<Delivery, Refusal> {
        if self.stopping {
            return Err(Refusal::Stopping);
        }
        if self.held {
            return Err(Refusal::Held);
        }
        if !self.workers.has_idle() {
            return Err(Refusal::NoIdleWorker);
        }
        if !self.may_start(schedule) {
            return Err(Refusal::Running);
        }
        let pid = self.workers.take_idle().expect("checked: a worker is idle");
        let nth = self.lanes[schedule.index()].stats.manual + 1;
        Ok(self.deliver(pid, Tick::manual(schedule, nth, now), now, false))
    }

    /// Whether a tick of `schedule` arriving now would start at once on an idle worker.
    pub fn can_start(&self, schedule: ScheduleId) -> bool {
        self.workers.has_idle() && self.may_start(schedule)
    }

    fn take_idle(&mut self, schedule: ScheduleId) -> Option<Pid> {
        if self.may_start(schedule) {
            self.workers.take_idle()
        } else {
            None
        }
    }

    /// The pool's counts: every schedule's together.
    pub fn stats(&self) -> Stats {
        let mut total = Stats::default();
        for lane in &self.lanes {
            total += lane.stats;
        }
        total
    }

    /// One schedule's counts.
    pub fn schedule_stats(&self, schedule: ScheduleId) -> Stats {
        self.lanes[schedule.index()].stats
    }

    /// The due instant of the last tick of `schedule` handed to a worker.
    pub fn last_tick(&self, schedule: ScheduleId) -> Option<Mono> {
        self.last_delivered(schedule).map(|tick| tick.due)
    }

    /// The last tick of `schedule` handed to a worker, not counting manual runs.
    pub fn last_delivered(&self, schedule: ScheduleId) -> Option<&Tick> {
        self.lanes[schedule.index()].last_delivered.as_ref()
    }

    /// The last run of `schedule` that ended on a worker, completed or failed.
    pub fn last_run(&self, schedule: ScheduleId) -> Option<LastRun> {
        self.lanes[schedule.index()].last_run
    }

    /// When the last completed run of `schedule` ended.
    pub fn last_success(&self, schedule: ScheduleId) -> Option<Mono> {
        self.lanes[schedule.index()].last_success
    }

    /// A run of `schedule` started this late, as its worker reported with its answer.
    pub fn record_lateness(&mut self, schedule: ScheduleId, late: Duration) {
        self.lane(schedule).lateness.record(late);
    }

    /// How late the answered runs of `schedule` started, since the start.
    pub fn lateness_of(&self, schedule: ScheduleId) -> &Buckets {
        &self.lanes[schedule.index()].lateness
    }

    /// How long the runs of `schedule` that ended on a worker took, since the start.
    pub fn run_durations_of(&self, schedule: ScheduleId) -> &Buckets {
        &self.lanes[schedule.index()].run_duration
    }

    /// A worker of the pool (not a killed one).
    pub fn worker(&self, pid: Pid) -> Option<&Worker> {
        self.workers.get(pid)
    }

    /// The workers of the pool (not the killed ones).
    pub fn workers(&self) -> impl Iterator<Item = &Worker> {
        self.workers.iter()
    }

    /// Workers in the pool.
    pub fn len(&self) -> usize {
        self.workers.len()
    }

    /// Whether `pid` is a process of this pool: one of its workers, or one killed and not
    /// reaped yet.
    pub fn knows(&self, pid: Pid) -> bool {
        self.workers.knows(pid)
    }

    /// Why a worker was killed, while it is not reaped.
    pub fn killed(&self, pid: Pid) -> Option<&Killed> {
        self.workers.killed(pid)
    }

    /// The killed workers not reaped yet, the one waited for the shortest first.
    pub fn unreaped(&self) -> impl Iterator<Item = (Pid, &Killed)> {
        self.workers.unreaped()
    }

    /// Until when a stopping master waits for the killed workers not reaped yet.
    pub fn killed_until(&self) -> Option<Mono> {
        self.workers.killed_until()
    }

    /// A rolling reset begins: the workers of the pool now, but those stopping already,
    /// are of an older generation than those that join from now on (see
    /// [`crate::workers::Workers::begin_generation`]).
    pub fn begin_generation(&mut self) {
        self.workers.begin_generation();
    }

    /// The workers of the pool of an older generation, in the order of their pids.
    pub fn outdated(&self) -> impl Iterator<Item = &Worker> {
        self.workers.outdated()
    }

    /// How many workers of the pool are of an older generation.
    pub fn outdated_count(&self) -> usize {
        self.workers.outdated_count()
    }

    /// Whether the worker is in the pool, of an older generation.
    pub fn is_outdated(&self, pid: Pid) -> bool {
        self.workers.is_outdated(pid)
    }

    /// A worker's resident memory was read.
    pub fn record_rss(&mut self, pid: Pid, reading: Reading) {
        self.workers.record_rss(pid, reading);
    }

    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// Workers that have not become ready yet.
    pub fn starting(&self) -> usize {
        self.workers.starting()
    }

    /// Workers that will stay, starting ones included: what respawning tops up to the
    /// configured size.
    pub fn serving(&self) -> usize {
        self.workers.serving()
    }

    /// The earliest instant a running tick runs out of its schedule's `exec_ttl`.
    pub fn next_run_out(&self) -> Option<Mono> {
        self.workers.next_run_out()
    }

    /// The busy workers whose tick ran out of its schedule's `exec_ttl` by `now`, the
    /// earliest first, whatever the size of the pool: the master kills them.
    pub fn run_out(&self, now: Mono) -> impl Iterator<Item = &Worker> {
        self.workers.run_out(now)
    }

    /// A fresh worker joins, ready; it takes a waiting tick at once if there is one.
    pub fn add(&mut self, pid: Pid, now: Mono) -> Option<Delivery> {
        self.add_starting(pid, now, None);
        self.ready(pid, now)
    }

    /// A fresh worker joins that is not ready for ticks yet (see [`WorkerState::Starting`]);
    /// with `handshake`, it owes its pid handshake within that time from `now`.
    pub fn add_starting(&mut self, pid: Pid, now: Mono, handshake: Option<Duration>) {
        let handshake = handshake.map(|timeout| Handshake { sent: now, timeout });
        self.workers.join(pid, now, handshake);
    }

    /// A starting worker is ready: it becomes idle, and takes a waiting tick at once if
    /// there is one. A worker told to stop meanwhile stays stopping.
    pub fn ready(&mut self, pid: Pid, now: Mono) -> Option<Delivery> {
        let worker = self.workers.get(pid)?;
        if worker.state != WorkerState::Starting || !worker.reachable {
            return None;
        }
        if self.stopping {
            self.workers.set_state(pid, WorkerState::Stopping);
            return None;
        }
        self.workers.become_idle(pid, now);
        self.deliver_waiting(now)
    }

    /// Whether the worker owes its pid handshake: its next frame is the answer.
    pub fn owes_handshake(&self, pid: Pid) -> bool {
        self.workers.get(pid).is_some_and(|w| w.handshake.is_some())
    }

    /// The worker answered its pid handshake: what it owed (when it was sent).
    pub fn answer_handshake(&mut self, pid: Pid) -> Option<Handshake> {
        self.workers.answer_handshake(pid)
    }

    /// The worker is on its way out (told to stop, or its channel closed): it is killed at
    /// `leaving.kill_at` if it is still there. The first reason given stands.
    pub fn leaving(&mut self, pid: Pid, leaving: Leaving) {
        self.workers.set_leaving(pid, leaving);
    }

    /// The earliest instant a worker's handshake or leaving runs out.
    pub fn next_deadline(&self) -> Option<Mono> {
        self.workers.next_deadline()
    }

    /// The workers whose handshake or leaving ran out by `now`, earliest first: the
    /// master kills them.
    pub fn take_overdue(&mut self, now: Mono) -> Vec<(Pid, Overdue)> {
        self.workers.take_overdue(now)
    }

    /// A tick came due on its schedule.
    pub fn arrive(&mut self, tick: Tick, now: Mono) -> Arrival {
        self.lane(tick.schedule).stats.due += 1;
        if let Some(pid) = self.take_idle(tick.schedule) {
            return Arrival::Deliver(self.deliver(pid, tick, now, false));
        }
        if self
            .rules(tick.schedule)
            .queue_limit
            .is_some_and(|limit| self.waiting.first_attempts(tick.schedule) >= limit)
        {
            self.lane(tick.schedule).skipped(1);
            return Arrival::Skipped;
        }
        self.waiting.push(tick, now);
        Arrival::Waiting
    }

    /// The ticks of `timetable` due by `horizon` arrive at `now`, each schedule's oldest
    /// first: what became of each. Under `delay` ([`Missed::Delay`]), the first tick of a
    /// schedule that has to wait holds its grid ([`Timetable::hold`]) and is its last. The
    /// master and the native ticker both walk the schedules this way.
    pub fn arrive_due(
        &mut self,
        timetable: &mut Timetable,
        horizon: Mono,
        now: Mono,
    ) -> Vec<(Tick, Arrival)> {
        self.arrive_due_while(timetable, horizon, now, |_| true)
    }

    /// [`Pool::arrive_due`], stopping a schedule's walk before the first tick that
    /// `may_arrive` refuses: it and the ones after it go back to `timetable`, to be asked
    /// about again at the next call (a cluster instance delivers only the ticks its lease
    /// grants). Only the schedules due are walked.
    pub fn arrive_due_while(
        &mut self,
        timetable: &mut Timetable,
        horizon: Mono,
        now: Mono,
        mut may_arrive: impl FnMut(&Tick) -> bool,
    ) -> Vec<(Tick, Arrival)> {
        let mut arrivals = vec![];
        for schedule in timetable.take_due(horizon) {
            let delay = self.rules(schedule).missed == Missed::Delay;
            for tick in timetable.poll(schedule, horizon) {
                if !may_arrive(&tick) {
                    timetable.give_back(&tick);
                    break;
                }
                let arrival = self.arrive(tick, now);
                arrivals.push((tick, arrival));
                if delay && arrival == Arrival::Waiting {
                    // The ticks after it did not happen: they come after the release, on
                    // the new grid.
                    timetable.hold(&tick);
                    break;
                }
            }
            timetable.requeue(schedule);
        }
        arrivals
    }

    /// A busy worker answered the tick it held.
    pub fn finish(&mut self, pid: Pid, outcome: Outcome, now: Mono) -> Result<Finished, PoolError> {
        let worker = self.workers.get(pid).ok_or(PoolError::UnknownWorker(pid))?;
        if !worker.reachable {
            return Err(PoolError::Withdrawn(pid));
        }
        let WorkerState::Busy {
            tick,
            since,
            ref retire,
            ..
        } = worker.state
        else {
            return Err(PoolError::NotBusy(pid));
        };
        let took = now.since(since);
        let mut retire = retire.clone();
        let handled_before = worker.handled;
        let mut failed = false;
        let handled = match outcome {
            Outcome::Done => {
                self.lane(tick.schedule)
                    .ran(&tick, since, now, RunResult::Completed);
                self.workers.count_answer(pid, false)
            }
            Outcome::Failed(_) => {
                self.lane(tick.schedule)
                    .ran(&tick, since, now, RunResult::Failed);
                failed = true;
                self.workers.count_answer(pid, true)
            }
            Outcome::StopRequested => {
                retire = Some("it asked to stop".into());
                if tick.attempt == 1 && !self.stopping {
                    // RoadRunner re-runs the payload of a worker that stops; once is enough
                    // to survive a recycling worker without hiding a handler that always stops.
                    self.waiting.push(Tick { attempt: 2, ..tick }, now);
                } else {
                    self.lane(tick.schedule)
                        .ran(&tick, since, now, RunResult::Failed);
                    failed = true;
                }
                handled_before
            }
        };
        if retire.is_none()
            && let Some(max) = self.policy.max_jobs
            && handled >= max
        {
            retire = Some(format!("it handled max_jobs ({max}) ticks"));
        }
        if retire.is_some() || self.stopping {
            // While stopping, the caller tells it to stop as every other idle worker.
            self.workers.set_state(pid, WorkerState::Stopping);
        } else {
            self.workers.become_idle(pid, now);
        }
        let next = self.next_waiting(now);
        Ok(Finished {
            tick,
            took,
            retire,
            failed,
            next,
        })
    }

    /// Marks a busy worker to be retired when it answers; an idle one is retired at once
    /// (returns true: the caller tells it to stop). A withdrawn worker is leaving already.
    pub fn retire_soon(&mut self, pid: Pid, reason: String) -> bool {
        let Some(worker) = self.workers.get(pid) else {
            return false;
        };
        if !worker.reachable {
            return false;
        }
        match worker.state {
            // A starting one is told to stop as it is: it leaves after its handshake.
            WorkerState::Idle | WorkerState::Starting => {
                self.retire(pid);
                true
            }
            WorkerState::Busy { .. } => {
                self.workers.retire_after_tick(pid, reason);
                false
            }
            WorkerState::Stopping | WorkerState::Killed(_) => false,
        }
    }

    /// The worker is told to stop; its exit will be expected. A withdrawn worker cannot be
    /// told anything, and its exit stays what it is.
    pub fn retire(&mut self, pid: Pid) {
        if self.workers.get(pid).is_some_and(|w| w.reachable) {
            self.workers.set_state(pid, WorkerState::Stopping);
        }
    }

    /// The worker can take no tick any more (its channel closed); it stays in the pool,
    /// with its state, until it is reaped and removed, and never becomes idle again. It
    /// owes no handshake any more.
    pub fn withdraw(&mut self, pid: Pid) {
        self.workers.close(pid);
    }

    /// A worker of the pool is gone (reaped): its record with it. Returns it, so the caller
    /// can report the tick it held: a busy worker's tick counts as failed. Without overlap,
    /// a busy worker's end may let an idle one start a waiting tick: that comes back too.
    /// A killed worker is out of the pool already: see [`Pool::reap_killed`].
    pub fn remove(&mut self, pid: Pid, now: Mono) -> Option<Removed> {
        self.workers.get(pid)?;
        let worker = self.workers.remove(pid)?;
        Some(self.left(worker, now))
    }

    /// The master kills a worker of the pool: from now on it takes no tick and counts for
    /// nothing, whenever the kernel is done with it, and its record stays, killed, until it
    /// is reaped. Returns it as it was, as [`Pool::remove`] does.
    pub fn kill(&mut self, pid: Pid, killed: Killed, now: Mono) -> Option<Removed> {
        let worker = self.workers.kill(pid, killed)?;
        Some(self.left(worker, now))
    }

    /// A process the master started and killed before it joined the pool (it could not be
    /// watched): kept as a killed worker until it is reaped.
    pub fn add_killed(&mut self, pid: Pid, now: Mono, killed: Killed) {
        self.workers.join_killed(pid, now, killed);
    }

    /// A killed worker is reaped: its record goes, and why it was killed comes back.
    pub fn reap_killed(&mut self, pid: Pid) -> Option<Killed> {
        self.workers.killed(pid)?;
        match self.workers.remove(pid)?.state {
            WorkerState::Killed(killed) => Some(killed),
            _ => None,
        }
    }

    /// A worker left the pool: the tick it held fails.
    fn left(&mut self, worker: Worker, now: Mono) -> Removed {
        if let WorkerState::Busy { tick, since, .. } = worker.state {
            self.lane(tick.schedule)
                .ran(&tick, since, now, RunResult::Failed);
        }
        Removed {
            worker,
            next: self.next_waiting(now),
        }
    }

    /// A waiting tick for a worker that may start it now; none once stopping.
    fn next_waiting(&mut self, now: Mono) -> Option<Delivery> {
        if self.stopping {
            return None;
        }
        self.deliver_waiting(now)
    }

    /// Stop taking work: every idle or starting worker is retired (and returned, to be
    /// told so), and the waiting ticks are dropped (and returned, to be reported).
    pub fn begin_stop(&mut self) -> (Vec<Pid>, Vec<Tick>) {
        self.stopping = true;
        let mut told = self.workers.drain_idle();
        told.extend(self.workers.reachable_starting());
        for &pid in &told {
            self.workers.set_state(pid, WorkerState::Stopping);
        }
        let dropped = self.waiting.drain();
        for tick in &dropped {
            self.dropped(tick);
        }
        (told, dropped)
    }

    fn deliver_waiting(&mut self, now: Mono) -> Option<Delivery> {
        if self.waiting.is_empty() || self.held {
            return None;
        }
        if !self.workers.has_idle() {
            return None;
        }
        let (rules, workers) = (&self.policy.schedules, &self.workers);
        let tick = self
            .waiting
            .pop(|schedule| rules[schedule.index()].overlap || !workers.runs(schedule))?;
        let pid = self.workers.take_idle().expect("checked: a worker is idle");
        Some(self.deliver(pid, tick, now, true))
    }

    fn deliver(&mut self, pid: Pid, tick: Tick, now: Mono, waited: bool) -> Delivery {
        debug_assert!(
            self.workers.get(pid).is_some_and(|w| w.reachable),
            "idle workers exist and are reachable"
        );
        // A tick handed over ahead of its due instant starts then: its worker holds it.
        self.workers.set_state(
            pid,
            WorkerState::Busy {
                tick,
                since: now.max(tick.due),
                exec_ttl: self.rules(tick.schedule).exec_ttl,
                retire: None,
            },
        );
        let lane = self.lane(tick.schedule);
        if tick.manual {
            if tick.attempt == 1 {
                lane.stats.manual += 1;
                lane.stats.delivered += 1;
            }
            // The grid's ticks are told of the skips and the last tick, as if it had not run.
            return Delivery {
                pid,
                tick,
                skipped: 0,
                last_tick: lane.last_delivered.map(|t| t.due),
                waited,
            };
        }
        let delivery = Delivery {
            pid,
            tick,
            skipped: lane.skipped_since_delivery,
            last_tick: lane.last_delivered.map(|t| t.due),
            waited,
        };
        lane.skipped_since_delivery = 0;
        if tick.attempt == 1 {
            lane.last_delivered = Some(tick);
            lane.stats.delivered += 1;
        }
        delivery
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ExecTtl;
    use crate::schedule::zone::Zone;
    use crate::schedule::{Schedule, Ticker, WallClock};
    use crate::timetable::Setup;

    fn tick(n: u64) -> Tick {
        Tick::new(n, Mono(n * 1000))
    }

    fn delivered(arrival: Arrival) -> Delivery {
        match arrival {
            Arrival::Deliver(d) => d,
            other => panic!("expected a delivery, got {other:?}"),
        }
    }

    #[test]
    fn a_tick_goes_to_the_worker_that_became_idle_last() {
        let mut pool = Pool::new(Policy::default());
        for pid in 1..=3 {
            pool.add(pid, Mono(0));
        }
        // The one that joined last, and while it answers before the next tick, it again.
        let mut pids = vec![];
        for n in 0..3 {
            let d = delivered(pool.arrive(tick(n), Mono(n * 1000)));
            pids.push(d.pid);
            pool.finish(d.pid, Outcome::Done, Mono(n * 1000 + 10))
                .unwrap();
        }
        assert_eq!(pids, vec![3, 3, 3]);
        // While it is busy, the one idle since the most recent instant; the answer that
        // comes last decides who is next.
        assert_eq!(delivered(pool.arrive(tick(3), Mono(3000))).pid, 3);
        assert_eq!(delivered(pool.arrive(tick(4), Mono(3001))).pid, 2);
        pool.finish(2, Outcome::Done, Mono(3010)).unwrap();
        pool.finish(3, Outcome::Done, Mono(3020)).unwrap();
        assert_eq!(delivered(pool.arrive(tick(5), Mono(4000))).pid, 3);
        assert_eq!(delivered(pool.arrive(tick(6), Mono(4001))).pid, 2);
        assert_eq!(delivered(pool.arrive(tick(7), Mono(4002))).pid, 1);
        assert_eq!(pool.stats().completed, 5);
    }

    #[test]
    fn a_worker_that_leaves_the_idle_ones_keeps_the_others_in_their_order() {
        let mut pool = Pool::new(Policy::default());
        for pid in 1..=4 {
            pool.add(pid, Mono(0));
        }
        pool.withdraw(3);
        assert!(pool.retire_soon(2, "ttl".into()));
        let order: Vec<Pid> = (0..2)
            .map(|n| delivered(pool.arrive(tick(n), Mono(n))).pid)
            .collect();
        assert_eq!(order, vec![4, 1]);
        assert_eq!(pool.arrive(tick(2), Mono(2)), Arrival::Waiting);
    }

    #[test]
    fn headers_carry_the_previous_tick_and_the_skips_since() {
        let mut pool = Pool::new(Policy::default());
        pool.add(1, Mono(0));
        let first = delivered(pool.arrive(tick(0), Mono(0)));
        assert_eq!((first.last_tick, first.skipped), (None, 0));
        assert_eq!(pool.arrive(tick(1), Mono(1000)), Arrival::Waiting);
        assert_eq!(pool.arrive(tick(2), Mono(2000)), Arrival::Skipped);
        assert_eq!(pool.arrive(tick(3), Mono(3000)), Arrival::Skipped);
        let done = pool.finish(1, Outcome::Done, Mono(3500)).unwrap();
        let next = done
            .next
            .expect("the waiting tick goes to the freed worker");
        assert_eq!(
            next.tick.number, 1,
            "the tick that waited is the one delivered"
        );
        assert_eq!(next.last_tick, Some(Mono(0)));
        assert_eq!(next.skipped, 2);
        assert!(next.waited && !first.waited);
        let s = pool.stats();
        assert_eq!((s.due, s.delivered, s.skipped), (4, 2, 2));
        pool.finish(1, Outcome::Done, Mono(3600)).unwrap();
        let later = delivered(pool.arrive(tick(4), Mono(4000)));
        assert_eq!(later.skipped, 0, "the skip count restarts after a delivery");
        assert_eq!(later.last_tick, Some(Mono(1000)));
    }

    #[test]
    fn each_schedule_keeps_its_last_run_and_its_last_success() {
        let mut pool = Pool::new(policy(|p| {
            p.schedules = vec![SchedulePolicy::default(); 2];
        }));
        let beat = ScheduleId(1);
        let beat_tick = |n: u64, due: u64| Tick::of(beat, n, Mono(due), None);
        pool.add(1, Mono(0));
        pool.add(2, Mono(0));
        assert_eq!(pool.last_run(beat), None);
        assert_eq!(pool.last_success(beat), None);

        // A tick handed over early starts at its due instant: it took from there.
        let pid = delivered(pool.arrive(beat_tick(0, 1000), Mono(900))).pid;
        delivered(pool.arrive(tick(0), Mono(950)));
        pool.finish(pid, Outcome::Done, Mono(1250)).unwrap();
        let first = pool.last_run(beat).expect("beat ran");
        assert_eq!(
            first,
            LastRun {
                tick: 0,
                finished: Mono(1250),
                result: RunResult::Completed,
                took: Duration::from_nanos(250),
            }
        );
        assert_eq!(pool.last_success(beat), Some(Mono(1250)));
        assert_eq!(pool.last_run(ScheduleId(0)), None, "default still runs");

        // A failure is the last run; the last success stays.
        delivered(pool.arrive(beat_tick(1, 2000), Mono(2000)));
        pool.finish(pid, Outcome::Failed("no".into()), Mono(2100))
            .unwrap();
        let failed = pool.last_run(beat).unwrap();
        assert_eq!((failed.tick, failed.result), (1, RunResult::Failed));
        assert_eq!(failed.took, Duration::from_nanos(100));
        assert_eq!(pool.last_success(beat), Some(Mono(1250)));

        // A worker that leaves holding a tick fails it then.
        let other = if pid == 1 { 2 } else { 1 };
        pool.remove(other, Mono(3000)).unwrap();
        let gone = pool.last_run(ScheduleId(0)).unwrap();
        assert_eq!(
            (gone.result, gone.finished),
            (RunResult::Failed, Mono(3000))
        );
        assert_eq!(pool.last_success(ScheduleId(0)), None);
        assert_eq!(pool.schedule_stats(beat).completed, 1);
        assert_eq!(pool.schedule_stats(beat).failed, 1);

        // Every run that ended is in its own schedule's durations, and lateness goes where
        // it is told.
        assert_eq!(pool.run_durations_of(beat).histogram().count(), 2);
        assert_eq!(pool.run_durations_of(ScheduleId(0)).histogram().count(), 1);
        pool.record_lateness(beat, Duration::from_micros(30));
        assert_eq!(pool.lateness_of(beat).histogram().count(), 1);
        assert_eq!(pool.lateness_of(beat).histogram().sum_us, 30);
        assert_eq!(pool.lateness_of(ScheduleId(0)).histogram().count(), 0);
    }

    #[test]
    fn each_schedule_has_the_pools_exec_ttl_unless_it_sets_its_own() {
        let mut config = TickerConfig::default();
        config.pool.supervisor.exec_ttl = Some(Duration::from_secs(30));
        let own = |name: &str, ttl: ExecTtl| ScheduleConfig {
            exec_ttl: ttl,
            ..ScheduleConfig::every(name, Duration::from_secs(1), Missed::Skip)
        };
        config.schedules = vec![
            own("pools", ExecTtl::Pool),
            own("short", ExecTtl::Own(Some(Duration::from_secs(1)))),
            own("unlimited", ExecTtl::Own(None)),
        ];
        let ttls: Vec<Option<Duration>> = Policy::from_config(&config)
            .schedules
            .iter()
            .map(|s| s.exec_ttl)
            .collect();
        assert_eq!(
            ttls,
            [
                Some(Duration::from_secs(30)),
                Some(Duration::from_secs(1)),
                None
            ]
        );
    }

    #[test]
    fn a_shorter_exec_ttl_started_later_runs_out_first() {
        let ttl = |secs: Option<u64>| SchedulePolicy {
            exec_ttl: secs.map(Duration::from_secs),
            ..SchedulePolicy::default()
        };
        let mut pool = Pool::new(policy(|p| {
            p.schedules = vec![ttl(Some(10)), ttl(Some(2)), ttl(None)];
        }));
        for pid in 1..=3 {
            pool.add(pid, Mono(0));
        }
        let s = |secs: u64| Mono(secs * 1_000_000_000);
        let run = |pool: &mut Pool, schedule: u32, at: u64| {
            let tick = Tick::of(ScheduleId(schedule), 0, s(at), None);
            delivered(pool.arrive(tick, s(at))).pid
        };
        let slow = run(&mut pool, 0, 0);
        let quick = run(&mut pool, 1, 1);
        let unlimited = run(&mut pool, 2, 0);
        let run_out =
            |pool: &Pool, at: Mono| -> Vec<Pid> { pool.run_out(at).map(|w| w.pid).collect() };

        assert_eq!(
            pool.next_run_out(),
            Some(s(3)),
            "the quick one's, started later"
        );
        assert!(run_out(&pool, Mono(s(3).0 - 1)).is_empty());
        assert_eq!(run_out(&pool, s(3)), [quick]);
        assert_eq!(
            run_out(&pool, s(1_000)),
            [quick, slow],
            "never the unlimited one"
        );

        // Its answer takes it off: the next one to run out is the slow one.
        pool.finish(quick, Outcome::Done, s(2)).unwrap();
        assert_eq!(pool.next_run_out(), Some(s(10)));
        assert_eq!(run_out(&pool, s(1_000)), [slow]);
        pool.remove(slow, s(4)).unwrap();
        assert_eq!(pool.next_run_out(), None);
        assert!(
            pool.worker(unlimited)
                .is_some_and(|w| w.state.exec_deadline().is_none())
        );
    }

    #[test]
    fn a_run_handed_on_has_not_ended_and_a_skip_never_ran() {
        let mut pool = Pool::new(Policy::default());
        pool.add(2, Mono(0));
        pool.add(1, Mono(0));
        delivered(pool.arrive(tick(0), Mono(0)));
        let f = pool.finish(1, Outcome::StopRequested, Mono(10)).unwrap();
        assert_eq!(pool.last_run(ScheduleId(0)), None, "it runs again");
        assert_eq!(pool.arrive(tick(1), Mono(1000)), Arrival::Waiting);
        assert_eq!(pool.arrive(tick(2), Mono(2000)), Arrival::Skipped);
        assert_eq!(pool.last_run(ScheduleId(0)), None);
        // The re-run stops too: given up, it failed.
        let rerun = f.next.unwrap();
        pool.finish(rerun.pid, Outcome::StopRequested, Mono(2500))
            .unwrap();
        let last = pool.last_run(ScheduleId(0)).unwrap();
        assert_eq!((last.tick, last.result), (0, RunResult::Failed));
        assert_eq!(last.took, Duration::from_nanos(2490));
    }

    #[test]
    fn a_new_worker_takes_the_waiting_tick() {
        let mut pool = Pool::new(Policy::default());
        assert_eq!(pool.arrive(tick(0), Mono(0)), Arrival::Waiting);
        let d = pool.add(7, Mono(5)).expect("delivered on arrival");
        assert_eq!((d.pid, d.tick.number), (7, 0));
    }

    #[test]
    fn a_soft_error_counts_and_keeps_the_worker() {
        let mut pool = Pool::new(Policy::default());
        pool.add(1, Mono(0));
        pool.arrive(tick(0), Mono(0));
        let f = pool
            .finish(1, Outcome::Failed("boom".into()), Mono(1))
            .unwrap();
        assert!(f.failed && f.retire.is_none());
        assert_eq!(pool.worker(1).unwrap().state, WorkerState::Idle);
        assert_eq!(pool.stats().failed, 1);
    }

    #[test]
    fn a_stop_request_reruns_the_tick_once_on_another_worker() {
        let mut pool = Pool::new(Policy::default());
        pool.add(2, Mono(0));
        pool.add(1, Mono(0));
        let d = delivered(pool.arrive(tick(0), Mono(0)));
        assert_eq!(d.pid, 1);
        let f = pool.finish(1, Outcome::StopRequested, Mono(1)).unwrap();
        assert!(f.retire.is_some() && !f.failed);
        let rerun = f.next.expect("re-run at once on the idle worker");
        assert_eq!(
            (rerun.pid, rerun.tick.number, rerun.tick.attempt),
            (2, 0, 2)
        );
        // Stopping again on the re-run gives the tick up.
        let f2 = pool.finish(2, Outcome::StopRequested, Mono(2)).unwrap();
        assert!(f2.failed && f2.next.is_none());
        assert_eq!(
            pool.stats().delivered,
            1,
            "a re-run is not a second delivery"
        );
        assert_eq!(pool.serving(), 0);
    }

    #[test]
    fn max_jobs_retires_a_worker_after_its_last_tick() {
        let mut pool = Pool::new(Policy {
            max_jobs: Some(2),
            ..Policy::default()
        });
        pool.add(1, Mono(0));
        for n in 0..2 {
            pool.arrive(tick(n), Mono(n));
            let f = pool.finish(1, Outcome::Done, Mono(n + 1)).unwrap();
            assert_eq!(f.retire.is_some(), n == 1);
        }
        assert_eq!(pool.worker(1).unwrap().state, WorkerState::Stopping);
        assert_eq!(pool.arrive(tick(2), Mono(3)), Arrival::Waiting);
    }

    #[test]
    fn removing_a_busy_worker_fails_its_tick() {
        let mut pool = Pool::new(Policy::default());
        pool.add(1, Mono(0));
        pool.arrive(tick(0), Mono(0));
        let gone = pool.remove(1, Mono(1)).unwrap().worker;
        assert!(matches!(gone.state, WorkerState::Busy { tick, .. } if tick.number == 0));
        assert_eq!(pool.stats().failed, 1);
        assert!(pool.is_empty());
    }

    #[test]
    fn answers_from_idle_or_unknown_workers_are_errors() {
        let mut pool = Pool::new(Policy::default());
        pool.add(1, Mono(0));
        assert_eq!(
            pool.finish(1, Outcome::Done, Mono(1)),
            Err(PoolError::NotBusy(1))
        );
        assert_eq!(
            pool.finish(9, Outcome::Done, Mono(1)),
            Err(PoolError::UnknownWorker(9))
        );
    }

    #[test]
    fn after_stop_a_worker_that_asks_to_stop_gets_no_rerun_and_nobody_gets_work() {
        let mut pool = Pool::new(Policy::default());
        pool.add(1, Mono(0));
        pool.add(2, Mono(0));
        pool.arrive(tick(0), Mono(0));
        pool.arrive(tick(1), Mono(1));
        pool.begin_stop();
        let f = pool.finish(1, Outcome::StopRequested, Mono(2)).unwrap();
        assert!(f.failed, "no re-run while stopping: the tick fails");
        assert_eq!(pool.stats().failed, 1);
        let f = pool.finish(2, Outcome::Done, Mono(3)).unwrap();
        assert!(f.next.is_none());
        assert_eq!(pool.worker(2).unwrap().state, WorkerState::Stopping);
        assert_eq!(pool.waiting(), 0);
    }

    #[test]
    fn without_overlap_removing_the_busy_worker_lets_the_waiting_tick_start() {
        let mut pool = Pool::new(policy(|p| p.schedules[0].overlap = false));
        pool.add(2, Mono(0));
        pool.add(1, Mono(0));
        delivered(pool.arrive(tick(0), Mono(0)));
        assert_eq!(pool.arrive(tick(1), Mono(1)), Arrival::Waiting);
        let next = pool.remove(1, Mono(2)).unwrap().next;
        let next = next.expect("worker 2 may start now");
        assert_eq!((next.pid, next.tick.number), (2, 1));
    }

    #[test]
    fn a_withdrawn_worker_gets_no_tick() {
        let mut pool = Pool::new(Policy::default());
        pool.add(1, Mono(0));
        pool.withdraw(1);
        assert!(!pool.can_start(ScheduleId(0)));
        assert_eq!(pool.arrive(tick(0), Mono(0)), Arrival::Waiting);
        assert_eq!(pool.worker(1).unwrap().state, WorkerState::Idle);
    }

    #[test]
    fn stopping_retires_idle_workers_and_drops_waiting_ticks() {
        let mut pool = Pool::new(Policy::default());
        pool.add(1, Mono(0));
        pool.add(2, Mono(0));
        pool.arrive(tick(0), Mono(0));
        pool.arrive(tick(1), Mono(1));
        assert_eq!(pool.arrive(tick(2), Mono(2)), Arrival::Waiting);
        let (idle, dropped) = pool.begin_stop();
        assert!(idle.is_empty(), "both workers are busy");
        assert_eq!(dropped, vec![tick(2)]);
        let f = pool.finish(1, Outcome::Done, Mono(3)).unwrap();
        assert!(f.next.is_none(), "nothing is delivered after stop");
    }

    fn policy(f: impl FnOnce(&mut Policy)) -> Policy {
        let mut p = Policy::default();
        f(&mut p);
        p
    }

    #[test]
    fn without_overlap_ticks_run_one_at_a_time() {
        let mut pool = Pool::new(policy(|p| p.schedules[0].overlap = false));
        pool.add(2, Mono(0));
        pool.add(1, Mono(0));
        delivered(pool.arrive(tick(0), Mono(0)));
        assert_eq!(
            pool.arrive(tick(1), Mono(1)),
            Arrival::Waiting,
            "worker 2 is idle but tick 0 still runs"
        );
        let f = pool.finish(1, Outcome::Done, Mono(2)).unwrap();
        let next = f.next.expect("the waiting tick starts when tick 0 ends");
        assert_eq!(next.tick.number, 1);
    }

    #[test]
    fn a_burst_queue_keeps_every_missed_tick_up_to_its_limit() {
        let mut pool = Pool::new(policy(|p| p.schedules[0].queue_limit = Some(3)));
        pool.add(1, Mono(0));
        delivered(pool.arrive(tick(0), Mono(0)));
        for n in 1..=3 {
            assert_eq!(pool.arrive(tick(n), Mono(n)), Arrival::Waiting);
        }
        assert_eq!(pool.arrive(tick(4), Mono(4)), Arrival::Skipped);
        let mut order = vec![];
        let mut pid_tick = pool.finish(1, Outcome::Done, Mono(5)).unwrap().next;
        while let Some(d) = pid_tick {
            order.push(d.tick.number);
            pid_tick = pool.finish(1, Outcome::Done, Mono(6)).unwrap().next;
        }
        assert_eq!(order, vec![1, 2, 3], "oldest first, none lost");
    }

    #[test]
    fn waiting_ticks_expire_after_the_allocate_timeout() {
        let mut pool = Pool::new(policy(|p| p.allocate_timeout = Duration::from_nanos(100)));
        assert_eq!(pool.arrive(tick(0), Mono(1000)), Arrival::Waiting);
        assert_eq!(pool.next_expiry(), Some(Mono(1100)));
        assert!(pool.expire_waiting(Mono(1099)).is_empty());
        assert_eq!(pool.expire_waiting(Mono(1100)), vec![tick(0)]);
        assert_eq!(pool.stats().skipped, 1);
        assert!(pool.add(1, Mono(1200)).is_none(), "nothing left to deliver");
        let d = delivered(pool.arrive(tick(1), Mono(1300)));
        assert_eq!(d.skipped, 1, "the expired tick shows in the next header");
    }

    #[test]
    fn a_rerun_goes_before_a_backlog_and_both_expire_oldest_first() {
        let mut pool = Pool::new(policy(|p| {
            p.schedules[0].queue_limit = None;
            p.allocate_timeout = Duration::from_nanos(100);
        }));
        pool.add(2, Mono(0));
        pool.add(1, Mono(0));
        delivered(pool.arrive(tick(0), Mono(0)));
        delivered(pool.arrive(tick(1), Mono(0)));
        for n in 2..5 {
            assert_eq!(pool.arrive(tick(n), Mono(n)), Arrival::Waiting);
        }
        // Worker 1 stops holding tick 0: its re-run jumps the backlog, and it counts apart
        // from the queue limit.
        let f = pool.finish(1, Outcome::StopRequested, Mono(10)).unwrap();
        assert!(f.next.is_none(), "no idle worker");
        assert_eq!(pool.waiting(), 4);
        assert_eq!(pool.next_expiry(), Some(Mono(102)), "tick 2 waited longest");
        assert_eq!(pool.expire_waiting(Mono(103)), vec![tick(2), tick(3)]);
        let next = pool.finish(2, Outcome::Done, Mono(104)).unwrap().next;
        let next = next.expect("the re-run goes first");
        assert_eq!((next.tick.number, next.tick.attempt), (0, 2));
        assert_eq!(pool.expire_waiting(Mono(200)), vec![tick(4)]);
        assert_eq!(pool.stats().skipped, 3);
        assert_eq!(pool.waiting(), 0);
    }

    #[test]
    fn retire_soon_retires_idle_workers_now_and_busy_ones_after_their_tick() {
        let mut pool = Pool::new(Policy::default());
        pool.add(2, Mono(0));
        pool.add(1, Mono(0));
        delivered(pool.arrive(tick(0), Mono(0)));
        assert!(!pool.retire_soon(1, "ttl".into()), "busy: later");
        assert!(pool.retire_soon(2, "ttl".into()), "idle: now");
        assert_eq!(pool.serving(), 1);
        let f = pool.finish(1, Outcome::Done, Mono(1)).unwrap();
        assert_eq!(f.retire.as_deref(), Some("ttl"));
        assert_eq!(pool.serving(), 0);
    }

    #[test]
    fn a_starting_worker_serves_but_takes_no_tick_until_it_is_ready() {
        let mut pool = Pool::new(Policy::default());
        pool.add_starting(1, Mono(0), None);
        assert_eq!((pool.serving(), pool.starting()), (1, 1));
        assert!(!pool.can_start(ScheduleId(0)));
        assert_eq!(pool.arrive(tick(0), Mono(5)), Arrival::Waiting);
        let d = pool.ready(1, Mono(7)).expect("the waiting tick, at once");
        assert_eq!((d.pid, d.tick.number, d.waited), (1, 0, true));
        assert_eq!(pool.starting(), 0);
        assert_eq!(pool.ready(1, Mono(8)), None, "ready once");
        assert_eq!(
            pool.worker(1).unwrap().started,
            Mono(0),
            "its age counts from its start"
        );

        // Told to stop while starting: it stays stopping when its handshake comes.
        pool.add_starting(2, Mono(10), None);
        assert!(pool.retire_soon(2, "the pool shrinks".into()));
        assert_eq!(pool.ready(2, Mono(11)), None);
        assert_eq!(pool.worker(2).unwrap().state, WorkerState::Stopping);

        // A stopping pool stops starting workers too.
        pool.add_starting(3, Mono(12), None);
        let (told, _) = pool.begin_stop();
        assert!(told.contains(&3), "{told:?}");
        assert_eq!(pool.ready(3, Mono(13)), None);
        assert_eq!(pool.worker(3).unwrap().state, WorkerState::Stopping);
    }

    #[test]
    fn a_starting_worker_that_leaves_fails_nothing() {
        let mut pool = Pool::new(Policy::default());
        pool.add_starting(1, Mono(0), None);
        let removed = pool.remove(1, Mono(1)).unwrap();
        assert_eq!(removed.worker.state, WorkerState::Starting);
        assert_eq!(pool.stats(), Stats::default());
    }

    /// One schedule whose tick `n` is due at `n × 1000` ns.
    fn grid(missed: Missed) -> Timetable {
        let schedule = ScheduleConfig::every("default", Duration::from_nanos(1000), missed);
        let utc = Zone::lookup("UTC").unwrap();
        let clock = WallClock::new(Mono(0), Duration::ZERO);
        let setup = Setup {
            schedules: std::slice::from_ref(&schedule),
            fallback_zone: &utc,
            fallback_origin: "UTC",
        };
        let mut timetable = Timetable::new(&setup, clock);
        timetable.start(Mono(0), clock);
        let ticker = Ticker::new(Schedule::new(Mono(0), Duration::from_nanos(1000)));
        timetable.replace_ticker(ScheduleId(0), ticker, clock);
        timetable
    }

    fn pool_for(missed: Missed) -> Pool {
        Pool::new(Policy::single(SchedulePolicy::new(missed, true, None)))
    }

    fn outcomes(arrivals: Vec<(Tick, Arrival)>) -> Vec<(u64, Arrival)> {
        arrivals.into_iter().map(|(t, a)| (t.number, a)).collect()
    }

    #[test]
    fn due_ticks_arrive_in_order_and_skip_beyond_the_queue() {
        let mut pool = pool_for(Missed::Skip);
        let mut ticker = grid(Missed::Skip);
        pool.add(1, Mono(0));
        let got = outcomes(pool.arrive_due(&mut ticker, Mono(3500), Mono(3500)));
        assert!(matches!(got[0], (0, Arrival::Deliver(d)) if d.pid == 1));
        assert_eq!(
            got[1..],
            [
                (1, Arrival::Waiting),
                (2, Arrival::Skipped),
                (3, Arrival::Skipped)
            ]
        );
        assert_eq!(ticker.next_due(), Some(Mono(4000)));
    }

    #[test]
    fn a_tick_the_gate_refuses_and_those_after_it_go_back_to_the_ticker() {
        let mut pool = pool_for(Missed::Burst);
        let mut ticker = grid(Missed::Burst);
        let got: Vec<u64> = pool
            .arrive_due_while(&mut ticker, Mono(3500), Mono(3500), |t| t.number < 2)
            .into_iter()
            .map(|(t, _)| t.number)
            .collect();
        assert_eq!(got, [0, 1]);
        assert_eq!(
            pool.stats().due,
            2,
            "refused ticks have not come due for the pool"
        );
        assert_eq!(
            ticker.next_due(),
            Some(Mono(2000)),
            "tick 2 is asked about again"
        );
        let rest = outcomes(pool.arrive_due(&mut ticker, Mono(3500), Mono(3500)));
        assert_eq!(rest.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn under_delay_the_first_tick_that_waits_holds_the_grid() {
        let mut pool = pool_for(Missed::Delay);
        let mut ticker = grid(Missed::Delay);
        pool.add(1, Mono(0));
        let got = outcomes(pool.arrive_due(&mut ticker, Mono(3500), Mono(3500)));
        assert_eq!(got.len(), 2, "ticks 2 and 3 did not happen: {got:?}");
        assert_eq!(got[1], (1, Arrival::Waiting));
        assert_eq!(ticker.next_due(), None, "the grid is held");
        assert_eq!(pool.stats().skipped, 0);
        // Tick 1 goes out when the worker answers; the grid restarts one interval later.
        let next = pool
            .finish(1, Outcome::Done, Mono(7000))
            .unwrap()
            .next
            .unwrap();
        assert_eq!(next.tick.number, 1);
        assert!(next.waited && ticker.release(ScheduleId(0), Mono(7000)));
        let got = outcomes(pool.arrive_due(&mut ticker, Mono(8000), Mono(8000)));
        assert_eq!(
            got,
            [(2, Arrival::Waiting)],
            "tick 2 is due at 8000, not 2000"
        );
    }

    #[test]
    fn held_waiting_ticks_stay_until_dropped_and_count_as_skipped() {
        let mut pool = Pool::new(Policy::default());
        pool.add(1, Mono(0));
        delivered(pool.arrive(tick(0), Mono(0)));
        assert_eq!(pool.arrive(tick(1), Mono(1)), Arrival::Waiting);
        pool.hold(true);
        // The worker frees up, and the waiting tick stays where it is.
        let finished = pool.finish(1, Outcome::StopRequested, Mono(2)).unwrap();
        assert_eq!(finished.next, None);
        assert_eq!(pool.add(2, Mono(3)), None);
        assert_eq!(pool.waiting(), 2, "tick 1, and tick 0's re-run");
        let dropped = pool.drop_waiting();
        assert_eq!(dropped.len(), 2);
        assert_eq!((pool.stats().skipped, pool.stats().failed), (1, 1));
        pool.hold(false);
        pool.skip(ScheduleId(0), 3);
        let d = delivered(pool.arrive(tick(5), Mono(4)));
        assert_eq!(d.skipped, 4, "the dropped tick and the three skipped");
        assert_eq!((pool.stats().due, pool.stats().skipped), (6, 4));
    }

    #[test]
    fn debug_mode_is_one_tick_per_worker() {
        let mut config = TickerConfig::default();
        config.pool.debug = true;
        assert_eq!(Policy::from_config(&config).max_jobs, Some(1));
        config.schedules[0].missed = Missed::Burst;
        assert_eq!(Policy::from_config(&config).schedules[0].queue_limit, None);
        config.schedules[0].missed = Missed::Skip;
        config.pool.max_queue_size = Some(4);
        assert_eq!(
            Policy::from_config(&config).schedules[0].queue_limit,
            Some(4)
        );
    }

    #[test]
    fn a_killed_worker_takes_no_tick_and_its_tick_fails_at_the_kill() {
        let mut pool = Pool::new(Policy::default());
        pool.add(2, Mono(0));
        pool.add(1, Mono(0));
        let first = delivered(pool.arrive(tick(0), Mono(0)));
        assert_eq!(first.pid, 1);
        pool.finish(1, Outcome::Done, Mono(1)).unwrap();
        // Worker 1 became idle last, so the next tick is its; the master kills it.
        let gone = pool.kill(1, killed(9000), Mono(2)).unwrap();
        assert_eq!(gone.worker.state, WorkerState::Idle);
        for n in 1..4 {
            let d = delivered(pool.arrive(tick(n), Mono(n * 1000)));
            assert_eq!(d.pid, 2, "tick {n} goes to the live worker");
            pool.finish(2, Outcome::Done, Mono(n * 1000 + 1)).unwrap();
        }
        // A busy worker killed fails its tick at once, not when the kernel is done with it.
        delivered(pool.arrive(tick(4), Mono(4000)));
        pool.kill(2, killed(9001), Mono(4001)).unwrap();
        let s = pool.stats();
        assert_eq!((s.delivered, s.completed, s.failed), (5, 4, 1));
        assert_eq!(pool.arrive(tick(5), Mono(5000)), Arrival::Waiting);
        let s = pool.stats();
        // Both are out of the pool, and known until reaped.
        assert!(pool.is_empty() && pool.serving() == 0 && pool.workers().next().is_none());
        assert!(pool.worker(1).is_none() && pool.knows(1));
        assert_eq!(pool.killed_until(), Some(Mono(9001)));
        assert_eq!(pool.remove(1, Mono(5001)), None, "not in the pool");
        assert_eq!(pool.reap_killed(1), Some(killed(9000)));
        assert_eq!(pool.reap_killed(2).map(|k| k.wait_until), Some(Mono(9001)));
        assert!(!pool.knows(1) && pool.killed_until().is_none());
        assert_eq!(pool.stats(), s, "a reap changes no count");
    }

    #[test]
    fn a_manual_run_starts_at_once_or_is_refused_and_counts_apart_from_due() {
        let mut pool = Pool::new(policy(|p| p.schedules[0].overlap = false));
        assert_eq!(
            pool.run_now(ScheduleId(0), Mono(0)),
            Err(Refusal::NoIdleWorker)
        );
        pool.add(1, Mono(0));
        pool.add(2, Mono(0));
        // Tick 0 went out; tick 1 was skipped: the next tick of the grid says so.
        let first = delivered(pool.arrive(tick(0), Mono(0)));
        pool.finish(first.pid, Outcome::Done, Mono(1)).unwrap();
        pool.skip(ScheduleId(0), 1);
        let run = pool.run_now(ScheduleId(0), Mono(500)).unwrap();
        assert!(run.tick.manual && !run.waited);
        assert_eq!((run.tick.number, run.tick.due), (1, Mono(500)));
        assert_eq!((run.skipped, run.last_tick), (0, Some(Mono(0))));
        assert_eq!(
            pool.run_now(ScheduleId(0), Mono(501)),
            Err(Refusal::Running),
            "without overlap, one run at a time, manual or not"
        );
        assert_eq!(pool.arrive(tick(2), Mono(2000)), Arrival::Waiting);
        let f = pool.finish(run.pid, Outcome::Done, Mono(2001)).unwrap();
        assert!(f.tick.manual);
        let next = f.next.expect("the waiting tick starts");
        assert_eq!(next.tick.number, 2);
        assert_eq!(
            (next.skipped, next.last_tick),
            (1, Some(Mono(0))),
            "the grid's header state is as if the manual run had not been"
        );
        let s = pool.stats();
        assert_eq!((s.due, s.manual, s.delivered), (3, 1, 3));
        assert_eq!(s.due + s.manual, s.delivered + s.skipped);
        assert_eq!(
            pool.run_now(ScheduleId(0), Mono(3000)),
            Err(Refusal::Running)
        );
        pool.finish(next.pid, Outcome::Done, Mono(3001)).unwrap();
        assert_eq!(
            pool.run_now(ScheduleId(0), Mono(3002)).unwrap().tick.number,
            2,
            "manual runs are numbered on their own"
        );
        pool.begin_stop();
        assert_eq!(
            pool.run_now(ScheduleId(0), Mono(4000)),
            Err(Refusal::Stopping)
        );
    }

    fn killed(until: u64) -> Killed {
        Killed {
            why: "limit".into(),
            wait_until: Mono(until),
        }
    }

    #[test]
    fn a_worker_of_the_pool_is_not_reaped_as_a_killed_one() {
        let mut pool = Pool::new(Policy::default());
        pool.add(1, Mono(0));
        assert_eq!(pool.reap_killed(1), None);
        assert_eq!(pool.len(), 1);
        pool.add_killed(2, Mono(1), killed(5));
        assert_eq!((pool.len(), pool.serving()), (1, 1), "it never joined");
        assert_eq!(pool.unreaped().map(|(pid, _)| pid).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn a_withdrawn_worker_never_becomes_idle_again() {
        let mut pool = Pool::new(Policy::default());
        pool.add(1, Mono(0));
        delivered(pool.arrive(tick(0), Mono(0)));
        pool.withdraw(1);
        assert_eq!(
            pool.finish(1, Outcome::Done, Mono(1)),
            Err(PoolError::Withdrawn(1))
        );
        assert!(
            !pool.retire_soon(1, "ttl".into()),
            "nothing can be told to it"
        );
        pool.retire(1);
        assert!(matches!(
            pool.worker(1).unwrap().state,
            WorkerState::Busy { .. }
        ));
        assert_eq!(pool.arrive(tick(1), Mono(1000)), Arrival::Waiting);
        let gone = pool.remove(1, Mono(2000)).unwrap();
        assert!(gone.next.is_none());
        assert_eq!(pool.stats().failed, 1, "its tick failed when it left");
    }
}

/// Random sequences of events, as the master feeds them: the accounting stays exact after
/// each one, only reachable workers take ticks, no tick is delivered twice, a killed worker
/// is out of the pool, untouched by any event, until it is reaped, and the workers a reset
/// replaces are those of its start not stopping then, until they leave.
/// `PROPTEST_CASES` sets how many sequences run (256 by default).
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    #[derive(Debug, Clone)]
    enum Event {
        Add,
        /// A worker joins that is not ready yet (a command-started one, before its handshake,
        /// which it owes within this many ns).
        AddStarting(u64),
        /// The worker at this index (modulo the pool) is ready, if it was starting.
        Ready(usize),
        /// A tick of the schedule at this index (modulo the schedules) comes due.
        Arrive(usize),
        /// The worker at this index (modulo the pool) answers: done, failed or stop.
        Answer(usize, u8),
        /// Its channel closes: it has a grace to exit, unless it was told to stop.
        Close(usize),
        /// The master tells it to stop, with a time to exit.
        Tell(usize),
        /// The master kills it.
        Kill(usize),
        /// It is reaped, killed or not.
        Reap(usize),
        /// A limit or a reset retires it.
        Retire(usize),
        /// Time passes; waiting ticks may expire.
        Wait(u64),
        /// A cluster instance loses the lease (waiting ticks stay) or gets it back.
        Hold(bool),
        /// An operator asks for a run of the schedule at this index (modulo the schedules).
        RunNow(usize),
        /// A rolling reset begins.
        Reset,
        Stop,
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            2 => Just(Event::Add),
            1 => (1u64..400).prop_map(Event::AddStarting),
            2 => any::<usize>().prop_map(Event::Ready),
            6 => any::<usize>().prop_map(Event::Arrive),
            6 => (any::<usize>(), 0u8..3).prop_map(|(i, o)| Event::Answer(i, o)),
            1 => any::<usize>().prop_map(Event::Close),
            1 => any::<usize>().prop_map(Event::Tell),
            1 => any::<usize>().prop_map(Event::Kill),
            1 => any::<usize>().prop_map(Event::Reap),
            1 => any::<usize>().prop_map(Event::Retire),
            2 => (1u64..300).prop_map(Event::Wait),
            1 => any::<bool>().prop_map(Event::Hold),
            1 => any::<usize>().prop_map(Event::RunNow),
            1 => Just(Event::Reset),
            1 => Just(Event::Stop),
        ]
    }

    fn policy() -> impl Strategy<Value = Policy> {
        let schedule = (
            proptest::option::of(1usize..4),
            any::<bool>(),
            proptest::option::of(1u64..300),
        )
            .prop_map(|(queue_limit, overlap, exec_ttl)| SchedulePolicy {
                missed: Missed::Skip,
                queue_limit,
                overlap,
                exec_ttl: exec_ttl.map(Duration::from_nanos),
            });
        (
            proptest::option::of(1u64..5),
            proptest::collection::vec(schedule, 1..4),
            50u64..500,
        )
            .prop_map(|(max_jobs, schedules, timeout)| Policy {
                max_jobs,
                schedules,
                allocate_timeout: Duration::from_nanos(timeout),
            })
    }

    struct Run {
        pool: Pool,
        now: Mono,
        next_pid: Pid,
        /// The next tick number of each schedule.
        next_tick: Vec<u64>,
        delivered_first: BTreeSet<(ScheduleId, u64)>,
        /// The manual runs delivered, first attempts: each schedule's numbered from 1.
        delivered_manual: BTreeSet<(ScheduleId, u64)>,
        /// The workers killed and not reaped, with until when they are waited for: what
        /// the test did, against which the pool's records are checked.
        killed: BTreeMap<Pid, Mono>,
        /// The workers the last reset is to replace and that are still in the pool.
        outdated: BTreeSet<Pid>,
    }

    impl Run {
        /// A process of the pool: a worker of it, or one killed and not reaped, which any
        /// event may name (a late frame, a reap) and none but the reap may change.
        fn pick(&self, i: usize) -> Option<Pid> {
            let pids: Vec<Pid> = self
                .pool
                .workers()
                .map(|w| w.pid)
                .chain(self.killed.keys().copied())
                .collect();
            (!pids.is_empty()).then(|| pids[i % pids.len()])
        }

        /// The master kills a worker, as for a limit or a deadline.
        fn kill(&mut self, pid: Pid) -> Result<(), TestCaseError> {
            let wait_until = self.now + Duration::from_nanos(500);
            let why = "limit".to_string();
            if let Some(r) = self.pool.kill(pid, Killed { why, wait_until }, self.now) {
                prop_assert!(!r.worker.is_killed(), "{pid} killed twice");
                self.killed.insert(pid, wait_until);
                self.outdated.remove(&pid);
                self.took(r.next)?;
            }
            Ok(())
        }

        fn took(&mut self, delivery: Option<Delivery>) -> Result<(), TestCaseError> {
            let Some(d) = delivery else {
                return Ok(());
            };
            let worker = self.pool.worker(d.pid);
            prop_assert!(
                worker.is_some_and(|w| w.reachable),
                "{d:?} to a worker the master cannot reach"
            );
            prop_assert!(!(self.pool.held && d.waited), "{d:?} while held");
            prop_assert!(
                matches!(worker, Some(w) if matches!(w.state, WorkerState::Busy { tick, .. } if tick == d.tick)),
                "{d:?} to {worker:?}"
            );
            if d.tick.attempt == 1 {
                let delivered = if d.tick.manual {
                    &mut self.delivered_manual
                } else {
                    &mut self.delivered_first
                };
                prop_assert!(
                    delivered.insert((d.tick.schedule, d.tick.number)),
                    "{d:?} twice"
                );
            }
            Ok(())
        }

        fn apply(&mut self, event: Event) -> Result<(), TestCaseError> {
            match event {
                Event::Add if !self.pool.stopping => {
                    self.next_pid += 1;
                    let d = self.pool.add(self.next_pid, self.now);
                    self.took(d)?;
                }
                Event::AddStarting(timeout) if !self.pool.stopping => {
                    self.next_pid += 1;
                    let timeout = Duration::from_nanos(timeout);
                    self.pool
                        .add_starting(self.next_pid, self.now, Some(timeout));
                }
                Event::Ready(i) => {
                    if let Some(pid) = self.pick(i) {
                        self.pool.answer_handshake(pid);
                        let d = self.pool.ready(pid, self.now);
                        self.took(d)?;
                    }
                }
                Event::Arrive(i) if !self.pool.stopping => {
                    let schedule = i % self.next_tick.len();
                    let tick = Tick::of(
                        ScheduleId(schedule as u32),
                        self.next_tick[schedule],
                        self.now,
                        None,
                    );
                    self.next_tick[schedule] += 1;
                    if let Arrival::Deliver(d) = self.pool.arrive(tick, self.now) {
                        self.took(Some(d))?;
                    }
                }
                Event::Answer(i, o) => {
                    if let Some(pid) = self.pick(i) {
                        let outcome = match o {
                            0 => Outcome::Done,
                            1 => Outcome::Failed("boom".into()),
                            _ => Outcome::StopRequested,
                        };
                        if let Ok(f) = self.pool.finish(pid, outcome, self.now) {
                            self.took(f.next)?;
                        }
                    }
                }
                Event::Close(i) => {
                    if let Some(pid) = self.pick(i) {
                        let told = self
                            .pool
                            .worker(pid)
                            .is_some_and(|w| w.state == WorkerState::Stopping);
                        self.pool.withdraw(pid);
                        if !told {
                            let kill_at = self.now + Duration::from_nanos(100);
                            let why = Why::ChannelClosed;
                            self.pool.leaving(pid, Leaving { kill_at, why });
                        }
                    }
                }
                Event::Tell(i) => {
                    if let Some(pid) = self.pick(i)
                        && self.pool.retire_soon(pid, "limit".into())
                    {
                        let kill_at = self.now + Duration::from_nanos(200);
                        let why = Why::ToldToStop;
                        self.pool.leaving(pid, Leaving { kill_at, why });
                    }
                }
                Event::Kill(i) => {
                    if let Some(pid) = self.pick(i) {
                        self.kill(pid)?;
                    }
                }
                Event::Reap(i) => {
                    if let Some(pid) = self.pick(i) {
                        let was_killed = self.killed.remove(&pid);
                        let reaped = self.pool.reap_killed(pid).map(|k| k.wait_until);
                        prop_assert_eq!(reaped, was_killed, "{} reaped as killed", pid);
                        if let Some(r) = self.pool.remove(pid, self.now) {
                            prop_assert!(was_killed.is_none(), "{} reaped twice", pid);
                            self.outdated.remove(&pid);
                            self.took(r.next)?;
                        }
                    }
                }
                Event::Retire(i) => {
                    if let Some(pid) = self.pick(i) {
                        self.pool.retire_soon(pid, "limit".into());
                    }
                }
                Event::Wait(ns) => {
                    self.now = Mono(self.now.0 + ns);
                    self.pool.expire_waiting(self.now);
                    // The master kills whatever ran out of time (a worker may come twice: its
                    // handshake and its time to exit; the second finds it killed).
                    for (pid, _) in self.pool.take_overdue(self.now) {
                        self.kill(pid)?;
                    }
                    prop_assert!(
                        self.pool.next_deadline().is_none_or(|at| at > self.now),
                        "a deadline passed and was not taken"
                    );
                }
                Event::Hold(held) => self.pool.hold(held),
                Event::RunNow(i) => {
                    let schedule = ScheduleId((i % self.next_tick.len()) as u32);
                    let could =
                        self.pool.can_start(schedule) && !self.pool.stopping && !self.pool.held;
                    let before = self.pool.stats();
                    match self.pool.run_now(schedule, self.now) {
                        Ok(d) => {
                            prop_assert!(could && d.tick.manual && !d.waited, "{d:?}");
                            let nth = self.pool.schedule_stats(schedule).manual;
                            prop_assert_eq!(d.tick.number, nth);
                            self.took(Some(d))?;
                        }
                        Err(why) => {
                            prop_assert!(!could, "refused ({why}) with a worker free");
                            prop_assert_eq!(self.pool.stats(), before, "a refusal counts nothing");
                        }
                    }
                }
                Event::Reset => {
                    self.outdated = self
                        .pool
                        .workers()
                        .filter(|w| w.state != WorkerState::Stopping)
                        .map(|w| w.pid)
                        .collect();
                    self.pool.begin_generation();
                }
                Event::Stop => {
                    self.pool.begin_stop();
                }
                Event::Add | Event::AddStarting(_) | Event::Arrive(_) => {}
            }
            self.check()
        }

        fn check(&self) -> Result<(), TestCaseError> {
            let pool = &self.pool;
            let s = pool.stats();
            let running = pool
                .workers()
                .filter(|w| matches!(w.state, WorkerState::Busy { .. }))
                .count() as u64;
            let waiting_first = pool.waiting.first.len() as u64;
            let waiting_reruns = pool.waiting.reruns.len() as u64;
            prop_assert_eq!(
                s.due + s.manual,
                s.delivered + s.skipped + waiting_first,
                "{:?}",
                s
            );
            prop_assert_eq!(
                s.delivered,
                s.completed + s.failed + running + waiting_reruns,
                "{:?}, {} running, {} re-runs waiting",
                s,
                running,
                waiting_reruns
            );
            // And so for each schedule; a schedule without overlap runs one tick at a time,
            // and never has more first attempts waiting than its queue limit.
            for (i, rules) in pool.policy.schedules.iter().enumerate() {
                let id = ScheduleId(i as u32);
                let s = pool.schedule_stats(id);
                let of = |t: &&(Tick, Mono)| t.0.schedule == id;
                let waiting_first = pool.waiting.first.iter().filter(of).count();
                let waiting_reruns = pool.waiting.reruns.iter().filter(of).count() as u64;
                let running = pool
                    .workers()
                    .filter(|w| matches!(w.state, WorkerState::Busy { tick, .. } if tick.schedule == id))
                    .count() as u64;
                prop_assert_eq!(pool.waiting.first_attempts(id), waiting_first);
                prop_assert_eq!(
                    s.due + s.manual,
                    s.delivered + s.skipped + waiting_first as u64
                );
                prop_assert_eq!(
                    s.delivered,
                    s.completed + s.failed + running + waiting_reruns
                );
                prop_assert!(
                    rules.overlap || running <= 1,
                    "{} of {:?} run at once",
                    running,
                    id
                );
                prop_assert!(rules.queue_limit.is_none_or(|limit| waiting_first <= limit));
                prop_assert_eq!(pool.workers.runs(id), running > 0);
            }
            // Every index over the workers is what their records say.
            if let Err(broken) = pool.workers.check() {
                prop_assert!(false, "{broken}: {:?}", pool.workers);
            }
            // The killed workers are those the master killed and did not reap, each kept with
            // its wait, and none of them is in the pool or in its counts.
            let unreaped: BTreeMap<Pid, Mono> = pool
                .unreaped()
                .map(|(pid, k)| (pid, k.wait_until))
                .collect();
            prop_assert_eq!(&unreaped, &self.killed);
            prop_assert_eq!(pool.killed_until(), self.killed.values().max().copied());
            for &pid in self.killed.keys() {
                prop_assert!(pool.worker(pid).is_none() && pool.knows(pid));
            }
            prop_assert_eq!(pool.workers().count(), pool.len());
            prop_assert!(pool.workers().all(|w| !self.killed.contains_key(&w.pid)));
            prop_assert!(pool.serving() <= pool.len() && pool.starting() <= pool.serving());
            let outdated: BTreeSet<Pid> = pool.outdated().map(|w| w.pid).collect();
            prop_assert_eq!(&outdated, &self.outdated);
            prop_assert_eq!(pool.outdated_count(), self.outdated.len());
            Ok(())
        }
    }

    proptest! {
        #[test]
        fn the_accounting_holds_after_every_event(
            policy in policy(),
            events in proptest::collection::vec(event(), 1..200),
        ) {
            let mut run = Run {
                pool: Pool::new(policy.clone()),
                now: Mono(1),
                next_pid: 0,
                next_tick: vec![0; policy.schedules.len()],
                delivered_first: BTreeSet::new(),
                delivered_manual: BTreeSet::new(),
                killed: BTreeMap::new(),
                outdated: BTreeSet::new(),
            };
            for event in events {
                run.apply(event)?;
            }
        }
    }
}
