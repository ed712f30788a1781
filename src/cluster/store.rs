//! The Redis side of the lease: two keys and four Lua scripts, each one atomic.
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
//!   increments for its token), `holder` (`host:pid` of the leader), the grid (`start` in
//!   Unix nanoseconds, `base`, `interval` in nanoseconds), `last` (the last tick recorded
//!   as delivered) and `granted` (the highest number a leader may have delivered).
//!
//! Every write a leader makes is fenced: the script first checks that the lease still holds
//! its token. Numbers go to Redis as strings and come back as strings; the scripts do no
//! arithmetic on them (Lua's numbers are doubles). Runs in the lease helper only: the master
//! never links a connection to Redis into its loop.

use std::time::Duration;

use redis::{Client, Connection, RedisError, Script};

use super::grid::{self, Grid, Settled};
use super::wire::{Holder, Known, Reply, Request};
use crate::config::ClusterConfig;

/// Takes the lease if it is free: a new token from the counter (never below one this
/// instance has seen, so tokens keep growing across a Redis that lost its data).
/// KEYS: state, lease. ARGV: holder, ttl in ms, highest token known, the lease value's
/// part after the token.
const ACQUIRE: &str = r"
local f = redis.call('HMGET', KEYS[1], 'fence', 'start', 'base', 'interval', 'last', 'granted', 'holder')
local current = redis.call('GET', KEYS[2])
if current then
  return {'held', current, tostring(redis.call('PTTL', KEYS[2])), f[1], f[2], f[3], f[4], f[5], f[6], f[7]}
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
return {'acquired', tostring(token), fresh, f[1], f[2], f[3], f[4], f[5], f[6]}
";

/// A renewal (with a ttl) or a record (without): fenced writes of `granted` and `last`.
/// KEYS: state, lease. ARGV: lease value (token:holder), ttl in ms or '', granted or '', last or ''.
const FENCED: &str = r"
local current = redis.call('GET', KEYS[2])
if current ~= ARGV[1] then
  return {'lost', current, redis.call('HGET', KEYS[1], 'holder')}
end
if ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'granted', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'last', ARGV[4]) end
return {'ok'}
";

/// A new leader's grid, and what it restored, fenced.
/// KEYS: state, lease. ARGV: lease value (token:holder), start, base, interval, last or '', granted or ''.
const SET_GRID: &str = r"
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return {'lost', redis.call('GET', KEYS[2]), redis.call('HGET', KEYS[1], 'holder')}
end
redis.call('HSET', KEYS[1], 'start', ARGV[2], 'base', ARGV[3], 'interval', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'last', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'granted', ARGV[6]) end
return {'ok'}
";

/// Gives the lease up: the next leader goes on after `upto`, not after what was granted.
/// KEYS: state, lease. ARGV: lease value (token:holder), last or '', upto or ''.
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
redis.call('DEL', KEYS[2])
return {'ok'}
";

/// The two keys of one schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    pub state: String,
    pub lease: String,
}

impl Keys {
    pub fn new(key: &str) -> Keys {
        Keys {
            state: key.to_string(),
            lease: format!("{key}:lease"),
        }
    }
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
            timeout: (config.ttl / 3).clamp(Duration::from_millis(100), Duration::from_secs(2)),
            scripts: Scripts {
                acquire: Script::new(ACQUIRE),
                fenced: Script::new(FENCED),
                set_grid: Script::new(SET_GRID),
                release: Script::new(RELEASE),
            },
        })
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
            Request::Renew { token, grant, last } => {
                let fields = self.script(
                    |s| &s.fenced,
                    &[self.lease_value(*token), ttl_ms, opt(*grant), opt(*last)],
                )?;
                Ok(lost(&fields).unwrap_or(Reply::Done))
            }
            Request::Record { token, last } => {
                let fields = self.script(
                    |s| &s.fenced,
                    &[
                        self.lease_value(*token),
                        String::new(),
                        String::new(),
                        last.to_string(),
                    ],
                )?;
                Ok(lost(&fields).unwrap_or(Reply::Done))
            }
            Request::Release { token, last, upto } => {
                let fields = self.script(
                    |s| &s.release,
                    &[self.lease_value(*token), opt(*last), opt(*upto)],
                )?;
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
                    name: f.get(9).cloned().flatten(),
                },
                pttl_ms: pttl.and_then(|ms| u64::try_from(ms).ok()),
                seen: stored,
            });
        }
        let fresh = f.get(2).cloned().flatten().as_deref() == Some("1");
        let last = stored.last.max(known.last);
        let granted = stored.granted.max(known.granted);
        let hold = if fresh { self.ttl } else { Duration::ZERO };
        let (grid, settled) = grid::settle(
            stored.grid,
            known.grid,
            self.interval,
            wall + hold + self.interval,
            last.max(granted),
        );
        if settled != Settled::Kept || fresh {
            let fields = self.script(
                |s| &s.set_grid,
                &[
                    self.lease_value(token),
                    grid.start_ns.to_string(),
                    grid.base.to_string(),
                    grid.interval_ns.to_string(),
                    opt(last),
                    opt(granted),
                ],
            )?;
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
        })
    }
}
