//! `ticker.schedules`: several named schedules in one pool, intervals and cron, and what a
//! worker and an operator see of them.

use std::collections::BTreeSet;
use std::time::Duration;

use ticker::config::format_duration;
use ticker::schedule::jitter;

use crate::harness::{
    DEADLINE, Entry, Php, assert_schedule_skips_accounted, free_port, http_get, info_with, row,
};

/// Two intervals in one pool; the handler stops the master once `beat` reached tick 8.
const TWO_SCHEDULES: &str = "ticker:
  interval: 60ms
  schedules:
    beat:
      every: 90ms
  pool:
    num_workers: 2
    destroy_timeout: 5s
";

#[test]
fn two_schedules_in_one_pool_are_each_numbered_from_zero() {
    let mut run = Php::new("two-schedules")
        .yaml(TWO_SCHEDULES)
        .handler(
            "if ($header['schedule'] === 'beat' && $tick >= 8) { \
             posix_kill(posix_getppid(), SIGTERM); }",
        )
        .start("journal.php");
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();
    let journal = exited.journal();
    let names: BTreeSet<String> = journal
        .events("start")
        .iter()
        .map(|e| e.header()["schedule"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["beat".to_string(), "default".to_string()]),
        "every tick names its schedule"
    );
    for name in ["default", "beat"] {
        let ticks: Vec<u64> = journal
            .events("start")
            .iter()
            .filter(|e| e.header()["schedule"] == name)
            .map(|e| e.tick())
            .collect();
        assert!(
            ticks.iter().copied().max().is_some_and(|n| n >= 5),
            "{name} ran on: {ticks:?}"
        );
        // Numbered from 0 on its own, each number once; what is missing was skipped (a
        // loaded machine decides whether any is), and the log and the headers say so.
        assert_schedule_skips_accounted(&journal, &exited.stderr, Some(name));
    }
    assert!(
        journal
            .events("start")
            .iter()
            .all(|e| e.header().get("scheduled").is_none()),
        "an interval's tick has no scheduled"
    );
    assert!(
        exited
            .stderr
            .contains("ticking 2 schedules (default: every 60ms; beat: every 90ms)"),
        "{}",
        exited.stderr
    );
}

/// Two intervals shifted by their jitter and one not, started at the same instant.
const PHASED: &str = "ticker:
  schedules:
    spread-a:
      every: 200ms
      jitter: 200ms
    spread-b:
      every: 200ms
      jitter: 200ms
    plain:
      every: 200ms
  pool:
    num_workers: 3
    destroy_timeout: 5s
";

#[test]
fn a_jittered_intervals_ticks_are_due_on_its_grid_shifted_by_its_phase() {
    let jitter = Some(Duration::from_millis(200));
    let phase = |name| jitter::phase(name, jitter);
    assert_ne!(
        phase("spread-a"),
        phase("spread-b"),
        "names that share a phase"
    );
    let rows = info_with(Php::new("phased-ri").yaml(PHASED), &[]);
    assert_eq!(
        row(&rows, "schedule spread-a"),
        format!(
            "every 200ms, jitter 200ms (phase {})",
            format_duration(phase("spread-a"))
        )
    );
    let mut run = Php::new("phased")
        .yaml(PHASED)
        .handler(
            "if ($header['schedule'] === 'plain' && $tick >= 6) { \
             posix_kill(posix_getppid(), SIGTERM); }",
        )
        .start("journal.php");
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();
    let journal = exited.journal();
    let due_of = |name: &str| -> Vec<(u64, u64)> {
        let mut dues: Vec<(u64, u64)> = journal
            .events("start")
            .iter()
            .filter(|e| e.header()["schedule"] == name)
            .map(|e| (e.tick(), e.header_u64("dueHrtime")))
            .collect();
        dues.sort_unstable();
        dues
    };
    let plain = due_of("plain");
    assert!(plain.len() >= 3, "{plain:?}");
    let step = 200_000_000u64;
    for name in ["spread-a", "spread-b"] {
        let phase = u64::try_from(phase(name).as_nanos()).unwrap();
        let spread = due_of(name);
        assert!(spread.len() >= 3, "{name}: {spread:?}");
        // Tick n of each is due n intervals after tick 0 of its grid, and the grid is the
        // plain one's, started at the same instant, moved by the phase: whichever ticks a
        // loaded machine let each of them deliver.
        let (n0, due0) = spread[0];
        for &(n, due) in &spread {
            assert_eq!(
                due - due0,
                (n - n0) * step,
                "{name} keeps its distance: {spread:?}"
            );
        }
        let (p0, plain0) = plain[0];
        let origin = plain0 - p0 * step;
        assert_eq!(
            due0,
            origin + n0 * step + phase,
            "{name} on the shifted grid"
        );
    }
    assert!(
        journal
            .events("start")
            .iter()
            .all(|e| e.header().get("scheduled").is_none()),
        "an interval's due instant is its occurrence"
    );
}

/// A cron schedule due at every second of the wall clock, in UTC.
const EVERY_SECOND: &str = "ticker:
  schedules:
    second:
      cron: \"* * * * * *\"
      timezone: UTC
  pool:
    num_workers: 1
    destroy_timeout: 5s
";

/// journal.php's handler statement that journals each run's occurrence (`at`, Unix
/// seconds), the occurrence's offset and the instant it was due.
const RECORD_SCHEDULED: &str = "record($journal, ['event' => 'scheduled', 'tick' => $tick, \
     'at' => (new DateTimeImmutable($header['scheduled']))->getTimestamp(), \
     'offset' => substr($header['scheduled'], -6), 'due' => $header['due']]);";

/// Each run due on the second it names, to the microsecond the header carries, in UTC, and
/// each second once, in order.
fn assert_each_second_once_on_time(runs: &[&Entry]) {
    for run in runs {
        let due = run.raw["due"].as_f64().unwrap();
        let at = run.u64("at");
        assert_eq!(run.raw["offset"], "+00:00");
        assert!((due - at as f64).abs() < 1e-6, "due {due}, scheduled {at}");
    }
    let seconds: Vec<u64> = runs.iter().map(|r| r.u64("at")).collect();
    assert!(
        seconds.windows(2).all(|w| w[1] > w[0]),
        "one run per second, in order: {seconds:?}"
    );
}

#[test]
fn a_six_field_cron_schedule_runs_on_its_wall_clock_seconds() {
    let mut run = Php::new("cron-seconds")
        .yaml(EVERY_SECOND)
        .handler(&format!(
            "{RECORD_SCHEDULED} if ($tick >= 2) {{ posix_kill(posix_getppid(), SIGTERM); }}"
        ))
        .start("journal.php");
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();
    let journal = exited.journal();
    let runs = journal.events("scheduled");
    assert!(runs.len() >= 3, "{:?}", journal.entries);
    assert_each_second_once_on_time(&runs);
}

/// The wall clock set while a cron schedule runs: the master notices (a step of 50 µs
/// forward, harmless to the tests around it; what a large step does to the next runs is
/// arithmetic, tested in the timetable) and the runs go on, each second once, on time.
#[test]
fn a_wall_clock_set_while_a_cron_schedule_runs_is_followed() {
    let mut run = Php::new("cron-clock-set")
        .yaml(EVERY_SECOND)
        .handler(RECORD_SCHEDULED)
        .start("journal.php");
    run.wait_for("the first run", |r| {
        !r.journal().events("scheduled").is_empty()
    });
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime(2) and clock_settime(2) with a valid timespec.
    let set = unsafe {
        assert_eq!(libc::clock_gettime(libc::CLOCK_REALTIME, &mut now), 0);
        now.tv_nsec += 50_000;
        if now.tv_nsec >= 1_000_000_000 {
            now.tv_sec += 1;
            now.tv_nsec -= 1_000_000_000;
        }
        libc::clock_settime(libc::CLOCK_REALTIME, &now)
    };
    if set != 0 {
        // Setting the clock needs CAP_SYS_TIME; the timetable's tests cover the arithmetic.
        eprintln!(
            "not allowed to set the clock here ({}): only the runs are checked",
            std::io::Error::last_os_error()
        );
    } else {
        run.wait_for("the master to notice the set clock", |r| {
            r.stderr().contains("the wall clock was set")
        });
    }
    let seen = run.journal().events("scheduled").len();
    run.wait_for("two runs after the set clock", |r| {
        r.journal().events("scheduled").len() >= seen + 2
    });
    let exited = run.stop_with(libc::SIGTERM);
    exited.assert_success();
    assert_each_second_once_on_time(&exited.journal().events("scheduled"));
}

#[test]
fn php_ri_says_which_zone_each_cron_schedule_runs_in_and_why_and_its_own_exec_ttl() {
    let yaml = "ticker:
  interval: 1s
  timezone: Europe/Berlin
  schedules:
    report:
      cron: \"30 2 * * *\"
      timezone: America/New_York
    invoices:
      cron: \"0 9 * * MON-FRI\"
    hourly:
      cron: \"@hourly\"
      paused: true
      exec_ttl: 10m
  pool:
    supervisor:
      exec_ttl: 1m
";
    let rows = info_with(Php::new("ri-schedules").yaml(yaml), &[]);
    assert_eq!(row(&rows, "schedule default"), "every 1s");
    assert_eq!(
        row(&rows, "schedule report"),
        "cron \"30 2 * * *\" in America/New_York (timezone)"
    );
    assert_eq!(
        row(&rows, "schedule invoices"),
        "cron \"0 9 * * MON-FRI\" in Europe/Berlin (ticker.timezone)"
    );
    assert_eq!(
        row(&rows, "schedule hourly"),
        "cron \"@hourly\" in Europe/Berlin (ticker.timezone), exec_ttl 10m, paused"
    );

    let unzoned = "ticker:\n  schedules:\n    n:\n      cron: \"@daily\"\n";
    let rows = info_with(
        Php::new("ri-php-zone").yaml(unzoned),
        &["-d", "date.timezone=Asia/Tokyo"],
    );
    assert_eq!(
        row(&rows, "schedule n"),
        "cron \"@daily\" in Asia/Tokyo (date.timezone)"
    );
}

#[test]
fn schedules_declared_in_code_join_the_files() {
    let mut run = Php::new("declared")
        .yaml("ticker:\n  interval: 80ms\n  pool:\n    num_workers: 2\n    destroy_timeout: 5s\n")
        .boot(
            "Ticker\\Schedules::add('beat', \
             ['every' => '110ms', 'overlap' => false, 'jitter' => '110ms']);",
        )
        .handler(
            "if ($header['schedule'] === 'beat' && $tick >= 3) { \
             posix_kill(posix_getppid(), SIGTERM); }",
        )
        .start("journal.php");
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();
    let beats = exited
        .journal()
        .events("start")
        .iter()
        .filter(|e| e.header()["schedule"] == "beat")
        .count();
    assert!(beats >= 3, "{}", exited.stderr);
    let phase = format_duration(jitter::phase("beat", Some(Duration::from_millis(110))));
    assert!(
        exited
            .stderr
            .contains(&format!("beat: every 110ms, jitter 110ms (phase {phase})")),
        "{}",
        exited.stderr
    );
}

/// What a master prints when `Ticker\Schedules::add()` in its boot throws: `php` is the
/// call; the boot prints the exception's message after `refused: ` and exits 3.
fn refusal_in_code(name: &str, php: &str) -> String {
    let mut run = Php::new(name)
        .yaml("ticker:\n  interval: 1s\n")
        .boot(&format!(
            "try {{ {php} }} catch (Ticker\\Exception $e) {{ \
             fwrite(STDERR, 'refused: ' . $e->getMessage() . \"\\n\"); exit(3); }}"
        ))
        .start("journal.php");
    let exited = run.wait_exit(DEADLINE);
    assert_eq!(exited.status.code(), Some(3), "{}", exited.stderr);
    exited.stderr
}

#[test]
fn a_jitter_longer_than_the_interval_is_refused_in_code_as_in_the_file() {
    let stderr = refusal_in_code(
        "declared-jitter",
        "Ticker\\Schedules::add('beat', ['every' => '1s', 'jitter' => '2s']);",
    );
    assert!(
        stderr.contains(
            "refused: ticker: config Ticker\\Schedules::add(): ticker.schedules.beat.jitter: \
             2s is more than ticker.schedules.beat.every 1s"
        ),
        "{stderr}"
    );
}

#[test]
fn a_schedule_declared_in_code_is_refused_with_the_configs_message() {
    let stderr = refusal_in_code(
        "declared-bad",
        "Ticker\\Schedules::add('r', ['cron' => '61 * * * *']);",
    );
    assert!(
        stderr.contains(
            "refused: ticker: config Ticker\\Schedules::add(): ticker.schedules.r.cron: \
             \"61 * * * *\" minute 61 is out of 0-59"
        ),
        "{stderr}"
    );
}

/// `ticker status --json` and the metrics page report each schedule of the pool on its own.
#[test]
fn status_and_metrics_report_each_schedule() {
    let port = free_port();
    // beat's tick 1 fails, so its counts and its last run differ from default's.
    let mut run = Php::new("schedules-status")
        .yaml(&format!(
            "ticker:
  interval: 100ms
  metrics:
    address: \":{port}\"
  schedules:
    beat:
      every: 150ms
      jitter: 150ms
  pool:
    num_workers: 2
    destroy_timeout: 5s
"
        ))
        .handler(
            "if ($header['schedule'] === 'beat' && $tick === 1) { \
             $worker->error('no'); return false; }",
        )
        .start("journal.php");
    let started = |run: &crate::harness::Running, name: &str| {
        run.journal()
            .events("start")
            .iter()
            .filter(|e| e.header()["schedule"] == name)
            .count()
    };
    run.wait_for("both schedules ran four ticks", |run| {
        started(run, "default") >= 4 && started(run, "beat") >= 4
    });
    let status = |run: &crate::harness::Running| {
        let answer = run.ticker(&["status", "--json", &run.pid.to_string()]);
        answer.assert_success();
        let json: serde_json::Value = serde_json::from_str(&answer.stdout)
            .unwrap_or_else(|e| panic!("`ticker status --json` prints JSON ({e}): {answer:?}"));
        json
    };
    let entry = |json: &serde_json::Value, name: &str| {
        json["schedules"]
            .as_array()
            .unwrap_or_else(|| panic!("a schedules array: {json}"))
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name} listed: {json}"))
            .clone()
    };
    let before = status(&run);
    let names: Vec<&str> = before["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["default", "beat"],
        "in the config's order: {before}"
    );
    let now = before["unix_time"].as_f64().expect("the master's time");
    for (name, expression) in [("default", "100ms"), ("beat", "150ms")] {
        let s = entry(&before, name);
        assert_eq!(s["kind"], "every", "{s}");
        assert_eq!(s["expression"], expression, "{s}");
        assert_eq!(s["paused"], false, "{s}");
        assert!(s.get("zone").is_none(), "an interval has no zone: {s}");
        let next = s["next_due_unix"].as_f64().expect("next due");
        assert!(
            next > now - 1.0 && next < now + 1.0,
            "next {next}, now {now}"
        );
        let success = s["last_success_unix"].as_f64().expect("a success");
        assert!(
            success <= now && success > now - 5.0,
            "{success}, now {now}"
        );
        assert!(s["ticks"]["completed"].as_u64() >= Some(2), "{s}");
        assert!(
            s["last_run"]["finished_unix"].as_f64() >= Some(success),
            "{s}"
        );
        assert!(s["last_run"]["took_secs"].as_f64().is_some(), "{s}");
    }
    let beat = entry(&before, "beat");
    let phase = jitter::phase("beat", Some(Duration::from_millis(150)));
    assert_eq!(beat["jitter_secs"].as_f64(), Some(0.15), "{beat}");
    assert_eq!(
        beat["phase_secs"].as_f64(),
        Some(phase.as_secs_f64()),
        "{beat}"
    );
    assert!(entry(&before, "default").get("phase_secs").is_none());
    assert_eq!(entry(&before, "beat")["ticks"]["failed"], 1, "{before}");
    assert_eq!(entry(&before, "default")["ticks"]["failed"], 0, "{before}");
    // The pool's counts are the schedules' together.
    for count in ["due", "delivered", "completed", "failed", "skipped"] {
        let sum: u64 = ["default", "beat"]
            .iter()
            .map(|name| entry(&before, name)["ticks"][count].as_u64().unwrap())
            .sum();
        // Counted from one answer, so they agree exactly.
        assert_eq!(
            before["ticks"][count].as_u64(),
            Some(sum),
            "{count}: {before}"
        );
    }

    let metrics_before = http_get(port, "/metrics");
    let seen = (started(&run, "default"), started(&run, "beat"));
    run.wait_for("three more ticks of each", |run| {
        started(run, "default") >= seen.0 + 3 && started(run, "beat") >= seen.1 + 3
    });
    let after = status(&run);
    for name in ["default", "beat"] {
        let (was, is) = (entry(&before, name), entry(&after, name));
        assert!(
            is["ticks"]["due"].as_u64() > was["ticks"]["due"].as_u64(),
            "{name}: {was} then {is}"
        );
        assert!(
            is["last_success_unix"].as_f64() > was["last_success_unix"].as_f64(),
            "{name}: {was} then {is}"
        );
    }

    let table = run.ticker(&["status", &run.pid.to_string()]);
    table.assert_success();
    assert!(
        table.stdout.lines().any(|l| l.starts_with("SCHEDULE")),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.lines().any(|l| l.starts_with("beat")
            && l.contains(&format!(
                "every 150ms, jitter 150ms (phase {})",
                format_duration(phase)
            ))),
        "{}",
        table.stdout
    );

    let metrics = http_get(port, "/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200 OK"), "{metrics}");
    for name in ["default", "beat"] {
        for series in [
            "ticker_schedule_ticks_due_total",
            "ticker_schedule_ticks_completed_total",
            "ticker_schedule_ticks_failed_total",
            "ticker_schedule_ticks_skipped_total",
            "ticker_schedule_last_success_timestamp_seconds",
            "ticker_schedule_next_due_timestamp_seconds",
        ] {
            let prefix = format!("{series}{{schedule=\"{name}\"}} ");
            let value: f64 = metrics
                .lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .unwrap_or_else(|| panic!("no {prefix:?} in\n{metrics}"))
                .trim()
                .parse()
                .unwrap_or_else(|e| panic!("{prefix}: {e}\n{metrics}"));
            if series.ends_with("_timestamp_seconds") {
                assert!((value - now).abs() < 60.0, "{prefix}{value}, now {now}");
            }
        }
    }
    assert!(
        metrics.contains("\nticker_schedule_ticks_failed_total{schedule=\"beat\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nticker_schedule_paused{schedule=\"beat\"} 0\n"),
        "{metrics}"
    );
    // Each schedule's lateness and run duration: whole histograms, whose counts grow.
    let count = |page: &str, series: &str, name: &str| -> u64 {
        let prefix = format!("{series}_count{{schedule=\"{name}\"}} ");
        page.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in\n{page}"))
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{prefix}: {e}\n{page}"))
    };
    for name in ["default", "beat"] {
        for series in [
            "ticker_schedule_lateness_seconds",
            "ticker_schedule_run_duration_seconds",
        ] {
            let inf = format!("{series}_bucket{{schedule=\"{name}\",le=\"+Inf\"}} ");
            assert!(metrics.contains(&inf), "no {inf:?} in\n{metrics}");
            let (was, is) = (
                count(&metrics_before, series, name),
                count(&metrics, series, name),
            );
            assert!(was >= 1 && is > was, "{series} of {name}: {was} then {is}");
        }
    }
    run.stop_with(libc::SIGTERM).assert_success();
    run.assert_nothing_left();
}

#[test]
fn a_schedules_own_exec_ttl_kills_its_run_and_spares_the_others() {
    // The pool's limit (2s) lies between the two: quick's own (1s) kills its tick 1, which
    // would sleep 30s; slow has none of its own (0) and finishes its 3s tick 0.
    let mut run = Php::new("schedule-exec-ttl")
        .yaml(
            "ticker:
  schedules:
    quick:
      every: 200ms
      exec_ttl: 1s
    slow:
      every: 300ms
      overlap: false
      exec_ttl: 0
  pool:
    num_workers: 3
    destroy_timeout: 5s
    supervisor:
      exec_ttl: 2s
",
        )
        .handler(
            "if ($header['schedule'] === 'quick' && $tick === 1) { sleep(30); } \
             if ($header['schedule'] === 'slow' && $tick === 0) { usleep(3000000); }",
        )
        .start("journal.php");
    let done = |run: &crate::harness::Running, name: &str, tick: u64| {
        run.journal()
            .done()
            .iter()
            .any(|e| e.header()["schedule"] == name && e.tick() == tick)
    };
    run.wait_for("quick's tick 1 killed", |run| {
        run.stderr()
            .contains("ran tick 1 of quick for longer than ticker.schedules.quick.exec_ttl (1s)")
    });
    run.wait_for("slow's 3s tick 0 done", |run| done(run, "slow", 0));
    // The killed worker's replacement takes ticks: quick goes on past its tick 1.
    let killed = run
        .journal()
        .events("start")
        .iter()
        .find(|e| e.header()["schedule"] == "quick" && e.tick() == 1)
        .map(|e| e.pid)
        .expect("quick's tick 1 started");
    run.wait_for("the killed worker replaced", |run| {
        let workers = run.workers();
        workers.len() == 3 && !workers.contains(&killed)
    });
    run.wait_for("quick's later ticks done", |run| {
        run.journal()
            .done()
            .iter()
            .filter(|e| e.header()["schedule"] == "quick" && e.tick() > 1)
            .count()
            >= 3
    });
    assert!(!done(&run, "quick", 1), "quick's tick 1 never finished");
    let stderr = run.stderr();
    assert!(
        stderr.contains(&format!("worker {killed} ran tick 1 of quick")),
        "{stderr}"
    );
    assert!(
        !stderr.contains("of slow for longer than"),
        "slow has no limit: {stderr}"
    );
    assert!(
        stderr.contains(
            "ticking 2 schedules (quick: every 200ms, exec_ttl 1s; slow: every 300ms, no exec_ttl)"
        ),
        "{stderr}"
    );

    let answer = run.ticker(&["status", "--json", &run.pid.to_string()]);
    answer.assert_success();
    let json: serde_json::Value = serde_json::from_str(&answer.stdout).expect("JSON");
    let ttls: Vec<serde_json::Value> = json["schedules"]
        .as_array()
        .expect("schedules")
        .iter()
        .map(|s| s["exec_ttl_secs"].clone())
        .collect();
    assert_eq!(
        ttls,
        [serde_json::json!(1.0), serde_json::json!(0.0)],
        "{json}"
    );
    let table = run.ticker(&["status", &run.pid.to_string()]);
    assert!(
        table
            .stdout
            .lines()
            .any(|l| l.starts_with("quick") && l.contains("every 200ms, exec_ttl 1s")),
        "{}",
        table.stdout
    );
    run.stop_with(libc::SIGTERM).assert_success();
    run.assert_nothing_left();
}

/// The ticks of `name` the workers started, in the order they started.
fn started_of(journal: &crate::harness::Journal, name: &str) -> Vec<(u64, serde_json::Value)> {
    journal
        .events("start")
        .iter()
        .map(|e| (e.tick(), e.header()))
        .filter(|(_, h)| h["schedule"] == name)
        .collect()
}

/// A grid tick's number and header, not a manual run's.
fn grid_of(journal: &crate::harness::Journal, name: &str) -> Vec<(u64, serde_json::Value)> {
    started_of(journal, name)
        .into_iter()
        .filter(|(_, h)| h.get("manual").is_none())
        .collect()
}

/// Two intervals that leave both workers free most of the time.
const STEERED: &str = "ticker:
  interval: 40ms
  schedules:
    beat:
      every: 80ms
  pool:
    num_workers: 2
    destroy_timeout: 5s
";

#[test]
fn ticker_pause_stops_one_schedule_and_resume_numbers_it_on() {
    let mut run = Php::new("pause-resume").yaml(STEERED).start("journal.php");
    let pid = run.pid.to_string();
    run.wait_for("beat's ticks", |run| {
        grid_of(&run.journal(), "beat").len() >= 3
    });

    let paused = run.ticker(&["pause", "beat", &pid]);
    paused.assert_success();
    assert_eq!(paused.stdout.trim(), "paused beat", "{paused:?}");
    let again = run.ticker(&["pause", "beat", &pid]);
    again.assert_success();
    assert_eq!(again.stdout.trim(), "beat was paused already", "{again:?}");
    // A tick handed over just before the pause may still start: it was due already.
    let default_at_pause = grid_of(&run.journal(), "default").len();
    run.wait_for("default to go on", |run| {
        grid_of(&run.journal(), "default").len() >= default_at_pause + 2
    });
    let beat_paused = grid_of(&run.journal(), "beat");
    let default_then = grid_of(&run.journal(), "default").len();
    // Eight default ticks: four of beat's intervals.
    run.wait_for("default to go on while beat is paused", |run| {
        grid_of(&run.journal(), "default").len() >= default_then + 8
    });
    assert_eq!(
        grid_of(&run.journal(), "beat").len(),
        beat_paused.len(),
        "no tick of beat while it is paused"
    );

    let resumed = run.ticker(&["resume", "beat", &pid]);
    resumed.assert_success();
    assert_eq!(resumed.stdout.trim(), "resumed beat", "{resumed:?}");
    run.wait_for("beat's ticks again", |run| {
        grid_of(&run.journal(), "beat").len() >= beat_paused.len() + 2
    });
    let not_paused = run.ticker(&["resume", "beat", &pid]);
    not_paused.assert_success();
    assert_eq!(not_paused.stdout.trim(), "beat was not paused");
    let all = run.ticker(&["pause", "--all", &pid]);
    all.assert_success();
    assert_eq!(all.stdout.trim(), "paused default, beat", "{all:?}");
    let all = run.ticker(&["resume", "--all", &pid]);
    all.assert_success();
    assert_eq!(all.stdout.trim(), "resumed default, beat", "{all:?}");

    let exited = run.stop_with(libc::SIGTERM);
    let beat = grid_of(&exited.journal(), "beat");
    let (last_before, _) = beat_paused
        .last()
        .expect("beat ran before the pause")
        .clone();
    let (first_after, header) = beat[beat_paused.len()].clone();
    // Numbered on from where it was: what the pause missed is not made up, nor counted as
    // skipped; a tick skipped for want of a worker would say so in the header.
    assert_eq!(
        first_after,
        last_before + 1 + header["skipped"].as_u64().expect("skipped"),
        "{beat:?}"
    );
    assert!(
        exited
            .stderr
            .contains("schedule beat paused (asked on the control socket)"),
        "{}",
        exited.stderr
    );
    run.assert_nothing_left();
}

#[test]
fn ticker_run_delivers_one_manual_tick_and_an_unknown_name_lists_the_schedules() {
    let mut run = Php::new("manual-run").yaml(STEERED).start("journal.php");
    let pid = run.pid.to_string();
    run.wait_for("beat's ticks", |run| {
        grid_of(&run.journal(), "beat").len() >= 2
    });
    // Paused, so that the only tick of beat from now on is the manual one.
    run.ticker(&["pause", "beat", &pid]).assert_success();
    // Refused, not queued, while both workers happen to hold a tick: asked again then.
    let mut ran = run.ticker(&["run", "beat", &pid]);
    for _ in 0..50 {
        if !ran.stderr.contains("no worker is free") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        ran = run.ticker(&["run", "beat", &pid]);
    }
    ran.assert_success();
    assert!(
        ran.stdout
            .starts_with("manual run 1 of beat started on worker "),
        "{ran:?}"
    );
    run.wait_for("the manual run", |run| {
        started_of(&run.journal(), "beat")
            .iter()
            .any(|(_, h)| h["manual"] == true)
    });

    let unknown = run.ticker(&["run", "nope", &pid]);
    assert_eq!(unknown.status.code(), Some(1), "{unknown:?}");
    assert_eq!(
        unknown.stderr.trim(),
        "ticker: unknown schedule nope: the schedules are default, beat",
        "{unknown:?}"
    );
    let unknown = run.ticker(&["pause", "nope", &pid]);
    assert_eq!(unknown.status.code(), Some(1), "{unknown:?}");
    assert!(
        unknown
            .stderr
            .contains("unknown schedule nope: the schedules are default, beat"),
        "{unknown:?}"
    );

    let status = run.ticker(&["status", "--json", &pid]);
    status.assert_success();
    let json: serde_json::Value = serde_json::from_str(&status.stdout).expect("JSON");
    assert_eq!(json["ticks"]["manual"], 1, "{json}");

    let exited = run.stop_with(libc::SIGTERM);
    let journal = exited.journal();
    let manual: Vec<_> = started_of(&journal, "beat")
        .into_iter()
        .filter(|(_, h)| h["manual"] == true)
        .collect();
    assert_eq!(manual.len(), 1, "one run: {manual:?}");
    let (number, header) = &manual[0];
    assert_eq!(
        *number,
        i64::MAX as u64,
        "a manual run's number is no tick of the grid's"
    );
    assert_eq!(header["attempt"], 1);
    assert_eq!(header["skipped"], 0);
    // The grid's own ticks of beat are numbered 0, 1, ... as if it had not run.
    let grid: Vec<u64> = grid_of(&journal, "beat").iter().map(|(n, _)| *n).collect();
    assert!(grid.iter().all(|&n| n < 1000), "{grid:?}");
    assert!(
        journal
            .events("start")
            .iter()
            .filter(|e| e.header()["schedule"] == "default")
            .all(|e| e.header().get("manual").is_none()),
        "only the manual run says manual"
    );
    run.assert_nothing_left();
}

#[test]
fn a_php_value_with_no_place_in_a_config_is_refused_naming_its_key() {
    let stderr = refusal_in_code(
        "declared-object",
        "Ticker\\Schedules::add('o', ['every' => new stdClass()]);",
    );
    assert!(
        stderr.contains(
            "refused: ticker: config Ticker\\Schedules::add(): ticker.schedules.o.every: a "
        ) && stderr.contains("is not a config value; expected a string"),
        "{stderr}"
    );
}
