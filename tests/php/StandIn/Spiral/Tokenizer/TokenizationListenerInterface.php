<?php

declare(strict_types=1);

namespace Spiral\Tokenizer;

/** Stand-in for spiral/tokenizer 3.x. */
interface TokenizationListenerInterface
{
    /**
     * Called for each class the tokenizer found.
     */
    public function listen(\ReflectionClass $class): void;

    /**
     * Called once every class went through listen().
     */
    public function finalize(): void;
}
