//! `ticker calendar`: the built command lists a cron expression's runs in a zone, needing no
//! master, and refuses bad input with status 2 in the words a config's refusal uses.

use crate::harness::{Exited, run_ticker_alone};

fn calendar(args: &[&str]) -> Exited {
    let mut all = vec!["calendar"];
    all.extend_from_slice(args);
    run_ticker_alone("calendar", &all)
}

fn lines(exited: &Exited) -> Vec<&str> {
    assert!(
        exited.status.success(),
        "ticker calendar exited with {:?}: {}",
        exited.status,
        exited.stderr
    );
    assert_eq!(exited.stderr, "");
    exited.stdout.lines().collect()
}

/// Status 2, one line on stderr, nothing on stdout.
fn refused(exited: &Exited) -> &str {
    assert_eq!(exited.status.code(), Some(2), "{}", exited.stderr);
    assert_eq!(exited.stdout, "");
    exited.stderr.trim_end()
}

#[test]
fn a_fixed_time_job_in_berlin_s_spring_gap_runs_at_the_gap_s_end() {
    let exited = calendar(&[
        "30 2 * * *",
        "--timezone",
        "Europe/Berlin",
        "--from",
        "2025-03-29T12:00:00+01:00",
        "--iterations",
        "3",
    ]);
    assert_eq!(
        lines(&exited),
        [
            "2025-03-30T03:00:00+02:00",
            "2025-03-31T02:30:00+02:00",
            "2025-04-01T02:30:00+02:00",
        ]
    );
}

#[test]
fn a_step_job_runs_on_both_passes_of_berlin_s_autumn_fold_told_apart_by_the_offset() {
    let exited = calendar(&[
        "*/30 * * * *",
        "--timezone",
        "Europe/Berlin",
        "--from",
        "2025-10-25T23:00:00Z",
        "--iterations",
        "6",
    ]);
    assert_eq!(
        lines(&exited),
        [
            "2025-10-26T01:30:00+02:00",
            "2025-10-26T02:00:00+02:00",
            "2025-10-26T02:30:00+02:00",
            "2025-10-26T02:00:00+01:00",
            "2025-10-26T02:30:00+01:00",
            "2025-10-26T03:00:00+01:00",
        ]
    );
}

#[test]
fn json_is_one_array_of_the_same_times() {
    let args = [
        "@daily",
        "--timezone",
        "America/New_York",
        "--from",
        "2025-03-08T12:00:00-05:00",
        "--iterations",
        "2",
    ];
    let plain = calendar(&args);
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let json = calendar(&with_json);
    assert!(json.status.success(), "{}", json.stderr);
    let times: Vec<String> = serde_json::from_str(&json.stdout).expect("a JSON array of strings");
    assert_eq!(
        times,
        ["2025-03-09T00:00:00-05:00", "2025-03-10T00:00:00-04:00"]
    );
    assert_eq!(times, lines(&plain));
}

#[test]
fn without_from_or_timezone_the_runs_follow_now_in_utc_five_of_them() {
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let exited = calendar(&["@hourly"]);
    let runs = lines(&exited);
    assert_eq!(runs.len(), 5, "{runs:?}");
    let mut previous = before;
    for run in runs {
        assert!(run.ends_with(":00:00+00:00"), "{run}");
        let at = seconds(run);
        assert!(
            at > previous,
            "{run} is after the one before it, and after now"
        );
        previous = at;
    }
}

/// Unix seconds of `YYYY-MM-DDTHH:MM:SS+00:00`, by the civil-from-days arithmetic: the test
/// checks the command's dates without the date library the command uses.
fn seconds(utc: &str) -> u64 {
    let n = |range: std::ops::Range<usize>| utc[range].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)) as u64
}

#[test]
fn a_bad_expression_zone_or_time_exits_2_in_the_config_s_words() {
    assert_eq!(
        refused(&calendar(&["61 * * * *"])),
        "ticker: minute 61 is out of 0-59"
    );
    assert_eq!(
        refused(&calendar(&["30 2 * * *", "--timezone", "Europe/Berlinn"])),
        r#"ticker: unknown time zone "Europe/Berlinn": expected an IANA name such as Europe/Berlin or UTC"#
    );
    assert_eq!(
        refused(&calendar(&["@daily", "--from", "2025-03-29T12:00:00"])),
        r#"ticker: --from: "2025-03-29T12:00:00" is not a time with an offset: expected RFC 3339 such as 2025-03-29T12:00:00+01:00 or 2025-03-29T11:00:00Z"#
    );
    for n in ["0", "three"] {
        let exited = calendar(&["@daily", "--iterations", n]);
        assert!(
            refused(&exited).contains("expected a whole number from 1"),
            "{}",
            exited.stderr
        );
    }
}
