//! What an operator does to a running master, and what it tells them: SIGHUP
//! resets the pool (bounded by `reset_timeout`), SIGTTIN and SIGTTOU resize it, the
//! `ticker status` command and the metrics endpoint report the figures, and the `logs`
//! section sets the log's level and encoding.

use std::collections::BTreeSet;

use crate::harness::{DEADLINE, Php, assert_exactly_zero_to_k, free_port, http_get, pool_yaml};

#[test]
fn sighup_replaces_every_worker_without_a_gap() {
    // The reset retires both idle workers at once. A tick handed to a fresh fork waits until
    // the child first runs, and a tick is skipped if both forks still have not run two
    // intervals later: at 100ms they get 200ms, which a loaded 2-core machine gives them
    // (at 20ms it once did not).
    let mut run = Php::new("sighup")
        .yaml(&pool_yaml("100ms", "    num_workers: 2\n"))
        .start("journal.php");
    run.wait_done(5);
    let before = run.workers();
    assert_eq!(before.len(), 2);
    run.signal(libc::SIGHUP);
    run.wait_for("two new workers", |run| {
        let now = run.workers();
        now.len() == 2 && now.iter().all(|p| !before.contains(p))
    });
    let after_reset = run.journal().done().len();
    run.wait_done(after_reset + 5);
    let exited = run.stop_with(libc::SIGTERM);
    assert!(
        exited.stderr.contains("reset (received SIGHUP)"),
        "{}",
        exited.stderr
    );
    assert!(exited.stderr.contains("reset done"), "{}", exited.stderr);
    let journal = exited.journal();
    assert_exactly_zero_to_k(&journal.done_ticks());
    assert!(
        journal.done().iter().all(|e| e.header_u64("skipped") == 0),
        "no tick missed"
    );
    run.assert_nothing_left();
}

#[test]
fn reset_timeout_kills_a_worker_that_stays_busy() {
    let mut run = Php::new("reset-timeout")
        .yaml(&pool_yaml(
            "50ms",
            "    num_workers: 2\n    reset_timeout: 300ms\n",
        ))
        .env("TICKER_TEST_SLOW_TICK", "0")
        .env("TICKER_TEST_SLOW_MS", "30000")
        .start("journal.php");
    run.wait_done(2);
    run.signal(libc::SIGHUP);
    run.wait_for("the reset to end by force", |run| {
        run.stderr().contains("reset_timeout (300ms) passed")
    });
    let exited = run.stop_with(libc::SIGTERM);
    assert!(
        exited
            .stderr
            .contains("was not replaced within reset_timeout"),
        "{}",
        exited.stderr
    );
    run.assert_nothing_left();
}

#[test]
fn ttin_and_ttou_grow_and_shrink_the_pool() {
    let mut run = Php::new("resize")
        .yaml(&pool_yaml("30ms", "    num_workers: 2\n"))
        .start("journal.php");
    run.wait_for("two workers", |run| run.workers().len() == 2);
    run.signal(libc::SIGTTIN);
    run.wait_for("three workers", |run| run.workers().len() == 3);
    run.signal(libc::SIGTTOU);
    // Signals of one kind do not queue: the second SIGTTOU goes once the first was handled.
    run.wait_for("the master to handle the first SIGTTOU", |run| {
        run.stderr().contains("pool size 3 -> 2 workers")
    });
    run.signal(libc::SIGTTOU);
    run.wait_for("one worker", |run| run.workers().len() == 1);
    let exited = run.stop_with(libc::SIGTERM);
    assert!(
        exited.stderr.contains("pool size 2 -> 3 workers"),
        "{}",
        exited.stderr
    );
    assert!(
        exited.stderr.contains("pool size 2 -> 1 workers"),
        "{}",
        exited.stderr
    );
    run.assert_nothing_left();
}

#[test]
fn status_command_and_metrics_endpoint_report_what_happened() {
    let port = free_port();
    // Ticks fail on 1 and 3, then the handler blocks, so the figures stop moving.
    let mut run = Php::new("status")
        .yaml(&format!(
            "ticker:\n  interval: 30ms\n  metrics:\n    address: \":{port}\"\n  pool:\n    num_workers: 2\n    destroy_timeout: 300ms\n"
        ))
        .handler(
            "if ($tick === 1 || $tick === 3) { $worker->error('no'); return false; }
             if ($tick >= 5) { sleep(30); }",
        )
        .start("journal.php");
    run.wait_for("two blocked workers", |run| {
        let blocked: BTreeSet<u64> = run
            .journal()
            .events("start")
            .iter()
            .map(|e| e.tick())
            .filter(|&t| t >= 5)
            .collect();
        blocked.len() >= 2 && run.stderr().matches("skipped").count() >= 2
    });
    let status = run.ticker(&["status", "--json", &run.pid.to_string()]);
    status.assert_success();
    let json: serde_json::Value = serde_json::from_str(&status.stdout)
        .unwrap_or_else(|e| panic!("`ticker status --json` prints JSON ({e}): {status:?}"));
    assert_eq!(json["master_pid"], run.pid);
    assert_eq!(json["target_workers"], 2);
    assert_eq!(json["ticks"]["completed"], 3, "ticks 0, 2 and 4: {json}");
    assert_eq!(json["ticks"]["failed"], 2, "ticks 1 and 3: {json}");
    assert_eq!(
        json["ticks"]["delivered"], 7,
        "0..=6; 5 and 6 still running: {json}"
    );
    let skipped = json["ticks"]["skipped"].as_u64().expect("skipped");
    assert!(skipped >= 1, "{json}");
    // Lateness is what the workers report with each respond(): the 3 completed ticks.
    assert_eq!(json["lateness"]["samples"], 3, "{json}");
    let buckets = json["lateness"]["histogram"]["buckets"]
        .as_array()
        .unwrap_or_else(|| panic!("the lateness histogram: {json}"));
    assert_eq!(
        buckets.iter().filter_map(|n| n.as_u64()).sum::<u64>(),
        3,
        "{json}"
    );
    let workers = json["workers"].as_array().expect("workers");
    let mut pids: Vec<i64> = workers
        .iter()
        .map(|w| w["pid"].as_i64().expect("pid"))
        .collect();
    pids.sort_unstable();
    let live: Vec<i64> = run.workers().iter().map(|&p| i64::from(p)).collect();
    assert_eq!(pids, live, "the rows are the live workers");
    assert!(workers.iter().all(|w| w["state"] == "busy"), "{json}");
    assert!(
        workers
            .iter()
            .all(|w| w["rss_bytes"].as_u64().is_some_and(|rss| rss > 0)),
        "{json}"
    );

    let table = run.ticker(&["status", &run.pid.to_string()]);
    table.assert_success();
    assert!(
        table.stdout.contains("completed 3  failed 2"),
        "{}",
        table.stdout
    );

    let metrics = http_get(port, "/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200 OK"), "{metrics}");
    assert!(
        metrics.contains("\nticker_ticks_completed_total 3\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nticker_ticks_failed_total 2\n"),
        "{metrics}"
    );
    // Unlike the other figures, `skipped` keeps growing while both workers are blocked: the
    // endpoint's figure lies between the status command's before and after the request.
    let skipped_metric: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("ticker_ticks_skipped_total "))
        .unwrap_or_else(|| panic!("no ticker_ticks_skipped_total\n{metrics}"))
        .parse()
        .expect("a count");
    let status_after = run.ticker(&["status", "--json", &run.pid.to_string()]);
    status_after.assert_success();
    let after: serde_json::Value = serde_json::from_str(&status_after.stdout)
        .unwrap_or_else(|e| panic!("`ticker status --json` prints JSON ({e}): {status_after:?}"));
    let skipped_after = after["ticks"]["skipped"].as_u64().expect("skipped");
    assert!(
        (skipped..=skipped_after).contains(&skipped_metric),
        "ticker_ticks_skipped_total {skipped_metric}, status said {skipped} before and \
         {skipped_after} after\n{metrics}"
    );
    assert!(
        metrics.contains("\nticker_workers{state=\"busy\"} 2\n"),
        "{metrics}"
    );
    for line in [
        "# TYPE ticker_tick_lateness_seconds histogram",
        "ticker_tick_lateness_seconds_bucket{le=\"+Inf\"} 3",
        "ticker_tick_lateness_seconds_count 3",
    ] {
        assert!(
            metrics.lines().any(|l| l.trim_end() == line),
            "missing {line:?} in\n{metrics}"
        );
    }
    assert!(http_get(port, "/").starts_with("HTTP/1.1 404"));
    let exited = run.stop_with(libc::SIGTERM);
    assert!(
        exited.stderr.contains("listening on http://127.0.0.1:"),
        "{}",
        exited.stderr
    );
    run.assert_nothing_left();
}

#[test]
fn logs_can_be_json_lines() {
    let mut run = Php::new("json-logs")
        .yaml("ticker:\n  interval: 30ms\n  pool:\n    num_workers: 1\nlogs:\n  level: debug\n  encoding: json\n")
        .env("TICKER_TEST_STOP_AT", "3")
        .start("journal.php");
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();
    let lines: Vec<serde_json::Value> = exited
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.iter().any(|l| l["level"] == "debug"), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l["msg"].as_str().expect("msg").contains("started")),
        "{lines:?}"
    );
    assert!(
        lines.iter().all(|l| l["ts"].as_f64().is_some()),
        "{lines:?}"
    );
    run.assert_nothing_left();
}

#[test]
fn the_warn_level_hides_routine_events() {
    let mut run = Php::new("warn-logs")
        .yaml("ticker:\n  interval: 30ms\n  pool:\n    num_workers: 1\nlogs:\n  level: warn\n")
        .handler("if ($tick === 1) { $worker->error('visible'); return false; }")
        .env("TICKER_TEST_STOP_AT", "3")
        .start("journal.php");
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();
    assert!(!exited.stderr.contains("started"), "{}", exited.stderr);
    assert!(exited.stderr.contains("visible"), "{}", exited.stderr);
    run.assert_nothing_left();
}
