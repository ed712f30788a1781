//! `catch_up: once` and the state file: a schedule that missed runs while no master ran
//! runs once at the next start, and only then; a corrupt state file is a warning.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use ticker::schedule::cron::UnixInstant;

use crate::harness::{Entry, Php, info_with, row};

/// A cron schedule every two seconds that catches up, with its state kept in `state_dir`.
fn yaml(state_dir: &Path) -> String {
    format!(
        "ticker:
  state_dir: '{}'
  schedules:
    pair:
      cron: \"*/2 * * * * *\"
      timezone: UTC
      catch_up: once
  pool:
    num_workers: 1
    destroy_timeout: 5s
",
        state_dir.display()
    )
}

/// The state file of a run of [`yaml`], named after its config file: `ticker.yaml`, or the
/// copy the harness writes for command-started workers.
fn state_file(state_dir: &Path) -> PathBuf {
    if crate::harness::command_mode() {
        state_dir.join("ticker-state.command-mode.yaml.json")
    } else {
        state_dir.join("ticker-state.ticker.yaml.json")
    }
}

/// The last run of `pair` the state file holds: the instant it ran for.
fn last_run(state_dir: &Path) -> Option<UnixInstant> {
    let text = std::fs::read_to_string(state_file(state_dir)).ok()?;
    let file: Value = serde_json::from_str(&text).ok()?;
    let scheduled = file["schedules"]["pair"]["scheduled"].as_str()?;
    UnixInstant::parse_rfc3339(scheduled).ok()
}

fn scheduled(entry: &Entry) -> UnixInstant {
    let header = entry.header();
    let text = header["scheduled"]
        .as_str()
        .expect("a cron tick's scheduled");
    UnixInstant::parse_rfc3339(text).expect("RFC 3339")
}

fn secs(n: i64) -> i64 {
    n * 1_000_000_000
}

fn unix_now() -> UnixInstant {
    UnixInstant::from_unix(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap(),
    )
}

#[test]
fn a_schedule_that_missed_runs_while_no_master_ran_runs_once_at_the_next_start() {
    // A first start: no state file, nothing to catch up on.
    let first = Php::new("catch-up-first");
    let state_dir = first.dir.clone();
    let mut run = first.yaml(&yaml(&state_dir)).start("journal.php");
    let tick = run.wait_started(0);
    assert!(tick.header().get("catchUp").is_none(), "{}", tick.header());
    let exited = run.stop_with(libc::SIGTERM);
    assert!(exited.stderr.contains("no state file"), "{}", exited.stderr);
    // The last run handed out is kept, written at the stop at the latest.
    let last = last_run(&state_dir).expect("a state file with pair's last run");
    let ran: Vec<UnixInstant> = exited
        .journal()
        .events("start")
        .iter()
        .map(|e| scheduled(e))
        .collect();
    assert_eq!(ran.iter().max(), Some(&last), "{ran:?}");

    // Down for more than two occurrences.
    while unix_now().as_nanos() < last.as_nanos() + secs(5) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut run = Php::new("catch-up-again")
        .yaml(&yaml(&state_dir))
        .start("journal.php");
    let caught_up = run.wait_started(0);
    let header = caught_up.header();
    assert_eq!(header["catchUp"], Value::Bool(true), "{header}");
    assert!(header["skipped"].as_u64().unwrap() >= 2, "{header}");
    let at = scheduled(&caught_up);
    assert!(at > last, "it runs for a missed occurrence: {header}");
    let next = run.wait_started(1);
    assert!(
        next.header().get("catchUp").is_none(),
        "once: {}",
        next.header()
    );
    assert!(scheduled(&next) > at);
    let exited = run.stop_with(libc::SIGTERM);
    assert!(
        exited.stderr.contains("pair missed") && exited.stderr.contains("catching up"),
        "{}",
        exited.stderr
    );

    // Started again at once: it goes on at the occurrence after its last run, unless the
    // restart itself took long enough to miss one (a loaded machine), and then the first
    // run of the grid is later than that.
    let last = last_run(&state_dir).expect("pair's last run");
    let mut run = Php::new("catch-up-none")
        .yaml(&yaml(&state_dir))
        .start("journal.php");
    let first = run.wait_started(0);
    if first.header().get("catchUp").is_none() {
        assert_eq!(
            scheduled(&first).as_nanos(),
            last.as_nanos() + secs(2),
            "nothing was missed, nothing is made up for"
        );
    } else {
        let grid = run.wait_started(1);
        assert!(scheduled(&grid).as_nanos() > last.as_nanos() + secs(2));
    }
    run.stop_with(libc::SIGTERM);
}

#[test]
fn a_corrupt_state_file_is_a_warning_and_the_pool_starts_as_if_it_had_none() {
    let php = Php::new("catch-up-corrupt");
    let dir = php.dir.clone();
    std::fs::write(state_file(&dir), "{\"version\": 1, \"sched").unwrap();
    let mut run = php.yaml(&yaml(&dir)).start("journal.php");
    let first = run.wait_started(0);
    assert!(
        first.header().get("catchUp").is_none(),
        "{}",
        first.header()
    );
    let stderr = run.stderr();
    let path = state_file(&dir).display().to_string();
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("warn") && l.contains(&path) && l.contains("not a state file")),
        "{stderr}"
    );
    // Replaced by a good one at the first write, at most a second after the first run.
    run.wait_for("the state file to be replaced", |_| {
        last_run(&dir).is_some()
    });
    let status = run.ticker(&["status"]);
    assert!(
        status.stdout.contains(&format!("state file  {path}")),
        "{}",
        status.stdout
    );
    run.stop_with(libc::SIGTERM);

    let rows = info_with(Php::new("catch-up-ri").yaml(&yaml(&dir)), &[]);
    assert_eq!(
        row(&rows, "state file"),
        format!("{path} (last runs, for catch_up once)")
    );
    assert_eq!(
        row(&rows, "schedule pair"),
        "cron \"*/2 * * * * *\" in UTC (timezone), catch_up once"
    );
}

#[test]
fn a_state_dir_that_cannot_be_written_is_one_warning_however_many_runs_follow() {
    let php = Php::new("catch-up-unwritable");
    let missing = php.dir.join("no-such-dir");
    let mut run = php.yaml(&yaml(&missing)).start("journal.php");
    // Three runs, each owing a write, at least a second apart.
    run.wait_started(2);
    let exited = run.stop_with(libc::SIGTERM);
    let warnings = exited
        .stderr
        .lines()
        .filter(|l| l.contains("cannot write the state file"))
        .count();
    assert_eq!(warnings, 1, "{}", exited.stderr);
    assert!(!missing.exists(), "the directory is not made up");
}
