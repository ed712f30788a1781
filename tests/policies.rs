//! End-to-end tests of what happens to ticks that come due while no worker may take them
//! (issue 5): every combination of `ticker.missed` (skip, delay, burst) and
//! `ticker.overlap` (true, false), with deterministic handlers, and the interval floor.
//!
//! The scenario: 100 ms interval, 2 workers. The first ticks (tick 0, and tick 1 too when
//! ticks may overlap, so that both workers are taken) sleep 3.5 intervals; every later tick
//! is quick. So about three ticks come due while no worker may start one. What becomes of
//! them is the policy's; the grid instants are read from the ticks' `dueHrtime`, which is
//! exact, so no assertion depends on how fast this machine is.

mod support;

use std::time::Duration;

use support::{App, Entry, assert_contiguous, journal_app, ticks};

const INTERVAL: u64 = 100_000_000;

fn run(missed: &str, overlap: bool) -> (Vec<Entry>, String) {
    let blocking = if overlap { 1 } else { 0 };
    let mut app = App::start(
        &format!("policy-{missed}-{overlap}"),
        &format!(
            "ticker:\n  interval: 100ms\n  missed: {missed}\n  overlap: {overlap}\n  pool:\n    num_workers: 2\n    destroy_timeout: 5s\n"
        ),
        &journal_app(&format!("if ($tick <= {blocking}) {{ usleep(350000); }}")),
        &["9"],
    );
    let done = app.finish(Duration::from_secs(30));
    assert!(done.status.success(), "{}", done.stderr);
    let mut journal = app.journal();
    journal.sort_by_key(|e| e.tick);
    (journal, done.stderr)
}

/// Each tick's due instant relative to tick 0's, in intervals.
fn grid_offsets(journal: &[Entry]) -> Vec<f64> {
    let first = journal[0].due;
    journal
        .iter()
        .map(|e| (e.due - first) as f64 / INTERVAL as f64)
        .collect()
}

fn assert_no_overlap(journal: &[Entry]) {
    let mut spans: Vec<(u64, u64)> = journal.iter().map(|e| (e.start, e.end)).collect();
    spans.sort_unstable();
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "two ticks ran at once: {pair:?}");
    }
}

fn assert_some_overlap(journal: &[Entry]) {
    let (a, b) = (&journal[0], &journal[1]);
    assert!(b.start < a.end, "ticks 0 and 1 ran at once on two workers");
}

fn check_skip(journal: &[Entry], stderr: &str) {
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

fn check_delay(journal: &[Entry], stderr: &str) {
    assert_contiguous(&ticks(journal));
    assert!(journal.iter().all(|e| e.skipped == 0), "{journal:?}");
    assert!(!stderr.contains("skipped"), "{stderr}");
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

fn check_burst(journal: &[Entry], stderr: &str) {
    assert_contiguous(&ticks(journal));
    assert!(journal.iter().all(|e| e.skipped == 0), "{journal:?}");
    assert!(!stderr.contains("skipped"), "{stderr}");
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

#[test]
fn a_100_microsecond_interval_ticks_and_a_shorter_one_is_refused() {
    let mut app = App::start(
        "interval-100us",
        "ticker:\n  interval: 100us\n  pool:\n    num_workers: 2\n    destroy_timeout: 5s\nlogs:\n  level: error\n",
        &journal_app(""),
        &["500"],
    );
    let done = app.finish(Duration::from_secs(30));
    assert!(done.status.success(), "{}", done.stderr);
    let journal = app.journal();
    assert!(journal.len() >= 100, "{} ticks", journal.len());
    let mut sorted = journal.clone();
    sorted.sort_by_key(|e| e.tick);
    for pair in sorted.windows(2) {
        let steps = pair[1].tick - pair[0].tick;
        assert_eq!(
            pair[1].due - pair[0].due,
            steps * 100_000,
            "on the 100µs grid"
        );
    }

    let mut refused = App::start(
        "interval-50us",
        "ticker:\n  interval: 50us\n",
        &journal_app(""),
        &[],
    );
    let done = refused.finish(Duration::from_secs(10));
    assert!(!done.status.success());
    assert!(
        done.stderr
            .contains("ticker.interval: 50µs is below the shortest interval of 100µs"),
        "{}",
        done.stderr
    );
}
