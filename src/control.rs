//! The master's two doors for operators: the control socket and the metrics endpoint.
//!
//! Owns the sockets themselves (binding, accepting, reading and writing a connection) and
//! their tiny protocols: one request line on the control socket (`status` or `reset`) answered with
//! one JSON document, and an HTTP/1.x `GET /metrics` answered with Prometheus text. Both
//! are served from the master's poll loop, non-blocking, so a slow client can never stall
//! a tick. What to answer, and how many connections to take, is the master's business
//! ([`crate::master`]): this module only accepts, reads and writes what it is told to.
//!
//! It also owns the safety of the control socket's place, on both sides. Where it lives is
//! shared with the `ticker` command, which finds masters there: `$TICKER_RUNTIME_DIR`,
//! else `$XDG_RUNTIME_DIR/ticker`, else `/tmp/ticker-<uid>`, one `<master pid>.sock` each.
//! That directory must be this user's alone (mode 0700, not a symbolic link), or another
//! local user could swap the socket; the master creates it so, refuses one that is not,
//! removes a file at the socket's path only if it is a dead socket of this user, and at
//! exit only the socket it bound itself. The command believes only an answer served by a
//! process of its own user (or root), and never waits longer than [`ANSWER_TIMEOUT`].

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, UnixAddr, sockopt};
use nix::sys::stat::Mode;
use nix::sys::time::{TimeVal, TimeValLike};

use crate::schedule::Mono;

/// A connection that has not sent its request and taken its answer by then is dropped.
/// Operators' clients send their request at once; an idle one only holds a slot.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Requests are one line or a few HTTP headers; anything longer is not for us.
const MAX_REQUEST: usize = 8 * 1024;

/// How long the `ticker` command waits for a master, from connecting to the end of the
/// answer. Longer than [`REQUEST_TIMEOUT`], so that a wave of idle connections holding
/// every slot of the control socket delays an answer but does not lose it.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// A status answer is about 200 bytes per worker; a longer one is not a master's.
const MAX_ANSWER: usize = 16 * 1024 * 1024;

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

// ---------------------------------------------------------------------------------------
// Where the control socket may go
// ---------------------------------------------------------------------------------------

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
#[derive(Debug)]
pub enum SocketError {
    /// The directory could not be made or looked at.
    Dir {
        dir: PathBuf,
        error: io::Error,
    },
    Symlink {
        dir: PathBuf,
    },
    NotADirectory {
        dir: PathBuf,
    },
    /// The directory belongs to another user (for a named place: other than root).
    Owner {
        dir: PathBuf,
        uid: u32,
    },
    /// The runtime directory lets group or other users in.
    OpenToOthers {
        dir: PathBuf,
        mode: u32,
    },
    /// A named place's directory lets others write into it, without the sticky bit.
    WritableByOthers {
        dir: PathBuf,
        mode: u32,
    },
    /// Something else than a socket is at the socket's path: it is left alone.
    NotASocket {
        path: PathBuf,
    },
    /// A socket of another user is there: it is left alone.
    OthersSocket {
        path: PathBuf,
        uid: u32,
    },
    /// Something listens there (another master): it is left alone.
    Live {
        path: PathBuf,
    },
    /// A file is there and looking at it failed: it is left alone.
    Unprobed {
        path: PathBuf,
        error: io::Error,
    },
    Bind {
        path: PathBuf,
        error: io::Error,
    },
}

impl fmt::Display for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let me = euid();
        match self {
            SocketError::Dir { dir, error } => {
                write!(
                    f,
                    "cannot make or inspect the directory {}: {error}",
                    dir.display()
                )
            }
            SocketError::Symlink { dir } => write!(
                f,
                "{} is a symbolic link; the runtime directory must be a real directory",
                dir.display()
            ),
            SocketError::NotADirectory { dir } => write!(f, "{} is not a directory", dir.display()),
            SocketError::Owner { dir, uid } => write!(
                f,
                "the directory {} belongs to uid {uid}, not to this user (uid {me}): its owner \
                 could replace the socket",
                dir.display()
            ),
            SocketError::OpenToOthers { dir, mode } => write!(
                f,
                "the directory {} has mode {mode:04o}: other users could replace the socket in \
                 it; it must be 0700 (chmod 700 {0})",
                dir.display()
            ),
            SocketError::WritableByOthers { dir, mode } => write!(
                f,
                "the directory {} has mode {mode:04o}: other users may write into it, and \
                 without the sticky bit they could replace the socket",
                dir.display()
            ),
            SocketError::NotASocket { path } => write!(
                f,
                "{} exists and is not a socket; it is left alone",
                path.display()
            ),
            SocketError::OthersSocket { path, uid } => write!(
                f,
                "{} is a socket of uid {uid}; it is left alone",
                path.display()
            ),
            SocketError::Live { path } => write!(
                f,
                "another process (another master?) listens on {}; it is left alone",
                path.display()
            ),
            SocketError::Unprobed { path, error } => write!(
                f,
                "{} exists and cannot be probed ({error}); it is left alone",
                path.display()
            ),
            SocketError::Bind { path, error } => {
                write!(f, "cannot listen on {}: {error}", path.display())
            }
        }
    }
}

fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Makes `dir` (and missing parents) with mode 0700 unless it exists; never changes an
/// existing one. Whatever is there afterwards is then checked: mkdir, then lstat.
fn make_dir(dir: &Path) -> Result<(), SocketError> {
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
fn check_named_dir(dir: &Path) -> Result<(), SocketError> {
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
fn clear_stale(path: &Path) -> Result<(), SocketError> {
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

// ---------------------------------------------------------------------------------------
// The protocols
// ---------------------------------------------------------------------------------------

/// What a client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Status,
    Reset,
    Metrics,
    /// Answered with an error, naming what was asked.
    Unknown(String),
}

/// Reads a request from the bytes received so far; `None` until it is complete.
pub fn parse_request(kind: Kind, bytes: &[u8]) -> Option<Request> {
    match kind {
        Kind::Control => {
            let end = bytes.iter().position(|&b| b == b'\n')?;
            Some(control_request(&bytes[..end]))
        }
        Kind::Http => {
            let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
            let head = String::from_utf8_lossy(&bytes[..end]);
            let mut words = head.lines().next().unwrap_or("").split_whitespace();
            // Prometheus adds a query string when a scrape config sets `params`.
            let path = |p: &str| p.split('?').next().unwrap_or("").to_owned();
            Some(match (words.next(), words.next().map(path)) {
                (Some("GET"), Some(p)) if p == "/metrics" => Request::Metrics,
                (method, path) => Request::Unknown(format!(
                    "{} {}",
                    method.unwrap_or(""),
                    path.unwrap_or_default()
                )),
            })
        }
    }
}

/// The request of a client that closed its side after sending it (`printf status` piped
/// into `socat`): a control line needs no newline then. Nothing for HTTP, which has its
/// blank line.
pub fn request_at_end(kind: Kind, bytes: &[u8]) -> Option<Request> {
    match kind {
        Kind::Control if !bytes.is_empty() => Some(control_request(bytes)),
        _ => None,
    }
}

fn control_request(line: &[u8]) -> Request {
    let line = String::from_utf8_lossy(line).trim().to_string();
    match line.as_str() {
        "status" => Request::Status,
        "reset" => Request::Reset,
        _ => Request::Unknown(line),
    }
}

/// An HTTP response with a body.
pub fn http_response(status: &str, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Control,
    Http,
}

impl Kind {
    /// The door's name in logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Control => "control",
            Kind::Http => "metrics",
        }
    }
}

// ---------------------------------------------------------------------------------------
// The master's side: doors and connections
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// The `ticker` command's side
// ---------------------------------------------------------------------------------------

/// Why the command got no answer it may believe.
#[derive(Debug)]
pub enum AskError {
    Connect(io::Error),
    /// The socket is served by a process of another user, which could say anything.
    Untrusted {
        uid: u32,
    },
    TimedOut,
    TooLong,
    NotText,
    Io(io::Error),
}

impl fmt::Display for AskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AskError::Connect(e) => write!(f, "cannot connect: {e}"),
            AskError::Untrusted { uid } => write!(
                f,
                "it is served by a process of uid {uid}, not of this user (uid {}) or root; \
                 its answer is not believed",
                euid()
            ),
            AskError::TimedOut => write!(
                f,
                "no answer within {}",
                humantime::format_duration(ANSWER_TIMEOUT)
            ),
            AskError::TooLong => write!(f, "the answer is longer than {MAX_ANSWER} bytes"),
            AskError::NotText => write!(f, "the answer is not UTF-8 text"),
            AskError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Sends one request line and returns the answer, within [`ANSWER_TIMEOUT`].
pub fn ask(socket: &Path, request: &str) -> Result<String, AskError> {
    ask_within(socket, request, ANSWER_TIMEOUT)
}

/// [`ask`], with another time limit for the whole exchange.
pub fn ask_within(socket: &Path, request: &str, timeout: Duration) -> Result<String, AskError> {
    let deadline = Instant::now() + timeout;
    // A zero timeout would mean "none" to the socket calls.
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    let mut stream = connect_within(socket, timeout)?;
    check_peer(&stream)?;
    let timed_out = |e: io::Error| match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => AskError::TimedOut,
        _ => AskError::Io(e),
    };
    stream
        .set_write_timeout(Some(left()))
        .map_err(AskError::Io)?;
    stream
        .write_all(format!("{request}\n").as_bytes())
        .map_err(timed_out)?;
    let mut answer = vec![];
    let mut buf = [0u8; 64 * 1024];
    loop {
        if Instant::now() >= deadline {
            return Err(AskError::TimedOut);
        }
        stream
            .set_read_timeout(Some(left()))
            .map_err(AskError::Io)?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if answer.len() > MAX_ANSWER {
                    return Err(AskError::TooLong);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(timed_out(e)),
        }
    }
    String::from_utf8(answer).map_err(|_| AskError::NotText)
}

/// Connects, waiting at most `timeout` for room in the listener's backlog (a plain
/// connect to a master whose backlog is full would wait for ever).
fn connect_within(socket: &Path, timeout: Duration) -> Result<UnixStream, AskError> {
    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| AskError::Connect(e.into()))?;
    let ms = i64::try_from(timeout.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    socket::setsockopt(&fd, sockopt::SendTimeout, &TimeVal::milliseconds(ms))
        .map_err(|e| AskError::Connect(e.into()))?;
    let address = UnixAddr::new(socket).map_err(|e| AskError::Connect(e.into()))?;
    match socket::connect(fd.as_raw_fd(), &address) {
        Ok(()) => Ok(UnixStream::from(fd)),
        Err(Errno::EAGAIN | Errno::EINPROGRESS) => Err(AskError::TimedOut),
        Err(e) => Err(AskError::Connect(e.into())),
    }
}

/// Believes only a server of this user, or root (who could fake anything anyway).
fn check_peer(stream: &UnixStream) -> Result<(), AskError> {
    let peer = socket::getsockopt(stream, sockopt::PeerCredentials)
        .map_err(|e| AskError::Connect(e.into()))?;
    if peer.uid() == euid() || peer.uid() == 0 {
        Ok(())
    } else {
        Err(AskError::Untrusted { uid: peer.uid() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A fresh directory of this user's alone, removed at the end.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let dir = std::env::temp_dir().join(format!(
                "ticker-control-test-{name}-{}-{n}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
            Scratch(dir)
        }

        fn join(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const NOBODY: u32 = 65534;

    fn me() -> i32 {
        std::process::id() as i32
    }

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

    #[test]
    fn control_requests_are_one_line() {
        assert_eq!(parse_request(Kind::Control, b"stat"), None);
        assert_eq!(
            parse_request(Kind::Control, b"status\n"),
            Some(Request::Status)
        );
        assert_eq!(
            parse_request(Kind::Control, b" reset \r\n"),
            Some(Request::Reset)
        );
        assert_eq!(
            parse_request(Kind::Control, b"explode\n"),
            Some(Request::Unknown("explode".into()))
        );
    }

    #[test]
    fn http_requests_need_their_whole_head() {
        assert_eq!(
            parse_request(Kind::Http, b"GET /metrics HTTP/1.1\r\n"),
            None
        );
        assert_eq!(
            parse_request(Kind::Http, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(Request::Metrics)
        );
        assert_eq!(
            parse_request(Kind::Http, b"GET / HTTP/1.1\r\n\r\n"),
            Some(Request::Unknown("GET /".into()))
        );
        assert_eq!(
            parse_request(Kind::Http, b"GET /metrics?job=app HTTP/1.1\r\n\r\n"),
            Some(Request::Metrics),
            "a scrape config's params do not change the path"
        );
    }

    #[test]
    fn a_control_line_may_end_with_the_clients_end_of_stream() {
        assert_eq!(
            request_at_end(Kind::Control, b"status"),
            Some(Request::Status)
        );
        assert_eq!(request_at_end(Kind::Control, b""), None);
        assert_eq!(
            request_at_end(Kind::Http, b"GET /metrics HTTP/1.1\r\n"),
            None
        );
    }

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

    #[test]
    fn responses_carry_their_length() {
        let r = http_response("200 OK", "text/plain", "abc");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(r.contains("Content-Length: 3\r\n"));
        assert!(r.ends_with("\r\n\r\nabc"));
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
    fn a_server_that_never_answers_times_out() {
        let scratch = Scratch::new("silent");
        let path = scratch.join("1.sock");
        let _listener = UnixListener::bind(&path).unwrap();
        let started = Instant::now();
        // Connected (in the backlog), never accepted, never answered.
        let e = ask_within(&path, "status", Duration::from_millis(200)).unwrap_err();
        assert!(matches!(e, AskError::TimedOut), "{e:?}");
        assert!(started.elapsed() < Duration::from_secs(60));
        assert!(e.to_string().starts_with("no answer within"), "{e}");
    }

    #[test]
    fn a_server_that_trickles_its_answer_still_times_out() {
        let scratch = Scratch::new("trickle");
        let path = scratch.join("1.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            // One byte every 50 ms: each read alone would be within any per-read timeout.
            for _ in 0..100 {
                if stream.write_all(b" ").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let e = ask_within(&path, "status", Duration::from_millis(300)).unwrap_err();
        assert!(matches!(e, AskError::TimedOut), "{e:?}");
        server.join().unwrap();
    }

    /// Property tests: `PROPTEST_CASES=100000 cargo test --release --lib properties`.
    mod properties {
        use super::*;

        proptest::proptest! {
            /// Any bytes are a request, no request yet, or too long: never a panic.
            #[test]
            fn any_bytes_are_read_as_a_request_or_not_yet(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
                let control = parse_request(Kind::Control, &bytes);
                proptest::prop_assert_eq!(control.is_some(), bytes.contains(&b'\n'));
                let http = parse_request(Kind::Http, &bytes);
                proptest::prop_assert_eq!(http.is_some(), bytes.windows(4).any(|w| w == b"\r\n\r\n"));
            }
        }
    }

    #[test]
    fn out_of_fds_is_told_apart() {
        assert!(is_out_of_fds(&io::Error::from_raw_os_error(libc::EMFILE)));
        assert!(is_out_of_fds(&io::Error::from_raw_os_error(libc::ENFILE)));
        assert!(!is_out_of_fds(&io::Error::from_raw_os_error(libc::EINVAL)));
    }
}
