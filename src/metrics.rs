//! What an operator sees of a running pool: lateness percentiles and the status snapshot.
//!
//! Owns the figures (a window of recent tick lateness, the snapshot of the pool and its
//! workers) and their three renderings: JSON for the control socket, a table for
//! `ticker status`, and Prometheus text exposition for the metrics endpoint. It reads
//! nothing itself: the master fills a [`Snapshot`] from its own state.

use std::collections::VecDeque;
use std::fmt::Write;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How many recent ticks the lateness percentiles cover.
pub const WINDOW: usize = 4096;

/// Lateness of recent ticks: from a tick's due instant to the master handing it to a worker.
#[derive(Debug, Clone, Default)]
pub struct Lateness {
    samples: VecDeque<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Percentiles {
    pub samples: usize,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl Lateness {
    pub fn record(&mut self, late: Duration) {
        if self.samples.len() == WINDOW {
            self.samples.pop_front();
        }
        self.samples
            .push_back(u64::try_from(late.as_micros()).unwrap_or(u64::MAX));
    }

    /// Nearest-rank percentiles over the window.
    pub fn percentiles(&self) -> Percentiles {
        let mut sorted: Vec<u64> = self.samples.iter().copied().collect();
        sorted.sort_unstable();
        let rank = |p: f64| -> u64 {
            if sorted.is_empty() {
                return 0;
            }
            let index = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            sorted[index - 1]
        };
        Percentiles {
            samples: sorted.len(),
            p50_us: rank(0.50),
            p90_us: rank(0.90),
            p99_us: rank(0.99),
            max_us: sorted.last().copied().unwrap_or(0),
        }
    }
}

/// Counters of the pool since the master started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickCounts {
    /// Ticks whose due instant has passed.
    pub due: u64,
    /// Ticks handed to a worker (re-runs not counted again).
    pub delivered: u64,
    /// Ticks answered with `respond()`.
    pub completed: u64,
    /// Ticks answered with `error()`, lost with a dying worker, or given up.
    pub failed: u64,
    /// Ticks never run: no worker was free (or one waited past `allocate_timeout`).
    pub skipped: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerRow {
    pub pid: i32,
    /// `idle`, `busy` or `stopping`.
    pub state: String,
    /// The tick a busy worker holds.
    pub tick: Option<u64>,
    pub ticks: u64,
    pub errors: u64,
    pub rss_bytes: Option<u64>,
    pub age_secs: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub master_pid: i32,
    pub version: String,
    pub interval_secs: f64,
    pub uptime_secs: f64,
    /// Workers the pool keeps (`num_workers`, changed by SIGTTIN and SIGTTOU).
    pub target_workers: usize,
    pub master_rss_bytes: Option<u64>,
    pub ticks: TickCounts,
    pub lateness: Percentiles,
    pub workers: Vec<WorkerRow>,
    /// The lease, with a `ticker.cluster` section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<crate::cluster::status::ClusterView>,
}

fn mb(bytes: Option<u64>) -> String {
    bytes.map_or_else(
        || "-".to_string(),
        |b| format!("{:.1}", b as f64 / (1024.0 * 1024.0)),
    )
}

impl Snapshot {
    /// The human view, for `ticker status`.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let t = &self.ticks;
        let l = &self.lateness;
        let _ = writeln!(
            out,
            "master {}  ticker {}  every {}  up {}  workers {}/{}  RSS {} MB",
            self.master_pid,
            self.version,
            humantime::format_duration(Duration::from_secs_f64(self.interval_secs)),
            humantime::format_duration(Duration::from_secs(self.uptime_secs as u64)),
            self.workers
                .iter()
                .filter(|w| w.state != "stopping")
                .count(),
            self.target_workers,
            mb(self.master_rss_bytes),
        );
        let _ = writeln!(
            out,
            "ticks  due {}  delivered {}  completed {}  failed {}  skipped {}",
            t.due, t.delivered, t.completed, t.failed, t.skipped
        );
        let _ = writeln!(
            out,
            "lateness (last {} ticks)  p50 {} µs  p90 {} µs  p99 {} µs  max {} µs",
            l.samples, l.p50_us, l.p90_us, l.p99_us, l.max_us
        );
        if let Some(cluster) = &self.cluster {
            let _ = writeln!(out, "{}", cluster.table_line());
        }
        let _ = writeln!(
            out,
            "\n{:>8}  {:<8}  {:>8}  {:>8}  {:>7}  {:>8}  {:>10}",
            "PID", "STATE", "TICK", "HANDLED", "ERRORS", "RSS MB", "AGE"
        );
        for w in &self.workers {
            let _ = writeln!(
                out,
                "{:>8}  {:<8}  {:>8}  {:>8}  {:>7}  {:>8}  {:>10}",
                w.pid,
                w.state,
                w.tick.map_or_else(|| "-".to_string(), |n| n.to_string()),
                w.ticks,
                w.errors,
                mb(w.rss_bytes),
                humantime::format_duration(Duration::from_secs(w.age_secs as u64)).to_string(),
            );
        }
        out
    }

    /// Prometheus text exposition (version 0.0.4).
    pub fn to_prometheus(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, String)]| {
            let _ = writeln!(out, "# HELP ticker_{name} {help}");
            let _ = writeln!(out, "# TYPE ticker_{name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "ticker_{name}{labels} {value}");
            }
        };
        let plain = |v: String| vec![(String::new(), v)];
        let t = &self.ticks;
        for (name, value, help) in [
            (
                "ticks_due_total",
                t.due,
                "Ticks whose due instant has passed.",
            ),
            (
                "ticks_delivered_total",
                t.delivered,
                "Ticks handed to a worker.",
            ),
            (
                "ticks_completed_total",
                t.completed,
                "Ticks answered with respond().",
            ),
            (
                "ticks_failed_total",
                t.failed,
                "Ticks failed: error(), a dying worker, or given up.",
            ),
            (
                "ticks_skipped_total",
                t.skipped,
                "Ticks never run because no worker was free.",
            ),
        ] {
            metric(name, "counter", help, &plain(value.to_string()));
        }
        let l = &self.lateness;
        let quantiles: Vec<(String, String)> = [
            ("0.5", l.p50_us),
            ("0.9", l.p90_us),
            ("0.99", l.p99_us),
            ("1", l.max_us),
        ]
        .iter()
        .map(|(q, us)| {
            (
                format!("{{quantile=\"{q}\"}}"),
                format!("{}", *us as f64 / 1e6),
            )
        })
        .collect();
        metric(
            "tick_lateness_seconds",
            "summary",
            "Time from a tick's due instant to its hand-over to a worker, over recent ticks.",
            &quantiles,
        );
        metric(
            "workers",
            "gauge",
            "Worker processes by state.",
            &["idle", "busy", "stopping"]
                .iter()
                .map(|state| {
                    let n = self.workers.iter().filter(|w| w.state == *state).count();
                    (format!("{{state=\"{state}\"}}"), n.to_string())
                })
                .collect::<Vec<_>>(),
        );
        metric(
            "workers_target",
            "gauge",
            "Workers the pool keeps.",
            &plain(self.target_workers.to_string()),
        );
        let per_worker = |f: fn(&WorkerRow) -> Option<String>| -> Vec<(String, String)> {
            self.workers
                .iter()
                .filter_map(|w| f(w).map(|v| (format!("{{pid=\"{}\"}}", w.pid), v)))
                .collect()
        };
        metric(
            "worker_ticks_total",
            "counter",
            "Ticks handled by each worker.",
            &per_worker(|w| Some(w.ticks.to_string())),
        );
        metric(
            "worker_errors_total",
            "counter",
            "Ticks each worker failed with error().",
            &per_worker(|w| Some(w.errors.to_string())),
        );
        metric(
            "worker_memory_bytes",
            "gauge",
            "Resident memory of each worker.",
            &per_worker(|w| w.rss_bytes.map(|b| b.to_string())),
        );
        metric(
            "uptime_seconds",
            "gauge",
            "Seconds since the master started its pool.",
            &plain(format!("{:.3}", self.uptime_secs)),
        );
        if let Some(cluster) = &self.cluster {
            out.push_str(&cluster.prometheus());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            master_pid: 10,
            version: "0.1.0".into(),
            interval_secs: 0.5,
            uptime_secs: 12.0,
            target_workers: 2,
            master_rss_bytes: Some(20 * 1024 * 1024),
            ticks: TickCounts {
                due: 24,
                delivered: 23,
                completed: 21,
                failed: 2,
                skipped: 1,
            },
            lateness: Percentiles {
                samples: 23,
                p50_us: 40,
                p90_us: 80,
                p99_us: 120,
                max_us: 300,
            },
            workers: vec![
                WorkerRow {
                    pid: 11,
                    state: "busy".into(),
                    tick: Some(23),
                    ticks: 12,
                    errors: 2,
                    rss_bytes: Some(30 * 1024 * 1024),
                    age_secs: 12.0,
                },
                WorkerRow {
                    pid: 12,
                    state: "idle".into(),
                    tick: None,
                    ticks: 11,
                    errors: 0,
                    rss_bytes: None,
                    age_secs: 3.0,
                },
            ],
            cluster: None,
        }
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut l = Lateness::default();
        assert_eq!(l.percentiles(), Percentiles::default());
        for us in 1..=100 {
            l.record(Duration::from_micros(us));
        }
        let p = l.percentiles();
        assert_eq!(
            (p.samples, p.p50_us, p.p90_us, p.p99_us, p.max_us),
            (100, 50, 90, 99, 100)
        );
    }

    #[test]
    fn the_window_keeps_only_recent_ticks() {
        let mut l = Lateness::default();
        l.record(Duration::from_secs(1));
        for _ in 0..WINDOW {
            l.record(Duration::from_micros(5));
        }
        assert_eq!(l.percentiles().max_us, 5);
    }

    #[test]
    fn prometheus_text_has_every_figure() {
        let text = snapshot().to_prometheus();
        for line in [
            "ticker_ticks_due_total 24",
            "ticker_ticks_delivered_total 23",
            "ticker_ticks_failed_total 2",
            "ticker_ticks_skipped_total 1",
            "ticker_tick_lateness_seconds{quantile=\"0.99\"} 0.00012",
            "ticker_workers{state=\"busy\"} 1",
            "ticker_workers{state=\"idle\"} 1",
            "ticker_worker_ticks_total{pid=\"11\"} 12",
            "ticker_worker_errors_total{pid=\"11\"} 2",
            "ticker_worker_memory_bytes{pid=\"11\"} 31457280",
            "# TYPE ticker_ticks_due_total counter",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(!text.contains("ticker_worker_memory_bytes{pid=\"12\"}"));
    }

    #[test]
    fn the_table_shows_pool_and_workers() {
        let table = snapshot().to_table();
        assert!(table.contains("master 10"), "{table}");
        assert!(table.contains("due 24  delivered 23  completed 21  failed 2  skipped 1"));
        assert!(table.contains("p99 120 µs"));
        let row = table
            .lines()
            .find(|l| l.trim_start().starts_with("11"))
            .unwrap();
        assert!(row.contains("busy") && row.contains("30.0"), "{row}");
    }

    #[test]
    fn snapshots_survive_json() {
        let s = snapshot();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Snapshot>(&json).unwrap(), s);
    }
}
