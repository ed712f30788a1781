//! How a forked worker ends: the application's own shutdown (shutdown functions, destructors,
//! output buffers) runs in every worker and its exit status is PHP's, whether PHP's module
//! shutdown is skipped (the default) or kept (`ticker.worker_module_shutdown=1`).

use crate::harness::{Php, fixture};

/// PHP statements for [`Php::boot`]: each worker, when it ends, journals its shutdown
/// function and its global object's destructor, prints a line from an output buffer it
/// leaves open, and exits with status 5. The master does none of it.
const GOODBYE: &str = r#"
$masterPid = getmypid();
final class Goodbye
{
    public function __construct(private string $journal, private int $master)
    {
    }

    public function __destruct()
    {
        if (getmypid() !== $this->master) {
            record($this->journal, ['event' => 'destruct', 'pid' => getmypid()]);
        }
    }
}
$goodbye = new Goodbye($journal, $masterPid);
register_shutdown_function(function () use ($journal, $masterPid): void {
    if (getmypid() === $masterPid) {
        return;
    }
    record($journal, ['event' => 'shutdown', 'pid' => getmypid()]);
    ob_start();
    echo 'goodbye from ', getmypid(), "\n";
});
register_shutdown_function(function () use ($masterPid): void {
    if (getmypid() !== $masterPid) {
        exit(5);
    }
});
"#;

fn stopping_workers_run_the_application_shutdown(name: &str, ini: Option<&str>) {
    let mut php = Php::new(name)
        .config("config/two_workers.yaml")
        .boot(GOODBYE);
    if let Some(setting) = ini {
        php = php.ini(setting);
    }
    let mut run = php.start("journal.php");
    run.wait_done(4);
    let workers = run.workers();
    assert_eq!(workers.len(), 2, "{workers:?}");
    let exited = run.stop_with(libc::SIGTERM);

    let journal = exited.journal();
    for pid in &workers {
        for event in ["shutdown", "destruct"] {
            assert_eq!(
                journal
                    .events(event)
                    .iter()
                    .filter(|e| e.pid == *pid)
                    .count(),
                1,
                "worker {pid}: one {event} entry\n--- stderr ---\n{}",
                exited.stderr
            );
        }
        assert_eq!(
            exited
                .stdout
                .matches(&format!("goodbye from {pid}\n"))
                .count(),
            1,
            "worker {pid}'s buffered output, once\n--- stdout ---\n{}",
            exited.stdout
        );
        assert!(
            exited
                .stderr
                .contains(&format!("worker {pid} stopped (exited with status 5)")),
            "worker {pid} exited with PHP's status\n--- stderr ---\n{}",
            exited.stderr
        );
    }
    run.assert_nothing_left();
}

#[test]
fn without_module_shutdown_workers_still_run_the_application_shutdown() {
    stopping_workers_run_the_application_shutdown("exit-fast", None);
}

#[test]
fn with_module_shutdown_workers_run_the_same_application_shutdown() {
    stopping_workers_run_the_application_shutdown(
        "exit-full",
        Some("ticker.worker_module_shutdown=1"),
    );
}

#[test]
fn a_worker_module_shutdown_that_is_neither_on_nor_off_stops_the_start() {
    let exited = Php::new("exit-bad-switch")
        .config("config/two_workers.yaml")
        .ini("ticker.worker_module_shutdown=maybe")
        .run(&[fixture("journal.php").to_str().unwrap()]);
    assert!(!exited.status.success(), "{:?}", exited.status);
    let output = format!("{}{}", exited.stdout, exited.stderr);
    assert!(
        output.contains(
            "ticker.worker_module_shutdown: \"maybe\" is neither on nor off; expected 1 or On"
        ),
        "{output}"
    );
    assert!(
        exited.journal().done().is_empty(),
        "no worker ran a tick: {output}"
    );
}
