//! `ticker.cluster`: several instances of one application share one schedule through a lease
//! on Redis, and only the instance holding it ticks.
//!
//! Owns the section's keys (`redis`, `key`, `ttl`), their defaults and their checks, and
//! what a cluster refuses of the schedules (`missed: delay`). What the lease does is
//! [`crate::cluster`]'s; this module connects to nothing.

use std::path::Path;

use super::error::quote;
use super::roadrunner::or_default;
use super::table::{Acts, Table};
use super::values::REDIS_URL_FORMS;
use super::{
    ClusterConfig, ConfigError, DEFAULT_LEASE_TTL, DEFAULT_NAME, MIN_LEASE_TTL, Missed, RedisUrl,
    ScheduleConfig,
};

/// What `ticker.cluster:` must be, for the message when it is not a mapping.
pub(super) const EXPECTING: &str = "a mapping with redis:, key: and ttl:";

const KEY_FORMS: &str = "a Redis key such as ticker:myapp (no spaces or control characters)";

pub(super) fn read(mut t: Table) -> Result<ClusterConfig, ConfigError> {
    let redis = t.get::<RedisUrl>("redis", Acts::Yes)?;
    let key = t.get::<String>("key", Acts::Yes)?;
    let ttl = or_default(t.get("ttl", Acts::Yes)?, DEFAULT_LEASE_TTL);
    let ttl = t.at_least("ttl", ttl, MIN_LEASE_TTL, "0 means 5s")?;
    let missing = t.error("redis", format!("is missing; expected {REDIS_URL_FORMS}"));
    let key = match key {
        Some(key) if is_key(&key) => key,
        Some(key) => {
            return Err(t.error(
                "key",
                format!("{} is not accepted; expected {KEY_FORMS}", quote(&key)),
            ));
        }
        None => default_key(t.file()).ok_or_else(|| {
            t.error(
                "key",
                format!(
                    "is needed: the config file's directory has no name to make the default \
                     ticker:<directory> from; expected {KEY_FORMS}"
                ),
            )
        })?,
    };
    t.finish()?;
    Ok(ClusterConfig {
        redis: redis.ok_or(missing)?,
        key,
        ttl,
    })
}

/// A named schedule's own `missed: delay` is refused in a cluster, as `ticker.missed: delay`
/// is (`ticker.rs`): every instance must place a schedule's occurrences alike.
pub(super) fn refuse_delay(file: &Path, schedules: &[ScheduleConfig]) -> Result<(), ConfigError> {
    match schedules
        .iter()
        .find(|s| s.name != DEFAULT_NAME && s.missed == Missed::Delay)
    {
        Some(s) => Err(ConfigError::at(
            file,
            &format!("ticker.schedules.{}.missed", s.name),
            "delay cannot be used with ticker.cluster: delay moves one instance's grid after a \
             late run, and the instances of a cluster place every schedule's runs alike; \
             expected skip or burst",
        )),
        None => Ok(()),
    }
}

fn is_key(key: &str) -> bool {
    !key.is_empty() && !key.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// `ticker:<directory>`: replicas of one application deployed alike (the same path in every
/// container) share it without configuring anything.
fn default_key(file: &Path) -> Option<String> {
    let name = file.parent()?.file_name()?.to_str()?;
    let key = format!("ticker:{name}");
    is_key(&key).then_some(key)
}
