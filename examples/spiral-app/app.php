<?php

declare(strict_types=1);

use App\Application\Kernel;

require __DIR__ . '/vendor/autoload.php';

// Under the extension this process is the master: serve() forks the workers and returns at shutdown.
// Under RoadRunner it is one worker, started by `rr serve`.
Kernel::create(directories: ['root' => __DIR__])->run()?->serve();
