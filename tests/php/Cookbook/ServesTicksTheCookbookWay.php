<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Cookbook;

use Psr\Container\ContainerInterface;
use Spiral\Boot\EnvironmentInterface;
use Spiral\Boot\FinalizerInterface;
use Spiral\RoadRunner\Payload;
use Spiral\RoadRunner\Worker;
use Ticker\Spiral\Tests\Support\JsonLines;

/**
 * A dispatcher as the Spiral cookbook ("Custom Dispatcher") writes one for RoadRunner's ticker
 * plugin, which knows nothing of this package: the constructor takes the environment, the finalizer
 * and the container; serve() asks the container for `Spiral\RoadRunner\Worker`, the concrete class,
 * and loops on waitPayload(): decode the JSON body, handle the tick, answer `new Payload('OK')`,
 * run the finalizer.
 *
 * Handling a tick, here, is appending a JSON line about it to the file named by COOKBOOK_LOG.
 * The two dispatchers that use this differ only in their `canServe`.
 */
trait ServesTicksTheCookbookWay
{
    public function __construct(
        private readonly EnvironmentInterface $env,
        private readonly FinalizerInterface $finalizer,
        private readonly ContainerInterface $container,
    ) {
    }

    public function serve(): void
    {
        /** @var Worker $worker */
        $worker = $this->container->get(Worker::class);

        while ($payload = $worker->waitPayload()) {
            $tick = \json_decode($payload->body, true, 4, \JSON_THROW_ON_ERROR)['tick'];
            JsonLines::append((string) $this->env->get('COOKBOOK_LOG'), [
                'tick' => $tick,
                'dispatcher' => self::class,
                'worker' => $worker::class,
                'pid' => \getmypid(),
                'ppid' => \posix_getppid(),
            ]);

            $worker->respond(new Payload('OK'));
            $this->finalizer->finalize();
        }
    }
}
