<?php

declare(strict_types=1);

/*
 * Test doubles of the extension's classes, with its API (stubs/ticker.stub.php), for unit tests
 * that run without the extension. Never loaded next to the real extension: its classes are final
 * and cannot be doubled, so there the tests that need these are skipped and the end-to-end test
 * covers the same paths with the real thing.
 */

if (!\extension_loaded('ticker')) {
    require_once __DIR__ . '/Ticker/Exception.php';
    require_once __DIR__ . '/Ticker/Payload.php';
    require_once __DIR__ . '/Ticker/Worker.php';
}
