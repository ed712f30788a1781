<?php

declare(strict_types=1);

namespace Ticker\Spiral;

use Spiral\Boot\Bootloader\Bootloader;
use Spiral\Boot\KernelInterface;
use Spiral\RoadRunner\WorkerInterface;
use Ticker\Spiral\Worker\WorkerFactory;

/**
 * Makes a Spiral application serve ticks, under the ticker extension and under RoadRunner alike.
 *
 * List it after spiral/roadrunner-bridge's RoadRunnerBootloader, if the application has that one:
 * both bind WorkerInterface, and the later binding wins.
 */
final class TickerBootloader extends Bootloader
{
    protected const SINGLETONS = [
        // A singleton, created on first use: only a process that serves ticks creates a worker.
        WorkerInterface::class => [self::class, 'createWorker'],
    ];

    public function boot(KernelInterface $kernel, TickerDispatcher $dispatcher): void
    {
        $kernel->addDispatcher($dispatcher);
    }

    /**
     * Called by the container through SINGLETONS above.
     */
    private function createWorker(WorkerFactory $factory): WorkerInterface
    {
        return $factory->create();
    }
}
