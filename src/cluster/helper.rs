//! The lease helper: a process of its own, forked by the master before it needs Redis,
//! that holds the one connection to Redis and carries out the master's requests one at a
//! time, blocking as long as Redis takes (within the store's timeouts), which the master
//! never does.
//!
//! It acts only on requests: a master that is stopped, stuck or gone renews nothing, so its
//! lease runs out. It exits when the master closes its end of the socket (after the
//! master's last request, a release, is answered), and the kernel kills it if the master
//! dies. It is a fork of the PHP master, so it never returns into PHP: it leaves with
//! `_exit`, running no PHP shutdown and flushing none of the master's buffers.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::store::{Named, Store};
use super::wire::{self, Decoder, Numbered, Request};
use crate::config::ClusterConfig;
use crate::pool::Pid;
use crate::sys;

/// The name `ps` and `top` show for the helper.
pub const PROCESS_NAME: &str = "ticker-lease";

/// What the helper needs, known before the fork.
pub struct Setup {
    pub config: ClusterConfig,
    pub interval: Duration,
    /// `host:pid` of the master: the lease holder's name in Redis.
    pub me: String,
    pub master: Pid,
    /// The schedules beside `default`, numbered through Redis.
    pub named: Vec<Named>,
}

/// Runs the helper in a freshly forked child of the master, over `socket`. Never returns.
pub fn run(socket: OwnedFd, setup: &Setup) -> ! {
    become_helper(&socket, setup.master);
    let code = match serve(socket, setup) {
        Ok(()) => 0,
        Err(e) => {
            log::error!("the lease helper stops: {e}");
            1
        }
    };
    sys::exit_now(code)
}

/// First steps of the child: nothing of the master's but the socket and stdio, default
/// signals, out of the terminal's process group, gone with the master.
fn become_helper(socket: &OwnedFd, master: Pid) {
    // The worker channels, the poller, listening sockets and the application's own
    // connections are the master's; a copy here would keep them open.
    if let Err(e) = sys::close_other_fds(socket.as_fd()) {
        log::warn!("lease helper: cannot close inherited descriptors: {e}");
    }
    sys::default_signals();
    let _ = sys::set_process_name(PROCESS_NAME);
    let _ = sys::own_process_group();
    if let Err(e) = sys::die_with_parent(master, Signal::SIGKILL) {
        log::warn!("lease helper cannot follow its master's death: {e}");
    }
}

fn serve(socket: OwnedFd, setup: &Setup) -> io::Result<()> {
    let mut store = Store::new(&setup.config, setup.interval, setup.me.clone())
        .map_err(io::Error::other)?
        .with_schedules(setup.named.clone());
    let mut stream = UnixStream::from(socket);
    let mut decoder = Decoder::default();
    let mut buffer = [0u8; 4096];
    loop {
        let n = match stream.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        decoder.push(&buffer[..n]);
        while let Some(request) = decoder
            .message::<Numbered<Request>>()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?
        {
            let reply = Numbered {
                id: request.id,
                message: store.handle(&request.message, sys::unix_now()),
            };
            match stream.write_all(&wire::encode(&reply)) {
                Ok(()) => {}
                // The master is gone: nobody to serve.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }
}
