<?php

declare(strict_types=1);

namespace Ticker\Spiral\Attribute;

/**
 * Makes a TickHandlerInterface class the handler of the named schedule's ticks:
 *
 *     #[Schedule('nightly-report')]
 *     final class NightlyReport implements TickHandlerInterface { ... }
 *
 * The name is the schedule's in the ticker config (`default` is the plain `ticker.interval`).
 * Repeat the attribute for a class that handles several schedules. TickerBootloader finds the
 * classes with Spiral's tokenizer, in the directories the tokenizer scans; ScheduleHandlers is the
 * way without it.
 */
#[\Attribute(\Attribute::TARGET_CLASS | \Attribute::IS_REPEATABLE)]
final class Schedule
{
    public function __construct(public readonly string $name)
    {
    }
}
