<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support;

use Ticker\Spiral\Tick;
use Ticker\Spiral\TickHandlerInterface;

/**
 * The end-to-end application's handler: appends one JSON line per tick to a file shared by all
 * workers, fails one tick, and at the last one asks the master to shut down.
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

        if ($tick->number === $this->stopAt) {
            // The master stops gracefully on SIGTERM: it lets this tick finish, then exits 0.
            \posix_kill(\posix_getppid(), \SIGTERM);
        }
        if ($tick->number === $this->failAt) {
            throw new \RuntimeException(\sprintf('tick %d fails on purpose', $tick->number));
        }
    }
}
