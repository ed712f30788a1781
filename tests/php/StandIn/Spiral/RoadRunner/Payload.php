<?php

declare(strict_types=1);

namespace Spiral\RoadRunner;

/** Stand-in for spiral/roadrunner-worker 3.x. */
final class Payload
{
    public readonly string $body;
    public readonly string $header;

    public function __construct(?string $body, ?string $header = null, public readonly bool $eos = true)
    {
        $this->body = $body ?? '';
        $this->header = $header ?? '';
    }
}
