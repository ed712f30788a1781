//! The `ticker` section: the keys this extension owns (`interval`, as RoadRunner's ticker
//! plugin has it, then `missed`, `overlap`, `metrics`, `control` and `cluster`) around
//! RoadRunner's `pool` section.
//!
//! Every key here acts. An unknown key is an error that lists the accepted ones.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::cluster;
use super::roadrunner::{self, or_default};
use super::table::{Acts, Table};
use super::{ConfigError, DEFAULT_INTERVAL, MIN_INTERVAL, Missed, TickerConfig};

/// What `ticker:` must be, for the message when it is not a mapping.
pub(super) const EXPECTING: &str = "a mapping with interval: and pool:";

pub(super) fn read(mut t: Table) -> Result<TickerConfig, ConfigError> {
    let interval = or_default(t.get("interval", Acts::Yes)?, DEFAULT_INTERVAL);
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
    t.finish()?;
    Ok(TickerConfig {
        interval,
        missed,
        overlap,
        metrics: address,
        control,
        pool,
        cluster,
    })
}
