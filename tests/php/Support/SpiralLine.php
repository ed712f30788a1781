<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support;

use Spiral\Boot\DispatcherInterface;

/**
 * The two ways Spiral 3 kernels pick a dispatcher.
 */
enum SpiralLine: string
{
    /**
     * spiral/boot 3.0-3.11: DispatcherInterface declares `canServe(): bool`; the kernel keeps the
     * dispatcher instances it was given and calls `canServe()` on each.
     */
    case UpTo311 = '3.0';

    /**
     * spiral/boot 3.12+: the interface declares only `serve()`; the kernel keeps class names, calls
     * `canServe` through the container (static or not, arguments autowired) and builds the
     * dispatcher that serves through the container.
     */
    case From312 = '3.12';

    public function label(): string
    {
        return match ($this) {
            self::UpTo311 => 'Spiral 3.0-3.11',
            self::From312 => 'Spiral 3.12+',
        };
    }

    /**
     * The line of the DispatcherInterface this process loaded (see StandIn/load.php).
     */
    public static function ofLoadedInterface(): self
    {
        $declaresCanServe = (new \ReflectionClass(DispatcherInterface::class))->hasMethod('canServe');

        return $declaresCanServe ? self::UpTo311 : self::From312;
    }
}
