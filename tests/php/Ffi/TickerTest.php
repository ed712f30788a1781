<?php

declare(strict_types=1);

namespace Ticker\Ffi\Tests;

use Ticker\Ffi\Exception;
use Ticker\Ffi\Tick;
use Ticker\Ffi\Ticker;
use Ticker\Spiral\Tests\Support\Subprocess;

/**
 * Ticker\Ffi\Ticker on the real C library. Stalls are usleep()s, which never end early, so the
 * assertions hold however loaded the machine is; nothing asserts how soon a tick comes.
 */
final class TickerTest extends FfiTestCase
{
    private static function every(string|int $interval, string $missed = 'skip'): Ticker
    {
        return Ticker::every($interval, $missed, self::library());
    }

    private static function next(Ticker $ticker): Tick
    {
        return $ticker->next(10.0) ?? self::fail('no tick within 10 s');
    }

    public function testTakesTheConfigsDurationsAndNanoseconds(): void
    {
        self::assertSame(90_000_000_000, self::every('1m30s')->intervalNs);
        self::assertSame(1_500_000, self::every('1.5ms')->intervalNs);
        self::assertSame(250_000, self::every('250us')->intervalNs);
        self::assertSame(100_000, self::every(100_000)->intervalNs);
        self::assertSame('delay', self::every('1s', 'delay')->missed);
    }

    public function testTicksComeInOrderOnTheGridAndNeverEarly(): void
    {
        $before = \hrtime(true);
        $ticker = self::every('2ms');
        $ticks = [];
        for ($i = 0; $i < 10; $i++) {
            $tick = self::next($ticker);
            self::assertGreaterThanOrEqual($tick->dueNs, \hrtime(true), 'a tick came early');
            self::assertGreaterThanOrEqual(0, $tick->lateNs);
            $ticks[] = $tick;
        }

        $first = $ticks[0];
        self::assertGreaterThanOrEqual($before + 2_000_000 * ($first->number + 1), $first->dueNs);
        $reported = 0;
        foreach ($ticks as $i => $tick) {
            self::assertSame($first->dueNs + 2_000_000 * ($tick->number - $first->number), $tick->dueNs);
            if ($i > 0) {
                self::assertGreaterThan($ticks[$i - 1]->number, $tick->number);
            }
            $reported += $tick->skipped;
        }
        $stats = $ticker->stats();
        self::assertSame(10, $stats['delivered']);
        self::assertSame($reported, $stats['skipped']);
        self::assertSame(['due', 'delivered', 'skipped'], \array_keys($stats));
    }

    public function testSkipReturnsOneLateTickAndCountsTheRest(): void
    {
        $ticker = self::every('50ms');
        // Tick 0 comes first, however late this process gets to ask: it waits, and whatever came
        // due after it while nobody asked is skipped and counted in its header.
        $first = self::next($ticker);
        self::assertSame(0, $first->number);
        \usleep(175_000);                      // three ticks at least come due meanwhile

        $late = self::next($ticker);
        // The first tick due after $first was handed over is the one that waited; at least
        // 125 ms late, as the first of three or more that came due in the 175 ms, the others
        // skipped.
        self::assertSame($first->number + 1 + $first->skipped, $late->number);
        self::assertGreaterThanOrEqual(125_000_000, $late->lateNs);
        self::assertGreaterThanOrEqual(2, $late->skipped);
        $then = self::next($ticker);
        // The ticks between the two are those skipped while the late one waited.
        self::assertSame($late->number + 1 + $late->skipped, $then->number);
        self::assertSame(
            $first->skipped + $late->skipped + $then->skipped,
            $ticker->stats()['skipped'],
        );
    }

    public function testDelayReturnsTheLateTickAndRestartsTheGridAfterIt(): void
    {
        $ticker = self::every('50ms', 'delay');
        self::next($ticker);
        \usleep(175_000);

        $before = \hrtime(true);
        $late = self::next($ticker);
        $after = \hrtime(true);
        $then = self::next($ticker);
        self::assertSame([1, 0, 2, 0], [$late->number, $late->skipped, $then->number, $then->skipped]);
        self::assertGreaterThanOrEqual($before + 50_000_000, $then->dueNs);
        self::assertLessThanOrEqual($after + 50_000_000, $then->dueNs);
        self::assertSame(0, $ticker->stats()['skipped']);
    }

    public function testBurstReturnsEveryMissedTickInOrder(): void
    {
        $ticker = self::every('50ms', 'burst');
        $first = self::next($ticker);
        \usleep(175_000);

        $numbers = [];
        for ($i = 0; $i < 5; $i++) {
            $tick = self::next($ticker);
            self::assertSame(0, $tick->skipped);
            self::assertSame($first->dueNs + 50_000_000 * $tick->number, $tick->dueNs);
            $numbers[] = $tick->number;
        }
        self::assertSame([1, 2, 3, 4, 5], $numbers);
    }

    public function testACronTickerTicksOnTheWallClocksSecondsInItsZone(): void
    {
        $ticker = Ticker::cron('* * * * * *', 'Asia/Kolkata', 'skip', self::library());
        $first = self::next($ticker);
        $second = self::next($ticker);

        self::assertSame(0, $first->number);
        self::assertSame(1, $second->number);
        self::assertNotNull($first->scheduled);
        self::assertSame('+05:30', $first->scheduled->format('P'), 'in the ticker\'s zone');
        self::assertSame(1, $second->scheduled->getTimestamp() - $first->scheduled->getTimestamp());
        self::assertSame(0, $ticker->intervalNs);
        self::assertNull(self::every('1s')->next(0.0)?->scheduled);
    }

    /**
     * @return iterable<string, array{string, string, string, string}>
     */
    public static function refusedCron(): iterable
    {
        yield 'a field out of range' => ['61 * * * *', 'UTC', 'skip', 'minute 61 is out of 0-59'];
        yield 'an unknown zone' => ['* * * * *', 'Mars/Olympus', 'skip', 'unknown time zone "Mars/Olympus"'];
        yield 'never' => ['0 0 30 2 *', 'UTC', 'skip', 'never matches'];
        yield 'delay' => ['* * * * *', 'UTC', 'delay', "missed policy 'delay' is not accepted; expected skip or burst"];
    }

    /**
     * @dataProvider refusedCron
     */
    public function testRefusesBadCronArgumentsSayingWhy(string $expression, string $zone, string $missed, string $why): void
    {
        $this->expectException(Exception::class);
        $this->expectExceptionMessage($why);

        Ticker::cron($expression, $zone, $missed, self::library());
    }

    public function testATimeoutReturnsNull(): void
    {
        $ticker = self::every('5s');

        self::assertNull($ticker->next(0.0));
        $start = \hrtime(true);
        self::assertNull($ticker->next(0.02));
        self::assertGreaterThanOrEqual(20_000_000, \hrtime(true) - $start);
        self::assertSame(['due' => 0, 'delivered' => 0, 'skipped' => 0], $ticker->stats());
    }

    /**
     * @return iterable<string, array{string|int, string, string}>
     */
    public static function refused(): iterable
    {
        yield 'no unit' => ['10', 'skip', '"10" has a number without a unit; expected a number with a unit'];
        yield 'unknown unit' => ['1d', 'skip', 'unknown unit "d"'];
        yield 'zero' => ['0s', 'skip', 'the interval is zero'];
        yield 'too short' => ['50us', 'skip', 'below the shortest interval of 100µs'];
        yield 'seconds as an int' => [5, 'skip', 'an int interval is in nanoseconds'];
        yield 'negative' => [-1, 'skip', 'the interval -1 is negative'];
        yield 'NUL byte' => ["1s\0", 'skip', 'NUL byte'];
        yield 'unknown policy' => ['1s', 'later', "missed policy 'later' is unknown; expected skip, delay or burst"];
    }

    /**
     * @dataProvider refused
     */
    public function testRefusesBadArgumentsSayingWhy(string|int $interval, string $missed, string $why): void
    {
        $this->expectException(Exception::class);
        $this->expectExceptionMessage($why);

        self::every($interval, $missed);
    }

    public function testRefusesANegativeTimeout(): void
    {
        $ticker = self::every('1s');

        $this->expectException(Exception::class);
        $this->expectExceptionMessage('the timeout -0.5 is refused');

        $ticker->next(-0.5);
    }

    public function testAMissingLibraryIsNamedWithTheWayToInstallIt(): void
    {
        $this->expectException(Exception::class);
        $this->expectExceptionMessage(
            "Cannot load the ticker C library /nonexistent/libticker.so (Failed loading '/nonexistent/libticker.so'): "
            . 'build and install it with `make install`',
        );

        Ticker::every('1s', 'skip', '/nonexistent/libticker.so');
    }

    public function testDisabledFfiIsNamed(): void
    {
        $code = 'try { Ticker\Ffi\Ticker::every("1s", "skip", getenv("TICKER_LIB")); } '
            . 'catch (Ticker\Ffi\Exception $e) { echo $e->getMessage(); }';

        self::assertStringStartsWith(
            'FFI is disabled (ffi.enable=0): Ticker\Ffi\Ticker needs ffi.enable=1',
            self::php($code, ['-d', 'ffi.enable=0'])->stdout,
        );
        self::assertStringStartsWith(
            "PHP's FFI extension (ext-ffi) is not loaded",
            self::php($code, ['-n'])->stdout,
        );
    }

    public function testWorksWithTheLibraryOnTheLoadersPath(): void
    {
        $result = self::php(
            '$t = Ticker\Ffi\Ticker::every("1ms"); echo $t->next(5.0)?->number;',
            [],
            ['LD_LIBRARY_PATH' => \dirname(self::library())],
        );

        self::assertSame('', $result->stderr);
        self::assertSame('0', $result->stdout);
    }

    public function testTheExampleRuns(): void
    {
        $result = Subprocess::run(
            [\PHP_BINARY, __DIR__ . '/../../../examples/ffi/ticks.php', '10ms', '3'],
            ['PATH' => (string) \getenv('PATH'), 'TICKER_LIB' => self::library()],
            30.0,
        );

        self::assertSame('', $result->stderr);
        self::assertMatchesRegularExpression(
            '/\Atick +0 .*\ntick +\d+ .*\ntick +\d+ .*\ndue \d+, delivered 3, skipped \d+\n\z/',
            $result->stdout,
        );
    }

    public function testCannotBeCloned(): void
    {
        $ticker = self::every('1s');

        $this->expectException(\Error::class);

        $copy = clone $ticker;
        unset($copy);
    }
}
