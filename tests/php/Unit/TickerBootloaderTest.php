<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Unit;

use PHPUnit\Framework\TestCase;
use Spiral\Boot\EnvironmentInterface;
use Spiral\Boot\FinalizerInterface;
use Spiral\RoadRunner\Worker;
use Spiral\RoadRunner\WorkerInterface;
use Ticker\Payload as NativePayload;
use Ticker\Spiral\Tests\Support\Container;
use Ticker\Spiral\Tests\Support\Environment;
use Ticker\Spiral\Tests\Support\Journal;
use Ticker\Spiral\Tests\Support\JournalFinalizer;
use Ticker\Spiral\Tests\Support\Kernel;
use Ticker\Spiral\Tests\Support\RecordingHandler;
use Ticker\Spiral\Tests\Support\UsesNativeDouble;
use Ticker\Spiral\TickerBootloader;
use Ticker\Spiral\TickerDispatcher;
use Ticker\Spiral\TickHandlerInterface;
use Ticker\Spiral\Worker\ExtensionWorker;
use Ticker\Worker as NativeWorker;

final class TickerBootloaderTest extends TestCase
{
    use UsesNativeDouble;

    private Journal $journal;
    private Container $container;
    private Kernel $kernel;

    protected function setUp(): void
    {
        $this->journal = new Journal();
        $this->container = new Container();
        $this->container->bindSingleton(EnvironmentInterface::class, new Environment(['RR_MODE' => 'ticker']));
        $this->container->bindSingleton(FinalizerInterface::class, new JournalFinalizer($this->journal));
        $this->kernel = new Kernel($this->container);
    }

    public function testRegistersTheDispatcherWithTheKernel(): void
    {
        $this->kernel->bootload(TickerBootloader::class);

        self::assertSame([TickerDispatcher::class], $this->kernel->dispatchers());
    }

    public function testBindsRoadRunnersWorkerWhenTheExtensionDoesNotRunThePool(): void
    {
        $this->kernel->bootload(TickerBootloader::class);

        $worker = $this->container->get(WorkerInterface::class);

        self::assertInstanceOf(Worker::class, $worker);
        self::assertSame($worker, $this->container->get(WorkerInterface::class), 'one worker per process');
    }

    public function testBindsTheExtensionsWorkerWhenTheExtensionRunsThePool(): void
    {
        $this->playTheExtension();

        $this->kernel->bootload(TickerBootloader::class);
        $worker = $this->container->get(WorkerInterface::class);

        self::assertInstanceOf(ExtensionWorker::class, $worker);
        self::assertSame($worker, $this->container->get(WorkerInterface::class), 'one worker per process');
        self::assertSame(1, NativeWorker::$created);
    }

    public function testBootingDoesNotCreateTheWorker(): void
    {
        $this->playTheExtension();

        $this->kernel->bootload(TickerBootloader::class);

        // Under the extension, creating the worker makes this process the master of a pool.
        self::assertSame(0, NativeWorker::$created);
    }

    public function testTheBootedApplicationServesTicksUnderTheExtension(): void
    {
        $native = $this->playTheExtension(
            new NativePayload('{"tick":0}', '{"lastTick":null}'),
            new NativePayload('{"tick":1}'),
        );
        $this->container->bindSingleton(TickHandlerInterface::class, new RecordingHandler($this->journal));

        $this->kernel->bootload(TickerBootloader::class);
        $this->kernel->serve();

        self::assertSame(
            ['handle:0', 'finalize', 'handle:1', 'finalize'],
            $this->journal->events(),
        );
        self::assertSame(
            ['waitPayload', 'respond', 'waitPayload', 'respond', 'waitPayload'],
            \array_map(static fn (array $call): string => $call[0], $native->calls),
        );
    }
}
