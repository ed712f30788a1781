<?php

declare(strict_types=1);

namespace App\Application;

use App\Application\Bootloader\AppBootloader;
use Ticker\Spiral\TickerBootloader;

final class Kernel extends \Spiral\Framework\Kernel
{
    /*
     * TickerBootloader brings WorkerBootloader with it, which binds the worker of whichever master
     * started the process. With spiral/roadrunner-bridge, its RoadRunnerBootloader may come before
     * or after them.
     */
    protected const LOAD = [
        TickerBootloader::class,
        AppBootloader::class,
    ];
}
