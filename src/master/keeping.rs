//! The state file of a pool whose schedules catch up: read once before the loop, written
//! off the tick's path.
//!
//! Owns the file's path, the last runs read at start (kept for the schedules that have not
//! run yet under this master, so that a second restart still knows them), whether a write
//! is owed, when the last one was made, and whether a failed write was said. A pool without
//! a `catch_up: once` schedule has none of it: no file is read or written, and nothing is
//! said about a directory it never needed.
//!
//! When it writes: each delivery of a tick of a `catch_up: once` schedule (its first
//! attempt, not a manual run) owes a write: one flag, whatever the number of schedules,
//! is all a tick costs. The loop
//! makes it at the end of a pass, at most once every [`WRITE_EVERY`], and once more when
//! the master ends (a graceful stop, or a failure). A write encodes every schedule's last
//! run (O(schedules), once a second at most) and waits for the disk once (fsync), usually
//! well under a millisecond and rarely more than a few: pacing bounds that wait to once a
//! second, and ticks of the schedules that do not catch up never cause one. No thread may
//! take the write off the loop (a fork copies only the calling thread). A crash loses at
//! most the last second's runs, which the next start counts as missed once more.
//!
//! Reading, writing and the format are [`crate::state`]'s; what a start makes of the last
//! runs is [`crate::timetable`]'s.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Master;
use crate::config::{CatchUp, TickerConfig};
use crate::schedule::Mono;
use crate::schedule::cron::UnixInstant;
use crate::state::disk::{self, Loaded};
use crate::state::record::{LastRun, LastRuns};
use crate::sys;
use crate::tick::ScheduleId;

/// The least time between two writes of the state file.
pub(super) const WRITE_EVERY: Duration = Duration::from_secs(1);

pub(super) struct Keeping {
    path: PathBuf,
    /// The file as read at start: the last runs of the schedules that have not run since.
    read: LastRuns,
    /// By [`ScheduleId`]: whether a delivery of the schedule owes a write.
    catching_up: Vec<bool>,
    owed: bool,
    written: Option<Mono>,
    /// A write failed and was said; the next failures are not, until one succeeds.
    failing: bool,
}

impl Keeping {
    /// Reads the state file, for a pool with a schedule that catches up; `None` for any
    /// other. A file that is missing is a first start; one that cannot be used is said,
    /// and the pool starts as if it were missing: a state file never stops a start.
    pub(super) fn new(config: &TickerConfig) -> Option<Keeping> {
        if !config.keeps_state() {
            return None;
        }
        let path = config.state_file.clone();
        let read = match disk::load(&path) {
            Loaded::Missing => {
                log::info!(
                    "no state file {} yet: schedules with catch_up once start without \
                     catching up, and their runs are kept from now on",
                    path.display()
                );
                LastRuns::default()
            }
            Loaded::Read(runs) => {
                log::debug!(
                    "read the last runs of {} schedule(s) from {}",
                    runs.len(),
                    path.display()
                );
                runs
            }
            Loaded::Unusable(why) => {
                log::warn!(
                    "state file {}: {why}; schedules with catch_up once start without \
                     catching up, and the file is replaced at the first write",
                    path.display()
                );
                LastRuns::default()
            }
        };
        Some(Keeping {
            path,
            read,
            catching_up: config
                .schedules
                .iter()
                .map(|s| s.catch_up == CatchUp::Once)
                .collect(),
            owed: false,
            written: None,
            failing: false,
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The instant the schedule `name` last ran for, as the file said at start.
    pub(super) fn last_run(&self, name: &str) -> Option<UnixInstant> {
        self.read.get(name).map(|run| run.scheduled)
    }

    /// A tick of `schedule` was handed to a worker.
    pub(super) fn delivered(&mut self, schedule: ScheduleId) {
        if self.catching_up[schedule.index()] {
            self.owed = true;
        }
    }

    /// When the loop must wake up to make an owed write.
    pub(super) fn deadline(&self) -> Option<Mono> {
        if !self.owed {
            return None;
        }
        Some(self.written.map_or(Mono(0), |at| at + WRITE_EVERY))
    }
}

impl Master<'_> {
    /// Makes the owed write of the state file, if its time has come or `now` is the end.
    pub(super) fn keep_state(&mut self, at_the_end: bool) {
        // Called after every pass: a pass that owes nothing reads no clock.
        let Some(deadline) = self.keeping.as_ref().and_then(Keeping::deadline) else {
            return;
        };
        let now = sys::monotonic_now();
        if !at_the_end && deadline > now {
            return;
        }
        let runs = self.last_runs();
        let Some(keeping) = &mut self.keeping else {
            return;
        };
        keeping.owed = false;
        keeping.written = Some(now);
        match disk::save(&keeping.path, &runs.encode()) {
            Ok(()) if keeping.failing => {
                keeping.failing = false;
                log::info!("state file {} written again", keeping.path.display());
            }
            Ok(()) => {}
            Err(e) if !keeping.failing => {
                keeping.failing = true;
                log::warn!(
                    "cannot write the state file {}: {e}; schedules with catch_up once will \
                     not know their last runs after a restart (tried again after each run)",
                    keeping.path.display()
                );
            }
            Err(e) => log::debug!(
                "state file {} still not written: {e}",
                keeping.path.display()
            ),
        }
    }

    /// Every schedule's last run: this master's last delivery, else what the file said.
    fn last_runs(&self) -> LastRuns {
        let timetable = self.ticking.timetable();
        let mut runs = LastRuns::default();
        for id in timetable.ids() {
            let name = timetable.name(id);
            let run = match self.pool.last_delivered(id) {
                Some(tick) => Some(LastRun {
                    scheduled: tick.scheduled.unwrap_or_else(|| {
                        UnixInstant::from_unix(timetable.clock().unix(tick.due))
                    }),
                    number: tick.number,
                }),
                None => self
                    .keeping
                    .as_ref()
                    .and_then(|k| k.read.get(name).copied()),
            };
            if let Some(run) = run {
                runs.insert(name, run);
            }
        }
        runs
    }
}
