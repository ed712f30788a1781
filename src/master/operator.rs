//! What an operator asks of a running master: signals, the control socket and the metrics
//! endpoint; graceful stop, rolling reset, resize, the status snapshot, and pausing,
//! resuming and running schedules by name (carried out in `ticking.rs`, which owns them).
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

use super::ticking::Steered;
use super::{Master, Phase, Source};
use crate::config::ExecTtl;
use crate::control::{
    self, AcceptEnd, Conn, Door, Incoming, Outgoing, Placement, Request, is_out_of_fds,
};
use crate::metrics::{
    DoorConnections, LastRunRow, ScheduleRow, Snapshot, Starts, TickCounts, WorkerRow,
};
use crate::pool::{Pid, Reading, Stats, WorkerState};
use crate::schedule::Mono;
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

/// Connections a door accepts for one readiness event; more are taken on later passes.
const ACCEPTS_PER_EVENT: usize = 16;

/// The time one pass of the loop may spend on the doors' clients (accepting, reading,
/// answering). What is left stays ready and waits for the next pass, which begins with
/// the timer.
const DOOR_TIME_PER_PASS: Duration = Duration::from_micros(100);

/// How long the costliest door event is remembered when judging whether the next one fits
/// before the timer.
const COST_MEMORY: Duration = Duration::from_secs(1);

/// How often the master's count of open descriptors is read again (a listing of
/// /proc/self/fd, which grows with the pool); between two readings it goes by the
/// connections opened and closed.
const FD_COUNT_EVERY: Duration = Duration::from_secs(1);

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

/// The master's open descriptors as last counted, with the connections open then.
#[derive(Clone, Copy)]
struct FdCount {
    open: usize,
    conns: usize,
    at: Mono,
}

#[derive(Default)]
pub(super) struct Operator {
    doors: Vec<OpenDoor>,
    /// Open connections by id. Ids grow with time and every connection gets the same time
    /// to send its request, so the first entries are always the first to expire.
    conns: BTreeMap<u64, Open>,
    next_conn: u64,
    fds: Option<FdCount>,
    pub(super) pacing: DoorPacing,
}

/// When the loop serves door clients: never in the run-up to its timer, so that a flood of
/// requests delays answers, never ticks. A door event (an accept, a read, an answer
/// rendered for a large pool) starts only if the costliest one seen lately would end before
/// the timer is due, and a pass spends at most [`DOOR_TIME_PER_PASS`] on them. Events left
/// over stay ready: the loop comes back to them on its next pass, after the timer.
#[derive(Debug, Default, Clone)]
pub(super) struct DoorPacing {
    /// The costliest door event in the current and the previous [`COST_MEMORY`] span.
    cost: Duration,
    previous_cost: Duration,
    span_began: Option<Mono>,
    /// When the current pass began serving doors.
    pass_began: Option<Mono>,
    /// The longest run-up to the timer kept free of door events: half the interval, so
    /// that a stall once (the machine, not the answer) cannot keep the doors shut.
    max_guard: Duration,
}

impl DoorPacing {
    pub(super) fn for_interval(interval: Duration) -> DoorPacing {
        DoorPacing {
            max_guard: interval / 2,
            ..DoorPacing::default()
        }
    }

    /// A new pass of the loop begins.
    pub(super) fn new_pass(&mut self) {
        self.pass_began = None;
    }

    /// Whether a door event may be served at `now`, with the timer armed for `timer`.
    pub(super) fn may_serve(&mut self, now: Mono, timer: Option<Mono>) -> bool {
        if self
            .pass_began
            .is_some_and(|began| now.since(began) >= DOOR_TIME_PER_PASS)
        {
            return false;
        }
        let cost = self.cost.max(self.previous_cost).min(self.max_guard);
        if timer.is_some_and(|at| now + cost >= at) {
            return false;
        }
        self.pass_began.get_or_insert(now);
        true
    }

    /// A door event served at `began` ended at `now`.
    pub(super) fn served(&mut self, began: Mono, now: Mono) {
        if self
            .span_began
            .is_none_or(|since| now.since(since) >= COST_MEMORY)
        {
            self.previous_cost = self.cost;
            self.cost = Duration::ZERO;
            self.span_began = Some(now);
        }
        self.cost = self.cost.max(now.since(began));
    }
}

/// The control socket's answer to `pause`, `resume` and `run`, shaped as `reset`'s.
fn steered(steered: Steered) -> String {
    serde_json::json!({"ok": steered.ok, "message": steered.message}).to_string()
}

impl Operator {
    pub(super) fn next_deadline(&self) -> Option<Mono> {
        let conn = self.conns.values().next().map(|o| o.conn.deadline);
        let retry = self.doors.iter().filter_map(|d| d.retry_at).min();
        conn.into_iter().chain(retry).min()
    }
}

impl Operator {
    /// Connections that may be opened now and leave [`FD_RESERVE`] descriptors free;
    /// `None` when the limit or the count cannot be read (then only the per-door cap
    /// applies). The count is read at most every [`FD_COUNT_EVERY`]; in between, workers
    /// that come and go may move it by a few, which the reserve covers, and an `accept`
    /// that finds no descriptor pauses the door all the same.
    fn spare_fds(&mut self, now: Mono) -> Option<usize> {
        let limit = usize::try_from(sys::fd_limit().ok()?).unwrap_or(usize::MAX);
        let count = match self.fds {
            Some(count) if now.since(count.at) < FD_COUNT_EVERY => count,
            _ => {
                let open = match sys::open_fds() {
                    Ok(open) => open,
                    Err(e) if is_out_of_fds(&e) => return Some(0),
                    Err(_) => return None,
                };
                let count = FdCount {
                    open,
                    conns: self.conns.len(),
                    at: now,
                };
                self.fds = Some(count);
                count
            }
        };
        let open = (count.open + self.conns.len()).saturating_sub(count.conns);
        Some(limit.saturating_sub(open).saturating_sub(FD_RESERVE))
    }
}

impl Master<'_> {
    pub(super) fn open_doors(&mut self) {
        let (socket, placement) = match &self.config.control {
            Some(path) => (path.clone(), Placement::Named),
            None => (control::default_socket(self.me), Placement::RuntimeDir),
        };
        let mut doors = vec![];
        self.operator.pacing = DoorPacing::for_interval(self.config.shortest_interval());
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
            && let Some(spare) = self.operator.spare_fds(sys::monotonic_now())
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

    /// Serves a door event if [`DoorPacing`] allows it now; otherwise it stays ready for
    /// a later pass.
    pub(super) fn paced(&mut self, serve: impl FnOnce(&mut Self)) {
        let began = sys::monotonic_now();
        if self
            .operator
            .pacing
            .may_serve(began, self.ticking.armed_at())
        {
            serve(self);
            self.operator.pacing.served(began, sys::monotonic_now());
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
        let open_here = open.figures.open;
        let share = self.operator.spare_fds(now).map_or(usize::MAX, |spare| {
            (spare + self.operator.conns.len()) / self.operator.doors.len()
        });
        let max = room
            .min(share.saturating_sub(open_here))
            .min(ACCEPTS_PER_EVENT);
        let open = &self.operator.doors[i];
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
            // Taken all it may in one event: the rest on the next passes.
            AcceptEnd::Limit if max == ACCEPTS_PER_EVENT && !full => {}
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
                    crate::config::format_duration(control::REQUEST_TIMEOUT)
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
            Request::Pause(which) => steered(self.pause_schedules(&which)),
            Request::Resume(which) => steered(self.resume_schedules(&which)),
            Request::Run(name) => steered(self.run_schedule(&name)),
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
                    "message": format!(
                        "unknown request {what:?}; expected status, reset, pause NAME|--all, \
                         resume NAME|--all or run NAME"
                    ),
                })
                .to_string(),
            },
        }
    }

    /// What `status` and the metrics show. It reads nothing from the system: memory is
    /// what the watch round read last (with its age), so an answer costs the same at any
    /// pool size whatever its clients ask, and no client can make the loop read /proc.
    fn snapshot(&self) -> Snapshot {
        let now = sys::monotonic_now();
        let stats = self.pool.stats();
        let age = |r: &Reading| now.since(r.at).as_secs_f64();
        let (failed_starts, start_error) = self.processes.start_failures();
        let lacking = self.processes.target().saturating_sub(self.pool.serving());
        Snapshot {
            master_pid: self.me,
            version: env!("CARGO_PKG_VERSION").to_string(),
            interval_secs: self.config.shortest_interval().as_secs_f64(),
            uptime_secs: now.since(self.started).as_secs_f64(),
            target_workers: self.processes.target(),
            master_rss_bytes: self.supervision.master_rss().map(|r| r.value),
            master_rss_age_secs: self.supervision.master_rss().map(age),
            starts: Starts {
                failed: failed_starts,
                lacking,
                last_error: start_error.filter(|_| lacking > 0).map(str::to_owned),
            },
            ticks: counts(stats),
            lateness: self.ticking.lateness().percentiles(),
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
                        // Not listed: a killed worker is out of the pool.
                        WorkerState::Killed(_) => "killed",
                    }
                    .to_string(),
                    tick: match w.state {
                        WorkerState::Busy { tick, .. } => Some(tick.body_number()),
                        _ => None,
                    },
                    ticks: w.handled,
                    errors: w.failed,
                    rss_bytes: w.rss.map(|r| r.value),
                    rss_age_secs: w.rss.as_ref().map(age),
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
            unix_time: Some(self.ticking.timetable().clock().unix(now).as_secs_f64()),
            schedules: self.schedule_rows(),
            state_file: self
                .keeping
                .as_ref()
                .map(|k| k.path().display().to_string()),
        }
    }

    /// One row per schedule: a few strings each, from what the timetable and the pool
    /// keep. Unix times are on the timetable's wall clock, the one tick headers use.
    fn schedule_rows(&self) -> Vec<ScheduleRow> {
        let timetable = self.ticking.timetable();
        let clock = timetable.clock();
        let unix = |at: Mono| clock.unix(at).as_secs_f64();
        timetable
            .ids()
            .map(|id| {
                let config = &self.config.schedules[id.index()];
                let cron = timetable.cron(id);
                let (kind, expression) = match (cron, timetable.every(id)) {
                    (Some(cron), _) => ("cron", cron.expr().to_string()),
                    (None, every) => (
                        "every",
                        every.map_or_else(String::new, |every| {
                            crate::config::format_duration(every)
                        }),
                    ),
                };
                ScheduleRow {
                    name: timetable.name(id).to_string(),
                    kind: kind.to_string(),
                    expression,
                    zone: cron.map(|c| c.zone().name().to_string()),
                    zone_origin: cron.map(|_| timetable.zone_origin(id).to_string()),
                    paused: timetable.is_paused(id),
                    exec_ttl_secs: match config.exec_ttl {
                        ExecTtl::Pool => None,
                        ExecTtl::Own(own) => Some(own.map_or(0.0, |ttl| ttl.as_secs_f64())),
                    },
                    jitter_secs: config.jitter.map(|jitter| jitter.as_secs_f64()),
                    phase_secs: timetable
                        .every(id)
                        .and(config.jitter)
                        .map(|_| timetable.phase(id).as_secs_f64()),
                    next_due_unix: timetable.next_due_of(id).map(unix),
                    ticks: counts(self.pool.schedule_stats(id)),
                    last_run: self.pool.last_run(id).map(|run| LastRunRow {
                        finished_unix: unix(run.finished),
                        result: run.result.name().to_string(),
                        took_secs: run.took.as_secs_f64(),
                    }),
                    last_success_unix: self.pool.last_success(id).map(unix),
                    lateness: self.pool.lateness_of(id).histogram(),
                    run_duration: self.pool.run_durations_of(id).histogram(),
                }
            })
            .collect()
    }

    pub(super) fn on_signal(&mut self, signal: Signal) {
        match signal {
            Signal::SIGCHLD => self.reap_all(),
            Signal::SIGTERM | Signal::SIGINT => match self.phase {
                Phase::Running => {
                    self.begin_stop(&format!("received {}", sys::signal_name(signal)));
                }
                // Killed here, not by moving the stop's deadline: that deadline's message
                // would blame destroy_timeout, which has not passed.
                Phase::Stopping { .. } => {
                    log::warn!(
                        "received {} again: a second signal cuts the graceful stop short, \
                         killing {} workers now",
                        sys::signal_name(signal),
                        self.pool.len()
                    );
                    self.kill_all(&format!(
                        "had not stopped when a second {} cut the graceful stop short",
                        signal.as_str()
                    ));
                }
            },
            Signal::SIGHUP => self.begin_reset("received SIGHUP"),
            Signal::SIGTTIN => self.resize(self.processes.target() + 1),
            Signal::SIGTTOU => self.resize(self.processes.target().saturating_sub(1)),
            _ => {}
        }
    }

    fn resize(&mut self, target: usize) {
        let target = target.clamp(1, crate::config::MAX_WORKERS);
        if target == self.processes.target() {
            log::warn!(
                "the pool stays at {target} workers (from 1 to {})",
                crate::config::MAX_WORKERS
            );
            return;
        }
        if target > self.processes.target()
            && let Err(why) = super::processes::fit_fd_limit(self.processes.descriptors(), target)
        {
            log::warn!(
                "the pool stays at {} workers: {why}",
                self.processes.target()
            );
            return;
        }
        log::info!("pool size {} -> {target} workers", self.processes.target());
        self.processes.set_target(target);
        // Shrinking retires the youngest workers: the older ones are the warmer.
        let mut serving: Vec<(Mono, Pid)> = self
            .pool
            .workers()
            .filter(|w| w.state != WorkerState::Stopping && !w.retires_after_tick())
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

    /// Stops taking ticks; idle workers are told to stop at once, busy ones after their
    /// tick, all within `destroy_timeout`.
    pub(super) fn begin_stop(&mut self, why: &str) {
        if let Phase::Stopping { .. } = self.phase {
            return;
        }
        self.ticking.disarm();
        self.cancel_reset();
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
            crate::config::format_duration(self.config.pool.destroy_timeout)
        );
        for pid in idle {
            self.tell_to_stop(pid);
        }
    }
}

/// The pool's counts as a snapshot carries them.
fn counts(stats: Stats) -> TickCounts {
    TickCounts {
        due: stats.due,
        delivered: stats.delivered,
        completed: stats.completed,
        failed: stats.failed,
        skipped: stats.skipped,
        manual: stats.manual,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: u64 = 1_000;

    #[test]
    fn door_events_never_start_in_the_run_up_to_the_timer() {
        let mut pacing = DoorPacing::for_interval(Duration::from_millis(10));
        pacing.new_pass();
        assert!(pacing.may_serve(Mono(0), Some(Mono(1_000 * US))));
        // An answer for a large pool took 300 µs.
        pacing.served(Mono(0), Mono(300 * US));
        pacing.new_pass();
        assert!(
            !pacing.may_serve(Mono(800 * US), Some(Mono(1_000 * US))),
            "300 µs of work does not fit in the 200 µs left"
        );
        assert!(pacing.may_serve(Mono(600 * US), Some(Mono(1_000 * US))));
        pacing.new_pass();
        assert!(
            pacing.may_serve(Mono(800 * US), None),
            "no timer armed: nothing to protect"
        );
    }

    #[test]
    fn a_pass_spends_a_bounded_time_on_door_events() {
        let mut pacing = DoorPacing::for_interval(Duration::from_millis(10));
        pacing.new_pass();
        let mut now = Mono(0);
        let mut served = 0;
        while pacing.may_serve(now, None) {
            let began = now;
            now = now + Duration::from_micros(30);
            pacing.served(began, now);
            served += 1;
        }
        assert_eq!(served, 4, "events begun in the first 100 µs of the pass");
        pacing.new_pass();
        assert!(pacing.may_serve(now, None), "the next pass serves again");
    }

    #[test]
    fn the_cost_of_a_door_event_is_remembered_for_a_while_then_forgotten() {
        let s = 1_000_000 * US;
        let mut pacing = DoorPacing::for_interval(Duration::from_millis(10));
        pacing.served(Mono(0), Mono(500 * US));
        for t in [s / 2, s + s / 2] {
            pacing.new_pass();
            pacing.served(Mono(t), Mono(t + US));
            pacing.new_pass();
            assert!(
                !pacing.may_serve(Mono(t + 2 * US), Some(Mono(t + 400 * US))),
                "500 µs remembered at {t}"
            );
        }
        pacing.new_pass();
        pacing.served(Mono(3 * s), Mono(3 * s + US));
        pacing.new_pass();
        assert!(pacing.may_serve(Mono(3 * s + 2 * US), Some(Mono(3 * s + 400 * US))));
    }

    #[test]
    fn a_stall_once_never_keeps_the_doors_shut() {
        let mut pacing = DoorPacing::for_interval(Duration::from_millis(1));
        // The machine stalled for 20 ms during one answer.
        pacing.served(Mono(0), Mono(20_000 * US));
        pacing.new_pass();
        let timer = Some(Mono(21_000 * US));
        assert!(!pacing.may_serve(Mono(20_600 * US), timer));
        assert!(
            pacing.may_serve(Mono(20_400 * US), timer),
            "half the interval before the timer, doors are served"
        );
    }
}
