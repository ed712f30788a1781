<?php

declare(strict_types=1);

/*
 * The demo: every tick prints one line (worker pid, tick number, lateness).
 *
 *   php -d extension=ticker.so examples/app.php [TICKS]
 *
 * TICKS (default 5) is how many ticks to run before the worker that handles the last one
 * asks the master to stop (SIGTERM, the same as Ctrl-C); 0 runs until Ctrl-C.
 */

$ticks = (int) ($argv[1] ?? 5);

$worker = Ticker\Worker::create();
fwrite(STDERR, sprintf("master %d, RR_MODE=%s\n", getmypid(), $_SERVER['RR_MODE'] ?? '(unset)'));

while ($payload = $worker->waitPayload()) {
    $now = hrtime(true);
    $tick = json_decode($payload->body, true)['tick'];
    $header = json_decode($payload->header, true);
    printf(
        "worker %d  tick %3d  late %7.1f µs%s\n",
        getmypid(),
        $tick,
        ($now - $header['dueHrtime']) / 1000,
        $header['skipped'] > 0 ? sprintf("  (%d skipped before)", $header['skipped']) : ''
    );
    $worker->respond(new Ticker\Payload('OK'));
    if ($ticks > 0 && $tick + 1 >= $ticks) {
        posix_kill(posix_getppid(), SIGTERM);
    }
}
