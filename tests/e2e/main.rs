//! End-to-end tests of issue 2 (core): real `php -d extension=<built .so> <fixture.php>`
//! processes, with the PHP apps and YAML configs of `tests/fixtures/`.
//!
//! The extension is `TICKER_EXT`, else `target/release/libticker.so`, else
//! `target/debug/libticker.so`; without one every test fails (build it with
//! `cargo build --release --lib`). Intervals are tens of milliseconds and nothing asserts
//! on speed: every wait has a generous deadline, after which the run is killed and the test
//! fails. Tests run in parallel, each in its own scratch directory.

mod harness;

mod config;
mod roles;
mod signals;
mod supervision;
mod ticks;
