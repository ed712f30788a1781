//! Tick arithmetic over monotonic instants.
//!
//! Owns when tick N is due (`start + N × interval`, never accumulated, so nothing drifts),
//! which ticks a wake-up finds due, and how a monotonic instant maps to wall-clock time for
//! the tick's header, and the `delay` policy's hold on the grid (the grid stops at a tick that
//! has to wait and restarts one interval after it is delivered). It reads no clock and sleeps
//! on nothing: callers pass `now` in, which keeps every rule testable without waiting. No PHP
//! types here: the master and the native ticker ([`crate::native`]) share it.
//! Cron schedules in a time zone are its submodules' ([`cron`], over [`zone`]'s rules), and
//! so are the offsets that spread schedules apart ([`jitter`]).

pub mod cron;
pub mod jitter;
pub mod zone;

use std::ops::Range;
use std::time::Duration;

/// An instant on `CLOCK_MONOTONIC`, in nanoseconds. The same clock as PHP's `hrtime(true)`,
/// shared by the master and its workers, so a worker can measure a tick's lateness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Mono(pub u64);

impl Mono {
    /// Time from `earlier` to `self`; zero when `earlier` is later.
    pub fn since(self, earlier: Mono) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl std::ops::Add<Duration> for Mono {
    type Output = Mono;

    fn add(self, d: Duration) -> Mono {
        Mono(self.0.saturating_add(duration_nanos(d)))
    }
}

fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The grid of due instants: tick `n` is due at `start + n × interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    start: Mono,
    interval: Duration,
}

impl Schedule {
    pub fn new(start: Mono, interval: Duration) -> Schedule {
        assert!(!interval.is_zero(), "a schedule needs a non-zero interval");
        Schedule { start, interval }
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    pub fn due(&self, n: u64) -> Mono {
        let offset = u128::from(n) * self.interval.as_nanos();
        Mono(
            self.start
                .0
                .saturating_add(u64::try_from(offset).unwrap_or(u64::MAX)),
        )
    }

    /// How many ticks are due at `now`: those with `due(n) <= now`.
    pub fn count_due_by(&self, now: Mono) -> u64 {
        if now < self.start {
            return 0;
        }
        let elapsed = u128::from(now.0 - self.start.0);
        u64::try_from(elapsed / self.interval.as_nanos() + 1).unwrap_or(u64::MAX)
    }
}

/// Walks a [`Schedule`], handing out each tick number once.
#[derive(Debug, Clone)]
pub struct Ticker {
    schedule: Schedule,
    /// The tick number the schedule's start belongs to (0 until a [`Ticker::rebase`]).
    base: u64,
    next: u64,
    /// Set by [`Ticker::hold`]: nothing comes due until [`Ticker::release`].
    held: bool,
}

impl Ticker {
    pub fn new(schedule: Schedule) -> Ticker {
        Ticker {
            schedule,
            base: 0,
            next: 0,
            held: false,
        }
    }

    /// A ticker whose first tick is number `first`, due at the schedule's start: a cluster
    /// leader goes on with the shared numbering.
    pub fn starting_at(first: u64, schedule: Schedule) -> Ticker {
        Ticker {
            schedule,
            base: first,
            next: first,
            held: false,
        }
    }

    /// The number of the next tick to come due.
    pub fn next_number(&self) -> u64 {
        self.next
    }

    /// When tick `n` is due. Numbers before the last rebase belong to the old grid and are
    /// never asked for again.
    pub fn due(&self, n: u64) -> Mono {
        self.schedule.due(n.saturating_sub(self.base))
    }

    /// The instant the timer should wake at.
    pub fn next_due(&self) -> Mono {
        self.due(self.next)
    }

    /// Tick numbers that became due since the last call, oldest first. Empty when woken early.
    /// After a stall several ticks come at once; the caller decides which to deliver.
    /// Empty while held.
    pub fn poll(&mut self, now: Mono) -> Range<u64> {
        let first = self.next;
        if self.held {
            return first..first;
        }
        let due_by = self.base.saturating_add(self.schedule.count_due_by(now));
        self.next = self.next.max(due_by);
        first..self.next
    }

    /// Gives back the numbers from `n` on that [`Ticker::poll`] returned but that did not
    /// happen: the `delay` policy holds the grid at the tick that had to wait, and the ticks
    /// after it come later, with the same numbers.
    pub fn rewind(&mut self, n: u64) {
        self.next = self.next.min(n.max(self.base));
    }

    /// Moves the grid so that the next tick is due at `due`, one interval apart as before:
    /// the `delay` policy, after a tick had to wait. Numbering goes on unbroken.
    pub fn rebase(&mut self, due: Mono) {
        self.schedule = Schedule::new(due, self.schedule.interval());
        self.base = self.next;
    }

    /// The `delay` policy: tick `n` has to wait, and the grid waits with it. The numbers after
    /// `n` that [`Ticker::poll`] already returned did not happen ([`Ticker::rewind`]); until
    /// [`Ticker::release`] nothing comes due, and [`Ticker::next_due`] means nothing (the
    /// timer stays off).
    pub fn hold(&mut self, n: u64) {
        self.rewind(n.saturating_add(1));
        self.held = true;
    }

    pub fn is_held(&self) -> bool {
        self.held
    }

    /// The tick that held the grid is gone at `at` (delivered, or dropped after waiting too
    /// long): the grid restarts one interval later ([`Ticker::rebase`]), numbering unbroken.
    /// Returns whether the grid was held; when it was not (every other policy) this does
    /// nothing, so a front end may call it for every first delivery of a tick that waited.
    pub fn release(&mut self, at: Mono) -> bool {
        if !self.held {
            return false;
        }
        self.held = false;
        self.rebase(at + self.schedule.interval());
        true
    }
}

/// Maps monotonic instants to Unix time, from one reading of both clocks. Reading the wall
/// clock once keeps header times consistent with the grid even if the wall clock steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    mono: Mono,
    unix: Duration,
}

impl WallClock {
    pub fn new(mono: Mono, unix: Duration) -> WallClock {
        WallClock { mono, unix }
    }

    /// Unix time of a monotonic instant.
    pub fn unix(&self, at: Mono) -> Duration {
        if at >= self.mono {
            self.unix + at.since(self.mono)
        } else {
            self.unix.saturating_sub(self.mono.since(at))
        }
    }

    /// The monotonic instant of a Unix time; the clock's start (0) for one before it.
    pub fn mono(&self, at: cron::UnixInstant) -> Mono {
        let unix = cron::UnixInstant::from_unix(self.unix);
        let offset = at.as_nanos().saturating_sub(unix.as_nanos());
        if offset >= 0 {
            self.mono + Duration::from_nanos(offset as u64)
        } else {
            Mono(self.mono.0.saturating_sub(offset.unsigned_abs()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn due_instants_are_multiples_of_the_interval_without_drift() {
        let s = Schedule::new(Mono(5), Duration::from_nanos(333_333));
        assert_eq!(s.due(0), Mono(5));
        assert_eq!(s.due(3), Mono(5 + 999_999));
        // A million ticks later the error is still zero: no accumulated rounding.
        assert_eq!(s.due(1_000_000), Mono(5 + 333_333_000_000));
    }

    #[test]
    fn count_due_by_includes_the_tick_due_exactly_now() {
        let s = Schedule::new(Mono(100 * MS), Duration::from_millis(10));
        assert_eq!(s.count_due_by(Mono(0)), 0);
        assert_eq!(s.count_due_by(Mono(100 * MS - 1)), 0);
        assert_eq!(s.count_due_by(Mono(100 * MS)), 1);
        assert_eq!(s.count_due_by(Mono(110 * MS - 1)), 1);
        assert_eq!(s.count_due_by(Mono(110 * MS)), 2);
    }

    #[test]
    fn ticker_hands_out_each_number_once_whatever_the_wakeups() {
        let s = Schedule::new(Mono(0), Duration::from_millis(10));
        let mut t = Ticker::new(s);
        assert_eq!(t.next_due(), Mono(0));
        assert_eq!(t.poll(Mono(0)), 0..1);
        assert_eq!(t.poll(Mono(5 * MS)), 1..1, "woken early: nothing due");
        assert_eq!(t.next_due(), Mono(10 * MS));
        assert_eq!(t.poll(Mono(10 * MS + 1)), 1..2);
        // A stall of 35 ms makes three ticks due at once; the grid does not move.
        assert_eq!(t.poll(Mono(45 * MS)), 2..5);
        assert_eq!(t.next_due(), Mono(50 * MS));
        // Time going backwards (it cannot on CLOCK_MONOTONIC) never repeats a number.
        assert_eq!(t.poll(Mono(0)), 5..5);
    }

    #[test]
    fn rebasing_shifts_the_grid_and_keeps_numbering() {
        let mut t = Ticker::new(Schedule::new(Mono(0), Duration::from_millis(10)));
        assert_eq!(t.poll(Mono(0)), 0..1);
        // Tick 1 waited and was delivered at 27 ms: the grid restarts one interval later.
        assert_eq!(t.poll(Mono(10 * MS)), 1..2);
        t.rebase(Mono(37 * MS));
        assert_eq!(t.next_due(), Mono(37 * MS));
        assert_eq!(t.poll(Mono(36 * MS)), 2..2);
        assert_eq!(t.poll(Mono(37 * MS)), 2..3);
        assert_eq!(t.due(2), Mono(37 * MS));
        assert_eq!(t.next_due(), Mono(47 * MS));
    }

    #[test]
    fn ticks_given_back_before_a_rebase_keep_their_numbers() {
        let mut t = Ticker::new(Schedule::new(Mono(0), Duration::from_millis(10)));
        // A late wake-up finds ticks 0..4 due; tick 1 must wait, so 2 and 3 did not happen.
        assert_eq!(t.poll(Mono(35 * MS)), 0..4);
        t.rewind(2);
        t.rebase(Mono(50 * MS));
        assert_eq!(t.poll(Mono(50 * MS)), 2..3);
        assert_eq!(t.due(2), Mono(50 * MS));
        assert_eq!(t.poll(Mono(60 * MS)), 3..4);
    }

    #[test]
    fn a_hold_stops_the_grid_at_the_waiting_tick_until_its_release() {
        let mut t = Ticker::new(Schedule::new(Mono(0), Duration::from_millis(10)));
        assert_eq!(t.poll(Mono(0)), 0..1);
        // A late wake-up finds 1..4 due; tick 1 has to wait, so 2 and 3 did not happen.
        assert_eq!(t.poll(Mono(35 * MS)), 1..4);
        t.hold(1);
        assert!(t.is_held());
        assert_eq!(t.poll(Mono(500 * MS)), 2..2, "nothing comes due while held");
        // Tick 1 is delivered at 512 ms: tick 2 is due one interval later, and so on.
        assert!(t.release(Mono(512 * MS)));
        assert!(!t.is_held());
        assert_eq!(t.next_due(), Mono(522 * MS));
        assert_eq!(t.poll(Mono(521 * MS)), 2..2);
        assert_eq!(t.poll(Mono(532 * MS)), 2..4);
        assert_eq!(t.due(3), Mono(532 * MS));
    }

    #[test]
    fn releasing_a_grid_that_is_not_held_changes_nothing() {
        let mut t = Ticker::new(Schedule::new(Mono(0), Duration::from_millis(10)));
        assert_eq!(t.poll(Mono(25 * MS)), 0..3);
        assert!(!t.release(Mono(27 * MS)));
        assert_eq!(t.next_due(), Mono(30 * MS));
        assert_eq!(t.poll(Mono(30 * MS)), 3..4);
    }

    #[test]
    fn a_ticker_can_start_at_any_number() {
        let mut t =
            Ticker::starting_at(40, Schedule::new(Mono(100 * MS), Duration::from_millis(10)));
        assert_eq!((t.next_number(), t.next_due()), (40, Mono(100 * MS)));
        assert_eq!(t.poll(Mono(99 * MS)), 40..40);
        assert_eq!(t.poll(Mono(115 * MS)), 40..42);
        assert_eq!(t.due(42), Mono(120 * MS));
        t.rewind(41);
        assert_eq!(t.next_number(), 41);
        // Never below the first number.
        t.rewind(3);
        assert_eq!(t.next_number(), 40);
    }

    #[test]
    fn late_wakeups_do_not_shift_later_due_instants() {
        let s = Schedule::new(Mono(0), Duration::from_millis(1));
        let mut t = Ticker::new(s);
        let mut delivered = vec![];
        // Each wake-up is 0.7 ms late; due instants stay on the millisecond grid.
        for n in 0..100u64 {
            let now = Mono(t.next_due().0 + 700_000);
            let due = t.poll(now);
            assert_eq!(due, n..n + 1);
            delivered.push(s.due(n));
        }
        assert_eq!(delivered[99], Mono(99 * MS));
    }

    #[test]
    fn a_unix_instant_maps_back_onto_the_monotonic_clock() {
        let c = WallClock::new(Mono(10 * MS), Duration::from_secs(1_700_000_000));
        let later = cron::UnixInstant::from_unix(Duration::from_secs(1_700_000_001));
        assert_eq!(c.mono(later), Mono(1_010 * MS));
        assert_eq!(c.unix(c.mono(later)), later.unix());
        let earlier = cron::UnixInstant::from_unix(Duration::from_secs(1_699_999_999));
        assert_eq!(
            c.mono(earlier),
            Mono(0),
            "before the clock's start: its start"
        );
    }

    #[test]
    fn wall_clock_maps_both_ways_from_one_reading() {
        let c = WallClock::new(Mono(10 * MS), Duration::from_secs(1_700_000_000));
        assert_eq!(
            c.unix(Mono(15 * MS)),
            Duration::from_secs(1_700_000_000) + Duration::from_millis(5)
        );
        assert_eq!(
            c.unix(Mono(4 * MS)),
            Duration::from_secs(1_700_000_000) - Duration::from_millis(6)
        );
    }
}
