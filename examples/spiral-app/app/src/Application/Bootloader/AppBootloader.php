<?php

declare(strict_types=1);

namespace App\Application\Bootloader;

use App\Tick\LogTickHandler;
use Spiral\Boot\Bootloader\Bootloader;
use Ticker\Spiral\TickHandlerInterface;

final class AppBootloader extends Bootloader
{
    protected const SINGLETONS = [
        TickHandlerInterface::class => LogTickHandler::class,
    ];
}
