<?php

declare(strict_types=1);

namespace Ticker\Spiral;

use Psr\Container\ContainerInterface;
use Spiral\Boot\DispatcherInterface;
use Spiral\Boot\EnvironmentInterface;
use Spiral\Boot\FinalizerInterface;
use Spiral\RoadRunner\Payload;
use Spiral\RoadRunner\WorkerInterface;
use Ticker\Spiral\Attribute\Schedule;

/**
 * Serves the ticks of a process started in `RR_MODE=ticker`, by the ticker extension or by RoadRunner.
 *
 * Each tick goes to the handler of its schedule (`Tick::$schedule`): the class ScheduleHandlers names
 * for it, else the TickHandlerInterface bound in the container, which so serves `default` and every
 * schedule without a handler of its own. A tick that neither serves fails with an error naming its
 * schedule.
 */
final class TickerDispatcher implements DispatcherInterface
{
    public const MODE = 'ticker';

    /** @var array<string, TickHandlerInterface> the handlers built so far, by their name in the container */
    private array $handlers = [];

    public function __construct(
        private readonly EnvironmentInterface $env,
        private readonly FinalizerInterface $finalizer,
        private readonly ContainerInterface $container,
        private readonly ScheduleHandlers $schedules = new ScheduleHandlers(),
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
            $tick = Tick::fromJson($payload->body, $payload->header);
            $this->handlerFor($tick->schedule)->handle($tick);

            return null;
        } catch (\Throwable $e) {
            return $e->getMessage() !== '' ? $e->getMessage() : $e::class;
        }
    }

    /**
     * Built at its schedule's first tick, which under the extension is in a forked worker: a handler
     * built in the master would share its connections and files with every worker. Then kept, one per
     * class: two schedules with the same handler class share it.
     */
    private function handlerFor(string $schedule): TickHandlerInterface
    {
        $id = $this->schedules->handlerFor($schedule);
        if ($id === null && $this->container->has(TickHandlerInterface::class)) {
            $id = TickHandlerInterface::class;
        }
        if ($id === null) {
            throw new \LogicException(\sprintf(
                'No tick handler for schedule "%s": mark a %s class #[%s(%s)], add it to %s, or bind %s',
                $schedule,
                TickHandlerInterface::class,
                Schedule::class,
                \var_export($schedule, true),
                ScheduleHandlers::class,
                TickHandlerInterface::class,
            ));
        }

        return $this->handlers[$id] ??= $this->container->get($id);
    }
}
