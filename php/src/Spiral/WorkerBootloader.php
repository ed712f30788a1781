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
 * Which master that is, is read from `RR_MODE` and `RR_RELAY` as Spiral's environment has them, and
 * from the extension:
 *
 * - **Served by the extension's pool**: `RR_MODE` is `ticker`, `RR_RELAY` is not set, the `ticker`
 *   extension is loaded and `Ticker\Worker::create()` succeeds: this process is the extension's
 *   master (it set `RR_MODE=ticker` itself, before the script started) or one of its forked workers.
 *   Both names are bound, as one singleton, to the extension's worker (an ExtensionWorker), replacing
 *   what was bound to them: spiral/roadrunner-bridge's worker would wait for RoadRunner on STDIN,
 *   where no one writes.
 * - **Under a RoadRunner-style master**: `RR_MODE` is `ticker` and `RR_RELAY` is set (RoadRunner, or
 *   the extension's command mode, started this process), or the extension is not there to serve it.
 *   What is bound stays bound: with spiral/roadrunner-bridge, the bridge's worker. A name left
 *   unbound gets a worker built when first asked for: the extension's own worker over the relay when
 *   the extension is loaded (it speaks RoadRunner's protocol byte for byte), else RoadRunner's
 *   (`Worker::create()`), and `Worker` becomes an alias of whichever name is bound. The extension is
 *   not asked at boot here: with `pipes`, its worker takes stdin and stdout from PHP, and one
 *   worker only may own the relay.
 * - **Any other `RR_MODE`** (none, as for the console, or `http`, `jobs`, `grpc`, ...): nothing is
 *   bound, and the extension is not asked.
 *
 * It binds in `boot()`, which Spiral runs after every bootloader's BINDINGS, SINGLETONS and
 * `init()`; spiral/roadrunner-bridge binds the worker in one of those. So this bootloader sees the
 * bridge's bindings whether it is listed before or after the bridge's RoadRunnerBootloader.
 *
 * Booting starts nothing: in the extension's master, `Ticker\Worker::create()` only returns a handle,
 * and the pool is forked at the first `waitPayload()`, when a dispatcher serves.
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
        // The package only suggests spiral/roadrunner-worker (an application using Ticker\Ffi
        // alone needs no RoadRunner package), so a ticking process may lack it: say so here,
        // rather than fail later on an unknown interface.
        if (!\interface_exists(WorkerInterface::class)) {
            throw new \LogicException(
                'RR_MODE is ticker, and Ticker\\Spiral serves ticks through ' . WorkerInterface::class
                . ', which is missing: run `composer require spiral/roadrunner-worker:^3.0`',
            );
        }

        $relay = $env->get('RR_RELAY');
        $extension = $relay === null || $relay === '' ? $workers->extension() : null;
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
                $classBound ? Worker::class : [WorkerFactory::class, 'underRelay'],
            );
        }
        if (!$classBound) {
            $binder->bindSingleton(Worker::class, WorkerInterface::class);
        }
    }
}
