<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Unit;

use PHPUnit\Framework\TestCase;
use Ticker\Spiral\ScheduleHandlers;
use Ticker\Spiral\Tests\Support\Journal;
use Ticker\Spiral\Tests\Support\Schedule\NightlyReport;
use Ticker\Spiral\Tests\Support\Schedule\NotAHandler;
use Ticker\Spiral\Tests\Support\Schedule\Sync;
use Ticker\Spiral\Tests\Support\Schedule\Weekly;
use Ticker\Spiral\TickHandlerInterface;

final class ScheduleHandlersTest extends TestCase
{
    public function testNamesEachSchedulesHandlerClass(): void
    {
        $schedules = new ScheduleHandlers(['nightly-report' => NightlyReport::class]);
        $schedules->add(['weekly' => Weekly::class, 'sync-eu' => Sync::class, 'sync-us' => Sync::class]);

        self::assertSame(NightlyReport::class, $schedules->handlerFor('nightly-report'));
        self::assertSame(Weekly::class, $schedules->handlerFor('weekly'));
        self::assertSame(Sync::class, $schedules->handlerFor('sync-us'));
        self::assertNull($schedules->handlerFor('default'));
        self::assertNull($schedules->handlerFor('Weekly'), 'schedule names are compared exactly');
        self::assertSame(
            [
                'nightly-report' => NightlyReport::class,
                'weekly' => Weekly::class,
                'sync-eu' => Sync::class,
                'sync-us' => Sync::class,
            ],
            $schedules->all(),
        );
    }

    public function testStartsEmpty(): void
    {
        self::assertSame([], (new ScheduleHandlers())->all());
        self::assertNull((new ScheduleHandlers())->handlerFor('default'));
    }

    public function testANumericScheduleNameIsAName(): void
    {
        $schedules = new ScheduleHandlers(['2024' => Weekly::class]);

        self::assertSame(Weekly::class, $schedules->handlerFor('2024'));
        self::assertSame(['2024' => Weekly::class], $schedules->all());
    }

    public function testTheSameHandlerAddedAgainIsHarmless(): void
    {
        $schedules = new ScheduleHandlers(['weekly' => Weekly::class]);

        $schedules->add(['weekly' => Weekly::class]);
        $schedules->add(['weekly' => \strtoupper(Weekly::class)]);

        self::assertSame(['weekly' => Weekly::class], $schedules->all());
    }

    public function testASecondHandlerForASchedule(): void
    {
        $schedules = new ScheduleHandlers(['weekly' => Weekly::class]);

        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage(\sprintf(
            'Schedule "weekly" has two handlers: %s and %s',
            Weekly::class,
            NightlyReport::class,
        ));

        $schedules->add(['weekly' => NightlyReport::class]);
    }

    /**
     * @dataProvider notHandlers
     */
    public function testAHandlerMustBeATickHandlerInterfaceClass(mixed $handler, string $got): void
    {
        $schedules = new ScheduleHandlers();

        try {
            $schedules->add(['nightly-report' => $handler]);
            self::fail('accepted a handler that is none');
        } catch (\InvalidArgumentException $e) {
            self::assertSame(
                \sprintf(
                    'The handler of schedule "nightly-report" must be the name of a class implementing %s, got %s',
                    TickHandlerInterface::class,
                    $got,
                ),
                $e->getMessage(),
            );
        }
        self::assertSame([], $schedules->all());
    }

    /**
     * @return iterable<string, array{mixed, string}>
     */
    public static function notHandlers(): iterable
    {
        yield 'a class that is no handler' => [NotAHandler::class, NotAHandler::class];
        yield 'no class' => ['App\Tick\Missing', 'App\Tick\Missing'];
        yield 'an instance' => [new Weekly(new Journal()), Weekly::class];
        yield 'null' => [null, 'null'];
    }

    public function testAScheduleNameMustNotBeEmpty(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('A schedule name must not be empty');

        new ScheduleHandlers(['' => Weekly::class]);
    }
}
