//! One line per event on stderr, from the master and from the extension.
//!
//! Owns the line format and the level filter. Each line goes out in a single `write` so that
//! lines from the master and its workers, which share stderr, never interleave mid-line.
//! Workers' own output is theirs: nothing here touches it.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

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

pub fn set_level(level: Level) {
    MIN_LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level as u8 >= MIN_LEVEL.load(Ordering::Relaxed)
}

/// The text of a line, without the newline.
pub fn format_line(level: Level, message: fmt::Arguments<'_>) -> String {
    format!("ticker: {}: {message}", level.name())
}

pub fn write(level: Level, message: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let mut line = format_line(level, message);
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
    fn levels_below_the_minimum_are_filtered() {
        set_level(Level::Warn);
        assert!(!enabled(Level::Info));
        assert!(enabled(Level::Error));
        set_level(Level::Info);
        assert!(enabled(Level::Info));
        assert!(!enabled(Level::Debug));
    }
}
