//! How long to spin before a due instant: learned from how late this thread's own sleeps
//! wake up.
//!
//! A sleeper is woken tens of microseconds after the instant it asked for, by an amount that
//! depends on the host (a VM's timer, the CPU's idle states, the load). To return at a due
//! instant to the microsecond, [`crate::sys::wait_until`] sleeps until shortly before it and
//! spins the rest. Spinning is CPU spent for nothing, so the window is sized from what this
//! thread measured: a percentile of its recent oversleeps, plus a margin for a goal that needs
//! one, re-learned as they drift. A window too short makes the ticks late by the excess; too
//! long costs CPU.
//!
//! How wide a window pays depends on what the waiter promises, so the window is built with its
//! [`Goal`] rather than told how to behave later: a pool's worker promises a tail (the 99th
//! percentile at 1 ms within microseconds), the native ticker only a median, against a sleep's
//! tens of microseconds. A median needs the window to cover only half the wake-ups, and spins
//! on the other half for as long as they woke early of it: a few microseconds on half the ticks
//! instead of some ten on every one.
//!
//! Owns the arithmetic only: it reads no clock and sleeps on nothing.

use std::time::Duration;

/// The window until enough sleeps were measured, and the most it ever grows to: a sleep
/// that oversleeps more than this is late, not spun away.
pub const MAX_WINDOW: Duration = Duration::from_micros(100);

/// How many recent sleeps the window is learned from: enough for a high percentile, few
/// enough that a quieter or a busier host is followed within a second of 1 ms ticks.
const RECENT: usize = 64;

/// How many sleeps are measured before the window follows them.
const LEARNED_AFTER: usize = 16;

/// What the waits of one thread promise about how late they return, which sizes the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Most returns on time: the 99th percentile within microseconds. The window covers the
    /// 75th percentile of the oversleeps (the 16th largest of 64) and a margin of 5 µs for
    /// what that percentile does not see of the next one. A window sized for the rare late
    /// wake-up is spun on every tick; sized for three in four, the fourth is late by the few
    /// microseconds its wake-up exceeds the window. Measured at 1 ms against the 97th
    /// percentile (the third largest), it halved the spin's CPU for the same median and 99th
    /// percentile (bench/README.md).
    Tail,
    /// The median return on time, the tail as late as a plain sleep's wake-up: the window is
    /// the median oversleep (the 32nd largest of 64), with no margin. For a consumer that
    /// would otherwise sleep to the instant and wake tens of microseconds late, and that
    /// pays for every spin itself.
    Median,
}

impl Goal {
    /// The rank among [`RECENT`] oversleeps, counted from the largest, of the one the window
    /// covers: the n-th largest leaves the n - 1 above it to be late.
    fn rank_from_top(self) -> usize {
        match self {
            Goal::Tail => 16,
            Goal::Median => RECENT / 2,
        }
    }

    fn margin(self) -> Duration {
        match self {
            Goal::Tail => Duration::from_micros(5),
            Goal::Median => Duration::ZERO,
        }
    }
}

/// The recent oversleeps of one thread, and the spin window they give.
#[derive(Debug, Clone)]
pub struct SpinWindow {
    goal: Goal,
    /// In the order they were recorded: the next one replaces the one at `count % RECENT`.
    /// Boxed: the worker's link, which holds this, moves through the master's return values.
    recent: Box<[u32; RECENT]>,
    /// The same oversleeps in ascending order, the first `count.min(RECENT)` of them: kept
    /// sorted as one leaves and one comes, so that a wait finds its rank by index. Copying
    /// and selecting all 64 on every sleep was a third of what the spin itself cost.
    sorted: Box<[u32; RECENT]>,
    /// Oversleeps recorded so far, up to [`RECENT`] and then between it and twice it.
    count: usize,
    window: Duration,
}

impl SpinWindow {
    /// A window not learned yet: the widest, until enough sleeps were measured.
    pub fn new(goal: Goal) -> SpinWindow {
        SpinWindow {
            goal,
            recent: Box::new([0; RECENT]),
            sorted: Box::new([0; RECENT]),
            count: 0,
            window: MAX_WINDOW,
        }
    }

    /// How long before a due instant to stop sleeping and start spinning.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// A sleep asked to wake at some instant woke `overslept` after it.
    pub fn record(&mut self, overslept: Duration) {
        let micros = u32::try_from(overslept.as_micros()).unwrap_or(u32::MAX);
        let slot = self.count % RECENT;
        let mut known = self.count.min(RECENT);
        if known == RECENT {
            let oldest = self.recent[slot];
            let at = self.sorted.partition_point(|&v| v < oldest);
            self.sorted.copy_within(at + 1.., at);
            known -= 1;
        }
        let at = self.sorted[..known].partition_point(|&v| v < micros);
        self.sorted.copy_within(at..known, at + 1);
        self.sorted[at] = micros;
        self.recent[slot] = micros;
        self.count += 1;
        // The slot wraps without growing the count past what a ring needs.
        if self.count == 2 * RECENT {
            self.count = RECENT;
        }
        if self.count < LEARNED_AFTER {
            return;
        }
        let known = self.count.min(RECENT);
        // Of fewer than RECENT, the same share from the top.
        let rank = known - (known * self.goal.rank_from_top()).div_ceil(RECENT);
        let learned = Duration::from_micros(u64::from(self.sorted[rank])) + self.goal.margin();
        self.window = learned.min(MAX_WINDOW);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    const TAIL_MARGIN: Duration = Duration::from_micros(5);

    #[test]
    fn until_enough_sleeps_were_measured_the_window_is_the_widest() {
        for (goal, margin) in [(Goal::Tail, TAIL_MARGIN), (Goal::Median, Duration::ZERO)] {
            let mut spin = SpinWindow::new(goal);
            for _ in 0..LEARNED_AFTER - 1 {
                spin.record(us(3));
            }
            assert_eq!(spin.window(), MAX_WINDOW);
            spin.record(us(3));
            assert_eq!(spin.window(), us(3) + margin, "{goal:?}");
        }
    }

    #[test]
    fn for_a_tail_the_window_covers_all_but_the_largest_quarter_and_a_margin() {
        let mut spin = SpinWindow::new(Goal::Tail);
        for i in 0..RECENT as u64 {
            // 10..=73 µs; the window leaves the largest 15 to be late.
            spin.record(us(10 + i));
        }
        assert_eq!(spin.window(), us(10 + 48) + TAIL_MARGIN);
    }

    #[test]
    fn for_a_median_the_window_covers_half_the_oversleeps_and_no_more() {
        let mut spin = SpinWindow::new(Goal::Median);
        for i in 0..RECENT as u64 {
            spin.record(us(10 + i));
        }
        assert_eq!(spin.window(), us(10 + 32));
    }

    #[test]
    fn while_still_learning_the_window_covers_the_same_share_of_fewer_sleeps() {
        let mut tail = SpinWindow::new(Goal::Tail);
        let mut median = SpinWindow::new(Goal::Median);
        for i in 0..LEARNED_AFTER as u64 {
            tail.record(us(10 + i));
            median.record(us(10 + i));
        }
        // 10..=25 µs: the largest 3 of 16 are left to be late, or the largest 7.
        assert_eq!(tail.window(), us(10 + 12) + TAIL_MARGIN);
        assert_eq!(median.window(), us(10 + 8));
    }

    #[test]
    fn a_host_that_quiets_down_is_followed_within_one_round_of_sleeps() {
        let mut spin = SpinWindow::new(Goal::Tail);
        for _ in 0..RECENT {
            spin.record(us(60));
        }
        assert_eq!(spin.window(), us(65));
        for _ in 0..RECENT - 16 {
            spin.record(us(8));
        }
        assert_eq!(
            spin.window(),
            us(60) + TAIL_MARGIN,
            "a few of the old ones remain"
        );
        for _ in 0..16 {
            spin.record(us(8));
        }
        assert_eq!(spin.window(), us(8) + TAIL_MARGIN);
    }

    #[test]
    fn the_window_never_exceeds_the_widest() {
        for goal in [Goal::Tail, Goal::Median] {
            let mut spin = SpinWindow::new(goal);
            for _ in 0..3 * RECENT {
                spin.record(Duration::from_millis(3));
            }
            assert_eq!(spin.window(), MAX_WINDOW);
        }
    }

    #[test]
    fn the_ring_keeps_learning_after_many_rounds() {
        let mut spin = SpinWindow::new(Goal::Median);
        for round in 0..10 * RECENT as u64 {
            spin.record(us(20 + round % 7));
        }
        for _ in 0..RECENT {
            spin.record(us(2));
        }
        assert_eq!(spin.window(), us(2));
    }

    #[test]
    fn the_window_is_the_rank_among_exactly_the_last_sleeps() {
        // Oversleeps of 0..200 µs in a scrambled order, some repeated, some over the widest.
        let oversleeps: Vec<u64> = (0..5 * RECENT as u64).map(|i| i * 37 % 200).collect();
        for goal in [Goal::Tail, Goal::Median] {
            let mut spin = SpinWindow::new(goal);
            for (n, &o) in oversleeps.iter().enumerate() {
                spin.record(us(o));
                let mut last = oversleeps[(n + 1).saturating_sub(RECENT)..=n].to_vec();
                if last.len() < LEARNED_AFTER {
                    continue;
                }
                last.sort_unstable();
                let rank = last.len() - (last.len() * goal.rank_from_top()).div_ceil(RECENT);
                let expected = (us(last[rank]) + goal.margin()).min(MAX_WINDOW);
                assert_eq!(spin.window(), expected, "{goal:?} after {} sleeps", n + 1);
            }
        }
    }
}
