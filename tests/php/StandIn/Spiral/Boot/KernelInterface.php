<?php

declare(strict_types=1);

namespace Spiral\Boot;

/** Stand-in for spiral/boot 3.x. */
interface KernelInterface
{
    public function addDispatcher(DispatcherInterface $dispatcher): self;

    public function serve(): mixed;
}
