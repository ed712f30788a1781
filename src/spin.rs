//! How long to spin before a due instant: learned from how late this thread's own sleeps
//! wake up.
//!
//! A sleeper is woken tens of microseconds after the instant it asked for, by an amount that
//! depends on the host (a VM's timer, the CPU's idle states, the load). To return at a due
//! instant to the microsecond, [`crate::sys::wait_until`] sleeps until shortly before it and
//! spins the rest. Spinning is CPU spent for nothing, so the window is sized from what this
//! thread measured: a percentile of its recent oversleeps plus a margin, re-learned as
//! they drift. A window too short makes the ticks late by the excess; too long costs CPU.
//!
//! Owns the arithmetic only: it reads no clock and sleeps on nothing.

use std::time::Duration;

/// The window until enough sleeps were measured, and the most it ever grows to: a sleep
/// that oversleeps more than this is late, not spun away.
pub const MAX_WINDOW: Duration = Duration::from_micros(100);

/// Spun on top of the learned oversleep: what the percentile does not see of the next one.
const MARGIN: Duration = Duration::from_micros(5);

/// How many recent sleeps the window is learned from: enough for a high percentile, few
/// enough that a quieter or a busier host is followed within a second of 1 ms ticks.
const RECENT: usize = 64;

/// The rank of the oversleep the window covers among the recent ones, from the top: the
/// 16th largest of 64, the 75th percentile. A window sized for the rare late wake-up is
/// spun on every tick; sized for three in four, the fourth is late by the few microseconds
/// its wake-up exceeds the window. Measured at 1 ms against the 97th percentile (the third
/// largest), it halved the spin's CPU for the same median and 99th percentile
/// (bench/README.md).
const FROM_TOP: usize = 16;

/// How many sleeps are measured before the window follows them.
const LEARNED_AFTER: usize = 16;

/// The recent oversleeps of one thread, and the spin window they give.
#[derive(Debug, Clone)]
pub struct SpinWindow {
    /// Boxed: the worker's link, which holds this, moves through the master's return values.
    recent: Box<[u32; RECENT]>,
    /// Oversleeps recorded so far, up to [`RECENT`]; the next one goes at `count % RECENT`.
    count: usize,
    window: Duration,
}

impl Default for SpinWindow {
    fn default() -> SpinWindow {
        SpinWindow {
            recent: Box::new([0; RECENT]),
            count: 0,
            window: MAX_WINDOW,
        }
    }
}

impl SpinWindow {
    /// How long before a due instant to stop sleeping and start spinning.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// A sleep asked to wake at some instant woke `overslept` after it.
    pub fn record(&mut self, overslept: Duration) {
        let micros = u32::try_from(overslept.as_micros()).unwrap_or(u32::MAX);
        self.recent[self.count % RECENT] = micros;
        self.count += 1;
        if self.count < LEARNED_AFTER {
            return;
        }
        let mut sorted = *self.recent;
        let known = &mut sorted[..self.count.min(RECENT)];
        let rank = known.len().saturating_sub(FROM_TOP);
        let (_, high, _) = known.select_nth_unstable(rank);
        let learned = Duration::from_micros(u64::from(*high)) + MARGIN;
        self.window = learned.min(MAX_WINDOW);
        // The index wraps without growing the count past what a ring needs.
        if self.count == 2 * RECENT {
            self.count = RECENT;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn until_enough_sleeps_were_measured_the_window_is_the_widest() {
        let mut spin = SpinWindow::default();
        for _ in 0..LEARNED_AFTER - 1 {
            spin.record(us(3));
        }
        assert_eq!(spin.window(), MAX_WINDOW);
        spin.record(us(3));
        assert_eq!(spin.window(), us(3) + MARGIN);
    }

    #[test]
    fn the_window_covers_all_but_the_largest_few_oversleeps() {
        let mut spin = SpinWindow::default();
        for i in 0..RECENT as u64 {
            // 10..=73 µs; the window leaves the largest quarter to be late.
            spin.record(us(10 + i));
        }
        assert_eq!(
            spin.window(),
            us(10 + RECENT as u64 - FROM_TOP as u64) + MARGIN
        );
    }

    #[test]
    fn a_host_that_quiets_down_is_followed_within_one_round_of_sleeps() {
        let mut spin = SpinWindow::default();
        for _ in 0..RECENT {
            spin.record(us(60));
        }
        assert_eq!(spin.window(), us(65));
        for _ in 0..RECENT - FROM_TOP {
            spin.record(us(8));
        }
        assert_eq!(
            spin.window(),
            us(60) + MARGIN,
            "a few of the old ones remain"
        );
        for _ in 0..FROM_TOP {
            spin.record(us(8));
        }
        assert_eq!(spin.window(), us(8) + MARGIN);
    }

    #[test]
    fn the_window_never_exceeds_the_widest() {
        let mut spin = SpinWindow::default();
        for _ in 0..3 * RECENT {
            spin.record(Duration::from_millis(3));
        }
        assert_eq!(spin.window(), MAX_WINDOW);
    }

    #[test]
    fn the_ring_keeps_learning_after_many_rounds() {
        let mut spin = SpinWindow::default();
        for round in 0..10 * RECENT as u64 {
            spin.record(us(20 + round % 7));
        }
        for _ in 0..RECENT {
            spin.record(us(2));
        }
        assert_eq!(spin.window(), us(2) + MARGIN);
    }
}
