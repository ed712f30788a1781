<?php

declare(strict_types=1);

namespace Spiral\RoadRunner;

/** Stand-in for spiral/roadrunner-worker 3.x. */
interface WorkerInterface
{
    public function waitPayload(): ?Payload;

    public function respond(Payload $payload): void;

    public function error(string $error): void;

    public function stop(): void;

    public function hasPayload(?string $class = null): bool;

    public function getPayload(?string $class = null): ?Payload;
}
