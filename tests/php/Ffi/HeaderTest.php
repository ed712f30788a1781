<?php

declare(strict_types=1);

namespace Ticker\Ffi\Tests;

/**
 * include/ticker.h as PHP's FFI reads it, with no PHP class in between: FFI::cdef() with the
 * library's path given at run time, and FFI::load() on the file as it is.
 */
final class HeaderTest extends FfiTestCase
{
    private static function ffi(): \FFI
    {
        return \FFI::cdef((string) \file_get_contents(self::HEADER), self::library());
    }

    public function testReturnCodesAndPoliciesAreEnumConstants(): void
    {
        $ffi = self::ffi();

        self::assertSame([0, -1, -2, -3], [
            $ffi->TICKER_OK, $ffi->TICKER_TIMEOUT, $ffi->TICKER_INVALID_ARGUMENT, $ffi->TICKER_SYSTEM_ERROR,
        ]);
        self::assertSame([0, 1, 2], [$ffi->TICKER_SKIP, $ffi->TICKER_DELAY, $ffi->TICKER_BURST]);
    }

    public function testTicksComeNumberedOnTheGridAndNeverEarly(): void
    {
        $ffi = self::ffi();
        $t = $ffi->new('ticker*');
        self::assertSame(0, $ffi->ticker_new(1_000_000, $ffi->TICKER_SKIP, \FFI::addr($t)));
        $tick = $ffi->new('ticker_tick');
        $first = null;
        $reported = 0;
        for ($i = 0; $i < 20; $i++) {
            self::assertSame(0, $ffi->ticker_next($t, 10_000_000_000, \FFI::addr($tick)));
            $now = \hrtime(true);
            self::assertGreaterThanOrEqual($tick->due_ns, $now, 'a tick came early');
            self::assertGreaterThanOrEqual(0, $tick->late_ns);
            $first ??= [$tick->number, $tick->due_ns];
            self::assertSame($first[1] + ($tick->number - $first[0]) * 1_000_000, $tick->due_ns);
            $reported += $tick->skipped;
        }
        $counts = $ffi->new('ticker_counts');
        self::assertSame(0, $ffi->ticker_stats($t, \FFI::addr($counts)));
        self::assertSame(20, $counts->delivered);
        self::assertSame($reported, $counts->skipped);
        $ffi->ticker_free($t);
        $ffi->ticker_free(null);
    }

    public function testErrorsAreCodesWithTheTextOfTheLastOne(): void
    {
        $ffi = self::ffi();
        $t = $ffi->new('ticker*');

        self::assertSame($ffi->TICKER_INVALID_ARGUMENT, $ffi->ticker_new(0, 0, \FFI::addr($t)));
        self::assertSame('ticker_new: the interval is zero', $ffi->ticker_last_error());
        self::assertTrue(\FFI::isNull($t));
        self::assertSame($ffi->TICKER_INVALID_ARGUMENT, $ffi->ticker_new(1_000_000, 7, \FFI::addr($t)));
        self::assertStringContainsString('missed policy 7', $ffi->ticker_last_error());
        self::assertSame($ffi->TICKER_INVALID_ARGUMENT, $ffi->ticker_next(null, -1, null));
        self::assertSame('ticker_next: t is NULL', $ffi->ticker_last_error());

        $ns = $ffi->new('uint64_t');
        self::assertSame(0, $ffi->ticker_parse_duration('1m30s', \FFI::addr($ns)));
        self::assertSame(90_000_000_000, $ns->cdata);
        self::assertSame($ffi->TICKER_INVALID_ARGUMENT, $ffi->ticker_parse_duration('90', \FFI::addr($ns)));
        self::assertStringContainsString('without a unit', $ffi->ticker_last_error());
    }

    public function testATimeoutReturnsWithoutATick(): void
    {
        $ffi = self::ffi();
        $t = $ffi->new('ticker*');
        self::assertSame(0, $ffi->ticker_new(5_000_000_000, $ffi->TICKER_DELAY, \FFI::addr($t)));
        $tick = $ffi->new('ticker_tick');

        self::assertSame($ffi->TICKER_TIMEOUT, $ffi->ticker_next($t, 0, \FFI::addr($tick)));
        $start = \hrtime(true);
        self::assertSame($ffi->TICKER_TIMEOUT, $ffi->ticker_next($t, 20_000_000, \FFI::addr($tick)));
        self::assertGreaterThanOrEqual(20_000_000, \hrtime(true) - $start);
        $ffi->ticker_free($t);
    }

    public function testFfiLoadTakesTheHeaderAsItIs(): void
    {
        // FFI_LIB "libticker.so" is found by the dynamic loader, as after `make install`.
        $result = self::php(
            '$ffi = FFI::load(' . \var_export(\realpath(self::HEADER), true) . ');'
            . '$t = $ffi->new("ticker*");'
            . 'echo $ffi->ticker_new(250_000, $ffi->TICKER_BURST, FFI::addr($t)), " ";'
            . '$tick = $ffi->new("ticker_tick");'
            . 'echo $ffi->ticker_next($t, 5_000_000_000, FFI::addr($tick)), " ", $tick->number;'
            . '$ffi->ticker_free($t);',
            [],
            ['LD_LIBRARY_PATH' => \dirname(self::library())],
        );

        self::assertSame('', $result->stderr);
        self::assertSame('0 0 0', $result->stdout);
    }
}
