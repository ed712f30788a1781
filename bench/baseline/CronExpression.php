<?php

declare(strict_types=1);

/*
 * A STAND-IN for dragonmantank/cron-expression's `CronExpression::isDue()`, written for the
 * benchmark (Packagist is not reachable here; no code is copied from that library).
 *
 * What a PHP scheduler does each time it asks whether a schedule is due: Laravel's
 * `Event::isDue()` builds `new CronExpression($expression)` and calls `isDue()` with the
 * current time in the event's zone, for every event, every time `schedule:run` (or
 * `schedule:work`'s loop, each second for sub-minute events) looks; spiral-packages/scheduler
 * does the same per job. This class keeps that shape: the constructor splits and validates
 * the expression (each call parses it again, as those callers do), and `isDue()` reads the
 * instant's fields with PHP's DateTime in its zone and matches each cron field, part by part,
 * against them.
 *
 * Supported: 5 fields (minute hour day-of-month month day-of-week; second 0) or 6 with the
 * seconds first (dragonmantank has no seconds field: Laravel reaches sub-minute schedules by
 * repeating a minute's event every N seconds; the benchmark's schedules need the field);
 * `*`, `?`, values, `a-b`, steps (`*` / n, `a-b/n`, `a/n`), lists, `JAN`-`DEC`, `SUN`-`SAT`,
 * 0 or 7 for Sunday, the aliases `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
 * `@midnight`, `@hourly`. Day-of-month and day-of-week both restricted: either matches (Vixie
 * cron's rule, which dragonmantank follows). Not supported: `L`, `W`, `#`.
 */

namespace Baseline;

final class CronExpression
{
    private const ALIASES = [
        '@yearly' => '0 0 1 1 *', '@annually' => '0 0 1 1 *', '@monthly' => '0 0 1 * *',
        '@weekly' => '0 0 * * 0', '@daily' => '0 0 * * *', '@midnight' => '0 0 * * *',
        '@hourly' => '0 * * * *',
    ];

    /** [name, lowest, highest] of each field, seconds first. */
    private const FIELDS = [
        ['second', 0, 59], ['minute', 0, 59], ['hour', 0, 23],
        ['day-of-month', 1, 31], ['month', 1, 12], ['day-of-week', 0, 7],
    ];

    private const MONTHS = ['JAN' => 1, 'FEB' => 2, 'MAR' => 3, 'APR' => 4, 'MAY' => 5, 'JUN' => 6,
        'JUL' => 7, 'AUG' => 8, 'SEP' => 9, 'OCT' => 10, 'NOV' => 11, 'DEC' => 12];
    private const DAYS = ['SUN' => 0, 'MON' => 1, 'TUE' => 2, 'WED' => 3, 'THU' => 4, 'FRI' => 5, 'SAT' => 6];

    /** @var list<string> the six fields' text, seconds first */
    private array $fields;

    public function __construct(string $expression)
    {
        $expression = trim($expression);
        $expression = self::ALIASES[strtolower($expression)] ?? $expression;
        $fields = preg_split('/\s+/', $expression);
        if (count($fields) === 5) {
            array_unshift($fields, '0');
        }
        if (count($fields) !== 6) {
            throw new \InvalidArgumentException("\"$expression\" is not a cron expression: 5 or 6 fields expected");
        }
        foreach ($fields as $i => $field) {
            foreach (explode(',', $field) as $part) {
                if (!self::validPart($i, $part)) {
                    throw new \InvalidArgumentException(
                        "\"$expression\": \"$part\" is not a valid " . self::FIELDS[$i][0] . ' value');
                }
            }
        }
        $this->fields = $fields;
    }

    /** Whether the expression matches the second `$at` falls in, read in `$at`'s zone. */
    public function isDue(\DateTimeInterface $at): bool
    {
        [$s, $i, $h, $d, $m, $w] = array_map('intval', explode(' ', $at->format('s i G j n w')));
        if (!$this->matches(0, $s) || !$this->matches(1, $i) || !$this->matches(2, $h)
            || !$this->matches(4, $m)) {
            return false;
        }
        $anyDay = $this->fields[3] === '*' || $this->fields[3] === '?';
        $anyWeekday = $this->fields[5] === '*' || $this->fields[5] === '?';
        if (!$anyDay && !$anyWeekday) {
            return $this->matches(3, $d) || $this->matches(5, $w);
        }
        return $this->matches(3, $d) && $this->matches(5, $w);
    }

    private function matches(int $field, int $value): bool
    {
        foreach (explode(',', $this->fields[$field]) as $part) {
            [$lo, $hi, $step] = self::range($field, $part);
            if ($field === 5) {
                // Sunday is 0 and 7: a range or value naming 7 matches DateTime's 0.
                if ($value === 0 && $lo <= 7 && 7 <= $hi && (7 - $lo) % $step === 0) {
                    return true;
                }
            }
            if ($lo <= $value && $value <= $hi && ($value - $lo) % $step === 0) {
                return true;
            }
        }
        return false;
    }

    /** @return array{0: int, 1: int, 2: int} lowest, highest and step of one list part */
    private static function range(int $field, string $part): array
    {
        [, $min, $max] = self::FIELDS[$field];
        $step = 1;
        $stepped = str_contains($part, '/');
        if ($stepped) {
            [$part, $by] = explode('/', $part, 2);
            $step = (int) $by;
        }
        if ($part === '*' || $part === '?') {
            return [$min, $max, $step];
        }
        if (str_contains($part, '-')) {
            [$a, $b] = explode('-', $part, 2);
            return [self::value($field, $a), self::value($field, $b), $step];
        }
        $lo = self::value($field, $part);
        // `a/n` runs from a to the field's end; a plain value is itself only.
        return [$lo, $stepped ? $max : $lo, $step];
    }

    private static function value(int $field, string $text): int
    {
        $names = match ($field) {
            4 => self::MONTHS,
            5 => self::DAYS,
            default => [],
        };
        return $names[strtoupper($text)] ?? (int) $text;
    }

    private static function validPart(int $field, string $part): bool
    {
        if (!preg_match('/^(\*|\?|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(\/[0-9]+)?$/', $part)) {
            return false;
        }
        [$lo, $hi, $step] = self::range($field, $part);
        [, $min, $max] = self::FIELDS[$field];
        $numeric = static fn (string $t): bool => ctype_digit($t)
            || ($field === 4 && isset(self::MONTHS[strtoupper($t)]))
            || ($field === 5 && isset(self::DAYS[strtoupper($t)]));
        foreach (preg_split('/[-\/]/', $part) as $token) {
            if ($token !== '*' && $token !== '?' && !$numeric($token)) {
                return false;
            }
        }
        return $step >= 1 && $min <= $lo && $lo <= $hi && $hi <= $max;
    }
}
