//! The `ticker` command's side of the control socket.
//!
//! Owns asking a master: connecting without waiting on a full backlog, sending one request
//! line, reading the answer whole, all within [`ANSWER_TIMEOUT`], and believing it only if
//! the socket is served by this user or root. The command runs as the operator, often
//! beside masters of other users, so a socket that another user can serve, or a master that
//! never answers, must not become a wrong answer or a hung command. It must not create,
//! check or remove anything in the runtime directory: that is the master's, by
//! `runtime_dir.rs`'s rules.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, UnixAddr, sockopt};
use nix::sys::time::{TimeVal, TimeValLike};

use super::runtime_dir::euid;

/// How long the `ticker` command waits for a master, from connecting to the end of the
/// answer. Longer than [`REQUEST_TIMEOUT`](super::REQUEST_TIMEOUT), so that a wave of idle
/// connections holding every slot of the control socket delays an answer but does not lose
/// it.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// A status answer is about 200 bytes per worker; a longer one is not a master's.
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// Why the command got no answer it may believe.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error("cannot connect: {0}")]
    Connect(io::Error),
    /// The socket is served by a process of another user, which could say anything.
    #[error(
        "it is served by a process of uid {uid}, not of this user (uid {}) or root; its \
         answer is not believed",
        euid()
    )]
    Untrusted { uid: u32 },
    #[error("no answer within {}", crate::config::format_duration(ANSWER_TIMEOUT))]
    TimedOut,
    #[error("the answer is longer than {MAX_ANSWER} bytes")]
    TooLong,
    #[error("the answer is not UTF-8 text")]
    NotText,
    #[error("{0}")]
    Io(io::Error),
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
    use std::os::unix::net::UnixListener;

    use super::*;
    use crate::control::testing::Scratch;

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
}
