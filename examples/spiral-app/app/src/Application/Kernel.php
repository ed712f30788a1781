<?php

declare(strict_types=1);

namespace App\Application;

use App\Application\Bootloader\AppBootloader;
use Ticker\Spiral\TickerBootloader;

final class Kernel extends \Spiral\Framework\Kernel
{
    protected const LOAD = [
        TickerBootloader::class,
        AppBootloader::class,
    ];
}
