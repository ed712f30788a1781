//! The native worker under a RoadRunner-style master: `tests/rr_master.py`, a master written
//! apart from the extension, starts `php <the extension> tests/fixtures/rr_worker.php` with
//! `RR_MODE=ticker` and `RR_RELAY`, and checks every frame as RoadRunner does (see its
//! docstring). Its deadlines are its own; the harness's is three times longer.

use std::ffi::OsString;
use std::path::Path;

use serde_json::{Value, json};

use crate::harness::{DEADLINE, Php, fixture, row};

/// Runs the master with `master_args` over the fixture with `script_args`; returns what the
/// master saw, once it and its worker are gone and every check of the master held.
fn serve(name: &str, master_args: &[&str], script_args: &[&str]) -> Value {
    let master = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rr_master.py");
    let mut args: Vec<OsString> = vec![master.into()];
    args.extend(master_args.iter().map(OsString::from));
    args.push("--".into());
    let php = Php::new(name).under(OsString::from("python3"), args);
    let script = fixture("rr_worker.php");
    let mut php_args = vec![script.as_os_str()];
    php_args.extend(script_args.iter().map(std::ffi::OsStr::new));
    let mut run = php.spawn(&php_args);
    let exited = run.wait_exit(DEADLINE * 3);
    exited.assert_success();
    run.assert_nothing_left();
    serde_json::from_str(exited.stdout.trim())
        .unwrap_or_else(|e| panic!("the master prints JSON ({e}): {}", exited.stdout))
}

/// What every run over a working relay shows: the handshake gave the worker's pid, and it
/// exited 0 at the stop control frame.
fn assert_served(seen: &Value) {
    assert_eq!(seen["handshake"], json!({"pid": seen["pid"]}), "{seen}");
    assert_eq!(seen["exit"], 0, "{seen}");
}

#[test]
fn over_pipes_the_worker_answers_fails_and_asks_to_stop_as_roadrunner_expects() {
    let seen = serve(
        "rr-pipes",
        &[
            "--relay",
            "pipes",
            "--actions",
            "respond,error,respond,stop",
        ],
        &[],
    );
    assert_served(&seen);
    assert_eq!(seen["answers"], json!([0, 2]), "{seen}");
    assert_eq!(seen["errors"], json!(["tick 1 failed"]), "{seen}");
    assert_eq!(seen["stop_request"], 3, "{seen}");
    // What the script echoed went to stderr, and the channel carried only frames.
    assert_eq!(seen["echoed_on"], "stderr", "{seen}");
    assert_eq!(seen["echoes"].as_array().map(Vec::len), Some(4), "{seen}");
}

#[test]
fn every_create_of_the_process_is_a_handle_on_the_same_worker() {
    let seen = serve(
        "rr-two-handles",
        &["--relay", "pipes", "--actions", "respond,error,stop"],
        &["--two-handles"],
    );
    assert_served(&seen);
    assert_eq!(seen["answers"], json!([0]), "{seen}");
    assert_eq!(seen["errors"], json!(["tick 1 failed"]), "{seen}");
    assert_eq!(seen["stop_request"], 2, "{seen}");
}

#[test]
fn a_handshake_sent_after_the_worker_booted_is_answered_too() {
    let seen = serve(
        "rr-late-handshake",
        &[
            "--relay",
            "pipes",
            "--late-handshake",
            "--actions",
            "respond,respond",
        ],
        &[],
    );
    assert_served(&seen);
    assert_eq!(seen["answers"], json!([0, 1]), "{seen}");
    assert_eq!(seen["stop_request"], Value::Null, "{seen}");
}

#[test]
fn over_a_unix_socket_the_worker_connects_to_the_master() {
    let seen = serve(
        "rr-unix",
        &["--relay", "unix", "--actions", "respond,error,stop"],
        &[],
    );
    assert_served(&seen);
    assert!(
        seen["rr_relay"]
            .as_str()
            .is_some_and(|r| r.starts_with("unix:///")),
        "{seen}"
    );
    assert_eq!(seen["answers"], json!([0]), "{seen}");
    assert_eq!(seen["errors"], json!(["tick 1 failed"]), "{seen}");
    assert_eq!(seen["stop_request"], 2, "{seen}");
    // stdout is not the channel here: PHP's output stays where it was.
    assert_eq!(seen["echoed_on"], "stdout", "{seen}");
}

#[test]
fn over_tcp_the_worker_connects_to_host_and_port() {
    let seen = serve(
        "rr-tcp",
        &["--relay", "tcp", "--actions", "respond,respond,error"],
        &[],
    );
    assert_served(&seen);
    assert!(
        seen["rr_relay"]
            .as_str()
            .is_some_and(|r| r.starts_with("tcp://127.0.0.1:")),
        "{seen}"
    );
    assert_eq!(seen["answers"], json!([0, 1]), "{seen}");
    assert_eq!(seen["errors"], json!(["tick 2 failed"]), "{seen}");
}

/// The documented limit: with `pipes`, output printed before `create()` is on the channel
/// already, and the master refuses the worker, as RoadRunner does with its own library.
#[test]
fn output_printed_before_create_reaches_a_pipes_channel_and_the_master_refuses_it() {
    let seen = serve(
        "rr-print-before-create",
        &[
            "--relay",
            "pipes",
            "--expect-corrupt",
            "--actions",
            "respond",
        ],
        &["--print-before-create"],
    );
    let refused = seen["corrupt"].as_str().unwrap_or_default();
    assert!(refused.contains("printed befo"), "{seen}");
}

#[test]
fn php_ri_names_the_worker_role_and_its_relay_without_reading_a_config() {
    for (relay, shown) in [
        ("pipes", "pipes (stdin and stdout)"),
        ("unix:///run/rr.sock", "unix:///run/rr.sock (a Unix socket)"),
        (
            "tcp://127.0.0.1:6001",
            "tcp://127.0.0.1:6001 (a TCP socket)",
        ),
    ] {
        let php = Php::new("ri-worker")
            .config("config/two_workers.yaml")
            .env("RR_MODE", "ticker")
            .env("RR_RELAY", relay);
        let exited = php.run(&["--ri", "ticker"]);
        exited.assert_success();
        let rows = exited.info_rows();
        assert_eq!(row(&rows, "role"), "worker", "{rows:?}");
        assert_eq!(row(&rows, "relay"), shown, "{rows:?}");
        assert!(
            row(&rows, "worker because").contains("RR_RELAY"),
            "{rows:?}"
        );
        assert!(row(&rows, "config file").ends_with("not read)"), "{rows:?}");
    }
}

#[test]
fn an_rr_relay_that_names_no_relay_makes_create_throw_naming_it() {
    let mut run = Php::new("rr-bad-relay")
        .env("RR_MODE", "ticker")
        .env("RR_RELAY", "udp://127.0.0.1:6001")
        .start("inert.php");
    let exited = run.wait_exit(DEADLINE);
    exited.assert_success();
    let result: Value = serde_json::from_str(exited.stdout.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("inert.php prints JSON ({e}): {}", exited.stdout));
    assert_eq!(result["created"], false, "{result}");
    assert_eq!(result["class"], "Ticker\\Exception", "{result}");
    let message = result["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(r#"RR_RELAY="udp://127.0.0.1:6001" is not a relay"#),
        "{message}"
    );
}
