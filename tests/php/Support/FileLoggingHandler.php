<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support;

use Ticker\Spiral\Tick;
use Ticker\Spiral\TickHandlerInterface;

/**
 * The end-to-end application's handler: appends one JSON line per tick to a file shared by all
 * workers, fails one tick, and at the last one asks the master to shut down.
 *
 * The tick that fails is the first one from `$failAt` on, and the last the first one from `$stopAt`
 * on, each picked once across the workers (an atomic mkdir next to the file picks it): on a loaded
 * machine the tick numbered `$failAt` or `$stopAt` may be skipped, and the run must neither miss its
 * failing tick nor wait for a stop that never comes. Both markers are `$file` plus `.failed` and
 * `.stopping`, for the test to remove.
 */
final class FileLoggingHandler implements TickHandlerInterface
{
    public function __construct(
        private readonly string $file,
        private readonly int $failAt,
        private readonly int $stopAt,
    ) {
    }

    public function handle(Tick $tick): void
    {
        $lateNs = $tick->dueHrtime === null ? null : \hrtime(true) - $tick->dueHrtime;
        JsonLines::append($this->file, [
            'tick' => $tick->number,
            'previous' => $tick->previous?->getTimestamp(),
            'due' => $tick->due?->format('U.u'),
            'lateNs' => $lateNs,
            'skipped' => $tick->skipped,
            'attempt' => $tick->attempt,
            'pid' => \getmypid(),
            'ppid' => \posix_getppid(),
        ]);

        if ($tick->number >= $this->stopAt && @\mkdir($this->file . '.stopping')) {
            // The master stops gracefully on SIGTERM: it lets this tick finish, then exits 0.
            \posix_kill(\posix_getppid(), \SIGTERM);
        }
        if ($tick->number >= $this->failAt && @\mkdir($this->file . '.failed')) {
            throw new \RuntimeException(\sprintf('tick %d fails on purpose', $tick->number));
        }
    }
}
