//! `ticker`: look at and steer running ticker masters from another shell.
//!
//! ```text
//! ticker status [--json] [PID|SOCKET]   the live pool: workers, ticks, lateness
//! ticker reset  [PID|SOCKET]            replace every worker (as SIGHUP does)
//! ticker list                           the control sockets of running masters
//! ```
//!
//! Masters are found through their control sockets (see `ticker::control::runtime_dir`).
//! With no PID or SOCKET and exactly one master running, that one is used.

use std::path::PathBuf;
use std::process::ExitCode;

use ticker::control;
use ticker::metrics::Snapshot;

const USAGE: &str =
    "usage: ticker status [--json] [PID|SOCKET] | ticker reset [PID|SOCKET] | ticker list";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ticker: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let json = args.iter().any(|a| a == "--json");
    let words: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--json")
        .collect();
    match words.as_slice() {
        ["list"] => {
            for socket in running_masters()? {
                println!("{}", socket.display());
            }
            Ok(())
        }
        ["status", target @ ..] => {
            let socket = pick(target.first().copied())?;
            let answer = ask(&socket, "status")?;
            if json {
                println!("{answer}");
                return Ok(());
            }
            let snapshot: Snapshot = serde_json::from_str(&answer)
                .map_err(|e| format!("unexpected answer from {}: {e}", socket.display()))?;
            print!("{}", snapshot.to_table());
            Ok(())
        }
        ["reset", target @ ..] => {
            let socket = pick(target.first().copied())?;
            let answer = ask(&socket, "reset")?;
            let reply: serde_json::Value = serde_json::from_str(&answer)
                .map_err(|e| format!("unexpected answer from {}: {e}", socket.display()))?;
            println!("{}", reply["message"].as_str().unwrap_or(&answer));
            if reply["ok"] == serde_json::Value::Bool(true) {
                Ok(())
            } else {
                Err("reset refused".into())
            }
        }
        _ => Err(USAGE.into()),
    }
}

fn ask(socket: &std::path::Path, request: &str) -> Result<String, String> {
    control::ask(socket, request).map_err(|e| format!("cannot reach {}: {e}", socket.display()))
}

/// The sockets of masters that answer, oldest pid first.
fn running_masters() -> Result<Vec<PathBuf>, String> {
    let dir = control::runtime_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(_) => return Ok(vec![]),
    };
    let mut sockets: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sock"))
        .filter(|p| std::os::unix::net::UnixStream::connect(p).is_ok())
        .collect();
    sockets.sort();
    Ok(sockets)
}

fn pick(target: Option<&str>) -> Result<PathBuf, String> {
    match target {
        Some(t) if t.chars().all(|c| c.is_ascii_digit()) => Ok(control::default_socket(
            t.parse().map_err(|_| format!("bad pid {t}"))?,
        )),
        Some(path) => Ok(PathBuf::from(path)),
        None => {
            let masters = running_masters()?;
            match masters.as_slice() {
                [one] => Ok(one.clone()),
                [] => Err(format!(
                    "no running master found in {}; name its PID or control socket",
                    control::runtime_dir().display()
                )),
                _ => Err(format!(
                    "{} masters are running; name one: {}",
                    masters.len(),
                    masters
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
    }
}
