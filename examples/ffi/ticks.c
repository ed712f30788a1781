/*
 * Precise ticks in one C process with libticker.so: one line per tick.
 *
 *   gcc -O2 examples/ffi/ticks.c -lticker -o ticks && ./ticks [INTERVAL] [TICKS]
 *
 * (after `make install`; from the repository without installing:
 *  gcc -Iinclude examples/ffi/ticks.c -Ltarget/release -lticker -o ticks &&
 *  LD_LIBRARY_PATH=target/release ./ticks). INTERVAL is a duration as in .rr.yaml (100ms).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <ticker.h>

int main(int argc, char **argv) {
    uint64_t interval_ns;
    ticker *t;
    if (ticker_parse_duration(argc > 1 ? argv[1] : "100ms", &interval_ns) != TICKER_OK ||
        ticker_new(interval_ns, TICKER_SKIP, &t) != TICKER_OK) {
        fprintf(stderr, "ticks: %s\n", ticker_last_error());
        return 1;
    }
    int n = argc > 2 ? atoi(argv[2]) : 5;
    for (int i = 0; i < n; i++) {
        ticker_tick tick;
        if (ticker_next(t, -1, &tick) != TICKER_OK) {
            fprintf(stderr, "ticks: %s\n", ticker_last_error());
            ticker_free(t);
            return 1;
        }
        printf("tick %3llu  late %6.1f us  %llu skipped\n", (unsigned long long)tick.number,
               tick.late_ns / 1e3, (unsigned long long)tick.skipped);
    }
    ticker_free(t);
    return 0;
}
