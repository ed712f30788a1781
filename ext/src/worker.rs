//! `Ticker\Worker`: RoadRunner's worker API over the master and worker of this crate.
//!
//! In the master, the first `waitPayload()` runs the pool and returns `null` at shutdown;
//! in each forked worker the same call returns that worker's first tick. In a process that a
//! RoadRunner-style master started (`RR_RELAY`), `create()` opens the relay and the worker
//! serves that master.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use ext_php_rs::flags::ClassFlags;
use ext_php_rs::prelude::*;

use super::exception::exception;
use super::payload::Payload;
use super::worker_exit;
use ticker::master::{self, Exit, ForkSafetyError};
use ticker::relay::RelayWorker;
use ticker::role::Role;
use ticker::worker::{WorkerError, WorkerLink};

/// A process runs its pool once: a second start would fork workers from a worker.
static POOL_STARTED: AtomicBool = AtomicBool::new(false);

/// Whether this process started its pool (or, in a forked worker, its master had).
pub fn pool_started() -> bool {
    POOL_STARTED.load(Ordering::SeqCst)
}

/// The relay of a process that a RoadRunner-style master started, opened by the first
/// `create()`. There is one per process (with `pipes` it is the process's stdin and stdout),
/// so every `Ticker\Worker` of the process is a handle on it.
static RELAY: Mutex<Option<RelayWorker>> = Mutex::new(None);

fn relay() -> MutexGuard<'static, Option<RelayWorker>> {
    // PHP runs on one thread; a panic inside a method leaves the relay as usable as before.
    RELAY.lock().unwrap_or_else(PoisonError::into_inner)
}

enum State {
    /// In the master, before `waitPayload()` started the pool.
    Master,
    /// In a forked worker.
    Worker(WorkerLink),
    /// In a worker of a RoadRunner-style master: the link is the process's [`RELAY`].
    Relayed,
    /// The loop is over: the pool stopped, or the worker was told to stop.
    Done,
}

#[php_class]
#[php(name = "Ticker\\Worker")]
#[php(flags = ClassFlags::Final)]
pub struct Worker {
    state: State,
}

#[php_impl]
impl Worker {
    /// The worker of this process. Throws when the extension is inert, saying why.
    ///
    /// In a worker of a RoadRunner-style master the first call opens the relay: with `pipes`
    /// it takes stdin and stdout for the channel and points PHP's output at stderr (see
    /// [`RelayWorker::open`]); a socket is connected at the first `waitPayload()`.
    pub fn create() -> PhpResult<Worker> {
        match super::startup_state().map(|s| &s.role) {
            Some(Role::Master { .. }) => Ok(Worker {
                state: State::Master,
            }),
            Some(Role::Worker { relay: which }) => {
                let mut opened = relay();
                if opened.is_none() {
                    let worker = RelayWorker::open(which).map_err(|e| {
                        exception(format!("ticker: cannot open the relay {which}: {e}"))
                    })?;
                    *opened = Some(worker);
                }
                Ok(Worker {
                    state: State::Relayed,
                })
            }
            Some(Role::Inert { reason, .. }) => Err(exception(format!(
                "ticker: no worker pool in this process: {reason}"
            ))),
            None => Err(exception("ticker: the extension did not start")),
        }
    }

    /// The next tick, or `null` when the loop must end.
    pub fn wait_payload(&mut self) -> PhpResult<Option<Payload>> {
        if let State::Master = self.state {
            self.run_pool()?;
        }
        if let State::Done = self.state {
            return Ok(None);
        }
        let job = self.with_link("waitPayload", WorkerLink::wait)?;
        if job.is_none() && matches!(self.state, State::Worker(_)) {
            self.state = State::Done;
        }
        Ok(job.map(|job| Payload {
            body: job.body,
            header: job.header,
        }))
    }

    /// Answers the current tick: it is done.
    pub fn respond(&mut self, payload: &Payload) -> PhpResult<()> {
        self.with_link("respond", |link| {
            link.respond(payload.header.clone(), payload.body.clone())
        })
    }

    /// Answers the current tick: it failed. The worker stays and takes the next tick.
    pub fn error(&mut self, message: String) -> PhpResult<()> {
        self.with_link("error", |link| link.fail(&message))
    }

    /// Asks to be replaced; the current tick runs once more on another worker.
    pub fn stop(&mut self) -> PhpResult<()> {
        self.with_link("stop", WorkerLink::stop)
    }
}

impl Worker {
    /// Runs `f` on this process's link to its master: a forked worker's own, or the relay.
    fn with_link<T>(
        &mut self,
        call: &str,
        f: impl FnOnce(&mut WorkerLink) -> Result<T, WorkerError>,
    ) -> PhpResult<T> {
        let result = match &mut self.state {
            State::Worker(link) => f(link),
            State::Relayed => {
                let mut opened = relay();
                let relay = opened.as_mut().expect("create() opened the relay");
                relay.link().and_then(f)
            }
            State::Master => {
                return Err(exception(format!(
                    "ticker: {call}() is for workers; in the master, waitPayload() runs the pool"
                )));
            }
            State::Done => {
                return Err(exception(format!("ticker: {call}() after the loop ended")));
            }
        };
        result.map_err(|e| exception(e.to_string()))
    }

    /// Runs the pool. Returns in the master when it stopped, and in a new worker at once.
    fn run_pool(&mut self) -> PhpResult<()> {
        let Some(Role::Master { ticker, config, .. }) = super::startup_state().map(|s| &s.role)
        else {
            return Err(exception("ticker: this process is not a master"));
        };
        if POOL_STARTED.load(Ordering::SeqCst) {
            self.state = State::Done;
            return Err(exception(
                "ticker: the pool already ran in this process; create one Ticker\\Worker and \
                 loop on its waitPayload()",
            ));
        }
        // Checked before the pool counts as started: a refused start may be tried again
        // once the cause is gone.
        if let Err(refusal) = fork_safety() {
            self.state = State::Done;
            return Err(exception(refusal.to_string()));
        }
        let settings = worker_exit::fast_exit_wanted()
            .and_then(|fast_exit| Ok((fast_exit, super::master_options()?)));
        let (fast_exit, options) = match settings {
            Ok(settings) => settings,
            Err(refusal) => {
                self.state = State::Done;
                return Err(exception(refusal.to_string()));
            }
        };
        POOL_STARTED.store(true, Ordering::SeqCst);
        let declared = super::schedules::take_declared();
        let ticker = declared.as_ref().unwrap_or(ticker.as_ref());
        match master::run(ticker, &config.server, options) {
            Exit::Worker(link) => {
                if fast_exit {
                    worker_exit::install();
                }
                self.state = State::Worker(link);
                Ok(())
            }
            Exit::Stopped => {
                self.state = State::Done;
                Ok(())
            }
            Exit::Failed(reason) => {
                self.state = State::Done;
                Err(exception(format!("ticker: the master stopped: {reason}")))
            }
        }
    }
}

unsafe extern "C" {
    fn php_output_flush_all();
}

/// What the process must be before its first fork, and what it must not hand down.
///
/// fork() copies only the calling thread: a lock that another thread holds at that moment
/// stays locked forever in every worker, so a second thread is refused rather than risked.
/// Output the application buffered while booting (`ob_start(); echo ...;`) would be copied
/// into every worker and printed once by each at its exit: it is written out first. The
/// buffers stay open (flushed, not ended), so the application's own `ob_get_clean()` later
/// still finds the level it started.
fn fork_safety() -> Result<(), ForkSafetyError> {
    master::check_fork_safety()?;
    // SAFETY: called on PHP's thread during a method call, where PHP's output layer is
    // active; it writes the buffers' contents out and leaves them open.
    unsafe { php_output_flush_all() };
    Ok(())
}
