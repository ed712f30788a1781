<?php
/*
 * The app of scripts/reliability.py scrape: the native loop of the README's quick start, each tick written
 * as one line "tick dueHrtime startedHrtime" to $TICKER_SCRAPE_LOG, where startedHrtime is
 * hrtime(true) as waitPayload() returns the tick. started - due is the tick's own lateness,
 * on the clock of the header's dueHrtime (CLOCK_MONOTONIC, the same as Python's
 * time.monotonic_ns()), so the script can cut the log into its quiet and scraped phases.
 */

declare(strict_types=1);

$path = getenv('TICKER_SCRAPE_LOG') ?: 'ticks.log';
$worker = Ticker\Worker::create();
$log = null;

while ($payload = $worker->waitPayload()) {
    $started = hrtime(true);
    // Opened in the worker, after its fork: each worker has its own append descriptor.
    $log ??= fopen($path, 'ab');
    $tick = json_decode($payload->body, true)['tick'];
    $due = json_decode($payload->header, true)['dueHrtime'];
    fwrite($log, $tick . ' ' . $due . ' ' . $started . "\n");
    fflush($log);
    $worker->respond(new Ticker\Payload('OK'));
}
