<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support;

/**
 * One ordered record of what the worker, the handler and the finalizer were asked to do, so a test
 * can assert the order across them.
 */
final class Journal
{
    /** @var list<string> */
    private array $events = [];

    public function record(string $event): void
    {
        $this->events[] = $event;
    }

    /**
     * @return list<string>
     */
    public function events(): array
    {
        return $this->events;
    }
}
