//! The master's side of a cluster (`ticker.cluster`): the lease helper process, the socket
//! to it, and the [`Lease`]'s decisions carried out on the tick path.
//!
//! Owns the helper's pid and socket (registered with the poller as [`Source::Cluster`]),
//! starting it again when it dies, and the answers to "may this instance deliver this
//! tick now": `default`'s by the numbers the lease grants, every other schedule's by the
//! occurrence instants it grants. The master never waits on Redis: it writes a request line to the helper and
//! reads the reply when the poller says it has come. The rules are
//! [`crate::cluster::lease`]'s; Redis is [`crate::cluster::store`]'s. Without a `cluster`
//! section none of this exists and every tick is this instance's.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::sys::socket::{MsgFlags, recv, send};

use super::{Master, Phase, Source};
use crate::cluster::helper::{self, Setup};
use crate::cluster::lease::{Lease, Step, Timing};
use crate::cluster::numbering::Recurrence;
use crate::cluster::status::ClusterView;
use crate::cluster::store::Named;
use crate::cluster::wire::{self, Decoder, Numbered, Reply};
use crate::config::{ClusterConfig, TickerConfig};
use crate::pool::{Pid, Tick};
use crate::schedule::Mono;
use crate::schedule::cron::UnixInstant;
use crate::sys::{self, Forked};
use crate::tick::ScheduleId;

/// How long a stopping master waits for its helper to release the lease and exit.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

pub(super) struct Cluster {
    config: ClusterConfig,
    /// The interval of `default`'s shared grid; without `ticker.interval`, the grid runs
    /// with nothing on it, every ttl.
    interval: Duration,
    /// `default` (`ticker.interval`), numbered on the shared grid, if the pool has it; every
    /// other schedule is numbered by [`crate::cluster::numbering`].
    shared: Option<ScheduleId>,
    /// `host:pid` of this master: the lease holder's name in Redis.
    me: String,
    lease: Lease,
    helper: Option<Helper>,
    /// Helpers killed but not reaped yet: reaped on SIGCHLD, the loop never waits for them.
    unreaped: Vec<Pid>,
    /// When a helper that died may be replaced.
    respawn_at: Mono,
}

struct Helper {
    pid: Pid,
    socket: OwnedFd,
    decoder: Decoder,
}

impl Cluster {
    pub(super) fn new(config: &TickerConfig, master: Pid, now: Mono) -> Option<Cluster> {
        let cluster = config.cluster.clone()?;
        let me = format!("{}:{master}", sys::hostname());
        let timing = Timing { ttl: cluster.ttl };
        Some(Cluster {
            lease: Lease::new(timing, me.clone(), now),
            interval: config.interval().unwrap_or(cluster.ttl),
            shared: config.default_schedule().map(|_| ScheduleId::default()),
            config: cluster,
            me,
            helper: None,
            unreaped: vec![],
            respawn_at: now,
        })
    }

    fn respawn_delay(&self) -> Duration {
        (self.config.ttl / 3).min(Duration::from_secs(1))
    }
}

/// Whether `tick` may go to a worker at `now`: always on its own; in a cluster, while this
/// instance leads and its lease grants the tick. A function of the cluster alone, so that
/// the tick path can ask it while it walks the pool and the grid.
pub(super) fn may_deliver(cluster: &Option<Cluster>, tick: &Tick, now: Mono) -> bool {
    cluster
        .as_ref()
        .is_none_or(|c| c.lease.leads(now) && c.permits(tick))
}

impl Cluster {
    /// Whether the lease grants `tick`.
    fn permits(&self, tick: &Tick) -> bool {
        if Some(tick.schedule) == self.shared {
            return self.lease.permits(tick.number, tick.due);
        }
        self.occurrence(tick.due, tick.scheduled)
            .is_some_and(|at| self.lease.permits_occurrence(at, tick.due))
    }

    /// Unix nanoseconds of a named schedule's occurrence: a cron schedule's own instant; an
    /// interval's is its due instant on the term's clock, on which its grid was placed.
    fn occurrence(&self, due: Mono, scheduled: Option<UnixInstant>) -> Option<u64> {
        match scheduled {
            Some(at) => u64::try_from(at.as_nanos()).ok(),
            None => self.lease.unix_of(due),
        }
    }
}

impl Master<'_> {
    /// Whether `tick` may be armed for: always on its own; in a cluster, when the lease
    /// grants it.
    pub(super) fn cluster_permits(&self, tick: &Tick) -> bool {
        self.cluster.as_ref().is_none_or(|c| c.permits(tick))
    }

    /// Whether this instance may hand out work now that no grid granted (a manual run):
    /// always on its own; in a cluster, while it leads.
    pub(super) fn cluster_leads(&self, now: Mono) -> bool {
        self.cluster.as_ref().is_none_or(|c| c.lease.leads(now))
    }

    pub(super) fn cluster_delivered(&mut self, tick: &Tick) {
        let Some(c) = &mut self.cluster else {
            return;
        };
        if Some(tick.schedule) == c.shared {
            c.lease.delivered(tick.number);
        } else if let Some(at) = c.occurrence(tick.due, tick.scheduled) {
            c.lease.handed(tick.schedule.0, at, tick.number);
        }
    }

    pub(super) fn cluster_deadline(&self) -> Option<Mono> {
        let c = self.cluster.as_ref()?;
        match &c.helper {
            Some(_) => c.lease.next_deadline(),
            None if matches!(self.phase, Phase::Running) => Some(c.respawn_at),
            None => None,
        }
    }

    pub(super) fn cluster_view(&self) -> Option<ClusterView> {
        let c = self.cluster.as_ref()?;
        let holder = c.lease.holder();
        Some(ClusterView {
            role: c.lease.role(),
            redis: c.config.redis.shown().to_string(),
            key: c.config.key.clone(),
            holder: holder.and_then(|h| h.name.clone()),
            token: holder.map(|h| h.token),
            last_tick: c.lease.last_tick(),
        })
    }

    /// Every pass, before the events: ends a term whose deadline passed (so that nothing
    /// goes to a worker after it, even after the master was stopped for a while), starts the
    /// helper when there is none, and sends what is due.
    pub(super) fn cluster_pass(&mut self) {
        let Some(c) = &mut self.cluster else {
            return;
        };
        let now = sys::monotonic_now();
        let stopping = !matches!(self.phase, Phase::Running);
        if c.helper.is_none() {
            if stopping || now < c.respawn_at {
                return;
            }
            self.spawn_helper(now);
        }
        let Some(c) = &mut self.cluster else {
            return;
        };
        if c.helper.is_some() {
            let steps = c.lease.poll(now, stopping);
            self.carry_out(steps);
        }
    }

    fn spawn_helper(&mut self, now: Mono) {
        let Some(c) = &mut self.cluster else {
            return;
        };
        let timetable = self.ticking.timetable();
        let named = timetable
            .ids()
            .filter(|&id| Some(id) != c.shared)
            .map(|id| Named {
                id: id.0,
                name: timetable.name(id).to_string(),
                recurrence: match (timetable.every(id), timetable.cron(id)) {
                    (Some(every), _) => Recurrence::Every {
                        every,
                        phase: timetable.phase(id),
                    },
                    (None, Some(cron)) => Recurrence::Cron(Box::new(cron.clone())),
                    (None, None) => unreachable!("a schedule is an interval or a cron"),
                },
                catch_up: timetable.catch_up_policy(id),
            })
            .collect();
        let setup = Setup {
            config: c.config.clone(),
            interval: c.interval,
            me: c.me.clone(),
            master: self.me,
            named,
        };
        let started = sys::socket_pair().and_then(|(ours, theirs)| match sys::fork()? {
            Forked::Child => {
                drop(ours);
                helper::run(theirs, &setup)
            }
            Forked::Parent(pid) => {
                drop(theirs);
                sys::set_nonblocking(ours.as_fd())?;
                Ok((pid, ours))
            }
        });
        let (pid, socket) = match started {
            Ok(started) => started,
            Err(e) => {
                log::error!("cluster: cannot start the lease helper: {e}");
                c.respawn_at = now + c.respawn_delay();
                return;
            }
        };
        if let Err(e) = self
            .poller
            .add(socket.as_fd(), Source::Cluster.token(), false)
        {
            log::error!("cluster: cannot watch the lease helper: {e}");
            let _ = sys::kill(pid, Signal::SIGKILL);
            if !matches!(sys::try_reap(pid), Ok(Some(_))) {
                c.unreaped.push(pid);
            }
            c.respawn_at = now + c.respawn_delay();
            return;
        }
        log::info!(
            "cluster: lease helper {pid} started: lease {} on {} (ttl {}), as {}",
            c.config.key,
            c.config.redis.shown(),
            crate::config::format_duration(c.config.ttl),
            c.me
        );
        c.helper = Some(Helper {
            pid,
            socket,
            decoder: Decoder::default(),
        });
    }

    /// The helper's socket is ready: replies, or its end.
    pub(super) fn on_cluster(&mut self) {
        let mut buffer = [0u8; 4096];
        loop {
            let Some(helper) = self.cluster.as_mut().and_then(|c| c.helper.as_mut()) else {
                return;
            };
            match recv(
                std::os::fd::AsRawFd::as_raw_fd(&helper.socket),
                &mut buffer,
                MsgFlags::MSG_DONTWAIT,
            ) {
                Ok(0) => return self.helper_gone("closed its socket"),
                Ok(n) => helper.decoder.push(&buffer[..n]),
                Err(nix::errno::Errno::EAGAIN) => break,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return self.helper_gone(&format!("could not be read from: {e}")),
            }
        }
        loop {
            let Some(c) = &mut self.cluster else {
                return;
            };
            let Some(helper) = &mut c.helper else {
                return;
            };
            let reply = match helper.decoder.message::<Numbered<Reply>>() {
                Ok(Some(reply)) => reply,
                Ok(None) => break,
                Err(e) => return self.helper_gone(&format!("sent {e}")),
            };
            let now = sys::monotonic_now();
            match c.lease.on_reply(reply, now, sys::unix_now()) {
                Ok(steps) => self.carry_out(steps),
                Err(e) => return self.helper_gone(&format!("broke the protocol: {e}")),
            }
        }
        // What the replies made due (the first renewal of a term, say) goes now.
        self.cluster_pass();
    }

    fn carry_out(&mut self, steps: Vec<Step>) {
        for step in steps {
            match step {
                Step::Send(request) => {
                    let Some(helper) = self.cluster.as_ref().and_then(|c| c.helper.as_ref()) else {
                        return;
                    };
                    if let Err(e) = write_line(&helper.socket, &wire::encode(&request)) {
                        return self.helper_gone(&format!("could not be written to: {e}"));
                    }
                }
                Step::Begin(begin) => {
                    // Whatever waited from an earlier term is not this term's to deliver.
                    for tick in self.pool.drop_waiting() {
                        log::warn!(
                            "tick {} dropped: it waited from an earlier lease term",
                            tick.number
                        );
                    }
                    self.pool.hold(false);
                    let shared = self.cluster.as_ref().and_then(|c| c.shared);
                    if let Some(id) = shared
                        && begin.skipped > 0
                    {
                        self.pool.skip(id, begin.skipped);
                    }
                    for (id, resumed) in &begin.named {
                        if resumed.skipped > 0 {
                            self.pool.skip(ScheduleId(*id), resumed.skipped);
                        }
                    }
                    self.ticking.begin_term(&begin, shared);
                }
                Step::End => {
                    self.ticking.disarm();
                    self.pool.hold(true);
                    for tick in self.pool.drop_waiting() {
                        log::warn!(
                            "tick {} dropped: it was waiting for a free worker when this \
                             instance stopped holding the lease",
                            tick.number
                        );
                    }
                }
                Step::Log(level, text) => log::log!(level, "cluster: {text}"),
            }
        }
    }

    /// The helper is gone or broken: it is killed and reaped, the term ends, another one
    /// starts after a pause.
    fn helper_gone(&mut self, why: &str) {
        let Some(c) = &mut self.cluster else {
            return;
        };
        let Some(helper) = c.helper.take() else {
            return;
        };
        self.poller.delete(helper.socket.as_fd());
        let status = match sys::try_reap(helper.pid) {
            Ok(Some(status)) => status.to_string(),
            _ => {
                // Killed, and reaped when SIGCHLD says it is gone: the loop does not wait.
                let _ = sys::kill(helper.pid, Signal::SIGKILL);
                c.unreaped.push(helper.pid);
                "was killed".to_string()
            }
        };
        let now = sys::monotonic_now();
        c.respawn_at = now + c.respawn_delay();
        let stopping = !matches!(self.phase, Phase::Running);
        if !stopping {
            log::error!(
                "cluster: the lease helper {} {why} and {status}; another starts in {}",
                helper.pid,
                crate::config::format_duration(c.respawn_delay())
            );
        }
        let steps = c
            .lease
            .on_helper_gone(now, &format!("the lease helper {why}"));
        self.carry_out(steps);
    }

    /// After the loop, in the master only: the lease is released (the helper answers the
    /// last request, then sees the socket close and exits), within [`SHUTDOWN_GRACE`].
    /// This is the one wait on the helper, once nothing ticks any more.
    pub(super) fn cluster_shutdown(&mut self) {
        let Some(c) = &mut self.cluster else {
            return;
        };
        if c.helper.is_some() {
            let steps = c.lease.poll(sys::monotonic_now(), true);
            self.carry_out(steps);
        }
        let Some(helper) = self.cluster.as_mut().and_then(|c| c.helper.take()) else {
            return;
        };
        self.poller.delete(helper.socket.as_fd());
        drop(helper.socket);
        let deadline = sys::monotonic_now() + SHUTDOWN_GRACE;
        loop {
            match sys::try_reap(helper.pid) {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if sys::monotonic_now() >= deadline => {
                    log::warn!(
                        "cluster: the lease helper {} did not exit within {}; killing it",
                        helper.pid,
                        crate::config::format_duration(SHUTDOWN_GRACE)
                    );
                    let _ = sys::kill(helper.pid, Signal::SIGKILL);
                    // SIGKILL cannot be refused; a helper stuck in the kernel is left to init.
                    let killed_by = sys::monotonic_now() + SHUTDOWN_GRACE;
                    while matches!(sys::try_reap(helper.pid), Ok(None))
                        && sys::monotonic_now() < killed_by
                    {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }

    /// SIGCHLD: reaps the helpers that were killed.
    pub(super) fn cluster_reap(&mut self) {
        if let Some(c) = &mut self.cluster {
            c.unreaped
                .retain(|&pid| matches!(sys::try_reap(pid), Ok(None)));
        }
    }
}

/// One whole request line, or an error: requests are a few dozen bytes and at most a few
/// are in flight, so a socket that does not take one at once belongs to a stuck helper.
fn write_line(socket: &OwnedFd, line: &[u8]) -> io::Result<()> {
    let flags = MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT;
    match send(std::os::fd::AsRawFd::as_raw_fd(socket), line, flags) {
        Ok(n) if n == line.len() => Ok(()),
        Ok(n) => Err(io::Error::other(format!(
            "took {n} of {} bytes",
            line.len()
        ))),
        Err(e) => Err(io::Error::from(e)),
    }
}
