//! A tick as the pool hands it out, and its delivery to a worker: plain values.
//!
//! They sit below everything that handles them: [`crate::workers`] keeps the tick a busy
//! worker holds, [`crate::pool`] decides which tick goes where and makes the deliveries, and
//! [`crate::payload`] formats a delivery for PHP. Keeping them here lets the formatting
//! depend on the values it formats and on nothing that decides.

use crate::pid::Pid;
use crate::schedule::Mono;
use crate::schedule::cron::UnixInstant;

/// A schedule of the pool, by its place in the config's list of schedules (see
/// [`crate::timetable`]): `default`, `ticker.interval`'s, is the first when it exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScheduleId(pub u32);

impl ScheduleId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A tick as the pool hands it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    pub schedule: ScheduleId,
    /// From 0, for each schedule on its own.
    pub number: u64,
    pub due: Mono,
    /// A cron schedule's occurrence (its due instant less the jitter), for the header;
    /// `None` for an interval, whose due instant is its occurrence (a jitter's phase shifts
    /// the grid, not the run), but for a cluster's catch-up run, which carries the latest
    /// occurrence it stands for (the lease grants it and records it as handed out).
    pub scheduled: Option<UnixInstant>,
    /// 1 for the first delivery; 2 when re-run after a worker asked to stop while holding it.
    pub attempt: u32,
    /// An operator's `ticker run`: outside the schedule's grid and its counts of due ticks.
    /// `number` is then the run's own ordinal (1, 2, ... for each schedule); the body
    /// carries [`Tick::body_number`].
    pub manual: bool,
    /// The one run a schedule with `catch_up: once` makes at start for the occurrences it
    /// missed while no master ran (in a cluster: when an instance becomes leader, for
    /// those that passed while none led); `None` for every other tick.
    pub catch_up: Option<CatchUp>,
}

/// What a catch-up run stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatchUp {
    /// The occurrences missed while no master ran (at least 1), this run's among them.
    pub missed: u64,
}

impl Tick {
    /// Tick `number` of the first schedule.
    pub fn new(number: u64, due: Mono) -> Tick {
        Tick::of(ScheduleId::default(), number, due, None)
    }

    pub fn of(
        schedule: ScheduleId,
        number: u64,
        due: Mono,
        scheduled: Option<UnixInstant>,
    ) -> Tick {
        Tick {
            schedule,
            number,
            due,
            scheduled,
            attempt: 1,
            manual: false,
            catch_up: None,
        }
    }

    /// The number a worker sees in the body. For the grid's ticks, their number. For manual
    /// runs, counted down from PHP's largest int: `PHP_INT_MAX` for a schedule's first,
    /// one less for each one after. A handler that runs each (schedule, number) once must
    /// never take a manual run for a tick of the grid, past or to come, and the body's
    /// number is documented as an int from 0 (the PHP library refuses less); the grid would
    /// need 2^62 ticks, 146,000 years at 1 µs, to come near. A re-run of a manual run
    /// (attempt 2) keeps its number, as any re-run does.
    pub fn body_number(&self) -> u64 {
        if self.manual {
            (i64::MAX as u64).saturating_sub(self.number.saturating_sub(1))
        } else {
            self.number
        }
    }

    /// The `nth` manual run of `schedule` (from 1), to start at `now`.
    pub fn manual(schedule: ScheduleId, nth: u64, now: Mono) -> Tick {
        Tick {
            manual: true,
            ..Tick::of(schedule, nth, now, None)
        }
    }
}

/// A tick to send to a worker now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub pid: Pid,
    pub tick: Tick,
    /// Ticks skipped since the previous delivery, for the tick's header.
    pub skipped: u64,
    /// Due instant of the previous delivered tick, `None` for the first.
    pub last_tick: Option<Mono>,
    /// The tick had to wait for a free worker (the `delay` policy then shifts the grid).
    pub waited: bool,
}
