//! Ticks: numbering, the workers that take them, body and header, skips, the shortest
//! interval.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::harness::{
    DEADLINE, Php, assert_gaps_explained, assert_no_duplicates, assert_skips_accounted, fixture,
    pool_yaml, ticks_logged,
};

#[test]
fn ticks_are_numbered_from_zero_each_once_and_handled_by_the_pools_own_workers() {
    let mut run = Php::new("numbering")
        .config("config/two_workers.yaml")
        .env("TICKER_TEST_STOP_AT", "19")
        .start("journal.php");
    run.wait_for("two workers", |run| run.workers().len() == 2);
    let workers_at_start = run.workers();
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();

    let journal = exited.journal();
    let ticks = journal.done_ticks();
    assert_eq!(
        ticks.iter().min(),
        Some(&0),
        "numbering starts at 0: {ticks:?}"
    );
    assert!(
        ticks.iter().any(|&tick| tick >= 19),
        "ran until tick 19: {ticks:?}"
    );
    // Every tick handed out was handled, and no number twice; a number never handed out
    // was skipped (at 30 ms, the machine decides whether any is), and says so.
    assert_eq!(
        journal.events("start").len(),
        ticks.len(),
        "every tick handed out was handled: {:?}",
        journal.entries
    );
    assert_skips_accounted(&journal, &exited.stderr);

    // Which of them takes a tick is the pool's rule (the one idle last), tested without
    // processes; here: the two workers, and nothing else, handled the ticks.
    let pids: BTreeSet<i32> = journal.done().iter().map(|e| e.pid).collect();
    let workers: BTreeSet<i32> = workers_at_start.iter().copied().collect();
    assert!(
        !pids.is_empty() && pids.is_subset(&workers),
        "ticks handled by {pids:?}, the workers are {workers:?}"
    );
    let master = journal.boot().pid;
    assert_eq!(master, run.pid);
    assert!(
        journal
            .done()
            .iter()
            .all(|e| e.u64("ppid") == master as u64),
        "workers are direct children of the master"
    );
    // The master's waitPayload() returned null at shutdown and its script went on.
    assert!(
        journal.events("end").iter().any(|e| e.pid == master),
        "the master's loop ended: {:?}",
        journal.events("end")
    );
    run.assert_nothing_left();
}

#[test]
fn body_and_header_are_as_documented_and_the_grid_does_not_drift() {
    const INTERVAL_NS: u64 = 200_000_000; // config/header.yaml
    // JSON logs, for the instant the master starts the grid: the `ts` of its "ticking" line.
    let header_yaml =
        std::fs::read_to_string(fixture("config/header.yaml")).expect("config/header.yaml");
    let mut run = Php::new("header")
        .yaml(&format!(
            "{header_yaml}logs:\n  level: info\n  encoding: json\n"
        ))
        .env("TICKER_TEST_STOP_AT", "4")
        .start("journal.php");
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();

    let journal = exited.journal();
    let mut done: Vec<_> = journal.done().into_iter().cloned().collect();
    done.sort_by_key(|e| e.tick());
    let ticks: Vec<u64> = done.iter().map(|e| e.tick()).collect();
    assert_eq!(ticks.first(), Some(&0), "{ticks:?}");
    assert!(
        ticks.iter().any(|&tick| tick >= 4),
        "ran until tick 4: {ticks:?}"
    );
    assert_skips_accounted(&journal, &exited.stderr);

    // Tick 0 is due one interval after the master starts the grid, once the pool is up: after
    // the script booted, and after a command-started worker booted. How long after is the
    // machine's business, so the master's own line about it stands in for the instant: it is
    // stamped just after the grid starts, on another clock (the logger's, not the grid's
    // mapping to Unix time); a master preempted in between stamps it late. Half an interval
    // either way still tells one interval from two.
    let first_due = done[0].header()["dueHrtime"].as_u64().expect("dueHrtime");
    let boot = journal.boot().u64("hrtime");
    let pool_up = journal
        .events("worker-boot")
        .iter()
        .map(|e| e.u64("hrtime"))
        .filter(|&at| at < first_due)
        .fold(boot, u64::max);
    assert!(
        first_due >= pool_up + INTERVAL_NS,
        "tick 0 due {} ns after the pool's last boot, less than one interval ({INTERVAL_NS})",
        first_due as i128 - pool_up as i128
    );
    let ticking_since = exited
        .stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| {
            line["msg"]
                .as_str()
                .is_some_and(|m| m.contains(" ticking every "))
        })
        .and_then(|line| line["ts"].as_f64())
        .unwrap_or_else(|| {
            panic!(
                "no \"ticking every\" line\n--- stderr ---\n{}",
                exited.stderr
            )
        });
    let due = done[0].header()["due"].as_f64().expect("due");
    let lead_ns = ((due - ticking_since) * 1e9) as i64;
    let interval = INTERVAL_NS as i64;
    assert!(
        lead_ns > interval / 2 && lead_ns < interval + interval / 2,
        "tick 0 due {lead_ns} ns after the master started ticking; expected one interval \
         ({INTERVAL_NS})"
    );

    let mut previous_due: Option<f64> = None;
    for entry in &done {
        let n = entry.tick();
        let body: serde_json::Value = serde_json::from_str(entry.body()).expect("body is JSON");
        assert_eq!(body, serde_json::json!({ "tick": n }), "body of tick {n}");

        let header = entry.header();
        let keys: BTreeSet<&str> = header
            .as_object()
            .expect("header is an object")
            .keys()
            .map(String::as_str)
            .collect();
        for key in ["lastTick", "due", "dueHrtime", "skipped", "attempt"] {
            assert!(
                keys.contains(key),
                "header of tick {n} lacks {key}: {header}"
            );
        }
        assert_eq!(header["attempt"], 1, "tick {n}: {header}");

        // No drift: tick n is due exactly n intervals after tick 0.
        let due_hr = header["dueHrtime"]
            .as_u64()
            .expect("dueHrtime is an integer");
        assert_eq!(due_hr - first_due, n * INTERVAL_NS, "dueHrtime of tick {n}");
        // dueHrtime is on hrtime(true)'s clock: the handler started after it, not long after.
        // Never before: a tick handed over early is held by waitPayload() until it is due.
        let started = entry.u64("start");
        assert!(
            started >= due_hr && started - due_hr < 5_000_000_000,
            "tick {n} started at hrtime {started}, due at {due_hr}"
        );

        // `due` is unix seconds: the handler's wall clock is at or just past it.
        let due = header["due"].as_f64().expect("due is a number");
        let wall = entry.raw["wall"].as_f64().expect("wall");
        assert!(
            due <= wall + 0.05 && wall - due < 5.0,
            "tick {n} due at {due}, started at unix {wall}"
        );

        match previous_due {
            None => assert!(header["lastTick"].is_null(), "tick 0: {header}"),
            Some(previous) => assert_eq!(
                header["lastTick"].as_u64(),
                Some(previous.floor() as u64),
                "lastTick of tick {n} is the previous tick's due second: {header}"
            ),
        }
        previous_due = Some(due);
    }
    run.assert_nothing_left();
}

#[test]
fn a_slow_handler_makes_ticks_skip_and_the_skips_are_counted_and_logged() {
    // One worker, 40ms interval, every tick sleeps 3.5 intervals.
    let mut run = Php::new("skips")
        .config("config/one_worker.yaml")
        .env("TICKER_TEST_SLEEP_MS", "140")
        .start("journal.php");
    run.wait_done(6);
    let exited = run.stop_with(libc::SIGTERM);

    let journal = exited.journal();
    let ticks = journal.done_ticks();
    assert_no_duplicates(&ticks);
    let skipped_logged = ticks_logged(&exited.stderr, "skipped");
    assert!(
        !skipped_logged.is_empty(),
        "the master logs skipped ticks\n--- stderr ---\n{}",
        exited.stderr
    );
    let delivered: BTreeSet<u64> = ticks.iter().copied().collect();
    assert!(
        skipped_logged.is_disjoint(&delivered),
        "a tick logged as skipped was delivered: {skipped_logged:?} / {delivered:?}"
    );
    // Gaps in the numbering are exactly the logged skips (and, at the end, the tick that
    // waited when the stop came), each counted in a later header.
    assert_gaps_explained(&ticks, &exited.stderr, &[]);
    assert_skips_accounted(&journal, &exited.stderr);
    let headers: Vec<u64> = journal
        .done()
        .iter()
        .map(|e| e.header()["skipped"].as_u64().expect("skipped"))
        .collect();
    assert!(
        headers.iter().any(|&s| s > 0),
        "a later tick's header counts the skips: {headers:?}"
    );
    let counted: u64 = headers.iter().sum();
    assert!(
        counted as usize <= skipped_logged.len(),
        "headers count {counted} skips, the log {}",
        skipped_logged.len()
    );
    run.assert_nothing_left();
}

#[test]
fn the_default_config_is_dot_rr_yaml_in_the_current_directory() {
    let php = Php::new("default-file");
    let yaml = std::fs::read_to_string(fixture("config/two_workers.yaml")).expect("fixture");
    php.file(".rr.yaml", &yaml);
    let mut run = php.env("TICKER_TEST_STOP_AT", "2").start("journal.php");
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();
    // Tick 2 itself may be skipped on a loaded machine; a later one stops the run then.
    let ticks = exited.journal().done_ticks();
    assert!(ticks.iter().any(|&tick| tick >= 2), "ticks ran: {ticks:?}");
    run.assert_nothing_left();
}

#[test]
fn a_100_microsecond_interval_ticks_and_a_shorter_one_is_refused() {
    let mut run = Php::new("interval-100us")
        .yaml(&format!(
            "{}logs:\n  level: error\n",
            pool_yaml("100us", "    num_workers: 2\n")
        ))
        .start("journal.php");
    // How many of the ticks two workers can take at 10 kHz is this machine's business: the
    // test waits for 100 of them, however many were skipped meanwhile.
    run.wait_for_within("100 handled ticks", Duration::from_secs(30), |run| {
        run.journal().done().len() >= 100
    });
    let exited = run.stop_with(libc::SIGTERM);
    let journal = exited.journal();
    let mut done: Vec<_> = journal.done();
    done.sort_by_key(|e| e.tick());
    assert_no_duplicates(&journal.done_ticks());
    for pair in done.windows(2) {
        let steps = pair[1].tick() - pair[0].tick();
        assert_eq!(
            pair[1].header_u64("dueHrtime") - pair[0].header_u64("dueHrtime"),
            steps * 100_000,
            "on the 100µs grid: ticks {} and {}",
            pair[0].tick(),
            pair[1].tick()
        );
    }
    run.assert_nothing_left();

    let mut refused = Php::new("interval-50us")
        .yaml("ticker:\n  interval: 50us\n")
        .start("journal.php");
    let exited = refused.wait_exit(Duration::from_secs(10));
    assert!(!exited.status.success(), "{}", exited.stderr);
    assert!(
        exited
            .stderr
            .contains("ticker.interval: 50µs is below the shortest interval of 100µs"),
        "{}",
        exited.stderr
    );
    refused.assert_nothing_left();
}
