<?php

declare(strict_types=1);

namespace Ticker\Ffi\Tests;

use PHPUnit\Framework\TestCase;
use Ticker\Spiral\Tests\Support\Subprocess;

/**
 * Tests of PHP's FFI on the C library, named at run time by TICKER_LIB (the path of
 * target/release/libticker.so); the extension is not needed. Without ext-ffi or TICKER_LIB
 * they are skipped, except where TICKER_REQUIRE_FFI=1 (`make test`) makes that a failure.
 */
abstract class FfiTestCase extends TestCase
{
    protected const HEADER = __DIR__ . '/../../../include/ticker.h';

    protected function setUp(): void
    {
        $missing = match (true) {
            !\extension_loaded('ffi') => 'ext-ffi is not loaded',
            !\is_file(self::library()) => 'TICKER_LIB does not name the C library '
                . '(run `make test-ffi`, or set TICKER_LIB=$PWD/target/release/libticker.so)',
            default => null,
        };
        if ($missing === null) {
            return;
        }
        if (\getenv('TICKER_REQUIRE_FFI') === '1') {
            self::fail("$missing, and TICKER_REQUIRE_FFI=1");
        }
        self::markTestSkipped($missing);
    }

    protected static function library(): string
    {
        return (string) \getenv('TICKER_LIB');
    }

    /**
     * Runs PHP code in a fresh `php` with these arguments before the script and this extra
     * environment; the package's classes are autoloaded.
     *
     * @param list<string> $phpArgs
     * @param array<string, string> $env
     */
    protected static function php(string $code, array $phpArgs = [], array $env = []): Subprocess
    {
        $script = \tempnam(\sys_get_temp_dir(), 'ticker-ffi-') . '.php';
        $autoload = \var_export(\dirname(__DIR__, 3) . '/vendor/autoload.php', true);
        \file_put_contents($script, "<?php\ndeclare(strict_types=1);\nrequire $autoload;\n$code\n");
        try {
            return Subprocess::run(
                [\PHP_BINARY, ...$phpArgs, $script],
                ['PATH' => (string) \getenv('PATH'), 'TICKER_LIB' => self::library(), ...$env],
                30.0,
            );
        } finally {
            \unlink($script);
        }
    }
}
