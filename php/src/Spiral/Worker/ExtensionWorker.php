<?php

declare(strict_types=1);

namespace Ticker\Spiral\Worker;

use Spiral\RoadRunner\Payload;
use Spiral\RoadRunner\WorkerInterface;
use Ticker\Payload as NativePayload;
use Ticker\Worker as NativeWorker;

/**
 * RoadRunner's worker interface over the ticker extension's worker, so that code written for
 * RoadRunner (the dispatcher, or any service that takes WorkerInterface) runs unchanged on it.
 */
final class ExtensionWorker implements WorkerInterface
{
    public function __construct(private readonly NativeWorker $worker)
    {
    }

    /**
     * In the master this forks the pool and blocks until shutdown, then returns null; in a worker it
     * returns the next tick, or null when the master tells the worker to stop.
     */
    public function waitPayload(): ?Payload
    {
        $payload = $this->worker->waitPayload();

        return $payload === null ? null : new Payload($payload->body, $payload->header);
    }

    /**
     * The extension has no streaming, so `$payload->eos` has nothing to map to and is dropped.
     */
    public function respond(Payload $payload): void
    {
        $this->worker->respond(new NativePayload($payload->body, $payload->header));
    }

    public function error(string $error): void
    {
        $this->worker->error($error);
    }

    public function stop(): void
    {
        $this->worker->stop();
    }

    /**
     * Always false: the master sends the next tick only after this one is answered, so a worker
     * never has a payload waiting (RoadRunner uses this for streamed payloads, which ticks are not).
     */
    public function hasPayload(?string $class = null): bool
    {
        return false;
    }

    /**
     * Always null, for the reason given at {@see hasPayload()}.
     */
    public function getPayload(?string $class = null): ?Payload
    {
        return null;
    }
}
