<?php

declare(strict_types=1);

namespace Ticker\Spiral\Worker;

use Spiral\RoadRunner\Worker;
use Spiral\RoadRunner\WorkerInterface;
use Ticker\Exception as NativeException;
use Ticker\Worker as NativeWorker;

/**
 * The two workers a ticking process can have: the ticker extension's, and RoadRunner's.
 */
final class WorkerFactory
{
    /**
     * The extension's worker, when the extension is the master of this process; null when it is not
     * loaded, or loaded and inert (no `ticker` config, or RR_MODE set by another master such as
     * RoadRunner: then `Ticker\Worker::create()` throws).
     *
     * This starts nothing: `create()` returns a handle, and the extension forks the pool at the
     * handle's first `waitPayload()`. So it may be asked at boot.
     */
    public function extension(): ?ExtensionWorker
    {
        // No autoloading: the extension's classes are built in, and an autoloaded IDE stub is not a worker.
        if (!\class_exists(NativeWorker::class, false)) {
            return null;
        }

        try {
            return new ExtensionWorker(NativeWorker::create());
        } catch (NativeException) {
            return null;
        }
    }

    /**
     * RoadRunner's worker, built from the environment: `RR_RELAY` (pipes, that is STDIN and STDOUT,
     * by default), as RoadRunner sets it for the workers it starts.
     */
    public function roadRunner(): WorkerInterface
    {
        return Worker::create();
    }
}
