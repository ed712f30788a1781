//! Deadlines: when the loop must wake without an event, and what happens when one passes.
//!
//! Owns the loop's timeout ([`Master::next_deadline`]) and the enforcement of every
//! deadline: `exec_ttl` per running tick (exact), the `pool.supervisor` limits every
//! `watch_tick`, `allocate_timeout` of waiting ticks, the grace of workers that closed
//! their channel, the pid handshake's `relay_timeout`, `reset_timeout` and
//! `destroy_timeout`. The rules themselves are
//! [`Limits`](crate::supervisor::Limits)' and the [`Pool`](crate::pool::Pool)'s.

use super::{Master, Phase};
use crate::pool::{Overdue, Pid, Reading, Why, Worker};
use crate::schedule::Mono;
use crate::supervisor::Action;
use crate::sys;

impl Master<'_> {
    /// The earliest instant something must happen without an event (the timer is an fd
    /// of its own and is not in it).
    pub(super) fn next_deadline(&self) -> Option<Mono> {
        let mut deadlines: Vec<Mono> = vec![];
        deadlines.extend(self.pool.next_deadline());
        deadlines.extend(self.operator.next_deadline());
        deadlines.extend(self.pool.next_expiry());
        deadlines.extend(self.cluster_deadline());
        // Every tick has the same exec_ttl: the one that started first runs out first.
        deadlines.extend(
            self.pool
                .busy_oldest_first()
                .next()
                .and_then(|w| self.limits.exec_deadline(w)),
        );
        if let Some(reset) = &self.reset {
            deadlines.push(reset.deadline);
        }
        if !self.pool.is_empty() {
            deadlines.push(self.watch.deadline(sys::monotonic_now()));
        }
        match self.phase {
            Phase::Stopping { deadline } if !self.pool.is_empty() => deadlines.push(deadline),
            // Every worker is out of the pool; some killed ones are not reaped yet.
            Phase::Stopping { .. } => deadlines.extend(self.killed_deadline()),
            Phase::Running if self.pool.serving() < self.target => {
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
                    humantime::format_duration(self.config.pool.destroy_timeout)
                ),
                Overdue::Handshake { timeout } => format!(
                    "did not answer its pid handshake within relay_timeout ({})",
                    humantime::format_duration(timeout)
                ),
            };
            self.kill(pid, &why);
        }
        self.expire_conns(now);
        for tick in self.pool.expire_waiting(now) {
            log::warn!(
                "tick {} dropped: it waited allocate_timeout ({}) for a free worker",
                tick.number,
                humantime::format_duration(self.pool.policy().allocate_timeout)
            );
            self.waited_tick_gone(&tick, now);
        }
        self.check_limits(now);
        if self.reset.as_ref().is_some_and(|r| r.deadline <= now) {
            let late = self.reset.take().expect("checked").overdue(&self.pool);
            log::warn!(
                "reset_timeout ({}) passed: finishing the reset by force, {} worker(s) left",
                humantime::format_duration(self.config.pool.reset_timeout),
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
                humantime::format_duration(self.config.pool.destroy_timeout),
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
    /// figures `status` and the metrics serve, limits or not). Only the ticks past
    /// `exec_ttl` are looked at besides, oldest first, so a pass costs the same whatever
    /// the size of the pool.
    fn check_limits(&mut self, now: Mono) {
        let pool = &self.pool;
        let watched = self
            .watch
            .take(now, || pool.workers().map(|w| w.pid).collect());
        if !watched.is_empty() {
            self.master_rss = sys::rss_bytes(self.me)
                .ok()
                .map(|value| Reading { value, at: now });
        }
        for &pid in &watched {
            self.read_rss(pid, now);
        }
        let overdue = |w: &&Worker| self.limits.exec_deadline(w).is_some_and(|at| at <= now);
        let mut due: Vec<&Worker> = self.pool.busy_oldest_first().take_while(overdue).collect();
        if self.limits.need_watch() {
            due.extend(
                watched
                    .iter()
                    .filter_map(|&pid| self.pool.worker(pid))
                    .filter(|w| !overdue(w)),
            );
        }
        let actions: Vec<(Pid, Action)> = due
            .into_iter()
            .filter_map(|worker| Some((worker.pid, self.limits.check(worker, now)?)))
            .collect();
        for (pid, action) in actions {
            match action {
                Action::Kill(reason) => self.kill(pid, &reason),
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
}
