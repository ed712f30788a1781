<?php

declare(strict_types=1);

namespace Spiral\Tokenizer\Bootloader;

use Psr\Container\ContainerInterface;
use Spiral\Boot\Bootloader\Bootloader;
use Spiral\Core\Attribute\Singleton;
use Spiral\Tokenizer\ClassesInterface;
use Spiral\Tokenizer\TokenizationListenerInterface;
use Spiral\Tokenizer\TokenizerListenerRegistryInterface;

/**
 * Stand-in for spiral/tokenizer 3.x's TokenizerListenerBootloader: a singleton, bound as the
 * TokenizerListenerRegistryInterface, that hands every listener each class of ClassesInterface, then
 * calls every listener's finalize() and forgets the listeners.
 *
 * The real one does that in callbacks it gives the kernel (`booting`, after every `init()`, and
 * `booted`), skips the classes a listener's #[TargetAttribute] rules out when its cache knows them,
 * and gets ClassesInterface from TokenizerBootloader, a locator over the application's directories.
 * Here it happens in this bootloader's `boot()`, which also comes after every `init()`; the classes
 * are those of the ClassesInterface a test binds (none when it binds none), and every listener gets
 * every class, as the real one does without a cache.
 */
#[Singleton]
final class TokenizerListenerBootloader extends Bootloader implements TokenizerListenerRegistryInterface
{
    protected const SINGLETONS = [TokenizerListenerRegistryInterface::class => self::class];

    /** @var list<TokenizationListenerInterface> */
    private array $listeners = [];

    public function addListener(TokenizationListenerInterface $listener): void
    {
        $this->listeners[] = $listener;
    }

    public function boot(ContainerInterface $container): void
    {
        $classes = $container->has(ClassesInterface::class)
            ? $container->get(ClassesInterface::class)->getClasses()
            : [];
        foreach ($this->listeners as $listener) {
            foreach ($classes as $class) {
                $listener->listen($class);
            }
        }
        foreach ($this->listeners as $listener) {
            $listener->finalize();
        }
        $this->listeners = [];
    }
}
