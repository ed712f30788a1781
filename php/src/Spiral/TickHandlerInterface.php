<?php

declare(strict_types=1);

namespace Ticker\Spiral;

/**
 * What the application does on every tick; bind your implementation in one of your bootloaders:
 *
 *     protected const SINGLETONS = [TickHandlerInterface::class => App\Tick\CleanupHandler::class];
 *
 * It runs in a worker process, one tick at a time. Throwing fails this tick only: the dispatcher
 * reports the message to the master and the worker goes on with the next tick.
 */
interface TickHandlerInterface
{
    public function handle(Tick $tick): void;
}
