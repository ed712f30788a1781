<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Cookbook;

use Spiral\Boot\DispatcherInterface;

/**
 * The cookbook's dispatcher for Spiral 3.0-3.11, whose kernel calls `canServe()` on the instance
 * (3.12+ kernels call it through the container, which builds the instance first: it works there too).
 */
final class TickerDispatcher implements DispatcherInterface
{
    use ServesTicksTheCookbookWay;

    public function canServe(): bool
    {
        return $this->env->get('RR_MODE') === 'ticker';
    }
}
