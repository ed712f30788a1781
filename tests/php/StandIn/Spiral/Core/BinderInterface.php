<?php

declare(strict_types=1);

namespace Spiral\Core;

/**
 * Stand-in for spiral/core 3.x: what a bootloader method asks for to bind at boot. Spiral's
 * container binds it to itself.
 */
interface BinderInterface
{
    public function bind(string $alias, string|array|callable|object $resolver): void;

    public function bindSingleton(string $alias, string|array|callable|object $resolver): void;

    public function hasInstance(string $alias): bool;

    public function removeBinding(string $alias): void;

    public function bindInjector(string $class, string $injector): void;

    public function removeInjector(string $class): void;

    public function hasInjector(string $class): bool;
}
