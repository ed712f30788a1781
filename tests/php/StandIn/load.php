<?php

declare(strict_types=1);

/*
 * Stand-ins for the Spiral, RoadRunner and PSR interfaces the package uses, with the names and
 * signatures of shared/spec/spiral.md and roadrunner.md. Each is loaded only when the real package
 * is absent (Packagist is unreachable here), so with the real packages installed they are unused.
 */

$standIns = [
    \Psr\Container\ContainerInterface::class => 'Psr/Container/ContainerInterface.php',
    \Spiral\Boot\DispatcherInterface::class => 'Spiral/Boot/DispatcherInterface.php',
    \Spiral\Boot\KernelInterface::class => 'Spiral/Boot/KernelInterface.php',
    \Spiral\Boot\EnvironmentInterface::class => 'Spiral/Boot/EnvironmentInterface.php',
    \Spiral\Boot\FinalizerInterface::class => 'Spiral/Boot/FinalizerInterface.php',
    \Spiral\Boot\Bootloader\Bootloader::class => 'Spiral/Boot/Bootloader/Bootloader.php',
    \Spiral\RoadRunner\Payload::class => 'Spiral/RoadRunner/Payload.php',
    \Spiral\RoadRunner\WorkerInterface::class => 'Spiral/RoadRunner/WorkerInterface.php',
    \Spiral\RoadRunner\Worker::class => 'Spiral/RoadRunner/Worker.php',
];

foreach ($standIns as $name => $file) {
    if (!\class_exists($name) && !\interface_exists($name)) {
        require_once __DIR__ . '/' . $file;
    }
}
