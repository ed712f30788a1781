<?php

declare(strict_types=1);

namespace Spiral\Boot\Bootloader;

/**
 * Stand-in for spiral/boot 3.x: bindings are declared in constants, and the kernel reads them
 * through the define*() methods; `init()` and `boot()` are optional and autowired.
 */
abstract class Bootloader
{
    /** @var array<string, class-string|callable|array{class-string, string}> */
    protected const BINDINGS = [];
    /** @var array<string, class-string|callable|array{class-string, string}> */
    protected const SINGLETONS = [];
    /** @var array<int, class-string> */
    protected const DEPENDENCIES = [];

    public function defineBindings(): array
    {
        return static::BINDINGS;
    }

    public function defineSingletons(): array
    {
        return static::SINGLETONS;
    }

    public function defineDependencies(): array
    {
        return static::DEPENDENCIES;
    }
}
