//! The schedule every instance of a cluster shares: tick `n` is due at
//! `start + (n - base) × interval` on the wall clock, the same instant on every host.
//!
//! Owns the grid's arithmetic, which grid a new leader keeps (the one in Redis, one it
//! remembers when Redis lost its data, or a new one), and which tick a new leader starts
//! at. Pure: instants are passed in as Unix time, nothing reads a clock.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The grid in Redis. `base` is 0 unless the interval changed: a grid with a new interval
/// goes on from the numbers already handed out rather than starting again at 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grid {
    /// Unix time of tick `base`, in nanoseconds.
    pub start_ns: u64,
    pub base: u64,
    pub interval_ns: u64,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Grid {
    pub fn new(start: Duration, base: u64, interval: Duration) -> Grid {
        assert!(!interval.is_zero(), "a grid needs a non-zero interval");
        Grid {
            start_ns: nanos(start),
            base,
            interval_ns: nanos(interval),
        }
    }

    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval_ns)
    }

    /// Unix time tick `n` is due at (`n` before `base` belongs to an older grid: its start).
    pub fn due(&self, n: u64) -> Duration {
        let steps = u128::from(n.saturating_sub(self.base));
        let offset = steps * u128::from(self.interval_ns);
        let at = u128::from(self.start_ns).saturating_add(offset);
        Duration::from_nanos(u64::try_from(at).unwrap_or(u64::MAX))
    }

    /// The first tick due at `at` or later.
    pub fn first_due_from(&self, at: Duration) -> u64 {
        let at = u128::from(nanos(at));
        let start = u128::from(self.start_ns);
        if at <= start {
            return self.base;
        }
        let steps = (at - start).div_ceil(u128::from(self.interval_ns));
        self.base
            .saturating_add(u64::try_from(steps).unwrap_or(u64::MAX))
    }

    /// The last tick due at `at` or earlier; `None` before the grid's first tick.
    pub fn last_due_by(&self, at: Duration) -> Option<u64> {
        let at = u128::from(nanos(at));
        let start = u128::from(self.start_ns);
        if at < start {
            return None;
        }
        let steps = (at - start) / u128::from(self.interval_ns);
        Some(
            self.base
                .saturating_add(u64::try_from(steps).unwrap_or(u64::MAX)),
        )
    }
}

/// Where the grid a new leader ticks on came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Settled {
    /// The grid in Redis, with this instance's interval.
    Kept,
    /// Redis had no grid (it lost its data); this instance remembered it.
    Restored,
    /// No grid anywhere: the first leader's.
    New,
    /// The grid in Redis had another interval (the config changed): a new grid from the
    /// next number on.
    Rebased { from_interval_ns: u64 },
}

/// The grid a new leader keeps. `start_if_new` is the Unix time a new grid's first tick is
/// due; `floor` the highest tick number handed out so far, if any.
pub fn settle(
    stored: Option<Grid>,
    remembered: Option<Grid>,
    interval: Duration,
    start_if_new: Duration,
    floor: Option<u64>,
) -> (Grid, Settled) {
    let interval_ns = nanos(interval);
    let fresh = || {
        Grid::new(
            start_if_new,
            floor.map_or(0, |n| n.saturating_add(1)),
            interval,
        )
    };
    match (stored, remembered) {
        (Some(grid), _) if grid.interval_ns == interval_ns => (grid, Settled::Kept),
        (Some(grid), _) => (
            fresh(),
            Settled::Rebased {
                from_interval_ns: grid.interval_ns,
            },
        ),
        (None, Some(grid)) if grid.interval_ns == interval_ns => (grid, Settled::Restored),
        (None, Some(grid)) => (
            fresh(),
            Settled::Rebased {
                from_interval_ns: grid.interval_ns,
            },
        ),
        (None, None) => (fresh(), Settled::New),
    }
}

/// The first tick of a new leader: due no earlier than `from` (Unix time), and after every
/// number handed out before (`floor`), so that no number is ever handed out twice.
pub fn first_tick(grid: &Grid, floor: Option<u64>, from: Duration) -> u64 {
    let by_time = grid.first_due_from(from).max(grid.base);
    match floor {
        Some(n) => by_time.max(n.saturating_add(1)),
        None => by_time,
    }
}

/// Ticks no instance delivered between the last one recorded and a new leader's first: a
/// failover shows as skipped ticks.
pub fn skipped_before(grid: &Grid, last: Option<u64>, first: u64) -> u64 {
    let expected = last
        .map_or(grid.base, |n| n.saturating_add(1))
        .max(grid.base);
    first.saturating_sub(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn ticks_are_due_at_start_plus_n_intervals_on_the_wall_clock() {
        let g = Grid::new(secs(1_700_000_000), 0, ms(100));
        assert_eq!(g.due(0), secs(1_700_000_000));
        assert_eq!(g.due(25), secs(1_700_000_000) + ms(2500));
        // No accumulated rounding a billion ticks on.
        assert_eq!(
            g.due(1_000_000_000),
            secs(1_700_000_000) + secs(100_000_000)
        );
    }

    #[test]
    fn first_and_last_due_around_an_instant() {
        let g = Grid::new(secs(100), 0, ms(100));
        assert_eq!(g.first_due_from(secs(50)), 0);
        assert_eq!(g.first_due_from(secs(100)), 0);
        assert_eq!(g.first_due_from(secs(100) + ms(1)), 1);
        assert_eq!(g.first_due_from(secs(100) + ms(200)), 2);
        assert_eq!(g.last_due_by(secs(99)), None);
        assert_eq!(g.last_due_by(secs(100)), Some(0));
        assert_eq!(g.last_due_by(secs(100) + ms(299)), Some(2));
        assert_eq!(g.last_due_by(secs(100) + ms(300)), Some(3));
    }

    #[test]
    fn a_rebased_grid_counts_from_its_base() {
        let g = Grid::new(secs(10), 40, secs(1));
        assert_eq!(g.due(40), secs(10));
        assert_eq!(g.due(42), secs(12));
        assert_eq!(g.first_due_from(secs(5)), 40);
        assert_eq!(g.first_due_from(secs(11) + ms(1)), 42);
        assert_eq!(g.last_due_by(secs(11)), Some(41));
    }

    #[test]
    fn a_new_leader_keeps_the_grid_in_redis() {
        let stored = Grid::new(secs(5), 0, ms(100));
        let (grid, how) = settle(Some(stored), None, ms(100), secs(99), Some(70));
        assert_eq!((grid, how), (stored, Settled::Kept));
    }

    #[test]
    fn a_grid_lost_by_redis_is_restored_from_memory() {
        let remembered = Grid::new(secs(5), 0, ms(100));
        let (grid, how) = settle(None, Some(remembered), ms(100), secs(99), Some(70));
        assert_eq!((grid, how), (remembered, Settled::Restored));
    }

    #[test]
    fn the_first_leader_starts_a_grid_at_zero() {
        let (grid, how) = settle(None, None, ms(100), secs(99), None);
        assert_eq!(how, Settled::New);
        assert_eq!(grid, Grid::new(secs(99), 0, ms(100)));
    }

    #[test]
    fn a_changed_interval_starts_a_grid_after_the_numbers_handed_out() {
        let stored = Grid::new(secs(5), 0, ms(100));
        let (grid, how) = settle(Some(stored), None, secs(1), secs(99), Some(70));
        assert_eq!(
            how,
            Settled::Rebased {
                from_interval_ns: 100_000_000
            }
        );
        assert_eq!(grid, Grid::new(secs(99), 71, secs(1)));
        let (grid, _) = settle(None, Some(stored), secs(1), secs(99), None);
        assert_eq!(grid.base, 0);
    }

    #[test]
    fn a_new_leader_starts_after_every_number_handed_out_and_not_in_the_past() {
        let g = Grid::new(secs(100), 0, ms(100));
        // The old leader was granted up to tick 30 (due at 103 s); it is 102.05 s now.
        assert_eq!(first_tick(&g, Some(30), secs(102) + ms(50)), 31);
        // It is 105 s: ticks 31..50 passed while nobody held the lease.
        assert_eq!(first_tick(&g, Some(30), secs(105)), 50);
        assert_eq!(first_tick(&g, None, secs(50)), 0);
        // A clock behind the others' cannot take a number back.
        assert_eq!(first_tick(&g, Some(30), secs(101)), 31);
    }

    #[test]
    fn a_failover_counts_the_ticks_nobody_delivered() {
        let g = Grid::new(secs(100), 0, ms(100));
        assert_eq!(skipped_before(&g, Some(30), 31), 0);
        assert_eq!(skipped_before(&g, Some(30), 50), 19);
        assert_eq!(skipped_before(&g, None, 0), 0);
        assert_eq!(skipped_before(&g, None, 4), 4);
        let rebased = Grid::new(secs(100), 71, secs(1));
        assert_eq!(skipped_before(&rebased, Some(60), 71), 0);
    }
}
