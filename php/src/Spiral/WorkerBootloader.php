<?php

declare(strict_types=1);

namespace Ticker\Spiral;

use Psr\Container\ContainerInterface;
use Spiral\Boot\Bootloader\Bootloader;
use Spiral\Boot\EnvironmentInterface;
use Spiral\Core\BinderInterface;
use Spiral\RoadRunner\Worker;
use Spiral\RoadRunner\WorkerInterface;
use Ticker\Spiral\Worker\WorkerFactory;

/**
 * Gives a ticking process the worker of the master that started it, under the two names RoadRunner
 * code asks the container for: `Spiral\RoadRunner\WorkerInterface` and `Spiral\RoadRunner\Worker`.
 * So a dispatcher written for RoadRunner's ticker plugin, such as the Spiral cookbook's, runs
 * unchanged under the ticker extension.
 *
 * Which master that is, is read from `RR_MODE` as Spiral's environment has it, and from the extension:
 *
 * - **Served by the extension**: `RR_MODE` is `ticker`, the `ticker` extension is loaded, and
 *   `Ticker\Worker::create()` succeeds. The extension allows that where it is the master (it then
 *   set `RR_MODE=ticker` itself, before the script started), and in a worker that a RoadRunner-style
 *   master started with `RR_RELAY` (RoadRunner, or the extension's command mode): the extension's
 *   worker then serves that master over the relay, byte for byte as RoadRunner's own would. Both
 *   names are bound, as one singleton, to the extension's worker (an ExtensionWorker), replacing
 *   what was bound to them: under the extension's master spiral/roadrunner-bridge's worker would
 *   wait for RoadRunner on STDIN, where no one writes, and under RoadRunner one worker must own the
 *   relay.
 * - **Under RoadRunner without the extension**: `RR_MODE` is `ticker` and the extension is not
 *   loaded, or is loaded and inert (`RR_MODE` set without `RR_RELAY`, or an `RR_RELAY` it cannot
 *   read). What is bound stays bound: with spiral/roadrunner-bridge, the bridge's worker. A name
 *   left unbound gets RoadRunner's worker, built from the environment (`Worker::create()`, when first
 *   asked for) under `WorkerInterface`, and `Worker` as an alias of whichever name is bound.
 * - **Any other `RR_MODE`** (none, as for the console, or `http`, `jobs`, `grpc`, ...): nothing is
 *   bound, and the extension is not asked.
 *
 * It binds in `boot()`, which Spiral runs after every bootloader's BINDINGS, SINGLETONS and
 * `init()`; spiral/roadrunner-bridge binds the worker in one of those. So this bootloader sees the
 * bridge's bindings whether it is listed before or after the bridge's RoadRunnerBootloader.
 *
 * Booting starts nothing: in the extension's master, `Ticker\Worker::create()` only returns a handle,
 * and the pool is forked at the first `waitPayload()`, when a dispatcher serves. In a worker of a
 * RoadRunner-style master it opens the relay, and only as far as the relay needs: with `pipes` it
 * moves the channel off stdout and points PHP's output at stderr (as any worker there must before
 * it prints), a socket is connected at the first `waitPayload()`, and nothing is read or sent
 * before then.
 */
final class WorkerBootloader extends Bootloader
{
    public function boot(
        EnvironmentInterface $env,
        BinderInterface $binder,
        ContainerInterface $container,
        WorkerFactory $workers,
    ): void {
        if ($env->get('RR_MODE') !== TickerDispatcher::MODE) {
            return;
        }

        $extension = $workers->extension();
        if ($extension !== null) {
            $binder->bindSingleton(WorkerInterface::class, $extension);
            $binder->bindSingleton(Worker::class, WorkerInterface::class);

            return;
        }

        $interfaceBound = $container->has(WorkerInterface::class);
        $classBound = $container->has(Worker::class);
        if (!$interfaceBound) {
            $binder->bindSingleton(
                WorkerInterface::class,
                $classBound ? Worker::class : [WorkerFactory::class, 'roadRunner'],
            );
        }
        if (!$classBound) {
            $binder->bindSingleton(Worker::class, WorkerInterface::class);
        }
    }
}
