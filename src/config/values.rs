//! The values a key can hold: durations, counts, addresses, commands, relays, env maps and
//! words from a fixed set.
//!
//! Owns what each kind of value accepts, what it becomes, and how it says what is wrong
//! with it (a [`Problem`] worded to follow the value, and the accepted forms). It knows
//! nothing of keys, sections or defaults: "0 means off" and the like belong to the
//! sections.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_yaml::Value;

pub use super::relay::Relay;

use super::error::{Problem, key_name, quote};
use super::{LogEncoding, LogLevel, Missed};

/// A kind of value, read from YAML.
pub(super) trait FromValue: Sized {
    /// The accepted forms, as they follow "expected" in a message.
    const FORMS: &'static str;
    /// Whether an empty string left by an unset variable is a value here rather than a
    /// mistake to report.
    const EMPTY_IS_A_VALUE: bool = false;

    fn from_value(value: &Value) -> Result<Self, Problem>;

    /// What is wrong-looking about a value that was read all the same, worded to follow
    /// the value: one the file may not mean as it is read. `None` for most.
    fn doubt(_value: &Value) -> Option<String> {
        None
    }
}

pub(super) const DURATION_FORMS: &str = "a number with a unit such as 250ms, 1s, 1m or 1m30s";
const COMMAND_FORMS: &str =
    "a command as a string such as \"php worker.php\" or a list such as [php, worker.php]";

/// The problem with text handed to the kernel as a C string (a program's argument, an
/// environment entry, a path, a name looked up in the user database), which ends at its
/// first NUL: caught here, rather than when a worker is about to start. `holder` names what
/// cannot hold one: "no program argument".
fn nul_byte(text: &str, holder: &str) -> Option<String> {
    text.contains('\0')
        .then(|| format!("has a NUL byte, which {holder} can hold"))
}

/// A duration written the Go way, as RoadRunner reads it; zero is kept (the sections decide
/// what it means).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct GoDuration(pub Duration);

impl FromValue for GoDuration {
    const FORMS: &'static str = DURATION_FORMS;

    fn from_value(value: &Value) -> Result<Self, Problem> {
        match value {
            Value::String(text) => parse_go_duration(text)
                .map(GoDuration)
                .map_err(|problem| Problem::new(value, problem.to_string())),
            Value::Number(n) if n.as_u64() == Some(0) => Ok(GoDuration(Duration::ZERO)),
            Value::Number(_) => Err(Problem::new(
                value,
                "is a number without a unit, which is ambiguous",
            )),
            _ => Err(Problem::wrong_type(value)),
        }
    }
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

/// What is wrong with a duration, worded to follow the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationProblem {
    #[error("is negative")]
    Negative,
    #[error("is not a duration")]
    NotADuration,
    #[error("has a number without a unit")]
    NoUnit,
    /// The unit as written, quoted (and cut) as messages quote values.
    #[error("has an unknown unit {0}")]
    UnknownUnit(String),
    /// Beyond what Go's durations hold (about 292 years).
    #[error("is too large")]
    TooLarge,
}

/// A duration given outside the file that is none: the value (quoted, cut as messages cut
/// it), what is wrong with it, and the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{shown} {problem}; expected {DURATION_FORMS}")]
pub struct BadDuration {
    pub shown: String,
    pub problem: DurationProblem,
}

/// A duration in `.rr.yaml`'s syntax (Go's), for front ends that take one outside the file
/// (the C ABI, and through it PHP's FFI).
pub fn parse_duration(text: &str) -> Result<Duration, BadDuration> {
    parse_go_duration(text).map_err(|problem| BadDuration {
        shown: quote(text),
        problem,
    })
}

/// Go's `time.ParseDuration`, without negative values. Written here rather than with
/// humantime because humantime accepts units Go rejects (`d`, `w`, `min`, spaces) and
/// rejects forms Go accepts (`.5s`, `μs`, fractions finer than a nanosecond): a file must
/// mean here what it means to RoadRunner.
pub(super) fn parse_go_duration(text: &str) -> Result<Duration, DurationProblem> {
    let unsigned = text.strip_prefix('+').unwrap_or(text);
    if unsigned.starts_with('-') {
        return Err(DurationProblem::Negative);
    }
    if unsigned == "0" {
        return Ok(Duration::ZERO);
    }
    if unsigned.is_empty() {
        return Err(DurationProblem::NotADuration);
    }
    let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let too_large = || DurationProblem::TooLarge;
    let mut nanos: u128 = 0;
    let mut rest = unsigned;
    while !rest.is_empty() {
        let (whole, after) = rest.split_at(digits(rest));
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => after.split_at(digits(after)),
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(DurationProblem::NotADuration);
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(if after.is_empty() {
                DurationProblem::NoUnit
            } else {
                DurationProblem::NotADuration
            });
        }
        let Some(&(_, scale)) = GO_UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(DurationProblem::UnknownUnit(quote(unit)));
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

/// The parts a duration is written in, largest first: the units of [`GO_UNITS`] without
/// days or longer, which Go refuses, and without its second spelling of a microsecond.
const WRITTEN_UNITS: [(&str, u128); 6] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("µs", 1_000),
    ("ns", 1),
];

/// A duration as the file writes one (`24h`, `1h30m`, `1s500ms`, `250ms`, `0s`): whatever
/// prints a config duration (`php --ri ticker`, `ticker status`, the log) prints it this
/// way, so that a value read there can be pasted back into the file and means the same
/// ([`parse_go_duration`] reads every one back exactly).
pub fn format_duration(d: Duration) -> String {
    format_duration_coarse(d, WRITTEN_UNITS.len())
}

/// [`format_duration`] cut to its `parts` largest parts (`1h5m`, not `1h5m3s250ms`): a
/// span read at a glance, shorter than the duration by what is cut.
pub fn format_duration_coarse(d: Duration, parts: usize) -> String {
    let mut rest = d.as_nanos();
    let mut out = String::new();
    let mut written = 0;
    for (unit, scale) in WRITTEN_UNITS {
        if written == parts {
            break;
        }
        let n = rest / scale;
        rest %= scale;
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
            written += 1;
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

/// A whole number of 0 or more. A string of decimal digits is one too (`"4"`), as
/// RoadRunner's config reader takes it; `"128MB"` is refused.
fn integer(value: &Value) -> Result<u64, Problem> {
    match value {
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(n), _) => Ok(n),
            (None, Some(_)) => Err(Problem::new(value, "is negative")),
            (None, None) => Err(Problem::new(value, "is not an integer")),
        },
        Value::String(text) => match decimal(text) {
            Some(Ok(n)) => Ok(n),
            Some(Err(())) => Err(Problem::new(value, "is negative")),
            None => Err(Problem::wrong_type(value)),
        },
        _ => Err(Problem::wrong_type(value)),
    }
}

/// `text` as an optionally signed decimal integer: `Err` when negative, `None` when it is
/// not one (or is beyond 64 bits).
fn decimal(text: &str) -> Option<Result<u64, ()>> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(if negative && n != 0 { Err(()) } else { Ok(n) })
}

/// `num_workers` as written: 0 to [`super::MAX_WORKERS`], 0 meaning one per CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct WorkerCount(pub usize);

impl FromValue for WorkerCount {
    const FORMS: &'static str = "an integer from 0 to 500 (0 means one per CPU)";

    fn from_value(value: &Value) -> Result<Self, Problem> {
        match usize::try_from(integer(value)?) {
            Ok(n) if n <= super::MAX_WORKERS => Ok(WorkerCount(n)),
            _ => Err(Problem::new(value, "is out of range")),
        }
    }
}

/// A limit where 0 means off: `max_jobs`, `max_queue_size`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Count(pub u64);

impl FromValue for Count {
    const FORMS: &'static str = "an integer of 0 or more (0 means off)";

    fn from_value(value: &Value) -> Result<Self, Problem> {
        integer(value).map(Count)
    }
}

/// An amount of memory in megabytes (MiB, as RoadRunner counts them), as
/// `supervisor.max_worker_memory` is written. Held in 32 bits, so that [`Megabytes::bytes`]
/// cannot overflow: 4 PiB is far beyond any worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Megabytes(u32);

impl Megabytes {
    pub const fn new(megabytes: u32) -> Megabytes {
        Megabytes(megabytes)
    }

    pub fn megabytes(self) -> u32 {
        self.0
    }

    pub fn bytes(self) -> u64 {
        u64::from(self.0) << 20
    }
}

impl FromValue for Megabytes {
    const FORMS: &'static str = "an integer of megabytes from 0 to 4294967295 (0 means off)";

    fn from_value(value: &Value) -> Result<Self, Problem> {
        u32::try_from(integer(value)?)
            .map(Megabytes)
            .map_err(|_| Problem::new(value, "is out of range"))
    }
}

/// As RoadRunner reads a boolean: `true` or `false`, also quoted, and Go's other spellings
/// (`"1"`, `"t"`, `"TRUE"`, `"0"`, `"f"`, `"False"`, ...); an integer is true when it is not 0.
/// `yes` and `on` are refused, as RoadRunner refuses them.
impl FromValue for bool {
    const FORMS: &'static str = "a boolean (true or false, or 1 or 0)";

    fn from_value(value: &Value) -> Result<Self, Problem> {
        match value {
            Value::Bool(b) => Ok(*b),
            Value::Number(n) if n.as_i64().is_some() || n.as_u64().is_some() => {
                Ok(n.as_i64() != Some(0))
            }
            Value::String(text) => match text.as_str() {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
                "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
                _ => Err(Problem::wrong_type(value)),
            },
            _ => Err(Problem::wrong_type(value)),
        }
    }
}

/// Free text. A number is taken as its text (`user: 1000`), as RoadRunner takes it.
impl FromValue for String {
    const FORMS: &'static str = "a string";

    fn from_value(value: &Value) -> Result<Self, Problem> {
        match value {
            Value::String(text) => Ok(text.clone()),
            Value::Number(n) if !n.is_f64() => Ok(n.to_string()),
            _ => Err(Problem::wrong_type(value)),
        }
    }
}

impl FromValue for PathBuf {
    const FORMS: &'static str = "a path such as /run/ticker.sock";

    fn from_value(value: &Value) -> Result<Self, Problem> {
        let text = String::from_value(value)?;
        match nul_byte(&text, "no path") {
            Some(problem) => Err(Problem::new(value, problem)),
            None => Ok(PathBuf::from(text)),
        }
    }
}

/// `server.user` (and `on_init.user`): a name for `getpwnam`, as RoadRunner looks it up.
/// Empty is kept, for the section to read as not set, as RoadRunner does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct UserName(pub String);

impl FromValue for UserName {
    const FORMS: &'static str =
        "a user name such as www-data (no \"/\", \":\" or control characters)";

    fn from_value(value: &Value) -> Result<Self, Problem> {
        account_name(value, "no user name").map(UserName)
    }
}

/// `server.group`: a name for `getgrnam`, as [`UserName`] is for `getpwnam`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct GroupName(pub String);

impl FromValue for GroupName {
    const FORMS: &'static str =
        "a group name such as www-data (no \"/\", \":\" or control characters)";

    fn from_value(value: &Value) -> Result<Self, Problem> {
        account_name(value, "no group name").map(GroupName)
    }
}

/// A name of the user or group database, refused here when no lookup could find it, so that
/// the master does not start only to fail at its first worker. A number is its text
/// (`user: 1000`), as RoadRunner reads it. Besides a NUL and other control characters, which
/// no C string or `/etc/passwd` line holds, `":"` (the field separator of `/etc/passwd` and
/// `/etc/group`) and `"/"` (which the tools that create users refuse) mark a mistake: a
/// `user:group` pair, a path.
fn account_name(value: &Value, holder: &str) -> Result<String, Problem> {
    let name = String::from_value(value)?;
    let problem = if let Some(problem) = nul_byte(&name, holder) {
        problem
    } else if name.chars().any(char::is_control) {
        format!("has a control character, which {holder} can hold")
    } else if let Some(c) = name.chars().find(|c| matches!(c, '/' | ':')) {
        format!("has {}, which {holder} can hold", quote(&c.to_string()))
    } else if !name.is_empty() && name.trim().is_empty() {
        "is blank".to_string()
    } else {
        return Ok(name);
    };
    Err(Problem::new(value, problem))
}

/// A TCP address to listen on. `:port` means loopback: an endpoint is bound to the network
/// only when the user names a host.
impl FromValue for SocketAddr {
    const FORMS: &'static str = "host:port such as 127.0.0.1:2112, or :port for loopback";

    fn from_value(value: &Value) -> Result<Self, Problem> {
        let text = String::from_value(value)?;
        let full = match text.strip_prefix(':') {
            Some(port) => format!("127.0.0.1:{port}"),
            None => text.replace("localhost:", "127.0.0.1:"),
        };
        full.parse()
            .map_err(|_| Problem::new(value, "is not an address"))
    }
}

/// One of a fixed set of words, case-insensitive.
fn word<T: Copy>(value: &Value, words: &[(&str, T)]) -> Result<T, Problem> {
    let lower = value.as_str().map(str::to_ascii_lowercase);
    words
        .iter()
        .find(|(word, _)| Some(*word) == lower.as_deref())
        .map(|&(_, choice)| choice)
        .ok_or_else(|| Problem::new(value, "is not accepted"))
}

impl FromValue for Missed {
    const FORMS: &'static str = "skip, delay or burst";

    fn from_value(value: &Value) -> Result<Self, Problem> {
        word(
            value,
            &[
                ("skip", Missed::Skip),
                ("delay", Missed::Delay),
                ("burst", Missed::Burst),
            ],
        )
    }
}

impl FromValue for super::schedules::CatchUp {
    const FORMS: &'static str = "none or once";

    fn from_value(value: &Value) -> Result<Self, Problem> {
        word(
            value,
            &[
                ("none", super::schedules::CatchUp::None),
                ("once", super::schedules::CatchUp::Once),
            ],
        )
    }
}

impl FromValue for LogLevel {
    const FORMS: &'static str = "debug, info, warn or error";

    fn from_value(value: &Value) -> Result<Self, Problem> {
        word(
            value,
            &[
                ("debug", LogLevel::Debug),
                ("info", LogLevel::Info),
                ("warn", LogLevel::Warn),
                ("warning", LogLevel::Warn),
                ("error", LogLevel::Error),
                // RoadRunner's levels above error only ever log errors here.
                ("dpanic", LogLevel::Error),
                ("panic", LogLevel::Error),
                ("fatal", LogLevel::Error),
            ],
        )
    }
}

impl FromValue for LogEncoding {
    const FORMS: &'static str = "console or json";

    fn from_value(value: &Value) -> Result<Self, Problem> {
        word(
            value,
            &[
                ("console", LogEncoding::Console),
                ("json", LogEncoding::Json),
            ],
        )
    }
}

const NO_ARGUMENT: &str = "no program argument";

/// A program and its arguments; never empty. A string in the file is split on whitespace
/// with no shell quoting, as RoadRunner does; use the list form for arguments with spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command(pub Vec<String>);

/// What a shell would read differently from a split on spaces: quotes and escapes, pipes,
/// lists and background jobs, redirections, command substitution.
const SHELL_SYNTAX: [&str; 10] = ["\"", "'", "\\", "`", "|", "&", ";", "<", ">", "$("];

impl FromValue for Command {
    const FORMS: &'static str = COMMAND_FORMS;

    /// A string with shell syntax: RoadRunner splits it on spaces and runs no shell, and so
    /// does the extension, so the program gets `'a` and `b'` as two arguments, or `|` as one.
    fn doubt(value: &Value) -> Option<String> {
        let text = value.as_str()?;
        let found: Vec<&str> = SHELL_SYNTAX
            .into_iter()
            .filter(|syntax| text.contains(syntax))
            .collect();
        let reach = if found.len() == 1 { "reaches" } else { "reach" };
        (!found.is_empty()).then(|| {
            format!(
                "{} is split on spaces and run without a shell, so its {} {reach} the program \
                 as written; use the list form, one item per argument, such as \
                 [php, worker.php] (or [sh, -c, \"...\"] for a shell)",
                quote(text),
                found.join(" ")
            )
        })
    }

    fn from_value(value: &Value) -> Result<Self, Problem> {
        match value {
            Value::String(text) => {
                if let Some(problem) = nul_byte(text, NO_ARGUMENT) {
                    return Err(Problem::new(value, problem));
                }
                let words: Vec<String> = text.split_whitespace().map(String::from).collect();
                if words.is_empty() {
                    return Err(Problem::new(value, "is an empty command"));
                }
                Ok(Command(words))
            }
            Value::Sequence(items) => {
                let words = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let at = format!("[{i}]");
                        let word = String::from_value(item)
                            .map_err(|problem| problem.within(&at).expected(String::FORMS))?;
                        match nul_byte(&word, NO_ARGUMENT) {
                            Some(problem) => Err(Problem::new(item, problem).within(&at)),
                            None => Ok(word),
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                // Later arguments may legitimately be empty strings; the program may not.
                if words
                    .first()
                    .is_none_or(|program| program.trim().is_empty())
                {
                    return Err(Problem::new(value, "has no program"));
                }
                Ok(Command(words))
            }
            _ => Err(Problem::wrong_type(value)),
        }
    }
}

/// `server.relay`: the forms are the relay's own (see [`crate::relay`]).
impl FromValue for Relay {
    const FORMS: &'static str = super::relay::FORMS;

    fn from_value(value: &Value) -> Result<Self, Problem> {
        let text = String::from_value(value)?;
        Relay::parse(&text).map_err(|_| Problem::new(value, "is not a relay"))
    }
}

/// An `env` section: names upper-cased as RoadRunner does, scalar values kept as text.
/// Written as a mapping, or as a list of one-entry mappings (both appear in real files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct EnvMap(pub BTreeMap<String, String>);

const ENV_VALUE_FORMS: &str = "a string, a number or a boolean";

impl FromValue for EnvMap {
    const FORMS: &'static str =
        "a mapping of variable names to values, or a list of NAME: value entries";
    // A variable may be set to nothing on purpose, as RoadRunner passes it on.
    const EMPTY_IS_A_VALUE: bool = true;

    fn from_value(value: &Value) -> Result<Self, Problem> {
        let mut env = EnvMap::default();
        match value {
            Value::Null => {}
            Value::Mapping(map) => {
                for (name, item) in map {
                    env.insert(name, item)?;
                }
            }
            Value::Sequence(items) => {
                for (i, item) in items.iter().enumerate() {
                    let entry = item.as_mapping().filter(|map| map.len() == 1);
                    let Some((name, item)) = entry.and_then(|map| map.iter().next()) else {
                        return Err(Problem::new(item, "is not a single NAME: value entry")
                            .within(&format!("[{i}]")));
                    };
                    env.insert(name, item)?;
                }
            }
            _ => return Err(Problem::wrong_type(value)),
        }
        Ok(env)
    }
}

impl EnvMap {
    fn insert(&mut self, key: &Value, value: &Value) -> Result<(), Problem> {
        let name = match key {
            Value::String(name) => name.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => String::new(),
        };
        // The kernel passes an environment as `NAME=value` C strings: a name ends at its
        // first "=", and either ends at a NUL.
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(Problem::shown(quote(&name), "is not a variable name")
                .expected("a name without \"=\" or NUL bytes such as APP_ENV"));
        }
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Null => String::new(),
            _ => {
                return Err(Problem::wrong_type(value)
                    .within(&format!(".{}", key_name(key)))
                    .expected(ENV_VALUE_FORMS));
            }
        };
        if let Some(problem) = nul_byte(&text, "no environment variable") {
            return Err(Problem::new(value, problem)
                .within(&format!(".{}", key_name(key)))
                .expected(ENV_VALUE_FORMS));
        }
        if self.0.insert(name.to_uppercase(), text).is_some() {
            return Err(Problem::shown(
                quote(&name),
                "names a variable already set (names are upper-cased)",
            )
            .expected("each name once"));
        }
        Ok(())
    }
}

/// `ticker.cluster.redis`: the Redis server that holds the lease, as a URL the `redis` crate
/// reads (`redis://`, `rediss://` for TLS, `unix://` or `redis+unix://` for a socket), with
/// the user and password in it. Kept as written, for the process that connects; shown
/// everywhere else without its password.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    url: String,
    shown: String,
}

pub(super) const REDIS_URL_FORMS: &str = "a Redis URL such as redis://127.0.0.1:6379/0, \
     rediss://user:password@redis.example:6380/0 (TLS) or unix:///run/redis/redis.sock";

/// Why a text is not a Redis URL, worded to follow the value (never quoting it: it may
/// hold a password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadRedisUrl {
    #[error("is not a Redis URL")]
    NotAUrl,
    /// A URL the client refuses; its description, without the client's error kind.
    #[error("is not a Redis URL the client can use ({0})")]
    Unusable(String),
}

impl RedisUrl {
    /// Checks `text` as the client will read it when it connects.
    pub fn parse(text: &str) -> Result<RedisUrl, BadRedisUrl> {
        use redis::IntoConnectionInfo;
        let Some(url) = redis::parse_redis_url(text) else {
            return Err(BadRedisUrl::NotAUrl);
        };
        let shown = redacted(url.clone());
        url.into_connection_info()
            .map_err(|e| {
                // The client's description, without its " - InvalidClientConfig" kind.
                let text = e.to_string();
                BadRedisUrl::Unusable(text.split(" - ").next().unwrap_or(&text).to_string())
            })
            .map(|_| RedisUrl {
                url: text.to_string(),
                shown,
            })
    }

    /// The URL as written, password included: only for connecting.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The URL without its password, for logs, status and messages.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

fn redacted(mut url: url::Url) -> String {
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if pairs.iter().any(|(k, _)| k == "pass") {
        for (k, v) in &mut pairs {
            if k == "pass" {
                *v = "***".into();
            }
        }
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// `scheme://***@host...` for text that is not a URL but may hold a password all the same.
fn without_credentials(text: &str) -> String {
    match (text.find("://"), text.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &text[..scheme], &text[at + 1..])
        }
        (None, Some(at)) => format!("***@{}", &text[at + 1..]),
        _ => text.to_string(),
    }
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RedisUrl").field(&self.shown).finish()
    }
}

impl FromValue for RedisUrl {
    const FORMS: &'static str = REDIS_URL_FORMS;

    fn from_value(value: &Value) -> Result<Self, Problem> {
        let text = String::from_value(value)?;
        RedisUrl::parse(text.trim()).map_err(|problem| {
            // Never the password in a message: show what the client would connect to.
            let text = text.trim();
            let shown = redis::parse_redis_url(text)
                .map(redacted)
                .unwrap_or_else(|| without_credentials(text));
            Problem::shown(quote(&shown), problem.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_yaml::from_str(text).unwrap()
    }

    fn read<T: FromValue>(text: &str) -> Result<T, Problem> {
        T::from_value(&yaml(text))
    }

    /// The problem's value and wording, as the message shows them.
    fn problem<T: FromValue + std::fmt::Debug>(text: &str) -> String {
        let problem = read::<T>(text).expect_err(text);
        format!("{}{} {}", problem.at, problem.shown, problem.problem)
    }

    #[test]
    fn go_durations_in_every_form() {
        let cases = [
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("1s", Duration::from_secs(1)),
            ("1h2m3s", Duration::from_secs(3723)),
            ("100µs", Duration::from_micros(100)),
            ("100μs", Duration::from_micros(100)),
            (".5s", Duration::from_millis(500)),
            ("1.s", Duration::from_secs(1)),
            ("1.0000000019s", Duration::from_nanos(1_000_000_001)),
            ("+2s", Duration::from_secs(2)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_go_duration(text), Ok(expected), "{text}");
        }
        assert_eq!(read::<GoDuration>("0"), Ok(GoDuration(Duration::ZERO)));
        assert_eq!(
            parse_go_duration("2562047h47m16.854775807s"),
            Ok(Duration::from_nanos(i64::MAX as u64))
        );
        assert_eq!(
            parse_go_duration("2562047h47m16.854775808s"),
            Err(DurationProblem::TooLarge)
        );
    }

    #[test]
    fn durations_are_written_in_units_the_file_accepts() {
        for (d, text) in [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_secs(90 * 60), "1h30m"),
            (Duration::from_secs(86_400), "24h"),
            (Duration::from_secs(100_000 * 3600), "100000h"),
            (Duration::from_millis(1_500), "1s500ms"),
            (Duration::from_micros(100), "100µs"),
            (Duration::from_nanos(3_600_000_000_001), "1h1ns"),
        ] {
            assert_eq!(format_duration(d), text, "{d:?}");
            assert_eq!(parse_go_duration(text), Ok(d), "{text}");
        }
        let d = Duration::from_secs(86_400 + 4 * 3600 + 61);
        assert_eq!(format_duration_coarse(d, 2), "28h1m");
        assert_eq!(format_duration_coarse(Duration::from_secs(3605), 2), "1h5s");
        assert_eq!(format_duration_coarse(Duration::ZERO, 2), "0s");
    }

    #[test]
    fn counts_refuse_negative_fractional_and_worded_numbers() {
        assert_eq!(read::<Count>("7"), Ok(Count(7)));
        assert_eq!(problem::<Count>("-3"), "-3 is negative");
        assert_eq!(problem::<Count>("2.5"), "2.5 is not an integer");
        assert_eq!(
            read::<Count>("'4'"),
            Ok(Count(4)),
            "quoted, as RoadRunner reads it"
        );
        assert_eq!(read::<Count>("'+4'"), Ok(Count(4)));
        assert_eq!(problem::<Count>("'-4'"), "\"-4\" is negative");
        assert_eq!(problem::<Count>("'4 jobs'"), "\"4 jobs\" is a string");
        assert_eq!(problem::<Count>("'0x10'"), "\"0x10\" is a string");
        assert_eq!(problem::<Count>("[1]"), "[1] is a list");
        assert_eq!(problem::<WorkerCount>("501"), "501 is out of range");
        assert_eq!(read::<WorkerCount>("500"), Ok(WorkerCount(500)));
    }

    #[test]
    fn megabytes_cannot_overflow_bytes() {
        assert_eq!(
            read::<Megabytes>("128").map(Megabytes::bytes),
            Ok(128 << 20)
        );
        let most = read::<Megabytes>("4294967295").unwrap();
        assert_eq!(most.bytes(), u64::from(u32::MAX) * 1024 * 1024);
        assert_eq!(
            problem::<Megabytes>("4294967296"),
            "4294967296 is out of range"
        );
        assert_eq!(
            problem::<Megabytes>("18446744073709551615"),
            "18446744073709551615 is out of range"
        );
    }

    #[test]
    fn env_maps_as_mapping_or_list_of_entries() {
        let expected: BTreeMap<String, String> = [("APP_ENV", "prod"), ("PORT", "8080")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            read::<EnvMap>("{app_env: prod, PORT: 8080}").unwrap().0,
            expected
        );
        assert_eq!(
            read::<EnvMap>("[{app_env: prod}, {PORT: 8080}]").unwrap().0,
            expected
        );
        assert_eq!(read::<EnvMap>("~").unwrap(), EnvMap::default());
        assert_eq!(
            problem::<EnvMap>("[{A: 1, B: 2}]"),
            "[0]{\"A\": 1, \"B\": 2} is not a single NAME: value entry"
        );
        assert_eq!(
            problem::<EnvMap>("[x]"),
            "[0]\"x\" is not a single NAME: value entry"
        );
        assert_eq!(
            problem::<EnvMap>("[{a: 1}, {A: 2}]"),
            "\"A\" names a variable already set (names are upper-cased)"
        );
        assert_eq!(
            problem::<EnvMap>("{\"A=B\": 1}"),
            "\"A=B\" is not a variable name"
        );
        assert_eq!(problem::<EnvMap>("5"), "5 is a number");
    }

    #[test]
    fn words_are_case_insensitive() {
        assert_eq!(read::<Missed>("Burst"), Ok(Missed::Burst));
        assert_eq!(read::<LogLevel>("WARNING"), Ok(LogLevel::Warn));
        assert_eq!(read::<LogLevel>("fatal"), Ok(LogLevel::Error));
        assert_eq!(problem::<LogEncoding>("text"), "\"text\" is not accepted");
        assert_eq!(problem::<Missed>("1"), "1 is not accepted");
    }
}
