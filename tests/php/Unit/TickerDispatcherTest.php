<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Unit;

use PHPUnit\Framework\TestCase;
use Spiral\Boot\EnvironmentInterface;
use Spiral\Boot\FinalizerInterface;
use Spiral\RoadRunner\Payload;
use Spiral\RoadRunner\WorkerInterface;
use Ticker\Spiral\Tests\Support\Container;
use Ticker\Spiral\Tests\Support\Environment;
use Ticker\Spiral\Tests\Support\Journal;
use Ticker\Spiral\Tests\Support\JournalFinalizer;
use Ticker\Spiral\Tests\Support\RecordingHandler;
use Ticker\Spiral\Tests\Support\ScriptedWorker;
use Ticker\Spiral\ScheduleHandlers;
use Ticker\Spiral\Tests\Support\Schedule\Fallback;
use Ticker\Spiral\Tests\Support\Schedule\NightlyReport;
use Ticker\Spiral\Tests\Support\Schedule\Sync;
use Ticker\Spiral\TickerDispatcher;
use Ticker\Spiral\TickHandlerInterface;

final class TickerDispatcherTest extends TestCase
{
    private Journal $journal;
    private Container $container;

    protected function setUp(): void
    {
        $this->journal = new Journal();
        $this->container = new Container();
        $this->container->bindSingleton(FinalizerInterface::class, new JournalFinalizer($this->journal));
        $this->container->bindSingleton(EnvironmentInterface::class, new Environment(['RR_MODE' => 'ticker']));
    }

    /**
     * @dataProvider modes
     */
    public function testCanServeOnTheInstanceAsSpiral30To311Calls(array $env, bool $expected): void
    {
        $dispatcher = new TickerDispatcher(
            new Environment($env),
            new JournalFinalizer($this->journal),
            $this->container,
        );

        self::assertSame($expected, $dispatcher->canServe());
    }

    /**
     * @dataProvider modes
     */
    public function testCanServeThroughTheContainerAsSpiral312Calls(array $env, bool $expected): void
    {
        $this->container->bindSingleton(EnvironmentInterface::class, new Environment($env));

        self::assertSame($expected, $this->container->invoke([TickerDispatcher::class, 'canServe']));
    }

    /**
     * @return iterable<string, array{array<string, mixed>, bool}>
     */
    public static function modes(): iterable
    {
        yield 'ticker' => [['RR_MODE' => 'ticker'], true];
        yield 'unset (console)' => [['RR_MODE' => null], false];
        yield 'the string null (console)' => [['RR_MODE' => 'null'], false];
        yield 'empty' => [['RR_MODE' => ''], false];
        yield 'http' => [['RR_MODE' => 'http'], false];
        yield 'jobs' => [['RR_MODE' => 'jobs'], false];
        yield 'temporal' => [['RR_MODE' => 'temporal'], false];
        yield 'other case' => [['RR_MODE' => 'Ticker'], false];
        yield 'padded' => [['RR_MODE' => ' ticker'], false];
        yield 'prefix' => [['RR_MODE' => 'tick'], false];
    }

    public function testHandlesEachTickInOrderRespondingAndFinalizingAfterEach(): void
    {
        $handler = $this->serve([], ScriptedWorker::tick(0), ScriptedWorker::tick(1), ScriptedWorker::tick(2));

        self::assertSame([
            'wait', 'handle:0', 'respond:OK', 'finalize',
            'wait', 'handle:1', 'respond:OK', 'finalize',
            'wait', 'handle:2', 'respond:OK', 'finalize',
            'wait',
        ], $this->journal->events());
        self::assertSame([0, 1, 2], \array_map(static fn ($tick): int => $tick->number, $handler->ticks));
    }

    public function testPassesTheDecodedTickToTheHandler(): void
    {
        $handler = $this->serve(
            [],
            ScriptedWorker::tick(5, '{"lastTick":1700000000,"due":1700000001.5,"dueHrtime":42,"skipped":1}'),
        );

        self::assertCount(1, $handler->ticks);
        $tick = $handler->ticks[0];
        self::assertSame(5, $tick->number);
        self::assertSame(1700000000, $tick->previous?->getTimestamp());
        self::assertSame('1700000001.500000', $tick->due?->format('U.u'));
        self::assertSame(42, $tick->dueHrtime);
        self::assertSame(1, $tick->skipped);
    }

    public function testAThrowingHandlerFailsOnlyItsTick(): void
    {
        $this->serve(
            [1 => new \RuntimeException('database is gone')],
            ScriptedWorker::tick(0),
            ScriptedWorker::tick(1),
            ScriptedWorker::tick(2),
        );

        self::assertSame([
            'wait', 'handle:0', 'respond:OK', 'finalize',
            'wait', 'handle:1', 'error:database is gone', 'finalize',
            'wait', 'handle:2', 'respond:OK', 'finalize',
            'wait',
        ], $this->journal->events());
    }

    public function testAnErrorWithoutMessageIsReportedByItsClass(): void
    {
        $this->serve([0 => new \TypeError()], ScriptedWorker::tick(0));

        self::assertContains('error:TypeError', $this->journal->events());
    }

    public function testAPayloadThatIsNotATickFailsWithoutReachingTheHandler(): void
    {
        $handler = $this->serve([], new Payload('{"tock":0}'), ScriptedWorker::tick(1));

        self::assertSame([
            'wait', 'error:Tick body must be {"tick": N} with N >= 0, got {"tock":0}', 'finalize',
            'wait', 'handle:1', 'respond:OK', 'finalize',
            'wait',
        ], $this->journal->events());
        self::assertCount(1, $handler->ticks);
    }

    public function testANullPayloadEndsTheLoopAtOnce(): void
    {
        $resolved = 0;
        $this->container->bind(TickHandlerInterface::class, function () use (&$resolved): TickHandlerInterface {
            ++$resolved;

            return new RecordingHandler($this->journal);
        });
        $this->container->bindSingleton(WorkerInterface::class, new ScriptedWorker($this->journal));

        $this->container->get(TickerDispatcher::class)->serve();

        self::assertSame(['wait'], $this->journal->events());
        self::assertSame(0, $resolved, 'a process that never gets a tick must not build the handler');
    }

    public function testResolvesTheHandlerOnceAtTheFirstTick(): void
    {
        $resolved = 0;
        $this->container->bind(TickHandlerInterface::class, function () use (&$resolved): TickHandlerInterface {
            ++$resolved;
            $this->journal->record('resolve handler');

            return new RecordingHandler($this->journal);
        });
        $this->container->bindSingleton(
            WorkerInterface::class,
            new ScriptedWorker($this->journal, ScriptedWorker::tick(0), ScriptedWorker::tick(1)),
        );

        $this->container->get(TickerDispatcher::class)->serve();

        self::assertSame(1, $resolved);
        self::assertSame(['wait', 'resolve handler', 'handle:0'], \array_slice($this->journal->events(), 0, 3));
    }

    public function testTakesTheWorkerOnlyWhenServing(): void
    {
        $this->container->bind(WorkerInterface::class, function (): WorkerInterface {
            $this->journal->record('worker created');

            return new ScriptedWorker($this->journal);
        });

        $dispatcher = $this->container->get(TickerDispatcher::class);
        self::assertTrue($dispatcher->canServe());
        self::assertSame([], $this->journal->events());

        $dispatcher->serve();
        self::assertSame(['worker created', 'wait'], $this->journal->events());
    }

    public function testRoutesEachTickToItsSchedulesHandlerAndTheRestToTheBoundOne(): void
    {
        $this->container->bindSingleton(Journal::class, $this->journal);
        $this->container->bindSingleton(ScheduleHandlers::class, new ScheduleHandlers([
            'nightly-report' => NightlyReport::class,
            'sync-eu' => Sync::class,
            'sync-us' => Sync::class,
        ]));
        $this->container->bindSingleton(TickHandlerInterface::class, Fallback::class);
        $this->container->bindSingleton(WorkerInterface::class, new ScriptedWorker(
            $this->journal,
            self::tickOf(0, 'default'),
            self::tickOf(0, 'nightly-report'),
            ScriptedWorker::tick(1, '{"lastTick":1700000000}'),
            self::tickOf(0, 'sync-eu'),
            self::tickOf(0, 'sync-us'),
            self::tickOf(0, 'weekly'),
            self::tickOf(1, 'nightly-report'),
        ));

        $this->container->get(TickerDispatcher::class)->serve();

        self::assertSame([
            'wait', 'built:Fallback', 'Fallback:default:0', 'respond:OK', 'finalize',
            'wait', 'built:NightlyReport', 'NightlyReport:nightly-report:0', 'respond:OK', 'finalize',
            'wait', 'Fallback:default:1', 'respond:OK', 'finalize',
            'wait', 'built:Sync', 'Sync:sync-eu:0', 'respond:OK', 'finalize',
            'wait', 'Sync:sync-us:0', 'respond:OK', 'finalize',
            'wait', 'Fallback:weekly:0', 'respond:OK', 'finalize',
            'wait', 'NightlyReport:nightly-report:1', 'respond:OK', 'finalize',
            'wait',
        ], $this->journal->events());
    }

    public function testWithoutABoundHandlerATickOfAScheduleWithoutItsOwnFailsNamingTheSchedule(): void
    {
        $this->container->bindSingleton(Journal::class, $this->journal);
        $this->container->bindSingleton(
            ScheduleHandlers::class,
            new ScheduleHandlers(['nightly-report' => NightlyReport::class]),
        );
        $this->container->bindSingleton(WorkerInterface::class, new ScriptedWorker(
            $this->journal,
            self::tickOf(0, 'weekly'),
            self::tickOf(0, 'nightly-report'),
            ScriptedWorker::tick(0),
        ));

        $this->container->get(TickerDispatcher::class)->serve();

        $noHandler = 'error:No tick handler for schedule "%s": mark a Ticker\Spiral\TickHandlerInterface class'
            . ' #[Ticker\Spiral\Attribute\Schedule(\'%s\')], add it to Ticker\Spiral\ScheduleHandlers,'
            . ' or bind Ticker\Spiral\TickHandlerInterface';
        self::assertSame([
            'wait', \sprintf($noHandler, 'weekly', 'weekly'), 'finalize',
            'wait', 'built:NightlyReport', 'NightlyReport:nightly-report:0', 'respond:OK', 'finalize',
            'wait', \sprintf($noHandler, 'default', 'default'), 'finalize',
            'wait',
        ], $this->journal->events());
    }

    /**
     * Built by Spiral without TickerBootloader's binding, the dispatcher has no schedule of its own:
     * every tick goes to TickHandlerInterface, as before there were schedules.
     */
    public function testWithoutAScheduleMapEveryScheduleGoesToTheBoundHandler(): void
    {
        $handler = $this->serve([], self::tickOf(0, 'nightly-report'), ScriptedWorker::tick(0));

        self::assertSame(['nightly-report', 'default'], \array_map(
            static fn ($tick): string => $tick->schedule,
            $handler->ticks,
        ));
    }

    private static function tickOf(int $number, string $schedule): Payload
    {
        return ScriptedWorker::tick($number, \json_encode(['schedule' => $schedule], \JSON_THROW_ON_ERROR));
    }

    /**
     * @param array<int, \Throwable> $failures
     */
    private function serve(array $failures, Payload ...$payloads): RecordingHandler
    {
        $handler = new RecordingHandler($this->journal, $failures);
        $this->container->bindSingleton(TickHandlerInterface::class, $handler);
        $this->container->bindSingleton(WorkerInterface::class, new ScriptedWorker($this->journal, ...$payloads));

        $this->container->get(TickerDispatcher::class)->serve();

        return $handler;
    }
}
