<?php

declare(strict_types=1);

namespace Ticker\Spiral;

/**
 * One tick, decoded from the payload a ticker master sends: body `{"tick":N}`, header a JSON object.
 *
 * The ticker extension's header carries `lastTick`, `due`, `dueHrtime`, `skipped` and `attempt`,
 * the name of the tick's `schedule`, and when they apply `scheduled` (cron schedules), `manual`,
 * `catchUp` and `fence` (cluster mode); RoadRunner's Go plugin sends only `lastTick`. What a master
 * does not send is null (or the documented default) here, never a guess: `skipped` is null under
 * RoadRunner because Go's ticker drops late ticks without saying how many.
 *
 * Times are \DateTimeImmutable in UTC, except `scheduled`, which keeps the offset of its schedule's
 * zone. How late a tick started, in nanoseconds, is `hrtime(true) - $tick->dueHrtime` (the
 * extension's monotonic clock; null under RoadRunner).
 */
final class Tick
{
    /** The schedule of a header without `schedule`: the config's plain `ticker.interval`, and RoadRunner's. */
    public const DEFAULT_SCHEDULE = 'default';

    /** Go's zero time in unix seconds: RoadRunner's first tick says this instead of "no previous tick". */
    private const GO_ZERO_TIME = -62135596800;

    /** RFC 3339 date-time: date, `T`, time with an optional fraction, and `Z` or a numeric offset. */
    private const RFC_3339 = '/^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?'
        . '(?:[Zz]|([+-])(\d{2}):(\d{2}))$/D';

    /**
     * @param int $number the tick's number from 0, as the master counts them for this tick's schedule; a
     *                   skipped tick's number is never delivered (see $skipped)
     * @param \DateTimeImmutable|null $previous the time of the previous delivered tick (whole seconds);
     *                                          null for the first
     * @param \DateTimeImmutable|null $due when this tick was due, to the microsecond; null under RoadRunner
     * @param int|null $dueHrtime the due instant on the `hrtime(true)` clock, in nanoseconds; null under RoadRunner
     * @param int|null $skipped ticks the master skipped since the previous delivery, in the order things
     *                          happened (a tick that waited and is delivered after later ones were skipped
     *                          carries those skips), so the sum over all ticks is the pool's skipped count;
     *                          a catch-up run adds the occurrences missed while no master ran; null when
     *                          unknown
     * @param int|null $attempt 1, or 2 when the tick runs again because the worker that had it called
     *                          `stop()`; null under RoadRunner
     * @param array<string, mixed> $header the decoded header as sent, including keys this class does not know
     * @param string $schedule the name of the schedule this tick belongs to; `default` for the config's plain
     *                         `ticker.interval` and for a header without the key (RoadRunner's)
     * @param \DateTimeImmutable|null $scheduled for a cron schedule, the occurrence this tick stands for, in
     *                                           the schedule's zone with its offset (to the microsecond);
     *                                           null for an interval schedule and under RoadRunner
     * @param bool $manual true only for a run an operator started with `ticker run NAME`
     * @param bool $catchUp true only for the one run that catches up on occurrences missed while no master ran
     *                      (a schedule with `catch_up: once`; $skipped says how many)
     * @param int|null $fence in cluster mode, the fencing token of the lease the tick was handed out under;
     *                        it grows with every new leader; null without a cluster
     */
    public function __construct(
        public readonly int $number,
        public readonly ?\DateTimeImmutable $previous = null,
        public readonly ?\DateTimeImmutable $due = null,
        public readonly ?int $dueHrtime = null,
        public readonly ?int $skipped = null,
        public readonly ?int $attempt = null,
        public readonly array $header = [],
        public readonly string $schedule = self::DEFAULT_SCHEDULE,
        public readonly ?\DateTimeImmutable $scheduled = null,
        public readonly bool $manual = false,
        public readonly bool $catchUp = false,
        public readonly ?int $fence = null,
    ) {
    }

    /**
     * @throws InvalidTickException when the body is not `{"tick":N}` or the header is not a JSON object
     *                              whose known keys have the documented types
     */
    public static function fromJson(string $body, string $header): self
    {
        $decodedBody = self::decodeObject($body, 'body');
        $tick = $decodedBody['tick'] ?? null;
        if (!\is_int($tick) || $tick < 0) {
            throw new InvalidTickException(\sprintf('Tick body must be {"tick": N} with N >= 0, got %s', $body));
        }

        // An empty header is what a master sends when it has nothing to say, not an error.
        $fields = $header === '' ? [] : self::decodeObject($header, 'header');

        $lastTick = self::field($fields, 'lastTick', 'int');
        $due = self::field($fields, 'due', 'number');
        $schedule = self::field($fields, 'schedule', 'string');
        if ($schedule === '') {
            throw new InvalidTickException('Tick header "schedule" must not be empty');
        }
        $scheduled = self::field($fields, 'scheduled', 'string');

        return new self(
            number: $tick,
            previous: $lastTick === null || $lastTick === self::GO_ZERO_TIME
                ? null
                : new \DateTimeImmutable('@' . $lastTick),
            due: $due === null ? null : self::fromUnixSeconds((float) $due),
            dueHrtime: self::field($fields, 'dueHrtime', 'int'),
            skipped: self::notNegative($fields, 'skipped'),
            attempt: self::field($fields, 'attempt', 'int'),
            header: $fields,
            schedule: $schedule ?? self::DEFAULT_SCHEDULE,
            scheduled: $scheduled === null ? null : self::fromRfc3339($scheduled),
            manual: self::field($fields, 'manual', 'bool') ?? false,
            catchUp: self::field($fields, 'catchUp', 'bool') ?? false,
            fence: self::notNegative($fields, 'fence'),
        );
    }

    /**
     * @return array<string, mixed>
     */
    private static function decodeObject(string $json, string $part): array
    {
        try {
            $decoded = \json_decode($json, false, 16, \JSON_THROW_ON_ERROR);
        } catch (\JsonException $e) {
            throw new InvalidTickException(\sprintf('Tick %s is not JSON: %s', $part, $e->getMessage()), 0, $e);
        }
        // Decoding to stdClass first tells `{}` from `[]`: only an object is a valid body or header.
        if (!$decoded instanceof \stdClass) {
            throw new InvalidTickException(\sprintf('Tick %s must be a JSON object, got %s', $part, $json));
        }

        return \json_decode($json, true, 16, \JSON_THROW_ON_ERROR);
    }

    /**
     * A key's value, null when absent or null; any other type than the expected one is an error.
     *
     * @param array<string, mixed> $fields
     * @param 'int'|'number'|'string'|'bool' $type
     */
    private static function field(array $fields, string $key, string $type): int|float|string|bool|null
    {
        $value = $fields[$key] ?? null;
        $valid = match ($type) {
            'int' => \is_int($value),
            'number' => \is_int($value) || \is_float($value),
            'string' => \is_string($value),
            'bool' => \is_bool($value),
        };
        if ($value === null || $valid) {
            return $value;
        }

        throw new InvalidTickException(\sprintf(
            'Tick header "%s" must be %s or null, got %s',
            $key,
            match ($type) {
                'int' => 'an integer',
                'number' => 'a number',
                'string' => 'a string',
                'bool' => 'a boolean',
            },
            \json_encode($value),
        ));
    }

    /**
     * @param array<string, mixed> $fields
     */
    private static function notNegative(array $fields, string $key): ?int
    {
        $value = self::field($fields, $key, 'int');
        if ($value !== null && $value < 0) {
            throw new InvalidTickException(\sprintf('Tick header "%s" must not be negative, got %d', $key, $value));
        }

        return $value;
    }

    private static function fromUnixSeconds(float $seconds): \DateTimeImmutable
    {
        $time = \DateTimeImmutable::createFromFormat('U.u', \sprintf('%.6F', $seconds));
        if ($time === false) {
            throw new InvalidTickException(\sprintf('Tick header "due" is not a usable time: %F', $seconds));
        }

        return $time;
    }

    /**
     * An RFC 3339 date-time, such as `2025-03-30T03:00:00+02:00`, with its offset kept. A fraction of
     * a second is kept to the microsecond. A date or time that does not exist (February 30, 24:00,
     * a leap second) or an offset beyond 23:59 is an error, not a time PHP would roll over.
     */
    private static function fromRfc3339(string $value): \DateTimeImmutable
    {
        if (\preg_match(self::RFC_3339, $value, $parts, \PREG_UNMATCHED_AS_NULL) === 1) {
            [, $date, $time, $fraction, $sign, $hours, $minutes] = $parts;
            $offset = $sign === null ? '+00:00' : \sprintf('%s%s:%s', $sign, $hours, $minutes);
            $micros = \substr(\str_pad($fraction ?? '', 6, '0'), 0, 6);
            $parsed = \DateTimeImmutable::createFromFormat('!Y-m-d\TH:i:s.uP', "{$date}T{$time}.{$micros}{$offset}");
            $offsetSeconds = ($sign === '-' ? -1 : 1) * ((int) $hours * 3600 + (int) $minutes * 60);
            if (
                $parsed !== false
                && (int) $hours <= 23
                && (int) $minutes <= 59
                && $parsed->format('Y-m-d\TH:i:s') === "{$date}T{$time}"
                && $parsed->getOffset() === $offsetSeconds
            ) {
                return $parsed;
            }
        }

        throw new InvalidTickException(\sprintf(
            'Tick header "scheduled" must be an RFC 3339 time with an offset, such as %s, got %s',
            '"2025-03-30T03:00:00+02:00"',
            \json_encode($value, \JSON_UNESCAPED_SLASHES | \JSON_UNESCAPED_UNICODE),
        ));
    }
}
