<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Extension;

use Ticker\Spiral\Worker\WorkerFactory;

/**
 * The parts of the extension's contract the package relies on, in a process without a ticker
 * config (as PHPUnit runs): the extension is inert.
 */
final class NativeApiTest extends ExtensionTestCase
{
    public function testCreateThrowsWhileTheExtensionIsInert(): void
    {
        $this->expectException(\Ticker\Exception::class);

        \Ticker\Worker::create();
    }

    public function testTheExtensionDoesNotSetRrModeWhenInert(): void
    {
        self::assertArrayNotHasKey('RR_MODE', $_SERVER);
    }

    public function testTheFactoryHasNoExtensionWorkerWhileTheExtensionIsInert(): void
    {
        self::assertNull((new WorkerFactory())->extension());
    }

    public function testPayloadNullsBecomeEmptyStrings(): void
    {
        $payload = new \Ticker\Payload();

        self::assertSame('', $payload->body);
        self::assertSame('', $payload->header);
    }

    public function testPayloadKeepsBinaryContent(): void
    {
        $payload = new \Ticker\Payload("a\0b\xff", '{"k":1}');

        self::assertSame("a\0b\xff", $payload->body);
        self::assertSame('{"k":1}', $payload->header);
    }

    public function testPayloadIsImmutable(): void
    {
        $payload = new \Ticker\Payload('body');

        try {
            $payload->body = 'changed';
        } catch (\Throwable) {
            // Which throwable is the stub test's concern (readonly properties throw \Error).
        }

        self::assertSame('body', $payload->body);
    }

    public function testTheExceptionIsARuntimeExceptionUserCodeCanThrow(): void
    {
        $previous = new \LogicException('cause');
        $exception = new \Ticker\Exception('no pool', 3, $previous);

        self::assertInstanceOf(\RuntimeException::class, $exception);
        self::assertSame(['no pool', 3, $previous], [
            $exception->getMessage(),
            $exception->getCode(),
            $exception->getPrevious(),
        ]);
    }
}
