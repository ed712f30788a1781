//! Stopping the master: SIGTERM and SIGINT, in-flight ticks, destroy_timeout, a second
//! signal.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::harness::{Php, Running, assert_skips_accounted, is_alive};

/// Two workers tick; `signal` stops them: exit 0, every tick handed out handled to its end,
/// nothing left behind.
fn stops_cleanly_on(signal: libc::c_int, name: &str) {
    let mut run = Php::new(name)
        .config("config/two_workers.yaml")
        .start("journal.php");
    run.wait_done(5);
    let workers = run.workers();
    assert_eq!(workers.len(), 2, "two workers run");
    let exited = run.stop_with(signal);

    let journal = exited.journal();
    // The stop cut no tick short: each one a worker started, it finished. Which numbers
    // were handed out at all is the machine's business at 30 ms (a tick that comes due while
    // both workers are busy and another waits is skipped), and the master accounts for it.
    let started: BTreeSet<u64> = journal.events("start").iter().map(|e| e.tick()).collect();
    let done: BTreeSet<u64> = journal.done_ticks().into_iter().collect();
    assert_eq!(
        started, done,
        "a tick was started and not finished\n{}",
        exited.stderr
    );
    assert_skips_accounted(&journal, &exited.stderr);
    // Every worker was told to stop: its waitPayload() returned null and its loop ended;
    // so did the master's.
    let ended: BTreeSet<i32> = journal.events("end").iter().map(|e| e.pid).collect();
    for pid in workers.iter().chain([&run.pid]) {
        assert!(
            ended.contains(pid),
            "the loop of {pid} ended: {ended:?}\n{}",
            exited.stderr
        );
    }
    run.assert_nothing_left();
}

#[test]
fn a_worker_told_to_stop_has_destroy_timeout_for_what_follows_its_loop() {
    // A worker's channel closes when its loop ends; what the application does after it
    // (here a shutdown function of 1.5 s, as an exit of hundreds of workers at once can
    // take) must not be cut short as if the worker hung: it has destroy_timeout (5 s).
    // Registered at a worker's first tick, so that it runs in workers only, forked or
    // started from a command.
    let mut run = Php::new("slow-exit")
        .config("config/two_workers.yaml")
        .handler(
            r#"
if (!isset($GLOBALS['slow_exit'])) {
    $GLOBALS['slow_exit'] = true;
    register_shutdown_function(function () use ($journal): void {
        usleep(1_500_000);
        record($journal, ['event' => 'exited', 'pid' => getmypid()]);
    });
}
"#,
        )
        .start("journal.php");
    run.wait_done(3);
    let exited = run.stop_with(libc::SIGTERM);

    let journal = exited.journal();
    let pids =
        |event: &str| -> BTreeSet<i32> { journal.events(event).iter().map(|e| e.pid).collect() };
    let handled = pids("start");
    assert!(!handled.is_empty());
    assert_eq!(
        pids("exited"),
        handled,
        "\n--- stderr ---\n{}",
        exited.stderr
    );
    assert!(!exited.stderr.contains("killing it"), "{}", exited.stderr);
    run.assert_nothing_left();
}

#[test]
fn sigterm_stops_the_master_with_status_0_and_leaves_no_process() {
    stops_cleanly_on(libc::SIGTERM, "sigterm");
}

#[test]
fn sigint_stops_the_master_with_status_0_and_leaves_no_process() {
    stops_cleanly_on(libc::SIGINT, "sigint");
}

/// One worker; tick 1 sleeps `slow_ms`. Returns once tick 1 has started, with the pid of
/// the worker that holds it.
fn start_with_slow_tick(name: &str, config: &str, slow_ms: u64) -> (Running, i32) {
    let run = Php::new(name)
        .config(config)
        .env("TICKER_TEST_SLOW_TICK", "1")
        .env("TICKER_TEST_SLOW_MS", slow_ms.to_string())
        .start("journal.php");
    let started = run.wait_started(1);
    (run, started.pid)
}

/// CLOCK_MONOTONIC in ns: PHP's hrtime(true), which the journal's instants are on.
fn hrtime() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[test]
fn sigterm_lets_the_tick_in_flight_finish() {
    // Tick 1 takes 2 s: the margin this test has to send SIGTERM while it runs, which a
    // loaded machine may eat into. The run checks that it did.
    let (mut run, worker) = start_with_slow_tick("in-flight", "config/one_worker.yaml", 2000);
    let signalled_at = hrtime();
    let exited = run.stop_with(libc::SIGTERM);
    let journal = exited.journal();
    let finished = journal
        .done()
        .into_iter()
        .find(|e| e.tick == Some(1))
        .unwrap_or_else(|| {
            panic!(
                "tick 1 finished after the SIGTERM: {:?}\n{}",
                journal.done_ticks(),
                exited.stderr
            )
        });
    assert!(
        finished.u64("end") > signalled_at,
        "tick 1 had finished before the SIGTERM was sent: the test came too late"
    );
    assert!(
        journal.events("start").iter().all(|e| e.tick() <= 1),
        "no tick started after the SIGTERM: {:?}",
        journal.entries
    );
    assert!(
        journal.events("end").iter().any(|e| e.pid == worker),
        "the worker was told to stop after its tick"
    );
    run.assert_nothing_left();
}

#[test]
fn destroy_timeout_bounds_the_wait_for_a_busy_worker() {
    // destroy_timeout is 300ms; the tick would take 30s.
    let (mut run, worker) =
        start_with_slow_tick("destroy-timeout", "config/quick_destroy.yaml", 30_000);
    run.signal(libc::SIGTERM);
    let exited = run.wait_exit(Duration::from_secs(10));
    exited.assert_success();
    assert!(
        !exited.journal().done_ticks().contains(&1),
        "tick 1 never finished"
    );
    assert!(!is_alive(worker), "the busy worker was killed");
    run.assert_nothing_left();
}

#[test]
fn a_second_signal_kills_the_workers_at_once() {
    // destroy_timeout is 60s; the tick would take 30s.
    let (mut run, worker) =
        start_with_slow_tick("second-signal", "config/slow_destroy.yaml", 30_000);
    run.signal(libc::SIGTERM);
    // The master waits for the busy worker...
    run.wait_for("the master to log that it stops", |run| {
        run.stderr().contains("stopping")
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(run.is_running(), "the master waits for its busy worker");
    assert!(is_alive(worker), "the busy worker still runs");
    // ...until a second signal.
    run.signal(libc::SIGINT);
    let exited = run.wait_exit(Duration::from_secs(10));
    exited.assert_success();
    assert!(!is_alive(worker), "the busy worker was killed");
    assert!(
        !exited.journal().done_ticks().contains(&1),
        "tick 1 never finished"
    );
    // The log says what cut the stop short: the second signal, not destroy_timeout (60s),
    // which never passed.
    assert!(
        exited
            .stderr
            .contains("(SIGINT) again: a second signal cuts the graceful stop short"),
        "{}",
        exited.stderr
    );
    assert!(
        exited.stderr.contains(&format!(
            "worker {worker} had not stopped when a second SIGINT cut the graceful stop short"
        )),
        "{}",
        exited.stderr
    );
    assert!(
        !exited.stderr.contains("destroy_timeout"),
        "{}",
        exited.stderr
    );
    run.assert_nothing_left();
}

#[test]
fn destroy_timeout_bounds_a_graceful_stop() {
    // destroy_timeout is 300ms; tick 0 would take 30s.
    let mut run = Php::new("destroy")
        .yaml(
            "ticker:\n  interval: 30ms\n  pool:\n    num_workers: 1\n    destroy_timeout: 300ms\n",
        )
        .env("TICKER_TEST_SLOW_TICK", "0")
        .env("TICKER_TEST_SLOW_MS", "30000")
        .start("journal.php");
    run.wait_started(0);
    let exited = run.stop_with(libc::SIGTERM);
    assert!(
        exited
            .stderr
            .contains("destroy_timeout (300ms) passed: killing 1 workers"),
        "{}",
        exited.stderr
    );
    assert!(exited.stderr.contains("tick 0 failed"), "{}", exited.stderr);
    run.assert_nothing_left();
}
