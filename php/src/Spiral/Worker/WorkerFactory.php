<?php

declare(strict_types=1);

namespace Ticker\Spiral\Worker;

use Spiral\RoadRunner\Worker;
use Spiral\RoadRunner\WorkerInterface;
use Ticker\Exception as NativeException;
use Ticker\Worker as NativeWorker;

/**
 * Picks the worker of whichever master started this process: the ticker extension's when it runs
 * the pool, RoadRunner's otherwise.
 */
final class WorkerFactory
{
    public function create(): WorkerInterface
    {
        $native = self::nativeWorker();

        return $native !== null ? new ExtensionWorker($native) : Worker::create();
    }

    /**
     * The extension itself knows whether it runs the pool: it is loaded but inert (and `create()`
     * throws) without a `ticker` config or when another master, RoadRunner, set RR_MODE.
     * No autoloading: the extension's classes are built in, and an autoloaded IDE stub is not a worker.
     */
    private static function nativeWorker(): ?NativeWorker
    {
        if (!\class_exists(NativeWorker::class, false)) {
            return null;
        }

        try {
            return NativeWorker::create();
        } catch (NativeException) {
            return null;
        }
    }
}
