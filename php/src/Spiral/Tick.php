<?php

declare(strict_types=1);

namespace Ticker\Spiral;

/**
 * One tick, decoded from the payload a ticker master sends: body `{"tick":N}`, header a JSON object.
 *
 * The ticker extension's header carries `lastTick`, `due`, `dueHrtime`, `skipped` and `attempt`;
 * RoadRunner's Go plugin sends only `lastTick`. What a master does not send is null here, never a guess: `skipped`
 * is null under RoadRunner because Go's ticker drops late ticks without saying how many.
 *
 * Times are \DateTimeImmutable in UTC. How late a tick started, in nanoseconds, is
 * `hrtime(true) - $tick->dueHrtime` (the extension's monotonic clock; null under RoadRunner).
 */
final class Tick
{
    /** Go's zero time in unix seconds: RoadRunner's first tick says this instead of "no previous tick". */
    private const GO_ZERO_TIME = -62135596800;

    /**
     * @param int $number the tick's number from 0, as the master counts them; a skipped tick's number is
     *                   never delivered (see $skipped)
     * @param \DateTimeImmutable|null $previous the time of the previous delivered tick (whole seconds);
     *                                          null for the first
     * @param \DateTimeImmutable|null $due when this tick was due, to the microsecond; null under RoadRunner
     * @param int|null $dueHrtime the due instant on the `hrtime(true)` clock, in nanoseconds; null under RoadRunner
     * @param int|null $skipped ticks the master skipped since the previous delivery, in the order things
     *                          happened (a tick that waited and is delivered after later ones were skipped
     *                          carries those skips), so the sum over all ticks is the pool's skipped count;
     *                          null when unknown
     * @param int|null $attempt 1, or 2 when the tick runs again because the worker that had it called
     *                          `stop()`; null under RoadRunner
     * @param array<string, mixed> $header the decoded header as sent, including keys this class does not know
     */
    public function __construct(
        public readonly int $number,
        public readonly ?\DateTimeImmutable $previous = null,
        public readonly ?\DateTimeImmutable $due = null,
        public readonly ?int $dueHrtime = null,
        public readonly ?int $skipped = null,
        public readonly ?int $attempt = null,
        public readonly array $header = [],
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
        $skipped = self::field($fields, 'skipped', 'int');
        if ($skipped !== null && $skipped < 0) {
            throw new InvalidTickException(\sprintf('Tick header "skipped" must not be negative, got %d', $skipped));
        }

        return new self(
            number: $tick,
            previous: $lastTick === null || $lastTick === self::GO_ZERO_TIME
                ? null
                : new \DateTimeImmutable('@' . $lastTick),
            due: $due === null ? null : self::fromUnixSeconds((float) $due),
            dueHrtime: self::field($fields, 'dueHrtime', 'int'),
            skipped: $skipped,
            attempt: self::field($fields, 'attempt', 'int'),
            header: $fields,
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
     * @param array<string, mixed> $fields
     * @param 'int'|'number' $type
     */
    private static function field(array $fields, string $key, string $type): int|float|null
    {
        $value = $fields[$key] ?? null;
        if ($value === null || \is_int($value) || ($type === 'number' && \is_float($value))) {
            return $value;
        }

        throw new InvalidTickException(\sprintf(
            'Tick header "%s" must be %s or null, got %s',
            $key,
            $type === 'int' ? 'an integer' : 'a number',
            \json_encode($value),
        ));
    }

    private static function fromUnixSeconds(float $seconds): \DateTimeImmutable
    {
        $time = \DateTimeImmutable::createFromFormat('U.u', \sprintf('%.6F', $seconds));
        if ($time === false) {
            throw new InvalidTickException(\sprintf('Tick header "due" is not a usable time: %F', $seconds));
        }

        return $time;
    }
}
