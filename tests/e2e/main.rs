//! End-to-end tests: real `php -d extension=<built .so> <fixture.php>` processes, with the
//! PHP apps and YAML configs of `tests/fixtures/` (or configs and handler snippets that a
//! test writes next to its run, through the harness).
//!
//! | module | what |
//! |---|---|
//! | `config` | bad configs are refused before the script runs |
//! | `roles` | master or inert, RR_MODE, where the config comes from, `php --ri ticker` |
//! | `install` | enabled in php.ini or on the command line: who is a master, `php -S`, threads, output buffers |
//! | `ticks` | numbering, the workers that take them, body and header, skips, the shortest interval |
//! | `signals` | stopping the master: SIGTERM, SIGINT, destroy_timeout, a second signal |
//! | `supervision` | dead workers, a dead master, a crash loop, a malformed frame |
//! | `pool_settings` | `ticker.pool` keys that replace or kill workers, or drop ticks |
//! | `error_and_stop` | a handler's `$worker->error()` and `$worker->stop()` |
//! | `faults` | SIGSTOP of the master, SIGHUP storms, 50 workers and back, a SIGKILL storm: the accounting audited |
//! | `operator` | SIGHUP reset, SIGTTIN/SIGTTOU resize, `ticker status`, metrics, logs |
//! | `descriptors` | the open file limit: refused at start, raised, short at run time; answers that read nothing per worker |
//! | `doors` | the control socket and metrics endpoint against other users, idle floods, fd exhaustion, bad answers |
//! | `missed_and_overlap` | `ticker.missed` and `ticker.overlap`, every combination |
//! | `schedules` | `ticker.schedules`: two schedules in one pool, a cron schedule on its seconds, zones in `php --ri ticker` |
//! | `docs` | the documentation's examples: configs read, PHP and C compiled, shell commands run or matched with what runs, transcripts rerun, the schedules example run |
//! | `catch_up` | `catch_up: once`: one run after downtime, none without; a corrupt state file |
//! | `calendar` | `ticker calendar`: a cron expression's runs across a DST gap and fold, JSON, refused input |
//! | `roadrunner_files` | RoadRunner's own files with a `ticker` section: they tick, and warn once |
//! | `cluster` | `ticker.cluster`: three instances and one Redis, a killed, a paused leader, Redis down; the Redis scripts |
//! | `under_roadrunner` | the native worker under a RoadRunner-style master (`tests/rr_master.py`): pipes, sockets, handshake, frames |
//! | `process_state` | what the pool inherits from the application: SIGCHLD, stdin, the terminal |
//! | `command` | `ticker.pool.command`: a RoadRunner worker in plain PHP, refused handshakes, stderr, `server.on_init`, `server.user` |
//!
//! The extension is `TICKER_EXT`, else `target/release/libticker_php.so`, else
//! `target/debug/libticker_php.so`, and the `ticker` command is the one next to it; without
//! them every test fails (build both with `cargo build --release --workspace`). Intervals are short and
//! nothing asserts on speed: every wait has a generous deadline, after which the run is
//! killed and the test fails. Tests run in parallel, each in its own scratch directory.

mod harness;

mod calendar;
mod catch_up;
mod cluster;
mod command;
mod config;
mod descriptors;
mod docs;
mod doors;
mod error_and_stop;
mod faults;
mod install;
mod missed_and_overlap;
mod operator;
mod pool_settings;
mod process_state;
mod roadrunner_files;
mod roles;
mod schedules;
mod signals;
mod supervision;
mod ticks;
mod under_roadrunner;
mod worker_exit;
