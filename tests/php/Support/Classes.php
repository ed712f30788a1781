<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support;

use Spiral\Tokenizer\ClassesInterface;

/**
 * The classes a tokenizer found in the application's directories: the ones named here.
 */
final class Classes implements ClassesInterface
{
    /** @var list<class-string> */
    private readonly array $classes;

    /**
     * @param class-string ...$classes
     */
    public function __construct(string ...$classes)
    {
        $this->classes = \array_values($classes);
    }

    public function getClasses(object|string|null $target = null): array
    {
        $found = [];
        foreach ($this->classes as $class) {
            if ($target === null || \is_a($class, \is_object($target) ? $target::class : $target, true)) {
                $found[$class] = new \ReflectionClass($class);
            }
        }

        return $found;
    }
}
