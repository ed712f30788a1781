<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Extension;

use Ticker\Spiral\Tests\Support\JsonLines;
use Ticker\Spiral\Tests\Support\Subprocess;

/**
 * A Spiral-shaped app (tests/php/fixtures/e2e/app.php) under the real extension: TickerBootloader
 * (with WorkerBootloader, its dependency, binding the extension's worker) adds the package's
 * dispatcher, ticks reach the handler in forked workers, one failing tick does not stop the loop,
 * and SIGTERM stops it all cleanly.
 *
 * Whether a tick is skipped at all is the machine's business (on a loaded one, a tick comes due
 * while both workers are busy and another waits); the test holds the master to its account of
 * them: every number missing below the last is named on its stderr and counted in a later tick.
 */
final class EndToEndTest extends ExtensionTestCase
{
    private const FAIL_AT = 2;
    private const STOP_AT = 6;
    private const FIXTURES = __DIR__ . '/../fixtures/e2e';

    private string $log;

    protected function setUp(): void
    {
        parent::setUp();
        $this->log = \tempnam(\sys_get_temp_dir(), 'ticker-e2e-');
    }

    protected function tearDown(): void
    {
        @\unlink($this->log);
        @\rmdir($this->log . '.failed');
        @\rmdir($this->log . '.stopping');
    }

    public function testTicksReachTheHandlerInForkedWorkersEachNumberOnce(): void
    {
        $env = \getenv();
        unset($env['RR_MODE'], $env['RR_RELAY']);
        $env = [
            'TICKER_CONFIG' => self::FIXTURES . '/ticker.yaml',
            'E2E_LOG' => $this->log,
            'E2E_FAIL_AT' => (string) self::FAIL_AT,
            'E2E_STOP_AT' => (string) self::STOP_AT,
        ] + $env;

        $run = Subprocess::run(
            [\PHP_BINARY, '-d', 'extension=' . self::extensionPath(), self::FIXTURES . '/app.php'],
            $env,
            30.0,
        );
        $records = JsonLines::read($this->log);
        $context = "stderr:\n{$run->stderr}\nstdout:\n{$run->stdout}\nlog:\n" . \file_get_contents($this->log);

        self::assertFalse($run->timedOut, "the app did not stop within 30 s\n$context");
        self::assertSame(0, $run->exitCode, $context);

        $master = \array_shift($records);
        self::assertSame('ticker', $master['rrMode'] ?? null, "the extension sets RR_MODE before the script\n$context");

        $ticks = [];
        foreach ($records as $record) {
            $ticks[$record['tick']] = $record;
        }
        \ksort($ticks);
        self::assertCount(\count($records), $ticks, "a tick was delivered twice\n$context");
        self::assertSame(0, \array_key_first($ticks), "numbering starts at 0\n$context");
        $last = \array_key_last($ticks);
        self::assertGreaterThanOrEqual(self::STOP_AT, $last, "the run stopped early\n$context");

        \preg_match_all('/tick (\d+) failed on worker \d+: .*fails on purpose/', $run->stderr, $failed);
        self::assertCount(1, $failed[1], "one tick failed, and the master logged it\n$context");
        $failedAt = (int) $failed[1][0];
        self::assertGreaterThanOrEqual(self::FAIL_AT, $failedAt, $context);
        self::assertArrayHasKey($failedAt, $ticks, "the failing tick reached the handler\n$context");
        self::assertGreaterThan($failedAt, $last, "the ticks after the failing one are missing\n$context");

        \preg_match_all('/tick (\d+) skipped/', $run->stderr, $logged);
        $skipped = \array_map('intval', $logged[1]);
        $missing = \array_values(\array_diff(\range(0, $last), \array_keys($ticks)));
        self::assertSame([], \array_values(\array_diff($missing, $skipped)), "ticks missing and not logged as skipped\n$context");
        self::assertSame([], \array_values(\array_intersect($skipped, \array_keys($ticks))), "ticks logged as skipped and delivered\n$context");
        // A tick's header counts the skips since the tick before it: at least those below the
        // last tick, at most those logged.
        $counted = \array_sum(\array_column($ticks, 'skipped'));
        self::assertGreaterThanOrEqual(\count($missing), $counted, "skipped ticks not counted in a header\n$context");
        self::assertLessThanOrEqual(\count($skipped), $counted, "headers count skips the master did not log\n$context");

        $previousDue = null;
        foreach ($ticks as $number => $tick) {
            self::assertNotSame($master['master'], $tick['pid'], "tick $number ran in the master\n$context");
            self::assertSame($master['master'], $tick['ppid'], "tick $number ran outside the master's pool\n$context");
            self::assertSame(1, $tick['attempt'], "tick $number\n$context");
            self::assertGreaterThanOrEqual(0, $tick['lateNs'], "tick $number started before it was due\n$context");
            if ($number === 0) {
                self::assertNull($tick['previous'], $context);
            } else {
                self::assertIsInt($tick['previous'], "tick $number\n$context");
                self::assertGreaterThan((float) $previousDue, (float) $tick['due'], "tick $number\n$context");
            }
            $previousDue = $tick['due'];
        }
    }
}
