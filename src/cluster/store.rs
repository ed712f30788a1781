//! The Redis side of the lease: three keys and four Lua scripts, each one atomic.
//!
//! - `<key>:lease` holds the leader's fencing token, its `host:pid` and a random number
//!   drawn when the helper started (`<token>:<host>:<pid>:<nonce>`), and expires after the
//!   ttl unless renewed. The holder is part of the value because a token alone is not
//!   unique: after Redis loses its data, the counter restarts from what the next instance
//!   has seen, which may be the token of a leader that is still running; with the token
//!   alone, that leader's renewals would match the new lease and two instances would lead.
//!   The nonce covers replicas whose `host:pid` is alike (containers with the same
//!   hostname, PHP as pid 1);
//! - `<key>` is a hash of what outlives leaders: `fence` (the counter each new leader
//!   increments for its token), `holder` (`host:pid` of the leader), the grid of `default`
//!   (`start` in Unix nanoseconds, `base`, `interval` in nanoseconds), `last` (the last tick
//!   of `default` recorded as delivered), `granted` (the highest number of `default` a
//!   leader may have delivered) and `until` (the latest instant, in Unix nanoseconds, of an
//!   occurrence of a named schedule a leader may have handed out);
//! - `<key>:schedules` is a hash with one field per named schedule (`ticker.schedules`, or
//!   declared in code): its anchor, as JSON, `{"def":"every 250000000","at":…,"next":…}`
//!   (`"every 250000000 phase 31700000"` with a jitter's phase)
//!   or `{"def":"cron Europe/Berlin 0 30 2 * * *",…}`: the occurrences after `at` (Unix
//!   nanoseconds) are numbered from `next` on, counted by `def` (see
//!   [`super::numbering`]). A new leader writes every schedule's anchor when it takes
//!   the lease; after that, only the schedules that handed an occurrence out are written,
//!   with the records of `last`.
//!
//! Every write a leader makes is fenced: the script first checks that the lease still holds
//! its token. Numbers go to Redis as strings and come back as strings; the scripts do no
//! arithmetic on them (Lua's numbers are doubles). Runs in the lease helper only: the master
//! never links a connection to Redis into its loop.

use std::time::Duration;

use redis::{Client, Connection, RedisError, Script};

use super::grid::{self, Grid, Settled};
use super::numbering::{self, Anchor, Recurrence, Resumed, Stored};
use super::wire::{Holder, Known, Reply, Request};
use crate::config::{CatchUp, ClusterConfig};
use crate::schedule::cron::{CronExpr, CronSchedule};
use crate::schedule::zone::Zone;

/// Takes the lease if it is free: a new token from the counter (never below one this
/// instance has seen, so tokens keep growing across a Redis that lost its data).
/// The named schedules' anchors come back only with the lease: a follower needs none.
/// KEYS: state, lease, schedules. ARGV: holder, ttl in ms, highest token known, the lease
/// value's part after the token.
const ACQUIRE: &str = r"
local f = redis.call('HMGET', KEYS[1], 'fence', 'start', 'base', 'interval', 'last', 'granted', 'holder', 'until')
local current = redis.call('GET', KEYS[2])
if current then
  return {'held', current, tostring(redis.call('PTTL', KEYS[2])), f[1], f[2], f[3], f[4], f[5], f[6], f[8], f[7]}
end
local fresh = '0'
if not f[1] then fresh = '1' end
local token = redis.call('HINCRBY', KEYS[1], 'fence', 1)
local floor = tonumber(ARGV[3])
if token <= floor then
  token = floor + 1
  redis.call('HSET', KEYS[1], 'fence', tostring(token))
end
redis.call('SET', KEYS[2], tostring(token) .. ':' .. ARGV[4], 'PX', ARGV[2])
redis.call('HSET', KEYS[1], 'holder', ARGV[1])
local reply = {'acquired', tostring(token), fresh, f[1], f[2], f[3], f[4], f[5], f[6], f[8]}
for _, v in ipairs(redis.call('HGETALL', KEYS[3])) do table.insert(reply, v) end
return reply
";

/// A renewal (with a ttl) or a record (without): fenced writes of `granted`, `last`,
/// `until` and the anchors of named schedules.
/// KEYS: state, lease, schedules. ARGV: lease value (token:holder), ttl in ms or '',
/// granted or '', last or '', until or '', then schedule name and anchor, pair by pair.
const FENCED: &str = r"
local current = redis.call('GET', KEYS[2])
if current ~= ARGV[1] then
  return {'lost', current, redis.call('HGET', KEYS[1], 'holder')}
end
if ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'granted', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'last', ARGV[4]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'until', ARGV[5]) end
for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
return {'ok'}
";

/// A new leader's grid, what it restored, and where each named schedule goes on, fenced.
/// KEYS: state, lease, schedules. ARGV: lease value (token:holder), start, base, interval,
/// last or '', granted or '', until or '', then schedule name and anchor, pair by pair.
const SET_GRID: &str = r"
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return {'lost', redis.call('GET', KEYS[2]), redis.call('HGET', KEYS[1], 'holder')}
end
redis.call('HSET', KEYS[1], 'start', ARGV[2], 'base', ARGV[3], 'interval', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'last', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'granted', ARGV[6]) end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'until', ARGV[7]) end
for i = 8, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
return {'ok'}
";

/// Gives the lease up: the next leader goes on after `upto` and `until`, not after what
/// was granted.
/// KEYS: state, lease, schedules. ARGV: lease value (token:holder), last or '', upto or '',
/// until or '', then schedule name and anchor, pair by pair.
const RELEASE: &str = r"
local current = redis.call('GET', KEYS[2])
if current ~= ARGV[1] then
  return {'lost', current, redis.call('HGET', KEYS[1], 'holder')}
end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'last', ARGV[2]) end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'granted', ARGV[3])
else
  redis.call('HDEL', KEYS[1], 'granted')
end
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'until', ARGV[4])
else
  redis.call('HDEL', KEYS[1], 'until')
end
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
redis.call('DEL', KEYS[2])
return {'ok'}
";

/// The three keys of one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    pub state: String,
    pub lease: String,
    pub schedules: String,
}

impl Keys {
    pub fn new(key: &str) -> Keys {
        Keys {
            state: key.to_string(),
            lease: format!("{key}:lease"),
            schedules: format!("{key}:schedules"),
        }
    }
}

/// A named schedule of this instance: its place in the config, its name, when it runs,
/// and whether a new leader makes up for what passed while no instance led.
#[derive(Debug, Clone)]
pub struct Named {
    pub id: u32,
    pub name: String,
    pub recurrence: Recurrence,
    pub catch_up: CatchUp,
}

struct Scripts {
    acquire: Script,
    fenced: Script,
    set_grid: Script,
    release: Script,
}

/// One connection to Redis, opened when needed and dropped at the first error.
pub struct Store {
    client: Client,
    connection: Option<Connection>,
    keys: Keys,
    /// `host:pid` of the master this helper serves.
    me: String,
    /// Drawn at start: tells this holder's lease from another's with the same `me`.
    nonce: u64,
    ttl: Duration,
    interval: Duration,
    /// The schedules beside `default`, each with an anchor in `<key>:schedules`.
    named: Vec<Named>,
    /// For connecting and for each command: a third of the ttl, within 100 ms and 2 s.
    timeout: Duration,
    scripts: Scripts,
}

/// A script's answer: `['ok']`, `['lost', token, holder]`, or the fields of a status.
type Fields = Vec<Option<String>>;

fn number(field: Option<&Option<String>>) -> Option<u64> {
    field?.as_deref()?.parse().ok()
}

/// The token of a lease value: `<token>:<holder>`, or a bare token as older versions
/// wrote it.
fn token_of(field: Option<&Option<String>>) -> Option<u64> {
    let value = field?.as_deref()?;
    value
        .split_once(':')
        .map_or(value, |(token, _)| token)
        .parse()
        .ok()
}

fn grid_of(start: Option<u64>, base: Option<u64>, interval: Option<u64>) -> Option<Grid> {
    match (start, base, interval) {
        (Some(start_ns), Some(base), Some(interval_ns)) if interval_ns > 0 => Some(Grid {
            start_ns,
            base,
            interval_ns,
        }),
        _ => None,
    }
}

fn opt(n: Option<u64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

/// A `lost` answer, or `None` for `ok`.
fn lost(fields: &Fields) -> Option<Reply> {
    (fields.first().and_then(Option::as_deref) == Some("lost")).then(|| Reply::Lost {
        holder: token_of(fields.get(1)).map(|token| Holder {
            token,
            name: fields.get(2).cloned().flatten(),
        }),
    })
}

fn describe(e: &RedisError) -> String {
    e.to_string()
}

impl Store {
    /// A store for `config`'s Redis; the client's own error when it cannot be made (the URL
    /// was checked when the config was read, so this is rare).
    pub fn new(
        config: &ClusterConfig,
        interval: Duration,
        me: String,
    ) -> Result<Store, RedisError> {
        let client = Client::open(config.redis.as_str())?;
        Ok(Store {
            client,
            connection: None,
            keys: Keys::new(&config.key),
            me,
            // RandomState's keys are random per process (drawn by std from the OS): a
            // random number without a dependency for it.
            nonce: std::hash::BuildHasher::hash_one(
                &std::collections::hash_map::RandomState::new(),
                0u8,
            ),
            ttl: config.ttl,
            interval,
            named: vec![],
            timeout: (config.ttl / 3).clamp(Duration::from_millis(100), Duration::from_secs(2)),
            scripts: Scripts {
                acquire: Script::new(ACQUIRE),
                fenced: Script::new(FENCED),
                set_grid: Script::new(SET_GRID),
                release: Script::new(RELEASE),
            },
        })
    }

    /// The schedules beside `default` whose numbering the cluster carries on.
    pub fn with_schedules(mut self, named: Vec<Named>) -> Store {
        self.named = named;
        self
    }

    /// Carries out one request; `wall` is the Unix time now.
    pub fn handle(&mut self, request: &Request, wall: Duration) -> Reply {
        match self.run(request, wall) {
            Ok(reply) => reply,
            Err(e) => {
                // The next request connects afresh.
                self.connection = None;
                Reply::Failed {
                    error: describe(&e),
                }
            }
        }
    }

    fn connection(&mut self) -> redis::RedisResult<&mut Connection> {
        if self.connection.is_none() {
            let connection = self.client.get_connection_with_timeout(self.timeout)?;
            connection.set_read_timeout(Some(self.timeout))?;
            connection.set_write_timeout(Some(self.timeout))?;
            self.connection = Some(connection);
        }
        Ok(self.connection.as_mut().expect("just connected"))
    }

    fn script(
        &mut self,
        which: fn(&Scripts) -> &Script,
        args: &[String],
    ) -> redis::RedisResult<Fields> {
        let keys = self.keys.clone();
        let script = which(&self.scripts).clone();
        let connection = self.connection()?;
        let mut invocation = script.key(&keys.state);
        invocation.key(&keys.lease);
        invocation.key(&keys.schedules);
        for arg in args {
            invocation.arg(arg);
        }
        invocation.invoke(connection)
    }

    /// What `<key>:lease` holds while this instance leads under `token`.
    fn lease_value(&self, token: u64) -> String {
        format!("{token}:{}", self.holder_part())
    }

    fn holder_part(&self) -> String {
        format!("{}:{:016x}", self.me, self.nonce)
    }

    fn run(&mut self, request: &Request, wall: Duration) -> redis::RedisResult<Reply> {
        let ttl_ms = self.ttl.as_millis().to_string();
        match request {
            Request::Acquire { known } => self.acquire(known, &ttl_ms, wall),
            Request::Renew {
                token,
                grant,
                last,
                until,
            } => {
                let fields = self.script(
                    |s| &s.fenced,
                    &[
                        self.lease_value(*token),
                        ttl_ms,
                        opt(*grant),
                        opt(*last),
                        opt(*until),
                    ],
                )?;
                Ok(lost(&fields).unwrap_or(Reply::Done))
            }
            Request::Record {
                token,
                last,
                handed,
            } => {
                let mut args = vec![
                    self.lease_value(*token),
                    String::new(),
                    String::new(),
                    opt(*last),
                    String::new(),
                ];
                args.extend(self.anchors(handed));
                let fields = self.script(|s| &s.fenced, &args)?;
                Ok(lost(&fields).unwrap_or(Reply::Done))
            }
            Request::Release {
                token,
                last,
                upto,
                until,
                handed,
            } => {
                let mut args = vec![
                    self.lease_value(*token),
                    opt(*last),
                    opt(*upto),
                    opt(*until),
                ];
                args.extend(self.anchors(handed));
                let fields = self.script(|s| &s.release, &args)?;
                Ok(lost(&fields).unwrap_or(Reply::Done))
            }
        }
    }

    fn acquire(
        &mut self,
        known: &Known,
        ttl_ms: &str,
        wall: Duration,
    ) -> redis::RedisResult<Reply> {
        let f = self.script(
            |s| &s.acquire,
            &[
                self.me.clone(),
                ttl_ms.to_string(),
                known.fence.to_string(),
                self.holder_part(),
            ],
        )?;
        let status = f.first().cloned().flatten().unwrap_or_default();
        let token = token_of(f.get(1)).unwrap_or(0);
        // The stored fields, after the status, the token and one more.
        let field = |i: usize| number(f.get(3 + i));
        let stored = Known {
            fence: field(0).unwrap_or(0),
            grid: grid_of(field(1), field(2), field(3)),
            last: field(4),
            granted: field(5),
            until: field(6),
        };
        if status == "held" {
            let pttl = f
                .get(2)
                .cloned()
                .flatten()
                .and_then(|t| t.parse::<i64>().ok());
            return Ok(Reply::Held {
                holder: Holder {
                    token,
                    name: f.get(10).cloned().flatten(),
                },
                pttl_ms: pttl.and_then(|ms| u64::try_from(ms).ok()),
                seen: stored,
            });
        }
        let fresh = f.get(2).cloned().flatten().as_deref() == Some("1");
        let last = stored.last.max(known.last);
        let granted = stored.granted.max(known.granted);
        let until = stored.until.max(known.until);
        let hold = if fresh { self.ttl } else { Duration::ZERO };
        let (grid, settled) = grid::settle(
            stored.grid,
            known.grid,
            self.interval,
            wall + hold + self.interval,
            last.max(granted),
        );
        // The schedules' anchors follow the ten fields of the state, as name and value.
        let anchors: Vec<(String, String)> = f
            .get(10..)
            .unwrap_or_default()
            .chunks(2)
            .filter_map(|pair| match pair {
                [Some(name), Some(value)] => Some((name.clone(), value.clone())),
                _ => None,
            })
            .collect();
        let from = u64::try_from((wall + hold).as_nanos()).unwrap_or(u64::MAX);
        let named: Vec<(u32, Resumed)> = self
            .named
            .iter()
            .map(|n| {
                let stored = anchors
                    .iter()
                    .find(|(name, _)| *name == n.name)
                    .and_then(|(_, value)| serde_json::from_str::<Stored>(value).ok());
                (n.id, resume(n, stored.as_ref(), until, from))
            })
            .collect();
        if settled != Settled::Kept || fresh || !named.is_empty() {
            let mut args = vec![
                self.lease_value(token),
                grid.start_ns.to_string(),
                grid.base.to_string(),
                grid.interval_ns.to_string(),
                opt(last),
                opt(granted),
                opt(until),
            ];
            let written: Vec<(u32, Anchor)> = named.iter().map(|(id, r)| (*id, r.anchor)).collect();
            args.extend(self.anchors(&written));
            let fields = self.script(|s| &s.set_grid, &args)?;
            if let Some(lost) = lost(&fields) {
                return Ok(lost);
            }
        }
        Ok(Reply::Acquired {
            token,
            grid,
            settled,
            last,
            granted,
            fresh,
            until,
            named,
        })
    }

    /// Schedule name and anchor, pair by pair, as the scripts take them.
    fn anchors(&self, handed: &[(u32, Anchor)]) -> Vec<String> {
        let mut args = vec![];
        for (id, anchor) in handed {
            if let Some(n) = self.named.iter().find(|n| n.id == *id) {
                let stored = Stored::new(&n.recurrence, *anchor);
                args.push(n.name.clone());
                args.push(serde_json::to_string(&stored).expect("plain data serializes"));
            }
        }
        args
    }
}

/// Where schedule `n` goes on from its anchor in Redis, counting the old leaders'
/// occurrences by the definition they counted by.
fn resume(n: &Named, stored: Option<&Stored>, until: Option<u64>, from: u64) -> Resumed {
    let Some(stored) = stored else {
        return numbering::resume(&n.recurrence, None, until, from, n.catch_up);
    };
    let theirs = (stored.def != n.recurrence.describe())
        .then(|| recurrence_of(&stored.def))
        .flatten();
    if theirs.is_none() && stored.def != n.recurrence.describe() {
        log::warn!(
            "schedule {}: Redis counts it by {:?}, which this instance cannot read; counted \
             by its own definition",
            n.name,
            stored.def
        );
    }
    numbering::resume(
        &n.recurrence,
        Some((stored.anchor(), theirs.as_ref())),
        until,
        from,
        n.catch_up,
    )
}

/// A definition as [`Recurrence::describe`] wrote it.
fn recurrence_of(def: &str) -> Option<Recurrence> {
    match def.split_once(' ')? {
        ("every", rest) => {
            let (every, phase) = match rest.split_once(" phase ") {
                Some((every, phase)) => (every, phase.parse().ok()?),
                None => (rest, 0),
            };
            Some(Recurrence::Every {
                every: Duration::from_nanos(every.parse().ok().filter(|&ns: &u64| ns > 0)?),
                phase: Duration::from_nanos(phase),
            })
        }
        ("cron", rest) => {
            let (zone, expr) = rest.split_once(' ')?;
            Some(Recurrence::Cron(Box::new(CronSchedule::new(
                CronExpr::parse(expr).ok()?,
                Zone::lookup(zone).ok()?,
            ))))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_definition_reads_back_as_it_was_written() {
        for every in [
            Recurrence::Every {
                every: Duration::from_millis(250),
                phase: Duration::ZERO,
            },
            Recurrence::Every {
                every: Duration::from_secs(1),
                phase: Duration::from_millis(317),
            },
        ] {
            let def = every.describe();
            assert_eq!(recurrence_of(&def).map(|r| r.describe()), Some(def));
        }
        assert!(recurrence_of("every 0").is_none());
        assert!(recurrence_of("every 5 phase soon").is_none());
    }
}
