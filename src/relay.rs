//! The relay to a RoadRunner-style master, as `RR_RELAY` names it, and a worker's end of it.
//!
//! Owns how a worker opens its end of a [`Relay`] the way RoadRunner's PHP library does (the
//! forms of `RR_RELAY` themselves are the config's, in [`crate::config::relay`]): with `pipes` the
//! channel is the process's stdin and stdout, and it is taken away from PHP at once, so that
//! nothing PHP prints from then on can corrupt it; a socket is connected at the first read.
//! It does not speak the protocol ([`crate::worker`] does) and does not decide whether this
//! process is such a worker ([`crate::role`] does).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::frame::MAX_PAYLOAD;
use crate::sys;
use crate::transport::Channel;
use crate::worker::{WorkerError, WorkerLink};

pub use crate::config::relay::{BadRelay, FORMS, RR_RELAY, Relay};

/// A native worker's end of its relay: the [`WorkerLink`] once there is a channel.
pub struct RelayWorker {
    relay: Relay,
    link: Option<WorkerLink>,
}

impl RelayWorker {
    /// Opens the relay as far as it must be opened now, and no further.
    ///
    /// With `pipes`, this process's stdin and stdout become the channel at once: they move
    /// to private descriptors (closed on exec, so child processes do not inherit them), and
    /// fd 1 then points at stderr and fd 0 at `/dev/null`. From then on whatever PHP
    /// prints, and whatever a child process writes to its stdout or reads from its stdin,
    /// stays off the channel. What was printed before is already in it: the master reads it
    /// as a broken frame and refuses the worker.
    ///
    /// A socket is connected at the first [`RelayWorker::link`], as RoadRunner's PHP library
    /// connects at its first read, so opening one has no effect outside this value.
    pub fn open(relay: &Relay) -> io::Result<RelayWorker> {
        let link = match relay {
            Relay::Pipes => {
                let sink = stderr_or_null()?;
                let (read, write) =
                    divert(io::stdin().as_fd(), io::stdout().as_fd(), sink.as_fd())?;
                Some(WorkerLink::new(Channel::pipes(read, write, MAX_PAYLOAD)))
            }
            Relay::Tcp(_) | Relay::Unix(_) => None,
        };
        Ok(RelayWorker {
            relay: relay.clone(),
            link,
        })
    }

    pub fn relay(&self) -> &Relay {
        &self.relay
    }

    /// The link to the master, connecting a socket relay the first time.
    pub fn link(&mut self) -> Result<&mut WorkerLink, WorkerError> {
        if self.link.is_none() {
            let channel = connect(&self.relay).map_err(|error| WorkerError::Connect {
                relay: self.relay.to_string(),
                error,
            })?;
            self.link = Some(WorkerLink::new(channel));
        }
        Ok(self.link.as_mut().expect("just connected"))
    }
}

/// Connects a socket relay; `pipes` are taken at open instead.
fn connect(relay: &Relay) -> io::Result<Channel> {
    let fd = match relay {
        Relay::Pipes => unreachable!("pipes are taken at open, not connected"),
        Relay::Unix(path) => OwnedFd::from(std::os::unix::net::UnixStream::connect(path)?),
        Relay::Tcp(address) => {
            let stream = std::net::TcpStream::connect(address.as_str())?;
            // Frames are small and each one is waited for: no Nagle delay.
            stream.set_nodelay(true)?;
            OwnedFd::from(stream)
        }
    };
    Ok(Channel::socket(fd, MAX_PAYLOAD))
}

/// Where fd 1 is pointed once it is no longer the channel: stderr, which a RoadRunner-style
/// master logs, or `/dev/null` when the process has no stderr.
fn stderr_or_null() -> io::Result<OwnedFd> {
    match io::stderr().as_fd().try_clone_to_owned() {
        Ok(stderr) => Ok(stderr),
        Err(_) => Ok(OwnedFd::from(std::fs::File::open("/dev/null")?)),
    }
}

/// Takes a channel away from the two descriptors others keep using: returns private
/// duplicates of `input` and `output` (close-on-exec), then points `output` at `sink` and
/// `input` at `/dev/null`.
fn divert(
    input: BorrowedFd<'_>,
    output: BorrowedFd<'_>,
    sink: BorrowedFd<'_>,
) -> io::Result<(OwnedFd, OwnedFd)> {
    let read = input.try_clone_to_owned()?;
    let write = output.try_clone_to_owned()?;
    sys::redirect(sink, output)?;
    let null = std::fs::File::open("/dev/null")?;
    sys::redirect(null.as_fd(), input)?;
    Ok((read, write))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;

    use super::*;

    fn pipe() -> (OwnedFd, OwnedFd) {
        let (r, w) = std::io::pipe().unwrap();
        (OwnedFd::from(r), OwnedFd::from(w))
    }

    fn is_cloexec(fd: &OwnedFd) -> bool {
        use nix::fcntl::{FcntlArg, FdFlag, fcntl};
        FdFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFD).unwrap())
            .contains(FdFlag::FD_CLOEXEC)
    }

    /// What `open` does to fd 0 and 1, on stand-ins for them (a test must not take the test
    /// process's own stdio).
    #[test]
    fn the_channel_moves_to_private_descriptors_and_the_old_ones_go_elsewhere() {
        let (stdin_master, stdin) = {
            let (r, w) = pipe();
            (w, r)
        };
        let (stdout, stdout_master) = {
            let (r, w) = pipe();
            (w, r)
        };
        let (sink_read, sink) = pipe();

        let (read, write) = divert(stdin.as_fd(), stdout.as_fd(), sink.as_fd()).unwrap();
        assert!(
            is_cloexec(&read) && is_cloexec(&write),
            "kept from children"
        );
        assert_ne!(read.as_raw_fd(), stdin.as_raw_fd());
        assert_ne!(write.as_raw_fd(), stdout.as_raw_fd());

        // What PHP prints now goes to the sink, and the channel carries only frames.
        std::fs::File::from(stdout.try_clone().unwrap())
            .write_all(b"echo\n")
            .unwrap();
        std::fs::File::from(write).write_all(b"frame").unwrap();
        drop(stdout);
        drop(sink);
        let mut printed = String::new();
        std::fs::File::from(sink_read)
            .read_to_string(&mut printed)
            .unwrap();
        assert_eq!(printed, "echo\n");
        let mut channel = String::new();
        std::fs::File::from(stdout_master)
            .read_to_string(&mut channel)
            .unwrap();
        assert_eq!(channel, "frame");

        // What the master writes reaches the channel only; the old stdin reads /dev/null.
        std::fs::File::from(stdin_master)
            .write_all(b"from master")
            .unwrap();
        let mut old = Vec::new();
        std::fs::File::from(stdin).read_to_end(&mut old).unwrap();
        assert!(old.is_empty(), "stdin is /dev/null: {old:?}");
        let mut got = String::new();
        std::fs::File::from(read).read_to_string(&mut got).unwrap();
        assert_eq!(got, "from master");
    }

    #[test]
    fn a_socket_relay_is_connected_at_the_first_link_and_a_missing_one_is_named() {
        let dir = std::env::temp_dir().join(format!("ticker-relay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rr.sock");
        let _ = std::fs::remove_file(&path);
        let relay = Relay::Unix(path.clone());

        // Nothing listens yet: opening does not connect, the first link does and says so.
        let mut worker = RelayWorker::open(&relay).unwrap();
        let err = worker.link().err().expect("nothing listens");
        let line = err.to_string();
        assert!(
            line.contains(&format!("RR_RELAY=unix://{}", path.display())),
            "{line}"
        );

        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let mut worker = RelayWorker::open(&relay).unwrap();
        worker.link().expect("connects");
        let (stream, _) = listener.accept().unwrap();
        let master = Channel::socket(OwnedFd::from(stream), MAX_PAYLOAD);
        master
            .send(&crate::message::ToWorker::Stop.into_frame())
            .unwrap();
        assert_eq!(worker.link().unwrap().wait().unwrap(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_tcp_relay_connects_to_host_and_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let relay = Relay::parse(&format!("tcp://{}", listener.local_addr().unwrap())).unwrap();
        let mut worker = RelayWorker::open(&relay).unwrap();
        worker.link().expect("connects");
        let (stream, _) = listener.accept().unwrap();
        let mut master = Channel::socket(OwnedFd::from(stream), MAX_PAYLOAD);
        master
            .send(&crate::message::ToWorker::Pid(1).into_frame())
            .unwrap();
        master
            .send(&crate::message::ToWorker::Stop.into_frame())
            .unwrap();
        assert_eq!(worker.link().unwrap().wait().unwrap(), None);
        let answer = crate::message::FromWorker::from_frame(master.recv().unwrap()).unwrap();
        assert_eq!(answer, crate::message::FromWorker::Pid(std::process::id()));
    }
}
