//! The native ticker: precise ticks for one consumer in this process, with no pool.
//!
//! Owns what a single consumer that asks for ticks gets (the C ABI's `ticker_next`, and PHP's
//! `Ticker\Ffi\Ticker::next()` through it): the master's rules with one worker, from the same
//! code. The grid, the numbering and the `delay` hold are [`Timetable`]'s (one interval
//! schedule); which ticks wait and which are skipped is [`crate::pool::Pool`]'s, with the
//! queue limits [`SchedulePolicy::new`] gives each [`Missed`] policy.
//!
//! The consumer counts as busy from the moment it gets a tick until it asks again (and, after a
//! timeout, until it asks again): a tick that comes due meanwhile is missed, and the policy
//! decides what becomes of it, exactly as for a pool whose only worker is busy. There is no
//! `allocate_timeout`: a waiting tick waits for as long as the consumer takes.
//!
//! [`Solo`] is the rule, over instants passed in; [`NativeTicker`] adds the clock and the
//! sleeping. Nothing here knows C: [`crate::ffi`] is the boundary.

use std::time::Duration;

use crate::config::{DEFAULT_NAME, Missed, ScheduleConfig, TickerConfig, When, ZoneChoice};
use crate::pool::{Arrival, Delivery, Outcome, Pid, Policy, Pool, SchedulePolicy, Stats};
use crate::schedule::cron::{CronSchedule, UnixInstant};
use crate::schedule::zone::Zone;
use crate::schedule::{Mono, WallClock};
use crate::spin::{Goal, SpinWindow};
use crate::sys;
use crate::tick::ScheduleId;
use crate::timetable::{Setup, Timetable};

/// The pool's name for the one consumer.
const CONSUMER: Pid = 1;

/// Where the consumer is, as the pool sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    /// Not asking: before its first call, or after a timeout. It misses ticks as if busy.
    Away,
    /// Asking, with nothing ready yet: an idle worker in the pool.
    Asking,
    /// It holds the tick it got last: a busy worker until it asks again.
    Holding,
}

/// The rule of the native ticker, without a clock: one consumer over a [`Timetable`] of one
/// schedule and a [`Pool`].
#[derive(Debug)]
pub struct Solo {
    timetable: Timetable,
    pool: Pool,
    consumer: Presence,
}

/// The native ticker's one schedule.
const ONLY: ScheduleId = ScheduleId(0);

impl Solo {
    /// Tick 0 is due one interval after `now`, tick `n` at `now + (n + 1) × interval`.
    pub fn new(interval: Duration, missed: Missed, now: Mono) -> Solo {
        let schedule = ScheduleConfig::every(DEFAULT_NAME, interval, missed);
        Solo::of(&schedule, WallClock::new(now, Duration::ZERO), now)
    }

    /// Tick 0 is the first occurrence of `cron` after `now`, whose Unix time `clock` gives.
    /// `missed` is skip or burst: `delay` moves an interval's grid, and a cron schedule has
    /// none to move (it is then skip).
    pub fn cron(cron: CronSchedule, missed: Missed, clock: WallClock, now: Mono) -> Solo {
        let schedule = ScheduleConfig {
            when: When::Cron {
                expr: Box::new(cron.expr().clone()),
                zone: ZoneChoice::Schedule(cron.zone().clone()),
            },
            ..ScheduleConfig::every(DEFAULT_NAME, Duration::from_secs(1), missed)
        };
        Solo::of(&schedule, clock, now)
    }

    fn of(schedule: &ScheduleConfig, clock: WallClock, now: Mono) -> Solo {
        let utc = Zone::lookup("UTC").expect("every tz database has UTC");
        let mut timetable = Timetable::new(
            &Setup {
                schedules: std::slice::from_ref(schedule),
                fallback_zone: &utc,
                fallback_origin: "UTC",
            },
            clock,
        );
        timetable.start(now, clock);
        let missed = match (schedule.missed, &schedule.when) {
            (Missed::Delay, When::Cron { .. }) => Missed::Skip,
            (missed, _) => missed,
        };
        let defaults = Policy::from_config(&TickerConfig::default());
        Solo {
            timetable,
            pool: Pool::new(Policy {
                schedules: vec![SchedulePolicy::new(missed, true, None)],
                ..defaults
            }),
            consumer: Presence::Away,
        }
    }

    /// The consumer asks for a tick at `now`. First the ticks that came due while it was busy or
    /// away arrive (and wait, or are skipped); then it is free: a tick that waited is handed
    /// over at once, else `Err` says when the next one is due (ask again then, or
    /// [`Solo::leave`]).
    pub fn ask(&mut self, now: Mono) -> Result<Delivery, Mono> {
        let mut delivery = None;
        for (_, arrival) in self.pool.arrive_due(&mut self.timetable, now, now) {
            // Only an asking consumer is idle; the ticks after the one it gets find it busy.
            if let Arrival::Deliver(d) = arrival {
                delivery = Some(d);
            }
        }
        match self.consumer {
            Presence::Holding => {
                let finished = self
                    .pool
                    .finish(CONSUMER, Outcome::Done, now)
                    .expect("the consumer holds a tick");
                delivery = finished.next;
            }
            Presence::Away => delivery = self.pool.add(CONSUMER, now),
            Presence::Asking => {}
        }
        match delivery {
            Some(d) => {
                if d.waited {
                    // `delay`: the grid restarts one interval after the tick that held it.
                    self.timetable.release(ONLY, now);
                }
                self.consumer = Presence::Holding;
                Ok(d)
            }
            None => {
                self.consumer = Presence::Asking;
                Err(self
                    .timetable
                    .next_due()
                    .expect("a grid without a tick waiting is not held"))
            }
        }
    }

    /// The consumer stops asking at `now` (a timeout): until it asks again, it misses ticks.
    pub fn leave(&mut self, now: Mono) {
        if self.consumer == Presence::Asking {
            self.pool.remove(CONSUMER, now);
            self.consumer = Presence::Away;
        }
    }

    /// `due` counts the ticks that came due up to the consumer's last call; those that came
    /// due since are counted at its next call.
    pub fn stats(&self) -> Stats {
        self.pool.stats()
    }

    /// The wall clock reads `clock` now: a cron schedule's next run is placed again (see
    /// [`Timetable::set_clock`]).
    pub fn set_clock(&mut self, clock: WallClock) {
        self.timetable.set_clock(clock);
    }
}

/// A tick as the consumer gets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Got {
    /// From 0 on the schedule.
    pub number: u64,
    pub due: Mono,
    /// How late it was handed over: zero-ish when the consumer was waiting for it, more when it
    /// had to wait for the consumer.
    pub late: Duration,
    /// A cron ticker's occurrence (its instant in Unix time); `None` for an interval.
    pub scheduled: Option<UnixInstant>,
    /// Ticks skipped since the previous tick the consumer got, in the order things happened
    /// (a late tick carries the skips of the ticks after it), as the pool counts them.
    pub skipped: u64,
}

/// [`Solo`] with the clock: `next` sleeps until the next tick is due and returns at that instant.
#[derive(Debug)]
pub struct NativeTicker {
    solo: Solo,
    /// A cron ticker follows the wall clock: it reads it again at least this often while it
    /// waits, so that a step moves its next run (an interval stays on the monotonic clock).
    wall_check: Option<Duration>,
    /// The spin before a due instant, learned from this ticker's own sleeps.
    spin: SpinWindow,
}

/// How often a cron ticker that waits reads the wall clock again.
const WALL_CHECK: Duration = Duration::from_secs(1);

impl NativeTicker {
    /// Starts the grid now. `interval` must not be zero (the C ABI refuses less than
    /// [`crate::config::MIN_INTERVAL`]).
    pub fn new(interval: Duration, missed: Missed) -> NativeTicker {
        NativeTicker {
            solo: Solo::new(interval, missed, sys::monotonic_now()),
            wall_check: None,
            spin: SpinWindow::new(Goal::Median),
        }
    }

    /// Starts a cron ticker now: its ticks come at the occurrences of `cron`, in its zone
    /// and by the wall clock, with the DST rules of [`crate::schedule::cron`].
    pub fn cron(cron: CronSchedule, missed: Missed) -> NativeTicker {
        let now = sys::monotonic_now();
        let clock = WallClock::new(now, sys::unix_now());
        NativeTicker {
            solo: Solo::cron(cron, missed, clock, now),
            wall_check: Some(WALL_CHECK),
            spin: SpinWindow::new(Goal::Median),
        }
    }

    /// The next tick, returned at its due instant (or at once if it is late); `None` when
    /// `timeout` passes first (`None`: no timeout).
    pub fn next(&mut self, timeout: Option<Duration>) -> Option<Got> {
        let deadline = timeout.map(|t| sys::monotonic_now() + t);
        loop {
            let now = sys::monotonic_now();
            if self.wall_check.is_some() {
                self.solo.set_clock(WallClock::new(now, sys::unix_now()));
            }
            let due = match self.solo.ask(now) {
                Ok(d) => {
                    return Some(Got {
                        number: d.tick.number,
                        due: d.tick.due,
                        late: sys::monotonic_now().since(d.tick.due),
                        skipped: d.skipped,
                        scheduled: d.tick.scheduled,
                    });
                }
                Err(due) => due,
            };
            // A cron ticker looks at the wall clock again before a long wait is over.
            let check = self.wall_check.map(|every| now + every);
            match deadline {
                Some(deadline) if now >= deadline => {
                    self.solo.leave(now);
                    return None;
                }
                // No precision needed for a timeout: the next round looks again, then leaves.
                Some(deadline) if deadline < due && check.is_none_or(|c| deadline <= c) => {
                    std::thread::sleep(deadline.since(now))
                }
                _ if check.is_some_and(|c| c < due) => {
                    std::thread::sleep(check.unwrap_or(due).since(now))
                }
                _ => sys::wait_until(due, &mut self.spin),
            }
        }
    }

    pub fn stats(&self) -> Stats {
        self.solo.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const I: Duration = Duration::from_millis(10);

    /// Ticks due at 10, 20, 30, ... ms.
    fn solo(missed: Missed) -> Solo {
        Solo::new(I, missed, Mono(0))
    }

    fn got(solo: &mut Solo, now_ms: u64) -> (u64, u64) {
        let d = solo
            .ask(Mono(now_ms * MS))
            .unwrap_or_else(|due| panic!("nothing at {now_ms} ms; next due at {due:?}"));
        (d.tick.number, d.skipped)
    }

    fn waits(solo: &mut Solo, now_ms: u64) -> Mono {
        solo.ask(Mono(now_ms * MS))
            .expect_err("nothing should be ready")
    }

    #[test]
    fn a_consumer_on_time_gets_every_tick_in_turn() {
        for missed in [Missed::Skip, Missed::Delay, Missed::Burst] {
            let mut s = solo(missed);
            assert_eq!(
                waits(&mut s, 0),
                Mono(10 * MS),
                "the first tick is one interval in"
            );
            for n in 0..5 {
                let due = (n + 1) * 10;
                assert_eq!(waits(&mut s, due - 1), Mono(due * MS));
                assert_eq!(got(&mut s, due), (n, 0), "{missed:?}");
                assert_eq!(waits(&mut s, due + 3), Mono((due + 10) * MS));
            }
            let st = s.stats();
            assert_eq!((st.due, st.delivered, st.skipped), (5, 5, 0));
        }
    }

    #[test]
    fn skip_hands_over_one_late_tick_and_counts_the_rest() {
        let mut s = solo(Missed::Skip);
        waits(&mut s, 0);
        assert_eq!(got(&mut s, 10), (0, 0));
        // The consumer is busy until 45 ms: 1 waits, 2 and 3 are skipped.
        assert_eq!(
            got(&mut s, 45),
            (1, 2),
            "tick 1 is late and carries the skips"
        );
        assert_eq!(waits(&mut s, 46), Mono(50 * MS), "the grid did not move");
        assert_eq!(got(&mut s, 50), (4, 0));
        let st = s.stats();
        assert_eq!((st.due, st.delivered, st.skipped), (5, 3, 2));
    }

    #[test]
    fn delay_hands_over_the_late_tick_and_restarts_the_grid_after_it() {
        let mut s = solo(Missed::Delay);
        waits(&mut s, 0);
        assert_eq!(got(&mut s, 10), (0, 0));
        assert_eq!(
            got(&mut s, 45),
            (1, 0),
            "tick 1 waited; 2 and 3 never came due"
        );
        assert_eq!(
            waits(&mut s, 46),
            Mono(55 * MS),
            "one interval after tick 1 went out"
        );
        assert_eq!(got(&mut s, 55), (2, 0));
        let st = s.stats();
        assert_eq!((st.due, st.delivered, st.skipped), (3, 3, 0));
    }

    #[test]
    fn burst_hands_over_every_missed_tick_in_order() {
        let mut s = solo(Missed::Burst);
        waits(&mut s, 0);
        assert_eq!(got(&mut s, 10), (0, 0));
        let numbers: Vec<u64> = (0..3).map(|i| got(&mut s, 45 + i).0).collect();
        assert_eq!(numbers, [1, 2, 3]);
        assert_eq!(waits(&mut s, 48), Mono(50 * MS));
        assert_eq!(got(&mut s, 50), (4, 0));
        assert_eq!(s.stats().skipped, 0);
    }

    #[test]
    fn a_late_wake_up_while_waiting_is_the_same_as_a_busy_consumer() {
        // Asleep for tick 0 and woken at 35 ms: tick 0 goes out, 1 waits, 2 is skipped.
        let mut s = solo(Missed::Skip);
        waits(&mut s, 0);
        assert_eq!(got(&mut s, 35), (0, 0));
        assert_eq!(got(&mut s, 36), (1, 1));
        // Under delay the tick that waits holds the grid until it goes out.
        let mut s = solo(Missed::Delay);
        waits(&mut s, 0);
        assert_eq!(got(&mut s, 35), (0, 0));
        assert_eq!(got(&mut s, 36), (1, 0));
        assert_eq!(waits(&mut s, 37), Mono(46 * MS));
    }

    #[test]
    fn a_consumer_away_after_a_timeout_misses_ticks_as_if_busy() {
        let mut s = solo(Missed::Skip);
        assert_eq!(waits(&mut s, 0), Mono(10 * MS));
        s.leave(Mono(MS));
        // Back at 35 ms: 0 waited for it, 1 and 2 were skipped.
        assert_eq!(got(&mut s, 35), (0, 2));
        // Leaving while holding a tick changes nothing.
        s.leave(Mono(36 * MS));
        assert_eq!(waits(&mut s, 37), Mono(40 * MS));
    }

    fn thread_cpu() -> Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }

    #[test]
    fn a_signal_during_the_wait_does_not_turn_it_into_spinning() {
        extern "C" fn ignore(_: libc::c_int) {}
        // SAFETY: installs a handler that does nothing, for a signal no other test uses.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = ignore as extern "C" fn(libc::c_int) as usize;
            libc::sigaction(libc::SIGUSR2, &action, std::ptr::null_mut());
        }
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() };
        let mut ticker = NativeTicker::new(Duration::from_millis(300), Missed::Skip);
        let poke = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            // SAFETY: `me` is the test's thread, alive until it joins this one.
            unsafe { libc::pthread_kill(me, libc::SIGUSR2) };
        });
        let before = thread_cpu();
        let got = ticker.next(Some(Duration::from_secs(10)));
        let cpu = thread_cpu() - before;
        poke.join().unwrap();
        assert_eq!(got.map(|g| g.number), Some(0));
        assert!(
            cpu < Duration::from_millis(50),
            "{cpu:?} of CPU in a 300 ms wait that a signal interrupted after 20 ms"
        );
    }

    #[test]
    fn the_first_call_may_come_late_too() {
        let mut s = solo(Missed::Burst);
        assert_eq!(got(&mut s, 25), (0, 0));
        assert_eq!(got(&mut s, 25), (1, 0));
        assert_eq!(waits(&mut s, 25), Mono(30 * MS));
    }
}
