//! Every schedule of a pool, and which one comes due next.
//!
//! Owns each schedule's clock (an interval's grid on the monotonic clock, shifted by the
//! phase its jitter draws once, at build time; a cron expression's occurrences over Unix
//! time, each moved by a jitter of its own), its numbering, whether it is paused, and one
//! ordered set of the schedules' next due instants: the next tick of the whole pool is the
//! first of that set, and a wake-up touches only the schedules that are due, so its cost
//! grows with the logarithm of the number of schedules, never with the number. Cron
//! occurrences are found in Unix time and placed on the monotonic clock through one
//! reading of both clocks ([`WallClock`]); when the wall clock is stepped, the master reads
//! it again and [`Timetable::set_clock`] moves every cron schedule's next run.
//!
//! At start, a schedule with `catch_up: once` that missed occurrences while no master ran
//! (after its last run, which the caller reads from the state file, and before the start)
//! gets one run due at once that stands for all of them ([`Timetable::catch_up`]). An
//! interval's occurrences are counted on the wall clock, one interval apart from the last
//! run: its grid on the monotonic clock does not outlive the master, and its distance is
//! what an interval promises.
//!
//! Pure: it reads no clock and sleeps on nothing; callers pass `now` in. It decides nothing
//! about workers ([`crate::pool`] does, for each tick handed out here).

use std::collections::BTreeSet;
use std::time::Duration;

use crate::config::{CatchUp as CatchUpPolicy, ScheduleConfig, When, ZoneChoice};
use crate::schedule::cron::{CronExpr, CronSchedule, Occurrence, UnixInstant};
use crate::schedule::jitter;
use crate::schedule::zone::Zone;
use crate::schedule::{Mono, Schedule, Ticker, WallClock};
use crate::tick::{CatchUp, ScheduleId, Tick};

/// The most missed occurrences of a cron schedule counted at start: a count walks them one
/// by one (about a microsecond each), and a schedule every second that was down for weeks
/// must not hold the start up. More are reported as this many.
pub const MOST_COUNTED: u64 = 100_000;

/// Every schedule of a pool.
#[derive(Debug)]
pub struct Timetable {
    entries: Vec<Entry>,
    /// The next due instant of every schedule that can come due (started, not paused, not
    /// held by the `delay` policy), earliest first.
    queue: BTreeSet<(Mono, ScheduleId)>,
    clock: WallClock,
    started: bool,
}

#[derive(Debug)]
struct Entry {
    name: String,
    clock: Clock,
    /// Where a cron schedule's zone comes from: `timezone`, `ticker.timezone`, or the
    /// fallback's reason; empty for an interval.
    zone_origin: &'static str,
    paused: bool,
    /// Its key in the queue, while it is there.
    queued: Option<Mono>,
    catch_up: CatchUpPolicy,
    /// The catch-up run, from [`Timetable::catch_up`] until it is handed out: it comes
    /// before the clock's ticks.
    catching_up: Option<Tick>,
}

/// How one schedule's runs come due.
#[derive(Debug)]
enum Clock {
    /// `every` (and `ticker.interval`): the grid, numbering and `delay` hold of [`Ticker`].
    /// `phase` shifts the grid the start lays (see [`ScheduleConfig::phase`]).
    Every {
        every: Duration,
        phase: Duration,
        ticker: Ticker,
    },
    Cron(Box<CronClock>),
}

/// A cron schedule's walk over its occurrences.
#[derive(Debug)]
struct CronClock {
    schedule: CronSchedule,
    jitter: Option<Duration>,
    /// The next occurrence to hand out; `None` once there is none (see
    /// [`CronSchedule::next_after`]) or before the start.
    next: Option<Occurrence>,
    /// The number the next occurrence gets.
    number: u64,
}

impl CronClock {
    /// When `occurrence` is due: its instant, plus the jitter drawn for it.
    fn due(&self, name: &str, occurrence: &Occurrence, clock: &WallClock) -> Mono {
        clock.mono(occurrence.at()) + jitter::of_run(name, occurrence.at(), self.jitter)
    }
}

/// What the schedules are built from: the config's list, and the zone of cron schedules
/// that name none (PHP's `date.timezone`, else UTC).
pub struct Setup<'a> {
    pub schedules: &'a [ScheduleConfig],
    pub fallback_zone: &'a Zone,
    /// Why the fallback is that zone, for the status (`date.timezone`, or why UTC).
    pub fallback_origin: &'static str,
}

impl Timetable {
    /// The schedules, not started: nothing comes due before [`Timetable::start`].
    pub fn new(setup: &Setup<'_>, clock: WallClock) -> Timetable {
        let entries = setup
            .schedules
            .iter()
            .map(|config| Entry {
                name: config.name.clone(),
                zone_origin: match &config.when {
                    When::Every(_) => "",
                    When::Cron { zone, .. } => match zone {
                        ZoneChoice::Schedule(_) => "timezone",
                        ZoneChoice::Ticker(_) => "ticker.timezone",
                        ZoneChoice::Unset => setup.fallback_origin,
                    },
                },
                clock: match &config.when {
                    When::Every(every) => Clock::Every {
                        every: *every,
                        phase: config.phase(),
                        ticker: Ticker::new(Schedule::new(Mono(0), *every)),
                    },
                    When::Cron { expr, zone } => Clock::Cron(Box::new(CronClock {
                        schedule: CronSchedule::new(
                            CronExpr::clone(expr),
                            match zone {
                                ZoneChoice::Schedule(zone) | ZoneChoice::Ticker(zone) => {
                                    zone.clone()
                                }
                                ZoneChoice::Unset => setup.fallback_zone.clone(),
                            },
                        ),
                        jitter: config.jitter,
                        next: None,
                        number: 0,
                    })),
                },
                paused: config.paused,
                queued: None,
                catch_up: config.catch_up,
                catching_up: None,
            })
            .collect();
        Timetable {
            entries,
            queue: BTreeSet::new(),
            clock,
            started: false,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn ids(&self) -> impl Iterator<Item = ScheduleId> + use<> {
        (0..self.entries.len() as u32).map(ScheduleId)
    }

    pub fn name(&self, id: ScheduleId) -> &str {
        &self.entry(id).name
    }

    /// The schedule of that name.
    pub fn find(&self, name: &str) -> Option<ScheduleId> {
        self.entries
            .iter()
            .position(|e| e.name == name)
            .map(|i| ScheduleId(i as u32))
    }

    /// The cron schedule of `id`, `None` for an interval.
    pub fn cron(&self, id: ScheduleId) -> Option<&CronSchedule> {
        match &self.entry(id).clock {
            Clock::Cron(c) => Some(&c.schedule),
            Clock::Every { .. } => None,
        }
    }

    /// Why a cron schedule runs in its zone (`timezone`, `ticker.timezone`, `date.timezone`
    /// or why UTC); empty for an interval.
    pub fn zone_origin(&self, id: ScheduleId) -> &'static str {
        self.entry(id).zone_origin
    }

    /// The interval of `id`, `None` for a cron schedule.
    pub fn every(&self, id: ScheduleId) -> Option<Duration> {
        match &self.entry(id).clock {
            Clock::Every { every, .. } => Some(*every),
            Clock::Cron(_) => None,
        }
    }

    /// How far the grid of interval `id` is shifted from the one its start would lay
    /// without jitter; zero for a cron schedule, whose jitter moves each run on its own.
    pub fn phase(&self, id: ScheduleId) -> Duration {
        match &self.entry(id).clock {
            Clock::Every { phase, .. } => *phase,
            Clock::Cron(_) => Duration::ZERO,
        }
    }

    pub fn is_paused(&self, id: ScheduleId) -> bool {
        self.entry(id).paused
    }

    /// Whether `id` makes up with one run for what it missed while nothing ran it.
    pub fn catch_up_policy(&self, id: ScheduleId) -> CatchUpPolicy {
        self.entry(id).catch_up
    }

    pub fn is_started(&self) -> bool {
        self.started
    }

    pub fn clock(&self) -> &WallClock {
        &self.clock
    }

    /// Every schedule starts: an interval's first tick comes one interval from `now` (as
    /// RoadRunner's ticker's does), later by its phase, a cron schedule's at its first
    /// occurrence after `now`.
    pub fn start(&mut self, now: Mono, clock: WallClock) {
        self.clock = clock;
        for entry in &mut self.entries {
            if let Clock::Every {
                every,
                phase,
                ticker,
            } = &mut entry.clock
            {
                *ticker = Ticker::new(Schedule::new(now + *phase + *every, *every));
            }
        }
        self.start_as_set(now);
    }

    /// Starts the schedules as they are: a cluster term set the walks it goes on with
    /// ([`Timetable::replace_ticker`], [`Timetable::continue_cron`]) before the pool was
    /// up; other cron schedules start at their first occurrence after `now`.
    pub fn start_as_set(&mut self, now: Mono) {
        self.started = true;
        let unix_now = UnixInstant::from_unix(self.clock.unix(now));
        for entry in &mut self.entries {
            if let Clock::Cron(cron) = &mut entry.clock
                && cron.next.is_none()
            {
                cron.next = cron.schedule.next_after(unix_now);
            }
        }
        for id in self.ids() {
            self.requeue(id);
        }
    }

    /// After [`Timetable::start`], at its `now`: every schedule with `catch_up: once`, not
    /// paused, whose last run (`last_run(name)`: the instant it ran for, `None` for a
    /// schedule that never ran) is followed by occurrences before `now`, gets one run due
    /// at `now`. It takes the schedule's next number, and says how many occurrences it
    /// stands for (see [`missed`]). Returns those runs.
    pub fn catch_up(
        &mut self,
        now: Mono,
        last_run: impl Fn(&str) -> Option<UnixInstant>,
    ) -> Vec<Tick> {
        let unix_now = UnixInstant::from_unix(self.clock.unix(now));
        let mut runs = vec![];
        for id in self.ids() {
            let entry = &mut self.entries[id.index()];
            if entry.catch_up != CatchUpPolicy::Once || entry.paused {
                continue;
            }
            let Some(last) = last_run(&entry.name) else {
                continue;
            };
            let Some((missed, latest)) = missed(&entry.clock, last, unix_now) else {
                continue;
            };
            let catch_up = Some(CatchUp { missed });
            let tick = match &mut entry.clock {
                Clock::Every { every, ticker, .. } => {
                    let number = ticker.next_number();
                    *ticker = Ticker::starting_at(
                        number.saturating_add(1),
                        Schedule::new(ticker.next_due(), *every),
                    );
                    Tick {
                        catch_up,
                        ..Tick::of(id, number, now, None)
                    }
                }
                Clock::Cron(cron) => {
                    let number = cron.number;
                    cron.number += 1;
                    Tick {
                        catch_up,
                        ..Tick::of(id, number, now, latest)
                    }
                }
            };
            entry.catching_up = Some(tick);
            runs.push(tick);
            self.requeue(id);
        }
        runs
    }

    /// A cluster term begins: `run` is the catch-up run of `id` it makes (see
    /// [`crate::cluster::catch_up`]), and replaces any an earlier term did not hand out,
    /// which is not this term's to run; `None` drops it. A paused schedule takes none.
    /// Returns whether `id` has a catch-up run now.
    pub fn set_catch_up(&mut self, id: ScheduleId, run: Option<Tick>) -> bool {
        let entry = &mut self.entries[id.index()];
        entry.catching_up = run.filter(|_| !entry.paused);
        let set = entry.catching_up.is_some();
        self.requeue(id);
        set
    }

    /// The next tick of the pool: which schedule, the number it gets and when it is due.
    /// `None` when nothing will come due (not started, every schedule paused or held).
    pub fn next(&self) -> Option<(ScheduleId, u64, Mono)> {
        let &(due, id) = self.queue.first()?;
        let entry = self.entry(id);
        let number = match (&entry.catching_up, &entry.clock) {
            (Some(tick), _) => tick.number,
            (None, Clock::Every { ticker, .. }) => ticker.next_number(),
            (None, Clock::Cron(cron)) => cron.number,
        };
        Some((id, number, due))
    }

    pub fn next_due(&self) -> Option<Mono> {
        self.queue.first().map(|&(due, _)| due)
    }

    /// The next due instant of one schedule; `None` while paused or held, or before start.
    pub fn next_due_of(&self, id: ScheduleId) -> Option<Mono> {
        self.entry(id).queued
    }

    /// Takes every schedule with a tick due by `horizon` out of the queue, earliest first:
    /// the caller walks each with [`Timetable::poll`], then puts it back with
    /// [`Timetable::requeue`]. Schedules not due stay as they are.
    pub fn take_due(&mut self, horizon: Mono) -> Vec<ScheduleId> {
        let mut due = vec![];
        while let Some(&(at, id)) = self.queue.first() {
            if at > horizon {
                break;
            }
            self.queue.pop_first();
            self.entries[id.0 as usize].queued = None;
            due.push(id);
        }
        due
    }

    /// The ticks of `id` due by `horizon`, oldest first, each handed out once (see
    /// [`Ticker::poll`]); what the caller does not deliver it gives back with
    /// [`Timetable::give_back`]. A catch-up run comes alone: the clock's ticks follow at
    /// the next call, so that giving it back gives back nothing else.
    pub fn poll(&mut self, id: ScheduleId, horizon: Mono) -> Vec<Tick> {
        let clock = self.clock;
        let entry = &mut self.entries[id.0 as usize];
        if let Some(tick) = entry.catching_up.take_if(|tick| tick.due <= horizon) {
            return vec![tick];
        }
        match &mut entry.clock {
            Clock::Every { ticker, .. } => ticker
                .poll(horizon)
                .map(|n| Tick::of(id, n, ticker.due(n), None))
                .collect(),
            Clock::Cron(cron) => {
                let mut ticks = vec![];
                while let Some(next) = cron.next.take() {
                    let due = cron.due(&entry.name, &next, &clock);
                    if due > horizon {
                        cron.next = Some(next);
                        break;
                    }
                    ticks.push(Tick::of(id, cron.number, due, Some(next.at())));
                    cron.number += 1;
                    cron.next = cron.schedule.next_after(next.at());
                }
                ticks
            }
        }
    }

    /// `tick` and the ones after it, from the last [`Timetable::poll`], did not happen: they
    /// come due again, with the same numbers (a cluster instance delivers only what its
    /// lease grants).
    pub fn give_back(&mut self, tick: &Tick) {
        let entry = &mut self.entries[tick.schedule.0 as usize];
        if tick.catch_up.is_some() {
            entry.catching_up = Some(*tick);
            return;
        }
        match &mut entry.clock {
            Clock::Every { ticker, .. } => ticker.rewind(tick.number),
            Clock::Cron(cron) => {
                if let Some(at) = tick.scheduled {
                    // The occurrence just before `at` leads the walk back to `at` itself.
                    cron.next = cron
                        .schedule
                        .next_after(UnixInstant::from_nanos(at.as_nanos() - 1));
                    cron.number = tick.number;
                }
            }
        }
    }

    /// The `delay` policy: `tick` has to wait, and its schedule's grid waits with it (see
    /// [`Ticker::hold`]). Only intervals are held: the config refuses `delay` for cron.
    pub fn hold(&mut self, tick: &Tick) {
        if let Clock::Every { ticker, .. } = &mut self.entries[tick.schedule.0 as usize].clock {
            ticker.hold(tick.number);
        }
    }

    /// The tick that held its schedule's grid is gone at `at`: see [`Ticker::release`].
    /// Returns whether the grid was held.
    pub fn release(&mut self, id: ScheduleId, at: Mono) -> bool {
        let released = match &mut self.entries[id.0 as usize].clock {
            Clock::Every { ticker, .. } => ticker.release(at),
            Clock::Cron(_) => false,
        };
        if released {
            self.requeue(id);
        }
        released
    }

    /// Puts `id` back in the queue at its next due instant, unless it is paused or held or
    /// has no next run.
    pub fn requeue(&mut self, id: ScheduleId) {
        let clock = self.clock;
        let entry = &mut self.entries[id.0 as usize];
        if let Some(at) = entry.queued.take() {
            self.queue.remove(&(at, id));
        }
        if entry.paused || !self.started {
            return;
        }
        let due = match &entry.clock {
            _ if entry.catching_up.is_some() => entry.catching_up.map(|tick| tick.due),
            Clock::Every { ticker, .. } if ticker.is_held() => None,
            Clock::Every { ticker, .. } => Some(ticker.next_due()),
            Clock::Cron(cron) => cron.next.as_ref().map(|o| cron.due(&entry.name, o, &clock)),
        };
        if let Some(due) = due {
            entry.queued = Some(due);
            self.queue.insert((due, id));
        }
    }

    /// Replaces an interval schedule's walk: a cluster term goes on with the shared
    /// numbering and grid.
    pub fn replace_ticker(&mut self, id: ScheduleId, ticker: Ticker, clock: WallClock) {
        self.clock = clock;
        if let Clock::Every { ticker: own, .. } = &mut self.entries[id.0 as usize].clock {
            *own = ticker;
        }
        self.requeue(id);
    }

    /// A cron schedule goes on at its occurrence `at` (none: it has no more), numbered
    /// `number`: a cluster term continues the numbering the cluster shares.
    pub fn continue_cron(&mut self, id: ScheduleId, number: u64, at: Option<UnixInstant>) {
        if let Clock::Cron(cron) = &mut self.entries[id.0 as usize].clock {
            // The occurrence just before `at` leads the walk to `at` itself.
            cron.next = at.and_then(|at| {
                cron.schedule
                    .next_after(UnixInstant::from_nanos(at.as_nanos().saturating_sub(1)))
            });
            cron.number = number;
        }
        self.requeue(id);
    }

    /// The occurrence a cron schedule hands out next; `None` for an interval.
    pub fn next_occurrence(&self, id: ScheduleId) -> Option<UnixInstant> {
        match &self.entry(id).clock {
            Clock::Cron(cron) => cron.next.as_ref().map(Occurrence::at),
            Clock::Every { .. } => None,
        }
    }

    /// The wall clock was read again (it was stepped, or the master checks it): every cron
    /// schedule's next run moves to where its occurrence now lies on the monotonic clock.
    /// A step forward makes the occurrences it passed due at once (the schedule's `missed`
    /// policy decides what runs); a step back runs nothing twice, since each walk goes on
    /// from the last occurrence it handed out.
    pub fn set_clock(&mut self, clock: WallClock) {
        self.clock = clock;
        let cron: Vec<ScheduleId> = self
            .ids()
            .filter(|&id| matches!(self.entry(id).clock, Clock::Cron(_)))
            .collect();
        for id in cron {
            self.requeue(id);
        }
    }

    /// Pauses `id`: nothing of it comes due until [`Timetable::resume`]. Returns whether it
    /// was running.
    pub fn pause(&mut self, id: ScheduleId) -> bool {
        let entry = &mut self.entries[id.0 as usize];
        if entry.paused {
            return false;
        }
        entry.paused = true;
        self.requeue(id);
        true
    }

    /// Resumes `id` at `now`: runs that fell due while paused are not made up for (a
    /// catch-up run not handed out before the pause is dropped too); an interval goes on
    /// at its next grid instant after `now`, a cron schedule at its next occurrence after
    /// `now`, numbering unbroken. Returns whether it was paused.
    pub fn resume(&mut self, id: ScheduleId, now: Mono) -> bool {
        let clock = self.clock;
        let started = self.started;
        let entry = &mut self.entries[id.0 as usize];
        if !entry.paused {
            return false;
        }
        entry.paused = false;
        entry.catching_up = None;
        if started {
            match &mut entry.clock {
                Clock::Every { every, ticker, .. } => {
                    let next = ticker.next_due();
                    if next <= now {
                        let behind = now.since(next).as_nanos();
                        let steps = behind / every.as_nanos() + 1;
                        let skip = Duration::from_nanos(
                            u64::try_from(steps * every.as_nanos()).unwrap_or(u64::MAX),
                        );
                        ticker.rebase(next + skip);
                    }
                }
                Clock::Cron(cron) => {
                    let unix_now = UnixInstant::from_unix(clock.unix(now));
                    if cron.next.as_ref().is_some_and(|o| o.at() <= unix_now) {
                        cron.next = cron.schedule.next_after(unix_now);
                    }
                }
            }
        }
        self.requeue(id);
        true
    }

    fn entry(&self, id: ScheduleId) -> &Entry {
        &self.entries[id.0 as usize]
    }
}

/// How many occurrences of `clock` lie strictly after `last` and strictly before `now`,
/// and the latest of them (a cron schedule's, for the catch-up run's `scheduled`); `None`
/// when there is none. An interval's occurrences are `last` plus whole intervals, on the
/// wall clock; a cron schedule's are counted up to [`MOST_COUNTED`].
fn missed(
    clock: &Clock,
    last: UnixInstant,
    now: UnixInstant,
) -> Option<(u64, Option<UnixInstant>)> {
    if now <= last {
        return None;
    }
    match clock {
        Clock::Every { every, .. } => {
            // k ≥ 1 with last + k × every < now.
            let behind = (now.as_nanos() - last.as_nanos() - 1) as u128;
            let count = behind / every.as_nanos().max(1);
            (count > 0).then(|| (u64::try_from(count).unwrap_or(u64::MAX), None))
        }
        Clock::Cron(cron) => {
            let mut count = 0;
            let mut latest = None;
            for occurrence in cron.schedule.occurrences_after(last) {
                if occurrence.at() >= now {
                    break;
                }
                if count == MOST_COUNTED {
                    latest = latest_before(&cron.schedule, last, now);
                    break;
                }
                count += 1;
                latest = Some(occurrence.at());
            }
            (count > 0).then_some((count, latest))
        }
    }
}

/// The latest occurrence strictly between `after` and `now`, looked for in windows that end
/// at `now` and double from a second, so that only the first window that holds one is
/// walked, not the whole stretch since `after`.
pub fn latest_before(
    schedule: &CronSchedule,
    after: UnixInstant,
    now: UnixInstant,
) -> Option<UnixInstant> {
    let mut window: i64 = 1_000_000_000;
    loop {
        let from =
            UnixInstant::from_nanos(now.as_nanos().saturating_sub(window).max(after.as_nanos()));
        let latest = schedule
            .occurrences_after(from)
            .take_while(|o| o.at() < now)
            .last()
            .map(|o| o.at());
        if latest.is_some() || from == after {
            return latest;
        }
        window = window.saturating_mul(2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DEFAULT_NAME, Missed};

    const S: u64 = 1_000_000_000;
    /// 2025-03-30T00:00:00Z, the night Berlin springs forward (at 01:00Z).
    const NIGHT: u64 = 1_743_292_800;

    fn every(name: &str, ms: u64) -> ScheduleConfig {
        ScheduleConfig::every(name, Duration::from_millis(ms), Missed::Skip)
    }

    fn cron(name: &str, expr: &str, zone: &str, jitter: Option<Duration>) -> ScheduleConfig {
        ScheduleConfig {
            name: name.into(),
            when: When::Cron {
                expr: Box::new(CronExpr::parse(expr).unwrap()),
                zone: ZoneChoice::Schedule(Zone::lookup(zone).unwrap()),
            },
            jitter,
            ..ScheduleConfig::every(name, Duration::from_secs(1), Missed::Skip)
        }
    }

    fn catching_up(config: ScheduleConfig) -> ScheduleConfig {
        ScheduleConfig {
            catch_up: CatchUpPolicy::Once,
            ..config
        }
    }

    /// The monotonic clock reads 1 s when the wall clock reads `unix` seconds.
    fn clock_at(unix: u64) -> WallClock {
        WallClock::new(Mono(S), Duration::from_secs(unix))
    }

    fn started(schedules: &[ScheduleConfig], unix: u64) -> Timetable {
        let utc = Zone::lookup("UTC").unwrap();
        let setup = Setup {
            schedules,
            fallback_zone: &utc,
            fallback_origin: "UTC",
        };
        let mut t = Timetable::new(&setup, clock_at(unix));
        assert_eq!(t.next(), None, "nothing comes due before the start");
        t.start(Mono(S), clock_at(unix));
        t
    }

    /// Every tick due by `horizon`, as the pool's walk takes them.
    fn walk(t: &mut Timetable, horizon: Mono) -> Vec<(String, u64, Mono)> {
        let mut got = vec![];
        for id in t.take_due(horizon) {
            for tick in t.poll(id, horizon) {
                got.push((t.name(id).to_string(), tick.number, tick.due));
            }
            t.requeue(id);
        }
        got
    }

    #[test]
    fn each_schedule_is_numbered_from_zero_and_the_earliest_comes_first() {
        let mut t = started(&[every("fast", 250), every("slow", 1000)], NIGHT);
        assert_eq!(t.next(), Some((ScheduleId(0), 0, Mono(S + S / 4))));
        let got = walk(&mut t, Mono(2 * S));
        let fast: Vec<u64> = got.iter().filter(|g| g.0 == "fast").map(|g| g.1).collect();
        let slow: Vec<u64> = got.iter().filter(|g| g.0 == "slow").map(|g| g.1).collect();
        assert_eq!(fast, [0, 1, 2, 3]);
        assert_eq!(slow, [0]);
        assert_eq!(t.next(), Some((ScheduleId(0), 4, Mono(2 * S + S / 4))));
        assert_eq!(t.next_due_of(ScheduleId(1)), Some(Mono(3 * S)));
    }

    #[test]
    fn a_wake_up_walks_only_the_schedules_that_are_due() {
        let schedules: Vec<ScheduleConfig> = (0..10_000)
            .map(|i| every(&format!("s{i}"), 1000 + i))
            .collect();
        let mut t = started(&schedules, NIGHT);
        // Only s0 is due one second after the start; the others stay where they are.
        assert_eq!(t.take_due(Mono(2 * S)), [ScheduleId(0)]);
        assert_eq!(t.poll(ScheduleId(0), Mono(2 * S)).len(), 1);
        t.requeue(ScheduleId(0));
        assert_eq!(t.next().map(|(id, n, _)| (id, n)), Some((ScheduleId(1), 0)));
    }

    #[test]
    fn a_cron_tick_is_due_at_its_occurrence_and_carries_it() {
        // 30 2 * * * in Berlin on the night of the spring gap: 03:00+02:00, 01:00Z.
        let mut t = started(
            &[cron("report", "30 2 * * *", "Europe/Berlin", None)],
            NIGHT,
        );
        let (id, number, due) = t.next().unwrap();
        assert_eq!((id, number), (ScheduleId(0), 0));
        assert_eq!(due, Mono(S + 3600 * S), "an hour after midnight UTC");
        let ticks = t.poll(id, due);
        assert_eq!(ticks.len(), 1);
        assert_eq!(
            ticks[0].scheduled,
            Some(UnixInstant::from_secs((NIGHT + 3600) as i64))
        );
        t.requeue(id);
        // The next night's 02:30 is CEST: 00:30Z.
        let (_, number, due) = t.next().unwrap();
        assert_eq!(number, 1);
        assert_eq!(due, Mono(S + (24 * 3600 + 1800) * S));
    }

    #[test]
    fn jitter_moves_each_run_by_the_same_amount_on_every_instance() {
        let jitter = Some(Duration::from_secs(30));
        let one = started(&[cron("spread", "0 * * * *", "UTC", jitter)], NIGHT);
        let two = started(&[cron("spread", "0 * * * *", "UTC", jitter)], NIGHT);
        let other = started(&[cron("other", "0 * * * *", "UTC", jitter)], NIGHT);
        let hour = Mono(S + 3600 * S);
        let due = one.next_due().unwrap();
        assert_eq!(Some(due), two.next_due(), "instances agree");
        assert!(
            due >= hour && due < hour + Duration::from_secs(30),
            "{due:?}"
        );
        assert_ne!(Some(due), other.next_due(), "another name, another offset");
    }

    fn jittered(name: &str, ms: u64, jitter_ms: u64) -> ScheduleConfig {
        ScheduleConfig {
            jitter: Some(Duration::from_millis(jitter_ms)),
            ..every(name, ms)
        }
    }

    #[test]
    fn a_jittered_interval_is_shifted_by_one_phase_and_keeps_its_distance() {
        let one = started(&[jittered("beat", 1000, 1000)], NIGHT);
        let two = started(&[jittered("beat", 1000, 1000)], NIGHT);
        let phase = one.phase(ScheduleId(0));
        assert_eq!(phase, jitter::phase("beat", Some(Duration::from_secs(1))));
        assert!(
            !phase.is_zero() && phase < Duration::from_secs(1),
            "{phase:?}"
        );
        assert_eq!(two.phase(ScheduleId(0)), phase, "every timetable agrees");
        let other = started(&[jittered("pulse", 1000, 1000)], NIGHT);
        assert_ne!(
            other.phase(ScheduleId(0)),
            phase,
            "another name, another phase"
        );

        // The first tick one interval and the phase after the start, then one a second.
        let mut one = one;
        let got = walk(&mut one, Mono(5 * S));
        let dues: Vec<Mono> = got.iter().map(|g| g.2).collect();
        let grid: Vec<Mono> = (1..=3).map(|k| Mono(S + k * S) + phase).collect();
        assert_eq!(dues, grid);
        assert_eq!(got.iter().map(|g| g.1).collect::<Vec<_>>(), [0, 1, 2]);

        // A resume keeps the phase: whole intervals are skipped.
        assert!(one.pause(ScheduleId(0)));
        assert!(one.resume(ScheduleId(0), Mono(9 * S)));
        assert_eq!(one.next_due_of(ScheduleId(0)), Some(Mono(9 * S) + phase));
    }

    #[test]
    fn without_jitter_an_interval_has_no_phase() {
        let t = started(&[every("beat", 1000)], NIGHT);
        assert_eq!(t.phase(ScheduleId(0)), Duration::ZERO);
        assert_eq!(t.next_due(), Some(Mono(2 * S)));
    }

    #[test]
    fn ticks_given_back_come_again_with_their_numbers() {
        let mut t = started(
            &[
                every(DEFAULT_NAME, 1000),
                cron("c", "* * * * * *", "UTC", None),
            ],
            NIGHT,
        );
        for id in t.take_due(Mono(4 * S)) {
            let ticks = t.poll(id, Mono(4 * S));
            assert!(ticks.len() >= 3, "{ticks:?}");
            t.give_back(&ticks[1]);
            t.requeue(id);
        }
        let again = walk(&mut t, Mono(4 * S));
        for name in [DEFAULT_NAME, "c"] {
            let first = again.iter().find(|g| g.0 == name).unwrap();
            assert_eq!(first.1, 1, "{name} goes on at the tick given back");
        }
    }

    #[test]
    fn a_paused_schedule_comes_due_again_after_its_resume_without_making_up() {
        let mut t = started(
            &[
                every("beat", 1000),
                cron("c", "*/10 * * * * *", "UTC", None),
            ],
            NIGHT,
        );
        assert!(t.pause(ScheduleId(0)) && t.pause(ScheduleId(1)));
        assert!(!t.pause(ScheduleId(0)), "paused already");
        assert_eq!(t.next(), None);
        assert!(walk(&mut t, Mono(100 * S)).is_empty());
        assert!(t.resume(ScheduleId(0), Mono(100 * S + S / 2)));
        assert!(t.resume(ScheduleId(1), Mono(100 * S + S / 2)));
        // Numbering goes on from 0; the interval keeps its phase, cron its wall clock.
        assert_eq!(t.next_due_of(ScheduleId(0)), Some(Mono(101 * S)));
        assert_eq!(t.next_due_of(ScheduleId(1)), Some(Mono(101 * S)));
        let got = walk(&mut t, Mono(101 * S));
        assert_eq!(got.iter().map(|g| g.1).collect::<Vec<_>>(), [0, 0]);
    }

    #[test]
    fn a_clock_step_forward_makes_passed_occurrences_due_and_a_step_back_repeats_none() {
        let mut t = started(&[cron("c", "0 * * * *", "UTC", None)], NIGHT);
        assert_eq!(t.next_due(), Some(Mono(S + 3600 * S)));
        // The wall clock jumps two and a half hours ahead at monotonic 2 s.
        t.set_clock(WallClock::new(
            Mono(2 * S),
            Duration::from_secs(NIGHT + 9000),
        ));
        let due = t.next_due().unwrap();
        assert!(due <= Mono(2 * S), "the 01:00 run is overdue now: {due:?}");
        let got = walk(&mut t, Mono(2 * S));
        assert_eq!(got.len(), 2, "01:00 and 02:00 passed: {got:?}");
        // Then it is set back by three hours: 03:00 stays next, nothing runs twice.
        t.set_clock(WallClock::new(
            Mono(3 * S),
            Duration::from_secs(NIGHT - 1800),
        ));
        let (_, number, due) = t.next().unwrap();
        assert_eq!(number, 2);
        assert_eq!(due, Mono(3 * S + (3 * 3600 + 1800) * S));
    }

    #[test]
    fn a_held_interval_comes_due_again_only_after_its_release() {
        let mut t = started(&[every("beat", 1000)], NIGHT);
        let id = t.take_due(Mono(2 * S))[0];
        let ticks = t.poll(id, Mono(2 * S));
        t.hold(&ticks[0]);
        t.requeue(id);
        assert_eq!(t.next(), None);
        assert!(t.release(id, Mono(5 * S)));
        assert_eq!(t.next(), Some((id, 1, Mono(6 * S))));
    }

    /// A state file's last runs, by name.
    fn last_runs(runs: &[(&str, i64)]) -> impl Fn(&str) -> Option<UnixInstant> {
        let runs: Vec<(String, UnixInstant)> = runs
            .iter()
            .map(|&(name, secs)| (name.to_string(), UnixInstant::from_secs(secs)))
            .collect();
        move |name| runs.iter().find(|r| r.0 == name).map(|r| r.1)
    }

    #[test]
    fn a_cron_schedule_that_missed_occurrences_runs_once_at_the_start_for_all_of_them() {
        // Every two seconds; the last run was at NIGHT - 7: NIGHT - 6, - 4 and - 2 were missed.
        let mut t = started(
            &[catching_up(cron("c", "*/2 * * * * *", "UTC", None))],
            NIGHT,
        );
        let night = NIGHT as i64;
        let runs = t.catch_up(Mono(S), last_runs(&[("c", night - 7)]));
        assert_eq!(runs.len(), 1, "{runs:?}");
        let run = runs[0];
        assert_eq!(run.catch_up, Some(CatchUp { missed: 3 }));
        assert_eq!((run.number, run.due), (0, Mono(S)), "first, at once");
        assert_eq!(
            run.scheduled,
            Some(UnixInstant::from_secs(night - 2)),
            "the latest"
        );
        assert_eq!(t.next(), Some((ScheduleId(0), 0, Mono(S))));
        let got = walk(&mut t, Mono(S));
        assert_eq!(got, [("c".to_string(), 0, Mono(S))]);
        // Then the walk goes on from the start: NIGHT + 2 is number 1.
        assert_eq!(t.next(), Some((ScheduleId(0), 1, Mono(3 * S))));
        assert!(walk(&mut t, Mono(3 * S)).iter().all(|g| g.1 == 1));
    }

    #[test]
    fn an_interval_counts_its_missed_runs_on_the_wall_clock_from_its_last_run() {
        // Every 10 s; the last run 35 s before the start: +10, +20 and +30 were missed.
        let mut t = started(&[catching_up(every("beat", 10_000))], NIGHT);
        let runs = t.catch_up(Mono(S), last_runs(&[("beat", NIGHT as i64 - 35)]));
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].catch_up, Some(CatchUp { missed: 3 }));
        assert_eq!((runs[0].number, runs[0].scheduled), (0, None));
        let got = walk(&mut t, Mono(S));
        assert_eq!(got, [("beat".to_string(), 0, Mono(S))]);
        assert_eq!(
            t.next(),
            Some((ScheduleId(0), 1, Mono(11 * S))),
            "the grid goes on"
        );

        // A run exactly one interval before the start missed nothing: that one is now.
        let mut t = started(&[catching_up(every("beat", 10_000))], NIGHT);
        assert!(
            t.catch_up(Mono(S), last_runs(&[("beat", NIGHT as i64 - 10)]))
                .is_empty()
        );
        assert_eq!(t.next(), Some((ScheduleId(0), 0, Mono(11 * S))));
    }

    #[test]
    fn no_catch_up_without_a_last_run_a_missed_occurrence_or_catch_up_once() {
        let night = NIGHT as i64;
        let schedules = [
            catching_up(cron("new", "*/2 * * * * *", "UTC", None)),
            catching_up(cron("recent", "*/2 * * * * *", "UTC", None)),
            cron("none", "*/2 * * * * *", "UTC", None),
            ScheduleConfig {
                paused: true,
                ..catching_up(cron("paused", "*/2 * * * * *", "UTC", None))
            },
            catching_up(cron("ahead", "*/2 * * * * *", "UTC", None)),
        ];
        let mut t = started(&schedules, NIGHT);
        let runs = t.catch_up(
            Mono(S),
            last_runs(&[
                ("recent", night - 2),
                ("none", night - 60),
                ("paused", night - 60),
                // The wall clock was set back since: nothing lies between.
                ("ahead", night + 60),
            ]),
        );
        assert!(runs.is_empty(), "{runs:?}");
        assert_eq!(t.next().map(|(_, n, due)| (n, due)), Some((0, Mono(3 * S))));
    }

    #[test]
    fn a_long_downtime_is_counted_up_to_a_bound_and_runs_for_the_latest_occurrence() {
        let mut t = started(
            &[catching_up(cron("each", "* * * * * *", "UTC", None))],
            NIGHT,
        );
        let night = NIGHT as i64;
        let runs = t.catch_up(Mono(S), last_runs(&[("each", night - 30 * 86_400)]));
        assert_eq!(
            runs[0].catch_up,
            Some(CatchUp {
                missed: MOST_COUNTED
            })
        );
        assert_eq!(runs[0].scheduled, Some(UnixInstant::from_secs(night - 1)));
    }

    #[test]
    fn a_catch_up_run_given_back_comes_again_and_a_resume_drops_it() {
        let night = NIGHT as i64;
        let mut t = started(
            &[catching_up(cron("c", "*/2 * * * * *", "UTC", None))],
            NIGHT,
        );
        t.catch_up(Mono(S), last_runs(&[("c", night - 9)]));
        let id = t.take_due(Mono(S))[0];
        let ticks = t.poll(id, Mono(S));
        assert_eq!(ticks.len(), 1, "the catch-up run comes alone");
        t.give_back(&ticks[0]);
        t.requeue(id);
        assert_eq!(walk(&mut t, Mono(S)).len(), 1, "it comes again");

        let mut t = started(
            &[catching_up(cron("c", "*/2 * * * * *", "UTC", None))],
            NIGHT,
        );
        t.catch_up(Mono(S), last_runs(&[("c", night - 9)]));
        assert!(t.pause(ScheduleId(0)));
        assert!(t.resume(ScheduleId(0), Mono(S)));
        assert_eq!(t.next(), Some((ScheduleId(0), 1, Mono(3 * S))), "dropped");
    }

    #[test]
    fn a_cluster_terms_catch_up_run_replaces_an_earlier_terms_and_a_paused_one_takes_none() {
        let id = ScheduleId(0);
        let mut t = started(
            &[catching_up(cron("c", "*/2 * * * * *", "UTC", None))],
            NIGHT,
        );
        let run = |number| Tick {
            catch_up: Some(CatchUp { missed: 3 }),
            ..Tick::of(
                id,
                number,
                Mono(S),
                Some(UnixInstant::from_secs(NIGHT as i64 - 2)),
            )
        };
        assert!(t.set_catch_up(id, Some(run(4))));
        assert_eq!(
            t.next(),
            Some((id, 4, Mono(S))),
            "due at once, before the grid"
        );
        // The next term makes none: what the earlier one did not hand out is not its own.
        assert!(!t.set_catch_up(id, None));
        assert_eq!(t.next(), Some((id, 0, Mono(3 * S))));
        assert!(t.pause(id));
        assert!(!t.set_catch_up(id, Some(run(5))));
        assert!(t.resume(id, Mono(S)));
        assert_eq!(t.next().map(|(_, number, _)| number), Some(0));
    }
}
