//! `ticker`: look at and steer running ticker masters from another shell.
//!
//! ```text
//! ticker status [--json] [PID|SOCKET]   the live pool: workers, ticks, lateness
//! ticker reset  [PID|SOCKET]            replace every worker (as SIGHUP does)
//! ticker pause  NAME|--all [PID|SOCKET] stop a schedule's ticks coming due, until resumed
//! ticker resume NAME|--all [PID|SOCKET] let them come due again, from the next one after now
//! ticker run    NAME [PID|SOCKET]       one run of a schedule now, on a free worker
//! ticker list                           the control sockets of running masters
//! ticker calendar EXPRESSION [--timezone ZONE] [--from TIME] [--iterations N] [--json]
//!                                       a cron expression's next runs, no master needed
//! ```
//!
//! Masters are found through their control sockets (see `ticker::control::runtime_dir`),
//! in a directory that must be this user's alone. With no PID or SOCKET and exactly one
//! master running, that one is used. An answer is believed only from a process of this
//! user (or root), within `ticker::control::ANSWER_TIMEOUT`; any answer the command cannot
//! read is an error (exit status 1), never a crash. Input the command refuses before asking
//! anyone (a usage error, or a `calendar` expression, zone or time) exits with status 2.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use ticker::control::{self, AskError, SocketError};
use ticker::metrics::{BadSnapshot, Snapshot};
use ticker::schedule::cron::{self, CronError, TimeError, UnixInstant};

#[derive(Parser)]
#[command(
    name = "ticker",
    version,
    about = "Look at and steer running ticker masters, and list a cron schedule's runs",
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
    /// Stop a schedule's ticks coming due until it is resumed (ticks already waiting for a
    /// worker still run); this master only, until it restarts
    Pause {
        #[command(flatten)]
        schedules: Schedules,
    },
    /// Let a paused schedule come due again: from its next instant after now, numbered on
    /// from where it was, with no catching up
    Resume {
        #[command(flatten)]
        schedules: Schedules,
    },
    /// Run a schedule once now on a free worker, outside its grid (header `manual: true`);
    /// refused when no worker may take it at once
    Run {
        /// The schedule's name, as in ticker.schedules (`default` for ticker.interval)
        name: String,
        /// The master's pid, or the path of its control socket
        #[arg(value_name = "PID|SOCKET")]
        target: Option<Target>,
    },
    /// A cron expression's next runs in a time zone, as a cron schedule would run them
    #[command(
        after_help = "Runs are listed strictly after TIME, one per line, as RFC 3339 \
                      with the zone's offset, which tells the two passes of a DST fold \
                      apart. Bad input exits with status 2."
    )]
    Calendar {
        /// 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or
        /// an alias such as @daily
        expression: String,
        /// The IANA zone the expression is read in
        #[arg(long, value_name = "ZONE", default_value = "UTC")]
        timezone: String,
        /// RFC 3339 with an offset, e.g. 2025-03-29T12:00:00+01:00 [default: now]
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// How many runs to list
        #[arg(long, value_name = "N", default_value_t = DEFAULT_ITERATIONS, value_parser = iterations)]
        iterations: usize,
        /// Print a JSON array of the times
        #[arg(long)]
        json: bool,
    },
}

/// The schedules a `pause` or `resume` is for, and the master.
#[derive(clap::Args)]
struct Schedules {
    /// Every schedule of the pool
    #[arg(long)]
    all: bool,
    /// The schedule's name (`default` for ticker.interval); with --all, the master
    #[arg(value_name = "NAME")]
    name: Option<String>,
    /// The master's pid, or the path of its control socket
    #[arg(value_name = "PID|SOCKET")]
    target: Option<String>,
}

impl Schedules {
    /// The request's argument (`--all` or a name) and the master. With `--all` the one
    /// word given is the master: clap fills the positionals in order.
    fn split(self) -> Result<(String, Option<Target>), CommandError> {
        let (which, target) = match (self.all, self.name, self.target) {
            (true, None, None) => ("--all".to_string(), None),
            (true, Some(target), None) => ("--all".to_string(), Some(target)),
            (true, Some(name), Some(_)) => return Err(CommandError::AllAndName(name)),
            (false, Some(name), target) => (name, target),
            (_, None, _) => return Err(CommandError::NoSchedule),
        };
        let target = target.map(|t| t.parse()).transpose()?;
        Ok((which, target))
    }
}

/// A screenful that shows a schedule's pattern, and a DST change when one is near.
const DEFAULT_ITERATIONS: usize = 5;

/// `--iterations`: a whole number from 1. Zero lists nothing, which is more likely a mistake
/// than a wish, so clap refuses it as a usage error.
fn iterations(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number from 1".to_string()),
    }
}

/// Which master to talk to.
#[derive(Clone, Debug)]
enum Target {
    Pid(i32),
    Socket(PathBuf),
}

impl std::str::FromStr for Target {
    type Err = CommandError;

    fn from_str(s: &str) -> Result<Target, CommandError> {
        if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
            s.parse()
                .map(Target::Pid)
                .map_err(|_| CommandError::NotAPid(s.to_owned()))
        } else {
            Ok(Target::Socket(PathBuf::from(s)))
        }
    }
}

/// Why a command did not do what it was asked. `main` prints it after `ticker: ` and exits
/// with status 1 for any cause but bad input ([`CommandError::exit_code`]): a script tells
/// "it failed" from "it ran" by that, and reads the message for the rest. A cause the
/// message names (why the socket cannot be trusted, asked, or read) is also its `source()`,
/// so that it can be told apart by type and not only by its words.
#[derive(Debug, thiserror::Error)]
enum CommandError {
    /// A target of digits that is no pid; clap reports it as a usage error (status 2),
    /// before anything runs.
    #[error("{0} is not a pid")]
    NotAPid(String),
    /// The runtime directory exists but is not this user's alone, or cannot be looked at:
    /// a socket there could be anyone's.
    #[error("not looking for masters there: {0}")]
    RuntimeDir(#[source] SocketError),
    #[error("cannot list {}: {error}", .dir.display())]
    ListDir { dir: PathBuf, error: io::Error },
    /// A pid was named, and the runtime directory its socket would be in is missing.
    #[error("no master {pid}: {} does not exist", .dir.display())]
    NoRuntimeDir { pid: i32, dir: PathBuf },
    #[error("no running master found in {}; name its PID or control socket", .dir.display())]
    NoMaster { dir: PathBuf },
    /// No target was named and more than one master answers: their sockets, oldest pid
    /// first.
    #[error("{} masters are running; name one: {}", .0.len(), joined(.0))]
    SeveralMasters(Vec<PathBuf>),
    /// The master at this socket gave no answer the command may believe.
    #[error("{}: {error}", .socket.display())]
    Ask {
        socket: PathBuf,
        #[source]
        error: AskError,
    },
    #[error("unreadable answer from {}: {problem}", .socket.display())]
    Unreadable {
        socket: PathBuf,
        #[source]
        problem: AnswerProblem,
    },
    /// The master answered a reset with a refusal; its message, control characters
    /// replaced.
    #[error("reset refused: {0}")]
    ResetRefused(String),
    /// The master did not do what `pause`, `resume` or `run` asked (an unknown schedule, no
    /// worker free for a run); its message, control characters replaced.
    #[error("{0}")]
    Refused(String),
    #[error("name a schedule, or --all")]
    NoSchedule,
    #[error("--all names every schedule; {0} is one too many")]
    AllAndName(String),
    /// Writing to stdout failed, other than by the reader going away.
    #[error("cannot write the answer: {0}")]
    Stdout(io::Error),
    /// `calendar` was given an expression or a zone that a config would refuse, in the words
    /// the config uses.
    #[error("{0}")]
    Schedule(#[source] CronError),
    #[error("--from: {0}")]
    From(#[source] TimeError),
}

impl CommandError {
    /// 2 for input refused before anything ran, as clap's usage errors: a script can tell
    /// "I asked wrongly" from "it did not work". 1 for the rest.
    fn exit_code(&self) -> u8 {
        match self {
            CommandError::Schedule(_) | CommandError::From(_) => 2,
            _ => 1,
        }
    }
}

/// What is wrong with an answer that arrived whole.
#[derive(Debug, thiserror::Error)]
enum AnswerProblem {
    #[error("{0}")]
    Status(#[source] BadSnapshot),
    #[error("{0}")]
    Json(serde_json::Error),
    /// A reset answer without the message to show.
    #[error("no message in it")]
    NoMessage,
}

fn joined(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(io::stderr(), "ticker: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

/// Prints to stdout. A reader that went away (`ticker status | head -1`) is no error;
/// `println!` would panic there.
fn print(text: &str) -> Result<(), CommandError> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(CommandError::Stdout(e)),
        _ => Ok(()),
    }
}

fn run(command: Command) -> Result<(), CommandError> {
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
                .map_err(|e| unreadable(&socket, AnswerProblem::Status(e)))?;
            if json {
                print(&format!("{answer}\n"))
            } else {
                print(&snapshot.to_table())
            }
        }
        Command::Reset { target } => one_line(&pick(target)?, "reset", CommandError::ResetRefused),
        Command::Pause { schedules } => {
            let (which, target) = schedules.split()?;
            steer(&format!("pause {which}"), target)
        }
        Command::Resume { schedules } => {
            let (which, target) = schedules.split()?;
            steer(&format!("resume {which}"), target)
        }
        Command::Run { name, target } => steer(&format!("run {name}"), target),
        Command::Calendar {
            expression,
            timezone,
            from,
            iterations,
            json,
        } => {
            let from = match from {
                Some(text) => UnixInstant::parse_rfc3339(&text).map_err(CommandError::From)?,
                None => now(),
            };
            let runs = cron::calendar(&expression, &timezone, from, iterations)
                .map_err(CommandError::Schedule)?;
            let times: Vec<&str> = runs.iter().map(cron::Occurrence::local).collect();
            print(&calendar_text(&times, json))
        }
    }
}

/// Sends `pause`, `resume` or `run` and prints the master's one line; a refusal is an
/// error (exit status 1) with that line.
fn steer(request: &str, target: Option<Target>) -> Result<(), CommandError> {
    // A name is one word of the request line: one with blanks could not be read back.
    if request.split_whitespace().count() != 2 || request.contains(['\n', '\r']) {
        return Err(CommandError::Refused(format!(
            "{request:?}: a schedule's name is one word"
        )));
    }
    one_line(&pick(target)?, request, CommandError::Refused)
}

/// Sends a request whose answer is one line (`{"ok":…,"message":…}`) and prints the line;
/// a refusal is the error `refused` makes of it (exit status 1). Control characters in the
/// line are shown as `?`: the answer comes from another process.
fn one_line(
    socket: &Path,
    request: &str,
    refused: fn(String) -> CommandError,
) -> Result<(), CommandError> {
    let answer = ask(socket, request)?;
    let reply: serde_json::Value =
        serde_json::from_str(&answer).map_err(|e| unreadable(socket, AnswerProblem::Json(e)))?;
    let Some(message) = reply["message"].as_str() else {
        return Err(unreadable(socket, AnswerProblem::NoMessage));
    };
    let message: String = message
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if reply["ok"] == serde_json::Value::Bool(true) {
        print(&format!("{message}\n"))
    } else {
        Err(refused(message))
    }
}

fn now() -> UnixInstant {
    // A clock before 1970 lists from 1970: the command still answers.
    UnixInstant::from_unix(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

/// One time a line, or a JSON array of them on one line.
fn calendar_text(times: &[&str], json: bool) -> String {
    if json {
        format!("{}\n", serde_json::Value::from(times.to_vec()))
    } else {
        times.iter().map(|t| format!("{t}\n")).collect()
    }
}

fn unreadable(socket: &Path, problem: AnswerProblem) -> CommandError {
    CommandError::Unreadable {
        socket: socket.to_owned(),
        problem,
    }
}

fn ask(socket: &Path, request: &str) -> Result<String, CommandError> {
    control::ask(socket, request).map_err(|error| CommandError::Ask {
        socket: socket.to_owned(),
        error,
    })
}

/// The runtime directory, once it is known to be this user's alone; `None` if missing.
fn runtime_dir() -> Result<Option<PathBuf>, CommandError> {
    let dir = control::runtime_dir();
    match control::check_private_dir(&dir) {
        Ok(()) => Ok(Some(dir)),
        Err(SocketError::Dir { error, .. }) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CommandError::RuntimeDir(e)),
    }
}

/// The sockets of masters that answer, oldest pid first.
fn running_masters() -> Result<Vec<PathBuf>, CommandError> {
    let Some(dir) = runtime_dir()? else {
        return Ok(vec![]);
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) => return Err(CommandError::ListDir { dir, error }),
    };
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

fn pick(target: Option<Target>) -> Result<PathBuf, CommandError> {
    match target {
        Some(Target::Pid(pid)) => match runtime_dir()? {
            Some(_) => Ok(control::default_socket(pid)),
            None => Err(CommandError::NoRuntimeDir {
                pid,
                dir: control::runtime_dir(),
            }),
        },
        Some(Target::Socket(path)) => Ok(path),
        None => {
            let mut masters = running_masters()?;
            match masters.len() {
                1 => Ok(masters.remove(0)),
                0 => Err(CommandError::NoMaster {
                    dir: control::runtime_dir(),
                }),
                _ => Err(CommandError::SeveralMasters(masters)),
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

    #[test]
    fn pause_and_resume_take_a_name_or_all_and_then_the_master() {
        let split = |args: &[&str]| {
            let cli = Cli::try_parse_from(["ticker", "pause"].iter().chain(args)).unwrap();
            let Command::Pause { schedules } = cli.command else {
                panic!("not a pause");
            };
            schedules
                .split()
                .map(|(which, target)| (which, format!("{target:?}")))
                .map_err(|e| e.to_string())
        };
        assert_eq!(split(&["beat"]), Ok(("beat".into(), "None".into())));
        assert_eq!(
            split(&["beat", "42"]),
            Ok(("beat".into(), "Some(Pid(42))".into()))
        );
        assert_eq!(split(&["--all"]), Ok(("--all".into(), "None".into())));
        assert_eq!(
            split(&["--all", "42"]),
            Ok(("--all".into(), "Some(Pid(42))".into()))
        );
        assert_eq!(
            split(&["--all", "beat", "42"]),
            Err("--all names every schedule; beat is one too many".into())
        );
        assert_eq!(split(&[]), Err("name a schedule, or --all".into()));
    }

    #[test]
    fn digits_beyond_any_pid_are_refused_and_other_text_is_a_socket_path() {
        assert!(matches!(
            "99999999999".parse::<Target>(),
            Err(CommandError::NotAPid(s)) if s == "99999999999"
        ));
        assert!(matches!("4242".parse::<Target>(), Ok(Target::Pid(4242))));
        assert!(matches!(
            "./4242".parse::<Target>(),
            Ok(Target::Socket(p)) if p == Path::new("./4242")
        ));
    }

    #[test]
    fn messages_name_the_directory_the_pid_and_the_sockets() {
        let dir = PathBuf::from("/run/ticker");
        let cases = [
            (
                CommandError::NoMaster { dir: dir.clone() },
                "no running master found in /run/ticker; name its PID or control socket",
            ),
            (
                CommandError::NoRuntimeDir { pid: 42, dir },
                "no master 42: /run/ticker does not exist",
            ),
            (
                CommandError::SeveralMasters(vec![
                    PathBuf::from("/run/20.sock"),
                    PathBuf::from("/run/100.sock"),
                ]),
                "2 masters are running; name one: /run/20.sock, /run/100.sock",
            ),
            (
                unreadable(Path::new("/run/1.sock"), AnswerProblem::NoMessage),
                "unreadable answer from /run/1.sock: no message in it",
            ),
            (
                CommandError::ResetRefused("busy".into()),
                "reset refused: busy",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message);
        }
    }

    #[test]
    fn a_bad_calendar_expression_zone_or_time_exits_2_in_the_config_s_words() {
        let expr = CommandError::Schedule(cron::CronExpr::parse("61 * * * *").unwrap_err());
        assert_eq!(expr.to_string(), "minute 61 is out of 0-59");
        assert_eq!(expr.exit_code(), 2);
        let zone = CommandError::Schedule(
            cron::calendar("* * * * *", "Mars/Olympus", UnixInstant::default(), 1).unwrap_err(),
        );
        assert_eq!(
            zone.to_string(),
            r#"unknown time zone "Mars/Olympus": expected an IANA name such as Europe/Berlin or UTC"#
        );
        assert_eq!(zone.exit_code(), 2);
        let from = CommandError::From(UnixInstant::parse_rfc3339("tomorrow").unwrap_err());
        assert!(
            from.to_string()
                .starts_with(r#"--from: "tomorrow" is not a time"#),
            "{from}"
        );
        assert_eq!(from.exit_code(), 2);
        // What goes wrong with a master is no fault of the input.
        assert_eq!(CommandError::ResetRefused("busy".into()).exit_code(), 1);
    }

    #[test]
    fn iterations_are_a_whole_number_from_1() {
        assert_eq!(iterations("1"), Ok(1));
        assert_eq!(iterations("240"), Ok(240));
        for bad in ["0", "-1", "", "five", "1.5"] {
            assert!(iterations(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn calendar_times_are_lines_or_one_json_array() {
        let times = ["2025-10-26T02:00:00+02:00", "2025-10-26T02:00:00+01:00"];
        assert_eq!(
            calendar_text(&times, false),
            "2025-10-26T02:00:00+02:00\n2025-10-26T02:00:00+01:00\n"
        );
        assert_eq!(
            calendar_text(&times, true),
            "[\"2025-10-26T02:00:00+02:00\",\"2025-10-26T02:00:00+01:00\"]\n"
        );
        assert_eq!(calendar_text(&[], true), "[]\n");
        assert_eq!(calendar_text(&[], false), "");
    }

    #[test]
    fn a_cause_named_in_the_message_is_also_the_source() {
        use std::error::Error as _;

        let runtime_dir = CommandError::RuntimeDir(SocketError::NotADirectory {
            dir: PathBuf::from("/run/ticker"),
        });
        assert_eq!(
            runtime_dir.to_string(),
            "not looking for masters there: /run/ticker is not a directory"
        );
        let source = runtime_dir.source().expect("a source");
        assert!(matches!(
            source.downcast_ref(),
            Some(SocketError::NotADirectory { .. })
        ));

        let ask = CommandError::Ask {
            socket: PathBuf::from("/run/1.sock"),
            error: AskError::TimedOut,
        };
        assert_eq!(ask.to_string(), "/run/1.sock: no answer within 5s");
        let source = ask.source().expect("a source");
        assert!(matches!(source.downcast_ref(), Some(AskError::TimedOut)));

        let bad = Snapshot::from_json("{}").expect_err("no snapshot");
        let unreadable = unreadable(Path::new("/run/1.sock"), AnswerProblem::Status(bad.clone()));
        assert_eq!(
            unreadable.to_string(),
            format!("unreadable answer from /run/1.sock: {bad}")
        );
        let problem = unreadable.source().expect("a source");
        assert_eq!(problem.to_string(), bad.to_string());
        let cause = problem.source().expect("the snapshot's error");
        assert_eq!(cause.downcast_ref::<BadSnapshot>(), Some(&bad));
    }
}
