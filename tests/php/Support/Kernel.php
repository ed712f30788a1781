<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support;

use Spiral\Boot\Bootloader\Bootloader;
use Spiral\Boot\DispatcherInterface;
use Spiral\Boot\KernelInterface;

/**
 * What a Spiral kernel does with bootloaders and dispatchers.
 *
 * Bootloaders, as Spiral's BootloadManager loads them: each class once; a bootloader's
 * dependencies (its DEPENDENCIES, and the bootloader classes its `init()` and `boot()` ask for)
 * before it; each one's BINDINGS and SINGLETONS as it is loaded; then every `init()`, then every
 * `boot()`, in that order, with autowired arguments.
 *
 * Dispatchers, as the kernel of the given line picks them (see SpiralLine): the first that can
 * serve serves; none is "Unable to locate active dispatcher.".
 */
final class Kernel implements KernelInterface
{
    /** @var list<DispatcherInterface|class-string<DispatcherInterface>> */
    private array $dispatchers = [];

    /** @var array<class-string<Bootloader>, true> */
    private array $loaded = [];

    public function __construct(
        private readonly Container $container,
        private readonly SpiralLine $line = SpiralLine::From312,
    ) {
        $container->bindSingleton(KernelInterface::class, $this);
    }

    /**
     * @param class-string<Bootloader> ...$classes
     */
    public function bootload(string ...$classes): void
    {
        $bootloaders = $this->load($classes);
        foreach (['init', 'boot'] as $phase) {
            foreach ($bootloaders as $bootloader) {
                if (\method_exists($bootloader, $phase)) {
                    $this->container->invoke([$bootloader, $phase]);
                }
            }
        }
    }

    /**
     * 3.0-3.11 accept an instance only; 3.12+ also a class name, and keep only the class name.
     */
    public function addDispatcher(string|DispatcherInterface $dispatcher): self
    {
        if ($this->line === SpiralLine::UpTo311 && \is_string($dispatcher)) {
            throw new \TypeError('Spiral 3.0-3.11: addDispatcher() takes a DispatcherInterface instance');
        }
        $this->dispatchers[] = $this->line === SpiralLine::From312 && \is_object($dispatcher)
            ? $dispatcher::class
            : $dispatcher;

        return $this;
    }

    /**
     * @return list<class-string<DispatcherInterface>>
     */
    public function dispatchers(): array
    {
        return \array_map(
            static fn (string|DispatcherInterface $d): string => \is_string($d) ? $d : $d::class,
            $this->dispatchers,
        );
    }

    public function serve(): mixed
    {
        foreach ($this->dispatchers as $dispatcher) {
            if (\is_object($dispatcher)) {
                if ($dispatcher->canServe()) {
                    return $dispatcher->serve();
                }
            } elseif ($this->container->invoke([$dispatcher, 'canServe']) === true) {
                return $this->container->get($dispatcher)->serve();
            }
        }

        throw new \RuntimeException('Unable to locate active dispatcher.');
    }

    /**
     * @param list<class-string<Bootloader>> $classes
     * @return list<Bootloader> in the order their bindings were made
     */
    private function load(array $classes): array
    {
        $bootloaders = [];
        foreach ($classes as $class) {
            if (isset($this->loaded[$class])) {
                continue;
            }
            $this->loaded[$class] = true;
            $bootloader = $this->container->get($class);

            $dependencies = [...self::bootloadersAskedFor($bootloader), ...$bootloader->defineDependencies()];
            \array_push($bootloaders, ...$this->load(\array_values(\array_unique($dependencies))));

            foreach ($bootloader->defineBindings() as $id => $resolver) {
                $this->container->bind($id, $resolver);
            }
            foreach ($bootloader->defineSingletons() as $id => $resolver) {
                $this->container->bindSingleton($id, $resolver);
            }
            $bootloaders[] = $bootloader;
        }

        return $bootloaders;
    }

    /**
     * @return list<class-string<Bootloader>>
     */
    private static function bootloadersAskedFor(Bootloader $bootloader): array
    {
        $classes = [];
        foreach (['init', 'boot'] as $phase) {
            if (!\method_exists($bootloader, $phase)) {
                continue;
            }
            foreach ((new \ReflectionMethod($bootloader, $phase))->getParameters() as $parameter) {
                $type = $parameter->getType();
                if ($type instanceof \ReflectionNamedType && \is_subclass_of($type->getName(), Bootloader::class)) {
                    $classes[] = $type->getName();
                }
            }
        }

        return $classes;
    }
}
