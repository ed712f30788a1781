<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Unit;

use PHPUnit\Framework\TestCase;
use Spiral\Boot\EnvironmentInterface;
use Spiral\Boot\FinalizerInterface;
use Ticker\Payload as NativePayload;
use Ticker\Spiral\Tests\Support\Container;
use Ticker\Spiral\Tests\Support\Environment;
use Ticker\Spiral\Tests\Support\Journal;
use Ticker\Spiral\Tests\Support\JournalFinalizer;
use Ticker\Spiral\Tests\Support\Kernel;
use Ticker\Spiral\Tests\Support\RecordingHandler;
use Ticker\Spiral\Tests\Support\SpiralLine;
use Ticker\Spiral\Tests\Support\UsesNativeDouble;
use Ticker\Spiral\TickerBootloader;
use Ticker\Spiral\TickerDispatcher;
use Ticker\Spiral\TickHandlerInterface;

/**
 * TickerBootloader adds the package's dispatcher; its worker bindings are WorkerBootloader's (see
 * WorkerBootloaderTest, which runs every case with TickerBootloader too).
 */
final class TickerBootloaderTest extends TestCase
{
    use UsesNativeDouble;

    private Journal $journal;
    private Container $container;

    protected function setUp(): void
    {
        $this->journal = new Journal();
        $this->container = new Container();
        $this->container->bindSingleton(EnvironmentInterface::class, new Environment(['RR_MODE' => 'ticker']));
        $this->container->bindSingleton(FinalizerInterface::class, new JournalFinalizer($this->journal));
    }

    /**
     * @dataProvider lines
     */
    public function testRegistersTheDispatcherWithTheKernel(SpiralLine $line): void
    {
        $kernel = new Kernel($this->container, $line);

        $kernel->bootload(TickerBootloader::class);

        self::assertSame([TickerDispatcher::class], $kernel->dispatchers());
    }

    /**
     * @dataProvider lines
     */
    public function testTheBootedApplicationServesTicksUnderTheExtension(SpiralLine $line): void
    {
        $native = $this->playTheExtension(
            new NativePayload('{"tick":0}', '{"lastTick":null}'),
            new NativePayload('{"tick":1}'),
        );
        $this->container->bindSingleton(TickHandlerInterface::class, new RecordingHandler($this->journal));
        $kernel = new Kernel($this->container, $line);

        $kernel->bootload(TickerBootloader::class);
        self::assertSame([], $native->calls, 'booting must not start the pool');
        $kernel->serve();

        self::assertSame(
            ['handle:0', 'finalize', 'handle:1', 'finalize'],
            $this->journal->events(),
        );
        self::assertSame(
            ['waitPayload', 'respond', 'waitPayload', 'respond', 'waitPayload'],
            \array_map(static fn (array $call): string => $call[0], $native->calls),
        );
    }

    /**
     * @return iterable<string, array{SpiralLine}>
     */
    public static function lines(): iterable
    {
        foreach (SpiralLine::cases() as $line) {
            yield $line->label() . ' kernel' => [$line];
        }
    }
}
