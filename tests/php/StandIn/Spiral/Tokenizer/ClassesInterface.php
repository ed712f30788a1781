<?php

declare(strict_types=1);

namespace Spiral\Tokenizer;

/** Stand-in for spiral/tokenizer 3.x: the classes found in the directories the tokenizer scans. */
interface ClassesInterface
{
    /**
     * @param object|class-string|null $target only the classes that are, extend or implement it
     * @return array<class-string, \ReflectionClass<object>>
     */
    public function getClasses(object|string|null $target = null): array;
}
