<?php
/*
 * The soak's app (scripts/reliability.py soak): the native loop of the README's quick start, each tick
 * written as one line "tick pid hrtime" to $TICKER_SOAK_LOG when the worker gets it, before
 * it answers. Small lines appended by every worker: at 1 ms for hours the log stays small
 * enough to read back, and the script finds in it every tick handed to PHP, duplicates and
 * the longest gap between two ticks.
 */

declare(strict_types=1);

$path = getenv('TICKER_SOAK_LOG') ?: 'ticks.log';
$worker = Ticker\Worker::create();
$log = null;

while ($payload = $worker->waitPayload()) {
    // Opened in the worker, after its fork: each worker has its own append descriptor.
    $log ??= fopen($path, 'ab');
    $tick = json_decode($payload->body, true)['tick'];
    fwrite($log, $tick . ' ' . getmypid() . ' ' . hrtime(true) . "\n");
    fflush($log);
    $worker->respond(new Ticker\Payload('OK'));
}
