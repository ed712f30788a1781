//! `server.on_init`: a command run once, to its end, before the first worker starts, as
//! RoadRunner runs it (cache warm-up, migrations).
//!
//! Owns running it: no shell, the master's environment with `on_init.env` on top, as
//! `on_init.user` when the master is root, stdin `/dev/null`, each line of its stdout and
//! stderr logged (info, tagged `on_init`), killed after `exec_timeout`. It runs for every
//! pool, forked or command-started: both need the application prepared before workers
//! take ticks.
//!
//! It blocks the master: it runs in the first `waitPayload()` before the event loop starts,
//! when nothing ticks yet and no worker exists. Signals that arrive meanwhile wait in the
//! signalfd and are handled when the loop starts (a SIGTERM then stops the pool at once);
//! Ctrl-C in a terminal also reaches the command itself, which shares the master's process
//! group as under RoadRunner.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::process::Stdio;
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::launch::{self, Privileges, PrivilegesError};
use super::stderr::Lines;
use crate::config::OnInit;
use crate::sys::{self, ExitStatus};

/// How often the wait looks at whether the command has exited, when its output is quiet
/// (a command that leaves a daemon holding its output must not keep the master waiting).
const POLL_STEP: Duration = Duration::from_millis(50);

/// Why `on_init` failed, for the caller to stop the master (`exit_on_error`) or log and
/// go on.
#[derive(Debug, thiserror::Error)]
pub(super) enum InitError {
    /// `on_init.user` cannot be applied.
    #[error(transparent)]
    User(#[from] PrivilegesError),
    #[error("server.on_init `{command}` {failure}")]
    Command { command: String, failure: Failure },
}

/// What became of the `on_init` command.
#[derive(Debug, thiserror::Error)]
pub(super) enum Failure {
    #[error("cannot start: {0}")]
    CannotStart(io::Error),
    #[error("cannot be waited for: {0}")]
    CannotWait(io::Error),
    #[error(
        "did not finish within exec_timeout ({}) and was killed",
        crate::config::format_duration(*.0)
    )]
    TimedOut(Duration),
    /// It exited with a non-zero status, or by a signal.
    #[error("{0}")]
    Exited(ExitStatus),
}

/// Runs `on_init` to its end.
pub(super) fn run(on_init: &OnInit) -> Result<(), InitError> {
    let shown = on_init.command.0.join(" ");
    let fail = |failure: Failure| InitError::Command {
        command: shown.clone(),
        failure,
    };
    let privileges = Privileges::resolve_keys(
        on_init.user.as_deref(),
        None,
        ("server.on_init.user", "server.on_init.user"),
    )
    .map_err(InitError::User)?;
    let (stdout_ours, stdout_theirs) = sys::pipe().map_err(|e| fail(Failure::CannotStart(e)))?;
    let (stderr_ours, stderr_theirs) = sys::pipe().map_err(|e| fail(Failure::CannotStart(e)))?;
    let (program, args) = on_init
        .command
        .0
        .split_first()
        .expect("a command is never empty");
    let mut command = std::process::Command::new(program);
    command
        .args(args)
        .envs(&on_init.env)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout_theirs))
        .stderr(Stdio::from(stderr_theirs));
    launch::prepare_child(&mut command, sys::getpid(), privileges);
    let started = sys::monotonic_now();
    let mut child = command.spawn().map_err(|e| fail(Failure::CannotStart(e)))?;
    drop(command);
    let pid = child.id();
    log::info!(
        "on_init {pid}: `{shown}` runs before the workers start (exec_timeout {})",
        crate::config::format_duration(on_init.exec_timeout)
    );
    let mut outputs = [Output::new(stdout_ours), Output::new(stderr_ours)];
    let deadline = started + on_init.exec_timeout;
    let status = loop {
        let now = sys::monotonic_now();
        if now >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            for output in &mut outputs {
                output.drain(pid);
            }
            return Err(fail(Failure::TimedOut(on_init.exec_timeout)));
        }
        wait_for_output(&mut outputs, pid, deadline.since(now).min(POLL_STEP));
        if let Some(status) = child.try_wait().map_err(|e| fail(Failure::CannotWait(e)))? {
            break status;
        }
    };
    for output in &mut outputs {
        output.drain(pid);
    }
    let status = ExitStatus::from(status);
    let took = sys::monotonic_now().since(started);
    match status {
        ExitStatus::Code(0) => {
            log::info!("on_init {pid}: done in {took:?}");
            Ok(())
        }
        other => Err(fail(Failure::Exited(other))),
    }
}

/// Logs what the command's stdout or stderr holds, for up to `timeout`.
fn wait_for_output(outputs: &mut [Output; 2], pid: u32, timeout: Duration) {
    let timeout = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
    let ready: Vec<bool> = {
        let mut fds: Vec<PollFd<'_>> = outputs
            .iter()
            .filter_map(|o| o.fd.as_ref())
            .map(|fd| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
            .collect();
        if fds.is_empty() {
            std::thread::sleep(Duration::from_millis(10));
            return;
        }
        match poll(&mut fds, timeout) {
            Ok(_) => fds.iter().map(|f| f.any().unwrap_or(false)).collect(),
            Err(_) => return,
        }
    };
    let mut ready = ready.into_iter();
    for output in outputs.iter_mut().filter(|o| o.fd.is_some()) {
        if ready.next().unwrap_or(false) {
            output.read_once(pid);
        }
    }
}

/// One of the command's output pipes, blocking, read only when poll says so.
struct Output {
    fd: Option<OwnedFd>,
    lines: Lines,
}

impl Output {
    fn new(fd: OwnedFd) -> Output {
        Output {
            fd: Some(fd),
            lines: Lines::default(),
        }
    }

    /// One read; at end of file the last line is logged and the pipe closed.
    fn read_once(&mut self, pid: u32) {
        let Some(fd) = &self.fd else {
            return;
        };
        let mut buf = [0u8; 8192];
        match nix::unistd::read(fd.as_fd(), &mut buf) {
            Ok(0) | Err(_) => self.close(pid),
            Ok(n) => {
                for line in self.lines.push(&buf[..n]) {
                    log::info!("on_init {pid}: {}", line.text);
                }
            }
        }
    }

    /// The command has ended: what is in the pipe now, and no more (a daemon it left may
    /// hold the pipe open for good).
    fn drain(&mut self, pid: u32) {
        if let Some(fd) = &self.fd
            && sys::set_nonblocking(fd.as_fd()).is_ok()
        {
            let mut buf = [0u8; 8192];
            loop {
                match nix::unistd::read(fd.as_fd(), &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        for line in self.lines.push(&buf[..n]) {
                            log::info!("on_init {pid}: {}", line.text);
                        }
                    }
                }
            }
        }
        self.close(pid);
    }

    fn close(&mut self, pid: u32) {
        if let Some(line) = self.lines.finish() {
            log::info!("on_init {pid}: {}", line.text);
        }
        self.fd = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Command;

    fn on_init(argv: &[&str], timeout: Duration) -> OnInit {
        OnInit {
            command: Command(argv.iter().map(|a| a.to_string()).collect()),
            exec_timeout: timeout,
            env: [("TICKER_ON_INIT_TEST".to_string(), "from env".to_string())].into(),
            exit_on_error: true,
            user: None,
        }
    }

    #[test]
    fn a_command_that_succeeds_is_ok_and_sees_its_env() {
        let ok = on_init(
            &[
                "sh",
                "-c",
                "test \"$TICKER_ON_INIT_TEST\" = 'from env' && echo warmed",
            ],
            Duration::from_secs(20),
        );
        run(&ok).unwrap();
    }

    #[test]
    fn a_failing_command_says_how_it_failed() {
        let e = run(&on_init(&["sh", "-c", "exit 3"], Duration::from_secs(20))).unwrap_err();
        assert!(matches!(
            e,
            InitError::Command {
                failure: Failure::Exited(ExitStatus::Code(3)),
                ..
            }
        ));
        assert_eq!(
            e.to_string(),
            "server.on_init `sh -c exit 3` exited with status 3"
        );
        let e = run(&on_init(&["/nonexistent/init"], Duration::from_secs(20))).unwrap_err();
        assert!(matches!(
            e,
            InitError::Command {
                failure: Failure::CannotStart(_),
                ..
            }
        ));
        assert!(
            e.to_string()
                .starts_with("server.on_init `/nonexistent/init` cannot start:"),
            "{e}"
        );
    }

    #[test]
    fn a_command_past_exec_timeout_is_killed() {
        let started = std::time::Instant::now();
        let e = run(&on_init(&["sleep", "30"], Duration::from_millis(300))).unwrap_err();
        assert!(
            e.to_string()
                .contains("did not finish within exec_timeout (300ms) and was killed"),
            "{e}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "it did not wait for sleep"
        );
    }

    #[test]
    fn a_daemon_left_holding_the_output_does_not_keep_the_master_waiting() {
        let started = std::time::Instant::now();
        let ok = on_init(
            &["sh", "-c", "sleep 3 & echo started"],
            Duration::from_secs(20),
        );
        run(&ok).unwrap();
        assert!(started.elapsed() < Duration::from_secs(20));
    }
}
