//! The master with workers linked over pipes, as command-started ones are: what a process
//! started from a command inherits, the pid handshake and its refusals, and a worker whose
//! stdin is full. The workers here are played by the test (a `sleep` child stands for the
//! process, for its pid), so every byte they send is chosen.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::launch::{Command, Launched, Launcher, Started};
use super::*;
use crate::config::{DEFAULT_NAME, Missed, ScheduleConfig};
use crate::frame::{Frame, MAX_PAYLOAD, flags};
use crate::message::{FromWorker, ToWorker};
use crate::pool::WorkerState;
use crate::transport::Channel;

/// The worker's side of one fake worker.
struct Fake {
    pid: Pid,
    child: std::process::Child,
    channel: Option<Channel>,
}

/// Starts `sleep` children and links each to the master by a pair of pipes, whose worker
/// ends the test holds.
#[derive(Default)]
struct Piped {
    handshake: Option<Duration>,
    fakes: Rc<RefCell<Vec<Fake>>>,
}

impl Launcher for Piped {
    fn launch(&mut self, _master: Pid) -> io::Result<Launched> {
        let child = std::process::Command::new("sleep").arg("30").spawn()?;
        let pid = child.id() as Pid;
        let (to_worker_r, to_worker_w) = sys::pipe()?;
        let (to_master_r, to_master_w) = sys::pipe()?;
        let channel = Channel::pipes(to_master_r, to_worker_w, MAX_PAYLOAD);
        channel.set_nonblocking()?;
        self.fakes.borrow_mut().push(Fake {
            pid,
            child,
            channel: Some(Channel::pipes(to_worker_r, to_master_w, MAX_PAYLOAD)),
        });
        Ok(Launched::Worker(Started {
            pid,
            channel,
            stderr: None,
            handshake: self.handshake,
        }))
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One pass of the master's loop, as [`Master::run`] makes it.
fn pass(master: &mut Master<'_>, signals: &SignalFd) {
    master.wait_and_handle(signals).expect("a pass of the loop");
    assert!(master.top_up().is_none(), "no fork here");
    master.enforce_deadlines();
    master.advance_reset();
    master.arm_timer();
}

/// Runs passes until `done` holds; fails after 20 s.
fn run_until(
    master: &mut Master<'_>,
    signals: &SignalFd,
    what: &str,
    done: impl Fn(&Master<'_>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done(master) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        pass(master, signals);
    }
}

fn config(workers: usize, interval: Duration) -> TickerConfig {
    let mut config = TickerConfig::default();
    config.pool.num_workers = workers;
    config.schedules = vec![ScheduleConfig::every(DEFAULT_NAME, interval, Missed::Skip)];
    config
}

fn started<'a>(config: &'a TickerConfig, signals: &SignalFd, launcher: Piped) -> Master<'a> {
    let descriptors = DescriptorNeed {
        in_use: vec![],
        loop_fds: LOOP_FDS,
        per_worker: 2,
        reserve: operator::FD_RESERVE as u64,
    };
    let mut master = Master::new(
        config,
        signals,
        Box::new(launcher),
        descriptors,
        &fallback_zone(None),
    )
    .expect("a master");
    assert!(master.top_up().is_none());
    master.ticking.start(sys::monotonic_now(), |_| None);
    master.arm_timer();
    master
}

/// Answers every job on `channel` until it closes; returns how many.
fn answer_jobs(mut channel: Channel) -> usize {
    let mut answered = 0;
    while let Ok(frame) = channel.recv() {
        if let Ok(ToWorker::Job { .. }) = ToWorker::from_frame(frame) {
            let answer = FromWorker::Answer {
                header: vec![],
                body: b"OK".to_vec(),
                late: None,
            };
            if channel.send(&answer.into_frame()).is_err() {
                break;
            }
            answered += 1;
        }
    }
    answered
}

#[test]
fn a_worker_whose_stdin_is_full_does_not_stall_the_others_and_gets_it_all_later() {
    let config = config(2, Duration::from_millis(10));
    let signals = SignalFd::new(&SIGNALS).unwrap();
    let launcher = Piped::default();
    let fakes = launcher.fakes.clone();
    let mut master = started(&config, &signals, launcher);
    // The worker that joined last takes the first tick (the pool hands a tick to the one
    // idle since last): that is the one whose stdin fills up.
    let (stuck, healthy) = {
        let mut fakes = fakes.borrow_mut();
        let healthy = fakes[0].channel.take().unwrap();
        ((fakes[1].pid, fakes[1].channel.take().unwrap()), healthy)
    };
    // Far more than a pipe holds (64 KiB), for a reader that does not read: the master
    // must queue it and go on.
    let big = Frame::new(0, vec![0], vec![7; 4 << 20]);
    let before = Instant::now();
    master.send(stuck.0, &big);
    master.send(stuck.0, &big);
    assert!(
        before.elapsed() < Duration::from_secs(1),
        "send() never blocks"
    );
    let queued = master.processes.queued(stuck.0);
    assert!(queued > 4 << 20, "the rest waits in the outbox: {queued}");

    let healthy = std::thread::spawn(move || answer_jobs(healthy));
    run_until(
        &mut master,
        &signals,
        "30 ticks done by the other worker",
        |m| m.pool.stats().completed >= 30,
    );
    assert!(
        matches!(
            master.pool.worker(stuck.0).unwrap().state,
            WorkerState::Busy { .. }
        ),
        "the stuck worker holds the tick queued behind the big frames"
    );

    // The stuck worker reads again: the master flushes its outbox as the pipe drains (it
    // watches the write end), and the frames arrive whole and in order.
    let (_, mut stuck_channel) = stuck;
    let reader = std::thread::spawn(move || {
        let first = stuck_channel.recv().unwrap();
        let second = stuck_channel.recv().unwrap();
        let tick = stuck_channel.recv().unwrap();
        (
            first.payload.len(),
            second.payload.len(),
            ToWorker::from_frame(tick),
        )
    });
    run_until(&mut master, &signals, "the outbox to empty", |m| {
        m.processes.queued(fakes.borrow()[1].pid) == 0
    });
    let (first, second, tick) = reader.join().unwrap();
    assert_eq!((first, second), (4 << 20, 4 << 20));
    assert!(matches!(tick, Ok(ToWorker::Job { .. })), "{tick:?}");
    drop(master);
    drop(fakes);
    assert!(healthy.join().unwrap() >= 30);
}

/// A pool of one worker that must answer a handshake, and what the test's worker received
/// first.
fn handshaking(timeout: Duration) -> (TickerConfig, Piped, Rc<RefCell<Vec<Fake>>>) {
    let launcher = Piped {
        handshake: Some(timeout),
        ..Piped::default()
    };
    let fakes = launcher.fakes.clone();
    (config(1, Duration::from_millis(20)), launcher, fakes)
}

fn worker_channel(fakes: &Rc<RefCell<Vec<Fake>>>, i: usize) -> Channel {
    fakes.borrow_mut()[i].channel.take().expect("taken once")
}

#[test]
fn a_worker_takes_no_tick_before_its_handshake_and_ticks_after_it() {
    let (config, launcher, fakes) = handshaking(Duration::from_secs(60));
    let signals = SignalFd::new(&SIGNALS).unwrap();
    let mut master = started(&config, &signals, launcher);
    let pid = fakes.borrow()[0].pid;
    let mut channel = worker_channel(&fakes, 0);
    let handshake = channel.recv().unwrap();
    assert_eq!(handshake.flags, flags::CONTROL | flags::CODEC_JSON);
    assert_eq!(
        handshake.payload,
        format!(r#"{{"pid":{},"lateness":true}}"#, master.me).into_bytes()
    );
    // Ticks come due meanwhile; none may go to it.
    std::thread::sleep(Duration::from_millis(100));
    for _ in 0..10 {
        pass(&mut master, &signals);
    }
    assert_eq!(
        master.pool.worker(pid).unwrap().state,
        WorkerState::Starting
    );
    assert_eq!(master.pool.stats().delivered, 0);
    assert_eq!(
        master.pool.serving(),
        1,
        "and no other worker is started for it"
    );
    assert_eq!(fakes.borrow().len(), 1);

    channel
        .send(&FromWorker::Pid(pid as u32).into_frame())
        .unwrap();
    let answering = std::thread::spawn(move || answer_jobs(channel));
    run_until(&mut master, &signals, "ticks on the ready worker", |m| {
        m.pool.stats().completed >= 3
    });
    drop(master);
    drop(fakes);
    answering.join().unwrap();
}

/// Starts workers that owe a handshake and lets `misbehave` play each of them: every one is
/// refused and replaced, with the crash-loop back-off, until the master gives up. Returns
/// its reason, which names the last refusal.
fn refused(timeout: Duration, misbehave: impl Fn(&mut Channel, Pid)) -> String {
    let (config, launcher, fakes) = handshaking(timeout);
    let signals = SignalFd::new(&SIGNALS).unwrap();
    let mut master = started(&config, &signals, launcher);
    let mut played = vec![];
    let deadline = Instant::now() + Duration::from_secs(60);
    while master.failure.is_none() {
        while played.len() < fakes.borrow().len() {
            let pid = fakes.borrow()[played.len()].pid;
            let mut channel = worker_channel(&fakes, played.len());
            channel.recv().unwrap();
            misbehave(&mut channel, pid);
            played.push(channel);
        }
        assert!(Instant::now() < deadline, "the master did not give up");
        pass(&mut master, &signals);
    }
    assert_eq!(
        master.pool.stats().delivered,
        0,
        "no refused worker took a tick"
    );
    assert_eq!(
        fakes.borrow().len(),
        crate::supervisor::MIN_STREAK_LIMIT as usize,
        "each refused worker was replaced until the streak ended it"
    );
    master.failure.clone().unwrap()
}

#[test]
fn a_wrong_handshake_is_refused_and_the_worker_replaced() {
    let why = refused(Duration::from_secs(60), |channel, _| {
        let zero = Frame::new(flags::CONTROL, vec![], br#"{"pid":0}"#.to_vec());
        channel.send(&zero).unwrap();
    });
    assert!(
        why.contains("was killed before it was ready: it answered its pid handshake wrongly"),
        "{why}"
    );

    let why = refused(Duration::from_secs(60), |channel, _| {
        let answer = FromWorker::Answer {
            header: vec![],
            body: b"OK".to_vec(),
            late: None,
        };
        channel.send(&answer.into_frame()).unwrap();
    });
    assert!(
        why.contains("it sent an answer instead of answering its pid handshake"),
        "{why}"
    );
}

#[test]
fn a_handshake_with_a_bad_crc_is_refused() {
    let why = refused(Duration::from_secs(60), |channel, pid| {
        let mut bytes = FromWorker::Pid(pid as u32).into_frame().encode();
        bytes[6] ^= 0xff;
        let write_end = channel.write_fd();
        nix::unistd::write(write_end, &bytes).unwrap();
    });
    assert!(
        why.contains("it sent a malformed frame instead of answering its pid handshake")
            && why.contains("CRC")
            && why.contains("print to stdout"),
        "{why}"
    );
}

#[test]
fn no_handshake_within_relay_timeout_is_refused() {
    let why = refused(Duration::from_millis(300), |_, _| {});
    assert!(
        why.starts_with("10 workers in a row died before finishing a tick"),
        "{why}"
    );
    assert!(
        why.contains("it did not answer its pid handshake within relay_timeout (300ms)"),
        "{why}"
    );
}

/// A process started from a command begins as RoadRunner's workers do: the channel on 0
/// and 1, stderr a pipe to the master, nothing else of the master's, no signal blocked,
/// a process group of its own, RoadRunner's environment.
#[test]
fn a_command_started_process_inherits_its_pipes_and_nothing_else() {
    // A descriptor PHP would have opened without close-on-exec (a database socket).
    let leaky = std::fs::File::open("/dev/null").unwrap();
    let leaky = OwnedFd::from(leaky);
    nix::fcntl::fcntl(
        leaky.as_fd(),
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .unwrap();
    // The master's signals are blocked in this thread, as in the master's.
    let _signals = SignalFd::new(&SIGNALS).unwrap();
    let script = "echo \"$RR_MODE $RR_RELAY $RR_VERSION\" >&2; exec sleep 30";
    let mut launcher = Command::of(&["sh", "-c", script], Duration::from_secs(60));
    let Launched::Worker(started) = launcher.launch(sys::getpid()).unwrap() else {
        panic!("a command is never this process");
    };
    assert_eq!(started.handshake, Some(Duration::from_secs(60)));
    let pid = started.pid;
    let stderr = started.stderr.expect("stderr is the master's to read");
    // The line the script wrote, through the master's non-blocking end.
    let mut line = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !line.ends_with(b"\n") {
        assert!(Instant::now() < deadline, "no line on stderr");
        let mut buf = [0u8; 256];
        match nix::unistd::read(stderr.as_fd(), &mut buf) {
            Ok(n) => line.extend_from_slice(&buf[..n]),
            Err(nix::errno::Errno::EAGAIN) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        String::from_utf8_lossy(&line),
        format!("ticker pipes {}\n", launch::RR_VERSION)
    );
    // By now `sleep` runs: what it was given.
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut fds = fds;
    fds.sort();
    assert_eq!(fds, ["0", "1", "2"], "not fd {}", leaky.as_raw_fd());
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let blocked = status.lines().find(|l| l.starts_with("SigBlk:")).unwrap();
    assert_eq!(blocked.split_whitespace().nth(1), Some("0000000000000000"));
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    assert_eq!(fields[2], pid.to_string(), "a process group of its own");
    let _ = sys::kill(pid, Signal::SIGKILL);
    while sys::try_reap(pid).unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(5));
    }
}
