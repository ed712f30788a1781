/*
 * The C library (libticker.so) as a C program uses it: built with gcc against include/ticker.h
 * and run with no PHP on the library path (tests/c/run.sh).
 *
 *   ticker_test          every check, about 5 s
 *   ticker_test errors   the error paths only (for the statically linked build)
 *
 * Timing is never asserted beyond generous bounds: stalls are lower bounds (a sleep never ends
 * early), and what a loaded machine may stretch is checked by invariants read off the clock.
 * Lateness at 1 ms is reported, not asserted.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ticker.h"

#define MS 1000000ULL

static int failures;

#define CHECK(cond, ...)                                                                         \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            failures++;                                                                          \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                      \
            fprintf(stderr, __VA_ARGS__);                                                        \
            fputc('\n', stderr);                                                                 \
        }                                                                                        \
    } while (0)

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns) {
    struct timespec ts = {(time_t)(ns / 1000000000ULL), (long)(ns % 1000000000ULL)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static const char *last_error(void) {
    const char *e = ticker_last_error();
    return e ? e : "(null)";
}

static int error_mentions(const char *word) {
    const char *e = ticker_last_error();
    return e != NULL && strstr(e, word) != NULL;
}

static ticker *make(uint64_t interval_ns, int missed) {
    ticker *t = NULL;
    int rc = ticker_new(interval_ns, missed, &t);
    if (rc != TICKER_OK || t == NULL) {
        fprintf(stderr, "FATAL: ticker_new(%llu, %d) = %d: %s\n", (unsigned long long)interval_ns,
                missed, rc, last_error());
        exit(1);
    }
    return t;
}

/* The next tick; a test that would wait more than 10 s for it fails instead. */
static ticker_tick next(ticker *t) {
    ticker_tick tick;
    int rc = ticker_next(t, 10000 * (int64_t)MS, &tick);
    if (rc != TICKER_OK) {
        fprintf(stderr, "FATAL: ticker_next = %d: %s\n", rc,
                rc == TICKER_TIMEOUT ? "no tick within 10 s" : last_error());
        exit(1);
    }
    return tick;
}

/* Every tick comes at or after its due instant, and late_ns says by how much. */
static void check_not_early(const ticker_tick *tick, uint64_t returned_by) {
    CHECK(tick->late_ns >= 0, "tick %llu late_ns %lld", (unsigned long long)tick->number,
          (long long)tick->late_ns);
    CHECK(tick->due_ns + (uint64_t)tick->late_ns <= returned_by, "tick %llu: due + late is after "
          "the call returned", (unsigned long long)tick->number);
}

static void *errors_on_another_thread(void *main_error) {
    CHECK(ticker_last_error() == NULL, "a new thread sees another thread's error: %s",
          last_error());
    uint64_t ns = 0;
    CHECK(ticker_parse_duration("soon", &ns) == TICKER_INVALID_ARGUMENT, "parsed 'soon'");
    CHECK(error_mentions("soon"), "this thread's error: %s", last_error());
    CHECK(strstr((const char *)main_error, "soon") == NULL, "the main thread's text changed");
    return NULL;
}

static void test_errors(void) {
    CHECK(ticker_last_error() == NULL, "no call failed yet, but: %s", last_error());

    ticker *t = (ticker *)(uintptr_t)1; /* not NULL, to see that a failure clears it */
    CHECK(ticker_new(0, TICKER_SKIP, &t) == TICKER_INVALID_ARGUMENT, "interval 0 accepted");
    CHECK(t == NULL, "*out is not NULL after a failure");
    CHECK(error_mentions("zero"), "%s", last_error());
    CHECK(ticker_new(99999, TICKER_SKIP, &t) == TICKER_INVALID_ARGUMENT, "99.999 µs accepted");
    CHECK(error_mentions("shortest interval"), "%s", last_error());
    CHECK(ticker_new(MS, 3, &t) == TICKER_INVALID_ARGUMENT, "policy 3 accepted");
    CHECK(error_mentions("missed policy 3"), "%s", last_error());
    CHECK(ticker_new(MS, -1, &t) == TICKER_INVALID_ARGUMENT, "policy -1 accepted");
    CHECK(ticker_new(MS, TICKER_SKIP, NULL) == TICKER_INVALID_ARGUMENT, "out NULL accepted");
    CHECK(error_mentions("out is NULL"), "%s", last_error());

    t = make(100000, TICKER_BURST); /* the shortest interval is accepted */
    ticker_tick tick;
    ticker_counts counts;
    CHECK(ticker_next(NULL, -1, &tick) == TICKER_INVALID_ARGUMENT, "t NULL accepted");
    CHECK(error_mentions("t is NULL"), "%s", last_error());
    CHECK(ticker_next(t, -1, NULL) == TICKER_INVALID_ARGUMENT, "out NULL accepted");
    CHECK(ticker_next(t, -2, &tick) == TICKER_INVALID_ARGUMENT, "timeout -2 accepted");
    CHECK(error_mentions("timeout_ns -2"), "%s", last_error());
    CHECK(ticker_stats(NULL, &counts) == TICKER_INVALID_ARGUMENT, "stats of NULL");
    CHECK(ticker_stats(t, NULL) == TICKER_INVALID_ARGUMENT, "stats into NULL");
    CHECK(ticker_next(t, -1, &tick) == TICKER_OK, "after the errors: %s", last_error());
    CHECK(error_mentions("stats"), "a success cleared the last error: %s", last_error());
    ticker_free(t);
    ticker_free(NULL);

    uint64_t ns = 7;
    CHECK(ticker_parse_duration("1m30s", &ns) == TICKER_OK && ns == 90000000000ULL, "%llu",
          (unsigned long long)ns);
    CHECK(ticker_parse_duration("1.5ms", &ns) == TICKER_OK && ns == 1500000ULL, "%llu",
          (unsigned long long)ns);
    CHECK(ticker_parse_duration("100\xc2\xb5s", &ns) == TICKER_OK && ns == 100000ULL, "µs");
    CHECK(ticker_parse_duration("1x", &ns) == TICKER_INVALID_ARGUMENT, "1x parsed");
    CHECK(error_mentions("unknown unit"), "%s", last_error());
    CHECK(ticker_parse_duration("10", &ns) == TICKER_INVALID_ARGUMENT, "10 parsed");
    CHECK(error_mentions("without a unit"), "%s", last_error());
    CHECK(ticker_parse_duration("\xff", &ns) == TICKER_INVALID_ARGUMENT, "bad UTF-8 parsed");
    CHECK(ns == 100000ULL, "a failure wrote *out_ns");
    CHECK(ticker_parse_duration(NULL, &ns) == TICKER_INVALID_ARGUMENT, "NULL text");
    CHECK(ticker_parse_duration("1s", NULL) == TICKER_INVALID_ARGUMENT, "NULL out_ns");

    const char *main_error = ticker_last_error();
    pthread_t other;
    pthread_create(&other, NULL, errors_on_another_thread, (void *)main_error);
    pthread_join(other, NULL);
    CHECK(ticker_last_error() == main_error && error_mentions("NULL"),
          "another thread's error reached this one: %s", last_error());
}

static int compare_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_numbering_and_lateness(void) {
    enum { N = 1000 };
    static int64_t late[N];
    ticker *t = make(MS, TICKER_SKIP);
    ticker_tick first = next(t), prev = first;
    /* Numbers never returned are the skipped ones. A late tick reports the skips of the ticks
     * after it (they were skipped while it waited), so the skips reported so far may run ahead
     * of the gaps in the numbering, never behind. */
    uint64_t reported = first.skipped, gaps = 0;
    for (int i = 0; i < N; i++) {
        ticker_tick tick = next(t);
        check_not_early(&tick, now_ns());
        CHECK(tick.number > prev.number, "tick %llu after %llu", (unsigned long long)tick.number,
              (unsigned long long)prev.number);
        gaps += tick.number - prev.number - 1;
        reported += tick.skipped;
        CHECK(reported >= gaps, "tick %llu: %llu numbers missing, %llu skips reported",
              (unsigned long long)tick.number, (unsigned long long)gaps,
              (unsigned long long)reported);
        CHECK(tick.due_ns == first.due_ns + (tick.number - first.number) * MS,
              "tick %llu is off the grid", (unsigned long long)tick.number);
        late[i] = tick.late_ns;
        prev = tick;
    }
    ticker_counts c;
    CHECK(ticker_stats(t, &c) == TICKER_OK, "%s", last_error());
    CHECK(c.delivered == N + 1, "delivered %llu", (unsigned long long)c.delivered);
    /* One tick may wait, if the last call woke so late that a second tick was due. */
    CHECK(c.due - c.delivered - c.skipped <= 1, "due %llu, delivered %llu, skipped %llu",
          (unsigned long long)c.due, (unsigned long long)c.delivered,
          (unsigned long long)c.skipped);
    /* Skips reported beyond the gaps are of ticks after the last one returned. */
    CHECK(c.due - (prev.number + 1) - (reported - gaps) <= 1, "due %llu after tick %llu",
          (unsigned long long)c.due, (unsigned long long)prev.number);
    CHECK(c.skipped == reported, "%llu skipped, %llu reported", (unsigned long long)c.skipped,
          (unsigned long long)reported);
    qsort(late, N, sizeof late[0], compare_i64);
    printf("lateness at 1 ms over %d ticks: p50 %.1f us, p99 %.1f us, max %.1f us; %llu skipped\n",
           N, late[N / 2] / 1e3, late[N * 99 / 100] / 1e3, late[N - 1] / 1e3,
           (unsigned long long)c.skipped);
    ticker_free(t);
}

static void test_timeouts(void) {
    uint64_t before = now_ns();
    ticker *t = make(2000 * MS, TICKER_SKIP);
    uint64_t after = now_ns();
    ticker_tick tick = {.number = 77};
    CHECK(ticker_next(t, 0, &tick) == TICKER_TIMEOUT, "a tick 2 s early with timeout 0");
    CHECK(tick.number == 77, "a timeout wrote *out");
    uint64_t start = now_ns();
    CHECK(ticker_next(t, 50 * MS, &tick) == TICKER_TIMEOUT, "a tick 2 s early within 50 ms");
    CHECK(now_ns() - start >= 50 * MS, "returned before the timeout");
    CHECK(ticker_next(t, 10000 * MS, &tick) == TICKER_OK, "no tick within 10 s: %s", last_error());
    check_not_early(&tick, now_ns());
    CHECK(tick.number == 0 && tick.skipped == 0, "tick %llu", (unsigned long long)tick.number);
    CHECK(tick.due_ns >= before + 2000 * MS && tick.due_ns <= after + 2000 * MS,
          "tick 0 is not one interval after ticker_new");
    ticker_free(t);

    /* After a timeout the caller is away: a tick that comes due meanwhile waits for it. */
    t = make(100 * MS, TICKER_SKIP);
    CHECK(ticker_next(t, 0, &tick) == TICKER_TIMEOUT, "tick 0 came at once");
    sleep_ns(350 * MS);
    tick = next(t);
    CHECK(tick.number == 0 && tick.skipped >= 2 && tick.late_ns >= 250 * (int64_t)MS,
          "tick %llu, %llu skipped, %lld ns late", (unsigned long long)tick.number,
          (unsigned long long)tick.skipped, (long long)tick.late_ns);
    ticker_free(t);
}

/* How many ticks of a grid starting at `due0` are due at `at`. */
static uint64_t due_by(uint64_t due0, uint64_t interval, uint64_t at) {
    return at < due0 ? 0 : (at - due0) / interval + 1;
}

static void test_stall(int missed, const char *name) {
    const uint64_t interval = 50 * MS;
    ticker *t = make(interval, missed);
    ticker_tick t0 = next(t);
    sleep_ns(175 * MS); /* ticks 1, 2 and 3 at least come due meanwhile */
    uint64_t before = now_ns();
    ticker_tick late = next(t);
    uint64_t after = now_ns();
    check_not_early(&late, after);
    CHECK(late.number == 1, "%s: the tick after a stall is %llu", name,
          (unsigned long long)late.number);
    CHECK(late.late_ns >= 125 * (int64_t)MS, "%s: %lld ns late", name, (long long)late.late_ns);
    ticker_tick then = next(t);
    check_not_early(&then, now_ns());
    ticker_counts c;
    CHECK(ticker_stats(t, &c) == TICKER_OK, "%s", last_error());

    if (missed == TICKER_SKIP) {
        /* Tick 1 waited, the others due by the call were skipped; the grid did not move. */
        uint64_t lo = due_by(t0.due_ns, interval, before), hi = due_by(t0.due_ns, interval, after);
        CHECK(late.skipped >= 2 && late.skipped + 2 >= lo && late.skipped + 2 <= hi,
              "skip: %llu skipped, %llu to %llu due", (unsigned long long)late.skipped,
              (unsigned long long)lo, (unsigned long long)hi);
        /* The numbers between them are the ticks skipped while tick 1 waited; skips that
         * `then` carries are of ticks after it. */
        CHECK(then.number == late.number + 1 + late.skipped, "skip: tick %llu after %llu",
              (unsigned long long)then.number, (unsigned long long)late.number);
        CHECK(then.due_ns == t0.due_ns + then.number * interval, "skip: the grid moved");
        CHECK(c.due - c.delivered - c.skipped <= 1 && c.skipped >= 2, "skip: counts %llu %llu %llu",
              (unsigned long long)c.due, (unsigned long long)c.delivered,
              (unsigned long long)c.skipped);
    } else if (missed == TICKER_DELAY) {
        /* Tick 1 waited and held the grid: tick 2 is due one interval after tick 1 went out. */
        CHECK(late.skipped == 0 && then.skipped == 0 && then.number == 2, "delay: tick %llu",
              (unsigned long long)then.number);
        CHECK(then.due_ns >= before + interval && then.due_ns <= after + interval,
              "delay: tick 2 is not one interval after tick 1 was returned");
        CHECK(c.skipped == 0 && c.due - c.delivered <= 1, "delay: counts");
    } else {
        /* Every missed tick comes, in order, at once; the grid did not move. */
        uint64_t n = then.number;
        CHECK(late.skipped == 0 && then.skipped == 0 && n == 2, "burst: tick %llu",
              (unsigned long long)n);
        for (int i = 0; i < 4; i++) {
            ticker_tick more = next(t);
            CHECK(more.number == ++n && more.skipped == 0, "burst: tick %llu after %llu",
                  (unsigned long long)more.number, (unsigned long long)(n - 1));
            CHECK(more.due_ns == t0.due_ns + more.number * interval, "burst: the grid moved");
        }
        CHECK(ticker_stats(t, &c) == TICKER_OK && c.skipped == 0, "burst: skipped");
    }
    ticker_free(t);
}

int main(int argc, char **argv) {
    int errors_only = argc > 1 && strcmp(argv[1], "errors") == 0;
    test_errors();
    if (!errors_only) {
        test_numbering_and_lateness();
        test_timeouts();
        test_stall(TICKER_SKIP, "skip");
        test_stall(TICKER_DELAY, "delay");
        test_stall(TICKER_BURST, "burst");
    }
    if (failures) {
        fprintf(stderr, "ticker_test: %d check(s) failed\n", failures);
        return 1;
    }
    printf("ticker_test: all checks passed%s\n", errors_only ? " (error paths)" : "");
    return 0;
}
