<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Extension;

use Ticker\Spiral\Tests\Cookbook\StaticTickerDispatcher;
use Ticker\Spiral\Tests\Cookbook\TickerDispatcher;
use Ticker\Spiral\Tests\Support\CookbookApp;
use Ticker\Spiral\Worker\ExtensionWorker;

/**
 * A dispatcher written for RoadRunner's ticker plugin the way the Spiral cookbook writes it, in an
 * app whose only bootloader from this package is WorkerBootloader (tests/php/fixtures/e2e/cookbook.php),
 * under the real extension: the app is the master, boots without starting anything, and its ticks
 * reach the cookbook dispatcher in forked workers through the extension's worker, on both Spiral
 * dispatcher interfaces and with spiral/roadrunner-bridge's bindings listed on either side.
 */
final class CookbookEndToEndTest extends ExtensionTestCase
{
    private const TICKS = 4;
    private const CONFIG = __DIR__ . '/../fixtures/e2e/ticker.yaml';

    /**
     * @dataProvider applications
     *
     * @param array<string, string> $env
     * @param class-string $dispatcher
     */
    public function testTheCookbookDispatcherTicksInForkedWorkers(array $env, string $dispatcher): void
    {
        $app = new CookbookApp();

        $run = $app->run(
            ['TICKER_CONFIG' => self::CONFIG] + $env,
            ['-d', 'extension=' . self::extensionPath()],
            static fn (array $records): bool => \count(CookbookApp::ticksIn($records)) >= self::TICKS,
        );
        $context = $app->describe($run);

        self::assertFalse($run->timedOut, "the app did not stop within 30 s\n$context");
        self::assertSame(0, $run->exitCode, $context);

        $booted = $app->booted();
        $master = $booted['booted'];
        self::assertSame('ticker', $booted['rrMode'], "the extension sets RR_MODE before the script\n$context");
        self::assertSame(0, $booted['children'], "booting must not start the pool\n$context");

        $ticks = $app->ticks();
        self::assertGreaterThanOrEqual(self::TICKS, \count($ticks), $context);
        $numbers = \array_column($ticks, 'tick');
        self::assertSame(\array_values(\array_unique($numbers)), $numbers, "a tick was delivered twice\n$context");
        $finalized = \array_count_values(\array_column($app->records(), 'finalized'));
        foreach ($ticks as $tick) {
            $number = $tick['tick'];
            self::assertSame($dispatcher, $tick['dispatcher'], "tick $number\n$context");
            self::assertSame(ExtensionWorker::class, $tick['worker'], "tick $number\n$context");
            self::assertNotSame($master, $tick['pid'], "tick $number ran in the master\n$context");
            self::assertSame($master, $tick['ppid'], "tick $number ran outside the master's pool\n$context");
        }
        foreach (\array_count_values(\array_column($ticks, 'pid')) as $pid => $handled) {
            self::assertSame($handled, $finalized[$pid] ?? 0, "worker $pid did not finalize after each tick\n$context");
        }
        $served = \array_column($app->records(), 'served');
        self::assertContains($master, $served, "serve() did not return in the master\n$context");
    }

    /**
     * @return iterable<string, array{array<string, string>, class-string}>
     */
    public static function applications(): iterable
    {
        yield 'Spiral 3.0-3.11, canServe() on the instance' => [
            ['TICKER_TEST_SPIRAL_LINE' => '3.0'],
            TickerDispatcher::class,
        ];
        yield 'Spiral 3.12+, canServe() on the instance' => [
            ['TICKER_TEST_SPIRAL_LINE' => '3.12'],
            TickerDispatcher::class,
        ];
        yield 'Spiral 3.12+, static canServe(EnvironmentInterface)' => [
            ['TICKER_TEST_SPIRAL_LINE' => '3.12', 'COOKBOOK_DISPATCHER' => 'static'],
            StaticTickerDispatcher::class,
        ];
        yield 'the bridge listed before WorkerBootloader' => [['COOKBOOK_BRIDGE' => 'before'], TickerDispatcher::class];
        yield 'the bridge listed after WorkerBootloader' => [['COOKBOOK_BRIDGE' => 'after'], TickerDispatcher::class];
    }
}
