<?php

declare(strict_types=1);

namespace App\Tick;

use Ticker\Spiral\Tick;
use Ticker\Spiral\TickHandlerInterface;

/**
 * Logs each tick to stderr: the extension passes it through, RoadRunner logs a worker's stderr.
 * Not stdout: under RoadRunner that is the channel to the master.
 */
final class LogTickHandler implements TickHandlerInterface
{
    public function handle(Tick $tick): void
    {
        \fprintf(
            \STDERR,
            "worker %d: tick %d, previous %s%s\n",
            \getmypid(),
            $tick->number,
            $tick->previous?->format(\DATE_ATOM) ?? 'none',
            $tick->dueHrtime === null ? '' : \sprintf(', %.1f ms late', (\hrtime(true) - $tick->dueHrtime) / 1e6),
        );
    }
}
