//! Durations counted in buckets of fixed bounds since the master started: what a Prometheus
//! histogram exports. Tick lateness (the pool's, and each schedule's) and each schedule's run
//! duration are kept this way.
//!
//! Owns the bounds, the counting ([`Buckets`], constant time and size whatever the history)
//! and what a count tells ([`Histogram`], as a snapshot carries it, and its quantiles as far
//! as the buckets bound them). Values only: it reads no clock, and renders nothing (that is
//! [`crate::metrics`]'s).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Upper bounds of the lateness histogram's buckets, in nanoseconds (2.5 µs is no whole
/// microsecond): 1 µs to 10 s in steps of 1, 2.5 and 5. A last bucket holds what lies above.
pub const BUCKET_BOUNDS_NS: [u64; 22] = steps(1_000);

/// Upper bounds of the run duration histogram's buckets, in nanoseconds: 1 ms to 2500 s
/// (about 42 minutes: a scheduled job may take long) in steps of 1, 2.5 and 5. A last
/// bucket holds what lies above.
pub const RUN_BOUNDS_NS: [u64; 20] = steps(1_000_000);

/// `N` bounds from `first` up, in steps of 1, 2.5 and 5 per decade.
const fn steps<const N: usize>(first: u64) -> [u64; N] {
    let mut bounds = [0; N];
    let mut decade = first;
    let mut i = 0;
    while i < N {
        bounds[i] = match i % 3 {
            0 => decade,
            1 => decade * 5 / 2,
            _ => decade * 5,
        };
        if i % 3 == 2 {
            decade *= 10;
        }
        i += 1;
    }
    bounds
}

/// Durations counted in buckets of fixed upper bounds, with their sum: what a Prometheus
/// histogram exports, counts that only grow. Constant time per value whatever the history
/// (a binary search over the bounds), and a fixed size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buckets {
    bounds: &'static [u64],
    /// One count per bound, then those above the last: as [`Histogram::buckets`].
    counts: Vec<u64>,
    sum_us: u64,
}

impl Buckets {
    /// No values yet, in buckets up to `bounds` (nanoseconds, ascending).
    pub fn new(bounds: &'static [u64]) -> Buckets {
        Buckets {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum_us: 0,
        }
    }

    /// A tick's lateness, in the buckets of [`BUCKET_BOUNDS_NS`].
    pub fn lateness() -> Buckets {
        Buckets::new(&BUCKET_BOUNDS_NS)
    }

    /// A run's duration, in the buckets of [`RUN_BOUNDS_NS`].
    pub fn run_duration() -> Buckets {
        Buckets::new(&RUN_BOUNDS_NS)
    }

    pub fn record(&mut self, value: Duration) {
        self.record_us(u64::try_from(value.as_micros()).unwrap_or(u64::MAX));
    }

    /// A value in whole microseconds, bucketed by them, so that the sum and the buckets
    /// tell of the same value.
    pub fn record_us(&mut self, us: u64) {
        let ns = us.saturating_mul(1_000);
        let bucket = self.bounds.partition_point(|&bound| bound < ns);
        self.counts[bucket] = self.counts[bucket].saturating_add(1);
        self.sum_us = self.sum_us.saturating_add(us);
    }

    pub fn histogram(&self) -> Histogram {
        Histogram {
            buckets: self.counts.clone(),
            sum_us: self.sum_us,
        }
    }
}

/// Durations in buckets, since the master started: tick lateness (the bounds of
/// [`BUCKET_BOUNDS_NS`]) or run duration ([`RUN_BOUNDS_NS`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    /// Values per bucket, not cumulative: one count per bound (those above the previous
    /// bound, up to and with this one), then those above the last bound.
    pub buckets: Vec<u64>,
    /// The values added up, in whole microseconds as recorded.
    pub sum_us: u64,
}

/// Where a quantile of a histogram lies, as far as its buckets tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantile {
    /// At most this bound, in nanoseconds: the bound of the bucket that holds its rank.
    AtMost(u64),
    /// Above the last bound.
    Above(u64),
}

impl Histogram {
    /// How many values it holds, whatever the counts (a sum past u64 stays at its largest).
    pub fn count(&self) -> u64 {
        self.buckets.iter().fold(0u64, |n, &c| n.saturating_add(c))
    }

    /// The nearest-rank quantile `q` (0 to 1), as far as buckets up to `bounds` tell;
    /// `None` without values. Counts past the bounds (another version's snapshot) are above.
    pub fn quantile(&self, bounds: &[u64], q: f64) -> Option<Quantile> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let rank = ((q * count as f64).ceil() as u64).clamp(1, count);
        let mut cumulative = 0u64;
        for (bound, &n) in bounds.iter().zip(&self.buckets) {
            cumulative = cumulative.saturating_add(n);
            if cumulative >= rank {
                return Some(Quantile::AtMost(*bound));
            }
        }
        bounds.last().map(|&last| Quantile::Above(last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounds_go_in_steps_of_one_two_and_a_half_and_five() {
        assert_eq!(BUCKET_BOUNDS_NS[..4], [1_000, 2_500, 5_000, 10_000]);
        assert_eq!(BUCKET_BOUNDS_NS[21], 10_000_000_000, "10 s");
        assert_eq!(
            RUN_BOUNDS_NS[..4],
            [1_000_000, 2_500_000, 5_000_000, 10_000_000]
        );
        assert_eq!(RUN_BOUNDS_NS[19], 2_500_000_000_000, "2500 s");
        assert!(RUN_BOUNDS_NS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_run_counts_in_the_first_bucket_whose_bound_it_does_not_pass() {
        let mut b = Buckets::run_duration();
        for d in [
            Duration::ZERO,
            Duration::from_millis(1),
            Duration::from_micros(1_001),
            Duration::from_secs(2_500),
            Duration::from_secs(2_501),
            Duration::MAX,
        ] {
            b.record(d);
        }
        let h = b.histogram();
        let mut expected = vec![0; RUN_BOUNDS_NS.len() + 1];
        for (bucket, n) in [(0, 2), (1, 1), (19, 1), (20, 2)] {
            expected[bucket] = n;
        }
        assert_eq!(h.buckets, expected);
        assert_eq!(h.count(), 6);
    }
}
