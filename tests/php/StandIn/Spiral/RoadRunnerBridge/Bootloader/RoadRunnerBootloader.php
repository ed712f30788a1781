<?php

declare(strict_types=1);

namespace Spiral\RoadRunnerBridge\Bootloader;

use Spiral\Boot\Bootloader\Bootloader;
use Spiral\RoadRunner\Worker;
use Spiral\RoadRunner\WorkerInterface;

/**
 * Stand-in for spiral/roadrunner-bridge 3.x's RoadRunnerBootloader, as far as the worker goes: it
 * binds, as singletons, WorkerInterface to RoadRunner's worker and Worker::class as an alias of it.
 * The real one builds the worker from its own RoadRunner environment binding
 * (`Worker::createFromEnvironment()`), and also binds that environment and RPC; none of that is
 * needed to tell whose worker got bound.
 */
final class RoadRunnerBootloader extends Bootloader
{
    protected const SINGLETONS = [
        Worker::class => WorkerInterface::class,
        WorkerInterface::class => [self::class, 'initWorker'],
    ];

    private function initWorker(): WorkerInterface
    {
        return Worker::create();
    }
}
