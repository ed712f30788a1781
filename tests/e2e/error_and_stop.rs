//! A handler that answers `$worker->error()` or `$worker->stop()` instead of respond():
//! an error fails the tick and keeps the worker; a stop replaces the worker and
//! runs the tick again once, on another worker, and fails it if it stops again.
//!
//! In the journal such a tick has a "start" entry and no "done" entry.

use std::collections::BTreeSet;

use crate::harness::{DEADLINE, Php, assert_gaps_explained, pool_yaml, ticks_logged};

/// The one tick a run's handler picked, as the master's stderr names it on the line that
/// contains `what`.
fn the_tick_logged(stderr: &str, what: &str) -> u64 {
    let ticks = ticks_logged(stderr, what);
    assert_eq!(
        ticks.len(),
        1,
        "one tick {what}: {ticks:?}\n--- stderr ---\n{stderr}"
    );
    ticks.into_iter().next().expect("one")
}

// The handlers below pick the first tick from 2 on rather than tick 2: on a loaded machine
// tick 2 may be skipped (it came due while the one worker was busy and another tick already
// waited), and the test is about what happens to the tick picked, whichever it is.

#[test]
fn error_counts_the_tick_as_failed_and_the_worker_stays() {
    let mut run = Php::new("error")
        .yaml(&pool_yaml("30ms", "    num_workers: 1\n"))
        .handler(
            "if ($tick >= 2 && !isset($GLOBALS['failed_one'])) { \
             $GLOBALS['failed_one'] = $tick; $worker->error(\"boom at $tick\"); return false; }",
        )
        .env("TICKER_TEST_STOP_AT", "6")
        .start("journal.php");
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();
    let failed = the_tick_logged(&exited.stderr, "failed on worker");
    assert!(failed >= 2, "{}", exited.stderr);
    assert!(
        exited.stderr.contains(&format!("boom at {failed}")),
        "{}",
        exited.stderr
    );
    let journal = exited.journal();
    let starts = journal.events("start");
    let pids: BTreeSet<i32> = starts.iter().map(|e| e.pid).collect();
    assert_eq!(pids.len(), 1, "the same worker goes on: {starts:?}");
    let started: Vec<u64> = starts.iter().map(|e| e.tick()).collect();
    assert!(
        started.iter().any(|&tick| tick > failed),
        "the worker took ticks after the failed one: {started:?}"
    );
    // Each tick ran once (a failed tick is not run again), and a number that never ran was
    // skipped, as the master logged: at 30 ms with one worker, whether any is skipped is the
    // machine's business.
    assert_gaps_explained(&started, &exited.stderr, &[]);
    assert!(
        !journal.done_ticks().contains(&failed),
        "tick {failed} was answered with an error, not respond()"
    );
    run.assert_nothing_left();
}

#[test]
fn stop_reruns_the_tick_once_on_another_worker() {
    // The first worker to see a tick from 2 on stops at it, once across both workers (an
    // atomic mkdir picks it).
    let mut run = Php::new("stop")
        .yaml(&pool_yaml("50ms", "    num_workers: 2\n"))
        .handler(
            "if ($tick >= 2 && $header['attempt'] === 1 && @mkdir(__DIR__ . '/stopped-once')) { \
             $worker->stop(); return false; }",
        )
        .env("TICKER_TEST_STOP_AT", "6")
        .start("journal.php");
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();
    let stopped = the_tick_logged(&exited.stderr, "runs again on another worker");
    assert!(stopped >= 2, "{}", exited.stderr);
    let journal = exited.journal();
    let starts = journal.events("start");
    let runs: Vec<_> = starts.iter().filter(|e| e.tick == Some(stopped)).collect();
    assert_eq!(runs.len(), 2, "tick {stopped} runs twice: {starts:?}");
    assert_eq!(
        (runs[0].header_u64("attempt"), runs[1].header_u64("attempt")),
        (1, 2)
    );
    assert_ne!(runs[0].pid, runs[1].pid, "the re-run is on another worker");
    assert!(
        starts
            .iter()
            .filter(|e| e.pid == runs[0].pid)
            .all(|e| e.tick() <= stopped),
        "the stopping worker takes no further tick"
    );
    assert!(
        journal.done_ticks().contains(&stopped),
        "the re-run of tick {stopped} was answered"
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
