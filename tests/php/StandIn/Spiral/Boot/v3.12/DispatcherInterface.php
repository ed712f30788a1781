<?php

declare(strict_types=1);

namespace Spiral\Boot;

/**
 * Stand-in for spiral/boot 3.12 and later: the interface declares only `serve()`. The kernel
 * calls `canServe` through the container, so a dispatcher may declare it static with autowired
 * arguments. Loaded instead of ../DispatcherInterface.php when TICKER_TEST_SPIRAL_LINE=3.12.
 *
 * @method static bool canServe(EnvironmentInterface $env)
 */
interface DispatcherInterface
{
    /**
     * @return mixed
     */
    public function serve();
}
