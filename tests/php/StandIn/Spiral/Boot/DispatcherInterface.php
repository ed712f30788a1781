<?php

declare(strict_types=1);

namespace Spiral\Boot;

/**
 * Stand-in for spiral/boot 3.0-3.11, the stricter line and the default here: it declares
 * `canServe()`, so a dispatcher that loads against it also fits 3.12+, whose interface declares only
 * `serve()` (v3.12/DispatcherInterface.php, loaded when TICKER_TEST_SPIRAL_LINE=3.12).
 */
interface DispatcherInterface
{
    public function canServe(): bool;

    /**
     * @return mixed
     */
    public function serve();
}
