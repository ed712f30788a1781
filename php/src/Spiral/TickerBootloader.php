<?php

declare(strict_types=1);

namespace Ticker\Spiral;

use Psr\Container\ContainerInterface;
use Spiral\Boot\Bootloader\Bootloader;
use Spiral\Boot\KernelInterface;
use Spiral\Tokenizer\Bootloader\TokenizerListenerBootloader;
use Spiral\Tokenizer\TokenizerListenerRegistryInterface;

/**
 * Makes a Spiral application serve ticks with the package's TickerDispatcher, under the ticker
 * extension and under RoadRunner alike. The dispatcher hands each tick to its schedule's handler
 * (ScheduleHandlers, bound here as a singleton), else to the application's TickHandlerInterface.
 *
 * Where spiral/tokenizer is installed (every spiral/framework application), Spiral's
 * TokenizerListenerBootloader is loaded as a dependency and this bootloader registers
 * ScheduleLocatorListener with it, so the classes marked #[Ticker\Spiral\Attribute\Schedule] are
 * found at boot. Without the tokenizer, a bootloader of the application names them in
 * ScheduleHandlers.
 *
 * The worker comes from WorkerBootloader, loaded first as a dependency: see there what is bound in
 * which process. Its place in the kernel's list, before or after spiral/roadrunner-bridge, does not
 * matter.
 */
final class TickerBootloader extends Bootloader
{
    protected const DEPENDENCIES = [WorkerBootloader::class];

    protected const SINGLETONS = [ScheduleHandlers::class => ScheduleHandlers::class];

    /**
     * DEPENDENCIES, and the tokenizer's listener bootloader where spiral/tokenizer is installed: the
     * package does not require it.
     */
    public function defineDependencies(): array
    {
        return \class_exists(TokenizerListenerBootloader::class)
            ? [...self::DEPENDENCIES, TokenizerListenerBootloader::class]
            : self::DEPENDENCIES;
    }

    /**
     * In `init()`, as Spiral's documentation registers tokenizer listeners: the tokenizer hands them
     * the application's classes while the kernel boots, before any dispatcher serves.
     */
    public function init(ContainerInterface $container, ScheduleHandlers $schedules): void
    {
        if (
            \interface_exists(TokenizerListenerRegistryInterface::class)
            && $container->has(TokenizerListenerRegistryInterface::class)
        ) {
            $container->get(TokenizerListenerRegistryInterface::class)
                ->addListener(new ScheduleLocatorListener($schedules));
        }
    }

    public function boot(KernelInterface $kernel, TickerDispatcher $dispatcher): void
    {
        $kernel->addDispatcher($dispatcher);
    }
}
