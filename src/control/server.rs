//! The master's side of the doors: listening sockets and the connections they accept.
//!
//! Owns [`Door`] (binding the control socket or the metrics endpoint, accepting, removing
//! the socket file at exit) and [`Conn`] (reading a request, writing its answer), all of it
//! non-blocking: the master polls their descriptors in its loop, so a slow or idle client
//! costs a slot, never a tick. It must not decide what to answer or how many connections to
//! hold (the master's), nor judge a socket's directory itself: `runtime_dir.rs` does that
//! before anything is bound.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::stat::Mode;

use super::protocol::{Kind, MAX_REQUEST, Request, parse_request, request_at_end};
use super::runtime_dir::{
    Placement, SocketError, check_named_dir, check_private_dir, clear_stale, make_dir,
};
use crate::schedule::Mono;

/// A connection that has not sent its request and taken its answer by then is dropped.
/// Operators' clients send their request at once; an idle one only holds a slot.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

enum Listener {
    Unix {
        listener: UnixListener,
        path: PathBuf,
        /// Device and inode of the socket file bound: only that file is removed at exit.
        bound: (u64, u64),
    },
    Tcp(TcpListener),
}

/// A listening socket of the master.
pub struct Door {
    listener: Listener,
    owner: i32,
}

/// What one [`Door::accept`] gave.
pub struct Accepted {
    pub conns: Vec<Conn>,
    /// Why it stopped taking connections.
    pub end: AcceptEnd,
}

pub enum AcceptEnd {
    /// No connection is waiting any more.
    Drained,
    /// It took as many as it was allowed to.
    Limit,
    /// `accept` failed: out of descriptors or memory ([`is_out_of_fds`]), or otherwise.
    Failed(io::Error),
}

/// Whether a failed `accept` (or `socket`, `pipe`) means the process or the system is out
/// of file descriptors or socket memory: waiting helps, retrying at once does not.
pub fn is_out_of_fds(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

impl Door {
    /// Binds the control socket at `path`, after checking its directory as `placement`
    /// says (creating it, private to this user, if missing). A dead socket of this user
    /// (left by a master that was killed) is replaced; any other file is left alone.
    pub fn control(path: &Path, placement: Placement, owner: i32) -> Result<Door, SocketError> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let check = match placement {
            Placement::RuntimeDir => check_private_dir,
            Placement::Named => check_named_dir,
        };
        // What stopped the mkdir (a dangling link, a file) is best told by the check.
        if let Err(e) = make_dir(dir) {
            check(dir)?;
            return Err(e);
        }
        check(dir)?;
        clear_stale(path)?;
        let bind_error = |error| SocketError::Bind {
            path: path.to_owned(),
            error,
        };
        // Created 0600, with no moment at a wider mode: the master is the process's only
        // thread, so the umask is changed for this call alone.
        let umask = nix::sys::stat::umask(Mode::from_bits_truncate(0o177));
        let bound = UnixListener::bind(path);
        nix::sys::stat::umask(umask);
        let listener = bound.map_err(bind_error)?;
        let meta = std::fs::symlink_metadata(path).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        Ok(Door {
            listener: Listener::Unix {
                listener,
                path: path.to_path_buf(),
                bound: (meta.dev(), meta.ino()),
            },
            owner,
        })
    }

    pub fn metrics(address: SocketAddr, owner: i32) -> io::Result<Door> {
        let listener = TcpListener::bind(address)?;
        listener.set_nonblocking(true)?;
        Ok(Door {
            listener: Listener::Tcp(listener),
            owner,
        })
    }

    pub fn kind(&self) -> Kind {
        match self.listener {
            Listener::Unix { .. } => Kind::Control,
            Listener::Tcp(_) => Kind::Http,
        }
    }

    pub fn describe(&self) -> String {
        match &self.listener {
            Listener::Unix { path, .. } => path.display().to_string(),
            Listener::Tcp(l) => l
                .local_addr()
                .map_or_else(|_| "?".into(), |a| format!("http://{a}/metrics")),
        }
    }

    /// Accepts pending connections, at most `max`.
    pub fn accept(&self, now: Mono, max: usize) -> Accepted {
        let mut conns = vec![];
        while conns.len() < max {
            let stream = match &self.listener {
                Listener::Unix { listener, .. } => listener.accept().map(|(s, _)| Stream::Unix(s)),
                Listener::Tcp(l) => l.accept().map(|(s, _)| Stream::Tcp(s)),
            };
            match stream {
                Ok(stream) => {
                    if stream.set_nonblocking().is_ok() {
                        conns.push(Conn {
                            stream,
                            kind: self.kind(),
                            state: State::Reading(vec![]),
                            deadline: now + REQUEST_TIMEOUT,
                        });
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Accepted {
                        conns,
                        end: AcceptEnd::Drained,
                    };
                }
                // The client gave up before it was taken: the next one may be fine.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(e) => {
                    return Accepted {
                        conns,
                        end: AcceptEnd::Failed(e),
                    };
                }
            }
        }
        Accepted {
            conns,
            end: AcceptEnd::Limit,
        }
    }
}

impl Drop for Door {
    /// Removes the socket file, in the master only (a forked worker drops its copy too),
    /// and only if it is still the one this door bound: another master may have bound the
    /// path since someone removed ours.
    fn drop(&mut self) {
        if let Listener::Unix { path, bound, .. } = &self.listener
            && std::process::id() as i32 == self.owner
            && std::fs::symlink_metadata(path).is_ok_and(|m| (m.dev(), m.ino()) == *bound)
        {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl AsFd for Door {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.listener {
            Listener::Unix { listener, .. } => listener.as_fd(),
            Listener::Tcp(l) => l.as_fd(),
        }
    }
}

enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn set_nonblocking(&self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_nonblocking(true),
            Stream::Tcp(s) => s.set_nonblocking(true),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }
}

enum State {
    /// The request received so far.
    Reading(Vec<u8>),
    /// The part of the answer the client has not taken yet.
    Writing(Vec<u8>, usize),
}

/// One client connection: its request coming in, then its answer going out.
pub struct Conn {
    stream: Stream,
    kind: Kind,
    state: State,
    /// The whole exchange must be over by then.
    pub deadline: Mono,
}

/// What a read of a ready connection gave.
pub enum Incoming {
    Pending,
    Request(Request),
    /// Closed, failed or too long: drop it.
    Gone,
}

/// How far an answer went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outgoing {
    /// Sent whole: close the connection.
    Done,
    /// The client's socket is full: go on when it is writable.
    Pending,
    /// The client went away: drop it.
    Gone,
}

impl Conn {
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Whether the answer is being sent (and the connection waits to be writable).
    pub fn is_answering(&self) -> bool {
        matches!(self.state, State::Writing(..))
    }

    pub fn read(&mut self) -> Incoming {
        let State::Reading(inbox) = &mut self.state else {
            return Incoming::Pending;
        };
        let mut buf = [0u8; 1024];
        match self.stream.read(&mut buf) {
            Ok(0) => match request_at_end(self.kind, inbox) {
                Some(request) => Incoming::Request(request),
                None => Incoming::Gone,
            },
            Ok(n) => {
                inbox.extend_from_slice(&buf[..n]);
                match parse_request(self.kind, inbox) {
                    Some(request) => Incoming::Request(request),
                    None if inbox.len() > MAX_REQUEST => Incoming::Gone,
                    None => Incoming::Pending,
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Incoming::Pending,
            Err(_) => Incoming::Gone,
        }
    }

    /// Starts sending the answer: as much as the socket takes now, the rest by [`Conn::write`].
    pub fn answer(&mut self, response: String) -> Outgoing {
        self.state = State::Writing(response.into_bytes(), 0);
        self.write()
    }

    /// Sends more of the answer.
    pub fn write(&mut self) -> Outgoing {
        let State::Writing(outbox, sent) = &mut self.state else {
            return Outgoing::Pending;
        };
        while *sent < outbox.len() {
            match self.stream.write(&outbox[*sent..]) {
                Ok(0) => return Outgoing::Gone,
                Ok(n) => *sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Outgoing::Pending,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Outgoing::Gone,
            }
        }
        Outgoing::Done
    }
}

impl AsFd for Conn {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.stream {
            Stream::Unix(s) => s.as_fd(),
            Stream::Tcp(s) => s.as_fd(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::testing::{Scratch, me};
    use crate::control::{Probe, ask, probe};

    #[test]
    fn a_client_that_shuts_its_side_after_the_request_gets_its_answer() {
        let scratch = Scratch::new("shut");
        let path = scratch.join("1.sock");
        let door = Door::control(&path, Placement::RuntimeDir, me()).unwrap();
        let client = std::thread::spawn({
            let path = path.clone();
            move || {
                let mut stream = UnixStream::connect(&path).unwrap();
                stream.write_all(b"status").unwrap();
                stream.shutdown(std::net::Shutdown::Write).unwrap();
                let mut got = String::new();
                stream.read_to_string(&mut got).unwrap();
                got
            }
        });
        let (mut conn, request) = accept_request(&door);
        assert_eq!(request, Request::Status);
        assert_eq!(conn.answer("{\"ok\":true}".into()), Outgoing::Done);
        drop(conn);
        assert_eq!(client.join().unwrap(), "{\"ok\":true}");
    }

    /// Accepts the one connection a client thread makes, and reads its request.
    fn accept_request(door: &Door) -> (Conn, Request) {
        let mut conn = loop {
            if let Some(conn) = door.accept(Mono(0), 1).conns.pop() {
                break conn;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let request = loop {
            match conn.read() {
                Incoming::Request(r) => break r,
                Incoming::Pending => std::thread::sleep(Duration::from_millis(1)),
                Incoming::Gone => panic!("client went away"),
            }
        };
        (conn, request)
    }

    #[test]
    fn a_control_socket_answers_over_a_real_socket() {
        let scratch = Scratch::new("answers");
        let path = scratch.join("run/1.sock");
        let door = Door::control(&path, Placement::RuntimeDir, me()).unwrap();
        let mode = std::fs::metadata(scratch.join("run")).unwrap().mode();
        assert_eq!(mode & 0o777, 0o700, "a missing runtime dir is made private");
        let socket_mode = std::fs::symlink_metadata(&path).unwrap().mode();
        assert_eq!(socket_mode & 0o777, 0o600);
        let client = std::thread::spawn({
            let path = path.clone();
            move || ask(&path, "status").unwrap()
        });
        let (mut conn, request) = accept_request(&door);
        assert_eq!(request, Request::Status);
        assert_eq!(conn.answer("{\"ok\":true}".into()), Outgoing::Done);
        drop(conn);
        assert_eq!(client.join().unwrap(), "{\"ok\":true}");
        drop(door);
        assert!(!path.exists(), "the master removes its socket");
    }

    #[test]
    fn an_answer_larger_than_the_socket_buffer_arrives_whole() {
        let scratch = Scratch::new("large");
        let path = scratch.join("1.sock");
        let door = Door::control(&path, Placement::RuntimeDir, me()).unwrap();
        let answer: String = (0..4 << 20)
            .map(|i| (b'a' + (i % 26) as u8) as char)
            .collect();
        let client = std::thread::spawn({
            let path = path.clone();
            move || {
                let mut stream = UnixStream::connect(&path).unwrap();
                stream.write_all(b"status\n").unwrap();
                // A slow reader: the master must not give up on it or lose the rest.
                std::thread::sleep(Duration::from_millis(100));
                let mut got = String::new();
                stream.read_to_string(&mut got).unwrap();
                got
            }
        });
        let (mut conn, _) = accept_request(&door);
        let mut progress = conn.answer(answer.clone());
        assert_eq!(progress, Outgoing::Pending, "4 MiB do not fit at once");
        assert!(conn.is_answering());
        while progress == Outgoing::Pending {
            std::thread::sleep(Duration::from_millis(1));
            progress = conn.write();
        }
        assert_eq!(progress, Outgoing::Done);
        drop(conn);
        assert!(client.join().unwrap() == answer, "the answer arrived whole");
    }

    #[test]
    fn at_exit_only_the_socket_bound_is_removed() {
        let scratch = Scratch::new("exit");
        let path = scratch.join("1.sock");
        let door = Door::control(&path, Placement::RuntimeDir, me()).unwrap();
        // Someone removed it, and another master bound the same path since.
        std::fs::remove_file(&path).unwrap();
        let other = Door::control(&path, Placement::RuntimeDir, me()).unwrap();
        drop(door);
        assert!(
            matches!(probe(&path), Probe::Live),
            "the other master keeps its socket"
        );
        drop(other);
        assert!(!path.exists());
        // A worker (another pid) drops its copy of the door without touching the file.
        let door = Door::control(&path, Placement::RuntimeDir, me() + 1).unwrap();
        drop(door);
        assert!(path.exists());
    }

    #[test]
    fn out_of_fds_is_told_apart() {
        assert!(is_out_of_fds(&io::Error::from_raw_os_error(libc::EMFILE)));
        assert!(is_out_of_fds(&io::Error::from_raw_os_error(libc::ENFILE)));
        assert!(!is_out_of_fds(&io::Error::from_raw_os_error(libc::EINVAL)));
    }
}
