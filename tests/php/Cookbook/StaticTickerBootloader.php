<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Cookbook;

use Spiral\Boot\Bootloader\Bootloader;
use Spiral\Boot\KernelInterface;

/**
 * The cookbook's bootloader for StaticTickerDispatcher, in the 3.12+ form: the kernel takes the
 * dispatcher's class name.
 */
final class StaticTickerBootloader extends Bootloader
{
    public function boot(KernelInterface $kernel): void
    {
        $kernel->addDispatcher(StaticTickerDispatcher::class);
    }
}
