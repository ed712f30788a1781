<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support\Schedule;

use Ticker\Spiral\TickHandlerInterface;

/** A handler without the attribute: it serves the schedule a ScheduleHandlers map names it for. */
final class Weekly implements TickHandlerInterface
{
    use JournalsTicks;
}
