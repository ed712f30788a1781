//! The master: one event loop on the PHP thread that runs the pool.
//!
//! Owns the processes and descriptors of a running pool, and carries out what [`Pool`],
//! [`RespawnPolicy`](crate::supervisor::RespawnPolicy) and [`Limits`] decide. No thread is
//! ever started, so `fork()` cannot inherit a lock held elsewhere; this is also why there
//! is no async runtime. A new forked worker is a fork of this very call: in the child,
//! [`run`] returns [`Exit::Worker`] and the PHP `waitPayload()` that started the pool
//! returns the child's first tick, so each worker starts with the application exactly as
//! the master booted it.
//!
//! Each concern has its own file and owns its state in a struct of that file, whose fields
//! no other file can reach (the compiler holds every file to that): others go through its
//! methods. What [`Master`] keeps itself is what every part shares: the config, the
//! [`Pool`] (the core's decisions, changed only through its own transitions), the poller,
//! and the loop's phase.
//!
//! | file | owns | state |
//! |---|---|---|
//! | `mod.rs` | the loop: one wait on the poller, then each ready source, then the follow-ups | `Master`: the phase, a failure |
//! | `ticking.rs` | the tick path: timer → due ticks → a worker, and the worker's answer back | `Ticking`: the timer, the timetable of every schedule, the wall clock's steps, lateness |
//! | `launch.rs` | how a worker process is started: the one place where kinds of workers differ (forks, or `ticker.pool.command`), and `server.user` | the `Launcher` |
//! | `processes.rs` | worker processes: starting, channels, the pid handshake, reaping, killing, respawn back-off, the pool's size | `Processes` |
//! | `stderr.rs` | what command-started workers write to stderr, as log lines | `WorkerStderr` |
//! | `init.rs` | `server.on_init`, run once before the first worker starts | |
//! | `operator.rs` | signals, the control socket and the metrics endpoint: stop, resize, status, steering schedules | `Operator`: the doors, their connections, their pacing |
//! | `limits.rs` | deadlines: `exec_ttl`, `pool.supervisor` limits, the rolling reset, timeouts of stop and waiting ticks | `Supervision`: the limits, the watch round, the master's memory, the reset |
//! | `cluster.rs` | `ticker.cluster`: the lease helper process, and whether this instance may tick | `Cluster` |
//! | `keeping.rs` | the state file of a pool whose schedules catch up: read at start, written at most once a second and at the end | `Keeping` |
//!
//! Signals: TERM and INT stop gracefully (a second one kills the workers at once), HUP
//! replaces every worker one by one, TTIN and TTOU grow and shrink the pool by one.
//!
//! While it runs, the loop changes the PHP process: its signals are blocked (they arrive on
//! a signalfd) and SIGCHLD is at its default disposition (an application may have ignored
//! it, which would let the kernel reap workers behind the master's back). Guards put both
//! back on every way out of [`run`], in the master and in each new worker, a panic's
//! unwinding included (the PHP layer turns the panic into an exception); a master that
//! unwinds also kills its workers, which nobody would supervise any more.

mod cluster;
mod init;
mod keeping;
mod launch;
mod limits;
mod operator;
mod processes;
mod stderr;
mod ticking;

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::config::{OnInit, ServerConfig, TickerConfig};
use crate::pool::{Pid, Policy, Pool};
use crate::schedule::Mono;
use crate::schedule::zone::Zone;
use crate::supervisor::DescriptorNeed;
use crate::sys::{self, Poller, SignalFd};
use crate::worker::WorkerLink;

use cluster::Cluster;
use keeping::Keeping;
use launch::Launcher;
use limits::Supervision;
use operator::Operator;
use processes::Processes;
use ticking::Ticking;

const SIGNALS: [Signal; 6] = [
    Signal::SIGCHLD,
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
];

/// How [`run`] ended, in this process.
pub enum Exit {
    /// This process is a new worker: serve ticks over this link.
    Worker(WorkerLink),
    /// The master stopped on request; every worker is gone.
    Stopped,
    /// The master could not go on; every worker is gone. The text says why.
    Failed(String),
}

/// Why a process may not fork its pool; the message is the one for the application.
#[derive(Debug, thiserror::Error)]
pub enum ForkSafetyError {
    #[error(
        "ticker: cannot start the pool: this process has {0} threads, and fork() copies only \
         the calling one, so a lock held by another would stay locked in every worker. \
         Likely causes: a ZTS (thread-safe) PHP build, or an extension that starts threads \
         (grpc, datadog, newrelic, opentelemetry exporters); disable it for the master (php \
         -n, or an ini file without it)"
    )]
    Threads(usize),
    #[error(
        "ticker: cannot start the pool: cannot count this process's threads in \
         /proc/self/task ({0}), so forking it is not known to be safe"
    )]
    Uncounted(io::Error),
}

/// What must hold before a master forks: that it is the process's only thread. fork()
/// copies only the calling thread, so a lock another thread holds at that moment stays
/// locked forever in every worker.
pub fn check_fork_safety() -> Result<(), ForkSafetyError> {
    match sys::thread_count() {
        Ok(1) => Ok(()),
        Ok(threads) => Err(ForkSafetyError::Threads(threads)),
        Err(e) => Err(ForkSafetyError::Uncounted(e)),
    }
}

/// The most schedules the start's line names one by one. Beyond, it counts them by kind and
/// names the first few: at 10,000 schedules the full list was one line of 890 KB, which a
/// log pipeline may cut or refuse, and `ticker status` lists every one anyway.
const NAMED_IN_FULL: usize = 10;

/// How many schedules a summarised line names, in the config's order.
const NAMED_FIRST: usize = 3;

/// What runs when, in a line: `every 1s` for `ticker.interval` alone, else each schedule
/// by name (see [`crate::config::ScheduleConfig::describe`]), or, beyond [`NAMED_IN_FULL`],
/// how many of each kind and the first [`NAMED_FIRST`].
pub fn describe_schedules(
    schedules: &[crate::config::ScheduleConfig],
    fallback: (&str, &str),
) -> String {
    let named = |s: &crate::config::ScheduleConfig| format!("{}: {}", s.name, s.describe(fallback));
    match schedules {
        [only] if only.name == crate::config::DEFAULT_NAME => only.describe(fallback),
        _ if schedules.len() <= NAMED_IN_FULL => {
            let each: Vec<String> = schedules.iter().map(named).collect();
            format!("{} schedules ({})", schedules.len(), each.join("; "))
        }
        _ => {
            let cron = schedules
                .iter()
                .filter(|s| matches!(s.when, crate::config::When::Cron { .. }))
                .count();
            let paused = schedules.iter().filter(|s| s.paused).count();
            let counts = [
                (cron, "cron"),
                (schedules.len() - cron, "every"),
                (paused, "paused"),
            ]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, kind)| format!("{n} {kind}"))
            .collect::<Vec<_>>()
            .join(", ");
            let first: Vec<String> = schedules.iter().take(NAMED_FIRST).map(named).collect();
            format!(
                "{} schedules ({counts}; {}; {} more: ticker status lists them)",
                schedules.len(),
                first.join("; "),
                schedules.len() - NAMED_FIRST
            )
        }
    }
}

/// What the PHP process asks of its master beyond the config file (its INI settings).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Forked workers: move the application's memory onto 2 MB pages before the first fork
    /// (see [`crate::huge_pages`]).
    pub huge_pages: bool,
    /// PHP's `date.timezone`, if set: the zone of cron schedules that name none.
    pub php_timezone: Option<String>,
}

const UNKNOWN_PHP_ZONE: &str = "UTC: date.timezone is not a zone known here";

/// The zone of cron schedules that name none (neither their own `timezone` nor
/// `ticker.timezone`): PHP's `date.timezone`, else UTC; and why that one, for the status.
pub fn fallback_zone(php_timezone: Option<&str>) -> (Zone, &'static str) {
    let utc = || Zone::lookup("UTC").expect("every tz database has UTC");
    match php_timezone.map(str::trim).filter(|name| !name.is_empty()) {
        Some(name) => match Zone::lookup(name) {
            Ok(zone) => (zone, "date.timezone"),
            Err(_) => (utc(), UNKNOWN_PHP_ZONE),
        },
        None => (
            utc(),
            "UTC: no timezone, ticker.timezone or date.timezone is set",
        ),
    }
}

/// Runs the pool until it is stopped. Returns in the master at the end, and in each forked
/// child right after its fork. `server` says how workers start and as whom, and what runs
/// before them (`on_init`).
pub fn run(config: &TickerConfig, server: &ServerConfig, options: Options) -> Exit {
    let zone = fallback_zone(options.php_timezone.as_deref());
    let unzoned = config.schedules.iter().any(|s| {
        matches!(
            s.when,
            crate::config::When::Cron {
                zone: crate::config::ZoneChoice::Unset,
                ..
            }
        )
    });
    if unzoned && zone.1 == UNKNOWN_PHP_ZONE {
        log::warn!(
            "date.timezone {:?} is not a time zone known here: cron schedules that name no \
             zone run in UTC",
            options.php_timezone.as_deref().unwrap_or_default()
        );
    }
    let launcher = match launch::launcher(config, server, &options) {
        Ok(launcher) => launcher,
        Err(reason) => return Exit::Failed(reason.to_string()),
    };
    run_with(config, server.on_init.as_ref(), launcher, &zone)
}

/// Descriptors the loop opens for itself besides its workers' channels: the signalfd, the
/// poller, the timer, the two doors' listeners, the lease helper's socket, and room for a
/// few operator connections (more are taken only from what is spare, see `operator.rs`).
const LOOP_FDS: u64 = 16;

fn run_with(
    config: &TickerConfig,
    on_init: Option<&OnInit>,
    mut launcher: Box<dyn Launcher>,
    zone: &(Zone, &'static str),
) -> Exit {
    // What the application holds open: a new worker keeps these, and its channel.
    let app_fds = sys::open_fd_list().ok();
    let descriptors = DescriptorNeed {
        in_use: app_fds.as_ref().map_or_else(Vec::new, |fds| {
            let mut numbers: Vec<u64> = fds
                .iter()
                .filter_map(|&fd| u64::try_from(fd).ok())
                .collect();
            numbers.sort_unstable();
            numbers
        }),
        loop_fds: LOOP_FDS,
        per_worker: launcher.descriptors_per_worker(),
        reserve: operator::FD_RESERVE as u64,
    };
    if let Err(reason) = processes::fit_fd_limit(&descriptors, config.pool.num_workers) {
        return Exit::Failed(reason.to_string());
    }
    // Dropped in reverse order: SIGCHLD gets the application's disposition back before the
    // signals are unblocked, so one that is pending meets the application's handler.
    let signals = match SignalFd::new(&SIGNALS) {
        Ok(s) => s,
        Err(e) => return Exit::Failed(format!("cannot watch signals: {e}")),
    };
    let _sigchld = match sys::ChildSignalDefault::new() {
        Ok(guard) => guard,
        Err(e) => return Exit::Failed(format!("cannot take SIGCHLD over: {e}")),
    };
    // A worker's stdin pipe whose reader died must give EPIPE, not kill the master (PHP's
    // CLI ignores SIGPIPE already; an application may have changed that).
    let _sigpipe = match sys::SignalIgnored::new(Signal::SIGPIPE) {
        Ok(guard) => guard,
        Err(e) => return Exit::Failed(format!("cannot ignore SIGPIPE: {e}")),
    };
    if let Some(on_init) = on_init
        && let Err(reason) = init::run(on_init).map_err(|e| e.to_string())
    {
        if on_init.exit_on_error {
            log::error!("{reason}; not starting (exit_on_error)");
            return Exit::Failed(reason);
        }
        log::error!("{reason}; starting anyway (exit_on_error is false)");
    }
    launcher.prepare();
    match Master::new(config, &signals, launcher, descriptors, zone) {
        Ok(mut master) => match master.run(&signals) {
            Exit::Worker(link) => {
                leave_behind(master, app_fds.as_deref(), &link, &signals);
                Exit::Worker(link)
            }
            exit => exit,
        },
        Err(e) => Exit::Failed(format!("cannot start the event loop: {e}")),
    }
}

/// In a new worker: the master's copy is left, its descriptors closed (its ends of every
/// other worker's channel, its poller, timer and sockets) without deregistering anything
/// from the master's poller.
///
/// Dropping it would do the same, one descriptor and one allocation at a time: freeing
/// writes to memory shared with the master, so each free copies a page, and with hundreds
/// of workers that is most of what a new worker does before its first tick. So the memory
/// is left as it is (shared, never written) and everything but the application's
/// descriptors, the channel and the signalfd (whose guard gives the signal mask back) is
/// closed in a few calls. Without the list of the application's descriptors, or on a
/// kernel without `close_range`, the master is dropped.
fn leave_behind(
    master: Master<'_>,
    app_fds: Option<&[RawFd]>,
    link: &WorkerLink,
    signals: &SignalFd,
) {
    if let Some(app_fds) = app_fds {
        let mut keep = app_fds.to_vec();
        keep.extend(link.descriptors().iter().map(|fd| fd.as_raw_fd()));
        keep.push(signals_fd(signals).as_raw_fd());
        // SAFETY: the master is forgotten right after: nothing that owns one of the closed
        // descriptors uses or closes it again.
        if unsafe { sys::close_all_but(&keep) }.is_ok() {
            std::mem::forget(master);
            return;
        }
    }
    drop(master);
}

enum Phase {
    Running,
    Stopping { deadline: Mono },
}

/// What a poller event is about. Tokens carry the kind in the top byte and a pid, a door
/// index or a connection id below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Signals,
    Timer,
    Door(usize),
    Conn(u64),
    /// A worker's channel (both directions for a socket; the read end for pipes).
    Worker(Pid),
    /// The write end of a worker's pipe pair, watched while its outbox holds bytes.
    WorkerOut(Pid),
    /// The lease helper's socket, in a cluster.
    Cluster,
    /// The wall clock was set: cron schedules' next runs move.
    ClockStep,
    /// A command-started worker's stderr, by an id of its own (it may outlive the worker,
    /// whose pid may then be reused).
    WorkerErr(u64),
}

const VALUE_BITS: u32 = 56;

impl Source {
    fn token(self) -> u64 {
        let (kind, value) = match self {
            Source::Signals => (0, 0),
            Source::Timer => (1, 0),
            Source::Door(i) => (2, i as u64),
            Source::Conn(id) => (3, id),
            Source::Worker(pid) => (4, pid as u32 as u64),
            Source::WorkerOut(pid) => (5, pid as u32 as u64),
            Source::WorkerErr(id) => (6, id),
            Source::Cluster => (7, 0),
            Source::ClockStep => (8, 0),
        };
        (kind << VALUE_BITS) | (value & ((1 << VALUE_BITS) - 1))
    }

    fn from_token(token: u64) -> Option<Source> {
        let value = token & ((1 << VALUE_BITS) - 1);
        Some(match token >> VALUE_BITS {
            0 => Source::Signals,
            1 => Source::Timer,
            2 => Source::Door(value as usize),
            3 => Source::Conn(value),
            4 => Source::Worker(value as u32 as Pid),
            5 => Source::WorkerOut(value as u32 as Pid),
            6 => Source::WorkerErr(value),
            7 => Source::Cluster,
            8 => Source::ClockStep,
            _ => return None,
        })
    }
}

struct Master<'a> {
    config: &'a TickerConfig,
    me: Pid,
    started: Mono,
    poller: Poller,
    ticking: Ticking,
    pool: Pool,
    processes: Processes,
    operator: Operator,
    /// Limits, the watch round, the master's memory reading, the rolling reset.
    supervision: Supervision,
    phase: Phase,
    failure: Option<String>,
    /// The lease, with a `ticker.cluster` section.
    cluster: Option<Cluster>,
    /// The state file, with a schedule that catches up.
    keeping: Option<Keeping>,
}

impl<'a> Master<'a> {
    fn new(
        config: &'a TickerConfig,
        signals: &SignalFd,
        launcher: Box<dyn Launcher>,
        descriptors: DescriptorNeed,
        zone: &(Zone, &'static str),
    ) -> io::Result<Master<'a>> {
        let now = sys::monotonic_now();
        let poller = Poller::new()?;
        let ticking = Ticking::new(config, zone, now)?;
        poller.add(signals_fd(signals), Source::Signals.token(), false)?;
        poller.add(ticking.timer_fd(), Source::Timer.token(), false)?;
        if let Some(fd) = ticking.clock_steps_fd() {
            poller.add(fd, Source::ClockStep.token(), false)?;
        }
        Ok(Master {
            config,
            me: sys::getpid(),
            started: now,
            poller,
            ticking,
            pool: Pool::new(Policy::from_config(config)),
            processes: Processes::new(config, now, launcher, descriptors),
            operator: Operator::default(),
            supervision: Supervision::new(config, sys::getpid(), now),
            phase: Phase::Running,
            failure: None,
            cluster: Cluster::new(config, sys::getpid(), now),
            keeping: Keeping::new(config),
        })
    }

    fn run(&mut self, signals: &SignalFd) -> Exit {
        // The wake-up of a 100 µs tick must not be batched with 50 µs of default slack.
        let _ = sys::set_timer_slack(Some(Duration::from_nanos(1)));
        if let Some(link) = self.top_up() {
            return Exit::Worker(link);
        }
        self.open_doors();
        self.start_ticking_when_ready();
        loop {
            if let Phase::Stopping { .. } = self.phase
                && self.pool.is_empty()
                && self.killed_are_gone(sys::monotonic_now())
            {
                let _ = sys::set_timer_slack(None);
                self.flush_stderr();
                for pid in self.unreaped() {
                    log::warn!(
                        "worker {pid} is not gone yet after SIGKILL (uninterruptible sleep?); \
                         leaving it to init"
                    );
                }
                self.cluster_shutdown();
                self.keep_state(true);
                let t = self.pool.stats();
                log::info!(
                    "master {} stopped: ticks due {}, delivered {}, completed {}, failed {}, \
                     skipped {}",
                    self.me,
                    t.due,
                    t.delivered,
                    t.completed,
                    t.failed,
                    t.skipped
                );
                return match self.failure.take() {
                    Some(reason) => Exit::Failed(reason),
                    None => Exit::Stopped,
                };
            }
            if let Err(e) = self.wait_and_handle(signals) {
                self.fail(format!("event loop failed: {e}"));
                self.kill_all("the master is failing");
                continue;
            }
            if let Some(link) = self.top_up() {
                return Exit::Worker(link);
            }
            self.enforce_deadlines();
            self.advance_reset();
            self.start_ticking_when_ready();
            // A worker may have become free, or the last free one busy.
            self.arm_timer();
            self.keep_state(false);
        }
    }

    /// Starts the grid once the pool is up, every first worker ready, as RoadRunner's ticker
    /// starts once its pool is: a command-started worker takes a while to boot and answer
    /// its pid handshake, and ticks due meanwhile would only be skipped. Workers that fail
    /// meanwhile are replaced (and end in the crash-loop verdict if they keep failing).
    ///
    /// A pool that cannot start all its workers (the system is short of descriptors or
    /// processes) ticks with those it has once the last start failed, rather than wait
    /// for the rest: it says how many it lacks, and keeps trying to start them.
    fn start_ticking_when_ready(&mut self) {
        let serving = self.pool.serving();
        let short = serving > 0 && self.processes.failing_to_start();
        if self.ticking.is_started()
            || !matches!(self.phase, Phase::Running)
            || self.pool.starting() > 0
            || (serving < self.processes.target() && !short)
        {
            return;
        }
        let keeping = self.keeping.as_ref();
        self.ticking
            .start(sys::monotonic_now(), |name| keeping?.last_run(name));
        self.arm_timer();
        let lacking = match self.processes.start_failures() {
            (_, Some(error)) if serving < self.processes.target() => format!(
                "; lacking {} of {} ({error})",
                self.processes.target() - serving,
                self.processes.target()
            ),
            _ => String::new(),
        };
        log::info!(
            "master {} ticking {} with {} workers {}{lacking}",
            self.me,
            describe_schedules(&self.config.schedules, self.ticking.fallback_zone()),
            serving,
            self.processes.describe()
        );
    }

    /// One pass: waits for the next event or deadline, then handles what is ready, the
    /// timer first (a tick's lateness is what this loop is judged by) and signals last.
    fn wait_and_handle(&mut self, signals: &SignalFd) -> io::Result<()> {
        let timeout = self
            .next_deadline()
            .map(|at| at.since(sys::monotonic_now()));
        let ready = self.poller.wait(timeout)?;
        self.cluster_pass();
        let sources: Vec<(Source, sys::Ready)> = ready
            .into_iter()
            .filter_map(|r| Some((Source::from_token(r.token)?, r)))
            .collect();
        if sources.iter().any(|(s, _)| *s == Source::Timer) && self.ticking.acknowledge() {
            self.on_timer();
        }
        let mut signalled = false;
        self.operator.pacing.new_pass();
        for (source, ready) in sources {
            match source {
                Source::Worker(pid) => {
                    if ready.writable {
                        self.on_writable(pid);
                    }
                    if ready.readable {
                        self.on_readable(pid);
                    }
                }
                Source::WorkerOut(pid) => self.on_writable(pid),
                Source::WorkerErr(id) => self.on_stderr(id),
                Source::Door(i) => self.paced(|master| master.on_door(i)),
                Source::Conn(id) => self.paced(|master| master.on_conn(id)),
                Source::Signals => signalled = true,
                Source::Cluster => self.on_cluster(),
                Source::ClockStep => self.on_clock_step(),
                Source::Timer => {}
            }
        }
        if signalled {
            for signal in signals.drain() {
                self.on_signal(signal);
            }
        }
        Ok(())
    }

    /// Stops the pool with a reason that the PHP side will raise.
    fn fail(&mut self, reason: String) {
        log::error!("{reason}");
        if self.failure.is_none() {
            self.failure = Some(reason);
        }
        self.begin_stop("the master cannot go on");
    }
}

impl Drop for Master<'_> {
    /// A master that leaves its loop early (a panic unwinding through it) kills the workers
    /// it would leave unsupervised. In a new worker, which drops its copy of the master,
    /// nothing is touched: those are its siblings.
    fn drop(&mut self) {
        if sys::getpid() != self.me || self.pool.is_empty() {
            return;
        }
        let pids: Vec<Pid> = self.pool.workers().map(|w| w.pid).collect();
        log::error!(
            "master {} left its loop unexpectedly: killing {} workers",
            self.me,
            pids.len()
        );
        for pid in pids {
            let _ = sys::kill(pid, Signal::SIGKILL);
        }
    }
}

fn signals_fd(signals: &SignalFd) -> std::os::fd::BorrowedFd<'_> {
    std::os::fd::AsFd::as_fd(signals)
}

fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod pipes_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ScheduleConfig;
    use launch::Launched;

    fn every(name: &str, ms: u64) -> ScheduleConfig {
        ScheduleConfig::every(name, Duration::from_millis(ms), Default::default())
    }

    #[test]
    fn the_start_line_names_a_few_schedules_each_and_summarises_many() {
        let utc = ("UTC", "no zone set");
        let few: Vec<ScheduleConfig> = (0..NAMED_IN_FULL as u64)
            .map(|i| every(&format!("s{i}"), 100 + i))
            .collect();
        let line = describe_schedules(&few, utc);
        assert!(
            line.starts_with("10 schedules (s0: every 100ms; s1: every 101ms;"),
            "{line}"
        );
        assert!(line.ends_with("; s9: every 109ms)"), "{line}");

        let mut many: Vec<ScheduleConfig> = (0..10_000)
            .map(|i| every(&format!("s{i:05}"), 1000))
            .collect();
        let cron = crate::schedule::cron::CronExpr::parse("*/5 * * * *").unwrap();
        for s in &mut many[..4_000] {
            s.when = crate::config::When::Cron {
                expr: Box::new(cron.clone()),
                zone: crate::config::ZoneChoice::Unset,
            };
        }
        many[9_999].paused = true;
        let line = describe_schedules(&many, utc);
        assert_eq!(
            line,
            "10000 schedules (4000 cron, 6000 every, 1 paused; \
             s00000: cron \"*/5 * * * *\" in UTC (no zone set); \
             s00001: cron \"*/5 * * * *\" in UTC (no zone set); \
             s00002: cron \"*/5 * * * *\" in UTC (no zone set); \
             9997 more: ticker status lists them)"
        );
        let one_more: Vec<ScheduleConfig> = (0..=NAMED_IN_FULL)
            .map(|i| every(&format!("s{i}"), 1000))
            .collect();
        assert_eq!(
            describe_schedules(&one_more, utc),
            "11 schedules (11 every; s0: every 1s; s1: every 1s; s2: every 1s; \
             8 more: ticker status lists them)"
        );
    }

    /// A launcher that panics where a fork would be: a bug inside the loop.
    struct Panicking;

    impl Launcher for Panicking {
        fn launch(&mut self, _master: Pid) -> io::Result<Launched> {
            panic!("injected into the loop");
        }
    }

    /// Launches `sleep` as the first worker, then panics: a bug once the pool has workers.
    /// The test keeps the child, to see how it ended.
    #[derive(Default)]
    struct PanicsAfterOne {
        started: std::rc::Rc<std::cell::RefCell<Option<std::process::Child>>>,
        /// The worker's end of its channel, kept open: the "worker" is alive.
        theirs: Option<std::os::fd::OwnedFd>,
    }

    impl Launcher for PanicsAfterOne {
        fn launch(&mut self, _master: Pid) -> io::Result<Launched> {
            if self.started.borrow().is_some() {
                panic!("injected after a worker started");
            }
            let child = std::process::Command::new("sleep").arg("30").spawn()?;
            let pid = child.id() as Pid;
            let (ours, theirs) = sys::socket_pair()?;
            *self.started.borrow_mut() = Some(child);
            self.theirs = Some(theirs);
            let channel = crate::transport::Channel::socket(ours, crate::frame::MAX_PAYLOAD);
            channel.set_nonblocking()?;
            Ok(Launched::Worker(launch::Started {
                pid,
                channel,
                stderr: None,
                handshake: None,
            }))
        }
    }

    #[test]
    fn a_panic_in_the_loop_kills_the_workers_it_would_leave_unsupervised() {
        use std::os::unix::process::ExitStatusExt;
        let mut config = TickerConfig::default();
        config.pool.num_workers = 2;
        let launcher = PanicsAfterOne::default();
        let started = launcher.started.clone();
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_with(&config, None, Box::new(launcher), &fallback_zone(None))
        }));
        assert!(unwound.is_err());
        let mut worker = started.borrow_mut().take().expect("one worker started");
        let status = worker.wait().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    }

    #[test]
    fn a_panic_in_the_loop_leaves_the_signal_mask_as_it_found_it() {
        let before = sys::blocked_signals().unwrap();
        assert!(
            !before.contains(Signal::SIGTERM),
            "the test thread starts with SIGTERM unblocked"
        );
        let mut config = TickerConfig::default();
        config.pool.num_workers = 1;
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_with(&config, None, Box::new(Panicking), &fallback_zone(None))
        }));
        let message = unwound
            .err()
            .and_then(|p| p.downcast_ref::<&str>().copied());
        assert_eq!(message, Some("injected into the loop"));
        assert_eq!(sys::blocked_signals().unwrap(), before);
    }

    #[test]
    fn cron_schedules_without_a_zone_take_phps_else_utc_and_say_why() {
        let (zone, why) = fallback_zone(Some("Asia/Tokyo"));
        assert_eq!((zone.name(), why), ("Asia/Tokyo", "date.timezone"));
        let (zone, why) = fallback_zone(Some("Mars/Olympus"));
        assert_eq!((zone.name(), why), ("UTC", UNKNOWN_PHP_ZONE));
        for unset in [None, Some(""), Some("  ")] {
            let (zone, why) = fallback_zone(unset);
            assert_eq!(zone.name(), "UTC");
            assert!(why.starts_with("UTC: no timezone"), "{why}");
        }
    }

    #[test]
    fn tokens_round_trip_every_source() {
        for source in [
            Source::Signals,
            Source::Timer,
            Source::Door(1),
            Source::Conn(u64::from(u32::MAX) + 7),
            Source::Worker(4_194_304),
            Source::WorkerOut(1),
            Source::Cluster,
            Source::ClockStep,
            Source::WorkerErr(u64::from(u32::MAX) + 9),
        ] {
            assert_eq!(Source::from_token(source.token()), Some(source));
        }
        assert_eq!(Source::from_token(u64::MAX), None);
    }
}
