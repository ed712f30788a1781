<?php

declare(strict_types=1);

namespace Spiral\RoadRunner;

use Spiral\Goridge\RelayInterface;

/**
 * Stand-in for spiral/roadrunner-worker 3.x's Worker, for telling which worker got bound. Like the
 * real one, its constructor takes a Goridge relay, so a container cannot autowire it: code that asks
 * for `Worker::class` needs a binding. There is no relay to RoadRunner here, so using it fails
 * loudly: a test that reaches it picked RoadRunner's worker.
 */
class Worker implements WorkerInterface
{
    public function __construct(RelayInterface $relay, bool $interceptSideEffects = true)
    {
    }

    /**
     * The real one builds the relay from the environment (RR_RELAY, pipes by default).
     */
    public static function create(bool $interceptSideEffects = true): self
    {
        return new self(new class () implements RelayInterface {
        }, $interceptSideEffects);
    }

    public function waitPayload(): ?Payload
    {
        throw self::noRelay();
    }

    public function respond(Payload $payload): void
    {
        throw self::noRelay();
    }

    public function error(string $error): void
    {
        throw self::noRelay();
    }

    public function stop(): void
    {
        throw self::noRelay();
    }

    public function hasPayload(?string $class = null): bool
    {
        throw self::noRelay();
    }

    public function getPayload(?string $class = null): ?Payload
    {
        throw self::noRelay();
    }

    private static function noRelay(): \LogicException
    {
        return new \LogicException('Stand-in Spiral\RoadRunner\Worker: there is no RoadRunner relay in tests');
    }
}
