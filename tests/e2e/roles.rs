//! Roles: master or inert, RR_MODE, where the config comes from, `php --ri ticker`.

use serde_json::Value;

use crate::harness::{DEADLINE, Exited, Php, fixture, info, row};

#[test]
fn rr_mode_is_ticker_in_the_master_at_boot_and_in_every_worker() {
    let mut run = Php::new("rr-mode")
        .config("config/two_workers.yaml")
        // So that PHP fills $_ENV too.
        .ini("variables_order=EGPCS")
        .start("env.php");
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();
    let journal = exited.journal();
    let boot = journal.boot();
    assert_eq!(boot.pid, run.pid);
    let workers = journal.events("start");
    assert!(
        workers.len() >= 2,
        "ticks 0 and 1 ran: {:?}",
        journal.entries
    );
    for entry in std::iter::once(&boot).chain(workers) {
        for how in ["server", "getenv", "env"] {
            assert_eq!(
                entry.raw[how], "ticker",
                "RR_MODE through {how} in {}",
                entry.raw
            );
        }
    }
    run.assert_nothing_left();
}

/// Runs inert.php and returns what it printed: the JSON line, after checking that PHP
/// went on and exited 0 without starting any process.
fn run_inert(php: Php) -> (Value, Exited) {
    let mut run = php.start("inert.php");
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();
    let mut lines = exited.stdout.lines();
    let result: Value = serde_json::from_str(lines.next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("inert.php prints JSON ({e}): {}", exited.stdout));
    assert_eq!(lines.next(), Some("still running"), "{}", exited.stdout);
    assert_eq!(result["created"], false, "{result}");
    assert_eq!(result["class"], "Ticker\\Exception", "{result}");
    assert_eq!(result["runtime"], true, "a RuntimeException: {result}");
    assert!(
        !exited.stderr.contains("worker"),
        "no worker started\n{}",
        exited.stderr
    );
    run.assert_nothing_left();
    (result, exited)
}

#[test]
fn without_a_config_file_the_extension_is_inert_and_says_why() {
    let php = Php::new("inert-no-file");
    let expected = php.dir.join(".rr.yaml");
    let (result, _) = run_inert(php);
    let message = result["message"].as_str().expect("message");
    assert!(
        message.contains("no config file") && message.contains(&expected.display().to_string()),
        "{message}"
    );
    assert_eq!(result["server"], Value::Null, "RR_MODE stays unset");
    assert_eq!(result["getenv"], false, "RR_MODE stays unset");
}

#[test]
fn without_a_ticker_section_the_extension_is_inert_and_says_why() {
    let (result, _) = run_inert(Php::new("inert-no-section").config("config/no_ticker.yaml"));
    let message = result["message"].as_str().expect("message");
    assert!(
        message.contains("no `ticker` section") && message.contains("no_ticker.yaml"),
        "{message}"
    );
    assert_eq!(result["getenv"], false, "RR_MODE stays unset");
}

#[test]
fn with_rr_mode_already_set_the_extension_is_inert_and_says_why() {
    let (result, _) = run_inert(
        Php::new("inert-rr-mode")
            .config("config/two_workers.yaml")
            .env("RR_MODE", "http"),
    );
    let message = result["message"].as_str().expect("message");
    assert!(
        message.contains("RR_MODE") && message.contains("'http'"),
        "{message}"
    );
    assert_eq!(result["server"], "http", "RR_MODE is left alone");
    assert_eq!(result["getenv"], "http", "RR_MODE is left alone");
}

/// `php --ri ticker`, as `name => value` rows.
#[test]
fn php_ri_shows_version_config_schedules_workers_and_the_master_role() {
    let rows = info(Php::new("ri-master").config("config/one_worker.yaml"));
    assert_eq!(row(&rows, "version"), env!("CARGO_PKG_VERSION"));
    assert_eq!(row(&rows, "role"), "master");
    let file = fixture("config/one_worker.yaml");
    assert!(
        row(&rows, "config file").contains(&file.display().to_string())
            && row(&rows, "config file").contains("TICKER_CONFIG"),
        "{rows:?}"
    );
    assert_eq!(row(&rows, "schedule default"), "every 40ms");
    assert_eq!(row(&rows, "num_workers"), "1");
}

#[test]
fn php_ri_shows_the_inert_role_without_a_config() {
    let rows = info(Php::new("ri-inert"));
    assert_eq!(row(&rows, "version"), env!("CARGO_PKG_VERSION"));
    assert_eq!(row(&rows, "role"), "inert");
    assert!(row(&rows, "config file").contains(".rr.yaml"), "{rows:?}");
}

#[test]
fn the_ini_setting_names_the_config_file_and_runs_a_master() {
    let ini = fixture("config/ini.yaml");
    let rows = info(Php::new("ri-ini").ini(format!("ticker.config={}", ini.display())));
    assert_eq!(row(&rows, "role"), "master");
    assert!(
        row(&rows, "config file").contains("ini.yaml")
            && row(&rows, "config file").contains("ini ticker.config"),
        "{rows:?}"
    );
    assert_eq!(row(&rows, "schedule default"), "every 70ms");
    assert_eq!(row(&rows, "num_workers"), "3");

    // And it really runs: three workers tick.
    let mut run = Php::new("ini-run")
        .ini(format!("ticker.config={}", ini.display()))
        .start("journal.php");
    run.wait_for("three workers", |run| run.workers().len() == 3);
    run.wait_done(3);
    run.stop_with(libc::SIGTERM);
    run.assert_nothing_left();
}

#[test]
fn ticker_config_wins_over_the_ini_setting() {
    let ini = fixture("config/ini.yaml");
    let rows = info(
        Php::new("ri-env-wins")
            .ini(format!("ticker.config={}", ini.display()))
            .config("config/one_worker.yaml"),
    );
    assert!(
        row(&rows, "config file").contains("one_worker.yaml")
            && row(&rows, "config file").contains("TICKER_CONFIG"),
        "{rows:?}"
    );
    assert_eq!(row(&rows, "schedule default"), "every 40ms");
    assert_eq!(row(&rows, "num_workers"), "1");

    // An app run the same way gets TICKER_CONFIG's one worker, not the INI file's three.
    let mut run = Php::new("env-wins-run")
        .ini(format!("ticker.config={}", ini.display()))
        .config("config/one_worker.yaml")
        .start("journal.php");
    run.wait_done(3);
    assert_eq!(run.workers().len(), 1, "TICKER_CONFIG's num_workers");
    run.stop_with(libc::SIGTERM);
    run.assert_nothing_left();
}
