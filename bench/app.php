<?php

declare(strict_types=1);

/*
 * The benchmark's application: the same handler on both systems.
 *
 *   BENCH_SYSTEM=ticker   php -d extension=.../libticker_php.so bench/app.php   (TICKER_CONFIG=...)
 *   BENCH_SYSTEM=baseline php bench/app.php                                (BASELINE_* env)
 *
 * The handler records `hrtime(true) - dueHrtime` the moment waitPayload() returns, answers
 * with a body of BENCH_PAD bytes, and keeps everything in memory; a worker writes its
 * figures to BENCH_OUT/worker-<pid>.txt when it is told to stop. Nothing else runs per tick.
 *
 * Environment:
 *   BENCH_OUT      directory for the result files (required)
 *   BENCH_TICKS    > 0: the worker that handles tick number >= BENCH_TICKS - 1 sends SIGTERM
 *                  to the master (exactly once over all workers), so a run covers ticks
 *                  0 .. BENCH_TICKS-1; 0: run until the master is signalled from outside
 *   BENCH_PAD      size of the answer's body in bytes (default 2, "OK")
 *   BENCH_BOOT_MB  MB of PHP data allocated before the worker is created (default 0)
 *   BENCH_READY    1: a worker writes BENCH_OUT/ready-<pid>.txt at its first tick
 *                  ("<pid> <hrtime of its first tick> <tick>"), for the replacement test;
 *                  first: only the worker that handles tick 0 writes BENCH_OUT/first.txt (the
 *                  same line), so that a pool of hundreds of workers does no I/O while ticking
 *
 * BENCH_OUT/master.txt is "<pid> <memory_get_usage()> <strings> <hrtime>", written once the
 * application is booted and the worker created, right before the first waitPayload().
 */

$system = getenv('BENCH_SYSTEM') ?: 'ticker';
$out = getenv('BENCH_OUT') ?: throw new RuntimeException('BENCH_OUT is not set');
$ticks = (int) (getenv('BENCH_TICKS') ?: 0);
$pad = getenv('BENCH_PAD') !== false ? (int) getenv('BENCH_PAD') : 2;
$bootMb = (int) (getenv('BENCH_BOOT_MB') ?: 0);
$ready = getenv('BENCH_READY') === '1';
$firstOnly = getenv('BENCH_READY') === 'first';

// The "booted application": about $bootMb MB of ordinary PHP data (1 KB strings, each
// different, so that every page is really written), alive for the whole run.
$app = [];
for ($i = 0, $n = $bootMb * 1024; $i < $n; $i++) {
    $app[] = str_repeat(pack('N', $i), 256);
}

if ($system === 'baseline') {
    require __DIR__ . '/baseline/Worker.php';
    $worker = Baseline\Worker::create();
    $answer = new Baseline\Payload(str_repeat('x', $pad));
} else {
    $worker = Ticker\Worker::create();
    $answer = new Ticker\Payload(str_repeat('x', $pad));
}
$masterPid = getmypid();
file_put_contents(
    "$out/master.txt",
    sprintf("%d %d %d %d\n", $masterPid, memory_get_usage(), count($app), hrtime(true))
);

$late = [];          // lateness of every tick this worker handled, ns
$seen = [];          // their tick numbers
$at = [];            // hrtime(true) when each came
$skippedSum = 0;
$first = true;

while ($payload = $worker->waitPayload()) {
    $now = hrtime(true);
    $header = json_decode($payload->header, true);
    $tick = json_decode($payload->body, true)['tick'];
    $late[] = $now - $header['dueHrtime'];
    $seen[] = $tick;
    $at[] = $now;
    $skippedSum += $header['skipped'];
    if ($first && $ready) {
        file_put_contents("$out/ready-" . getmypid() . '.txt', sprintf("%d %d %d\n", getmypid(), $now, $tick));
    }
    if ($firstOnly && $tick === 0) {
        file_put_contents("$out/first.txt", sprintf("%d %d %d\n", getmypid(), $now, $tick));
    }
    $first = false;
    $worker->respond($answer);
    if ($ticks > 0 && $tick >= $ticks - 1 && ($f = @fopen("$out/stop", 'x')) !== false) {
        fclose($f);
        posix_kill(posix_getppid(), SIGTERM);
    }
}

if (getmypid() !== $masterPid) {
    $lines = '';
    foreach ($late as $i => $l) {
        $lines .= $seen[$i] . ' ' . $l . ' ' . $at[$i] . "\n";
    }
    file_put_contents("$out/worker-" . getmypid() . '.txt', "# skipped $skippedSum\n" . $lines);
}
