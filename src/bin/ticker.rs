//! `ticker`: look at and steer running ticker masters from another shell.
//!
//! ```text
//! ticker status [--json] [PID|SOCKET]   the live pool: workers, ticks, lateness
//! ticker reset  [PID|SOCKET]            replace every worker (as SIGHUP does)
//! ticker list                           the control sockets of running masters
//! ```
//!
//! Masters are found through their control sockets (see `ticker::control::runtime_dir`),
//! in a directory that must be this user's alone. With no PID or SOCKET and exactly one
//! master running, that one is used. An answer is believed only from a process of this
//! user (or root), within `ticker::control::ANSWER_TIMEOUT`; any answer the command cannot
//! read is an error (exit status 1), never a crash.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use ticker::control::{self, SocketError};
use ticker::metrics::Snapshot;

#[derive(Parser)]
#[command(
    name = "ticker",
    version,
    about = "Look at and steer running ticker masters",
    after_help = "PID names a master's socket in the runtime directory \
                  ($TICKER_RUNTIME_DIR, $XDG_RUNTIME_DIR/ticker or /tmp/ticker-<uid>); \
                  SOCKET is a path, as ticker.control names it. Without either, the one \
                  running master is used."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The live pool: workers, ticks, lateness
    Status {
        /// Print the master's answer as JSON
        #[arg(long)]
        json: bool,
        /// The master's pid, or the path of its control socket
        #[arg(value_name = "PID|SOCKET")]
        target: Option<Target>,
    },
    /// Replace every worker, one at a time (as SIGHUP does)
    Reset {
        /// The master's pid, or the path of its control socket
        #[arg(value_name = "PID|SOCKET")]
        target: Option<Target>,
    },
    /// The control sockets of running masters
    List,
}

/// Which master to talk to.
#[derive(Clone, Debug)]
enum Target {
    Pid(i32),
    Socket(PathBuf),
}

impl std::str::FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Target, String> {
        if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
            s.parse()
                .map(Target::Pid)
                .map_err(|_| format!("{s} is not a pid"))
        } else {
            Ok(Target::Socket(PathBuf::from(s)))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "ticker: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Prints to stdout. A reader that went away (`ticker status | head -1`) is no error;
/// `println!` would panic there.
fn print(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write the answer: {e}"))
        }
        _ => Ok(()),
    }
}

fn run(command: Command) -> Result<(), String> {
    match command {
        Command::List => {
            for socket in running_masters()? {
                print(&format!("{}\n", socket.display()))?;
            }
            Ok(())
        }
        Command::Status { json, target } => {
            let socket = pick(target)?;
            let answer = ask(&socket, "status")?;
            let snapshot = Snapshot::from_json(&answer)
                .map_err(|e| format!("unreadable answer from {}: {e}", socket.display()))?;
            if json {
                print(&format!("{answer}\n"))
            } else {
                print(&snapshot.to_table())
            }
        }
        Command::Reset { target } => {
            let socket = pick(target)?;
            let answer = ask(&socket, "reset")?;
            let reply: serde_json::Value = serde_json::from_str(&answer)
                .map_err(|e| format!("unreadable answer from {}: {e}", socket.display()))?;
            let Some(message) = reply["message"].as_str() else {
                return Err(format!(
                    "unreadable answer from {}: no message in it",
                    socket.display()
                ));
            };
            let message: String = message
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect();
            if reply["ok"] == serde_json::Value::Bool(true) {
                print(&format!("{message}\n"))
            } else {
                Err(format!("reset refused: {message}"))
            }
        }
    }
}

fn ask(socket: &Path, request: &str) -> Result<String, String> {
    control::ask(socket, request).map_err(|e| format!("{}: {e}", socket.display()))
}

/// The runtime directory, once it is known to be this user's alone; `None` if missing.
fn runtime_dir() -> Result<Option<PathBuf>, String> {
    let dir = control::runtime_dir();
    match control::check_private_dir(&dir) {
        Ok(()) => Ok(Some(dir)),
        Err(SocketError::Dir { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => {
            Ok(None)
        }
        Err(e) => Err(format!("not looking for masters there: {e}")),
    }
}

/// The sockets of masters that answer, oldest pid first.
fn running_masters() -> Result<Vec<PathBuf>, String> {
    let Some(dir) = runtime_dir()? else {
        return Ok(vec![]);
    };
    let entries =
        std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    // `<pid>.sock` by pid; other names (a `ticker.control` there) after them.
    let sockets: Vec<(Option<i32>, PathBuf)> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sock"))
        .filter(|p| matches!(control::probe(p), control::Probe::Live))
        .map(|p| (p.file_stem().and_then(|s| s.to_str()?.parse().ok()), p))
        .collect();
    Ok(in_pid_order(sockets))
}

/// Sockets named by a pid first, in pid order (numbers, not text: 20 before 100), then the
/// others by name.
fn in_pid_order(mut sockets: Vec<(Option<i32>, PathBuf)>) -> Vec<PathBuf> {
    sockets.sort_by_key(|(pid, path)| (pid.is_none(), *pid, path.clone()));
    sockets.into_iter().map(|(_, p)| p).collect()
}

fn pick(target: Option<Target>) -> Result<PathBuf, String> {
    match target {
        Some(Target::Pid(pid)) => match runtime_dir()? {
            Some(_) => Ok(control::default_socket(pid)),
            None => Err(format!(
                "no master {pid}: {} does not exist",
                control::runtime_dir().display()
            )),
        },
        Some(Target::Socket(path)) => Ok(path),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masters_are_listed_by_pid_as_a_number_and_other_sockets_after_them() {
        let sockets = [
            ("zz", None),
            ("100", Some(100)),
            ("20", Some(20)),
            ("a", None),
        ]
        .map(|(name, pid)| (pid, PathBuf::from(format!("/run/{name}.sock"))));
        let names: Vec<String> = in_pid_order(sockets.to_vec())
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "/run/20.sock",
                "/run/100.sock",
                "/run/a.sock",
                "/run/zz.sock"
            ]
        );
    }
}
