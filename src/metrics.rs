//! What an operator sees of a running pool: tick lateness and the status snapshot.
//!
//! Owns the figures (tick lateness, as percentiles of a recent window and as a histogram
//! since the master started; each schedule's lateness and run duration as histograms, counted
//! in [`crate::histogram`]; the snapshot of the pool, its workers and its operator
//! connections) and their three renderings: JSON for the control socket, a table for
//! `ticker status`, and Prometheus text exposition for the metrics endpoint; and the reading
//! of a JSON snapshot back, which refuses what it cannot show ([`Snapshot::from_json`]). It
//! reads nothing itself: the master fills a [`Snapshot`] from its own state. Nothing here
//! panics on any input: a snapshot comes over a socket.

use std::cell::OnceCell;
use std::collections::VecDeque;
use std::fmt::Write;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{format_duration, format_duration_coarse};
pub use crate::histogram::{BUCKET_BOUNDS_NS, Buckets, Histogram, Quantile, RUN_BOUNDS_NS};

/// How many recent ticks the lateness percentiles cover.
pub const WINDOW: usize = 4096;

/// Tick lateness: from a tick's due instant to `waitPayload()` returning it in a worker.
/// Each sample goes both to a window of recent ticks (exact percentiles, for `ticker status`)
/// and to a histogram of every tick since the master started (for Prometheus, which wants
/// counts that only grow).
#[derive(Debug, Clone)]
pub struct Lateness {
    samples: VecDeque<u64>,
    /// The window's percentiles as they are, once asked for: answers in a row between two
    /// ticks cost nothing more. Its `histogram` stays empty: that one is read fresh.
    cached: OnceCell<Percentiles>,
    since_start: Buckets,
}

impl Default for Lateness {
    fn default() -> Self {
        Lateness {
            samples: VecDeque::new(),
            cached: OnceCell::new(),
            since_start: Buckets::lateness(),
        }
    }
}

/// Lateness as a snapshot carries it: the recent window's percentiles, which `ticker status`
/// shows, and the histogram since the master started, which the metrics export.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Percentiles {
    /// The window's size: the recent ticks.
    pub samples: usize,
    /// The window's percentiles (`p50_us`, `p90_us`, `p99_us`, `max_us` in the JSON);
    /// `None`, and absent from the JSON, while no tick has been answered: a 0 there would
    /// read as ticks on time.
    #[serde(flatten)]
    pub recent: Option<Quantiles>,
    /// Every tick since the master started; empty from a master that kept no histogram.
    #[serde(default)]
    pub histogram: Histogram,
}

/// The percentiles of a window of at least one tick, in whole microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quantiles {
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl Percentiles {
    /// The window's figures, if it has any: a master of an older version sends zeros with
    /// `samples` 0, which are no figures either.
    pub fn figures(&self) -> Option<&Quantiles> {
        self.recent.as_ref().filter(|_| self.samples > 0)
    }
}

impl Lateness {
    /// Constant time whatever the history: the window drops its oldest sample, and the
    /// bucket is found by a binary search over the fixed bounds.
    pub fn record(&mut self, late: Duration) {
        let us = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
        if self.samples.len() == WINDOW {
            self.samples.pop_front();
        }
        self.samples.push_back(us);
        self.cached.take();
        // The whole microseconds the window keeps, so both tell of the same value.
        self.since_start.record_us(us);
    }

    /// Nearest-rank percentiles over the window: selected, not sorted (a few passes over
    /// the window instead of a sort), and kept until the next sample; with the histogram.
    pub fn percentiles(&self) -> Percentiles {
        Percentiles {
            histogram: self.since_start.histogram(),
            ..self.cached.get_or_init(|| self.window()).clone()
        }
    }

    fn window(&self) -> Percentiles {
        let mut values: Vec<u64> = self.samples.iter().copied().collect();
        let n = values.len();
        if n == 0 {
            return Percentiles::default();
        }
        let rank = |p: f64| ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
        // Ascending ranks: each selection leaves the larger values to the right of its
        // rank, so the next one looks only there.
        let mut from = 0;
        let mut select = |k: usize| {
            let (_, value, _) = values[from..].select_nth_unstable(k - from);
            let value = *value;
            from = k;
            value
        };
        Percentiles {
            samples: n,
            recent: Some(Quantiles {
                p50_us: select(rank(0.50)),
                p90_us: select(rank(0.90)),
                p99_us: select(rank(0.99)),
                max_us: select(n - 1),
            }),
            histogram: Histogram::default(),
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
    /// Runs an operator asked for (`ticker run`), handed to a worker: counted in
    /// `delivered` and in how they ended, never in `due`, so due + manual = delivered +
    /// skipped + first attempts waiting. Absent from a master older than the command.
    #[serde(default)]
    pub manual: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerRow {
    pub pid: i32,
    /// `starting`, `idle`, `busy` or `stopping`.
    pub state: String,
    /// The tick a busy worker holds.
    pub tick: Option<u64>,
    pub ticks: u64,
    pub errors: u64,
    /// Resident memory as last read (every `watch_tick`, and as the worker joined).
    pub rss_bytes: Option<u64>,
    /// How long ago `rss_bytes` was read.
    #[serde(default)]
    pub rss_age_secs: Option<f64>,
    pub age_secs: f64,
}

/// Worker starts: how many failed, and what the pool lacks because of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Starts {
    /// Workers that could not be started (no process, no descriptor, the command did not
    /// run) since the master started.
    pub failed: u64,
    /// Workers the pool should have and does not: `target_workers` less the live ones.
    pub lacking: usize,
    /// Why the last start failed, while the pool lacks workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The connections of one operator door: the control socket or the metrics endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorConnections {
    /// `control` or `metrics`.
    pub door: String,
    /// Open now: waiting for their request, or taking their answer.
    pub open: usize,
    /// The most it holds at once; while at it, it takes no more.
    pub max: usize,
    pub accepted: u64,
    /// Dropped for not sending their request (and taking the answer) in time.
    pub timed_out: u64,
    /// Times it stopped taking connections because it held `max`.
    pub paused_full: u64,
    /// Times it stopped taking connections for want of file descriptors.
    pub paused_no_fds: u64,
}

/// How a schedule's last run that ended on a worker ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastRunRow {
    /// Unix time it ended, in seconds.
    pub finished_unix: f64,
    /// `completed` or `failed`.
    pub result: String,
    /// From its start to its end.
    pub took_secs: f64,
}

/// One schedule of the pool, as `ticker status` and the metrics show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleRow {
    pub name: String,
    /// `every` or `cron`.
    pub kind: String,
    /// The interval (`250ms`) or the cron expression, as the config gave it.
    pub expression: String,
    /// A cron schedule's zone, and where it comes from (`timezone`, `ticker.timezone`,
    /// `date.timezone`, or why UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_origin: Option<String>,
    pub paused: bool,
    /// Its own `exec_ttl`, where it differs from `pool.supervisor.exec_ttl`: how long one of
    /// its runs may take, 0 for no limit. Absent: the pool's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_ttl_secs: Option<f64>,
    /// Its `jitter`, in seconds; absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_secs: Option<f64>,
    /// How far an interval's grid is shifted by its jitter, in seconds (one offset hashed
    /// from its name); absent for a cron schedule, whose jitter moves each run on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase_secs: Option<f64>,
    /// Unix time its next tick is due, in seconds; `None` while paused, or held (a tick
    /// waits under `delay`), or with no run to come.
    pub next_due_unix: Option<f64>,
    pub ticks: TickCounts,
    #[serde(default)]
    pub last_run: Option<LastRunRow>,
    /// Unix time its last completed run ended.
    #[serde(default)]
    pub last_success_unix: Option<f64>,
    /// The lateness of its answered ticks since the master started, in the buckets of
    /// [`BUCKET_BOUNDS_NS`].
    #[serde(default)]
    pub lateness: Histogram,
    /// How long its runs that ended on a worker took (completed or failed, from the start
    /// of each to its end), since the master started, in the buckets of [`RUN_BOUNDS_NS`].
    #[serde(default)]
    pub run_duration: Histogram,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub master_pid: i32,
    pub version: String,
    pub interval_secs: f64,
    pub uptime_secs: f64,
    /// Workers the pool keeps (`num_workers`, changed by SIGTTIN and SIGTTOU).
    pub target_workers: usize,
    /// The master's resident memory as last read, with how long ago.
    pub master_rss_bytes: Option<u64>,
    #[serde(default)]
    pub master_rss_age_secs: Option<f64>,
    #[serde(default)]
    pub starts: Starts,
    pub ticks: TickCounts,
    pub lateness: Percentiles,
    pub workers: Vec<WorkerRow>,
    /// One entry per door the master listens on.
    #[serde(default)]
    pub connections: Vec<DoorConnections>,
    /// The lease, with a `ticker.cluster` section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<crate::cluster::status::ClusterView>,
    /// The master's Unix time as it answered, in seconds, on the clock the schedules'
    /// times are on: the table shows them from it (`in 40ms`, `3s ago`).
    #[serde(default)]
    pub unix_time: Option<f64>,
    /// Every schedule of the pool, in the config's order; empty from a master that ran
    /// only one and did not list it.
    #[serde(default)]
    pub schedules: Vec<ScheduleRow>,
    /// Where the schedules' last runs are kept, with a schedule that catches up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_file: Option<String>,
}

/// Seconds as a duration a person reads, or `?` for what is no duration (negative, not a
/// number, or past what a `Duration` holds).
fn seconds(secs: f64, whole: bool) -> String {
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if whole => format_duration(Duration::from_secs(d.as_secs())),
        Ok(d) => format_duration(d),
        Err(_) => "?".to_string(),
    }
}

/// A text from the master, without control characters that would steer the terminal.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The `# HELP` and `# TYPE` lines of a metric.
fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP ticker_{name} {help}");
    let _ = writeln!(out, "# TYPE ticker_{name} {kind}");
}

/// A metric with its samples, each a label set (`{...}` or empty) and a value.
fn metric(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, String)]) {
    header(out, name, kind, help);
    for (labels, value) in samples {
        let _ = writeln!(out, "ticker_{name}{labels} {value}");
    }
}

/// The samples of histogram `name` (its header written before): cumulative buckets up to
/// `bounds` (nanoseconds), then `_sum` and `_count`, each with `labels` (`schedule="x"`, or
/// none) before `le`.
fn histogram_samples(out: &mut String, name: &str, labels: &str, bounds: &[u64], h: &Histogram) {
    let sep = if labels.is_empty() { "" } else { "," };
    let mut cumulative = 0u64;
    for (i, bound) in bounds.iter().enumerate() {
        cumulative = cumulative.saturating_add(h.buckets.get(i).copied().unwrap_or(0));
        let le = *bound as f64 / 1e9;
        let _ = writeln!(
            out,
            "ticker_{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
        );
    }
    // More counts than bounds (a snapshot of another version's) are still values: +Inf and
    // _count take them all, so the two stay equal.
    let above = h
        .buckets
        .iter()
        .skip(bounds.len())
        .fold(0u64, |n, &c| n.saturating_add(c));
    let count = cumulative.saturating_add(above);
    let _ = writeln!(
        out,
        "ticker_{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}"
    );
    let labels = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    };
    let _ = writeln!(out, "ticker_{name}_sum{labels} {}", h.sum_us as f64 / 1e6);
    let _ = writeln!(out, "ticker_{name}_count{labels} {count}");
}

/// `ticker_tick_lateness_seconds`: the pool's, every schedule's together.
fn lateness_histogram(out: &mut String, h: &Histogram) {
    header(
        out,
        "tick_lateness_seconds",
        "histogram",
        "Time from a tick's due instant to waitPayload() returning it, as its worker reports it, over every answered tick since the master started.",
    );
    histogram_samples(out, "tick_lateness_seconds", "", &BUCKET_BOUNDS_NS, h);
}

/// A bucket's bound as a person reads it: `2.5µs`, `250ms`, `10s`.
fn bound_text(ns: u64) -> String {
    let ns = ns as f64;
    if ns < 1e6 {
        format!("{}µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{}ms", ns / 1e6)
    } else {
        format!("{}s", ns / 1e9)
    }
}

/// The p50 and p99 of a histogram as its buckets bound them: `≤250µs/≤1ms`, `-` without
/// values, `>10s` above the last bound.
fn quantiles_text(h: &Histogram, bounds: &[u64]) -> String {
    let one = |q: f64| match h.quantile(bounds, q) {
        None => "-".to_string(),
        Some(Quantile::AtMost(ns)) => format!("≤{}", bound_text(ns)),
        Some(Quantile::Above(ns)) => format!(">{}", bound_text(ns)),
    };
    if h.count() == 0 {
        return "-".to_string();
    }
    format!("{}/{}", one(0.5), one(0.99))
}

fn mb(bytes: Option<u64>) -> String {
    bytes.map_or_else(
        || "-".to_string(),
        |b| format!("{:.1}", b as f64 / (1024.0 * 1024.0)),
    )
}

/// A span a person reads at a glance: `40ms`, `2.5s`, `3m20s`, `28h4m` (its two largest
/// units, in the config's own); `?` for what is no span.
fn span(secs: f64) -> String {
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if d < Duration::from_secs(1) => format!("{}ms", d.as_millis()),
        Ok(d) if d < Duration::from_secs(60) => format!("{:.1}s", d.as_secs_f64()),
        Ok(d) => format_duration_coarse(Duration::from_secs(d.as_secs()), 2),
        Err(_) => "?".to_string(),
    }
}

/// A Unix time as seen from `now` (`in 40ms`, `3s ago`); without `now` (a master that
/// did not send its time), as Unix seconds. A time that is not a number is no time (`-`),
/// as it reads back from JSON, which has no infinities.
fn from_now(unix: f64, now: Option<f64>) -> String {
    if !unix.is_finite() {
        return "-".to_string();
    }
    match now {
        Some(now) if unix >= now => format!("in {}", span(unix - now)),
        Some(now) if unix < now => format!("{} ago", span(now - unix)),
        _ => format!("@{unix:.0}"),
    }
}

impl ScheduleRow {
    /// What runs when: `every 250ms`, `cron 30 2 * * * (Europe/Berlin)`, with its jitter
    /// (and an interval's phase, where its grid lies) and its own `exec_ttl` where it has
    /// them.
    fn when(&self) -> String {
        let mut text = format!("{} {}", printable(&self.kind), printable(&self.expression));
        if let Some(zone) = &self.zone {
            let _ = write!(text, " ({})", printable(zone));
        }
        if let Some(jitter) = self.jitter_secs {
            let _ = write!(text, ", jitter {}", seconds(jitter, false));
            // Whole microseconds, as the phase is drawn: the float must not show as 1ns less.
            if let Some(phase) = self.phase_secs {
                let micros = (phase * 1e6).round();
                let phase = if (0.0..1e15).contains(&micros) {
                    format_duration(Duration::from_micros(micros as u64))
                } else {
                    "?".to_string()
                };
                let _ = write!(text, " (phase {phase})");
            }
        }
        // A ttl that is not a number is none, as it reads back from JSON.
        match self.exec_ttl_secs.filter(|ttl| ttl.is_finite()) {
            Some(0.0) => text.push_str(", no exec_ttl"),
            Some(ttl) => {
                let _ = write!(text, ", exec_ttl {}", seconds(ttl, false));
            }
            None => {}
        }
        text
    }

    fn next(&self, now: Option<f64>) -> String {
        match self.next_due_unix {
            _ if self.paused => "paused".to_string(),
            Some(at) => from_now(at, now),
            None => "-".to_string(),
        }
    }

    fn last_run(&self, now: Option<f64>) -> String {
        self.last_run.as_ref().map_or_else(
            || "-".to_string(),
            |r| {
                format!(
                    "{} {} ({})",
                    printable(&r.result),
                    from_now(r.finished_unix, now),
                    span(r.took_secs)
                )
            },
        )
    }

    fn last_success(&self, now: Option<f64>) -> String {
        self.last_success_unix
            .map_or_else(|| "-".to_string(), |at| from_now(at, now))
    }

    /// Its lateness's p50 and p99, as the buckets bound them.
    fn late(&self) -> String {
        quantiles_text(&self.lateness, &BUCKET_BOUNDS_NS)
    }

    /// Its run duration's p50 and p99, as the buckets bound them.
    fn runs(&self) -> String {
        quantiles_text(&self.run_duration, &RUN_BOUNDS_NS)
    }
}

/// Why an answer is not a snapshot `ticker status` can show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadSnapshot(String);

impl Snapshot {
    /// Reads the JSON a master answers `status` with, and checks what JSON alone does
    /// not: every duration is one (finite, not negative, within what a `Duration` holds).
    pub fn from_json(json: &str) -> Result<Snapshot, BadSnapshot> {
        let snapshot: Snapshot =
            serde_json::from_str(json).map_err(|e| BadSnapshot(e.to_string()))?;
        let durations = [
            ("interval_secs", snapshot.interval_secs),
            ("uptime_secs", snapshot.uptime_secs),
        ]
        .into_iter()
        .chain(
            snapshot
                .master_rss_age_secs
                .map(|secs| ("master_rss_age_secs", secs)),
        )
        .chain(snapshot.workers.iter().flat_map(|w| {
            [
                ("workers[].age_secs", Some(w.age_secs)),
                ("workers[].rss_age_secs", w.rss_age_secs),
            ]
            .into_iter()
            .filter_map(|(field, secs)| Some((field, secs?)))
        }))
        .chain(snapshot.unix_time.map(|secs| ("unix_time", secs)))
        // Unix times are durations too: since the epoch, which no master's clock is before.
        .chain(snapshot.schedules.iter().flat_map(|s| {
            let run = s.last_run.as_ref();
            [
                ("schedules[].exec_ttl_secs", s.exec_ttl_secs),
                ("schedules[].jitter_secs", s.jitter_secs),
                ("schedules[].phase_secs", s.phase_secs),
                ("schedules[].next_due_unix", s.next_due_unix),
                ("schedules[].last_success_unix", s.last_success_unix),
                (
                    "schedules[].last_run.finished_unix",
                    run.map(|r| r.finished_unix),
                ),
                ("schedules[].last_run.took_secs", run.map(|r| r.took_secs)),
            ]
            .into_iter()
            .filter_map(|(field, secs)| Some((field, secs?)))
        }));
        for (field, secs) in durations {
            if Duration::try_from_secs_f64(secs).is_err() {
                return Err(BadSnapshot(format!(
                    "{field} is {secs:?}, which is not a duration in seconds"
                )));
            }
        }
        Ok(snapshot)
    }

    /// The human view, for `ticker status`. Whatever the figures, it renders them (a
    /// duration that is none shows as `?`).
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let t = &self.ticks;
        let l = &self.lateness;
        let _ = writeln!(
            out,
            "master {}  ticker {}  every {}  up {}  workers {}/{}  RSS {} MB",
            self.master_pid,
            printable(&self.version),
            seconds(self.interval_secs, false),
            seconds(self.uptime_secs, true),
            self.workers
                .iter()
                .filter(|w| w.state != "stopping")
                .count(),
            self.target_workers,
            mb(self.master_rss_bytes),
        );
        if self.starts.lacking > 0 {
            let _ = writeln!(
                out,
                "lacking {} of {} workers: {} starts failed{}",
                self.starts.lacking,
                self.target_workers,
                self.starts.failed,
                self.starts
                    .last_error
                    .as_deref()
                    .map_or_else(String::new, |e| format!(", the last: {}", printable(e))),
            );
        }
        let _ = writeln!(
            out,
            "ticks  due {}  delivered {}  completed {}  failed {}  skipped {}{}",
            t.due,
            t.delivered,
            t.completed,
            t.failed,
            t.skipped,
            // Only once there is one: most pools never see a manual run.
            if t.manual > 0 {
                format!("  manual {}", t.manual)
            } else {
                String::new()
            }
        );
        match l.figures() {
            Some(q) => {
                let _ = writeln!(
                    out,
                    "lateness (last {} ticks)  p50 {} µs  p90 {} µs  p99 {} µs  max {} µs",
                    l.samples, q.p50_us, q.p90_us, q.p99_us, q.max_us
                );
            }
            None => {
                let _ = writeln!(out, "lateness  no ticks yet");
            }
        }
        if !self.connections.is_empty() {
            let doors: Vec<String> = self
                .connections
                .iter()
                .map(|d| {
                    format!(
                        "{} {}/{} open, {} timed out",
                        printable(&d.door),
                        d.open,
                        d.max,
                        d.timed_out
                    )
                })
                .collect();
            let _ = writeln!(out, "connections  {}", doors.join("  "));
        }
        if let Some(cluster) = &self.cluster {
            let _ = writeln!(out, "{}", printable(&cluster.table_line()));
        }
        if let Some(file) = &self.state_file {
            let _ = writeln!(out, "state file  {}", printable(file));
        }
        self.schedules_table(&mut out);
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
                printable(&w.state),
                w.tick.map_or_else(|| "-".to_string(), |n| n.to_string()),
                w.ticks,
                w.errors,
                mb(w.rss_bytes),
                seconds(w.age_secs, true),
            );
        }
        out
    }

    /// The schedules: one line for a pool of one (its counts are the pool's, shown above),
    /// a table for more.
    fn schedules_table(&self, out: &mut String) {
        let now = self.unix_time;
        if let [only] = self.schedules.as_slice() {
            let _ = writeln!(
                out,
                "schedule {}  {}  next {}  last run {}  last success {}  runs p50/p99 {}",
                printable(&only.name),
                only.when(),
                only.next(now),
                only.last_run(now),
                only.last_success(now),
                only.runs(),
            );
            return;
        }
        if self.schedules.is_empty() {
            return;
        }
        let names: Vec<String> = self.schedules.iter().map(|s| printable(&s.name)).collect();
        let whens: Vec<String> = self.schedules.iter().map(ScheduleRow::when).collect();
        let width = |cells: &[String], title: &str| {
            cells
                .iter()
                .map(|c| c.chars().count())
                .chain([title.len()])
                .max()
                .unwrap_or(0)
        };
        let (name_w, when_w) = (width(&names, "SCHEDULE"), width(&whens, "WHEN"));
        let _ = writeln!(
            out,
            "\n{:<name_w$}  {:<when_w$}  {:<12}  {:>8}  {:>8}  {:>7}  {:>8}  {:<15}  {:<15}  {:<28}  LAST SUCCESS",
            "SCHEDULE",
            "WHEN",
            "NEXT",
            "DUE",
            "DONE",
            "FAILED",
            "SKIPPED",
            "LATE p50/p99",
            "RUN p50/p99",
            "LAST RUN"
        );
        for ((s, name), when) in self.schedules.iter().zip(&names).zip(&whens) {
            let _ = writeln!(
                out,
                "{name:<name_w$}  {when:<when_w$}  {:<12}  {:>8}  {:>8}  {:>7}  {:>8}  {:<15}  {:<15}  {:<28}  {}",
                s.next(now),
                s.ticks.due,
                s.ticks.completed,
                s.ticks.failed,
                s.ticks.skipped,
                s.late(),
                s.runs(),
                s.last_run(now),
                s.last_success(now),
            );
        }
    }

    /// Prometheus text exposition (version 0.0.4).
    pub fn to_prometheus(&self) -> String {
        let mut out =
            String::with_capacity(4096 + 192 * self.workers.len() + 4096 * self.schedules.len());
        let out = &mut out;
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
            (
                "ticks_manual_total",
                t.manual,
                "Runs asked for with `ticker run` and handed to a worker.",
            ),
        ] {
            metric(out, name, "counter", help, &plain(value.to_string()));
        }
        lateness_histogram(out, &self.lateness.histogram);
        let l = &self.lateness;
        // The window's exact figures, as `ticker status` shows them: the histogram's buckets
        // only bound a quantile, and never tell the maximum. None while the window is empty,
        // where a 0 would read as ticks on time.
        let recent: Vec<(String, String)> = l
            .figures()
            .map(|q| {
                [
                    ("0.5", q.p50_us),
                    ("0.9", q.p90_us),
                    ("0.99", q.p99_us),
                    ("1", q.max_us),
                ]
            })
            .iter()
            .flatten()
            .map(|(q, us)| {
                (
                    format!("{{quantile=\"{q}\"}}"),
                    format!("{}", *us as f64 / 1e6),
                )
            })
            .collect();
        metric(
            out,
            "tick_lateness_recent_seconds",
            "gauge",
            &format!(
                "Tick lateness over the last {WINDOW} answered ticks at most: nearest-rank quantiles, 1 the maximum."
            ),
            &recent,
        );
        metric(
            out,
            "workers",
            "gauge",
            "Worker processes by state.",
            &["starting", "idle", "busy", "stopping"]
                .iter()
                .map(|state| {
                    let n = self.workers.iter().filter(|w| w.state == *state).count();
                    (format!("{{state=\"{state}\"}}"), n.to_string())
                })
                .collect::<Vec<_>>(),
        );
        metric(
            out,
            "workers_target",
            "gauge",
            "Workers the pool keeps.",
            &plain(self.target_workers.to_string()),
        );
        metric(
            out,
            "workers_lacking",
            "gauge",
            "Workers the pool should have and does not (starting them failed, or is due).",
            &plain(self.starts.lacking.to_string()),
        );
        metric(
            out,
            "worker_starts_failed_total",
            "counter",
            "Workers that could not be started: no process, no file descriptor, or the command did not run.",
            &plain(self.starts.failed.to_string()),
        );
        // Written straight out, a line per worker, with no allocation per line: the page
        // of a large pool is mostly these.
        let per_worker = |out: &mut String, name, kind, help, f: fn(&WorkerRow) -> Option<u64>| {
            header(out, name, kind, help);
            for w in &self.workers {
                if let Some(value) = f(w) {
                    let _ = writeln!(out, "ticker_{name}{{pid=\"{}\"}} {value}", w.pid);
                }
            }
        };
        per_worker(
            out,
            "worker_ticks_total",
            "counter",
            "Ticks handled by each worker.",
            |w| Some(w.ticks),
        );
        per_worker(
            out,
            "worker_errors_total",
            "counter",
            "Ticks each worker failed with error().",
            |w| Some(w.errors),
        );
        per_worker(
            out,
            "worker_memory_bytes",
            "gauge",
            "Resident memory of each worker, as read on the last watch_tick round.",
            |w| w.rss_bytes,
        );
        let oldest_reading = self
            .workers
            .iter()
            .filter_map(|w| w.rss_age_secs)
            .chain(self.master_rss_age_secs)
            .fold(None, |oldest: Option<f64>, age| {
                Some(oldest.map_or(age, |o| o.max(age)))
            });
        if let Some(age) = oldest_reading {
            metric(
                out,
                "memory_reading_age_seconds",
                "gauge",
                "Age of the oldest memory figure served: memory is read every watch_tick, never per request.",
                &plain(format!("{age:.3}")),
            );
        }
        let per_door = |f: fn(&DoorConnections) -> String| -> Vec<(String, String)> {
            self.connections
                .iter()
                .map(|d| (format!("{{door=\"{}\"}}", label(&d.door)), f(d)))
                .collect()
        };
        metric(
            out,
            "operator_connections",
            "gauge",
            "Open connections to the control socket and the metrics endpoint.",
            &per_door(|d| d.open.to_string()),
        );
        metric(
            out,
            "operator_connections_max",
            "gauge",
            "Connections a door holds at once; at it, it takes no more until one closes.",
            &per_door(|d| d.max.to_string()),
        );
        metric(
            out,
            "operator_connections_accepted_total",
            "counter",
            "Connections accepted.",
            &per_door(|d| d.accepted.to_string()),
        );
        metric(
            out,
            "operator_connections_timed_out_total",
            "counter",
            "Connections dropped for not sending their request in time.",
            &per_door(|d| d.timed_out.to_string()),
        );
        metric(
            out,
            "operator_accept_paused_total",
            "counter",
            "Times a door stopped taking connections: full, or short of file descriptors.",
            &self
                .connections
                .iter()
                .flat_map(|d| {
                    [("full", d.paused_full), ("no_fds", d.paused_no_fds)].map(|(why, n)| {
                        (
                            format!("{{door=\"{}\",reason=\"{why}\"}}", label(&d.door)),
                            n.to_string(),
                        )
                    })
                })
                .collect::<Vec<_>>(),
        );
        self.schedule_metrics(out);
        metric(
            out,
            "uptime_seconds",
            "gauge",
            "Seconds since the master started its pool.",
            &plain(format!("{:.3}", self.uptime_secs)),
        );
        if let Some(cluster) = &self.cluster {
            out.push_str(&cluster.prometheus());
        }
        std::mem::take(out)
    }

    /// Each schedule's series, labelled `schedule`: its counts under the names of the
    /// pool's (which stay unlabelled, so that a sum over either never counts a tick twice),
    /// whether it is paused, the instants an alert watches, and its lateness and run
    /// duration as histograms. A time it does not have
    /// (no success yet, paused) is left out rather than sent as 0.
    fn schedule_metrics(&self, out: &mut String) {
        let per_schedule =
            |out: &mut String, name, kind, help, f: &dyn Fn(&ScheduleRow) -> Option<String>| {
                header(out, name, kind, help);
                for s in &self.schedules {
                    if let Some(value) = f(s) {
                        let _ = writeln!(
                            out,
                            "ticker_{name}{{schedule=\"{}\"}} {value}",
                            label(&s.name)
                        );
                    }
                }
            };
        type Count = fn(&TickCounts) -> u64;
        let counts: [(&str, &str, Count); 5] = [
            (
                "schedule_ticks_due_total",
                "Ticks of each schedule whose due instant has passed.",
                |t| t.due,
            ),
            (
                "schedule_ticks_delivered_total",
                "Ticks of each schedule handed to a worker.",
                |t| t.delivered,
            ),
            (
                "schedule_ticks_completed_total",
                "Ticks of each schedule answered with respond().",
                |t| t.completed,
            ),
            (
                "schedule_ticks_failed_total",
                "Ticks of each schedule failed: error(), a dying worker, or given up.",
                |t| t.failed,
            ),
            (
                "schedule_ticks_skipped_total",
                "Ticks of each schedule never run because no worker was free.",
                |t| t.skipped,
            ),
        ];
        for (name, help, count) in counts {
            per_schedule(out, name, "counter", help, &|s| {
                Some(count(&s.ticks).to_string())
            });
        }
        per_schedule(
            out,
            "schedule_paused",
            "gauge",
            "1 while a schedule is paused: nothing of it comes due.",
            &|s| Some(u8::from(s.paused).to_string()),
        );
        per_schedule(
            out,
            "schedule_next_due_timestamp_seconds",
            "gauge",
            "Unix time a schedule's next tick is due; absent while paused or held.",
            &|s| s.next_due_unix.map(|at| format!("{at:.3}")),
        );
        per_schedule(
            out,
            "schedule_last_success_timestamp_seconds",
            "gauge",
            "Unix time a schedule's last completed run ended; absent before the first.",
            &|s| s.last_success_unix.map(|at| format!("{at:.3}")),
        );
        per_schedule(
            out,
            "schedule_last_run_duration_seconds",
            "gauge",
            "How long a schedule's last run that ended on a worker took, completed or failed.",
            &|s| s.last_run.as_ref().map(|r| format!("{:.6}", r.took_secs)),
        );
        type Of = fn(&ScheduleRow) -> &Histogram;
        let histograms: [(&str, &str, &[u64], Of); 2] = [
            (
                "schedule_lateness_seconds",
                "Time from a tick of each schedule's due instant to waitPayload() returning it, as its worker reports it, over every answered tick since the master started.",
                &BUCKET_BOUNDS_NS,
                |s| &s.lateness,
            ),
            (
                "schedule_run_duration_seconds",
                "How long each schedule's runs that ended on a worker took, completed or failed, since the master started.",
                &RUN_BOUNDS_NS,
                |s| &s.run_duration,
            ),
        ];
        for (name, help, bounds, of) in histograms {
            header(out, name, "histogram", help);
            for s in &self.schedules {
                let labels = format!("schedule=\"{}\"", label(&s.name));
                histogram_samples(out, name, &labels, bounds, of(s));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openmetrics_parser::prometheus::parse_prometheus;
    use openmetrics_parser::{PrometheusType, PrometheusValue};
    use proptest::prelude::*;

    const BUCKETS: usize = BUCKET_BOUNDS_NS.len() + 1;

    /// Every one of `lines` is a whole line of `text`.
    fn assert_lines(text: &str, lines: &[&str]) {
        for line in lines {
            assert!(
                text.lines().any(|l| l == *line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    fn snapshot() -> Snapshot {
        Snapshot {
            master_pid: 10,
            version: "0.1.0".into(),
            interval_secs: 0.5,
            uptime_secs: 12.0,
            target_workers: 2,
            master_rss_bytes: Some(20 * 1024 * 1024),
            master_rss_age_secs: Some(0.25),
            starts: Starts::default(),
            ticks: TickCounts {
                due: 24,
                delivered: 23,
                completed: 21,
                failed: 2,
                skipped: 1,
                manual: 0,
            },
            lateness: Percentiles {
                samples: 23,
                recent: Some(Quantiles {
                    p50_us: 40,
                    p90_us: 80,
                    p99_us: 120,
                    max_us: 300,
                }),
                histogram: histogram_of(&[
                    [3; 2].as_slice(),
                    &[40; 12],
                    &[80; 6],
                    &[120, 120, 300],
                ]),
            },
            workers: vec![
                WorkerRow {
                    pid: 11,
                    state: "busy".into(),
                    tick: Some(23),
                    ticks: 12,
                    errors: 2,
                    rss_bytes: Some(30 * 1024 * 1024),
                    rss_age_secs: Some(0.5),
                    age_secs: 12.0,
                },
                WorkerRow {
                    pid: 12,
                    state: "idle".into(),
                    tick: None,
                    ticks: 11,
                    errors: 0,
                    rss_bytes: None,
                    rss_age_secs: None,
                    age_secs: 3.0,
                },
            ],
            connections: vec![DoorConnections {
                door: "metrics".into(),
                open: 3,
                max: 64,
                accepted: 40,
                timed_out: 7,
                paused_full: 1,
                paused_no_fds: 2,
            }],
            cluster: None,
            state_file: None,
            unix_time: Some(NOW),
            schedules: vec![
                ScheduleRow {
                    name: "default".into(),
                    kind: "every".into(),
                    expression: "500ms".into(),
                    zone: None,
                    zone_origin: None,
                    paused: false,
                    next_due_unix: Some(NOW + 0.25),
                    ticks: TickCounts {
                        due: 20,
                        delivered: 19,
                        completed: 18,
                        failed: 0,
                        skipped: 1,
                        manual: 0,
                    },
                    last_run: Some(LastRunRow {
                        finished_unix: NOW - 0.2,
                        result: "completed".into(),
                        took_secs: 0.003,
                    }),
                    last_success_unix: Some(NOW - 0.2),
                    exec_ttl_secs: None,
                    jitter_secs: None,
                    phase_secs: None,
                    lateness: histogram_of(&[&[40; 17], &[300]]),
                    run_duration: runs_of(&[3; 18]),
                },
                ScheduleRow {
                    name: "report".into(),
                    kind: "cron".into(),
                    expression: "30 2 * * *".into(),
                    zone: Some("Europe/Berlin".into()),
                    zone_origin: Some("timezone".into()),
                    paused: false,
                    next_due_unix: Some(NOW + 3600.0),
                    ticks: TickCounts {
                        due: 4,
                        delivered: 4,
                        completed: 3,
                        failed: 2,
                        skipped: 0,
                        manual: 0,
                    },
                    last_run: Some(LastRunRow {
                        finished_unix: NOW - 90.0,
                        result: "failed".into(),
                        took_secs: 12.5,
                    }),
                    last_success_unix: Some(NOW - 86_400.0),
                    exec_ttl_secs: Some(60.0),
                    jitter_secs: Some(30.0),
                    phase_secs: None,
                    lateness: histogram_of(&[&[2_000, 3_000, 4_000]]),
                    run_duration: runs_of(&[4_000, 4_000, 12_500, 12_500, 12_500]),
                },
                ScheduleRow {
                    name: "hourly".into(),
                    kind: "cron".into(),
                    expression: "@hourly".into(),
                    zone: Some("UTC".into()),
                    zone_origin: Some("ticker.timezone".into()),
                    paused: true,
                    next_due_unix: None,
                    ticks: TickCounts::default(),
                    last_run: None,
                    last_success_unix: None,
                    exec_ttl_secs: Some(0.0),
                    jitter_secs: None,
                    phase_secs: None,
                    lateness: Histogram::default(),
                    run_duration: Buckets::run_duration().histogram(),
                },
            ],
        }
    }

    /// The master's Unix time in the snapshot above.
    const NOW: f64 = 1_765_000_000.5;

    /// The histogram of runs this long, in milliseconds.
    fn runs_of(ms: &[u64]) -> Histogram {
        let mut b = Buckets::run_duration();
        for &ms in ms {
            b.record(Duration::from_millis(ms));
        }
        b.histogram()
    }

    /// The histogram of ticks this late, in microseconds.
    fn histogram_of(groups: &[&[u64]]) -> Histogram {
        let mut l = Lateness::default();
        for &us in groups.concat().iter() {
            l.record(Duration::from_micros(us));
        }
        l.percentiles().histogram
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut l = Lateness::default();
        assert_eq!(
            l.percentiles(),
            Percentiles {
                histogram: Histogram {
                    buckets: vec![0; BUCKETS],
                    sum_us: 0
                },
                ..Percentiles::default()
            }
        );
        for us in 1..=100 {
            l.record(Duration::from_micros(us));
        }
        let p = l.percentiles();
        assert_eq!(p.samples, 100);
        assert_eq!(
            p.recent,
            Some(Quantiles {
                p50_us: 50,
                p90_us: 90,
                p99_us: 99,
                max_us: 100
            })
        );
    }

    #[test]
    fn percentiles_are_those_of_the_sorted_window_and_follow_new_samples() {
        let mut l = Lateness::default();
        let mut all = vec![];
        for i in 0..(WINDOW as u64 + 500) {
            let us = (i * 7919 + 13) % 1_009;
            l.record(Duration::from_micros(us));
            all.push(us);
            if i % 611 == 0 || i == WINDOW as u64 + 499 {
                let window = &all[all.len().saturating_sub(WINDOW)..];
                let mut sorted = window.to_vec();
                sorted.sort_unstable();
                let at = |p: f64| sorted[((p * sorted.len() as f64).ceil() as usize).max(1) - 1];
                let expected = Percentiles {
                    samples: sorted.len(),
                    recent: Some(Quantiles {
                        p50_us: at(0.5),
                        p90_us: at(0.9),
                        p99_us: at(0.99),
                        max_us: *sorted.last().unwrap(),
                    }),
                    histogram: l.percentiles().histogram,
                };
                assert_eq!(l.percentiles(), expected, "after {} samples", i + 1);
                assert_eq!(l.percentiles(), expected, "asked again");
            }
        }
    }

    #[test]
    fn a_pool_that_lacks_workers_says_so_in_the_table_and_the_metrics() {
        let mut s = snapshot();
        assert!(!s.to_table().contains("lacking"), "{}", s.to_table());
        assert!(s.to_prometheus().contains("\nticker_workers_lacking 0\n"));
        s.starts = Starts {
            failed: 7,
            lacking: 1,
            last_error: Some("cannot start a worker: Too many open files (os error 24)".into()),
        };
        let table = s.to_table();
        assert!(
            table.contains(
                "lacking 1 of 2 workers: 7 starts failed, the last: cannot start a worker: \
                 Too many open files (os error 24)"
            ),
            "{table}"
        );
        let text = s.to_prometheus();
        assert!(text.contains("\nticker_workers_lacking 1\n"), "{text}");
        assert!(
            text.contains("\nticker_worker_starts_failed_total 7\n"),
            "{text}"
        );
        assert!(
            text.contains("\nticker_memory_reading_age_seconds 0.500\n"),
            "the oldest reading: {text}"
        );
    }

    #[test]
    fn the_window_keeps_only_recent_ticks() {
        let mut l = Lateness::default();
        l.record(Duration::from_secs(1));
        for _ in 0..WINDOW {
            l.record(Duration::from_micros(5));
        }
        let p = l.percentiles();
        assert_eq!(p.recent.map(|q| q.max_us), Some(5));
        assert_eq!(p.samples, WINDOW);
        let h = p.histogram;
        assert_eq!(
            h.buckets.iter().sum::<u64>(),
            WINDOW as u64 + 1,
            "the histogram keeps every tick: {h:?}"
        );
        assert_eq!(h.buckets[18], 1, "the second, in the 1 s bucket: {h:?}");
        assert_eq!(h.sum_us, 1_000_000 + 5 * WINDOW as u64);
    }

    #[test]
    fn each_tick_counts_in_the_first_bucket_whose_bound_it_does_not_pass() {
        let mut l = Lateness::default();
        for us in [0, 1, 2, 3, 1_000, 1_001, 10_000_000, 10_000_001, u64::MAX] {
            l.record(Duration::from_micros(us));
        }
        l.record(Duration::MAX);
        let h = l.percentiles().histogram;
        let mut expected = vec![0; BUCKETS];
        for (bucket, n) in [(0, 2), (1, 1), (2, 1), (9, 1), (10, 1), (21, 1), (22, 3)] {
            expected[bucket] = n;
        }
        assert_eq!(h.buckets, expected);
        assert_eq!(h.sum_us, u64::MAX, "a sum past u64 stays at its largest");
        let mut small = Lateness::default();
        for us in [0, 1, 2, 3, 1_000, 10_000_000, 10_000_001] {
            small.record(Duration::from_micros(us));
        }
        let text = Snapshot {
            lateness: small.percentiles(),
            ..snapshot()
        }
        .to_prometheus();
        assert_lines(
            &text,
            &[
                "# TYPE ticker_tick_lateness_seconds histogram",
                "ticker_tick_lateness_seconds_bucket{le=\"0.000001\"} 2",
                "ticker_tick_lateness_seconds_bucket{le=\"0.0000025\"} 3",
                "ticker_tick_lateness_seconds_bucket{le=\"0.000005\"} 4",
                "ticker_tick_lateness_seconds_bucket{le=\"0.0005\"} 4",
                "ticker_tick_lateness_seconds_bucket{le=\"0.001\"} 5",
                "ticker_tick_lateness_seconds_bucket{le=\"5\"} 5",
                "ticker_tick_lateness_seconds_bucket{le=\"10\"} 6",
                "ticker_tick_lateness_seconds_bucket{le=\"+Inf\"} 7",
                "ticker_tick_lateness_seconds_sum 20.001007",
                "ticker_tick_lateness_seconds_count 7",
                "# TYPE ticker_tick_lateness_recent_seconds gauge",
                "ticker_tick_lateness_recent_seconds{quantile=\"0.5\"} 0.000003",
                "ticker_tick_lateness_recent_seconds{quantile=\"1\"} 10.000001",
            ],
        );
    }

    #[test]
    fn an_answer_without_a_histogram_reads_as_one_of_no_ticks() {
        let mut json: serde_json::Value = serde_json::to_value(snapshot()).unwrap();
        json["lateness"]
            .as_object_mut()
            .unwrap()
            .remove("histogram")
            .expect("a histogram to remove");
        let s = Snapshot::from_json(&json.to_string()).unwrap();
        assert_eq!(s.lateness.histogram, Histogram::default());
        assert_eq!(s.lateness.figures().map(|q| q.p99_us), Some(120));
        assert_eq!(s.to_table(), snapshot().to_table());
        let text = s.to_prometheus();
        assert!(
            text.contains("\nticker_tick_lateness_seconds_bucket{le=\"+Inf\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("\nticker_tick_lateness_seconds_count 0\n"),
            "{text}"
        );
        parse_prometheus(&text).unwrap_or_else(|e| panic!("{e:?} in\n{text}"));
    }

    #[test]
    fn a_pool_with_no_tick_yet_says_so_rather_than_showing_zeros() {
        let empty = Snapshot {
            lateness: Lateness::default().percentiles(),
            ..snapshot()
        };
        let table = empty.to_table();
        assert!(table.contains("\nlateness  no ticks yet\n"), "{table}");
        assert!(!table.contains(" µs"), "{table}");
        let json: serde_json::Value = serde_json::to_value(&empty).unwrap();
        let lateness = json["lateness"].as_object().unwrap();
        assert_eq!(lateness["samples"], 0, "{json}");
        for figure in ["p50_us", "p90_us", "p99_us", "max_us"] {
            assert!(!lateness.contains_key(figure), "{figure} in {json}");
        }
        let back = Snapshot::from_json(&json.to_string()).unwrap();
        assert_eq!(back.lateness.recent, None);
        assert_eq!(back.to_table(), table);
        // A master of an older version sends zeros for an empty window: no figures either.
        let mut old = json.clone();
        for figure in ["p50_us", "p90_us", "p99_us", "max_us"] {
            old["lateness"][figure] = 0.into();
        }
        let back = Snapshot::from_json(&old.to_string()).unwrap();
        assert_eq!(back.to_table(), table);
        // Once a tick is answered, the figures are back, in the JSON and the table.
        let mut l = Lateness::default();
        l.record(Duration::from_micros(7));
        let one = Snapshot {
            lateness: l.percentiles(),
            ..snapshot()
        };
        assert!(
            one.to_table()
                .contains("lateness (last 1 ticks)  p50 7 µs  p90 7 µs  p99 7 µs  max 7 µs"),
            "{}",
            one.to_table()
        );
        let json: serde_json::Value = serde_json::to_value(&one).unwrap();
        assert_eq!(json["lateness"]["p50_us"], 7, "{json}");
    }

    #[test]
    fn an_empty_window_exports_no_recent_lateness() {
        let text = Snapshot {
            lateness: Lateness::default().percentiles(),
            ..snapshot()
        }
        .to_prometheus();
        assert!(
            text.contains("# TYPE ticker_tick_lateness_recent_seconds gauge"),
            "{text}"
        );
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("ticker_tick_lateness_recent_seconds")),
            "{text}"
        );
    }

    /// The page a scrape gets, read back by a strict parser of the text format: every line
    /// is taken, every family has one TYPE, and each histogram is whole.
    #[test]
    fn the_metrics_page_is_valid_prometheus_text() {
        let mut s = snapshot();
        s.lateness.histogram = histogram_of(&[&[0, 2, 3, 3, 40, 900], &[2_500; 3], &[11_000_000]]);
        s.connections.insert(
            0,
            DoorConnections {
                door: "control".into(),
                open: 1,
                max: 64,
                accepted: 9,
                ..DoorConnections::default()
            },
        );
        s.starts = Starts {
            failed: 3,
            lacking: 1,
            last_error: Some("no \"fork\"\nhere".into()),
        };
        s.cluster = Some(crate::cluster::status::ClusterView {
            role: crate::cluster::lease::Role::Leader,
            redis: "redis://127.0.0.1:6379/0".into(),
            key: "ticker:\"app\"".into(),
            holder: Some("web-1:4242".into()),
            token: Some(7),
            last_tick: Some(1234),
        });
        let text = s.to_prometheus();
        let page = parse_prometheus(&text).unwrap_or_else(|e| panic!("{e:?} in\n{text}"));

        let mut typed: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        let families = typed.len();
        typed.sort_unstable();
        typed.dedup();
        assert_eq!(typed.len(), families, "a TYPE twice in\n{text}");
        let mut parsed: Vec<&str> = page.families.keys().map(String::as_str).collect();
        parsed.sort_unstable();
        assert_eq!(parsed, typed, "every family parsed, each with its TYPE");
        assert!(
            page.families
                .values()
                .all(|f| f.family_type != PrometheusType::Unknown)
        );

        // Nothing dropped: as many values in the parsed page as sample lines in the text.
        let values: usize = page
            .families
            .values()
            .flat_map(|f| f.iter_samples())
            .map(|sample| match &sample.value {
                PrometheusValue::Histogram(h) => {
                    h.buckets.len() + usize::from(h.sum.is_some()) + usize::from(h.count.is_some())
                }
                PrometheusValue::Summary(q) => {
                    q.quantiles.len()
                        + usize::from(q.sum.is_some())
                        + usize::from(q.count.is_some())
                }
                _ => 1,
            })
            .sum();
        let lines = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .count();
        assert_eq!(values, lines, "{text}");
        for needed in [
            "ticker_workers",
            "ticker_worker_ticks_total",
            "ticker_operator_accept_paused_total",
            "ticker_cluster_role",
            "ticker_cluster_lease_token",
            "ticker_schedule_ticks_completed_total",
            "ticker_schedule_ticks_skipped_total",
            "ticker_schedule_paused",
            "ticker_schedule_next_due_timestamp_seconds",
            "ticker_schedule_last_success_timestamp_seconds",
            "ticker_schedule_last_run_duration_seconds",
            "ticker_schedule_lateness_seconds",
            "ticker_schedule_run_duration_seconds",
        ] {
            assert!(
                page.families[needed].iter_samples().count() > 0,
                "{needed} has samples"
            );
        }

        let lateness = &page.families["ticker_tick_lateness_seconds"];
        assert_eq!(lateness.family_type, PrometheusType::Histogram);
        let samples: Vec<_> = lateness.iter_samples().collect();
        assert_eq!(samples.len(), 1);
        let PrometheusValue::Histogram(h) = &samples[0].value else {
            panic!("{:?}", samples[0].value)
        };
        let bounds: Vec<f64> = h.buckets.iter().map(|b| b.upper_bound).collect();
        let expected: Vec<f64> = BUCKET_BOUNDS_NS
            .iter()
            .map(|&ns| ns as f64 / 1e9)
            .chain([f64::INFINITY])
            .collect();
        assert_eq!(bounds, expected);
        let counts: Vec<f64> = h.buckets.iter().map(|b| b.count.as_f64()).collect();
        assert!(
            counts.windows(2).all(|w| w[0] <= w[1]),
            "cumulative: {counts:?}"
        );
        assert_eq!(counts[0], 1.0, "0 µs: {counts:?}");
        assert_eq!(counts[1], 2.0, "and 2 µs: {counts:?}");
        assert_eq!(counts[2], 4.0, "and 3 µs twice: {counts:?}");
        assert_eq!(counts[10], 9.0, "and 900 µs, and 2.5 ms thrice: {counts:?}");
        assert_eq!(h.count, Some(10));
        assert_eq!(counts.last(), Some(&10.0), "+Inf is _count");
        assert_eq!(counts[counts.len() - 2], 9.0, "11 s is past the last bound");
        assert_eq!(
            h.sum.map(|s| s.as_f64()),
            Some((2 + 3 + 3 + 40 + 900 + 3 * 2_500 + 11_000_000) as f64 / 1e6)
        );
    }

    /// What the test above leans on: the parser refuses a broken page.
    #[test]
    fn the_parser_refuses_a_broken_page() {
        let text = snapshot().to_prometheus();
        let broken = [
            text.replace("{le=\"+Inf\"}", "{le=\"20\"}"),
            text.replace(
                "ticker_tick_lateness_seconds_bucket{le=\"0.00001\"} 2",
                "ticker_tick_lateness_seconds_bucket{le=\"0.00001\"} 0",
            ),
            text.replace(
                "# TYPE ticker_workers gauge\n",
                "# TYPE ticker_workers gauge\n# TYPE ticker_workers gauge\n",
            ),
            text.replace(
                "ticker_uptime_seconds 12.000",
                "ticker_uptime_seconds twelve",
            ),
            format!("{text}ticker_workers{{state=\"idle\"}} 1\n"),
        ];
        for page in broken {
            assert_ne!(page, text);
            assert!(parse_prometheus(&page).is_err(), "accepted\n{page}");
        }
    }

    #[test]
    fn prometheus_text_has_every_figure() {
        let text = snapshot().to_prometheus();
        assert_lines(
            &text,
            &[
                "ticker_ticks_due_total 24",
                "ticker_ticks_delivered_total 23",
                "ticker_ticks_failed_total 2",
                "ticker_ticks_skipped_total 1",
                "# TYPE ticker_tick_lateness_seconds histogram",
                "ticker_tick_lateness_seconds_bucket{le=\"0.00005\"} 14",
                "ticker_tick_lateness_seconds_bucket{le=\"+Inf\"} 23",
                "ticker_tick_lateness_seconds_sum 0.001506",
                "ticker_tick_lateness_seconds_count 23",
                "ticker_tick_lateness_recent_seconds{quantile=\"0.99\"} 0.00012",
                "ticker_workers{state=\"busy\"} 1",
                "ticker_workers{state=\"idle\"} 1",
                "ticker_worker_ticks_total{pid=\"11\"} 12",
                "ticker_worker_errors_total{pid=\"11\"} 2",
                "ticker_worker_memory_bytes{pid=\"11\"} 31457280",
                "# TYPE ticker_ticks_due_total counter",
                "ticker_operator_connections{door=\"metrics\"} 3",
                "ticker_operator_connections_max{door=\"metrics\"} 64",
                "ticker_operator_connections_accepted_total{door=\"metrics\"} 40",
                "ticker_operator_connections_timed_out_total{door=\"metrics\"} 7",
                "ticker_operator_accept_paused_total{door=\"metrics\",reason=\"full\"} 1",
                "ticker_operator_accept_paused_total{door=\"metrics\",reason=\"no_fds\"} 2",
            ],
        );
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
        assert!(
            table.contains("connections  metrics 3/64 open, 7 timed out"),
            "{table}"
        );
    }

    #[test]
    fn the_table_and_json_say_where_the_last_runs_are_kept_when_they_are() {
        assert!(!snapshot().to_table().contains("state file"));
        let kept = Snapshot {
            state_file: Some("/srv/app/ticker-state.rr.yaml.json".into()),
            ..snapshot()
        };
        let table = kept.to_table();
        assert!(
            table.contains("state file  /srv/app/ticker-state.rr.yaml.json"),
            "{table}"
        );
        let json = serde_json::to_string(&kept).unwrap();
        assert_eq!(
            Snapshot::from_json(&json).unwrap().state_file,
            kept.state_file
        );
    }

    #[test]
    fn an_intervals_row_shows_its_jitter_and_the_phase_of_its_grid() {
        let mut snapshot = snapshot();
        let row = &mut snapshot.schedules[0];
        row.jitter_secs = Some(0.5);
        row.phase_secs = Some(0.317);
        assert_eq!(row.when(), "every 500ms, jitter 500ms (phase 317ms)");
        row.phase_secs = Some(Duration::from_micros(317_482).as_secs_f64());
        assert_eq!(row.when(), "every 500ms, jitter 500ms (phase 317ms482µs)");
        let json = serde_json::to_string(&snapshot).unwrap();
        let back = Snapshot::from_json(&json).unwrap();
        assert_eq!(
            back.schedules[0].when(),
            "every 500ms, jitter 500ms (phase 317ms482µs)"
        );
    }

    #[test]
    fn the_table_lists_the_schedules_from_the_masters_time() {
        let table = snapshot().to_table();
        let lines: Vec<&str> = table.lines().collect();
        let title = lines
            .iter()
            .position(|l| l.starts_with("SCHEDULE"))
            .unwrap_or_else(|| panic!("a schedules table in\n{table}"));
        let row = |name: &str| {
            lines[title..]
                .iter()
                .find(|l| l.starts_with(name))
                .unwrap_or_else(|| panic!("{name} in\n{table}"))
                .split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            row("default"),
            [
                "default",
                "every 500ms",
                "in 250ms",
                "20",
                "18",
                "0",
                "1",
                "≤50µs/≤500µs",
                "≤5ms/≤5ms",
                "completed 200ms ago (3ms)",
                "200ms ago"
            ]
        );
        assert_eq!(
            row("report"),
            [
                "report",
                "cron 30 2 * * * (Europe/Berlin), jitter 30s, exec_ttl 1m",
                "in 1h",
                "4",
                "3",
                "2",
                "0",
                "≤5ms/≤5ms",
                "≤25s/≤25s",
                "failed 1m30s ago (12.5s)",
                "24h ago"
            ]
        );
        assert_eq!(
            row("hourly"),
            [
                "hourly",
                "cron @hourly (UTC), no exec_ttl",
                "paused",
                "0",
                "0",
                "0",
                "0",
                "-",
                "-",
                "-",
                "-"
            ]
        );
        // Every row lines up under the titles.
        let at = |l: &str| {
            let byte = l.find("LAST RUN").or_else(|| l.find("completed"))?;
            Some(l[..byte].chars().count())
        };
        assert_eq!(at(lines[title]), at(row_line(&table, "default")), "{table}");
    }

    fn row_line<'a>(table: &'a str, name: &str) -> &'a str {
        table.lines().find(|l| l.starts_with(name)).unwrap()
    }

    #[test]
    fn spans_show_their_two_largest_units() {
        assert_eq!(span(0.0404), "40ms");
        assert_eq!(span(2.46), "2.5s");
        assert_eq!(span(200.7), "3m20s");
        assert_eq!(span(86_400.0 + 4.0 * 3600.0 + 61.0), "28h1m");
        assert_eq!(span(-1.0), "?");
        assert_eq!(span(f64::NAN), "?");
    }

    #[test]
    fn a_pool_of_one_schedule_shows_it_in_one_line() {
        let mut s = snapshot();
        s.schedules.truncate(1);
        let table = s.to_table();
        assert!(!table.contains("SCHEDULE"), "{table}");
        assert!(
            table.contains(
                "\nschedule default  every 500ms  next in 250ms  last run completed 200ms ago \
                 (3ms)  last success 200ms ago  runs p50/p99 ≤5ms/≤5ms\n"
            ),
            "{table}"
        );
        // Without the master's time, times are Unix seconds; with no run yet, a dash.
        s.unix_time = None;
        s.schedules[0].last_run = None;
        s.schedules[0].last_success_unix = None;
        s.schedules[0].run_duration = Histogram::default();
        let table = s.to_table();
        assert!(
            table.contains("next @1765000001  last run -  last success -  runs p50/p99 -\n"),
            "{table}"
        );
    }

    #[test]
    fn each_schedule_has_its_labelled_series() {
        let text = snapshot().to_prometheus();
        assert_lines(
            &text,
            &[
                "# TYPE ticker_schedule_ticks_completed_total counter",
                "ticker_schedule_ticks_due_total{schedule=\"default\"} 20",
                "ticker_schedule_ticks_delivered_total{schedule=\"report\"} 4",
                "ticker_schedule_ticks_completed_total{schedule=\"default\"} 18",
                "ticker_schedule_ticks_failed_total{schedule=\"report\"} 2",
                "ticker_schedule_ticks_skipped_total{schedule=\"default\"} 1",
                "ticker_schedule_ticks_skipped_total{schedule=\"hourly\"} 0",
                "ticker_schedule_paused{schedule=\"hourly\"} 1",
                "ticker_schedule_paused{schedule=\"report\"} 0",
                "ticker_schedule_next_due_timestamp_seconds{schedule=\"default\"} 1765000000.750",
                "ticker_schedule_last_success_timestamp_seconds{schedule=\"report\"} 1764913600.500",
                "ticker_schedule_last_run_duration_seconds{schedule=\"report\"} 12.500000",
                // The pool's totals stay as they were, unlabelled.
                "ticker_ticks_completed_total 21",
            ],
        );
        for absent in [
            "ticker_schedule_next_due_timestamp_seconds{schedule=\"hourly\"}",
            "ticker_schedule_last_success_timestamp_seconds{schedule=\"hourly\"}",
            "ticker_schedule_last_run_duration_seconds{schedule=\"hourly\"}",
        ] {
            assert!(!text.contains(absent), "{absent} in\n{text}");
        }
    }

    #[test]
    fn each_schedule_has_its_lateness_and_run_duration_histograms() {
        let text = snapshot().to_prometheus();
        assert_lines(
            &text,
            &[
                "# TYPE ticker_schedule_lateness_seconds histogram",
                "ticker_schedule_lateness_seconds_bucket{schedule=\"default\",le=\"0.000025\"} 0",
                "ticker_schedule_lateness_seconds_bucket{schedule=\"default\",le=\"0.00005\"} 17",
                "ticker_schedule_lateness_seconds_bucket{schedule=\"default\",le=\"0.0005\"} 18",
                "ticker_schedule_lateness_seconds_bucket{schedule=\"default\",le=\"+Inf\"} 18",
                "ticker_schedule_lateness_seconds_sum{schedule=\"default\"} 0.00098",
                "ticker_schedule_lateness_seconds_count{schedule=\"default\"} 18",
                "ticker_schedule_lateness_seconds_count{schedule=\"report\"} 3",
                // A master that kept no histogram for it: one of no runs.
                "ticker_schedule_lateness_seconds_bucket{schedule=\"hourly\",le=\"+Inf\"} 0",
                "# TYPE ticker_schedule_run_duration_seconds histogram",
                "ticker_schedule_run_duration_seconds_bucket{schedule=\"report\",le=\"0.001\"} 0",
                "ticker_schedule_run_duration_seconds_bucket{schedule=\"report\",le=\"5\"} 2",
                "ticker_schedule_run_duration_seconds_bucket{schedule=\"report\",le=\"10\"} 2",
                "ticker_schedule_run_duration_seconds_bucket{schedule=\"report\",le=\"25\"} 5",
                "ticker_schedule_run_duration_seconds_bucket{schedule=\"report\",le=\"2500\"} 5",
                "ticker_schedule_run_duration_seconds_bucket{schedule=\"report\",le=\"+Inf\"} 5",
                "ticker_schedule_run_duration_seconds_sum{schedule=\"report\"} 45.5",
                "ticker_schedule_run_duration_seconds_count{schedule=\"report\"} 5",
                "ticker_schedule_run_duration_seconds_count{schedule=\"default\"} 18",
                "ticker_schedule_run_duration_seconds_count{schedule=\"hourly\"} 0",
            ],
        );
    }

    #[test]
    fn a_quantile_is_bounded_by_the_bucket_that_holds_its_rank() {
        let h = runs_of(&[3, 3, 3, 3, 40, 40, 40, 40, 40, 900]);
        let bound = |q| h.quantile(&RUN_BOUNDS_NS, q);
        assert_eq!(bound(0.0), Some(Quantile::AtMost(5_000_000)), "the least");
        assert_eq!(bound(0.4), Some(Quantile::AtMost(5_000_000)), "rank 4");
        assert_eq!(bound(0.5), Some(Quantile::AtMost(50_000_000)), "rank 5");
        assert_eq!(bound(0.9), Some(Quantile::AtMost(50_000_000)), "rank 9");
        assert_eq!(
            bound(0.99),
            Some(Quantile::AtMost(1_000_000_000)),
            "rank 10"
        );
        assert_eq!(quantiles_text(&h, &RUN_BOUNDS_NS), "≤50ms/≤1s");
        let beyond = runs_of(&[3, 3_000_000]);
        assert_eq!(
            beyond.quantile(&RUN_BOUNDS_NS, 0.99),
            Some(Quantile::Above(2_500_000_000_000))
        );
        assert_eq!(quantiles_text(&beyond, &RUN_BOUNDS_NS), "≤5ms/>2500s");
        assert_eq!(Histogram::default().quantile(&RUN_BOUNDS_NS, 0.5), None);
        assert_eq!(quantiles_text(&Histogram::default(), &RUN_BOUNDS_NS), "-");
        let late = histogram_of(&[&[2, 2, 2, 700]]);
        assert_eq!(quantiles_text(&late, &BUCKET_BOUNDS_NS), "≤2.5µs/≤1ms");
    }

    #[test]
    fn an_answer_without_schedules_is_read_as_listing_none() {
        let mut json: serde_json::Value = serde_json::to_value(snapshot()).unwrap();
        let object = json.as_object_mut().unwrap();
        object.remove("schedules").expect("schedules to remove");
        object.remove("unix_time").expect("a time to remove");
        let s = Snapshot::from_json(&json.to_string()).unwrap();
        assert!(s.schedules.is_empty() && s.unix_time.is_none());
        let table = s.to_table();
        assert!(
            !table.contains("SCHEDULE") && !table.contains("schedule "),
            "{table}"
        );
        parse_prometheus(&s.to_prometheus()).expect("a valid page");

        // A schedule's optional parts may be missing too.
        let mut json: serde_json::Value = serde_json::to_value(snapshot()).unwrap();
        for row in json["schedules"].as_array_mut().unwrap() {
            let row = row.as_object_mut().unwrap();
            row.remove("last_run");
            row.remove("last_success_unix");
            row.remove("zone");
            row.remove("zone_origin");
        }
        let s = Snapshot::from_json(&json.to_string()).unwrap();
        assert_eq!(s.schedules.len(), 3);
        assert!(
            s.schedules
                .iter()
                .all(|r| r.last_run.is_none() && r.zone.is_none())
        );
    }

    #[test]
    fn a_schedule_time_that_is_none_is_refused_with_the_field_named() {
        for (field, value) in [("next_due_unix", "-1"), ("last_success_unix", "1e300")] {
            let mut json: serde_json::Value = serde_json::to_value(snapshot()).unwrap();
            json["schedules"][0][field] = serde_json::from_str(value).unwrap();
            let e = Snapshot::from_json(&json.to_string()).expect_err(field);
            assert!(e.to_string().contains(field), "{e}");
        }
        let mut json: serde_json::Value = serde_json::to_value(snapshot()).unwrap();
        json["schedules"][1]["last_run"]["took_secs"] = (-2).into();
        let e = Snapshot::from_json(&json.to_string()).expect_err("took_secs");
        assert!(e.to_string().contains("took_secs"), "{e}");
        let mut json: serde_json::Value = serde_json::to_value(snapshot()).unwrap();
        json["unix_time"] = (-5).into();
        assert!(Snapshot::from_json(&json.to_string()).is_err());
    }

    /// A status answer with one field replaced by `value` (raw JSON).
    fn answer_with(field: &str, value: &str) -> String {
        let mut json: serde_json::Value = serde_json::to_value(snapshot()).unwrap();
        let raw: serde_json::Value = serde_json::from_str(value).unwrap();
        match field.split_once('.') {
            Some((outer, inner)) => json[outer][0][inner] = raw,
            None => json[field] = raw,
        }
        json.to_string()
    }

    #[test]
    fn answers_whose_durations_are_none_are_refused_with_the_field_named() {
        for (field, value) in [
            ("interval_secs", "-1"),
            ("interval_secs", "1e300"),
            ("interval_secs", "-0.000001"),
            ("uptime_secs", "-5"),
            ("uptime_secs", "1e20"),
            ("workers.age_secs", "-3"),
        ] {
            let e = Snapshot::from_json(&answer_with(field, value))
                .expect_err(&format!("{field} = {value} is refused"));
            let name = field.rsplit('.').next().unwrap();
            assert!(e.to_string().contains(name), "{field}={value}: {e}");
        }
        for (field, value) in [
            ("interval_secs", "\"1s\""),
            ("master_pid", "1e10"),
            ("ticks", "[]"),
            ("workers", "{}"),
            ("lateness", "null"),
        ] {
            assert!(
                Snapshot::from_json(&answer_with(field, value)).is_err(),
                "{field} = {value} is refused"
            );
        }
        for bad in [
            "",
            "{",
            "null",
            "[]",
            "\"status\"",
            "{\"ok\":false}",
            "1e999",
        ] {
            assert!(Snapshot::from_json(bad).is_err(), "{bad:?} is refused");
        }
        assert_eq!(
            Snapshot::from_json(&answer_with("interval_secs", "0.25"))
                .unwrap()
                .interval_secs,
            0.25
        );
    }

    #[test]
    fn an_answer_without_connections_is_read_as_having_none() {
        let mut json: serde_json::Value = serde_json::to_value(snapshot()).unwrap();
        json.as_object_mut().unwrap().remove("connections");
        let s = Snapshot::from_json(&json.to_string()).unwrap();
        assert!(s.connections.is_empty());
        assert!(!s.to_table().contains("connections"));
    }

    #[test]
    fn the_table_shows_what_is_no_duration_as_a_question_mark() {
        let mut s = snapshot();
        s.interval_secs = -1.0;
        s.uptime_secs = f64::NAN;
        s.workers[0].age_secs = f64::INFINITY;
        s.workers[1].state = "idle\u{1b}[2J".into();
        let table = s.to_table();
        assert!(table.contains("every ?  up ?"), "{table}");
        assert!(
            !table.contains('\u{1b}'),
            "no escape reaches the terminal: {table}"
        );
    }

    /// Property tests: `PROPTEST_CASES=100000 cargo test --release --lib properties`.
    mod properties {
        use super::*;

        fn any_f64() -> impl Strategy<Value = f64> {
            prop_oneof![
                any::<f64>(),
                Just(f64::NAN),
                Just(f64::INFINITY),
                Just(-1.0),
                Just(u64::MAX as f64),
                0.0..1e6,
            ]
        }

        fn any_snapshot() -> impl Strategy<Value = Snapshot> {
            let worker = (
                any::<i32>(),
                ".{0,12}",
                proptest::option::of(any::<u64>()),
                any::<(u64, u64)>(),
                proptest::option::of(any::<u64>()),
                (any_f64(), proptest::option::of(any_f64())),
            )
                .prop_map(
                    |(pid, state, tick, (ticks, errors), rss_bytes, (age_secs, rss_age_secs))| {
                        WorkerRow {
                            pid,
                            state,
                            tick,
                            ticks,
                            errors,
                            rss_bytes,
                            rss_age_secs,
                            age_secs,
                        }
                    },
                );
            let door = (".{0,8}", any::<(usize, usize)>(), any::<[u64; 4]>()).prop_map(
                |(door, (open, max), [accepted, timed_out, paused_full, paused_no_fds])| {
                    DoorConnections {
                        door,
                        open,
                        max,
                        accepted,
                        timed_out,
                        paused_full,
                        paused_no_fds,
                    }
                },
            );
            (
                (
                    any::<i32>(),
                    ".{0,12}",
                    any_f64(),
                    any_f64(),
                    any::<usize>(),
                ),
                (
                    proptest::option::of(any::<u64>()),
                    proptest::option::of(any_f64()),
                    (
                        any::<u64>(),
                        any::<usize>(),
                        proptest::option::of(".{0,20}"),
                    ),
                ),
                any::<[u64; 5]>(),
                (
                    any::<usize>(),
                    proptest::option::of(any::<[u64; 4]>()),
                    // Of any length: a master with other bounds sends other counts.
                    proptest::collection::vec(any::<u64>(), 0..2 * BUCKETS),
                    any::<u64>(),
                ),
                proptest::collection::vec(worker, 0..4),
                proptest::collection::vec(door, 0..3),
            )
                .prop_map(
                    |(
                        (master_pid, version, interval_secs, uptime_secs, target_workers),
                        (
                            master_rss_bytes,
                            master_rss_age_secs,
                            (failed_starts, lacking, last_error),
                        ),
                        [due, delivered, completed, failed, skipped],
                        (samples, recent, buckets, sum_us),
                        workers,
                        connections,
                    )| Snapshot {
                        master_pid,
                        version,
                        interval_secs,
                        uptime_secs,
                        target_workers,
                        master_rss_bytes,
                        master_rss_age_secs,
                        starts: Starts {
                            failed: failed_starts,
                            lacking,
                            last_error,
                        },
                        ticks: TickCounts {
                            due,
                            delivered,
                            completed,
                            failed,
                            skipped,
                            manual: 0,
                        },
                        lateness: Percentiles {
                            samples,
                            recent: recent.map(|[p50_us, p90_us, p99_us, max_us]| Quantiles {
                                p50_us,
                                p90_us,
                                p99_us,
                                max_us,
                            }),
                            histogram: Histogram { buckets, sum_us },
                        },
                        workers,
                        connections,
                        cluster: None,
                        unix_time: None,
                        schedules: vec![],
                        state_file: None,
                    },
                )
        }

        fn any_schedule() -> impl Strategy<Value = ScheduleRow> {
            (
                (
                    ".{0,12}",
                    ".{0,6}",
                    ".{0,16}",
                    proptest::option::of(".{0,12}"),
                ),
                (
                    any::<bool>(),
                    proptest::option::of(any_f64()),
                    proptest::option::of(any_f64()),
                ),
                any::<[u64; 5]>(),
                proptest::option::of((any_f64(), ".{0,10}", any_f64())),
                proptest::option::of(any_f64()),
                [any_histogram(), any_histogram()],
            )
                .prop_map(
                    |(
                        (name, kind, expression, zone),
                        (paused, next_due_unix, exec_ttl_secs),
                        [due, delivered, completed, failed, skipped],
                        last_run,
                        last_success_unix,
                        [lateness, run_duration],
                    )| ScheduleRow {
                        name,
                        kind,
                        expression,
                        zone_origin: zone.as_ref().map(|_| "timezone".to_string()),
                        zone,
                        paused,
                        next_due_unix,
                        ticks: TickCounts {
                            due,
                            delivered,
                            completed,
                            failed,
                            skipped,
                            manual: 0,
                        },
                        last_run: last_run.map(|(finished_unix, result, took_secs)| LastRunRow {
                            finished_unix,
                            result,
                            took_secs,
                        }),
                        last_success_unix,
                        exec_ttl_secs,
                        jitter_secs: None,
                        phase_secs: None,
                        lateness,
                        run_duration,
                    },
                )
        }

        /// Of any length: a master with other bounds sends other counts.
        fn any_histogram() -> impl Strategy<Value = Histogram> {
            (
                proptest::collection::vec(any::<u64>(), 0..2 * BUCKETS),
                any::<u64>(),
            )
                .prop_map(|(buckets, sum_us)| Histogram { buckets, sum_us })
        }

        fn any_snapshot_with_schedules() -> impl Strategy<Value = Snapshot> {
            (
                any_snapshot(),
                proptest::option::of(any_f64()),
                proptest::collection::vec(any_schedule(), 0..4),
            )
                .prop_map(|(s, unix_time, schedules)| Snapshot {
                    unix_time,
                    schedules,
                    ..s
                })
        }

        proptest! {
            /// Any snapshot renders, whatever its figures; one read back from JSON is either
            /// refused or renders the same as the snapshot it came from.
            #[test]
            fn any_snapshot_renders_and_reads_back(s in any_snapshot_with_schedules()) {
                let table = s.to_table();
                let _ = s.to_prometheus();
                if let Ok(json) = serde_json::to_string(&s)
                    && let Ok(back) = Snapshot::from_json(&json)
                {
                    prop_assert_eq!(back.to_table(), table);
                }
            }

            /// Any text at all is read as a snapshot or refused, never a panic.
            #[test]
            fn any_answer_is_read_or_refused(answer in ".{0,200}") {
                if let Ok(s) = Snapshot::from_json(&answer) {
                    let _ = s.to_table();
                }
            }

            /// A real answer with one number replaced by any number is read or refused.
            #[test]
            fn any_number_in_a_real_answer_is_read_or_refused(
                field in prop::sample::select(vec![
                    "interval_secs", "uptime_secs", "master_pid", "target_workers",
                    "master_rss_bytes", "workers.age_secs", "workers.pid", "workers.ticks",
                ]),
                number in prop_oneof![
                    any::<f64>().prop_filter("JSON has no NaN", |n| n.is_finite()).prop_map(|n| n.to_string()),
                    any::<i64>().prop_map(|n| n.to_string()),
                    any::<u64>().prop_map(|n| n.to_string()),
                    Just("1e308".to_string()),
                    Just("-1e308".to_string()),
                ],
            ) {
                if let Ok(s) = Snapshot::from_json(&answer_with(field, &number)) {
                    let _ = s.to_table();
                    let _ = s.to_prometheus();
                }
            }
        }
    }

    #[test]
    fn snapshots_survive_json() {
        let s = snapshot();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Snapshot>(&json).unwrap(), s);
    }
}
