<?php

declare(strict_types=1);

namespace Psr\Container;

/** Stand-in for psr/container 2.x. */
interface ContainerInterface
{
    public function get(string $id): mixed;

    public function has(string $id): bool;
}
