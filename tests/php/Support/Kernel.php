<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support;

use Spiral\Boot\Bootloader\Bootloader;
use Spiral\Boot\DispatcherInterface;
use Spiral\Boot\KernelInterface;

/**
 * What a Spiral kernel does with bootloaders and dispatchers, as 3.12+ does it: bindings of all
 * bootloaders first, then every `init()`, then every `boot()`; dispatchers kept by class name,
 * `canServe` called through the container, the first that can serve is built and serves.
 */
final class Kernel implements KernelInterface
{
    /** @var list<class-string<DispatcherInterface>> */
    private array $dispatchers = [];

    public function __construct(private readonly Container $container)
    {
        $container->bindSingleton(KernelInterface::class, $this);
    }

    /**
     * @param class-string<Bootloader> ...$classes
     */
    public function bootload(string ...$classes): void
    {
        $bootloaders = \array_map(fn (string $class): Bootloader => $this->container->get($class), $classes);
        foreach ($bootloaders as $bootloader) {
            foreach ($bootloader->defineBindings() as $id => $resolver) {
                $this->container->bind($id, $resolver);
            }
            foreach ($bootloader->defineSingletons() as $id => $resolver) {
                $this->container->bindSingleton($id, $resolver);
            }
        }
        foreach (['init', 'boot'] as $phase) {
            foreach ($bootloaders as $bootloader) {
                if (\method_exists($bootloader, $phase)) {
                    $this->container->invoke([$bootloader, $phase]);
                }
            }
        }
    }

    public function addDispatcher(string|DispatcherInterface $dispatcher): self
    {
        $this->dispatchers[] = \is_object($dispatcher) ? $dispatcher::class : $dispatcher;

        return $this;
    }

    /**
     * @return list<class-string<DispatcherInterface>>
     */
    public function dispatchers(): array
    {
        return $this->dispatchers;
    }

    public function serve(): mixed
    {
        foreach ($this->dispatchers as $dispatcher) {
            if ($this->container->invoke([$dispatcher, 'canServe']) === true) {
                return $this->container->get($dispatcher)->serve();
            }
        }

        throw new \RuntimeException('Unable to locate active dispatcher.');
    }
}
