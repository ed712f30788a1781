//! ticker: periodic ticks for PHP, run in a warm, supervised pool of forked workers.
//!
//! This crate holds everything that is not PHP: it never links PHP's symbols, so its logic
//! runs in plain Rust tests. The PHP extension is the crate in `ext/`, a thin layer over
//! this one. The modules are split so that the logic can be driven by tests without PHP,
//! sockets or time:
//!
//! - [`config`]: the `.rr.yaml` file, validated once into typed structs.
//! - [`cluster`]: several instances, one schedule: the leader lease on Redis, its
//!   decisions, its store and its helper process.
//! - [`schedule`]: tick arithmetic over monotonic instants (no drift, skip accounting), and
//!   cron schedules in a time zone (their occurrences as UTC instants, across DST).
//! - [`frame`]: RoadRunner's goridge frame format, bytes in and out.
//! - [`huge_pages`]: the master's memory on 2 MB pages before it forks, so forks stay cheap.
//! - [`message`]: what those frames mean between master and worker.
//! - [`tick`]: a tick and its delivery to a worker, as values the pool, the workers'
//!   records and the payload share.
//! - [`payload`]: the body and header of a tick, as PHP code receives them.
//! - [`pool`]: the master's bookkeeping of workers and ticks; decisions only, no I/O.
//! - [`workers`]: each worker of a pool as one record (its state, whether the master can
//!   reach it, its deadlines) and the indexes over them; decisions only.
//! - [`pid`]: process ids, shared by the pure core and the system calls.
//! - [`state`]: the state file, each schedule's last run across restarts (`catch_up: once`).
//! - [`supervisor`]: when to respawn, back off or give up after worker deaths.
//! - [`transport`]: one channel to a worker (a socket pair or a pipe pair).
//! - [`metrics`]: lateness percentiles and the pool snapshot, as a table, JSON or Prometheus text.
//! - [`control`]: the control socket (`ticker status`, `ticker reset`) and the metrics endpoint.
//! - [`master`]: the master's event loop: timer, signals, forks, reaping, operator requests.
//! - [`worker`]: the worker's side of the channel.
//! - [`spin`]: how long to spin before a due instant, learned from this thread's oversleeps.
//! - [`relay`]: a worker's end of the relay to a RoadRunner-style master (the forms of
//!   `RR_RELAY` are [`config::relay`]'s).
//! - [`role`]: whether this PHP process is a master, a worker of a RoadRunner-style master,
//!   or inert, decided once at startup.
//! - [`native`]: the native ticker, precise ticks for one consumer in this process, no pool.
//! - [`ffi`]: its C ABI (`libticker.so`, `include/ticker.h`): the boundary only.
//! - [`sys`]: the Linux calls the master needs, over the `nix` crate.
//! - [`logging`]: the `log` facade's logger: one line per record on stderr.

pub mod cluster;
pub mod config;
pub mod control;
pub mod ffi;
pub mod frame;
pub mod histogram;
pub mod huge_pages;
pub mod logging;
pub mod master;
pub mod message;
pub mod metrics;
pub mod native;
pub mod page_sampler;
pub mod payload;
pub mod pid;
pub mod pool;
pub mod relay;
pub mod role;
pub mod schedule;
pub mod spin;
pub mod state;
pub mod supervisor;
pub mod sys;
pub mod tick;
pub mod timetable;
pub mod transport;
pub mod worker;
pub mod workers;
