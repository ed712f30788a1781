<?php

declare(strict_types=1);

namespace Ticker\Spiral;

use Spiral\Boot\Bootloader\Bootloader;
use Spiral\Boot\KernelInterface;

/**
 * Makes a Spiral application serve ticks with the package's TickerDispatcher, which calls the
 * application's TickHandlerInterface, under the ticker extension and under RoadRunner alike.
 *
 * The worker comes from WorkerBootloader, loaded first as a dependency: see there what is bound in
 * which process. Its place in the kernel's list, before or after spiral/roadrunner-bridge, does not
 * matter.
 */
final class TickerBootloader extends Bootloader
{
    protected const DEPENDENCIES = [WorkerBootloader::class];

    public function boot(KernelInterface $kernel, TickerDispatcher $dispatcher): void
    {
        $kernel->addDispatcher($dispatcher);
    }
}
