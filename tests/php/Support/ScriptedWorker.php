<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support;

use Spiral\RoadRunner\Payload;
use Spiral\RoadRunner\WorkerInterface;

/**
 * A RoadRunner worker that hands out the given payloads, then null, and journals every call.
 */
final class ScriptedWorker implements WorkerInterface
{
    /** @var list<Payload> */
    private array $payloads;

    public function __construct(private readonly Journal $journal, Payload ...$payloads)
    {
        $this->payloads = \array_values($payloads);
    }

    public static function tick(int $number, string $header = ''): Payload
    {
        return new Payload(\json_encode(['tick' => $number], \JSON_THROW_ON_ERROR), $header);
    }

    public function waitPayload(): ?Payload
    {
        $this->journal->record('wait');

        return \array_shift($this->payloads);
    }

    public function respond(Payload $payload): void
    {
        $this->journal->record('respond:' . $payload->body);
    }

    public function error(string $error): void
    {
        $this->journal->record('error:' . $error);
    }

    public function stop(): void
    {
        $this->journal->record('stop');
    }

    public function hasPayload(?string $class = null): bool
    {
        return $this->payloads !== [];
    }

    public function getPayload(?string $class = null): ?Payload
    {
        return \array_shift($this->payloads);
    }
}
