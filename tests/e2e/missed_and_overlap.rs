//! What becomes of ticks that come due while no worker may take them: every
//! combination of `ticker.missed` (skip, delay, burst) and `ticker.overlap` (true, false),
//! with deterministic handlers.
//!
//! The scenario: 100 ms interval, 2 workers. The first ticks (tick 0, and tick 1 too when
//! ticks may overlap, so that both workers are taken) sleep 3.5 intervals; every later tick
//! is quick. So about three ticks come due while no worker may start one. What becomes of
//! them is the policy's; the grid instants are read from the ticks' `dueHrtime`, which is
//! exact, so no assertion depends on how fast this machine is.

use std::time::Duration;

use crate::harness::{Php, assert_exactly_zero_to_k, ticks_logged};

const INTERVAL: u64 = 100_000_000;

/// A tick handled to the end, from its "done" entry in the journal.
#[derive(Debug)]
struct Done {
    tick: u64,
    skipped: u64,
    /// The header's `dueHrtime`, and hrtime(true) when the handler started and ended.
    due: u64,
    start: u64,
    end: u64,
}

/// Runs the scenario under `missed` and `overlap` until tick 9; the ticks handled, by number.
fn run(missed: &str, overlap: bool) -> (Vec<Done>, String) {
    let blocking = if overlap { 1 } else { 0 };
    let mut run = Php::new(&format!("policy-{missed}-{overlap}"))
        .yaml(&format!(
            "ticker:\n  interval: 100ms\n  missed: {missed}\n  overlap: {overlap}\n  pool:\n    num_workers: 2\n    destroy_timeout: 5s\n"
        ))
        .handler(&format!("if ($tick <= {blocking}) {{ usleep(350000); }}"))
        .env("TICKER_TEST_STOP_AT", "9")
        .start("journal.php");
    let exited = run.wait_exit(Duration::from_secs(30));
    exited.assert_success();
    run.assert_nothing_left();
    let mut done: Vec<Done> = exited
        .journal()
        .done()
        .iter()
        .map(|e| Done {
            tick: e.tick(),
            skipped: e.header_u64("skipped"),
            due: e.header_u64("dueHrtime"),
            start: e.u64("start"),
            end: e.u64("end"),
        })
        .collect();
    done.sort_by_key(|e| e.tick);
    assert!(
        done.len() >= 2,
        "ticks were handled: {done:?}\n{}",
        exited.stderr
    );
    (done, exited.stderr)
}

fn ticks(journal: &[Done]) -> Vec<u64> {
    journal.iter().map(|e| e.tick).collect()
}

/// Each tick's due instant relative to tick 0's, in intervals.
fn grid_offsets(journal: &[Done]) -> Vec<f64> {
    let first = journal[0].due;
    journal
        .iter()
        .map(|e| (e.due - first) as f64 / INTERVAL as f64)
        .collect()
}

fn assert_no_overlap(journal: &[Done]) {
    let mut spans: Vec<(u64, u64)> = journal.iter().map(|e| (e.start, e.end)).collect();
    spans.sort_unstable();
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "two ticks ran at once: {pair:?}");
    }
}

fn assert_some_overlap(journal: &[Done]) {
    let (a, b) = (&journal[0], &journal[1]);
    assert_eq!((a.tick, b.tick), (0, 1), "{journal:?}");
    assert!(b.start < a.end, "ticks 0 and 1 ran at once on two workers");
}

fn check_skip(journal: &[Done], stderr: &str) {
    let numbers = ticks(journal);
    let gaps: u64 = numbers.windows(2).map(|w| w[1] - w[0] - 1).sum();
    assert!(gaps >= 1, "some ticks were skipped: {numbers:?}");
    let reported: u64 = journal.iter().map(|e| e.skipped).sum();
    assert_eq!(reported, gaps, "every skipped tick is reported in a header");
    assert!(stderr.contains("skipped: no worker is free"), "{stderr}");
    for (offset, e) in grid_offsets(journal).iter().zip(journal) {
        assert_eq!(*offset, e.tick as f64, "skip keeps the grid: {journal:?}");
    }
}

fn check_delay(journal: &[Done], stderr: &str) {
    assert_exactly_zero_to_k(&ticks(journal));
    assert!(journal.iter().all(|e| e.skipped == 0), "{journal:?}");
    assert!(ticks_logged(stderr, "skipped").is_empty(), "{stderr}");
    let offsets = grid_offsets(journal);
    let steps: Vec<f64> = offsets.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        steps.iter().any(|&s| s > 1.5),
        "the grid moved on after the late tick: {steps:?}"
    );
    assert!(
        offsets
            .iter()
            .zip(journal)
            .any(|(o, e)| (*o - e.tick as f64).abs() > 0.5),
        "later ticks are off the original grid: {offsets:?}"
    );
}

fn check_burst(journal: &[Done], stderr: &str) {
    assert_exactly_zero_to_k(&ticks(journal));
    assert!(journal.iter().all(|e| e.skipped == 0), "{journal:?}");
    assert!(ticks_logged(stderr, "skipped").is_empty(), "{stderr}");
    for (offset, e) in grid_offsets(journal).iter().zip(journal) {
        assert_eq!(*offset, e.tick as f64, "burst keeps the grid: {journal:?}");
    }
    assert!(
        journal.iter().any(|e| e.start - e.due > INTERVAL),
        "the missed ticks ran late, as workers freed up"
    );
}

#[test]
fn skip_with_overlap() {
    let (journal, stderr) = run("skip", true);
    assert_some_overlap(&journal);
    check_skip(&journal, &stderr);
}

#[test]
fn skip_without_overlap() {
    let (journal, stderr) = run("skip", false);
    assert_no_overlap(&journal);
    check_skip(&journal, &stderr);
}

#[test]
fn delay_with_overlap() {
    let (journal, stderr) = run("delay", true);
    assert_some_overlap(&journal);
    check_delay(&journal, &stderr);
}

#[test]
fn delay_without_overlap() {
    let (journal, stderr) = run("delay", false);
    assert_no_overlap(&journal);
    check_delay(&journal, &stderr);
}

#[test]
fn burst_with_overlap() {
    let (journal, stderr) = run("burst", true);
    assert_some_overlap(&journal);
    check_burst(&journal, &stderr);
}

#[test]
fn burst_without_overlap() {
    let (journal, stderr) = run("burst", false);
    assert_no_overlap(&journal);
    check_burst(&journal, &stderr);
}

/// `delay` holds the grid while a tick waits; when `allocate_timeout` drops that tick the
/// grid must go on (it used to stay held, and ticking stopped for good).
#[test]
fn delay_goes_on_after_the_waiting_tick_is_dropped_by_allocate_timeout() {
    let mut run = Php::new("delay-allocate")
        .yaml(
            "ticker:\n  interval: 50ms\n  missed: delay\n  pool:\n    num_workers: 1\n    allocate_timeout: 120ms\n",
        )
        .env("TICKER_TEST_SLOW_TICK", "0")
        .env("TICKER_TEST_SLOW_MS", "600")
        .env("TICKER_TEST_STOP_AT", "6")
        .start("journal.php");
    let exited = run.wait_exit(Duration::from_secs(30));
    exited.assert_success();
    run.assert_nothing_left();
    assert!(
        exited
            .stderr
            .contains("tick 1 dropped: it waited allocate_timeout (120ms)"),
        "{}",
        exited.stderr
    );
    let done = exited.journal().done_ticks();
    assert!(
        done.iter().any(|&n| n >= 6),
        "ticking went on after the drop: {done:?}"
    );
    assert!(
        !exited.stderr.contains("skipped: no worker is free"),
        "delay never skips: {}",
        exited.stderr
    );
}
