<?php

declare(strict_types=1);

namespace Spiral\Tokenizer;

/** Stand-in for spiral/tokenizer 3.x: where a bootloader registers its listeners. */
interface TokenizerListenerRegistryInterface
{
    public function addListener(TokenizationListenerInterface $listener): void;
}
