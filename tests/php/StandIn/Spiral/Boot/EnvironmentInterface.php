<?php

declare(strict_types=1);

namespace Spiral\Boot;

/** Stand-in for spiral/boot 3.x. */
interface EnvironmentInterface
{
    public function getID(): string;

    public function set(string $name, mixed $value): self;

    public function get(string $name, mixed $default = null): mixed;

    public function getAll(): array;
}
