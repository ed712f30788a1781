//! Bad configs: each exits non-zero with one line on stderr naming the file and the key,
//! before the script runs, so that no worker is ever started.

use std::path::Path;

use crate::harness::{DEADLINE, Exited, Php, fixture};

/// Runs journal.php (which journals its boot first thing) and checks the refusal.
fn refused(php: Php, file: &Path, mentions: &[&str]) -> Exited {
    let mut run = php.start("journal.php");
    let exited = run.wait_exit(DEADLINE);
    assert!(
        !exited.status.success(),
        "php must refuse to run\n--- stderr ---\n{}",
        exited.stderr
    );
    let message = exited.stderr.trim_end();
    assert!(
        !message.is_empty() && !message.contains('\n'),
        "one line on stderr, not {message:?}"
    );
    assert!(
        message.contains(&file.display().to_string()),
        "the message names the file {}: {message}",
        file.display()
    );
    for mention in mentions {
        assert!(
            message.contains(mention),
            "the message names {mention:?}: {message}"
        );
    }
    assert!(
        !exited.journal_exists(),
        "the script never ran, so no worker was started: {:?}",
        exited.journal().entries
    );
    assert_eq!(exited.stdout, "", "nothing ran");
    run.assert_nothing_left();
    exited
}

fn bad(name: &str, mentions: &[&str]) {
    let relative = format!("bad/{name}.yaml");
    let file = fixture(&relative);
    refused(
        Php::new(&format!("bad-{name}")).config(&relative),
        &file,
        mentions,
    );
}

#[test]
fn invalid_yaml_is_refused() {
    bad("invalid_yaml", &["invalid YAML", "line 3"]);
}

#[test]
fn an_unknown_key_under_ticker_is_refused() {
    bad("unknown_key", &["ticker.pool.wokers", "num_workers"]);
}

#[test]
fn a_malformed_duration_is_refused() {
    bad("bad_interval", &["ticker.interval", "fast", "250ms"]);
}

#[test]
fn a_negative_num_workers_is_refused() {
    bad(
        "negative_workers",
        &["ticker.pool.num_workers", "-1", "500"],
    );
}

#[test]
fn an_absurd_num_workers_is_refused() {
    bad(
        "too_many_workers",
        &["ticker.pool.num_workers", "501", "500"],
    );
}

#[test]
fn a_config_file_named_by_ticker_config_that_does_not_exist_is_refused() {
    let php = Php::new("missing-env");
    let file = php.dir.join("nope.yaml");
    refused(
        php.env("TICKER_CONFIG", &file),
        &file,
        &["not found", "TICKER_CONFIG"],
    );
}

#[test]
fn a_config_file_named_by_the_ini_setting_that_does_not_exist_is_refused() {
    let php = Php::new("missing-ini");
    let file = php.dir.join("nope.yaml");
    let php = php.ini(format!("ticker.config={}", file.display()));
    refused(php, &file, &["not found", "ticker.config"]);
}

#[test]
fn a_watch_tick_below_its_floor_is_refused() {
    bad(
        "watch_tick",
        &["ticker.pool.supervisor.watch_tick", "1ns", "100ms"],
    );
}

#[test]
fn a_deeply_nested_file_is_refused_at_once_naming_the_limit() {
    // 400 KB of nesting, which the YAML parser would take most of a minute to refuse.
    let yaml = format!(
        "ticker:\n  interval: 50ms\nhttp: {}\n",
        "{a: ".repeat(100_000)
    );
    let php = Php::new("bad-deep").yaml(&yaml);
    let file = php.dir.join("ticker.yaml");
    refused(php, &file, &["deeper than the limit of 64 levels"]);
}

#[test]
fn a_nul_byte_where_the_kernel_takes_a_string_is_refused_at_start() {
    bad(
        "nul_in_command",
        &["ticker.pool.command", r#""php\0worker.php" has a NUL byte"#],
    );
    bad(
        "nul_in_user",
        &["server.user", r#""www\0data" has a NUL byte"#],
    );
    bad(
        "nul_in_on_init",
        &["server.on_init.command[2]", "has a NUL byte"],
    );
}
