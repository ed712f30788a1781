<?php

declare(strict_types=1);

namespace Ticker\Ffi;

/**
 * One tick, as {@see Ticker::next()} returns it. Instants are on the `hrtime(true)` clock
 * (CLOCK_MONOTONIC), in nanoseconds: `hrtime(true) - $tick->dueNs` is how late the code after
 * `next()` runs.
 */
final class Tick
{
    /**
     * @param int $number from 0 on the schedule; skipped ticks keep their numbers, so the numbers
     *                    never returned are the skipped ones
     * @param int $dueNs the tick's due instant
     * @param int $lateNs how late `next()` returned it: microseconds when the caller was waiting,
     *                    more for a tick that had to wait for the caller
     * @param int $skipped ticks skipped since the previous returned tick, in the order things
     *                     happened: a late tick carries the skips of the ticks after it, which
     *                     came due while it waited; the sum is `stats()['skipped']`
     * @param \DateTimeImmutable|null $scheduled a cron ticker's occurrence, in its time zone
     *                                           ({@see Ticker::cron()}); null for an interval
     */
    public function __construct(
        public readonly int $number,
        public readonly int $dueNs,
        public readonly int $lateNs,
        public readonly int $skipped,
        public readonly ?\DateTimeImmutable $scheduled = null,
    ) {
    }
}
