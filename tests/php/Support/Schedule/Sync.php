<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support\Schedule;

use Ticker\Spiral\Attribute\Schedule;
use Ticker\Spiral\TickHandlerInterface;

/** One handler for two schedules. */
#[Schedule('sync-eu')]
#[Schedule('sync-us')]
final class Sync implements TickHandlerInterface
{
    use JournalsTicks;
}
