//! The state file: each schedule's last run, kept across restarts so that a schedule with
//! `catch_up: once` knows at start what it missed while no master ran.
//!
//! | file | owns |
//! |---|---|
//! | `record.rs` | what a last run is, and the file's format: encoding, decoding, every way bytes fail to be one (pure) |
//! | `disk.rs` | reading the file, and replacing it atomically (a temporary file, fsync, rename) |
//!
//! When the master writes it, and what it does with a file it cannot read, is the master's
//! (`master/keeping.rs`); what a start makes of the last runs is [`crate::timetable`]'s.

pub mod disk;
pub mod record;
