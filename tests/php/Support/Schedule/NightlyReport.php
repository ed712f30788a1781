<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support\Schedule;

use Ticker\Spiral\Attribute\Schedule;
use Ticker\Spiral\TickHandlerInterface;

#[Schedule('nightly-report')]
final class NightlyReport implements TickHandlerInterface
{
    use JournalsTicks;
}
