//! Several instances, one schedule: a leader lease on Redis, so that exactly one instance
//! of an application ticks.
//!
//! | file | owns |
//! |---|---|
//! | `catch_up.rs` | the one run a `catch_up: once` schedule makes for the occurrences that passed while no instance led |
//! | `grid.rs` | the shared grid (tick `n` due at `start + n × interval`, Unix time) and where a new leader starts |
//! | `numbering.rs` | where each named schedule goes on, and with which number, under a new leader |
//! | `lease.rs` | the master's decisions: when to ask for what, whether it may tick, which numbers |
//! | `wire.rs` | the requests and replies between the master and its lease helper |
//! | `store.rs` | the Redis side: the keys and the fenced Lua scripts |
//! | `helper.rs` | the lease helper process: requests in, Redis, replies out |
//! | `status.rs` | what `ticker status` and `/metrics` show of the lease |
//!
//! The master never talks to Redis: it forks a helper that does, one request at a time,
//! each one the master's (see `src/master/cluster.rs`). The helper is a plain blocking
//! process with the synchronous Redis client, so no thread and no async runtime exist in
//! either process. Nothing here is used without a `ticker.cluster` section.

pub mod catch_up;
pub mod grid;
pub mod helper;
pub mod lease;
pub mod numbering;
pub mod status;
pub mod store;
pub mod wire;
