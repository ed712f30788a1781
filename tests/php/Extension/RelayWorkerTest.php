<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Extension;

use Ticker\Spiral\Tests\Support\Subprocess;
use Ticker\Spiral\Worker\ExtensionWorker;

/**
 * A process that a RoadRunner-style master started (RR_MODE=ticker, RR_RELAY=pipes) with the
 * extension loaded: WorkerBootloader binds the extension's worker, which serves that master, and
 * from `Ticker\Worker::create()` on, PHP's output goes to stderr, off the channel.
 */
final class RelayWorkerTest extends ExtensionTestCase
{
    public function testTheExtensionsWorkerServesTheMasterAndOutputLeavesTheChannel(): void
    {
        $env = \getenv();
        unset($env['TICKER_CONFIG'], $env['TICKER_ENABLE']);
        $env = ['RR_MODE' => 'ticker', 'RR_RELAY' => 'pipes'] + $env;

        $run = Subprocess::run(
            [\PHP_BINARY, '-d', 'extension=' . self::extensionPath(), __DIR__ . '/../fixtures/e2e/relay_worker.php'],
            $env,
            30.0,
        );
        $context = "stderr:\n{$run->stderr}\nstdout:\n{$run->stdout}";

        self::assertFalse($run->timedOut, "the worker did not end within 30 s\n$context");
        self::assertSame(0, $run->exitCode, $context);
        self::assertSame('', $run->stdout, "stdout is the channel: nothing printed after create() reaches it\n$context");
        self::assertSame(
            ['class' => ExtensionWorker::class, 'sameUnderBothNames' => true, 'payload' => null],
            \json_decode(\trim($run->stderr), true),
            $context,
        );
    }
}
