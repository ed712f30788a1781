//! What the state file holds: each schedule's last run, by name, and the file's format.
//!
//! A last run is the last occurrence handed to a worker: the instant it ran for (a cron
//! schedule's occurrence before any jitter; an interval's due instant, on the wall clock)
//! and its number. The format is JSON, small and readable, with a version, so that a file
//! this version cannot read is said to be so rather than misread:
//!
//! ```json
//! {"version": 1, "schedules": {"report": {"scheduled": "2026-12-07T14:00:00Z", "number": 3}}}
//! ```
//!
//! Pure: it reads and writes no file ([`super::disk`] does) and decides nothing about
//! catching up ([`crate::timetable`] does).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::schedule::cron::UnixInstant;

/// The format this version writes and reads.
pub const VERSION: u64 = 1;

/// One schedule's last run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastRun {
    /// The instant it ran for.
    pub scheduled: UnixInstant,
    /// Its tick number, in the run of the master that handed it out.
    pub number: u64,
}

/// Every schedule's last run, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastRuns(BTreeMap<String, LastRun>);

/// Why bytes are not a state file; each says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Corrupt {
    #[error(
        "not a state file ({0}); expected JSON such as {{\"version\": 1, \"schedules\": {{}}}}"
    )]
    NotJson(String),
    #[error("version {0} is not one this ticker reads; expected version {VERSION}")]
    Version(u64),
    #[error("schedule {name:?}: {problem}")]
    Time { name: String, problem: String },
}

#[derive(Serialize, Deserialize)]
struct File {
    version: u64,
    schedules: BTreeMap<String, Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    /// RFC 3339 in UTC, to the nanosecond.
    scheduled: String,
    number: u64,
}

impl LastRuns {
    pub fn get(&self, name: &str) -> Option<&LastRun> {
        self.0.get(name)
    }

    pub fn insert(&mut self, name: &str, run: LastRun) {
        self.0.insert(name.to_string(), run);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let file = File {
            version: VERSION,
            schedules: self
                .0
                .iter()
                .map(|(name, run)| {
                    let entry = Entry {
                        scheduled: run.scheduled.to_string(),
                        number: run.number,
                    };
                    (name.clone(), entry)
                })
                .collect(),
        };
        let mut bytes = serde_json::to_vec_pretty(&file).expect("plain data serializes");
        bytes.push(b'\n');
        bytes
    }

    /// Reads a file's bytes back; unknown keys are left aside.
    pub fn decode(bytes: &[u8]) -> Result<LastRuns, Corrupt> {
        #[derive(Deserialize)]
        struct Version {
            version: u64,
        }
        let version: Version =
            serde_json::from_slice(bytes).map_err(|e| Corrupt::NotJson(e.to_string()))?;
        if version.version != VERSION {
            return Err(Corrupt::Version(version.version));
        }
        let file: File =
            serde_json::from_slice(bytes).map_err(|e| Corrupt::NotJson(e.to_string()))?;
        let mut runs = LastRuns::default();
        for (name, entry) in file.schedules {
            let scheduled =
                UnixInstant::parse_rfc3339(&entry.scheduled).map_err(|e| Corrupt::Time {
                    name: name.clone(),
                    problem: e.to_string(),
                })?;
            runs.0.insert(
                name,
                LastRun {
                    scheduled,
                    number: entry.number,
                },
            );
        }
        Ok(runs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(secs: i64, nanos: i64, number: u64) -> LastRun {
        LastRun {
            scheduled: UnixInstant::from_nanos(secs * 1_000_000_000 + nanos),
            number,
        }
    }

    #[test]
    fn last_runs_come_back_as_they_were_written_to_the_nanosecond() {
        let mut runs = LastRuns::default();
        runs.insert("report", run(1_765_000_000, 0, 3));
        runs.insert("beat", run(1_765_000_123, 456_789, 99));
        let bytes = runs.encode();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("\"report\""), "{text}");
        assert!(
            text.contains("\"2025-12-06T05:46:40Z\""),
            "readable: {text}"
        );
        assert_eq!(LastRuns::decode(&bytes), Ok(runs));
        assert_eq!(
            LastRuns::decode(br#"{"version": 1, "schedules": {}}"#),
            Ok(LastRuns::default())
        );
    }

    #[test]
    fn a_later_key_is_left_aside() {
        let bytes = br#"{"version": 1, "written": 5, "schedules": {"a": {"scheduled": "2025-12-06T05:46:40Z", "number": 0, "why": "x"}}}"#;
        let runs = LastRuns::decode(bytes).unwrap();
        assert_eq!(runs.get("a"), Some(&run(1_765_000_000, 0, 0)));
    }

    #[test]
    fn bytes_that_are_no_state_file_say_what_is_wrong() {
        let cases: [(&[u8], &str); 7] = [
            (b"", "not a state file (EOF while parsing"),
            (b"{\"version\": 1, \"sched", "not a state file"),
            (b"\xff\xfe", "not a state file"),
            (b"[1, 2]", "not a state file"),
            (
                br#"{"version": 2, "schedules": {}}"#,
                "version 2 is not one this ticker reads; expected version 1",
            ),
            (
                br#"{"version": 1, "schedules": {"a": {"scheduled": "yesterday", "number": 1}}}"#,
                "schedule \"a\": \"yesterday\" is not a time with an offset",
            ),
            (
                br#"{"version": 1, "schedules": {"a": {"scheduled": "2025-12-06T05:46:40Z", "number": -1}}}"#,
                "not a state file",
            ),
        ];
        for (bytes, expected) in cases {
            let error = LastRuns::decode(bytes).unwrap_err().to_string();
            assert!(
                error.starts_with(expected),
                "{:?}: {error}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
}
