<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support;

use Ticker\Payload as NativePayload;
use Ticker\Worker as NativeWorker;

/**
 * For tests that play a running extension with tests/php/Double. Those run where the extension is
 * not loaded (`--testsuite unit` without `-d extension=...`); next to the real extension, whose
 * classes are final, they are skipped, and tests/php/Extension covers the same paths for real.
 * Tests that do not call playTheExtension() see an inert extension: the double's default, and what
 * the real extension is in a test process without a ticker config.
 */
trait UsesNativeDouble
{
    protected function tearDown(): void
    {
        $this->forgetTheExtension();
    }

    /**
     * Back to an inert extension; for a test class with its own tearDown().
     */
    private function forgetTheExtension(): void
    {
        if (!\extension_loaded('ticker')) {
            NativeWorker::$running = null;
            NativeWorker::$created = 0;
        }
    }

    /**
     * Makes the extension run a pool whose worker hands out these payloads, then null.
     */
    private function playTheExtension(?NativePayload ...$payloads): NativeWorker
    {
        if (\extension_loaded('ticker')) {
            self::markTestSkipped('plays the extension with a double; run the unit suite without the extension');
        }
        NativeWorker::$created = 0;

        return NativeWorker::$running = new NativeWorker(...$payloads);
    }
}
