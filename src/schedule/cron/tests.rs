//! Examples of cron schedules: the syntax each form accepts, the errors' exact words, and
//! occurrences over DST gaps and folds in Europe/Berlin, America/New_York,
//! Australia/Lord_Howe (a 30-minute shift) and America/Santiago (a gap at midnight).
//! `properties.rs` beside this file checks the same rules over generated expressions.

use super::*;

fn zone(name: &str) -> Zone {
    Zone::lookup(name).unwrap()
}

fn schedule(expr: &str, zone_name: &str) -> CronSchedule {
    CronSchedule::new(CronExpr::parse(expr).unwrap(), zone(zone_name))
}

#[test]
fn copies_of_an_expression_share_its_parsed_form() {
    let expr = CronExpr::parse("*/5 * * * * *").unwrap();
    let copy = expr.clone();
    assert!(Arc::ptr_eq(&expr.cron, &copy.cron));
    let other = CronExpr::parse("*/5 * * * * *").unwrap();
    assert!(!Arc::ptr_eq(&expr.cron, &other.cron));
}

/// croner's own reading of `text`, each field as written and `*` years: what
/// [`CronExpr::parse`] must end with, however it gets there.
pub(super) fn croner_alone(text: &str) -> CronPattern {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .dom_and_dow(false)
        .alternative_weekdays(false)
        .sloppy_ranges(false)
        .build()
        .parse(text)
        .unwrap()
        .pattern
}

#[test]
fn the_parsed_form_is_croner_s_own_reading_with_every_year() {
    for text in [
        "* * * * *",
        "30 2 * * *",
        "3,8,10,17,24,28,33,37,43,47,54,56 1-59/2 * * * *",
        "*/15 9-17 * * MON-FRI",
        "0 0 L * *",
        "0 0 13 * 5",
        "0 0 * * 5#2",
        "0 0 1W * *",
        "0 0 * JAN,JUL 7",
        "0 12 * * +1-5",
    ] {
        let expr = CronExpr::parse(text).unwrap();
        assert!(expr.cron.pattern == croner_alone(text), "{text}");
    }
    let daily = CronExpr::parse("@daily").unwrap();
    assert!(daily.cron.pattern == croner_alone("0 0 * * *"));
    // The year is the one field the text never sets: a reading that left the placeholder
    // year would match in 2000 only.
    let every_second = schedule("* * * * * *", "UTC");
    let from = instant("2031-06-01T00:00:00Z");
    assert_eq!(
        every_second.next_after(from).unwrap().at().as_secs(),
        from.as_secs() + 1
    );
}

/// An RFC 3339 time with its offset, as an instant.
fn instant(rfc3339: &str) -> UnixInstant {
    let at: Timestamp = rfc3339.parse().unwrap();
    UnixInstant::from_timestamp(at).unwrap()
}

/// The local times of the next `n` occurrences after `from`.
fn next(expr: &str, zone_name: &str, from: &str, n: usize) -> Vec<String> {
    schedule(expr, zone_name)
        .occurrences_after(instant(from))
        .take(n)
        .map(|o| o.local().to_string())
        .collect()
}

fn error(expr: &str) -> String {
    CronExpr::parse(expr).unwrap_err().to_string()
}

// --- DST: Europe/Berlin, 2025-03-30 02:00 -> 03:00, 2025-10-26 03:00 -> 02:00 ---

#[test]
fn berlin_a_fixed_time_job_in_the_gap_runs_at_the_gap_s_end_that_day() {
    assert_eq!(
        next("30 2 * * *", "Europe/Berlin", "2025-03-29T12:00:00Z", 3),
        [
            "2025-03-30T03:00:00+02:00",
            "2025-03-31T02:30:00+02:00",
            "2025-04-01T02:30:00+02:00",
        ]
    );
    // The first instant after the gap, not the job's minute after it.
    assert_eq!(
        next("45 2 * * *", "Europe/Berlin", "2025-03-29T12:00:00Z", 1),
        ["2025-03-30T03:00:00+02:00"]
    );
}

#[test]
fn berlin_a_daily_job_before_the_gap_runs_once_on_the_gap_s_day() {
    // The hour before a gap is not in it: the job runs there, and not again after the gap.
    assert_eq!(
        next("30 1 * * *", "Europe/Berlin", "2025-03-29T12:00:00Z", 2),
        ["2025-03-30T01:30:00+01:00", "2025-03-31T01:30:00+02:00"]
    );
    assert_eq!(
        next("0 0 * * *", "Europe/Berlin", "2025-03-29T12:00:00Z", 2),
        ["2025-03-30T00:00:00+01:00", "2025-03-31T00:00:00+02:00"]
    );
}

#[test]
fn berlin_a_wildcard_job_has_no_times_inside_the_gap() {
    assert_eq!(
        next(
            "*/30 * * * *",
            "Europe/Berlin",
            "2025-03-30T01:00:00+01:00",
            3
        ),
        [
            "2025-03-30T01:30:00+01:00",
            "2025-03-30T03:00:00+02:00",
            "2025-03-30T03:30:00+02:00",
        ]
    );
    // A step job restricted to the missing hour skips the day altogether.
    assert_eq!(
        next("*/20 2 * * *", "Europe/Berlin", "2025-03-29T12:00:00Z", 2),
        ["2025-03-31T02:00:00+02:00", "2025-03-31T02:20:00+02:00"]
    );
}

#[test]
fn berlin_a_fixed_time_job_in_the_fold_runs_on_the_first_pass_only() {
    assert_eq!(
        next("30 2 * * *", "Europe/Berlin", "2025-10-25T12:00:00Z", 2),
        ["2025-10-26T02:30:00+02:00", "2025-10-27T02:30:00+01:00"]
    );
    // Searching from inside the second pass, before its 02:30: that time has run already.
    assert_eq!(
        next(
            "30 2 * * *",
            "Europe/Berlin",
            "2025-10-26T02:10:00+01:00",
            1
        ),
        ["2025-10-27T02:30:00+01:00"]
    );
    // And from the run itself.
    assert_eq!(
        next(
            "30 2 * * *",
            "Europe/Berlin",
            "2025-10-26T02:30:00+02:00",
            1
        ),
        ["2025-10-27T02:30:00+01:00"]
    );
}

#[test]
fn berlin_a_wildcard_job_runs_on_both_passes_of_the_fold() {
    assert_eq!(
        next(
            "*/30 * * * *",
            "Europe/Berlin",
            "2025-10-26T01:45:00+02:00",
            5
        ),
        [
            "2025-10-26T02:00:00+02:00",
            "2025-10-26T02:30:00+02:00",
            "2025-10-26T02:00:00+01:00",
            "2025-10-26T02:30:00+01:00",
            "2025-10-26T03:00:00+01:00",
        ]
    );
    // From inside the second pass, only what is left of it.
    assert_eq!(
        next(
            "*/30 * * * *",
            "Europe/Berlin",
            "2025-10-26T02:10:00+01:00",
            2
        ),
        ["2025-10-26T02:30:00+01:00", "2025-10-26T03:00:00+01:00"]
    );
    // From inside the first pass, the rest of it, then the whole second pass.
    assert_eq!(
        next("0 2 * * *", "Europe/Berlin", "2025-10-25T12:00:00Z", 2),
        ["2025-10-26T02:00:00+02:00", "2025-10-27T02:00:00+01:00"]
    );
    assert_eq!(
        next(
            "*/20 2 * * *",
            "Europe/Berlin",
            "2025-10-26T02:50:00+02:00",
            4
        ),
        [
            "2025-10-26T02:00:00+01:00",
            "2025-10-26T02:20:00+01:00",
            "2025-10-26T02:40:00+01:00",
            "2025-10-27T02:00:00+01:00",
        ]
    );
}

#[test]
fn an_hourly_job_runs_twice_at_2_in_the_fold_and_not_at_2_in_the_gap() {
    assert_eq!(
        next("@hourly", "Europe/Berlin", "2025-10-26T01:30:00+02:00", 3),
        [
            "2025-10-26T02:00:00+02:00",
            "2025-10-26T02:00:00+01:00",
            "2025-10-26T03:00:00+01:00",
        ]
    );
    assert_eq!(
        next("@hourly", "Europe/Berlin", "2025-03-30T01:30:00+01:00", 2),
        ["2025-03-30T03:00:00+02:00", "2025-03-30T04:00:00+02:00"]
    );
}

// --- DST: America/New_York, 2025-03-09 02:00 -> 03:00, 2025-11-02 02:00 -> 01:00 ---

#[test]
fn new_york_gap() {
    assert_eq!(
        next("30 2 * * *", "America/New_York", "2025-03-08T12:00:00Z", 2),
        ["2025-03-09T03:00:00-04:00", "2025-03-10T02:30:00-04:00"]
    );
    assert_eq!(
        next(
            "*/30 * * * *",
            "America/New_York",
            "2025-03-09T01:15:00-05:00",
            3
        ),
        [
            "2025-03-09T01:30:00-05:00",
            "2025-03-09T03:00:00-04:00",
            "2025-03-09T03:30:00-04:00",
        ]
    );
}

#[test]
fn new_york_fold() {
    assert_eq!(
        next("30 1 * * *", "America/New_York", "2025-11-01T12:00:00Z", 2),
        ["2025-11-02T01:30:00-04:00", "2025-11-03T01:30:00-05:00"]
    );
    assert_eq!(
        next(
            "*/30 1 * * *",
            "America/New_York",
            "2025-11-01T12:00:00Z",
            5
        ),
        [
            "2025-11-02T01:00:00-04:00",
            "2025-11-02T01:30:00-04:00",
            "2025-11-02T01:00:00-05:00",
            "2025-11-02T01:30:00-05:00",
            "2025-11-03T01:00:00-05:00",
        ]
    );
}

// --- DST: Australia/Lord_Howe, a 30-minute shift: 2025-10-05 02:00 -> 02:30, 2025-04-06
// 02:00 -> 01:30 ---

#[test]
fn lord_howe_gap_of_half_an_hour() {
    assert_eq!(
        next(
            "15 2 * * *",
            "Australia/Lord_Howe",
            "2025-10-04T12:00:00Z",
            2
        ),
        ["2025-10-05T02:30:00+11:00", "2025-10-06T02:15:00+11:00"]
    );
    // 02:45 is after the gap: it runs as usual.
    assert_eq!(
        next(
            "45 2 * * *",
            "Australia/Lord_Howe",
            "2025-10-04T12:00:00Z",
            1
        ),
        ["2025-10-05T02:45:00+11:00"]
    );
    assert_eq!(
        next(
            "*/15 2 * * *",
            "Australia/Lord_Howe",
            "2025-10-04T12:00:00Z",
            3
        ),
        [
            "2025-10-05T02:30:00+11:00",
            "2025-10-05T02:45:00+11:00",
            "2025-10-06T02:00:00+11:00",
        ]
    );
}

#[test]
fn lord_howe_fold_of_half_an_hour() {
    assert_eq!(
        next(
            "45 1 * * *",
            "Australia/Lord_Howe",
            "2025-04-05T00:00:00Z",
            2
        ),
        ["2025-04-06T01:45:00+11:00", "2025-04-07T01:45:00+10:30"]
    );
    // 01:15 is before the fold: once.
    assert_eq!(
        next(
            "*/15 1 * * *",
            "Australia/Lord_Howe",
            "2025-04-05T00:00:00Z",
            7
        ),
        [
            "2025-04-06T01:00:00+11:00",
            "2025-04-06T01:15:00+11:00",
            "2025-04-06T01:30:00+11:00",
            "2025-04-06T01:45:00+11:00",
            "2025-04-06T01:30:00+10:30",
            "2025-04-06T01:45:00+10:30",
            "2025-04-07T01:00:00+10:30",
        ]
    );
}

// --- America/Santiago: a day without midnight (2025-09-07 00:00 -> 01:00), and a fold
// at the end of a day (2025-04-05 24:00 -> 23:00) ---

#[test]
fn santiago_a_day_without_midnight() {
    assert_eq!(
        next("@daily", "America/Santiago", "2025-09-06T12:00:00Z", 2),
        ["2025-09-07T01:00:00-03:00", "2025-09-08T00:00:00-03:00"]
    );
    assert_eq!(
        next("30 23 * * *", "America/Santiago", "2025-04-05T12:00:00Z", 2),
        ["2025-04-05T23:30:00-03:00", "2025-04-06T23:30:00-04:00"]
    );
}

// --- Seconds ---

#[test]
fn six_fields_put_seconds_first() {
    assert_eq!(
        next("*/20 * * * * *", "UTC", "2025-01-01T10:00:00.5Z", 4),
        [
            "2025-01-01T10:00:20+00:00",
            "2025-01-01T10:00:40+00:00",
            "2025-01-01T10:01:00+00:00",
            "2025-01-01T10:01:20+00:00",
        ]
    );
    assert_eq!(
        next("5 0 12 * * *", "UTC", "2025-01-01T00:00:00Z", 1),
        ["2025-01-01T12:00:05+00:00"]
    );
    // A fixed-time job with seconds in the gap: the first instant after it, not 03:00:15.
    assert_eq!(
        next("15 30 2 * * *", "Europe/Berlin", "2025-03-29T12:00:00Z", 1),
        ["2025-03-30T03:00:00+02:00"]
    );
    assert!(CronExpr::parse("15 30 2 * * *").unwrap().is_fixed_time());
    // A job every second in the fold runs through both passes: 7200 runs in that hour.
    let every_second = schedule("* * 2 26 10 *", "Europe/Berlin");
    assert_eq!(
        every_second
            .occurrences_after(instant("2025-10-26T01:59:59+02:00"))
            .take_while(|o| o.local().starts_with("2025-10-26T02"))
            .count(),
        7200
    );
}

#[test]
fn five_fields_run_at_second_0() {
    assert_eq!(
        next("* * * * *", "UTC", "2025-01-01T10:00:00Z", 2),
        ["2025-01-01T10:01:00+00:00", "2025-01-01T10:02:00+00:00"]
    );
}

// --- Occurrences are strictly after the instant searched from ---

#[test]
fn an_occurrence_is_never_at_or_before_the_instant_searched_from() {
    let s = schedule("0 * * * *", "UTC");
    let on_the_hour = instant("2025-01-01T10:00:00Z");
    assert_eq!(
        s.next_after(on_the_hour).unwrap().at(),
        instant("2025-01-01T11:00:00Z")
    );
    // A nanosecond before, the hour itself.
    assert_eq!(
        s.next_after(UnixInstant::from_nanos(on_the_hour.as_nanos() - 1))
            .unwrap()
            .at(),
        on_the_hour
    );
    // A nanosecond after, the next hour.
    assert_eq!(
        s.next_after(UnixInstant::from_nanos(on_the_hour.as_nanos() + 1))
            .unwrap()
            .at(),
        instant("2025-01-01T11:00:00Z")
    );
}

#[test]
fn an_occurrence_carries_its_instant_and_its_local_time() {
    let o = schedule("30 2 * * *", "Europe/Berlin")
        .next_after(instant("2025-03-29T12:00:00Z"))
        .unwrap();
    assert_eq!(o.at(), instant("2025-03-30T01:00:00Z"));
    assert_eq!(o.at().to_string(), "2025-03-30T01:00:00Z");
    assert_eq!(o.local(), "2025-03-30T03:00:00+02:00");
    assert_eq!(o.to_string(), o.local());
    assert_eq!(o.at().as_secs(), 1_743_296_400);
    assert_eq!(o.at().unix(), Duration::from_secs(1_743_296_400));
    assert_eq!(
        UnixInstant::from_unix(Duration::from_secs(1_743_296_400)),
        o.at()
    );
}

// --- Syntax ---

#[test]
fn day_of_month_and_day_of_week_both_restricted_match_either() {
    // The 13th, and every Friday: Friday the 13th of June 2025 once.
    assert_eq!(
        next("0 0 13 * 5", "UTC", "2025-06-01T00:00:00Z", 7),
        [
            "2025-06-06T00:00:00+00:00",
            "2025-06-13T00:00:00+00:00",
            "2025-06-20T00:00:00+00:00",
            "2025-06-27T00:00:00+00:00",
            "2025-07-04T00:00:00+00:00",
            "2025-07-11T00:00:00+00:00",
            "2025-07-13T00:00:00+00:00",
        ]
    );
    // One of them `*`: the other alone decides.
    assert_eq!(
        next("0 0 13 * *", "UTC", "2025-06-01T00:00:00Z", 2),
        ["2025-06-13T00:00:00+00:00", "2025-07-13T00:00:00+00:00"]
    );
    assert_eq!(
        next("0 0 * * 5", "UTC", "2025-06-01T00:00:00Z", 2),
        ["2025-06-06T00:00:00+00:00", "2025-06-13T00:00:00+00:00"]
    );
}

#[test]
fn a_stepped_day_of_month_is_restricted_and_so_either_field_matches() {
    // Odd days, and Mondays (2025-06-02 and 2025-06-16 are Mondays). Vixie cron would read
    // `*/2` as unrestricted here and run on odd Mondays only.
    assert_eq!(
        next("0 0 */2 * 1", "UTC", "2025-06-01T00:00:00Z", 4),
        [
            "2025-06-02T00:00:00+00:00",
            "2025-06-03T00:00:00+00:00",
            "2025-06-05T00:00:00+00:00",
            "2025-06-07T00:00:00+00:00",
        ]
    );
}

#[test]
fn a_leap_day_comes_every_four_years() {
    assert_eq!(
        next("0 0 29 2 *", "UTC", "2025-01-01T00:00:00Z", 2),
        ["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"]
    );
    // 2100 is no leap year.
    assert_eq!(
        next("0 0 29 2 *", "UTC", "2097-01-01T00:00:00Z", 1),
        ["2104-02-29T00:00:00+00:00"]
    );
}

#[test]
fn sunday_is_0_and_7_and_names_mean_their_numbers() {
    let from = "2025-06-01T12:00:00Z"; // a Sunday
    let sundays = next("0 0 * * 0", "UTC", from, 2);
    assert_eq!(
        sundays,
        ["2025-06-08T00:00:00+00:00", "2025-06-15T00:00:00+00:00"]
    );
    for same in ["0 0 * * 7", "0 0 * * SUN", "0 0 * * sun", "@weekly"] {
        assert_eq!(next(same, "UTC", from, 2), sundays, "{same}");
    }
    // A range up to 7 (or SUN) ends on Sunday.
    let weekend = next("0 0 * * 6-7", "UTC", from, 3);
    assert_eq!(
        weekend,
        [
            "2025-06-07T00:00:00+00:00",
            "2025-06-08T00:00:00+00:00",
            "2025-06-14T00:00:00+00:00",
        ]
    );
    assert_eq!(next("0 0 * * SAT-SUN", "UTC", from, 3), weekend);
    assert_eq!(
        next("0 0 * * MON-FRI", "UTC", from, 2),
        ["2025-06-02T00:00:00+00:00", "2025-06-03T00:00:00+00:00"]
    );
    assert_eq!(
        next("0 0 1 JAN,jul *", "UTC", from, 2),
        ["2025-07-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"]
    );
    assert_eq!(
        next("0 0 1 MAR-MAY *", "UTC", "2025-01-01T00:00:00Z", 3),
        [
            "2025-03-01T00:00:00+00:00",
            "2025-04-01T00:00:00+00:00",
            "2025-05-01T00:00:00+00:00",
        ]
    );
}

#[test]
fn lists_ranges_and_steps() {
    assert_eq!(
        next("5,10-12,40-50/5 9 * * *", "UTC", "2025-01-01T00:00:00Z", 8),
        [
            "2025-01-01T09:05:00+00:00",
            "2025-01-01T09:10:00+00:00",
            "2025-01-01T09:11:00+00:00",
            "2025-01-01T09:12:00+00:00",
            "2025-01-01T09:40:00+00:00",
            "2025-01-01T09:45:00+00:00",
            "2025-01-01T09:50:00+00:00",
            "2025-01-02T09:05:00+00:00",
        ]
    );
    // A step larger than the field keeps only its start.
    assert_eq!(
        next("*/90 * * * *", "UTC", "2025-01-01T00:00:00Z", 2),
        ["2025-01-01T01:00:00+00:00", "2025-01-01T02:00:00+00:00"]
    );
}

#[test]
fn aliases_stand_for_their_expressions() {
    let from = "2025-06-15T12:34:56Z";
    for (alias, expr) in [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("@DAILY", "0 0 * * *"),
    ] {
        assert_eq!(
            next(alias, "UTC", from, 3),
            next(expr, "UTC", from, 3),
            "{alias}"
        );
        assert_eq!(CronExpr::parse(alias).unwrap().as_str(), alias);
    }
    assert_eq!(
        next("@yearly", "UTC", from, 1),
        ["2026-01-01T00:00:00+00:00"]
    );
    assert_eq!(
        next("@hourly", "UTC", from, 1),
        ["2025-06-15T13:00:00+00:00"]
    );
}

#[test]
fn fixed_time_means_one_value_each_in_seconds_minutes_and_hours() {
    for fixed in [
        "30 2 * * *",
        "0 0 * * 1",
        "0 30 2 * * *",
        "@daily",
        "@yearly",
        "0 12 13 * 5",
    ] {
        assert!(CronExpr::parse(fixed).unwrap().is_fixed_time(), "{fixed}");
    }
    for follows_real_time in [
        "* 2 * * *",
        "*/30 2 * * *",
        "0 */2 * * *",
        "0,30 2 * * *",
        "0 1-3 * * *",
        "@hourly",
        "* 30 2 * * *",
        "*/10 30 2 * * *",
        "0 0-59/60 2 * * *",
    ] {
        assert!(
            !CronExpr::parse(follows_real_time).unwrap().is_fixed_time(),
            "{follows_real_time}"
        );
    }
}

#[test]
fn an_expression_keeps_its_text_and_compares_by_it() {
    let expr: CronExpr = "  0 3 * * *\n".parse().unwrap();
    assert_eq!(expr.as_str(), "0 3 * * *");
    assert_eq!(expr.to_string(), "0 3 * * *");
    assert_eq!(expr, CronExpr::parse("0 3 * * *").unwrap());
}

// --- Errors ---

#[test]
fn errors_name_the_field_its_value_and_its_range() {
    for (expr, message) in [
        ("61 * * * *", "minute 61 is out of 0-59"),
        ("* 24 * * *", "hour 24 is out of 0-23"),
        ("60 * * * * *", "second 60 is out of 0-59"),
        ("0 0 0 * *", "day-of-month 0 is out of 1-31"),
        ("0 0 32 * *", "day-of-month 32 is out of 1-31"),
        ("0 0 32W * *", "day-of-month 32 is out of 1-31"),
        ("0 0 * 13 *", "month 13 is out of 1-12"),
        ("0 0 * JAN-13 *", "month 13 is out of 1-12"),
        ("0 0 * * 8", "day-of-week 8 is out of 0-7"),
        ("0 1-70/5 * * *", "hour 70 is out of 0-23"),
        (
            "5,99999999999999999999 * * * *",
            "minute 99999999999999999999 is out of 0-59",
        ),
        (
            "0 0 * * 5-1",
            "day-of-week range 5-1 runs backwards: write the smaller value first",
        ),
        (
            "30-10 * * * *",
            "minute range 30-10 runs backwards: write the smaller value first",
        ),
        (
            "*/0 * * * *",
            r#"minute step "*/0" is 0: a step is 1 or more"#,
        ),
        (
            "0 MON * * *",
            r#"hour "MON": names are only allowed in month (JAN-DEC) and day-of-week (SUN-SAT)"#,
        ),
        (
            "0 0 * * JAN",
            r#"day-of-week "JAN": names are only allowed in month (JAN-DEC) and day-of-week (SUN-SAT)"#,
        ),
        (
            "0 0 * MON *",
            r#"month "MON": names are only allowed in month (JAN-DEC) and day-of-week (SUN-SAT)"#,
        ),
    ] {
        assert_eq!(error(expr), message, "{expr}");
    }
}

#[test]
fn errors_keep_croner_s_reason_where_ours_has_none() {
    assert_eq!(
        error("5/10 * * * *"),
        r#"minute "5/10": Invalid step syntax: single number steps like "5/10" are not allowed. Use "*/10" for wildcard steps or "X-Y/10" for range steps."#
    );
    assert_eq!(
        error("x * * * *"),
        r#"minute "x": CronPattern contains illegal character 'X' in part 'X'"#
    );
    let err = CronExpr::parse("0 0 * * 5#6").unwrap_err();
    assert!(
        matches!(
            &err,
            CronError::Invalid {
                field: Field::DayOfWeek,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn errors_for_the_shape_of_the_expression() {
    assert_eq!(
        error("* * * *"),
        "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, found 4"
    );
    assert_eq!(
        error("0 0 0 * * * 2030"),
        "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, found 7"
    );
    assert_eq!(
        error("   "),
        "empty cron expression: expected 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or an alias such as @daily"
    );
    assert_eq!(
        error("@fortnightly"),
        r#"unknown alias "@fortnightly": expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"#
    );
    assert_eq!(
        error("@reboot"),
        r#"unknown alias "@reboot": expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"#
    );
    assert!(matches!(
        CronExpr::parse("@daily 0"),
        Err(CronError::UnknownAlias { .. })
    ));
}

#[test]
fn an_expression_that_never_matches_is_refused_saying_why() {
    assert_eq!(error("0 0 30 2 *"), "never matches: February has no 30th");
    assert_eq!(
        error("0 0 30,31 2 *"),
        "never matches: February has no 30th or 31st"
    );
    assert_eq!(
        error("0 0 31 4,6,9,11 *"),
        "never matches: April, June, September and November have no 31st"
    );
    assert_eq!(
        error("0 0 30-31 FEB *"),
        "never matches: February has no 30th or 31st"
    );
    assert_eq!(error("0 0 0 31 2 *"), "never matches: February has no 31st");
    // With a weekday as well, a day that is either matches: it runs.
    assert!(CronExpr::parse("0 0 30 2 1").is_ok());
    // February 29 exists, if rarely.
    assert!(CronExpr::parse("0 0 29 2 *").is_ok());
}

#[test]
fn calendar_lists_the_next_runs_in_a_named_zone() {
    let runs = calendar(
        "30 2 * * *",
        "Europe/Berlin",
        instant("2025-03-29T12:00:00Z"),
        3,
    )
    .unwrap();
    let local: Vec<&str> = runs.iter().map(Occurrence::local).collect();
    assert_eq!(
        local,
        [
            "2025-03-30T03:00:00+02:00",
            "2025-03-31T02:30:00+02:00",
            "2025-04-01T02:30:00+02:00",
        ]
    );
    assert_eq!(
        calendar("30 2 * * *", "Europe/Berlinn", UnixInstant::default(), 3)
            .unwrap_err()
            .to_string(),
        r#"unknown time zone "Europe/Berlinn": expected an IANA name such as Europe/Berlin or UTC"#
    );
    assert_eq!(
        calendar("61 * * * *", "UTC", UnixInstant::default(), 3)
            .unwrap_err()
            .to_string(),
        "minute 61 is out of 0-59"
    );
    assert!(
        calendar("* * * * *", "UTC", UnixInstant::default(), 0)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_schedule_past_2262_has_no_next_run() {
    let s = schedule("0 0 1 1 *", "UTC");
    assert_eq!(s.next_after(UnixInstant::from_nanos(i64::MAX - 1)), None);
    assert_eq!(
        s.next_after(instant("2262-01-01T00:00:00Z")),
        None,
        "2263-01-01 is past what an i64 of nanoseconds reaches"
    );
}

#[test]
fn croner_s_extensions_are_accepted() {
    let from = "2025-01-01T00:00:00Z";
    // The last day of the month.
    assert_eq!(
        next("0 0 L * *", "UTC", from, 2),
        ["2025-01-31T00:00:00+00:00", "2025-02-28T00:00:00+00:00"]
    );
    // The second Friday; the last Friday.
    assert_eq!(
        next("0 0 * * 5#2", "UTC", from, 2),
        ["2025-01-10T00:00:00+00:00", "2025-02-14T00:00:00+00:00"]
    );
    assert_eq!(
        next("0 0 * * FRIL", "UTC", from, 2),
        ["2025-01-31T00:00:00+00:00", "2025-02-28T00:00:00+00:00"]
    );
    // The weekday nearest the 15th (2025-02-15 is a Saturday).
    assert_eq!(
        next("0 0 15W * *", "UTC", from, 2),
        ["2025-01-15T00:00:00+00:00", "2025-02-14T00:00:00+00:00"]
    );
    // `+`: the 1st of the month when it is a Monday (both, not either).
    assert_eq!(
        next("0 0 1 * +MON", "UTC", from, 2),
        ["2025-09-01T00:00:00+00:00", "2025-12-01T00:00:00+00:00"]
    );
    // `?` is `*`.
    assert_eq!(
        next("0 0 ? * MON", "UTC", from, 1),
        next("0 0 * * MON", "UTC", from, 1)
    );
    assert_eq!(
        error("0 0 30 2 +1"),
        "never matches: no day of the 400-year Gregorian cycle fits its day-of-month, month and day-of-week"
    );
}

#[test]
fn an_rfc_3339_time_with_an_offset_is_the_instant_it_names() {
    let utc = UnixInstant::parse_rfc3339("2025-03-29T11:00:00Z").unwrap();
    assert_eq!(utc.as_secs(), 1_743_246_000);
    assert_eq!(utc.subsec_nanos(), 0);
    // The same instant written in Berlin's winter offset, and with a lower-case z.
    for same in ["2025-03-29T12:00:00+01:00", "2025-03-29T11:00:00z"] {
        assert_eq!(UnixInstant::parse_rfc3339(same), Ok(utc), "{same}");
    }
    let fraction = UnixInstant::parse_rfc3339("1970-01-01T00:00:01.5-00:00").unwrap();
    assert_eq!(fraction.as_nanos(), 1_500_000_000);
    let before_1970 = UnixInstant::parse_rfc3339("1969-12-31T23:59:59Z").unwrap();
    assert_eq!(before_1970.as_secs(), -1);
    assert_eq!(utc.to_string(), "2025-03-29T11:00:00Z");
}

#[test]
fn a_time_without_an_offset_or_no_time_at_all_is_refused_naming_the_value() {
    for text in [
        "2025-03-29T12:00:00",
        "2025-03-29",
        "12:00",
        "",
        "now",
        "2025-02-30T12:00:00Z",
        "2025-03-29T25:00:00Z",
        "1743246000",
    ] {
        assert_eq!(
            UnixInstant::parse_rfc3339(text),
            Err(TimeError::NotRfc3339 {
                value: text.to_string()
            }),
            "{text:?}"
        );
    }
    assert_eq!(
        UnixInstant::parse_rfc3339("2025-03-29T12:00:00")
            .unwrap_err()
            .to_string(),
        r#""2025-03-29T12:00:00" is not a time with an offset: expected RFC 3339 such as 2025-03-29T12:00:00+01:00 or 2025-03-29T11:00:00Z"#
    );
    // A line break in the value stays on one line.
    assert!(
        !UnixInstant::parse_rfc3339("x\ny")
            .unwrap_err()
            .to_string()
            .contains('\n')
    );
}

#[test]
fn a_time_an_i64_of_nanoseconds_cannot_hold_is_out_of_range() {
    assert!(UnixInstant::parse_rfc3339("2262-04-11T23:47:16Z").is_ok());
    for text in [
        "2262-04-11T23:47:17Z",
        "9999-01-01T00:00:00Z",
        "1000-01-01T00:00:00Z",
    ] {
        assert_eq!(
            UnixInstant::parse_rfc3339(text),
            Err(TimeError::OutOfRange {
                value: text.to_string()
            }),
            "{text}"
        );
    }
    assert_eq!(
        UnixInstant::parse_rfc3339("2300-01-01T00:00:00Z")
            .unwrap_err()
            .to_string(),
        r#""2300-01-01T00:00:00Z" is out of range: expected a time from 1677-09-21 to 2262-04-11"#
    );
}
