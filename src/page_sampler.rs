//! The host's page-access sampler, as a forked pool meets it: found once, before the first
//! fork, and said in one line when it may hold the pool's ticks back.
//!
//! DAMON's physical-address monitor (a `kdamond` kernel thread, which some virtual machines
//! run to hand cold memory back to their host) checks a sample of pages every sampling
//! interval and, for each, visits every mapping of it. A forked pool maps the booted
//! application once per worker, so a pass grows with the pool, and on a kernel whose
//! preemption is `none` it keeps its CPU until done: ticks due meanwhile wait, for
//! milliseconds at hundreds of workers (docs/how-it-works.md, "What a fork shares").
//!
//! Owns finding the monitors that run ([`monitors`]) and whether a pool of a size is told
//! ([`notice`]). A monitor is found by its kernel thread, which any user may see; its
//! settings in sysfs are root's to read, so they are added when readable, and a monitor
//! whose settings say it watches virtual addresses (only the processes it was given) is left
//! out. It changes nothing on the host, and must never make a start fail: what cannot be
//! read is not there.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::format_duration;

/// Where the kernel lists the DAMON monitors started through sysfs.
pub const KDAMONDS: &str = "/sys/kernel/mm/damon/admin/kdamonds";

/// Where the kernel's own threads are listed: the children of `kthreadd` (pid 2).
pub const PROC: &str = "/proc";

/// The pool size from which a running monitor is said. On this project's machine (sampling
/// every 500 ms) its passes held ticks back 1 to 2 ms at 64 forked workers and 3 to 4 ms at
/// 500.
pub const FROM_WORKERS: usize = 64;

/// A DAMON monitor that runs, and what root may read of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitor {
    /// Its kernel thread's name (`kdamond.0`).
    pub thread: String,
    /// Its sysfs settings, when this process may read them.
    pub settings: Option<Settings>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The `state` file that switches it.
    pub state: PathBuf,
    /// How often it samples; `None` when its file cannot be read.
    pub sample: Option<Duration>,
}

/// The DAMON monitors that run: every `kdamond` kernel thread under `proc`, with the sysfs
/// settings under `kdamonds` that name its pid, less the ones those settings say watch
/// virtual addresses. Sysfs is read only when a thread runs.
pub fn monitors(proc: &Path, kdamonds: &Path) -> Vec<Monitor> {
    let children = read(&proc.join("2/task/2/children")).unwrap_or_default();
    let threads: Vec<(&str, String)> = children
        .split_ascii_whitespace()
        .filter_map(|pid| Some((pid, read(&proc.join(pid).join("comm"))?)))
        .filter(|(_, thread)| thread.starts_with("kdamond"))
        .collect();
    let sysfs = if threads.is_empty() {
        Vec::new()
    } else {
        sysfs_settings(kdamonds)
    };
    threads
        .into_iter()
        .filter_map(|(pid, thread)| {
            let settings = match sysfs.iter().find(|(p, _)| p == pid) {
                Some((_, Watches::Virtual)) => return None,
                Some((_, Watches::Physical(settings))) => Some(settings.clone()),
                None => None,
            };
            Some(Monitor { thread, settings })
        })
        .collect()
}

/// Whether a pool of `workers` forked workers is large enough to be told.
fn is_large(workers: usize) -> bool {
    workers >= FROM_WORKERS
}

/// What the master says before forking `workers` workers, if anything: nothing under
/// [`FROM_WORKERS`] or without a monitor.
pub fn notice(monitors: &[Monitor], workers: usize) -> Option<Notice<'_>> {
    (is_large(workers) && !monitors.is_empty()).then_some(Notice { monitors, workers })
}

/// The line the master logs before forking `workers` workers, if any: the host is read only
/// for a pool large enough to be told.
pub fn at_start(workers: usize) -> Option<String> {
    if !is_large(workers) {
        return None;
    }
    let found = monitors(Path::new(PROC), Path::new(KDAMONDS));
    notice(&found, workers).map(|n| n.to_string())
}

/// The line said at start: what a monitor may cost this pool, and how to stop it.
#[derive(Debug)]
pub struct Notice<'a> {
    monitors: &'a [Monitor],
    workers: usize,
}

impl fmt::Display for Notice<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let threads: Vec<&str> = self.monitors.iter().map(|m| m.thread.as_str()).collect();
        let known: Vec<&Settings> = self
            .monitors
            .iter()
            .filter_map(|m| m.settings.as_ref())
            .collect();
        let mut samples: Vec<String> = known
            .iter()
            .filter_map(|s| s.sample.map(format_duration))
            .collect();
        samples.dedup();
        write!(f, "this host runs DAMON ({})", threads.join(", "))?;
        if known.len() == self.monitors.len() {
            write!(f, ", sampling physical memory")?;
            if !samples.is_empty() {
                write!(f, " every {}", samples.join(" and "))?;
            }
        } else {
            write!(
                f,
                ", whose settings are root's to read; if it samples physical memory"
            )?;
        }
        write!(
            f,
            ", each pass visits every mapping of the pages it samples, which {} forked workers \
             multiply, and can hold ticks back by milliseconds (\"What a fork shares\" in \
             docs/how-it-works.md)",
            self.workers
        )?;
        let states: Vec<String> = known
            .iter()
            .map(|s| s.state.display().to_string())
            .collect();
        if !states.is_empty() {
            write!(f, "; as root, `echo off > {}` stops it", states.join(" "))?;
        }
        Ok(())
    }
}

/// What a monitor's sysfs settings say it watches.
enum Watches {
    /// Physical memory, every process's pages: what a forked pool pays for.
    Physical(Settings),
    /// Only the processes it was given.
    Virtual,
}

/// `(pid, what it watches)` of every readable monitor under `kdamonds` that runs.
fn sysfs_settings(kdamonds: &Path) -> Vec<(String, Watches)> {
    numbered(kdamonds)
        .into_iter()
        .filter_map(|kdamond| {
            let pid = read(&kdamond.join("pid"))?;
            let contexts = numbered(&kdamond.join("contexts"));
            if !contexts
                .iter()
                .any(|c| read(&c.join("operations")).as_deref() == Some("paddr"))
            {
                return Some((pid, Watches::Virtual));
            }
            let sample = contexts.iter().find_map(|c| {
                read(&c.join("monitoring_attrs/intervals/sample_us"))?
                    .parse()
                    .ok()
                    .map(Duration::from_micros)
            });
            let state = kdamond.join("state");
            Some((pid, Watches::Physical(Settings { state, sample })))
        })
        .collect()
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
        fn new(name: &str) -> Root {
            let root = Root(
                std::env::temp_dir()
                    .join(format!("ticker-page-sampler-{}-{name}", std::process::id())),
            );
            let _ = std::fs::remove_dir_all(&root.0);
            root
        }

        fn write(&self, relative: &str, text: &str) {
            let path = self.0.join(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, format!("{text}\n")).unwrap();
        }
    }

    impl Drop for Root {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A `/proc` with kthreadd's children `threads` (`(pid, comm)`), and a kdamonds sysfs
    /// with `sysfs` (`(pid, operations, sample_us)`, numbered from 0) when it is readable.
    fn host(name: &str, threads: &[(&str, &str)], sysfs: &[(&str, &str, &str)]) -> Root {
        let root = Root::new(name);
        let children: Vec<&str> = threads.iter().map(|(pid, _)| *pid).collect();
        root.write("proc/2/task/2/children", &children.join(" "));
        for (pid, comm) in threads {
            root.write(&format!("proc/{pid}/comm"), comm);
        }
        std::fs::create_dir_all(root.0.join("kdamonds")).unwrap();
        for (n, (pid, ops, sample_us)) in sysfs.iter().enumerate() {
            root.write(&format!("kdamonds/{n}/pid"), pid);
            root.write(&format!("kdamonds/{n}/state"), "on");
            root.write(&format!("kdamonds/{n}/contexts/0/operations"), ops);
            root.write(
                &format!("kdamonds/{n}/contexts/0/monitoring_attrs/intervals/sample_us"),
                sample_us,
            );
        }
        root
    }

    fn found(root: &Root) -> Vec<Monitor> {
        monitors(&root.0.join("proc"), &root.0.join("kdamonds"))
    }

    #[test]
    fn a_monitor_is_found_by_its_thread_with_the_settings_root_may_read() {
        let root = host(
            "readable",
            &[
                ("10", "kworker/0:1"),
                ("22466", "kdamond.0"),
                ("23", "kdamond.1"),
            ],
            &[("22466", "paddr", "500000"), ("23", "vaddr", "5000")],
        );
        assert_eq!(
            found(&root),
            vec![Monitor {
                thread: "kdamond.0".into(),
                settings: Some(Settings {
                    state: root.0.join("kdamonds/0/state"),
                    sample: Some(Duration::from_millis(500)),
                }),
            }],
            "the virtual-address monitor watches only its own targets"
        );
    }

    #[test]
    fn a_monitor_whose_settings_cannot_be_read_is_still_found() {
        // As any user but root: the threads are there, sysfs says nothing.
        let root = host("unreadable", &[("22466", "kdamond.0")], &[]);
        assert_eq!(
            found(&root),
            vec![Monitor {
                thread: "kdamond.0".into(),
                settings: None,
            }]
        );
        let none = Root::new("none");
        assert_eq!(found(&none), vec![], "no /proc to read: nothing");
    }

    #[test]
    fn a_pool_is_told_from_its_size_on_and_only_with_a_monitor() {
        let known = Monitor {
            thread: "kdamond.0".into(),
            settings: Some(Settings {
                state: PathBuf::from("/sys/kernel/mm/damon/admin/kdamonds/0/state"),
                sample: Some(Duration::from_millis(500)),
            }),
        };
        assert!(notice(std::slice::from_ref(&known), FROM_WORKERS - 1).is_none());
        assert!(notice(&[], 500).is_none());
        assert_eq!(
            notice(std::slice::from_ref(&known), 500)
                .unwrap()
                .to_string(),
            "this host runs DAMON (kdamond.0), sampling physical memory every 500ms, each pass \
             visits every mapping of the pages it samples, which 500 forked workers multiply, \
             and can hold ticks back by milliseconds (\"What a fork shares\" in \
             docs/how-it-works.md); as root, `echo off > \
             /sys/kernel/mm/damon/admin/kdamonds/0/state` stops it"
        );
        let unknown = Monitor {
            thread: "kdamond.0".into(),
            settings: None,
        };
        assert_eq!(
            notice(std::slice::from_ref(&unknown), 64)
                .unwrap()
                .to_string(),
            "this host runs DAMON (kdamond.0), whose settings are root's to read; if it samples \
             physical memory, each pass visits every mapping of the pages it samples, which 64 \
             forked workers multiply, and can hold ticks back by milliseconds (\"What a fork \
             shares\" in docs/how-it-works.md)"
        );
    }
}
