//! The master's two doors for operators: the control socket and the metrics endpoint.
//!
//! Owns the sockets themselves (binding, accepting, reading and writing a connection) and
//! their tiny protocols: one request line on the control socket (`status`, `reset`, `pause`, `resume` or `run`) answered with
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
//!
//! Each job has its own file; everything public is re-exported here, so callers name
//! `crate::control::X` and never the file it lives in:
//!
//! | file | owns |
//! |---|---|
//! | `runtime_dir.rs` | where sockets live, the checks of their directory, which file at a socket's path may be removed |
//! | `protocol.rs` | the one-line control requests and the HTTP framing of the metrics endpoint: bytes in, requests out, responses built |
//! | `server.rs` | the master's side: doors, connections, non-blocking accept, read, answer and write |
//! | `client.rs` | the `ticker` command's side: connecting, the time limit, whose answer is believed |
//!
//! No file here decides what an answer says, keeps books of connections or touches the
//! pool: that stays in [`crate::master`].

mod client;
mod protocol;
mod runtime_dir;
mod server;
#[cfg(test)]
mod testing;

pub use client::{ANSWER_TIMEOUT, AskError, ask, ask_within};
pub use protocol::{Kind, Request, Which, http_response, parse_request, request_at_end};
pub use runtime_dir::{
    Placement, Probe, SocketError, check_private_dir, default_socket, probe, runtime_dir,
};
pub use server::{
    AcceptEnd, Accepted, Conn, Door, Incoming, Outgoing, REQUEST_TIMEOUT, is_out_of_fds,
};
