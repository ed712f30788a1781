//! What an operator asks of a running master: signals, the control socket and the metrics
//! endpoint; graceful stop, rolling reset, resize and the status snapshot.
//!
//! Owns the listening sockets ([`Door`]s) and the connections on them, each registered with
//! the poller and read only when ready, and dropped when they have not sent their request
//! in time. The protocols themselves (request parsing, HTTP framing) are
//! [`crate::control`]'s; the figures are [`crate::metrics`]'.

use std::collections::BTreeMap;
use std::os::fd::AsFd;

use nix::sys::signal::Signal;

use super::{Master, Phase, Source};
use crate::control::{self, Conn, Door, Incoming, Request};
use crate::log;
use crate::message::ToWorker;
use crate::metrics::{Snapshot, TickCounts, WorkerRow};
use crate::pool::{Pid, WorkerState};
use crate::schedule::Mono;
use crate::supervisor::RollingReset;
use crate::sys;

#[derive(Default)]
pub(super) struct Operator {
    doors: Vec<Door>,
    /// Open connections by id. Ids grow with time and every connection gets the same time
    /// to send its request, so the first entries are always the first to expire.
    conns: BTreeMap<u64, Conn>,
    next_conn: u64,
}

impl Operator {
    pub(super) fn next_deadline(&self) -> Option<Mono> {
        self.conns.values().next().map(|c| c.deadline)
    }
}

impl Master<'_> {
    pub(super) fn open_doors(&mut self) {
        let socket = self
            .config
            .control
            .clone()
            .unwrap_or_else(|| control::default_socket(self.me));
        match Door::control(&socket, self.me) {
            Ok(door) => self.operator.doors.push(door),
            Err(e) => log::warn(format_args!(
                "no control socket at {} ({e}): `ticker status` cannot reach this master",
                socket.display()
            )),
        }
        if let Some(address) = self.config.metrics {
            match Door::metrics(address, self.me) {
                Ok(door) => self.operator.doors.push(door),
                Err(e) => log::error(format_args!(
                    "cannot serve metrics on {address}: {e}; going on without them"
                )),
            }
        }
        let mut watched = vec![];
        for (i, door) in self.operator.doors.iter().enumerate() {
            match self
                .poller
                .add(door.as_fd(), Source::Door(i).token(), false)
            {
                Ok(()) => {
                    log::info(format_args!("listening on {}", door.describe()));
                    watched.push(true);
                }
                Err(e) => {
                    log::error(format_args!("cannot watch {}: {e}", door.describe()));
                    watched.push(false);
                }
            }
        }
        let mut watched = watched.into_iter();
        self.operator.doors.retain(|_| watched.next() == Some(true));
    }

    /// A door is ready: takes its pending connections.
    pub(super) fn on_door(&mut self, i: usize) {
        let now = sys::monotonic_now();
        let Some(door) = self.operator.doors.get(i) else {
            return;
        };
        for conn in door.accept(now) {
            let id = self.operator.next_conn;
            self.operator.next_conn += 1;
            if self
                .poller
                .add(conn.as_fd(), Source::Conn(id).token(), false)
                .is_ok()
            {
                self.operator.conns.insert(id, conn);
            }
        }
    }

    /// A connection is ready: reads it, and answers once its request is whole.
    pub(super) fn on_conn(&mut self, id: u64) {
        let Some(conn) = self.operator.conns.get_mut(&id) else {
            return;
        };
        match conn.read() {
            Incoming::Pending => {}
            Incoming::Request(request) => {
                let conn = self.close_conn(id).expect("just read");
                let answer = self.answer(conn.kind(), request);
                conn.answer(&answer);
            }
            Incoming::Gone => {
                self.close_conn(id);
            }
        }
    }

    fn close_conn(&mut self, id: u64) -> Option<Conn> {
        let conn = self.operator.conns.remove(&id)?;
        self.poller.delete(conn.as_fd());
        Some(conn)
    }

    /// Drops the connections that did not send their request in time.
    pub(super) fn expire_conns(&mut self, now: Mono) {
        while let Some((&id, conn)) = self.operator.conns.iter().next()
            && conn.deadline <= now
        {
            self.close_conn(id);
        }
    }

    fn answer(&mut self, kind: control::Kind, request: Request) -> String {
        match request {
            Request::Status => serde_json::to_string(&self.snapshot()).expect("serializes"),
            Request::Reset => {
                self.begin_reset("asked on the control socket");
                r#"{"ok":true,"message":"reset started"}"#.to_string()
            }
            Request::Metrics => control::http_response(
                "200 OK",
                "text/plain; version=0.0.4",
                &self.snapshot().to_prometheus(),
            ),
            Request::Unknown(what) => match kind {
                control::Kind::Http => control::http_response(
                    "404 Not Found",
                    "text/plain",
                    "ticker serves GET /metrics only\n",
                ),
                control::Kind::Control => serde_json::json!({
                    "ok": false,
                    "message": format!("unknown request {what:?}; expected status or reset"),
                })
                .to_string(),
            },
        }
    }

    fn snapshot(&self) -> Snapshot {
        let now = sys::monotonic_now();
        let stats = self.pool.stats();
        Snapshot {
            master_pid: self.me,
            version: env!("CARGO_PKG_VERSION").to_string(),
            interval_secs: self.config.interval.as_secs_f64(),
            uptime_secs: now.since(self.started).as_secs_f64(),
            target_workers: self.target,
            master_rss_bytes: sys::rss_bytes(self.me).ok(),
            ticks: TickCounts {
                due: stats.due,
                delivered: stats.delivered,
                completed: stats.completed,
                failed: stats.failed,
                skipped: stats.skipped,
            },
            lateness: self.lateness.percentiles(),
            workers: self
                .pool
                .workers()
                .map(|w| WorkerRow {
                    pid: w.pid,
                    state: match w.state {
                        WorkerState::Idle => "idle",
                        WorkerState::Busy { .. } => "busy",
                        WorkerState::Stopping => "stopping",
                    }
                    .to_string(),
                    tick: match w.state {
                        WorkerState::Busy { tick, .. } => Some(tick.number),
                        _ => None,
                    },
                    ticks: w.handled,
                    errors: w.failed,
                    rss_bytes: sys::rss_bytes(w.pid).ok(),
                    age_secs: now.since(w.started).as_secs_f64(),
                })
                .collect(),
            cluster: self.cluster_view(),
        }
    }

    pub(super) fn on_signal(&mut self, signal: Signal) {
        match signal {
            Signal::SIGCHLD => self.reap_all(),
            Signal::SIGTERM | Signal::SIGINT => match self.phase {
                Phase::Running => {
                    self.begin_stop(&format!("received {}", sys::signal_name(signal)));
                }
                Phase::Stopping { .. } => {
                    log::warn(format_args!(
                        "received {} again: killing the workers now",
                        sys::signal_name(signal)
                    ));
                    self.phase = Phase::Stopping {
                        deadline: sys::monotonic_now(),
                    };
                }
            },
            Signal::SIGHUP => self.begin_reset("received SIGHUP"),
            Signal::SIGTTIN => self.resize(self.target + 1),
            Signal::SIGTTOU => self.resize(self.target.saturating_sub(1)),
            _ => {}
        }
    }

    fn resize(&mut self, target: usize) {
        let target = target.clamp(1, crate::config::MAX_WORKERS);
        if target == self.target {
            log::warn(format_args!(
                "the pool stays at {target} workers (from 1 to {})",
                crate::config::MAX_WORKERS
            ));
            return;
        }
        log::info(format_args!(
            "pool size {} -> {target} workers",
            self.target
        ));
        self.target = target;
        // Shrinking retires the youngest workers: the older ones are the warmer.
        let mut serving: Vec<(Mono, Pid)> = self
            .pool
            .workers()
            .filter(|w| w.state != WorkerState::Stopping && w.retire_after_tick.is_none())
            .map(|w| (w.started, w.pid))
            .collect();
        serving.sort();
        while serving.len() > target {
            let (_, pid) = serving.pop().expect("longer than target");
            if self.pool.retire_soon(pid, "the pool shrinks".into()) {
                log::info(format_args!("replacing worker {pid}: the pool shrinks"));
                self.send(pid, &ToWorker::Stop.into_frame());
            }
        }
    }

    /// Replaces every worker: each is retired as soon as it is idle (at once, or after its
    /// tick), and the loop starts its replacement right away, so ticks keep finding workers.
    fn begin_reset(&mut self, why: &str) {
        if !matches!(self.phase, Phase::Running) {
            return;
        }
        let reset = RollingReset::new(
            &self.pool,
            sys::monotonic_now(),
            self.config.pool.reset_timeout,
        );
        log::info(format_args!(
            "reset ({why}): replacing {} workers one by one, within reset_timeout ({})",
            reset.outdated(),
            humantime::format_duration(self.config.pool.reset_timeout)
        ));
        self.reset = Some(reset);
        self.advance_reset();
    }

    /// Tells the next worker of a reset to stop, when the previous one has been replaced.
    pub(super) fn advance_reset(&mut self) {
        let Some(reset) = &mut self.reset else {
            return;
        };
        if reset.is_done() {
            log::info(format_args!(
                "reset done in {:?}",
                sys::monotonic_now().since(reset.started)
            ));
            self.reset = None;
            return;
        }
        if let Some(pid) = reset.next(&self.pool, self.target)
            && self.pool.retire_soon(pid, "reset".into())
        {
            log::debug(format_args!("reset: replacing worker {pid}"));
            self.send(pid, &ToWorker::Stop.into_frame());
        }
    }

    /// Stops taking ticks; idle workers are told to stop at once, busy ones after their
    /// tick, all within `destroy_timeout`.
    pub(super) fn begin_stop(&mut self, why: &str) {
        if let Phase::Stopping { .. } = self.phase {
            return;
        }
        self.ticking.disarm();
        self.reset = None;
        self.phase = Phase::Stopping {
            deadline: sys::monotonic_now() + self.config.pool.destroy_timeout,
        };
        let (idle, dropped) = self.pool.begin_stop();
        for tick in dropped {
            log::warn(format_args!(
                "tick {} was waiting for a free worker and is dropped at stop",
                tick.number
            ));
        }
        let busy = self
            .pool
            .workers()
            .filter(|w| matches!(w.state, WorkerState::Busy { .. }))
            .count();
        log::info(format_args!(
            "stopping ({why}): {} idle workers told to stop, waiting up to {} for {busy} busy",
            idle.len(),
            humantime::format_duration(self.config.pool.destroy_timeout)
        ));
        for pid in idle {
            self.send(pid, &ToWorker::Stop.into_frame());
        }
    }
}
