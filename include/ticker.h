#define FFI_SCOPE "TICKER"
#define FFI_LIB "libticker.so"


/*
 * ticker: precise periodic ticks for one process, from Rust, without PHP (libticker.so).
 * Generated from src/ffi.rs by cbindgen: do not edit; `make header` regenerates it.
 * Needs <stdint.h> (uint64_t, int64_t) included before it.
 */

/**
 * Return codes of the functions that return `int`: `TICKER_OK` (0), or one of the negative
 * values below. After a negative value other than `TICKER_TIMEOUT`, `ticker_last_error()`
 * says what went wrong.
 */
typedef enum ticker_status {
    /**
     * Success.
     */
    TICKER_OK = 0,
    /**
     * `ticker_next`: the timeout passed before a tick was due. Not an error.
     */
    TICKER_TIMEOUT = -1,
    /**
     * A null pointer, a zero or too small interval (under 100 µs), an unknown policy, a
     * negative timeout other than -1, or a malformed duration.
     */
    TICKER_INVALID_ARGUMENT = -2,
    /**
     * Something failed inside the library (an internal error); the ticker concerned is unusable
     * and should be freed.
     */
    TICKER_SYSTEM_ERROR = -3,
} ticker_status;

/**
 * The `missed` argument of `ticker_new`: what happens to ticks that come due while the caller
 * is not waiting in `ticker_next` (it counts as busy from the return of `ticker_next` until
 * its next call, and after a timeout until its next call).
 */
typedef enum ticker_missed {
    /**
     * One missed tick waits and is returned, late, by the next call; the ticks missed after
     * it are skipped, counted, and reported in the `skipped` of the next returned tick. The
     * grid does not move: after the late tick comes the next one due on it.
     */
    TICKER_SKIP = 0,
    /**
     * The missed tick waits and is returned, late, by the next call; the grid waits with it and
     * restarts one interval after that call: no tick is skipped, later ticks shift.
     */
    TICKER_DELAY = 1,
    /**
     * Every missed tick waits (each costs 32 bytes until returned), and the next calls return
     * them in order, at once, until the caller has caught up. No tick is skipped.
     */
    TICKER_BURST = 2,
} ticker_missed;

/**
 * A ticker: a grid of due instants and the policy for missed ticks. Opaque.
 */
typedef struct ticker ticker;

/**
 * One tick, as `ticker_next` returns it.
 */
typedef struct ticker_tick {
    /**
     * From 0 on the schedule. Skipped ticks keep their numbers: the numbers never returned are
     * the skipped ones.
     */
    uint64_t number;
    /**
     * The due instant, in CLOCK_MONOTONIC nanoseconds (PHP's `hrtime(true)` clock): tick N of
     * a ticker created at T is due at T + (N + 1) × interval, unless the delay policy moved
     * the grid.
     */
    uint64_t due_ns;
    /**
     * How late `ticker_next` returned it: `clock_gettime(CLOCK_MONOTONIC)` at its return minus
     * `due_ns`. A few microseconds for a tick the caller was waiting for; more for a tick that
     * had to wait for the caller.
     */
    int64_t late_ns;
    /**
     * Ticks skipped since the previous returned tick, in the order things happened: a late
     * tick carries the skips of the ticks after it, which came due while it waited (under
     * `TICKER_SKIP`, tick 1 returned late with `skipped` 2 is followed by tick 4). The sum
     * over all returned ticks is `ticker_counts.skipped`. Always 0 under `TICKER_DELAY` and
     * `TICKER_BURST`.
     */
    uint64_t skipped;
    /**
     * A ticker from `ticker_new_cron`: the occurrence this tick runs for, in Unix time
     * (nanoseconds since 1970-01-01T00:00:00Z). 0 for a ticker from `ticker_new`.
     */
    int64_t scheduled_unix_ns;
} ticker_tick;

/**
 * A ticker's counts, as of its last `ticker_next` call (ticks that came due since are counted
 * by the next call): `due` = `delivered` + `skipped` + the ticks waiting to be returned.
 */
typedef struct ticker_counts {
    uint64_t due;
    uint64_t delivered;
    uint64_t skipped;
} ticker_counts;

/**
 * Creates a ticker whose tick N is due at now + (N + 1) × `interval_ns` (the first one
 * interval from now), on CLOCK_MONOTONIC, with `missed` one of `ticker_missed`. On success
 * `*out` is the ticker, to be freed with `ticker_free`; on failure `*out` is NULL.
 *
 * Returns `TICKER_OK`, or `TICKER_INVALID_ARGUMENT` (`out` is NULL, `interval_ns` is zero or
 * below 100 µs, `missed` is not 0, 1 or 2).
 *
 * Thread-safety: safe to call from any thread. The ticker may be used from any thread, one
 * call at a time (see `ticker_next`).
 *
 * # Safety
 *
 * `out` is NULL or points to writable memory for one pointer.
 */
int ticker_new(uint64_t interval_ns, int missed, struct ticker **out);

/**
 * Creates a ticker whose ticks come at the occurrences of a cron `expression` (5 fields, or 6
 * with seconds first; `*`, lists, ranges, steps, month and weekday names, `@daily` and the
 * other aliases) in the time zone named `zone` (an IANA name such as `Europe/Berlin`; NULL
 * or "" is UTC), by the wall clock, with DST as Vixie cron has it: a fixed-time job whose
 * time falls in a spring-forward gap runs once at the end of the gap, and once in a fold;
 * other jobs follow real time. The wall clock is read again at least every second while
 * `ticker_next` waits, so a step of the clock moves the next tick. `missed` is
 * `TICKER_SKIP` or `TICKER_BURST` (`TICKER_DELAY` moves an interval's grid; a cron
 * schedule has none). On success `*out` is the ticker, to be freed with `ticker_free`; on
 * failure `*out` is NULL, and `ticker_last_error()` names what is wrong (the field of the
 * expression, the zone).
 *
 * Returns `TICKER_OK`, or `TICKER_INVALID_ARGUMENT` (`out` or `expression` is NULL, the
 * expression or zone is refused, `missed` is not 0 or 2).
 *
 * Thread-safety: as `ticker_new`.
 *
 * # Safety
 *
 * `expression` is NULL or a NUL-terminated string; `zone` is NULL or a NUL-terminated
 * string; `out` is NULL or points to writable memory for one pointer.
 */
int ticker_new_cron(const char *expression, const char *zone, int missed, struct ticker **out);

/**
 * Waits for the next tick and writes it to `*out`. Returns at the tick's due instant, to within
 * microseconds (it sleeps until shortly before, then spins: half the calls return on time,
 * the others late by the few microseconds their wake-up exceeded the median), or at once
 * with a tick that had to wait for the caller (see `ticker_missed`).
 *
 * `timeout_ns`: -1 waits as long as it takes; 0 or more returns `TICKER_TIMEOUT` (and leaves
 * `*out` alone) when no tick is due within that many nanoseconds, 0 making it a check that does
 * not block. After a timeout the caller counts as busy until its next call.
 *
 * Returns `TICKER_OK`, `TICKER_TIMEOUT`, `TICKER_INVALID_ARGUMENT` (`t` or `out` is NULL,
 * `timeout_ns` below -1) or `TICKER_SYSTEM_ERROR`. Signals do not interrupt the wait: a
 * handler runs, and the wait goes on.
 *
 * Thread-safety: not safe to call concurrently on the same ticker (nor with `ticker_stats` or
 * `ticker_free` on it); different tickers are independent, on any threads.
 *
 * # Safety
 *
 * `t` is NULL or a live ticker from `ticker_new`; `out` is NULL or writable.
 */
int ticker_next(struct ticker *t, int64_t timeout_ns, struct ticker_tick *out);

/**
 * Writes the ticker's counts to `*out` (see `ticker_counts`).
 *
 * Returns `TICKER_OK` or `TICKER_INVALID_ARGUMENT` (`t` or `out` is NULL).
 *
 * Thread-safety: not safe to call while `ticker_next` or `ticker_free` runs on the same
 * ticker; concurrent `ticker_stats` calls on one ticker are safe.
 *
 * # Safety
 *
 * `t` is NULL or a live ticker from `ticker_new`; `out` is NULL or writable.
 */
int ticker_stats(const struct ticker *t, struct ticker_counts *out);

/**
 * Frees a ticker. `ticker_free(NULL)` does nothing.
 *
 * Thread-safety: not safe while another call runs on the same ticker; afterwards `t` is
 * invalid.
 *
 * # Safety
 *
 * `t` is NULL or a live ticker from `ticker_new`, not freed before.
 */
void ticker_free(struct ticker *t);

/**
 * Parses a duration written as in `.rr.yaml` (Go's syntax: `250ms`, `1s`, `1m30s`, `1.5s`,
 * `100us`; units ns, us, µs, ms, s, m, h) into nanoseconds at `*out_ns`, for
 * `ticker_new(interval_ns, ...)`. `"0"` is 0.
 *
 * Returns `TICKER_OK` or `TICKER_INVALID_ARGUMENT` (`text` or `out_ns` is NULL, `text` is not
 * UTF-8 or not a duration; `*out_ns` is then left alone).
 *
 * Thread-safety: safe to call from any thread.
 *
 * # Safety
 *
 * `text` is NULL or a NUL-terminated string; `out_ns` is NULL or writable.
 */
int ticker_parse_duration(const char *text, uint64_t *out_ns);

/**
 * The text of the last error on this thread (the last call that returned
 * `TICKER_INVALID_ARGUMENT` or `TICKER_SYSTEM_ERROR`), or NULL if there was none. Successful
 * calls and timeouts leave it as it is.
 *
 * Thread-safety: each thread has its own; the text stays valid until the same thread's next
 * failing call, or its exit. Do not free it.
 */
const char *ticker_last_error(void);
