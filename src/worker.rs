//! The worker's side of the channel: wait for a tick, answer it, fail it, or ask to stop.
//!
//! Owns the worker protocol's state (whether a payload is being held) so that a handler
//! that forgets to answer cannot leave the master waiting forever, the worker's half of the
//! early hand-off (a tick received before its due instant is returned at that instant), and
//! the lateness a ticker worker reports with its answer. It speaks only frames over a
//! [`Channel`]; the PHP classes of the extension (`ext/`) are a thin layer over it.

use std::fmt;

use std::time::Duration;

use crate::message::{FromWorker, ToWorker};
use crate::payload;
use crate::schedule::Mono;
use crate::sys;
use crate::transport::{Channel, RecvError};

/// The longest a worker holds a tick handed over ahead of its due instant. The master hands
/// ticks over a fraction of a millisecond early; a due instant further off than this is not
/// the ticker's hand-off (or the clocks disagree), and the tick is returned at once.
const MAX_HOLD: Duration = Duration::from_millis(10);

/// A payload received from the master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub header: Vec<u8>,
    pub body: Vec<u8>,
}

#[derive(Debug)]
pub enum WorkerError {
    /// The master sent something this worker cannot read.
    Protocol(String),
    /// The channel failed while writing.
    Io(std::io::Error),
    /// `respond()`, `error()` or `stop()` without a payload being held.
    NoPayload(&'static str),
}

impl fmt::Display for WorkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkerError::Protocol(e) => write!(f, "ticker worker: {e}"),
            WorkerError::Io(e) => write!(f, "ticker worker: cannot write to the master: {e}"),
            WorkerError::NoPayload(call) => write!(
                f,
                "ticker worker: {call}() called without a payload; call waitPayload() first"
            ),
        }
    }
}

impl std::error::Error for WorkerError {}

pub struct WorkerLink {
    channel: Channel,
    holding: bool,
    /// Whether answers carry the worker's lateness: only to a ticker master (see
    /// [`FromWorker::Answer`]).
    reports_lateness: bool,
    /// How late the payload being held was returned, once it had a due instant.
    late: Option<std::time::Duration>,
}

impl WorkerLink {
    /// A worker of a ticker master (a fork of it): answers report the worker's lateness.
    pub fn of_ticker(channel: Channel) -> WorkerLink {
        WorkerLink {
            reports_lateness: true,
            ..WorkerLink::new(channel)
        }
    }

    /// A worker that speaks plain RoadRunner frames.
    pub fn new(channel: Channel) -> WorkerLink {
        WorkerLink {
            channel,
            holding: false,
            reports_lateness: false,
            late: None,
        }
    }

    /// Blocks for the next payload; `None` when the master says stop or is gone.
    ///
    /// Waiting again while still holding a payload answers that payload with an error
    /// first: the master must learn that the tick was not handled, not wait forever.
    pub fn wait(&mut self) -> Result<Option<Job>, WorkerError> {
        if self.holding {
            self.fail("the handler called waitPayload() again without respond() or error()")?;
        }
        let frame = match self.channel.recv() {
            Ok(frame) => frame,
            Err(RecvError::Closed) => return Ok(None),
            Err(RecvError::Io(e)) => return Err(WorkerError::Io(e)),
            Err(RecvError::Malformed(e)) => return Err(WorkerError::Protocol(e.to_string())),
        };
        match ToWorker::from_frame(frame).map_err(|e| WorkerError::Protocol(e.to_string()))? {
            ToWorker::Job { header, body } => {
                self.holding = true;
                self.late = hold_until_due(&header);
                Ok(Some(Job { header, body }))
            }
            ToWorker::Stop => Ok(None),
            // A forked worker is never sent a handshake; treat one as the protocol error it is.
            ToWorker::Pid(_) => Err(WorkerError::Protocol(
                "unexpected pid handshake from the master".into(),
            )),
        }
    }

    pub fn respond(&mut self, header: Vec<u8>, body: Vec<u8>) -> Result<(), WorkerError> {
        let late = self.late.filter(|_| self.reports_lateness);
        self.answer("respond", FromWorker::Answer { header, body, late })
    }

    pub fn fail(&mut self, message: &str) -> Result<(), WorkerError> {
        self.answer("error", FromWorker::Error(message.to_owned()))
    }

    pub fn stop(&mut self) -> Result<(), WorkerError> {
        self.answer("stop", FromWorker::StopRequest)
    }

    fn answer(&mut self, call: &'static str, message: FromWorker) -> Result<(), WorkerError> {
        if !self.holding {
            return Err(WorkerError::NoPayload(call));
        }
        self.holding = false;
        self.channel
            .send(&message.into_frame())
            .map_err(WorkerError::Io)
    }
}

/// A tick handed over early is returned at its due instant, so the application's work
/// starts on time whatever the kernel's wake-up latency was. Returns how late it is
/// returned, for a payload with a due instant.
fn hold_until_due(header: &[u8]) -> Option<Duration> {
    let due = payload::due_instant(header)?;
    if is_held(due, sys::monotonic_now()) {
        sys::wait_until(due);
    }
    Some(sys::monotonic_now().since(due))
}

/// Whether a payload due at `due` is held until then: when it is ahead, and near.
fn is_held(due: Mono, now: Mono) -> bool {
    due > now && due.since(now) <= MAX_HOLD
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::MAX_PAYLOAD;
    use crate::sys::socket_pair;

    fn linked() -> (Channel, WorkerLink) {
        let (a, b) = socket_pair().unwrap();
        (
            Channel::socket(a, MAX_PAYLOAD),
            WorkerLink::new(Channel::socket(b, MAX_PAYLOAD)),
        )
    }

    fn from_worker(master: &mut Channel) -> FromWorker {
        FromWorker::from_frame(master.recv().unwrap()).unwrap()
    }

    #[test]
    fn a_job_is_received_and_answered() {
        let (mut master, mut worker) = linked();
        let job = ToWorker::Job {
            header: b"h".to_vec(),
            body: b"b".to_vec(),
        };
        master.send(&job.into_frame()).unwrap();
        let got = worker.wait().unwrap().unwrap();
        assert_eq!((got.header, got.body), (b"h".to_vec(), b"b".to_vec()));
        worker.respond(vec![], b"OK".to_vec()).unwrap();
        assert_eq!(
            from_worker(&mut master),
            FromWorker::Answer {
                header: vec![],
                body: b"OK".to_vec(),
                late: None,
            }
        );
    }

    #[test]
    fn a_tick_handed_over_early_is_returned_at_its_due_instant() {
        let (master, mut worker) = linked();
        let due = sys::monotonic_now() + Duration::from_millis(3);
        let header = format!(r#"{{"dueHrtime":{}}}"#, due.0).into_bytes();
        let job = ToWorker::Job {
            header,
            body: vec![],
        };
        master.send(&job.into_frame()).unwrap();
        worker.wait().unwrap().unwrap();
        assert!(sys::monotonic_now() >= due, "returned before it was due");
    }

    #[test]
    fn only_a_ticker_worker_reports_its_lateness() {
        for (ticker, reported) in [(true, true), (false, false)] {
            let (a, b) = socket_pair().unwrap();
            let mut master = Channel::socket(a, MAX_PAYLOAD);
            let channel = Channel::socket(b, MAX_PAYLOAD);
            let mut worker = if ticker {
                WorkerLink::of_ticker(channel)
            } else {
                WorkerLink::new(channel)
            };
            let due = sys::monotonic_now();
            let job = ToWorker::Job {
                header: format!(r#"{{"dueHrtime":{}}}"#, due.0).into_bytes(),
                body: vec![],
            };
            master.send(&job.into_frame()).unwrap();
            worker.wait().unwrap().unwrap();
            worker.respond(vec![], vec![]).unwrap();
            let FromWorker::Answer { late, .. } = from_worker(&mut master) else {
                panic!("not an answer");
            };
            assert_eq!(late.is_some(), reported, "ticker worker: {ticker}");
        }
    }

    #[test]
    fn a_due_instant_far_off_is_not_waited_for() {
        let now = Mono(1_000_000_000);
        assert!(is_held(now + Duration::from_micros(200), now));
        assert!(is_held(now + MAX_HOLD, now));
        assert!(!is_held(now + MAX_HOLD + Duration::from_nanos(1), now));
        assert!(!is_held(now + Duration::from_secs(3600), now));
        assert!(!is_held(now, now), "due now: returned at once");
    }

    #[test]
    fn answers_without_a_payload_are_refused() {
        let (_master, mut worker) = linked();
        assert!(matches!(
            worker.respond(vec![], vec![]),
            Err(WorkerError::NoPayload("respond"))
        ));
        assert!(matches!(worker.stop(), Err(WorkerError::NoPayload("stop"))));
    }

    #[test]
    fn waiting_again_fails_the_unanswered_payload() {
        let (mut master, mut worker) = linked();
        let job = || ToWorker::Job {
            header: vec![],
            body: vec![],
        };
        master.send(&job().into_frame()).unwrap();
        master.send(&job().into_frame()).unwrap();
        worker.wait().unwrap().unwrap();
        worker.wait().unwrap().unwrap();
        assert!(matches!(from_worker(&mut master), FromWorker::Error(m) if m.contains("again")));
    }

    #[test]
    fn stop_and_a_closed_master_end_the_loop() {
        let (master, mut worker) = linked();
        master.send(&ToWorker::Stop.into_frame()).unwrap();
        assert_eq!(worker.wait().unwrap(), None);
        drop(master);
        assert_eq!(worker.wait().unwrap(), None);
    }
}
