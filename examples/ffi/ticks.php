<?php

declare(strict_types=1);

/*
 * Precise ticks in one PHP process through FFI, without the extension: one line per tick.
 *
 *   php examples/ffi/ticks.php [INTERVAL] [TICKS]      (defaults: 100ms, 5)
 *
 * Needs ext-ffi, the Composer autoloader (`composer dump-autoload` in the repository), and
 * libticker.so where the loader finds it (`make install`), or its path in TICKER_LIB
 * (TICKER_LIB=$PWD/target/release/libticker.so).
 */

$autoload = __DIR__ . '/../../vendor/autoload.php';
if (!is_file($autoload)) {
    // Ticker\Ffi\Ticker is the Composer package's: in an application, `composer require ticker/ticker`.
    fwrite(STDERR, "ticks.php: no vendor/autoload.php; run `composer dump-autoload` in the repository first\n");
    exit(1);
}
require $autoload;

use Ticker\Ffi\Ticker;

$ticker = Ticker::every($argv[1] ?? '100ms', 'skip', getenv('TICKER_LIB') ?: null);
for ($i = 0, $n = (int) ($argv[2] ?? 5); $i < $n; $i++) {
    $tick = $ticker->next();
    printf(
        "tick %3d  late %6.1f µs%s\n",
        $tick->number,
        (hrtime(true) - $tick->dueNs) / 1000,
        $tick->skipped > 0 ? "  ({$tick->skipped} skipped)" : '',
    );
}
$stats = $ticker->stats();
printf("due %d, delivered %d, skipped %d\n", $stats['due'], $stats['delivered'], $stats['skipped']);
