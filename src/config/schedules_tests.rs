//! `ticker.schedules` and `ticker.timezone` through whole files: what each key gives, the
//! defaults a schedule takes from the `ticker` section, and every refusal's message.

use std::time::Duration;

use super::tests::{err, ok};
use super::*;

fn schedules(yaml: &str) -> Vec<ScheduleConfig> {
    ok(yaml).ticker.expect("ticker section").schedules
}

fn names(yaml: &str) -> Vec<String> {
    schedules(yaml).into_iter().map(|s| s.name).collect()
}

/// The message of the error `yaml` gives, after the file's path.
fn refusal(yaml: &str) -> String {
    let text = err(yaml).to_string();
    text.split_once(": ")
        .map(|(_, rest)| rest.to_string())
        .unwrap_or(text)
}

#[test]
fn ticker_interval_is_the_schedule_named_default() {
    let all = schedules("ticker:\n  interval: 250ms\n");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].name, "default");
    assert_eq!(all[0].when, When::Every(Duration::from_millis(250)));
    let config = ok("ticker:\n  interval: 250ms\n").ticker.unwrap();
    assert_eq!(config.interval(), Some(Duration::from_millis(250)));
}

#[test]
fn a_ticker_section_with_neither_key_has_the_default_one_second_schedule() {
    let all = schedules("ticker:\n  pool:\n    num_workers: 1\n");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].when, When::Every(Duration::from_secs(1)));
}

#[test]
fn named_schedules_come_after_default_in_the_files_order() {
    let yaml = "ticker:\n  interval: 1s\n  schedules:\n    zeta:\n      every: 2s\n    alpha:\n      cron: \"@hourly\"\n";
    assert_eq!(names(yaml), ["default", "zeta", "alpha"]);
}

#[test]
fn only_named_schedules_leave_no_default_one() {
    let yaml = "ticker:\n  schedules:\n    beat:\n      every: 250ms\n";
    assert_eq!(names(yaml), ["beat"]);
}

#[test]
fn a_schedule_takes_missed_and_overlap_from_the_ticker_section_unless_it_sets_them() {
    let yaml = "ticker:
  missed: burst
  overlap: false
  pool:
    supervisor:
      exec_ttl: 30s
  schedules:
    inherits:
      every: 1s
    own:
      every: 1s
      missed: delay
      overlap: true
      exec_ttl: 30s
      catch_up: none
      paused: true
    spread:
      cron: \"@hourly\"
      jitter: 30s
";
    let all = schedules(yaml);
    let [inherits, own, spread] = all.as_slice() else {
        panic!("{all:?}")
    };
    assert_eq!(
        (
            inherits.missed,
            inherits.overlap,
            inherits.jitter,
            inherits.paused
        ),
        (Missed::Burst, false, None, false)
    );
    assert_eq!(
        (own.missed, own.overlap, own.paused),
        (Missed::Delay, true, true)
    );
    assert_eq!(spread.jitter, Some(Duration::from_secs(30)));
}

#[test]
fn an_interval_takes_a_jitter_up_to_its_interval_as_one_phase_from_its_name() {
    let yaml = "ticker:
  schedules:
    a:
      every: 1s
      jitter: 1s
    b:
      every: 1s
      jitter: 1s
    plain:
      every: 1s
    c:
      cron: \"@hourly\"
      jitter: 30s
";
    let all = schedules(yaml);
    let [a, b, plain, c] = all.as_slice() else {
        panic!("{all:?}")
    };
    assert_eq!(a.jitter, Some(Duration::from_secs(1)));
    assert!(a.phase() < Duration::from_secs(1));
    assert_eq!(
        a.phase(),
        schedules(yaml)[0].phase(),
        "the same at every read"
    );
    assert_ne!(a.phase(), b.phase(), "a phase of its own");
    assert_eq!(plain.phase(), Duration::ZERO);
    assert_eq!(c.phase(), Duration::ZERO, "cron moves each run instead");
    let phase = crate::config::format_duration(a.phase());
    assert_eq!(
        a.describe(("UTC", "UTC")),
        format!("every 1s, jitter 1s (phase {phase})")
    );
    assert_eq!(
        c.describe(("UTC", "UTC")),
        "cron \"@hourly\" in UTC (UTC), jitter 30s"
    );
}

#[test]
fn a_schedule_has_the_pools_exec_ttl_unless_it_sets_another() {
    let yaml = "ticker:
  pool:
    supervisor:
      exec_ttl: 30s
  schedules:
    inherits:
      every: 1s
    same:
      every: 1s
      exec_ttl: 30s
    short:
      every: 1s
      exec_ttl: 1500ms
    unlimited:
      every: 1s
      exec_ttl: 0
";
    let ttls: Vec<ExecTtl> = schedules(yaml).iter().map(|s| s.exec_ttl).collect();
    assert_eq!(
        ttls,
        [
            ExecTtl::Pool,
            ExecTtl::Pool,
            ExecTtl::Own(Some(Duration::from_millis(1500))),
            ExecTtl::Own(None),
        ]
    );
    let without = "ticker:\n  schedules:\n    a:\n      every: 1s\n      exec_ttl: 0\n    b:\n      every: 1s\n      exec_ttl: 2s\n";
    let ttls: Vec<ExecTtl> = schedules(without).iter().map(|s| s.exec_ttl).collect();
    assert_eq!(
        ttls,
        [ExecTtl::Pool, ExecTtl::Own(Some(Duration::from_secs(2)))],
        "0 is the pool's none"
    );
    let short = &schedules(yaml)[2];
    assert_eq!(short.describe(("UTC", "UTC")), "every 1s, exec_ttl 1s500ms");
    assert_eq!(
        schedules(yaml)[3].describe(("UTC", "UTC")),
        "every 1s, no exec_ttl"
    );
    assert_eq!(schedules(yaml)[1].describe(("UTC", "UTC")), "every 1s");
    let bad = "ticker:\n  schedules:\n    a:\n      every: 1s\n      exec_ttl: soon\n";
    assert!(
        err(bad)
            .to_string()
            .contains("ticker.schedules.a.exec_ttl: \"soon\" is not a duration"),
        "{}",
        err(bad)
    );
}

#[test]
fn a_cron_schedules_zone_is_its_own_else_the_ticker_sections_else_left_to_php() {
    let yaml = "ticker:
  timezone: Europe/Berlin
  schedules:
    own:
      cron: \"30 2 * * *\"
      timezone: America/New_York
    inherited:
      cron: \"30 2 * * *\"
";
    let all = schedules(yaml);
    let zones: Vec<String> = all
        .iter()
        .map(|s| match &s.when {
            When::Cron {
                zone: ZoneChoice::Schedule(z),
                ..
            } => format!("own {}", z.name()),
            When::Cron {
                zone: ZoneChoice::Ticker(z),
                ..
            } => format!("ticker {}", z.name()),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(zones, ["own America/New_York", "ticker Europe/Berlin"]);
    let unset = schedules("ticker:\n  schedules:\n    n:\n      cron: \"@daily\"\n");
    assert!(matches!(
        &unset[0].when,
        When::Cron {
            zone: ZoneChoice::Unset,
            ..
        }
    ));
}

#[test]
fn every_refusal_names_the_schedule_the_key_and_the_accepted_forms() {
    let cases: &[(&str, &str)] = &[
        (
            "ticker:\n  schedules:\n    Nightly:\n      every: 1s\n",
            "ticker.schedules.Nightly: \"Nightly\" is not a schedule name; expected 1 to 64 characters of a-z, 0-9, _, . and -",
        ),
        (
            "ticker:\n  interval: 1s\n  schedules:\n    default:\n      every: 2s\n",
            "ticker.schedules.default: the name \"default\" is taken by ticker.interval's schedule",
        ),
        (
            "ticker:\n  schedules:\n    both:\n      every: 1s\n      cron: \"* * * * *\"\n",
            "ticker.schedules.both.cron: cannot be set with ticker.schedules.both.every",
        ),
        (
            "ticker:\n  schedules:\n    neither:\n      paused: true\n",
            "ticker.schedules.neither.every: is missing, as is cron",
        ),
        (
            "ticker:\n  schedules:\n    fast:\n      every: 10us\n",
            "ticker.schedules.fast.every: 10µs is below the shortest every of 100µs",
        ),
        (
            "ticker:\n  schedules:\n    beat:\n      every: 1s\n      timezone: UTC\n",
            "ticker.schedules.beat.timezone: applies to cron schedules only",
        ),
        (
            "ticker:\n  schedules:\n    spread:\n      every: 1s\n      jitter: 1500ms\n",
            "ticker.schedules.spread.jitter: 1s500ms is more than ticker.schedules.spread.every \
             1s: an interval's jitter shifts its whole grid by one offset below it; expected at \
             most the interval, 1s, as a number with a unit",
        ),
        (
            "ticker:\n  schedules:\n    typo:\n      every: 1s\n      overlapp: false\n",
            "ticker.schedules.typo.overlapp: unknown key (did you mean overlap?); expected one \
             of every, cron, timezone",
        ),
        (
            "ticker:\n  schedules:\n    late:\n      every: 1s\n      missed: later\n",
            "ticker.schedules.late.missed: \"later\"",
        ),
        (
            "ticker:\n  schedules:\n    c:\n      every: 1s\n      catch_up: all\n",
            "expected none or once",
        ),
        (
            "ticker:\n  schedules:\n    flat: 1s\n",
            "ticker.schedules.flat: \"1s\" is not a mapping; expected a mapping of settings such as every: 1s",
        ),
        (
            "ticker:\n  schedules: []\n",
            "ticker.schedules: [] is not a mapping",
        ),
        (
            "ticker:\n  schedules: {}\n",
            "ticker.schedules: is empty, and ticker.interval is not set",
        ),
        ("ticker:\n  timezone: Europe/Berlinn\n", "ticker.timezone: "),
        (
            "ticker:\n  schedules:\n    r:\n      cron: \"61 * * * *\"\n",
            "ticker.schedules.r.cron: \"61 * * * *\" ",
        ),
    ];
    for (yaml, expected) in cases {
        let message = err(yaml).to_string();
        assert!(
            message.contains(expected),
            "{yaml:?}\n gave: {message}\n want: {expected}"
        );
    }
}

#[test]
fn a_name_is_at_most_64_characters() {
    assert!(is_name(&"a".repeat(64)));
    assert!(!is_name(&"a".repeat(65)));
    assert!(!is_name(""));
    assert!(is_name("nightly-report.v2_eu"));
    assert!(!is_name("with space"));
    let long = "a".repeat(65);
    assert!(
        refusal(&format!(
            "ticker:\n  schedules:\n    {long}:\n      every: 1s\n"
        ))
        .contains("is not a schedule name")
    );
}

fn settings(yaml: &str) -> serde_yaml::Value {
    serde_yaml::from_str(yaml).unwrap()
}

#[test]
fn a_schedule_declared_in_code_is_read_as_the_files_are_and_joins_them() {
    let mut declared = Declared::new(
        ok("ticker:\n  interval: 1s\n  missed: burst\n  timezone: Europe/Berlin\n")
            .ticker
            .unwrap(),
    );
    declared
        .add("nightly", settings("cron: \"30 2 * * *\""), &|_| None)
        .unwrap();
    let nightly = &declared.config().schedules[1];
    assert_eq!(nightly.name, "nightly");
    assert_eq!(
        nightly.missed,
        Missed::Burst,
        "ticker.missed is its default"
    );
    assert!(
        matches!(&nightly.when, When::Cron { zone: ZoneChoice::Ticker(z), .. } if z.name() == "Europe/Berlin")
    );
}

#[test]
fn a_schedule_declared_in_code_is_refused_as_the_file_would_refuse_it() {
    let base = || ok("ticker:\n  interval: 1s\n").ticker.unwrap();
    let refusal = |name: &str, yaml: &str| {
        let mut declared = Declared::new(base());
        let error = declared
            .add(name, settings(yaml), &|_| None)
            .unwrap_err()
            .to_string();
        // Ticker\Schedules::add() declares into the one list it keeps: a refusal must leave
        // the list as it was.
        assert_eq!(
            declared.config(),
            &base(),
            "{name}: the refusal changed the config"
        );
        error
    };
    for (name, yaml, expected) in [
        (
            "r",
            "cron: \"61 * * * *\"",
            "config Ticker\\Schedules::add(): ticker.schedules.r.cron: \"61 * * * *\" minute 61 is out of 0-59",
        ),
        (
            "default",
            "every: 2s",
            "ticker.schedules.default: the name \"default\" is taken",
        ),
        ("Bad", "every: 2s", "\"Bad\" is not a schedule name"),
        (
            "t",
            "every: 1s\nevry: 2s",
            "ticker.schedules.t.evry: unknown key",
        ),
        (
            "flat",
            "1s",
            "ticker.schedules.flat: \"1s\" is not a mapping",
        ),
    ] {
        let text = refusal(name, yaml);
        assert!(text.contains(expected), "{name}: {text}\n want: {expected}");
    }
    let mut declared = Declared::new(base());
    declared
        .add("twice", settings("every: 2s"), &|_| None)
        .unwrap();
    let again = declared
        .add("twice", settings("every: 3s"), &|_| None)
        .unwrap_err();
    assert!(again.to_string().contains("is taken"), "{again}");
    // A refused name stays free for the next one to try: only what is added is taken.
    let refused = declared.add("bad", settings("every: 0s"), &|_| None);
    assert!(refused.is_err());
    declared
        .add("bad", settings("every: 2s"), &|_| None)
        .unwrap();
}

#[test]
fn catch_up_once_is_read_for_every_kind_of_schedule_and_in_a_cluster_keeps_no_file() {
    let yaml = "ticker:
  interval: 1s
  schedules:
    report:
      cron: \"0 * * * *\"
      catch_up: once
    beat:
      every: 10s
      catch_up: once
    plain:
      every: 1s
";
    let catch_ups: Vec<CatchUp> = schedules(yaml).iter().map(|s| s.catch_up).collect();
    assert_eq!(
        catch_ups,
        [CatchUp::None, CatchUp::Once, CatchUp::Once, CatchUp::None]
    );
    assert!(ok(yaml).ticker.unwrap().keeps_state());
    assert!(
        !ok("ticker:\n  interval: 1s\n")
            .ticker
            .unwrap()
            .keeps_state()
    );
    let clustered = "ticker:
  cluster:
    redis: redis://127.0.0.1
  schedules:
    report:
      cron: \"0 * * * *\"
      catch_up: once
";
    // In a cluster the last runs are Redis's: no state file.
    let ticker = ok(clustered).ticker.unwrap();
    assert_eq!(ticker.schedules[0].catch_up, CatchUp::Once);
    assert!(!ticker.keeps_state());
}

#[test]
fn the_state_file_is_named_after_the_config_file_in_its_directory_unless_state_dir_says() {
    let state = |yaml: &str, file: &str| {
        parse_with_env(yaml, Path::new(file), &|_| None)
            .unwrap()
            .ticker
            .unwrap()
            .state_file
    };
    let plain = "ticker:\n  interval: 1s\n";
    assert_eq!(
        state(plain, "/srv/app/.rr.yaml"),
        Path::new("/srv/app/ticker-state.rr.yaml.json")
    );
    assert_eq!(
        state(plain, "/srv/app/beat.yaml"),
        Path::new("/srv/app/ticker-state.beat.yaml.json")
    );
    let own = "ticker:\n  interval: 1s\n  state_dir: /var/lib/ticker\n";
    assert_eq!(
        state(own, "/srv/app/.rr.yaml"),
        Path::new("/var/lib/ticker/ticker-state.rr.yaml.json")
    );
    let relative = "ticker:\n  interval: 1s\n  state_dir: var/state\n";
    assert_eq!(
        state(relative, "/srv/app/.rr.yaml"),
        Path::new("/srv/app/var/state/ticker-state.rr.yaml.json")
    );
    let empty = "ticker:\n  interval: 1s\n  state_dir: \"\"\n";
    assert_eq!(
        state(empty, "/srv/app/.rr.yaml"),
        Path::new("/srv/app/ticker-state.rr.yaml.json")
    );
}

#[test]
fn a_schedule_declared_in_code_joins_a_cluster_unless_it_delays() {
    let base = || {
        ok("ticker:\n  interval: 1s\n  cluster:\n    redis: redis://127.0.0.1\n")
            .ticker
            .unwrap()
    };
    let mut declared = Declared::new(base());
    declared
        .add("beat", settings("every: 250ms"), &|_| None)
        .unwrap();
    assert_eq!(declared.config().schedules.len(), 2);
    let mut refusing = Declared::new(base());
    let refused = refusing
        .add("beat", settings("every: 250ms\nmissed: delay"), &|_| None)
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("ticker.schedules.beat.missed: delay cannot be used with ticker.cluster"),
        "{refused}"
    );
    assert_eq!(refusing.config().schedules.len(), 1);
}
