//! Faults injected into a ticking pool: the master stopped and continued, storms of SIGHUP,
//! the pool grown to 50 workers and shrunk back, workers SIGKILLed over and over at 1 ms.
//!
//! Each run ends with the same audit ([`audit`]), which asserts nothing about timing, only
//! about the accounting: read while ticking, the status counters sit between the log read
//! just before and the log read just after them, and their own rules hold (due is
//! delivered plus skipped plus the tick waiting, delivered is completed plus failed plus
//! the ticks running); after the stop, the final counters equal what the log names tick by
//! tick, and no tick number was handed out twice. Every run logs at debug level, so that the log names each tick
//! that went to a worker and each one completed.
//!
//! With `TICKER_FAULT_REPORT` naming a file, each run appends a JSON line of what it did
//! and what it counted there: `scripts/reliability.py faults` builds the table of
//! docs/reliability.md from them.

use std::collections::BTreeSet;
use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{
    Exited, Php, Running, assert_gaps_explained, assert_no_duplicates, is_alive, number_after,
    ticks_logged,
};

/// Starts journal.php ticking at `interval` with `workers` workers, logging at debug
/// level, and returns once it has handled a few ticks.
fn start(name: &str, interval: &str, workers: usize) -> Running {
    let run = Php::new(name)
        .yaml(&format!(
            "ticker:\n  interval: {interval}\n  pool:\n    num_workers: {workers}\n    \
             destroy_timeout: 10s\nlogs:\n  level: debug\n"
        ))
        .start("journal.php");
    run.wait_done(5);
    run
}

/// The tick counters, as the status or the master's last line gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    due: u64,
    delivered: u64,
    completed: u64,
    failed: u64,
    skipped: u64,
}

impl Counts {
    /// Each counter, by its name, from `count`.
    fn by_name(count: impl Fn(&str) -> u64) -> Counts {
        Counts {
            due: count("due"),
            delivered: count("delivered"),
            completed: count("completed"),
            failed: count("failed"),
            skipped: count("skipped"),
        }
    }

    fn from_status(ticks: &Value) -> Counts {
        Counts::by_name(|key| {
            ticks[key]
                .as_u64()
                .unwrap_or_else(|| panic!("{key} in {ticks}"))
        })
    }

    /// From the master's last line: "master P stopped: ticks due D, delivered V, ...".
    fn from_stop_line(stderr: &str) -> Counts {
        let line = stderr
            .lines()
            .find(|l| l.contains("stopped: ticks due "))
            .unwrap_or_else(|| panic!("no stop line with the counters\n{stderr}"));
        Counts::by_name(|key| {
            number_after(line, &format!("{key} ")).unwrap_or_else(|| panic!("{key} in {line:?}"))
        })
    }
}

/// The ticks the master's log names, one set per fate.
struct Logged {
    delivered: BTreeSet<u64>,
    completed: BTreeSet<u64>,
    failed: BTreeSet<u64>,
    skipped: BTreeSet<u64>,
}

impl Logged {
    fn read(stderr: &str) -> Logged {
        let mut delivered = BTreeSet::new();
        let mut completed = BTreeSet::new();
        for line in stderr.lines() {
            if line.contains(" goes to worker ") && line.ends_with("(attempt 1)") {
                let tick = number_after(line, "tick ").expect("a tick number");
                assert!(delivered.insert(tick), "tick {tick} was delivered twice");
            } else if line.contains(" done by worker ") {
                completed.extend(number_after(line, "tick "));
            }
        }
        let mut skipped = ticks_logged(stderr, "skipped");
        skipped.extend(ticks_logged(stderr, "dropped"));
        Logged {
            delivered,
            completed,
            failed: ticks_logged(stderr, "failed"),
            skipped,
        }
    }

    /// Whether each count is at least the one the log names (`below`) or at most (not).
    fn bound(&self, counts: &Counts, below: bool, what: &str) {
        let pairs = [
            ("delivered", self.delivered.len(), counts.delivered),
            ("completed", self.completed.len(), counts.completed),
            ("failed", self.failed.len(), counts.failed),
            ("skipped", self.skipped.len(), counts.skipped),
        ];
        for (name, logged, counted) in pairs {
            let logged = logged as u64;
            let holds = if below {
                logged <= counted
            } else {
                counted <= logged
            };
            assert!(
                holds,
                "{what}: the status counts {counted} {name}, the log names {logged}"
            );
        }
    }
}

/// Checks the accounting of a run that is still ticking, stops it gracefully, checks the
/// final counters against the log and the journal, and reports the run as `fault`, tried
/// `times` times. Returns how the run ended.
fn audit(run: &mut Running, fault: &str, times: u64) -> Exited {
    let before = Logged::read(&run.stderr());
    let status = run.ticker(&["status", "--json"]);
    assert!(status.status.success(), "{status:?}");
    let after = Logged::read(&run.stderr());
    let snapshot: Value = serde_json::from_str(&status.stdout)
        .unwrap_or_else(|e| panic!("`ticker status --json` prints JSON ({e}): {status:?}"));
    let live = Counts::from_status(&snapshot["ticks"]);
    before.bound(&live, true, "before the status");
    after.bound(&live, false, "after the status");
    let running = snapshot["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .filter(|w| w["state"] == "busy")
        .count() as u64;
    let waiting = live.due.checked_sub(live.delivered + live.skipped);
    assert!(
        waiting.is_some_and(|w| w <= 1),
        "due = delivered + skipped + at most one waiting: {live:?}"
    );
    assert_eq!(
        live.delivered,
        live.completed + live.failed + running,
        "{live:?} with {running} ticks running"
    );

    let exited = run.stop_with(libc::SIGTERM);
    let end = Counts::from_stop_line(&exited.stderr);
    let logged = Logged::read(&exited.stderr);
    assert_eq!(end.due, end.delivered + end.skipped, "{end:?}");
    assert_eq!(end.delivered, end.completed + end.failed, "{end:?}");
    assert_eq!(
        (end.delivered, end.completed, end.failed, end.skipped),
        (
            logged.delivered.len() as u64,
            logged.completed.len() as u64,
            logged.failed.len() as u64,
            logged.skipped.len() as u64
        ),
        "the final counters are what the log names"
    );
    // Handled by PHP: each tick the master counts completed was journaled as done by its
    // worker; a tick journaled as done and not completed failed (its worker died before
    // its answer reached the master).
    let journal = exited.journal();
    let started: Vec<u64> = journal.events("start").iter().map(|e| e.tick()).collect();
    assert_no_duplicates(&started);
    let done: BTreeSet<u64> = journal.done_ticks().into_iter().collect();
    assert!(logged.completed.is_subset(&done), "completed, never done");
    assert!(
        done.iter()
            .all(|t| logged.completed.contains(t) || logged.failed.contains(t)),
        "ticks done by PHP are completed or failed"
    );
    assert_gaps_explained(&journal.done_ticks(), &exited.stderr, &[]);
    run.assert_nothing_left();
    report(fault, times, &end);
    exited
}

/// Appends the run to `TICKER_FAULT_REPORT`, when set. Nothing was lost: the audit passed.
fn report(fault: &str, times: u64, end: &Counts) {
    let Some(path) = std::env::var_os("TICKER_FAULT_REPORT") else {
        return;
    };
    let line = json!({
        "fault": fault,
        "times": times,
        "due": end.due,
        "delivered": end.delivered,
        "completed": end.completed,
        "failed": end.failed,
        "skipped": end.skipped,
        "lost": 0,
        "duplicates": 0,
    });
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("the fault report opens");
    writeln!(file, "{line}").expect("the fault report is written");
}

/// The number of lines of the log that contain `what`.
fn logged_lines(run: &Running, what: &str) -> usize {
    run.stderr().lines().filter(|l| l.contains(what)).count()
}

#[test]
fn the_master_stopped_and_continued_catches_up_by_skipping() {
    const TIMES: u64 = 3;
    let mut run = start("fault-sigstop", "5ms", 2);
    for round in 1..=TIMES {
        run.signal(libc::SIGSTOP);
        std::thread::sleep(Duration::from_millis(500));
        run.signal(libc::SIGCONT);
        run.wait_more_done(10, &format!("ticking after SIGCONT #{round}"));
    }
    let exited = audit(
        &mut run,
        "master stopped (SIGSTOP) for 500 ms, then SIGCONT",
        TIMES,
    );
    // 100 ticks came due while the master slept, each time: they are skipped, not run late
    // in a burst.
    assert!(
        exited.stderr.contains("skipped: no worker is free"),
        "{}",
        exited.stderr
    );
}

#[test]
fn storms_of_sighup_replace_the_workers_and_lose_nothing() {
    const STORMS: u64 = 5;
    const PER_STORM: u64 = 20;
    let mut run = start("fault-hup-storm", "5ms", 2);
    let first: BTreeSet<i32> = run.workers().into_iter().collect();
    for storm in 1..=STORMS {
        for _ in 0..PER_STORM {
            run.signal(libc::SIGHUP);
        }
        run.wait_more_done(40, &format!("ticking after storm {storm}"));
    }
    run.wait_for("the last reset to finish with two workers", |run| {
        logged_lines(run, "reset done") >= 1
            && run.stderr().rfind("reset (") < run.stderr().rfind("reset done")
            && run.workers().len() == 2
    });
    let last: BTreeSet<i32> = run.workers().into_iter().collect();
    assert!(
        first.is_disjoint(&last),
        "{first:?} were replaced: {last:?}"
    );
    // Signals of one kind coalesce: a storm starts one reset or a few.
    let resets = logged_lines(&run, "reset (received SIGHUP)");
    assert!(resets >= STORMS as usize, "{resets} resets");
    audit(
        &mut run,
        &format!(
            "SIGHUP storms: {STORMS} × {PER_STORM} signals at once, {resets} resets of a \
             2-worker pool"
        ),
        STORMS * PER_STORM,
    );
}

#[test]
fn the_pool_grows_to_50_workers_and_shrinks_back_while_ticking() {
    const TOP: usize = 50;
    let mut run = start("fault-ttin-50", "5ms", 2);
    // Signals of one kind coalesce: one at a time, each once the previous one is seen.
    let mut sent = 0;
    for (signal, from, to) in [(libc::SIGTTIN, 2, TOP), (libc::SIGTTOU, TOP, 2)] {
        let mut size = from;
        while size != to {
            let next = if to > from { size + 1 } else { size - 1 };
            run.signal(signal);
            sent += 1;
            let line = format!("pool size {size} -> {next} workers");
            run.wait_for(&line, |run| run.stderr().contains(&line));
            size = next;
        }
        run.wait_for(&format!("{to} workers"), |run| run.workers().len() == to);
        run.wait_more_done(10, &format!("ticking with {to} workers"));
    }
    audit(
        &mut run,
        "SIGTTIN from 2 to 50 workers, then SIGTTOU back to 2",
        sent,
    );
}

/// A small xorshift generator: the kill schedule varies from run to run, and the seed is
/// printed, so a failing schedule can be told apart.
struct Random(u64);

impl Random {
    fn seeded() -> Random {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos() as u64
            | 1;
        println!("kill schedule seed {seed}");
        Random(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn workers_sigkilled_every_100_to_250_ms_for_20_s_at_1_ms() {
    let mut run = start("fault-sigkill", "1ms", 4);
    let mut random = Random::seeded();
    // 20 s, and on a machine too loaded to sleep as asked, as long as 60 kills take.
    let mut kills = 0u64;
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end || kills < 60 {
        std::thread::sleep(Duration::from_millis(100 + random.below(151)));
        let workers = run.workers();
        if workers.is_empty() {
            continue;
        }
        let victim = workers[random.below(workers.len() as u64) as usize];
        // SAFETY: kill(2) on a live child of the master this test started.
        if unsafe { libc::kill(victim, libc::SIGKILL) } == 0 {
            kills += 1;
        }
    }
    run.wait_for("four workers again", |run| {
        run.workers().len() == 4 && run.workers().iter().all(|&pid| is_alive(pid))
    });
    run.wait_more_done(10, "ticking after the last kill");
    let exited = audit(
        &mut run,
        "SIGKILL of a random worker every 100–250 ms for 20 s, 4 workers, 1 ms interval",
        kills,
    );
    let deaths = exited
        .stderr
        .lines()
        .filter(|l| l.contains("was killed by signal 9 (SIGKILL) while"))
        .count() as u64;
    assert_eq!(deaths, kills, "every kill was seen and reported");
}
