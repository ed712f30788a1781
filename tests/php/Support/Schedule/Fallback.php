<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support\Schedule;

use Ticker\Spiral\TickHandlerInterface;

/** What a test binds as the TickHandlerInterface: the handler of every schedule without its own. */
final class Fallback implements TickHandlerInterface
{
    use JournalsTicks;
}
