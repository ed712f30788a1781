//! How a worker process comes to be: the one place where kinds of workers differ.
//!
//! Everything else in the master treats a worker as a pid and a [`Channel`] of goridge
//! frames (and, for a command-started one, its stderr and a pid handshake to wait for). A
//! [`Launcher`] makes them; [`launcher`] picks one from the config:
//!
//! - [`Fork`] (no `ticker.pool.command`): workers are forks of the master, linked by a
//!   socket pair. They start with the application the master booted (copy-on-write) and
//!   return to PHP in the child.
//! - [`Command`] (`ticker.pool.command`): workers are started from that command, as
//!   RoadRunner starts them: no shell, the environment RoadRunner gives (`RR_MODE`,
//!   `RR_RELAY=pipes`, `RR_VERSION`, `server.env`), goridge over their stdin and stdout,
//!   their stderr read by the master, and a pid handshake before the first tick.
//!
//! Both drop privileges to `server.user` / `server.group` when the master runs as root
//! ([`Privileges`]). What happens between a worker's start and its exit is the same for
//! both kinds and is not here.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::Options;
use crate::config::{ServerConfig, TickerConfig};
use crate::frame::MAX_PAYLOAD;
use crate::huge_pages;
use crate::page_sampler;
use crate::pool::Pid;
use crate::relay::RR_RELAY;
use crate::role::{MODE, RR_MODE};
use crate::sys::{self, Forked};
use crate::transport::Channel;
use crate::worker::WorkerLink;

/// The `RR_VERSION` command-started workers get: the RoadRunner release whose worker
/// protocol this master speaks (goridge v3 frames, the pid handshake, `{"stop":true}`).
/// Libraries that look at it see a RoadRunner of the 2024 line.
pub const RR_VERSION: &str = "2024.3.0";

/// What [`Launcher::launch`] gave, in this process.
pub(super) enum Launched {
    /// The master's side: a new worker.
    Worker(Started),
    /// This process is the new worker (a fork): it leaves the master's loop with its link.
    ThisProcess(WorkerLink),
}

/// A worker just started, as the master sees it.
pub(super) struct Started {
    pub pid: Pid,
    /// The master's end of its channel, non-blocking.
    pub channel: Channel,
    /// The master's end of its stderr (non-blocking), when the master logs it; `None`
    /// when the worker shares the master's stderr.
    pub stderr: Option<std::os::fd::OwnedFd>,
    /// How long it has to answer the pid handshake before it is refused; `None`: it takes
    /// ticks at once.
    pub handshake: Option<Duration>,
}

/// Starts workers of one kind.
pub(super) trait Launcher {
    /// Starts one worker for the master `master`.
    fn launch(&mut self, master: Pid) -> io::Result<Launched>;

    /// How workers start, for the master's first log line.
    fn describe(&self) -> String {
        "forked from the master".into()
    }

    /// Once, before the first worker starts.
    fn prepare(&mut self) {}

    /// Descriptors the master holds for each worker while it lives: its end of a forked
    /// worker's socket pair.
    fn descriptors_per_worker(&self) -> u64 {
        1
    }
}

/// The launcher the config asks for: [`Command`] with `ticker.pool.command`, else [`Fork`].
/// Refuses, with the key at fault, a `server.user` or `server.group` that cannot be
/// applied.
pub(super) fn launcher(
    ticker: &TickerConfig,
    server: &ServerConfig,
    options: &Options,
) -> Result<Box<dyn Launcher>, PrivilegesError> {
    let privileges = Privileges::resolve(server.user.as_deref(), server.group.as_deref())?;
    Ok(match &ticker.pool.command {
        None => Box::new(Fork {
            privileges,
            huge_pages: options.huge_pages,
            workers: ticker.pool.num_workers,
        }),
        Some(command) => Box::new(Command {
            argv: command.0.clone(),
            env: worker_env(server),
            privileges,
            relay_timeout: server.relay_timeout,
        }),
    })
}

/// Who a process started by the master runs as: resolved once, at start, from the user
/// database, and applied in the child (supplementary groups, group, then user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Privileges {
    uid: u32,
    gid: u32,
    groups: Vec<u32>,
}

impl Privileges {
    /// `server.user` and `server.group` (or `on_init.user`, with no group); `None` when
    /// there is nothing to change. The user's supplementary groups are its own, as
    /// `initgroups` sets them; `group` replaces its primary group.
    ///
    /// Only root can become another user. A master that is not root is refused unless the
    /// user and group named are its own already (a file shared between a root container and
    /// a developer's machine): RoadRunner fails then too, at every worker's start.
    pub(super) fn resolve(
        user: Option<&str>,
        group: Option<&str>,
    ) -> Result<Option<Self>, PrivilegesError> {
        Self::resolve_keys(user, group, ("server.user", "server.group"))
    }

    /// [`Privileges::resolve`], with the keys that messages name.
    pub(super) fn resolve_keys(
        user: Option<&str>,
        group: Option<&str>,
        keys: (&'static str, &'static str),
    ) -> Result<Option<Self>, PrivilegesError> {
        Self::resolve_as(
            user,
            group,
            keys,
            sys::effective_ids(),
            &|name| sys::user_named(name).map_err(|e| e.to_string()),
            &|name| sys::group_named(name).map_err(|e| e.to_string()),
        )
    }

    fn resolve_as(
        user: Option<&str>,
        group: Option<&str>,
        (user_key, group_key): (&'static str, &'static str),
        (euid, egid): (u32, u32),
        users: &dyn Fn(&str) -> Result<Option<sys::Account>, String>,
        groups: &dyn Fn(&str) -> Result<Option<u32>, String>,
    ) -> Result<Option<Self>, PrivilegesError> {
        if user.is_none() && group.is_none() {
            return Ok(None);
        }
        let lookup = |key, name: &str, error| PrivilegesError::Lookup {
            key,
            name: name.to_owned(),
            error,
        };
        let unknown = |key, what, name: &str| PrivilegesError::Unknown {
            key,
            what,
            name: name.to_owned(),
        };
        let account = match user {
            None => None,
            Some(name) => Some(
                users(name)
                    .map_err(|e| lookup(user_key, name, e))?
                    .ok_or_else(|| unknown(user_key, "user", name))?,
            ),
        };
        let group_id = match group {
            None => None,
            Some(name) => Some(
                groups(name)
                    .map_err(|e| lookup(group_key, name, e))?
                    .ok_or_else(|| unknown(group_key, "group", name))?,
            ),
        };
        let uid = account.as_ref().map_or(euid, |a| a.uid);
        let gid = group_id.or(account.as_ref().map(|a| a.gid)).unwrap_or(egid);
        let mut supplementary = match (&account, group_id) {
            (Some(a), None) => a.groups.clone(),
            (Some(a), Some(g)) => a
                .groups
                .iter()
                .copied()
                .filter(|&x| x != a.gid)
                .chain([g])
                .collect(),
            (None, Some(g)) => vec![g],
            (None, None) => vec![],
        };
        supplementary.sort_unstable();
        supplementary.dedup();
        if euid != 0 {
            if uid == euid && gid == egid {
                return Ok(None);
            }
            let (key, name) = match (user, group) {
                (Some(u), _) if uid != euid => (user_key, u),
                (_, Some(g)) => (group_key, g),
                (Some(u), None) => (user_key, u),
                (None, None) => unreachable!("checked above"),
            };
            return Err(PrivilegesError::NotRoot {
                key,
                name: name.to_owned(),
                euid,
                egid,
            });
        }
        Ok(Some(Privileges {
            uid,
            gid,
            groups: supplementary,
        }))
    }

    /// Becomes that user, in a child before it runs anything of its own.
    pub(super) fn apply(&self) -> io::Result<()> {
        sys::become_user(self.uid, self.gid, &self.groups)
    }
}

/// Why `server.user`, `server.group` or `on_init.user` cannot be applied; each message names
/// the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum PrivilegesError {
    #[error("{key}: cannot look up {name:?}: {error}")]
    Lookup {
        key: &'static str,
        name: String,
        error: String,
    },
    #[error("{key}: there is no {what} {name:?} on this system")]
    Unknown {
        key: &'static str,
        what: &'static str,
        name: String,
    },
    #[error(
        "{key}: {name:?}: workers can run as another user or group only when the master runs \
         as root, and it runs as uid {euid} (gid {egid}); start the master as root, or remove \
         {key}"
    )]
    NotRoot {
        key: &'static str,
        name: String,
        euid: u32,
        egid: u32,
    },
}

/// Workers are forks of the master, linked by a socket pair.
pub(super) struct Fork {
    privileges: Option<Privileges>,
    huge_pages: bool,
    /// The pool's size, for what a host's page sampler will cost it.
    workers: usize,
}

impl Launcher for Fork {
    /// Every fork copies the application's page tables: fewer entries, cheaper forks and
    /// exits (see [`huge_pages`]). And every fork maps the application's pages once more,
    /// which a host's page sampler pays for (see [`page_sampler`]).
    fn prepare(&mut self) {
        if let Some(notice) = page_sampler::at_start(self.workers) {
            log::info!("{notice}");
        }
        if !self.huge_pages {
            return;
        }
        let report = huge_pages::collapse();
        if report.error.is_some() {
            log::warn!("{report}");
        } else if report.collapsed > 0 {
            log::info!("{report}");
        }
    }

    fn launch(&mut self, master: Pid) -> io::Result<Launched> {
        let (ours, theirs) = sys::socket_pair()?;
        match sys::fork()? {
            Forked::Child => {
                drop(ours);
                become_worker(master, self.privileges.as_ref());
                Ok(Launched::ThisProcess(WorkerLink::of_ticker(
                    Channel::socket(theirs, MAX_PAYLOAD),
                )))
            }
            Forked::Parent(pid) => {
                drop(theirs);
                let channel = Channel::socket(ours, MAX_PAYLOAD);
                channel.set_nonblocking()?;
                Ok(Launched::Worker(Started {
                    pid,
                    channel,
                    stderr: None,
                    handshake: None,
                }))
            }
        }
    }
}

/// First steps of a forked child, before it returns to PHP as a worker.
fn become_worker(master: Pid, privileges: Option<&Privileges>) {
    // Before anything else: a worker asked to run as another user must never run a tick
    // as root. Changing credentials also clears the parent-death signal, set below.
    if let Some(privileges) = privileges
        && let Err(e) = privileges.apply()
    {
        log::error!(
            "worker {} cannot drop its privileges to server.user/server.group: {e}; exiting",
            sys::getpid()
        );
        sys::exit_now(1);
    }
    // A worker must never outlive its master: if the master is SIGKILLed, there is no one
    // to stop the worker gracefully, and a busy worker would otherwise run on unsupervised.
    if let Err(e) = sys::die_with_parent(master, Signal::SIGKILL) {
        log::warn!("worker cannot follow its master's death: {e}");
    }
    // Ctrl-C in a terminal then reaches the master only, which stops workers gracefully.
    let _ = sys::own_process_group();
    // Out of the terminal's foreground group, a worker that read the terminal would be
    // stopped by SIGTTIN, and one that wrote to it (with `stty tostop`) by SIGTTOU, for
    // good and silently. Ticks do not read stdin: it is /dev/null, and the two signals are
    // ignored unless the application handles them.
    if let Err(e) = sys::stdin_from_dev_null() {
        log::warn!("worker keeps the master's stdin: {e}");
    }
    for signal in [Signal::SIGTTIN, Signal::SIGTTOU] {
        let _ = sys::ignore_unless_handled(signal);
    }
    let _ = sys::set_timer_slack(None);
}

/// What a process the master starts from a command does before it execs: become
/// `privileges`' user, die with the master, unblock the signals the master blocks for its
/// signalfd, and hand down no descriptor beyond 0, 1 and 2.
pub(super) fn prepare_child(
    command: &mut std::process::Command,
    master: Pid,
    privileges: Option<Privileges>,
) {
    // SAFETY: runs in the child between fork and exec. The master never starts a thread,
    // so no lock can be held by another one; each call is a plain system call, and the
    // fallback of `close_on_exec_from_3` (old kernels) reads /proc, which allocates: safe
    // in a child of a single-threaded process.
    unsafe {
        command.pre_exec(move || {
            if let Some(privileges) = &privileges {
                privileges.apply()?;
            }
            // After the credentials: changing them clears the parent-death signal.
            sys::die_with_parent(master, Signal::SIGKILL)?;
            sys::unblock_all_signals()?;
            sys::close_on_exec_from_3()
        });
    }
}

/// Workers started from `ticker.pool.command`, as RoadRunner starts them over `pipes`.
pub(super) struct Command {
    argv: Vec<String>,
    /// The whole environment of every worker, computed once at start as RoadRunner does.
    env: BTreeMap<OsString, OsString>,
    privileges: Option<Privileges>,
    relay_timeout: Duration,
}

/// A worker's environment: the master's, then `server.env`, then what RoadRunner's server
/// and ticker plugins set, which `server.env` cannot override (the master speaks pipes only,
/// and `RR_MODE` is what makes a dispatcher pick the ticker).
fn worker_env(server: &ServerConfig) -> BTreeMap<OsString, OsString> {
    let mut env: BTreeMap<OsString, OsString> = std::env::vars_os().collect();
    for (name, value) in &server.env {
        env.insert(name.into(), value.into());
    }
    env.insert(RR_MODE.into(), MODE.into());
    env.insert(RR_RELAY.into(), "pipes".into());
    env.insert("RR_VERSION".into(), RR_VERSION.into());
    env
}

impl Command {
    /// A launcher of `argv`, for tests: the master's environment, as the master's user.
    #[cfg(test)]
    pub(super) fn of(argv: &[&str], relay_timeout: Duration) -> Command {
        Command {
            argv: argv.iter().map(|a| a.to_string()).collect(),
            env: worker_env(&ServerConfig::default()),
            privileges: None,
            relay_timeout,
        }
    }
}

impl Launcher for Command {
    fn launch(&mut self, master: Pid) -> io::Result<Launched> {
        // Close-on-exec, every one: the worker gets its ends as 0, 1 and 2 only, and no
        // worker inherits another's.
        let (stdin_theirs, stdin_ours) = sys::pipe()?;
        let (stdout_ours, stdout_theirs) = sys::pipe()?;
        let (stderr_ours, stderr_theirs) = sys::pipe()?;
        let (program, args) = self.argv.split_first().expect("a command is never empty");
        let mut command = std::process::Command::new(program);
        command
            .args(args)
            .env_clear()
            .envs(&self.env)
            .stdin(Stdio::from(stdin_theirs))
            .stdout(Stdio::from(stdout_theirs))
            .stderr(Stdio::from(stderr_theirs))
            // Ctrl-C in a terminal reaches the master only, which stops workers gracefully
            // (RoadRunner isolates its workers the same way).
            .process_group(0);
        prepare_child(&mut command, master, self.privileges.clone());
        let child = command
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run {program:?}: {e}")))?;
        // The worker's ends of the pipes are in `command`: closed here, so the master sees
        // end of file when the worker goes.
        drop(command);
        let pid = child.id() as Pid;
        // Reaped by pid like every worker; `Child` neither waits nor kills when dropped.
        drop(child);
        let channel = Channel::pipes(stdout_ours, stdin_ours, MAX_PAYLOAD);
        channel.set_nonblocking()?;
        sys::set_nonblocking(std::os::fd::AsFd::as_fd(&stderr_ours))?;
        Ok(Launched::Worker(Started {
            pid,
            channel,
            stderr: Some(stderr_ours),
            handshake: Some(self.relay_timeout),
        }))
    }

    fn describe(&self) -> String {
        format!("started from `{}`", self.argv.join(" "))
    }

    /// The write end of its stdin, and the read ends of its stdout and stderr.
    fn descriptors_per_worker(&self) -> u64 {
        3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(name: &str) -> Result<Option<sys::Account>, String> {
        Ok(match name {
            "www-data" => Some(sys::Account {
                uid: 33,
                gid: 33,
                groups: vec![33, 110],
            }),
            "me" => Some(sys::Account {
                uid: 1000,
                gid: 1000,
                groups: vec![1000],
            }),
            _ => None,
        })
    }

    fn groups(name: &str) -> Result<Option<u32>, String> {
        Ok(match name {
            "www-data" => Some(33),
            "web" => Some(200),
            "me" => Some(1000),
            _ => None,
        })
    }

    fn resolve(
        user: Option<&str>,
        group: Option<&str>,
        ids: (u32, u32),
    ) -> Result<Option<Privileges>, String> {
        Privileges::resolve_as(
            user,
            group,
            ("server.user", "server.group"),
            ids,
            &users,
            &groups,
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn root_drops_to_the_user_with_its_groups_or_the_group_named() {
        assert_eq!(resolve(None, None, (0, 0)), Ok(None));
        assert_eq!(
            resolve(Some("www-data"), None, (0, 0)),
            Ok(Some(Privileges {
                uid: 33,
                gid: 33,
                groups: vec![33, 110]
            }))
        );
        assert_eq!(
            resolve(Some("www-data"), Some("web"), (0, 0)),
            Ok(Some(Privileges {
                uid: 33,
                gid: 200,
                groups: vec![110, 200]
            })),
            "the group named replaces the user's own"
        );
        assert_eq!(
            resolve(None, Some("web"), (0, 0)),
            Ok(Some(Privileges {
                uid: 0,
                gid: 200,
                groups: vec![200]
            }))
        );
    }

    #[test]
    fn unknown_users_and_groups_are_refused_with_the_key() {
        let e = resolve(Some("wwwdata"), None, (0, 0)).unwrap_err();
        assert_eq!(
            e,
            "server.user: there is no user \"wwwdata\" on this system"
        );
        let e = resolve(Some("www-data"), Some("webb"), (0, 0)).unwrap_err();
        assert_eq!(e, "server.group: there is no group \"webb\" on this system");
    }

    #[test]
    fn a_master_that_is_not_root_runs_workers_as_itself_or_refuses() {
        assert_eq!(resolve(Some("me"), Some("me"), (1000, 1000)), Ok(None));
        assert_eq!(resolve(Some("me"), None, (1000, 1000)), Ok(None));
        let e = resolve(Some("www-data"), None, (1000, 1000)).unwrap_err();
        assert!(
            e.starts_with(
                "server.user: \"www-data\": workers can run as another user or group \
                           only when the master runs as root, and it runs as uid 1000"
            ) && e.ends_with("or remove server.user"),
            "{e}"
        );
        let e = resolve(Some("me"), Some("web"), (1000, 1000)).unwrap_err();
        assert!(e.starts_with("server.group: \"web\""), "{e}");
    }

    #[test]
    fn the_workers_environment_is_roadrunners() {
        let mut server = ServerConfig::default();
        server.env.insert("APP_ENV".into(), "prod".into());
        server.env.insert("RR_MODE".into(), "http".into());
        let env = worker_env(&server);
        let get = |k: &str| {
            env.get(&OsString::from(k))
                .map(|v| v.to_string_lossy().into_owned())
        };
        assert_eq!(get("APP_ENV").as_deref(), Some("prod"));
        assert_eq!(get("RR_MODE").as_deref(), Some("ticker"), "not overridden");
        assert_eq!(get("RR_RELAY").as_deref(), Some("pipes"));
        assert_eq!(get("RR_VERSION").as_deref(), Some(RR_VERSION));
        assert_eq!(
            get("PATH"),
            std::env::var("PATH").ok(),
            "the master's environment"
        );
    }
}
