//! `ticker.schedules` and `ticker.timezone`: several named schedules, each an interval or a
//! cron expression, with its own policies.
//!
//! Owns the section's keys, their defaults (a schedule's `missed` and `overlap` default to
//! the `ticker` section's, its `exec_ttl` to `ticker.pool.supervisor.exec_ttl`) and every
//! check:
//! names, one of `every` or `cron`, the expression (parsed by [`crate::schedule::cron`],
//! which names the field at fault), the zone (resolved by [`crate::schedule::zone`]),
//! `jitter` (at most an interval's `every`) and `catch_up`. What a schedule does at run time
//! is not decided here.

use std::collections::HashSet;
use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use serde_yaml::Value;

use super::env::Lookup;
use super::error::quote;
use super::table::{Acts, Reading, Table};
use super::values::{DURATION_FORMS, GoDuration};
use super::{ConfigError, MIN_INTERVAL, Missed, TickerConfig};
use crate::schedule::cron::CronExpr;
use crate::schedule::jitter;
use crate::schedule::zone::Zone;

/// What `ticker.schedules:` must be, for the message when it is not a mapping.
pub(super) const EXPECTING: &str =
    "a mapping of schedule names to settings, such as heartbeat: {every: 250ms}";

/// What one schedule must be, for the message when it is not a mapping.
const SCHEDULE_EXPECTING: &str = "a mapping of settings such as every: 1s or cron: \"*/5 * * * *\"";

/// The longest schedule name accepted.
pub const MAX_NAME: usize = 64;

const NAME_FORMS: &str = "1 to 64 characters of a-z, 0-9, _, . and -";

/// The name `ticker.interval`'s schedule goes by.
pub const DEFAULT_NAME: &str = "default";

/// One named schedule, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// 1 to [`MAX_NAME`] characters of `[a-z0-9_.-]`, unique in the file.
    pub name: String,
    pub when: When,
    /// Offsets in `[0, jitter)` derived from the name, the same on every instance and after
    /// every restart: each cron run moved by its own, an interval's whole grid by one (its
    /// [`ScheduleConfig::phase`], at most the interval); `None`: none.
    pub jitter: Option<Duration>,
    pub missed: Missed,
    pub overlap: bool,
    pub exec_ttl: ExecTtl,
    pub paused: bool,
    /// What the schedule does at start about occurrences missed while no master ran.
    pub catch_up: CatchUp,
}

/// How long one run of a schedule may take before its worker is killed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExecTtl {
    /// `ticker.pool.supervisor.exec_ttl`: the schedule sets none, or the same.
    #[default]
    Pool,
    /// Its own, which differs from the pool's; `None`: no limit (`exec_ttl: 0`).
    Own(Option<Duration>),
}

impl ExecTtl {
    /// The limit of the schedule's runs, given the pool's.
    pub fn limit(self, pool: Option<Duration>) -> Option<Duration> {
        match self {
            ExecTtl::Pool => pool,
            ExecTtl::Own(own) => own,
        }
    }
}

impl ScheduleConfig {
    /// What runs when, in a line: `every 250ms`, or `cron "30 2 * * *" in Europe/Berlin
    /// (timezone)` with where the zone comes from. `fallback` is the zone of a cron
    /// schedule that names none, and why (see [`ZoneChoice::Unset`]).
    pub fn describe(&self, fallback: (&str, &str)) -> String {
        let mut text = match &self.when {
            When::Every(every) => format!("every {}", super::values::format_duration(*every)),
            When::Cron { expr, zone } => {
                let (zone, why) = match zone {
                    ZoneChoice::Schedule(zone) => (zone.name(), "timezone"),
                    ZoneChoice::Ticker(zone) => (zone.name(), "ticker.timezone"),
                    ZoneChoice::Unset => fallback,
                };
                format!("cron {} in {zone} ({why})", quote(expr.as_str()))
            }
        };
        if let Some(jitter) = self.jitter {
            let _ = write!(text, ", jitter {}", super::values::format_duration(jitter));
            if let When::Every(_) = self.when {
                let phase = super::values::format_duration(self.phase());
                let _ = write!(text, " (phase {phase})");
            }
        }
        if let ExecTtl::Own(own) = self.exec_ttl {
            match own {
                Some(ttl) => {
                    let _ = write!(text, ", exec_ttl {}", super::values::format_duration(ttl));
                }
                None => text.push_str(", no exec_ttl"),
            }
        }
        if self.catch_up == CatchUp::Once {
            text.push_str(", catch_up once");
        }
        if self.paused {
            text.push_str(", paused");
        }
        text
    }

    /// How far an interval's grid is shifted by its jitter: one offset in `[0, jitter)`
    /// hashed from the name; zero without jitter, and for a cron schedule, whose jitter
    /// moves each run by an offset of its own.
    pub fn phase(&self) -> Duration {
        match self.when {
            When::Every(_) => jitter::phase(&self.name, self.jitter),
            When::Cron { .. } => Duration::ZERO,
        }
    }

    /// An interval schedule with the defaults of a `ticker` section that sets nothing else.
    pub fn every(name: &str, every: Duration, missed: Missed) -> ScheduleConfig {
        ScheduleConfig {
            name: name.to_string(),
            when: When::Every(every),
            jitter: None,
            missed,
            overlap: true,
            exec_ttl: ExecTtl::Pool,
            paused: false,
            catch_up: CatchUp::None,
        }
    }
}

/// When a schedule's runs come due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// An interval on the monotonic clock, as `ticker.interval` is.
    Every(Duration),
    /// A cron expression over wall-clock time in a zone.
    Cron {
        expr: Box<CronExpr>,
        zone: ZoneChoice,
    },
}

/// The zone a cron schedule's expression is read in, and why that one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneChoice {
    /// The schedule's own `timezone`.
    Schedule(Zone),
    /// `ticker.timezone`.
    Ticker(Zone),
    /// Neither is set: PHP's `date.timezone` when the master has one, else UTC (known only
    /// where PHP runs, so decided there).
    Unset,
}

/// `catch_up`: what a schedule does at start about occurrences missed while no master ran
/// (after the last run the state file holds, before the start); in a cluster, when an
/// instance becomes leader, about those that passed while no instance led.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CatchUp {
    /// Missed occurrences are gone (the default).
    #[default]
    None,
    /// One run at once, however many were missed, as systemd's `Persistent=true`.
    Once,
}

/// `ticker.missed` and `ticker.overlap`: what a schedule that sets neither takes, whether
/// the file declares it or the application ([`Declared`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScheduleDefaults {
    pub missed: Missed,
    pub overlap: bool,
}

/// The `ticker` section's values a schedule falls back on.
pub(super) struct Defaults {
    pub missed: Missed,
    pub overlap: bool,
    pub exec_ttl: Option<Duration>,
}

impl Defaults {
    pub(super) fn of(ticker: &TickerConfig) -> Defaults {
        Defaults {
            missed: ticker.schedule_defaults.missed,
            overlap: ticker.schedule_defaults.overlap,
            exec_ttl: ticker.pool.supervisor.exec_ttl,
        }
    }
}

/// Where a schedule an application declares in code comes from, in its errors.
pub const DECLARED_IN_CODE: &str = "Ticker\\Schedules::add()";

/// The config a pool runs when the application declares schedules in code
/// (`Ticker\Schedules::add()` in the master, before the pool starts): the file's, with each
/// declared schedule added to its list, and the set of the list's names beside it, so that a
/// taken name is found at once however many there are (checking each new name against the
/// whole list made 10,000 declarations take seconds). Only [`Declared::add`] changes either,
/// and it changes both.
#[derive(Debug, Clone)]
pub struct Declared {
    ticker: TickerConfig,
    names: HashSet<String>,
}

impl Declared {
    pub fn new(file: TickerConfig) -> Declared {
        let names = file.schedules.iter().map(|s| s.name.clone()).collect();
        Declared {
            ticker: file,
            names,
        }
    }

    /// Adds a schedule named `name`: the same keys, defaults and errors as an entry of
    /// `ticker.schedules`, read from `settings` (a mapping, as YAML would give it). A name
    /// the file or an earlier declaration has taken is refused. A refusal changes nothing.
    pub fn add(&mut self, name: &str, settings: Value, env: Lookup) -> Result<(), ConfigError> {
        let origin = Path::new(DECLARED_IN_CODE);
        if self.names.contains(name) {
            return Err(ConfigError::at(
                origin,
                &format!("ticker.schedules.{name}"),
                format!(
                    "the name {} is taken by a schedule of the config file or declared before; \
                     expected a name of its own",
                    quote(name)
                ),
            ));
        }
        let ticker = &mut self.ticker;
        let mut entry = serde_yaml::Mapping::new();
        entry.insert(Value::from(name), settings);
        let mut schedules = serde_yaml::Mapping::new();
        schedules.insert(Value::from("schedules"), Value::Mapping(entry));
        let mut root = serde_yaml::Mapping::new();
        root.insert(Value::from("ticker"), Value::Mapping(schedules));
        let reading = Reading::new(origin, env);
        let mut root = Table::root(&reading, Value::Mapping(root))?;
        let mut section = root
            .table("ticker", super::ticker::EXPECTING)?
            .expect("built with a ticker key");
        let table = section
            .table("schedules", EXPECTING)?
            .expect("built with a schedules key");
        let declared = read(table, &Defaults::of(ticker), ticker.timezone.as_ref(), None)?;
        if ticker.cluster.is_some() {
            super::cluster::refuse_delay(origin, &declared)?;
        }
        self.names
            .extend(declared.iter().map(|schedule| schedule.name.clone()));
        ticker.schedules.extend(declared);
        Ok(())
    }

    /// The config with the schedules declared so far.
    pub fn config(&self) -> &TickerConfig {
        &self.ticker
    }

    pub fn into_config(self) -> TickerConfig {
        self.ticker
    }
}

/// `ticker.timezone`.
pub(super) fn timezone(t: &mut Table) -> Result<Option<Zone>, ConfigError> {
    zone(t, "timezone")
}

/// Reads `ticker.schedules`, in the file's order. `taken` names a schedule that exists
/// already (`default`, when `ticker.interval` is set).
pub(super) fn read(
    mut t: Table,
    defaults: &Defaults,
    ticker_zone: Option<&Zone>,
    taken: Option<&str>,
) -> Result<Vec<ScheduleConfig>, ConfigError> {
    let mut schedules: Vec<ScheduleConfig> = Vec::new();
    for (name, entry) in t.tables(SCHEDULE_EXPECTING)? {
        if !is_name(&name) {
            return Err(t.error(
                &name,
                format!(
                    "{} is not a schedule name; expected {NAME_FORMS}",
                    quote(&name)
                ),
            ));
        }
        if taken == Some(name.as_str()) {
            return Err(t.error(
                &name,
                format!(
                    "the name {} is taken by ticker.interval's schedule; expected another \
                     name, or no ticker.interval",
                    quote(&name)
                ),
            ));
        }
        schedules.push(schedule(name, entry, defaults, ticker_zone)?);
    }
    t.finish()?;
    Ok(schedules)
}

fn schedule(
    name: String,
    mut t: Table,
    defaults: &Defaults,
    ticker_zone: Option<&Zone>,
) -> Result<ScheduleConfig, ConfigError> {
    let every = t.get::<GoDuration>("every", Acts::Yes)?;
    let cron = t.get::<String>("cron", Acts::Yes)?;
    let own_zone = zone(&mut t, "timezone")?;
    let when = match (every, cron) {
        (Some(_), Some(_)) => {
            return Err(t.error(
                "cron",
                format!(
                    "cannot be set with {}: a schedule is an interval or a cron expression; \
                     expected one of them",
                    t.key("every")
                ),
            ));
        }
        (None, None) => {
            return Err(t.error(
                "every",
                format!(
                    "is missing, as is cron; expected every: with {DURATION_FORMS}, or \
                     cron: with an expression such as \"30 2 * * *\""
                ),
            ));
        }
        (Some(GoDuration(every)), None) => {
            if own_zone.is_some() {
                return Err(t.error(
                    "timezone",
                    format!(
                        "applies to cron schedules only: {} runs on the monotonic clock, \
                         whatever the zone; expected no timezone here",
                        t.key("every")
                    ),
                ));
            }
            When::Every(t.at_least("every", every, MIN_INTERVAL, "0 is not an interval")?)
        }
        (None, Some(text)) => {
            let expr = CronExpr::parse(&text)
                .map_err(|e| t.error("cron", format!("{} {e}", quote(&text))))?;
            let zone = match (own_zone, ticker_zone) {
                (Some(zone), _) => ZoneChoice::Schedule(zone),
                (None, Some(zone)) => ZoneChoice::Ticker(zone.clone()),
                (None, None) => ZoneChoice::Unset,
            };
            When::Cron {
                expr: Box::new(expr),
                zone,
            }
        }
    };
    let jitter = t
        .get::<GoDuration>("jitter", Acts::Yes)?
        .map(|GoDuration(d)| d)
        .filter(|d| !d.is_zero());
    let is_cron = matches!(when, When::Cron { .. });
    if let (Some(jitter), When::Every(every)) = (jitter, &when)
        && jitter > *every
    {
        return Err(t.error(
            "jitter",
            format!(
                "{} is more than {} {every}: an interval's jitter shifts its whole grid by \
                 one offset below it; expected at most the interval, {every}, as {DURATION_FORMS}",
                super::values::format_duration(jitter),
                t.key("every"),
                every = super::values::format_duration(*every),
            ),
        ));
    }
    let own_missed = t.get("missed", Acts::Yes)?;
    let missed = own_missed.unwrap_or(defaults.missed);
    if missed == Missed::Delay && is_cron {
        let whose = if own_missed.is_some() {
            ""
        } else {
            " (taken from ticker.missed)"
        };
        return Err(t.error(
            "missed",
            format!(
                "delay{whose} applies to every: schedules only: it moves an interval's grid \
                 after a late run, and a cron schedule's runs stay on their wall-clock times; \
                 expected skip or burst"
            ),
        ));
    }
    let overlap = t.get("overlap", Acts::Yes)?.unwrap_or(defaults.overlap);
    // `0` is no limit, as in `pool.supervisor`: a schedule may lift the pool's.
    let exec_ttl = match t.get::<GoDuration>("exec_ttl", Acts::Yes)? {
        Some(GoDuration(own)) => {
            let own = Some(own).filter(|d| !d.is_zero());
            if own == defaults.exec_ttl {
                ExecTtl::Pool
            } else {
                ExecTtl::Own(own)
            }
        }
        None => ExecTtl::Pool,
    };
    let catch_up = t.get::<CatchUp>("catch_up", Acts::Yes)?.unwrap_or_default();
    let paused = t.get("paused", Acts::Yes)?.unwrap_or(false);
    t.finish()?;
    Ok(ScheduleConfig {
        name,
        when,
        jitter,
        missed,
        overlap,
        exec_ttl,
        paused,
        catch_up,
    })
}

fn zone(t: &mut Table, key: &'static str) -> Result<Option<Zone>, ConfigError> {
    let Some(name) = t.get::<String>(key, Acts::Yes)? else {
        return Ok(None);
    };
    if name.is_empty() {
        return Ok(None);
    }
    Zone::lookup(&name)
        .map(Some)
        .map_err(|e| t.error(key, e.to_string()))
}

/// 1 to [`MAX_NAME`] characters of `[a-z0-9_.-]`: safe in a metric label, a Redis key, a
/// file name and a shell command without quoting.
pub fn is_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
}
