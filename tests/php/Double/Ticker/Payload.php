<?php

declare(strict_types=1);

namespace Ticker;

/** Test double of the extension's payload. */
final class Payload
{
    public readonly string $body;
    public readonly string $header;

    public function __construct(?string $body = null, ?string $header = null)
    {
        $this->body = $body ?? '';
        $this->header = $header ?? '';
    }
}
