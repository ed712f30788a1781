//! A handler that answers `$worker->error()` or `$worker->stop()` instead of respond():
//! an error fails the tick and keeps the worker; a stop replaces the worker and
//! runs the tick again once, on another worker, and fails it if it stops again.
//!
//! In the journal such a tick has a "start" entry and no "done" entry.

use std::collections::BTreeSet;

use crate::harness::{DEADLINE, Php, assert_exactly_zero_to_k, pool_yaml};

#[test]
fn error_counts_the_tick_as_failed_and_the_worker_stays() {
    let mut run = Php::new("error")
        .yaml(&pool_yaml("30ms", "    num_workers: 1\n"))
        .handler("if ($tick === 2) { $worker->error('boom at 2'); return false; }")
        .env("TICKER_TEST_STOP_AT", "6")
        .start("journal.php");
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();
    assert!(
        exited.stderr.contains("tick 2 failed on worker"),
        "{}",
        exited.stderr
    );
    assert!(exited.stderr.contains("boom at 2"), "{}", exited.stderr);
    let journal = exited.journal();
    let starts = journal.events("start");
    let pids: BTreeSet<i32> = starts.iter().map(|e| e.pid).collect();
    assert_eq!(pids.len(), 1, "the same worker goes on: {starts:?}");
    let started: Vec<u64> = starts.iter().map(|e| e.tick()).collect();
    assert_exactly_zero_to_k(&started);
    assert!(
        !journal.done_ticks().contains(&2),
        "tick 2 was answered with an error, not respond()"
    );
    run.assert_nothing_left();
}

#[test]
fn stop_reruns_the_tick_once_on_another_worker() {
    let mut run = Php::new("stop")
        .yaml(&pool_yaml("50ms", "    num_workers: 2\n"))
        .handler("if ($tick === 2 && $header['attempt'] === 1) { $worker->stop(); return false; }")
        .env("TICKER_TEST_STOP_AT", "6")
        .start("journal.php");
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();
    let journal = exited.journal();
    let starts = journal.events("start");
    let runs: Vec<_> = starts.iter().filter(|e| e.tick == Some(2)).collect();
    assert_eq!(runs.len(), 2, "tick 2 runs twice: {starts:?}");
    assert_eq!(
        (runs[0].header_u64("attempt"), runs[1].header_u64("attempt")),
        (1, 2)
    );
    assert_ne!(runs[0].pid, runs[1].pid, "the re-run is on another worker");
    assert!(
        starts
            .iter()
            .filter(|e| e.pid == runs[0].pid)
            .all(|e| e.tick() <= 2),
        "the stopping worker takes no further tick"
    );
    assert!(
        exited
            .stderr
            .contains("tick 2 runs again on another worker"),
        "{}",
        exited.stderr
    );
    run.assert_nothing_left();
}

#[test]
fn a_tick_that_stops_twice_is_failed_not_retried_again() {
    let mut run = Php::new("stop-twice")
        .yaml(&pool_yaml("50ms", "    num_workers: 2\n"))
        .handler("if ($tick === 1) { $worker->stop(); return false; }")
        .env("TICKER_TEST_STOP_AT", "5")
        .start("journal.php");
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();
    let runs = exited
        .journal()
        .events("start")
        .iter()
        .filter(|e| e.tick == Some(1))
        .count();
    assert_eq!(runs, 2, "one re-run only");
    assert!(
        exited.stderr.contains("tick 1 failed: worker"),
        "{}",
        exited.stderr
    );
    run.assert_nothing_left();
}
