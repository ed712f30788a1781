//! The worker's side of the channel: wait for a tick, answer it, fail it, or ask to stop.
//!
//! Owns the worker protocol's state (whether a payload is being held, whether the loop has
//! ended) so that a handler that forgets to answer cannot leave the master waiting forever,
//! what a worker's frames carry for each kind of master ([`WorkerLink::of_ticker`] for the
//! ticker master that forked it, [`WorkerLink::new`] for a RoadRunner-style master at the
//! other end of a relay, whose pid handshake it answers), the worker's half of the early
//! hand-off (a tick received before its due instant is returned at that instant), and the
//! lateness a forked worker reports with its answer. It speaks only frames over a
//! [`Channel`]: opening one is [`crate::relay`]'s (or the master's, for a fork), and the PHP
//! classes of the extension (`ext/`) are a thin layer over it.

use std::fmt;

use std::time::Duration;

use crate::message::{FromWorker, ToWorker};
use crate::payload;
use crate::schedule::Mono;
use crate::spin::{Goal, SpinWindow};
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
    /// The relay named by `RR_RELAY` cannot be reached.
    Connect {
        relay: String,
        error: std::io::Error,
    },
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
            WorkerError::Connect { relay, error } => write!(
                f,
                "ticker worker: cannot connect to the master at RR_RELAY={relay}: {error}"
            ),
        }
    }
}

impl std::error::Error for WorkerError {}

/// The kind of master a worker serves, which decides what the worker's frames carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Master {
    /// The ticker master that forked this worker. It knows the worker's pid from fork(), so
    /// there is no handshake, and it reads the lateness answers carry in a second option.
    Forker,
    /// A master at the other end of a relay: RoadRunner, or a ticker master's
    /// command-started workers. It sends the pid handshake first, and RoadRunner refuses an
    /// answer that does not carry exactly one option.
    Relay,
}

pub struct WorkerLink {
    channel: Channel,
    master: Master,
    holding: bool,
    /// The master said stop, or closed the channel: the loop is over for good.
    ended: bool,
    /// How late the payload being held was returned, once it had a due instant.
    late: Option<std::time::Duration>,
    /// The spin before a held tick's due instant, learned from this worker's own sleeps.
    spin: SpinWindow,
    /// The master reads the lateness in a second option of answers: the ticker master that
    /// forked this worker, or one whose handshake said so ([`ToWorker::TickerPid`]).
    /// RoadRunner refuses answers with two options, so no other master gets it.
    reports_lateness: bool,
}

impl WorkerLink {
    /// The descriptors of the channel to the master.
    pub fn descriptors(&self) -> Vec<std::os::fd::BorrowedFd<'_>> {
        self.channel.descriptors()
    }

    /// A worker forked by a ticker master: answers report the worker's lateness.
    pub fn of_ticker(channel: Channel) -> WorkerLink {
        WorkerLink {
            master: Master::Forker,
            reports_lateness: true,
            ..WorkerLink::new(channel)
        }
    }

    /// A worker of a RoadRunner-style master: it answers the pid handshake and speaks plain
    /// RoadRunner frames.
    pub fn new(channel: Channel) -> WorkerLink {
        WorkerLink {
            channel,
            master: Master::Relay,
            holding: false,
            ended: false,
            late: None,
            spin: SpinWindow::new(Goal::Tail),
            reports_lateness: false,
        }
    }

    /// Blocks for the next payload; `None` when the master says stop or is gone, and from
    /// then on.
    ///
    /// Waiting again while still holding a payload answers that payload with an error
    /// first: the master must learn that the tick was not handled, not wait forever. A pid
    /// handshake is answered on the way, whenever it comes: RoadRunner sends it first, while
    /// the worker may still be booting, and the answer waits until the worker reads it.
    pub fn wait(&mut self) -> Result<Option<Job>, WorkerError> {
        if self.holding {
            self.fail("the handler called waitPayload() again without respond() or error()")?;
        }
        while !self.ended {
            let frame = match self.channel.recv() {
                Ok(frame) => frame,
                Err(RecvError::Closed) => break,
                Err(RecvError::Io(e)) => return Err(WorkerError::Io(e)),
                Err(RecvError::Malformed(e)) => return Err(WorkerError::Protocol(e.to_string())),
            };
            let message =
                ToWorker::from_frame(frame).map_err(|e| WorkerError::Protocol(e.to_string()))?;
            match message {
                ToWorker::Job { header, body } => {
                    self.holding = true;
                    self.late = hold_until_due(&header, &mut self.spin);
                    return Ok(Some(Job { header, body }));
                }
                ToWorker::Stop => break,
                ToWorker::Pid(_) | ToWorker::TickerPid(_) if self.master == Master::Relay => {
                    self.reports_lateness = matches!(message, ToWorker::TickerPid(_));
                    let own = FromWorker::Pid(std::process::id());
                    self.channel
                        .send(&own.into_frame())
                        .map_err(WorkerError::Io)?;
                }
                // A forked worker is never sent a handshake; treat one as the protocol error it is.
                ToWorker::Pid(_) | ToWorker::TickerPid(_) => {
                    return Err(WorkerError::Protocol(
                        "unexpected pid handshake from the master".into(),
                    ));
                }
            }
        }
        self.ended = true;
        Ok(None)
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
fn hold_until_due(header: &[u8], spin: &mut SpinWindow) -> Option<Duration> {
    let due = payload::due_instant(header)?;
    if is_held(due, sys::monotonic_now()) {
        sys::wait_until(due, spin);
    }
    Some(sys::monotonic_now().since(due))
}

/// Whether a payload due at `due` is held until then: when it is ahead, and near.
fn is_held(due: Mono, now: Mono) -> bool {
    due > now && due.since(now) <= MAX_HOLD
}

#[cfg(test)]
mod tests {
    use std::os::fd::OwnedFd;

    use super::*;
    use crate::frame::{Frame, MAX_PAYLOAD, flags};
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
    fn stop_ends_the_loop_for_good_and_so_does_a_closed_master() {
        let (master, mut worker) = linked();
        master.send(&ToWorker::Stop.into_frame()).unwrap();
        master.send(&job(b"", b"after stop")).unwrap();
        assert_eq!(worker.wait().unwrap(), None);
        assert_eq!(worker.wait().unwrap(), None, "nothing is read after stop");

        let (master, mut worker) = linked();
        drop(master);
        assert_eq!(worker.wait().unwrap(), None);
    }

    fn job(header: &[u8], body: &[u8]) -> Frame {
        ToWorker::Job {
            header: header.to_vec(),
            body: body.to_vec(),
        }
        .into_frame()
    }

    fn pipe() -> (OwnedFd, OwnedFd) {
        let (r, w) = std::io::pipe().unwrap();
        (OwnedFd::from(r), OwnedFd::from(w))
    }

    /// A master and a worker of a RoadRunner-style master, over each kind of relay: a socket
    /// (`unix://`, `tcp://`) and two pipes (`pipes`: the worker's stdin and stdout).
    fn relays() -> Vec<(&'static str, Channel, WorkerLink)> {
        let (a, b) = socket_pair().unwrap();
        let (to_worker_r, to_worker_w) = pipe();
        let (to_master_r, to_master_w) = pipe();
        vec![
            (
                "socket",
                Channel::socket(a, MAX_PAYLOAD),
                WorkerLink::new(Channel::socket(b, MAX_PAYLOAD)),
            ),
            (
                "pipes",
                Channel::pipes(to_master_r, to_worker_w, MAX_PAYLOAD),
                WorkerLink::new(Channel::pipes(to_worker_r, to_master_w, MAX_PAYLOAD)),
            ),
        ]
    }

    /// The next frame the worker sends; fails the test rather than hang when none comes.
    fn recv(master: &mut Channel) -> Frame {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use std::os::fd::AsFd;
        if let Some(frame) = master.next_frame().unwrap() {
            return frame;
        }
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        let ready = poll(&mut fds, PollTimeout::try_from(10_000).unwrap()).unwrap();
        assert!(ready > 0, "the worker sent nothing within 10 s");
        master.recv().unwrap()
    }

    fn assert_pid_answer(frame: &Frame, name: &str) {
        assert_eq!(
            frame.flags,
            flags::CONTROL,
            "{name}: CONTROL only, no codec"
        );
        assert!(frame.options.is_empty(), "{name}: no options");
        let answer: serde_json::Value = serde_json::from_slice(&frame.payload).unwrap();
        assert_eq!(
            answer,
            serde_json::json!({"pid": std::process::id()}),
            "{name}"
        );
    }

    #[test]
    fn the_pid_handshake_sent_first_is_answered_with_the_workers_pid() {
        for (name, mut master, mut worker) in relays() {
            master.send(&ToWorker::Pid(4242).into_frame()).unwrap();
            master.send(&job(b"h", b"first")).unwrap();
            let got = worker.wait().unwrap().expect("the job after the handshake");
            assert_eq!(got.body, b"first", "{name}");
            assert_pid_answer(&recv(&mut master), name);
        }
    }

    #[test]
    fn a_ticker_masters_handshake_makes_a_relay_worker_report_its_lateness() {
        for (handshake, reported) in [(ToWorker::TickerPid(7), true), (ToWorker::Pid(7), false)] {
            for (name, mut master, mut worker) in relays() {
                master.send(&handshake.clone().into_frame()).unwrap();
                let header = format!(r#"{{"dueHrtime":{}}}"#, sys::monotonic_now().0);
                master.send(&job(header.as_bytes(), b"{}")).unwrap();
                worker.wait().unwrap().unwrap();
                worker.respond(vec![], b"OK".to_vec()).unwrap();
                assert_pid_answer(&recv(&mut master), name);
                let answer = recv(&mut master);
                assert_eq!(
                    answer.options.len(),
                    if reported { 2 } else { 1 },
                    "{name}, {handshake:?}"
                );
            }
        }
    }

    #[test]
    fn a_handshake_that_arrives_while_the_worker_waits_is_answered_at_once() {
        for (name, mut master, mut worker) in relays() {
            let waiting = std::thread::spawn(move || worker.wait().unwrap());
            // Likely blocked in wait() by now; correct either way.
            std::thread::sleep(Duration::from_millis(50));
            master.send(&ToWorker::Pid(4242).into_frame()).unwrap();
            // The answer comes before the master sent any job: the worker answered it while
            // waiting for one.
            assert_pid_answer(&recv(&mut master), name);
            master.send(&job(b"", b"first")).unwrap();
            let got = waiting.join().unwrap().expect("the job");
            assert_eq!(got.body, b"first", "{name}");
        }
    }

    #[test]
    fn the_stop_control_frame_ends_the_loop_over_a_relay() {
        for (name, master, mut worker) in relays() {
            master.send(&ToWorker::Pid(1).into_frame()).unwrap();
            master
                .send(&Frame::new(
                    flags::CONTROL | flags::CODEC_JSON,
                    vec![],
                    br#"{"stop":true}"#.to_vec(),
                ))
                .unwrap();
            assert_eq!(worker.wait().unwrap(), None, "{name}");
        }
    }

    #[test]
    fn a_control_frame_that_is_neither_stop_nor_pid_is_a_protocol_error() {
        for payload in [
            &b"stop"[..],
            b"{}",
            br#"{"pid":0}"#,
            br#"{"pid":"7"}"#,
            b"[1]",
        ] {
            for (name, master, mut worker) in relays() {
                master
                    .send(&Frame::new(flags::CONTROL, vec![], payload.to_vec()))
                    .unwrap();
                let err = worker.wait().unwrap_err();
                assert!(
                    matches!(&err, WorkerError::Protocol(m) if m.contains("control frame")),
                    "{name}, {:?}: {err}",
                    String::from_utf8_lossy(payload)
                );
            }
        }
    }

    #[test]
    fn a_forked_worker_refuses_a_handshake() {
        let (a, b) = socket_pair().unwrap();
        let master = Channel::socket(a, MAX_PAYLOAD);
        let mut worker = WorkerLink::of_ticker(Channel::socket(b, MAX_PAYLOAD));
        master.send(&ToWorker::Pid(1).into_frame()).unwrap();
        assert!(matches!(worker.wait(), Err(WorkerError::Protocol(m)) if m.contains("handshake")));
    }

    #[test]
    fn over_a_relay_answers_carry_exactly_one_option_errors_none_and_stop_is_a_stop_header() {
        for (name, mut master, mut worker) in relays() {
            // A due instant makes a forked worker report its lateness; this one must not.
            let header = format!(r#"{{"dueHrtime":{}}}"#, sys::monotonic_now().0);
            for _ in 0..3 {
                master.send(&job(header.as_bytes(), b"{}")).unwrap();
            }

            worker.wait().unwrap().unwrap();
            worker.respond(b"hdr".to_vec(), b"OK".to_vec()).unwrap();
            let answer = recv(&mut master);
            assert_eq!(answer.flags, 0, "{name}: no codec bit");
            assert_eq!(answer.options, [3], "{name}: the header length only");
            assert_eq!(answer.payload, b"hdrOK", "{name}");

            worker.wait().unwrap().unwrap();
            worker.fail("boom").unwrap();
            let error = recv(&mut master);
            assert_eq!(error.flags, flags::ERROR, "{name}");
            assert!(error.options.is_empty(), "{name}: an error has no options");
            assert_eq!(error.payload, b"boom", "{name}");

            worker.wait().unwrap().unwrap();
            worker.stop().unwrap();
            let stop = recv(&mut master);
            assert_eq!(stop.flags, 0, "{name}");
            assert_eq!(stop.options, [13], "{name}");
            assert_eq!(
                stop.payload, br#"{"stop":true}"#,
                "{name}: the stop header, no body"
            );
        }
    }
}
