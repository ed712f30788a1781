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
    }

    public function testTicksReachTheHandlerInForkedWorkersNumberedWithoutGaps(): void
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
        self::assertSame(\range(0, \count($ticks) - 1), \array_keys($ticks), "tick numbers have gaps\n$context");
        self::assertGreaterThanOrEqual(
            self::STOP_AT,
            \array_key_last($ticks),
            "the ticks after the failing one are missing\n$context",
        );

        $previousDue = null;
        foreach ($ticks as $number => $tick) {
            self::assertNotSame($master['master'], $tick['pid'], "tick $number ran in the master\n$context");
            self::assertSame($master['master'], $tick['ppid'], "tick $number ran outside the master's pool\n$context");
            self::assertSame(0, $tick['skipped'], "tick $number\n$context");
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
