//! Where each named schedule of a cluster goes on when a new leader takes over: which
//! occurrence it runs first, and with which number.
//!
//! A schedule's state in Redis is an [`Anchor`]: the occurrences strictly after `at` (Unix
//! time) are numbered from `next` on, one number each, in order. A leader moves the anchor
//! to each occurrence it hands out; the first leader writes one at its start. The leaders
//! together also write `until`: the latest occurrence instant any leader was allowed to
//! hand out (see [`super::lease`]). A new leader carries the anchor to `until`, counting
//! every occurrence in between as numbered, so that an occurrence the old leader handed out
//! and did not record yet never shares a number with one of the new leader's; then it runs
//! the first occurrence after both `until` and its own start, under the carried number.
//! Occurrences are instants on the wall clock (an `every:` interval's are a grid through
//! the anchor), the same on every host, so no occurrence at or before `until` runs twice,
//! whatever the hosts' clocks say. Occurrences between `until` and the new leader's start
//! ran nowhere and get no number: each schedule's numbering goes on from the last number
//! handed out.
//!
//! `default` (`ticker.interval`) is not here: its grid and numbers are [`super::grid`]'s.
//! Pure: instants are passed in, nothing reads a clock or touches Redis.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::catch_up::{self, Run};
use crate::config::CatchUp;
use crate::schedule::cron::{CronSchedule, UnixInstant};

/// A walk counts at most this many occurrences of a cron schedule. It only has to count
/// the occurrences a leader handed out without recording them, a few milliseconds' worth
/// unless the schedule delivered nothing for a long time; the cap keeps an acquisition
/// short even then.
pub const MAX_WALK: u64 = 10_000;

/// When a schedule's occurrences fall, in Unix nanoseconds.
#[derive(Debug, Clone)]
pub enum Recurrence {
    /// Every `every`, on the grid through the anchor's instant. `phase` (from `jitter`)
    /// shifts the grid the first leader lays, one interval after its start, and a leader
    /// whose phase differs from the one the anchor was counted by moves the grid by the
    /// difference.
    Every {
        every: Duration,
        phase: Duration,
    },
    Cron(Box<CronSchedule>),
}

/// The occurrences strictly after `at` (Unix nanoseconds) are numbered from `next` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub at: u64,
    pub next: u64,
}

impl Anchor {
    /// The anchor after handing out occurrence `number` at `at`.
    pub fn handed(at: u64, number: u64) -> Anchor {
        Anchor {
            at,
            next: number.saturating_add(1),
        }
    }
}

pub(super) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

pub(super) fn instant(ns: u64) -> UnixInstant {
    UnixInstant::from_nanos(i64::try_from(ns).unwrap_or(i64::MAX))
}

impl Recurrence {
    /// How the definition is written beside the anchor in Redis: a leader whose config
    /// says otherwise counts the old leader's occurrences by the old definition.
    pub fn describe(&self) -> String {
        match self {
            Recurrence::Every { every, phase } if phase.is_zero() => {
                format!("every {}", nanos(*every))
            }
            Recurrence::Every { every, phase } => {
                format!("every {} phase {}", nanos(*every), nanos(*phase))
            }
            Recurrence::Cron(cron) => format!("cron {} {}", cron.zone().name(), cron.expr()),
        }
    }

    /// The first occurrence strictly after `after`, for a schedule anchored at `phase`
    /// (an interval's grid goes through it); `None` when a cron schedule has none.
    pub fn next_after(&self, phase: u64, after: u64) -> Option<u64> {
        match self {
            Recurrence::Every { every, .. } => {
                let every = nanos(*every).max(1);
                if after < phase {
                    let back = (phase - after) / every;
                    let at = phase - back * every;
                    return Some(if at > after { at } else { at + every });
                }
                let steps = (after - phase) / every + 1;
                phase.checked_add(steps.checked_mul(every)?)
            }
            Recurrence::Cron(cron) => cron
                .next_after(instant(after))
                .and_then(|o| u64::try_from(o.at().as_nanos()).ok()),
        }
    }

    /// How far this definition moves the grid of an interval whose anchor `counted_by`
    /// wrote: its phase less theirs, within one interval; zero for a cron schedule, whose
    /// occurrences are its expression's.
    fn shift_from(&self, counted_by: &Recurrence) -> u64 {
        match (self, counted_by) {
            (Recurrence::Every { every, phase }, Recurrence::Every { phase: theirs, .. }) => {
                let every = nanos(*every).max(1);
                (nanos(*phase) % every + every - nanos(*theirs) % every) % every
            }
            _ => 0,
        }
    }

    /// Where the grid of a first leader that runs from `from` goes through: its start,
    /// shifted by an interval's phase.
    fn origin(&self, from: u64) -> u64 {
        match self {
            Recurrence::Every { phase, .. } => from.saturating_add(nanos(*phase)),
            Recurrence::Cron(_) => from,
        }
    }

    /// An instant just before occurrence `at`, where an anchor that numbers `at` first
    /// lies: an interval's previous grid point, so that the grid goes on through it.
    pub(super) fn just_before(&self, at: u64) -> u64 {
        match self {
            Recurrence::Every { every, .. } => at.saturating_sub(nanos(*every)),
            Recurrence::Cron(_) => at.saturating_sub(1),
        }
    }

    /// How many occurrences fall in `(after, upto]`, counting a cron schedule's up to
    /// [`MAX_WALK`].
    pub fn count_between(&self, after: u64, upto: u64) -> u64 {
        if upto <= after {
            return 0;
        }
        match self {
            Recurrence::Every { every, .. } => (upto - after) / nanos(*every).max(1),
            Recurrence::Cron(cron) => cron
                .occurrences_after(instant(after))
                .take_while(|o| o.at().as_nanos() <= i64::try_from(upto).unwrap_or(i64::MAX))
                .take(MAX_WALK as usize)
                .count() as u64,
        }
    }
}

/// A schedule's state as Redis holds it: its anchor and the definition it was counted by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    pub def: String,
    pub at: u64,
    pub next: u64,
}

impl Stored {
    pub fn new(recurrence: &Recurrence, anchor: Anchor) -> Stored {
        Stored {
            def: recurrence.describe(),
            at: anchor.at,
            next: anchor.next,
        }
    }

    pub fn anchor(&self) -> Anchor {
        Anchor {
            at: self.at,
            next: self.next,
        }
    }
}

/// Where one schedule goes on under a new leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resumed {
    /// The first occurrence the new leader runs (Unix nanoseconds) and its number; `None`
    /// for a cron schedule with no occurrence left.
    pub first: Option<(u64, u64)>,
    /// The anchor to write: the first occurrence's number, from just before it.
    pub anchor: Anchor,
    /// Occurrences counted as numbered between the stored anchor and `until`: handed out
    /// by the old leader after its last record, or passed over by it.
    pub skipped: u64,
    /// For a `catch_up: once` schedule, the one run for the occurrences that passed while
    /// no instance led, before `first` and under the number before its.
    #[serde(default)]
    pub catch_up: Option<Run>,
}

/// Where a schedule goes on. `stored` is its anchor in Redis with the definition it was
/// counted by (`None` when that is this instance's, or Redis has no anchor: a new
/// numbering from 0); `until` the latest occurrence any leader may have handed out; `from`
/// the instant the new leader may run from. A schedule that catches up and has an anchor
/// gets a [`Run`] for the occurrences after the carried anchor up to `from`.
pub fn resume(
    ours: &Recurrence,
    stored: Option<(Anchor, Option<&Recurrence>)>,
    until: Option<u64>,
    from: u64,
    catch_up: CatchUp,
) -> Resumed {
    let (carried, skipped) = match stored {
        None => (
            Anchor {
                at: ours.origin(from),
                next: 0,
            },
            0,
        ),
        Some((anchor, counted_by)) => {
            let counted_by = counted_by.unwrap_or(ours);
            match until.filter(|&u| u > anchor.at) {
                Some(until) => {
                    let n = counted_by.count_between(anchor.at, until);
                    (
                        Anchor {
                            at: until,
                            next: anchor.next.saturating_add(n),
                        },
                        n,
                    )
                }
                None => (anchor, 0),
            }
        }
    };
    // The grid of an interval goes through the anchor: the stored one (moved by a changed
    // phase), or the new one.
    let phase = match stored {
        Some((anchor, counted_by)) => anchor
            .at
            .saturating_add(ours.shift_from(counted_by.unwrap_or(ours))),
        None => carried.at,
    };
    let after = carried.at.max(from).max(until.unwrap_or(0));
    let run = match (catch_up, stored) {
        (CatchUp::Once, Some(_)) => catch_up::run(ours, phase, carried.at, from, carried.next),
        _ => None,
    };
    let next = carried.next.saturating_add(u64::from(run.is_some()));
    let first = ours.next_after(phase, after).map(|at| (at, next));
    let anchor = match &run {
        Some(run) => run.anchor(ours),
        None => Anchor {
            at: first.map_or(after, |(at, _)| ours.just_before(at)),
            next,
        },
    };
    Resumed {
        first,
        anchor,
        skipped,
        catch_up: run,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::schedule::cron::CronExpr;
    use crate::schedule::zone::Zone;

    pub(crate) const S: u64 = 1_000_000_000;
    pub(crate) const MS: u64 = 1_000_000;
    /// 2023-11-14T22:13:20Z, a whole second.
    pub(crate) const T: u64 = 1_700_000_000 * S;

    /// Where a schedule that does not catch up goes on (`catch_up.rs` tests the others).
    fn resume(
        ours: &Recurrence,
        stored: Option<(Anchor, Option<&Recurrence>)>,
        until: Option<u64>,
        from: u64,
    ) -> Resumed {
        super::resume(ours, stored, until, from, CatchUp::None)
    }

    pub(crate) fn every(ms: u64) -> Recurrence {
        phased(ms, 0)
    }

    /// Every `ms` milliseconds, its grid shifted by `phase_ms`.
    pub(crate) fn phased(ms: u64, phase_ms: u64) -> Recurrence {
        Recurrence::Every {
            every: Duration::from_millis(ms),
            phase: Duration::from_millis(phase_ms),
        }
    }

    /// Every second, at its start.
    fn each_second() -> Recurrence {
        Recurrence::Cron(Box::new(CronSchedule::new(
            CronExpr::parse("* * * * * *").unwrap(),
            Zone::lookup("UTC").unwrap(),
        )))
    }

    #[test]
    fn the_first_leader_numbers_from_zero_after_its_start() {
        let r = resume(&every(100), None, None, T);
        assert_eq!(r.first, Some((T + 100 * MS, 0)));
        assert_eq!(r.skipped, 0);
        let r = resume(&each_second(), None, None, T + 500 * MS);
        assert_eq!(r.first, Some((T + S, 0)));
    }

    #[test]
    fn a_new_leader_numbers_what_the_old_one_may_have_handed_out_and_goes_on_after_it() {
        // Tick 7 at T was the last recorded; the old leader was granted up to T + 350 ms:
        // it may have handed out 8, 9 and 10 without recording them.
        let anchor = Anchor::handed(T, 7);
        let r = resume(
            &every(100),
            Some((anchor, None)),
            Some(T + 350 * MS),
            T + 200 * MS,
        );
        assert_eq!(r.first, Some((T + 400 * MS, 11)));
        assert_eq!(r.skipped, 3);
        // The same for a cron schedule, numbered by its occurrences.
        let r = resume(
            &each_second(),
            Some((anchor, None)),
            Some(T + 3 * S + 500 * MS),
            T,
        );
        assert_eq!(r.first, Some((T + 4 * S, 11)));
        // Nobody ticked for a while: the occurrences after `until` ran nowhere and get no
        // number.
        let r = resume(
            &each_second(),
            Some((anchor, None)),
            Some(T + S),
            T + 60 * S,
        );
        assert_eq!(r.first, Some((T + 61 * S, 9)));
    }

    #[test]
    fn the_written_anchor_numbers_the_first_occurrence_as_the_new_leader_does() {
        let anchor = Anchor::handed(T, 7);
        for ours in [every(100), each_second()] {
            let r = resume(&ours, Some((anchor, None)), Some(T + 1500 * MS), T + 2 * S);
            let (at, number) = r.first.unwrap();
            assert_eq!(ours.next_after(r.anchor.at, r.anchor.at), Some(at));
            assert_eq!(r.anchor.next, number);
        }
    }

    #[test]
    fn a_changed_definition_counts_the_old_leaders_occurrences_by_the_old_one() {
        // The old leader ticked every 100 ms; this instance every second.
        let anchor = Anchor::handed(T, 7);
        let old = every(100);
        let r = resume(
            &every(1000),
            Some((anchor, Some(&old))),
            Some(T + 950 * MS),
            T,
        );
        assert_eq!(r.first.map(|(_, n)| n), Some(17));
        // The new grid goes on through the old anchor.
        assert_eq!(r.first.map(|(at, _)| at), Some(T + S));
    }

    #[test]
    fn a_clock_behind_cannot_take_back_an_occurrence() {
        let anchor = Anchor::handed(T + 5 * S, 3);
        // This instance's clock says T: it still goes on after the anchor.
        let r = resume(&each_second(), Some((anchor, None)), None, T);
        assert_eq!(r.first, Some((T + 6 * S, 4)));
        let r = resume(&every(1000), Some((anchor, None)), None, T);
        assert_eq!(r.first, Some((T + 6 * S, 4)));
    }

    #[test]
    fn a_phase_shifts_the_first_leaders_grid_and_later_leaders_keep_it() {
        // Every second, shifted by 317 ms: the first leader's grid goes through T + 317 ms.
        let ours = phased(1000, 317);
        let r = resume(&ours, None, None, T);
        assert_eq!(r.first, Some((T + 1317 * MS, 0)));
        assert_eq!(resume(&every(1000), None, None, T).first, Some((T + S, 0)));
        // Two instances computing the same acquisition agree, tick numbers included.
        assert_eq!(resume(&phased(1000, 317), None, None, T), r);
        // The next leader goes on from the written anchor: same grid, next numbers, the
        // runs a whole interval apart.
        let next = resume(
            &ours,
            Some((r.anchor, None)),
            Some(T + 3317 * MS),
            T + 3500 * MS,
        );
        assert_eq!(next.first, Some((T + 4317 * MS, 3)));
        assert_eq!(next.skipped, 3);
    }

    #[test]
    fn a_changed_phase_moves_the_grid_by_the_difference_and_reuses_no_number() {
        // The anchor was counted with phase 100 ms (T + 100 ms handed out as 7, T + 1.1 s
        // granted, so maybe handed out as 8); this instance's phase is 400 ms: its grid is
        // T + 400 ms + k s, and it goes on at T + 1.4 s as 9.
        let anchor = Anchor::handed(T + 100 * MS, 7);
        let old = phased(1000, 100);
        let r = resume(
            &phased(1000, 400),
            Some((anchor, Some(&old))),
            Some(T + 1100 * MS),
            T + 1200 * MS,
        );
        assert_eq!(r.first, Some((T + 1400 * MS, 9)));
        // Back to a smaller phase: the grid moves by the difference within one interval.
        let r = resume(
            &phased(1000, 50),
            Some((Anchor::handed(T + 400 * MS, 3), Some(&phased(1000, 400)))),
            None,
            T + 500 * MS,
        );
        assert_eq!(r.first, Some((T + 1050 * MS, 4)));
        assert_eq!(
            phased(1000, 400).describe(),
            "every 1000000000 phase 400000000"
        );
        assert_eq!(every(1000).describe(), "every 1000000000");
    }

    #[test]
    fn a_walk_stops_at_its_cap() {
        assert_eq!(each_second().count_between(T, T + 3 * S), 3);
        assert_eq!(each_second().count_between(T, T + 100_000 * S), MAX_WALK);
        assert_eq!(every(100).count_between(T, T + 99 * MS), 0);
        assert_eq!(every(100).count_between(T, T + 100 * MS), 1);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn recurrence(which: u8, interval_ms: u64) -> Recurrence {
            match which % 4 {
                0 => every(interval_ms),
                3 => phased(interval_ms, interval_ms * 3 / 7),
                1 => each_second(),
                _ => Recurrence::Cron(Box::new(CronSchedule::new(
                    CronExpr::parse("*/7 * * * * *").unwrap(),
                    Zone::lookup("UTC").unwrap(),
                ))),
            }
        }

        proptest! {
            /// The old leader handed out any of the occurrences after its last recorded one
            /// up to `until`, numbered one by one (or fewer: a paused schedule numbers
            /// nothing); whenever the new leader starts, its first occurrence and number
            /// come after all of them.
            #[test]
            fn a_new_leader_reuses_no_number_and_no_occurrence(
                which in 0u8..4,
                interval_ms in 1u64..3000,
                anchor_ms in 0u64..10_000,
                next in 0u64..1_000_000,
                until_ms in 0u64..20_000,
                from_ms in 0u64..30_000,
            ) {
                let ours = recurrence(which, interval_ms);
                let anchor = Anchor { at: T + anchor_ms * MS, next };
                let until = T + until_ms * MS;
                let from = T + from_ms * MS;
                let r = resume(&ours, Some((anchor, None)), Some(until), from);
                let (first_at, first_number) = r.first.expect("every one of these recurs");
                prop_assert!(first_at > from && first_at > until && first_at > anchor.at);
                let mut at = anchor.at;
                let mut number = next;
                while let Some(o) = ours.next_after(anchor.at, at).filter(|&o| o <= until) {
                    prop_assert!(first_number > number, "{number} at {o} handed out before");
                    at = o;
                    number += 1;
                }
                // The next leader, from the anchor this one writes, numbers the first
                // occurrence as this one does.
                prop_assert_eq!(r.anchor.next, first_number);
                prop_assert_eq!(ours.next_after(r.anchor.at, r.anchor.at), Some(first_at));
            }

            /// The first leader numbers from 0, after its start and after `until`.
            #[test]
            fn the_first_leader_starts_at_zero_after_everything_granted(
                which in 0u8..4,
                interval_ms in 1u64..3000,
                until_ms in proptest::option::of(0u64..20_000),
                from_ms in 0u64..30_000,
            ) {
                let ours = recurrence(which, interval_ms);
                let until = until_ms.map(|ms| T + ms * MS);
                let from = T + from_ms * MS;
                let r = resume(&ours, None, until, from);
                let (first_at, first_number) = r.first.expect("every one of these recurs");
                prop_assert_eq!(first_number, 0);
                prop_assert!(first_at > from && until.is_none_or(|u| first_at > u));
            }
        }
    }
}
