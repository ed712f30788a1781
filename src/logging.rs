//! The `log` facade's logger for a master and its workers: one line per record on stderr.
//!
//! Owns the line format (plain, or JSON as RoadRunner's `logs.encoding: json` writes it) and
//! the level filter (`logs.level`). Code everywhere else logs with `log`'s macros. Each line
//! goes out in a single `write`, so that lines from the master and its workers, which share
//! stderr, never interleave mid-line. Workers' own output is theirs: nothing here touches it.
//! Only a process that runs a pool installs the logger ([`configure`]): in every other one
//! the macros cost a comparison and write nothing.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use log::{Level, LevelFilter, Log, Metadata, Record};
use serde::Serialize;

use crate::config::{LogEncoding, LogLevel, LogsConfig};

static JSON: AtomicBool = AtomicBool::new(false);
static LOGGER: Stderr = Stderr;

/// Installs the logger, once per process, and applies the `logs` section.
pub fn configure(config: &LogsConfig) {
    // Only the first call installs it; later ones change the level and the encoding.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(filter(config.level));
    JSON.store(config.encoding == LogEncoding::Json, Ordering::Relaxed);
}

/// `logs.level` as the facade's filter.
pub fn filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Debug => LevelFilter::Debug,
        LogLevel::Info => LevelFilter::Info,
        LogLevel::Warn => LevelFilter::Warn,
        LogLevel::Error => LevelFilter::Error,
    }
}

/// RoadRunner's lower-case level names.
fn name(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warn => "warn",
        Level::Info => "info",
        Level::Debug => "debug",
        Level::Trace => "trace",
    }
}

struct Stderr;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // A library's record (the Redis client's, say) says whose it is.
        let message = if record.target().starts_with("ticker") {
            record.args().to_string()
        } else {
            format!("{}: {}", record.target(), record.args())
        };
        let mut line = if JSON.load(Ordering::Relaxed) {
            let ts = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64();
            format_json(record.level(), message, ts, std::process::id())
        } else {
            format_line(record.level(), &message)
        };
        line.push('\n');
        // Nothing sensible can be done when stderr is gone.
        let _ = std::io::stderr().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// The text of a line, without the newline.
fn format_line(level: Level, message: &str) -> String {
    format!("ticker: {}: {message}", name(level))
}

#[derive(Serialize)]
struct JsonLine<'a> {
    level: &'a str,
    /// Unix time in seconds, as RoadRunner's JSON logs write `ts`.
    ts: f64,
    logger: &'a str,
    msg: String,
    pid: u32,
}

/// A JSON line, without the newline.
fn format_json(level: Level, msg: String, ts: f64, pid: u32) -> String {
    serde_json::to_string(&JsonLine {
        level: name(level),
        ts,
        logger: "ticker",
        msg,
        pid,
    })
    .expect("plain data serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_the_source_and_the_level() {
        assert_eq!(
            format_line(Level::Warn, &format!("tick {} skipped", 3)),
            "ticker: warn: tick 3 skipped"
        );
    }

    #[test]
    fn json_lines_carry_level_time_and_message() {
        let line = format_json(Level::Error, "worker 7 died".into(), 1.5, 42);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["ts"], 1.5);
        assert_eq!(v["msg"], "worker 7 died");
        assert_eq!(v["pid"], 42);
        assert!(!line.contains('\n'));
    }

    #[test]
    fn logs_level_is_the_facades_filter() {
        assert_eq!(filter(LogLevel::Warn), LevelFilter::Warn);
        assert_eq!(filter(LogLevel::Debug), LevelFilter::Debug);
        assert!(Level::Info > filter(LogLevel::Warn));
        assert!(Level::Error <= filter(LogLevel::Warn));
    }
}
