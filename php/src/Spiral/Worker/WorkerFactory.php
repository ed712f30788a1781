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
     * The extension's worker, when the extension serves this process: it is the master (or one of
     * its forked workers), or a RoadRunner-style master started this process with `RR_RELAY`. Null
     * when the extension is not loaded, or loaded and inert (no `ticker` config, or RR_MODE set
     * without RR_RELAY: then `Ticker\Worker::create()` throws).
     *
     * This starts nothing: in the master `create()` returns a handle, and the extension forks the
     * pool at the handle's first `waitPayload()`; under a RoadRunner-style master it only takes the
     * relay (with `pipes`, stdout becomes stderr for PHP's output). So it may be asked at boot.
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
     * The worker of a process that a RoadRunner-style master started with `RR_RELAY` (pipes, that is
     * STDIN and STDOUT, by default): the extension's, when it is loaded and serves the relay, else
     * RoadRunner's, built from the environment. Both speak the same protocol.
     */
    public function underRelay(): WorkerInterface
    {
        return $this->extension() ?? Worker::create();
    }
}
