//! How a worker process comes to be: the one place where kinds of workers differ.
//!
//! Everything else in the master treats a worker as a pid and a [`Channel`] of goridge
//! frames. A [`Launcher`] makes the pair; today workers are forks of the master, which start
//! with the application the master booted (copy-on-write) and return to PHP in the child.

use std::io;

use nix::sys::signal::Signal;

use crate::frame::MAX_PAYLOAD;
use crate::log;
use crate::pool::Pid;
use crate::sys::{self, Forked};
use crate::transport::Channel;
use crate::worker::WorkerLink;

/// What [`Launcher::launch`] gave, in this process.
pub(super) enum Launched {
    /// The master's side: a new worker and the master's end of its channel.
    Worker { pid: Pid, channel: Channel },
    /// This process is the new worker (a fork): it leaves the master's loop with its link.
    ThisProcess(WorkerLink),
}

/// Starts workers of one kind.
pub(super) trait Launcher {
    /// Starts one worker for the master `master`.
    fn launch(&mut self, master: Pid) -> io::Result<Launched>;
}

/// Workers are forks of the master, linked by a socket pair.
pub(super) struct Fork;

impl Launcher for Fork {
    fn launch(&mut self, master: Pid) -> io::Result<Launched> {
        let (ours, theirs) = sys::socket_pair()?;
        match sys::fork()? {
            Forked::Child => {
                drop(ours);
                become_worker(master);
                Ok(Launched::ThisProcess(WorkerLink::of_ticker(
                    Channel::socket(theirs, MAX_PAYLOAD),
                )))
            }
            Forked::Parent(pid) => {
                drop(theirs);
                let channel = Channel::socket(ours, MAX_PAYLOAD);
                channel.set_nonblocking()?;
                Ok(Launched::Worker { pid, channel })
            }
        }
    }
}

/// First steps of a forked child, before it returns to PHP as a worker.
fn become_worker(master: Pid) {
    // A worker must never outlive its master: if the master is SIGKILLed, there is no one
    // to stop the worker gracefully, and a busy worker would otherwise run on unsupervised.
    if let Err(e) = sys::die_with_parent(master, Signal::SIGKILL) {
        log::warn(format_args!("worker cannot follow its master's death: {e}"));
    }
    // Ctrl-C in a terminal then reaches the master only, which stops workers gracefully.
    let _ = sys::own_process_group();
    // Out of the terminal's foreground group, a worker that read the terminal would be
    // stopped by SIGTTIN, and one that wrote to it (with `stty tostop`) by SIGTTOU, for
    // good and silently. Ticks do not read stdin: it is /dev/null, and the two signals are
    // ignored unless the application handles them.
    if let Err(e) = sys::stdin_from_dev_null() {
        log::warn(format_args!("worker keeps the master's stdin: {e}"));
    }
    for signal in [Signal::SIGTTIN, Signal::SIGTTOU] {
        let _ = sys::ignore_unless_handled(signal);
    }
    let _ = sys::set_timer_slack(None);
}
