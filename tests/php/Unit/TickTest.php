<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Unit;

use PHPUnit\Framework\TestCase;
use Ticker\Spiral\InvalidTickException;
use Ticker\Spiral\Tick;

final class TickTest extends TestCase
{
    public function testDecodesTheExtensionsHeader(): void
    {
        $tick = Tick::fromJson(
            '{"tick":7}',
            '{"lastTick":1700000000,"due":1700000001.25,"dueHrtime":123456789,"skipped":2,"attempt":2}',
        );

        self::assertSame(7, $tick->number);
        self::assertNotNull($tick->previous);
        self::assertSame(1700000000, $tick->previous->getTimestamp());
        self::assertNotNull($tick->due);
        self::assertSame('1700000001.250000', $tick->due->format('U.u'));
        self::assertSame(123456789, $tick->dueHrtime);
        self::assertSame(2, $tick->skipped);
        self::assertSame(2, $tick->attempt);
        self::assertSame(
            [
                'lastTick' => 1700000000,
                'due' => 1700000001.25,
                'dueHrtime' => 123456789,
                'skipped' => 2,
                'attempt' => 2,
            ],
            $tick->header,
        );
    }

    public function testTheExtensionsFirstTickHasNoPrevious(): void
    {
        $tick = Tick::fromJson('{"tick":0}', '{"lastTick":null,"due":1700000000,"dueHrtime":5,"skipped":0}');

        self::assertNull($tick->previous);
        self::assertSame('1700000000.000000', $tick->due?->format('U.u'));
        self::assertSame(0, $tick->skipped);
    }

    public function testRoadRunnersHeaderLeavesWhatItDoesNotSendNull(): void
    {
        $tick = Tick::fromJson('{"tick": 3}', '{"lastTick": 1700000000}');

        self::assertSame(3, $tick->number);
        self::assertSame(1700000000, $tick->previous?->getTimestamp());
        self::assertNull($tick->due);
        self::assertNull($tick->dueHrtime);
        self::assertNull($tick->skipped);
        self::assertNull($tick->attempt);
    }

    public function testRoadRunnersFirstTickGoZeroTimeMeansNoPrevious(): void
    {
        $tick = Tick::fromJson('{"tick":0}', '{"lastTick":-62135596800}');

        self::assertNull($tick->previous);
    }

    public function testUnknownHeaderKeysAreKeptAndIgnored(): void
    {
        $tick = Tick::fromJson('{"tick":1,"extra":true}', '{"lastTick":10,"shard":"b","nested":{"a":1}}');

        self::assertSame(1, $tick->number);
        self::assertSame(10, $tick->previous?->getTimestamp());
        self::assertSame(['lastTick' => 10, 'shard' => 'b', 'nested' => ['a' => 1]], $tick->header);
    }

    /**
     * @dataProvider emptyHeaders
     */
    public function testAnEmptyHeaderIsATickWithoutTimes(string $header): void
    {
        $tick = Tick::fromJson('{"tick":4}', $header);

        self::assertEquals(new Tick(4), $tick);
    }

    /**
     * @return iterable<string, array{string}>
     */
    public static function emptyHeaders(): iterable
    {
        yield 'no header' => [''];
        yield 'empty object' => ['{}'];
    }

    public function testTimesAreUtc(): void
    {
        $tick = Tick::fromJson('{"tick":1}', '{"lastTick":0,"due":1.5}');

        self::assertSame('+00:00', $tick->previous?->format('P'));
        self::assertSame('1970-01-01T00:00:01.500000+00:00', $tick->due?->format('Y-m-d\TH:i:s.uP'));
    }

    /**
     * @dataProvider invalidPayloads
     */
    public function testRejectsWhatIsNotATick(string $body, string $header, string $message): void
    {
        $this->expectException(InvalidTickException::class);
        $this->expectExceptionMessage($message);

        Tick::fromJson($body, $header);
    }

    /**
     * @return iterable<string, array{string, string, string}>
     */
    public static function invalidPayloads(): iterable
    {
        yield 'body not JSON' => ['tick 1', '', 'Tick body is not JSON'];
        yield 'body a list' => ['[1]', '', 'Tick body must be a JSON object'];
        yield 'body without tick' => ['{"tock":1}', '', 'Tick body must be {"tick": N}'];
        yield 'tick a string' => ['{"tick":"1"}', '', 'Tick body must be {"tick": N}'];
        yield 'tick negative' => ['{"tick":-1}', '', 'Tick body must be {"tick": N}'];
        yield 'tick a float' => ['{"tick":1.5}', '', 'Tick body must be {"tick": N}'];
        yield 'header not JSON' => ['{"tick":1}', 'lastTick=1', 'Tick header is not JSON'];
        yield 'header a list' => ['{"tick":1}', '[]', 'Tick header must be a JSON object'];
        yield 'lastTick a string' => ['{"tick":1}', '{"lastTick":"yesterday"}', '"lastTick" must be an integer'];
        yield 'due a string' => ['{"tick":1}', '{"due":"now"}', '"due" must be a number'];
        yield 'dueHrtime a float' => ['{"tick":1}', '{"dueHrtime":1.5}', '"dueHrtime" must be an integer'];
        yield 'attempt a string' => ['{"tick":1}', '{"attempt":"2"}', '"attempt" must be an integer'];
        yield 'skipped negative' => ['{"tick":1}', '{"skipped":-1}', '"skipped" must not be negative'];
    }
}
