<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Extension;

use PHPUnit\Framework\TestCase;

/**
 * Tests of the real extension. Without it they are skipped, except where TICKER_REQUIRE_EXTENSION=1
 * (`make test`) says a missing extension is a failure.
 */
abstract class ExtensionTestCase extends TestCase
{
    protected function setUp(): void
    {
        if (\extension_loaded('ticker')) {
            return;
        }
        $hint = 'run with php -d extension=$PWD/target/release/libticker_php.so';
        if (\getenv('TICKER_REQUIRE_EXTENSION') === '1') {
            self::fail("The ticker extension is not loaded and TICKER_REQUIRE_EXTENSION=1: $hint");
        }
        self::markTestSkipped("The ticker extension is not loaded: $hint");
    }

    /**
     * The loaded extension's file, to load the same one into child processes: TICKER_EXT, or else
     * found among this process's mapped files (the `extension` INI value cannot be read back).
     */
    protected static function extensionPath(): string
    {
        $fromEnv = \getenv('TICKER_EXT');
        if (\is_string($fromEnv) && $fromEnv !== '') {
            return $fromEnv;
        }
        foreach (\file('/proc/self/maps', \FILE_IGNORE_NEW_LINES) ?: [] as $line) {
            if (\preg_match('~\s(/\S*/(?:lib)?ticker\.so)$~', $line, $match) === 1) {
                return $match[1];
            }
        }

        self::fail('Cannot tell which file the ticker extension was loaded from; set TICKER_EXT');
    }
}
