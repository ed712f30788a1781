//! Installed like any PHP extension: enabled in php.ini for every process, the extension
//! leaves every process alone that did not ask for a pool (`php -v`, console commands,
//! `php -S`), whatever `./.rr.yaml` holds; the switches make a master; a master refuses to
//! fork with a second thread and prints output buffered at boot once.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{
    DEADLINE, Exited, Load, Php, Running, fixture, free_port, http_get, info, info_with, pool_yaml,
    row,
};

/// A `./.rr.yaml` that cannot be parsed.
const BROKEN: &str = "ticker:\n  interval: [\n";

/// A `./.rr.yaml` with a `ticker` section: one worker, a short interval.
fn valid() -> String {
    pool_yaml("40ms", "    num_workers: 1\n")
}

/// A run named `name` whose folder holds `rr_yaml` as `./.rr.yaml`, loading as `load` says.
fn in_folder(name: &str, load: Load, rr_yaml: &str) -> Php {
    let php = Php::new(name).load(load);
    php.file(".rr.yaml", rr_yaml);
    php
}

/// The one JSON line a script printed.
fn json_line(exited: &Exited) -> Value {
    let line = exited.stdout.lines().next().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("a JSON line ({e}): {}", exited.stdout))
}

/// Asserts that PHP ran and exited 0 with nothing from the extension: no line on stderr
/// (no log line, no error, no warning).
fn assert_quiet_success(exited: &Exited) {
    exited.assert_success();
    assert_eq!(exited.stderr, "", "nothing on stderr");
}

#[test]
fn enabled_in_php_ini_php_v_and_a_console_script_ignore_a_broken_or_valid_rr_yaml() {
    for (what, rr_yaml) in [("broken", BROKEN.to_owned()), ("valid", valid())] {
        let exited = in_folder("ini-php-v", Load::IniFile, &rr_yaml).run(&["-v"]);
        assert_quiet_success(&exited);
        assert!(
            exited.stdout.starts_with("PHP 8") && !exited.stdout.contains("ticker"),
            "{what} .rr.yaml: {}",
            exited.stdout
        );

        let mut run = in_folder("ini-console", Load::IniFile, &rr_yaml).start("console.php");
        let exited = run.wait_exit(DEADLINE);
        assert_quiet_success(&exited);
        let result = json_line(&exited);
        assert_eq!(result["command"], "migrate", "{what}: the command ran");
        assert_eq!(result["ticker"], true, "{what}: the extension is loaded");
        assert_eq!(result["getenv"], false, "{what}: no RR_MODE: {result}");
        assert_eq!(
            result["server"],
            Value::Null,
            "{what}: no RR_MODE: {result}"
        );
        assert_eq!(exited.stdout.lines().count(), 1, "{}", exited.stdout);
        run.assert_nothing_left();
        assert!(!exited.journal_exists(), "no worker ran");
    }
}

#[test]
fn loaded_with_d_a_broken_rr_yaml_stops_php_v_and_a_valid_one_makes_the_script_a_master() {
    for load in [Load::CommandLine, Load::CommandLineJoined] {
        let exited = in_folder("d-broken", load, BROKEN).run(&["-v"]);
        assert!(
            !exited.status.success(),
            "{load:?}: exit 1 on a broken config"
        );
        assert_eq!(exited.status.code(), Some(1));
        assert_eq!(
            exited.stderr.lines().count(),
            1,
            "one line: {}",
            exited.stderr
        );
        assert!(
            exited.stderr.starts_with("ticker: config ") && exited.stderr.contains(".rr.yaml"),
            "{}",
            exited.stderr
        );
        assert_eq!(exited.stdout, "", "PHP never ran");

        let exited =
            in_folder("d-console", load, &valid()).run(&[fixture("console.php").to_str().unwrap()]);
        exited.assert_success();
        let result = json_line(&exited);
        assert_eq!(result["getenv"], "ticker", "{load:?}: a master: {result}");
        assert_eq!(result["server"], "ticker", "{load:?}: a master: {result}");
    }
}

#[test]
fn ticker_enable_and_the_env_var_make_an_extension_enabled_in_php_ini_a_master() {
    for switch in ["ticker.enable=1", "TICKER_ENABLE=1"] {
        let on = |php: Php| match switch {
            "ticker.enable=1" => php.ini(switch),
            _ => php.env("TICKER_ENABLE", "1"),
        };
        let mut run = on(in_folder("switch-run", Load::IniFile, &valid()))
            .ini("variables_order=EGPCS")
            .start("env.php");
        let exited = run.wait_exit(DEADLINE);
        exited.assert_success();
        let journal = exited.journal();
        let workers = journal.events("start");
        assert!(!workers.is_empty(), "{switch}: a worker ticked");
        for entry in std::iter::once(&journal.boot()).chain(workers) {
            assert_eq!(entry.raw["getenv"], "ticker", "{switch}: {}", entry.raw);
        }
        run.assert_nothing_left();

        // The switch is a promise to run a pool: a broken or missing config stops PHP.
        let exited = on(in_folder("switch-broken", Load::IniFile, BROKEN)).run(&["-v"]);
        assert_eq!(exited.status.code(), Some(1), "{switch}: {exited:?}");
        assert!(
            exited.stderr.starts_with("ticker: config "),
            "{}",
            exited.stderr
        );
        let exited = on(Php::new("switch-missing").load(Load::IniFile)).run(&["-v"]);
        assert_eq!(exited.status.code(), Some(1), "{switch}: {exited:?}");
        assert_eq!(exited.stderr.lines().count(), 1, "{}", exited.stderr);
        assert!(
            exited.stderr.contains(switch) && exited.stderr.contains("no config file"),
            "{}",
            exited.stderr
        );
    }
}

#[test]
fn ticker_enable_0_keeps_a_command_inert_even_loaded_with_d() {
    let exited = in_folder("enable-0", Load::CommandLine, BROKEN)
        .env("TICKER_ENABLE", "0")
        .run(&[fixture("console.php").to_str().unwrap()]);
    assert_quiet_success(&exited);
    assert_eq!(json_line(&exited)["getenv"], false);
}

#[test]
fn ticker_enable_0_runs_a_console_command_where_the_pool_is_enabled_for_every_process() {
    // A container that enables the pool for every process, by the INI switch beside the
    // extension's conf.d entry: `TICKER_ENABLE=0 php app.php migrate` runs the command and
    // starts no master, with the application's own config in the folder.
    let exited = in_folder("enable-0-ini", Load::IniFile, &valid())
        .ini("ticker.enable=1")
        .env("TICKER_ENABLE", "0")
        .run(&[fixture("console.php").to_str().unwrap()]);
    assert_quiet_success(&exited);
    let result = json_line(&exited);
    assert_eq!(result["command"], "migrate", "the command ran: {result}");
    assert_eq!(result["getenv"], false, "no master: {result}");
    assert_eq!(result["ticker"], true, "the extension is loaded: {result}");
}

#[test]
fn ticker_enable_off_in_ini_syntax_keeps_a_command_inert_even_loaded_with_d() {
    // PHP's INI parser turns these into an empty string; they must still mean off.
    for off in ["Off", "false", "no", "0"] {
        let exited = in_folder("enable-off", Load::CommandLine, BROKEN)
            .ini(format!("ticker.enable={off}"))
            .run(&[fixture("console.php").to_str().unwrap()]);
        assert_quiet_success(&exited);
        assert_eq!(json_line(&exited)["getenv"], false, "ticker.enable={off}");
    }
}

/// `php -S` on a free loopback port, once it says it listens. The port was free when chosen,
/// but another test may bind it first (its server then answers instead, or refuses): so the
/// server's own line is awaited, and a server that could not listen is started again on
/// another port.
fn start_php_s(load: Load, router: &Path) -> (Running, u16) {
    for _ in 0..5 {
        let port = free_port();
        let address = format!("127.0.0.1:{port}");
        // Even asked to run a pool, the built-in web server cannot.
        let mut run = in_folder("php-s", load, &valid())
            .env("TICKER_ENABLE", "1")
            .spawn(&["-S".as_ref(), address.as_ref(), router.as_os_str()]);
        let deadline = Instant::now() + DEADLINE;
        loop {
            let said = format!("{}{}", run.stdout(), run.stderr());
            if said.contains(&format!("(http://{address}) started")) {
                return (run, port);
            }
            if !run.is_running() {
                assert!(
                    said.contains("Failed to listen"),
                    "{load:?}: php -S ended: {said}"
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{load:?}: php -S never listened: {said}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("{load:?}: php -S found no free port in 5 tries");
}

#[test]
fn php_s_serves_requests_with_the_extension_inert_and_phpinfo_says_why() {
    for load in [Load::CommandLine, Load::IniFile] {
        let (mut run, port) = start_php_s(load, &fixture("server.php"));
        let response = http_get(port, "/anything");
        assert!(response.starts_with("HTTP/1.1 200"), "{load:?}: {response}");
        let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
        let result: Value = serde_json::from_str(body.trim())
            .unwrap_or_else(|e| panic!("a JSON body ({e}): {response}"));
        assert_eq!(result["sapi"], "cli-server", "{result}");
        assert_eq!(result["getenv"], false, "{load:?}: no RR_MODE: {result}");
        assert_eq!(
            result["server"],
            Value::Null,
            "{load:?}: no RR_MODE: {result}"
        );
        let inert = result["inert"].as_str().unwrap_or_default();
        assert!(
            inert.contains("SAPI cli-server cannot run a pool"),
            "{load:?}: {result}"
        );

        let info = http_get(port, "/?info=1");
        assert!(
            info.contains("inert because")
                && info.contains("SAPI cli-server cannot run a pool")
                && info.contains("ticker.enable"),
            "{load:?}: phpinfo() shows the role: {info}"
        );
        assert!(
            run.workers().is_empty(),
            "{load:?}: no worker forked: {:?}",
            run.workers()
        );
        assert_eq!(
            run.stderr().matches("ticker").count(),
            0,
            "{}",
            run.stderr()
        );
        run.signal(libc::SIGTERM);
        run.wait_exit(DEADLINE);
        run.assert_nothing_left();
    }
}

#[test]
fn output_buffered_at_boot_is_printed_once_whatever_the_workers_and_replacements() {
    let mut run = Php::new("ob-once")
        .yaml(&pool_yaml("30ms", "    num_workers: 2\n    max_jobs: 1\n"))
        .env("TICKER_TEST_STOP_AT", "6")
        .start("buffered_boot.php");
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();
    let journal = exited.journal();
    let workers: std::collections::BTreeSet<i32> =
        journal.events("start").iter().map(|e| e.pid).collect();
    assert!(
        workers.len() >= 3,
        "two workers and a replacement at least: {workers:?}"
    );
    assert_eq!(
        exited.stdout.matches("printed while booting").count(),
        1,
        "printed once, by the master:\n{}",
        exited.stdout
    );
    let master = format!("output buffers still open after the loop in {}: 1", run.pid);
    assert!(
        exited.stdout.contains(&master),
        "the master's buffer stays open:\n{}",
        exited.stdout
    );
    run.assert_nothing_left();
}

/// A shared library whose constructor starts a thread that sleeps forever, built with gcc
/// into `dir`: preloaded, it gives any process a second thread before `main`.
fn thread_library(dir: &std::path::Path) -> PathBuf {
    let source = dir.join("thread.c");
    std::fs::write(
        &source,
        "#include <pthread.h>\n#include <unistd.h>\n\
         static void *sleeper(void *arg) { (void)arg; for (;;) pause(); return 0; }\n\
         __attribute__((constructor)) static void start(void) {\n\
             pthread_t thread;\n\
             if (pthread_create(&thread, 0, sleeper, 0) == 0) pthread_detach(thread);\n\
         }\n",
    )
    .expect("write thread.c");
    let library = dir.join("libthread.so");
    let status = Command::new("gcc")
        .args(["-shared", "-fPIC", "-pthread", "-o"])
        .arg(&library)
        .arg(&source)
        .status()
        .expect("gcc runs (apt-get install gcc)");
    assert!(status.success(), "gcc builds {}", library.display());
    library
}

#[test]
fn a_master_with_a_second_thread_refuses_to_fork_and_says_why() {
    let php = Php::new("threads").config("config/two_workers.yaml");
    let library = thread_library(&php.dir);
    let mut run = php.env("LD_PRELOAD", library).start("first_wait.php");
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();
    let result = json_line(&exited);
    assert_eq!(result["threw"], true, "{result}");
    assert_eq!(result["class"], "Ticker\\Exception", "{result}");
    let message = result["message"].as_str().unwrap_or_default();
    for needle in [
        "2 threads",
        "ZTS",
        "grpc",
        "datadog",
        "newrelic",
        "opentelemetry",
    ] {
        assert!(message.contains(needle), "{needle:?} in {message}");
    }
    // A refused start is not a start: trying again is refused for the same reason, not
    // because "the pool already ran".
    let again: Value = serde_json::from_str(exited.stdout.lines().nth(1).unwrap_or_default())
        .unwrap_or_else(|e| panic!("a second JSON line ({e}): {}", exited.stdout));
    assert_eq!(again["message"], result["message"], "{again}");
    assert_eq!(exited.stdout.lines().nth(2), Some("still running"));
    assert!(!exited.journal_exists(), "no worker ran");
    run.assert_nothing_left();
}

#[test]
fn php_ri_says_which_role_the_process_has_and_why() {
    let masters: [(&str, Php, &str); 4] = [
        (
            "-d",
            in_folder("ri-d", Load::CommandLine, &valid()),
            "loaded with -d extension on the command line",
        ),
        (
            "-dextension",
            in_folder("ri-d-joined", Load::CommandLineJoined, &valid()),
            "loaded with -d extension on the command line",
        ),
        (
            "ini + ticker.enable",
            in_folder("ri-ini-enable", Load::IniFile, &valid()).ini("ticker.enable=1"),
            "ticker.enable=1",
        ),
        (
            "ini + TICKER_ENABLE",
            in_folder("ri-env-enable", Load::IniFile, &valid()).env("TICKER_ENABLE", "1"),
            "TICKER_ENABLE=1 in the environment",
        ),
    ];
    for (how, php, because) in masters {
        let rows = info(php);
        assert_eq!(row(&rows, "role"), "master", "{how}: {rows:?}");
        assert_eq!(row(&rows, "master because"), because, "{how}");
        assert_eq!(row(&rows, "num_workers"), "1", "{how}");
    }

    let inert: [(&str, Php, &str); 4] = [
        (
            "ini",
            in_folder("ri-ini", Load::IniFile, BROKEN),
            "loaded from php.ini, not asked to run a pool (set ticker.enable=1 or \
             TICKER_ENABLE=1: php -d ticker.enable=1 app.php, or TICKER_ENABLE=1 php app.php)",
        ),
        (
            "-d + RR_MODE",
            in_folder("ri-rr-mode", Load::CommandLine, BROKEN).env("RR_MODE", "jobs"),
            "RR_MODE is already set to 'jobs'",
        ),
        (
            "-d + TICKER_ENABLE=0",
            in_folder("ri-off", Load::CommandLine, BROKEN).env("TICKER_ENABLE", "0"),
            "TICKER_ENABLE is off",
        ),
        (
            "-d without a config",
            Php::new("ri-no-config"),
            "no config file",
        ),
    ];
    for (how, php, because) in inert {
        let rows = info(php);
        assert_eq!(row(&rows, "role"), "inert", "{how}: {rows:?}");
        assert!(
            row(&rows, "inert because").contains(because),
            "{how}: {rows:?}"
        );
    }
    // Loaded from an ini file, the hint is a switch: a second `-d extension=` would make PHP
    // warn "Module already loaded".
    let rows = info(in_folder("ri-ini-hint", Load::IniFile, BROKEN));
    assert!(
        !row(&rows, "inert because").contains("extension="),
        "{rows:?}"
    );
    // A process that never read its config says so.
    let rows = info(in_folder("ri-not-read", Load::IniFile, BROKEN));
    assert!(
        row(&rows, "config file").ends_with(", not read)"),
        "{rows:?}"
    );
}

#[test]
fn a_bare_name_on_the_command_line_is_found_in_extension_dir() {
    // `-n`: no php.ini, so that the machine's extensions are not looked for in this dir.
    for name in ["ticker", "ticker.so", "libticker_php", "libticker_php.so"] {
        let php = Php::new("bare-name").load(Load::Manually);
        let dir = php.dir.join("ext");
        std::fs::create_dir_all(&dir).expect("extension dir");
        let file = if name.starts_with("lib") {
            "libticker_php.so"
        } else {
            "ticker.so"
        };
        std::os::unix::fs::symlink(crate::harness::extension(), dir.join(file))
            .expect("symlink the extension");
        php.file(".rr.yaml", &valid());
        let rows = info_with(
            php.ini(format!("extension_dir={}", dir.display()))
                .ini(format!("extension={name}")),
            &["-n"],
        );
        assert_eq!(row(&rows, "role"), "master", "extension={name}: {rows:?}");
    }
}

#[test]
fn php_m_lists_the_extension_either_way() {
    for load in [Load::CommandLine, Load::CommandLineJoined, Load::IniFile] {
        let exited = Php::new("php-m").load(load).run(&["-m"]);
        assert_quiet_success(&exited);
        assert!(
            exited.stdout.lines().any(|l| l == "ticker"),
            "{load:?}: {}",
            exited.stdout
        );
    }
}
