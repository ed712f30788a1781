<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Unit\Worker;

use PHPUnit\Framework\TestCase;
use Spiral\RoadRunner\Worker;
use Ticker\Payload as NativePayload;
use Ticker\Spiral\Tests\Support\UsesNativeDouble;
use Ticker\Spiral\Worker\ExtensionWorker;
use Ticker\Spiral\Worker\WorkerFactory;

final class WorkerFactoryTest extends TestCase
{
    use UsesNativeDouble;

    public function testWrapsTheExtensionsWorkerWhenTheExtensionRunsThePool(): void
    {
        $native = $this->playTheExtension(new NativePayload('{"tick":0}'));

        $worker = (new WorkerFactory())->extension();

        self::assertInstanceOf(ExtensionWorker::class, $worker);
        self::assertSame([], $native->calls, 'asking for the worker must not start the pool');
        self::assertSame('{"tick":0}', $worker->waitPayload()?->body, 'the adapter must wrap the running worker');
    }

    public function testHasNoExtensionWorkerWhileTheExtensionIsInert(): void
    {
        self::assertNull((new WorkerFactory())->extension());
    }

    public function testUnderARelayBuildsRoadRunnersWorkerWhereTheExtensionDoesNotServe(): void
    {
        self::assertInstanceOf(Worker::class, (new WorkerFactory())->underRelay());
    }

    public function testUnderARelayPrefersTheExtensionsWorkerWhereTheExtensionServesIt(): void
    {
        $this->playTheExtension(new NativePayload('{"tick":3}'));

        $worker = (new WorkerFactory())->underRelay();

        self::assertInstanceOf(ExtensionWorker::class, $worker);
        self::assertSame('{"tick":3}', $worker->waitPayload()?->body);
    }
}
