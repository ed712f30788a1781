//! The tick path, in one straight line: the timer fires, the schedule says which ticks are
//! due, the pool says which worker takes each, the tick goes out; and back: the worker's
//! answer finishes the tick and may free the worker for a waiting one.
//!
//! Owns the timerfd, the instant it is armed for, and the schedules ([`Timetable`]: each
//! one's walk, the `delay` policy's hold, the wall clock used for cron schedules and
//! headers). It decides nothing about workers ([`Pool`] does) and starts or kills no
//! process (see `processes.rs`). In a cluster, each tick also asks `cluster.rs` whether this
//! instance may deliver it, and a term restarts every schedule where the cluster left it. An
//! operator's `pause`, `resume` and `run` act here too: on the timetable, or as one run
//! handed to the pool.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use super::{Master, Phase, duration_nanos};
use crate::cluster::lease::Begin;
use crate::config::{Missed, TickerConfig, When};
use crate::control::Which;
use crate::frame::Frame;
use crate::message::FromWorker;
use crate::metrics::Lateness;
use crate::payload::{self, Origin};
use crate::pool::{Arrival, Delivery, Outcome, Pid, Tick};
use crate::schedule::cron::UnixInstant;
use crate::schedule::zone::Zone;
use crate::schedule::{Mono, Schedule, Ticker, WallClock};
use crate::sys::{self, ClockSteps, TimerFd};
use crate::tick::{CatchUp, ScheduleId};
use crate::timetable::{MOST_COUNTED, Setup, Timetable};

/// How long before its due instant a tick goes to a free worker, at most a quarter of the
/// interval; see [`Master::arm_timer`].
const HANDOFF_LEAD: Duration = Duration::from_micros(200);

pub(super) struct Ticking {
    timer: TimerFd,
    /// Watches the wall clock for steps, when a cron schedule follows it.
    clock_steps: Option<ClockSteps>,
    /// The instant the timer is armed for; `None` once it fired or was disarmed.
    armed: Option<Mono>,
    /// The due instant of the latest tick handed to a worker: until then a worker may hold
    /// a tick handed over early, and wake for it.
    handed_until: Mono,
    timetable: Timetable,
    /// The fencing token of the cluster term that hands ticks out; `None` on its own.
    fence: Option<u64>,
    /// How late ticks started on their workers, as the workers report it.
    lateness: Lateness,
    /// The zone of cron schedules that name none, and why that one.
    fallback_zone: (String, &'static str),
}

impl Ticking {
    /// `zone` is the zone of cron schedules that name none, and why that one.
    pub(super) fn new(
        config: &TickerConfig,
        zone: &(Zone, &'static str),
        now: Mono,
    ) -> io::Result<Ticking> {
        let setup = Setup {
            schedules: &config.schedules,
            fallback_zone: &zone.0,
            fallback_origin: zone.1,
        };
        let follows_wall_clock = config
            .schedules
            .iter()
            .any(|s| matches!(s.when, When::Cron { .. }));
        Ok(Ticking {
            timer: TimerFd::new()?,
            clock_steps: follows_wall_clock.then(ClockSteps::new).transpose()?,
            armed: None,
            handed_until: now,
            timetable: Timetable::new(&setup, WallClock::new(now, sys::unix_now())),
            fence: None,
            lateness: Lateness::default(),
            fallback_zone: (zone.0.name().to_string(), zone.1),
        })
    }

    pub(super) fn timer_fd(&self) -> BorrowedFd<'_> {
        self.timer.as_fd()
    }

    /// The zone of cron schedules that name none, and why that one.
    pub(super) fn fallback_zone(&self) -> (&str, &str) {
        (&self.fallback_zone.0, self.fallback_zone.1)
    }

    pub(super) fn lateness(&self) -> &Lateness {
        &self.lateness
    }

    pub(super) fn clock_steps_fd(&self) -> Option<BorrowedFd<'_>> {
        self.clock_steps.as_ref().map(AsFd::as_fd)
    }

    /// Like RoadRunner's ticker, the first tick comes one interval after the pool is up:
    /// its first workers are ready (forks at once; command-started ones once they answered
    /// their pid handshake).
    /// In a cluster, a term that began before the pool was up keeps its shared grid.
    /// A schedule with `catch_up: once` that missed runs since `last_run(name)` runs once
    /// at once (see [`Timetable::catch_up`]).
    pub(super) fn start(&mut self, now: Mono, last_run: impl Fn(&str) -> Option<UnixInstant>) {
        if self.fence.is_none() {
            self.timetable
                .start(now, WallClock::new(now, sys::unix_now()));
        } else {
            self.timetable.start_as_set(now);
        }
        for run in self.timetable.catch_up(now, &last_run) {
            let name = self.timetable.name(run.schedule);
            let missed = run.catch_up.map_or(0, |c| c.missed);
            let since = last_run(name).map(|at| at.to_string()).unwrap_or_default();
            let more = or_more(missed);
            log::info!(
                "{name} missed {missed}{more} run(s) since its last one ({since}) while no \
                 master ran: catching up with one run now"
            );
        }
    }

    /// The schedules, for what an operator sees of them.
    pub(super) fn timetable(&self) -> &Timetable {
        &self.timetable
    }

    pub(super) fn is_started(&self) -> bool {
        self.timetable.is_started()
    }

    /// The instant the timer is armed for, if it is.
    pub(super) fn armed_at(&self) -> Option<Mono> {
        self.armed
    }

    /// Whether the loop may spend a while on other work at `now`, `needs` long, without
    /// making a tick late: no tick handed over early is still ahead of its due instant (its
    /// worker wakes for it then, and may have to wait for the CPU the master holds), and
    /// the timer's next hand-off is further off than `needs`.
    pub(super) fn has_room(&self, now: Mono, needs: Duration) -> bool {
        now >= self.handed_until && self.armed.is_none_or(|at| at > now + needs)
    }

    /// Clears the timer's readiness; whether it had really fired.
    pub(super) fn acknowledge(&mut self) -> bool {
        let fired = self.timer.acknowledge();
        if fired {
            self.armed = None;
        }
        fired
    }

    pub(super) fn disarm(&mut self) {
        let _ = self.timer.disarm();
        self.armed = None;
    }

    /// A cluster term begins: `default` (`shared`, when the pool has it) goes on from
    /// `begin.first` on the shared grid, each named schedule from the occurrence and number
    /// the cluster carried on, on the term's clock.
    pub(super) fn begin_term(&mut self, begin: &Begin, shared: Option<ScheduleId>) {
        let clock = begin.clock;
        self.timetable.set_clock(clock);
        if let Some(id) = shared {
            let every = self
                .timetable
                .every(id)
                .expect("ticker.interval's schedule is an interval");
            self.timetable.replace_ticker(
                id,
                Ticker::starting_at(begin.first, Schedule::new(begin.first_due, every)),
                clock,
            );
        }
        let unix = |at: u64| UnixInstant::from_nanos(i64::try_from(at).unwrap_or(i64::MAX));
        for (id, resumed) in &begin.named {
            let id = ScheduleId(*id);
            let at = resumed.first.map(|(at, _)| unix(at));
            let number = resumed.first.map_or(resumed.anchor.next, |(_, n)| n);
            match (self.timetable.every(id), at) {
                (Some(every), Some(at)) => self.timetable.replace_ticker(
                    id,
                    Ticker::starting_at(number, Schedule::new(clock.mono(at), every)),
                    clock,
                ),
                (Some(_), None) => {}
                (None, at) => self.timetable.continue_cron(id, number, at),
            }
            // The run stands for its latest occurrence, which the lease grants and the
            // cluster records as handed out: an interval's too, so that its grid goes on.
            let run = resumed.catch_up.map(|run| Tick {
                catch_up: Some(CatchUp { missed: run.missed }),
                ..Tick::of(
                    id,
                    run.number,
                    clock.mono(unix(run.due)),
                    Some(unix(run.latest)),
                )
            });
            if self.timetable.set_catch_up(id, run)
                && let Some(run) = resumed.catch_up
            {
                let more = or_more(run.missed);
                log::info!(
                    "{} missed {}{more} run(s), from {} to {}, while no instance led the \
                     cluster: catching up with one run now",
                    self.timetable.name(id),
                    run.missed,
                    unix(run.first),
                    unix(run.latest)
                );
            }
        }
        self.fence = Some(begin.token);
        self.disarm();
    }

    /// The frame of a delivery: its header needs the schedule and the wall clock.
    fn job(&self, delivery: &Delivery) -> Frame {
        let schedule = delivery.tick.schedule;
        let origin = Origin {
            schedule: self.timetable.name(schedule),
            zone: self.timetable.cron(schedule).map(|c| c.zone()),
            fence: self.fence,
        };
        payload::job(delivery, self.timetable.clock(), &origin).into_frame()
    }

    /// How a log line names a tick: `tick 7` in a pool of the one `default` schedule,
    /// `tick 7 of nightly` beside others. Written out only where a line is: every tick
    /// passes lines that the log level leaves out.
    pub(super) fn label<'a>(&'a self, tick: &'a Tick) -> TickLabel<'a> {
        TickLabel {
            timetable: &self.timetable,
            tick,
        }
    }

    /// How long before a tick of `schedule` is due it goes to a free worker: at most a
    /// quarter of an interval.
    fn lead(&self, schedule: ScheduleId) -> Duration {
        self.timetable
            .every(schedule)
            .map_or(HANDOFF_LEAD, |every| HANDOFF_LEAD.min(every / 4))
    }
}

/// What a count of missed runs adds in a log line: counts stop at [`MOST_COUNTED`].
fn or_more(missed: u64) -> &'static str {
    if missed >= MOST_COUNTED {
        " or more"
    } else {
        ""
    }
}

/// A tick as log lines name it; see [`Ticking::label`].
pub(super) struct TickLabel<'a> {
    timetable: &'a Timetable,
    tick: &'a Tick,
}

impl std::fmt::Display for TickLabel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tick = self.tick;
        if tick.manual {
            let name = self.timetable.name(tick.schedule);
            write!(f, "manual run {} of {name}", tick.number)
        } else if self.timetable.len() == 1 {
            write!(f, "tick {}", tick.number)
        } else {
            let name = self.timetable.name(tick.schedule);
            write!(f, "tick {} of {name}", tick.number)
        }
    }
}

impl Master<'_> {
    /// Arms the timer a little before the next due instant, so that [`Master::on_timer`]
    /// can hand the tick to a free worker early; the worker holds it until it is due (see
    /// [`crate::worker`]). The kernel wakes a sleeping process tens of microseconds late, and
    /// a tick goes through two wake-ups (this one and the worker's); handing it over early
    /// takes both out of the tick's lateness.
    ///
    /// With no worker free, the timer is armed for the due instant itself: waking early would
    /// be for nothing (a saturated pool at 100 µs would wake twice per tick). Called after
    /// every event; it touches the timer only when the instant changes.
    pub(super) fn arm_timer(&mut self) {
        if !matches!(self.phase, Phase::Running) {
            return;
        }
        let Some((schedule, number, due)) = self.ticking.timetable.next() else {
            // Nothing will come due (every schedule paused, or a `delay` grid held).
            if self.ticking.armed.is_some() {
                self.ticking.disarm();
            }
            return;
        };
        let occurrence = self.ticking.timetable.next_occurrence(schedule);
        if !self.cluster_permits(&Tick::of(schedule, number, due, occurrence)) {
            // Not this instance's tick (yet): a reply from the lease helper re-arms.
            if self.ticking.armed.is_some() {
                self.ticking.disarm();
            }
            return;
        }
        let at = if self.pool.can_start(schedule) {
            let lead = self.ticking.lead(schedule);
            Mono(due.0.saturating_sub(duration_nanos(lead)))
        } else {
            due
        };
        if self.ticking.armed == Some(at) {
            return;
        }
        match self.ticking.timer.arm_at(at) {
            Ok(()) => self.ticking.armed = Some(at),
            Err(e) => self.fail(format!("cannot arm the timer: {e}")),
        }
    }

    /// A tick that had waited is gone at `now` (delivered, or dropped after
    /// `allocate_timeout`): under `delay` it held the grid, which restarts one interval
    /// later. A re-run is never the tick that held it.
    pub(super) fn waited_tick_gone(&mut self, tick: &Tick, now: Mono) {
        if tick.attempt == 1 && self.ticking.timetable.release(tick.schedule, now) {
            self.arm_timer();
        }
    }

    /// The wall clock was set: every cron schedule's next run is placed again, from a new
    /// reading of both clocks. A step forward makes the runs it passed due now (each
    /// schedule's `missed` policy decides what runs); a step back runs nothing twice.
    pub(super) fn on_clock_step(&mut self) {
        let Some(steps) = &self.ticking.clock_steps else {
            return;
        };
        if !steps.stepped() {
            return;
        }
        let now = sys::monotonic_now();
        let clock = WallClock::new(now, sys::unix_now());
        log::info!("the wall clock was set: cron schedules' next runs follow it");
        self.ticking.timetable.set_clock(clock);
        self.arm_timer();
    }

    pub(super) fn on_timer(&mut self) {
        if !matches!(self.phase, Phase::Running) {
            return;
        }
        let Some((schedule, _, due)) = self.ticking.timetable.next() else {
            return;
        };
        let now = sys::monotonic_now();
        let horizon = if now >= due {
            now
        } else if self.pool.can_start(schedule) {
            due
        } else {
            // The worker that was free is not any more: the tick arrives when it is due.
            self.arm_timer();
            return;
        };
        // Collected first: delivering needs all of the master. In a cluster, a tick the
        // lease does not grant stops the walk; it comes back when a renewal grants it, or
        // goes with the term.
        let cluster = &self.cluster;
        let arrivals: Vec<(Tick, Arrival)> =
            self.pool
                .arrive_due_while(&mut self.ticking.timetable, horizon, now, |tick| {
                    super::cluster::may_deliver(cluster, tick, now)
                });
        for (tick, arrival) in arrivals {
            let label = self.ticking.label(&tick);
            match arrival {
                Arrival::Deliver(d) => self.deliver(d),
                Arrival::Waiting if self.pool.rules(tick.schedule).missed == Missed::Delay => {
                    log::debug!("{label} waits for a free worker; the grid waits with it");
                }
                Arrival::Waiting => {
                    log::debug!("{label} waits: no worker is free");
                }
                Arrival::Skipped => log::warn!(
                    "{label} skipped: no worker is free and {} tick(s) already wait \
                     ({} skipped so far)",
                    self.pool.waiting(),
                    self.pool.schedule_stats(tick.schedule).skipped
                ),
            }
        }
        self.arm_timer();
    }

    /// Sends a tick the pool assigned to a worker.
    pub(super) fn deliver(&mut self, delivery: Delivery) {
        if delivery.waited {
            self.waited_tick_gone(&delivery.tick, sys::monotonic_now());
        }
        log::debug!(
            "{} goes to worker {} (attempt {})",
            self.ticking.label(&delivery.tick),
            delivery.pid,
            delivery.tick.attempt
        );
        let frame = self.ticking.job(&delivery);
        self.send(delivery.pid, &frame);
        self.ticking.handed_until = self.ticking.handed_until.max(delivery.tick.due);
        // A manual run's number is its own ordinal, nothing of the shared grid.
        if delivery.tick.attempt == 1 && !delivery.tick.manual {
            self.cluster_delivered(&delivery.tick);
            if let Some(keeping) = &mut self.keeping {
                keeping.delivered(delivery.tick.schedule);
            }
        }
    }

    /// A whole frame from a worker: the answer to the tick it holds.
    pub(super) fn on_frame(&mut self, pid: Pid, frame: Frame) {
        let mut reported_late = None;
        let outcome = match FromWorker::from_frame(frame) {
            Ok(FromWorker::Answer { late, .. }) => {
                reported_late = late;
                Outcome::Done
            }
            Ok(FromWorker::Error(message)) => Outcome::Failed(message),
            Ok(FromWorker::StopRequest) => Outcome::StopRequested,
            Ok(FromWorker::Pid(_)) => {
                return self.kill(pid, "sent a pid handshake it was not asked for");
            }
            Err(e) => return self.kill(pid, &format!("broke the protocol: {e}")),
        };
        let finished = match self.pool.finish(pid, outcome.clone(), sys::monotonic_now()) {
            Ok(f) => f,
            Err(e) => return self.kill(pid, &format!("broke the protocol: {e}")),
        };
        if let Some(late) = reported_late {
            self.ticking.lateness.record(late);
            self.pool.record_lateness(finished.tick.schedule, late);
        }
        self.processes.tick_completed();
        let tick = self.ticking.label(&finished.tick);
        match &outcome {
            Outcome::Done => {
                log::debug!("{tick} done by worker {pid} in {:?}", finished.took)
            }
            Outcome::Failed(message) => {
                log::warn!("{tick} failed on worker {pid}: {message}")
            }
            Outcome::StopRequested if finished.failed && finished.tick.attempt > 1 => {
                log::warn!("{tick} failed: worker {pid} asked to stop on its second run")
            }
            Outcome::StopRequested if finished.failed => {
                log::warn!("{tick} failed: worker {pid} asked to stop, and the master is stopping")
            }
            Outcome::StopRequested => {
                log::info!("{tick} runs again on another worker: worker {pid} asked to stop")
            }
        }
        if let Some(reason) = &finished.retire {
            log::info!("replacing worker {pid}: {reason}");
            self.tell_to_stop(pid);
        } else if let Phase::Stopping { .. } = self.phase {
            self.pool.retire(pid);
            self.tell_to_stop(pid);
        }
        if let Some(next) = finished.next {
            self.deliver(next);
        }
    }
}

/// The answer to an operator's `pause`, `resume` or `run`: one line, and whether it did
/// what was asked (a refusal makes `ticker` exit 1).
pub(super) struct Steered {
    pub(super) ok: bool,
    pub(super) message: String,
}

impl Steered {
    fn done(message: String) -> Steered {
        Steered { ok: true, message }
    }

    fn refused(message: String) -> Steered {
        Steered { ok: false, message }
    }
}

/// Up to this many schedules, a refusal for an unknown name lists them all; beyond, it
/// counts them and leaves the list to `ticker status`, so that an answer stays a line.
const MOST_LISTED: usize = 10;

/// Up to this many schedules, a refusal for an unknown name suggests the nearest one. The
/// master's loop answers the client itself, and comparing a name with 10,000 would hold it
/// for milliseconds.
const MOST_MATCHED: usize = 1_000;

/// The refusal of a name the pool does not have: the one it most likely meant, and the
/// schedules there are.
fn unknown_schedule(name: &str, names: &[&str]) -> String {
    let hint = (names.len() <= MOST_MATCHED)
        .then(|| crate::config::table::nearest(name, names))
        .flatten()
        .map_or_else(String::new, |near| format!(" (did you mean {near}?)"));
    if names.len() <= MOST_LISTED {
        format!(
            "unknown schedule {name}{hint}: the schedules are {}",
            names.join(", ")
        )
    } else {
        format!(
            "unknown schedule {name}{hint}: the pool has {} schedules (ticker status lists them)",
            names.len()
        )
    }
}

/// Operators pause, resume and run schedules by name. Pausing acts on this master's
/// [`Timetable`] only, for as long as it runs: a restart starts from the config's
/// `paused:` again. Ticks of a paused schedule that already wait for a worker stay and run;
/// nothing new of it comes due.
impl Master<'_> {
    /// The schedules `which` names, or the refusal naming every schedule.
    fn schedules_named(&self, which: &Which) -> Result<Vec<ScheduleId>, Steered> {
        let table = &self.ticking.timetable;
        match which {
            Which::All => Ok(table.ids().collect()),
            Which::One(name) => table.find(name).map(|id| vec![id]).ok_or_else(|| {
                let names: Vec<&str> = table.ids().map(|id| table.name(id)).collect();
                Steered::refused(unknown_schedule(name, &names))
            }),
        }
    }

    pub(super) fn pause_schedules(&mut self, which: &Which) -> Steered {
        self.steer_schedules(which, true)
    }

    pub(super) fn resume_schedules(&mut self, which: &Which) -> Steered {
        self.steer_schedules(which, false)
    }

    fn steer_schedules(&mut self, which: &Which, pause: bool) -> Steered {
        let ids = match self.schedules_named(which) {
            Ok(ids) => ids,
            Err(refused) => return refused,
        };
        let now = sys::monotonic_now();
        let (mut changed, mut already) = (vec![], vec![]);
        for id in ids {
            let table = &mut self.ticking.timetable;
            let did = if pause {
                table.pause(id)
            } else {
                table.resume(id, now)
            };
            let name = table.name(id).to_string();
            if did { &mut changed } else { &mut already }.push(name);
        }
        let (done, was) = if pause {
            ("paused", "paused already")
        } else {
            ("resumed", "not paused")
        };
        for name in &changed {
            log::info!("schedule {name} {done} (asked on the control socket)");
        }
        // The next due instant may have changed either way.
        self.arm_timer();
        let mut parts = vec![];
        if !changed.is_empty() {
            parts.push(format!("{done} {}", changed.join(", ")));
        }
        match already.as_slice() {
            [] => {}
            [one] if changed.is_empty() => parts.push(format!("{one} was {was}")),
            many => parts.push(format!("{was}: {}", many.join(", "))),
        }
        Steered::done(parts.join("; "))
    }

    /// One run of the schedule now, on a free worker, outside its grid: see
    /// [`crate::pool::Pool::run_now`]. It never waits: with no worker free it is refused,
    /// and the operator asks again.
    pub(super) fn run_schedule(&mut self, name: &str) -> Steered {
        let id = match self.schedules_named(&Which::One(name.to_string())) {
            Ok(ids) => ids[0],
            Err(refused) => return refused,
        };
        let now = sys::monotonic_now();
        if !matches!(self.phase, Phase::Running) {
            return Steered::refused(format!("{name} not run: the master is stopping"));
        }
        if !self.cluster_leads(now) {
            return Steered::refused(format!(
                "{name} not run: this instance does not lead the cluster"
            ));
        }
        match self.pool.run_now(id, now) {
            Ok(delivery) => {
                let label = self.ticking.label(&delivery.tick).to_string();
                let pid = delivery.pid;
                log::info!("{label} asked on the control socket");
                self.deliver(delivery);
                // The worker taken may have been the one the timer was armed early for.
                self.arm_timer();
                Steered::done(format!("{label} started on worker {pid}"))
            }
            Err(why) => Steered::refused(format!(
                "{name} not run: {why} (a manual run never waits; ask again)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Duration, MOST_LISTED, Mono, TickerConfig, Ticking, unknown_schedule};

    #[test]
    fn the_loop_has_room_from_the_due_instant_of_what_it_handed_over_to_near_the_next_hand_off() {
        let zone = super::super::fallback_zone(None);
        let mut ticking = Ticking::new(&TickerConfig::default(), &zone, Mono(0)).unwrap();
        let needs = Duration::from_micros(300);
        assert!(
            ticking.has_room(Mono(0), needs),
            "nothing handed over, no timer"
        );
        ticking.handed_until = Mono(1_000_000);
        ticking.armed = Some(Mono(1_800_000));
        assert!(
            !ticking.has_room(Mono(999_999), needs),
            "a worker holds a tick until 1 ms"
        );
        assert!(ticking.has_room(Mono(1_000_000), needs));
        assert!(ticking.has_room(Mono(1_499_999), needs));
        assert!(
            !ticking.has_room(Mono(1_500_000), needs),
            "the timer hands the next tick over within 300 µs"
        );
        ticking.armed = None;
        assert!(ticking.has_room(Mono(1_500_000), needs));
    }

    #[test]
    fn an_unknown_name_is_refused_with_the_nearest_and_every_schedule_of_a_small_pool() {
        assert_eq!(
            unknown_schedule("nope", &["default", "beat"]),
            "unknown schedule nope: the schedules are default, beat"
        );
        assert_eq!(
            unknown_schedule("baet", &["default", "beat"]),
            "unknown schedule baet (did you mean beat?): the schedules are default, beat"
        );
    }

    #[test]
    fn a_large_pool_is_counted_not_listed() {
        let names: Vec<String> = (0..10_000).map(|i| format!("job-{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(
            unknown_schedule("nope", &names[..MOST_LISTED + 1]),
            "unknown schedule nope: the pool has 11 schedules (ticker status lists them)"
        );
        assert_eq!(
            unknown_schedule("job-7x", &names[..100]),
            "unknown schedule job-7x (did you mean job-7?): the pool has 100 schedules \
             (ticker status lists them)"
        );
        // Too many to compare with in the master's loop: no guess, however close.
        assert_eq!(
            unknown_schedule("job-7x", &names),
            "unknown schedule job-7x: the pool has 10000 schedules (ticker status lists them)"
        );
    }
}
