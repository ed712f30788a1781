//! When to replace a dead worker, when to slow down, and when to give up.
//!
//! Owns the crash-loop rule: a worker that dies before finishing a single tick is a sign that
//! the application cannot run (a fatal error at every tick, a broken deploy); a worker that
//! dies after good work is an accident. Accidents are replaced at once. A streak of early
//! deaths is replaced with a growing delay and, past a limit, stops the master with a reason,
//! instead of forking forever. Decisions only: no processes, no clocks.

use std::time::Duration;

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
}

impl RespawnPolicy {
    /// The limit grows with the pool: with many workers, each may die once on a bad deploy
    /// before a streak says more than "every worker had the same accident".
    pub fn new(num_workers: usize) -> RespawnPolicy {
        let per_pool = u32::try_from(num_workers.saturating_mul(2)).unwrap_or(u32::MAX);
        RespawnPolicy {
            streak: 0,
            limit: per_pool.max(MIN_STREAK_LIMIT),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_limit_grows_with_the_pool() {
        assert_eq!(RespawnPolicy::new(40).limit(), 80);
    }
}
