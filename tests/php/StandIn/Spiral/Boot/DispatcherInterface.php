<?php

declare(strict_types=1);

namespace Spiral\Boot;

/**
 * Stand-in for spiral/boot 3.0-3.11, the stricter line: it declares `canServe()`, so a dispatcher
 * that loads against it also fits 3.12+, whose interface declares only `serve()`.
 */
interface DispatcherInterface
{
    public function canServe(): bool;

    /**
     * @return mixed
     */
    public function serve();
}
