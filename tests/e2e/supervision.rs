//! Supervision: dead workers are replaced, a dead master takes its workers along, a crash
//! loop gives up, a worker that breaks the protocol is replaced.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::harness::{
    DEADLINE, ExitHold, Php, assert_gaps_explained, assert_no_duplicates, is_alive, number_after,
    pool_yaml,
};

/// The stderr line that names both `pid` and `what`.
fn line_naming(stderr: &str, pid: i32, what: &str) -> Option<String> {
    let worker = format!("worker {pid} ");
    stderr
        .lines()
        .find(|line| line.contains(&worker) && line.contains(what))
        .map(str::to_owned)
}

#[test]
fn a_worker_killed_with_sigkill_is_replaced_and_ticking_goes_on() {
    let mut run = Php::new("worker-sigkill")
        .config("config/two_workers.yaml")
        .env("TICKER_TEST_SLOW_TICK", "3")
        .env("TICKER_TEST_SLOW_MS", "30000")
        .start("journal.php");
    let victim = run.wait_started(3).pid;
    let before: BTreeSet<i32> = run.workers().into_iter().collect();
    assert!(before.contains(&victim), "{victim} is a worker: {before:?}");

    // SAFETY: kill(2) on a worker of the master this test started.
    assert_eq!(unsafe { libc::kill(victim, libc::SIGKILL) }, 0);

    run.wait_for("the killed worker to be reaped and replaced", |run| {
        let now: BTreeSet<i32> = run.workers().into_iter().collect();
        !is_alive(victim) && now.len() == 2 && !now.is_subset(&before)
    });
    let replacement = *run
        .workers()
        .iter()
        .find(|pid| !before.contains(pid))
        .expect("a new worker");
    run.wait_for("the replacement to handle ticks", |run| {
        run.journal()
            .done()
            .iter()
            .filter(|e| e.pid == replacement)
            .count()
            >= 2
    });
    let exited = run.stop_with(libc::SIGTERM);

    let ticks = exited.journal().done_ticks();
    assert!(!ticks.contains(&3), "tick 3 never finished: {ticks:?}");
    assert!(ticks.iter().any(|&t| t > 3), "ticking went on: {ticks:?}");
    let report = line_naming(&exited.stderr, victim, "tick 3");
    assert!(
        report.is_some(),
        "the master reports the tick the killed worker held, with its pid\n--- stderr ---\n{}",
        exited.stderr
    );
    // No number was handed out twice, and every gap is accounted for in the log.
    assert_gaps_explained(&ticks, &exited.stderr, &[]);
    run.assert_nothing_left();
}

#[test]
fn when_the_master_is_killed_every_worker_exits_by_itself() {
    // Tick 1 sleeps 30s: that worker is busy, and only its parent's death can stop it.
    let mut run = Php::new("master-sigkill")
        .config("config/two_workers.yaml")
        .env("TICKER_TEST_SLOW_TICK", "1")
        .env("TICKER_TEST_SLOW_MS", "30000")
        .start("journal.php");
    let busy = run.wait_started(1).pid;
    run.wait_for("two workers", |run| run.workers().len() == 2);
    let workers = run.workers();
    assert!(workers.contains(&busy));

    run.signal(libc::SIGKILL);
    let exited = run.wait_exit(DEADLINE);
    assert!(!exited.status.success());

    let deadline = Instant::now() + Duration::from_secs(3);
    while workers.iter().any(|&pid| is_alive(pid)) {
        assert!(
            Instant::now() < deadline,
            "workers outlived their master: {:?}",
            workers
                .iter()
                .filter(|&&pid| is_alive(pid))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    run.assert_nothing_left();
}

#[test]
fn workers_that_exit_after_every_tick_are_respawned_hundreds_of_times_without_a_hang() {
    const TICKS: usize = 300;
    let mut run = Php::new("respawn-stress")
        .config("config/stress.yaml")
        .env("TICKER_TEST_EXIT_AFTER_RESPOND", "1")
        .start("journal.php");
    run.wait_for_within(
        &format!("{TICKS} ticks, each on a fresh worker"),
        Duration::from_secs(90),
        |run| run.journal().done().len() >= TICKS,
    );
    let exited = run.stop_with(libc::SIGTERM);

    let journal = exited.journal();
    let done = journal.done();
    let pids: BTreeSet<i32> = done.iter().map(|e| e.pid).collect();
    assert_eq!(
        pids.len(),
        done.len(),
        "each worker handled one tick and exited"
    );
    assert!(pids.len() >= TICKS, "{} workers", pids.len());
    let master = run.pid;
    assert!(
        done.iter().all(|e| e.u64("ppid") == master as u64),
        "every worker is a fork of the master"
    );
    let ticks = journal.done_ticks();
    assert_no_duplicates(&ticks);
    let mut sorted = ticks.clone();
    sorted.sort_unstable();
    assert!(
        sorted.windows(2).all(|w| w[0] < w[1]),
        "tick numbers strictly increase"
    );
    assert_gaps_explained(&ticks, &exited.stderr, &[]);
    run.assert_nothing_left();
}

#[test]
fn an_app_that_fatals_at_every_tick_makes_the_master_give_up() {
    let mut run = Php::new("crash-loop")
        .config("config/crash.yaml")
        .start("fatal.php");
    let exited = run.wait_exit(Duration::from_secs(20));
    assert!(
        !exited.status.success(),
        "the master gives up with a non-zero status\n{}",
        exited.stderr
    );
    assert!(
        exited
            .stderr
            .contains("in a row died before finishing a tick"),
        "stderr says why\n--- stderr ---\n{}",
        exited.stderr
    );
    let journal = exited.journal();
    let workers: BTreeSet<i32> = journal.events("start").iter().map(|e| e.pid).collect();
    assert!(
        !workers.is_empty(),
        "ticks reached workers before they died"
    );
    assert!(
        workers.len() < 100,
        "the master stopped forking: {} workers",
        workers.len()
    );
    assert!(journal.done().is_empty(), "no tick finished");
    run.assert_nothing_left();
}

#[test]
fn a_worker_that_sends_a_malformed_frame_is_killed_and_replaced() {
    let mut run = Php::new("malformed-frame")
        .config("config/two_workers.yaml")
        .env("TICKER_TEST_GARBAGE_AT", "2")
        .start("journal.php");
    run.wait_for("the worker of tick 2 to write garbage", |run| {
        !run.journal().events("garbage").is_empty()
    });
    let culprit = run.journal().events("garbage")[0].pid;
    // The workers that started ticks 0 to 2 (a replacement may be forked already).
    let before: BTreeSet<i32> = run
        .journal()
        .events("start")
        .iter()
        .filter(|e| e.tick() <= 2)
        .map(|e| e.pid)
        .collect();
    assert!(before.contains(&culprit));
    run.wait_for("the master to kill the worker", |_| !is_alive(culprit));
    run.wait_for("a replacement that handles ticks", |run| {
        run.workers().len() == 2
            && run
                .journal()
                .done()
                .iter()
                .any(|e| e.tick() > 2 && !before.contains(&e.pid))
    });
    let exited = run.stop_with(libc::SIGTERM);

    assert!(
        line_naming(&exited.stderr, culprit, "malformed").is_some(),
        "the master says which worker sent a malformed frame\n--- stderr ---\n{}",
        exited.stderr
    );
    let ticks = exited.journal().done_ticks();
    assert!(!ticks.contains(&2), "tick 2 was never answered: {ticks:?}");
    assert_gaps_explained(&ticks, &exited.stderr, &[]);
    run.assert_nothing_left();
}

#[test]
fn a_worker_killed_for_a_protocol_error_takes_no_tick() {
    // Each worker answers its third tick and right after writes 12 bytes of garbage, then
    // waits to be killed: the master reads the garbage while the worker is idle and kills
    // it. Until the kernel has torn the process down and the master has reaped it, the dead
    // worker must not be handed a tick. With a single worker it is the only idle one, and
    // the window is wide enough to hit: SIGCHLD reaches the loop a pass after the kill at
    // best, and the next tick (1 ms away, handed over up to 200 µs early, and handled before
    // signals in a pass) usually comes first. A master that hands ticks to killed workers
    // does so at most of 30 kills. The debug log names every hand-over, in order.
    const KILLS: usize = 30;
    let mut run = Php::new("killed-takes-no-tick")
        .yaml(
            "ticker:\n  interval: 1ms\n  pool:\n    num_workers: 1\n    destroy_timeout: 5s\n\
             logs:\n  level: debug\n",
        )
        .handler(
            r#"
$GLOBALS['handled'] = ($GLOBALS['handled'] ?? 0) + 1;
if ($GLOBALS['handled'] < 3) {
    return true;
}
record($journal, ['event' => 'done', 'end' => hrtime(true)] + $entry);
$worker->respond(new Ticker\Payload('OK'));
record($journal, ['event' => 'garbage', 'pid' => getmypid(), 'tick' => $tick]);
$socket = fopen('php://fd/' . channel_fd(), 'wb');
fwrite($socket, str_repeat("\xff", 12));
fflush($socket);
sleep(30);
return false;
"#,
        )
        .start("journal.php");
    run.wait_for_within(
        &format!("{KILLS} workers killed for garbage"),
        Duration::from_secs(90),
        |run| {
            run.stderr()
                .lines()
                .filter(|l| l.contains("sent a malformed frame") && l.ends_with("; killing it"))
                .count()
                >= KILLS
        },
    );
    let exited = run.stop_with(libc::SIGTERM);

    let mut killed = BTreeSet::new();
    let mut handed_to_the_dead = vec![];
    for line in exited.stderr.lines() {
        if line.contains("; killing it") {
            killed.extend(number_after(line, "worker "));
        } else if line.contains(" goes to worker ")
            && let Some(pid) = number_after(line, " goes to worker ")
            && killed.contains(&pid)
        {
            handed_to_the_dead.push(line.to_owned());
        }
    }
    assert!(killed.len() >= KILLS, "{} kills", killed.len());
    assert!(
        handed_to_the_dead.is_empty(),
        "{} ticks went to workers already killed, the first: {:?}",
        handed_to_the_dead.len(),
        handed_to_the_dead.first()
    );
    let journal = exited.journal();
    let started: Vec<u64> = journal.events("start").iter().map(|e| e.tick()).collect();
    assert_no_duplicates(&started);
    assert_gaps_explained(&journal.done_ticks(), &exited.stderr, &[]);
    run.assert_nothing_left();
}

#[test]
fn a_worker_that_cannot_die_at_once_does_not_stall_ticking() {
    // exec_ttl kills the worker of tick 3, which would sleep 30 s. The test holds that
    // worker in the kernel's exit path, as uninterruptible sleep would hold it: it has its
    // SIGKILL but is not gone, and cannot be reaped. A master that waited for it would stop
    // ticking; this one ticks on, and reaps the worker once it is gone.
    let mut run = Php::new("undying-worker")
        .yaml(&pool_yaml(
            "10ms",
            "    num_workers: 2\n    supervisor:\n      exec_ttl: 5s\n",
        ))
        .env("TICKER_TEST_SLOW_TICK", "3")
        .env("TICKER_TEST_SLOW_MS", "30000")
        .start("journal.php");
    // exec_ttl leaves the test seconds to take hold of the worker before the kill.
    let victim = run.wait_started(3).pid;
    let hold = ExitHold::seize(victim);
    hold.wait_exit_stop(DEADLINE);
    let done = run.journal().done().len();
    run.wait_for("ticks to go on while the killed worker cannot die", |run| {
        run.journal().done().len() >= done + 20
    });
    let status = run.ticker(&["status", "--json"]);
    assert!(status.status.success(), "{}", status.stderr);
    assert!(is_alive(victim), "the worker is held, not reaped");
    hold.release();
    run.wait_for("the killed worker to be reaped", |_| !is_alive(victim));
    let exited = run.stop_with(libc::SIGTERM);

    assert!(
        exited.stderr.contains("longer than exec_ttl (5s)")
            && exited.stderr.contains("tick 3 failed"),
        "{}",
        exited.stderr
    );
    assert_gaps_explained(&exited.journal().done_ticks(), &exited.stderr, &[]);
    run.assert_nothing_left();
}

#[test]
fn a_retired_worker_that_never_exits_is_killed_after_destroy_timeout() {
    // Each worker is retired after one tick (max_jobs: 1); its code after the loop (a
    // shutdown function) never returns. Told to stop, it has destroy_timeout to exit, and
    // is then killed rather than left behind, while ticking goes on.
    let mut run = Php::new("retired-hangs")
        .yaml(
            "ticker:\n  interval: 100ms\n  pool:\n    num_workers: 2\n    max_jobs: 1\n    \
             destroy_timeout: 1s\n",
        )
        .handler(
            r#"
register_shutdown_function(function () use ($journal): void {
    record($journal, ['event' => 'hangs', 'pid' => getmypid()]);
    while (true) {
        usleep(100_000);
    }
});
"#,
        )
        .start("journal.php");
    let said = "was told to stop and did not exit within destroy_timeout (1s); killing it";
    run.wait_for("a retired worker killed after destroy_timeout", |run| {
        run.stderr().contains(said)
    });
    let hung = run.journal().events("hangs")[0].pid;
    run.wait_for("the hung worker to be gone", |_| !is_alive(hung));
    let line = line_naming(&run.stderr(), hung, "destroy_timeout");
    assert!(line.is_some(), "{}", run.stderr());
    run.wait_more_done(3, "ticking to go on");
    let exited = run.stop_with(libc::SIGTERM);
    assert_no_duplicates(&exited.journal().done_ticks());
    run.assert_nothing_left();
}
