//! The `ticker status` answers the docs show (output blocks, no language), compared by shape
//! with what a running master prints: the same lines in the same order but for the numbers
//! and the table rows, whose values change from run to run.

use super::{all_blocks, assert_all};
use crate::harness::DEADLINE;

use super::shell::master_with;

/// A shown answer, known by its first word, and the config of a master that prints one of
/// that shape.
pub(super) const ANSWERS: &[(&str, &str)] = &[
    (
        "master",
        "ticker:
  interval: 50ms
  pool:
    num_workers: 2
    destroy_timeout: 5s
",
    ),
    (
        "SCHEDULE",
        "ticker:
  interval: 50ms
  pool:
    num_workers: 2
    destroy_timeout: 5s
  schedules:
    report:
      cron: \"30 2 * * *\"
      timezone: Europe/Berlin
",
    ),
];

/// The lines of an answer but the table rows (the lines under a header such as
/// `PID  STATE ...`, up to a blank line), each as its words without a digit: `master 23139
/// ticker 0.1.0  every 50ms` and `master 9  ticker 0.2.0  every 1s` are alike.
fn shape(answer: &str) -> Vec<String> {
    let mut shape = Vec::new();
    let mut in_table = false;
    for line in answer.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.is_empty() {
            in_table = false;
        } else if in_table {
            continue;
        }
        in_table |= first.len() > 1 && first.chars().all(|c| c.is_ascii_uppercase());
        let words: Vec<&str> = line
            .split_whitespace()
            .filter(|w| !w.chars().any(|c| c.is_ascii_digit()))
            .collect();
        shape.push(words.join(" "));
    }
    shape
}

/// Each shown answer's lines are, by shape, a stretch of what `ticker status` prints.
#[test]
fn every_status_answer_shown_is_what_ticker_status_prints() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for block in all_blocks().iter().filter(|b| b.lang.is_empty()) {
        let first = block.text.split_whitespace().next().unwrap_or("");
        let Some((_, yaml)) = ANSWERS.iter().find(|(word, _)| *word == first) else {
            continue;
        };
        checked += 1;
        let shown = shape(&block.text);
        let mut run = master_with("docs-status", yaml);
        let pid = run.pid.to_string();
        let deadline = std::time::Instant::now() + DEADLINE;
        // Until the master has run a tick of each schedule shown, some lines are not there yet.
        let printed = loop {
            let printed = run.ticker(&["status", &pid]).stdout;
            let matches = shape(&printed).windows(shown.len()).any(|w| w == shown);
            if matches || std::time::Instant::now() > deadline {
                break matches.then_some(()).ok_or(printed);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        run.stop_with(libc::SIGTERM);
        if let Err(printed) = printed {
            failures.push(format!(
                "{}: ticker status printed\n{printed}\nbut the docs show\n{}",
                block.at(),
                block.text
            ));
        }
    }
    assert_all("status answers", checked, failures);
}
