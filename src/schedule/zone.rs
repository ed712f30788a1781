//! Time zones for cron schedules: an IANA name (`Europe/Berlin`, `UTC`) resolved to its rules.
//!
//! Owns where the rules come from and saying so: the system's zoneinfo
//! ([`SYSTEM_ZONEINFO`]), and a copy of the tz database compiled into this crate for a system
//! that has none or lacks the zone asked for. PHP carries a third copy (its timezonedb), and
//! the three can differ by release, so each [`Zone`] keeps the [`ZoneSource`] it came from for
//! `php --ri ticker` and `ticker status` to show.
//!
//! A lookup reads zone files (through jiff, which also keeps them cached for a few minutes by
//! its own clock); that is the only I/O of [`crate::schedule`]. A [`Zone`], once resolved, is
//! plain data: what is computed with it reads no file and no clock. Nothing here knows about
//! cron, PHP or the master.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jiff::tz::{TimeZone, TimeZoneDatabase};

/// Where a system keeps its compiled zone files.
pub const SYSTEM_ZONEINFO: &str = "/usr/share/zoneinfo";

/// Which copy of the tz database a zone's rules were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ZoneSource {
    /// The system's zoneinfo directory: updated with the system's tzdata package.
    System,
    /// The copy compiled into this crate: fixed at build time.
    Bundled,
}

impl ZoneSource {
    /// One word, for status lines and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneSource::System => "system",
            ZoneSource::Bundled => "bundled",
        }
    }
}

impl fmt::Display for ZoneSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    /// Shown with Rust's quoting, so that a value holding a quote or a line break still makes
    /// one unambiguous line.
    #[error("unknown time zone {0:?}: expected an IANA name such as Europe/Berlin or UTC")]
    Unknown(String),
}

/// The two copies of the tz database, the system's first.
pub struct Tzdb {
    dir: PathBuf,
    /// `None` when the directory holds no zone files (a minimal container image).
    system: Option<TimeZoneDatabase>,
    bundled: TimeZoneDatabase,
}

impl fmt::Debug for Tzdb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tzdb")
            .field("dir", &self.dir)
            .field("source", &self.source())
            .finish()
    }
}

impl Tzdb {
    /// The zone files in `dir`, with the bundled copy behind them. Never fails: a missing or
    /// empty directory leaves the bundled copy alone.
    pub fn open(dir: &Path) -> Tzdb {
        let system = TimeZoneDatabase::from_dir(dir)
            .ok()
            .filter(|db| !db.is_definitively_empty());
        Tzdb {
            dir: dir.to_path_buf(),
            system,
            bundled: TimeZoneDatabase::bundled(),
        }
    }

    /// The process's database over [`SYSTEM_ZONEINFO`], opened at the first call. Its zone
    /// files are read when a zone is first asked for, not here.
    pub fn system() -> &'static Tzdb {
        static SYSTEM: OnceLock<Tzdb> = OnceLock::new();
        SYSTEM.get_or_init(|| Tzdb::open(Path::new(SYSTEM_ZONEINFO)))
    }

    /// The directory asked for, whether or not it held zone files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where lookups go first: the system's files when the directory held any.
    pub fn source(&self) -> ZoneSource {
        if self.system.is_some() {
            ZoneSource::System
        } else {
            ZoneSource::Bundled
        }
    }

    /// The zone of an IANA name, without regard to ASCII case. The system's copy answers
    /// first; the bundled one answers for a system without zone files, and for a zone newer
    /// than the system's tzdata.
    pub fn lookup(&self, name: &str) -> Result<Zone, ZoneError> {
        let unknown = || ZoneError::Unknown(name.to_string());
        let found = self
            .system
            .as_ref()
            .and_then(|db| db.get(name).ok())
            .map(|tz| (tz, ZoneSource::System))
            .or_else(|| {
                self.bundled
                    .get(name)
                    .ok()
                    .map(|tz| (tz, ZoneSource::Bundled))
            });
        let (tz, source) = found.ok_or_else(unknown)?;
        // jiff answers `Etc/Unknown` with a zone that stands for "no zone was found", which a
        // schedule must not run in.
        if tz.is_unknown() {
            return Err(unknown());
        }
        let name = tz.iana_name().unwrap_or(name).to_string();
        Ok(Zone { tz, name, source })
    }
}

/// A time zone's rules, with its name and the copy they came from.
#[derive(Debug, Clone)]
pub struct Zone {
    tz: TimeZone,
    name: String,
    source: ZoneSource,
}

impl Zone {
    /// The zone of an IANA name, from [`Tzdb::system`].
    pub fn lookup(name: &str) -> Result<Zone, ZoneError> {
        Tzdb::system().lookup(name)
    }

    /// The IANA name as the database spells it (`Europe/Berlin` for `europe/berlin`).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn source(&self) -> ZoneSource {
        self.source
    }

    /// The rules, for [`super::cron`]: kept inside the module so that callers do not depend on
    /// jiff's types.
    pub(super) fn rules(&self) -> &TimeZone {
        &self.tz
    }
}

impl PartialEq for Zone {
    /// The same name from the same copy: the rules are then the same.
    fn eq(&self, other: &Zone) -> bool {
        self.name == other.name && self.source == other.source
    }
}

impl Eq for Zone {}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_resolves_from_the_system_copy_when_there_is_one() {
        let db = Tzdb::system();
        let zone = Zone::lookup("Europe/Berlin").unwrap();
        assert_eq!(zone.name(), "Europe/Berlin");
        // The machines this runs on have tzdata; the source follows what the directory held.
        assert_eq!(zone.source(), db.source());
        assert_eq!(db.dir(), Path::new(SYSTEM_ZONEINFO));
    }

    #[test]
    fn names_are_matched_without_regard_to_case_and_shown_as_the_database_spells_them() {
        let zone = Zone::lookup("america/new_york").unwrap();
        assert_eq!(zone.name(), "America/New_York");
        assert_eq!(Zone::lookup("utc").unwrap().name(), "UTC");
    }

    #[test]
    fn without_system_zone_files_the_bundled_copy_answers_and_says_so() {
        let db = Tzdb::open(Path::new("/nonexistent/zoneinfo"));
        assert_eq!(db.source(), ZoneSource::Bundled);
        let zone = db.lookup("Australia/Lord_Howe").unwrap();
        assert_eq!(zone.source(), ZoneSource::Bundled);
        assert_eq!(zone.name(), "Australia/Lord_Howe");
        assert_eq!(zone.source().to_string(), "bundled");
    }

    #[test]
    fn an_empty_directory_counts_as_no_system_copy() {
        let dir = std::env::temp_dir().join(format!("ticker-zoneinfo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Tzdb::open(&dir);
        assert_eq!(db.source(), ZoneSource::Bundled);
        assert!(db.lookup("Asia/Tehran").is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unknown_name_is_refused_naming_the_value_and_the_accepted_form() {
        for name in [
            "Europe/Berlinn",
            "",
            "+02:00",
            "Etc/Unknown",
            "../../etc/passwd",
        ] {
            let err = Zone::lookup(name).unwrap_err();
            assert_eq!(err, ZoneError::Unknown(name.to_string()));
        }
        assert_eq!(
            Zone::lookup("Europe/Berlinn").unwrap_err().to_string(),
            r#"unknown time zone "Europe/Berlinn": expected an IANA name such as Europe/Berlin or UTC"#
        );
        // A line break in the value stays on one line.
        assert_eq!(
            Zone::lookup("UTC\nx").unwrap_err().to_string(),
            r#"unknown time zone "UTC\nx": expected an IANA name such as Europe/Berlin or UTC"#
        );
    }
}
