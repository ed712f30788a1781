//! Cron schedules: an expression in a time zone, and when it fires, as instants in UTC.
//!
//! Owns what an expression may say (5 fields, or 6 with seconds first; `*`, values, ranges,
//! steps, lists, month and weekday names, 0 and 7 for Sunday, the `@` aliases; a day that
//! satisfies either a restricted day-of-month or a restricted day-of-week, where restricted
//! means anything but `*`: Vixie cron also counts `*/2` as unrestricted there, croner and
//! this module do not), how a wrong one is refused (the field, its value, its range), and the
//! occurrences after a given instant, across DST the way Vixie cron runs jobs:
//!
//! - a fixed-time job (one value each in seconds, minutes and hours) whose time falls in a
//!   spring-forward gap runs once, at the first instant after the gap, that day; in a
//!   fall-back fold it runs once, on the first pass;
//! - any other job follows real time: its times inside a gap do not exist, and in a fold it
//!   runs at each matching wall-clock time of both passes;
//! - occurrences strictly increase: never one at or before the instant searched from.
//!
//! croner's extensions come along: `L` (last day, or last weekday `5L`), `W` (nearest
//! weekday), `#` (`5#2`, the second Friday), `?` (as `*`) and a `+` before day-of-week (the
//! day must satisfy both fields, not either).
//!
//! The parsing and the search are croner's, pinned in Cargo.toml; this module maps the
//! aliases, counts the fields, names the field croner refused, refuses what croner would
//! silently misread (a name in the wrong field, an empty list item), and refuses an
//! expression that never matches. Its tests hold croner to the rules above against an
//! independent reading of the fields.
//!
//! It reads no clock (callers pass the instant to search from), arms no timer, and does no
//! I/O: zone rules come resolved from [`super::zone`]. Instants are [`UnixInstant`]s and
//! local times are strings, so that callers never handle jiff's or croner's types.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use croner::parser::{CronParser, Seconds, Year};
use croner::{Cron, CronComponent, CronPattern, JobType, Weekday};
use jiff::{SignedDuration, Timestamp, Zoned};

use super::zone::{Zone, ZoneError};

/// An instant in UTC: nanoseconds since 1970-01-01T00:00:00Z, without leap seconds (Unix
/// time). Ours rather than jiff's `Timestamp`: the master holds `CLOCK_REALTIME` readings as
/// a [`Duration`] and arms timers with whole seconds and nanoseconds, and keeping jiff out of
/// its signatures lets the date library change under this module alone. An `i64` reaches
/// 2262-04-11; a schedule whose next run lies beyond has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixInstant(i64);

const NANOS_PER_SECOND: i64 = 1_000_000_000;

impl UnixInstant {
    pub const fn from_nanos(nanos: i64) -> UnixInstant {
        UnixInstant(nanos)
    }

    /// Saturates past 2262.
    pub const fn from_secs(secs: i64) -> UnixInstant {
        UnixInstant(secs.saturating_mul(NANOS_PER_SECOND))
    }

    /// Unix time as [`crate::schedule::WallClock::unix`] gives it. Saturates past 2262.
    pub fn from_unix(since_epoch: Duration) -> UnixInstant {
        UnixInstant(i64::try_from(since_epoch.as_nanos()).unwrap_or(i64::MAX))
    }

    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds, rounded down (towards the past, also before 1970).
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(NANOS_PER_SECOND)
    }

    /// The nanoseconds past [`UnixInstant::as_secs`], for a `timespec`.
    pub const fn subsec_nanos(self) -> u32 {
        self.0.rem_euclid(NANOS_PER_SECOND) as u32
    }

    /// Unix time as a [`Duration`]; zero for an instant before 1970.
    pub fn unix(self) -> Duration {
        Duration::from_nanos(u64::try_from(self.0).unwrap_or(0))
    }

    /// An RFC 3339 time with its offset (`2025-03-29T12:00:00+01:00`, `2025-03-29T11:00:00Z`),
    /// as `ticker calendar --from` takes it. A time without an offset is refused rather than
    /// read in some zone: the instant it names would depend on where the command runs.
    pub fn parse_rfc3339(text: &str) -> Result<UnixInstant, TimeError> {
        let at: Timestamp = text.trim().parse().map_err(|_| TimeError::NotRfc3339 {
            value: text.to_string(),
        })?;
        UnixInstant::from_timestamp(at).ok_or_else(|| TimeError::OutOfRange {
            value: text.to_string(),
        })
    }

    fn timestamp(self) -> Timestamp {
        // Every i64 of nanoseconds lies well inside jiff's range (years -9999 to 9999).
        Timestamp::from_nanosecond(i128::from(self.0)).expect("an i64 of nanoseconds fits")
    }

    fn from_timestamp(at: Timestamp) -> Option<UnixInstant> {
        i64::try_from(at.as_nanosecond()).ok().map(UnixInstant)
    }
}

impl fmt::Display for UnixInstant {
    /// RFC 3339 in UTC: `2025-03-30T01:00:00Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.timestamp(), f)
    }
}

/// Why a text is not an instant, for [`UnixInstant::parse_rfc3339`]. Shown with Rust's
/// quoting, so that a value holding a quote or a line break still makes one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error(
        "{value:?} is not a time with an offset: expected RFC 3339 such as 2025-03-29T12:00:00+01:00 or 2025-03-29T11:00:00Z"
    )]
    NotRfc3339 { value: String },
    #[error("{value:?} is out of range: expected a time from 1677-09-21 to 2262-04-11")]
    OutOfRange { value: String },
}

/// One run of a schedule: when, in UTC, and the wall-clock time it names in the schedule's
/// zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    at: UnixInstant,
    local: String,
}

impl Occurrence {
    fn new(at: UnixInstant, zoned: &Zoned) -> Occurrence {
        let local = zoned
            .timestamp()
            .display_with_offset(zoned.offset())
            .to_string();
        Occurrence { at, local }
    }

    pub fn at(&self) -> UnixInstant {
        self.at
    }

    /// The local time, RFC 3339 with its offset: `2025-03-30T03:00:00+02:00`. The offset
    /// tells the two passes of a fold apart.
    pub fn local(&self) -> &str {
        &self.local
    }
}

/// `at` as the wall-clock time it is in `zone`, RFC 3339 with the offset:
/// `2025-03-30T03:00:00+02:00`, as [`Occurrence::local`] gives it.
pub fn local_time(zone: &Zone, at: UnixInstant) -> String {
    let zoned = at.timestamp().to_zoned(zone.rules().clone());
    Occurrence::new(at, &zoned).local
}

impl fmt::Display for Occurrence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.local)
    }
}

/// A field of an expression, in the order written (seconds only in the 6-field form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl Field {
    const ALL: [Field; 6] = [
        Field::Second,
        Field::Minute,
        Field::Hour,
        Field::DayOfMonth,
        Field::Month,
        Field::DayOfWeek,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Second => "second",
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }

    /// The numbers the field accepts (7 is Sunday again in day-of-week).
    pub fn range(self) -> (u32, u32) {
        match self {
            Field::Second | Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
        }
    }

    /// Its place in the 6-field form croner is given.
    fn position(self) -> usize {
        Field::ALL.iter().position(|f| *f == self).unwrap_or(0)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an expression (or a zone, for [`calendar`]) was refused. Each message is one line
/// that names what is wrong and what is accepted; callers add where the value came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error(
        "empty cron expression: expected 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or an alias such as @daily"
    )]
    Empty,
    #[error(
        "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, found {found}"
    )]
    FieldCount { found: usize },
    #[error(
        "unknown alias {alias:?}: expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"
    )]
    UnknownAlias { alias: String },
    #[error("{field} {value} is out of {min}-{max}")]
    OutOfRange {
        field: Field,
        value: String,
        min: u32,
        max: u32,
    },
    #[error("{field} range {range} runs backwards: write the smaller value first")]
    Backwards { field: Field, range: String },
    #[error("{field} step {part:?} is 0: a step is 1 or more")]
    ZeroStep { field: Field, part: String },
    #[error(
        "{field} {value:?}: names are only allowed in month (JAN-DEC) and day-of-week (SUN-SAT)"
    )]
    MisplacedName { field: Field, value: String },
    #[error("{field} {value:?}: a list has an empty item")]
    EmptyListItem { field: Field, value: String },
    /// croner refused the field for a reason none of the checks above names; its words.
    #[error("{field} {value:?}: {reason}")]
    Invalid {
        field: Field,
        value: String,
        reason: String,
    },
    /// croner refused the whole and no field alone; its words.
    #[error("not a cron expression: {reason}")]
    Rejected { reason: String },
    #[error("never matches: {reason}")]
    NeverMatches { reason: String },
    #[error(transparent)]
    Zone(#[from] ZoneError),
}

/// The aliases, as the 5-field expressions they stand for. Mapped here rather than by
/// croner, which lacks `@midnight`.
const ALIASES: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const MONTHS_IN_FULL: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A parsed cron expression, not yet in a zone.
#[derive(Clone)]
pub struct CronExpr {
    text: String,
    /// Shared by every copy: croner's parsed form holds a byte for each year up to 5000,
    /// about 5 KB, and the config, the master's copy of it and the timetable each hold the
    /// expression (at 10,000 cron schedules, 50 MB a copy).
    cron: Arc<Cron>,
}

impl fmt::Debug for CronExpr {
    /// The text: croner's parsed form is hundreds of bits that say nothing to a reader.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CronExpr").field(&self.text).finish()
    }
}

impl CronExpr {
    pub fn parse(text: &str) -> Result<CronExpr, CronError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(CronError::Empty);
        }
        let expanded = if text.starts_with('@') {
            ALIASES
                .iter()
                .find(|(alias, _)| alias.eq_ignore_ascii_case(text))
                .map(|(_, expr)| *expr)
                .ok_or_else(|| CronError::UnknownAlias {
                    alias: text.to_string(),
                })?
        } else {
            text
        };
        let values: Vec<&str> = expanded.split_whitespace().collect();
        let fields: &[Field] = match values.len() {
            5 => &Field::ALL[1..],
            6 => &Field::ALL,
            found => return Err(CronError::FieldCount { found }),
        };
        let fields: Vec<(Field, &str)> = fields.iter().copied().zip(values).collect();
        for &(field, value) in &fields {
            check_names(field, value)?;
            // croner skips an empty item (`1,,2`); Vixie refuses it, and it is likely a typo.
            if value.split(',').any(str::is_empty) {
                return Err(CronError::EmptyListItem {
                    field,
                    value: value.to_string(),
                });
            }
        }
        let mut cron = parser()
            .parse(&with_year(expanded, fields.len()))
            .map_err(|err| explain(&fields, &err))?;
        cron.pattern.years = EVERY_YEAR.clone();
        if first_matching_day(&cron.pattern).is_none() {
            return Err(CronError::NeverMatches {
                reason: why_no_day_matches(&cron.pattern),
            });
        }
        Ok(CronExpr {
            text: text.to_string(),
            cron: Arc::new(cron),
        })
    }

    /// The expression as written (trimmed), an alias as its alias.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// One value each in seconds, minutes and hours (`30 2 * * *`, `@daily`): such a job is
    /// moved past a DST gap and runs once in a fold. Any other job follows real time.
    pub fn is_fixed_time(&self) -> bool {
        self.cron.determine_job_type() == JobType::FixedTime
    }
}

impl PartialEq for CronExpr {
    fn eq(&self, other: &CronExpr) -> bool {
        self.text == other.text
    }
}

impl Eq for CronExpr {}

impl FromStr for CronExpr {
    type Err = CronError;

    fn from_str(text: &str) -> Result<CronExpr, CronError> {
        CronExpr::parse(text)
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// croner's year field as it reads `*`: every year its search reaches. croner reads a `*`
/// year by setting each of its 5,000 years one at a time, which made parsing 10,000
/// expressions most of a master's start; so each expression is given to croner with one
/// year ([`with_year`]), and this copy, read once by croner itself, replaces it.
static EVERY_YEAR: LazyLock<CronComponent> = LazyLock::new(|| {
    parser()
        .parse("* * * * * *")
        .expect("croner reads its own wildcard")
        .pattern
        .years
});

/// `expanded` (5 or 6 fields, as `fields` says) in croner's 7-field form: seconds first
/// (`0` when not written, as croner itself puts it), then a year, which
/// [`CronExpr::parse`] replaces with [`EVERY_YEAR`]. Any year in croner's range would do.
fn with_year(expanded: &str, fields: usize) -> String {
    let seconds = if fields == 5 { "0 " } else { "" };
    format!("{seconds}{expanded} 2000")
}

/// croner with the forms this module accepts: seconds optional (6 fields put them first),
/// a year field only as [`with_year`] adds it (no one writes one: 7 fields are refused
/// before croner sees them), weekdays counted from Sunday = 0, day-of-month OR day-of-week (its
/// default, and Vixie's), and only the step forms Vixie accepts (`*/n`, `a-b/n`).
fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Optional)
        .dom_and_dow(false)
        .alternative_weekdays(false)
        .sloppy_ranges(false)
        .build()
}

/// croner turns month and weekday names into numbers across the whole expression before it
/// splits it, so `MON` in the minute field would silently be minute 1 and `JAN` in
/// day-of-week would be Monday. A name outside its own field is refused here instead.
fn check_names(field: Field, value: &str) -> Result<(), CronError> {
    if !value.bytes().any(|b| b.is_ascii_alphabetic()) {
        return Ok(());
    }
    let upper = value.to_ascii_uppercase();
    let has = |names: &[&str]| names.iter().any(|name| upper.contains(name));
    let misplaced = match field {
        Field::Month => has(&WEEKDAY_NAMES),
        Field::DayOfWeek => has(&MONTH_NAMES),
        _ => has(&MONTH_NAMES) || has(&WEEKDAY_NAMES),
    };
    if misplaced {
        return Err(CronError::MisplacedName {
            field,
            value: value.to_string(),
        });
    }
    Ok(())
}

/// Which field croner refused, and why in our words where we can tell: each field is put
/// alone into an expression that is otherwise all `*`, so that croner judges it by itself.
fn explain(fields: &[(Field, &str)], err: &croner::errors::CronError) -> CronError {
    let parser = parser();
    for &(field, value) in fields {
        let mut probe = ["*"; 6];
        probe[field.position()] = value;
        if let Err(err) = parser.parse(&probe.join(" ")) {
            return explain_field(field, value, reason(&err));
        }
    }
    CronError::Rejected {
        reason: reason(err),
    }
}

/// croner's message without its prefix.
fn reason(err: &croner::errors::CronError) -> String {
    use croner::errors::CronError as E;
    match err {
        E::InvalidPattern(msg) | E::IllegalCharacters(msg) | E::ComponentError(msg) => msg.clone(),
        other => other.to_string(),
    }
}

/// A field croner refused: a number outside the field's range, a range written backwards or
/// a step of 0 is named as such (croner says only "out of bounds"); anything else keeps
/// croner's reason. This reads numbers out of the field to name them; what the field means
/// is croner's alone.
fn explain_field(field: Field, value: &str, reason: String) -> CronError {
    let (min, max) = field.range();
    for part in value.split(',') {
        let (base, step) = match part.split_once('/') {
            Some((base, step)) => (base, Some(step)),
            None => (part, None),
        };
        // In day-of-week, `5#2` is the second Friday: the number after `#` is no weekday.
        let base = base.split('#').next().unwrap_or_default();
        for number in base
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
        {
            let n = number.parse::<u64>().unwrap_or(u64::MAX);
            if n < u64::from(min) || n > u64::from(max) {
                return CronError::OutOfRange {
                    field,
                    value: number.to_string(),
                    min,
                    max,
                };
            }
        }
        if let Some((from, to)) = base.split_once('-')
            && let (Ok(from), Ok(to)) = (from.parse::<u32>(), to.parse::<u32>())
            && from > to
        {
            return CronError::Backwards {
                field,
                range: base.to_string(),
            };
        }
        if step.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b == b'0')) {
            return CronError::ZeroStep {
                field,
                part: part.to_string(),
            };
        }
    }
    CronError::Invalid {
        field,
        value: value.to_string(),
        reason,
    }
}

/// The first day on which the pattern's day-of-month, month and day-of-week let it run, by
/// croner's own matcher, over 400 years from 2000: the Gregorian calendar repeats after 400
/// years (146,097 days, a whole number of weeks), so a pattern no day of them fits never
/// runs. Stops at the first day that fits, which for nearly every pattern comes at once.
fn first_matching_day(pattern: &CronPattern) -> Option<(i32, u32, u32)> {
    // 2000-01-01 was a Saturday.
    let mut weekday = Weekday::Saturday;
    for year in 2000..2400 {
        for month in 1..=12 {
            let length = croner::time::days_in_month(year, month);
            if !pattern.month_match(month).unwrap_or(false) {
                weekday = weekday.shift(length as i32);
                continue;
            }
            for day in 1..=length {
                if pattern
                    .day_match(year, month, day, weekday)
                    .unwrap_or(false)
                {
                    return Some((year, month, day));
                }
                weekday = weekday.shift(1);
            }
        }
    }
    None
}

/// Why no day fits, as precisely as the fields allow: with plain days of the month and any
/// weekday, the months are too short (`February has no 30th`).
fn why_no_day_matches(pattern: &CronPattern) -> String {
    let plain = pattern.is_dow_wildcard()
        && !pattern.days.has_modifiers()
        && !pattern.months.has_modifiers();
    let days = pattern.days.values();
    if !plain || days.is_empty() {
        return "no day of the 400-year Gregorian cycle fits its day-of-month, month and day-of-week"
            .to_string();
    }
    let months: Vec<&str> = pattern
        .months
        .values()
        .iter()
        .map(|m| MONTHS_IN_FULL[usize::from(*m).saturating_sub(1) % 12])
        .collect();
    let verb = if months.len() == 1 { "has" } else { "have" };
    let days = if days.len() <= 3 {
        join(&days.iter().map(|d| ordinal(*d)).collect::<Vec<_>>(), "or")
    } else {
        format!("{} or later day", ordinal(days[0]))
    };
    format!("{} {verb} no {days}", join(&months, "and"))
}

fn ordinal(n: u16) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// `a`, `a and b`, `a, b and c`.
fn join<S: AsRef<str>>(items: &[S], word: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [rest @ .., last] => {
            let rest: Vec<&str> = rest.iter().map(AsRef::as_ref).collect();
            format!("{} {word} {}", rest.join(", "), last.as_ref())
        }
    }
}

/// An expression in a zone: the schedule the master runs and `ticker calendar` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    expr: CronExpr,
    zone: Zone,
}

impl CronSchedule {
    pub fn new(expr: CronExpr, zone: Zone) -> CronSchedule {
        CronSchedule { expr, zone }
    }

    pub fn expr(&self) -> &CronExpr {
        &self.expr
    }

    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// See [`CronExpr::is_fixed_time`].
    pub fn is_fixed_time(&self) -> bool {
        self.expr.is_fixed_time()
    }

    /// The first occurrence strictly after `after`; `None` when there is none before 2262
    /// (only possible in a zone whose DST swallows every time the expression names).
    ///
    /// To walk a schedule, pass each occurrence's [`Occurrence::at`] back in: an instant,
    /// unlike a wall-clock time, says which pass of a fold the walk is on.
    pub fn next_after(&self, after: UnixInstant) -> Option<Occurrence> {
        let mut from = after.timestamp().to_zoned(self.zone.rules().clone());
        // croner searches strictly after `from` in real time; this holds it to that should a
        // later version not, rather than hand the master a run it already made.
        for _ in 0..4 {
            let found = self.expr.cron.find_next_occurrence(&from, false).ok()?;
            let at = UnixInstant::from_timestamp(found.timestamp())?;
            if at > after {
                return Some(Occurrence::new(at, &found));
            }
            from = found.checked_add(SignedDuration::from_secs(1)).ok()?;
        }
        None
    }

    /// The occurrences after `after`, in order; ends only where [`CronSchedule::next_after`]
    /// finds none.
    pub fn occurrences_after(&self, after: UnixInstant) -> Occurrences<'_> {
        Occurrences {
            schedule: self,
            after,
        }
    }
}

/// See [`CronSchedule::occurrences_after`].
pub struct Occurrences<'a> {
    schedule: &'a CronSchedule,
    after: UnixInstant,
}

impl Iterator for Occurrences<'_> {
    type Item = Occurrence;

    fn next(&mut self) -> Option<Occurrence> {
        let next = self.schedule.next_after(self.after)?;
        self.after = next.at();
        Some(next)
    }
}

/// The next `n` occurrences of `expr` in the zone named `zone`, strictly after `from`:
/// what `ticker calendar` lists. Fewer than `n` only when the schedule ends (see
/// [`CronSchedule::next_after`]).
pub fn calendar(
    expr: &str,
    zone: &str,
    from: UnixInstant,
    n: usize,
) -> Result<Vec<Occurrence>, CronError> {
    let schedule = CronSchedule::new(CronExpr::parse(expr)?, Zone::lookup(zone)?);
    Ok(schedule.occurrences_after(from).take(n).collect())
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod properties;
