//! Whole files through [`parse_with_env`] and [`load`]: every section, every bad input,
//! environment substitution, the limits, and the RoadRunner files of `tests/fixtures/rr/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::roadrunner::cpu_count;
use super::*;

pub(super) const FILE: &str = "/app/.rr.yaml";

/// An environment with only these variables.
pub(super) fn env_of<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        vars.iter()
            .find(|(var, _)| *var == name)
            .map(|(_, value)| value.to_string())
    }
}

pub(super) fn parse_in(yaml: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    parse_with_env(yaml, Path::new(FILE), &env_of(vars))
}

pub(super) fn ok_in(yaml: &str, vars: &[(&str, &str)]) -> Config {
    parse_in(yaml, vars).unwrap_or_else(|err| panic!("{yaml:?} failed: {err}"))
}

pub(super) fn err_in(yaml: &str, vars: &[(&str, &str)]) -> ConfigError {
    match parse_in(yaml, vars) {
        Ok(config) => panic!("{yaml:?} was accepted: {config:?}"),
        Err(err) => err,
    }
}

pub(super) fn ok(yaml: &str) -> Config {
    ok_in(yaml, &[])
}

pub(super) fn err(yaml: &str) -> ConfigError {
    err_in(yaml, &[])
}

fn ticker(yaml: &str) -> TickerConfig {
    ok(yaml).ticker.expect("ticker section")
}

fn pool(yaml: &str) -> PoolConfig {
    ticker(&format!("ticker:\n  pool:\n{}", indent(yaml, 4))).pool
}

fn supervisor(yaml: &str) -> SupervisorConfig {
    pool(&format!("supervisor:\n{}", indent(yaml, 2))).supervisor
}

fn server(yaml: &str) -> ServerConfig {
    ok(&format!("server:\n{}", indent(yaml, 2))).server
}

fn indent(yaml: &str, by: usize) -> String {
    yaml.lines()
        .map(|line| format!("{}{line}\n", " ".repeat(by)))
        .collect()
}

fn interval(value: &str) -> Result<Duration, ConfigError> {
    parse_in(&format!("ticker:\n  interval: {value}\n"), &[])
        .map(|config| config.ticker.expect("ticker section").interval().unwrap())
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn words(words: &[&str]) -> Command {
    Command(words.iter().map(|w| w.to_string()).collect())
}

fn expected_defaults() -> TickerConfig {
    TickerConfig {
        metrics: None,
        control: None,
        pool: PoolConfig {
            num_workers: cpu_count(),
            max_jobs: None,
            max_queue_size: None,
            allocate_timeout: secs(60),
            reset_timeout: secs(60),
            destroy_timeout: secs(60),
            debug: false,
            command: None,
            supervisor: SupervisorConfig {
                watch_tick: secs(5),
                ttl: None,
                idle_ttl: None,
                exec_ttl: None,
                max_worker_memory: None,
            },
        },
        cluster: None,
        timezone: None,
        schedules: vec![ScheduleConfig::every(DEFAULT_NAME, secs(1), Missed::Skip)],
        schedule_defaults: ScheduleDefaults {
            missed: Missed::Skip,
            overlap: true,
        },
        state_file: PathBuf::from("/app/ticker-state.rr.yaml.json"),
    }
}

/// Asserts the one-line shape every message must have, and returns it.
pub(super) fn message(err: &ConfigError, key: &str) -> String {
    let text = err.to_string();
    assert!(!text.contains('\n') && !text.contains('\r'), "{text:?}");
    assert!(
        text.starts_with(&format!("ticker: config {FILE}: ")),
        "{text}"
    );
    assert!(
        text.contains(&format!(": {key}: ")),
        "{text} should name {key}"
    );
    assert_eq!(err.key(), Some(key));
    text
}

// ---------------------------------------------------------------------------------------
// The ticker section and its pool
// ---------------------------------------------------------------------------------------

#[test]
fn ticker_policies_default_to_skip_and_overlap() {
    let t = ticker("ticker: {}\n");
    assert_eq!(
        (
            t.schedules[0].missed,
            t.schedules[0].overlap,
            t.metrics,
            t.control
        ),
        (Missed::Skip, true, None, None)
    );
    let t = ticker("ticker:\n  missed: burst\n  overlap: false\n");
    assert_eq!(
        (t.schedules[0].missed, t.schedules[0].overlap),
        (Missed::Burst, false)
    );
    let e = err("ticker:\n  missed: later\n").to_string();
    assert!(
        e.contains("ticker.missed: \"later\" is not accepted; expected skip, delay or burst"),
        "{e}"
    );
}

#[test]
fn intervals_below_the_floor_are_refused() {
    let t = ticker("ticker:\n  interval: 100us\n");
    assert_eq!(t.interval().unwrap(), Duration::from_micros(100));
    let e = err("ticker:\n  interval: 50us\n").to_string();
    assert!(
        e.contains("ticker.interval: 50µs is below the shortest interval of 100µs"),
        "{e}"
    );
}

#[test]
fn watch_tick_below_the_floor_is_refused() {
    assert_eq!(supervisor("watch_tick: 100ms\n").watch_tick, MIN_WATCH_TICK);
    assert_eq!(supervisor("watch_tick: 0\n").watch_tick, DEFAULT_WATCH_TICK);
    for value in ["1ns", "99ms", "1us"] {
        let key = "ticker.pool.supervisor.watch_tick";
        let text = message(
            &err(&format!(
                "ticker:\n  pool:\n    supervisor:\n      watch_tick: {value}\n"
            )),
            key,
        );
        assert!(
            text.contains(
                "is below the shortest watch_tick of 100ms; expected a number with a unit"
            ) && text.ends_with("of 100ms or more (0 means 5s)"),
            "{text}"
        );
    }
}

#[test]
fn metrics_bind_to_loopback_unless_a_host_is_named() {
    let t = ticker("ticker:\n  metrics:\n    address: \":2112\"\n");
    assert_eq!(t.metrics, Some("127.0.0.1:2112".parse().unwrap()));
    let t = ticker("ticker:\n  metrics:\n    address: localhost:9000\n");
    assert_eq!(t.metrics, Some("127.0.0.1:9000".parse().unwrap()));
    let t = ticker("ticker:\n  metrics:\n    address: 0.0.0.0:9000\n");
    assert_eq!(t.metrics, Some("0.0.0.0:9000".parse().unwrap()));
    let e = err("ticker:\n  metrics:\n    address: nowhere\n").to_string();
    assert!(
        e.contains("ticker.metrics.address: \"nowhere\" is not an address"),
        "{e}"
    );
    let e = err("ticker:\n  metrics:\n    port: 1\n").to_string();
    assert!(
        e.contains("ticker.metrics.port: unknown key; expected address"),
        "{e}"
    );
}

#[test]
fn control_is_a_path_and_empty_means_the_default() {
    assert_eq!(
        ticker("ticker:\n  control: /run/t.sock\n").control,
        Some(PathBuf::from("/run/t.sock"))
    );
    assert_eq!(ticker("ticker:\n  control: ''\n").control, None);
    message(&err("ticker:\n  control: [a]\n"), "ticker.control");
    // A number is its text, as RoadRunner reads it.
    assert_eq!(
        ticker("ticker:\n  control: 5\n").control,
        Some(PathBuf::from("5"))
    );
}

#[test]
fn missing_ticker_section_leaves_the_extension_off() {
    let config = ok("http:\n  address: 0.0.0.0:8080\nrpc:\n  listen: tcp://127.0.0.1:6001\n");
    assert_eq!(config.ticker, None);
    assert_eq!(config.path, Path::new(FILE));
}

#[test]
fn empty_file_leaves_the_extension_off() {
    for text in ["", "\n", "# only a comment\n", "---\n"] {
        let config = ok(text);
        assert_eq!(config.ticker, None, "{text:?}");
        assert_eq!(config.server, ServerConfig::default());
        assert_eq!(config.not_acted_on, Vec::<String>::new());
    }
}

#[test]
fn empty_ticker_section_is_enabled_with_every_default() {
    for yaml in [
        "ticker:\n",
        "ticker: ~\n",
        "ticker: {}\n",
        "ticker:\n  pool:\n",
        "ticker:\n  pool:\n    supervisor:\n",
    ] {
        let config = ok(yaml);
        assert_eq!(config.ticker, Some(expected_defaults()), "{yaml:?}");
    }
    // Read from no file, the state file is in the current directory.
    let unfiled = TickerConfig::default();
    assert_eq!(unfiled.state_file, Path::new("./ticker-state.json"));
    assert_eq!(
        TickerConfig {
            state_file: expected_defaults().state_file,
            ..unfiled
        },
        expected_defaults()
    );
    assert_eq!(PoolConfig::default(), expected_defaults().pool);
    assert_eq!(
        SupervisorConfig::default(),
        expected_defaults().pool.supervisor
    );
}

#[test]
fn ticker_with_only_interval_has_pool_defaults() {
    let ticker = ticker("ticker:\n  interval: 10s\n");
    assert_eq!(ticker.interval().unwrap(), secs(10));
    assert_eq!(ticker.pool, expected_defaults().pool);
}

#[test]
fn every_pool_key_is_read() {
    let pool = pool(
        "num_workers: 2\nmax_jobs: 100\nmax_queue_size: 7\nallocate_timeout: 1s\n\
         reset_timeout: 2s\ndestroy_timeout: 3s\nstream_timeout: 4s\ndebug: true\n\
         command: php worker.php\nsupervisor:\n  watch_tick: 1s\n  ttl: 1h\n  idle_ttl: 10m\n  exec_ttl: 30s\n  \
         max_worker_memory: 128\ndynamic_allocator:\n  max_workers: 5\n  spawn_rate: 1\n  idle_timeout: 10s\n",
    );
    assert_eq!(
        pool,
        PoolConfig {
            num_workers: 2,
            max_jobs: Some(100),
            max_queue_size: Some(7),
            allocate_timeout: secs(1),
            reset_timeout: secs(2),
            destroy_timeout: secs(3),
            debug: true,
            command: Some(words(&["php", "worker.php"])),
            supervisor: SupervisorConfig {
                watch_tick: secs(1),
                ttl: Some(secs(3600)),
                idle_ttl: Some(secs(600)),
                exec_ttl: Some(secs(30)),
                max_worker_memory: Some(Megabytes::new(128)),
            },
        }
    );
}

#[test]
fn zero_means_default_for_timeouts_and_off_for_limits() {
    let pool = pool(
        "max_jobs: 0\nmax_queue_size: 0\nallocate_timeout: 0\nreset_timeout: 0s\n\
         destroy_timeout: 0\nstream_timeout: 0\nsupervisor:\n  watch_tick: 0\n  ttl: 0\n  idle_ttl: 0s\n  \
         exec_ttl: 0\n  max_worker_memory: 0\n",
    );
    assert_eq!(pool, expected_defaults().pool);
}

#[test]
fn durations_accept_every_go_form() {
    let cases = [
        ("1s", secs(1)),
        ("250ms", Duration::from_millis(250)),
        ("1m", secs(60)),
        ("1m30s", secs(90)),
        ("1h", secs(3600)),
        ("1h2m3s", secs(3723)),
        ("100us", Duration::from_micros(100)),
        ("100µs", Duration::from_micros(100)),
        ("100μs", Duration::from_micros(100)),
        ("500ns", Duration::from_nanos(500)),
        ("1.5s", Duration::from_millis(1500)),
        ("1.5h", secs(5400)),
        (".5s", Duration::from_millis(500)),
        ("1.s", secs(1)),
        ("1.0000000019s", Duration::from_nanos(1_000_000_001)),
        ("+2s", secs(2)),
        ("\"2s\"", secs(2)),
    ];
    for (text, expected) in cases {
        // interval refuses sub-floor values, so check a supervisor limit too.
        if expected >= MIN_INTERVAL {
            assert_eq!(interval(text).unwrap(), expected, "{text}");
        }
        assert_eq!(
            supervisor(&format!("ttl: {text}\n")).ttl,
            Some(expected),
            "{text}"
        );
    }
    for zero in ["0", "0s", "\"0\"", "0ms", "0.0s"] {
        assert_eq!(supervisor(&format!("ttl: {zero}\n")).ttl, None, "{zero}");
    }
}

#[test]
fn durations_reject_bad_forms() {
    let cases = [
        ("fast", "\"fast\" is not a duration"),
        ("-1s", "\"-1s\" is negative"),
        ("10", "10 is a number without a unit, which is ambiguous"),
        ("-10", "-10 is a number without a unit"),
        ("1.5", "1.5 is a number without a unit"),
        ("\"10\"", "\"10\" has a number without a unit"),
        ("1x", "\"1x\" has an unknown unit \"x\""),
        ("1d", "\"1d\" has an unknown unit \"d\""),
        ("\"\"", "\"\" is not a duration"),
        ("1.5.5s", "is not a duration"),
        ("s", "\"s\" is not a duration"),
        ("100000000h", "is too large"),
        ("true", "true is a boolean"),
        ("[1s]", "[\"1s\"] is a list"),
    ];
    for (text, problem) in cases {
        let err = interval(text).unwrap_err();
        let text = message(&err, "ticker.interval");
        assert!(text.contains(problem), "{text} should contain {problem}");
        assert!(text.contains("250ms, 1s, 1m or 1m30s"), "{text}");
    }
}

#[test]
fn interval_zero_or_missing_is_one_second() {
    assert_eq!(interval("0").unwrap(), DEFAULT_INTERVAL);
    assert_eq!(interval("0s").unwrap(), DEFAULT_INTERVAL);
    assert_eq!(interval("~").unwrap(), DEFAULT_INTERVAL);
    assert_eq!(
        ticker("ticker:\n  pool:\n    debug: false\n")
            .interval()
            .unwrap(),
        secs(1)
    );
}

#[test]
fn num_workers_zero_means_one_per_cpu() {
    assert_eq!(pool("num_workers: 0\n").num_workers, cpu_count());
    assert!(cpu_count() >= 1);
    assert_eq!(pool("num_workers: 2\n").num_workers, 2);
    assert_eq!(pool("num_workers: 500\n").num_workers, MAX_WORKERS);
}

#[test]
fn num_workers_rejects_negative_too_many_and_strings() {
    let key = "ticker.pool.num_workers";
    let cases = [
        (
            "-1",
            "-1 is negative; expected an integer from 0 to 500 (0 means one per CPU)",
        ),
        (
            "501",
            "501 is out of range; expected an integer from 0 to 500 (0 means one per CPU)",
        ),
        (
            "\"4x\"",
            "\"4x\" is a string; expected an integer from 0 to 500",
        ),
        ("\"-4\"", "\"-4\" is negative"),
        ("2.5", "2.5 is not an integer"),
    ];
    for (value, detail) in cases {
        let text = message(
            &err(&format!("ticker:\n  pool:\n    num_workers: {value}\n")),
            key,
        );
        assert!(text.contains(&format!("{key}: {detail}")), "{text}");
    }
    assert_eq!(
        err("ticker:\n  pool:\n    num_workers: 501\n").to_string(),
        "ticker: config /app/.rr.yaml: ticker.pool.num_workers: 501 is out of range; \
         expected an integer from 0 to 500 (0 means one per CPU)"
    );
}

#[test]
fn limits_reject_negative_strings_and_memory_that_would_overflow() {
    let text = message(
        &err("ticker:\n  pool:\n    max_jobs: -3\n"),
        "ticker.pool.max_jobs",
    );
    assert!(
        text.contains("-3 is negative; expected an integer of 0 or more (0 means off)"),
        "{text}"
    );
    let key = "ticker.pool.supervisor.max_worker_memory";
    let memory = |value: &str| {
        err(&format!(
            "ticker:\n  pool:\n    supervisor:\n      max_worker_memory: {value}\n"
        ))
    };
    let text = message(&memory("128MB"), key);
    assert!(text.contains("\"128MB\" is a string"), "{text}");
    // In bytes, this many megabytes is past u64: refused, not wrapped around.
    let text = message(&memory("17592186044416"), key);
    assert!(
        text.contains(
            "17592186044416 is out of range; expected an integer of megabytes from 0 to 4294967295"
        ),
        "{text}"
    );
    let most = supervisor("max_worker_memory: 4294967295\n");
    assert_eq!(
        most.max_worker_memory.map(Megabytes::bytes),
        Some(4_294_967_295 << 20)
    );
}

#[test]
fn booleans_are_read_as_roadrunner_reads_them() {
    for (value, expected) in [
        ("true", true),
        ("false", false),
        ("\"true\"", true),
        ("'False'", false),
        ("\"1\"", true),
        ("\"f\"", false),
        ("1", true),
        ("0", false),
    ] {
        assert_eq!(
            pool(&format!("debug: {value}\n")).debug,
            expected,
            "{value}"
        );
    }
    for value in ["yes", "on", "\"yes\"", "2.5", "\"\""] {
        let text = message(
            &err(&format!("ticker:\n  pool:\n    debug: {value}\n")),
            "ticker.pool.debug",
        );
        assert!(text.contains("expected a boolean"), "{text}");
    }
}

// ---------------------------------------------------------------------------------------
// Keys: unknown ones, and RoadRunner's that are not acted on
// ---------------------------------------------------------------------------------------

#[test]
fn unknown_keys_are_named_at_every_level() {
    let cases = [
        (
            "ticker:\n  intervall: 1s\n",
            "ticker.intervall",
            "interval, missed, overlap, metrics, control, pool",
        ),
        (
            "ticker:\n  pool:\n    wokers: 1\n",
            "ticker.pool.wokers",
            "num_workers, max_jobs",
        ),
        (
            "ticker:\n  pool:\n    supervisor:\n      max_memory: 1\n",
            "ticker.pool.supervisor.max_memory",
            "watch_tick, ttl",
        ),
        (
            "ticker:\n  pool:\n    dynamic_allocator:\n      max: 1\n",
            "ticker.pool.dynamic_allocator.max",
            "max_workers, spawn_rate, idle_timeout",
        ),
    ];
    for (yaml, key, accepted) in cases {
        let text = message(&err(yaml), key);
        assert!(text.contains(&format!("{key}: unknown key")), "{text}");
        assert!(
            text.contains(&format!("; expected one of {accepted}")),
            "{text}"
        );
    }
}

#[test]
fn a_command_string_with_shell_syntax_is_split_as_roadrunner_splits_it_with_a_warning() {
    let config = ok(
        "server:\n  on_init:\n    command: \"php bin/console warm --env='prod' && \
                     echo done\"\nticker:\n  pool:\n    command: php worker.php > /tmp/log\n",
    );
    assert_eq!(
        config.server.on_init.as_ref().unwrap().command,
        words(&[
            "php",
            "bin/console",
            "warm",
            "--env='prod'",
            "&&",
            "echo",
            "done"
        ]),
        "split on spaces, as RoadRunner splits it"
    );
    let warnings = config.warnings();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert_eq!(
        warnings[1],
        format!(
            "config {FILE}: server.on_init.command: \"php bin/console warm --env='prod' && echo \
             done\" is split on spaces and run without a shell, so its ' & reach the program as \
             written; use the list form, one item per argument, such as [php, worker.php] (or \
             [sh, -c, \"...\"] for a shell)"
        )
    );
    assert!(
        warnings[0].contains(
            "ticker.pool.command: \"php worker.php > /tmp/log\" is split on \
                              spaces and run without a shell, so its > reaches the program"
        ),
        "{warnings:?}"
    );
    // The list form, a plain string, and RoadRunner's own server.command draw no warning.
    let config = ok(
        "server:\n  command: \"php -r 'echo 1;'\"\n  on_init:\n    command: [sh, -c, \
                     \"a && b\"]\nticker:\n  pool:\n    command: php worker.php\n",
    );
    assert_eq!(config.doubts, Vec::<String>::new());
}

#[test]
fn an_unknown_key_close_to_an_accepted_one_suggests_it() {
    for (yaml, line) in [
        (
            "ticker:\n  intervall: 1s\n",
            "ticker.intervall: unknown key (did you mean interval?); expected one of interval,",
        ),
        (
            "ticker:\n  pool:\n    num_worker: 2\n",
            "ticker.pool.num_worker: unknown key (did you mean num_workers?); expected one of \
             num_workers,",
        ),
        (
            "ticker:\n  pool:\n    supervisor:\n      idle-ttl: 1s\n",
            "ticker.pool.supervisor.idle-ttl: unknown key (did you mean idle_ttl?)",
        ),
    ] {
        let text = err(yaml).to_string();
        assert!(text.contains(line), "{text}");
    }
    // Nothing close: no guess.
    let text = err("ticker:\n  pool:\n    wokers: 1\n").to_string();
    assert!(
        text.contains("ticker.pool.wokers: unknown key; expected one of num_workers"),
        "{text}"
    );
}

#[test]
fn keys_of_roadrunners_own_sections_unknown_here_are_ignored_and_named() {
    let config = ok(
        "server:\n  relays: pipes\n  command: php w.php\n  on_init:\n    command: php i.php\n    \
         timeout: 1s\nlogs:\n  colour: true\n  skip_line_ending: true\n  level: warn\n",
    );
    assert_eq!(
        config.ignored,
        ["server.on_init.timeout", "server.relays", "logs.colour"]
    );
    assert_eq!(
        config.not_acted_on,
        ["server.command", "logs.skip_line_ending"]
    );
    assert_eq!(config.logs.level, LogLevel::Warn);
    assert_eq!(
        config.not_acted_on_warning().unwrap(),
        "config /app/.rr.yaml: RoadRunner keys accepted but not acted on by this extension: \
         server.command, logs.skip_line_ending; keys this extension does not know, ignored: \
         server.on_init.timeout, server.relays, logs.colour"
    );
    // Known keys are still checked there.
    message(
        &err("server:\n  relays: x\n  relay_timeout: soon\n"),
        "server.relay_timeout",
    );
}

#[test]
fn sections_must_be_mappings() {
    let cases = [
        (
            "ticker: 5\n",
            "ticker",
            "5 is not a mapping; expected a mapping with interval: and pool:",
        ),
        (
            "ticker:\n  pool: x\n",
            "ticker.pool",
            "a mapping of pool settings",
        ),
        ("server: [a]\n", "server", "a mapping of server settings"),
        ("logs: debug\n", "logs", "a mapping of log settings"),
        (
            "ticker:\n  metrics: :2112\n",
            "ticker.metrics",
            "a mapping with address:",
        ),
        (
            "server:\n  on_init: php init.php\n",
            "server.on_init",
            "a mapping with command:",
        ),
    ];
    for (yaml, key, expected) in cases {
        let text = message(&err(yaml), key);
        assert!(text.contains(expected), "{text}");
    }
}

#[test]
fn other_plugins_sections_are_never_read() {
    let config = ok(
        "version: '3'\nhttp:\n  pool:\n    wokers: 1\n    num_workers: -5\n\
         jobs: [whatever]\nkv: 3\nticker:\n  interval: 2s\n",
    );
    assert_eq!(config.ticker.unwrap().interval().unwrap(), secs(2));
    assert_eq!(config.not_acted_on, Vec::<String>::new());
}

#[test]
fn roadrunner_keys_not_acted_on_are_listed_in_reading_order() {
    let config = ok(
        "server:\n  command: php w.php\n  relay_timeout: 10s\nlogs:\n  mode: production\n  \
         level: warn\n  channels:\n    http:\n      level: debug\nticker:\n  pool:\n    \
         stream_timeout: 1s\n    num_workers: 1\n    dynamic_allocator:\n      \
         spawn_rate: 2\n",
    );
    assert_eq!(
        config.not_acted_on,
        [
            "ticker.pool.stream_timeout",
            "ticker.pool.dynamic_allocator.spawn_rate",
            "server.command",
            "server.relay_timeout",
            "logs.mode",
            "logs.channels",
        ]
    );
    assert_eq!(
        config.not_acted_on_warning().unwrap(),
        "config /app/.rr.yaml: RoadRunner keys accepted but not acted on by this extension: \
         ticker.pool.stream_timeout, ticker.pool.dynamic_allocator.spawn_rate, \
         server.command, server.relay_timeout, logs.mode, logs.channels"
    );
    let config = ok("ticker:\n  interval: 1s\n  pool:\n    num_workers: 2\nlogs:\n  level: info\n");
    assert_eq!(config.not_acted_on_warning(), None);
    // A key set to nothing is not set.
    assert_eq!(ok("server:\n  relay: ~\n").not_acted_on_warning(), None);
}

#[test]
fn server_keys_of_command_started_workers_act_only_with_a_pool_command() {
    let server = "server:\n  command: php w.php\n  env:\n    A: b\n  relay: pipes\n  \
                  relay_timeout: 10s\n  user: www-data\n  group: www-data\n  on_init:\n    \
                  command: php init.php\n    exec_timeout: 5s\n    exit_on_error: true\n    \
                  env:\n      X: y\n    user: www-data\n  after_init:\n    command: php a.php\n";
    let forked = ok(&format!("{server}ticker:\n  interval: 1s\n"));
    assert_eq!(
        forked.not_acted_on,
        [
            "server.command",
            "server.env",
            "server.relay",
            "server.relay_timeout",
            "server.after_init.command",
        ],
        "a forked pool: env, relay and relay_timeout are for command-started workers"
    );
    let started = ok(&format!(
        "{server}ticker:\n  pool:\n    command: [php, worker.php]\n"
    ));
    assert_eq!(
        started.not_acted_on,
        ["server.command", "server.after_init.command"],
        "command-started workers: only server.command (other plugins') and after_init"
    );
    assert_eq!(
        started.ticker.unwrap().pool.command,
        Some(words(&["php", "worker.php"]))
    );
}

#[test]
fn command_started_workers_take_pipes_only() {
    for relay in ["tcp://127.0.0.1:7000", "unix:///run/rr.sock"] {
        let yaml = format!("server:\n  relay: {relay}\nticker:\n  pool:\n    command: php w.php\n");
        let text = message(&err(&yaml), "server.relay");
        assert!(
            text.contains(&format!(
                "{relay:?} is not accepted with ticker.pool.command"
            )) && text.contains("expected pipes, or no relay"),
            "{text}"
        );
        // A forked pool does not use the relay: RoadRunner's other plugins may.
        let forked = ok(&format!(
            "server:\n  relay: {relay}\nticker:\n  interval: 1s\n"
        ));
        assert_eq!(forked.not_acted_on, ["server.relay"]);
    }
    let pipes = ok("server:\n  relay: pipes\nticker:\n  pool:\n    command: php w.php\n");
    assert_eq!(pipes.server.relay, Relay::Pipes);
    assert_eq!(pipes.not_acted_on, Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------
// server and logs
// ---------------------------------------------------------------------------------------

#[test]
fn logs_act_on_level_and_encoding_and_accept_roadrunner_keys() {
    let c = ok("logs:\n  mode: production\n  level: warn\n  encoding: json\n  output: stderr\n");
    assert_eq!(
        c.logs,
        LogsConfig {
            level: LogLevel::Warn,
            encoding: LogEncoding::Json
        }
    );
    assert_eq!(c.not_acted_on, ["logs.mode", "logs.output"]);
    assert_eq!(ok("").logs, LogsConfig::default());
    let e = err("logs:\n  level: loud\n").to_string();
    assert!(
        e.contains("logs.level: \"loud\" is not accepted; expected debug, info, warn or error"),
        "{e}"
    );
    let e = err("logs:\n  encoding: xml\n").to_string();
    assert!(
        e.contains("logs.encoding: \"xml\" is not accepted; expected console or json"),
        "{e}"
    );
}

#[test]
fn commands_as_string_or_list() {
    assert_eq!(
        pool("command: php  worker.php -v\n").command,
        Some(words(&["php", "worker.php", "-v"]))
    );
    assert_eq!(
        pool("command: [php, worker.php, \"a b\"]\n").command,
        Some(words(&["php", "worker.php", "a b"]))
    );
    assert_eq!(
        pool("command:\n  - php\n  - \"\"\n").command,
        Some(words(&["php", ""]))
    );
}

#[test]
fn empty_commands_are_errors() {
    for (value, problem) in [
        ("\"\"", "\"\" is an empty command"),
        ("\"   \"", "is an empty command"),
        ("[]", "[] has no program"),
        ("[\"\", x]", "has no program"),
    ] {
        let text = message(
            &err(&format!("server:\n  command: {value}\n")),
            "server.command",
        );
        assert!(
            text.contains(problem) && text.contains("expected a command"),
            "{text}"
        );
        message(
            &err(&format!("ticker:\n  pool:\n    command: {value}\n")),
            "ticker.pool.command",
        );
        message(
            &err(&format!("server:\n  on_init:\n    command: {value}\n")),
            "server.on_init.command",
        );
    }
    let text = message(
        &err("server:\n  command: [php, [3]]\n"),
        "server.command[1]",
    );
    assert!(text.contains("[3] is a list; expected a string"), "{text}");
    assert_eq!(
        pool("command: [php, w.php, 3]\n").command,
        Some(words(&["php", "w.php", "3"])),
        "a number is its text, as RoadRunner reads it"
    );
}

#[test]
fn the_pool_command_is_the_pools_and_server_command_is_only_checked() {
    let config = ok("server:\n  command: php a.php\nticker:\n  pool:\n    command: php b.php\n");
    let pool_command = config.ticker.unwrap().pool.command;
    assert_eq!(pool_command, Some(words(&["php", "b.php"])));
    assert_eq!(config.not_acted_on, ["server.command"]);
}

#[test]
fn relay_forms() {
    assert_eq!(server("user: www\n").relay, Relay::Pipes);
    assert_eq!(server("relay: pipes\n").relay, Relay::Pipes);
    assert_eq!(
        server("relay: tcp://127.0.0.1:7000\n").relay,
        Relay::Tcp("127.0.0.1:7000".into())
    );
    assert_eq!(
        server("relay: unix:///tmp/rr.sock\n").relay,
        Relay::Unix("/tmp/rr.sock".into())
    );
}

#[test]
fn bad_relays_are_errors() {
    for value in [
        "pipe",
        "\"\"",
        "tcp://localhost",
        "tcp://:7000",
        "tcp://host:http",
        "unix://",
        "udp://1.2.3.4:5",
        "7000",
    ] {
        let text = message(
            &err(&format!("server:\n  relay: {value}\n")),
            "server.relay",
        );
        assert!(
            text.contains("expected pipes, tcp://host:port or unix://"),
            "{text}"
        );
    }
}

#[test]
fn server_env_names_are_upper_cased_as_a_map_or_a_list() {
    let expected: BTreeMap<String, String> = [
        ("APP_ENV", "prod"),
        ("PORT", "8080"),
        ("DEBUG", "true"),
        ("PATH_X", "/home/app/x"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let home = [("HOME", "/home/app")];
    let map = ok_in(
        "server:\n  env:\n    app_env: prod\n    Port: 8080\n    DEBUG: true\n    PATH_X: ${HOME}/x\n",
        &home,
    );
    assert_eq!(map.server.env, expected);
    let list = ok_in(
        "server:\n  env:\n    - app_env: prod\n    - Port: 8080\n    - DEBUG: true\n    - PATH_X: $HOME/x\n",
        &home,
    );
    assert_eq!(list.server.env, expected);
}

#[test]
fn server_env_rejects_names_that_collide_and_nested_values() {
    let text = message(
        &err("server:\n  env:\n    foo: 1\n    FOO: 2\n"),
        "server.env",
    );
    assert!(
        text.contains("\"FOO\" names a variable already set"),
        "{text}"
    );
    let text = message(&err("server:\n  env:\n    FOO: [1, 2]\n"), "server.env.FOO");
    assert!(
        text.contains("[1, 2] is a list; expected a string, a number or a boolean"),
        "{text}"
    );
    let text = message(
        &err("server:\n  env:\n    - A: 1\n      B: 2\n"),
        "server.env[0]",
    );
    assert!(text.contains("is not a single NAME: value entry"), "{text}");
}

#[test]
fn server_defaults_and_user_group() {
    let defaults = ok("ticker:\n").server;
    assert_eq!(defaults, ServerConfig::default());
    assert_eq!(defaults.relay_timeout, secs(60));
    let named = server("user: www-data\ngroup: \"\"\nrelay_timeout: 20s\n");
    assert_eq!(named.user.as_deref(), Some("www-data"));
    assert_eq!(named.group, None);
    assert_eq!(named.relay_timeout, secs(20));
    assert_eq!(server("user: 33\n").user.as_deref(), Some("33"));
    message(&err("server:\n  user: [www-data]\n"), "server.user");
}

#[test]
fn user_and_group_names_no_lookup_could_find_are_refused() {
    for key in ["user", "group"] {
        for (value, problem) in [
            (r#""www\tdata""#, r#""www\tdata" has a control character"#),
            (r#""www\ndata""#, r#""www\ndata" has a control character"#),
            ("www-data:www-data", r#""www-data:www-data" has ":""#),
            ("/home/www", r#""/home/www" has "/""#),
            ("\"  \"", r#""  " is blank"#),
        ] {
            let text = message(
                &err(&format!("server:\n  {key}: {value}\n")),
                &format!("server.{key}"),
            );
            assert!(
                text.contains(&format!(
                    "{problem}, which no {key} name can hold; expected a {key} name such as \
                     www-data (no \"/\", \":\" or control characters)"
                )) || text.contains(&format!("{problem}; expected a {key} name")),
                "{text}"
            );
        }
    }
    let named = server("user: \"DOMAIN\\\\app user\"\ngroup: 1000\n");
    assert_eq!(named.user.as_deref(), Some("DOMAIN\\app user"));
    assert_eq!(named.group.as_deref(), Some("1000"));
    let text = message(
        &err("server:\n  on_init:\n    command: php init.php\n    user: a:b\n"),
        "server.on_init.user",
    );
    assert!(text.contains("\"a:b\" has \":\""), "{text}");
}

/// A NUL written as YAML's escape, inside a double-quoted string, so that the parsed value
/// holds the byte itself.
#[test]
fn nul_bytes_are_refused_wherever_the_kernel_would_be_given_them() {
    let cases = [
        (
            r#"ticker: {pool: {command: "php\0worker.php"}}"#,
            "ticker.pool.command",
            r#""php\0worker.php" has a NUL byte, which no program argument can hold; expected a command as a string"#,
        ),
        (
            r#"ticker: {pool: {command: [php, "worker\0.php"]}}"#,
            "ticker.pool.command[1]",
            r#""worker\0.php" has a NUL byte, which no program argument can hold; expected a command"#,
        ),
        (
            r#"server: {command: "php\0a.php"}"#,
            "server.command",
            r#""php\0a.php" has a NUL byte"#,
        ),
        (
            r#"server: {on_init: {command: "php init.php\0"}}"#,
            "server.on_init.command",
            r#""php init.php\0" has a NUL byte, which no program argument can hold"#,
        ),
        (
            r#"server: {on_init: {command: ["\0"]}}"#,
            "server.on_init.command[0]",
            r#""\0" has a NUL byte"#,
        ),
        (
            r#"server: {user: "www\0data"}"#,
            "server.user",
            r#""www\0data" has a NUL byte, which no user name can hold; expected a user name such as www-data"#,
        ),
        (
            r#"server: {group: "www\0data"}"#,
            "server.group",
            r#""www\0data" has a NUL byte, which no group name can hold; expected a group name such as www-data"#,
        ),
        (
            r#"server: {on_init: {command: php init.php, user: "\0"}}"#,
            "server.on_init.user",
            r#""\0" has a NUL byte, which no user name can hold"#,
        ),
        (
            r#"server: {after_init: {command: php a.php, user: "a\0"}}"#,
            "server.after_init.user",
            r#""a\0" has a NUL byte"#,
        ),
        (
            r#"server: {env: {APP_ENV: "prod\0"}}"#,
            "server.env.APP_ENV",
            r#""prod\0" has a NUL byte, which no environment variable can hold; expected a string, a number or a boolean"#,
        ),
        (
            r#"server: {env: [{APP_ENV: "\0"}]}"#,
            "server.env.APP_ENV",
            r#""\0" has a NUL byte"#,
        ),
        (
            r#"server: {env: {"APP\0ENV": prod}}"#,
            "server.env",
            r#""APP\0ENV" is not a variable name; expected a name without "=" or NUL bytes such as APP_ENV"#,
        ),
        (
            r#"server: {on_init: {command: php init.php, env: {X: "a\0b"}}}"#,
            "server.on_init.env.X",
            r#""a\0b" has a NUL byte, which no environment variable can hold"#,
        ),
        (
            r#"ticker: {control: "/run/ticker\0.sock"}"#,
            "ticker.control",
            r#""/run/ticker\0.sock" has a NUL byte, which no path can hold; expected a path"#,
        ),
    ];
    for (yaml, key, detail) in cases {
        let text = message(&err(&format!("{yaml}\n")), key);
        assert!(text.contains(&format!(": {key}: {detail}")), "{text}");
    }
    // Through a variable's default too, which is substituted before the check.
    let text = message(
        &err(r#"ticker: {pool: {command: "php ${W:-w\0.php}"}}"#),
        "ticker.pool.command",
    );
    assert!(
        text.contains(r#""php w\0.php" (from "php ${W:-w\0.php}") has a NUL byte"#),
        "{text}"
    );
}

#[test]
fn env_names_with_an_equals_sign_are_refused() {
    for yaml in [
        "server:\n  env:\n    A=B: 1\n",
        "server:\n  env:\n    - \"=\": 1\n",
        "server:\n  on_init:\n    command: php i.php\n    env:\n      X=: 1\n",
    ] {
        let text = err(yaml).to_string();
        assert!(
            text.contains("is not a variable name; expected a name without \"=\""),
            "{text}"
        );
    }
}

#[test]
fn on_init_defaults_and_fields() {
    let on_init = server("on_init:\n  command: php init.php\n")
        .on_init
        .unwrap();
    assert_eq!(
        on_init,
        OnInit {
            command: words(&["php", "init.php"]),
            exec_timeout: secs(60),
            env: BTreeMap::new(),
            exit_on_error: false,
            user: None,
        }
    );
    let server = server(
        "on_init:\n  command: [php, init.php]\n  exec_timeout: 20s\n  env:\n    a: b\n  \
         exit_on_error: true\n  user: www-data\nafter_init:\n  command: php ready.php\n",
    );
    let on_init = server.on_init.unwrap();
    assert_eq!(on_init.exec_timeout, secs(20));
    assert_eq!(on_init.env.get("A").map(String::as_str), Some("b"));
    assert!(on_init.exit_on_error);
    assert_eq!(on_init.user.as_deref(), Some("www-data"));
}

#[test]
fn on_init_requires_a_command() {
    for section in ["on_init", "after_init"] {
        let text = message(
            &err(&format!("server:\n  {section}:\n    exec_timeout: 1s\n")),
            &format!("server.{section}.command"),
        );
        assert!(text.contains("is missing; expected a command"), "{text}");
    }
}

// ---------------------------------------------------------------------------------------
// Environment substitution
// ---------------------------------------------------------------------------------------

#[test]
fn substituted_values_are_read_as_written_there() {
    let yaml = "ticker:\n  interval: ${TICK:-1s}\n  overlap: $OVERLAP\n  pool:\n    \
                num_workers: ${WORKERS}\n    destroy_timeout: \"${DESTROY}\"\n    \
                command: php ${APP}/worker.php\n";
    let vars = [
        ("WORKERS", "4"),
        ("OVERLAP", "false"),
        ("DESTROY", "5s"),
        ("APP", "/srv"),
    ];
    let ticker = ok_in(yaml, &vars).ticker.unwrap();
    assert_eq!(
        ticker.interval().unwrap(),
        secs(1),
        "the default, TICK being unset"
    );
    assert!(!ticker.schedules[0].overlap);
    assert_eq!(ticker.pool.num_workers, 4);
    assert_eq!(ticker.pool.destroy_timeout, secs(5));
    assert_eq!(
        ticker.pool.command,
        Some(words(&["php", "/srv/worker.php"]))
    );
    let vars = [("TICK", "250ms"), ("WORKERS", "1"), ("OVERLAP", "true")];
    let ticker = ok_in(
        "ticker:\n  interval: ${TICK:-1s}\n  pool:\n    num_workers: $WORKERS\n",
        &vars,
    )
    .ticker
    .unwrap();
    assert_eq!(ticker.interval().unwrap(), Duration::from_millis(250));
    assert_eq!(ticker.pool.num_workers, 1);
    // An empty variable takes the default too, as in bash.
    let ticker = ok_in("ticker:\n  interval: ${TICK:-2s}\n", &[("TICK", "")]);
    assert_eq!(ticker.ticker.unwrap().interval().unwrap(), secs(2));
}

#[test]
fn a_read_key_left_empty_by_an_unset_variable_names_the_key_and_the_variable() {
    let cases = [
        (
            "ticker:\n  interval: ${TICK}\n",
            "ticker.interval",
            "\"${TICK}\" is empty because TICK is not set (set it, or give it a default: \
             ${TICK:-default}); expected a number with a unit",
        ),
        (
            "ticker:\n  pool:\n    num_workers: $WORKERS\n",
            "ticker.pool.num_workers",
            "\"$WORKERS\" is empty because WORKERS is not set (set it, or give it a default: \
             ${WORKERS:-default}); expected an integer",
        ),
        (
            "ticker:\n  control: ${SOCK}\n",
            "ticker.control",
            "\"${SOCK}\" is empty because SOCK is not set (set it, or give it a default: \
             ${SOCK:-default}); expected a path",
        ),
        (
            "server:\n  user: ${APP_USER}\n",
            "server.user",
            "\"${APP_USER}\" is empty because APP_USER is not set (set it, or give it a default: \
             ${APP_USER:-default}); expected a user name",
        ),
        (
            "server:\n  command: [php, \"${A}${B}\"]\n",
            "server.command[1]",
            "\"${A}${B}\" is empty because A and B are not set (set them, or give them defaults: \
             ${A:-default}, ${B:-default})",
        ),
        (
            "logs:\n  level: ${LEVEL}\n",
            "logs.level",
            "\"${LEVEL}\" is empty because LEVEL is not set (set it, or give it a default: \
             ${LEVEL:-default}); expected debug",
        ),
    ];
    for (yaml, key, detail) in cases {
        let text = message(&err(yaml), key);
        assert!(text.contains(&format!("{key}: {detail}")), "{text}");
    }
}

#[test]
fn substitution_elsewhere_is_roadrunners_business() {
    // Other plugins' sections, keys taken as they are, and env values may be left empty.
    let config = ok(
        "http:\n  address: ${HTTP_ADDRESS}\n  weird: ${\nlogs:\n  output: ${LOG_OUT}\n\
                     server:\n  env:\n    SECRET: ${SECRET}\nticker:\n",
    );
    assert_eq!(
        config.server.env.get("SECRET").map(String::as_str),
        Some("")
    );
    assert!(config.ticker.is_some());
}

#[test]
fn a_substituted_value_that_is_wrong_says_where_it_came_from() {
    let text = message(
        &err_in("ticker:\n  interval: ${TICK}\n", &[("TICK", "fast")]),
        "ticker.interval",
    );
    assert!(
        text.contains(
            "\"fast\" (from \"${TICK}\") is not a duration; expected a number with a unit"
        ),
        "{text}"
    );
    let text = message(&err("ticker:\n  interval: ${N}s\n"), "ticker.interval");
    assert!(
        text.contains(
            "\"s\" (from \"${N}s\", with N unset; set it, or give it a default: \
             ${N:-default}) is not a duration"
        ),
        "{text}"
    );
    // Set, but to nothing: an ordinary bad value.
    let text = message(
        &err_in("ticker:\n  pool:\n    num_workers: ${W}\n", &[("W", "")]),
        "ticker.pool.num_workers",
    );
    assert!(text.contains("\"\" (from \"${W}\") is a string"), "{text}");
    let text = message(&err("ticker:\n  interval: ${TICK\n"), "ticker.interval");
    assert!(
        text.contains(
            "\"${TICK\" has a \"${\" without its closing \"}\"; expected a number with a unit"
        ),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------
// The file as a whole
// ---------------------------------------------------------------------------------------

/// The longest a message may be when it quotes a huge value: a few quoted excerpts and the
/// accepted forms.
const SHORT: usize = 600;

#[test]
fn a_huge_value_is_quoted_by_its_head_and_its_length() {
    let huge = "x".repeat(2 << 20);
    let head = "x".repeat(64);
    let text = message(
        &err_in("ticker:\n  interval: ${TICK}\n", &[("TICK", &huge)]),
        "ticker.interval",
    );
    assert!(text.len() < SHORT, "{} bytes", text.len());
    assert!(
        text.contains(&format!(
            "ticker.interval: \"{head}\"… (2097152 bytes) (from \"${{TICK}}\") is not a duration"
        )),
        "{text}"
    );

    // Within the file's size limit, in every place a message repeats what was written.
    let long = "y".repeat(500_000);
    let cases = [
        (
            format!("ticker:\n  missed: {long}\n"),
            "ticker.missed".to_string(),
        ),
        (
            format!("ticker:\n  interval: \"1{long}\"\n"),
            "ticker.interval".into(),
        ),
        (
            format!("ticker:\n  interval: \"$X{long}\"\n"),
            "ticker.interval".into(),
        ),
        (
            format!("ticker:\n  interval: ${{{long}}}\n"),
            "ticker.interval".into(),
        ),
        (
            // A key this long must be written explicitly (`? key`) in YAML.
            format!("ticker:\n  ? {long}\n  : 1\n"),
            format!("ticker.{}… (500000 bytes)", &long[..64]),
        ),
        (
            format!("server:\n  env:\n    ? A={long}\n    : 1\n"),
            "server.env".into(),
        ),
        (
            format!("server:\n  env:\n    ? {long}\n    : [1]\n"),
            format!("server.env.{}… (500000 bytes)", &long[..64]),
        ),
        (
            format!("server:\n  user: \"{long}:\"\n"),
            "server.user".into(),
        ),
        (
            format!("ticker:\n  pool:\n    command: [php, \"{long}\\0\"]\n"),
            "ticker.pool.command[1]".into(),
        ),
        (
            format!("ticker:\n  cluster:\n    redis: redis://127.0.0.1\n    key: \"a {long}\"\n"),
            "ticker.cluster.key".into(),
        ),
    ];
    for (yaml, key) in cases {
        let text = message(&err(&yaml), &key);
        assert!(
            text.len() < SHORT,
            "{key}: {} bytes: {}",
            text.len(),
            &text[..SHORT]
        );
        assert!(text.contains(" bytes)"), "{text}");
    }
}

#[test]
fn invalid_yaml_names_the_file_and_position() {
    let e = err("ticker:\n  interval: 1s\n    pool: x\n");
    let text = e.to_string();
    assert!(!text.contains('\n'), "{text:?}");
    assert!(
        text.starts_with("ticker: config /app/.rr.yaml: invalid YAML at line "),
        "{text}"
    );
    assert_eq!(e.key(), None);
    let text = err("a: [\n").to_string();
    assert!(
        text.contains("invalid YAML at line 2 column 1: did not find expected node content"),
        "{text}"
    );
}

#[test]
fn top_level_must_be_a_mapping() {
    let text = err("- ticker\n").to_string();
    assert!(
        text.starts_with("ticker: config /app/.rr.yaml: the top level is not a mapping"),
        "{text}"
    );
}

#[test]
fn merge_keys_are_applied() {
    let yaml = "x-timeouts: &t\n  allocate_timeout: 5s\nticker:\n  pool:\n    <<: *t\n    num_workers: 1\n";
    let pool = ticker(yaml).pool;
    assert_eq!(pool.allocate_timeout, secs(5));
    assert_eq!(pool.num_workers, 1);
}

#[test]
fn a_deeply_nested_file_is_refused_by_the_depth_limit() {
    // 500 KB of nesting took the YAML parser most of a minute.
    let depth = 250_000;
    let text = format!(
        "ticker:\n  interval: 1s\nhttp: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    assert!(text.len() > 500_000 && text.len() < MAX_FILE_BYTES);
    let e = err(&text);
    assert_eq!(e.key(), None);
    assert_eq!(
        e.to_string(),
        "ticker: config /app/.rr.yaml: nests mappings and lists deeper than the limit of 64 \
         levels (at line 3 column 70)"
    );
    let text = format!("http: {}\n", "{a: ".repeat(125_000));
    assert!(
        err(&text)
            .to_string()
            .contains("deeper than the limit of 64 levels")
    );
    // As deep as allowed is fine.
    let text = format!(
        "ticker: {{}}\nhttp: {}1{}\n",
        "[".repeat(63),
        "]".repeat(63)
    );
    assert!(ok(&text).ticker.is_some());
}

#[test]
fn a_file_over_the_size_limit_is_refused() {
    let text = format!("ticker: {{}}\n# {}\n", "x".repeat(MAX_FILE_BYTES));
    assert_eq!(
        err(&text).to_string(),
        "ticker: config /app/.rr.yaml: is larger than the limit of 1 MiB for a config file"
    );
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ticker-config-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn load_missing_default_file_is_none_and_missing_explicit_file_is_an_error() {
    let dir = scratch_dir("missing");
    assert_eq!(load(&Source::locate(None, None, &dir)), Ok(None));

    let e = load(&Source::locate(Some("nope.yaml"), None, &dir)).unwrap_err();
    let expected = format!(
        "ticker: config {}: file not found (named by TICKER_CONFIG)",
        dir.join("nope.yaml").display()
    );
    assert_eq!(e.to_string(), expected);

    let e = load(&Source::locate(None, Some("nope.yaml"), &dir)).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("nope.yaml: file not found (named by ini ticker.config)"),
        "{e}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn load_reads_and_parses_the_file() {
    let dir = scratch_dir("load");
    std::fs::write(dir.join(".rr.yaml"), "ticker:\n  interval: 3s\n").unwrap();
    let config = load(&Source::locate(None, None, &dir)).unwrap().unwrap();
    assert_eq!(config.path, dir.join(".rr.yaml"));
    assert_eq!(config.ticker.unwrap().interval().unwrap(), secs(3));

    std::fs::write(dir.join("bad.yaml"), "ticker:\n  interval: fast\n").unwrap();
    let e = load(&Source::locate(Some("bad.yaml"), None, &dir)).unwrap_err();
    assert_eq!(e.path(), dir.join("bad.yaml"));
    assert_eq!(e.key(), Some("ticker.interval"));

    // A directory where the file should be is an error even for the default source.
    let nested = dir.join("nested");
    std::fs::create_dir_all(nested.join(".rr.yaml")).unwrap();
    let e = load(&Source::locate(None, None, &nested)).unwrap_err();
    assert!(e.to_string().contains("cannot be read:"), "{e}");

    std::fs::write(dir.join("latin1.yaml"), b"ticker:\n  control: /tmp/\xe9\n").unwrap();
    let e = load(&Source::locate(Some("latin1.yaml"), None, &dir)).unwrap_err();
    assert!(
        e.to_string()
            .contains("cannot be read: stream did not contain valid UTF-8"),
        "{e}"
    );

    // A huge file is refused without being read whole.
    let huge = std::fs::File::create(dir.join("huge.yaml")).unwrap();
    huge.set_len(64 * MAX_FILE_BYTES as u64).unwrap();
    let e = load(&Source::locate(Some("huge.yaml"), None, &dir)).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("huge.yaml: is larger than the limit of 1 MiB for a config file (named by TICKER_CONFIG)"),
        "{e}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn every_error_is_one_line_naming_the_file() {
    let file = Path::new("/weird\npath/.rr.yaml");
    let errors = [
        parse_with_env("ticker:\n  interval: \"a\\nb\"\n", file, &|_| None).unwrap_err(),
        parse_with_env("ticker: [\n", file, &|_| None).unwrap_err(),
        parse_with_env("ticker:\n  pool:\n    x: 1\n", file, &|_| None).unwrap_err(),
        parse_with_env("- 1\n", file, &|_| None).unwrap_err(),
        parse_with_env("ticker:\n  interval: $X\n", file, &|_| Some("a\nb".into())).unwrap_err(),
    ];
    for e in errors {
        let text = e.to_string();
        assert!(!text.contains(['\n', '\r']), "{text:?}");
        assert!(
            text.starts_with("ticker: config /weird path/.rr.yaml: "),
            "{text}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// RoadRunner's own files (tests/fixtures/rr/), each with a ticker section added
// ---------------------------------------------------------------------------------------

/// The variables the `${VAR}` file of the corpus needs; the end-to-end test sets the same.
pub(crate) const CORPUS_ENV: [(&str, &str); 2] =
    [("TICKER_RR_WORKERS", "2"), ("TICKER_RR_MAX_JOBS", "100")];

/// Each file of the corpus, and the keys it sets that are not acted on.
pub(crate) const CORPUS: [(&str, &[&str]); 6] = [
    (
        "http.yaml",
        &[
            "server.command",
            "server.relay",
            "logs.mode",
            "logs.channels",
        ],
    ),
    ("jobs.yaml", &["server.command", "server.env", "logs.mode"]),
    ("grpc.yaml", &["server.command", "logs.output"]),
    (
        "server.yaml",
        &[
            "ticker.pool.stream_timeout",
            "ticker.pool.dynamic_allocator.max_workers",
            "ticker.pool.dynamic_allocator.spawn_rate",
            "ticker.pool.dynamic_allocator.idle_timeout",
            "server.command",
            "server.after_init.command",
            "server.after_init.exec_timeout",
            "logs.mode",
            "logs.output",
            "logs.err_output",
            "logs.line_ending",
            "logs.file_logger_options",
        ],
    ),
    ("env.yaml", &["server.command", "server.env"]),
    (
        "loose.yaml",
        &[
            "server.command",
            "server.relay",
            "server.relay_timeout",
            "logs.mode",
            "logs.skip_line_ending",
        ],
    ),
];

fn corpus(name: &str) -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rr")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path, text)
}

#[test]
fn every_roadrunner_file_of_the_corpus_parses_and_lists_what_is_not_acted_on() {
    for (name, not_acted_on) in CORPUS {
        let (path, text) = corpus(name);
        let config = parse_with_env(&text, &path, &env_of(&CORPUS_ENV))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let ticker = config
            .ticker
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no ticker"));
        assert_eq!(
            ticker.interval().unwrap(),
            Duration::from_millis(50),
            "{name}"
        );
        assert_eq!(ticker.pool.num_workers, 2, "{name}");
        assert_eq!(config.not_acted_on, not_acted_on, "{name}");
    }
}

#[test]
fn the_corpus_files_mean_what_roadrunner_reads_in_them() {
    let (path, text) = corpus("server.yaml");
    let config = parse_with_env(&text, &path, &|_| None).unwrap();
    let server = &config.server;
    assert_eq!(server.relay, Relay::Pipes);
    assert_eq!(server.relay_timeout, secs(20));
    assert_eq!(server.user.as_deref(), Some("www-data"));
    assert_eq!(
        server.env.get("APP_DEBUG").map(String::as_str),
        Some("false")
    );
    assert_eq!(
        server.on_init.as_ref().unwrap().user.as_deref(),
        Some("www-data")
    );
    let ticker = config.ticker.unwrap();
    assert_eq!(ticker.schedules[0].missed, Missed::Delay);
    assert_eq!(ticker.pool.max_queue_size, Some(2));
    assert_eq!(
        ticker.pool.supervisor.max_worker_memory,
        Some(Megabytes::new(512))
    );

    let (path, text) = corpus("loose.yaml");
    let config = parse_with_env(&text, &path, &|_| None).unwrap();
    assert_eq!(config.ignored, ["server.pool_size", "logs.errorOutput"]);
    assert_eq!(config.logs.level, LogLevel::Debug);
    let pool = config.ticker.unwrap().pool;
    assert_eq!((pool.max_jobs, pool.debug), (Some(100), false));

    let (path, text) = corpus("jobs.yaml");
    let pool = parse_with_env(&text, &path, &|_| None)
        .unwrap()
        .ticker
        .unwrap()
        .pool;
    assert_eq!(
        (pool.destroy_timeout, pool.max_jobs),
        (secs(5), Some(1000)),
        "merged"
    );

    let (path, text) = corpus("env.yaml");
    let config = parse_with_env(&text, &path, &env_of(&CORPUS_ENV)).unwrap();
    assert_eq!(
        config.server.env.get("APP_ENV").map(String::as_str),
        Some("prod")
    );
    assert_eq!(
        config.server.env.get("APP_SECRET").map(String::as_str),
        Some("")
    );
    let pool = config.ticker.unwrap().pool;
    assert_eq!((pool.max_jobs, pool.destroy_timeout), (Some(100), secs(5)));
    let e = parse_with_env(&text, &path, &|_| None).unwrap_err();
    assert_eq!(e.key(), Some("ticker.pool.num_workers"));
    assert!(
        e.to_string().contains("TICKER_RR_WORKERS is not set"),
        "{e}"
    );
}

#[test]
fn parse_duration_is_the_files_grammar_with_the_files_wording() {
    use super::values::DURATION_FORMS;
    assert_eq!(parse_duration("1m30s"), Ok(secs(90)));
    assert_eq!(parse_duration(".5ms"), Ok(Duration::from_micros(500)));
    assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    assert_eq!(
        parse_duration("1x").unwrap_err().to_string(),
        format!("\"1x\" has an unknown unit \"x\"; expected {DURATION_FORMS}")
    );
    assert_eq!(
        parse_duration("10").unwrap_err().problem,
        super::values::DurationProblem::NoUnit
    );
    let huge = format!("1{}", "y".repeat(2 << 20));
    let e = parse_duration(&huge).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "\"1{}\"… (2097153 bytes) has an unknown unit \"{}\"… (2097152 bytes); expected \
             {DURATION_FORMS}",
            "y".repeat(63),
            "y".repeat(64)
        )
    );
    assert!(
        parse_duration("")
            .unwrap_err()
            .to_string()
            .contains("is not a duration")
    );
}

// ---------------------------------------------------------------------------------------
// ticker.cluster
// ---------------------------------------------------------------------------------------

fn cluster(yaml: &str) -> ClusterConfig {
    ticker(&format!("ticker:\n  cluster:\n{}", indent(yaml, 4)))
        .cluster
        .expect("cluster section")
}

fn cluster_err(yaml: &str) -> ConfigError {
    err(&format!("ticker:\n  cluster:\n{}", indent(yaml, 4)))
}

#[test]
fn cluster_reads_every_key() {
    let c = cluster("redis: redis://10.0.0.5:6380/2\nkey: ticker:billing\nttl: 2500ms");
    assert_eq!(c.redis.as_str(), "redis://10.0.0.5:6380/2");
    assert_eq!(c.key, "ticker:billing");
    assert_eq!(c.ttl, Duration::from_millis(2500));
}

#[test]
fn cluster_defaults_to_the_directory_key_and_five_seconds() {
    let c = cluster("redis: redis://127.0.0.1");
    // FILE is /app/.rr.yaml.
    assert_eq!(c.key, "ticker:app");
    assert_eq!(c.ttl, DEFAULT_LEASE_TTL);
    assert_eq!(
        cluster("redis: redis://127.0.0.1\nttl: 0").ttl,
        DEFAULT_LEASE_TTL
    );
    let elsewhere = parse_with_env(
        "ticker:\n  cluster:\n    redis: redis://127.0.0.1\n",
        Path::new("/srv/shop-frontend/config.yaml"),
        &env_of(&[]),
    )
    .unwrap();
    assert_eq!(
        elsewhere.ticker.unwrap().cluster.unwrap().key,
        "ticker:shop-frontend"
    );
}

#[test]
fn cluster_is_off_without_the_section() {
    assert_eq!(ticker("ticker:\n  interval: 1s\n").cluster, None);
}

#[test]
fn cluster_accepts_tls_sockets_and_credentials_and_never_shows_the_password() {
    for url in [
        "rediss://redis.example:6380/0",
        "rediss://user:s3cret@redis.example/1",
        "redis://:s3cret@127.0.0.1:6379/0",
        "unix:///run/redis/redis.sock",
        "redis+unix:///run/redis/redis.sock?db=3&pass=s3cret",
    ] {
        let c = cluster(&format!("redis: {url}"));
        assert_eq!(c.redis.as_str(), url);
        assert!(!c.redis.shown().contains("s3cret"), "{}", c.redis.shown());
        assert!(!format!("{c:?}").contains("s3cret"), "{c:?}");
    }
    assert_eq!(
        cluster("redis: redis://:s3cret@127.0.0.1:6379/0")
            .redis
            .shown(),
        "redis://:***@127.0.0.1:6379/0"
    );
}

#[test]
fn cluster_redis_url_comes_from_the_environment() {
    let config = ok_in(
        "ticker:\n  cluster:\n    redis: ${REDIS_URL}\n",
        &[("REDIS_URL", "redis://cache:6379/4")],
    );
    assert_eq!(
        config.ticker.unwrap().cluster.unwrap().redis.as_str(),
        "redis://cache:6379/4"
    );
}

#[test]
fn cluster_requires_a_redis_url() {
    for yaml in ["ttl: 5s", "key: ticker:x"] {
        let text = message(&cluster_err(yaml), "ticker.cluster.redis");
        assert!(
            text.contains("is missing; expected a Redis URL such as redis://"),
            "{text}"
        );
    }
    // An empty section asks for a cluster too.
    let text = message(&err("ticker:\n  cluster:\n"), "ticker.cluster.redis");
    assert!(text.contains("is missing"), "{text}");
}

#[test]
fn cluster_refuses_bad_redis_urls_without_showing_passwords() {
    for (url, problem) in [
        ("http://127.0.0.1:6379", "is not a Redis URL;"),
        ("127.0.0.1:6379", "is not a Redis URL;"),
        (
            "redis://",
            "is not a Redis URL the client can use (Missing hostname);",
        ),
        ("redis://0.0.0.0:6379", "wildcard"),
        ("redis://127.0.0.1:6379/zero", "Invalid database number"),
        (
            "redis://:s3cret@127.0.0.1:6379/zero",
            "Invalid database number",
        ),
        ("rediss://redis.example/0#anything", "fragment"),
        ("''", "is not a Redis URL"),
        (
            "http://user:s3cret@127.0.0.1",
            "\"http://***@127.0.0.1\" is not a Redis URL;",
        ),
    ] {
        let text = message(
            &cluster_err(&format!("redis: {url}")),
            "ticker.cluster.redis",
        );
        assert!(text.contains(problem), "{url}: {text}");
        assert!(text.contains("expected a Redis URL such as"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
    }
    let text = message(&cluster_err("redis: 6379"), "ticker.cluster.redis");
    assert!(text.contains("\"6379\" is not a Redis URL"), "{text}");
}

#[test]
fn cluster_refuses_bad_keys() {
    for key in ["''", "'ticker: app'", "\"a\\tb\""] {
        let text = message(
            &cluster_err(&format!("redis: redis://127.0.0.1\nkey: {key}")),
            "ticker.cluster.key",
        );
        assert!(
            text.contains("is not accepted; expected a Redis key"),
            "{text}"
        );
    }
    let text = message(
        &cluster_err("redis: redis://127.0.0.1\nkey: [a]"),
        "ticker.cluster.key",
    );
    assert!(text.contains("is a list"), "{text}");
    // No directory name to default to.
    let err = parse_with_env(
        "ticker:\n  cluster:\n    redis: redis://127.0.0.1\n",
        Path::new("/.rr.yaml"),
        &env_of(&[]),
    )
    .unwrap_err();
    assert_eq!(err.key(), Some("ticker.cluster.key"));
    assert!(err.to_string().contains("is needed"), "{err}");
}

#[test]
fn cluster_ttl_has_a_floor_and_is_a_go_duration() {
    let text = message(
        &cluster_err("redis: redis://127.0.0.1\nttl: 500ms"),
        "ticker.cluster.ttl",
    );
    assert!(text.contains("is below the shortest ttl of 1s"), "{text}");
    assert!(text.contains("0 means 5s"), "{text}");
    for (ttl, problem) in [
        ("5", "without a unit"),
        ("-1s", "is negative"),
        ("5d", "unknown unit"),
    ] {
        let text = message(
            &cluster_err(&format!("redis: redis://127.0.0.1\nttl: {ttl}")),
            "ticker.cluster.ttl",
        );
        assert!(text.contains(problem), "{ttl}: {text}");
    }
    assert_eq!(cluster("redis: redis://127.0.0.1\nttl: 1s").ttl, secs(1));
}

#[test]
fn cluster_refuses_unknown_keys_and_non_mappings() {
    let text = message(
        &cluster_err("redis: redis://127.0.0.1\nfallback: solo"),
        "ticker.cluster.fallback",
    );
    assert!(
        text.contains("unknown key; expected one of redis, key, ttl"),
        "{text}"
    );
    let text = message(
        &err("ticker:\n  cluster: redis://127.0.0.1\n"),
        "ticker.cluster",
    );
    assert!(
        text.contains("is not a mapping; expected a mapping with redis:"),
        "{text}"
    );
}

#[test]
fn cluster_refuses_the_delay_policy_and_names_both_keys() {
    let text = message(
        &err("ticker:\n  missed: delay\n  cluster:\n    redis: redis://127.0.0.1\n"),
        "ticker.missed",
    );
    assert!(
        text.contains("delay cannot be used with ticker.cluster"),
        "{text}"
    );
    assert!(text.contains("expected skip or burst"), "{text}");
    for missed in ["skip", "burst"] {
        let t = ticker(&format!(
            "ticker:\n  missed: {missed}\n  cluster:\n    redis: redis://127.0.0.1\n"
        ));
        assert!(t.cluster.is_some());
    }
    assert_eq!(
        ticker("ticker:\n  missed: delay\n").schedules[0].missed,
        Missed::Delay
    );
}

#[test]
fn a_cluster_runs_named_schedules_and_refuses_their_own_delay_policy() {
    let t = ticker(
        "ticker:\n  interval: 1s\n  cluster:\n    redis: redis://127.0.0.1\n  schedules:\n    \
         beat: {every: 250ms}\n    nightly: {cron: \"30 2 * * *\"}\n",
    );
    assert!(t.cluster.is_some());
    assert_eq!(t.schedules.len(), 3);
    // Without ticker.interval too.
    let t = ticker(
        "ticker:\n  cluster:\n    redis: redis://127.0.0.1\n  schedules:\n    \
         beat: {every: 250ms}\n",
    );
    assert_eq!(t.schedules.len(), 1);
    let text = message(
        &err(
            "ticker:\n  cluster:\n    redis: redis://127.0.0.1\n  schedules:\n    \
              beat: {every: 250ms, missed: delay}\n",
        ),
        "ticker.schedules.beat.missed",
    );
    assert!(
        text.contains("delay cannot be used with ticker.cluster"),
        "{text}"
    );
    assert!(text.contains("expected skip or burst"), "{text}");
}
