//! What the master and its workers inherit from the application's process: the SIGCHLD
//! disposition, the signal mask, stdin and the terminal; and what stays the application's:
//! the children it started itself. And what forking shares: the booted memory on 2 MB pages,
//! and the line that says what a host's page sampler will cost a large pool.

use crate::harness::{Exited, Php, Running, assert_gaps_explained, pool_yaml};

/// PHP statements for [`Php::boot`]: at exit, every process of the run (the master and each
/// worker that leaves its loop) journals whether SIGCHLD is ignored in it, from the kernel's
/// own view (`SigIgn` in /proc/self/status).
const JOURNAL_SIGCHLD_AT_EXIT: &str = r#"
register_shutdown_function(function () use ($journal): void {
    preg_match('/^SigIgn:\s*([0-9a-f]+)$/m', (string) file_get_contents('/proc/self/status'), $m);
    $ignored = (hexdec(substr($m[1], -8)) >> (SIGCHLD - 1)) & 1;
    record($journal, ['event' => 'exit', 'pid' => getmypid(), 'sigchld_ignored' => $ignored === 1]);
});
"#;

#[test]
fn an_app_that_ignores_sigchld_still_has_its_workers_reaped_and_reported() {
    // With SIGCHLD ignored, the kernel reaps children itself: a master that kept that
    // disposition would find no exit status (and could signal a reused pid).
    let mut run = Php::new("sigchld-ignored")
        .config("config/two_workers.yaml")
        .boot(&format!(
            "pcntl_signal(SIGCHLD, SIG_IGN);\n{JOURNAL_SIGCHLD_AT_EXIT}"
        ))
        .handler("if ($tick === 2) {\n    exit(3);\n}")
        .start("journal.php");
    run.wait_for("the worker of tick 2 to be reported", |run| {
        run.stderr().contains("while handling tick 2")
    });
    run.wait_done(6);
    let exited = run.stop_with(libc::SIGTERM);

    let culprit = exited.journal().started(2).expect("tick 2 started").pid;
    assert!(
        exited.stderr.contains(&format!(
            "worker {culprit} exited with status 3 while handling tick 2"
        )),
        "the master saw the worker's own exit status\n--- stderr ---\n{}",
        exited.stderr
    );
    assert!(!exited.stderr.contains("cannot reap"), "{}", exited.stderr);
    assert_gaps_explained(&exited.journal().done_ticks(), &exited.stderr, &[]);
    // The application's disposition is its own again once the pool has stopped, in the
    // master and in the workers (which are the application too).
    let journal = exited.journal();
    let exits = journal.events("exit");
    let master = exits
        .iter()
        .find(|e| e.pid == run.pid)
        .expect("the master journaled its exit");
    assert_eq!(master.raw["sigchld_ignored"], true, "{:?}", master.raw);
    assert!(exits.len() >= 3, "the master and two workers: {exits:?}");
    for e in &exits {
        assert_eq!(e.raw["sigchld_ignored"], true, "{:?}", e.raw);
    }
    run.assert_nothing_left();
}

#[test]
fn workers_under_a_terminal_are_never_stopped_by_it() {
    // Workers have a process group of their own, so that Ctrl-C reaches only the master,
    // which stops them gracefully; so they are in the background for the terminal. Were it
    // their stdin, reading it would stop them (SIGTTIN), and with `stty tostop` so would
    // writing to it (SIGTTOU): a pool that silently stops ticking.
    let mut run = Php::new("terminal")
        .config("config/two_workers.yaml")
        .terminal()
        .handler(
            r#"
if ($tick === 1) {
    $read = fgets(STDIN);
    $tty = fopen('/dev/tty', 'w');
    $written = $tty === false ? false : fwrite($tty, "a worker writes to the terminal\n");
    record($journal, [
        'event' => 'terminal',
        'pid' => getmypid(),
        'stdin' => readlink('/proc/self/fd/0'),
        'read' => $read,
        'written' => $written,
    ]);
}
"#,
        )
        .start("journal.php");
    run.wait_for("the worker of tick 1 to use the terminal", |run| {
        !run.journal().events("terminal").is_empty()
    });
    run.wait_done(5);
    let exited = run.stop_with(libc::SIGTERM);

    let journal = exited.journal();
    let entry = &journal.events("terminal")[0].raw;
    assert_eq!(entry["stdin"], "/dev/null", "{entry}");
    assert_eq!(entry["read"], false, "end of file at once: {entry}");
    assert_eq!(entry["written"], 32, "{entry}");
    assert_gaps_explained(&journal.done_ticks(), &exited.stderr, &[]);
    run.assert_nothing_left();
}

#[test]
fn a_child_the_application_started_keeps_its_exit_status_while_workers_come_and_go() {
    // The master reaps the children the kernel says have ended, and only its workers: the
    // application's own child, ended and unreaped for most of the run, must still give
    // proc_close() its status at the end, and workers that end meanwhile must still be
    // reaped, reported and replaced.
    let mut run = Php::new("app-child")
        .config("config/two_workers.yaml")
        .boot(
            r#"
$child = proc_open(['sh', '-c', 'exit 7'], [], $pipes);
$master = getmypid();
register_shutdown_function(function () use ($journal, $child, $master): void {
    if (getmypid() === $master) {
        record($journal, ['event' => 'child', 'pid' => $master, 'status' => proc_close($child)]);
    }
});
"#,
        )
        .handler("if ($tick === 3 || $tick === 6) {\n    exit(3);\n}")
        .start("journal.php");
    for tick in [3, 6] {
        run.wait_for(
            &format!("the worker of tick {tick} to be reported"),
            |run| {
                run.stderr()
                    .contains(&format!("while handling tick {tick}"))
            },
        );
    }
    run.wait_done(9);
    let exited = run.stop_with(libc::SIGTERM);

    for tick in [3, 6] {
        let culprit = exited.journal().started(tick).expect("started").pid;
        assert!(
            exited.stderr.contains(&format!(
                "worker {culprit} exited with status 3 while handling tick {tick}"
            )),
            "--- stderr ---\n{}",
            exited.stderr
        );
    }
    assert!(!exited.stderr.contains("cannot reap"), "{}", exited.stderr);
    let journal = exited.journal();
    let child = journal.events("child");
    assert_eq!(child.len(), 1, "{child:?}");
    assert_eq!(child[0].raw["status"], 7, "the child's own exit status");
    assert_gaps_explained(&journal.done_ticks(), &exited.stderr, &[3, 6]);
    run.assert_nothing_left();
}

#[test]
fn a_worker_holds_the_application_s_descriptors_and_its_channel_and_nothing_of_the_master_s() {
    // Every worker is checked at every tick, replacements too: a replacement is forked when
    // the master holds the channels of the other workers, its poller, timer and signalfd.
    let mut run = Php::new("worker-fds")
        .yaml(&pool_yaml("20ms", "    num_workers: 3\n"))
        .boot("$kept = fopen(__FILE__, 'r');\n")
        .handler(
            r#"
$links = [];
foreach (scandir('/proc/self/fd') as $fd) {
    if (ctype_digit($fd)) {
        $links[] = (string) @readlink("/proc/self/fd/$fd");
    }
}
record($journal, ['event' => 'fds', 'pid' => getmypid(), 'links' => $links]);
"#,
        )
        .start("journal.php");
    run.wait_done(6);
    let before = run.workers();
    // SAFETY: kill(2) on a worker of the master this test started.
    assert_eq!(unsafe { libc::kill(before[0], libc::SIGKILL) }, 0);
    run.wait_for("the replacement's tick", |run| {
        run.journal()
            .events("fds")
            .iter()
            .any(|e| !before.contains(&e.pid))
    });
    let exited = run.stop_with(libc::SIGTERM);

    let journal = exited.journal();
    let entries = journal.events("fds");
    assert!(entries.iter().any(|e| !before.contains(&e.pid)));
    for entry in entries {
        let links: Vec<&str> = entry.raw["links"]
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|l| l.as_str())
            .collect();
        let sockets = links.iter().filter(|l| l.starts_with("socket:")).count();
        assert_eq!(
            sockets, 1,
            "worker {}: its channel only: {links:?}",
            entry.pid
        );
        assert!(
            links.iter().any(|l| l.ends_with("boot.php")),
            "worker {}: the application's file stays open: {links:?}",
            entry.pid
        );
        assert!(
            !links.iter().any(|l| l.starts_with("anon_inode:")),
            "worker {}: no poller, timer or signalfd of the master's: {links:?}",
            entry.pid
        );
    }
    run.assert_nothing_left();
}

/// PHP statements for [`Php::handler`]: journals how much of the worker's memory is on
/// transparent huge pages (`AnonHugePages` of /proc/self/smaps_rollup, in kB).
const JOURNAL_HUGE_PAGES: &str = r#"
preg_match('/^AnonHugePages:\s*(\d+) kB$/m', (string) file_get_contents('/proc/self/smaps_rollup'), $m);
record($journal, ['event' => 'huge', 'pid' => getmypid(), 'kb' => (int) $m[1]]);
"#;

/// The run, which owns the scratch directory, and how it ended.
fn huge_pages_run(name: &str, ini: Option<&str>) -> (Running, Exited) {
    // 8 MB written at boot: a mapping of its own, at least three whole 2 MB stretches.
    let mut php = Php::new(name)
        .config("config/two_workers.yaml")
        .boot("$booted = str_repeat('x', 8 << 20);\n")
        .handler(JOURNAL_HUGE_PAGES);
    if let Some(setting) = ini {
        php = php.ini(setting);
    }
    let mut run = php.start("journal.php");
    run.wait_done(2);
    let exited = run.stop_with(libc::SIGTERM);
    (run, exited)
}

#[test]
fn workers_share_the_booted_memory_on_2_mb_pages_unless_ticker_huge_pages_is_off() {
    let thp =
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    let moved = "of the application's memory on 2 MB pages before forking";
    let (_on_run, on) = huge_pages_run("huge-pages-on", None);
    if thp.is_empty() || thp.contains("[never]") {
        assert!(on.stderr.contains("stayed on 4 KB pages"), "{}", on.stderr);
    } else {
        assert!(on.stderr.contains(moved), "{}", on.stderr);
        let journal = on.journal();
        let huge = journal.events("huge");
        assert!(!huge.is_empty(), "{}", on.stderr);
        for entry in huge {
            assert!(
                entry.raw["kb"].as_u64().unwrap_or(0) >= 3 * 2048,
                "worker {} maps the master's 2 MB pages: {:?}",
                entry.pid,
                entry.raw
            );
        }
    }
    let (_off_run, off) = huge_pages_run("huge-pages-off", Some("ticker.huge_pages=0"));
    assert!(!off.stderr.contains(moved), "{}", off.stderr);
    assert!(!off.stderr.contains("2 MB pages"), "{}", off.stderr);
}

/// A pool of `workers` forked workers ticking every 50 ms, stopped after its first tick.
fn pool_of(workers: usize) -> (Running, Exited) {
    let mut run = Php::new(&format!("page-sampler-{workers}"))
        .yaml(&pool_yaml("50ms", &format!("    num_workers: {workers}\n")))
        .start("journal.php");
    run.wait_done(1);
    let exited = run.stop_with(libc::SIGTERM);
    (run, exited)
}

#[test]
fn a_pool_large_enough_for_the_hosts_page_sampler_to_hold_it_back_is_told_so_at_start() {
    use std::path::Path;
    use ticker::page_sampler::{FROM_WORKERS, KDAMONDS, PROC, monitors};
    // What the test reads is what the master reads, but a monitor could be switched between
    // the two reads: only by someone pausing it on purpose, as `bench/run --pause-damon` does.
    let sampling = !monitors(Path::new(PROC), Path::new(KDAMONDS)).is_empty();
    let said = "this host runs DAMON (";
    let (_large_run, large) = pool_of(FROM_WORKERS);
    let (_small_run, small) = pool_of(FROM_WORKERS - 1);
    assert_eq!(
        large.stderr.contains(said),
        sampling,
        "a DAMON monitor {} on this host: {}",
        if sampling { "is" } else { "is not" },
        large.stderr
    );
    assert!(!small.stderr.contains(said), "{}", small.stderr);
    if sampling {
        let line = large.stderr.lines().find(|l| l.contains(said)).unwrap();
        assert!(
            line.contains(&format!("which {FROM_WORKERS} forked workers multiply")),
            "{line}"
        );
        assert!(line.contains("docs/how-it-works.md"), "{line}");
    }
}
