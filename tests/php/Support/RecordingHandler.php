<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support;

use Ticker\Spiral\Tick;
use Ticker\Spiral\TickHandlerInterface;

/**
 * Journals each tick it handles and throws on the tick numbers it is told to fail.
 */
final class RecordingHandler implements TickHandlerInterface
{
    /** @var list<Tick> */
    public array $ticks = [];

    /**
     * @param array<int, \Throwable> $failures what to throw, by tick number
     */
    public function __construct(private readonly Journal $journal, private readonly array $failures = [])
    {
    }

    public function handle(Tick $tick): void
    {
        $this->ticks[] = $tick;
        $this->journal->record('handle:' . $tick->number);
        if (isset($this->failures[$tick->number])) {
            throw $this->failures[$tick->number];
        }
    }
}
