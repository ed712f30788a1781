//! One line per event on stderr, from the master and from the extension.
//!
//! Owns the line format (plain, or JSON as RoadRunner's `logs.encoding: json` writes it) and
//! the level filter. Each line goes out in a single `write` so that
//! lines from the master and its workers, which share stderr, never interleave mid-line.
//! Workers' own output is theirs: nothing here touches it.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use serde::Serialize;

use crate::config::{LogEncoding, LogLevel, LogsConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug = 0,
    Info = 1,
    Warn = 2,
    Error = 3,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

static MIN_LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);
static JSON: AtomicBool = AtomicBool::new(false);

pub fn set_level(level: Level) {
    MIN_LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Applies the `logs` section.
pub fn configure(config: &LogsConfig) {
    set_level(match config.level {
        LogLevel::Debug => Level::Debug,
        LogLevel::Info => Level::Info,
        LogLevel::Warn => Level::Warn,
        LogLevel::Error => Level::Error,
    });
    JSON.store(config.encoding == LogEncoding::Json, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level as u8 >= MIN_LEVEL.load(Ordering::Relaxed)
}

/// The text of a line, without the newline.
pub fn format_line(level: Level, message: fmt::Arguments<'_>) -> String {
    format!("ticker: {}: {message}", level.name())
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
pub fn format_json(level: Level, message: fmt::Arguments<'_>, ts: f64, pid: u32) -> String {
    serde_json::to_string(&JsonLine {
        level: level.name(),
        ts,
        logger: "ticker",
        msg: message.to_string(),
        pid,
    })
    .expect("plain data serializes")
}

pub fn write(level: Level, message: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let mut line = if JSON.load(Ordering::Relaxed) {
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        format_json(level, message, ts, std::process::id())
    } else {
        format_line(level, message)
    };
    line.push('\n');
    // Nothing sensible can be done when stderr is gone.
    let _ = std::io::stderr().write_all(line.as_bytes());
}

pub fn debug(message: fmt::Arguments<'_>) {
    write(Level::Debug, message);
}

pub fn info(message: fmt::Arguments<'_>) {
    write(Level::Info, message);
}

pub fn warn(message: fmt::Arguments<'_>) {
    write(Level::Warn, message);
}

pub fn error(message: fmt::Arguments<'_>) {
    write(Level::Error, message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_the_source_and_the_level() {
        assert_eq!(
            format_line(Level::Warn, format_args!("tick {} skipped", 3)),
            "ticker: warn: tick 3 skipped"
        );
    }

    #[test]
    fn json_lines_carry_level_time_and_message() {
        let line = format_json(Level::Error, format_args!("worker {} died", 7), 1.5, 42);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["ts"], 1.5);
        assert_eq!(v["msg"], "worker 7 died");
        assert_eq!(v["pid"], 42);
        assert!(!line.contains('\n'));
    }

    #[test]
    fn levels_below_the_minimum_are_filtered() {
        set_level(Level::Warn);
        assert!(!enabled(Level::Info));
        assert!(enabled(Level::Error));
        set_level(Level::Info);
        assert!(enabled(Level::Info));
        assert!(!enabled(Level::Debug));
    }
}
