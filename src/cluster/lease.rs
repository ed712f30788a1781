//! The master's side of the lease, as decisions: when to ask the helper for what, whether
//! this instance may tick, and with which numbers. Pure: the master passes instants in and
//! carries out the [`Step`]s; nothing here reads a clock, sleeps or touches a socket.
//!
//! The rules:
//!
//! - Every lease operation is the master's request, one at a time: a follower tries to
//!   take the lease when the holder's would run out (at most a third of the ttl apart),
//!   a leader renews it every third of the ttl. A stopped or stuck master sends nothing,
//!   so a lease is never renewed for a master that is not running its loop.
//! - A leader's right to tick is local and conservative: a renewal sent at `t` proves the
//!   lease until `t + ttl` in Redis (Redis received it later), and the leader ticks only
//!   until `t + ttl - ttl/10`, whatever becomes of the answer.
//! - It ticks only numbers it has been granted: each renewal writes, fenced by its token,
//!   the highest number due before the new deadline, and a new leader starts above every
//!   number granted before. So no number is ever handed out twice, whatever the clocks say.
//! - Redis not answering, or answering that the token lost the lease, ends the term at once.
//! - A reply counts only as the answer to the request whose number it carries, the oldest
//!   in flight: a reply repeated or out of order is a broken helper, replaced, which ends
//!   the term, never the proof of a renewal Redis has not carried out.
//! - When Redis held no state at all (a first start, or Redis lost its data), a new
//!   leader waits one ttl before its first tick: a leader from before has stopped by then.
//! - The named schedules (every schedule but `default`) are granted by time, not number:
//!   each renewal also writes `until`, the latest Unix instant of an occurrence the leader
//!   may hand out before its new deadline, and the leader hands out an occurrence only at
//!   or before the `until` Redis acknowledged, and after the one the term began above. The
//!   anchors of the schedules that handed something out go to Redis with the records of
//!   `default`'s last tick, so each record costs what ticked since the last one, never
//!   the number of schedules. Where a new leader goes on is [`super::numbering`]'s.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::grid::{self, Settled};
use super::numbering::{Anchor, Resumed};
use super::wire::{Holder, Known, Numbered, Reply, Request};
use crate::schedule::{Mono, WallClock};
use log::Level;

/// Retries after Redis failed start this far apart and double up to a third of the ttl.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// A leader records its last delivered tick at most this often between renewals.
const RECORD_EVERY: Duration = Duration::from_millis(10);
/// A follower tries this long after the holder's lease would have run out.
const FOLLOW_SLACK: Duration = Duration::from_millis(1);

/// The times that follow from `ticker.cluster.ttl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub ttl: Duration,
}

impl Timing {
    pub fn renew_every(&self) -> Duration {
        self.ttl / 3
    }

    /// How long after sending a renewal the leader may tick. A tenth of the ttl is kept
    /// back: clocks run at slightly different rates, and Redis expires keys to the
    /// millisecond.
    pub fn valid_for(&self) -> Duration {
        self.ttl - self.ttl / 10
    }

    fn max_backoff(&self) -> Duration {
        self.renew_every().max(MIN_BACKOFF)
    }
}

/// What this instance is, for status and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// It holds the lease and ticks.
    Leader,
    /// Another instance holds the lease (or nobody, and it is about to try).
    Follower,
    /// Redis does not answer: it does not tick.
    NoStore,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Follower => "follower",
            Role::NoStore => "no store",
        }
    }
}

/// A term begins: the ticker restarts on the shared grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Begin {
    pub token: u64,
    /// The first tick number of the term, and its due instant on this host.
    pub first: u64,
    pub first_due: Mono,
    /// Maps this host's monotonic instants to the grid's Unix times, for tick headers.
    pub clock: WallClock,
    /// Ticks nobody delivered since the last one recorded (a failover's gap).
    pub skipped: u64,
    /// Where each named schedule goes on, by its place in the config (Unix times).
    pub named: Vec<(u32, Resumed)>,
}

/// What the master must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write this request, with its number, to the helper.
    Send(Numbered<Request>),
    Begin(Begin),
    /// Stop ticking now: nothing more goes to a worker, waiting ticks are dropped.
    End,
    Log(Level, String),
}

#[derive(Debug, Clone)]
struct Term {
    token: u64,
    /// The leader ticks nothing at or after this instant.
    valid_until: Mono,
    /// The highest number this term may deliver, written in Redis under its token.
    granted: Option<u64>,
    /// The highest number any leader may have delivered before this term.
    floor: Option<u64>,
    first: u64,
    first_due: Mono,
    interval: Duration,
    /// The last tick this term delivered, and the last one written to Redis.
    last: Option<u64>,
    recorded: Option<u64>,
    record_at: Mono,
    /// Maps this host's monotonic instants to Unix time for the term.
    clock: WallClock,
    /// The latest occurrence of a named schedule any leader may have handed out before
    /// this term: the term hands out only later ones.
    until_floor: Option<u64>,
    /// The latest occurrence this term may hand out, written in Redis under its token.
    until: Option<u64>,
    /// The latest occurrence this term handed out.
    handed_until: Option<u64>,
    /// The anchors of the named schedules that handed an occurrence out since the last
    /// record, by place in the config.
    handed: BTreeMap<u32, Anchor>,
}

impl Term {
    /// The highest number due before `until`: what a renewal that keeps the lease until
    /// then may grant.
    fn grant_until(&self, until: Mono) -> Option<u64> {
        if until <= self.first_due {
            return self.granted;
        }
        let steps = (until.0 - self.first_due.0 - 1) / self.interval.as_nanos().max(1) as u64;
        self.granted.max(Some(self.first + steps))
    }

    /// The latest occurrence of a named schedule a renewal that keeps the lease until
    /// `until` may grant: never below what was granted before, even on a clock behind.
    fn until_by(&self, until: Mono) -> Option<u64> {
        let at = u64::try_from(self.clock.unix(until).as_nanos()).unwrap_or(u64::MAX);
        Some(at).max(self.until).max(self.until_floor)
    }
}

#[derive(Debug, Clone)]
enum State {
    Follower,
    NoStore,
    Leader(Box<Term>),
    /// The master is stopping: nothing more is asked.
    Stopped,
}

/// A request in flight, with what its reply needs.
#[derive(Debug, Clone, Copy)]
enum Sent {
    Acquire {
        at: Mono,
    },
    Renew {
        at: Mono,
        token: u64,
        grant: Option<u64>,
        last: Option<u64>,
        until: Option<u64>,
    },
    Record {
        token: u64,
        last: Option<u64>,
    },
    Release,
}

impl Sent {
    fn is_lease_op(&self) -> bool {
        !matches!(self, Sent::Record { .. })
    }
}

pub struct Lease {
    timing: Timing,
    /// `host:pid` of this master, as other instances see it.
    me: String,
    state: State,
    /// The requests in flight, oldest first, by number.
    sent: VecDeque<(u64, Sent)>,
    /// The number of the next request: numbers are never used twice, not even across
    /// helpers.
    next_id: u64,
    /// When the next lease operation goes out (once none is in flight).
    next_at: Mono,
    backoff: Duration,
    /// Since when Redis has not answered, for the one line when it answers again.
    outage: Option<Mono>,
    known: Known,
    holder: Option<Holder>,
}

impl Lease {
    pub fn new(timing: Timing, me: String, now: Mono) -> Lease {
        Lease {
            timing,
            me,
            state: State::Follower,
            sent: VecDeque::new(),
            next_id: 1,
            next_at: now,
            backoff: MIN_BACKOFF,
            outage: None,
            known: Known::default(),
            holder: None,
        }
    }

    pub fn role(&self) -> Role {
        match self.state {
            State::Leader(_) => Role::Leader,
            State::NoStore => Role::NoStore,
            State::Follower | State::Stopped => Role::Follower,
        }
    }

    /// The lease holder as last seen (this instance, when it leads).
    pub fn holder(&self) -> Option<&Holder> {
        self.holder.as_ref()
    }

    /// The last tick delivered across the cluster, as far as this instance knows.
    pub fn last_tick(&self) -> Option<u64> {
        match &self.state {
            State::Leader(term) => term.last.or(self.known.last),
            _ => self.known.last,
        }
    }

    /// The token of this instance's term, while it leads.
    pub fn token(&self) -> Option<u64> {
        match &self.state {
            State::Leader(term) => Some(term.token),
            _ => None,
        }
    }

    /// Whether this instance leads at `now`: it may hand ticks to workers.
    pub fn leads(&self, now: Mono) -> bool {
        matches!(&self.state, State::Leader(term) if now < term.valid_until)
    }

    /// Whether the occurrence of a named schedule at `at` (Unix nanoseconds), due at `due`,
    /// is this term's to hand out: after every one handed out before the term, granted,
    /// and due before the term's deadline.
    pub fn permits_occurrence(&self, at: u64, due: Mono) -> bool {
        match &self.state {
            State::Leader(term) => {
                term.until_floor.is_none_or(|floor| at > floor)
                    && due < term.valid_until
                    && term.until.is_some_and(|until| at <= until)
            }
            _ => false,
        }
    }

    /// Unix time (nanoseconds) of a monotonic instant on this term's clock, while it leads.
    pub fn unix_of(&self, due: Mono) -> Option<u64> {
        match &self.state {
            State::Leader(term) => u64::try_from(term.clock.unix(due).as_nanos()).ok(),
            _ => None,
        }
    }

    /// The master handed occurrence `number` of named schedule `schedule`, at `at`, to a
    /// worker.
    pub fn handed(&mut self, schedule: u32, at: u64, number: u64) {
        if let State::Leader(term) = &mut self.state {
            term.handed.insert(schedule, Anchor::handed(at, number));
            term.handed_until = term.handed_until.max(Some(at));
        }
    }

    /// Whether tick `number`, due at `due`, is this term's to deliver: granted, and due
    /// before the term's deadline. The timer is armed only for such a tick.
    pub fn permits(&self, number: u64, due: Mono) -> bool {
        match &self.state {
            State::Leader(term) => {
                number >= term.first
                    && due < term.valid_until
                    && term.granted.is_some_and(|granted| number <= granted)
            }
            _ => false,
        }
    }

    /// The master handed tick `number` to a worker.
    pub fn delivered(&mut self, number: u64) {
        if let State::Leader(term) = &mut self.state {
            term.last = term.last.max(Some(number));
        }
    }

    fn lease_op_in_flight(&self) -> bool {
        self.sent.iter().any(|(_, s)| s.is_lease_op())
    }

    /// The last tick number a renewal or a record in flight carries to Redis.
    fn last_in_flight(&self) -> Option<u64> {
        self.sent
            .iter()
            .filter_map(|(_, s)| match s {
                Sent::Renew { last, .. } | Sent::Record { last, .. } => *last,
                _ => None,
            })
            .max()
    }

    /// Whether a tick handed out is in no request yet: [`Lease::poll`] records it at
    /// `record_at`.
    fn unrecorded(&self, term: &Term) -> bool {
        term.last > term.recorded.max(self.last_in_flight()) || !term.handed.is_empty()
    }

    /// The next instant [`Lease::poll`] has something to do at: never one it would pass
    /// without sending anything, or the master's loop would wake at once again and again.
    pub fn next_deadline(&self) -> Option<Mono> {
        let mut at = vec![];
        if !matches!(self.state, State::Stopped) && !self.lease_op_in_flight() {
            at.push(self.next_at);
        }
        if let State::Leader(term) = &self.state {
            at.push(term.valid_until);
            if self.unrecorded(term) {
                at.push(term.record_at);
            }
        }
        at.into_iter().min()
    }

    /// Ends a term that ran out, sends what is due. Called on every pass of the loop and
    /// after every reply; `stopping` once the master stops taking ticks.
    pub fn poll(&mut self, now: Mono, stopping: bool) -> Vec<Step> {
        let mut steps = vec![];
        if let State::Leader(term) = &self.state
            && now >= term.valid_until
        {
            steps.push(Step::End);
            steps.push(Step::Log(
                Level::Warn,
                format!(
                    "lease (token {}) not renewed in time: no answer within {}; not ticking",
                    term.token,
                    crate::config::format_duration(self.timing.valid_for())
                ),
            ));
            self.state = State::Follower;
            self.next_at = now;
        }
        if stopping {
            if let State::Leader(term) = &self.state {
                steps.push(Step::End);
                steps.push(self.release(Term::clone(term)));
            }
            self.state = State::Stopped;
            return steps;
        }
        if matches!(self.state, State::Stopped) {
            return steps;
        }
        if !self.lease_op_in_flight() && now >= self.next_at {
            let (sent, request) = match &self.state {
                State::Leader(term) => {
                    let grant = term.grant_until(now + self.timing.valid_for());
                    let until = term.until_by(now + self.timing.valid_for());
                    (
                        Sent::Renew {
                            at: now,
                            token: term.token,
                            grant,
                            last: term.last,
                            until,
                        },
                        Request::Renew {
                            token: term.token,
                            grant,
                            last: term.last,
                            until,
                        },
                    )
                }
                _ => (
                    Sent::Acquire { at: now },
                    Request::Acquire {
                        known: self.known.clone(),
                    },
                ),
            };
            steps.push(self.send(sent, request));
        }
        let unrecorded = matches!(&self.state, State::Leader(term) if self.unrecorded(term));
        let last_in_flight = self.last_in_flight();
        if let State::Leader(term) = &mut self.state
            && unrecorded
            && now >= term.record_at
        {
            term.record_at = now + RECORD_EVERY;
            let token = term.token;
            // The last tick goes again only when it moved: a record of named schedules
            // alone leaves it out.
            let last = term
                .last
                .filter(|&l| Some(l) > term.recorded.max(last_in_flight));
            let handed: Vec<(u32, Anchor)> = std::mem::take(&mut term.handed).into_iter().collect();
            steps.push(self.send(
                Sent::Record { token, last },
                Request::Record {
                    token,
                    last,
                    handed,
                },
            ));
        }
        steps
    }

    fn release(&mut self, term: Term) -> Step {
        self.send(
            Sent::Release,
            Request::Release {
                token: term.token,
                last: term.last,
                upto: term.last.or(term.floor),
                until: term.handed_until.max(term.until_floor),
                handed: term.handed.into_iter().collect(),
            },
        )
    }

    /// `request` goes out under the next number; its reply must come back under it.
    fn send(&mut self, sent: Sent, request: Request) -> Step {
        let id = self.next_id;
        self.next_id += 1;
        self.sent.push_back((id, sent));
        Step::Send(Numbered {
            id,
            message: request,
        })
    }

    /// The helper's reply to the oldest request in flight, under that request's number. An
    /// error means the helper broke the protocol (a reply repeated, overtaken, to no
    /// request, or one that does not fit its request): the master replaces the helper,
    /// which ends a term.
    pub fn on_reply(
        &mut self,
        reply: Numbered<Reply>,
        now: Mono,
        wall: Duration,
    ) -> Result<Vec<Step>, String> {
        let Numbered { id, message: reply } = reply;
        let (expected, sent) = *self
            .sent
            .front()
            .ok_or_else(|| format!("a reply to no request (number {id}): {reply:?}"))?;
        if id != expected {
            return Err(format!(
                "a reply under number {id} where the answer to request {expected} was due: \
                 {reply:?}"
            ));
        }
        self.sent.pop_front();
        let mut steps = vec![];
        if let Reply::Failed { error } = reply {
            self.store_failed(now, &error, &mut steps);
            return Ok(steps);
        }
        self.store_answers(now, &mut steps);
        match (sent, reply) {
            (
                Sent::Acquire { at },
                Reply::Acquired {
                    token,
                    grid,
                    settled,
                    last,
                    granted,
                    fresh,
                    until,
                    named,
                },
            ) => {
                self.known.learn(&Known {
                    fence: token,
                    grid: Some(grid),
                    last,
                    granted,
                    until,
                });
                self.holder = Some(Holder {
                    token,
                    name: Some(self.me.clone()),
                });
                let floor = last.max(granted);
                let valid_until = at + self.timing.valid_for();
                let clock = WallClock::new(now, wall);
                if matches!(self.state, State::Stopped) {
                    let term = self.term(token, valid_until, floor, 0, now, grid.interval());
                    let term = Term {
                        until_floor: until,
                        clock,
                        ..term
                    };
                    steps.push(self.release(term));
                    return Ok(steps);
                }
                if now >= valid_until {
                    steps.push(Step::Log(
                        Level::Warn,
                        format!("took the lease (token {token}) but heard so too late to use it"),
                    ));
                    self.state = State::Follower;
                    self.next_at = now;
                    return Ok(steps);
                }
                // Redis had nothing: whoever led before it lost its data may tick until
                // its own deadline, at most a ttl after its last renewal. That renewal came
                // before Redis took this request, which may have been any time up to this
                // reply: a request slow to reach Redis must not shorten the wait.
                let hold_until = if fresh { now + self.timing.ttl } else { now };
                let from = wall + hold_until.since(now);
                let first = grid::first_tick(&grid, floor, from);
                let first_due = now + grid.due(first).saturating_sub(wall);
                let skipped = grid::skipped_before(&grid, last, first);
                let mut term = self.term(token, valid_until, floor, first, now, grid.interval());
                term.first_due = first_due;
                term.clock = clock;
                term.until_floor = until;
                steps.push(Step::Log(
                    Level::Info,
                    format!("leader with token {token}: ticking from tick {first}"),
                ));
                steps.extend(settle_note(settled, &grid, first));
                if fresh {
                    steps.push(Step::Log(
                        Level::Info,
                        format!(
                            "Redis held no state: the first tick waits one ttl ({}), so that \
                             a leader from before has stopped",
                            crate::config::format_duration(self.timing.ttl)
                        ),
                    ));
                }
                if skipped > 0 {
                    steps.push(Step::Log(
                        Level::Warn,
                        format!(
                            "{skipped} tick(s) before tick {first} passed while no instance \
                             held the lease; counted as skipped"
                        ),
                    ));
                }
                for (_, resumed) in &named {
                    if resumed.skipped > 0 {
                        steps.push(Step::Log(
                            Level::Warn,
                            format!(
                                "{} occurrence(s) of a schedule counted as handed out by the \
                                 leader before (after its last record); its numbering goes \
                                 on after them",
                                resumed.skipped
                            ),
                        ));
                    }
                }
                steps.push(Step::Begin(Begin {
                    token,
                    first,
                    first_due,
                    clock,
                    skipped,
                    named,
                }));
                self.state = State::Leader(Box::new(term));
                // The first renewal grants the first numbers.
                self.next_at = now;
            }
            (
                Sent::Acquire { .. },
                Reply::Held {
                    holder,
                    pttl_ms,
                    seen,
                },
            ) => {
                self.known.learn(&seen);
                self.known.fence = self.known.fence.max(holder.token);
                if self.holder.as_ref().map(|h| h.token) != Some(holder.token) {
                    steps.push(Step::Log(
                        Level::Info,
                        format!(
                            "follower: {} holds the lease (token {})",
                            holder.name.as_deref().unwrap_or("another instance"),
                            holder.token
                        ),
                    ));
                }
                self.holder = Some(holder);
                if !matches!(self.state, State::Stopped) {
                    self.state = State::Follower;
                }
                let left = pttl_ms.map_or(Duration::MAX, Duration::from_millis);
                self.next_at = now + left.min(self.timing.renew_every()) + FOLLOW_SLACK;
            }
            (
                Sent::Renew {
                    at,
                    token,
                    grant,
                    last,
                    until,
                },
                Reply::Done,
            ) => {
                self.known.granted = self.known.granted.max(grant);
                self.known.last = self.known.last.max(last);
                self.known.until = self.known.until.max(until);
                if let State::Leader(term) = &mut self.state
                    && term.token == token
                {
                    term.valid_until = term.valid_until.max(at + self.timing.valid_for());
                    term.granted = term.granted.max(grant);
                    term.until = term.until.max(until);
                    term.recorded = term.recorded.max(last);
                    self.next_at = at + self.timing.renew_every();
                }
            }
            (Sent::Record { token, last }, Reply::Done) => {
                self.known.last = self.known.last.max(last);
                if let State::Leader(term) = &mut self.state
                    && term.token == token
                {
                    term.recorded = term.recorded.max(last);
                }
            }
            (Sent::Renew { token, .. } | Sent::Record { token, .. }, Reply::Lost { holder }) => {
                if let State::Leader(term) = &self.state
                    && term.token == token
                {
                    steps.push(Step::End);
                    steps.push(Step::Log(
                        Level::Warn,
                        format!(
                            "lost the lease (token {token}){}: not ticking",
                            match &holder {
                                Some(h) => format!(
                                    " to {} (token {})",
                                    h.name.as_deref().unwrap_or("another instance"),
                                    h.token
                                ),
                                None => String::new(),
                            }
                        ),
                    ));
                    self.state = State::Follower;
                    self.next_at = now;
                }
                if let Some(h) = &holder {
                    self.known.fence = self.known.fence.max(h.token);
                }
                self.holder = holder;
            }
            (Sent::Acquire { .. }, Reply::Lost { holder }) => {
                // Taken from under it between two scripts (someone deleted the key).
                self.holder = holder;
                if !matches!(self.state, State::Stopped) {
                    self.state = State::Follower;
                }
                self.next_at = now;
            }
            (Sent::Release, Reply::Done | Reply::Lost { .. }) => {
                steps.push(Step::Log(Level::Info, "lease released".into()));
            }
            (sent, reply) => return Err(format!("the reply {reply:?} to {sent:?}")),
        }
        Ok(steps)
    }

    fn term(
        &self,
        token: u64,
        valid_until: Mono,
        floor: Option<u64>,
        first: u64,
        now: Mono,
        interval: Duration,
    ) -> Term {
        Term {
            token,
            valid_until,
            granted: None,
            floor,
            first,
            first_due: now,
            interval,
            last: None,
            recorded: None,
            record_at: now,
            clock: WallClock::new(now, Duration::ZERO),
            until_floor: None,
            until: None,
            handed_until: None,
            handed: BTreeMap::new(),
        }
    }

    /// The helper is gone; the master starts another. Whatever was asked is lost.
    pub fn on_helper_gone(&mut self, now: Mono, why: &str) -> Vec<Step> {
        self.sent.clear();
        let mut steps = vec![];
        if matches!(self.state, State::Stopped) {
            return steps;
        }
        self.store_failed(now, why, &mut steps);
        steps
    }

    fn store_failed(&mut self, now: Mono, error: &str, steps: &mut Vec<Step>) {
        if let State::Leader(term) = &self.state {
            steps.push(Step::End);
            steps.push(Step::Log(
                Level::Warn,
                format!(
                    "cannot prove the lease (token {}) any more: not ticking",
                    term.token
                ),
            ));
        }
        if self.outage.is_none() {
            self.outage = Some(now);
            steps.push(Step::Log(
                Level::Error,
                format!(
                    "Redis does not answer ({error}): this instance does not tick until it \
                     does; retrying every {} to {}",
                    crate::config::format_duration(MIN_BACKOFF),
                    crate::config::format_duration(self.timing.max_backoff())
                ),
            ));
        }
        if !matches!(self.state, State::Stopped) {
            self.state = State::NoStore;
        }
        self.next_at = now + self.backoff;
        self.backoff = (self.backoff * 2).min(self.timing.max_backoff());
    }

    fn store_answers(&mut self, now: Mono, steps: &mut Vec<Step>) {
        self.backoff = MIN_BACKOFF;
        if let Some(since) = self.outage.take() {
            steps.push(Step::Log(
                Level::Info,
                format!(
                    "Redis answers again, after {}",
                    crate::config::format_duration(round_ms(now.since(since)))
                ),
            ));
        }
        if matches!(self.state, State::NoStore) {
            self.state = State::Follower;
        }
    }
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn settle_note(settled: Settled, grid: &grid::Grid, first: u64) -> Option<Step> {
    let every = |ns: u64| crate::config::format_duration(Duration::from_nanos(ns));
    let (level, note) = match settled {
        Settled::Kept => return None,
        Settled::New => (
            Level::Info,
            "no schedule in Redis yet: a new one, from tick 0".to_string(),
        ),
        Settled::Restored => (
            Level::Warn,
            format!(
                "Redis had lost the schedule: restored from what this instance knew, going \
                 on at tick {first}"
            ),
        ),
        Settled::Rebased { from_interval_ns } => (
            Level::Warn,
            format!(
                "the schedule in Redis ticks every {}, this instance every {}: a new grid \
                 from tick {}",
                every(from_interval_ns),
                every(grid.interval_ns),
                grid.base,
            ),
        ),
    };
    Some(Step::Log(level, note))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::grid::Grid;

    const MS: u64 = 1_000_000;
    /// Unix time of the test's monotonic instant 0.
    const EPOCH: Duration = Duration::from_secs(1_700_000_000);

    fn timing() -> Timing {
        Timing {
            ttl: Duration::from_millis(1500),
        }
    }

    fn at(ms: u64) -> Mono {
        Mono(ms * MS)
    }

    /// Wall time at monotonic instant `ms`: the clocks agree.
    fn wall(ms: u64) -> Duration {
        EPOCH + Duration::from_millis(ms)
    }

    /// The grid in Redis: tick 0 due at monotonic 0.
    fn grid() -> Grid {
        Grid::new(EPOCH, 0, Duration::from_millis(100))
    }

    fn lease() -> Lease {
        Lease::new(timing(), "web-1:10".into(), at(0))
    }

    fn sent(steps: &[Step]) -> Vec<Request> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Send(r) => Some(r.message.clone()),
                _ => None,
            })
            .collect()
    }

    fn logs(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Log(_, text) => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    fn begin(steps: &[Step]) -> Option<Begin> {
        steps.iter().find_map(|s| match s {
            Step::Begin(b) => Some(b.clone()),
            _ => None,
        })
    }

    fn acquired(token: u64, last: Option<u64>, granted: Option<u64>) -> Reply {
        Reply::Acquired {
            token,
            grid: grid(),
            settled: Settled::Kept,
            last,
            granted,
            fresh: false,
            until: None,
            named: vec![],
        }
    }

    /// Unix nanoseconds at monotonic instant `ms`.
    fn horizon(ms: u64) -> Option<u64> {
        u64::try_from(wall(ms).as_nanos()).ok()
    }

    /// `reply` under the number of the oldest request in flight, as the helper sends it.
    fn answer(lease: &Lease, reply: Reply) -> Numbered<Reply> {
        let id = lease.sent.front().map_or(0, |&(id, _)| id);
        Numbered { id, message: reply }
    }

    fn reply(lease: &mut Lease, reply: Reply, now_ms: u64) -> Vec<Step> {
        let reply = answer(lease, reply);
        lease.on_reply(reply, at(now_ms), wall(now_ms)).unwrap()
    }

    /// The numbers of the requests in `steps`.
    fn numbers(steps: &[Step]) -> Vec<u64> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Send(r) => Some(r.id),
                _ => None,
            })
            .collect()
    }

    /// A leader at `ms` whose first renewal was answered.
    fn leader_at(ms: u64, last: Option<u64>) -> Lease {
        let mut l = Lease::new(timing(), "web-1:10".into(), at(ms));
        assert!(matches!(
            sent(&l.poll(at(ms), false))[..],
            [Request::Acquire { .. }]
        ));
        reply(&mut l, acquired(7, last, last), ms);
        assert!(matches!(
            sent(&l.poll(at(ms), false))[..],
            [Request::Renew { .. }]
        ));
        reply(&mut l, Reply::Done, ms);
        assert_eq!(l.role(), Role::Leader);
        l
    }

    #[test]
    fn a_tick_a_renewal_carries_sets_no_deadline_of_its_own() {
        let mut l = leader_at(0, None);
        l.delivered(1);
        // The renewal due now carries tick 1 to Redis: nothing is left to record.
        assert!(matches!(
            sent(&l.poll(at(500), false))[..],
            [Request::Renew { last: Some(1), .. }]
        ));
        assert!(
            l.next_deadline().is_some_and(|d| d > at(500)),
            "no deadline in the past, where poll sends nothing: {:?}",
            l.next_deadline()
        );
        assert!(sent(&l.poll(at(500), false)).is_empty());
        // A tick handed out after the renewal left is recorded on its own.
        l.delivered(2);
        assert!(l.next_deadline().is_some_and(|d| d <= at(510)));
        assert!(matches!(
            sent(&l.poll(at(510), false))[..],
            [Request::Record { last: Some(2), .. }]
        ));
    }

    #[test]
    fn a_follower_asks_for_the_lease_and_ticks_only_what_is_granted() {
        let mut l = lease();
        assert_eq!(l.role(), Role::Follower);
        let steps = l.poll(at(0), false);
        assert_eq!(
            sent(&steps),
            [Request::Acquire {
                known: Known::default()
            }]
        );
        // Nothing more while the request is in flight.
        assert!(sent(&l.poll(at(50), false)).is_empty());
        // It asks again at 1010 ms, and hears at 1020 ms; tick 10 (due at 1000 ms) was the
        // last one recorded.
        reply(
            &mut l,
            Reply::Failed {
                error: "busy".into(),
            },
            10,
        );
        assert!(matches!(
            sent(&l.poll(at(1010), false))[..],
            [Request::Acquire { .. }]
        ));
        let steps = reply(&mut l, acquired(7, Some(10), Some(12)), 1020);
        let b = begin(&steps).expect("a term begins");
        // Tick 13 is the first above every number granted, and not in the past.
        assert_eq!((b.token, b.first, b.first_due), (7, 13, at(1300)));
        assert_eq!(
            b.skipped, 2,
            "ticks 11 and 12 were granted and not recorded"
        );
        assert_eq!(b.clock.unix(b.first_due), grid().due(13));
        assert_eq!(l.role(), Role::Leader);
        // Leading, but nothing granted yet: no tick may go.
        assert!(l.leads(at(1020)));
        assert!(!l.permits(13, at(1300)));
        // The first renewal goes at once; the lease is held until 1021 + 1350 ms.
        let steps = l.poll(at(1021), false);
        assert_eq!(
            sent(&steps),
            [Request::Renew {
                token: 7,
                grant: Some(23),
                last: None,
                until: horizon(1021 + 1350),
            }]
        );
        reply(&mut l, Reply::Done, 1022);
        assert!(l.permits(13, at(1300)));
        assert!(l.permits(23, at(2300)));
        assert!(!l.permits(24, at(2400)), "beyond the deadline");
        assert!(!l.permits(12, at(1200)), "before the term");
        // Next renewal a third of the ttl after the last was sent.
        assert_eq!(l.next_deadline(), Some(at(1021 + 500)));
    }

    #[test]
    fn named_schedules_are_granted_by_time_and_their_anchors_go_with_the_records() {
        let h = |ms: u64| horizon(ms).unwrap();
        // Renewed at 0: occurrences up to 1350 ms, due before 1350 ms.
        let mut l = leader_at(0, None);
        assert!(l.permits_occurrence(h(1000), at(1000)));
        assert!(l.permits_occurrence(h(1350), at(1349)));
        assert!(!l.permits_occurrence(h(1351), at(1349)), "beyond until");
        assert!(
            !l.permits_occurrence(h(1000), at(1350)),
            "beyond the deadline"
        );
        assert_eq!(l.unix_of(at(100)), Some(h(100)));
        l.handed(2, h(100), 5);
        assert_eq!(
            sent(&l.poll(at(100), false)),
            [Request::Record {
                token: 7,
                last: None,
                handed: vec![(2, Anchor::handed(h(100), 5))]
            }]
        );
        reply(&mut l, Reply::Done, 101);
        assert!(
            sent(&l.poll(at(200), false)).is_empty(),
            "nothing new to record"
        );
        // The next renewal moves the horizon on.
        assert!(matches!(
            sent(&l.poll(at(500), false))[..],
            [Request::Renew { until: Some(u), .. }] if u == h(1850)
        ));
        assert!(
            !l.permits_occurrence(h(1800), at(1300)),
            "not acknowledged yet"
        );
        reply(&mut l, Reply::Done, 510);
        assert!(l.permits_occurrence(h(1800), at(1800)));
        // Stopping hands on the latest occurrence handed out, not the horizon.
        l.handed(3, h(600), 0);
        let steps = l.poll(at(700), true);
        assert_eq!(
            sent(&steps),
            [Request::Release {
                token: 7,
                last: None,
                upto: None,
                until: Some(h(600)),
                handed: vec![(3, Anchor::handed(h(600), 0))],
            }]
        );
    }

    #[test]
    fn a_new_term_hands_out_nothing_at_or_before_what_was_granted_before() {
        let h = |ms: u64| horizon(ms).unwrap();
        let mut l = lease();
        l.poll(at(0), false);
        let resumed = Resumed {
            first: Some((h(2100), 9)),
            anchor: Anchor::handed(h(2000), 8),
            skipped: 2,
            catch_up: None,
        };
        let steps = reply(
            &mut l,
            Reply::Acquired {
                token: 7,
                grid: grid(),
                settled: Settled::Kept,
                last: None,
                granted: None,
                fresh: false,
                until: Some(h(2000)),
                named: vec![(1, resumed)],
            },
            0,
        );
        assert_eq!(begin(&steps).unwrap().named, [(1, resumed)]);
        assert!(logs(&steps).iter().any(|t| t.contains("2 occurrence(s)")));
        l.poll(at(0), false);
        reply(&mut l, Reply::Done, 0);
        assert!(!l.permits_occurrence(h(1000), at(1000)));
        assert!(!l.permits_occurrence(h(2000), at(1000)));
        // Never a horizon below what was granted before, whatever this host's clock says.
        assert!(matches!(
            sent(&l.poll(at(500), false))[..],
            [Request::Renew { until: Some(u), .. }] if u == h(2000)
        ));
        reply(&mut l, Reply::Done, 500);
        assert!(!l.permits_occurrence(h(2001), at(1900)), "not granted yet");
        assert!(matches!(
            sent(&l.poll(at(1000), false))[..],
            [Request::Renew { until: Some(u), .. }] if u == h(2350)
        ));
        reply(&mut l, Reply::Done, 1000);
        assert!(l.permits_occurrence(h(2001), at(2001)));
    }

    #[test]
    fn a_leader_renews_every_third_of_the_ttl_and_grants_move_on() {
        let mut l = leader_at(0, None);
        assert!(sent(&l.poll(at(499), false)).is_empty());
        let steps = l.poll(at(500), false);
        assert_eq!(
            sent(&steps),
            [Request::Renew {
                token: 7,
                grant: Some(18),
                last: None,
                until: horizon(500 + 1350),
            }]
        );
        reply(&mut l, Reply::Done, 510);
        assert!(l.permits(18, at(1800)));
        assert!(!l.permits(19, at(1900)));
    }

    #[test]
    fn a_leader_whose_renewals_go_unanswered_stops_at_its_own_deadline() {
        let mut l = leader_at(0, None);
        // The renewal at 500 ms is sent and never answered (the helper or Redis is stuck).
        assert_eq!(sent(&l.poll(at(500), false)).len(), 1);
        assert!(l.leads(at(1349)));
        assert_eq!(l.next_deadline(), Some(at(1350)));
        let steps = l.poll(at(1350), false);
        assert!(steps.contains(&Step::End), "{steps:?}");
        assert!(logs(&steps)[0].contains("not renewed in time"), "{steps:?}");
        assert!(!l.leads(at(1350)));
        assert!(!l.permits(8, at(800)));
        assert_eq!(l.role(), Role::Follower);
        // The late answer changes nothing; then it asks for the lease again.
        reply(&mut l, Reply::Done, 2000);
        assert!(!l.leads(at(2000)));
        assert!(matches!(
            sent(&l.poll(at(2000), false))[..],
            [Request::Acquire { .. }]
        ));
    }

    #[test]
    fn a_master_paused_past_its_ttl_does_not_tick_when_it_resumes() {
        let mut l = leader_at(0, None);
        l.delivered(3);
        // SIGSTOP at 100 ms, SIGCONT at 3 s: the first thing the loop does is poll.
        let steps = l.poll(at(3000), false);
        assert_eq!(steps.first(), Some(&Step::End));
        assert!(!l.leads(at(3000)));
        // It never renews as the old leader: it asks for the lease anew.
        assert!(
            sent(&steps)
                .iter()
                .all(|r| matches!(r, Request::Acquire { .. })),
            "{steps:?}"
        );
    }

    #[test]
    fn a_lost_lease_ends_the_term_at_once() {
        let mut l = leader_at(0, None);
        l.poll(at(500), false);
        let steps = reply(
            &mut l,
            Reply::Lost {
                holder: Some(Holder {
                    token: 8,
                    name: Some("web-2:20".into()),
                }),
            },
            340,
        );
        assert_eq!(steps[0], Step::End);
        assert!(logs(&steps)[0].contains("lost the lease (token 7) to web-2:20 (token 8)"));
        assert_eq!(l.role(), Role::Follower);
        assert_eq!(l.holder().map(|h| h.token), Some(8));
    }

    #[test]
    fn redis_failing_ends_the_term_logs_once_and_backs_off() {
        let mut l = leader_at(0, None);
        l.poll(at(500), false);
        let failed = || Reply::Failed {
            error: "Connection refused".into(),
        };
        let steps = reply(&mut l, failed(), 510);
        assert_eq!(steps[0], Step::End);
        assert_eq!(l.role(), Role::NoStore);
        assert_eq!(
            logs(&steps)
                .iter()
                .filter(|t| t.contains("Redis does not answer (Connection refused)"))
                .count(),
            1
        );
        // Retries 100, 200, 400, 500 ms apart, each failing silently.
        let mut now = 510;
        for gap in [100, 200, 400, 500] {
            assert_eq!(l.next_deadline(), Some(at(now + gap)));
            now += gap;
            assert!(matches!(
                sent(&l.poll(at(now), false))[..],
                [Request::Acquire { .. }]
            ));
            assert!(logs(&reply(&mut l, failed(), now)).is_empty());
        }
        // Redis is back: one line, and the lease is free.
        now += 500;
        l.poll(at(now), false);
        let steps = reply(&mut l, acquired(9, None, Some(5)), now);
        assert!(
            logs(&steps)[0].starts_with("Redis answers again, after"),
            "{steps:?}"
        );
        assert_eq!(l.role(), Role::Leader);
    }

    #[test]
    fn a_follower_tries_again_when_the_holders_lease_would_run_out() {
        let mut l = lease();
        l.poll(at(0), false);
        let held = |pttl| Reply::Held {
            holder: Holder {
                token: 4,
                name: Some("web-2:20".into()),
            },
            pttl_ms: Some(pttl),
            seen: Known {
                fence: 4,
                grid: Some(grid()),
                last: Some(30),
                granted: Some(38),
                until: None,
            },
        };
        let steps = reply(&mut l, held(120), 10);
        assert_eq!(
            logs(&steps),
            ["follower: web-2:20 holds the lease (token 4)"]
        );
        assert_eq!(l.next_deadline(), Some(at(10 + 120 + 1)));
        assert_eq!(l.last_tick(), Some(30));
        // The holder renews meanwhile: a third of the ttl at most, and no new line.
        l.poll(at(131), false);
        assert!(logs(&reply(&mut l, held(950), 131)).is_empty());
        assert_eq!(l.next_deadline(), Some(at(131 + 500 + 1)));
        // What it learned goes with its next try.
        let steps = l.poll(at(632), false);
        assert_eq!(
            sent(&steps),
            [Request::Acquire {
                known: Known {
                    fence: 4,
                    grid: Some(grid()),
                    last: Some(30),
                    granted: Some(38),
                    until: None,
                }
            }]
        );
    }

    #[test]
    fn a_leader_after_redis_lost_its_state_waits_one_ttl_before_ticking() {
        let mut l = lease();
        l.poll(at(5000), false);
        let steps = reply(
            &mut l,
            Reply::Acquired {
                token: 12,
                grid: grid(),
                settled: Settled::Restored,
                last: Some(40),
                granted: Some(45),
                fresh: true,
                until: None,
                named: vec![],
            },
            5010,
        );
        let b = begin(&steps).unwrap();
        // Nothing before one ttl (1500 ms) after the reply, 5010 ms: however long the request
        // took to reach Redis, the leader from before may have renewed until then. Tick 66
        // first.
        assert_eq!((b.first, b.first_due), (66, at(6600)));
        assert!(logs(&steps).iter().any(|t| t.contains("restored")));
        assert!(logs(&steps).iter().any(|t| t.contains("waits one ttl")));
        // The first renewal grants nothing: tick 66 is due after its deadline.
        let steps = l.poll(at(5010), false);
        assert_eq!(
            sent(&steps),
            [Request::Renew {
                token: 12,
                grant: None,
                last: None,
                until: horizon(5010 + 1350),
            }]
        );
    }

    #[test]
    fn deliveries_are_recorded_fenced_between_renewals_at_most_every_10ms() {
        let mut l = leader_at(0, None);
        l.delivered(1);
        let steps = l.poll(at(100), false);
        assert_eq!(
            sent(&steps),
            [Request::Record {
                token: 7,
                last: Some(1),
                handed: vec![]
            }]
        );
        l.delivered(2);
        assert!(sent(&l.poll(at(101), false)).is_empty(), "one in flight");
        reply(&mut l, Reply::Done, 102);
        assert!(sent(&l.poll(at(105), false)).is_empty(), "10 ms apart");
        assert_eq!(
            sent(&l.poll(at(110), false)),
            [Request::Record {
                token: 7,
                last: Some(2),
                handed: vec![]
            }]
        );
        reply(&mut l, Reply::Done, 111);
        assert_eq!(l.last_tick(), Some(2));
        // A renewal carries the last tick too, and then no record is needed.
        l.delivered(3);
        let steps = l.poll(at(500), false);
        assert_eq!(
            sent(&steps),
            [Request::Renew {
                token: 7,
                grant: Some(18),
                last: Some(3),
                until: horizon(500 + 1350),
            }]
        );
    }

    #[test]
    fn stopping_ends_the_term_and_releases_the_lease_for_the_next_leader() {
        let mut l = leader_at(0, Some(4));
        l.delivered(6);
        let steps = l.poll(at(200), true);
        assert_eq!(steps[0], Step::End);
        assert_eq!(
            sent(&steps),
            [Request::Release {
                token: 7,
                last: Some(6),
                upto: Some(6),
                until: None,
                handed: vec![],
            }]
        );
        assert!(sent(&l.poll(at(5000), true)).is_empty());
        assert_eq!(l.next_deadline(), None);
        assert_eq!(logs(&reply(&mut l, Reply::Done, 210)), ["lease released"]);
        // A leader that delivered nothing hands on what it found.
        let mut l = leader_at(0, Some(4));
        let steps = l.poll(at(200), true);
        assert_eq!(
            sent(&steps),
            [Request::Release {
                token: 7,
                last: None,
                upto: Some(4),
                until: None,
                handed: vec![],
            }]
        );
    }

    #[test]
    fn a_lease_heard_of_too_late_is_not_used() {
        let mut l = lease();
        l.poll(at(0), false);
        let steps = reply(&mut l, acquired(3, None, None), 1400);
        assert!(begin(&steps).is_none());
        assert!(logs(&steps)[0].contains("too late"));
        assert_eq!(l.role(), Role::Follower);
    }

    #[test]
    fn a_dead_helper_ends_the_term() {
        let mut l = leader_at(0, None);
        l.poll(at(500), false);
        let steps = l.on_helper_gone(at(600), "the lease helper exited");
        assert_eq!(steps[0], Step::End);
        assert_eq!(l.role(), Role::NoStore);
        // The new helper gets a fresh request, not the old one's reply.
        let stray = answer(&l, Reply::Done);
        assert!(l.on_reply(stray, at(401), wall(401)).is_err());
    }

    #[test]
    fn replies_that_do_not_fit_the_request_are_protocol_errors() {
        let mut l = lease();
        l.poll(at(0), false);
        let done = answer(&l, Reply::Done);
        assert!(l.on_reply(done, at(1), wall(1)).is_err());
    }

    #[test]
    fn a_reply_repeated_or_overtaken_is_not_taken_for_another_requests_answer() {
        // A record, then a renewal, in flight; the renewal has not reached Redis yet.
        let in_flight = |l: &mut Lease| {
            l.delivered(1);
            let record = numbers(&l.poll(at(100), false));
            let renew = numbers(&l.poll(at(500), false));
            assert_eq!(sent(&l.poll(at(500), false)), []);
            (record[0], renew[0])
        };
        let mut l = leader_at(0, None);
        let (record, renew) = in_flight(&mut l);
        assert!(renew > record);
        let done = |id| Numbered {
            id,
            message: Reply::Done,
        };
        // The record's answer arrives twice: the second is no answer to the renewal.
        assert!(l.on_reply(done(record), at(510), wall(510)).is_ok());
        let err = l.on_reply(done(record), at(510), wall(510)).unwrap_err();
        assert!(err.contains("where the answer to request"), "{err}");
        // The term still ends where the last renewal Redis carried out says.
        assert!(l.leads(at(1349)));
        assert!(!l.leads(at(1350)));
        assert!(!l.permits(14, at(1400)));
        // The renewal's answer before the record's: the same.
        let mut l = leader_at(0, None);
        let (_, renew) = in_flight(&mut l);
        assert!(l.on_reply(done(renew), at(510), wall(510)).is_err());
        assert!(!l.leads(at(1350)));
        // The master replaces such a helper, and the term ends at once.
        let steps = l.on_helper_gone(at(510), "the lease helper broke the protocol");
        assert_eq!(steps[0], Step::End);
        assert!(!l.leads(at(511)));
    }

    #[test]
    fn request_numbers_go_on_across_helpers() {
        let mut l = leader_at(0, None);
        let before = numbers(&l.poll(at(500), false));
        l.on_helper_gone(at(510), "the lease helper exited");
        // The answer to a request of the helper that died cannot pass for one to the next.
        let after = numbers(&l.poll(at(610), false));
        assert!(after[0] > before[0], "{before:?} {after:?}");
    }
}

/// Random runs of several instances that share one Redis: each master drives its lease as
/// `src/master/cluster.rs` does, each helper carries requests out one at a time as
/// `helper.rs` does, and Redis answers as the scripts of `store.rs` do. Between them, what
/// a deployment goes through: slow links both ways, a helper that gives up on a request
/// Redis carries out later anyway (after the requests that followed it), Redis unreachable
/// or restarted without its data, leases that run out, helpers that die, masters paused,
/// stopped, killed and restarted knowing nothing, pools with no free worker, and hosts whose
/// clocks disagree.
///
/// After every step: no process hands a tick number out twice, nor acts under a token lower
/// than one it acted under before, nor hands a tick out without leading. Across the
/// instances, no number goes out twice; while Redis keeps its data, a tick goes out only
/// under the token Redis holds, and ordered by number the tokens never go down.
/// `PROPTEST_CASES` sets how many runs (256 by default).
#[cfg(test)]
mod properties {
    use super::*;
    use crate::cluster::grid::Grid;
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;
    use std::collections::{BTreeMap, BTreeSet};

    const MS: u64 = 1_000_000;
    /// Unix time of true instant 0, in ns.
    const EPOCH_NS: u64 = 1_700_000_000 * 1_000_000_000;
    /// How far ahead of its due instant the master hands a tick to a free worker, at most.
    const HANDOFF_LEAD: u64 = 200_000;
    /// How long a master goes on after SIGTERM (its busy workers finishing).
    const STOPPING_FOR: u64 = 300 * MS;

    /// Redis, as `store.rs`'s scripts read and write it.
    #[derive(Debug, Clone, Default)]
    struct Redis {
        fence: Option<u64>,
        grid: Option<Grid>,
        last: Option<u64>,
        granted: Option<u64>,
        holder: Option<String>,
        /// The lease key: its value, and the true instant it expires at.
        lease: Option<(LeaseValue, u64)>,
    }

    /// What `<key>:lease` holds: `<token>:<host>:<pid>:<nonce>`, compared whole by every
    /// fenced script. The nonce is drawn by each helper process (`Store::new`): here, the
    /// helper's generation, which no other helper of the host shares.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct LeaseValue {
        token: u64,
        holder: String,
        nonce: u64,
    }

    impl Redis {
        fn value(&self, t: u64) -> Option<&LeaseValue> {
            self.lease
                .as_ref()
                .filter(|(_, until)| t < *until)
                .map(|(value, _)| value)
        }

        fn current(&self, t: u64) -> Option<u64> {
            self.value(t).map(|value| value.token)
        }

        fn lost(&self, t: u64) -> Reply {
            Reply::Lost {
                holder: self.current(t).map(|token| Holder {
                    token,
                    name: self.holder.clone(),
                }),
            }
        }

        /// What the helper of `me` whose nonce is `nonce` gets for `request`, carried out at
        /// true instant `t`; its host's wall clock said `wall` when it took the request.
        fn handle(
            &mut self,
            request: &Request,
            me: &str,
            nonce: u64,
            t: u64,
            wall: Duration,
            setup: &Setup,
        ) -> Reply {
            let mine = |token: u64| LeaseValue {
                token,
                holder: me.to_string(),
                nonce,
            };
            let fenced = |token: u64| self.value(t) == Some(&mine(token));
            match request {
                Request::Acquire { known } => self.acquire(known, mine, t, wall, setup),
                Request::Renew {
                    token, grant, last, ..
                } => {
                    if !fenced(*token) {
                        return self.lost(t);
                    }
                    self.lease = Some((mine(*token), t + setup.ttl_ns()));
                    if grant.is_some() {
                        self.granted = *grant;
                    }
                    if last.is_some() {
                        self.last = *last;
                    }
                    Reply::Done
                }
                Request::Record { token, last, .. } => {
                    if !fenced(*token) {
                        return self.lost(t);
                    }
                    if last.is_some() {
                        self.last = *last;
                    }
                    Reply::Done
                }
                Request::Release {
                    token, last, upto, ..
                } => {
                    if !fenced(*token) {
                        return self.lost(t);
                    }
                    if last.is_some() {
                        self.last = *last;
                    }
                    self.granted = *upto;
                    self.lease = None;
                    Reply::Done
                }
            }
        }

        /// The ACQUIRE script, then `Store::acquire`'s grid and SET_GRID.
        fn acquire(
            &mut self,
            known: &Known,
            mine: impl Fn(u64) -> LeaseValue,
            t: u64,
            wall: Duration,
            setup: &Setup,
        ) -> Reply {
            let stored = Known {
                fence: self.fence.unwrap_or(0),
                grid: self.grid,
                last: self.last,
                granted: self.granted,
                until: None,
            };
            if let Some((value, until)) = self.lease.as_ref().filter(|(_, until)| t < *until) {
                return Reply::Held {
                    holder: Holder {
                        token: value.token,
                        name: self.holder.clone(),
                    },
                    pttl_ms: Some((until - t) / MS),
                    seen: stored,
                };
            }
            let fresh = self.fence.is_none();
            let token = (self.fence.unwrap_or(0) + 1).max(known.fence + 1);
            self.fence = Some(token);
            let value = mine(token);
            self.holder = Some(value.holder.clone());
            self.lease = Some((value, t + setup.ttl_ns()));
            let last = stored.last.max(known.last);
            let granted = stored.granted.max(known.granted);
            let hold = if fresh { setup.ttl } else { Duration::ZERO };
            let (grid, settled) = grid::settle(
                stored.grid,
                known.grid,
                setup.interval,
                wall + hold + setup.interval,
                last.max(granted),
            );
            if settled != Settled::Kept || fresh {
                self.grid = Some(grid);
                if last.is_some() {
                    self.last = last;
                }
                if granted.is_some() {
                    self.granted = granted;
                }
            }
            Reply::Acquired {
                token,
                grid,
                settled,
                last,
                granted,
                fresh,
                until: None,
                named: vec![],
            }
        }
    }

    struct Setup {
        ttl: Duration,
        interval: Duration,
    }

    impl Setup {
        fn ttl_ns(&self) -> u64 {
            self.ttl.as_nanos() as u64
        }

        /// How long the helper waits for Redis (`Store::new`).
        fn timeout_ns(&self) -> u64 {
            (self.ttl / 3)
                .clamp(Duration::from_millis(100), Duration::from_secs(2))
                .as_nanos() as u64
        }

        fn respawn_ns(&self) -> u64 {
            (self.ttl / 3).min(Duration::from_secs(1)).as_nanos() as u64
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Life {
        Running,
        /// Takes no more ticks; exits at this true instant.
        Stopping(u64),
        Gone,
    }

    struct Instance {
        /// A restarted instance is another process, which knows nothing.
        process: usize,
        name: String,
        lease: Lease,
        life: Life,
        /// This host's monotonic clock is true time plus this.
        mono_offset: u64,
        /// Its wall clock is this many ms ahead of true time (behind, when negative).
        skew_ms: i64,
        paused_until: u64,
        /// No worker is free until then: the first tick due waits, the others are skipped.
        busy_until: u64,
        /// The next tick of the term and its due instant; none between terms.
        ticking: Option<(u64, Mono)>,
        waiting: Option<u64>,
        /// The highest token this process acted under (sent a request under, began a term
        /// with, handed a tick out under), and the token of its last term.
        acted: Option<u64>,
        begun: Option<u64>,
        handed: BTreeSet<u64>,
        helper: Helper,
        /// Replies read by nobody yet.
        inbox: VecDeque<Numbered<Reply>>,
    }

    struct Helper {
        /// Each helper started is another generation: a dead one's answers go nowhere.
        generation: u64,
        /// Until then the master has no helper, and asks nothing.
        back_at: u64,
        queue: VecDeque<Numbered<Request>>,
        busy: bool,
        /// How long a request takes to reach Redis, and its answer to come back.
        to_redis: u64,
        from_redis: u64,
        /// The next answer reaches the master twice; the one after it is held back to follow
        /// the next.
        repeat: bool,
        swap: bool,
        held_back: Option<Numbered<Reply>>,
    }

    enum Action {
        /// A request reaches Redis; its answer reaches the helper at `answered`, if it still
        /// waits for it then.
        Execute {
            host: usize,
            generation: u64,
            name: String,
            wall: Duration,
            request: Numbered<Request>,
            answered: Option<u64>,
        },
        /// An answer reaches the master (if it is still this helper's).
        Reply {
            host: usize,
            generation: u64,
            reply: Numbered<Reply>,
        },
        /// The helper is ready for the next request.
        Free { host: usize, generation: u64 },
        /// An answer held back arrives, if no other one overtook it meanwhile.
        Overtaken { host: usize, generation: u64 },
    }

    #[derive(Debug, Clone)]
    enum Fault {
        /// From now on, requests of this host take this long (ms) to reach Redis, and
        /// answers this long to come back.
        Latency(usize, u64, u64),
        /// SIGSTOP, and SIGCONT this many ms later.
        Pause(usize, u64),
        /// No worker free for this many ms.
        Busy(usize, u64),
        HelperDies(usize),
        /// SIGTERM: the master stops and releases the lease.
        Stop(usize),
        /// SIGKILL.
        Kill(usize),
        /// Another process in place of a gone one.
        Restart(usize),
        /// Redis unreachable for this many ms.
        RedisDown(u64),
        /// Redis restarts without its data.
        RedisLosesData,
        /// The next answer to this master arrives twice, or after the one that follows it:
        /// a socket pair does neither, a helper that misbehaves could. The lease must tell
        /// (by the request number the answer carries), or come to no harm.
        Repeat(usize),
        Swap(usize),
    }

    /// `losses` weighs Redis losing its data against the other faults (0: never).
    fn fault(hosts: usize, losses: u32) -> BoxedStrategy<Fault> {
        let host = 0..hosts;
        let latency = prop_oneof![3 => 0u64..5, 1 => 0u64..1000, 1 => 0u64..3000];
        let others = prop_oneof![
            4 => (host.clone(), latency.clone(), latency)
                .prop_map(|(h, to, from)| Fault::Latency(h, to, from)),
            3 => (host.clone(), 1u64..3000).prop_map(|(h, ms)| Fault::Pause(h, ms)),
            2 => (host.clone(), 1u64..3000).prop_map(|(h, ms)| Fault::Busy(h, ms)),
            1 => host.clone().prop_map(Fault::HelperDies),
            1 => host.clone().prop_map(Fault::Stop),
            1 => host.clone().prop_map(Fault::Kill),
            2 => host.clone().prop_map(Fault::Restart),
            1 => (1u64..5000).prop_map(Fault::RedisDown),
            1 => host.clone().prop_map(Fault::Repeat),
            1 => host.prop_map(Fault::Swap),
        ];
        if losses == 0 {
            return others.boxed();
        }
        prop_oneof![17 => others, losses => Just(Fault::RedisLosesData)].boxed()
    }

    struct World {
        setup: Setup,
        /// True time, in ns.
        now: u64,
        redis: Redis,
        redis_down_until: u64,
        lost_data: bool,
        renumbered: bool,
        hosts: Vec<Instance>,
        processes: usize,
        /// What happens next, by true instant (and order of scheduling).
        pending: BTreeMap<(u64, u64), Action>,
        scheduled: u64,
        /// Every tick number handed to a worker: by which process, under which token.
        handed: BTreeMap<u64, (usize, u64)>,
    }

    impl World {
        fn new(setup: Setup, clocks: &[(u64, i64)]) -> World {
            let mut world = World {
                setup,
                now: 0,
                redis: Redis::default(),
                redis_down_until: 0,
                lost_data: false,
                renumbered: false,
                hosts: vec![],
                processes: 0,
                pending: BTreeMap::new(),
                scheduled: 0,
                handed: BTreeMap::new(),
            };
            for (host, &(mono_offset, skew_ms)) in clocks.iter().enumerate() {
                let instance = world.process(host, mono_offset, skew_ms, 0);
                world.hosts.push(instance);
            }
            world
        }

        fn process(
            &mut self,
            host: usize,
            mono_offset: u64,
            skew_ms: i64,
            generation: u64,
        ) -> Instance {
            self.processes += 1;
            let name = format!("host-{host}:{}", self.processes);
            Instance {
                process: self.processes,
                lease: Lease::new(
                    Timing {
                        ttl: self.setup.ttl,
                    },
                    name.clone(),
                    Mono(self.now + mono_offset),
                ),
                name,
                life: Life::Running,
                mono_offset,
                skew_ms,
                paused_until: 0,
                busy_until: 0,
                ticking: None,
                waiting: None,
                acted: None,
                begun: None,
                handed: BTreeSet::new(),
                helper: Helper {
                    generation: generation + 1,
                    back_at: 0,
                    queue: VecDeque::new(),
                    busy: false,
                    to_redis: MS,
                    from_redis: MS,
                    repeat: false,
                    swap: false,
                    held_back: None,
                },
                inbox: VecDeque::new(),
            }
        }

        fn schedule(&mut self, at: u64, action: Action) {
            self.scheduled += 1;
            self.pending.insert((at, self.scheduled), action);
        }

        fn mono(&self, host: usize) -> Mono {
            Mono(self.now + self.hosts[host].mono_offset)
        }

        fn wall(&self, host: usize) -> Duration {
            let ns = i128::from(EPOCH_NS + self.now)
                + i128::from(self.hosts[host].skew_ms) * i128::from(MS);
            Duration::from_nanos(ns as u64)
        }

        fn redis_up(&self) -> bool {
            self.now >= self.redis_down_until
        }

        /// Whether the claims about numbers across instances apply: Redis kept its data, or
        /// the clocks agree and whoever took the lease from an empty Redis remembered the
        /// grid. A token given out twice after Redis lost its data is no exception: the lease
        /// value holds its holder too, so the old holder's fenced writes fail, and the new
        /// one, which found Redis empty, waits one ttl, past the old one's deadline.
        fn shared(&self) -> bool {
            !self.lost_data
                || !self.renumbered
                    && self
                        .hosts
                        .iter()
                        .all(|h| h.skew_ms.unsigned_abs() * 10 < self.setup.ttl.as_millis() as u64)
        }

        fn act(&mut self, host: usize, token: u64, what: &str) -> Result<(), TestCaseError> {
            let h = &mut self.hosts[host];
            prop_assert!(
                h.acted <= Some(token),
                "{} {what} under token {token} after acting under {:?}",
                h.name,
                h.acted
            );
            h.acted = Some(token);
            Ok(())
        }

        fn carry_out(&mut self, host: usize, steps: Vec<Step>) -> Result<(), TestCaseError> {
            for step in steps {
                match step {
                    Step::Send(request) => {
                        if let Request::Renew { token, .. }
                        | Request::Record { token, .. }
                        | Request::Release { token, .. } = &request.message
                        {
                            self.act(host, *token, &format!("sent {request:?}"))?;
                        }
                        self.hosts[host].helper.queue.push_back(request);
                    }
                    Step::Begin(begin) => {
                        let h = &self.hosts[host];
                        prop_assert!(
                            h.begun < Some(begin.token),
                            "{} began a term under token {} after one under {:?}",
                            h.name,
                            begin.token,
                            h.begun
                        );
                        self.act(host, begin.token, "began a term")?;
                        let h = &mut self.hosts[host];
                        h.begun = Some(begin.token);
                        h.waiting = None;
                        h.ticking = Some((begin.first, begin.first_due));
                    }
                    Step::End => {
                        let h = &mut self.hosts[host];
                        h.ticking = None;
                        h.waiting = None;
                    }
                    Step::Log(..) => {}
                }
            }
            Ok(())
        }

        fn hand_out(&mut self, host: usize, number: u64) -> Result<(), TestCaseError> {
            let now = self.mono(host);
            let h = &self.hosts[host];
            let token = h.lease.token();
            prop_assert!(
                h.lease.leads(now) && token.is_some(),
                "{} handed tick {number} out without leading",
                h.name
            );
            let token = token.unwrap_or_default();
            prop_assert_eq!(
                h.begun,
                Some(token),
                "{} hands out under another term's token",
                &h.name
            );
            self.act(host, token, &format!("handed tick {number} out"))?;
            let h = &mut self.hosts[host];
            prop_assert!(
                h.handed.insert(number),
                "{} handed tick {number} out twice",
                h.name
            );
            h.lease.delivered(number);
            let process = h.process;
            if self.shared()
                && let Some((by, under)) = self.handed.get(&number)
            {
                prop_assert!(
                    false,
                    "tick {number} handed out by process {by} under token {under}, and again by \
                     {} under token {token}",
                    self.hosts[host].name
                );
            }
            if !self.lost_data {
                // Nobody else can hold the lease: Redis lets it run out after the leader's
                // own deadline.
                prop_assert_eq!(
                    self.redis.current(self.now),
                    Some(token),
                    "{} handed tick {} out under token {}; Redis: {:?}",
                    &self.hosts[host].name,
                    number,
                    token,
                    self.redis.lease
                );
                let below = self.handed.range(..number).map(|(_, &(_, t))| t).max();
                let above = self.handed.range(number + 1..).map(|(_, &(_, t))| t).min();
                prop_assert!(
                    below.is_none_or(|t| t <= token) && above.is_none_or(|t| t >= token),
                    "tick {number} under token {token}: the highest token below it is {below:?}, \
                     the lowest above {above:?}"
                );
            }
            self.handed.entry(number).or_insert((process, token));
            Ok(())
        }

        fn helper_gone(&mut self, host: usize) -> Result<(), TestCaseError> {
            let now = self.mono(host);
            let back_at = self.now + self.setup.respawn_ns();
            let h = &mut self.hosts[host];
            // What the dead helper had sent to Redis is carried out; what it had not read
            // from the master, and what it would have answered, is lost.
            h.helper.generation += 1;
            h.helper.queue.clear();
            h.helper.busy = false;
            h.helper.held_back = None;
            h.helper.back_at = back_at;
            h.inbox.clear();
            let steps = h.lease.on_helper_gone(now, "the lease helper died");
            self.carry_out(host, steps)
        }

        /// The master's loop, once: the lease's deadlines and requests, the replies, ticks.
        fn run_master(&mut self, host: usize) -> Result<(), TestCaseError> {
            let h = &self.hosts[host];
            if h.life == Life::Gone || self.now < h.paused_until || self.now < h.helper.back_at {
                return Ok(());
            }
            if let Life::Stopping(exit_at) = h.life
                && self.now >= exit_at
            {
                self.exit(host);
                return Ok(());
            }
            let stopping = h.life != Life::Running;
            let now = self.mono(host);
            let steps = self.hosts[host].lease.poll(now, stopping);
            self.carry_out(host, steps)?;
            while let Some(reply) = self.hosts[host].inbox.pop_front() {
                let wall = self.wall(host);
                match self.hosts[host].lease.on_reply(reply, now, wall) {
                    Ok(steps) => self.carry_out(host, steps)?,
                    Err(_) => {
                        self.helper_gone(host)?;
                        return Ok(());
                    }
                }
                let steps = self.hosts[host].lease.poll(now, stopping);
                self.carry_out(host, steps)?;
            }
            if stopping {
                return Ok(());
            }
            let free = self.now >= self.hosts[host].busy_until;
            if free && let Some(number) = self.hosts[host].waiting.take() {
                self.hand_out(host, number)?;
            }
            while let Some((number, due)) = self.hosts[host].ticking {
                let h = &self.hosts[host];
                if due.0 > now.0 + HANDOFF_LEAD
                    || !(h.lease.leads(now) && h.lease.permits(number, due))
                {
                    break;
                }
                self.hosts[host].ticking = Some((number + 1, due + self.setup.interval));
                if free {
                    self.hand_out(host, number)?;
                } else if self.hosts[host].waiting.is_none() {
                    self.hosts[host].waiting = Some(number);
                }
            }
            Ok(())
        }

        /// When the master has something to do next, in true time, after `self.now`. A
        /// deadline that passed without anything to do is no reason to wake up: the master
        /// would spin until the next reply.
        fn wake(&self, host: usize) -> Option<u64> {
            let h = &self.hosts[host];
            if h.life == Life::Gone {
                return None;
            }
            if self.now < h.paused_until {
                return Some(h.paused_until);
            }
            if self.now < h.helper.back_at {
                return Some(h.helper.back_at);
            }
            let true_time = |at: Mono| at.0.saturating_sub(h.mono_offset);
            let mut at: Vec<u64> = vec![];
            at.extend(h.lease.next_deadline().map(true_time));
            if let Some((number, due)) = h.ticking
                && h.lease.permits(number, due)
            {
                at.push(true_time(due).saturating_sub(HANDOFF_LEAD));
            }
            if h.waiting.is_some() {
                at.push(h.busy_until);
            }
            if let Life::Stopping(exit_at) = h.life {
                at.push(exit_at);
            }
            at.into_iter().filter(|&at| at > self.now).min()
        }

        /// The helper takes its next request, if it is free and has one.
        fn serve(&mut self, host: usize) {
            let wall = self.wall(host);
            let timeout = self.setup.timeout_ns();
            let now = self.now;
            let h = &mut self.hosts[host];
            if h.helper.busy || now < h.helper.back_at {
                return;
            }
            let Some(request) = h.helper.queue.pop_front() else {
                return;
            };
            h.helper.busy = true;
            let generation = h.helper.generation;
            let name = h.name.clone();
            let reaches = now + h.helper.to_redis;
            let answered = reaches + h.helper.from_redis;
            if answered <= now + timeout {
                self.schedule(
                    reaches,
                    Action::Execute {
                        host,
                        generation,
                        name,
                        wall,
                        request,
                        answered: Some(answered),
                    },
                );
                self.schedule(answered, Action::Free { host, generation });
            } else {
                // It gives up; the request still reaches Redis, maybe after the next ones.
                let id = request.id;
                self.schedule(
                    reaches,
                    Action::Execute {
                        host,
                        generation,
                        name,
                        wall,
                        request,
                        answered: None,
                    },
                );
                self.schedule(
                    now + timeout,
                    Action::Reply {
                        host,
                        generation,
                        reply: Numbered {
                            id,
                            message: Reply::Failed {
                                error: "timed out".into(),
                            },
                        },
                    },
                );
                self.schedule(now + timeout, Action::Free { host, generation });
            }
        }

        fn perform(&mut self, action: Action) {
            match action {
                Action::Execute {
                    host,
                    generation,
                    name,
                    wall,
                    request,
                    answered,
                } => {
                    if let Request::Acquire { known } = &request.message
                        && known.grid.is_none()
                        && self.redis.fence.is_none()
                        && self.lost_data
                        && self.redis_up()
                    {
                        // Neither Redis nor this instance knows the grid: the numbering
                        // starts again at 0. The numbering goes on through an instance that
                        // remembers it, and this one does not.
                        self.renumbered = true;
                    }
                    let message = if self.redis_up() {
                        self.redis.handle(
                            &request.message,
                            &name,
                            generation,
                            self.now,
                            wall,
                            &self.setup,
                        )
                    } else {
                        Reply::Failed {
                            error: "Connection refused".into(),
                        }
                    };
                    let reply = Numbered {
                        id: request.id,
                        message,
                    };
                    if let Some(at) = answered {
                        self.schedule(
                            at,
                            Action::Reply {
                                host,
                                generation,
                                reply,
                            },
                        );
                    }
                }
                Action::Reply {
                    host,
                    generation,
                    reply,
                } => {
                    let h = &mut self.hosts[host];
                    if h.helper.generation == generation && h.life != Life::Gone {
                        if std::mem::take(&mut h.helper.swap) {
                            h.helper.held_back = Some(reply);
                            let at = self.now + 50 * MS;
                            self.schedule(at, Action::Overtaken { host, generation });
                            return;
                        }
                        if std::mem::take(&mut h.helper.repeat) {
                            h.inbox.push_back(reply.clone());
                        }
                        h.inbox.push_back(reply);
                        h.inbox.extend(h.helper.held_back.take());
                    }
                }
                Action::Free { host, generation } => {
                    let h = &mut self.hosts[host];
                    if h.helper.generation == generation {
                        h.helper.busy = false;
                    }
                }
                Action::Overtaken { host, generation } => {
                    let h = &mut self.hosts[host];
                    if h.helper.generation == generation && h.life != Life::Gone {
                        h.inbox.extend(h.helper.held_back.take());
                    }
                }
            }
        }

        fn exit(&mut self, host: usize) {
            let h = &mut self.hosts[host];
            h.life = Life::Gone;
            // Its helper sees the socket close and exits once it answered what it had read.
            h.helper.generation += 1;
            h.helper.queue.clear();
            h.helper.held_back = None;
            h.inbox.clear();
        }

        /// Runs everything up to true instant `until`: at each instant something happens
        /// at, the helpers take requests, what was due happens, and every master runs its
        /// loop once.
        fn run_until(&mut self, until: u64) -> Result<(), TestCaseError> {
            let mut rounds = (self.now, 0u32);
            loop {
                if rounds.0 == self.now {
                    rounds.1 += 1;
                    prop_assert!(
                        rounds.1 < 10_000,
                        "requests and replies go round without end at {} ns",
                        self.now
                    );
                } else {
                    rounds = (self.now, 0);
                }
                for host in 0..self.hosts.len() {
                    self.serve(host);
                }
                while let Some(entry) = self.pending.first_entry()
                    && entry.key().0 <= self.now
                {
                    let action = entry.remove();
                    self.perform(action);
                }
                for host in 0..self.hosts.len() {
                    self.run_master(host)?;
                    self.serve(host);
                }
                if self
                    .pending
                    .keys()
                    .next()
                    .is_some_and(|&(at, _)| at <= self.now)
                {
                    continue;
                }
                let next_action = self.pending.keys().next().map(|&(at, _)| at);
                let next_wake = (0..self.hosts.len()).filter_map(|h| self.wake(h)).min();
                match next_action.into_iter().chain(next_wake).min() {
                    Some(next) if next <= until => self.now = next,
                    _ => {
                        self.now = until;
                        return Ok(());
                    }
                }
            }
        }

        fn inject(&mut self, fault: Fault) -> Result<(), TestCaseError> {
            match fault {
                Fault::Latency(host, to, from) => {
                    let h = &mut self.hosts[host].helper;
                    h.to_redis = to * MS;
                    h.from_redis = from * MS;
                }
                Fault::Pause(host, ms) => {
                    let h = &mut self.hosts[host];
                    h.paused_until = h.paused_until.max(self.now + ms * MS);
                }
                Fault::Busy(host, ms) => {
                    let h = &mut self.hosts[host];
                    h.busy_until = h.busy_until.max(self.now + ms * MS);
                }
                Fault::HelperDies(host) => {
                    if self.hosts[host].life != Life::Gone {
                        self.helper_gone(host)?;
                    }
                }
                Fault::Stop(host) => {
                    if self.hosts[host].life == Life::Running {
                        self.hosts[host].life = Life::Stopping(self.now + STOPPING_FOR);
                        if self.now >= self.hosts[host].paused_until {
                            self.run_master(host)?;
                        }
                    }
                }
                Fault::Kill(host) => {
                    if self.hosts[host].life != Life::Gone {
                        self.exit(host);
                    }
                }
                Fault::Restart(host) => {
                    let h = &self.hosts[host];
                    if h.life == Life::Gone {
                        let (offset, skew, generation) =
                            (h.mono_offset, h.skew_ms, h.helper.generation);
                        self.hosts[host] = self.process(host, offset, skew, generation);
                    }
                }
                Fault::RedisDown(ms) => {
                    self.redis_down_until = self.redis_down_until.max(self.now + ms * MS);
                }
                Fault::RedisLosesData => {
                    self.redis = Redis::default();
                    self.lost_data = true;
                }
                Fault::Repeat(host) => self.hosts[host].helper.repeat = true,
                Fault::Swap(host) => self.hosts[host].helper.swap = true,
            }
            Ok(())
        }
    }

    fn clocks(hosts: usize, skew_ms: i64) -> impl Strategy<Value = Vec<(u64, i64)>> {
        proptest::collection::vec((0u64..1 << 40, -skew_ms..=skew_ms), hosts)
    }

    fn faults(hosts: usize, losses: u32) -> impl Strategy<Value = Vec<(u64, Fault)>> {
        proptest::collection::vec((0u64..3000, fault(hosts, losses)), 1..60)
    }

    fn run(
        ttl_ms: u64,
        interval_ms: u64,
        clocks: &[(u64, i64)],
        faults: Vec<(u64, Fault)>,
    ) -> Result<(), TestCaseError> {
        let setup = Setup {
            ttl: Duration::from_millis(ttl_ms),
            interval: Duration::from_millis(interval_ms),
        };
        let mut world = World::new(setup, clocks);
        for (gap_ms, fault) in faults {
            world.run_until(world.now + gap_ms * MS)?;
            world.inject(fault)?;
        }
        // Time for a last failover to settle.
        world.run_until(world.now + 3 * ttl_ms * MS)?;
        Ok(())
    }

    proptest! {
        #[test]
        fn while_redis_keeps_its_data_no_number_goes_out_twice_whatever_the_clocks_say(
            ttl_ms in 1000u64..3000,
            interval_ms in 10u64..400,
            clocks in clocks(3, 5000),
            faults in faults(3, 0),
        ) {
            run(ttl_ms, interval_ms, &clocks, faults)?;
        }

        #[test]
        fn when_redis_loses_its_data_the_numbering_goes_on_where_the_clocks_agree(
            ttl_ms in 1000u64..3000,
            interval_ms in 10u64..400,
            clocks in clocks(3, 50),
            faults in faults(3, 5),
        ) {
            run(ttl_ms, interval_ms, &clocks, faults)?;
        }
    }
}
