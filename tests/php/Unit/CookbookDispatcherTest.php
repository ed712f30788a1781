<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Unit;

use PHPUnit\Framework\TestCase;
use Spiral\Boot\EnvironmentInterface;
use Spiral\Boot\FinalizerInterface;
use Ticker\Payload as NativePayload;
use Ticker\Spiral\Tests\Cookbook\StaticTickerDispatcher;
use Ticker\Spiral\Tests\Cookbook\TickerBootloader as CookbookBootloader;
use Ticker\Spiral\Tests\Cookbook\TickerDispatcher as CookbookDispatcher;
use Ticker\Spiral\Tests\Support\Container;
use Ticker\Spiral\Tests\Support\CookbookApp;
use Ticker\Spiral\Tests\Support\Environment;
use Ticker\Spiral\Tests\Support\Journal;
use Ticker\Spiral\Tests\Support\JournalFinalizer;
use Ticker\Spiral\Tests\Support\JsonLines;
use Ticker\Spiral\Tests\Support\Kernel;
use Ticker\Spiral\Tests\Support\SpiralLine;
use Ticker\Spiral\Tests\Support\UsesNativeDouble;
use Ticker\Spiral\Worker\ExtensionWorker;
use Ticker\Spiral\WorkerBootloader;

/**
 * A dispatcher written for RoadRunner's ticker plugin the way the Spiral cookbook writes it
 * (tests/php/Cookbook), with only WorkerBootloader from this package, against the test double of
 * the extension. Its static-canServe form loads only against the 3.12+ interface, so it runs in a
 * subprocess (tests/php/fixtures/e2e/cookbook.php); tests/php/Extension/CookbookEndToEndTest runs
 * the same app under the real extension.
 */
final class CookbookDispatcherTest extends TestCase
{
    use UsesNativeDouble;

    /** What the extension's worker is told while serving three ticks, then the stop. */
    private const THREE_TICKS_ANSWERED = [
        'waitPayload', 'respond:OK', 'waitPayload', 'respond:OK', 'waitPayload', 'respond:OK', 'waitPayload',
    ];

    private Journal $journal;
    private Container $container;
    private string $log;

    protected function setUp(): void
    {
        $this->log = (string) \tempnam(\sys_get_temp_dir(), 'ticker-cookbook-');
        $this->journal = new Journal();
        $this->container = new Container();
        $this->container->bindSingleton(FinalizerInterface::class, new JournalFinalizer($this->journal));
        // What the extension's master sees: it set RR_MODE before the script started.
        $this->container->bindSingleton(
            EnvironmentInterface::class,
            new Environment(['RR_MODE' => 'ticker', 'COOKBOOK_LOG' => $this->log]),
        );
    }

    protected function tearDown(): void
    {
        @\unlink($this->log);
        $this->forgetTheExtension();
    }

    /**
     * @dataProvider lines
     */
    public function testTicksUnderTheExtensionWithOnlyWorkerBootloader(SpiralLine $line): void
    {
        $native = $this->playTheExtension(self::tick(0), self::tick(1), self::tick(2));
        $kernel = new Kernel($this->container, $line);

        $kernel->bootload(WorkerBootloader::class, CookbookBootloader::class);
        $kernel->serve();

        $ticks = JsonLines::read($this->log);
        self::assertSame([0, 1, 2], \array_column($ticks, 'tick'));
        self::assertSame([ExtensionWorker::class], CookbookApp::distinct($ticks, 'worker'));
        self::assertSame([CookbookDispatcher::class], CookbookApp::distinct($ticks, 'dispatcher'));
        self::assertSame(self::THREE_TICKS_ANSWERED, \array_map(
            static fn (array $call): string => $call[0] . (isset($call[1]) ? ':' . $call[1]->body : ''),
            $native->calls,
        ));
        self::assertSame(['finalize', 'finalize', 'finalize'], $this->journal->events());
    }

    /**
     * What the cookbook's dispatcher met before WorkerBootloader, and meets without it: nothing
     * binds the concrete class it asks for, and the container cannot build one.
     */
    public function testWithoutWorkerBootloaderTheWorkerItAsksForCannotBeBuilt(): void
    {
        $native = $this->playTheExtension(self::tick(0));
        $kernel = new Kernel($this->container);
        $kernel->bootload(CookbookBootloader::class);

        try {
            $kernel->serve();
            self::fail('the cookbook dispatcher got a worker without WorkerBootloader');
        } catch (\LogicException $e) {
            self::assertStringContainsString("Can't resolve `Spiral\\RoadRunner\\Worker`", $e->getMessage());
        }
        self::assertSame([], $native->calls);
    }

    public function testTheStaticCanServeDispatcherTicksUnderTheExtensionOnSpiral312(): void
    {
        $app = new CookbookApp();

        $run = $app->run([
            'RR_MODE' => 'ticker',
            'TICKER_TEST_SPIRAL_LINE' => SpiralLine::From312->value,
            'COOKBOOK_DISPATCHER' => 'static',
            'COOKBOOK_PLAY_EXTENSION' => '3',
        ]);
        $context = $app->describe($run);
        $this->skipWhereTheSubprocessHasTheExtension($app);

        self::assertSame(0, $run->exitCode, $context);
        $ticks = $app->ticks();
        self::assertSame([0, 1, 2], \array_column($ticks, 'tick'), $context);
        self::assertSame([StaticTickerDispatcher::class], CookbookApp::distinct($ticks, 'dispatcher'));
        self::assertSame([ExtensionWorker::class], CookbookApp::distinct($ticks, 'worker'));
        self::assertSame([self::THREE_TICKS_ANSWERED], CookbookApp::distinct($app->records(), 'nativeCalls'), $context);
    }

    /**
     * Without the extension, in RR_MODE=ticker, the process is RoadRunner's worker: the dispatcher
     * gets RoadRunner's Worker, whose stand-in fails on its first use because there is no RoadRunner.
     */
    public function testUnderRoadRunnerWithoutTheExtensionTheDispatcherGetsRoadRunnersWorker(): void
    {
        $app = new CookbookApp();

        $run = $app->run(['RR_MODE' => 'ticker']);
        $this->skipWhereTheSubprocessHasTheExtension($app);

        self::assertSame(255, $run->exitCode, $app->describe($run));
        self::assertStringContainsString('Spiral\RoadRunner\Worker: there is no RoadRunner relay', $run->stderr);
        self::assertSame([], $app->ticks());
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

    private static function tick(int $number): NativePayload
    {
        return new NativePayload(\json_encode(['tick' => $number], \JSON_THROW_ON_ERROR));
    }

    private function skipWhereTheSubprocessHasTheExtension(CookbookApp $app): void
    {
        if ($app->booted()['extension'] === true) {
            self::markTestSkipped('the ticker extension is enabled in php.ini here, so the subprocess cannot play it');
        }
    }
}
