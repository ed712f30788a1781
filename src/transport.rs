//! One duplex byte channel between the master and one worker, carrying goridge frames.
//!
//! Owns the file descriptors of a channel, buffering of partial frames both ways, and the
//! two ways of using it: blocking (the worker: wait for a whole frame, write a whole frame)
//! and non-blocking (the master, driven by its poller: take what one ready read gives, and
//! queue what the kernel does not take at once in an outbox that is flushed when the
//! channel becomes writable, so a worker that stops reading can never block the master).
//! A connected socket pair and a pair of pipes (RoadRunner's `pipes` relay: the worker's
//! stdin and stdout) are the same thing to the rest of the crate. It does not interpret
//! frames: see [`crate::message`].

use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{MsgFlags, UnixAddr, sendmsg};

use crate::frame::{DecodeError, Frame};

/// Bytes asked of the kernel per read at least; a frame whose header says it is larger is
/// asked for whole, so one ready read usually takes it in one go.
const READ_CHUNK: usize = 64 * 1024;

enum Ends {
    /// A connected stream socket: one fd both ways.
    Socket(OwnedFd),
    /// Two pipes: read from one, write to the other.
    Pipes { read: OwnedFd, write: OwnedFd },
}

#[derive(Debug)]
pub enum RecvError {
    /// The peer closed its end.
    Closed,
    Io(io::Error),
    Malformed(DecodeError),
}

impl std::fmt::Display for RecvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecvError::Closed => f.write_str("closed its end of the channel"),
            RecvError::Io(e) => write!(f, "channel read failed: {e}"),
            RecvError::Malformed(e) => write!(f, "sent a malformed frame: {e}"),
        }
    }
}

/// What one read of a ready channel gave.
pub enum Filled {
    /// Some bytes arrived (maybe not a whole frame yet), or none after all.
    Data,
    /// End of stream: the peer closed or died.
    Closed,
}

/// Whether a non-blocking write left bytes behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Everything is with the kernel.
    All,
    /// Some bytes wait in the outbox: flush when the channel is writable.
    Queued,
}

pub struct Channel {
    ends: Ends,
    inbox: Vec<u8>,
    /// Bytes the kernel has not taken yet (the master's side only), oldest first.
    outbox: Vec<u8>,
    max_payload: usize,
}

impl Channel {
    pub fn socket(fd: OwnedFd, max_payload: usize) -> Channel {
        Channel {
            ends: Ends::Socket(fd),
            inbox: Vec::new(),
            outbox: Vec::new(),
            max_payload,
        }
    }

    pub fn pipes(read: OwnedFd, write: OwnedFd, max_payload: usize) -> Channel {
        Channel {
            ends: Ends::Pipes { read, write },
            inbox: Vec::new(),
            outbox: Vec::new(),
            max_payload,
        }
    }

    /// Every descriptor the channel holds.
    pub fn descriptors(&self) -> Vec<BorrowedFd<'_>> {
        match &self.ends {
            Ends::Socket(fd) => vec![fd.as_fd()],
            Ends::Pipes { read, write } => vec![read.as_fd(), write.as_fd()],
        }
    }

    fn read_fd(&self) -> BorrowedFd<'_> {
        match &self.ends {
            Ends::Socket(fd) => fd.as_fd(),
            Ends::Pipes { read, .. } => read.as_fd(),
        }
    }

    /// The fd to watch for writability while the outbox holds bytes.
    pub fn write_fd(&self) -> BorrowedFd<'_> {
        match &self.ends {
            Ends::Socket(fd) => fd.as_fd(),
            Ends::Pipes { write, .. } => write.as_fd(),
        }
    }

    /// Whether reading and writing use one descriptor (a socket) or two (pipes).
    pub fn is_duplex(&self) -> bool {
        matches!(self.ends, Ends::Socket(_))
    }

    /// Makes the master's ends non-blocking; [`Channel::queue`] and [`Channel::fill`] then
    /// never wait.
    pub fn set_nonblocking(&self) -> io::Result<()> {
        crate::sys::set_nonblocking(self.read_fd())?;
        if !self.is_duplex() {
            crate::sys::set_nonblocking(self.write_fd())?;
        }
        Ok(())
    }

    /// One write of `parts`, as much as the kernel takes. `MSG_NOSIGNAL`: a dead peer gives
    /// EPIPE, not a SIGPIPE that would kill the master; pipes have no such flag, and the
    /// master of command-started workers ignores SIGPIPE.
    fn write_once(&self, parts: &[&[u8]]) -> io::Result<usize> {
        let iov: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
        let written = match &self.ends {
            Ends::Socket(fd) => sendmsg::<UnixAddr>(
                fd.as_raw_fd(),
                &iov,
                &[],
                MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT,
                None,
            ),
            Ends::Pipes { write, .. } => nix::sys::uio::writev(write, &iov),
        };
        written.map_err(io::Error::from)
    }

    /// Writes the whole frame, blocking until the kernel took it (the worker's side). The
    /// prefix and the payload go out in one vectored write, so the payload is never copied.
    pub fn send(&self, frame: &Frame) -> io::Result<()> {
        let prefix = frame.prefix();
        let mut parts = [&prefix[..], &frame.payload[..]];
        while !parts.iter().all(|p| p.is_empty()) {
            match self.write_once(&parts) {
                Ok(n) => advance(&mut parts, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait_for(self.write_fd(), PollFlags::POLLOUT)?
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sends a frame without ever blocking (the master's side): what the kernel does not
    /// take now waits in the outbox, behind anything already there.
    pub fn queue(&mut self, frame: &Frame) -> io::Result<Sent> {
        let prefix = frame.prefix();
        if self.outbox.is_empty() {
            let mut parts = [&prefix[..], &frame.payload[..]];
            loop {
                match self.write_once(&parts) {
                    Ok(n) => advance(&mut parts, n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
                if parts.iter().all(|p| p.is_empty()) {
                    return Ok(Sent::All);
                }
                break;
            }
            for part in parts {
                self.outbox.extend_from_slice(part);
            }
        } else {
            self.outbox.extend_from_slice(&prefix);
            self.outbox.extend_from_slice(&frame.payload);
        }
        Ok(Sent::Queued)
    }

    /// Writes what the outbox holds, as far as the kernel takes it now.
    pub fn flush(&mut self) -> io::Result<Sent> {
        while !self.outbox.is_empty() {
            match self.write_once(&[&self.outbox]) {
                Ok(n) => {
                    self.outbox.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Sent::Queued),
                Err(e) => return Err(e),
            }
        }
        Ok(Sent::All)
    }

    /// Bytes waiting in the outbox.
    pub fn queued(&self) -> usize {
        self.outbox.len()
    }

    /// One read from a channel that poll reported readable: never blocks on a ready fd.
    pub fn fill(&mut self) -> io::Result<Filled> {
        let wanted = Frame::missing_bytes(&self.inbox, self.max_payload).max(READ_CHUNK);
        self.inbox.reserve(wanted);
        let fd = self.read_fd().as_raw_fd();
        let n = loop {
            let spare = self.inbox.spare_capacity_mut();
            // SAFETY: `spare` is writable memory of the length given, owned by `inbox`; the
            // kernel writes at most that many bytes and they are not read before `set_len`.
            let n = unsafe { libc::read(fd, spare.as_mut_ptr().cast(), spare.len()) };
            if n >= 0 {
                break n as usize;
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock => return Ok(Filled::Data),
                _ => return Err(err),
            }
        };
        if n == 0 {
            return Ok(Filled::Closed);
        }
        // SAFETY: the read above initialised the first `n` spare bytes.
        unsafe { self.inbox.set_len(self.inbox.len() + n) };
        Ok(Filled::Data)
    }

    /// The next whole frame already buffered, if any.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        match Frame::decode(&self.inbox, self.max_payload)? {
            Some((frame, used)) => {
                self.inbox.drain(..used);
                Ok(Some(frame))
            }
            None => Ok(None),
        }
    }

    /// Blocks until a whole frame has arrived.
    pub fn recv(&mut self) -> Result<Frame, RecvError> {
        loop {
            if let Some(frame) = self.next_frame().map_err(RecvError::Malformed)? {
                return Ok(frame);
            }
            // A read blocked on a stream socket is also woken when the peer takes what this
            // end wrote: the kernel wakes every sleeper on the socket to say it is writable
            // again. A worker blocked in read for its next tick is so woken, for nothing, each
            // time the master reads its answer, and preempts the master: two more context
            // switches per tick. A poll for input only is not woken by that. A pipe's reader
            // is woken by its writer only.
            if self.is_duplex() {
                wait_for(self.read_fd(), PollFlags::POLLIN).map_err(RecvError::Io)?;
            }
            match self.fill().map_err(RecvError::Io)? {
                Filled::Data => {}
                Filled::Closed => return Err(RecvError::Closed),
            }
        }
    }
}

/// Blocks until `fd` is ready for `events`, through signals.
fn wait_for(fd: BorrowedFd<'_>, events: PollFlags) -> io::Result<()> {
    loop {
        match poll(&mut [PollFd::new(fd, events)], PollTimeout::NONE) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Drops the first `n` bytes of a vectored write.
fn advance(parts: &mut [&[u8]], mut n: usize) {
    for part in parts.iter_mut() {
        let taken = n.min(part.len());
        *part = &part[taken..];
        n -= taken;
    }
}

impl AsFd for Channel {
    /// The fd to poll for incoming frames.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.read_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{MAX_PAYLOAD, flags};
    use crate::sys::socket_pair;

    fn pipe() -> (OwnedFd, OwnedFd) {
        let (r, w) = std::io::pipe().unwrap();
        (OwnedFd::from(r), OwnedFd::from(w))
    }

    #[test]
    fn a_socket_pair_carries_frames_both_ways() {
        let (a, b) = socket_pair().unwrap();
        let mut a = Channel::socket(a, MAX_PAYLOAD);
        let mut b = Channel::socket(b, MAX_PAYLOAD);
        let frame = Frame::new(0, vec![1], b"hbody".to_vec());
        a.send(&frame).unwrap();
        assert_eq!(b.recv().unwrap(), frame);
        b.send(&Frame::new(flags::ERROR, vec![], b"no".to_vec()))
            .unwrap();
        assert_eq!(a.recv().unwrap().payload, b"no");
    }

    /// Thread `tid` of this process: its state letter, and how many times it gave up its
    /// CPU to wait.
    fn thread_sleeps(tid: i32) -> (char, u64) {
        let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).unwrap();
        let field = |name: &str| {
            let line = status.lines().find(|l| l.starts_with(name)).unwrap();
            line[name.len()..].trim().to_string()
        };
        let state = field("State:").chars().next().unwrap();
        (state, field("voluntary_ctxt_switches:").parse().unwrap())
    }

    #[test]
    fn a_receive_sleeps_through_the_peer_reading_what_it_sent() {
        // A worker answers, then waits for its next tick while the master reads the answer:
        // the read must not wake it. A wake-up makes the sleeper runnable within the read
        // itself, so right after it the thread is either still asleep with the same count,
        // or was woken, whenever the scheduler lets it run.
        let (a, b) = socket_pair().unwrap();
        let mut master = Channel::socket(a, MAX_PAYLOAD);
        let mut worker = Channel::socket(b, MAX_PAYLOAD);
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let waiting = std::thread::spawn(move || {
            tid_tx.send(nix::unistd::gettid().as_raw()).unwrap();
            worker
                .send(&Frame::new(0, vec![], b"answer".to_vec()))
                .unwrap();
            worker.recv().unwrap().payload
        });
        let tid = tid_rx.recv().unwrap();
        let asleep = (0..60_000)
            .find_map(|_| {
                let (state, sleeps) = thread_sleeps(tid);
                std::thread::sleep(std::time::Duration::from_millis(1));
                (state == 'S').then_some(sleeps)
            })
            .expect("the receiving thread sleeps within a minute");
        assert_eq!(master.recv().unwrap().payload, b"answer");
        let after = thread_sleeps(tid);
        master
            .send(&Frame::new(0, vec![], b"tick".to_vec()))
            .unwrap();
        assert_eq!(waiting.join().unwrap(), b"tick");
        assert_eq!(
            after,
            ('S', asleep),
            "the receive was woken when the master read the answer"
        );
    }

    #[test]
    fn a_pipe_pair_is_the_same_thing() {
        let (r1, w1) = pipe();
        let (r2, w2) = pipe();
        let master = Channel::pipes(r1, w2, MAX_PAYLOAD);
        let mut worker = Channel::pipes(r2, w1, MAX_PAYLOAD);
        let big = Frame::new(0, vec![0], vec![7; 200_000]);
        let sender = std::thread::spawn(move || {
            master.send(&big).unwrap();
            master
        });
        let got = worker.recv().unwrap();
        assert_eq!(got.payload.len(), 200_000);
        let mut master = sender.join().unwrap();
        worker
            .send(&Frame::new(0, vec![0], b"ok".to_vec()))
            .unwrap();
        assert_eq!(master.recv().unwrap().payload, b"ok");
    }

    #[test]
    fn a_peer_that_does_not_read_never_blocks_the_queueing_side() {
        for (name, (mut master, mut worker)) in [
            ("socket", {
                let (a, b) = socket_pair().unwrap();
                (
                    Channel::socket(a, MAX_PAYLOAD),
                    Channel::socket(b, MAX_PAYLOAD),
                )
            }),
            ("pipes", {
                let (r1, w1) = pipe();
                let (r2, w2) = pipe();
                (
                    Channel::pipes(r1, w2, MAX_PAYLOAD),
                    Channel::pipes(r2, w1, MAX_PAYLOAD),
                )
            }),
        ] {
            master.set_nonblocking().unwrap();
            // Far more than any socket or pipe buffer: it cannot all go at once.
            let big = Frame::new(0, vec![3], vec![9; 4 << 20]);
            let small = Frame::new(0, vec![0], b"next".to_vec());
            assert_eq!(master.queue(&big).unwrap(), Sent::Queued, "{name}");
            assert_eq!(master.queue(&small).unwrap(), Sent::Queued, "{name}");
            assert!(master.queued() > 0);
            let reader = std::thread::spawn(move || {
                let first = worker.recv().unwrap();
                let second = worker.recv().unwrap();
                (first, second)
            });
            while master.flush().unwrap() == Sent::Queued {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let (first, second) = reader.join().unwrap();
            assert_eq!(first, big, "{name}: the big frame arrives whole");
            assert_eq!(second, small, "{name}: and the next one after it, in order");
        }
    }

    #[test]
    fn a_closed_peer_and_garbage_are_reported() {
        let (a, b) = socket_pair().unwrap();
        let mut a = Channel::socket(a, MAX_PAYLOAD);
        drop(b);
        assert!(matches!(a.recv(), Err(RecvError::Closed)));

        let (a, b) = socket_pair().unwrap();
        let mut a = Channel::socket(a, MAX_PAYLOAD);
        let b = std::fs::File::from(b);
        std::io::Write::write_all(&mut &b, &[0xff; 12]).unwrap();
        assert!(matches!(a.recv(), Err(RecvError::Malformed(_))));
    }

    #[test]
    fn oversized_frames_are_refused_before_buffering() {
        let (a, b) = socket_pair().unwrap();
        let mut small = Channel::socket(a, 10);
        let b = Channel::socket(b, MAX_PAYLOAD);
        b.send(&Frame::new(0, vec![0], vec![0; 11])).unwrap();
        assert!(matches!(
            small.recv(),
            Err(RecvError::Malformed(DecodeError::TooLarge {
                len: 11,
                max: 10
            }))
        ));
    }
}
