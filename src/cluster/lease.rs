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
//! - When Redis held no state at all (a first start, or Redis lost its data), a new
//!   leader waits one ttl before its first tick: a leader from before has stopped by then.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::grid::{self, Settled};
use super::wire::{Holder, Known, Reply, Request};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Begin {
    pub token: u64,
    /// The first tick number of the term, and its due instant on this host.
    pub first: u64,
    pub first_due: Mono,
    /// Maps this host's monotonic instants to the grid's Unix times, for tick headers.
    pub clock: WallClock,
    /// Ticks nobody delivered since the last one recorded (a failover's gap).
    pub skipped: u64,
}

/// What the master must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Send(Request),
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
}

#[derive(Debug, Clone)]
enum State {
    Follower,
    NoStore,
    Leader(Term),
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
    },
    Record {
        token: u64,
        last: u64,
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
    sent: VecDeque<Sent>,
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
        self.sent.iter().any(Sent::is_lease_op)
    }

    fn record_in_flight(&self) -> bool {
        self.sent.iter().any(|s| matches!(s, Sent::Record { .. }))
    }

    /// The next instant [`Lease::poll`] has something to do at.
    pub fn next_deadline(&self) -> Option<Mono> {
        let mut at = vec![];
        if !matches!(self.state, State::Stopped) && !self.lease_op_in_flight() {
            at.push(self.next_at);
        }
        if let State::Leader(term) = &self.state {
            at.push(term.valid_until);
            if term.last > term.recorded && !self.record_in_flight() {
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
                    humantime::format_duration(self.timing.valid_for())
                ),
            ));
            self.state = State::Follower;
            self.next_at = now;
        }
        if stopping {
            if let State::Leader(term) = &self.state {
                steps.push(Step::End);
                steps.push(self.release(term.clone()));
            }
            self.state = State::Stopped;
            return steps;
        }
        if matches!(self.state, State::Stopped) {
            return steps;
        }
        if !self.lease_op_in_flight() && now >= self.next_at {
            let request = match &self.state {
                State::Leader(term) => {
                    let grant = term.grant_until(now + self.timing.valid_for());
                    self.sent.push_back(Sent::Renew {
                        at: now,
                        token: term.token,
                        grant,
                        last: term.last,
                    });
                    Request::Renew {
                        token: term.token,
                        grant,
                        last: term.last,
                    }
                }
                _ => {
                    self.sent.push_back(Sent::Acquire { at: now });
                    Request::Acquire {
                        known: self.known.clone(),
                    }
                }
            };
            steps.push(Step::Send(request));
        }
        let in_flight_last = self
            .sent
            .iter()
            .filter_map(|s| match s {
                Sent::Renew { last, .. } => *last,
                Sent::Record { last, .. } => Some(*last),
                _ => None,
            })
            .max();
        if let State::Leader(term) = &mut self.state
            && let Some(last) = term.last
            && term.last > term.recorded.max(in_flight_last)
            && now >= term.record_at
        {
            term.record_at = now + RECORD_EVERY;
            self.sent.push_back(Sent::Record {
                token: term.token,
                last,
            });
            steps.push(Step::Send(Request::Record {
                token: term.token,
                last,
            }));
        }
        steps
    }

    fn release(&mut self, term: Term) -> Step {
        self.sent.push_back(Sent::Release);
        Step::Send(Request::Release {
            token: term.token,
            last: term.last,
            upto: term.last.or(term.floor),
        })
    }

    /// The helper's reply to the oldest request in flight. An error means the helper
    /// broke the protocol.
    pub fn on_reply(
        &mut self,
        reply: Reply,
        now: Mono,
        wall: Duration,
    ) -> Result<Vec<Step>, String> {
        let sent = self
            .sent
            .pop_front()
            .ok_or_else(|| format!("a reply to no request: {reply:?}"))?;
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
                },
            ) => {
                self.known.learn(&Known {
                    fence: token,
                    grid: Some(grid),
                    last,
                    granted,
                });
                self.holder = Some(Holder {
                    token,
                    name: Some(self.me.clone()),
                });
                let floor = last.max(granted);
                let valid_until = at + self.timing.valid_for();
                if matches!(self.state, State::Stopped) {
                    let term = self.term(token, valid_until, floor, 0, now, grid.interval());
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
                // its own deadline, at most a ttl after its last renewal.
                let hold_until = if fresh { at + self.timing.ttl } else { now };
                let from = wall + hold_until.since(now);
                let first = grid::first_tick(&grid, floor, from);
                let first_due = now + grid.due(first).saturating_sub(wall);
                let skipped = grid::skipped_before(&grid, last, first);
                let mut term = self.term(token, valid_until, floor, first, now, grid.interval());
                term.first_due = first_due;
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
                            humantime::format_duration(self.timing.ttl)
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
                steps.push(Step::Begin(Begin {
                    token,
                    first,
                    first_due,
                    clock: WallClock::new(now, wall),
                    skipped,
                }));
                self.state = State::Leader(term);
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
                },
                Reply::Done,
            ) => {
                self.known.granted = self.known.granted.max(grant);
                self.known.last = self.known.last.max(last);
                if let State::Leader(term) = &mut self.state
                    && term.token == token
                {
                    term.valid_until = term.valid_until.max(at + self.timing.valid_for());
                    term.granted = term.granted.max(grant);
                    term.recorded = term.recorded.max(last);
                    self.next_at = at + self.timing.renew_every();
                }
            }
            (Sent::Record { token, last }, Reply::Done) => {
                self.known.last = self.known.last.max(Some(last));
                if let State::Leader(term) = &mut self.state
                    && term.token == token
                {
                    term.recorded = term.recorded.max(Some(last));
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
                    humantime::format_duration(MIN_BACKOFF),
                    humantime::format_duration(self.timing.max_backoff())
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
                    humantime::format_duration(round_ms(now.since(since)))
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
    let every = |ns: u64| humantime::format_duration(Duration::from_nanos(ns)).to_string();
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
                Step::Send(r) => Some(r.clone()),
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
            Step::Begin(b) => Some(*b),
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
        }
    }

    fn reply(lease: &mut Lease, reply: Reply, now_ms: u64) -> Vec<Step> {
        lease.on_reply(reply, at(now_ms), wall(now_ms)).unwrap()
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
                last: None
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
    fn a_leader_renews_every_third_of_the_ttl_and_grants_move_on() {
        let mut l = leader_at(0, None);
        assert!(sent(&l.poll(at(499), false)).is_empty());
        let steps = l.poll(at(500), false);
        assert_eq!(
            sent(&steps),
            [Request::Renew {
                token: 7,
                grant: Some(18),
                last: None
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
            },
            5010,
        );
        let b = begin(&steps).unwrap();
        // Nothing before 5000 + 1500 ms: tick 65 first.
        assert_eq!((b.first, b.first_due), (65, at(6500)));
        assert!(logs(&steps).iter().any(|t| t.contains("restored")));
        assert!(logs(&steps).iter().any(|t| t.contains("waits one ttl")));
        // The first renewal grants nothing: tick 65 is due after its deadline.
        let steps = l.poll(at(5010), false);
        assert_eq!(
            sent(&steps),
            [Request::Renew {
                token: 12,
                grant: None,
                last: None
            }]
        );
    }

    #[test]
    fn deliveries_are_recorded_fenced_between_renewals_at_most_every_10ms() {
        let mut l = leader_at(0, None);
        l.delivered(1);
        let steps = l.poll(at(100), false);
        assert_eq!(sent(&steps), [Request::Record { token: 7, last: 1 }]);
        l.delivered(2);
        assert!(sent(&l.poll(at(101), false)).is_empty(), "one in flight");
        reply(&mut l, Reply::Done, 102);
        assert!(sent(&l.poll(at(105), false)).is_empty(), "10 ms apart");
        assert_eq!(
            sent(&l.poll(at(110), false)),
            [Request::Record { token: 7, last: 2 }]
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
                last: Some(3)
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
                upto: Some(6)
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
                upto: Some(4)
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
        assert!(l.on_reply(Reply::Done, at(401), wall(401)).is_err());
    }

    #[test]
    fn replies_that_do_not_fit_the_request_are_protocol_errors() {
        let mut l = lease();
        l.poll(at(0), false);
        assert!(l.on_reply(Reply::Done, at(1), wall(1)).is_err());
    }
}
