//! What an operator asks of a running master: signals, the control socket and the metrics
//! endpoint; graceful stop, rolling reset, resize and the status snapshot.
//!
//! Owns which doors ([`Door`]s) and connections are open and watched: each registered with
//! the poller and served only when ready, and dropped when it has not sent its request and
//! taken its answer in time. It also owns how much operator traffic may cost: at most
//! [`MAX_CONNS_PER_DOOR`] connections per door, never the last [`FD_RESERVE`] file
//! descriptors (those are the pool's, to respawn workers), and a door that may take no more
//! is taken off the poller, so a listener with connections waiting never wakes the loop
//! again and again. Ticking does not depend on what clients of the doors do. The sockets and
//! their protocols (binding, request parsing, HTTP framing) are [`crate::control`]'s; the figures are
//! [`crate::metrics`]'.

use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::{Master, Phase, Source};
use crate::control::{
    self, AcceptEnd, Conn, Door, Incoming, Outgoing, Placement, Request, is_out_of_fds,
};
use crate::metrics::{DoorConnections, Snapshot, TickCounts, WorkerRow};
use crate::pool::{Pid, WorkerState};
use crate::schedule::Mono;
use crate::supervisor::RollingReset;
use crate::sys;

/// Connections a door holds at once. An operator's clients (a scraper or two, a `ticker`
/// command now and then) each hold one for well under a millisecond, so 64 is far more
/// than they use, while it bounds what idle clients can cost: 128 descriptors and 128
/// registrations at most, whatever anyone on the machine does. More wait in the kernel's
/// backlog until a slot frees, at the latest after [`control::REQUEST_TIMEOUT`].
pub const MAX_CONNS_PER_DOOR: usize = 64;

/// File descriptors that operator connections always leave free under `RLIMIT_NOFILE`.
/// They are the pool's: starting a worker takes two at once (a socket pair; six for the
/// three pipes of a command-started worker), a replacement is started while the worker it replaces still holds its
/// channel, several can be replaced at once, and the status snapshot opens `/proc` files.
pub const FD_RESERVE: usize = 32;

/// How long a door stops accepting when no descriptor can be spared (or `accept` failed),
/// unless a connection closes first.
const FD_BACKOFF: Duration = Duration::from_millis(100);

/// Why a door stopped taking connections.
enum Pause {
    /// At [`MAX_CONNS_PER_DOOR`]: it takes more when one of its connections closes.
    Full,
    /// Short of file descriptors: it looks again after [`FD_BACKOFF`], or when any
    /// connection closes.
    ShortOfFds,
    /// `accept` failed otherwise: looks again as for [`Pause::ShortOfFds`].
    Failed(std::io::Error),
}

struct OpenDoor {
    door: Door,
    /// Registered with the poller: not while paused.
    watched: bool,
    /// Paused for want of descriptors: when to look again.
    retry_at: Option<Mono>,
    /// A pause was logged, and the door has not emptied its backlog since.
    warned: bool,
    figures: DoorConnections,
}

struct Open {
    door: usize,
    conn: Conn,
}

#[derive(Default)]
pub(super) struct Operator {
    doors: Vec<OpenDoor>,
    /// Open connections by id. Ids grow with time and every connection gets the same time
    /// to send its request, so the first entries are always the first to expire.
    conns: BTreeMap<u64, Open>,
    next_conn: u64,
}

impl Operator {
    pub(super) fn next_deadline(&self) -> Option<Mono> {
        let conn = self.conns.values().next().map(|o| o.conn.deadline);
        let retry = self.doors.iter().filter_map(|d| d.retry_at).min();
        conn.into_iter().chain(retry).min()
    }
}

/// Connections that may be opened now and leave [`FD_RESERVE`] descriptors free; `None`
/// when the limit or the count cannot be read (then only the per-door cap applies).
fn spare_fds() -> Option<usize> {
    let limit = usize::try_from(sys::fd_limit().ok()?).unwrap_or(usize::MAX);
    let open = match sys::open_fds() {
        Ok(open) => open,
        Err(e) if is_out_of_fds(&e) => return Some(0),
        Err(_) => return None,
    };
    Some(limit.saturating_sub(open).saturating_sub(FD_RESERVE))
}

impl Master<'_> {
    pub(super) fn open_doors(&mut self) {
        let (socket, placement) = match &self.config.control {
            Some(path) => (path.clone(), Placement::Named),
            None => (control::default_socket(self.me), Placement::RuntimeDir),
        };
        let mut doors = vec![];
        // Without its control socket the master still ticks, and says so as an error: a
        // local user who made /tmp/ticker-<uid> first must not be able to stop the pool,
        // and a socket in a directory someone else controls could be swapped for theirs.
        match Door::control(&socket, placement, self.me) {
            Ok(door) => doors.push(door),
            Err(e) => log::error!(
                "no control socket: {e}; `ticker status` and `ticker reset` cannot reach \
                 this master (ticking goes on)"
            ),
        }
        if let Some(address) = self.config.metrics {
            match Door::metrics(address, self.me) {
                Ok(door) => doors.push(door),
                Err(e) => {
                    log::error!("cannot serve metrics on {address}: {e}; going on without them")
                }
            }
        }
        for door in doors {
            let i = self.operator.doors.len();
            match self
                .poller
                .add(door.as_fd(), Source::Door(i).token(), false)
            {
                Ok(()) => {
                    log::info!("listening on {}", door.describe());
                    self.operator.doors.push(OpenDoor {
                        figures: DoorConnections {
                            door: door.kind().name().to_string(),
                            max: MAX_CONNS_PER_DOOR,
                            ..DoorConnections::default()
                        },
                        door,
                        watched: true,
                        retry_at: None,
                        warned: false,
                    });
                }
                Err(e) => log::error!("cannot watch {}: {e}", door.describe()),
            }
        }
        if !self.operator.doors.is_empty()
            && let Some(spare) = spare_fds()
            && spare < self.operator.doors.len() * MAX_CONNS_PER_DOOR
        {
            log::warn!(
                "the open file limit (RLIMIT_NOFILE {}) leaves room for {spare} operator \
                 connections beside the {FD_RESERVE} descriptors kept for workers; raise \
                 `ulimit -n` for more",
                sys::fd_limit().map_or_else(|_| "?".to_string(), |l| l.to_string())
            );
        }
    }

    /// A door is ready: takes its pending connections, as many as it may.
    pub(super) fn on_door(&mut self, i: usize) {
        let now = sys::monotonic_now();
        let Some(open) = self.operator.doors.get(i) else {
            return;
        };
        // Paused earlier in this pass, with its event already fetched.
        if !open.watched {
            return;
        }
        let room = MAX_CONNS_PER_DOOR.saturating_sub(open.figures.open);
        // The descriptors operator traffic may hold are shared equally between the doors,
        // so that a flood of the metrics port (open to every local user) cannot take the
        // control socket's share.
        let share = spare_fds().map_or(usize::MAX, |spare| {
            (spare + self.operator.conns.len()) / self.operator.doors.len()
        });
        let max = room.min(share.saturating_sub(open.figures.open));
        let accepted = open.door.accept(now, max);
        for conn in accepted.conns {
            let id = self.operator.next_conn;
            self.operator.next_conn += 1;
            if self
                .poller
                .add(conn.as_fd(), Source::Conn(id).token(), false)
                .is_ok()
            {
                self.operator.conns.insert(id, Open { door: i, conn });
                let figures = &mut self.operator.doors[i].figures;
                figures.open += 1;
                figures.accepted += 1;
            }
        }
        let full = self.operator.doors[i].figures.open >= MAX_CONNS_PER_DOOR;
        match accepted.end {
            AcceptEnd::Drained => self.operator.doors[i].warned = false,
            AcceptEnd::Limit if full => self.pause_door(i, Pause::Full, now),
            AcceptEnd::Limit => self.pause_door(i, Pause::ShortOfFds, now),
            AcceptEnd::Failed(e) if is_out_of_fds(&e) => {
                self.pause_door(i, Pause::ShortOfFds, now);
            }
            AcceptEnd::Failed(e) => self.pause_door(i, Pause::Failed(e), now),
        }
    }

    /// Takes a door off the poller until it may take connections again.
    fn pause_door(&mut self, i: usize, why: Pause, now: Mono) {
        let open = &mut self.operator.doors[i];
        self.poller.delete(open.door.as_fd());
        open.watched = false;
        let what = open.door.describe();
        let message = match &why {
            Pause::Full => {
                open.figures.paused_full += 1;
                format!(
                    "{what}: {MAX_CONNS_PER_DOOR} connections open; taking no more until one \
                     closes (idle ones are dropped after {})",
                    humantime::format_duration(control::REQUEST_TIMEOUT)
                )
            }
            Pause::ShortOfFds => {
                open.figures.paused_no_fds += 1;
                format!(
                    "{what}: no file descriptor to spare (the last {FD_RESERVE} are kept for \
                     workers); taking no connections for a while"
                )
            }
            Pause::Failed(e) => {
                open.figures.paused_no_fds += 1;
                format!("{what}: cannot accept connections ({e}); trying again shortly")
            }
        };
        open.retry_at = match why {
            Pause::Full => None,
            Pause::ShortOfFds | Pause::Failed(_) => Some(now + FD_BACKOFF),
        };
        // Once per episode: a flood that keeps the door busy logs one line, not ten a second.
        if !open.warned {
            open.warned = true;
            log::warn!("{message}");
        }
    }

    /// Puts paused doors back on the poller when they may take connections again: after a
    /// connection closed (`closed`), or when their back-off has passed.
    fn resume_doors(&mut self, now: Mono, closed: bool) {
        for (i, open) in self.operator.doors.iter_mut().enumerate() {
            let may = match open.retry_at {
                _ if open.watched || open.figures.open >= MAX_CONNS_PER_DOOR => false,
                None => true,
                Some(at) => closed || at <= now,
            };
            if !may {
                continue;
            }
            match self
                .poller
                .add(open.door.as_fd(), Source::Door(i).token(), false)
            {
                Ok(()) => {
                    open.watched = true;
                    open.retry_at = None;
                }
                Err(_) => open.retry_at = Some(now + FD_BACKOFF),
            }
        }
    }

    /// A connection is ready: reads it, answers once its request is whole, and sends the
    /// rest of a long answer as the client takes it.
    pub(super) fn on_conn(&mut self, id: u64) {
        let Some(open) = self.operator.conns.get_mut(&id) else {
            return;
        };
        let progress = if open.conn.is_answering() {
            open.conn.write()
        } else {
            match open.conn.read() {
                Incoming::Pending => return,
                Incoming::Gone => Outgoing::Gone,
                Incoming::Request(request) => {
                    let kind = open.conn.kind();
                    let answer = self.answer(kind, request);
                    let conn = &mut self.operator.conns.get_mut(&id).expect("still open").conn;
                    let progress = conn.answer(answer);
                    if progress == Outgoing::Pending
                        && self
                            .poller
                            .modify_write_only(conn.as_fd(), Source::Conn(id).token())
                            .is_err()
                    {
                        Outgoing::Gone
                    } else {
                        progress
                    }
                }
            }
        };
        match progress {
            Outgoing::Pending => {}
            Outgoing::Done | Outgoing::Gone => self.close_conn(id),
        }
    }

    fn close_conn(&mut self, id: u64) {
        let Some(open) = self.operator.conns.remove(&id) else {
            return;
        };
        self.poller.delete(open.conn.as_fd());
        if let Some(door) = self.operator.doors.get_mut(open.door) {
            door.figures.open -= 1;
        }
        drop(open);
        self.resume_doors(sys::monotonic_now(), true);
    }

    /// Drops the connections that did not send their request (and take their answer) in
    /// time, and resumes the doors whose back-off has passed.
    pub(super) fn expire_conns(&mut self, now: Mono) {
        while let Some((&id, open)) = self.operator.conns.iter().next()
            && open.conn.deadline <= now
        {
            if let Some(door) = self.operator.doors.get_mut(open.door) {
                door.figures.timed_out += 1;
            }
            self.close_conn(id);
        }
        self.resume_doors(now, false);
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
                        WorkerState::Starting => "starting",
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
            connections: self
                .operator
                .doors
                .iter()
                .map(|d| d.figures.clone())
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
                    log::warn!(
                        "received {} again: killing the workers now",
                        sys::signal_name(signal)
                    );
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
            log::warn!(
                "the pool stays at {target} workers (from 1 to {})",
                crate::config::MAX_WORKERS
            );
            return;
        }
        log::info!("pool size {} -> {target} workers", self.target);
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
                log::info!("replacing worker {pid}: the pool shrinks");
                self.tell_to_stop(pid);
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
        log::info!(
            "reset ({why}): replacing {} workers one by one, within reset_timeout ({})",
            reset.outdated(),
            humantime::format_duration(self.config.pool.reset_timeout)
        );
        self.reset = Some(reset);
        self.advance_reset();
    }

    /// Tells the next worker of a reset to stop, when the previous one has been replaced.
    pub(super) fn advance_reset(&mut self) {
        let Some(reset) = &mut self.reset else {
            return;
        };
        if reset.is_done() {
            log::info!(
                "reset done in {:?}",
                sys::monotonic_now().since(reset.started)
            );
            self.reset = None;
            return;
        }
        if let Some(pid) = reset.next(&self.pool, self.target)
            && self.pool.retire_soon(pid, "reset".into())
        {
            log::debug!("reset: replacing worker {pid}");
            self.tell_to_stop(pid);
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
            log::warn!(
                "tick {} was waiting for a free worker and is dropped at stop",
                tick.number
            );
        }
        let busy = self
            .pool
            .workers()
            .filter(|w| matches!(w.state, WorkerState::Busy { .. }))
            .count();
        log::info!(
            "stopping ({why}): {} idle workers told to stop, waiting up to {} for {busy} busy",
            idle.len(),
            humantime::format_duration(self.config.pool.destroy_timeout)
        );
        for pid in idle {
            self.tell_to_stop(pid);
        }
    }
}
