<?php

declare(strict_types=1);

namespace Spiral\RoadRunner;

/**
 * Stand-in for spiral/roadrunner-worker 3.x's Worker, for telling which worker got bound. It has no
 * relay to RoadRunner, so using it fails loudly: a test that reaches it picked the wrong worker.
 */
class Worker implements WorkerInterface
{
    public static function create(bool $interceptSideEffects = true): self
    {
        return new self();
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
