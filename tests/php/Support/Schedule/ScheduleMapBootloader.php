<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support\Schedule;

use Spiral\Boot\Bootloader\Bootloader;
use Ticker\Spiral\ScheduleHandlers;

/**
 * An application's bootloader that names a schedule's handler in the map, as php/README.md shows.
 */
final class ScheduleMapBootloader extends Bootloader
{
    public function init(ScheduleHandlers $schedules): void
    {
        $schedules->add(['weekly' => Weekly::class]);
    }
}
