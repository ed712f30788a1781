<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support\Schedule;

use Ticker\Spiral\Attribute\Schedule;

/** Marked, but not a TickHandlerInterface. */
#[Schedule('misfiled')]
final class NotAHandler
{
}
