<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support\Schedule;

use Ticker\Spiral\Attribute\Schedule;
use Ticker\Spiral\TickHandlerInterface;

/** Marked, but abstract: the container cannot build it. */
#[Schedule('abstract-report')]
abstract class AbstractReport implements TickHandlerInterface
{
}
