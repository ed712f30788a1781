<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Cookbook;

use Spiral\Boot\DispatcherInterface;
use Spiral\Boot\EnvironmentInterface;

/**
 * The cookbook's dispatcher for Spiral 3.12+, whose kernel calls `canServe` through the container,
 * so it may be static with autowired arguments. It loads only against the 3.12+
 * DispatcherInterface (TICKER_TEST_SPIRAL_LINE=3.12): the 3.0-3.11 one declares `canServe()` on the
 * instance.
 */
final class StaticTickerDispatcher implements DispatcherInterface
{
    use ServesTicksTheCookbookWay;

    public static function canServe(EnvironmentInterface $env): bool
    {
        return $env->get('RR_MODE') === 'ticker';
    }
}
