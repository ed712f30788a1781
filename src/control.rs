//! The master's two doors for operators: the control socket and the metrics endpoint.
//!
//! Owns the listening sockets, the short-lived connections on them, and their tiny
//! protocols: one request line on the control socket (`status` or `reset`) answered with
//! one JSON document, and an HTTP/1.x `GET /metrics` answered with Prometheus text. Both
//! are served from the master's poll loop, non-blocking, so a slow client can never stall
//! a tick. What to answer is the master's business: this module only hands over requests.
//!
//! Where the control socket lives is shared with the `ticker` command, which finds
//! masters there: `$TICKER_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/ticker`, else
//! `/tmp/ticker-<uid>`, one `<master pid>.sock` each.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::schedule::Mono;

/// A connection that has not sent its request by then is dropped.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Requests are one line or a few HTTP headers; anything longer is not for us.
const MAX_REQUEST: usize = 8 * 1024;

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
            let line = String::from_utf8_lossy(&bytes[..end]).trim().to_string();
            Some(match line.as_str() {
                "status" => Request::Status,
                "reset" => Request::Reset,
                _ => Request::Unknown(line),
            })
        }
        Kind::Http => {
            let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
            let head = String::from_utf8_lossy(&bytes[..end]);
            let mut words = head.lines().next().unwrap_or("").split_whitespace();
            Some(match (words.next(), words.next()) {
                (Some("GET"), Some("/metrics")) => Request::Metrics,
                (method, path) => {
                    Request::Unknown(format!("{} {}", method.unwrap_or(""), path.unwrap_or("")))
                }
            })
        }
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

enum Listener {
    Unix(UnixListener, PathBuf),
    Tcp(TcpListener),
}

/// A listening socket of the master.
pub struct Door {
    listener: Listener,
    owner: i32,
}

impl Door {
    /// Binds the control socket, creating its directory (private to this user) if needed.
    /// A stale socket left by a master that was killed is replaced.
    pub fn control(path: &Path, owner: i32) -> io::Result<Door> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        if path.exists() && UnixStream::connect(path).is_err() {
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        Ok(Door {
            listener: Listener::Unix(listener, path.to_path_buf()),
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
            Listener::Unix(..) => Kind::Control,
            Listener::Tcp(_) => Kind::Http,
        }
    }

    pub fn describe(&self) -> String {
        match &self.listener {
            Listener::Unix(_, path) => path.display().to_string(),
            Listener::Tcp(l) => l
                .local_addr()
                .map_or_else(|_| "?".into(), |a| format!("http://{a}/metrics")),
        }
    }

    /// Accepts every pending connection.
    pub fn accept(&self, now: Mono) -> Vec<Conn> {
        let mut conns = vec![];
        loop {
            let stream = match &self.listener {
                Listener::Unix(l, _) => l.accept().map(|(s, _)| Stream::Unix(s)),
                Listener::Tcp(l) => l.accept().map(|(s, _)| Stream::Tcp(s)),
            };
            match stream {
                Ok(stream) if stream.set_nonblocking().is_ok() => conns.push(Conn {
                    stream,
                    kind: self.kind(),
                    inbox: vec![],
                    deadline: now + REQUEST_TIMEOUT,
                }),
                Ok(_) => {}
                Err(_) => return conns,
            }
        }
    }
}

impl Drop for Door {
    /// Removes the socket file, in the master only: a forked worker drops its copy too.
    fn drop(&mut self) {
        if let Listener::Unix(_, path) = &self.listener
            && std::process::id() as i32 == self.owner
        {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl AsFd for Door {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.listener {
            Listener::Unix(l, _) => l.as_fd(),
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
}

/// One client connection, waiting for its request.
pub struct Conn {
    stream: Stream,
    kind: Kind,
    inbox: Vec<u8>,
    pub deadline: Mono,
}

/// What a read of a ready connection gave.
pub enum Incoming {
    Pending,
    Request(Request),
    /// Closed, failed or too long: drop it.
    Gone,
}

impl Conn {
    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn read(&mut self) -> Incoming {
        let mut buf = [0u8; 1024];
        let result = match &mut self.stream {
            Stream::Unix(s) => s.read(&mut buf),
            Stream::Tcp(s) => s.read(&mut buf),
        };
        match result {
            Ok(0) => Incoming::Gone,
            Ok(n) => {
                self.inbox.extend_from_slice(&buf[..n]);
                match parse_request(self.kind, &self.inbox) {
                    Some(request) => Incoming::Request(request),
                    None if self.inbox.len() > MAX_REQUEST => Incoming::Gone,
                    None => Incoming::Pending,
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Incoming::Pending,
            Err(_) => Incoming::Gone,
        }
    }

    /// Sends the answer and closes. Answers are a few kilobytes to a local client, which
    /// the socket buffer takes at once; a client that does not read loses its answer.
    pub fn answer(mut self, response: &str) {
        let _ = match &mut self.stream {
            Stream::Unix(s) => s.write_all(response.as_bytes()),
            Stream::Tcp(s) => s.write_all(response.as_bytes()),
        };
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

/// The `ticker` command's side: sends one request line, returns the answer.
pub fn ask(socket: &Path, request: &str) -> io::Result<String> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(format!("{request}\n").as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn responses_carry_their_length() {
        let r = http_response("200 OK", "text/plain", "abc");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(r.contains("Content-Length: 3\r\n"));
        assert!(r.ends_with("\r\n\r\nabc"));
    }

    #[test]
    fn a_control_socket_answers_over_a_real_socket() {
        let dir = std::env::temp_dir().join(format!("ticker-control-test-{}", std::process::id()));
        let path = dir.join("1.sock");
        let door = Door::control(&path, std::process::id() as i32).unwrap();
        let client = std::thread::spawn({
            let path = path.clone();
            move || ask(&path, "status").unwrap()
        });
        let mut conn = loop {
            if let Some(conn) = door.accept(Mono(0)).pop() {
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
        assert_eq!(request, Request::Status);
        conn.answer("{\"ok\":true}");
        assert_eq!(client.join().unwrap(), "{\"ok\":true}");
        drop(door);
        assert!(!path.exists(), "the master removes its socket");
        let _ = std::fs::remove_dir(&dir);
    }
}
