//! The `.rr.yaml` file: where it is, what it says, and what is wrong with it.
//!
//! This module owns locating the file, parsing and validating it once into the typed
//! structs below, and the one-line error messages. Everything after this module works on
//! typed values and never sees YAML. It must not touch PHP, fork, sockets or logging, so
//! that the whole of it can be tested as plain Rust.
//!
//! Parsing goes through `serde_yaml::Value` first, then through private `Raw*` structs with
//! `deny_unknown_fields`, and ends in [`RawRoot::into_config`], the one place where
//! RoadRunner's defaults and "0 means off" rules are applied. The leaf types (durations,
//! the worker count, commands, relays, env maps) check their own values while being
//! deserialized, so that `serde_path_to_error` can attach the dotted key to their message.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// RoadRunner refuses pools larger than this.
pub const MAX_WORKERS: usize = 500;
/// Used when `ticker.interval` is missing or zero, as the Go plugin does.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
/// RoadRunner's default for the pool's allocate, reset, destroy and stream timeouts.
pub const DEFAULT_POOL_TIMEOUT: Duration = Duration::from_secs(60);
/// RoadRunner's default for `supervisor.watch_tick`.
pub const DEFAULT_WATCH_TICK: Duration = Duration::from_secs(5);
/// RoadRunner's default for `server.on_init.exec_timeout`.
pub const DEFAULT_ON_INIT_TIMEOUT: Duration = Duration::from_secs(60);
/// The environment variable that names the config file.
pub const ENV_VAR: &str = "TICKER_CONFIG";
/// The INI setting that names the config file.
pub const INI_SETTING: &str = "ticker.config";
/// The file looked for in the current directory when nothing names one.
pub const DEFAULT_FILE: &str = ".rr.yaml";

const DURATION_FORMS: &str = "a number with a unit such as 250ms, 1s, 1m or 1m30s";
const WORKER_FORMS: &str = "an integer from 0 to 500 (0 means one per CPU)";
const COUNT_FORMS: &str = "an integer of 0 or more (0 means off)";
const COMMAND_FORMS: &str =
    "a command as a string such as \"php worker.php\" or a list such as [php, worker.php]";
const RELAY_FORMS: &str = "pipes, tcp://host:port or unix:///path/to/socket";
const ENV_VALUE_FORMS: &str = "a string, a number or a boolean";
const MISSED_FORMS: &str = "skip, delay or burst";
const ADDRESS_FORMS: &str = "host:port such as 127.0.0.1:2112, or :port for loopback";
const LEVEL_FORMS: &str = "debug, info, warn or error";
const ENCODING_FORMS: &str = "console or json";

/// The shortest interval accepted: below it, the wake-up cost of a tick (a timer expiry, a
/// frame write and a context switch, tens of microseconds here) is most of the interval.
pub const MIN_INTERVAL: Duration = Duration::from_micros(100);

// ---------------------------------------------------------------------------------------
// The typed configuration
// ---------------------------------------------------------------------------------------

/// The whole validated file. Only the `ticker` and `server` sections are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub path: PathBuf,
    /// `None` when the file has no `ticker` key: the extension stays inert.
    pub ticker: Option<TickerConfig>,
    pub server: ServerConfig,
    /// The top-level `logs` section, RoadRunner's shape.
    pub logs: LogsConfig,
}

impl Config {
    /// True when the file has a `ticker` section, even an empty one.
    pub fn is_enabled(&self) -> bool {
        self.ticker.is_some()
    }

    /// The command that starts a worker: `ticker.pool.command` overrides `server.command`,
    /// as in RoadRunner. `None` is normal here, because workers are forked.
    pub fn worker_command(&self) -> Option<&Command> {
        self.ticker
            .as_ref()
            .and_then(|ticker| ticker.pool.command.as_ref())
            .or(self.server.command.as_ref())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickerConfig {
    /// At least [`MIN_INTERVAL`].
    pub interval: Duration,
    /// What happens to ticks that come due while no worker is free.
    pub missed: Missed,
    /// Whether a tick may start while an earlier one still runs on another worker.
    /// RoadRunner's plugin runs one at a time (`overlap: false`).
    pub overlap: bool,
    /// Where to serve Prometheus metrics; `None` (the default) serves none.
    pub metrics: Option<SocketAddr>,
    /// The control socket's path (for `ticker status`); `None`: the default location.
    pub control: Option<PathBuf>,
    pub pool: PoolConfig,
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

/// The top-level `logs` section. Only `level` and `encoding` act; RoadRunner's other keys
/// (`mode`, `output`, `err_output`, `line_ending`, `channels`, `file_logger_options`) are
/// accepted so that a RoadRunner file loads, and do nothing here.
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

impl Default for TickerConfig {
    fn default() -> Self {
        RawTicker::default()
            .into_config(Path::new(""))
            .expect("the defaults are valid")
    }
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
    pub stream_timeout: Duration,
    pub debug: bool,
    pub command: Option<Command>,
    pub supervisor: SupervisorConfig,
}

impl Default for PoolConfig {
    fn default() -> Self {
        RawPool::default().into_config()
    }
}

/// `ticker.pool.supervisor`; `None` means the limit is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisorConfig {
    pub watch_tick: Duration,
    pub ttl: Option<Duration>,
    pub idle_ttl: Option<Duration>,
    pub exec_ttl: Option<Duration>,
    /// From the key `max_worker_memory`, in megabytes of RSS.
    pub max_worker_memory_mb: Option<u64>,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        RawSupervisor::default().into_config()
    }
}

/// The top-level `server` section. RoadRunner requires `command`; we fork, so nothing here
/// is required.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerConfig {
    pub command: Option<Command>,
    /// Names upper-cased; values as written (see [`expand_env`]).
    pub env: BTreeMap<String, String>,
    pub relay: Relay,
    /// `None` when missing or empty.
    pub user: Option<String>,
    pub group: Option<String>,
    pub on_init: Option<OnInit>,
}

/// `server.on_init`: a command run once before the workers start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnInit {
    pub command: Command,
    pub exec_timeout: Duration,
    /// Names upper-cased; values as written.
    pub env: BTreeMap<String, String>,
    pub exit_on_error: bool,
}

/// A program and its arguments; never empty. A string in the file is split on whitespace
/// with no shell quoting, as RoadRunner does; use the list form for arguments with spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command(pub Vec<String>);

impl Command {
    pub fn program(&self) -> &str {
        &self.0[0]
    }

    pub fn args(&self) -> &[String] {
        &self.0[1..]
    }
}

/// How a worker talks to the master. Its `Display` is the form RoadRunner puts in
/// `RR_RELAY`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Relay {
    #[default]
    Pipes,
    /// `host:port`, without the `tcp://`.
    Tcp(String),
    /// The socket path, without the `unix://`; relative paths are kept relative.
    Unix(PathBuf),
}

impl fmt::Display for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Relay::Pipes => f.write_str("pipes"),
            Relay::Tcp(address) => write!(f, "tcp://{address}"),
            Relay::Unix(path) => write!(f, "unix://{}", path.display()),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Where the file is
// ---------------------------------------------------------------------------------------

/// Where the config comes from, in order of precedence: the environment variable
/// TICKER_CONFIG, then the INI setting `ticker.config`, then `./.rr.yaml` in the current
/// directory. Empty strings count as unset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Env(PathBuf),
    Ini(PathBuf),
    Default(PathBuf),
}

impl Source {
    /// Relative paths are resolved against `cwd`, so that the path in messages and in
    /// `Config.path` stays right even if the process changes directory later.
    pub fn locate(env: Option<&str>, ini: Option<&str>, cwd: &Path) -> Source {
        let set = |value: Option<&str>| value.filter(|v| !v.trim().is_empty()).map(|v| cwd.join(v));
        if let Some(path) = set(env) {
            Source::Env(path)
        } else if let Some(path) = set(ini) {
            Source::Ini(path)
        } else {
            Source::Default(cwd.join(DEFAULT_FILE))
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            Source::Env(path) | Source::Ini(path) | Source::Default(path) => path,
        }
    }

    /// True when the user named the file, so that its absence is an error.
    pub fn is_explicit(&self) -> bool {
        !matches!(self, Source::Default(_))
    }

    /// What chose the file, for `php --ri` and messages.
    pub fn describe(&self) -> String {
        match self {
            Source::Env(_) => ENV_VAR.to_string(),
            Source::Ini(_) => format!("ini {INI_SETTING}"),
            Source::Default(_) => format!("default ./{DEFAULT_FILE}"),
        }
    }

    fn origin(&self) -> String {
        if self.is_explicit() {
            format!("named by {}", self.describe())
        } else {
            format!("the {}", self.describe())
        }
    }
}

/// Reads and parses the file. A missing file is `Ok(None)` when the source is the default,
/// and an error when explicit.
pub fn load(source: &Source) -> Result<Option<Config>, ConfigError> {
    let path = source.path();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, path).map(Some),
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

/// Parses YAML text; `path` is only used in messages and stored in `Config.path`.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let mut value: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|err| ConfigError::yaml(path, &err))?;
    // Anchors and `<<:` merges are common in RoadRunner files; serde_yaml resolves anchors
    // but leaves merges to us.
    value
        .apply_merge()
        .map_err(|err| ConfigError::yaml(path, &err))?;
    let raw: RawRoot = match value {
        serde_yaml::Value::Null => RawRoot::default(),
        serde_yaml::Value::Mapping(_) => {
            serde_path_to_error::deserialize(value).map_err(|err| ConfigError::serde(path, &err))?
        }
        _ => {
            return Err(ConfigError::file(
                path,
                "the top level is not a mapping; expected sections such as ticker: and server:",
            ));
        }
    };
    raw.into_config(path)
}

/// Expands `${VAR}` and `$VAR` (names of letters, digits and `_`, not starting with a
/// digit). Unset variables expand to nothing, like Go's `os.ExpandEnv`; a `$` that does not
/// start a name is kept. RoadRunner's `${VAR:-default}` is not supported.
pub fn expand_env(value: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let (name, skip) = match after.strip_prefix('{') {
            Some(braced) => match braced.find('}') {
                Some(end) if name_len(&braced[..end]) == end && end > 0 => {
                    (&braced[..end], end + 2)
                }
                _ => ("", 0),
            },
            None => {
                let len = name_len(after);
                (&after[..len], len)
            }
        };
        if name.is_empty() {
            out.push('$');
            rest = after;
        } else {
            out.push_str(&lookup(name).unwrap_or_default());
            rest = &after[skip..];
        }
    }
    out.push_str(rest);
    out
}

/// Length of the variable name at the start of `s`.
fn name_len(s: &str) -> usize {
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        return 0;
    }
    s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len())
}

fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// A problem with the config file. Displays as one line:
/// `ticker: config <file>: <dotted.key>: <value> <problem>; expected <accepted forms>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    path: PathBuf,
    /// Dotted, e.g. `ticker.pool.num_workers`; `None` for problems with the whole file.
    key: Option<String>,
    /// The value as written, the problem and the accepted forms, already in one sentence:
    /// the leaf deserializers can only hand a string through serde.
    detail: String,
}

impl ConfigError {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    fn file(path: &Path, detail: impl Into<String>) -> Self {
        ConfigError {
            path: path.to_path_buf(),
            key: None,
            detail: detail.into(),
        }
    }

    fn at(path: &Path, key: &str, detail: impl Into<String>) -> Self {
        ConfigError {
            key: Some(key.to_string()),
            ..ConfigError::file(path, detail)
        }
    }

    fn yaml(path: &Path, err: &serde_yaml::Error) -> Self {
        let message = err.to_string();
        let detail = match err.location() {
            Some(at) => {
                // serde_yaml puts the position inside its message; move it to the front so
                // every YAML error reads the same way.
                let position = format!("line {} column {}", at.line(), at.column());
                let message = message.replacen(&format!(" at {position}"), "", 1);
                format!("invalid YAML at {position}: {message}")
            }
            None => format!("invalid YAML: {message}"),
        };
        ConfigError::file(path, detail)
    }

    fn serde(path: &Path, err: &serde_path_to_error::Error<serde_yaml::Error>) -> Self {
        let message = err.inner().to_string();
        // serde's wording is "unknown field `x`, expected one of `a`, `b`"; the path
        // already names `x`.
        let detail = match message.strip_prefix("unknown field `") {
            Some(rest) => {
                let accepted = rest.split_once("`, ").map_or("", |(_, accepted)| accepted);
                // Every odd piece between backticks is a key name.
                let keys: Vec<&str> = accepted.split('`').skip(1).step_by(2).collect();
                match keys.as_slice() {
                    [] => "unknown key; expected no keys here".to_string(),
                    [only] => format!("unknown key; expected {only}"),
                    _ => format!("unknown key; expected one of {}", keys.join(", ")),
                }
            }
            None => message,
        };
        match err.path().to_string() {
            key if key == "." => ConfigError::file(path, detail),
            key => ConfigError::at(path, &key, detail),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = format!("ticker: config {}: ", self.path.display());
        if let Some(key) = &self.key {
            line.push_str(key);
            line.push_str(": ");
        }
        line.push_str(&self.detail);
        // Library messages and odd paths may carry newlines; the log wants one line.
        f.write_str(
            &line
                .split(['\n', '\r'])
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" "),
        )
    }
}

impl std::error::Error for ConfigError {}

/// The message of a bad value, as the leaf deserializers hand it to serde.
fn invalid<E: de::Error>(value: impl fmt::Display, problem: &str, expected: &str) -> E {
    E::custom(format_args!("{value} {problem}; expected {expected}"))
}

// ---------------------------------------------------------------------------------------
// The file as written
// ---------------------------------------------------------------------------------------

/// Other top-level keys belong to other RoadRunner plugins and are ignored.
#[derive(Deserialize, Default)]
struct RawRoot {
    // The outer Option tells a missing `ticker` key (plugin off) from `ticker:` with
    // nothing under it, which YAML reads as null. We treat the latter as "on, with all
    // defaults": the user wrote the section, and RoadRunner's own defaults make a working
    // pool.
    #[serde(default, deserialize_with = "present")]
    ticker: Option<Option<RawTicker>>,
    server: Option<RawServer>,
    logs: Option<RawLogs>,
}

#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping of log settings such as level:"
)]
struct RawLogs {
    level: Option<Choice<LogLevel>>,
    encoding: Option<Choice<LogEncoding>>,
    // Accepted for RoadRunner files; not acted on, hence never read.
    #[allow(dead_code)]
    mode: Option<serde_yaml::Value>,
    #[allow(dead_code)]
    output: Option<serde_yaml::Value>,
    #[allow(dead_code)]
    err_output: Option<serde_yaml::Value>,
    #[allow(dead_code)]
    line_ending: Option<serde_yaml::Value>,
    #[allow(dead_code)]
    channels: Option<serde_yaml::Value>,
    #[allow(dead_code)]
    file_logger_options: Option<serde_yaml::Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "a mapping with address:")]
struct RawMetrics {
    address: Option<Address>,
}

fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::deserialize(deserializer).map(Some)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "a mapping with interval: and pool:")]
struct RawTicker {
    interval: Option<GoDuration>,
    missed: Option<Choice<Missed>>,
    overlap: Option<bool>,
    metrics: Option<RawMetrics>,
    control: Option<PathBuf>,
    pool: Option<RawPool>,
}

#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping of pool settings such as num_workers:"
)]
struct RawPool {
    num_workers: Option<WorkerCount>,
    max_jobs: Option<Count>,
    max_queue_size: Option<Count>,
    allocate_timeout: Option<GoDuration>,
    reset_timeout: Option<GoDuration>,
    destroy_timeout: Option<GoDuration>,
    stream_timeout: Option<GoDuration>,
    debug: Option<bool>,
    command: Option<Command>,
    supervisor: Option<RawSupervisor>,
}

#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping of supervisor limits such as ttl:"
)]
struct RawSupervisor {
    watch_tick: Option<GoDuration>,
    ttl: Option<GoDuration>,
    idle_ttl: Option<GoDuration>,
    exec_ttl: Option<GoDuration>,
    max_worker_memory: Option<Count>,
}

#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping of server settings such as relay:"
)]
struct RawServer {
    command: Option<Command>,
    env: Option<Env>,
    relay: Option<Relay>,
    user: Option<String>,
    group: Option<String>,
    on_init: Option<RawOnInit>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with command: and exec_timeout:"
)]
struct RawOnInit {
    command: Option<Command>,
    exec_timeout: Option<GoDuration>,
    env: Option<Env>,
    exit_on_error: Option<bool>,
}

// RoadRunner treats a zero timeout as "use the default" and a zero limit as "off"; these
// two helpers are the only places that rule lives.
fn or_default(duration: Option<GoDuration>, default: Duration) -> Duration {
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

impl RawRoot {
    fn into_config(self, path: &Path) -> Result<Config, ConfigError> {
        Ok(Config {
            path: path.to_path_buf(),
            ticker: self
                .ticker
                .map(|ticker| ticker.unwrap_or_default().into_config(path))
                .transpose()?,
            server: match self.server {
                Some(server) => server.into_config(path)?,
                None => ServerConfig::default(),
            },
            logs: self.logs.unwrap_or_default().into_config(),
        })
    }
}

impl RawTicker {
    fn into_config(self, path: &Path) -> Result<TickerConfig, ConfigError> {
        let interval = or_default(self.interval, DEFAULT_INTERVAL);
        if interval < MIN_INTERVAL {
            return Err(ConfigError::at(
                path,
                "ticker.interval",
                format!(
                    "{interval:?} is below the shortest interval of {MIN_INTERVAL:?}; \
                     expected {DURATION_FORMS}, of 100us or more (0 means 1s)"
                ),
            ));
        }
        Ok(TickerConfig {
            interval,
            missed: self.missed.map_or_else(Missed::default, |Choice(m)| m),
            overlap: self.overlap.unwrap_or(true),
            metrics: self
                .metrics
                .and_then(|metrics| metrics.address)
                .map(|Address(a)| a),
            control: self.control.filter(|p| !p.as_os_str().is_empty()),
            pool: self.pool.unwrap_or_default().into_config(),
        })
    }
}

impl RawLogs {
    fn into_config(self) -> LogsConfig {
        LogsConfig {
            level: self.level.map_or_else(LogLevel::default, |Choice(l)| l),
            encoding: self
                .encoding
                .map_or_else(LogEncoding::default, |Choice(e)| e),
        }
    }
}

impl RawPool {
    fn into_config(self) -> PoolConfig {
        PoolConfig {
            num_workers: match self.num_workers {
                Some(WorkerCount(n)) if n != 0 => n,
                _ => cpu_count(),
            },
            max_jobs: count_or_off(self.max_jobs),
            max_queue_size: count_or_off(self.max_queue_size),
            allocate_timeout: or_default(self.allocate_timeout, DEFAULT_POOL_TIMEOUT),
            reset_timeout: or_default(self.reset_timeout, DEFAULT_POOL_TIMEOUT),
            destroy_timeout: or_default(self.destroy_timeout, DEFAULT_POOL_TIMEOUT),
            stream_timeout: or_default(self.stream_timeout, DEFAULT_POOL_TIMEOUT),
            debug: self.debug.unwrap_or(false),
            command: self.command,
            supervisor: self.supervisor.unwrap_or_default().into_config(),
        }
    }
}

impl RawSupervisor {
    fn into_config(self) -> SupervisorConfig {
        SupervisorConfig {
            watch_tick: or_default(self.watch_tick, DEFAULT_WATCH_TICK),
            ttl: off_if_zero(self.ttl),
            idle_ttl: off_if_zero(self.idle_ttl),
            exec_ttl: off_if_zero(self.exec_ttl),
            max_worker_memory_mb: count_or_off(self.max_worker_memory),
        }
    }
}

impl RawServer {
    fn into_config(self, path: &Path) -> Result<ServerConfig, ConfigError> {
        Ok(ServerConfig {
            command: self.command,
            env: self.env.unwrap_or_default().0,
            relay: self.relay.unwrap_or_default(),
            user: non_empty(self.user),
            group: non_empty(self.group),
            on_init: self
                .on_init
                .map(|on_init| on_init.into_config(path))
                .transpose()?,
        })
    }
}

impl RawOnInit {
    fn into_config(self, path: &Path) -> Result<OnInit, ConfigError> {
        let command = self.command.ok_or_else(|| {
            ConfigError::at(
                path,
                "server.on_init.command",
                format!("is missing; expected {COMMAND_FORMS}"),
            )
        })?;
        Ok(OnInit {
            command,
            exec_timeout: or_default(self.exec_timeout, DEFAULT_ON_INIT_TIMEOUT),
            env: self.env.unwrap_or_default().0,
            exit_on_error: self.exit_on_error.unwrap_or(false),
        })
    }
}

// ---------------------------------------------------------------------------------------
// Leaf types: each checks its value and words its own message
// ---------------------------------------------------------------------------------------

/// A duration written the Go way, as RoadRunner reads it.
struct GoDuration(Duration);

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = GoDuration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(DURATION_FORMS)
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<GoDuration, E> {
                parse_go_duration(text)
                    .map(GoDuration)
                    .map_err(|problem| invalid(format_args!("{text:?}"), &problem, DURATION_FORMS))
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<GoDuration, E> {
                match n {
                    0 => Ok(GoDuration(Duration::ZERO)),
                    _ => Err(unitless(n)),
                }
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<GoDuration, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(unitless(n)),
                }
            }

            fn visit_f64<E: de::Error>(self, n: f64) -> Result<GoDuration, E> {
                Err(unitless(n))
            }
        }
        deserializer.deserialize_any(V)
    }
}

fn unitless<E: de::Error>(n: impl fmt::Display) -> E {
    invalid(
        n,
        "is a number without a unit, which is ambiguous",
        DURATION_FORMS,
    )
}

/// A duration in `.rr.yaml`'s syntax (Go's), for front ends that take one outside the file
/// (the C ABI, and through it PHP's FFI). The error names the value and the accepted forms.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    parse_go_duration(text)
        .map_err(|problem| format!("{text:?} {problem}; expected {DURATION_FORMS}"))
}

const GO_UNITS: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000), // U+00B5 micro sign
    ("μs", 1_000), // U+03BC Greek mu; Go accepts both
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Go's `time.ParseDuration`, without negative values. Written here rather than with
/// humantime because humantime accepts units Go rejects (`d`, `w`, `min`, spaces) and
/// rejects forms Go accepts (`.5s`, `μs`, fractions finer than a nanosecond). Returns the
/// problem, worded to follow the value in a message.
fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let unsigned = text.strip_prefix('+').unwrap_or(text);
    if unsigned.starts_with('-') {
        return Err("is negative".into());
    }
    if unsigned == "0" {
        return Ok(Duration::ZERO);
    }
    if unsigned.is_empty() {
        return Err("is not a duration".into());
    }
    let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let too_large = || "is too large".to_string();
    let mut nanos: u128 = 0;
    let mut rest = unsigned;
    while !rest.is_empty() {
        let (whole, after) = rest.split_at(digits(rest));
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => after.split_at(digits(after)),
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err("is not a duration".into());
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(if after.is_empty() {
                "has a number without a unit"
            } else {
                "is not a duration"
            }
            .into());
        }
        let Some(&(_, scale)) = GO_UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(format!("has an unknown unit {unit:?}"));
        };
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_large())?
        };
        // Digits beyond the 18th are below a nanosecond even for hours; Go drops them too.
        let fraction = &fraction[..fraction.len().min(18)];
        let fraction_nanos = match fraction.parse::<u128>() {
            Ok(f) => f * scale / 10u128.pow(fraction.len() as u32),
            Err(_) => 0,
        };
        nanos = whole
            .checked_mul(scale)
            .and_then(|n| n.checked_add(fraction_nanos))
            .and_then(|n| n.checked_add(nanos))
            .ok_or_else(too_large)?;
        rest = after;
    }
    // Go keeps durations in an i64 of nanoseconds (about 292 years).
    let nanos = u64::try_from(nanos)
        .ok()
        .filter(|&n| n <= i64::MAX as u64)
        .ok_or_else(too_large)?;
    Ok(Duration::from_nanos(nanos))
}

/// A word from a fixed set, for enum-valued keys.
trait Word: Sized + 'static {
    const FORMS: &'static str;
    fn from_word(word: &str) -> Option<Self>;
}

impl Word for Missed {
    const FORMS: &'static str = MISSED_FORMS;
    fn from_word(word: &str) -> Option<Self> {
        match word {
            "skip" => Some(Missed::Skip),
            "delay" => Some(Missed::Delay),
            "burst" => Some(Missed::Burst),
            _ => None,
        }
    }
}

impl Word for LogLevel {
    const FORMS: &'static str = LEVEL_FORMS;
    fn from_word(word: &str) -> Option<Self> {
        match word {
            "debug" => Some(LogLevel::Debug),
            "info" => Some(LogLevel::Info),
            "warn" | "warning" => Some(LogLevel::Warn),
            // RoadRunner's levels above error only ever log errors here.
            "error" | "dpanic" | "panic" | "fatal" => Some(LogLevel::Error),
            _ => None,
        }
    }
}

impl Word for LogEncoding {
    const FORMS: &'static str = ENCODING_FORMS;
    fn from_word(word: &str) -> Option<Self> {
        match word {
            "console" => Some(LogEncoding::Console),
            "json" => Some(LogEncoding::Json),
            _ => None,
        }
    }
}

struct Choice<T>(T);

impl<'de, T: Word> Deserialize<'de> for Choice<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_yaml::Value::deserialize(deserializer)?;
        let word = value.as_str().map(str::to_ascii_lowercase);
        match word.as_deref().and_then(T::from_word) {
            Some(choice) => Ok(Choice(choice)),
            None => Err(invalid(
                serde_yaml::to_string(&value)
                    .unwrap_or_default()
                    .trim_end()
                    .replace('\n', " "),
                "is not accepted",
                T::FORMS,
            )),
        }
    }
}

/// A TCP address to listen on. `:port` means loopback: a metrics endpoint is bound to the
/// network only when the user names a host.
struct Address(SocketAddr);

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let full = match text.strip_prefix(':') {
            Some(port) => format!("127.0.0.1:{port}"),
            None => text.replace("localhost:", "127.0.0.1:"),
        };
        full.parse()
            .map(Address)
            .map_err(|_| invalid(format_args!("{text:?}"), "is not an address", ADDRESS_FORMS))
    }
}

/// `num_workers` as written: 0 to [`MAX_WORKERS`], 0 meaning one per CPU. Strings such as
/// `"4"` are refused, so that a typo in quoting does not silently change meaning.
struct WorkerCount(usize);

impl<'de> Deserialize<'de> for WorkerCount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = WorkerCount;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(WORKER_FORMS)
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<WorkerCount, E> {
                match usize::try_from(n) {
                    Ok(n) if n <= MAX_WORKERS => Ok(WorkerCount(n)),
                    _ => Err(invalid(n, "is out of range", WORKER_FORMS)),
                }
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<WorkerCount, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(invalid(n, "is negative", WORKER_FORMS)),
                }
            }

            fn visit_f64<E: de::Error>(self, n: f64) -> Result<WorkerCount, E> {
                Err(invalid(n, "is not an integer", WORKER_FORMS))
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<WorkerCount, E> {
                Err(invalid(format_args!("{s:?}"), "is a string", WORKER_FORMS))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A limit where 0 means off: `max_jobs`, `max_queue_size`, `max_worker_memory`.
struct Count(u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Count;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(COUNT_FORMS)
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Count, E> {
                Ok(Count(n))
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Count, E> {
                u64::try_from(n)
                    .map(Count)
                    .map_err(|_| invalid(n, "is negative", COUNT_FORMS))
            }

            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Count, E> {
                Err(invalid(n, "is not an integer", COUNT_FORMS))
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Count, E> {
                Err(invalid(format_args!("{s:?}"), "is a string", COUNT_FORMS))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Command;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(COMMAND_FORMS)
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Command, E> {
                let words: Vec<String> = s.split_whitespace().map(String::from).collect();
                if words.is_empty() {
                    return Err(invalid(
                        format_args!("{s:?}"),
                        "is an empty command",
                        COMMAND_FORMS,
                    ));
                }
                Ok(Command(words))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Command, A::Error> {
                let mut words = Vec::new();
                while let Some(word) = seq.next_element::<String>()? {
                    words.push(word);
                }
                // Later arguments may legitimately be empty strings; the program may not.
                if words
                    .first()
                    .is_none_or(|program| program.trim().is_empty())
                {
                    return Err(invalid(
                        format_args!("{words:?}"),
                        "has no program",
                        COMMAND_FORMS,
                    ));
                }
                Ok(Command(words))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Relay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Relay;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(RELAY_FORMS)
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Relay, E> {
                parse_relay(s)
                    .ok_or_else(|| invalid(format_args!("{s:?}"), "is not a relay", RELAY_FORMS))
            }
        }
        deserializer.deserialize_str(V)
    }
}

fn parse_relay(s: &str) -> Option<Relay> {
    if s == "pipes" {
        return Some(Relay::Pipes);
    }
    if let Some(address) = s.strip_prefix("tcp://") {
        let (host, port) = address.rsplit_once(':')?;
        let valid = !host.is_empty() && port.parse::<u16>().is_ok_and(|port| port != 0);
        return valid.then(|| Relay::Tcp(address.to_string()));
    }
    let path = s.strip_prefix("unix://")?;
    (!path.is_empty()).then(|| Relay::Unix(PathBuf::from(path)))
}

/// An `env` map: names upper-cased as RoadRunner does, scalar values kept as text.
#[derive(Default)]
struct Env(BTreeMap<String, String>);

impl<'de> Deserialize<'de> for Env {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Env;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of variable names to values")
            }

            fn visit_unit<E: de::Error>(self) -> Result<Env, E> {
                Ok(Env::default())
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Env, A::Error> {
                let mut env = BTreeMap::new();
                while let Some((name, EnvValue(value))) = map.next_entry::<String, EnvValue>()? {
                    if name.is_empty() || name.contains(['=', '\0']) {
                        return Err(invalid(
                            format_args!("{name:?}"),
                            "is not a variable name",
                            "a name without \"=\" such as APP_ENV",
                        ));
                    }
                    if env.insert(name.to_uppercase(), value).is_some() {
                        return Err(invalid(
                            format_args!("{name:?}"),
                            "names a variable already set (names are upper-cased)",
                            "each name once",
                        ));
                    }
                }
                Ok(Env(env))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Go reads env values into strings, so `PORT: 8080` and `DEBUG: true` are fine there.
struct EnvValue(String);

impl<'de> Deserialize<'de> for EnvValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = EnvValue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(ENV_VALUE_FORMS)
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<EnvValue, E> {
                Ok(EnvValue(s.to_string()))
            }

            fn visit_bool<E: de::Error>(self, b: bool) -> Result<EnvValue, E> {
                Ok(EnvValue(b.to_string()))
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<EnvValue, E> {
                Ok(EnvValue(n.to_string()))
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<EnvValue, E> {
                Ok(EnvValue(n.to_string()))
            }

            fn visit_f64<E: de::Error>(self, n: f64) -> Result<EnvValue, E> {
                Ok(EnvValue(n.to_string()))
            }

            fn visit_unit<E: de::Error>(self) -> Result<EnvValue, E> {
                Ok(EnvValue(String::new()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticker_policies_default_to_skip_and_overlap() {
        let t = ok("ticker: {}\n").ticker.unwrap();
        assert_eq!(
            (t.missed, t.overlap, t.metrics, t.control),
            (Missed::Skip, true, None, None)
        );
        let t = ok("ticker:\n  missed: burst\n  overlap: false\n")
            .ticker
            .unwrap();
        assert_eq!((t.missed, t.overlap), (Missed::Burst, false));
        let e = err("ticker:\n  missed: later\n").to_string();
        assert!(
            e.contains("ticker.missed: later is not accepted; expected skip, delay or burst"),
            "{e}"
        );
    }

    #[test]
    fn intervals_below_the_floor_are_refused() {
        let t = ok("ticker:\n  interval: 100us\n").ticker.unwrap();
        assert_eq!(t.interval, Duration::from_micros(100));
        let e = err("ticker:\n  interval: 50us\n").to_string();
        assert!(
            e.contains("ticker.interval: 50µs is below the shortest interval of 100µs"),
            "{e}"
        );
    }

    #[test]
    fn metrics_bind_to_loopback_unless_a_host_is_named() {
        let t = ok("ticker:\n  metrics:\n    address: \":2112\"\n")
            .ticker
            .unwrap();
        assert_eq!(t.metrics, Some("127.0.0.1:2112".parse().unwrap()));
        let t = ok("ticker:\n  metrics:\n    address: 0.0.0.0:9000\n")
            .ticker
            .unwrap();
        assert_eq!(t.metrics, Some("0.0.0.0:9000".parse().unwrap()));
        let e = err("ticker:\n  metrics:\n    address: nowhere\n").to_string();
        assert!(
            e.contains("ticker.metrics.address: \"nowhere\" is not an address"),
            "{e}"
        );
    }

    #[test]
    fn logs_act_on_level_and_encoding_and_accept_roadrunner_keys() {
        let c =
            ok("logs:\n  mode: production\n  level: warn\n  encoding: json\n  output: stderr\n");
        assert_eq!(
            c.logs,
            LogsConfig {
                level: LogLevel::Warn,
                encoding: LogEncoding::Json
            }
        );
        assert_eq!(ok("").logs, LogsConfig::default());
        let e = err("logs:\n  level: loud\n").to_string();
        assert!(
            e.contains("logs.level: loud is not accepted; expected debug, info, warn or error"),
            "{e}"
        );
        let e = err("logs:\n  colour: true\n").to_string();
        assert!(e.contains("logs.colour: unknown key"), "{e}");
    }

    const FILE: &str = "/app/.rr.yaml";

    fn ok(yaml: &str) -> Config {
        parse(yaml, Path::new(FILE)).unwrap_or_else(|err| panic!("{yaml:?} failed: {err}"))
    }

    fn err(yaml: &str) -> ConfigError {
        match parse(yaml, Path::new(FILE)) {
            Ok(config) => panic!("{yaml:?} was accepted: {config:?}"),
            Err(err) => err,
        }
    }

    fn ticker(yaml: &str) -> TickerConfig {
        ok(yaml).ticker.expect("ticker section")
    }

    fn pool(yaml: &str) -> PoolConfig {
        ticker(&format!("ticker:\n  pool:\n{}", indent(yaml, 4))).pool
    }

    fn supervisor(yaml: &str) -> SupervisorConfig {
        pool(&format!("supervisor:\n{}", indent(yaml, 2))).supervisor
    }

    fn server(yaml: &str) -> ServerConfig {
        ok(&format!("server:\n{}", indent(yaml, 2))).server
    }

    fn indent(yaml: &str, by: usize) -> String {
        yaml.lines()
            .map(|line| format!("{}{line}\n", " ".repeat(by)))
            .collect()
    }

    fn interval(value: &str) -> Result<Duration, ConfigError> {
        parse(&format!("ticker:\n  interval: {value}\n"), Path::new(FILE))
            .map(|config| config.ticker.expect("ticker section").interval)
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn expected_defaults() -> TickerConfig {
        TickerConfig {
            interval: secs(1),
            missed: Missed::Skip,
            overlap: true,
            metrics: None,
            control: None,
            pool: PoolConfig {
                num_workers: cpu_count(),
                max_jobs: None,
                max_queue_size: None,
                allocate_timeout: secs(60),
                reset_timeout: secs(60),
                destroy_timeout: secs(60),
                stream_timeout: secs(60),
                debug: false,
                command: None,
                supervisor: SupervisorConfig {
                    watch_tick: secs(5),
                    ttl: None,
                    idle_ttl: None,
                    exec_ttl: None,
                    max_worker_memory_mb: None,
                },
            },
        }
    }

    /// Asserts the one-line shape every message must have, and returns it.
    fn message(err: &ConfigError, key: &str) -> String {
        let text = err.to_string();
        assert!(!text.contains('\n') && !text.contains('\r'), "{text:?}");
        assert!(
            text.starts_with(&format!("ticker: config {FILE}: ")),
            "{text}"
        );
        assert!(
            text.contains(&format!(": {key}: ")),
            "{text} should name {key}"
        );
        assert_eq!(err.key(), Some(key));
        text
    }

    #[test]
    fn missing_ticker_section_leaves_the_extension_off() {
        let config = ok("http:\n  address: 0.0.0.0:8080\nrpc:\n  listen: tcp://127.0.0.1:6001\n");
        assert_eq!(config.ticker, None);
        assert!(!config.is_enabled());
        assert_eq!(config.path, Path::new(FILE));
    }

    #[test]
    fn empty_file_leaves_the_extension_off() {
        for text in ["", "\n", "# only a comment\n", "---\n"] {
            let config = ok(text);
            assert_eq!(config.ticker, None, "{text:?}");
            assert_eq!(config.server, ServerConfig::default());
        }
    }

    #[test]
    fn empty_ticker_section_is_enabled_with_every_default() {
        for yaml in [
            "ticker:\n",
            "ticker: ~\n",
            "ticker: {}\n",
            "ticker:\n  pool:\n",
            "ticker:\n  pool:\n    supervisor:\n",
        ] {
            let config = ok(yaml);
            assert!(config.is_enabled(), "{yaml:?}");
            assert_eq!(config.ticker, Some(expected_defaults()), "{yaml:?}");
        }
        assert_eq!(TickerConfig::default(), expected_defaults());
    }

    #[test]
    fn ticker_with_only_interval_has_pool_defaults() {
        let ticker = ticker("ticker:\n  interval: 10s\n");
        assert_eq!(ticker.interval, secs(10));
        assert_eq!(ticker.pool, expected_defaults().pool);
    }

    #[test]
    fn every_pool_key_is_read() {
        let pool = pool(
            "num_workers: 2\nmax_jobs: 100\nmax_queue_size: 7\nallocate_timeout: 1s\n\
             reset_timeout: 2s\ndestroy_timeout: 3s\nstream_timeout: 4s\ndebug: true\n\
             command: php worker.php\nsupervisor:\n  watch_tick: 1s\n  ttl: 1h\n  idle_ttl: 10m\n  exec_ttl: 30s\n  \
             max_worker_memory: 128\n",
        );
        assert_eq!(
            pool,
            PoolConfig {
                num_workers: 2,
                max_jobs: Some(100),
                max_queue_size: Some(7),
                allocate_timeout: secs(1),
                reset_timeout: secs(2),
                destroy_timeout: secs(3),
                stream_timeout: secs(4),
                debug: true,
                command: Some(Command(vec!["php".into(), "worker.php".into()])),
                supervisor: SupervisorConfig {
                    watch_tick: secs(1),
                    ttl: Some(secs(3600)),
                    idle_ttl: Some(secs(600)),
                    exec_ttl: Some(secs(30)),
                    max_worker_memory_mb: Some(128),
                },
            }
        );
    }

    #[test]
    fn zero_means_default_for_timeouts_and_off_for_limits() {
        let pool = pool(
            "max_jobs: 0\nmax_queue_size: 0\nallocate_timeout: 0\nreset_timeout: 0s\n\
             destroy_timeout: 0\nstream_timeout: 0\nsupervisor:\n  watch_tick: 0\n  ttl: 0\n  idle_ttl: 0s\n  \
             exec_ttl: 0\n  max_worker_memory: 0\n",
        );
        assert_eq!(pool, expected_defaults().pool);
    }

    #[test]
    fn durations_accept_every_go_form() {
        let cases = [
            ("1s", secs(1)),
            ("250ms", Duration::from_millis(250)),
            ("1m", secs(60)),
            ("1m30s", secs(90)),
            ("1h", secs(3600)),
            ("1h2m3s", secs(3723)),
            ("100us", Duration::from_micros(100)),
            ("100µs", Duration::from_micros(100)),
            ("100μs", Duration::from_micros(100)),
            ("500ns", Duration::from_nanos(500)),
            ("1.5s", Duration::from_millis(1500)),
            ("1.5h", secs(5400)),
            (".5s", Duration::from_millis(500)),
            ("1.s", secs(1)),
            ("1.0000000019s", Duration::from_nanos(1_000_000_001)),
            ("+2s", secs(2)),
            ("\"2s\"", secs(2)),
        ];
        for (text, expected) in cases {
            // interval refuses sub-floor values, so check a supervisor limit too.
            if expected >= MIN_INTERVAL {
                assert_eq!(interval(text).unwrap(), expected, "{text}");
            }
            assert_eq!(
                supervisor(&format!("ttl: {text}\n")).ttl,
                Some(expected),
                "{text}"
            );
        }
        for zero in ["0", "0s", "\"0\"", "0ms", "0.0s"] {
            assert_eq!(supervisor(&format!("ttl: {zero}\n")).ttl, None, "{zero}");
        }
    }

    #[test]
    fn durations_reject_bad_forms() {
        let cases = [
            ("fast", "\"fast\" is not a duration"),
            ("-1s", "\"-1s\" is negative"),
            ("10", "10 is a number without a unit, which is ambiguous"),
            ("-10", "-10 is a number without a unit"),
            ("1.5", "1.5 is a number without a unit"),
            ("\"10\"", "\"10\" has a number without a unit"),
            ("1x", "\"1x\" has an unknown unit \"x\""),
            ("1d", "\"1d\" has an unknown unit \"d\""),
            ("\"\"", "\"\" is not a duration"),
            ("1.5.5s", "is not a duration"),
            ("s", "\"s\" is not a duration"),
            ("100000000h", "is too large"),
            ("true", "invalid type: boolean"),
        ];
        for (text, problem) in cases {
            let err = interval(text).unwrap_err();
            let text = message(&err, "ticker.interval");
            assert!(text.contains(problem), "{text} should contain {problem}");
            assert!(text.contains("250ms, 1s, 1m or 1m30s"), "{text}");
        }
    }

    #[test]
    fn parse_duration_is_the_files_grammar_with_the_files_wording() {
        assert_eq!(parse_duration("1m30s"), Ok(secs(90)));
        assert_eq!(parse_duration(".5ms"), Ok(Duration::from_micros(500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(
            parse_duration("1x").unwrap_err(),
            format!("\"1x\" has an unknown unit \"x\"; expected {DURATION_FORMS}")
        );
        assert!(parse_duration("10").unwrap_err().contains("without a unit"));
        assert!(
            parse_duration("")
                .unwrap_err()
                .contains("is not a duration")
        );
    }

    #[test]
    fn interval_zero_or_missing_is_one_second() {
        assert_eq!(interval("0").unwrap(), DEFAULT_INTERVAL);
        assert_eq!(interval("0s").unwrap(), DEFAULT_INTERVAL);
        assert_eq!(interval("~").unwrap(), DEFAULT_INTERVAL);
        assert_eq!(
            ticker("ticker:\n  pool:\n    debug: false\n").interval,
            secs(1)
        );
    }

    #[test]
    fn num_workers_zero_means_one_per_cpu() {
        assert_eq!(pool("num_workers: 0\n").num_workers, cpu_count());
        assert!(cpu_count() >= 1);
        assert_eq!(pool("num_workers: 2\n").num_workers, 2);
        assert_eq!(pool("num_workers: 500\n").num_workers, MAX_WORKERS);
    }

    #[test]
    fn num_workers_rejects_negative_too_many_and_strings() {
        let key = "ticker.pool.num_workers";
        let cases = [
            (
                "-1",
                "-1 is negative; expected an integer from 0 to 500 (0 means one per CPU)",
            ),
            (
                "501",
                "501 is out of range; expected an integer from 0 to 500 (0 means one per CPU)",
            ),
            (
                "\"4\"",
                "\"4\" is a string; expected an integer from 0 to 500",
            ),
            ("2.5", "2.5 is not an integer"),
        ];
        for (value, detail) in cases {
            let text = message(
                &err(&format!("ticker:\n  pool:\n    num_workers: {value}\n")),
                key,
            );
            assert!(text.contains(&format!("{key}: {detail}")), "{text}");
        }
        assert_eq!(
            err("ticker:\n  pool:\n    num_workers: 501\n").to_string(),
            "ticker: config /app/.rr.yaml: ticker.pool.num_workers: 501 is out of range; \
             expected an integer from 0 to 500 (0 means one per CPU)"
        );
    }

    #[test]
    fn limits_reject_negative_and_strings() {
        let text = message(
            &err("ticker:\n  pool:\n    max_jobs: -3\n"),
            "ticker.pool.max_jobs",
        );
        assert!(
            text.contains("-3 is negative; expected an integer of 0 or more (0 means off)"),
            "{text}"
        );
        let key = "ticker.pool.supervisor.max_worker_memory";
        let text = message(
            &err("ticker:\n  pool:\n    supervisor:\n      max_worker_memory: 128MB\n"),
            key,
        );
        assert!(text.contains("\"128MB\" is a string"), "{text}");
    }

    #[test]
    fn booleans_are_only_true_or_false() {
        assert!(pool("debug: true\n").debug);
        assert!(!pool("debug: false\n").debug);
        for value in ["yes", "\"true\"", "1", "on"] {
            let text = message(
                &err(&format!("ticker:\n  pool:\n    debug: {value}\n")),
                "ticker.pool.debug",
            );
            assert!(text.contains("expected a boolean"), "{text}");
        }
    }

    #[test]
    fn unknown_keys_are_named_at_every_level() {
        let cases = [
            (
                "ticker:\n  intervall: 1s\n",
                "ticker.intervall",
                "interval, missed, overlap, metrics, control, pool",
            ),
            (
                "ticker:\n  pool:\n    wokers: 1\n",
                "ticker.pool.wokers",
                "num_workers, max_jobs",
            ),
            (
                "ticker:\n  pool:\n    supervisor:\n      max_memory: 1\n",
                "ticker.pool.supervisor.max_memory",
                "watch_tick, ttl",
            ),
            (
                "server:\n  relays: pipes\n",
                "server.relays",
                "command, env, relay",
            ),
            (
                "server:\n  on_init:\n    command: php init.php\n    timeout: 1s\n",
                "server.on_init.timeout",
                "command, exec_timeout",
            ),
        ];
        for (yaml, key, accepted) in cases {
            let text = message(&err(yaml), key);
            assert!(
                text.contains(&format!("{key}: unknown key; expected one of {accepted}")),
                "{text}"
            );
        }
    }

    #[test]
    fn sections_must_be_mappings() {
        let cases = [
            (
                "ticker: 5\n",
                "ticker",
                "a mapping with interval: and pool:",
            ),
            (
                "ticker:\n  pool: x\n",
                "ticker.pool",
                "a mapping of pool settings",
            ),
            ("server: [a]\n", "server", "a mapping of server settings"),
        ];
        for (yaml, key, expected) in cases {
            let text = message(&err(yaml), key);
            assert!(text.contains(&format!("expected {expected}")), "{text}");
        }
    }

    #[test]
    fn other_plugins_keys_are_ignored() {
        let config = ok("version: '3'\nhttp:\n  pool:\n    wokers: 1\nticker:\n  interval: 2s\n");
        assert_eq!(config.ticker.unwrap().interval, secs(2));
    }

    #[test]
    fn commands_as_string_or_list() {
        let words = |words: &[&str]| Some(Command(words.iter().map(|w| w.to_string()).collect()));
        assert_eq!(
            server("command: php  worker.php -v\n").command,
            words(&["php", "worker.php", "-v"])
        );
        assert_eq!(
            server("command: [php, worker.php, \"a b\"]\n").command,
            words(&["php", "worker.php", "a b"])
        );
        assert_eq!(
            server("command:\n  - php\n  - \"\"\n").command,
            words(&["php", ""])
        );
        let command = server("command: php worker.php\n").command.unwrap();
        assert_eq!(command.program(), "php");
        assert_eq!(command.args(), ["worker.php"]);
    }

    #[test]
    fn empty_commands_are_errors() {
        for (value, problem) in [
            ("\"\"", "\"\" is an empty command"),
            ("\"   \"", "is an empty command"),
            ("[]", "[] has no program"),
            ("[\"\", x]", "has no program"),
        ] {
            let text = message(
                &err(&format!("server:\n  command: {value}\n")),
                "server.command",
            );
            assert!(
                text.contains(problem) && text.contains("expected a command"),
                "{text}"
            );
            message(
                &err(&format!("ticker:\n  pool:\n    command: {value}\n")),
                "ticker.pool.command",
            );
        }
        message(&err("server:\n  command: [php, 3]\n"), "server.command[1]");
    }

    #[test]
    fn pool_command_overrides_server_command() {
        let config =
            ok("server:\n  command: php a.php\nticker:\n  pool:\n    command: php b.php\n");
        assert_eq!(config.worker_command().unwrap().args(), ["b.php"]);
        let config = ok("server:\n  command: php a.php\nticker:\n");
        assert_eq!(config.worker_command().unwrap().args(), ["a.php"]);
        assert_eq!(ok("ticker:\n").worker_command(), None);
    }

    #[test]
    fn relay_forms() {
        assert_eq!(server("user: www\n").relay, Relay::Pipes);
        assert_eq!(server("relay: pipes\n").relay, Relay::Pipes);
        assert_eq!(
            server("relay: tcp://127.0.0.1:7000\n").relay,
            Relay::Tcp("127.0.0.1:7000".into())
        );
        assert_eq!(
            server("relay: unix:///tmp/rr.sock\n").relay,
            Relay::Unix("/tmp/rr.sock".into())
        );
        for text in ["pipes", "tcp://127.0.0.1:7000", "unix:///tmp/rr.sock"] {
            assert_eq!(server(&format!("relay: {text}\n")).relay.to_string(), text);
        }
    }

    #[test]
    fn bad_relays_are_errors() {
        for value in [
            "pipe",
            "\"\"",
            "tcp://localhost",
            "tcp://:7000",
            "tcp://host:http",
            "unix://",
            "udp://1.2.3.4:5",
        ] {
            let text = message(
                &err(&format!("server:\n  relay: {value}\n")),
                "server.relay",
            );
            assert!(
                text.contains("is not a relay; expected pipes, tcp://host:port or unix://"),
                "{text}"
            );
        }
    }

    #[test]
    fn server_env_names_are_upper_cased_and_values_kept_raw() {
        let server =
            server("env:\n  app_env: prod\n  Port: 8080\n  DEBUG: true\n  PATH_X: ${HOME}/x\n");
        let expected: BTreeMap<String, String> = [
            ("APP_ENV", "prod"),
            ("PORT", "8080"),
            ("DEBUG", "true"),
            ("PATH_X", "${HOME}/x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(server.env, expected);
    }

    #[test]
    fn server_env_rejects_names_that_collide_and_nested_values() {
        let text = message(
            &err("server:\n  env:\n    foo: 1\n    FOO: 2\n"),
            "server.env",
        );
        assert!(
            text.contains("\"FOO\" names a variable already set"),
            "{text}"
        );
        message(&err("server:\n  env:\n    FOO: [1, 2]\n"), "server.env.FOO");
    }

    #[test]
    fn server_defaults_and_user_group() {
        assert_eq!(ok("ticker:\n").server, ServerConfig::default());
        let server = server("user: www-data\ngroup: \"\"\n");
        assert_eq!(server.user.as_deref(), Some("www-data"));
        assert_eq!(server.group, None);
    }

    #[test]
    fn on_init_defaults_and_fields() {
        let on_init = server("on_init:\n  command: php init.php\n")
            .on_init
            .unwrap();
        assert_eq!(
            on_init,
            OnInit {
                command: Command(vec!["php".into(), "init.php".into()]),
                exec_timeout: secs(60),
                env: BTreeMap::new(),
                exit_on_error: false,
            }
        );
        let on_init = server(
            "on_init:\n  command: [php, init.php]\n  exec_timeout: 20s\n  env:\n    a: b\n  exit_on_error: true\n",
        )
        .on_init
        .unwrap();
        assert_eq!(on_init.exec_timeout, secs(20));
        assert_eq!(on_init.env.get("A").map(String::as_str), Some("b"));
        assert!(on_init.exit_on_error);
    }

    #[test]
    fn on_init_requires_a_command() {
        let text = message(
            &err("server:\n  on_init:\n    exec_timeout: 1s\n"),
            "server.on_init.command",
        );
        assert!(text.contains("is missing; expected a command"), "{text}");
    }

    #[test]
    fn expand_env_replaces_braced_and_bare_names() {
        let lookup = |name: &str| match name {
            "HOME" => Some("/home/app".to_string()),
            "A_1" => Some("x".to_string()),
            _ => None,
        };
        let cases = [
            ("${HOME}/bin", "/home/app/bin"),
            ("$HOME/bin", "/home/app/bin"),
            ("$A_1-$A_1", "x-x"),
            ("${A_1}y", "xy"),
            ("pre-$MISSING-post", "pre--post"),
            ("${MISSING}", ""),
            ("cost: $5", "cost: $5"),
            ("$", "$"),
            ("${", "${"),
            ("${HOME", "${HOME"),
            ("${}", "${}"),
            ("${BAD NAME}", "${BAD NAME}"),
            ("no dollars", "no dollars"),
            ("µ$HOME", "µ/home/app"),
        ];
        for (input, expected) in cases {
            assert_eq!(expand_env(input, lookup), expected, "{input}");
        }
    }

    #[test]
    fn invalid_yaml_names_the_file_and_position() {
        let err = err("ticker:\n  interval: 1s\n    pool: x\n");
        let text = err.to_string();
        assert!(!text.contains('\n'), "{text:?}");
        assert!(
            text.starts_with("ticker: config /app/.rr.yaml: invalid YAML at line "),
            "{text}"
        );
        assert_eq!(err.key(), None);
        let text = super::tests::err("a: [\n").to_string();
        assert!(
            text.contains("invalid YAML at line 2 column 1: did not find expected node content"),
            "{text}"
        );
    }

    #[test]
    fn top_level_must_be_a_mapping() {
        let text = err("- ticker\n").to_string();
        assert!(
            text.starts_with("ticker: config /app/.rr.yaml: the top level is not a mapping"),
            "{text}"
        );
    }

    #[test]
    fn merge_keys_are_applied() {
        let yaml = "x-timeouts: &t\n  allocate_timeout: 5s\nticker:\n  pool:\n    <<: *t\n    num_workers: 1\n";
        let pool = ticker(yaml).pool;
        assert_eq!(pool.allocate_timeout, secs(5));
        assert_eq!(pool.num_workers, 1);
    }

    #[test]
    fn locate_prefers_env_then_ini_then_default() {
        let cwd = Path::new("/srv/app");
        assert_eq!(
            Source::locate(Some("/etc/a.yaml"), Some("/etc/b.yaml"), cwd),
            Source::Env("/etc/a.yaml".into())
        );
        assert_eq!(
            Source::locate(None, Some("/etc/b.yaml"), cwd),
            Source::Ini("/etc/b.yaml".into())
        );
        assert_eq!(
            Source::locate(Some(""), Some("/etc/b.yaml"), cwd),
            Source::Ini("/etc/b.yaml".into())
        );
        assert_eq!(
            Source::locate(Some(""), Some(""), cwd),
            Source::Default("/srv/app/.rr.yaml".into())
        );
        assert_eq!(
            Source::locate(None, None, cwd),
            Source::Default("/srv/app/.rr.yaml".into())
        );
        assert_eq!(
            Source::locate(Some("conf/rr.yaml"), None, cwd),
            Source::Env("/srv/app/conf/rr.yaml".into())
        );
        assert_eq!(
            Source::locate(None, Some("../rr.yaml"), cwd).path(),
            Path::new("/srv/app/../rr.yaml")
        );
    }

    #[test]
    fn source_describes_itself() {
        let cwd = Path::new("/srv");
        let env = Source::locate(Some("a.yaml"), None, cwd);
        let ini = Source::locate(None, Some("a.yaml"), cwd);
        let default = Source::locate(None, None, cwd);
        assert_eq!(
            (env.describe(), env.is_explicit()),
            ("TICKER_CONFIG".to_string(), true)
        );
        assert_eq!(
            (ini.describe(), ini.is_explicit()),
            ("ini ticker.config".to_string(), true)
        );
        assert_eq!(
            (default.describe(), default.is_explicit()),
            ("default ./.rr.yaml".to_string(), false)
        );
    }

    fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ticker-config-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn load_missing_default_file_is_none_and_missing_explicit_file_is_an_error() {
        let dir = scratch_dir("missing");
        assert_eq!(load(&Source::locate(None, None, &dir)), Ok(None));

        let err = load(&Source::locate(Some("nope.yaml"), None, &dir)).unwrap_err();
        let expected = format!(
            "ticker: config {}: file not found (named by TICKER_CONFIG)",
            dir.join("nope.yaml").display()
        );
        assert_eq!(err.to_string(), expected);

        let err = load(&Source::locate(None, Some("nope.yaml"), &dir)).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("nope.yaml: file not found (named by ini ticker.config)"),
            "{err}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn load_reads_and_parses_the_file() {
        let dir = scratch_dir("load");
        std::fs::write(dir.join(".rr.yaml"), "ticker:\n  interval: 3s\n").unwrap();
        let config = load(&Source::locate(None, None, &dir)).unwrap().unwrap();
        assert_eq!(config.path, dir.join(".rr.yaml"));
        assert_eq!(config.ticker.unwrap().interval, secs(3));

        std::fs::write(dir.join("bad.yaml"), "ticker:\n  interval: fast\n").unwrap();
        let err = load(&Source::locate(Some("bad.yaml"), None, &dir)).unwrap_err();
        assert_eq!(err.path(), dir.join("bad.yaml"));
        assert_eq!(err.key(), Some("ticker.interval"));

        // A directory where the file should be is an error even for the default source.
        let nested = dir.join("nested");
        std::fs::create_dir_all(nested.join(".rr.yaml")).unwrap();
        let err = load(&Source::locate(None, None, &nested)).unwrap_err();
        assert!(err.to_string().contains("cannot be read:"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn every_error_is_one_line_naming_the_file() {
        let file = Path::new("/weird\npath/.rr.yaml");
        let errors = [
            parse("ticker:\n  interval: \"a\\nb\"\n", file).unwrap_err(),
            parse("ticker: [\n", file).unwrap_err(),
            parse("ticker:\n  pool:\n    x: 1\n", file).unwrap_err(),
            parse("- 1\n", file).unwrap_err(),
        ];
        for err in errors {
            let text = err.to_string();
            assert!(!text.contains(['\n', '\r']), "{text:?}");
            assert!(
                text.starts_with("ticker: config /weird path/.rr.yaml: "),
                "{text}"
            );
        }
    }
}
