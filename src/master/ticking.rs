//! The tick path, in one straight line: the timer fires, the schedule says which ticks are
//! due, the pool says which worker takes each, the tick goes out; and back: the worker's
//! answer finishes the tick and may free the worker for a waiting one.
//!
//! Owns the timerfd, the instant it is armed for, the grid ([`Ticker`], which also holds
//! the `delay` policy's hold, shared with the native ticker), and the wall clock used for
//! headers. It decides nothing about workers ([`Pool`] does) and starts or kills no process
//! (see `processes.rs`). In a cluster, each tick also asks `cluster.rs` whether this
//! instance may deliver it, and a term restarts the ticker on the shared grid.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use super::{Master, Phase, duration_nanos};
use crate::config::TickerConfig;
use crate::frame::Frame;
use crate::message::FromWorker;
use crate::payload;
use crate::pool::{Arrival, Delivery, Outcome, Pid, Tick};
use crate::schedule::{Mono, Schedule, Ticker, WallClock};
use crate::sys::{self, TimerFd};

/// How long before its due instant a tick goes to a free worker, at most a quarter of the
/// interval; see [`Master::arm_timer`].
const HANDOFF_LEAD: Duration = Duration::from_micros(200);

pub(super) struct Ticking {
    timer: TimerFd,
    interval: Duration,
    /// The instant the timer is armed for; `None` once it fired or was disarmed.
    armed: Option<Mono>,
    ticker: Ticker,
    clock: WallClock,
    /// The fencing token of the cluster term that hands ticks out; `None` on its own.
    fence: Option<u64>,
    /// The grid runs: [`Ticking::start`] was called, once the first workers were ready.
    started: bool,
}

impl Ticking {
    pub(super) fn new(config: &TickerConfig, now: Mono) -> io::Result<Ticking> {
        Ok(Ticking {
            timer: TimerFd::new()?,
            interval: config.interval,
            armed: None,
            ticker: Ticker::new(Schedule::new(now + config.interval, config.interval)),
            clock: WallClock::new(now, sys::unix_now()),
            fence: None,
            started: false,
        })
    }

    pub(super) fn timer_fd(&self) -> BorrowedFd<'_> {
        self.timer.as_fd()
    }

    /// Like RoadRunner's ticker, the first tick comes one interval after the pool is up:
    /// its first workers are ready (forks at once; command-started ones once they answered
    /// their pid handshake).
    /// In a cluster, a term that began before the pool was up keeps its shared grid.
    pub(super) fn start(&mut self, now: Mono) {
        if self.fence.is_none() {
            self.ticker = Ticker::new(Schedule::new(now + self.interval, self.interval));
            self.clock = WallClock::new(now, sys::unix_now());
        }
        self.started = true;
    }

    pub(super) fn is_started(&self) -> bool {
        self.started
    }

    /// The instant the timer is armed for, if it is.
    pub(super) fn armed_at(&self) -> Option<Mono> {
        self.armed
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

    /// A cluster term begins: numbering goes on from `first`, due at `first_due`, on the
    /// shared grid, whose Unix times `clock` gives.
    pub(super) fn begin_term(&mut self, first: u64, first_due: Mono, clock: WallClock, fence: u64) {
        self.ticker = Ticker::starting_at(first, Schedule::new(first_due, self.interval));
        self.clock = clock;
        self.fence = Some(fence);
        self.disarm();
    }

    /// The frame of a delivery: its header needs the wall clock.
    fn job(&self, delivery: &Delivery) -> Frame {
        payload::fenced_job(delivery, &self.clock, self.fence).into_frame()
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
        if !matches!(self.phase, Phase::Running)
            || !self.ticking.started
            || self.ticking.ticker.is_held()
        {
            return;
        }
        let due = self.ticking.ticker.next_due();
        if !self.cluster_permits(self.ticking.ticker.next_number(), due) {
            // Not this instance's tick (yet): a reply from the lease helper re-arms.
            if self.ticking.armed.is_some() {
                self.ticking.disarm();
            }
            return;
        }
        let at = if self.pool.can_start() {
            let lead = HANDOFF_LEAD.min(self.config.interval / 4);
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
        if tick.attempt == 1 && self.ticking.ticker.release(now) {
            self.arm_timer();
        }
    }

    pub(super) fn on_timer(&mut self) {
        if !matches!(self.phase, Phase::Running)
            || !self.ticking.started
            || self.ticking.ticker.is_held()
        {
            return;
        }
        let due = self.ticking.ticker.next_due();
        let now = sys::monotonic_now();
        let horizon = if now >= due {
            now
        } else if self.pool.can_start() {
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
        let arrivals: Vec<(Tick, Arrival)> = self.pool.arrive_due_while(
            &mut self.ticking.ticker,
            self.config.missed,
            horizon,
            now,
            |tick| super::cluster::may_deliver(cluster, tick, now),
        );
        for (tick, arrival) in arrivals {
            let number = tick.number;
            match arrival {
                Arrival::Deliver(d) => self.deliver(d),
                Arrival::Waiting if self.ticking.ticker.is_held() => {
                    log::debug!("tick {number} waits for a free worker; the grid waits with it");
                    self.ticking.disarm();
                }
                Arrival::Waiting => {
                    log::debug!("tick {number} waits: no worker is free");
                }
                Arrival::Skipped => log::warn!(
                    "tick {number} skipped: no worker is free and {} tick(s) already wait \
                     ({} skipped so far)",
                    self.pool.waiting(),
                    self.pool.stats().skipped
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
            "tick {} goes to worker {} (attempt {})",
            delivery.tick.number,
            delivery.pid,
            delivery.tick.attempt
        );
        let frame = self.ticking.job(&delivery);
        self.send(delivery.pid, &frame);
        if delivery.tick.attempt == 1 {
            self.cluster_delivered(delivery.tick.number);
        }
    }

    /// A whole frame from a worker: the answer to the tick it holds.
    pub(super) fn on_frame(&mut self, pid: Pid, frame: Frame) {
        let outcome = match FromWorker::from_frame(frame) {
            Ok(FromWorker::Answer { late, .. }) => {
                if let Some(late) = late {
                    self.lateness.record(late);
                }
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
        self.processes.tick_completed();
        let number = finished.tick.number;
        match &outcome {
            Outcome::Done => {
                log::debug!("tick {number} done by worker {pid} in {:?}", finished.took)
            }
            Outcome::Failed(message) => {
                log::warn!("tick {number} failed on worker {pid}: {message}")
            }
            Outcome::StopRequested if finished.failed && finished.tick.attempt > 1 => {
                log::warn!("tick {number} failed: worker {pid} asked to stop on its second run")
            }
            Outcome::StopRequested if finished.failed => log::warn!(
                "tick {number} failed: worker {pid} asked to stop, and the master is stopping"
            ),
            Outcome::StopRequested => {
                log::info!("tick {number} runs again on another worker: worker {pid} asked to stop")
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
