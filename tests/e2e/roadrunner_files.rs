//! RoadRunner's own files (`tests/fixtures/rr/`: an HTTP app, a jobs app, a gRPC app, every
//! `server` and pool key, `${VAR}` values, quoted values and keys RoadRunner lets through),
//! each with a `ticker` section added: a master
//! ticks on each as it is, stops on SIGTERM with status 0 and leaves nothing behind, and
//! logs one warning naming the RoadRunner keys it accepts without acting on them.

use std::path::Path;

use crate::harness::{Php, assert_gaps_explained, fixture};

/// What `env.yaml` needs from the environment (the rest of its variables stay unset).
const ENV: [(&str, &str); 2] = [("TICKER_RR_WORKERS", "2"), ("TICKER_RR_MAX_JOBS", "100")];

/// The warning the master must log for `file`, as the config module words it.
fn expected_warning(file: &Path, vars: &[(&str, &str)]) -> String {
    let text = std::fs::read_to_string(file).expect("the corpus file");
    let lookup = |name: &str| {
        vars.iter()
            .find(|(var, _)| *var == name)
            .map(|(_, value)| value.to_string())
    };
    let config = ticker::config::parse_with_env(&text, file, &lookup)
        .unwrap_or_else(|e| panic!("the corpus file parses: {e}"));
    config
        .not_acted_on_warning()
        .expect("every corpus file has RoadRunner keys not acted on")
}

/// Runs `name` of the corpus to three ticks and a graceful stop; returns the master's stderr.
fn ticks_on(name: &str, vars: &[(&str, &str)]) -> String {
    let relative = format!("rr/{name}");
    let mut php = Php::new(&format!("rr-{name}")).config(&relative);
    for (var, value) in vars {
        php = php.env(var, value);
    }
    let mut run = php.start("journal.php");
    run.wait_done(3);
    let exited = run.stop_with(libc::SIGTERM);
    assert_gaps_explained(&exited.journal().done_ticks(), &exited.stderr, &[]);
    run.assert_nothing_left();

    let warning = expected_warning(&fixture(&relative), vars);
    assert!(warning.contains("server.command"), "{warning}");
    let lines: Vec<&str> = exited
        .stderr
        .lines()
        .filter(|line| line.contains("not acted on"))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "one warning, from the master only\n--- stderr ---\n{}",
        exited.stderr
    );
    // Console or JSON lines, as the file's `logs.encoding` says.
    assert!(
        lines[0].contains(&warning) && lines[0].contains("warn"),
        "{:?} should be a warning saying {warning:?}",
        lines[0]
    );
    exited.stderr
}

#[test]
fn an_http_app_file_ticks() {
    ticks_on("http.yaml", &[]);
}

#[test]
fn a_jobs_app_file_ticks() {
    ticks_on("jobs.yaml", &[]);
}

#[test]
fn a_grpc_app_file_ticks() {
    ticks_on("grpc.yaml", &[]);
}

#[test]
fn a_loosely_written_file_ticks_and_names_the_keys_it_ignores() {
    let stderr = ticks_on("loose.yaml", &[]);
    assert!(
        stderr.contains(
            "keys this extension does not know, ignored: server.pool_size, logs.errorOutput"
        ),
        "{stderr}"
    );
}

/// The output of `id <flag>`: the name of this process's user (`-un`) or group (`-gn`).
fn id(flag: &str) -> String {
    let out = std::process::Command::new("id")
        .arg(flag)
        .output()
        .expect("id runs");
    String::from_utf8(out.stdout)
        .expect("a name")
        .trim()
        .to_owned()
}

#[test]
fn a_file_with_every_server_and_pool_key_ticks() {
    // Its workers are started from `ticker.pool.command`, after `on_init`, as the user and
    // group it names: this test's own, which a master that is not root may name too.
    let worker = format!(
        "-d extension={} {}",
        crate::harness::extension().display(),
        fixture("journal.php").display()
    );
    let (user, group) = (id("-un"), id("-gn"));
    let vars = [
        ("TICKER_RR_USER", user.as_str()),
        ("TICKER_RR_GROUP", group.as_str()),
        ("TICKER_RR_WORKER", worker.as_str()),
    ];
    let stderr = ticks_on("server.yaml", &vars);
    assert!(
        stderr.contains("cache warmed for production"),
        "on_init ran, with its env\n{stderr}"
    );
    assert!(
        stderr.contains("started from `php -d extension="),
        "{stderr}"
    );
}

#[test]
fn a_file_with_environment_values_ticks() {
    ticks_on("env.yaml", &ENV);
}

#[test]
fn a_file_whose_ticker_key_is_left_empty_by_an_unset_variable_is_refused() {
    let mut run = Php::new("rr-env-unset")
        .config("rr/env.yaml")
        .env("TICKER_RR_MAX_JOBS", "100")
        .start("journal.php");
    let exited = run.wait_exit(crate::harness::DEADLINE);
    assert!(!exited.status.success(), "{}", exited.stderr);
    let message = exited.stderr.trim_end();
    assert!(
        message.contains(
            "ticker.pool.num_workers: \"${TICKER_RR_WORKERS}\" is empty because \
             TICKER_RR_WORKERS is not set"
        ) && !message.contains('\n'),
        "{message}"
    );
    assert!(!exited.journal_exists(), "the script never ran");
    run.assert_nothing_left();
}
