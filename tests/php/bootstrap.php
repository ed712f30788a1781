<?php

declare(strict_types=1);

$autoload = \dirname(__DIR__, 2) . '/vendor/autoload.php';
if (!\is_file($autoload)) {
    \fwrite(\STDERR, "vendor/autoload.php is missing: run `composer dump-autoload` in the repository root.\n");
    exit(1);
}

require $autoload;
require __DIR__ . '/StandIn/load.php';
require __DIR__ . '/Double/load.php';
