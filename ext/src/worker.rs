//! `Ticker\Worker`: RoadRunner's worker API over the master and worker of this crate.
//!
//! In the master, the first `waitPayload()` runs the pool and returns `null` at shutdown;
//! in each forked worker the same call returns that worker's first tick.

use std::sync::atomic::{AtomicBool, Ordering};

use ext_php_rs::flags::ClassFlags;
use ext_php_rs::prelude::*;

use super::exception::exception;
use super::payload::Payload;
use ticker::master::{self, Exit};
use ticker::role::Role;
use ticker::sys;
use ticker::worker::WorkerLink;

/// A process runs its pool once: a second start would fork workers from a worker.
static POOL_STARTED: AtomicBool = AtomicBool::new(false);

enum State {
    /// In the master, before `waitPayload()` started the pool.
    Master,
    /// In a forked worker.
    Worker(WorkerLink),
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
    pub fn create() -> PhpResult<Worker> {
        match super::startup_state().map(|s| &s.role) {
            Some(Role::Master { .. }) => Ok(Worker {
                state: State::Master,
            }),
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
        let State::Worker(link) = &mut self.state else {
            return Ok(None);
        };
        match link.wait() {
            Ok(Some(job)) => Ok(Some(Payload {
                body: job.body,
                header: job.header,
            })),
            Ok(None) => {
                self.state = State::Done;
                Ok(None)
            }
            Err(e) => Err(exception(e.to_string())),
        }
    }

    /// Answers the current tick: it is done.
    pub fn respond(&mut self, payload: &Payload) -> PhpResult<()> {
        let link = self.link("respond")?;
        link.respond(payload.header.clone(), payload.body.clone())
            .map_err(|e| exception(e.to_string()))
    }

    /// Answers the current tick: it failed. The worker stays and takes the next tick.
    pub fn error(&mut self, message: String) -> PhpResult<()> {
        let link = self.link("error")?;
        link.fail(&message).map_err(|e| exception(e.to_string()))
    }

    /// Asks to be replaced; the current tick runs once more on another worker.
    pub fn stop(&mut self) -> PhpResult<()> {
        let link = self.link("stop")?;
        link.stop().map_err(|e| exception(e.to_string()))
    }
}

impl Worker {
    fn link(&mut self, call: &str) -> PhpResult<&mut WorkerLink> {
        match &mut self.state {
            State::Worker(link) => Ok(link),
            State::Master => Err(exception(format!(
                "ticker: {call}() is for workers; in the master, waitPayload() runs the pool"
            ))),
            State::Done => Err(exception(format!("ticker: {call}() after the loop ended"))),
        }
    }

    /// Runs the pool. Returns in the master when it stopped, and in a new worker at once.
    fn run_pool(&mut self) -> PhpResult<()> {
        let Some(Role::Master { ticker, .. }) = super::startup_state().map(|s| &s.role) else {
            return Err(exception("ticker: this process is not a master"));
        };
        if POOL_STARTED.swap(true, Ordering::SeqCst) {
            self.state = State::Done;
            return Err(exception(
                "ticker: the pool already ran in this process; create one Ticker\\Worker and \
                 loop on its waitPayload()",
            ));
        }
        if let Err(refusal) = fork_safety() {
            self.state = State::Done;
            return Err(exception(refusal));
        }
        match master::run(ticker) {
            Exit::Worker(link) => {
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
fn fork_safety() -> Result<(), String> {
    match sys::thread_count() {
        Ok(1) => {}
        Ok(threads) => {
            return Err(format!(
                "ticker: cannot start the pool: this process has {threads} threads, and fork()                  copies only the calling one, so a lock held by another would stay locked in                  every worker. Likely causes: a ZTS (thread-safe) PHP build, or an extension                  that starts threads (grpc, datadog, newrelic, opentelemetry exporters);                  disable it for the master (php -n, or an ini file without it)"
            ));
        }
        Err(e) => {
            return Err(format!(
                "ticker: cannot start the pool: cannot count this process's threads in                  /proc/self/task ({e}), so forking it is not known to be safe"
            ));
        }
    }
    // SAFETY: called on PHP's thread during a method call, where PHP's output layer is
    // active; it writes the buffers' contents out and leaves them open.
    unsafe { php_output_flush_all() };
    Ok(())
}
