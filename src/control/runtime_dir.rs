//! Where the control socket may go, and what may be done there.
//!
//! Owns the runtime directory (`$TICKER_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/ticker`, else
//! `/tmp/ticker-<uid>`) and the rules for a socket's directory, whether it is that one or a
//! place `ticker.control` names: made 0700 when missing, an existing one never changed,
//! only checked; and, at a socket's path, only a dead socket of this user may be removed.
//! The master and the `ticker` command both rely on these rules, so they live apart from
//! either side. This file must not bind, serve or read a socket: probing whether something
//! listens is as far as it goes, and binding is [`Door::control`](super::Door::control)'s.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, UnixAddr};

/// The directory that holds the control sockets of this user's masters.
pub fn runtime_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TICKER_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("ticker");
    }
    let uid = nix::unistd::getuid();
    std::env::temp_dir().join(format!("ticker-{uid}"))
}

/// The default control socket of the master with this pid.
pub fn default_socket(master_pid: i32) -> PathBuf {
    runtime_dir().join(format!("{master_pid}.sock"))
}

/// Who chose where the control socket goes, which decides how its directory is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// In [`runtime_dir`]: made (mode 0700) if missing, and it must be this user's alone.
    RuntimeDir,
    /// Named by `ticker.control`: its directory (made 0700 if missing) must belong to this
    /// user or root, and others may write into it only if it has the sticky bit, as `/tmp`
    /// has, so that no one else can remove or replace the socket.
    Named,
}

/// Why the control socket cannot be where it was meant to be.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The directory could not be made or looked at.
    #[error("cannot make or inspect the directory {}: {error}", .dir.display())]
    Dir { dir: PathBuf, error: io::Error },
    #[error(
        "{} is a symbolic link; the runtime directory must be a real directory",
        .dir.display()
    )]
    Symlink { dir: PathBuf },
    #[error("{} is not a directory", .dir.display())]
    NotADirectory { dir: PathBuf },
    /// The directory belongs to another user (for a named place: other than root).
    #[error(
        "the directory {} belongs to uid {uid}, not to this user (uid {}): its owner could \
         replace the socket",
        .dir.display(),
        euid()
    )]
    Owner { dir: PathBuf, uid: u32 },
    /// The runtime directory lets group or other users in.
    #[error(
        "the directory {shown} has mode {mode:04o}: other users could replace the socket in \
         it; it must be 0700 (chmod 700 {shown})",
        shown = .dir.display()
    )]
    OpenToOthers { dir: PathBuf, mode: u32 },
    /// A named place's directory lets others write into it, without the sticky bit.
    #[error(
        "the directory {} has mode {mode:04o}: other users may write into it, and without \
         the sticky bit they could replace the socket",
        .dir.display()
    )]
    WritableByOthers { dir: PathBuf, mode: u32 },
    /// Something else than a socket is at the socket's path: it is left alone.
    #[error("{} exists and is not a socket; it is left alone", .path.display())]
    NotASocket { path: PathBuf },
    /// A socket of another user is there: it is left alone.
    #[error("{} is a socket of uid {uid}; it is left alone", .path.display())]
    OthersSocket { path: PathBuf, uid: u32 },
    /// Something listens there (another master): it is left alone.
    #[error(
        "another process (another master?) listens on {}; it is left alone",
        .path.display()
    )]
    Live { path: PathBuf },
    /// A file is there and looking at it failed: it is left alone.
    #[error("{} exists and cannot be probed ({error}); it is left alone", .path.display())]
    Unprobed { path: PathBuf, error: io::Error },
    #[error("cannot listen on {}: {error}", .path.display())]
    Bind { path: PathBuf, error: io::Error },
}

pub(super) fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Makes `dir` (and missing parents) with mode 0700 unless it exists; never changes an
/// existing one. Whatever is there afterwards is then checked: mkdir, then lstat.
pub(super) fn make_dir(dir: &Path) -> Result<(), SocketError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|error| SocketError::Dir {
            dir: dir.to_owned(),
            error,
        })
}

/// Checks that `dir` is a directory of this user's alone: a real directory (`lstat`: a
/// symbolic link is refused, not followed), owned by this user, with no permission bits
/// for group or others.
pub fn check_private_dir(dir: &Path) -> Result<(), SocketError> {
    let meta = std::fs::symlink_metadata(dir).map_err(|error| SocketError::Dir {
        dir: dir.to_owned(),
        error,
    })?;
    let dir = dir.to_owned();
    if meta.file_type().is_symlink() {
        return Err(SocketError::Symlink { dir });
    }
    if !meta.is_dir() {
        return Err(SocketError::NotADirectory { dir });
    }
    if meta.uid() != euid() {
        return Err(SocketError::Owner {
            dir,
            uid: meta.uid(),
        });
    }
    if meta.mode() & 0o077 != 0 {
        return Err(SocketError::OpenToOthers {
            dir,
            mode: meta.mode() & 0o7777,
        });
    }
    Ok(())
}

/// The directory of a socket named by `ticker.control`: a path the operator chose, which
/// may go through symbolic links (`/var/run`), but which no other user may control.
pub(super) fn check_named_dir(dir: &Path) -> Result<(), SocketError> {
    let meta = std::fs::metadata(dir).map_err(|error| SocketError::Dir {
        dir: dir.to_owned(),
        error,
    })?;
    let dir = dir.to_owned();
    if !meta.is_dir() {
        return Err(SocketError::NotADirectory { dir });
    }
    if meta.uid() != euid() && meta.uid() != 0 {
        return Err(SocketError::Owner {
            dir,
            uid: meta.uid(),
        });
    }
    let sticky = meta.mode() & 0o1000 != 0;
    if meta.mode() & 0o022 != 0 && !sticky {
        return Err(SocketError::WritableByOthers {
            dir,
            mode: meta.mode() & 0o7777,
        });
    }
    Ok(())
}

/// What connecting to a Unix socket showed, without waiting for anything.
#[derive(Debug)]
pub enum Probe {
    /// Something listens (its backlog may even be full).
    Live,
    /// Nothing listens: a socket left by a process that died.
    Dead,
    Failed(io::Error),
}

/// Connects without blocking (a master with a full backlog would block a plain connect).
pub fn probe(path: &Path) -> Probe {
    let attempt = || -> nix::Result<()> {
        let fd = socket::socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            None,
        )?;
        socket::connect(fd.as_raw_fd(), &UnixAddr::new(path)?)
    };
    match attempt() {
        Ok(()) | Err(Errno::EAGAIN) | Err(Errno::EINPROGRESS) => Probe::Live,
        Err(Errno::ECONNREFUSED) => Probe::Dead,
        Err(e) => Probe::Failed(e.into()),
    }
}

/// Makes room for a socket at `path`: nothing there is fine; a dead socket of this user
/// (left by a master that was killed) is removed; anything else is left alone.
pub(super) fn clear_stale(path: &Path) -> Result<(), SocketError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => {
            return Err(SocketError::Unprobed {
                path: path.to_owned(),
                error,
            });
        }
    };
    let path = path.to_owned();
    if !meta.file_type().is_socket() {
        return Err(SocketError::NotASocket { path });
    }
    if meta.uid() != euid() {
        return Err(SocketError::OthersSocket {
            path,
            uid: meta.uid(),
        });
    }
    match probe(&path) {
        Probe::Live => Err(SocketError::Live { path }),
        Probe::Dead => {
            std::fs::remove_file(&path).map_err(|error| SocketError::Unprobed { path, error })
        }
        Probe::Failed(error) => Err(SocketError::Unprobed { path, error }),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixListener;

    use super::*;
    use crate::control::Door;
    use crate::control::testing::{Scratch, me};

    const NOBODY: u32 = 65534;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Needs root, as the tests of this repository run: makes `path` another user's.
    fn give_to_nobody(path: &Path) {
        std::os::unix::fs::lchown(path, Some(NOBODY), Some(NOBODY))
            .expect("chown to nobody (these tests run as root)");
    }

    fn private_dir(scratch: &Scratch, name: &str) -> PathBuf {
        let dir = scratch.join(name);
        std::fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
        dir
    }

    fn refused(path: &Path, placement: Placement) -> SocketError {
        match Door::control(path, placement, me()) {
            Ok(_) => panic!("{} was accepted", path.display()),
            Err(e) => e,
        }
    }

    #[test]
    fn a_runtime_dir_open_to_others_is_refused() {
        let scratch = Scratch::new("open");
        let dir = private_dir(&scratch, "run");
        chmod(&dir, 0o777);
        let e = refused(&dir.join("1.sock"), Placement::RuntimeDir);
        assert!(
            matches!(e, SocketError::OpenToOthers { mode: 0o777, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("mode 0777"), "{e}");
        assert!(!dir.join("1.sock").exists(), "nothing is bound there");
        chmod(&dir, 0o750);
        let e = refused(&dir.join("1.sock"), Placement::RuntimeDir);
        assert!(
            matches!(e, SocketError::OpenToOthers { mode: 0o750, .. }),
            "{e:?}"
        );
        chmod(&dir, 0o700);
        assert!(Door::control(&dir.join("1.sock"), Placement::RuntimeDir, me()).is_ok());
    }

    #[test]
    fn a_runtime_dir_of_another_user_is_refused() {
        let scratch = Scratch::new("owner");
        let dir = private_dir(&scratch, "run");
        give_to_nobody(&dir);
        let e = refused(&dir.join("1.sock"), Placement::RuntimeDir);
        assert!(matches!(e, SocketError::Owner { uid: NOBODY, .. }), "{e:?}");
        assert!(e.to_string().contains("belongs to uid 65534"), "{e}");
        assert!(!dir.join("1.sock").exists());
    }

    #[test]
    fn a_runtime_dir_that_is_a_symlink_is_refused_and_not_followed() {
        let scratch = Scratch::new("symlink");
        let target = private_dir(&scratch, "elsewhere");
        let link = scratch.join("run");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = refused(&link.join("1.sock"), Placement::RuntimeDir);
        assert!(matches!(e, SocketError::Symlink { .. }), "{e:?}");
        assert!(
            !target.join("1.sock").exists(),
            "nothing is bound through it"
        );
        let file = scratch.join("file");
        std::fs::write(&file, "").unwrap();
        let e = refused(&file.join("1.sock"), Placement::RuntimeDir);
        assert!(matches!(e, SocketError::NotADirectory { .. }), "{e:?}");
        // A dangling link: the mkdir fails, and the check says why.
        let dangling = scratch.join("dangling");
        std::os::unix::fs::symlink(scratch.join("nowhere"), &dangling).unwrap();
        let e = refused(&dangling.join("1.sock"), Placement::RuntimeDir);
        assert!(matches!(e, SocketError::Symlink { .. }), "{e:?}");
        assert!(
            !scratch.join("nowhere").exists(),
            "the link is not followed"
        );
    }

    #[test]
    fn a_named_socket_needs_a_directory_no_one_else_controls() {
        let scratch = Scratch::new("named");
        let dir = private_dir(&scratch, "shared");
        chmod(&dir, 0o777);
        let e = refused(&dir.join("x.sock"), Placement::Named);
        assert!(matches!(e, SocketError::WritableByOthers { .. }), "{e:?}");
        // As /tmp: others may write, but not remove or replace what is not theirs.
        chmod(&dir, 0o1777);
        drop(Door::control(&dir.join("x.sock"), Placement::Named, me()).unwrap());
        // Readable by others is fine for a named place: the socket itself is 0600.
        chmod(&dir, 0o755);
        drop(Door::control(&dir.join("x.sock"), Placement::Named, me()).unwrap());
        give_to_nobody(&dir);
        let e = refused(&dir.join("x.sock"), Placement::Named);
        assert!(matches!(e, SocketError::Owner { uid: NOBODY, .. }), "{e:?}");
    }

    #[test]
    fn only_a_dead_socket_of_this_user_is_replaced() {
        let scratch = Scratch::new("stale");
        // A regular file (a config, say) survives, whole.
        let file = scratch.join("config.yaml");
        std::fs::write(&file, "ticker: {}\n").unwrap();
        let e = refused(&file, Placement::Named);
        assert!(matches!(e, SocketError::NotASocket { .. }), "{e:?}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "ticker: {}\n");
        // So does a directory, and a symbolic link (to the config), and the config.
        let e = refused(&scratch.0, Placement::Named);
        assert!(matches!(e, SocketError::NotASocket { .. }), "{e:?}");
        let link = scratch.join("link.sock");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let e = refused(&link, Placement::Named);
        assert!(matches!(e, SocketError::NotASocket { .. }), "{e:?}");
        assert!(std::fs::symlink_metadata(&link).is_ok() && file.exists());

        // A live socket (another master's) keeps serving.
        let path = scratch.join("1.sock");
        let other = Door::control(&path, Placement::RuntimeDir, me()).unwrap();
        let e = refused(&path, Placement::RuntimeDir);
        assert!(matches!(e, SocketError::Live { .. }), "{e:?}");
        assert!(matches!(probe(&path), Probe::Live));

        // A dead one (its master was killed: the file stays) is replaced.
        drop(other);
        let dead = UnixListener::bind(&path).unwrap();
        drop(dead);
        assert!(matches!(probe(&path), Probe::Dead));
        let door = Door::control(&path, Placement::RuntimeDir, me()).unwrap();
        assert!(matches!(probe(&path), Probe::Live));
        drop(door);

        // A dead socket of another user is theirs to remove.
        drop(UnixListener::bind(&path).unwrap());
        give_to_nobody(&path);
        let e = refused(&path, Placement::RuntimeDir);
        assert!(
            matches!(e, SocketError::OthersSocket { uid: NOBODY, .. }),
            "{e:?}"
        );
        assert!(path.exists());
    }
}
