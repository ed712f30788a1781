//! The floor under "round trips per second": a master and two workers in plain Rust that do
//! nothing but pass the extension's goridge frames over socket pairs, with no PHP at all,
//! through the master's own poller and channels.
//!
//! Whatever a PHP worker adds (the interpreter, `json_decode`, building the answer) comes on
//! top of this, so no design with one process per worker beats it on the same machine; the
//! benchmark reports it next to the two systems (`bench/README.md`, measurement 2).
//!
//!   cargo run --release --example roundtrip_floor -- [PAD_BYTES [SECONDS [WORKERS]]]
//!
//! Prints one JSON line: {"workers":2,"pad":1024,"seconds":2.0,"round_trips":N,"per_s":R}.

use std::os::fd::AsFd;
use std::time::Duration;

use ticker::frame::MAX_PAYLOAD;
use ticker::message::{FromWorker, ToWorker};
use ticker::sys::{self, Forked};
use ticker::transport::{Channel, Filled};

fn main() {
    let mut args = std::env::args().skip(1);
    let pad: usize = args.next().map_or(1024, |a| a.parse().expect("PAD_BYTES"));
    let seconds: f64 = args.next().map_or(2.0, |a| a.parse().expect("SECONDS"));
    let workers: usize = args.next().map_or(2, |a| a.parse().expect("WORKERS"));

    let mut channels = vec![];
    for _ in 0..workers {
        let (master_end, worker_end) = sys::socket_pair().expect("socket pair");
        match sys::fork().expect("fork") {
            Forked::Child => {
                drop(master_end);
                channels.clear();
                serve(Channel::socket(worker_end, MAX_PAYLOAD), pad);
                std::process::exit(0);
            }
            Forked::Parent(_) => {
                drop(worker_end);
                channels.push(Channel::socket(master_end, MAX_PAYLOAD));
            }
        }
    }

    // The same job a tick is: a JSON header of the usual size and a small body.
    let job = |n: u64| {
        ToWorker::Job {
        header: format!(
            r#"{{"lastTick":1764200000,"due":1764200000.123456,"dueHrtime":{n},"skipped":0,"attempt":1}}"#
        )
        .into_bytes(),
        body: format!(r#"{{"tick":{n}}}"#).into_bytes(),
    }
    };
    let mut sent = 0u64;
    for channel in &channels {
        channel.send(&job(sent).into_frame()).expect("send");
        sent += 1;
    }
    let start = sys::monotonic_now();
    let end = start + Duration::from_secs_f64(seconds);
    let mut answered = 0u64;
    let mut poller = sys::Poller::new().expect("poller");
    for (i, channel) in channels.iter().enumerate() {
        poller.add(channel.as_fd(), i as u64, false).expect("watch");
    }
    while sys::monotonic_now() < end {
        let ready = poller.wait(Some(Duration::from_millis(100))).expect("wait");
        for r in ready {
            let channel = &mut channels[r.token as usize];
            if let Filled::Closed = channel.fill().expect("read") {
                panic!("a worker died");
            }
            while let Some(frame) = channel.next_frame().expect("frame") {
                assert!(matches!(
                    FromWorker::from_frame(frame),
                    Ok(FromWorker::Answer { .. })
                ));
                answered += 1;
                channel.send(&job(sent).into_frame()).expect("send");
                sent += 1;
            }
        }
    }
    let took = sys::monotonic_now().since(start).as_secs_f64();
    drop(channels);
    println!(
        r#"{{"workers":{workers},"pad":{pad},"seconds":{took:.3},"round_trips":{answered},"per_s":{:.0}}}"#,
        answered as f64 / took
    );
}

fn serve(mut channel: Channel, pad: usize) {
    // As the extension's workers answer: with their lateness in a second option.
    let answer = FromWorker::Answer {
        header: vec![],
        body: vec![b'x'; pad],
        late: Some(Duration::from_micros(3)),
    };
    while let Ok(frame) = channel.recv() {
        let Ok(ToWorker::Job { .. }) = ToWorker::from_frame(frame) else {
            return;
        };
        if channel.send(&answer.clone().into_frame()).is_err() {
            return;
        }
    }
}
