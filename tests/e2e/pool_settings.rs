//! Pool settings: the `ticker.pool` keys that replace or kill workers, or drop
//! ticks, each shown acting on real workers: `max_jobs`, `debug`, `supervisor.exec_ttl`,
//! `supervisor.max_worker_memory`, `supervisor.ttl` and `idle_ttl`, `allocate_timeout`.
//! (`destroy_timeout` is in signals.rs, `reset_timeout` in operator.rs.)

use std::collections::{BTreeMap, BTreeSet};

use crate::harness::{
    DEADLINE, Php, assert_exactly_zero_to_k, assert_gaps_explained, command_mode, pool_yaml,
};

#[test]
fn max_jobs_replaces_workers_every_few_ticks_without_a_gap() {
    // A tick handed to a fresh fork waits until the child first runs, and a tick is skipped
    // if neither worker is free two intervals later: at 100ms the forks get 200ms, which a
    // loaded 2-core machine gives them. A command-started replacement boots PHP first, and
    // must be ready before the other worker retires too: at 300ms it gets 900ms.
    let interval = if command_mode() { "300ms" } else { "100ms" };
    let mut run = Php::new("max-jobs")
        .yaml(&pool_yaml(
            interval,
            "    num_workers: 2\n    max_jobs: 3\n",
        ))
        .env("TICKER_TEST_STOP_AT", "17")
        .start("journal.php");
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();
    let journal = exited.journal();
    let done = journal.done();
    assert_exactly_zero_to_k(&journal.done_ticks());
    let mut per_pid: BTreeMap<i32, usize> = BTreeMap::new();
    for e in &done {
        *per_pid.entry(e.pid).or_default() += 1;
    }
    assert!(per_pid.values().all(|&n| n <= 3), "{per_pid:?}");
    assert!(per_pid.len() >= 6, "18 ticks at 3 per worker: {per_pid:?}");
    assert!(
        exited.stderr.contains("it handled max_jobs (3) ticks"),
        "{}",
        exited.stderr
    );
    assert!(
        done.iter().all(|e| e.header_u64("skipped") == 0),
        "no tick was missed"
    );
    run.assert_nothing_left();
}

#[test]
fn debug_mode_gives_every_tick_a_fresh_worker() {
    // A fork is ready at once; a command-started worker boots PHP first, which may take
    // longer than an interval on a loaded machine: ticks due meanwhile are skipped.
    let interval = if command_mode() { "200ms" } else { "40ms" };
    let mut run = Php::new("debug")
        .yaml(&pool_yaml(
            interval,
            "    num_workers: 2\n    debug: true\n",
        ))
        .env("TICKER_TEST_STOP_AT", "7")
        .start("journal.php");
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();
    let journal = exited.journal();
    let done = journal.done();
    if command_mode() {
        assert_gaps_explained(&journal.done_ticks(), &exited.stderr, &[]);
        assert!(done.len() >= 4, "{:?}", journal.done_ticks());
    } else {
        assert!(
            done.len() >= 8,
            "ran until tick 7: {:?}",
            journal.done_ticks()
        );
    }
    let pids: BTreeSet<i32> = done.iter().map(|e| e.pid).collect();
    assert_eq!(pids.len(), done.len(), "one pid per tick: {done:?}");
    run.assert_nothing_left();
}

#[test]
fn exec_ttl_kills_a_handler_that_runs_too_long_and_ticking_goes_on() {
    let mut run = Php::new("exec-ttl")
        .yaml(&pool_yaml(
            "50ms",
            "    num_workers: 2\n    supervisor:\n      exec_ttl: 300ms\n",
        ))
        .env("TICKER_TEST_SLOW_TICK", "1")
        .env("TICKER_TEST_SLOW_MS", "30000")
        .env("TICKER_TEST_STOP_AT", "8")
        .start("journal.php");
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();
    assert!(
        exited
            .stderr
            .contains("ran tick 1 for longer than exec_ttl (300ms)"),
        "{}",
        exited.stderr
    );
    assert!(exited.stderr.contains("tick 1 failed"), "{}", exited.stderr);
    let journal = exited.journal();
    assert!(journal.started(1).is_some(), "tick 1 reached a worker");
    let done = journal.done_ticks();
    assert!(!done.contains(&1), "tick 1 never finished: {done:?}");
    assert!(done.contains(&8), "ticking went on: {done:?}");
    run.assert_nothing_left();
}

#[test]
fn max_worker_memory_replaces_a_worker_that_allocates() {
    let mut run = Php::new("memory")
        .yaml(&pool_yaml(
            "50ms",
            "    num_workers: 1\n    supervisor:\n      watch_tick: 100ms\n      max_worker_memory: 40\n",
        ))
        .handler("if ($tick === 2) { $GLOBALS['ballast'] = str_repeat('x', 80 * 1024 * 1024); }")
        .start("journal.php");
    run.wait_for("a replacement", |run| {
        run.stderr().contains("above max_worker_memory (40 MB)")
    });
    run.wait_for("ticks on the new worker", |run| {
        let pids: BTreeSet<i32> = run.journal().done().iter().map(|e| e.pid).collect();
        pids.len() >= 2
    });
    run.stop_with(libc::SIGTERM);
    run.assert_nothing_left();
}

#[test]
fn ttl_and_idle_ttl_replace_workers() {
    // Both workers outlive ttl at once and are forked again: see max_jobs for the interval.
    let mut run = Php::new("ttl")
        .yaml(&pool_yaml(
            "100ms",
            "    num_workers: 2\n    supervisor:\n      watch_tick: 100ms\n      ttl: 400ms\n",
        ))
        .start("journal.php");
    run.wait_for("a ttl replacement", |run| {
        run.stderr().contains("lived longer than ttl (400ms)")
    });
    let n = run.journal().done().len();
    run.wait_done(n + 5);
    let exited = run.stop_with(libc::SIGTERM);
    if command_mode() {
        // Both replacements boot PHP before they take a tick: ticks due meanwhile are
        // skipped, and logged.
        assert_gaps_explained(&exited.journal().done_ticks(), &exited.stderr, &[]);
    } else {
        assert_exactly_zero_to_k(&exited.journal().done_ticks());
    }
    run.assert_nothing_left();

    let mut idle = Php::new("idle-ttl")
        .yaml(&pool_yaml(
            "10s",
            "    num_workers: 1\n    supervisor:\n      watch_tick: 100ms\n      idle_ttl: 200ms\n",
        ))
        .start("journal.php");
    idle.wait_for("an idle_ttl replacement", |run| {
        run.stderr().contains("idle longer than idle_ttl (200ms)")
    });
    idle.stop_with(libc::SIGTERM);
    idle.assert_nothing_left();
}

#[test]
fn allocate_timeout_drops_a_tick_that_waits_too_long() {
    let mut run = Php::new("allocate")
        .yaml(&pool_yaml(
            "50ms",
            "    num_workers: 1\n    allocate_timeout: 120ms\n",
        ))
        .env("TICKER_TEST_SLOW_TICK", "0")
        .env("TICKER_TEST_SLOW_MS", "600")
        .env("TICKER_TEST_STOP_AT", "14")
        .start("journal.php");
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();
    assert!(
        exited
            .stderr
            .contains("waited allocate_timeout (120ms) for a free worker"),
        "{}",
        exited.stderr
    );
    let journal = exited.journal();
    let done = journal.done();
    let after = done
        .iter()
        .find(|e| e.tick() > 0)
        .expect("a tick after tick 0");
    assert!(
        after.tick() > 1,
        "the waiting tick 1 was dropped: {}",
        after.raw
    );
    assert!(
        after.header_u64("skipped") > 0,
        "the drop shows in the next header: {}",
        after.raw
    );
    run.assert_nothing_left();
}
