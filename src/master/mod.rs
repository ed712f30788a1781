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
//! Each concern has its own file, all working on the one [`Master`] state:
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | the loop: one wait on the poller, then each ready source, then the follow-ups |
//! | `ticking.rs` | the tick path: timer → due ticks → a worker, and the worker's answer back; the `delay` grid |
//! | `launch.rs` | how a worker process is started: the one place where kinds of workers differ |
//! | `processes.rs` | worker processes: starting, channels, reaping, killing, respawn back-off |
//! | `operator.rs` | signals, the control socket and the metrics endpoint: stop, reset, resize, status |
//! | `limits.rs` | deadlines: `exec_ttl`, `pool.supervisor` limits, timeouts of stop, reset and waiting ticks |
//! | `cluster.rs` | `ticker.cluster`: the lease helper process, and whether this instance may tick |
//!
//! Signals: TERM and INT stop gracefully (a second one kills the workers at once), HUP
//! replaces every worker one by one, TTIN and TTOU grow and shrink the pool by one.

mod cluster;
mod launch;
mod limits;
mod operator;
mod processes;
mod ticking;

use std::io;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::config::TickerConfig;
use crate::log;
use crate::metrics::Lateness;
use crate::pool::{Pid, Policy, Pool};
use crate::schedule::Mono;
use crate::supervisor::{Limits, RollingReset};
use crate::sys::{self, Poller, SignalFd};
use crate::worker::WorkerLink;

use cluster::Cluster;
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

/// Runs the pool until it is stopped. Returns in the master at the end, and in each child
/// right after its fork.
pub fn run(config: &TickerConfig) -> Exit {
    let signals = match SignalFd::new(&SIGNALS) {
        Ok(s) => s,
        Err(e) => return Exit::Failed(format!("cannot watch signals: {e}")),
    };
    let exit = match Master::new(config, &signals) {
        Ok(mut master) => {
            let exit = master.run(&signals);
            // In a child this closes the master's ends of every channel it inherited, and
            // its copy of the poller, without deregistering anything from the master's.
            drop(master);
            exit
        }
        Err(e) => Exit::Failed(format!("cannot start the event loop: {e}")),
    };
    signals.restore();
    exit
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
            Source::Cluster => (6, 0),
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
            6 => Source::Cluster,
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
    limits: Limits,
    /// When the `watch_tick` limits are checked next.
    watch_at: Mono,
    /// Workers the pool keeps: `num_workers`, changed by SIGTTIN and SIGTTOU.
    target: usize,
    reset: Option<RollingReset>,
    lateness: Lateness,
    phase: Phase,
    failure: Option<String>,
    /// The lease, with a `ticker.cluster` section.
    cluster: Option<Cluster>,
}

impl<'a> Master<'a> {
    fn new(config: &'a TickerConfig, signals: &SignalFd) -> io::Result<Master<'a>> {
        let now = sys::monotonic_now();
        let poller = Poller::new()?;
        let ticking = Ticking::new(config, now)?;
        poller.add(signals_fd(signals), Source::Signals.token(), false)?;
        poller.add(ticking.timer_fd(), Source::Timer.token(), false)?;
        Ok(Master {
            config,
            me: sys::getpid(),
            started: now,
            poller,
            ticking,
            pool: Pool::new(Policy::from_config(config)),
            processes: Processes::new(config, now),
            operator: Operator::default(),
            limits: Limits::from_config(&config.pool.supervisor),
            watch_at: now + config.pool.supervisor.watch_tick,
            target: config.pool.num_workers,
            reset: None,
            lateness: Lateness::default(),
            phase: Phase::Running,
            failure: None,
            cluster: Cluster::new(config, sys::getpid(), now),
        })
    }

    fn run(&mut self, signals: &SignalFd) -> Exit {
        // The wake-up of a 100 µs tick must not be batched with 50 µs of default slack.
        let _ = sys::set_timer_slack(Some(Duration::from_nanos(1)));
        if let Some(link) = self.top_up() {
            return Exit::Worker(link);
        }
        self.open_doors();
        self.ticking.start(sys::monotonic_now());
        self.arm_timer();
        log::info(format_args!(
            "master {} ticking every {} with {} workers",
            self.me,
            humantime::format_duration(self.config.interval),
            self.pool.len()
        ));
        loop {
            if let Phase::Stopping { .. } = self.phase
                && self.pool.is_empty()
            {
                let _ = sys::set_timer_slack(None);
                self.cluster_shutdown();
                log::info(format_args!("master {} stopped", self.me));
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
            // A worker may have become free, or the last free one busy.
            self.arm_timer();
        }
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
                Source::Door(i) => self.on_door(i),
                Source::Conn(id) => self.on_conn(id),
                Source::Signals => signalled = true,
                Source::Cluster => self.on_cluster(),
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
        log::error(format_args!("{reason}"));
        if self.failure.is_none() {
            self.failure = Some(reason);
        }
        self.begin_stop("the master cannot go on");
    }
}

fn signals_fd(signals: &SignalFd) -> std::os::fd::BorrowedFd<'_> {
    std::os::fd::AsFd::as_fd(signals)
}

fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        ] {
            assert_eq!(Source::from_token(source.token()), Some(source));
        }
        assert_eq!(Source::from_token(u64::MAX), None);
    }
}
