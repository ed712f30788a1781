<?php

declare(strict_types=1);

namespace Ticker\Spiral;

/**
 * Which class handles the ticks of which schedule, by the schedule's name. TickerBootloader binds
 * one, as a singleton, and fills it with the classes marked #[Ticker\Spiral\Attribute\Schedule]
 * that Spiral's tokenizer finds; a bootloader of the application adds to it in its `init()`:
 *
 *     public function init(ScheduleHandlers $schedules): void
 *     {
 *         $schedules->add(['nightly-report' => NightlyReport::class]);
 *     }
 *
 * A schedule that is in no map here goes to the TickHandlerInterface bound in the container.
 * Handlers are only named here: the dispatcher builds each through the container at its first tick.
 */
final class ScheduleHandlers
{
    /** @var array<string, class-string<TickHandlerInterface>> */
    private array $handlers = [];

    /**
     * @param array<string, class-string<TickHandlerInterface>> $handlers handler classes by schedule name
     */
    public function __construct(array $handlers = [])
    {
        $this->add($handlers);
    }

    /**
     * Adds handler classes by schedule name. Adding a schedule's handler again is harmless; giving a
     * schedule a second, different one is an error, as is a handler that is not a TickHandlerInterface.
     *
     * @param array<string, class-string<TickHandlerInterface>> $handlers
     * @throws \InvalidArgumentException naming the schedule
     */
    public function add(array $handlers): void
    {
        foreach ($handlers as $schedule => $handler) {
            // PHP turns a numeric string key such as '2024' into an int.
            $schedule = (string) $schedule;
            if ($schedule === '') {
                throw new \InvalidArgumentException('A schedule name must not be empty');
            }
            if (!\is_string($handler) || !\is_a($handler, TickHandlerInterface::class, true)) {
                throw new \InvalidArgumentException(\sprintf(
                    'The handler of schedule "%s" must be the name of a class implementing %s, got %s',
                    $schedule,
                    TickHandlerInterface::class,
                    \is_string($handler) ? $handler : \get_debug_type($handler),
                ));
            }
            $known = $this->handlers[$schedule] ?? null;
            if ($known !== null && \strcasecmp($known, $handler) !== 0) {
                throw new \InvalidArgumentException(\sprintf(
                    'Schedule "%s" has two handlers: %s and %s',
                    $schedule,
                    $known,
                    $handler,
                ));
            }
            $this->handlers[$schedule] ??= $handler;
        }
    }

    /**
     * @return class-string<TickHandlerInterface>|null the class that handles this schedule's ticks; null
     *                                                 when none does (the bound TickHandlerInterface will)
     */
    public function handlerFor(string $schedule): ?string
    {
        return $this->handlers[$schedule] ?? null;
    }

    /**
     * @return array<string, class-string<TickHandlerInterface>> every handler class, by schedule name
     */
    public function all(): array
    {
        return $this->handlers;
    }
}
