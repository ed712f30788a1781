<?php

declare(strict_types=1);

namespace Spiral\Boot;

/** Stand-in for spiral/boot 3.x. */
interface FinalizerInterface
{
    public function addFinalizer(callable $finalizer): static;

    public function finalize(bool $terminate = false): void;
}
