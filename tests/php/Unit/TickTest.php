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

    public function testDecodesTheScheduleKeys(): void
    {
        $tick = Tick::fromJson(
            '{"tick":0}',
            '{"lastTick":null,"due":1743296400,"dueHrtime":9,"skipped":0,"attempt":1,"schedule":"nightly-report",'
            . '"scheduled":"2025-03-30T03:00:00+02:00","manual":true,"catchUp":true,"fence":7}',
        );

        self::assertSame(0, $tick->number);
        self::assertSame('nightly-report', $tick->schedule);
        self::assertNotNull($tick->scheduled);
        self::assertSame('2025-03-30T03:00:00+02:00', $tick->scheduled->format(\DATE_RFC3339));
        self::assertSame(7200, $tick->scheduled->getOffset(), 'the offset of the schedule\'s zone is kept');
        self::assertSame(1743296400, $tick->scheduled->getTimestamp());
        self::assertTrue($tick->manual);
        self::assertTrue($tick->catchUp);
        self::assertSame(7, $tick->fence);
        self::assertSame('1743296400.000000', $tick->due?->format('U.u'));
        self::assertSame('nightly-report', $tick->header['schedule']);
    }

    /**
     * @dataProvider headersWithoutScheduleKeys
     */
    public function testAHeaderWithoutTheScheduleKeysIsAnOrdinaryTickOfTheDefaultSchedule(string $header): void
    {
        $tick = Tick::fromJson('{"tick":3}', $header);

        self::assertSame('default', $tick->schedule);
        self::assertSame(Tick::DEFAULT_SCHEDULE, $tick->schedule);
        self::assertNull($tick->scheduled);
        self::assertFalse($tick->manual);
        self::assertFalse($tick->catchUp);
        self::assertNull($tick->fence);
    }

    /**
     * @return iterable<string, array{string}>
     */
    public static function headersWithoutScheduleKeys(): iterable
    {
        yield "RoadRunner's" => ['{"lastTick":1700000000}'];
        yield "the extension's, before schedules" => [
            '{"lastTick":null,"due":1.5,"dueHrtime":5,"skipped":0,"attempt":1}',
        ];
        yield 'none' => [''];
        yield 'every key null' => ['{"schedule":null,"scheduled":null,"manual":null,"catchUp":null,"fence":null}'];
        yield 'flags false' => ['{"manual":false,"catchUp":false}'];
    }

    public function testAnIntervalScheduleOtherThanDefaultHasNoScheduledTime(): void
    {
        $tick = Tick::fromJson('{"tick":12}', '{"schedule":"cache-warmup","due":1700000000.5}');

        self::assertSame('cache-warmup', $tick->schedule);
        self::assertSame(12, $tick->number);
        self::assertNull($tick->scheduled);
        self::assertFalse($tick->manual);
        self::assertFalse($tick->catchUp);
    }

    /**
     * @dataProvider scheduledTimes
     */
    public function testScheduledIsReadAsRfc3339WithItsOffset(string $sent, string $expected, int $offset): void
    {
        $tick = Tick::fromJson('{"tick":1}', \json_encode(['schedule' => 'cron', 'scheduled' => $sent]));

        self::assertSame($expected, $tick->scheduled?->format('Y-m-d\TH:i:s.uP'));
        self::assertSame($offset, $tick->scheduled->getOffset());
    }

    /**
     * @return iterable<string, array{string, string, int}>
     */
    public static function scheduledTimes(): iterable
    {
        yield 'summer time, the first hour after the change' => [
            '2025-03-30T03:00:00+02:00', '2025-03-30T03:00:00.000000+02:00', 7200,
        ];
        yield 'winter time, the second 01:30 of the night' => [
            '2025-10-26T02:30:00+01:00', '2025-10-26T02:30:00.000000+01:00', 3600,
        ];
        yield 'west of Greenwich' => ['2025-11-02T01:30:00-05:00', '2025-11-02T01:30:00.000000-05:00', -18000];
        yield 'half-hour offset' => ['2025-01-01T09:00:00+05:30', '2025-01-01T09:00:00.000000+05:30', 19800];
        yield 'Z' => ['2025-01-01T00:00:00Z', '2025-01-01T00:00:00.000000+00:00', 0];
        yield 'lower-case t and z' => ['2025-01-01t00:00:00z', '2025-01-01T00:00:00.000000+00:00', 0];
        yield 'a fraction' => ['2025-01-01T00:00:00.25+01:00', '2025-01-01T00:00:00.250000+01:00', 3600];
        yield 'nanoseconds, kept to the microsecond' => [
            '2025-01-01T00:00:00.123456789+00:00', '2025-01-01T00:00:00.123456+00:00', 0,
        ];
    }

    /**
     * @dataProvider malformedScheduledTimes
     */
    public function testAMalformedScheduledNamesTheKeyAndTheValue(string $sent): void
    {
        try {
            Tick::fromJson('{"tick":1}', \json_encode(['scheduled' => $sent], \JSON_UNESCAPED_SLASHES));
            self::fail("accepted scheduled: $sent");
        } catch (InvalidTickException $e) {
            self::assertStringContainsString('Tick header "scheduled" must be an RFC 3339 time', $e->getMessage());
            self::assertStringEndsWith('got ' . \json_encode($sent, \JSON_UNESCAPED_SLASHES), $e->getMessage());
        }
    }

    /**
     * @return iterable<string, array{string}>
     */
    public static function malformedScheduledTimes(): iterable
    {
        yield 'no offset' => ['2025-03-30T03:00:00'];
        yield 'a space for T' => ['2025-03-30 03:00:00+02:00'];
        yield 'no seconds' => ['2025-03-30T03:00+02:00'];
        yield 'an offset without colon' => ['2025-03-30T03:00:00+0200'];
        yield 'a date only' => ['2025-03-30'];
        yield 'slashes' => ['2025/03/30T03:00:00+02:00'];
        yield 'February 30' => ['2025-02-30T03:00:00+02:00'];
        yield 'month 13' => ['2025-13-01T03:00:00+02:00'];
        yield 'hour 24' => ['2025-03-30T24:00:00+02:00'];
        yield 'a leap second' => ['2016-12-31T23:59:60Z'];
        yield 'offset hour 24' => ['2025-03-30T03:00:00+24:00'];
        yield 'offset minute 60' => ['2025-03-30T03:00:00+02:60'];
        yield 'unix seconds as a string' => ['1743296400'];
        yield 'empty' => [''];
        yield 'a trailing newline' => ["2025-03-30T03:00:00+02:00\n"];
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
        yield 'schedule a number' => [
            '{"tick":1}',
            '{"schedule":5}',
            'Tick header "schedule" must be a string or null, got 5',
        ];
        yield 'schedule a list' => [
            '{"tick":1}',
            '{"schedule":["a"]}',
            '"schedule" must be a string or null, got ["a"]',
        ];
        yield 'schedule empty' => ['{"tick":1}', '{"schedule":""}', 'Tick header "schedule" must not be empty'];
        yield 'scheduled a number' => [
            '{"tick":1}',
            '{"scheduled":1743296400}',
            '"scheduled" must be a string or null, got 1743296400',
        ];
        yield 'manual a string' => [
            '{"tick":1}',
            '{"manual":"true"}',
            'Tick header "manual" must be a boolean or null, got "true"',
        ];
        yield 'manual a number' => ['{"tick":1}', '{"manual":1}', '"manual" must be a boolean or null, got 1'];
        yield 'catchUp a string' => [
            '{"tick":1}',
            '{"catchUp":"yes"}',
            'Tick header "catchUp" must be a boolean or null, got "yes"',
        ];
        yield 'fence a string' => [
            '{"tick":1}',
            '{"fence":"7"}',
            'Tick header "fence" must be an integer or null, got "7"',
        ];
        yield 'fence a float' => ['{"tick":1}', '{"fence":7.5}', '"fence" must be an integer or null, got 7.5'];
        yield 'fence negative' => ['{"tick":1}', '{"fence":-1}', 'Tick header "fence" must not be negative, got -1'];
    }
}
