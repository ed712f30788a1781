<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support\Schedule;

use Ticker\Spiral\Tests\Support\Journal;
use Ticker\Spiral\Tick;

/**
 * A tick handler that journals being built (`built:Name`) and each tick it handles
 * (`Name:schedule:number`), so a test sees which handler got which schedule's ticks, and when the
 * container built it.
 */
trait JournalsTicks
{
    public function __construct(private readonly Journal $journal)
    {
        $journal->record('built:' . self::name());
    }

    public function handle(Tick $tick): void
    {
        $this->journal->record(\sprintf('%s:%s:%d', self::name(), $tick->schedule, $tick->number));
    }

    private static function name(): string
    {
        return (new \ReflectionClass(self::class))->getShortName();
    }
}
