<?php

declare(strict_types=1);

/*
 * Checks the stand-in isDue() of bench/baseline/CronExpression.php against hand-worked cases:
 * `php bench/baseline/check.php` prints "ok" or each case that fails, and exits 1 then.
 */

require __DIR__ . '/CronExpression.php';

use Baseline\CronExpression;

$utc = new DateTimeZone('UTC');
$due = [
    // expression, instant (UTC unless it names a zone), due?
    ['* * * * * *', '2026-01-01 00:00:00', true],
    ['5 * * * * *', '2026-01-01 00:00:05', true],
    ['5 * * * * *', '2026-01-01 00:00:06', false],
    ['7 * * * *', '2026-01-01 00:07:00', true],
    ['7 * * * *', '2026-01-01 00:07:01', false],        // 5 fields: second 0 only
    ['*/15 * * * * *', '2026-01-01 00:07:45', true],
    ['*/15 * * * * *', '2026-01-01 00:07:46', false],
    ['3/10 * * * * *', '2026-01-01 00:07:53', true],
    ['3/10 * * * * *', '2026-01-01 00:07:50', false],
    ['3/1 * * * * *', '2026-01-01 00:07:50', true],     // a/n runs to the field's end
    ['3/1 * * * * *', '2026-01-01 00:07:02', false],
    ['0 1-59/2 * * * *', '2026-01-01 00:07:00', true],
    ['0 1-59/2 * * * *', '2026-01-01 00:08:00', false],
    ['1,12,40 * * * * *', '2026-01-05 03:00:12', true],
    ['1,12,40 * * * * *', '2026-01-05 03:00:13', false],
    ['0 0 13 * 5', '2026-02-13 00:00:00', true],        // day-of-month or day-of-week
    ['0 0 13 * 5', '2026-01-13 00:00:00', true],
    ['0 0 13 * 5', '2026-01-16 00:00:00', true],
    ['0 0 13 * 5', '2026-01-15 00:00:00', false],
    ['0 0 * * 7', '2026-01-04 00:00:00', true],         // 7 is Sunday
    ['0 0 * * 5-7', '2026-01-04 00:00:00', true],
    ['0 0 * * MON-FRI', '2026-01-04 00:00:00', false],
    ['0 0 * JAN MON-FRI', '2026-01-05 00:00:00', true],
    ['@hourly', '2026-01-05 03:00:00', true],
    ['@hourly', '2026-01-05 03:01:00', false],
    ['30 2 * * *', '2026-07-01 02:30:00 Europe/Berlin', true],  // read in the instant's zone
    ['30 2 * * *', '2026-07-01 00:30:00 UTC', false],
];
$refused = ['60 * * * * *', '* * * *', 'x * * * *', '5-2 * * * *', '*/0 * * * *', '* * * 13 *'];

$failures = [];
foreach ($due as [$expression, $at, $want]) {
    $instant = new DateTimeImmutable($at, $utc);
    if ((new CronExpression($expression))->isDue($instant) !== $want) {
        $failures[] = "\"$expression\" at $at: expected " . ($want ? 'due' : 'not due');
    }
}
foreach ($refused as $expression) {
    try {
        new CronExpression($expression);
        $failures[] = "\"$expression\": expected to be refused";
    } catch (InvalidArgumentException) {
    }
}
echo $failures ? implode("\n", $failures) . "\n" : "ok\n";
exit($failures ? 1 : 0);
