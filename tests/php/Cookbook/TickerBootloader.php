<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Cookbook;

use Spiral\Boot\Bootloader\Bootloader;
use Spiral\Boot\KernelInterface;

/**
 * The cookbook's bootloader: adds its dispatcher to the kernel, and binds no worker.
 */
final class TickerBootloader extends Bootloader
{
    public function boot(KernelInterface $kernel, TickerDispatcher $dispatcher): void
    {
        $kernel->addDispatcher($dispatcher);
    }
}
