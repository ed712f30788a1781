<?php

declare(strict_types=1);

namespace Ticker;

/**
 * Test double of the extension's worker: it serves scripted payloads and records what it is told.
 * `create()` behaves as the extension does: it throws while no pool is running (`$running` null).
 */
final class Worker
{
    /** What create() returns; null plays an inert extension. */
    public static ?Worker $running = null;

    public static int $created = 0;

    /** @var list<array{0: string, 1?: mixed}> */
    public array $calls = [];

    /** @var list<Payload|null> */
    private array $payloads;

    public function __construct(?Payload ...$payloads)
    {
        $this->payloads = \array_values($payloads);
    }

    public static function create(): Worker
    {
        if (self::$running === null) {
            throw new Exception('ticker is inert (test double)');
        }
        ++self::$created;

        return self::$running;
    }

    public function waitPayload(): ?Payload
    {
        $this->calls[] = ['waitPayload'];

        return \array_shift($this->payloads);
    }

    public function respond(Payload $payload): void
    {
        $this->calls[] = ['respond', $payload];
    }

    public function error(string $message): void
    {
        $this->calls[] = ['error', $message];
    }

    public function stop(): void
    {
        $this->calls[] = ['stop'];
    }
}
