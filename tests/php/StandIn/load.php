<?php

declare(strict_types=1);

/*
 * Stand-ins for the Spiral, RoadRunner, Goridge and PSR names the package and its tests use, with
 * the names and signatures of the real packages. Each is loaded only when the real package is absent
 * (Packagist is unreachable here), so with the real packages installed they are unused.
 *
 * Spiral's DispatcherInterface has two shapes: 3.0-3.11 declares `canServe()`, 3.12+ only `serve()`.
 * The 3.0-3.11 one is loaded unless TICKER_TEST_SPIRAL_LINE=3.12 asks for the other: a process can
 * hold only one, and a dispatcher with a static `canServe` loads only against the 3.12+ one.
 *
 * spiral/tokenizer is optional for the package: TICKER_TEST_WITHOUT_TOKENIZER=1 leaves its
 * stand-ins out, as in an application that does not have it. So is spiral/roadrunner-worker:
 * TICKER_TEST_WITHOUT_ROADRUNNER=1 leaves out RoadRunner's, Goridge's and the bridge's.
 */

$dispatcherInterface = \getenv('TICKER_TEST_SPIRAL_LINE') === '3.12'
    ? 'Spiral/Boot/v3.12/DispatcherInterface.php'
    : 'Spiral/Boot/DispatcherInterface.php';

$standIns = [
    \Psr\Container\ContainerInterface::class => 'Psr/Container/ContainerInterface.php',
    \Spiral\Core\BinderInterface::class => 'Spiral/Core/BinderInterface.php',
    \Spiral\Core\Attribute\Singleton::class => 'Spiral/Core/Attribute/Singleton.php',
    \Spiral\Boot\DispatcherInterface::class => $dispatcherInterface,
    \Spiral\Boot\KernelInterface::class => 'Spiral/Boot/KernelInterface.php',
    \Spiral\Boot\EnvironmentInterface::class => 'Spiral/Boot/EnvironmentInterface.php',
    \Spiral\Boot\FinalizerInterface::class => 'Spiral/Boot/FinalizerInterface.php',
    \Spiral\Boot\Bootloader\Bootloader::class => 'Spiral/Boot/Bootloader/Bootloader.php',
    \Spiral\Goridge\RelayInterface::class => 'Spiral/Goridge/RelayInterface.php',
    \Spiral\RoadRunner\Payload::class => 'Spiral/RoadRunner/Payload.php',
    \Spiral\RoadRunner\WorkerInterface::class => 'Spiral/RoadRunner/WorkerInterface.php',
    \Spiral\RoadRunner\Worker::class => 'Spiral/RoadRunner/Worker.php',
    \Spiral\RoadRunnerBridge\Bootloader\RoadRunnerBootloader::class
        => 'Spiral/RoadRunnerBridge/Bootloader/RoadRunnerBootloader.php',
];

if (\getenv('TICKER_TEST_WITHOUT_TOKENIZER') !== '1') {
    $standIns += [
        \Spiral\Tokenizer\TokenizationListenerInterface::class => 'Spiral/Tokenizer/TokenizationListenerInterface.php',
        \Spiral\Tokenizer\TokenizerListenerRegistryInterface::class
            => 'Spiral/Tokenizer/TokenizerListenerRegistryInterface.php',
        \Spiral\Tokenizer\ClassesInterface::class => 'Spiral/Tokenizer/ClassesInterface.php',
        \Spiral\Tokenizer\Bootloader\TokenizerListenerBootloader::class
            => 'Spiral/Tokenizer/Bootloader/TokenizerListenerBootloader.php',
    ];
}

if (\getenv('TICKER_TEST_WITHOUT_ROADRUNNER') === '1') {
    $standIns = \array_filter(
        $standIns,
        static fn (string $name): bool => !\str_starts_with($name, 'Spiral\\RoadRunner')
            && !\str_starts_with($name, 'Spiral\\Goridge\\'),
        \ARRAY_FILTER_USE_KEY,
    );
}

foreach ($standIns as $name => $file) {
    if (!\class_exists($name) && !\interface_exists($name)) {
        require_once __DIR__ . '/' . $file;
    }
}
