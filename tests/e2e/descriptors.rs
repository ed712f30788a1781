//! The open file limit and the cost of answers: a pool that `RLIMIT_NOFILE` cannot hold is
//! refused at start with the fix, a soft limit too low is raised, a pool short of
//! descriptors at run time ticks with the workers it has and says what it lacks, and an
//! answer of the doors reads nothing per worker.

use std::time::Duration;

use crate::harness::{DEADLINE, Php, free_port, http_get, pool_yaml};

/// `prlimit --nofile=SOFT:HARD` around the run's PHP: the limits the master starts with.
fn with_nofile(php: Php, soft: u64, hard: u64) -> Php {
    php.under("prlimit".to_string(), [format!("--nofile={soft}:{hard}")])
}

/// The soft and hard "Max open files" of a process, from /proc.
fn nofile_of(pid: i32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("its limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    let mut numbers = line
        .split_whitespace()
        .filter_map(|word| word.parse::<u64>().ok());
    (numbers.next().expect("soft"), numbers.next().expect("hard"))
}

/// Sets the limits of a running process, with `prlimit --pid`.
fn set_nofile_of(pid: i32, soft: u64, hard: u64) {
    let status = std::process::Command::new("prlimit")
        .args([format!("--pid={pid}"), format!("--nofile={soft}:{hard}")])
        .status()
        .expect("prlimit runs");
    assert!(status.success());
}

/// The lowest descriptor number a process has free: the limit below which it cannot open
/// anything more. `RLIMIT_NOFILE` bounds descriptor numbers, not their count.
fn lowest_free_fd_of(pid: i32) -> u64 {
    let open: std::collections::BTreeSet<u64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("its descriptors")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    (0..).find(|n| !open.contains(n)).expect("a free number")
}

#[test]
fn a_pool_the_hard_file_limit_cannot_hold_is_refused_at_start_with_the_fix() {
    let php = Php::new("nofile-refused").yaml(&pool_yaml("50ms", "    num_workers: 100\n"));
    let mut run = with_nofile(php, 64, 64).start("journal.php");
    let exited = run.wait_exit(DEADLINE);
    assert!(!exited.status.success(), "{}", exited.stderr);
    for part in [
        "100 workers need an open file limit of ",
        "RLIMIT_NOFILE (soft 64, hard 64)",
        "`ulimit -n ",
        "`LimitNOFILE=",
        "or set ticker.pool.num_workers to ",
    ] {
        assert!(
            exited.stderr.contains(part),
            "{part:?} in {}",
            exited.stderr
        );
    }
    assert_eq!(
        exited.journal().events("start").len(),
        0,
        "no worker started: {}",
        exited.stderr
    );
    assert!(
        !exited.stderr.contains("cannot start a worker"),
        "{}",
        exited.stderr
    );
    run.assert_nothing_left();
}

#[test]
fn a_soft_file_limit_below_what_the_pool_needs_is_raised_to_it() {
    let php = Php::new("nofile-raised").yaml(&pool_yaml("50ms", "    num_workers: 60\n"));
    let run = with_nofile(php, 64, 4096).start("journal.php");
    run.wait_done(3);
    let stderr = run.stderr();
    let raised = stderr
        .lines()
        .find(|l| l.contains("raised the open file limit from 64 to "))
        .unwrap_or_else(|| panic!("the raise is logged: {stderr}"));
    assert!(
        raised.contains("(hard limit 4096) for 60 workers"),
        "{raised}"
    );
    let to = crate::harness::number_after(raised, "from 64 to ").expect("the new limit");
    assert!(to > 60 + 32 && to < 4096, "{raised}");
    assert_eq!(nofile_of(run.pid), (to, 4096));
    assert_eq!(run.workers().len(), 60);
    assert!(!stderr.contains("cannot start a worker"), "{stderr}");
    drop(run);
}

#[test]
fn a_pool_short_of_descriptors_ticks_with_the_workers_it_has_and_says_what_it_lacks() {
    let mut run = Php::new("nofile-short")
        .yaml(&pool_yaml("50ms", "    num_workers: 4\n"))
        .start("journal.php");
    run.wait_done(3);
    let (soft, hard) = nofile_of(run.pid);
    // The master may keep what it holds, and open nothing more: a replacement's socket
    // pair takes two descriptors where the dead worker's channel gives back one at most.
    let holds = lowest_free_fd_of(run.pid);
    set_nofile_of(run.pid, holds, hard);
    let victim = run.workers()[0];
    // SAFETY: kill(2) on a pid this test's run started.
    assert_eq!(unsafe { libc::kill(victim, libc::SIGKILL) }, 0);
    run.wait_for("the start that fails, and what the pool lacks", |run| {
        run.stderr().contains("the pool lacks 1 of its 4 workers")
    });
    let stderr = run.stderr();
    let line = stderr
        .lines()
        .find(|l| l.contains("the pool lacks 1 of its 4 workers"))
        .expect("checked");
    assert!(line.contains("Too many open files"), "{line}");
    assert!(line.contains("`ulimit -n`"), "{line}");
    // Ticking goes on with three workers.
    let done = run.journal().done().len();
    run.wait_done(done + 5);
    assert_eq!(run.workers().len(), 3);
    // Tried again with a back-off, and said once, not at every try.
    assert_eq!(
        run.stderr().matches("cannot start a worker").count(),
        1,
        "{}",
        run.stderr()
    );

    set_nofile_of(run.pid, soft, hard);
    run.wait_for("the pool whole again", |run| {
        run.stderr().contains("the pool has its 4 workers again")
    });
    let status = run.ticker(&["status", "--json", &run.pid.to_string()]);
    status.assert_success();
    let json: serde_json::Value = serde_json::from_str(&status.stdout).expect("JSON");
    assert!(json["starts"]["failed"].as_u64().unwrap() >= 1, "{json}");
    assert_eq!(json["starts"]["lacking"], 0, "{json}");
    let exited = run.stop_with(libc::SIGTERM);
    assert!(exited.status.success(), "{}", exited.stderr);
    run.assert_nothing_left();
}

/// Read system calls a process has made, from /proc/<pid>/io.
fn reads_of(pid: i32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).expect("its io counters");
    io.lines()
        .find_map(|l| l.strip_prefix("syscr: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("a syscr line")
}

#[test]
fn an_answer_reads_nothing_per_worker() {
    // A worker's memory is read on the supervisor's round (here: not within the test) and
    // as it joins; an answer serves those readings. Were it to read /proc for each of the
    // 40 workers, every answer would cost at least 40 read calls.
    const WORKERS: usize = 40;
    const ANSWERS: u64 = 20;
    let port = free_port();
    let run = Php::new("answers-read-nothing")
        .yaml(&format!(
            "ticker:\n  interval: 1h\n  metrics:\n    address: \":{port}\"\n  pool:\n    \
             num_workers: {WORKERS}\n    supervisor:\n      watch_tick: 1h\n"
        ))
        .start("journal.php");
    run.wait_for("every worker up", |run| {
        run.stderr().contains(&format!("with {WORKERS} workers"))
    });
    let before = reads_of(run.pid);
    for _ in 0..ANSWERS / 2 {
        let metrics = http_get(port, "/metrics");
        assert!(
            metrics.contains("ticker_worker_memory_bytes{pid="),
            "{metrics}"
        );
        let status = run.ticker(&["status", "--json", &run.pid.to_string()]);
        status.assert_success();
        let json: serde_json::Value = serde_json::from_str(&status.stdout).expect("JSON");
        let rows = json["workers"].as_array().expect("workers");
        assert_eq!(rows.len(), WORKERS);
        assert!(
            rows.iter()
                .all(|w| w["rss_bytes"].as_u64().is_some_and(|b| b > 0)
                    && w["rss_age_secs"].as_f64().is_some()),
            "every worker has its memory as read, with its age: {json}"
        );
    }
    let reads = reads_of(run.pid) - before;
    assert!(
        reads < ANSWERS * 10,
        "{reads} read calls for {ANSWERS} answers on {WORKERS} workers"
    );
    drop(run);
}

#[test]
fn a_grown_pool_stays_within_the_file_limit() {
    // 20 workers fit under a hard limit of 80 with the master's own; SIGTTIN beyond what
    // the limit holds leaves the pool as it is, and says why.
    let php = Php::new("nofile-grow").yaml(&pool_yaml("50ms", "    num_workers: 2\n"));
    let mut run = with_nofile(php, 80, 80).start("journal.php");
    run.wait_done(2);
    for _ in 0..60 {
        run.signal(libc::SIGTTIN);
        std::thread::sleep(Duration::from_millis(5));
    }
    run.wait_for("growth refused at the limit", |run| {
        run.stderr().contains("the pool stays at ")
    });
    let stderr = run.stderr();
    let refused = stderr
        .lines()
        .find(|l| l.contains("the pool stays at "))
        .expect("checked");
    assert!(
        refused.contains("RLIMIT_NOFILE (soft 80, hard 80)"),
        "{refused}"
    );
    assert!(!stderr.contains("cannot start a worker"), "{stderr}");
    let grown = crate::harness::number_after(refused, "the pool stays at ").expect("a size");
    assert!(grown > 2, "{refused}");
    run.wait_for("every worker of the grown pool", |run| {
        run.workers().len() as u64 == grown
    });
    let exited = run.stop_with(libc::SIGTERM);
    assert!(exited.status.success(), "{}", exited.stderr);
    run.assert_nothing_left();
}
