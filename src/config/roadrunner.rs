//! RoadRunner's sections as this extension reads them: the pool keys every RoadRunner
//! plugin shares (here under `ticker.pool`), `server`, and `logs`.
//!
//! Owns which of RoadRunner's keys exist, which ones the extension acts on ([`Acts`]),
//! RoadRunner's defaults, and its rule that a zero timeout means the default and a zero
//! limit means off. Every key RoadRunner defines in these sections is accepted; those not
//! acted on are still checked (so that a mistake shows now rather than when they come to
//! be used) and end up in the warning at start. A key RoadRunner does not define is an
//! error under `ticker.pool`, the section this extension's user writes; in `server` and
//! `logs`, which the project already has for RoadRunner, it is let through (as RoadRunner
//! lets it through) and named in that warning.

use std::num::NonZeroUsize;
use std::time::Duration;

use super::table::{Acts, Table};
use super::values::{
    Count, EnvMap, FromValue, GoDuration, GroupName, Megabytes, UserName, WorkerCount,
};
use super::{
    Command, ConfigError, DEFAULT_ON_INIT_TIMEOUT, DEFAULT_POOL_TIMEOUT, DEFAULT_RELAY_TIMEOUT,
    DEFAULT_WATCH_TICK, LogsConfig, MIN_WATCH_TICK, OnInit, PoolConfig, ServerConfig,
    SupervisorConfig,
};

pub(super) const POOL_EXPECTING: &str = "a mapping of pool settings such as num_workers:";
pub(super) const SERVER_EXPECTING: &str = "a mapping of server settings such as relay:";
pub(super) const LOGS_EXPECTING: &str = "a mapping of log settings such as level:";

/// A pool section.
pub(super) fn pool(mut t: Table) -> Result<PoolConfig, ConfigError> {
    let num_workers = match t.get("num_workers", Acts::Yes)? {
        Some(WorkerCount(n)) if n != 0 => n,
        _ => cpu_count(),
    };
    let max_jobs = count_or_off(t.get("max_jobs", Acts::Yes)?);
    let max_queue_size = count_or_off(t.get("max_queue_size", Acts::Yes)?);
    let allocate_timeout = or_default(t.get("allocate_timeout", Acts::Yes)?, DEFAULT_POOL_TIMEOUT);
    let reset_timeout = or_default(t.get("reset_timeout", Acts::Yes)?, DEFAULT_POOL_TIMEOUT);
    let destroy_timeout = or_default(t.get("destroy_timeout", Acts::Yes)?, DEFAULT_POOL_TIMEOUT);
    // Ticks are not streamed: this one never will act.
    t.get::<GoDuration>("stream_timeout", Acts::No)?;
    let debug = t.get("debug", Acts::Yes)?.unwrap_or(false);
    // Set, it switches the pool from forks of the master to workers started from it.
    let command = t.get("command", Acts::Yes)?;
    let supervisor =
        supervisor(t.table_or_empty("supervisor", "a mapping of supervisor limits such as ttl:")?)?;
    dynamic_allocator(t.table_or_empty(
        "dynamic_allocator",
        "a mapping with max_workers:, spawn_rate: and idle_timeout:",
    )?)?;
    t.finish()?;
    Ok(PoolConfig {
        num_workers,
        max_jobs,
        max_queue_size,
        allocate_timeout,
        reset_timeout,
        destroy_timeout,
        debug,
        command,
        supervisor,
    })
}

/// `pool.supervisor`.
pub(super) fn supervisor(mut t: Table) -> Result<SupervisorConfig, ConfigError> {
    let watch_tick = or_default(t.get("watch_tick", Acts::Yes)?, DEFAULT_WATCH_TICK);
    let watch_tick = t.at_least("watch_tick", watch_tick, MIN_WATCH_TICK, "0 means 5s")?;
    let ttl = off_if_zero(t.get("ttl", Acts::Yes)?);
    let idle_ttl = off_if_zero(t.get("idle_ttl", Acts::Yes)?);
    let exec_ttl = off_if_zero(t.get("exec_ttl", Acts::Yes)?);
    let max_worker_memory = t
        .get::<Megabytes>("max_worker_memory", Acts::Yes)?
        .filter(|mb| mb.megabytes() != 0);
    t.finish()?;
    Ok(SupervisorConfig {
        watch_tick,
        ttl,
        idle_ttl,
        exec_ttl,
        max_worker_memory,
    })
}

/// `pool.dynamic_allocator` (RoadRunner 2024.3): extra workers under load. Not acted on
/// yet, so nothing of it is kept.
fn dynamic_allocator(mut t: Table) -> Result<(), ConfigError> {
    t.get::<Count>("max_workers", Acts::No)?;
    t.get::<Count>("spawn_rate", Acts::No)?;
    t.get::<GoDuration>("idle_timeout", Acts::No)?;
    t.finish()
}

/// The top-level `server` section: how RoadRunner starts workers. `command` is for
/// RoadRunner's other plugins and never acts here (only `ticker.pool.command` starts workers
/// from a command); `env`, `relay` and `relay_timeout` act on command-started workers;
/// `user`, `group` and `on_init` on every pool.
pub(super) fn server(mut t: Table) -> Result<ServerConfig, ConfigError> {
    t.get::<Command>("command", Acts::No)?;
    let env = t
        .get::<EnvMap>("env", Acts::WithCommand)?
        .unwrap_or_default()
        .0;
    let relay = t.get("relay", Acts::WithCommand)?.unwrap_or_default();
    let relay_timeout = or_default(
        t.get("relay_timeout", Acts::WithCommand)?,
        DEFAULT_RELAY_TIMEOUT,
    );
    let user = non_empty(t.get("user", Acts::Yes)?.map(|UserName(name)| name));
    let group = non_empty(t.get("group", Acts::Yes)?.map(|GroupName(name)| name));
    let on_init = init_command(&mut t, "on_init", Acts::Yes)?;
    init_command(&mut t, "after_init", Acts::No)?;
    t.finish_ignoring_unknown();
    Ok(ServerConfig {
        env,
        relay,
        relay_timeout,
        user,
        group,
        on_init,
    })
}

/// `server.on_init` (acted on) or `server.after_init` (not yet): a command run once around
/// the pool's start.
fn init_command(
    server: &mut Table,
    name: &'static str,
    acts: Acts,
) -> Result<Option<OnInit>, ConfigError> {
    let Some(mut t) = server.table(name, "a mapping with command: and exec_timeout:")? else {
        return Ok(None);
    };
    let command = t.get::<Command>("command", acts)?;
    let exec_timeout = or_default(t.get("exec_timeout", acts)?, DEFAULT_ON_INIT_TIMEOUT);
    let env = t.get::<EnvMap>("env", acts)?.unwrap_or_default().0;
    let exit_on_error = t.get("exit_on_error", acts)?.unwrap_or(false);
    let user = non_empty(t.get("user", acts)?.map(|UserName(name)| name));
    let missing = t.error(
        "command",
        format!("is missing; expected {}", Command::FORMS),
    );
    t.finish_ignoring_unknown();
    let command = command.ok_or(missing)?;
    Ok(Some(OnInit {
        command,
        exec_timeout,
        env,
        exit_on_error,
        user,
    }))
}

/// The top-level `logs` section, which every RoadRunner plugin shares. `level` and
/// `encoding` act on the extension's own lines; the rest is RoadRunner's and taken as it is,
/// keys of versions this extension does not know included.
pub(super) fn logs(mut t: Table) -> Result<LogsConfig, ConfigError> {
    let level = t.get("level", Acts::Yes)?.unwrap_or_default();
    let encoding = t.get("encoding", Acts::Yes)?.unwrap_or_default();
    for name in [
        "mode",
        "output",
        "err_output",
        "line_ending",
        "skip_line_ending",
        "channels",
        "file_logger_options",
    ] {
        t.accept(name);
    }
    t.finish_ignoring_unknown();
    Ok(LogsConfig { level, encoding })
}

// RoadRunner treats a zero timeout as "use the default" and a zero limit as "off"; these
// helpers are the only places that rule lives.

pub(super) fn or_default(duration: Option<GoDuration>, default: Duration) -> Duration {
    match duration {
        Some(GoDuration(d)) if !d.is_zero() => d,
        _ => default,
    }
}

fn off_if_zero(duration: Option<GoDuration>) -> Option<Duration> {
    duration.map(|GoDuration(d)| d).filter(|d| !d.is_zero())
}

fn count_or_off(count: Option<Count>) -> Option<u64> {
    count.map(|Count(n)| n).filter(|&n| n != 0)
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// What `num_workers: 0` (or none) means.
pub(super) fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
}
