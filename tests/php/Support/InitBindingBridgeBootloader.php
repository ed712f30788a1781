<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support;

use Spiral\Boot\Bootloader\Bootloader;
use Spiral\Core\BinderInterface;
use Spiral\RoadRunner\Worker;
use Spiral\RoadRunner\WorkerInterface;

/**
 * Binds RoadRunner's worker the way older spiral/roadrunner-bridge releases do: in `init()`, not
 * in SINGLETONS, with WorkerInterface as an alias of Worker::class. A binding made in `init()` comes
 * after every bootloader's SINGLETONS, whatever the order of the list.
 */
final class InitBindingBridgeBootloader extends Bootloader
{
    public const WORKER_BINDINGS = [
        WorkerInterface::class => Worker::class,
        Worker::class => [self::class, 'createWorker'],
    ];

    public function init(BinderInterface $binder): void
    {
        foreach (self::WORKER_BINDINGS as $alias => $resolver) {
            $binder->bindSingleton($alias, $resolver);
        }
    }

    public function createWorker(): WorkerInterface
    {
        return Worker::create();
    }
}
