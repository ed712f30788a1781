//! The host's page-access sampler, as a forked pool meets it: found once, before the first
//! fork, and said in one line when it will hold the pool's ticks back.
//!
//! DAMON's physical-address monitor (a `kdamond` kernel thread, which some virtual machines
//! run to hand cold memory back to their host) checks a sample of pages every sampling
//! interval and, for each, visits every mapping of it. A forked pool maps the booted
//! application once per worker, so a pass grows with the pool, and on a kernel without
//! preemption it keeps its CPU until done: ticks due meanwhile wait, for milliseconds at
//! hundreds of workers (docs/how-it-works.md, "What a fork shares").
//!
//! Owns reading the monitors that are on ([`monitors`]) and whether a pool of a size is told
//! ([`notice`]). It changes nothing on the host, and must never make a start fail: a sysfs
//! that is missing or cannot be read means no monitor.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::format_duration;

/// Where the kernel lists its DAMON monitors.
pub const KDAMONDS: &str = "/sys/kernel/mm/damon/admin/kdamonds";

/// The pool size from which a monitor that is on is said. On this project's machine
/// (sampling every 500 ms) its passes held ticks back 1 to 2 ms at 64 forked workers and 3 to
/// 4 ms at 500; at 2 workers no stall stood out.
pub const FROM_WORKERS: usize = 64;

/// A physical-address monitor that is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitor {
    /// Its `kdamonds/<n>` directory, whose `state` file switches it.
    pub dir: PathBuf,
    /// How often it samples; `None` when its file cannot be read.
    pub sample: Option<Duration>,
}

/// The physical-address monitors that are on under `root` (normally [`KDAMONDS`]), in the
/// order of their numbers. A monitor of virtual addresses watches only the processes it was
/// given, so it is left out.
pub fn monitors(root: &Path) -> Vec<Monitor> {
    numbered(root)
        .into_iter()
        .filter(|kdamond| read(&kdamond.join("state")).as_deref() == Some("on"))
        .flat_map(|kdamond| {
            numbered(&kdamond.join("contexts"))
                .into_iter()
                .filter(|context| read(&context.join("operations")).as_deref() == Some("paddr"))
                .map(move |context| Monitor {
                    dir: kdamond.clone(),
                    sample: read(&context.join("monitoring_attrs/intervals/sample_us"))
                        .and_then(|us| us.parse().ok())
                        .map(Duration::from_micros),
                })
        })
        .collect()
}

/// What the master says before forking `workers` workers, if anything: nothing under
/// [`FROM_WORKERS`] or without a monitor.
pub fn notice(monitors: &[Monitor], workers: usize) -> Option<Notice<'_>> {
    (workers >= FROM_WORKERS && !monitors.is_empty()).then_some(Notice { monitors, workers })
}

/// The line said at start: what the monitor will cost this pool, and how to stop it.
#[derive(Debug)]
pub struct Notice<'a> {
    monitors: &'a [Monitor],
    workers: usize,
}

impl fmt::Display for Notice<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let samples: Vec<String> = self
            .monitors
            .iter()
            .filter_map(|m| m.sample.map(format_duration))
            .collect();
        write!(f, "the host's DAMON monitor samples physical memory")?;
        if !samples.is_empty() {
            write!(f, " every {}", samples.join(" and "))?;
        }
        let mut states: Vec<String> = self
            .monitors
            .iter()
            .map(|m| m.dir.join("state").display().to_string())
            .collect();
        states.dedup();
        write!(
            f,
            " and visits every mapping of each page it samples, which {} forked workers \
             multiply: each pass can hold ticks back by milliseconds (\"What a fork shares\" in \
             docs/how-it-works.md); as root, writing off to {} stops it",
            self.workers,
            states.join(" and ")
        )
    }
}

/// The subdirectories of `dir` named by a number, in numeric order.
fn numbered(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(u64, PathBuf)> = entries
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path())))
        .collect();
    found.sort();
    found.into_iter().map(|(_, path)| path).collect()
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of its own under the system's temporary one, removed when dropped.
    struct Root(PathBuf);

    impl Root {
        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Root {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A kdamonds directory as the kernel lays it out, named `name`: `(state, [(operations,
    /// sample_us)])` for each kdamond, numbered from 0.
    fn kdamonds(name: &str, list: &[(&str, &[(&str, &str)])]) -> Root {
        let root = Root(
            std::env::temp_dir().join(format!("ticker-kdamonds-{}-{name}", std::process::id())),
        );
        let _ = std::fs::remove_dir_all(root.path());
        for (n, (state, contexts)) in list.iter().enumerate() {
            let kdamond = root.path().join(n.to_string());
            std::fs::create_dir_all(kdamond.join("contexts")).unwrap();
            std::fs::write(kdamond.join("state"), format!("{state}\n")).unwrap();
            std::fs::write(kdamond.join("contexts/nr_contexts"), "1\n").unwrap();
            for (c, (ops, sample_us)) in contexts.iter().enumerate() {
                let context = kdamond.join(format!("contexts/{c}"));
                std::fs::create_dir_all(context.join("monitoring_attrs/intervals")).unwrap();
                std::fs::write(context.join("operations"), format!("{ops}\n")).unwrap();
                std::fs::write(
                    context.join("monitoring_attrs/intervals/sample_us"),
                    format!("{sample_us}\n"),
                )
                .unwrap();
            }
        }
        std::fs::write(root.path().join("nr_kdamonds"), format!("{}\n", list.len())).unwrap();
        root
    }

    #[test]
    fn only_physical_address_monitors_that_are_on_are_found() {
        let root = kdamonds(
            "found",
            &[
                ("off", &[("paddr", "500000")]),
                ("on", &[("vaddr", "5000")]),
                ("on", &[("paddr", "500000")]),
            ],
        );
        assert_eq!(
            monitors(root.path()),
            vec![Monitor {
                dir: root.path().join("2"),
                sample: Some(Duration::from_millis(500)),
            }]
        );
    }

    #[test]
    fn a_missing_or_unreadable_sysfs_is_no_monitor() {
        assert_eq!(monitors(Path::new("/nonexistent/kdamonds")), vec![]);
        let root = kdamonds("unreadable", &[("on", &[("paddr", "not a number")])]);
        assert_eq!(monitors(root.path())[0].sample, None);
    }

    #[test]
    fn a_pool_is_told_from_its_size_on_and_only_with_a_monitor() {
        let monitor = Monitor {
            dir: PathBuf::from("/sys/kernel/mm/damon/admin/kdamonds/0"),
            sample: Some(Duration::from_millis(500)),
        };
        assert!(notice(std::slice::from_ref(&monitor), FROM_WORKERS - 1).is_none());
        assert!(notice(&[], 500).is_none());
        let said = notice(std::slice::from_ref(&monitor), 500)
            .unwrap()
            .to_string();
        assert_eq!(
            said,
            "the host's DAMON monitor samples physical memory every 500ms and visits every \
             mapping of each page it samples, which 500 forked workers multiply: each pass can \
             hold ticks back by milliseconds (\"What a fork shares\" in docs/how-it-works.md); \
             as root, writing off to /sys/kernel/mm/damon/admin/kdamonds/0/state stops it"
        );
    }
}
