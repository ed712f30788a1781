//! The one run a cluster's `catch_up: once` schedule makes when an instance becomes leader,
//! for the occurrences that passed while no instance led.
//!
//! Those occurrences lie after the instant a new leader carries the schedule's anchor to
//! (see [`super::numbering`]: after `until`, the latest occurrence any leader may have
//! handed out, and after the last one recorded) and at or before the instant the new
//! leader may run from. They ran nowhere. When there is at least one, the new leader makes
//! one run for all of them: due at once, numbered with the schedule's next number, for the
//! latest of them (its `scheduled`), saying how many it stands for.
//!
//! Why it runs at most once: the run is an occurrence of the new term like any other. It
//! goes to a worker only once a renewal has written, fenced, an `until` at or past it
//! (recorded in Redis first, handed to a worker after), so every later leader's gap begins
//! after it. A leader that dies between that renewal and the hand-out (or whose run waited
//! for a worker and went with the term) loses the run: at most once, as every tick of a
//! cluster. A leader that dies before its first renewal handed nothing out, and the anchor
//! it wrote at the acquisition ([`Run::anchor`]) leaves the whole gap to the next leader.
//!
//! Pure: instants (Unix nanoseconds) are passed in; nothing reads a clock or touches Redis.

use serde::{Deserialize, Serialize};

use super::numbering::{Anchor, Recurrence, instant, nanos};
use crate::schedule::cron::UnixInstant;
use crate::timetable::{MOST_COUNTED, latest_before};

/// A catch-up run, as the leader that takes over makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// The first and the latest occurrence that passed with no leader (Unix nanoseconds):
    /// the run is for the latest.
    pub first: u64,
    pub latest: u64,
    /// How many passed (at least 1); a cron schedule's are counted up to [`MOST_COUNTED`].
    pub missed: u64,
    /// The schedule's number the run takes; its next occurrence takes the one after.
    pub number: u64,
    /// When the run is due: the instant the new leader may run from.
    pub due: u64,
}

impl Run {
    /// The anchor the new leader writes when it takes the lease: the missed occurrences,
    /// from the first, are numbered from the run's number on. A next leader that finds it
    /// (this one renewed nothing, so handed nothing out) counts the same gap again; one that
    /// finds this leader's `until` past them counts them as numbered.
    pub fn anchor(&self, recurrence: &Recurrence) -> Anchor {
        Anchor {
            at: recurrence.just_before(self.first),
            next: self.number,
        }
    }
}

/// The catch-up run of a schedule whose anchor was carried to `after`, for a leader that
/// runs from `from` and numbers on from `number`; `None` when no occurrence lies in
/// `(after, from]`. An interval's grid goes through `phase`.
pub fn run(recurrence: &Recurrence, phase: u64, after: u64, from: u64, number: u64) -> Option<Run> {
    let first = recurrence
        .next_after(phase, after)
        .filter(|&first| first <= from)?;
    let (missed, latest) = match recurrence {
        Recurrence::Every { every, .. } => {
            let steps = (from - first) / nanos(*every).max(1);
            (steps + 1, first + steps * nanos(*every))
        }
        Recurrence::Cron(cron) => {
            let mut missed = 0;
            let mut latest = first;
            let upto = instant(from);
            for occurrence in cron.occurrences_after(instant(after)) {
                if occurrence.at() > upto {
                    break;
                }
                if missed == MOST_COUNTED {
                    // Past the cap, only the latest is looked for, backwards from `from`.
                    let before = UnixInstant::from_nanos(upto.as_nanos().saturating_add(1));
                    latest = latest_before(cron, instant(after), before)
                        .and_then(|at| u64::try_from(at.as_nanos()).ok())
                        .unwrap_or(latest);
                    break;
                }
                missed += 1;
                latest = u64::try_from(occurrence.at().as_nanos()).unwrap_or(latest);
            }
            (missed, latest)
        }
    };
    Some(Run {
        first,
        latest,
        missed,
        number,
        due: from,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::numbering::resume;
    use crate::cluster::numbering::tests::{MS, S, T, every};
    use crate::config::CatchUp;
    use crate::schedule::cron::{CronExpr, CronSchedule};
    use crate::schedule::zone::Zone;

    fn cron(expr: &str) -> Recurrence {
        Recurrence::Cron(Box::new(CronSchedule::new(
            CronExpr::parse(expr).unwrap(),
            Zone::lookup("UTC").unwrap(),
        )))
    }

    #[test]
    fn the_occurrences_after_the_carried_anchor_up_to_the_start_make_one_run() {
        // Each second; the last one handed out at T, the new leader runs from T + 4.5 s:
        // T + 1 s to T + 4 s ran nowhere.
        let r = run(&cron("* * * * * *"), T, T, T + 4500 * MS, 8).unwrap();
        assert_eq!(
            r,
            Run {
                first: T + S,
                latest: T + 4 * S,
                missed: 4,
                number: 8,
                due: T + 4500 * MS,
            }
        );
        // An interval counts on its grid, through the phase, the start included.
        let r = run(&every(300), T + 100 * MS, T + 150 * MS, T + S, 3).unwrap();
        assert_eq!(
            (r.first, r.latest, r.missed),
            (T + 400 * MS, T + S, 3),
            "400, 700 and 1000 ms"
        );
        assert_eq!(run(&every(300), T, T, T + 299 * MS, 3), None, "none passed");
        assert_eq!(run(&cron("* * * * * *"), T, T + 2 * S, T + S, 3), None);
    }

    #[test]
    fn a_cron_schedule_counts_up_to_the_cap_and_still_runs_for_the_latest() {
        let r = run(&cron("* * * * * *"), T, T, T + 200_000 * S + 1, 0).unwrap();
        assert_eq!(r.missed, MOST_COUNTED);
        assert_eq!((r.first, r.latest), (T + S, T + 200_000 * S));
    }

    #[test]
    fn a_new_leader_catches_up_only_a_schedule_that_asks_and_has_run_before() {
        let anchor = Anchor::handed(T, 7);
        let each = cron("* * * * * *");
        let from = T + 10 * S + 500 * MS;
        // The old leader was granted up to T + 2.5 s: 8 and 9 are counted as its.
        let r = resume(
            &each,
            Some((anchor, None)),
            Some(T + 2500 * MS),
            from,
            CatchUp::Once,
        );
        let c = r.catch_up.expect("T + 3 s to T + 10 s ran nowhere");
        assert_eq!(
            (c.first, c.latest, c.missed, c.number),
            (T + 3 * S, T + 10 * S, 8, 10)
        );
        assert_eq!(r.skipped, 2);
        assert_eq!(
            r.first,
            Some((T + 11 * S, 11)),
            "the next occurrence, numbered on"
        );
        let plain = resume(
            &each,
            Some((anchor, None)),
            Some(T + 2500 * MS),
            from,
            CatchUp::None,
        );
        assert_eq!(
            (plain.catch_up, plain.first),
            (None, Some((T + 11 * S, 10)))
        );
        let new = resume(&each, None, Some(T + 2500 * MS), from, CatchUp::Once);
        assert_eq!(new.catch_up, None, "no last run: nothing to catch up");
    }

    #[test]
    fn a_leader_that_renewed_nothing_leaves_the_whole_gap_to_the_next() {
        for ours in [every(1000), cron("* * * * * *")] {
            let anchor = Anchor::handed(T, 7);
            let until = Some(T + 1500 * MS);
            let b = resume(&ours, Some((anchor, None)), until, T + 5 * S, CatchUp::Once);
            let gap = b.catch_up.unwrap();
            // B wrote its anchor and died; Redis still says `until` is A's.
            let c = resume(
                &ours,
                Some((b.anchor, None)),
                until,
                T + 9 * S,
                CatchUp::Once,
            );
            let again = c.catch_up.unwrap();
            assert_eq!((again.first, again.number), (gap.first, gap.number));
            assert_eq!(again.latest, T + 9 * S);
        }
    }

    /// One term of a leader in the model of the property test below.
    #[derive(Debug, Clone)]
    struct Term {
        /// Nobody leads for this long before the term.
        idle_ms: u64,
        /// Whether its first renewal got through: without it nothing is handed out.
        renewed: bool,
        /// Its renewals grant this far past its start.
        grant_ms: u64,
        /// Whether the catch-up run, if any, went to a worker.
        caught_up: bool,
        /// How many of the occurrences granted it hands out, and records.
        handed: usize,
        recorded: usize,
        /// A graceful stop (the lease released) rather than a crash.
        released: bool,
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn term() -> impl Strategy<Value = Term> {
            (
                0u64..6_000,
                any::<bool>(),
                1u64..3_000,
                any::<bool>(),
                0usize..6,
                0usize..8,
                any::<bool>(),
            )
                .prop_map(
                    |(idle_ms, renewed, grant_ms, caught_up, handed, recorded, released)| Term {
                        idle_ms,
                        renewed,
                        grant_ms,
                        caught_up,
                        handed,
                        recorded,
                        released,
                    },
                )
        }

        proptest! {
            /// Leaders one after another, each taking over after a while with no leader,
            /// each renewing or not, handing out and recording some of what it may, and
            /// crashing or releasing the lease, as Redis would keep it: no number goes out
            /// twice, and no occurrence is run for twice, by a catch-up run or otherwise.
            #[test]
            fn failovers_run_no_occurrence_twice_and_each_gap_once_at_most(
                which in 0u8..3,
                interval_ms in 200u64..1500,
                terms in proptest::collection::vec(term(), 1..8),
            ) {
                let ours = match which {
                    0 => every(interval_ms),
                    1 => cron("* * * * * *"),
                    _ => cron("*/3 * * * * *"),
                };
                // What Redis holds: the anchor and `until`.
                let mut anchor: Option<Anchor> = Some(Anchor::handed(T, 0));
                let mut until: Option<u64> = Some(T);
                let mut now = T;
                // Every number handed out, and every stretch of occurrences run for:
                // `(first, last)`, one occurrence for a plain run.
                let mut numbers = std::collections::BTreeSet::from([0]);
                let mut ran: Vec<(u64, u64)> = vec![(T, T)];
                for term in terms {
                    now += term.idle_ms * MS;
                    let from = now;
                    let floor = until;
                    let r = resume(
                        &ours,
                        anchor.map(|a| (a, None)),
                        until,
                        from,
                        CatchUp::Once,
                    );
                    anchor = Some(r.anchor);
                    if !term.renewed {
                        continue;
                    }
                    let granted = (from + term.grant_ms * MS).max(floor.unwrap_or(0));
                    until = Some(granted);
                    // The term's hand-outs, in order: `(at, number, first)`.
                    let mut out = vec![];
                    if let Some(c) = r.catch_up.filter(|_| term.caught_up) {
                        prop_assert!(c.latest <= granted && floor.is_none_or(|f| c.first > f));
                        out.push((c.latest, c.number, c.first));
                    }
                    if let Some((mut at, mut number)) = r.first {
                        while at <= granted && out.len() < term.handed {
                            out.push((at, number, at));
                            number += 1;
                            at = ours.next_after(at, at).unwrap();
                        }
                    }
                    for &(at, number, first) in &out {
                        prop_assert!(numbers.insert(number), "number {number} twice");
                        for &(a, b) in &ran {
                            prop_assert!(
                                first > b || at < a,
                                "[{first}, {at}] run for again, after [{a}, {b}]"
                            );
                        }
                        ran.push((first, at));
                    }
                    let recorded = if term.released { out.len() } else { term.recorded.min(out.len()) };
                    if let Some(&(at, number, _)) = out.get(recorded.wrapping_sub(1)) {
                        anchor = Some(Anchor::handed(at, number));
                    }
                    if term.released {
                        until = out.iter().map(|o| o.0).max().max(floor);
                    }
                    now += term.grant_ms * MS;
                }
            }
        }
    }
}
