//! The state file on disk: read once at start, replaced whole on each write.
//!
//! A write never leaves a half-written file where the last good one was: the bytes go to a
//! temporary file in the same directory (same file system, so the rename is atomic), are
//! flushed to the disk (fsync), and the temporary file is renamed over the old one. A crash
//! at any moment leaves the old file or the new one. The directory is not fsynced after
//! the rename: a crash right then may bring back the previous file, one write older, which
//! costs at most a catch-up run too many, and saves the master a second wait on the disk.
//!
//! It decides nothing: what a missing or unreadable file means is the caller's.

use std::fs::{self, File};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use super::record::LastRuns;

/// A state file larger than this is not read: thousands of schedules fit in a fraction of
/// it, so a larger one is not this ticker's.
pub const MAX_BYTES: u64 = 4 << 20;

/// What reading the state file found.
#[derive(Debug)]
pub enum Loaded {
    /// No file: a first start, or a new `state_dir`.
    Missing,
    Read(LastRuns),
    /// A file that cannot be read or is not a state file; why.
    Unusable(String),
}

/// Reads the state file at `path`.
pub fn load(path: &Path) -> Loaded {
    let mut bytes = Vec::new();
    let read = File::open(path).and_then(|file| file.take(MAX_BYTES + 1).read_to_end(&mut bytes));
    match read {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Loaded::Missing,
        Err(e) => Loaded::Unusable(format!("cannot be read: {e}")),
        Ok(_) if bytes.len() as u64 > MAX_BYTES => {
            Loaded::Unusable(format!("is larger than {MAX_BYTES} bytes"))
        }
        Ok(_) => match LastRuns::decode(&bytes) {
            Ok(runs) => Loaded::Read(runs),
            Err(e) => Loaded::Unusable(e.to_string()),
        },
    }
}

/// Replaces the file at `path` with `bytes`, atomically (see the module's comment).
pub fn save(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temporary = temporary(path);
    let written = File::create(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    match written.and_then(|()| fs::rename(&temporary, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = fs::remove_file(&temporary);
            Err(e)
        }
    }
}

/// `<file>.tmp`, beside it.
fn temporary(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::cron::UnixInstant;
    use crate::state::record::LastRun;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ticker-state-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn runs(number: u64) -> LastRuns {
        let mut runs = LastRuns::default();
        runs.insert(
            "report",
            LastRun {
                scheduled: UnixInstant::from_secs(1_765_000_000),
                number,
            },
        );
        runs
    }

    #[test]
    fn a_save_replaces_the_file_whole_and_leaves_no_temporary_file() {
        let dir = scratch("save");
        let path = dir.join("ticker-state.rr.yaml.json");
        assert!(matches!(load(&path), Loaded::Missing));
        save(&path, &runs(1).encode()).unwrap();
        save(&path, &runs(2).encode()).unwrap();
        match load(&path) {
            Loaded::Read(read) => assert_eq!(read, runs(2)),
            other => panic!("{other:?}"),
        }
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [path.file_name().unwrap()]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_save_leaves_the_last_good_file() {
        let dir = scratch("failed");
        let path = dir.join("state.json");
        save(&path, &runs(1).encode()).unwrap();
        // The temporary file cannot be made: a directory is in its place.
        fs::create_dir(temporary(&path)).unwrap();
        assert!(save(&path, &runs(2).encode()).is_err());
        match load(&path) {
            Loaded::Read(read) => assert_eq!(read, runs(1)),
            other => panic!("{other:?}"),
        }
        let missing = dir.join("no-such-dir").join("state.json");
        assert!(save(&missing, b"{}").is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_corrupt_unreadable_or_oversized_file_is_unusable_and_says_why() {
        let dir = scratch("corrupt");
        let path = dir.join("state.json");
        fs::write(&path, "{\"version\": 1, \"sched").unwrap();
        let Loaded::Unusable(why) = load(&path) else {
            panic!("a torn file is unusable")
        };
        assert!(why.starts_with("not a state file"), "{why}");
        fs::write(&path, vec![b' '; MAX_BYTES as usize + 1]).unwrap();
        let Loaded::Unusable(why) = load(&path) else {
            panic!("an oversized file is unusable")
        };
        assert!(why.contains("larger than"), "{why}");
        // A directory where the file should be cannot be read as one.
        let Loaded::Unusable(why) = load(&dir) else {
            panic!("a directory is unusable")
        };
        assert!(why.starts_with("cannot be read"), "{why}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
