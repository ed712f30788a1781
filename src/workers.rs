//! The workers of a pool, each one record: what it is doing, whether the master can reach
//! it, what it owes and when it is killed if still there, and, once the master killed it,
//! why and until when a stopping master waits for it. Decisions only.
//!
//! Owns the [`Worker`] record and every index over the workers: the idle ones in the order
//! they became idle, the busy ones by the instant their tick runs out of its `exec_ttl`
//! (each schedule may have its own), the starting and the
//! stopping ones, the killed ones by how long they are waited for, the ones of an older
//! generation than the pool's (a rolling reset replaces them), and the deadlines (a pid
//! handshake's, a leaving worker's) in one ordered set. A record changes only through the
//! transitions here, each of which keeps every index in step, so no question the master asks
//! per event scans the pool and no two places can disagree about a worker. It knows nothing
//! of ticks beyond the one a busy worker holds: which tick goes where, and the counts, are
//! [`crate::pool`]'s.
//!
//! A record lives from the worker's start to its reap. A worker the master killed is out of
//! the pool at the kill ([`WorkerState::Killed`]): no question about the pool (its workers,
//! their counts, a worker by pid) sees it any more, and no transition but the reap
//! ([`Workers::remove`]) touches it; only the questions about killed workers do.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::pid::Pid;
use crate::schedule::Mono;
use crate::tick::{ScheduleId, Tick};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerState {
    /// Started, and not ready for ticks yet: a command-started worker that has not
    /// answered its pid handshake. It counts as serving (nothing else is started in its
    /// place), never as idle.
    Starting,
    Idle,
    Busy {
        tick: Tick,
        since: Mono,
        /// How long the tick may run (its schedule's `exec_ttl`): at `since + exec_ttl` the
        /// worker is killed. `None`: no limit.
        exec_ttl: Option<Duration>,
        /// Why it is replaced once this tick ends (a limit, a reset, a smaller pool);
        /// `None`: it stays.
        retire: Option<String>,
    },
    /// Told to stop (or asked to); its exit is expected and is not a failure.
    Stopping,
    /// Killed by the master, and out of the pool from then on: it takes no tick, owes and
    /// is told nothing, and counts for nothing (its replacement may start at once), however
    /// long the kernel takes to tear it down. Its record stays until it is reaped.
    Killed(Killed),
}

/// Why the master killed a worker, and how long a stopping master waits for it to be reaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Killed {
    pub why: String,
    /// A stopping master returns once every killed worker is reaped or this has passed:
    /// SIGKILL takes effect when a process in uninterruptible sleep wakes, which may be never.
    pub wait_until: Mono,
}

/// A pid handshake sent and not answered yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handshake {
    pub sent: Mono,
    pub timeout: Duration,
}

impl Handshake {
    pub fn deadline(&self) -> Mono {
        self.sent + self.timeout
    }
}

/// Why a worker is on its way out, and so when it is killed if it is still there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// It was told to stop, and has `destroy_timeout` to exit.
    ToldToStop,
    /// Its channel closed without being told: it is dying, and has a short grace.
    ChannelClosed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaving {
    pub kill_at: Mono,
    pub why: Why,
}

/// A deadline that passed, with what the master says when it kills for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overdue {
    Handshake { timeout: Duration },
    Leaving(Why),
}

/// A figure read from the system at an instant: served with its age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub value: u64,
    pub at: Mono,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worker {
    pub pid: Pid,
    pub state: WorkerState,
    pub started: Mono,
    /// When it last became idle (its start, or its last answer).
    pub idle_since: Mono,
    pub handled: u64,
    pub failed: u64,
    /// Its channel is open: it can be told things and take ticks. A worker whose channel
    /// closed keeps its state until it is reaped, and never becomes idle again.
    pub reachable: bool,
    /// The pid handshake it owes (command-started workers): its next frame is the answer.
    pub handshake: Option<Handshake>,
    /// On its way out: when it is killed if still there.
    pub leaving: Option<Leaving>,
    /// Its resident memory as last read, on the supervisor's round over the pool (every
    /// `watch_tick`): what `status`, the metrics and `max_worker_memory` go by. Answers
    /// serve this reading, never a fresh one, so that they cost the same at any pool size.
    pub rss: Option<Reading>,
    /// The pool's generation it belongs to: the one of its start. A rolling reset begins a
    /// new generation and replaces every worker of an older one; a worker already stopping
    /// then goes over to the new one, as it is leaving anyway (see
    /// [`Workers::begin_generation`]).
    pub generation: u64,
}

impl WorkerState {
    /// The instant a busy worker's tick runs out of its `exec_ttl`.
    pub fn exec_deadline(&self) -> Option<Mono> {
        match *self {
            WorkerState::Busy {
                since,
                exec_ttl: Some(ttl),
                ..
            } => Some(since + ttl),
            _ => None,
        }
    }
}

impl Worker {
    /// Killed, and so out of the pool (see [`WorkerState::Killed`]).
    pub fn is_killed(&self) -> bool {
        matches!(self.state, WorkerState::Killed(_))
    }

    /// Busy, and to be replaced once its tick ends.
    pub fn retires_after_tick(&self) -> bool {
        matches!(
            self.state,
            WorkerState::Busy {
                retire: Some(_),
                ..
            }
        )
    }
}

/// Which deadline of a worker an entry of the ordered set is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Deadline {
    Handshake,
    Leaving,
}

/// The idle workers that may take a tick, in the order they became idle, with removal
/// from anywhere in O(log n): a worker that leaves costs the same in a pool of 500.
#[derive(Debug, Default)]
struct IdleQueue {
    by_turn: BTreeMap<u64, Pid>,
    turn_of: BTreeMap<Pid, u64>,
    next_turn: u64,
}

impl IdleQueue {
    fn len(&self) -> usize {
        self.by_turn.len()
    }

    fn push(&mut self, pid: Pid) {
        if self.turn_of.contains_key(&pid) {
            return;
        }
        let turn = self.next_turn;
        self.next_turn += 1;
        self.by_turn.insert(turn, pid);
        self.turn_of.insert(pid, turn);
    }

    fn remove(&mut self, pid: Pid) {
        if let Some(turn) = self.turn_of.remove(&pid) {
            self.by_turn.remove(&turn);
        }
    }

    /// The worker that became idle last: the next tick goes to it (see [`crate::pool`]).
    fn take(&mut self) -> Option<Pid> {
        let (_, pid) = self.by_turn.pop_last()?;
        self.turn_of.remove(&pid);
        Some(pid)
    }

    #[cfg(test)]
    fn iter(&self) -> impl Iterator<Item = &Pid> {
        self.by_turn.values()
    }
}

/// The workers, and the indexes kept in step with them.
#[derive(Debug, Default)]
pub struct Workers {
    records: BTreeMap<Pid, Worker>,
    by_state: ByState,
    /// Every handshake and leaving deadline, earliest first.
    deadlines: BTreeSet<(Mono, Pid, Deadline)>,
    /// The generation workers join in.
    generation: u64,
    /// The workers of the pool of an older generation: those a rolling reset replaces.
    outdated: BTreeSet<Pid>,
}

/// The workers by state: what the master asks per event, without a scan.
#[derive(Debug, Default)]
struct ByState {
    /// Starting workers, reachable or not: they serve nothing yet, and take no tick.
    starting: BTreeSet<Pid>,
    /// Idle workers the master can reach.
    idle: IdleQueue,
    /// Busy workers whose tick has an `exec_ttl`, by the instant it runs out, then pid:
    /// ticks of schedules with different limits run out in another order than they
    /// started in, and this one is found in O(log n) whatever the pool and the limits.
    runs_out: BTreeSet<(Mono, Pid)>,
    stopping: usize,
    /// Busy workers by the schedule of their tick, by [`ScheduleId`]: whether a schedule
    /// without overlap has a run going.
    busy_by_schedule: Vec<usize>,
    /// Killed workers not reaped yet, by the instant a stopping master stops waiting for
    /// them: the last one says when it may return.
    killed: BTreeSet<(Mono, Pid)>,
}

impl ByState {
    fn enter(&mut self, pid: Pid, state: &WorkerState, reachable: bool) {
        match *state {
            WorkerState::Starting => {
                self.starting.insert(pid);
            }
            WorkerState::Idle if reachable => self.idle.push(pid),
            WorkerState::Idle => {}
            WorkerState::Busy { tick, .. } => {
                if let Some(at) = state.exec_deadline() {
                    self.runs_out.insert((at, pid));
                }
                let index = tick.schedule.index();
                if self.busy_by_schedule.len() <= index {
                    self.busy_by_schedule.resize(index + 1, 0);
                }
                self.busy_by_schedule[index] += 1;
            }
            WorkerState::Stopping => self.stopping += 1,
            WorkerState::Killed(ref killed) => {
                self.killed.insert((killed.wait_until, pid));
            }
        }
    }

    fn leave(&mut self, pid: Pid, state: &WorkerState) {
        match *state {
            WorkerState::Starting => {
                self.starting.remove(&pid);
            }
            WorkerState::Idle => self.idle.remove(pid),
            WorkerState::Busy { tick, .. } => {
                if let Some(at) = state.exec_deadline() {
                    self.runs_out.remove(&(at, pid));
                }
                self.busy_by_schedule[tick.schedule.index()] -= 1;
            }
            WorkerState::Stopping => self.stopping -= 1,
            WorkerState::Killed(ref killed) => {
                self.killed.remove(&(killed.wait_until, pid));
            }
        }
    }
}

impl Workers {
    /// A worker of the pool; not one that was killed.
    pub fn get(&self, pid: Pid) -> Option<&Worker> {
        self.records.get(&pid).filter(|w| !w.is_killed())
    }

    /// What the transitions change: a worker of the pool, never a killed one.
    fn get_mut(&mut self, pid: Pid) -> Option<&mut Worker> {
        self.records.get_mut(&pid).filter(|w| !w.is_killed())
    }

    /// The workers of the pool.
    pub fn iter(&self) -> impl Iterator<Item = &Worker> {
        self.records.values().filter(|w| !w.is_killed())
    }

    /// Workers in the pool.
    pub fn len(&self) -> usize {
        self.records.len() - self.by_state.killed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `pid` is a process of this pool: one of its workers, or one killed and not
    /// reaped yet.
    pub fn knows(&self, pid: Pid) -> bool {
        self.records.contains_key(&pid)
    }

    /// Why a worker was killed, while it is not reaped.
    pub fn killed(&self, pid: Pid) -> Option<&Killed> {
        match &self.records.get(&pid)?.state {
            WorkerState::Killed(killed) => Some(killed),
            _ => None,
        }
    }

    /// The killed workers not reaped yet, the one waited for the shortest first.
    pub fn unreaped(&self) -> impl Iterator<Item = (Pid, &Killed)> {
        self.by_state
            .killed
            .iter()
            .filter_map(|&(_, pid)| Some((pid, self.killed(pid)?)))
    }

    /// Until when a stopping master waits for the killed workers not reaped yet.
    pub fn killed_until(&self) -> Option<Mono> {
        self.by_state.killed.last().map(|&(at, _)| at)
    }

    /// Workers that have not become ready yet.
    pub fn starting(&self) -> usize {
        self.by_state.starting.len()
    }

    /// Workers that will stay, starting ones included.
    pub fn serving(&self) -> usize {
        self.len() - self.by_state.stopping
    }

    pub fn has_idle(&self) -> bool {
        self.by_state.idle.len() > 0
    }

    /// Whether a tick of `schedule` runs on some worker.
    pub fn runs(&self, schedule: ScheduleId) -> bool {
        self.by_state
            .busy_by_schedule
            .get(schedule.index())
            .is_some_and(|&n| n > 0)
    }

    /// The earliest instant a busy worker's tick runs out of its `exec_ttl`.
    pub fn next_run_out(&self) -> Option<Mono> {
        self.by_state.runs_out.first().map(|&(at, _)| at)
    }

    /// The busy workers whose tick ran out of its `exec_ttl` by `now`, the earliest first:
    /// only those are looked at, whatever the size of the pool.
    pub fn run_out(&self, now: Mono) -> impl Iterator<Item = &Worker> {
        self.by_state
            .runs_out
            .iter()
            .take_while(move |&&(at, _)| at <= now)
            .filter_map(|(_, pid)| self.records.get(pid))
    }

    /// A worker joins, starting; with `handshake`, it owes one.
    pub fn join(&mut self, pid: Pid, now: Mono, handshake: Option<Handshake>) {
        self.remove(pid);
        self.records.insert(
            pid,
            Worker {
                pid,
                state: WorkerState::Starting,
                started: now,
                idle_since: now,
                handled: 0,
                failed: 0,
                reachable: true,
                handshake,
                leaving: None,
                rss: None,
                generation: self.generation,
            },
        );
        self.by_state.enter(pid, &WorkerState::Starting, true);
        if let Some(h) = handshake {
            self.deadlines
                .insert((h.deadline(), pid, Deadline::Handshake));
        }
    }

    /// Changes the state of a worker of the pool, and the indexes with it: the only place
    /// that does besides [`Workers::kill`].
    pub fn set_state(&mut self, pid: Pid, state: WorkerState) {
        let Some(worker) = self.records.get_mut(&pid).filter(|w| !w.is_killed()) else {
            return;
        };
        self.by_state.leave(pid, &worker.state);
        worker.state = state;
        self.by_state.enter(pid, &worker.state, worker.reachable);
    }

    /// The worker becomes idle at `now` (ready, or done with its tick).
    pub fn become_idle(&mut self, pid: Pid, now: Mono) {
        if let Some(worker) = self.get_mut(pid) {
            worker.idle_since = now;
            self.set_state(pid, WorkerState::Idle);
        }
    }

    /// The worker answered its tick: one more handled, and failed if `failed`.
    pub fn count_answer(&mut self, pid: Pid, failed: bool) -> u64 {
        let Some(worker) = self.get_mut(pid) else {
            return 0;
        };
        worker.handled += 1;
        worker.failed += u64::from(failed);
        worker.handled
    }

    /// A busy worker is to be replaced once its tick ends; the first reason stands.
    pub fn retire_after_tick(&mut self, pid: Pid, reason: String) {
        if let Some(Worker {
            state: WorkerState::Busy { retire, .. },
            ..
        }) = self.get_mut(pid)
        {
            retire.get_or_insert(reason);
        }
    }

    /// The idle worker that became idle last, out of the idle ones: the caller hands it a
    /// tick at once ([`Workers::set_state`] to busy).
    pub fn take_idle(&mut self) -> Option<Pid> {
        self.by_state.idle.take()
    }

    /// Every idle worker the master can reach, out of the idle ones.
    pub fn drain_idle(&mut self) -> Vec<Pid> {
        let mut pids = vec![];
        while let Some(pid) = self.by_state.idle.take() {
            pids.push(pid);
        }
        pids.reverse();
        pids
    }

    /// The starting workers the master can reach.
    pub fn reachable_starting(&self) -> Vec<Pid> {
        self.by_state
            .starting
            .iter()
            .copied()
            .filter(|pid| self.records.get(pid).is_some_and(|w| w.reachable))
            .collect()
    }

    /// Its channel closed: it takes no tick and is told nothing any more, and owes no
    /// handshake.
    pub fn close(&mut self, pid: Pid) {
        let Some(worker) = self.get_mut(pid) else {
            return;
        };
        worker.reachable = false;
        self.by_state.idle.remove(pid);
        self.answer_handshake(pid);
    }

    /// The worker answered its pid handshake (or no longer owes it): what it owed.
    pub fn answer_handshake(&mut self, pid: Pid) -> Option<Handshake> {
        let handshake = self.get_mut(pid)?.handshake.take()?;
        self.deadlines
            .remove(&(handshake.deadline(), pid, Deadline::Handshake));
        Some(handshake)
    }

    /// The worker is on its way out; the first reason given stands (a worker told to stop
    /// keeps the time it was given).
    pub fn set_leaving(&mut self, pid: Pid, leaving: Leaving) {
        let Some(worker) = self.get_mut(pid) else {
            return;
        };
        if worker.leaving.is_none() {
            worker.leaving = Some(leaving);
            self.deadlines
                .insert((leaving.kill_at, pid, Deadline::Leaving));
        }
    }

    /// A worker's resident memory was read.
    pub fn record_rss(&mut self, pid: Pid, reading: Reading) {
        if let Some(worker) = self.get_mut(pid) {
            worker.rss = Some(reading);
        }
    }

    /// The earliest deadline of any worker.
    pub fn next_deadline(&self) -> Option<Mono> {
        self.deadlines.first().map(|&(at, _, _)| at)
    }

    /// The deadlines passed by `now`, earliest first, each taken off its worker.
    pub fn take_overdue(&mut self, now: Mono) -> Vec<(Pid, Overdue)> {
        let mut overdue = vec![];
        while let Some(&(at, pid, which)) = self.deadlines.first()
            && at <= now
        {
            self.deadlines.pop_first();
            let Some(worker) = self.records.get_mut(&pid) else {
                continue;
            };
            match which {
                Deadline::Handshake => {
                    if let Some(h) = worker.handshake.take() {
                        overdue.push((pid, Overdue::Handshake { timeout: h.timeout }));
                    }
                }
                Deadline::Leaving => {
                    if let Some(l) = worker.leaving.take() {
                        overdue.push((pid, Overdue::Leaving(l.why)));
                    }
                }
            }
        }
        overdue
    }

    /// A new generation begins (a rolling reset): every worker of the pool is of an older
    /// one, and outdated, but those stopping already, which go over to the new one: they
    /// are leaving, and their replacements join in the new one anyway. Workers that join
    /// from now on are of the new one.
    pub fn begin_generation(&mut self) {
        self.generation += 1;
        for worker in self.records.values_mut().filter(|w| !w.is_killed()) {
            if worker.state == WorkerState::Stopping {
                worker.generation = self.generation;
                self.outdated.remove(&worker.pid);
            } else {
                self.outdated.insert(worker.pid);
            }
        }
    }

    /// The workers of the pool of an older generation, in the order of their pids.
    pub fn outdated(&self) -> impl Iterator<Item = &Worker> {
        self.outdated.iter().filter_map(|&pid| self.get(pid))
    }

    /// How many workers of the pool are of an older generation.
    pub fn outdated_count(&self) -> usize {
        self.outdated.len()
    }

    /// Whether the worker is in the pool, of an older generation.
    pub fn is_outdated(&self, pid: Pid) -> bool {
        self.outdated.contains(&pid)
    }

    /// The master killed the worker: it leaves the pool at once (see
    /// [`WorkerState::Killed`]), out of every index but the killed ones, and owes nothing
    /// any more; its record stays until it is reaped ([`Workers::remove`]). Returns the
    /// worker as it was, so that the caller can say what it was doing.
    pub fn kill(&mut self, pid: Pid, killed: Killed) -> Option<Worker> {
        let before = self.get(pid)?.clone();
        self.close(pid);
        let worker = self.records.get_mut(&pid).expect("a worker of the pool");
        if let Some(l) = worker.leaving.take() {
            self.deadlines.remove(&(l.kill_at, pid, Deadline::Leaving));
        }
        self.by_state.leave(pid, &worker.state);
        worker.state = WorkerState::Killed(killed);
        self.by_state.enter(pid, &worker.state, false);
        self.outdated.remove(&pid);
        Some(before)
    }

    /// A process the master started and killed before it joined the pool (it could not be
    /// watched): its record, killed, until it is reaped.
    pub fn join_killed(&mut self, pid: Pid, now: Mono, killed: Killed) {
        self.join(pid, now, None);
        self.kill(pid, killed);
    }

    /// The worker's process is reaped: its record goes, with every index entry of it,
    /// whether it was in the pool or killed.
    pub fn remove(&mut self, pid: Pid) -> Option<Worker> {
        let worker = self.records.remove(&pid)?;
        self.by_state.leave(pid, &worker.state);
        self.outdated.remove(&pid);
        if let Some(h) = worker.handshake {
            self.deadlines
                .remove(&(h.deadline(), pid, Deadline::Handshake));
        }
        if let Some(l) = worker.leaving {
            self.deadlines.remove(&(l.kill_at, pid, Deadline::Leaving));
        }
        Some(worker)
    }

    /// Checks that every index is what a scan of the records gives: for the property
    /// tests, which drive random sequences of transitions.
    #[cfg(test)]
    pub fn check(&self) -> Result<(), String> {
        let idle: BTreeSet<Pid> = self.by_state.idle.iter().copied().collect();
        let expect = |what: &str, ok: bool| if ok { Ok(()) } else { Err(what.to_string()) };
        expect(
            "a worker queued twice",
            idle.len() == self.by_state.idle.len(),
        )?;
        expect(
            "every reachable idle worker is queued, and only those",
            idle == self
                .records
                .values()
                .filter(|w| w.state == WorkerState::Idle && w.reachable)
                .map(|w| w.pid)
                .collect(),
        )?;
        expect(
            "the exec_ttl index is the busy workers with a limit",
            self.by_state.runs_out
                == self
                    .records
                    .values()
                    .filter_map(|w| Some((w.state.exec_deadline()?, w.pid)))
                    .collect(),
        )?;
        expect(
            "the starting index is the starting workers",
            self.by_state.starting
                == self
                    .records
                    .values()
                    .filter(|w| w.state == WorkerState::Starting)
                    .map(|w| w.pid)
                    .collect(),
        )?;
        expect(
            "the stopping count is the stopping workers",
            self.by_state.stopping
                == self
                    .records
                    .values()
                    .filter(|w| w.state == WorkerState::Stopping)
                    .count(),
        )?;
        let deadlines: BTreeSet<(Mono, Pid, Deadline)> = self
            .records
            .values()
            .flat_map(|w| {
                let handshake = w
                    .handshake
                    .map(|h| (h.deadline(), w.pid, Deadline::Handshake));
                let leaving = w.leaving.map(|l| (l.kill_at, w.pid, Deadline::Leaving));
                handshake.into_iter().chain(leaving)
            })
            .collect();
        expect(
            "the deadlines are those of the records",
            deadlines == self.deadlines,
        )?;
        expect(
            "the killed index is the killed workers",
            self.by_state.killed
                == self
                    .records
                    .values()
                    .filter_map(|w| match &w.state {
                        WorkerState::Killed(k) => Some((k.wait_until, w.pid)),
                        _ => None,
                    })
                    .collect(),
        )?;
        expect(
            "a killed worker cannot be reached and owes nothing: no handshake, no kill",
            self.records
                .values()
                .filter(|w| w.is_killed())
                .all(|w| !w.reachable && w.handshake.is_none() && w.leaving.is_none()),
        )?;
        expect(
            "the pool is the records that are not killed",
            self.iter().count() == self.len()
                && self.iter().all(|w| self.get(w.pid).is_some())
                && self
                    .unreaped()
                    .all(|(pid, _)| self.get(pid).is_none() && self.knows(pid)),
        )?;
        expect(
            "the outdated index is the workers of the pool of an older generation",
            self.outdated
                == self
                    .iter()
                    .filter(|w| w.generation < self.generation)
                    .map(|w| w.pid)
                    .collect(),
        )?;
        expect(
            "no worker is of a generation to come",
            self.records
                .values()
                .all(|w| w.generation <= self.generation),
        )?;
        expect(
            "a worker the master cannot reach owes no handshake",
            self.records
                .values()
                .all(|w| w.reachable || w.handshake.is_none()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn handshake(sent: u64, timeout: u64) -> Option<Handshake> {
        Some(Handshake {
            sent: Mono(sent * S),
            timeout: Duration::from_secs(timeout),
        })
    }

    #[test]
    fn deadlines_come_earliest_first_and_each_once() {
        let mut w = Workers::default();
        w.join(1, Mono(0), handshake(0, 60));
        w.join(2, Mono(0), None);
        w.join(3, Mono(0), handshake(0, 5));
        w.set_state(2, WorkerState::Stopping);
        let told = Leaving {
            kill_at: Mono(10 * S),
            why: Why::ToldToStop,
        };
        w.set_leaving(2, told);
        // The first reason given stands.
        w.set_leaving(
            2,
            Leaving {
                kill_at: Mono(S),
                why: Why::ChannelClosed,
            },
        );
        assert_eq!(w.get(2).unwrap().leaving, Some(told));
        assert_eq!(w.next_deadline(), Some(Mono(5 * S)));
        assert_eq!(w.take_overdue(Mono(4 * S)), []);
        assert_eq!(
            w.take_overdue(Mono(10 * S)),
            [
                (
                    3,
                    Overdue::Handshake {
                        timeout: Duration::from_secs(5)
                    }
                ),
                (2, Overdue::Leaving(Why::ToldToStop)),
            ]
        );
        assert_eq!(w.take_overdue(Mono(10 * S)), [], "each once");
        assert_eq!(w.next_deadline(), Some(Mono(60 * S)));
        w.check().unwrap();
    }

    #[test]
    fn an_answered_or_closed_worker_owes_no_handshake() {
        let mut w = Workers::default();
        w.join(1, Mono(0), handshake(0, 60));
        w.join(2, Mono(0), handshake(0, 60));
        assert_eq!(w.answer_handshake(1), handshake(0, 60));
        assert_eq!(w.answer_handshake(1), None);
        w.close(2);
        assert!(!w.get(2).unwrap().reachable);
        assert_eq!(w.next_deadline(), None);
        w.check().unwrap();
    }

    #[test]
    fn a_closed_worker_leaves_the_idle_ones_and_never_comes_back() {
        let mut w = Workers::default();
        for pid in 1..=3 {
            w.join(pid, Mono(0), None);
            w.become_idle(pid, Mono(pid as u64));
        }
        w.close(3);
        w.become_idle(3, Mono(9));
        w.check().unwrap();
        assert_eq!(
            w.take_idle(),
            Some(2),
            "the last idle one the master can reach"
        );
        assert_eq!(w.take_idle(), Some(1));
        assert_eq!(w.take_idle(), None);
        for pid in [1, 2] {
            let tick = Tick::new(0, Mono(0));
            let since = Mono(10);
            let retire = None;
            w.set_state(
                pid,
                WorkerState::Busy {
                    tick,
                    since,
                    exec_ttl: None,
                    retire,
                },
            );
        }
        w.check().unwrap();
        let gone = w.remove(3).unwrap();
        assert_eq!(gone.state, WorkerState::Idle);
        assert_eq!(w.serving(), 2);
        w.check().unwrap();
    }

    #[test]
    fn a_new_generation_outdates_the_workers_of_the_pool_but_the_stopping_ones() {
        let mut w = Workers::default();
        for pid in [3, 1, 2] {
            w.join(pid, Mono(0), None);
        }
        w.set_state(2, WorkerState::Stopping);
        w.begin_generation();
        w.join(4, Mono(1), None);
        let outdated = |w: &Workers| w.outdated().map(|w| w.pid).collect::<Vec<_>>();
        assert_eq!(outdated(&w), [1, 3], "in the order of their pids");
        assert_eq!(w.get(2).unwrap().generation, 1, "went over to the new one");
        // It stays outdated while in the pool, stopping or not.
        w.set_state(3, WorkerState::Stopping);
        assert!(w.is_outdated(3));
        let killed = Killed {
            why: "limit".into(),
            wait_until: Mono(S),
        };
        w.kill(3, killed);
        w.remove(1);
        assert_eq!(w.outdated_count(), 0);
        w.check().unwrap();
    }

    #[test]
    fn a_killed_worker_is_out_of_the_pool_until_it_is_reaped() {
        let mut w = Workers::default();
        w.join(1, Mono(0), handshake(0, 60));
        w.join(2, Mono(0), None);
        w.become_idle(2, Mono(1));
        w.join(3, Mono(0), None);
        w.set_state(3, WorkerState::Stopping);
        w.set_leaving(
            3,
            Leaving {
                kill_at: Mono(10 * S),
                why: Why::ToldToStop,
            },
        );
        let killed = |why: &str, until: u64| Killed {
            why: why.into(),
            wait_until: Mono(until * S),
        };
        let before = w.kill(3, killed("did not exit", 9)).unwrap();
        assert_eq!(before.state, WorkerState::Stopping, "as it was");
        assert_eq!(w.kill(1, killed("was refused", 7)).unwrap().pid, 1);
        assert_eq!(w.kill(1, killed("again", 8)), None, "killed once");
        w.check().unwrap();

        // Out of the pool: no count, no deadline, no worker by its pid.
        assert_eq!((w.len(), w.serving(), w.starting()), (1, 1, 0));
        assert_eq!(w.iter().map(|w| w.pid).collect::<Vec<_>>(), [2]);
        assert!(w.get(1).is_none() && w.knows(1));
        assert_eq!(w.next_deadline(), None);
        // No transition reaches it.
        w.become_idle(1, Mono(2));
        w.set_leaving(
            1,
            Leaving {
                kill_at: Mono(S),
                why: Why::ChannelClosed,
            },
        );
        assert_eq!(w.take_idle(), Some(2), "the only idle one");
        let (tick, since, retire) = (Tick::new(0, Mono(0)), Mono(2), None);
        w.set_state(
            2,
            WorkerState::Busy {
                tick,
                since,
                exec_ttl: None,
                retire,
            },
        );
        assert_eq!(w.next_deadline(), None);
        w.check().unwrap();

        // Kept, with why, until reaped; the last one waited for says how long.
        assert_eq!(w.killed(1).unwrap().why, "was refused");
        assert_eq!(w.killed_until(), Some(Mono(9 * S)));
        let order: Vec<Pid> = w.unreaped().map(|(pid, _)| pid).collect();
        assert_eq!(order, [1, 3], "the one waited for the shortest first");
        assert!(w.remove(3).unwrap().is_killed());
        assert_eq!(w.killed_until(), Some(Mono(7 * S)));
        w.join_killed(4, Mono(3), killed("could not be watched", 8));
        assert_eq!((w.len(), w.killed_until()), (1, Some(Mono(8 * S))));
        w.remove(1);
        w.remove(4);
        assert!(!w.knows(1) && w.killed_until().is_none());
        w.check().unwrap();
    }
}
