<?php

declare(strict_types=1);

/*
 * The benchmark's one-process ticker: ticks on a fixed grid in this PHP process, one of three ways.
 *
 *   BENCH_MODE=ffi     Ticker\Ffi\Ticker::next() (PHP's FFI on libticker.so, TICKER_LIB)
 *   BENCH_MODE=usleep  usleep() to the next due instant: what a PHP developer writes
 *   BENCH_MODE=spin    busy-waiting on hrtime(true) until the next due instant
 *
 * All three: tick N due at start + (N + 1) × BENCH_INTERVAL_NS on hrtime(true)'s clock; a tick
 * that comes due while the previous one is handled is handled late, the ones after it skipped
 * (the `skip` policy); the handler takes hrtime(true) and keeps `hrtime(true) - due` in memory.
 * The run covers the ticks due up to BENCH_TICKS, then prints one JSON line: every lateness (ns),
 * the ticks handled and skipped, and the process's CPU time (getrusage) over the wall time.
 */

require __DIR__ . '/../php/src/Ffi/Exception.php';
require __DIR__ . '/../php/src/Ffi/Tick.php';
require __DIR__ . '/../php/src/Ffi/Ticker.php';

$mode = getenv('BENCH_MODE') ?: 'ffi';
$interval = (int) (getenv('BENCH_INTERVAL_NS') ?: 1_000_000);
$ticks = (int) (getenv('BENCH_TICKS') ?: 1000);

function cpuNs(): int
{
    $u = getrusage();

    return ($u['ru_utime.tv_sec'] + $u['ru_stime.tv_sec']) * 1_000_000_000
        + ($u['ru_utime.tv_usec'] + $u['ru_stime.tv_usec']) * 1_000;
}

$late = [];
$handled = 0;
$skipped = 0;

if ($mode === 'ffi') {
    $ticker = Ticker\Ffi\Ticker::every($interval, 'skip', getenv('TICKER_LIB') ?: null);
    $cpu0 = cpuNs();
    $wall0 = hrtime(true);
    do {
        $tick = $ticker->next();
        $late[] = hrtime(true) - $tick->dueNs;
        $handled++;
        $skipped += $tick->skipped;
    } while ($tick->number < $ticks - 1);
} else {
    $cpu0 = cpuNs();
    $wall0 = hrtime(true);
    $start = $wall0;
    $arrived = -1;                                     // the last tick number that came due
    while ($arrived < $ticks - 1) {
        $dueBy = intdiv(hrtime(true) - $start, $interval) - 1;
        if ($dueBy > $arrived) {
            // Ticks came due while the last one was handled: the first is handled now, late,
            // and the others are skipped.
            $skipped += $dueBy - $arrived - 1;
            $arrived++;
            $due = $start + ($arrived + 1) * $interval;
            $arrived = $dueBy;
        } else {
            $arrived++;
            $due = $start + ($arrived + 1) * $interval;
            if ($mode === 'usleep') {
                $wait = $due - hrtime(true);
                if ($wait > 0) {
                    usleep(intdiv($wait + 999, 1000)); // whole µs, rounded up: never early
                }
            } else {
                while (hrtime(true) < $due) {
                }
            }
        }
        $late[] = hrtime(true) - $due;
        $handled++;
    }
}

echo json_encode([
    'mode' => $mode,
    'interval_ns' => $interval,
    'ticks' => $ticks,
    'handled' => $handled,
    'skipped' => $skipped,
    'cpu_ns' => cpuNs() - $cpu0,
    'wall_ns' => hrtime(true) - $wall0,
    'late_ns' => $late,
]), "\n";
