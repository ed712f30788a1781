//! `Ticker\Schedules`: schedules an application declares in code, beside its `.rr.yaml`.
//!
//! In the master, before the first `waitPayload()` starts the pool, `add()` reads a schedule
//! with the config's own rules ([`ticker::config::Declared`]: the same keys, defaults and
//! errors as an entry of `ticker.schedules`) and keeps it for the pool. Anywhere else it does
//! nothing: a command-started worker runs the same script, and an inert process runs no pool.

use std::sync::{Mutex, MutexGuard, PoisonError};

use ext_php_rs::flags::ClassFlags;
use ext_php_rs::prelude::*;
use ext_php_rs::types::{ArrayKey, ZendHashTable, Zval};
use serde_yaml::Value;

use super::exception::exception;
use ticker::config::{self, Declared, TickerConfig};
use ticker::role::Role;

/// The master's config with the schedules declared so far; `None` until the first `add()`.
static DECLARED: Mutex<Option<Declared>> = Mutex::new(None);

fn declared() -> MutexGuard<'static, Option<Declared>> {
    // PHP runs on one thread; a panic inside `add()` leaves the list as usable as before.
    DECLARED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The config the pool runs when the application declared schedules in code: the file's
/// with them. `None`: the file's as it is. Taken, not copied: it is asked for once, as the
/// pool starts, and `add()` refuses from then on.
pub fn take_declared() -> Option<TickerConfig> {
    declared().take().map(Declared::into_config)
}

#[php_class]
#[php(name = "Ticker\\Schedules")]
#[php(flags = ClassFlags::Final)]
pub struct Schedules;

#[php_impl]
impl Schedules {
    /// Adds a schedule named `name` to the pool this master runs, with `settings` as in
    /// `ticker.schedules` (`['cron' => '30 2 * * *', 'timezone' => 'Europe/Berlin']`). Throws
    /// `Ticker\Exception` with the config's message when they are refused, or when the pool
    /// runs already. Does nothing in a process that is not a master.
    pub fn add(name: String, settings: &ZendHashTable) -> PhpResult<()> {
        let Some(Role::Master { ticker, .. }) = super::startup_state().map(|s| &s.role) else {
            return Ok(());
        };
        if super::worker::pool_started() {
            return Err(exception(format!(
                "ticker: Ticker\\Schedules::add({name:?}) after the pool started; declare \
                 schedules before the first waitPayload()"
            )));
        }
        let value = mapping(settings).map_err(|problem| {
            exception(format!(
                "ticker: config {}: ticker.schedules.{name}{}: {problem}",
                config::DECLARED_IN_CODE,
                problem.at
            ))
        })?;
        // Added to in place: copying every schedule declared so far at each call made
        // 10,000 declarations take many minutes. A refused one leaves the list as it was.
        let mut declared = declared();
        declared
            .get_or_insert_with(|| Declared::new(TickerConfig::clone(ticker)))
            .add(&name, value, &config::process_env)
            .map_err(|e| exception(e.to_string()))
    }
}

/// A PHP value that has no place in a config: an object, a resource, a closure.
#[derive(Debug, thiserror::Error)]
#[error("a {kind} is not a config value; expected a string, a number, a boolean or an array")]
struct NotAValue {
    /// Where in the settings, dotted (`.env.0`).
    at: String,
    kind: String,
}

impl NotAValue {
    fn within(mut self, key: &str) -> NotAValue {
        self.at = format!(".{key}{}", self.at);
        self
    }
}

/// A PHP array as YAML would give it: string keys make a mapping, a list a sequence.
fn mapping(array: &ZendHashTable) -> Result<Value, NotAValue> {
    if array.has_sequential_keys() && !array.is_empty() {
        return array
            .iter()
            .enumerate()
            .map(|(i, (_, item))| value(item).map_err(|p| p.within(&i.to_string())))
            .collect::<Result<Vec<Value>, NotAValue>>()
            .map(Value::Sequence);
    }
    let mut map = serde_yaml::Mapping::new();
    for (key, item) in array.iter() {
        let key = match key {
            ArrayKey::Long(n) => n.to_string(),
            other => other.to_string(),
        };
        let item = value(item).map_err(|p| p.within(&key))?;
        map.insert(Value::String(key), item);
    }
    Ok(Value::Mapping(map))
}

fn value(zval: &Zval) -> Result<Value, NotAValue> {
    if zval.is_null() {
        return Ok(Value::Null);
    }
    if let Some(b) = zval.bool() {
        return Ok(Value::Bool(b));
    }
    if let Some(n) = zval.long() {
        return Ok(Value::Number(n.into()));
    }
    if let Some(f) = zval.double() {
        return Ok(Value::Number(f.into()));
    }
    if let Some(s) = zval.string() {
        return Ok(Value::String(s));
    }
    if let Some(array) = zval.array() {
        return mapping(array);
    }
    Err(NotAValue {
        at: String::new(),
        kind: zval.get_type().to_string(),
    })
}
