//! Deadlines: when the loop must wake without an event, and what happens when one passes.
//!
//! Owns the loop's timeout ([`Master::next_deadline`]) and the enforcement of every
//! deadline: `exec_ttl` per running tick (exact, each its schedule's), the `pool.supervisor` limits every
//! `watch_tick`, `allocate_timeout` of waiting ticks, the grace of workers that closed
//! their channel, the pid handshake's `relay_timeout`, `reset_timeout` and
//! `destroy_timeout`. The rules themselves are
//! [`Limits`](crate::supervisor::Limits)' and the [`Pool`](crate::pool::Pool)'s.

use super::{Master, Phase};
use crate::config::{ExecTtl, TickerConfig};
use crate::pool::{Overdue, Pid, Reading, Why, Worker};
use crate::schedule::Mono;
use crate::supervisor::{Action, Limits, RollingReset, WATCH_BATCH_TIME, WatchRound};
use crate::sys;

/// The supervisor's share of the loop: the limits, the round over the workers every
/// `watch_tick`, the master's own memory as last read, and the rolling reset in progress.
/// Only this file changes it; the status answer reads the memory through
/// [`Supervision::master_rss`].
pub(super) struct Supervision {
    limits: Limits,
    watch: WatchRound,
    master_rss: Option<Reading>,
    reset: Option<RollingReset>,
}

impl Supervision {
    pub(super) fn new(config: &TickerConfig, me: Pid, now: Mono) -> Supervision {
        Supervision {
            limits: Limits::from_config(&config.pool.supervisor),
            watch: WatchRound::new(now, config.pool.supervisor.watch_tick),
            master_rss: sys::rss_bytes(me)
                .ok()
                .map(|value| Reading { value, at: now }),
            reset: None,
        }
    }

    /// The master's resident memory, as read on the last watch round.
    pub(super) fn master_rss(&self) -> Option<&Reading> {
        self.master_rss.as_ref()
    }
}

impl Master<'_> {
    /// The earliest instant something must happen without an event (the timer is an fd
    /// of its own and is not in it).
    pub(super) fn next_deadline(&self) -> Option<Mono> {
        let mut deadlines: Vec<Mono> = vec![];
        deadlines.extend(self.pool.next_deadline());
        deadlines.extend(self.operator.next_deadline());
        deadlines.extend(self.pool.next_expiry());
        deadlines.extend(self.cluster_deadline());
        deadlines.extend(self.keeping.as_ref().and_then(|k| k.deadline()));
        deadlines.extend(self.pool.next_run_out());
        if let Some(reset) = &self.supervision.reset {
            deadlines.push(reset.deadline);
        }
        if !self.pool.is_empty() {
            deadlines.push(self.supervision.watch.deadline(sys::monotonic_now()));
        }
        match self.phase {
            Phase::Stopping { deadline } if !self.pool.is_empty() => deadlines.push(deadline),
            // Every worker is out of the pool; some killed ones are not reaped yet.
            Phase::Stopping { .. } => deadlines.extend(self.killed_deadline()),
            Phase::Running if self.pool.serving() < self.processes.target() => {
                deadlines.push(self.processes.respawn_at());
            }
            Phase::Running => {}
        }
        deadlines.into_iter().min()
    }

    pub(super) fn enforce_deadlines(&mut self) {
        let now = sys::monotonic_now();
        for (pid, overdue) in self.pool.take_overdue(now) {
            let why = match overdue {
                Overdue::Leaving(Why::ChannelClosed) => {
                    "closed its channel but did not exit".to_string()
                }
                Overdue::Leaving(Why::ToldToStop) => format!(
                    "was told to stop and did not exit within destroy_timeout ({})",
                    crate::config::format_duration(self.config.pool.destroy_timeout)
                ),
                Overdue::Handshake { timeout } => format!(
                    "did not answer its pid handshake within relay_timeout ({})",
                    crate::config::format_duration(timeout)
                ),
            };
            self.kill(pid, &why);
        }
        self.expire_conns(now);
        for tick in self.pool.expire_waiting(now) {
            log::warn!(
                "tick {} dropped: it waited allocate_timeout ({}) for a free worker",
                tick.number,
                crate::config::format_duration(self.pool.policy().allocate_timeout)
            );
            self.waited_tick_gone(&tick, now);
        }
        self.check_limits(now);
        if self
            .supervision
            .reset
            .as_ref()
            .is_some_and(|r| r.deadline <= now)
        {
            let late = self
                .supervision
                .reset
                .take()
                .expect("checked")
                .overdue(&self.pool);
            log::warn!(
                "reset_timeout ({}) passed: finishing the reset by force, {} worker(s) left",
                crate::config::format_duration(self.config.pool.reset_timeout),
                late.len()
            );
            for pid in late {
                // Idle ones stop now; busy ones (or stopping too long) are killed.
                if self.pool.retire_soon(pid, "reset".into()) {
                    self.tell_to_stop(pid);
                } else {
                    self.kill(pid, "was not replaced within reset_timeout");
                }
            }
        }
        if let Phase::Stopping { deadline } = self.phase
            && deadline <= now
            && !self.pool.is_empty()
        {
            log::warn!(
                "destroy_timeout ({}) passed: killing {} workers",
                crate::config::format_duration(self.config.pool.destroy_timeout),
                self.pool.len()
            );
            self.kill_all("did not stop within destroy_timeout");
        }
    }

    /// Reads a worker's resident memory into its record: on the watch round, and once as
    /// it joins, so that `status` has a figure for every worker from the start.
    pub(super) fn read_rss(&mut self, pid: Pid, now: Mono) {
        if let Ok(value) = sys::rss_bytes(pid) {
            self.pool.record_rss(pid, Reading { value, at: now });
        }
    }

    /// Applies `pool.supervisor`: exact exec_ttl deadlines on every pass, the other limits
    /// every `watch_tick`, a few workers per pass
    /// ([`WatchRound`](crate::supervisor::WatchRound)), whose memory is read then (the
    /// figures `status` and the metrics serve, limits or not). Only the ticks past their
    /// `exec_ttl` are looked at besides, the earliest to run out first, so a pass costs the
    /// same whatever the size of the pool and however many schedules have a limit.
    fn check_limits(&mut self, now: Mono) {
        let pool = &self.pool;
        let room = self.ticking.has_room(now, WATCH_BATCH_TIME);
        let watched = self
            .supervision
            .watch
            .take(now, room, || pool.workers().map(|w| w.pid).collect());
        if !watched.is_empty() {
            self.supervision.master_rss = sys::rss_bytes(self.me)
                .ok()
                .map(|value| Reading { value, at: now });
        }
        for &pid in &watched {
            self.read_rss(pid, now);
        }
        let overdue = |w: &&Worker| w.state.exec_deadline().is_some_and(|at| at <= now);
        let mut due: Vec<&Worker> = self.pool.run_out(now).collect();
        if self.supervision.limits.need_watch() {
            due.extend(
                watched
                    .iter()
                    .filter_map(|&pid| self.pool.worker(pid))
                    .filter(|w| !overdue(w)),
            );
        }
        let actions: Vec<(Pid, Action)> = due
            .into_iter()
            .filter_map(|worker| Some((worker.pid, self.supervision.limits.check(worker, now)?)))
            .collect();
        for (pid, action) in actions {
            match action {
                Action::Kill { tick, exec_ttl } => {
                    // A schedule's own limit is named by its key: the pool's is not the one.
                    let schedule = &self.config.schedules[tick.schedule.index()];
                    let key = match schedule.exec_ttl {
                        ExecTtl::Pool => "exec_ttl".to_string(),
                        ExecTtl::Own(_) => format!("ticker.schedules.{}.exec_ttl", schedule.name),
                    };
                    let why = format!(
                        "ran {} for longer than {key} ({})",
                        self.ticking.label(&tick),
                        crate::config::format_duration(exec_ttl)
                    );
                    self.kill(pid, &why);
                }
                Action::Replace(reason) => {
                    if self.pool.retire_soon(pid, reason.clone()) {
                        log::info!("replacing worker {pid}: {reason}");
                        self.tell_to_stop(pid);
                    } else {
                        log::info!("worker {pid} will be replaced after its tick: {reason}");
                    }
                }
            }
        }
    }

    /// A stopping master replaces no more workers.
    pub(super) fn cancel_reset(&mut self) {
        self.supervision.reset = None;
    }

    /// Replaces every worker: each is retired as soon as it is idle (at once, or after its
    /// tick), and the loop starts its replacement right away, so ticks keep finding workers.
    pub(super) fn begin_reset(&mut self, why: &str) {
        if !matches!(self.phase, Phase::Running) {
            return;
        }
        let reset = RollingReset::new(
            &mut self.pool,
            sys::monotonic_now(),
            self.config.pool.reset_timeout,
        );
        log::info!(
            "reset ({why}): replacing {} workers one by one, within reset_timeout ({})",
            reset.outdated(&self.pool),
            crate::config::format_duration(self.config.pool.reset_timeout)
        );
        self.supervision.reset = Some(reset);
        self.advance_reset();
    }

    /// Tells the next worker of a reset to stop, when the previous one has been replaced.
    pub(super) fn advance_reset(&mut self) {
        let Some(reset) = &mut self.supervision.reset else {
            return;
        };
        if reset.is_done(&self.pool) {
            log::info!(
                "reset done in {:?}",
                sys::monotonic_now().since(reset.started)
            );
            self.supervision.reset = None;
            return;
        }
        if let Some(pid) = reset.next(&self.pool, self.processes.target())
            && self.pool.retire_soon(pid, "reset".into())
        {
            log::debug!("reset: replacing worker {pid}");
            self.tell_to_stop(pid);
        }
    }
}
