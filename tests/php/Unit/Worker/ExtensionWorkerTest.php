<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Unit\Worker;

use PHPUnit\Framework\TestCase;
use Spiral\RoadRunner\Payload;
use Ticker\Payload as NativePayload;
use Ticker\Spiral\Tests\Support\UsesNativeDouble;
use Ticker\Spiral\Worker\ExtensionWorker;
use Ticker\Worker as NativeWorker;

final class ExtensionWorkerTest extends TestCase
{
    use UsesNativeDouble;

    protected function setUp(): void
    {
        $this->playTheExtension();
    }

    public function testConvertsTheExtensionsPayloadToRoadRunners(): void
    {
        $worker = new ExtensionWorker(new NativeWorker(new NativePayload('{"tick":3}', '{"lastTick":1}')));

        $payload = $worker->waitPayload();

        self::assertInstanceOf(Payload::class, $payload);
        self::assertSame('{"tick":3}', $payload->body);
        self::assertSame('{"lastTick":1}', $payload->header);
        self::assertTrue($payload->eos);
    }

    public function testPassesTheStopSignalOnAsNull(): void
    {
        $native = new NativeWorker(null);

        self::assertNull((new ExtensionWorker($native))->waitPayload());
        self::assertSame([['waitPayload']], $native->calls);
    }

    public function testConvertsRoadRunnersPayloadToTheExtensionsWhenResponding(): void
    {
        $native = new NativeWorker();

        (new ExtensionWorker($native))->respond(new Payload("binary\0body", '{"k":"v"}', false));

        self::assertCount(1, $native->calls);
        [$call, $payload] = $native->calls[0];
        self::assertSame('respond', $call);
        self::assertInstanceOf(NativePayload::class, $payload);
        self::assertSame("binary\0body", $payload->body);
        self::assertSame('{"k":"v"}', $payload->header);
    }

    public function testEmptyPartsStayEmpty(): void
    {
        $native = new NativeWorker(new NativePayload());
        $worker = new ExtensionWorker($native);

        $payload = $worker->waitPayload();
        $worker->respond(new Payload(null));

        self::assertSame(['', ''], [$payload?->body, $payload?->header]);
        self::assertSame(['', ''], [$native->calls[1][1]->body, $native->calls[1][1]->header]);
    }

    public function testPassesErrorAndStopOn(): void
    {
        $native = new NativeWorker();
        $worker = new ExtensionWorker($native);

        $worker->error('tick failed');
        $worker->stop();

        self::assertSame([['error', 'tick failed'], ['stop']], $native->calls);
    }

    public function testNeverHasAPayloadWaitingBecauseTicksAreAnsweredOneAtATime(): void
    {
        $native = new NativeWorker(new NativePayload('{"tick":0}'));
        $worker = new ExtensionWorker($native);

        self::assertFalse($worker->hasPayload());
        self::assertFalse($worker->hasPayload(Payload::class));
        self::assertNull($worker->getPayload());
        self::assertSame([], $native->calls, 'asking must not consume the next tick');
    }
}
