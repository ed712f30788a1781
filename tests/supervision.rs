//! End-to-end tests of pool supervision (issue 3): every `pool` key that acts, the worker
//! API's error and stop, reset and resize signals, the status command, the metrics
//! endpoint and JSON logs, each with real PHP processes. Durations are short and nothing
//! asserts on speed: waits have generous deadlines.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::time::Duration;

use support::{App, assert_contiguous, journal_app, ticks};

const LONG: Duration = Duration::from_secs(20);

fn yaml(interval: &str, pool: &str) -> String {
    format!("ticker:\n  interval: {interval}\n  pool:\n    destroy_timeout: 5s\n{pool}")
}

#[test]
fn max_jobs_replaces_workers_every_few_ticks_without_a_gap() {
    let mut app = App::start(
        "max-jobs",
        &yaml("30ms", "    num_workers: 2\n    max_jobs: 3\n"),
        &journal_app(""),
        &["17"],
    );
    let done = app.finish(LONG);
    assert!(done.status.success(), "{}", done.stderr);
    let journal = app.journal();
    assert_contiguous(&ticks(&journal));
    let mut per_pid: BTreeMap<i32, usize> = BTreeMap::new();
    for e in &journal {
        *per_pid.entry(e.pid).or_default() += 1;
    }
    assert!(per_pid.values().all(|&n| n <= 3), "{per_pid:?}");
    assert!(per_pid.len() >= 6, "18 ticks at 3 per worker: {per_pid:?}");
    assert!(done.stderr.contains("it handled max_jobs (3) ticks"));
    assert!(journal.iter().all(|e| e.skipped == 0), "no tick was missed");
}

#[test]
fn debug_mode_gives_every_tick_a_fresh_worker() {
    let mut app = App::start(
        "debug",
        &yaml("40ms", "    num_workers: 2\n    debug: true\n"),
        &journal_app(""),
        &["7"],
    );
    assert!(app.finish(LONG).status.success());
    let journal = app.journal();
    let pids: BTreeSet<i32> = journal.iter().map(|e| e.pid).collect();
    assert_eq!(pids.len(), journal.len(), "one pid per tick: {journal:?}");
}

#[test]
fn exec_ttl_kills_a_handler_that_runs_too_long_and_ticking_goes_on() {
    let mut app = App::start(
        "exec-ttl",
        &yaml(
            "50ms",
            "    num_workers: 2\n    supervisor:\n      exec_ttl: 300ms\n",
        ),
        &journal_app("if ($tick === 1) { sleep(30); }"),
        &["8"],
    );
    let done = app.finish(LONG);
    assert!(done.status.success(), "{}", done.stderr);
    assert!(
        done.stderr
            .contains("ran tick 1 for longer than exec_ttl (300ms)"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("tick 1 failed"), "{}", done.stderr);
    let seen = ticks(&app.journal());
    assert!(!seen.contains(&1), "tick 1 never finished");
    assert!(seen.contains(&8), "ticking went on: {seen:?}");
}

#[test]
fn max_worker_memory_replaces_a_worker_that_allocates() {
    let mut app = App::start(
        "memory",
        &yaml(
            "50ms",
            "    num_workers: 1\n    supervisor:\n      watch_tick: 50ms\n      max_worker_memory: 40\n",
        ),
        &journal_app(
            "if ($tick === 2) { $GLOBALS['ballast'] = str_repeat('x', 80 * 1024 * 1024); }",
        ),
        &[],
    );
    app.wait_for("a replacement", LONG, |app| {
        app.stderr().contains("above max_worker_memory (40 MB)")
    });
    app.wait_for("ticks on the new worker", LONG, |app| {
        let journal = app.journal();
        let pids: BTreeSet<i32> = journal.iter().map(|e| e.pid).collect();
        pids.len() >= 2
    });
    app.stop();
}

#[test]
fn error_counts_the_tick_as_failed_and_the_worker_stays() {
    let mut app = App::start(
        "error",
        &yaml("30ms", "    num_workers: 1\n"),
        &journal_app("if ($tick === 2) { $record(); $w->error('boom at 2'); continue; }"),
        &["6"],
    );
    let done = app.finish(LONG);
    assert!(done.status.success(), "{}", done.stderr);
    assert!(
        done.stderr.contains("tick 2 failed on worker"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("boom at 2"));
    let journal = app.journal();
    let pids: BTreeSet<i32> = journal.iter().map(|e| e.pid).collect();
    assert_eq!(pids.len(), 1, "the same worker goes on: {journal:?}");
    assert_contiguous(&ticks(&journal));
}

#[test]
fn stop_reruns_the_tick_once_on_another_worker() {
    let mut app = App::start(
        "stop",
        &yaml("50ms", "    num_workers: 2\n"),
        &journal_app(
            "if ($tick === 2 && $header['attempt'] === 1) { $record(); $w->stop(); continue; }",
        ),
        &["6"],
    );
    let done = app.finish(LONG);
    assert!(done.status.success(), "{}", done.stderr);
    let journal = app.journal();
    let runs: Vec<_> = journal.iter().filter(|e| e.tick == 2).collect();
    assert_eq!(runs.len(), 2, "tick 2 runs twice: {journal:?}");
    assert_eq!((runs[0].attempt, runs[1].attempt), (1, 2));
    assert_ne!(runs[0].pid, runs[1].pid, "the re-run is on another worker");
    assert!(
        journal
            .iter()
            .filter(|e| e.pid == runs[0].pid)
            .all(|e| e.tick <= 2),
        "the stopping worker takes no further tick"
    );
    assert!(done.stderr.contains("tick 2 runs again on another worker"));
}

#[test]
fn a_tick_that_stops_twice_is_failed_not_retried_again() {
    let mut app = App::start(
        "stop-twice",
        &yaml("50ms", "    num_workers: 2\n"),
        &journal_app("if ($tick === 1) { $record(); $w->stop(); continue; }"),
        &["5"],
    );
    let done = app.finish(LONG);
    assert!(done.status.success(), "{}", done.stderr);
    let runs = app.journal().iter().filter(|e| e.tick == 1).count();
    assert_eq!(runs, 2, "one re-run only");
    assert!(
        done.stderr.contains("tick 1 failed: worker"),
        "{}",
        done.stderr
    );
}

#[test]
fn sighup_replaces_every_worker_without_a_gap() {
    let mut app = App::start(
        "sighup",
        &yaml("20ms", "    num_workers: 2\n"),
        &journal_app(""),
        &[],
    );
    app.wait_ticks(5, LONG);
    let before = app.workers();
    assert_eq!(before.len(), 2);
    app.signal(libc::SIGHUP);
    app.wait_for("two new workers", LONG, |app| {
        let now = app.workers();
        now.len() == 2 && now.iter().all(|p| !before.contains(p))
    });
    let after_reset = app.journal().len();
    app.wait_ticks(after_reset + 5, LONG);
    let done = app.stop();
    assert!(
        done.stderr.contains("reset (received SIGHUP)"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("reset done"));
    let journal = app.journal();
    assert_contiguous(&ticks(&journal));
    assert!(journal.iter().all(|e| e.skipped == 0), "no tick missed");
}

#[test]
fn reset_timeout_kills_a_worker_that_stays_busy() {
    let mut app = App::start(
        "reset-timeout",
        &yaml("50ms", "    num_workers: 2\n    reset_timeout: 300ms\n"),
        &journal_app("if ($tick === 0) { sleep(30); }"),
        &[],
    );
    app.wait_ticks(2, LONG);
    app.signal(libc::SIGHUP);
    app.wait_for("the reset to end by force", LONG, |app| {
        app.stderr().contains("reset_timeout (300ms) passed")
    });
    let done = app.stop();
    assert!(
        done.stderr
            .contains("was not replaced within reset_timeout"),
        "{}",
        done.stderr
    );
}

#[test]
fn ttl_and_idle_ttl_replace_workers() {
    let mut app = App::start(
        "ttl",
        &yaml(
            "40ms",
            "    num_workers: 2\n    supervisor:\n      watch_tick: 50ms\n      ttl: 400ms\n",
        ),
        &journal_app(""),
        &[],
    );
    app.wait_for("a ttl replacement", LONG, |app| {
        app.stderr().contains("lived longer than ttl (400ms)")
    });
    let n = app.journal().len();
    app.wait_ticks(n + 5, LONG);
    app.stop();
    assert_contiguous(&ticks(&app.journal()));

    let mut idle = App::start(
        "idle-ttl",
        &yaml(
            "10s",
            "    num_workers: 1\n    supervisor:\n      watch_tick: 50ms\n      idle_ttl: 200ms\n",
        ),
        &journal_app(""),
        &[],
    );
    idle.wait_for("an idle_ttl replacement", LONG, |app| {
        app.stderr().contains("idle longer than idle_ttl (200ms)")
    });
    idle.stop();
}

#[test]
fn allocate_timeout_drops_a_tick_that_waits_too_long() {
    let mut app = App::start(
        "allocate",
        &yaml("50ms", "    num_workers: 1\n    allocate_timeout: 120ms\n"),
        &journal_app("if ($tick === 0) { usleep(600000); }"),
        &["14"],
    );
    let done = app.finish(LONG);
    assert!(done.status.success(), "{}", done.stderr);
    assert!(
        done.stderr
            .contains("waited allocate_timeout (120ms) for a free worker"),
        "{}",
        done.stderr
    );
    let after = app.journal().into_iter().find(|e| e.tick > 0).unwrap();
    assert!(after.tick > 1, "the waiting tick 1 was dropped: {after:?}");
    assert!(after.skipped > 0, "the drop shows in the next header");
}

#[test]
fn destroy_timeout_bounds_a_graceful_stop() {
    let mut app = App::start(
        "destroy",
        "ticker:\n  interval: 30ms\n  pool:\n    num_workers: 1\n    destroy_timeout: 300ms\n",
        &journal_app("if ($tick === 0) { sleep(30); }"),
        &[],
    );
    app.wait_for("a busy worker", LONG, |app| app.workers().len() == 1);
    std::thread::sleep(Duration::from_millis(200));
    let done = app.stop();
    assert!(
        done.stderr
            .contains("destroy_timeout (300ms) passed: killing 1 workers"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("tick 0 failed"));
}

#[test]
fn ttin_and_ttou_grow_and_shrink_the_pool() {
    let mut app = App::start(
        "resize",
        &yaml("30ms", "    num_workers: 2\n"),
        &journal_app(""),
        &[],
    );
    app.wait_for("two workers", LONG, |app| app.workers().len() == 2);
    app.signal(libc::SIGTTIN);
    app.wait_for("three workers", LONG, |app| app.workers().len() == 3);
    app.signal(libc::SIGTTOU);
    std::thread::sleep(Duration::from_millis(100));
    app.signal(libc::SIGTTOU);
    app.wait_for("one worker", LONG, |app| app.workers().len() == 1);
    let done = app.stop();
    assert!(done.stderr.contains("pool size 2 -> 3 workers"));
    assert!(done.stderr.contains("pool size 2 -> 1 workers"));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn status_command_and_metrics_endpoint_report_what_happened() {
    let port = free_port();
    // Ticks fail on 1 and 3, then the handler blocks, so the figures stop moving.
    let mut app = App::start(
        "status",
        &format!(
            "ticker:\n  interval: 30ms\n  metrics:\n    address: \":{port}\"\n  pool:\n    num_workers: 2\n    destroy_timeout: 300ms\n"
        ),
        &journal_app(
            "if ($tick === 1 || $tick === 3) { $record(); $w->error('no'); continue; } \
             if ($tick >= 5) { sleep(30); }",
        ),
        &[],
    );
    app.wait_for("two blocked workers", LONG, |app| {
        app.stderr().matches("skipped").count() >= 2
    });
    let status = std::process::Command::new(support::ticker_command())
        .args(["status", "--json", &app.pid.to_string()])
        .env("TICKER_RUNTIME_DIR", &app.dir)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["master_pid"], app.pid);
    assert_eq!(json["target_workers"], 2);
    assert_eq!(json["ticks"]["completed"], 3, "ticks 0, 2 and 4: {json}");
    assert_eq!(json["ticks"]["failed"], 2, "ticks 1 and 3: {json}");
    assert_eq!(
        json["ticks"]["delivered"], 7,
        "0..=6; 5 and 6 still running: {json}"
    );
    let skipped = json["ticks"]["skipped"].as_u64().unwrap();
    assert!(skipped >= 1, "{json}");
    let workers = json["workers"].as_array().unwrap();
    let mut pids: Vec<i64> = workers.iter().map(|w| w["pid"].as_i64().unwrap()).collect();
    pids.sort_unstable();
    let live: Vec<i64> = app.workers().iter().map(|&p| i64::from(p)).collect();
    assert_eq!(pids, live, "the rows are the live workers");
    assert!(workers.iter().all(|w| w["state"] == "busy"));
    assert!(workers.iter().all(|w| w["rss_bytes"].as_u64().unwrap() > 0));

    let table = std::process::Command::new(support::ticker_command())
        .args(["status", &app.pid.to_string()])
        .env("TICKER_RUNTIME_DIR", &app.dir)
        .output()
        .unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.contains("completed 3  failed 2"), "{table}");

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
    assert!(metrics.contains(&format!("\nticker_ticks_skipped_total {skipped}\n")));
    assert!(metrics.contains("\nticker_workers{state=\"busy\"} 2\n"));
    assert!(http_get(port, "/").starts_with("HTTP/1.1 404"));
    let done = app.stop();
    assert!(done.stderr.contains("listening on http://127.0.0.1:"));
}

#[test]
fn logs_can_be_json_lines() {
    let mut app = App::start(
        "json-logs",
        "ticker:\n  interval: 30ms\n  pool:\n    num_workers: 1\nlogs:\n  level: debug\n  encoding: json\n",
        &journal_app(""),
        &["3"],
    );
    let done = app.finish(LONG);
    assert!(done.status.success(), "{}", done.stderr);
    let lines: Vec<serde_json::Value> = done
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.iter().any(|l| l["level"] == "debug"));
    assert!(
        lines
            .iter()
            .any(|l| l["msg"].as_str().unwrap().contains("started"))
    );
    assert!(lines.iter().all(|l| l["ts"].as_f64().is_some()));
}

#[test]
fn the_warn_level_hides_routine_events() {
    let mut app = App::start(
        "warn-logs",
        "ticker:\n  interval: 30ms\n  pool:\n    num_workers: 1\nlogs:\n  level: warn\n",
        &journal_app("if ($tick === 1) { $record(); $w->error('visible'); continue; }"),
        &["3"],
    );
    let done = app.finish(LONG);
    assert!(!done.stderr.contains("started"), "{}", done.stderr);
    assert!(done.stderr.contains("visible"));
}
