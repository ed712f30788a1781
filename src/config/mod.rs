//! The `.rr.yaml` file: where it is, what it says, and what is wrong with it.
//!
//! Validated once, here, into the typed structs below; everything after this module works
//! on typed values and never sees YAML. This module must not touch PHP, fork, sockets or
//! logging, so that all of it runs in plain Rust tests.
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | the typed config, and loading it: read, limits, parse, substitute, read the sections |
//! | `source.rs` | which file: `TICKER_CONFIG`, `ticker.config`, `./.rr.yaml` |
//! | `limits.rs` | the size and depth limits, checked before YAML parsing |
//! | `ticker.rs` | the `ticker` section: this extension's own keys |
//! | `cluster.rs` | `ticker.cluster`: the Redis lease that lets one of several instances tick |
//! | `schedules.rs` | `ticker.schedules` and `ticker.timezone`: named intervals and cron expressions |
//! | `roadrunner.rs` | RoadRunner's sections: `ticker.pool`, `server`, `logs`; its defaults |
//! | `table.rs` | reading one mapping: known and unknown keys, keys not acted on |
//! | `values.rs` | durations (Go's syntax, read and written), counts, addresses, commands, env maps, user and group names |
//! | `relay.rs` | the forms of `RR_RELAY` and `server.relay` (`pipes`, `tcp://…`, `unix://…`) |
//! | `env.rs` | `${VAR}`, `$VAR`, `${VAR:-default}` |
//! | `error.rs` | the one-line messages, and how much of a value they quote |
//!
//! A RoadRunner file works as it is: other plugins' sections are never read, every key
//! RoadRunner defines in the sections read here is accepted, and values are read as
//! RoadRunner reads them (`"4"` is a number where one is expected, `"true"` a boolean).
//! Keys the extension does not act on are listed in [`Config::not_acted_on`], and keys of
//! `server` and `logs` it does not know in [`Config::ignored`], for one warning at start.

mod cluster;
mod env;
mod error;
mod limits;
pub mod relay;
mod roadrunner;
mod schedules;
mod source;
pub(crate) mod table;
mod ticker;
mod values;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod schedules_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io::{self, Read as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use env::{Lookup, process_env};
pub use error::ConfigError;
pub use limits::{MAX_DEPTH, MAX_FILE_BYTES};
pub use schedules::{
    CatchUp, DECLARED_IN_CODE, DEFAULT_NAME, Declared, ExecTtl, MAX_NAME, ScheduleConfig,
    ScheduleDefaults, When, ZoneChoice, is_name,
};
pub use source::{DEFAULT_FILE, ENV_VAR, INI_SETTING, Source};
pub use values::{
    BadDuration, Command, DurationProblem, Megabytes, RedisUrl, Relay, format_duration,
    format_duration_coarse, parse_duration,
};

use crate::schedule::zone::Zone;
use table::{Reading, Table};

/// RoadRunner refuses pools larger than this.
pub const MAX_WORKERS: usize = 500;
/// Used when `ticker.interval` is missing or zero, as the Go plugin does.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
/// The shortest interval accepted: below it, the wake-up cost of a tick (a timer expiry, a
/// frame write and a context switch, tens of microseconds here) is most of the interval.
pub const MIN_INTERVAL: Duration = Duration::from_micros(100);
/// RoadRunner's default for the pool's allocate, reset, destroy and stream timeouts.
pub const DEFAULT_POOL_TIMEOUT: Duration = Duration::from_secs(60);
/// RoadRunner's default for `supervisor.watch_tick`.
pub const DEFAULT_WATCH_TICK: Duration = Duration::from_secs(5);
/// The shortest `supervisor.watch_tick` accepted. Every watch tick the master looks at
/// every worker and, with `max_worker_memory`, reads its `/proc/<pid>/statm` (about 10 µs
/// each): at this floor and the largest pool, 500 workers, that is 5 % of a core; below it
/// the master spends its time watching. The limits it checks (`ttl`, `idle_ttl`, memory)
/// are soft and need no finer grain; `exec_ttl` has exact deadlines of its own.
pub const MIN_WATCH_TICK: Duration = Duration::from_millis(100);
/// RoadRunner's default for `server.relay_timeout`.
pub const DEFAULT_RELAY_TIMEOUT: Duration = Duration::from_secs(60);
/// Used when `ticker.cluster.ttl` is missing or zero.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(5);
/// The shortest `ticker.cluster.ttl` accepted. The leader renews at a third of it and stops
/// ticking a tenth of it before it runs out: below a second, one slow round trip to Redis
/// or one busy moment of a loaded host would cost the lease.
pub const MIN_LEASE_TTL: Duration = Duration::from_secs(1);
/// RoadRunner's default for `server.on_init.exec_timeout`.
pub const DEFAULT_ON_INIT_TIMEOUT: Duration = Duration::from_secs(60);

/// The whole validated file: the `ticker`, `server` and `logs` sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub path: PathBuf,
    /// `None` when the file has no `ticker` key: the extension stays inert.
    pub ticker: Option<TickerConfig>,
    pub server: ServerConfig,
    pub logs: LogsConfig,
    /// Keys set in the file that RoadRunner defines and this extension accepts without
    /// acting on them, dotted (`server.relay`, `ticker.pool.command`), in reading order.
    pub not_acted_on: Vec<String>,
    /// Keys set in `server` and `logs` (RoadRunner's sections, shared with its other
    /// plugins) that this extension does not know: a newer RoadRunner's, or a typo. Let
    /// through, as RoadRunner lets them through.
    pub ignored: Vec<String>,
    /// Values read as RoadRunner reads them that the file may not mean so (a command
    /// string with shell syntax), each a line from its dotted key on, saying what to write
    /// instead.
    pub doubts: Vec<String>,
}

impl Config {
    /// The one warning a master logs at start about [`Config::not_acted_on`] and
    /// [`Config::ignored`]; `None` when every key set is acted on.
    pub fn not_acted_on_warning(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.not_acted_on.is_empty() {
            parts.push(format!(
                "RoadRunner keys accepted but not acted on by this extension: {}",
                self.not_acted_on.join(", ")
            ));
        }
        if !self.ignored.is_empty() {
            parts.push(format!(
                "keys this extension does not know, ignored: {}",
                self.ignored.join(", ")
            ));
        }
        (!parts.is_empty()).then(|| format!("config {}: {}", self.path.display(), parts.join("; ")))
    }

    /// Every warning a master logs at start: [`Config::not_acted_on_warning`], then one per
    /// doubt.
    pub fn warnings(&self) -> Vec<String> {
        self.not_acted_on_warning()
            .into_iter()
            .chain(
                self.doubts
                    .iter()
                    .map(|doubt| format!("config {}: {doubt}", self.path.display())),
            )
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickerConfig {
    /// Where to serve Prometheus metrics; `None` (the default) serves none.
    pub metrics: Option<SocketAddr>,
    /// The control socket's path (for `ticker status`); `None`: the default location.
    pub control: Option<PathBuf>,
    pub pool: PoolConfig,
    /// `ticker.cluster`: only the instance that holds a lease on Redis ticks. `None` (the
    /// default): this instance ticks on its own.
    pub cluster: Option<ClusterConfig>,
    /// `ticker.timezone`: the zone of cron schedules that name none.
    pub timezone: Option<Zone>,
    /// Every schedule, in the file's order, never empty: `ticker.interval` is the one named
    /// `default` (first, and there unless only `ticker.schedules` is set), then the
    /// schedules of `ticker.schedules`. `ticker.missed` and `ticker.overlap` are in each
    /// schedule that does not set its own.
    pub schedules: Vec<ScheduleConfig>,
    /// `ticker.missed` and `ticker.overlap`, for schedules the application declares in
    /// code ([`Declared`]).
    pub schedule_defaults: ScheduleDefaults,
    /// The file that keeps each schedule's last run, for `catch_up: once`: in
    /// `ticker.state_dir`, by default the config file's directory.
    pub state_file: PathBuf,
}

impl TickerConfig {
    /// Whether the last runs are kept in the state file: a schedule catches up at start,
    /// and the instance runs on its own (a cluster keeps them in Redis, where the next
    /// leader finds them).
    pub fn keeps_state(&self) -> bool {
        self.cluster.is_none() && self.schedules.iter().any(|s| s.catch_up == CatchUp::Once)
    }

    /// `ticker.interval`'s schedule, if the file has one.
    pub fn default_schedule(&self) -> Option<&ScheduleConfig> {
        self.schedules.first().filter(|s| s.name == DEFAULT_NAME)
    }

    /// `ticker.interval`: the interval of the `default` schedule, if there is one.
    pub fn interval(&self) -> Option<Duration> {
        match self.default_schedule()?.when {
            When::Every(every) => Some(every),
            When::Cron { .. } => None,
        }
    }

    /// The shortest time between two runs of one schedule: its interval, or a second for
    /// a cron schedule (the finest a cron expression names). What must stay well below the
    /// time between ticks (the doors' pacing) is sized from it.
    pub fn shortest_interval(&self) -> Duration {
        self.schedules
            .iter()
            .map(|s| match s.when {
                When::Every(every) => every,
                When::Cron { .. } => Duration::from_secs(1),
            })
            .min()
            .unwrap_or(DEFAULT_INTERVAL)
    }
}

/// `ticker.cluster`: several instances share one schedule through a lease on Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    pub redis: RedisUrl,
    /// The Redis key of the schedule (`<key>`) and of the lease (`<key>:lease`); by default
    /// `ticker:<name of the config file's directory>`.
    pub key: String,
    /// How long a lease lasts unless renewed; at least [`MIN_LEASE_TTL`].
    pub ttl: Duration,
}

impl Default for TickerConfig {
    fn default() -> Self {
        defaults(ticker::read)
    }
}

/// `ticker.missed`: the policy for ticks that come due while no worker may take them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Missed {
    /// One tick waits; later ones are dropped and counted (the default).
    #[default]
    Skip,
    /// One tick waits, and the grid restarts from its delivery: later ticks shift.
    Delay,
    /// Every missed tick waits (up to `pool.max_queue_size`) and runs as workers free up.
    Burst,
}

/// `ticker.pool`, with RoadRunner's defaults already applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Always from 1 to [`MAX_WORKERS`]; 0 in the file has been replaced by the CPU count.
    pub num_workers: usize,
    pub max_jobs: Option<u64>,
    pub max_queue_size: Option<u64>,
    pub allocate_timeout: Duration,
    pub reset_timeout: Duration,
    pub destroy_timeout: Duration,
    pub debug: bool,
    /// Set: workers are started from this command, as RoadRunner starts them (no shell).
    /// `None`: they are forked from the booted master. `server.command` never stands in
    /// for it: it is there for RoadRunner's other plugins.
    pub command: Option<Command>,
    pub supervisor: SupervisorConfig,
}

impl Default for PoolConfig {
    fn default() -> Self {
        defaults(roadrunner::pool)
    }
}

/// `ticker.pool.supervisor`; `None` means the limit is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisorConfig {
    /// At least [`MIN_WATCH_TICK`].
    pub watch_tick: Duration,
    pub ttl: Option<Duration>,
    pub idle_ttl: Option<Duration>,
    pub exec_ttl: Option<Duration>,
    /// RSS above which a worker is replaced.
    pub max_worker_memory: Option<Megabytes>,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        defaults(roadrunner::supervisor)
    }
}

/// The top-level `server` section. RoadRunner requires `command`; here nothing is
/// required, and `command` is checked but never acted on (RoadRunner's other plugins start
/// their workers from it; the ticker's pool is started from `ticker.pool.command`), as is
/// `after_init`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Names upper-cased, values as written (after substitution). Added to the
    /// environment of command-started workers.
    pub env: BTreeMap<String, String>,
    /// Always [`Relay::Pipes`] when `ticker.pool.command` is set (other relays are
    /// refused); not acted on for a forked pool.
    pub relay: Relay,
    /// How long a command-started worker has to answer the pid handshake.
    pub relay_timeout: Duration,
    /// The user workers (and `on_init`) run as, when the master runs as root. `None` when
    /// missing or empty.
    pub user: Option<String>,
    /// The group workers run as, instead of the user's own.
    pub group: Option<String>,
    /// Run once before the first worker starts.
    pub on_init: Option<OnInit>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        defaults(roadrunner::server)
    }
}

/// `server.on_init` (a command run once before the workers start) or `server.after_init`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnInit {
    pub command: Command,
    pub exec_timeout: Duration,
    /// Names upper-cased, values as written (after substitution).
    pub env: BTreeMap<String, String>,
    pub exit_on_error: bool,
    pub user: Option<String>,
}

/// The top-level `logs` section. Only `level` and `encoding` act; RoadRunner's other keys
/// are accepted and listed as not acted on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogsConfig {
    pub level: LogLevel,
    pub encoding: LogEncoding,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogEncoding {
    #[default]
    Console,
    Json,
}

/// A section read from nothing: its defaults.
fn defaults<T>(read: impl FnOnce(Table) -> Result<T, ConfigError>) -> T {
    let reading = Reading::new(Path::new(""), &|_| None);
    read(Table::empty(&reading, "")).expect("the defaults are valid")
}

/// Reads and parses the file, substituting from the process's environment. A missing file
/// is `Ok(None)` when the source is the default, and an error when explicit.
pub fn load(source: &Source) -> Result<Option<Config>, ConfigError> {
    let path = source.path();
    match read_file(path) {
        Ok(Some(text)) => parse(&text, path).map(Some),
        Ok(None) => Err(ConfigError::file(
            path,
            format!("{} ({})", limits::OverLimit::TooLarge, source.origin()),
        )),
        Err(err) if err.kind() == io::ErrorKind::NotFound && !source.is_explicit() => Ok(None),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Err(ConfigError::file(
            path,
            format!("file not found ({})", source.origin()),
        )),
        Err(err) => Err(ConfigError::file(
            path,
            format!("cannot be read: {err} ({})", source.origin()),
        )),
    }
}

/// The file's text; `None` when it is over [`MAX_FILE_BYTES`], which is never read whole.
fn read_file(path: &Path) -> io::Result<Option<String>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > MAX_FILE_BYTES {
        return Ok(None);
    }
    String::from_utf8(bytes).map(Some).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

/// Parses YAML text, substituting from the process's environment; `path` is only used in
/// messages and stored in `Config.path`.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    parse_with_env(text, path, &process_env)
}

/// [`parse`], with the environment given as a lookup.
pub fn parse_with_env(text: &str, path: &Path, env: Lookup) -> Result<Config, ConfigError> {
    limits::check(text).map_err(|over| ConfigError::file(path, over.to_string()))?;
    let mut value: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|err| ConfigError::yaml(path, &err))?;
    // Anchors and `<<:` merges are common in RoadRunner files; serde_yaml resolves anchors
    // but leaves merges to us.
    value
        .apply_merge()
        .map_err(|err| ConfigError::yaml(path, &err))?;
    let reading = Reading::new(path, env);
    let (ticker, server, logs): (Option<TickerConfig>, ServerConfig, LogsConfig) = {
        // Other top-level sections belong to other RoadRunner plugins: never read here.
        let mut root = Table::root(&reading, value)?;
        let ticker = root
            .table("ticker", ticker::EXPECTING)?
            .map(ticker::read)
            .transpose()?;
        let server =
            roadrunner::server(root.table_or_empty("server", roadrunner::SERVER_EXPECTING)?)?;
        let logs = roadrunner::logs(root.table_or_empty("logs", roadrunner::LOGS_EXPECTING)?)?;
        (ticker, server, logs)
    };
    let command_started = ticker.as_ref().is_some_and(|t| t.pool.command.is_some());
    if command_started && server.relay != Relay::Pipes {
        return Err(ConfigError::at(
            path,
            "server.relay",
            format!(
                "{} is not accepted with ticker.pool.command: command-started workers are \
                 linked over pipes (their stdin and stdout); expected pipes, or no relay",
                error::quote(&server.relay.to_string())
            ),
        ));
    }
    let (not_acted_on, ignored, doubts) = reading.into_unused(command_started);
    Ok(Config {
        path: path.to_path_buf(),
        ticker,
        server,
        logs,
        not_acted_on,
        ignored,
        doubts,
    })
}
