//! Command-started workers (`ticker.pool.command`) as RoadRunner starts them: a RoadRunner
//! PHP worker written without the extension (`tests/fixtures/goridge_worker.php`, the
//! protocol of spiral/roadrunner-worker byte for byte) ticks, fails, stops and is stopped
//! under the ticker master; workers that fail the pid handshake (a bad CRC, a wrong answer,
//! none) are refused and replaced until the crash-loop verdict; their stderr becomes the
//! master's log lines; `server.on_init` runs before any worker, for both kinds of pool;
//! `server.user` and `server.group` drop both kinds' privileges.
//!
//! The other suites run against command-started workers too (`TICKER_E2E_WORKERS=command`,
//! see the harness); the tests here set their own pool command, or none.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;

use crate::harness::{DEADLINE, Php, fixture, pool_yaml};

/// A config whose workers are `php goridge_worker.php`, with `more` YAML lines (indented by
/// four spaces) in the pool section, and `server` lines (indented by two) after it.
fn goridge_yaml(interval: &str, pool: &str, server: &str) -> String {
    let command = format!(
        "    command: [php, {}]\n",
        fixture("goridge_worker.php").display()
    );
    format!(
        "{}server:\n{server}",
        pool_yaml(interval, &format!("{command}{pool}"))
    )
}

/// The master's stderr lines that contain `what`.
fn lines_with<'a>(stderr: &'a str, what: &str) -> Vec<&'a str> {
    stderr.lines().filter(|l| l.contains(what)).collect()
}

#[test]
fn a_roadrunner_worker_in_plain_php_ticks_fails_and_stops_as_under_roadrunner() {
    let mut run = Php::new("goridge")
        .yaml(&goridge_yaml(
            "50ms",
            "    num_workers: 2\n",
            "  env:\n    app_env: staging\n",
        ))
        .env("TICKER_GORIDGE_ERROR_AT", "3")
        .env("TICKER_GORIDGE_STOP_AT", "5")
        .start("journal.php");
    run.wait_for("tick 8 done", |run| run.journal().done_ticks().contains(&8));
    let master = run.pid;
    let exited = run.stop_with(libc::SIGTERM);
    let journal = exited.journal();
    let stderr = &exited.stderr;

    assert_eq!(
        journal.events("violation").len(),
        0,
        "{:?}",
        journal.events("violation")
    );
    // Every worker was sent RoadRunner's handshake (with this master's lateness key, which
    // the library ignores) and answered it before its first tick.
    let handshakes = journal.events("handshake");
    let boots = journal.events("worker-boot");
    assert!(
        boots.len() >= 3,
        "two workers and the stopper's replacement: {boots:?}"
    );
    assert_eq!(handshakes.len(), boots.len(), "{handshakes:?}");
    for handshake in &handshakes {
        assert_eq!(handshake.raw["flags"], json!(0x09), "CONTROL|CODEC_JSON");
        assert_eq!(handshake.raw["options"], json!([]));
        let payload: serde_json::Value =
            serde_json::from_str(handshake.raw["payload"].as_str().unwrap()).unwrap();
        assert_eq!(payload, json!({"pid": master, "lateness": true}));
    }
    // RoadRunner's environment, read the way the library reads it ($_SERVER).
    for boot in &boots {
        assert_eq!(
            boot.raw["env"],
            json!({"RR_MODE": "ticker", "RR_RELAY": "pipes", "RR_VERSION": "2024.3.0",
                   "APP_ENV": "staging"}),
        );
        assert_eq!(
            boot.raw["ppid"],
            json!(master),
            "started by the master itself"
        );
    }
    // error(): the tick fails, the worker stays.
    assert!(
        stderr.contains("tick 3 failed on worker") && stderr.contains("boom 3"),
        "{stderr}"
    );
    // stop(): the tick runs again on another worker, once, and the stopper is replaced.
    let runs: Vec<_> = journal
        .events("start")
        .into_iter()
        .filter(|e| e.tick == Some(5))
        .collect();
    assert_eq!(runs.len(), 2, "tick 5 runs twice: {runs:?}");
    assert_ne!(runs[0].pid, runs[1].pid);
    assert!(journal.done_ticks().contains(&5), "the re-run is answered");
    // What the worker prints goes to stderr, which the master logs, tagged with its pid.
    for boot in &boots {
        let line = format!("worker {}: goridge worker {} is up", boot.pid, boot.pid);
        assert_eq!(lines_with(stderr, &line).len(), 1, "{line:?}\n{stderr}");
    }
    // Stopped with {"stop":true}: every worker's waitPayload() returned null.
    let ended: BTreeSet<i32> = journal
        .events("end")
        .iter()
        .map(|e| e.pid)
        .filter(|&pid| pid != master)
        .collect();
    let booted: BTreeSet<i32> = boots.iter().map(|e| e.pid).collect();
    assert_eq!(ended, booted, "{stderr}");
    assert_eq!(
        lines_with(stderr, "was killed").len(),
        0,
        "no worker needed SIGKILL\n{stderr}"
    );
    run.assert_nothing_left();
}

/// A pool whose workers all fail their handshake as `fault` says: the master refuses each,
/// replaces it with the crash-loop back-off, and gives up; `waitPayload()` throws.
fn refused(fault: &str, server: &str) -> String {
    let mut run = Php::new(&format!("refused-{fault}"))
        .yaml(&goridge_yaml("50ms", "    num_workers: 1\n", server))
        .env("TICKER_GORIDGE_FAULT", fault)
        .start("journal.php");
    let exited = run.wait_exit(Duration::from_secs(90));
    assert!(!exited.status.success(), "{}", exited.stderr);
    assert!(
        exited.stderr.contains(
            "Uncaught Ticker\\Exception: ticker: the master stopped: 10 \
                                workers in a row died before finishing a tick"
        ),
        "{}",
        exited.stderr
    );
    let journal = exited.journal();
    assert_eq!(
        journal.events("start").len(),
        0,
        "no refused worker took a tick"
    );
    assert_eq!(
        journal.events("worker-boot").len(),
        10,
        "each one was replaced"
    );
    assert!(
        exited
            .stderr
            .contains("workers keep dying early; next replacement in"),
        "with the back-off\n{}",
        exited.stderr
    );
    run.assert_nothing_left();
    exited.stderr
}

#[test]
fn a_handshake_with_a_bad_crc_is_refused_and_the_worker_replaced() {
    let stderr = refused("bad_crc", "  relay: pipes\n");
    let refusals = lines_with(&stderr, "; killing it")
        .into_iter()
        .filter(|l| {
            l.contains(
                "sent a malformed frame instead of answering its pid handshake: frame \
                        header CRC",
            )
        })
        .count();
    assert_eq!(refusals, 10, "{stderr}");
}

#[test]
fn a_wrong_handshake_is_refused_and_the_worker_replaced() {
    let stderr = refused("wrong_handshake", "  relay: pipes\n");
    assert_eq!(
        lines_with(
            &stderr,
            "answered its pid handshake wrongly: control frame from a worker \
                             without a positive `pid`; killing it"
        )
        .len(),
        10,
        "{stderr}"
    );
}

#[test]
fn no_handshake_within_relay_timeout_is_refused_and_the_worker_replaced() {
    let stderr = refused("no_handshake", "  relay_timeout: 500ms\n");
    assert_eq!(
        lines_with(
            &stderr,
            "did not answer its pid handshake within relay_timeout (500ms); killing it"
        )
        .len(),
        10,
        "{stderr}"
    );
}

/// A command that writes `what` and exits with `status`, as `server.on_init`.
fn on_init(what: &str, status: i32, exit_on_error: bool) -> String {
    format!(
        "  on_init:\n    command: [php, -r, \"fwrite(STDERR, getenv('INIT_SAYS') . PHP_EOL); \
         exit({status});\"]\n    exit_on_error: {exit_on_error}\n    env:\n      init_says: \
         {what}\n"
    )
}

#[test]
fn on_init_runs_once_before_the_first_worker_of_a_forked_pool_too() {
    let mut run = Php::new("on-init")
        .yaml(&format!(
            "{}server:\n{}",
            pool_yaml("50ms", "    num_workers: 2\n"),
            on_init("warming the cache", 0, true)
        ))
        .start("journal.php");
    run.wait_done(3);
    let exited = run.stop_with(libc::SIGTERM);
    let said = exited
        .stderr
        .find(": warming the cache")
        .expect("on_init's line, logged");
    let first_worker = exited.stderr.find("worker ").expect("a worker");
    assert!(
        exited.stderr[..said].contains("on_init ") && said < first_worker,
        "on_init ran before any worker started\n{}",
        exited.stderr
    );
    assert_eq!(lines_with(&exited.stderr, ": warming the cache").len(), 1);
    run.assert_nothing_left();
}

#[test]
fn a_failing_on_init_stops_the_master_with_exit_on_error_and_is_logged_without() {
    let mut run = Php::new("on-init-fails")
        .yaml(&format!(
            "{}server:\n{}",
            pool_yaml("50ms", "    num_workers: 2\n"),
            on_init("migrations failed", 3, true)
        ))
        .start("journal.php");
    let exited = run.wait_exit(DEADLINE);
    assert!(!exited.status.success(), "{}", exited.stderr);
    assert!(
        exited.stderr.contains(
            "Uncaught Ticker\\Exception: ticker: the master stopped: server.on_init `php -r"
        ) && exited.stderr.contains("exited with status 3"),
        "{}",
        exited.stderr
    );
    assert!(
        exited.stderr.contains(": migrations failed"),
        "{}",
        exited.stderr
    );
    let journal = exited.journal();
    assert_eq!(journal.events("start").len(), 0, "no worker ran");
    assert!(
        !exited.stderr.contains("worker "),
        "none started\n{}",
        exited.stderr
    );
    run.assert_nothing_left();

    let mut run = Php::new("on-init-fails-on")
        .yaml(&format!(
            "{}server:\n{}",
            pool_yaml("50ms", "    num_workers: 2\n"),
            on_init("migrations failed", 3, false)
        ))
        .start("journal.php");
    run.wait_done(3);
    let exited = run.stop_with(libc::SIGTERM);
    assert!(
        exited
            .stderr
            .contains("exited with status 3; starting anyway (exit_on_error is false)"),
        "{}",
        exited.stderr
    );
    run.assert_nothing_left();
}

/// The number `id <flag> <name>` prints: a user's uid (`-u`) or primary gid (`-g`).
fn id_of(flag: &str, name: &str) -> String {
    let out = std::process::Command::new("id")
        .args([flag, name])
        .output()
        .expect("id runs");
    String::from_utf8(out.stdout)
        .expect("a number")
        .trim()
        .to_owned()
}

/// The effective uid of a process, from /proc.
fn euid_of(pid: i32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("its status");
    let line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .expect("a Uid line");
    line.split_whitespace().nth(2).expect("the euid").to_owned()
}

/// `server.user: nobody` and `server.group: nogroup` (as root), for a pool of `kind`.
fn runs_as_nobody(kind: &str, pool_command: &str) {
    // A worker as nobody cannot read or write in the run's private directory: its handler
    // lives in a directory anyone may read, and it says who it is on stderr, which reaches
    // the master's (forked: shared; command-started: logged), instead of the journal. Its
    // first tick outlasts the interval, so that the next one goes to the other worker.
    let php = Php::new(&format!("nobody-{kind}"));
    let shared =
        std::env::temp_dir().join(format!("ticker-e2e-nobody-{kind}-{}", std::process::id()));
    std::fs::create_dir_all(&shared).expect("a directory for the handler");
    let handler = shared.join("handler.php");
    std::fs::write(
        &handler,
        "<?php\nif (!isset($GLOBALS['said'])) {\n    $GLOBALS['said'] = true;\n    \
         fwrite(STDERR, 'worker ' . getmypid() . ' uid=' . posix_geteuid() . ' gid=' . \
         posix_getegid() . ' groups=' . implode(',', posix_getgroups()) . PHP_EOL);\n    \
         usleep(200_000);\n}\n",
    )
    .expect("write the handler");
    let mut run = php
        .yaml(&format!(
            "{}server:\n  user: nobody\n  group: nogroup\n",
            pool_yaml("50ms", &format!("    num_workers: 2\n{pool_command}"))
        ))
        .env("TICKER_TEST_HANDLER", &handler)
        .start("journal.php");
    run.wait_for("two workers saying who they are", |run| {
        run.stderr().matches(" uid=").count() >= 2
    });
    let (nobody, nogroup) = (id_of("-u", "nobody"), id_of("-g", "nobody"));
    for line in run.stderr().lines().filter(|l| l.contains(" uid=")) {
        let (_, ids) = line.split_once(" uid=").expect("checked");
        assert_eq!(
            ids,
            format!("{nobody} gid={nogroup} groups={nogroup}"),
            "{kind}: {line}"
        );
    }
    // The master stays root, and still supervises them.
    assert_eq!(euid_of(run.pid), "0");
    let exited = run.stop_with(libc::SIGTERM);
    assert!(
        !exited.stderr.contains("cannot drop its privileges"),
        "{}",
        exited.stderr
    );
    run.assert_nothing_left();
    let _ = std::fs::remove_dir_all(&shared);
}

#[test]
fn server_user_and_group_drop_the_privileges_of_forked_and_command_started_workers() {
    // SAFETY: geteuid(2) reads this process's credentials.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: only a master running as root can drop its workers' privileges");
        return;
    }
    runs_as_nobody("forked", "");
    // What a worker started as nobody loads must be readable by nobody, wherever the clone
    // lives (a home directory of mode 700 is common): the extension and the fixture are
    // copied to a directory anyone may read.
    let readable =
        std::env::temp_dir().join(format!("ticker-e2e-nobody-load-{}", std::process::id()));
    std::fs::create_dir_all(&readable).expect("a directory anyone may read");
    let extension = readable.join("ticker.so");
    let script = readable.join("journal.php");
    std::fs::copy(crate::harness::extension(), &extension).expect("copy the extension");
    std::fs::copy(fixture("journal.php"), &script).expect("copy the fixture");
    for (path, mode) in [(&readable, 0o755), (&extension, 0o755), (&script, 0o644)] {
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .expect("make it readable");
    }
    let command = format!(
        "    command: [php, -d, 'extension={}', '{}']\n",
        extension.display(),
        script.display()
    );
    runs_as_nobody("command", &command);
    let _ = std::fs::remove_dir_all(&readable);
}

#[test]
fn a_server_user_that_does_not_exist_stops_the_master_before_any_worker() {
    let mut run = Php::new("no-such-user")
        .yaml(&format!(
            "{}server:\n  user: no-such-user-here\n",
            pool_yaml("50ms", "    num_workers: 2\n")
        ))
        .start("journal.php");
    let exited = run.wait_exit(DEADLINE);
    assert!(!exited.status.success());
    assert!(
        exited.stderr.contains(
            "ticker: the master stopped: server.user: there is no user \"no-such-user-here\" \
             on this system"
        ),
        "{}",
        exited.stderr
    );
    assert_eq!(exited.journal().events("start").len(), 0);
    run.assert_nothing_left();
}

#[test]
fn a_pool_command_that_cannot_run_ends_in_the_crash_loop_verdict() {
    let mut run = Php::new("no-such-program")
        .yaml(&pool_yaml(
            "50ms",
            "    num_workers: 1\n    command: [no-such-program-here, worker.php]\n",
        ))
        .start("journal.php");
    let exited = run.wait_exit(Duration::from_secs(60));
    assert!(!exited.status.success());
    assert!(
        exited.stderr.contains(
            "cannot start a worker: cannot run \"no-such-program-here\": No such file or \
             directory"
        ),
        "{}",
        exited.stderr
    );
    assert!(
        exited.stderr.contains(
            "Uncaught Ticker\\Exception: ticker: the master stopped: 10 workers in a row died \
             before finishing a tick (the last could not be started: cannot run"
        ),
        "{}",
        exited.stderr
    );
    run.assert_nothing_left();
}
