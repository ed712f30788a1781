//! The `ticker` section: the keys this extension owns (`interval`, as RoadRunner's ticker
//! plugin has it, then `missed`, `overlap`, `metrics`, `control`, `cluster`, `timezone`,
//! `schedules` and `state_dir`) around RoadRunner's `pool` section.
//!
//! Every key here acts. An unknown key is an error that lists the accepted ones.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::cluster;
use super::roadrunner::{self, or_default};
use super::schedules::{
    self, CatchUp, DEFAULT_NAME, Defaults, ExecTtl, ScheduleConfig, ScheduleDefaults, When,
};
use super::table::{Acts, Table};
use super::values::GoDuration;
use super::{ConfigError, DEFAULT_INTERVAL, MIN_INTERVAL, Missed, TickerConfig};

/// What `ticker:` must be, for the message when it is not a mapping.
pub(super) const EXPECTING: &str = "a mapping with interval: and pool:";

pub(super) fn read(mut t: Table) -> Result<TickerConfig, ConfigError> {
    let interval_set = t.get::<GoDuration>("interval", Acts::Yes)?;
    let interval = or_default(interval_set, DEFAULT_INTERVAL);
    let interval = t.at_least("interval", interval, MIN_INTERVAL, "0 means 1s")?;
    let missed = t.get("missed", Acts::Yes)?.unwrap_or_default();
    let overlap = t.get("overlap", Acts::Yes)?.unwrap_or(true);
    let mut metrics = t.table_or_empty("metrics", "a mapping with address:")?;
    let address = metrics.get::<SocketAddr>("address", Acts::Yes)?;
    metrics.finish()?;
    let control = t
        .get::<PathBuf>("control", Acts::Yes)?
        .filter(|path| !path.as_os_str().is_empty());
    let pool = roadrunner::pool(t.table_or_empty("pool", roadrunner::POOL_EXPECTING)?)?;
    let cluster = t
        .table("cluster", cluster::EXPECTING)?
        .map(cluster::read)
        .transpose()?;
    let timezone = schedules::timezone(&mut t)?;
    let defaults = Defaults {
        missed,
        overlap,
        exec_ttl: pool.supervisor.exec_ttl,
    };
    let named = t.table("schedules", schedules::EXPECTING)?;
    // `interval` is the schedule named `default`, unless only named schedules are set.
    let default = (interval_set.is_some() || named.is_none()).then(|| ScheduleConfig {
        name: DEFAULT_NAME.to_string(),
        when: When::Every(interval),
        jitter: None,
        missed,
        overlap,
        exec_ttl: ExecTtl::Pool,
        paused: false,
        catch_up: CatchUp::None,
    });
    let mut all: Vec<ScheduleConfig> = default.into_iter().collect();
    if let Some(named) = named {
        let taken = all.first().map(|s| s.name.clone());
        all.extend(schedules::read(
            named,
            &defaults,
            timezone.as_ref(),
            taken.as_deref(),
        )?);
    }
    if all.is_empty() {
        return Err(t.error(
            "schedules",
            "is empty, and ticker.interval is not set: nothing would ever run; expected at \
             least one schedule, or ticker.interval",
        ));
    }
    if cluster.is_some() && missed == Missed::Delay {
        return Err(t.error(
            "missed",
            format!(
                "delay cannot be used with {}: delay moves one instance's grid after a late \
                 tick, and the instances of a cluster share one grid; expected skip or burst",
                t.key("cluster")
            ),
        ));
    }
    let state_dir = t
        .get::<PathBuf>("state_dir", Acts::Yes)?
        .filter(|path| !path.as_os_str().is_empty());
    let state_file = state_file(t.file(), state_dir);
    if cluster.is_some() {
        cluster::refuse_delay(t.file(), &all)?;
    }
    t.finish()?;
    Ok(TickerConfig {
        metrics: address,
        control,
        pool,
        cluster,
        timezone,
        schedules: all,
        schedule_defaults: ScheduleDefaults { missed, overlap },
        state_file,
    })
}

/// Where the last runs are kept: `ticker-state.<config file name>.json` (leading dots left
/// out: `ticker-state.rr.yaml.json`), so that pools of two config files share a directory
/// without sharing a file, in `state_dir` (relative to the config file's directory), else
/// in the config file's directory.
fn state_file(config: &Path, state_dir: Option<PathBuf>) -> PathBuf {
    let config_dir = match config.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let dir = match state_dir {
        Some(dir) => config_dir.join(dir),
        None => config_dir.to_path_buf(),
    };
    let name = match config.file_name() {
        Some(file) => format!(
            "ticker-state.{}.json",
            file.to_string_lossy().trim_start_matches('.')
        ),
        None => "ticker-state.json".to_string(),
    };
    dir.join(name)
}
