//! The C ABI of the native ticker: `include/ticker.h` is generated from this file by cbindgen
//! (`make header`), so the doc comments here are the header's.
//!
//! Owns the boundary and nothing else: argument checks, return codes, each thread's last error
//! text, and catching panics so that none crosses into C. It must not hold logic: the ticks
//! come from [`crate::native`], whose rules are the master's.
//!
//! The names are C's (`ticker`, `ticker_tick`, `TICKER_OK`, ...) so that the header and this
//! file read the same.
#![allow(non_camel_case_types)]

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char, c_int};
use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use crate::config::{self, MIN_INTERVAL, Missed};
use crate::native::NativeTicker;
use crate::schedule::cron::{CronExpr, CronSchedule, UnixInstant};
use crate::schedule::zone::Zone;

/// Return codes of the functions that return `int`: `TICKER_OK` (0), or one of the negative
/// values below. After a negative value other than `TICKER_TIMEOUT`, `ticker_last_error()`
/// says what went wrong.
#[repr(C)]
pub enum ticker_status {
    /// Success.
    TICKER_OK = 0,
    /// `ticker_next`: the timeout passed before a tick was due. Not an error.
    TICKER_TIMEOUT = -1,
    /// A null pointer, a zero or too small interval (under 100 µs), an unknown policy, a
    /// negative timeout other than -1, or a malformed duration.
    TICKER_INVALID_ARGUMENT = -2,
    /// Something failed inside the library (an internal error); the ticker concerned is unusable
    /// and should be freed.
    TICKER_SYSTEM_ERROR = -3,
}

/// The `missed` argument of `ticker_new`: what happens to ticks that come due while the caller
/// is not waiting in `ticker_next` (it counts as busy from the return of `ticker_next` until
/// its next call, and after a timeout until its next call).
#[repr(C)]
pub enum ticker_missed {
    /// One missed tick waits and is returned, late, by the next call; the ticks missed after
    /// it are skipped, counted, and reported in the `skipped` of the next returned tick. The
    /// grid does not move: after the late tick comes the next one due on it.
    TICKER_SKIP = 0,
    /// The missed tick waits and is returned, late, by the next call; the grid waits with it and
    /// restarts one interval after that call: no tick is skipped, later ticks shift.
    TICKER_DELAY = 1,
    /// Every missed tick waits (each costs 32 bytes until returned), and the next calls return
    /// them in order, at once, until the caller has caught up. No tick is skipped.
    TICKER_BURST = 2,
}

/// A ticker: a grid of due instants and the policy for missed ticks. Opaque.
pub struct ticker {
    native: NativeTicker,
    /// Set while a call runs: still set afterwards means it panicked, and the state may be
    /// half-updated, so the ticker refuses further calls.
    broken: bool,
}

/// One tick, as `ticker_next` returns it.
#[repr(C)]
pub struct ticker_tick {
    /// From 0 on the schedule. Skipped ticks keep their numbers: the numbers never returned are
    /// the skipped ones.
    pub number: u64,
    /// The due instant, in CLOCK_MONOTONIC nanoseconds (PHP's `hrtime(true)` clock): tick N of
    /// a ticker created at T is due at T + (N + 1) × interval, unless the delay policy moved
    /// the grid.
    pub due_ns: u64,
    /// How late `ticker_next` returned it: `clock_gettime(CLOCK_MONOTONIC)` at its return minus
    /// `due_ns`. A few microseconds for a tick the caller was waiting for; more for a tick that
    /// had to wait for the caller.
    pub late_ns: i64,
    /// Ticks skipped since the previous returned tick, in the order things happened: a late
    /// tick carries the skips of the ticks after it, which came due while it waited (under
    /// `TICKER_SKIP`, tick 1 returned late with `skipped` 2 is followed by tick 4). The sum
    /// over all returned ticks is `ticker_counts.skipped`. Always 0 under `TICKER_DELAY` and
    /// `TICKER_BURST`.
    pub skipped: u64,
    /// A ticker from `ticker_new_cron`: the occurrence this tick runs for, in Unix time
    /// (nanoseconds since 1970-01-01T00:00:00Z). 0 for a ticker from `ticker_new`.
    pub scheduled_unix_ns: i64,
}

/// A ticker's counts, as of its last `ticker_next` call (ticks that came due since are counted
/// by the next call): `due` = `delivered` + `skipped` + the ticks waiting to be returned.
#[repr(C)]
pub struct ticker_counts {
    pub due: u64,
    pub delivered: u64,
    pub skipped: u64,
}

/// Creates a ticker whose tick N is due at now + (N + 1) × `interval_ns` (the first one
/// interval from now), on CLOCK_MONOTONIC, with `missed` one of `ticker_missed`. On success
/// `*out` is the ticker, to be freed with `ticker_free`; on failure `*out` is NULL.
///
/// Returns `TICKER_OK`, or `TICKER_INVALID_ARGUMENT` (`out` is NULL, `interval_ns` is zero or
/// below 100 µs, `missed` is not 0, 1 or 2).
///
/// Thread-safety: safe to call from any thread. The ticker may be used from any thread, one
/// call at a time (see `ticker_next`).
///
/// # Safety
///
/// `out` is NULL or points to writable memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ticker_new(
    interval_ns: u64,
    missed: c_int,
    out: *mut *mut ticker,
) -> c_int {
    boundary(|| {
        if out.is_null() {
            return Err(Failure::invalid("ticker_new: out is NULL"));
        }
        // SAFETY: `out` is non-null and, by the caller's contract, writable.
        unsafe { out.write(std::ptr::null_mut()) };
        let interval = Duration::from_nanos(interval_ns);
        if interval.is_zero() {
            return Err(Failure::invalid("ticker_new: the interval is zero"));
        }
        if interval < MIN_INTERVAL {
            return Err(Failure::invalid(format!(
                "ticker_new: an interval of {interval:?} is below the shortest interval of \
                 {MIN_INTERVAL:?}"
            )));
        }
        let missed = match missed {
            0 => Missed::Skip,
            1 => Missed::Delay,
            2 => Missed::Burst,
            other => {
                return Err(Failure::invalid(format!(
                    "ticker_new: missed policy {other} is unknown; expected 0 (skip), 1 (delay) \
                     or 2 (burst)"
                )));
            }
        };
        let t = Box::new(ticker {
            native: NativeTicker::new(interval, missed),
            broken: false,
        });
        // SAFETY: as above.
        unsafe { out.write(Box::into_raw(t)) };
        Ok(ticker_status::TICKER_OK)
    })
}

/// Creates a ticker whose ticks come at the occurrences of a cron `expression` (5 fields, or 6
/// with seconds first; `*`, lists, ranges, steps, month and weekday names, `@daily` and the
/// other aliases) in the time zone named `zone` (an IANA name such as `Europe/Berlin`; NULL
/// or "" is UTC), by the wall clock, with DST as Vixie cron has it: a fixed-time job whose
/// time falls in a spring-forward gap runs once at the end of the gap, and once in a fold;
/// other jobs follow real time. The wall clock is read again at least every second while
/// `ticker_next` waits, so a step of the clock moves the next tick. `missed` is
/// `TICKER_SKIP` or `TICKER_BURST` (`TICKER_DELAY` moves an interval's grid; a cron
/// schedule has none). On success `*out` is the ticker, to be freed with `ticker_free`; on
/// failure `*out` is NULL, and `ticker_last_error()` names what is wrong (the field of the
/// expression, the zone).
///
/// Returns `TICKER_OK`, or `TICKER_INVALID_ARGUMENT` (`out` or `expression` is NULL, the
/// expression or zone is refused, `missed` is not 0 or 2).
///
/// Thread-safety: as `ticker_new`.
///
/// # Safety
///
/// `expression` is NULL or a NUL-terminated string; `zone` is NULL or a NUL-terminated
/// string; `out` is NULL or points to writable memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ticker_new_cron(
    expression: *const c_char,
    zone: *const c_char,
    missed: c_int,
    out: *mut *mut ticker,
) -> c_int {
    boundary(|| {
        if out.is_null() {
            return Err(Failure::invalid("ticker_new_cron: out is NULL"));
        }
        // SAFETY: `out` is non-null and, by the caller's contract, writable.
        unsafe { out.write(std::ptr::null_mut()) };
        if expression.is_null() {
            return Err(Failure::invalid("ticker_new_cron: expression is NULL"));
        }
        // SAFETY: non-null, and by the caller's contract a NUL-terminated string.
        let expression = unsafe { CStr::from_ptr(expression) }.to_string_lossy();
        let zone = if zone.is_null() {
            String::new()
        } else {
            // SAFETY: as above.
            unsafe { CStr::from_ptr(zone) }
                .to_string_lossy()
                .into_owned()
        };
        let zone = if zone.trim().is_empty() { "UTC" } else { &zone };
        let missed = match missed {
            0 => Missed::Skip,
            2 => Missed::Burst,
            other => {
                return Err(Failure::invalid(format!(
                    "ticker_new_cron: missed policy {other} is not accepted; expected 0 (skip) \
                     or 2 (burst): delay moves an interval's grid, and a cron schedule has none"
                )));
            }
        };
        let expr = CronExpr::parse(&expression).map_err(|e| {
            Failure::invalid(format!("ticker_new_cron: {:?} {e}", expression.as_ref()))
        })?;
        let zone =
            Zone::lookup(zone).map_err(|e| Failure::invalid(format!("ticker_new_cron: {e}")))?;
        let t = Box::new(ticker {
            native: NativeTicker::cron(CronSchedule::new(expr, zone), missed),
            broken: false,
        });
        // SAFETY: as above.
        unsafe { out.write(Box::into_raw(t)) };
        Ok(ticker_status::TICKER_OK)
    })
}

/// Waits for the next tick and writes it to `*out`. Returns at the tick's due instant, to within
/// microseconds (it sleeps until shortly before, then spins: half the calls return on time,
/// the others late by the few microseconds their wake-up exceeded the median), or at once
/// with a tick that had to wait for the caller (see `ticker_missed`).
///
/// `timeout_ns`: -1 waits as long as it takes; 0 or more returns `TICKER_TIMEOUT` (and leaves
/// `*out` alone) when no tick is due within that many nanoseconds, 0 making it a check that does
/// not block. After a timeout the caller counts as busy until its next call.
///
/// Returns `TICKER_OK`, `TICKER_TIMEOUT`, `TICKER_INVALID_ARGUMENT` (`t` or `out` is NULL,
/// `timeout_ns` below -1) or `TICKER_SYSTEM_ERROR`. Signals do not interrupt the wait: a
/// handler runs, and the wait goes on.
///
/// Thread-safety: not safe to call concurrently on the same ticker (nor with `ticker_stats` or
/// `ticker_free` on it); different tickers are independent, on any threads.
///
/// # Safety
///
/// `t` is NULL or a live ticker from `ticker_new`; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ticker_next(
    t: *mut ticker,
    timeout_ns: i64,
    out: *mut ticker_tick,
) -> c_int {
    boundary(|| {
        // SAFETY: by the caller's contract `t` is null or a live ticker used by no other thread.
        let t = unsafe { t.as_mut() }.ok_or_else(|| Failure::invalid("ticker_next: t is NULL"))?;
        if out.is_null() {
            return Err(Failure::invalid("ticker_next: out is NULL"));
        }
        let timeout = match timeout_ns {
            -1 => None,
            0.. => Some(Duration::from_nanos(timeout_ns.unsigned_abs())),
            _ => {
                return Err(Failure::invalid(format!(
                    "ticker_next: timeout_ns {timeout_ns} is negative; expected -1 (no timeout) \
                     or 0 or more nanoseconds"
                )));
            }
        };
        if t.broken {
            return Err(Failure::system(
                "ticker_next: this ticker failed in an earlier call (an internal error); free it",
            ));
        }
        t.broken = true;
        let got = t.native.next(timeout);
        t.broken = false;
        let Some(got) = got else {
            return Ok(ticker_status::TICKER_TIMEOUT);
        };
        let tick = ticker_tick {
            number: got.number,
            due_ns: got.due.0,
            late_ns: i64::try_from(got.late.as_nanos()).unwrap_or(i64::MAX),
            skipped: got.skipped,
            scheduled_unix_ns: got.scheduled.map_or(0, UnixInstant::as_nanos),
        };
        // SAFETY: `out` is non-null and, by the caller's contract, writable.
        unsafe { out.write(tick) };
        Ok(ticker_status::TICKER_OK)
    })
}

/// Writes the ticker's counts to `*out` (see `ticker_counts`).
///
/// Returns `TICKER_OK` or `TICKER_INVALID_ARGUMENT` (`t` or `out` is NULL).
///
/// Thread-safety: not safe to call while `ticker_next` or `ticker_free` runs on the same
/// ticker; concurrent `ticker_stats` calls on one ticker are safe.
///
/// # Safety
///
/// `t` is NULL or a live ticker from `ticker_new`; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ticker_stats(t: *const ticker, out: *mut ticker_counts) -> c_int {
    boundary(|| {
        // SAFETY: by the caller's contract `t` is null or a live ticker.
        let t = unsafe { t.as_ref() }.ok_or_else(|| Failure::invalid("ticker_stats: t is NULL"))?;
        if out.is_null() {
            return Err(Failure::invalid("ticker_stats: out is NULL"));
        }
        let stats = t.native.stats();
        let counts = ticker_counts {
            due: stats.due,
            delivered: stats.delivered,
            skipped: stats.skipped,
        };
        // SAFETY: `out` is non-null and, by the caller's contract, writable.
        unsafe { out.write(counts) };
        Ok(ticker_status::TICKER_OK)
    })
}

/// Frees a ticker. `ticker_free(NULL)` does nothing.
///
/// Thread-safety: not safe while another call runs on the same ticker; afterwards `t` is
/// invalid.
///
/// # Safety
///
/// `t` is NULL or a live ticker from `ticker_new`, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ticker_free(t: *mut ticker) {
    if t.is_null() {
        return;
    }
    // Dropping frees memory only; a panic there (there is none) must still not reach C.
    let _ = panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `t` came from Box::into_raw in `ticker_new` and is freed once.
        drop(unsafe { Box::from_raw(t) });
    }));
}

/// Parses a duration written as in `.rr.yaml` (Go's syntax: `250ms`, `1s`, `1m30s`, `1.5s`,
/// `100us`; units ns, us, µs, ms, s, m, h) into nanoseconds at `*out_ns`, for
/// `ticker_new(interval_ns, ...)`. `"0"` is 0.
///
/// Returns `TICKER_OK` or `TICKER_INVALID_ARGUMENT` (`text` or `out_ns` is NULL, `text` is not
/// UTF-8 or not a duration; `*out_ns` is then left alone).
///
/// Thread-safety: safe to call from any thread.
///
/// # Safety
///
/// `text` is NULL or a NUL-terminated string; `out_ns` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ticker_parse_duration(text: *const c_char, out_ns: *mut u64) -> c_int {
    boundary(|| {
        if text.is_null() || out_ns.is_null() {
            return Err(Failure::invalid(
                "ticker_parse_duration: text or out_ns is NULL",
            ));
        }
        // SAFETY: non-null and, by the caller's contract, NUL-terminated.
        let text = unsafe { CStr::from_ptr(text) }
            .to_str()
            .map_err(|_| Failure::invalid("ticker_parse_duration: the text is not UTF-8"))?;
        let duration = config::parse_duration(text)
            .map_err(|problem| Failure::invalid(format!("ticker_parse_duration: {problem}")))?;
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        // SAFETY: `out_ns` is non-null and, by the caller's contract, writable.
        unsafe { out_ns.write(nanos) };
        Ok(ticker_status::TICKER_OK)
    })
}

/// The text of the last error on this thread (the last call that returned
/// `TICKER_INVALID_ARGUMENT` or `TICKER_SYSTEM_ERROR`), or NULL if there was none. Successful
/// calls and timeouts leave it as it is.
///
/// Thread-safety: each thread has its own; the text stays valid until the same thread's next
/// failing call, or its exit. Do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn ticker_last_error() -> *const c_char {
    LAST_ERROR
        .try_with(|last| {
            last.borrow()
                .as_ref()
                .map_or(std::ptr::null(), |e| e.as_ptr())
        })
        .unwrap_or(std::ptr::null())
}

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// A call that failed: its code and the text for `ticker_last_error`.
struct Failure {
    status: ticker_status,
    message: String,
}

impl Failure {
    fn invalid(message: impl Into<String>) -> Failure {
        Failure {
            status: ticker_status::TICKER_INVALID_ARGUMENT,
            message: message.into(),
        }
    }

    fn system(message: impl Into<String>) -> Failure {
        Failure {
            status: ticker_status::TICKER_SYSTEM_ERROR,
            message: message.into(),
        }
    }
}

/// Runs one call: its result becomes the return code, its failure the thread's last error, and
/// a panic a `TICKER_SYSTEM_ERROR` instead of unwinding into C (undefined behaviour).
fn boundary(call: impl FnOnce() -> Result<ticker_status, Failure>) -> c_int {
    let failure = match panic::catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(status)) => return status as c_int,
        Ok(Err(failure)) => failure,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            Failure::system(format!("internal error in the ticker library: {what}"))
        }
    };
    let text = CString::new(failure.message.replace('\0', " ")).unwrap_or_default();
    let _ = LAST_ERROR.try_with(|last| *last.borrow_mut() = Some(text));
    failure.status as c_int
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_error() -> Option<String> {
        let p = ticker_last_error();
        // SAFETY: a pointer from ticker_last_error is null or a live NUL-terminated string.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }

    #[test]
    fn a_panic_becomes_a_system_error_with_its_message() {
        let code = boundary(|| panic!("the invariant broke"));
        assert_eq!(code, ticker_status::TICKER_SYSTEM_ERROR as c_int);
        let text = last_error().unwrap();
        assert!(
            text.contains("internal error") && text.contains("the invariant broke"),
            "{text}"
        );
    }

    #[test]
    fn errors_set_this_threads_text_and_successes_keep_it() {
        // A thread of its own, so that no other test's error is there first.
        std::thread::spawn(|| {
            assert_eq!(last_error(), None, "a fresh thread has no error");
            let code = boundary(|| Err(Failure::invalid("bad\0input")));
            assert_eq!(code, ticker_status::TICKER_INVALID_ARGUMENT as c_int);
            assert_eq!(last_error().as_deref(), Some("bad input"));
            assert_eq!(boundary(|| Ok(ticker_status::TICKER_TIMEOUT)), -1);
            assert_eq!(last_error().as_deref(), Some("bad input"));
            std::thread::spawn(|| assert_eq!(last_error(), None, "another thread's error"))
                .join()
                .unwrap();
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_huge_malformed_duration_makes_a_short_error() {
        for (text, problem) in [
            (
                "x".repeat(2 << 20),
                "… (2097152 bytes) is not a duration; expected",
            ),
            (
                format!("1{}", "y".repeat(2 << 20)),
                "… (2097152 bytes); expected",
            ),
        ] {
            let text = CString::new(text).unwrap();
            let mut ns = 7;
            // SAFETY: a NUL-terminated string and a writable u64.
            let code = unsafe { ticker_parse_duration(text.as_ptr(), &mut ns) };
            assert_eq!(code, ticker_status::TICKER_INVALID_ARGUMENT as c_int);
            assert_eq!(ns, 7, "left alone");
            let error = last_error().unwrap();
            assert!(error.len() < 400, "{} bytes", error.len());
            assert!(
                error.starts_with("ticker_parse_duration: \"") && error.contains(problem),
                "{error}"
            );
        }
    }

    #[test]
    fn a_ticker_that_panicked_refuses_further_calls() {
        let mut t: *mut ticker = std::ptr::null_mut();
        // SAFETY: valid out pointer; the ticker is freed below.
        unsafe {
            assert_eq!(ticker_new(1_000_000, 0, &mut t), 0);
            (*t).broken = true;
            let mut tick = std::mem::zeroed::<ticker_tick>();
            assert_eq!(
                ticker_next(t, 0, &mut tick),
                ticker_status::TICKER_SYSTEM_ERROR as c_int
            );
            ticker_free(t);
        }
        assert!(last_error().unwrap().contains("failed in an earlier call"));
    }

    #[test]
    fn a_cron_ticker_is_refused_with_the_field_or_zone_at_fault() {
        let new = |expr: &str, zone: &str, missed: c_int| {
            let expr = CString::new(expr).unwrap();
            let zone = CString::new(zone).unwrap();
            let mut t: *mut ticker = std::ptr::null_mut();
            // SAFETY: NUL-terminated strings and a writable out pointer; freed below.
            let code = unsafe { ticker_new_cron(expr.as_ptr(), zone.as_ptr(), missed, &mut t) };
            if !t.is_null() {
                // SAFETY: a live ticker from ticker_new_cron.
                unsafe { ticker_free(t) };
            }
            (code, last_error().unwrap_or_default())
        };
        assert_eq!(new("*/5 * * * *", "Europe/Berlin", 0).0, 0);
        assert_eq!(new("@hourly", "", 2).0, 0, "no zone is UTC");
        let (code, error) = new("61 * * * *", "UTC", 0);
        assert_eq!(code, ticker_status::TICKER_INVALID_ARGUMENT as c_int);
        assert!(error.contains("minute 61 is out of 0-59"), "{error}");
        let (code, error) = new("* * * * *", "Europe/Berlinn", 0);
        assert_eq!(code, ticker_status::TICKER_INVALID_ARGUMENT as c_int);
        assert!(
            error.contains("unknown time zone \"Europe/Berlinn\""),
            "{error}"
        );
        let (_, error) = new("* * * * *", "UTC", 1);
        assert!(error.contains("delay moves an interval's grid"), "{error}");
    }

    #[test]
    fn a_cron_tick_carries_its_occurrence() {
        let expr = CString::new("* * * * * *").unwrap();
        let mut t: *mut ticker = std::ptr::null_mut();
        // SAFETY: a NUL-terminated string, NULL for the zone (UTC), a writable out pointer;
        // the ticker is freed below.
        unsafe {
            assert_eq!(
                ticker_new_cron(expr.as_ptr(), std::ptr::null(), 0, &mut t),
                0
            );
            let mut tick = std::mem::zeroed::<ticker_tick>();
            assert_eq!(ticker_next(t, 3_000_000_000, &mut tick), 0);
            assert_eq!(tick.number, 0);
            assert!(tick.scheduled_unix_ns > 0);
            assert_eq!(
                tick.scheduled_unix_ns % 1_000_000_000,
                0,
                "on a whole second"
            );
            ticker_free(t);
        }
    }
}
