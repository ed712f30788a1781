<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Unit;

use PHPUnit\Framework\TestCase;
use Spiral\Tokenizer\TokenizationListenerInterface;
use Ticker\Spiral\Attribute\Schedule;
use Ticker\Spiral\ScheduleHandlers;
use Ticker\Spiral\ScheduleLocatorListener;
use Ticker\Spiral\Tests\Support\Schedule\AbstractReport;
use Ticker\Spiral\Tests\Support\Schedule\Fallback;
use Ticker\Spiral\Tests\Support\Schedule\NightlyReport;
use Ticker\Spiral\Tests\Support\Schedule\NotAHandler;
use Ticker\Spiral\Tests\Support\Schedule\Sync;
use Ticker\Spiral\Tests\Support\Schedule\Weekly;
use Ticker\Spiral\TickHandlerInterface;

/**
 * What the tokenizer's listener does with the classes it is handed. TickerBootloaderTest runs it
 * through the kernel.
 */
final class ScheduleLocatorListenerTest extends TestCase
{
    protected function setUp(): void
    {
        if (!\interface_exists(TokenizationListenerInterface::class)) {
            self::markTestSkipped('spiral/tokenizer is not installed');
        }
    }

    public function testAMarkedClassHandlesItsSchedule(): void
    {
        $schedules = new ScheduleHandlers();
        $listener = new ScheduleLocatorListener($schedules);

        $listener->listen(new \ReflectionClass(NightlyReport::class));
        $listener->finalize();

        self::assertSame(['nightly-report' => NightlyReport::class], $schedules->all());
    }

    public function testAClassMarkedTwiceHandlesBothSchedules(): void
    {
        $schedules = new ScheduleHandlers();

        (new ScheduleLocatorListener($schedules))->listen(new \ReflectionClass(Sync::class));

        self::assertSame(['sync-eu' => Sync::class, 'sync-us' => Sync::class], $schedules->all());
    }

    /**
     * The tokenizer hands a listener every class it found unless its cache knows the targets.
     */
    public function testClassesWithoutTheAttributeAreLeftAlone(): void
    {
        $schedules = new ScheduleHandlers(['weekly' => Weekly::class]);
        $listener = new ScheduleLocatorListener($schedules);

        $unmarked = [Weekly::class, Fallback::class, TickHandlerInterface::class, Schedule::class, self::class];
        foreach ($unmarked as $class) {
            $listener->listen(new \ReflectionClass($class));
        }

        self::assertSame(['weekly' => Weekly::class], $schedules->all());
    }

    public function testAMarkedClassThatIsNoHandlerFailsNamingIt(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage(\sprintf(
            'The handler of schedule "misfiled" must be the name of a class implementing %s, got %s',
            TickHandlerInterface::class,
            NotAHandler::class,
        ));

        (new ScheduleLocatorListener(new ScheduleHandlers()))->listen(new \ReflectionClass(NotAHandler::class));
    }

    public function testAMarkedAbstractClassFailsNamingIt(): void
    {
        $schedules = new ScheduleHandlers();

        try {
            (new ScheduleLocatorListener($schedules))->listen(new \ReflectionClass(AbstractReport::class));
            self::fail('an abstract class became a handler');
        } catch (\InvalidArgumentException $e) {
            self::assertStringStartsWith(
                AbstractReport::class . ' has #[' . Schedule::class . '] but is not a class the container can build',
                $e->getMessage(),
            );
        }
        self::assertSame([], $schedules->all());
    }

    public function testAMarkedClassThatClashesWithTheMapFailsNamingBoth(): void
    {
        $schedules = new ScheduleHandlers(['nightly-report' => Weekly::class]);

        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage(\sprintf(
            'Schedule "nightly-report" has two handlers: %s and %s',
            Weekly::class,
            NightlyReport::class,
        ));

        (new ScheduleLocatorListener($schedules))->listen(new \ReflectionClass(NightlyReport::class));
    }
}
