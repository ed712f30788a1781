<?php

declare(strict_types=1);

namespace Ticker\Spiral;

use Psr\Container\ContainerInterface;
use Spiral\Boot\DispatcherInterface;
use Spiral\Boot\EnvironmentInterface;
use Spiral\Boot\FinalizerInterface;
use Spiral\RoadRunner\Payload;
use Spiral\RoadRunner\WorkerInterface;

/**
 * Serves the ticks of a process started in `RR_MODE=ticker`, by the ticker extension or by RoadRunner.
 */
final class TickerDispatcher implements DispatcherInterface
{
    public const MODE = 'ticker';

    private ?TickHandlerInterface $handler = null;

    public function __construct(
        private readonly EnvironmentInterface $env,
        private readonly FinalizerInterface $finalizer,
        private readonly ContainerInterface $container,
    ) {
    }

    /**
     * An instance method without arguments, because Spiral 3.0-3.11 calls it on the instance through
     * DispatcherInterface; 3.12+ calls it through the container, which builds the instance first.
     */
    public function canServe(): bool
    {
        return $this->env->get('RR_MODE') === self::MODE;
    }

    /**
     * Ends when the worker says stop (a null payload). A failed tick is reported with `error()` and
     * the loop goes on: one bad tick must not cost the pool a warm worker.
     */
    public function serve(): void
    {
        // Taken here, not in the constructor: building the dispatcher (Spiral does it at boot, and in
        // every mode to ask canServe) must not open RoadRunner's relay or make this process a master.
        $worker = $this->container->get(WorkerInterface::class);

        while (($payload = $worker->waitPayload()) !== null) {
            try {
                $failure = $this->tick($payload);
                if ($failure === null) {
                    $worker->respond(new Payload('OK'));
                } else {
                    $worker->error($failure);
                }
            } finally {
                $this->finalizer->finalize();
            }
        }
    }

    /**
     * @return string|null why the tick failed, or null when it succeeded
     */
    private function tick(Payload $payload): ?string
    {
        try {
            // Resolved at the first tick, which under the extension is in a forked worker: a handler
            // built in the master would share its connections and files with every worker.
            $this->handler ??= $this->container->get(TickHandlerInterface::class);
            $this->handler->handle(Tick::fromJson($payload->body, $payload->header));

            return null;
        } catch (\Throwable $e) {
            return $e->getMessage() !== '' ? $e->getMessage() : $e::class;
        }
    }
}
