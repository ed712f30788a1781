<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Unit;

use PHPUnit\Framework\TestCase;
use Spiral\Boot\EnvironmentInterface;
use Spiral\Boot\FinalizerInterface;
use Spiral\Tokenizer\ClassesInterface;
use Ticker\Payload as NativePayload;
use Ticker\Spiral\ScheduleHandlers;
use Ticker\Spiral\Tests\Support\Classes;
use Ticker\Spiral\Tests\Support\Container;
use Ticker\Spiral\Tests\Support\Environment;
use Ticker\Spiral\Tests\Support\Journal;
use Ticker\Spiral\Tests\Support\JournalFinalizer;
use Ticker\Spiral\Tests\Support\Kernel;
use Ticker\Spiral\Tests\Support\RecordingHandler;
use Ticker\Spiral\Tests\Support\Schedule\Fallback;
use Ticker\Spiral\Tests\Support\Schedule\NightlyReport;
use Ticker\Spiral\Tests\Support\Schedule\NotAHandler;
use Ticker\Spiral\Tests\Support\Schedule\ScheduleMapBootloader;
use Ticker\Spiral\Tests\Support\Schedule\Sync;
use Ticker\Spiral\Tests\Support\Schedule\Weekly;
use Ticker\Spiral\Tests\Support\SpiralLine;
use Ticker\Spiral\Tests\Support\Subprocess;
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
     * @dataProvider lines
     */
    public function testTheTokenizerFindsTheHandlersMarkedWithTheAttribute(SpiralLine $line): void
    {
        self::skipWithoutTheTokenizer();
        $native = $this->playTheExtension(
            self::tickOf(0, 'nightly-report'),
            self::tickOf(0, 'sync-us'),
            new NativePayload('{"tick":0}', '{"lastTick":null}'),
            self::tickOf(0, 'weekly'),
            self::tickOf(1, 'nightly-report'),
        );
        $this->container->bindSingleton(Journal::class, $this->journal);
        $this->container->bindSingleton(
            ClassesInterface::class,
            new Classes(NightlyReport::class, Sync::class, Weekly::class, Fallback::class, self::class),
        );
        $this->container->bindSingleton(TickHandlerInterface::class, Fallback::class);
        $kernel = new Kernel($this->container, $line);

        $kernel->bootload(TickerBootloader::class);
        self::assertSame(
            ['nightly-report' => NightlyReport::class, 'sync-eu' => Sync::class, 'sync-us' => Sync::class],
            $this->container->get(ScheduleHandlers::class)->all(),
        );
        self::assertSame([], $this->journal->events(), 'booting must not build a handler');
        $kernel->serve();

        self::assertSame([
            'built:NightlyReport', 'NightlyReport:nightly-report:0', 'finalize',
            'built:Sync', 'Sync:sync-us:0', 'finalize',
            'built:Fallback', 'Fallback:default:0', 'finalize',
            'Fallback:weekly:0', 'finalize',
            'NightlyReport:nightly-report:1', 'finalize',
        ], $this->journal->events());
        self::assertSame(
            ['waitPayload', 'respond', 'waitPayload', 'respond', 'waitPayload', 'respond', 'waitPayload', 'respond',
                'waitPayload', 'respond', 'waitPayload'],
            \array_map(static fn (array $call): string => $call[0], $native->calls),
        );
    }

    /**
     * @dataProvider mapArrangements
     *
     * @param list<class-string> $bootloaders
     */
    public function testAnApplicationsBootloaderNamesHandlersInTheMap(array $bootloaders): void
    {
        self::skipWithoutTheTokenizer();
        $this->playTheExtension(self::tickOf(0, 'weekly'), self::tickOf(0, 'nightly-report'), self::tickOf(0, 'other'));
        $this->container->bindSingleton(Journal::class, $this->journal);
        $this->container->bindSingleton(ClassesInterface::class, new Classes(NightlyReport::class));
        $this->container->bindSingleton(TickHandlerInterface::class, Fallback::class);
        $kernel = new Kernel($this->container);

        $kernel->bootload(...$bootloaders);
        $kernel->serve();

        self::assertSame([
            'built:Weekly', 'Weekly:weekly:0', 'finalize',
            'built:NightlyReport', 'NightlyReport:nightly-report:0', 'finalize',
            'built:Fallback', 'Fallback:other:0', 'finalize',
        ], $this->journal->events());
    }

    /**
     * @return iterable<string, array{list<class-string>}>
     */
    public static function mapArrangements(): iterable
    {
        yield 'listed before TickerBootloader' => [[ScheduleMapBootloader::class, TickerBootloader::class]];
        yield 'listed after TickerBootloader' => [[TickerBootloader::class, ScheduleMapBootloader::class]];
    }

    public function testAMarkedClassThatIsNoHandlerFailsTheBoot(): void
    {
        self::skipWithoutTheTokenizer();
        $native = $this->playTheExtension(self::tickOf(0, 'misfiled'));
        $this->container->bindSingleton(ClassesInterface::class, new Classes(NightlyReport::class, NotAHandler::class));
        $kernel = new Kernel($this->container);

        try {
            $kernel->bootload(TickerBootloader::class);
            self::fail('booted with a marked class that is no handler');
        } catch (\InvalidArgumentException $e) {
            self::assertStringContainsString('"misfiled"', $e->getMessage());
            self::assertStringContainsString(NotAHandler::class, $e->getMessage());
        }
        self::assertSame([], $native->calls);
    }

    /**
     * The package does not require spiral/tokenizer: without it, TickerBootloader boots, the map
     * serves, and the attribute, which nothing reads then, leaves its schedule to TickHandlerInterface.
     */
    public function testWithoutSpiralTokenizerTheMapServesAndTheAttributeIsNotSeen(): void
    {
        $run = Subprocess::run(
            [\PHP_BINARY, __DIR__ . '/../fixtures/schedules.php'],
            ['TICKER_TEST_WITHOUT_TOKENIZER' => '1'] + \array_filter(
                \getenv(),
                static fn (string $name): bool => $name !== 'TICKER_TEST_WITHOUT_TOKENIZER',
                \ARRAY_FILTER_USE_KEY,
            ),
            30.0,
        );
        $context = "stderr:\n{$run->stderr}\nstdout:\n{$run->stdout}";

        self::assertSame(0, $run->exitCode, $context);
        $result = \json_decode($run->stdout, true, 8, \JSON_THROW_ON_ERROR);
        self::assertFalse($result['tokenizer'], 'the subprocess loaded a tokenizer: ' . $context);
        self::assertSame([
            'wait', 'built:Weekly', 'Weekly:weekly:0', 'respond:OK', 'finalize',
            'wait', 'built:Fallback', 'Fallback:nightly-report:0', 'respond:OK', 'finalize',
            'wait', 'Fallback:default:0', 'respond:OK', 'finalize',
            'wait',
        ], $result['events'], $context);
    }

    private static function skipWithoutTheTokenizer(): void
    {
        if (!\interface_exists(ClassesInterface::class)) {
            self::markTestSkipped('spiral/tokenizer is not installed');
        }
    }

    private static function tickOf(int $number, string $schedule): NativePayload
    {
        return new NativePayload(
            \json_encode(['tick' => $number], \JSON_THROW_ON_ERROR),
            \json_encode(['schedule' => $schedule], \JSON_THROW_ON_ERROR),
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
