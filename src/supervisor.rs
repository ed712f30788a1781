//! When to replace a dead worker, when to slow down, and when to give up.
//!
//! Owns the crash-loop rule: a worker that dies before finishing a single tick is a sign that
//! the application cannot run (a fatal error at every tick, a broken deploy); a worker that
//! dies after good work is an accident. Accidents are replaced at once. A streak of early
//! deaths is replaced with a growing delay and, past a limit, stops the master with a reason,
//! instead of forking forever. It also owns the per-worker limits of
//! `pool.supervisor` (lifetime, idle time, tick run time, memory) and the order of a graceful
//! reset. Decisions only: no processes, no clocks.

use std::time::Duration;

use crate::config::{Megabytes, SupervisorConfig};
use crate::pool::{Pid, Pool, Tick, Worker, WorkerState};
use crate::schedule::Mono;

/// The delay before the second replacement in a streak; it doubles after each early death.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(10);
/// The longest delay between two replacements.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Early deaths in a row that stop the master, whatever the pool size.
pub const MIN_STREAK_LIMIT: u32 = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Respawn { after: Duration },
    GiveUp { reason: String },
}

#[derive(Debug, Clone)]
pub struct RespawnPolicy {
    streak: u32,
    limit: u32,
    /// Starts that failed in a row (no process, no descriptor, the command did not run),
    /// whatever the other workers do meanwhile.
    failed_starts: u32,
}

/// The delay after a worker could not be started; it doubles with each failed start in a
/// row, up to [`MAX_BACKOFF`]. Ticks that other workers complete meanwhile do not shorten
/// it: a pool that lacks descriptors stays short of them whatever its workers do.
pub const START_BACKOFF: Duration = Duration::from_millis(100);

impl RespawnPolicy {
    /// The limit grows with the pool: with many workers, each may die once on a bad deploy
    /// before a streak says more than "every worker had the same accident".
    pub fn new(num_workers: usize) -> RespawnPolicy {
        let per_pool = u32::try_from(num_workers.saturating_mul(2)).unwrap_or(u32::MAX);
        RespawnPolicy {
            streak: 0,
            limit: per_pool.max(MIN_STREAK_LIMIT),
            failed_starts: 0,
        }
    }

    /// A worker could not be started: an early death for the crash-loop rule, and a
    /// back-off of its own before the next try.
    pub fn start_failed(&mut self, what: &str) -> Verdict {
        self.failed_starts = self.failed_starts.saturating_add(1);
        match self.died(0, what) {
            Verdict::Respawn { after } => {
                let own = START_BACKOFF
                    .saturating_mul(1 << (self.failed_starts - 1).min(16))
                    .min(MAX_BACKOFF);
                Verdict::Respawn {
                    after: after.max(own),
                }
            }
            give_up => give_up,
        }
    }

    /// A worker started: the failed starts in a row are over.
    pub fn started(&mut self) {
        self.failed_starts = 0;
    }

    /// Starts that failed in a row, since the last one that did not.
    pub fn failed_starts(&self) -> u32 {
        self.failed_starts
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// A tick was handled to the end: the application works, the streak is over.
    pub fn tick_completed(&mut self) {
        self.streak = 0;
    }

    /// A worker died without being asked to. `handled` is how many ticks it finished.
    pub fn died(&mut self, handled: u64, what: &str) -> Verdict {
        if handled > 0 {
            self.streak = 0;
            return Verdict::Respawn {
                after: Duration::ZERO,
            };
        }
        self.streak += 1;
        if self.streak >= self.limit {
            return Verdict::GiveUp {
                reason: format!(
                    "{} workers in a row died before finishing a tick (the last {what}); \
                     the application fails in every worker, see its errors above",
                    self.streak
                ),
            };
        }
        let after = match self.streak {
            1 => Duration::ZERO,
            n => FIRST_BACKOFF
                .saturating_mul(1 << (n - 2).min(16))
                .min(MAX_BACKOFF),
        };
        Verdict::Respawn { after }
    }
}

/// What a pool needs of the open file limit (`RLIMIT_NOFILE`) in its master: every
/// worker's channel stays open there for the worker's life, so a pool the limit cannot hold
/// would start some workers and then fail every start after them, forever.
///
/// The limit bounds descriptor numbers, not their count: a new descriptor takes the lowest
/// free number, and fails when none is free below the limit. So what counts is how many
/// numbers below a limit are free, given those the process uses already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescriptorNeed {
    /// The descriptor numbers in use before the loop starts (the application's, PHP's),
    /// in ascending order.
    pub in_use: Vec<u64>,
    /// What the loop opens for itself and its doors, with room for a few operator
    /// connections and the lease helper.
    pub loop_fds: u64,
    /// Held in the master for each worker: 1 for a forked worker's socket, 3 for a
    /// command-started worker's pipes (stdin, stdout, stderr).
    pub per_worker: u64,
    /// Always kept free for starting workers (a replacement starts while the worker it
    /// replaces still holds its channel) and for reading /proc.
    pub reserve: u64,
}

/// What to do about the open file limit before the first worker starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FdPlan {
    /// The soft limit holds the pool.
    Fits,
    /// The soft limit is too low and the hard limit is not: raise the soft one to `to`.
    Raise { to: u64 },
    /// Not even the hard limit holds the pool.
    Refuse(FdShortage),
}

/// A pool that not even the hard open file limit holds: what it needs, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{workers} workers need an open file limit of {need} in the master ({per_worker} \
     descriptors per worker, {loop_fds} for the master's loop, {reserve} kept free to start \
     workers, beside the {open} open already), above RLIMIT_NOFILE (soft {soft}, hard \
     {hard}); raise the limit where PHP starts (`ulimit -n {need}` in its shell, \
     `LimitNOFILE={need}` in its systemd unit, `--ulimit nofile={need}` for docker run) or \
     set ticker.pool.num_workers to {fits} or fewer"
)]
pub struct FdShortage {
    pub workers: usize,
    pub need: u64,
    pub per_worker: u64,
    pub loop_fds: u64,
    pub reserve: u64,
    pub open: usize,
    pub soft: u64,
    pub hard: u64,
    /// The most workers the hard limit holds.
    pub fits: u64,
}

impl DescriptorNeed {
    /// Descriptors the master opens for a pool of `workers`, at most.
    fn new_fds(&self, workers: usize) -> u64 {
        let workers = u64::try_from(workers).unwrap_or(u64::MAX);
        self.loop_fds
            .saturating_add(self.reserve)
            .saturating_add(self.per_worker.saturating_mul(workers))
    }

    /// Numbers in use below `limit`.
    fn used_below(&self, limit: u64) -> u64 {
        self.in_use.partition_point(|&fd| fd < limit) as u64
    }

    /// The lowest limit that leaves room for a pool of `workers`.
    pub fn total(&self, workers: usize) -> u64 {
        let new = self.new_fds(workers);
        let mut limit = new;
        // Each pass counts the numbers in use below the limit found so far; it only grows,
        // and stops once the numbers in use are all below it or the room is there.
        loop {
            let wanted = new.saturating_add(self.used_below(limit));
            if wanted <= limit {
                return limit;
            }
            limit = wanted;
        }
    }

    /// The most workers a limit of `limit` holds.
    pub fn workers_within(&self, limit: u64) -> u64 {
        let free = limit.saturating_sub(self.used_below(limit));
        free.saturating_sub(self.loop_fds + self.reserve) / self.per_worker.max(1)
    }

    /// The plan for a pool of `workers` under the `soft` and `hard` limits.
    pub fn plan(&self, workers: usize, soft: u64, hard: u64) -> FdPlan {
        let need = self.total(workers);
        if need <= soft {
            return FdPlan::Fits;
        }
        if need <= hard {
            return FdPlan::Raise { to: need };
        }
        FdPlan::Refuse(FdShortage {
            workers,
            need,
            per_worker: self.per_worker,
            loop_fds: self.loop_fds,
            reserve: self.reserve,
            open: self.in_use.len(),
            soft,
            hard,
            fits: self.workers_within(hard),
        })
    }
}

/// The limits of `pool.supervisor` on a worker, each `None` when off. `exec_ttl` is not
/// here: each schedule has its own (the pool's by default), and a busy worker's record
/// carries the one of its tick ([`WorkerState::Busy`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    pub ttl: Option<Duration>,
    pub idle_ttl: Option<Duration>,
    pub max_memory_bytes: Option<u64>,
}

/// What a limit asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Replace the worker: now if idle, after its tick if busy.
    Replace(String),
    /// Kill it now: its tick ran longer than its schedule's `exec_ttl`. The master says
    /// which tick, in its words.
    Kill { tick: Tick, exec_ttl: Duration },
}

impl Limits {
    pub fn from_config(config: &SupervisorConfig) -> Limits {
        Limits {
            ttl: config.ttl,
            idle_ttl: config.idle_ttl,
            max_memory_bytes: config.max_worker_memory.map(Megabytes::bytes),
        }
    }

    /// Whether the periodic check (every `watch_tick`) has a limit to apply. `exec_ttl`
    /// is not in it: the master keeps an exact deadline for each running tick instead.
    /// The round itself runs in any case: it reads the figures that `status` serves.
    pub fn need_watch(&self) -> bool {
        self.ttl.is_some() || self.idle_ttl.is_some() || self.max_memory_bytes.is_some()
    }

    /// Checks one worker, with its memory as last read.
    pub fn check(&self, worker: &Worker, now: Mono) -> Option<Action> {
        if let WorkerState::Busy {
            tick,
            exec_ttl: Some(exec_ttl),
            ..
        } = worker.state
            && worker.state.exec_deadline().is_some_and(|at| at <= now)
        {
            return Some(Action::Kill { tick, exec_ttl });
        }
        // A starting worker has the handshake's own deadline; a killed one is out of the pool.
        if matches!(
            worker.state,
            WorkerState::Stopping | WorkerState::Starting | WorkerState::Killed(_)
        ) || worker.retires_after_tick()
        {
            return None;
        }
        if let Some(ttl) = self.ttl
            && now.since(worker.started) >= ttl
        {
            return Some(Action::Replace(format!(
                "it lived longer than ttl ({})",
                crate::config::format_duration(ttl)
            )));
        }
        if let Some(idle_ttl) = self.idle_ttl
            && worker.state == WorkerState::Idle
            && now.since(worker.idle_since) >= idle_ttl
        {
            return Some(Action::Replace(format!(
                "it was idle longer than idle_ttl ({})",
                crate::config::format_duration(idle_ttl)
            )));
        }
        if let (Some(max), Some(rss)) = (self.max_memory_bytes, worker.rss.map(|r| r.value))
            && rss > max
        {
            return Some(Action::Replace(format!(
                "it uses {} MB of RSS, above max_worker_memory ({} MB)",
                rss / (1024 * 1024),
                max / (1024 * 1024)
            )));
        }
        None
    }
}

/// Workers looked at in one pass of the loop while a watch round is on: reading a worker's
/// RSS is a file in /proc, about 10 µs, so a pass stays well under a millisecond. Every
/// worker's RSS is read on the round, limits or not: it is what `status` and the metrics
/// serve, so that no answer reads /proc.
pub const WATCH_BATCH: usize = 16;

/// What a batch of the round is given room for: twice what its reads take.
pub const WATCH_BATCH_TIME: Duration = Duration::from_micros(2 * 10 * WATCH_BATCH as u64);

/// The longest a batch waits for room in the loop: a pool whose ticks never leave any (one
/// every 100 µs) still has every worker looked at, a batch this often.
pub const WATCH_WAIT_FOR_ROOM: Duration = Duration::from_millis(10);

/// The `watch_tick` check of the [`Limits`], spread over passes of the loop: a round begins
/// every `watch_tick` with the workers of that moment, and each pass with room for it takes
/// up to [`WATCH_BATCH`] of them. Checking all of a large pool at once would hold the loop
/// for milliseconds (500 RSS reads), late for the next tick; and batches one after the other
/// did the same to a worker: woken for its tick on the CPU where the master read /proc, it
/// waited for the whole round (2 ms at 500 workers, on a kernel without preemption). So a
/// batch is taken only where the loop has room (see `Ticking::has_room` in the master), or
/// once it has waited [`WATCH_WAIT_FOR_ROOM`].
#[derive(Debug, Clone)]
pub struct WatchRound {
    every: Duration,
    /// When the next round begins.
    next: Mono,
    /// The workers of the current round not looked at yet.
    left: Vec<Pid>,
    /// Since when the next batch has waited for room.
    waiting: Option<Mono>,
}

impl WatchRound {
    pub fn new(now: Mono, every: Duration) -> WatchRound {
        WatchRound {
            every,
            next: now + every,
            left: Vec::new(),
            waiting: None,
        }
    }

    /// When the loop must pass again: when the next round begins; while one is on, at once,
    /// or, while its batch waits for room, when it has waited long enough (the passes that
    /// the timer and the workers' answers make look for room before that).
    pub fn deadline(&self, now: Mono) -> Mono {
        match self.waiting {
            _ if self.left.is_empty() => self.next,
            Some(since) => since + WATCH_WAIT_FOR_ROOM,
            None => now,
        }
    }

    /// The workers to look at in this pass: none but when the loop has `room` for a batch
    /// or the batch has waited [`WATCH_WAIT_FOR_ROOM`]. A round that is due begins with
    /// `workers()`.
    pub fn take(&mut self, now: Mono, room: bool, workers: impl FnOnce() -> Vec<Pid>) -> Vec<Pid> {
        if self.left.is_empty() && self.next <= now {
            self.next = now + self.every;
            self.left = workers();
            // Taken from the end: the pool's order, first workers first.
            self.left.reverse();
        }
        if self.left.is_empty() {
            return Vec::new();
        }
        if !room {
            let since = *self.waiting.get_or_insert(now);
            if now.since(since) < WATCH_WAIT_FOR_ROOM {
                return Vec::new();
            }
        }
        self.waiting = None;
        let keep = self.left.len().saturating_sub(WATCH_BATCH);
        let mut batch = self.left.split_off(keep);
        batch.reverse();
        batch
    }
}

/// A graceful reset (SIGHUP, `ticker reset`): every worker of before is replaced one at a
/// time, the next only once the previous one is gone and its replacement has joined, so at
/// most one worker is missing from the pool at any moment.
///
/// Which workers are "of before" is a fact of their records: the reset begins a new
/// generation in the pool, and replaces the workers of an older one ([`Pool::outdated`]),
/// which leave that set as they leave the pool. The reset keeps only its own course.
#[derive(Debug, Clone)]
pub struct RollingReset {
    pub started: Mono,
    pub deadline: Mono,
    /// The worker it replaces now: the next waits until it has left the pool.
    current: Option<Pid>,
}

impl RollingReset {
    /// Begins a reset of every worker of `pool` but those stopping already.
    pub fn new(pool: &mut Pool, now: Mono, timeout: Duration) -> RollingReset {
        pool.begin_generation();
        RollingReset {
            started: now,
            deadline: now + timeout,
            current: None,
        }
    }

    /// Workers of before the reset still in the pool.
    pub fn outdated(&self, pool: &Pool) -> usize {
        pool.outdated_count()
    }

    pub fn is_done(&self, pool: &Pool) -> bool {
        pool.outdated_count() == 0
    }

    /// The worker to replace now, if any: none while the previous one is still there or the
    /// pool is not back to `target` with every worker ready; an idle worker before a busy
    /// one, which goes after its tick.
    pub fn next(&mut self, pool: &Pool, target: usize) -> Option<Pid> {
        if self.current.is_some_and(|pid| pool.is_outdated(pid))
            || pool.serving() < target
            || pool.starting() > 0
        {
            return None;
        }
        let next = pool
            .outdated()
            .find(|w| w.state == WorkerState::Idle)
            .or_else(|| pool.outdated().next())?
            .pid;
        self.current = Some(next);
        Some(next)
    }

    /// The reset ran out of time: the workers still to replace, to be killed.
    pub fn overdue(self, pool: &Pool) -> Vec<Pid> {
        pool.outdated().map(|w| w.pid).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::{Outcome, Policy};

    const S: u64 = 1_000_000_000;

    fn worker(state: WorkerState) -> Worker {
        Worker {
            pid: 1,
            state,
            started: Mono(0),
            idle_since: Mono(0),
            handled: 0,
            failed: 0,
            reachable: true,
            handshake: None,
            leaving: None,
            rss: None,
            generation: 0,
        }
    }

    fn limits(f: impl FnOnce(&mut Limits)) -> Limits {
        let mut l = Limits::default();
        f(&mut l);
        l
    }

    #[test]
    fn exec_ttl_kills_a_tick_that_runs_too_long() {
        let l = Limits::default();
        let tick = Tick::new(4, Mono(0));
        let exec_ttl = Duration::from_secs(2);
        let busy = worker(WorkerState::Busy {
            tick,
            since: Mono(S),
            exec_ttl: Some(exec_ttl),
            retire: None,
        });
        assert_eq!(busy.state.exec_deadline(), Some(Mono(3 * S)));
        assert_eq!(l.check(&busy, Mono(3 * S - 1)), None);
        assert_eq!(
            l.check(&busy, Mono(3 * S)),
            Some(Action::Kill { tick, exec_ttl })
        );
        let unlimited = worker(WorkerState::Busy {
            tick,
            since: Mono(S),
            exec_ttl: None,
            retire: None,
        });
        assert_eq!(l.check(&unlimited, Mono(1_000 * S)), None);
        assert!(!l.need_watch(), "exec_ttl has exact deadlines");
    }

    #[test]
    fn ttl_and_idle_ttl_replace_workers() {
        let l = limits(|l| l.ttl = Some(Duration::from_secs(10)));
        assert_eq!(l.check(&worker(WorkerState::Idle), Mono(9 * S)), None);
        assert!(matches!(
            l.check(&worker(WorkerState::Idle), Mono(10 * S)),
            Some(Action::Replace(why)) if why.contains("ttl (10s)")
        ));
        let l = limits(|l| l.idle_ttl = Some(Duration::from_secs(5)));
        let mut w = worker(WorkerState::Idle);
        w.idle_since = Mono(20 * S);
        assert_eq!(l.check(&w, Mono(24 * S)), None);
        assert!(matches!(
            l.check(&w, Mono(25 * S)),
            Some(Action::Replace(_))
        ));
        let busy = worker(WorkerState::Busy {
            tick: Tick::new(0, Mono(0)),
            since: Mono(0),
            exec_ttl: None,
            retire: None,
        });
        assert_eq!(l.check(&busy, Mono(100 * S)), None, "busy is not idle");
    }

    #[test]
    fn memory_above_the_limit_replaces_the_worker() {
        let l = limits(|l| l.max_memory_bytes = Some(64 * 1024 * 1024));
        let read = |mb: u64| Worker {
            rss: Some(crate::pool::Reading {
                value: mb * 1024 * 1024,
                at: Mono(0),
            }),
            ..worker(WorkerState::Idle)
        };
        assert_eq!(l.check(&read(64), Mono(0)), None);
        assert!(matches!(
            l.check(&read(65), Mono(0)),
            Some(Action::Replace(why)) if why.contains("65 MB") && why.contains("(64 MB)")
        ));
        let unread = worker(WorkerState::Idle);
        assert_eq!(l.check(&unread, Mono(0)), None, "unknown RSS is no reason");
    }

    #[test]
    fn a_worker_already_leaving_is_not_replaced_twice() {
        let l = limits(|l| l.ttl = Some(Duration::from_secs(1)));
        assert_eq!(l.check(&worker(WorkerState::Stopping), Mono(5 * S)), None);
        let marked = worker(WorkerState::Busy {
            tick: Tick::new(0, Mono(0)),
            since: Mono(0),
            exec_ttl: None,
            retire: Some("ttl".into()),
        });
        assert_eq!(l.check(&marked, Mono(5 * S)), None);
        assert_eq!(
            l.check(&worker(WorkerState::Starting), Mono(5 * S)),
            None,
            "a starting worker has its handshake's deadline"
        );
    }

    fn after(v: Verdict) -> Duration {
        match v {
            Verdict::Respawn { after } => after,
            Verdict::GiveUp { reason } => panic!("gave up: {reason}"),
        }
    }

    #[test]
    fn a_worker_that_did_work_is_replaced_at_once() {
        let mut p = RespawnPolicy::new(2);
        for _ in 0..100 {
            assert_eq!(after(p.died(1, "x")), Duration::ZERO);
        }
    }

    #[test]
    fn early_deaths_back_off_exponentially_up_to_a_cap() {
        let mut p = RespawnPolicy::new(100);
        let delays: Vec<Duration> = (0..10).map(|_| after(p.died(0, "x"))).collect();
        assert_eq!(delays[0], Duration::ZERO);
        assert_eq!(delays[1], Duration::from_millis(10));
        assert_eq!(delays[2], Duration::from_millis(20));
        assert_eq!(delays[3], Duration::from_millis(40));
        assert_eq!(delays[9], MAX_BACKOFF);
    }

    #[test]
    fn a_streak_past_the_limit_gives_up_with_the_reason() {
        let mut p = RespawnPolicy::new(2);
        assert_eq!(p.limit(), MIN_STREAK_LIMIT);
        for _ in 1..MIN_STREAK_LIMIT {
            after(p.died(0, "exited with status 255"));
        }
        match p.died(0, "exited with status 255") {
            Verdict::GiveUp { reason } => {
                assert!(reason.contains("10 workers in a row"), "{reason}");
                assert!(reason.contains("status 255"), "{reason}");
            }
            v => panic!("expected to give up, got {v:?}"),
        }
    }

    #[test]
    fn a_completed_tick_ends_the_streak() {
        let mut p = RespawnPolicy::new(2);
        for _ in 0..(MIN_STREAK_LIMIT - 1) {
            after(p.died(0, "x"));
        }
        p.tick_completed();
        assert_eq!(after(p.died(0, "x")), Duration::ZERO);
    }

    fn need(per_worker: u64) -> DescriptorNeed {
        DescriptorNeed {
            in_use: (0..10).collect(),
            loop_fds: 20,
            per_worker,
            reserve: 32,
        }
    }

    #[test]
    fn a_pool_within_the_soft_file_limit_fits() {
        assert_eq!(need(1).total(500), 562);
        assert_eq!(need(1).plan(500, 562, 562), FdPlan::Fits);
        assert_eq!(need(3).plan(4, 1024, 1024), FdPlan::Fits);
    }

    #[test]
    fn a_pool_above_the_soft_file_limit_raises_it_to_what_it_needs() {
        assert_eq!(need(1).plan(500, 256, 524_288), FdPlan::Raise { to: 562 });
        assert_eq!(need(3).plan(500, 1024, 1562), FdPlan::Raise { to: 1562 });
    }

    #[test]
    fn numbers_in_use_above_the_limit_take_no_room_below_it() {
        // A descriptor numbered 251 stays open under a limit of 80, and takes none of the
        // numbers below it.
        let mut high = need(1);
        high.in_use.push(251);
        assert_eq!(high.total(2), need(1).total(2));
        assert_eq!(high.total(2), 64);
        assert_eq!(high.plan(2, 80, 80), FdPlan::Fits);
        assert_eq!(high.workers_within(80), 18);
        // Gaps below are room: 0-9 and 30-39 in use, 10-29 free.
        let gaps = DescriptorNeed {
            in_use: (0..10).chain(30..40).collect(),
            ..need(1)
        };
        assert_eq!(gaps.total(0), 72);
        assert_eq!(gaps.workers_within(72), 0);
        assert_eq!(gaps.workers_within(73), 1);
    }

    #[test]
    fn a_pool_above_the_hard_file_limit_is_refused_with_the_fix() {
        let FdPlan::Refuse(shortage) = need(1).plan(500, 256, 256) else {
            panic!("refused");
        };
        assert_eq!((shortage.need, shortage.fits), (562, 194));
        let why = shortage.to_string();
        for part in [
            "500 workers need an open file limit of 562",
            "RLIMIT_NOFILE (soft 256, hard 256)",
            "`ulimit -n 562`",
            "`LimitNOFILE=562`",
            "ticker.pool.num_workers to 194 or fewer",
        ] {
            assert!(why.contains(part), "{part:?} in {why}");
        }
        assert!(
            !why.contains('\n') && !why.contains("  "),
            "one line: {why}"
        );
        // The number it suggests does fit.
        assert_eq!(need(1).plan(194, 256, 256), FdPlan::Fits);
        assert_ne!(need(1).plan(195, 256, 256), FdPlan::Fits);
        assert_eq!(need(3).workers_within(10), 0, "not even one");
    }

    #[test]
    fn the_limit_grows_with_the_pool() {
        assert_eq!(RespawnPolicy::new(40).limit(), 80);
    }

    #[test]
    fn a_reset_replaces_one_worker_at_a_time_idle_ones_first() {
        let mut pool = Pool::new(Policy::default());
        for pid in (1..=3).rev() {
            pool.add(pid, Mono(0));
        }
        let busy = pool.arrive(Tick::new(0, Mono(0)), Mono(0));
        assert!(matches!(busy, crate::pool::Arrival::Deliver(d) if d.pid == 1));
        let mut reset = RollingReset::new(&mut pool, Mono(0), Duration::from_secs(60));
        assert_eq!(reset.outdated(&pool), 3);

        assert_eq!(reset.next(&pool, 3), Some(2), "an idle worker first");
        pool.retire(2);
        assert_eq!(reset.next(&pool, 3), None, "worker 2 is still there");
        pool.remove(2, Mono(1));
        assert_eq!(reset.next(&pool, 3), None, "its replacement has not joined");
        pool.add_starting(4, Mono(1), None);
        assert_eq!(
            reset.next(&pool, 3),
            None,
            "its replacement is not ready yet"
        );
        pool.ready(4, Mono(1));
        assert_eq!(reset.next(&pool, 3), Some(3));
        pool.retire(3);
        pool.remove(3, Mono(2));
        pool.add(5, Mono(2));
        assert_eq!(reset.next(&pool, 3), Some(1), "the busy one last");
        assert!(!pool.retire_soon(1, "reset".into()), "after its tick");
        pool.finish(1, Outcome::Done, Mono(3)).unwrap();
        pool.remove(1, Mono(3));
        assert!(reset.is_done(&pool));
        assert_eq!(reset.next(&pool, 3), None);
    }

    #[test]
    fn a_reset_replaces_the_workers_of_its_start_but_those_stopping_then() {
        let mut pool = Pool::new(Policy::default());
        for pid in 1..=4 {
            pool.add(pid, Mono(0));
        }
        pool.retire(4);
        let mut reset = RollingReset::new(&mut pool, Mono(0), Duration::from_secs(60));
        assert_eq!(reset.outdated(&pool), 3, "worker 4 is leaving already");
        pool.add(5, Mono(1));
        assert_eq!(
            reset.outdated(&pool),
            3,
            "a worker that joins is of the reset"
        );

        // One that stops meanwhile by itself is waited for all the same, until it is gone.
        pool.retire(1);
        assert_eq!(reset.next(&pool, 3), Some(2));
        pool.retire(2);
        let killed = crate::pool::Killed {
            why: "limit".into(),
            wait_until: Mono(S),
        };
        pool.kill(2, killed, Mono(2));
        assert_eq!(
            reset.outdated(&pool),
            2,
            "a killed worker is out of the pool"
        );
        pool.add(6, Mono(2));
        assert_eq!(reset.next(&pool, 3), Some(3), "idle");
        pool.remove(3, Mono(3));
        assert_eq!(
            reset.clone().overdue(&pool),
            [1],
            "out of time: even stopping"
        );
        assert!(!reset.is_done(&pool));

        // A second reset takes the first's place: it does not wait for a stopping worker,
        // and replaces those the first one started.
        let again = RollingReset::new(&mut pool, Mono(4), Duration::from_secs(60));
        assert_eq!(again.overdue(&pool), [5, 6]);
    }

    #[test]
    fn a_watch_round_looks_at_every_worker_once_a_batch_per_pass() {
        let every = Duration::from_secs(1);
        let mut round = WatchRound::new(Mono(0), every);
        let pool: Vec<Pid> = (100..140).collect();
        assert!(
            round.take(Mono(S / 2), true, || pool.clone()).is_empty(),
            "not due yet"
        );
        assert_eq!(round.deadline(Mono(S / 2)), Mono(S));

        let mut seen = vec![];
        let mut passes = 0;
        let now = Mono(S);
        loop {
            let batch = round.take(now, true, || pool.clone());
            if batch.is_empty() {
                break;
            }
            assert!(batch.len() <= WATCH_BATCH);
            seen.extend(batch);
            passes += 1;
            if round.deadline(now) != now {
                break;
            }
        }
        assert_eq!(seen, pool, "every worker once, in the pool's order");
        assert_eq!(passes, pool.len().div_ceil(WATCH_BATCH));
        // The next round begins a watch_tick after this one began, with the pool of then.
        assert_eq!(round.deadline(now), Mono(2 * S));
        assert!(
            round
                .take(Mono(2 * S - 1), true, || pool.clone())
                .is_empty()
        );
        assert_eq!(round.take(Mono(2 * S), true, || vec![7, 8]), vec![7, 8]);
    }

    #[test]
    fn a_watch_round_of_an_empty_pool_waits_for_the_next() {
        let mut round = WatchRound::new(Mono(0), Duration::from_secs(1));
        assert!(round.take(Mono(S), true, Vec::new).is_empty());
        assert_eq!(round.deadline(Mono(S)), Mono(2 * S));
    }

    #[test]
    fn a_watch_batch_waits_for_room_in_the_loop_but_not_for_ever() {
        let mut round = WatchRound::new(Mono(0), Duration::from_secs(1));
        let pool: Vec<Pid> = (100..140).collect();
        let wait = WATCH_WAIT_FOR_ROOM.as_nanos() as u64;
        // The round is due, but the loop has no room: nothing is read, and the loop is
        // not asked to pass again at once (it would spin until there is room).
        assert!(round.take(Mono(S), false, || pool.clone()).is_empty());
        assert_eq!(round.deadline(Mono(S)), Mono(S + wait));
        assert!(
            round
                .take(Mono(S + wait - 1), false, || unreachable!())
                .is_empty()
        );
        // With room, the batch goes at once, and the next pass is wanted at once.
        let first = round.take(Mono(S + 10), true, || unreachable!());
        assert_eq!(first, pool[..WATCH_BATCH]);
        assert_eq!(round.deadline(Mono(S + 10)), Mono(S + 10));
        // Without room again, the wait starts over; once it is over, the batch goes anyway.
        let again = Mono(S + 20);
        assert!(round.take(again, false, || unreachable!()).is_empty());
        assert!(
            round
                .take(Mono(again.0 + wait - 1), false, || unreachable!())
                .is_empty()
        );
        assert_eq!(
            round.take(again + WATCH_WAIT_FOR_ROOM, false, || unreachable!()),
            pool[WATCH_BATCH..2 * WATCH_BATCH]
        );
    }
}
