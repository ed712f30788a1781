//! One duplex byte channel between the master and one worker, carrying goridge frames.
//!
//! Owns the file descriptors of a channel, buffering of partial frames, and the two ways of
//! reading: blocking until a whole frame is there (the worker), or taking what one ready
//! read gives (the master, driven by poll). A connected socket pair and a pair of pipes
//! (RoadRunner's `pipes` relay: the worker's stdin and stdout) are the same thing to the
//! rest of the crate. It does not interpret frames: see [`crate::message`].

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

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
    /// Some bytes arrived (maybe not a whole frame yet).
    Data,
    /// End of stream: the peer closed or died.
    Closed,
}

pub struct Channel {
    ends: Ends,
    inbox: Vec<u8>,
    max_payload: usize,
}

impl Channel {
    pub fn socket(fd: OwnedFd, max_payload: usize) -> Channel {
        Channel {
            ends: Ends::Socket(fd),
            inbox: Vec::new(),
            max_payload,
        }
    }

    pub fn pipes(read: OwnedFd, write: OwnedFd, max_payload: usize) -> Channel {
        Channel {
            ends: Ends::Pipes { read, write },
            inbox: Vec::new(),
            max_payload,
        }
    }

    fn read_fd(&self) -> BorrowedFd<'_> {
        match &self.ends {
            Ends::Socket(fd) => fd.as_fd(),
            Ends::Pipes { read, .. } => read.as_fd(),
        }
    }

    /// Writes the whole frame, blocking until the kernel took it. The prefix and the payload
    /// go out in one vectored write, so the payload is never copied into a frame buffer.
    pub fn send(&self, frame: &Frame) -> io::Result<()> {
        let prefix = frame.prefix();
        let mut parts = [&prefix[..], &frame.payload[..]];
        while !parts.iter().all(|p| p.is_empty()) {
            let iov = parts.map(|p| libc::iovec {
                iov_base: p.as_ptr() as *mut libc::c_void,
                iov_len: p.len(),
            });
            let n = match &self.ends {
                Ends::Socket(fd) => {
                    // SAFETY: a zeroed msghdr is valid (no name, no control data).
                    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
                    msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
                    msg.msg_iovlen = iov.len();
                    // MSG_NOSIGNAL: a dead peer must give EPIPE here, not kill the master.
                    // SAFETY: `msg` points at two iovecs over live slices of the lengths given;
                    // the kernel only reads them.
                    unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) }
                }
                // SAFETY: as above; pipes have no MSG_NOSIGNAL, the pipe relay ignores SIGPIPE.
                Ends::Pipes { write, .. } => unsafe {
                    libc::writev(write.as_raw_fd(), iov.as_ptr(), iov.len() as libc::c_int)
                },
            };
            if n < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            let mut written = n as usize;
            for part in &mut parts {
                let taken = written.min(part.len());
                *part = &part[taken..];
                written -= taken;
            }
        }
        Ok(())
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
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
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
            match self.fill().map_err(RecvError::Io)? {
                Filled::Data => {}
                Filled::Closed => return Err(RecvError::Closed),
            }
        }
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
