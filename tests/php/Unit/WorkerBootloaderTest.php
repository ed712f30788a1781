<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Unit;

use PHPUnit\Framework\TestCase;
use Spiral\Boot\EnvironmentInterface;
use Spiral\Boot\FinalizerInterface;
use Spiral\RoadRunner\Worker;
use Spiral\RoadRunner\WorkerInterface;
use Spiral\RoadRunnerBridge\Bootloader\RoadRunnerBootloader;
use Ticker\Payload as NativePayload;
use Ticker\Spiral\Tests\Support\Container;
use Ticker\Spiral\Tests\Support\Environment;
use Ticker\Spiral\Tests\Support\InitBindingBridgeBootloader;
use Ticker\Spiral\Tests\Support\Journal;
use Ticker\Spiral\Tests\Support\JournalFinalizer;
use Ticker\Spiral\Tests\Support\Kernel;
use Ticker\Spiral\Tests\Support\ScriptedWorker;
use Ticker\Spiral\Tests\Support\Subprocess;
use Ticker\Spiral\Tests\Support\UsesNativeDouble;
use Ticker\Spiral\TickerBootloader;
use Ticker\Spiral\Worker\ExtensionWorker;
use Ticker\Spiral\WorkerBootloader;
use Ticker\Worker as NativeWorker;

/**
 * WorkerBootloader, alone and as TickerBootloader's dependency, under each RR_MODE, with and
 * without spiral/roadrunner-bridge's bindings, listed before or after the bridge.
 *
 * "Under the extension" is RR_MODE=ticker without RR_RELAY where `Ticker\Worker::create()`
 * succeeds: the extension's master and its forks. "Under RoadRunner" is RR_MODE=ticker with
 * RR_RELAY set (RoadRunner, or the extension's command mode, started the worker), with the
 * extension loaded or not, or RR_MODE=ticker where the extension does not serve.
 */
final class WorkerBootloaderTest extends TestCase
{
    use UsesNativeDouble;

    private Container $container;

    protected function setUp(): void
    {
        $this->container = new Container();
        $this->container->bindSingleton(FinalizerInterface::class, new JournalFinalizer(new Journal()));
    }

    /**
     * @dataProvider modesThatServeNoTicks
     *
     * @param list<class-string> $bootloaders
     * @param array<string, mixed>|null $bridgeBindings
     */
    public function testBindsNothingAndAsksNoExtensionOutsideTickerMode(
        array $env,
        array $bootloaders,
        ?array $bridgeBindings,
    ): void {
        // Even an extension that would hand out a worker is not asked.
        $this->playTheExtension();

        $this->boot($env, $bootloaders);

        $this->assertBindings($bridgeBindings);
        self::assertSame(0, NativeWorker::$created);
    }

    /**
     * @dataProvider arrangements
     *
     * @param list<class-string> $bootloaders
     */
    public function testUnderTheExtensionBothNamesAreTheExtensionsWorker(array $bootloaders): void
    {
        $native = $this->playTheExtension(new NativePayload('{"tick":0}'));

        $this->boot(['RR_MODE' => 'ticker'], $bootloaders);
        $worker = $this->container->get(WorkerInterface::class);

        self::assertInstanceOf(ExtensionWorker::class, $worker);
        self::assertSame($worker, $this->container->get(Worker::class), 'one worker under both names');
        self::assertSame(1, NativeWorker::$created, 'the extension is asked once');
        self::assertSame([], $native->calls, 'booting and resolving the worker must not start the pool');
        self::assertSame('{"tick":0}', $worker->waitPayload()?->body, 'it is the running extension\'s worker');
    }

    /**
     * @dataProvider arrangementsWithABridge
     *
     * @param list<class-string> $bootloaders
     * @param array<string, mixed> $bridgeBindings
     */
    public function testUnderRoadRunnerTheBridgesBindingsStay(array $bootloaders, array $bridgeBindings): void
    {
        $this->boot(['RR_MODE' => 'ticker'], $bootloaders);

        $this->assertBindings($bridgeBindings);
        $worker = $this->container->get(WorkerInterface::class);
        self::assertInstanceOf(Worker::class, $worker);
        self::assertSame($worker, $this->container->get(Worker::class));
    }

    /**
     * @dataProvider arrangementsWithABridge
     *
     * @param list<class-string> $bootloaders
     * @param array<string, mixed> $bridgeBindings
     */
    public function testUnderRoadRunnerWithTheExtensionLoadedTheBridgesBindingsStayAndTheExtensionIsNotAsked(
        array $bootloaders,
        array $bridgeBindings,
    ): void {
        $this->playTheExtension(new NativePayload('{"tick":0}'));

        $this->boot(['RR_MODE' => 'ticker', 'RR_RELAY' => 'pipes'], $bootloaders);

        $this->assertBindings($bridgeBindings);
        self::assertSame(0, NativeWorker::$created, 'with pipes, asking would take stdin and stdout from the bridge');
        self::assertInstanceOf(Worker::class, $this->container->get(WorkerInterface::class));
    }

    /**
     * @dataProvider arrangementsWithoutABridge
     *
     * @param list<class-string> $bootloaders
     */
    public function testUnderRoadRunnerWithTheExtensionLoadedAndNoBridgeBothNamesAreTheExtensionsWorkerWhenAsked(
        array $bootloaders,
    ): void {
        $this->playTheExtension(new NativePayload('{"tick":5}'));

        $this->boot(['RR_MODE' => 'ticker', 'RR_RELAY' => 'pipes'], $bootloaders);

        self::assertSame(0, NativeWorker::$created, 'built when first asked for, not at boot');
        $worker = $this->container->get(Worker::class);
        self::assertInstanceOf(ExtensionWorker::class, $worker);
        self::assertSame($worker, $this->container->get(WorkerInterface::class), 'one worker under both names');
        self::assertSame('{"tick":5}', $worker->waitPayload()?->body);
    }

    /**
     * @dataProvider arrangementsWithoutABridge
     *
     * @param list<class-string> $bootloaders
     */
    public function testUnderRoadRunnerWithoutTheBridgeBothNamesAreRoadRunnersWorker(array $bootloaders): void
    {
        $this->boot(['RR_MODE' => 'ticker'], $bootloaders);

        self::assertFalse($this->container->hasInstance(WorkerInterface::class), 'built when first asked for');
        $worker = $this->container->get(Worker::class);
        self::assertInstanceOf(Worker::class, $worker);
        self::assertSame($worker, $this->container->get(WorkerInterface::class), 'one worker under both names');
    }

    public function testUnderRoadRunnerAnApplicationsOwnWorkerStaysAndGetsTheOtherName(): void
    {
        $worker = new ScriptedWorker(new Journal());
        $this->container->bindSingleton(WorkerInterface::class, $worker);

        $this->boot(['RR_MODE' => 'ticker'], [WorkerBootloader::class]);

        self::assertSame($worker, $this->container->binding(WorkerInterface::class));
        self::assertSame($worker, $this->container->get(Worker::class));
    }

    public function testUnderRoadRunnerAnApplicationsOwnWorkerClassBindingGetsTheInterface(): void
    {
        $worker = Worker::create();
        $this->container->bindSingleton(Worker::class, $worker);

        $this->boot(['RR_MODE' => 'ticker'], [WorkerBootloader::class]);

        self::assertSame($worker, $this->container->binding(Worker::class));
        self::assertSame($worker, $this->container->get(WorkerInterface::class));
    }

    public function testListedAgainBesideTickerBootloaderItBootsOnce(): void
    {
        $this->playTheExtension();

        $this->boot(
            ['RR_MODE' => 'ticker'],
            [WorkerBootloader::class, TickerBootloader::class, WorkerBootloader::class],
        );

        self::assertSame(1, NativeWorker::$created);
    }

    /**
     * @return iterable<string, array{array<string, mixed>, list<class-string>, array<string, mixed>|null}>
     */
    public static function modesThatServeNoTicks(): iterable
    {
        $modes = [
            'RR_MODE unset (console)' => [],
            'RR_MODE empty' => ['RR_MODE' => ''],
            'RR_MODE the string null' => ['RR_MODE' => 'null'],
            'http' => ['RR_MODE' => 'http'],
            'jobs' => ['RR_MODE' => 'jobs'],
            'grpc' => ['RR_MODE' => 'grpc'],
            'tcp' => ['RR_MODE' => 'tcp'],
            'temporal' => ['RR_MODE' => 'temporal'],
            'centrifuge' => ['RR_MODE' => 'centrifuge'],
            'Ticker in another case' => ['RR_MODE' => 'Ticker'],
            'ticker padded' => ['RR_MODE' => ' ticker'],
        ];
        foreach ($modes as $mode => $env) {
            foreach (self::arrangements() as $arrangement => [$bootloaders, $bridgeBindings]) {
                yield "$mode, $arrangement" => [$env, $bootloaders, $bridgeBindings];
            }
        }
    }

    /**
     * Each of the package's bootloaders alone, and before and after each way the bridge binds.
     *
     * @return iterable<string, array{list<class-string>, array<string, mixed>|null}>
     */
    public static function arrangements(): iterable
    {
        $bridges = [
            'the bridge' => [RoadRunnerBootloader::class, (new RoadRunnerBootloader())->defineSingletons()],
            'a bridge binding in init()' => [
                InitBindingBridgeBootloader::class,
                InitBindingBridgeBootloader::WORKER_BINDINGS,
            ],
        ];
        foreach ([WorkerBootloader::class, TickerBootloader::class] as $ours) {
            $name = (new \ReflectionClass($ours))->getShortName();
            yield "$name alone" => [[$ours], null];
            foreach ($bridges as $bridge => [$bridgeClass, $bindings]) {
                yield "$name after $bridge" => [[$bridgeClass, $ours], $bindings];
                yield "$name before $bridge" => [[$ours, $bridgeClass], $bindings];
            }
        }
    }

    /**
     * @return iterable<string, array{list<class-string>, array<string, mixed>}>
     */
    public static function arrangementsWithABridge(): iterable
    {
        foreach (self::arrangements() as $name => [$bootloaders, $bindings]) {
            if ($bindings !== null) {
                yield $name => [$bootloaders, $bindings];
            }
        }
    }

    /**
     * @return iterable<string, array{list<class-string>}>
     */
    public static function arrangementsWithoutABridge(): iterable
    {
        foreach (self::arrangements() as $name => [$bootloaders, $bindings]) {
            if ($bindings === null) {
                yield $name => [$bootloaders];
            }
        }
    }

    /**
     * @param array<string, mixed> $env
     * @param list<class-string> $bootloaders
     */
    private function boot(array $env, array $bootloaders): void
    {
        $this->container->bindSingleton(EnvironmentInterface::class, new Environment($env + ['RR_MODE' => null]));
        (new Kernel($this->container))->bootload(...$bootloaders);
    }

    /**
     * @param array<string, mixed>|null $bridgeBindings what the bridge bound; null: there is no bridge
     */
    private function assertBindings(?array $bridgeBindings): void
    {
        if ($bridgeBindings === null) {
            self::assertFalse($this->container->has(WorkerInterface::class), 'WorkerInterface is bound');
            self::assertFalse($this->container->has(Worker::class), 'Worker::class is bound');

            return;
        }
        self::assertSame($bridgeBindings[WorkerInterface::class], $this->container->binding(WorkerInterface::class));
        self::assertSame($bridgeBindings[Worker::class], $this->container->binding(Worker::class));
    }

    /**
     * The package only suggests spiral/roadrunner-worker: without it, a console process boots,
     * and a ticking one stops at boot with what to install, not on an unknown interface later.
     */
    public function testWithoutRoadRunnerAConsoleBootsAndATickingProcessSaysWhatToInstall(): void
    {
        $run = Subprocess::run(
            [\PHP_BINARY, __DIR__ . '/../fixtures/without-roadrunner.php'],
            ['TICKER_TEST_WITHOUT_ROADRUNNER' => '1'] + \getenv(),
            30.0,
        );
        $context = "stderr:\n{$run->stderr}\nstdout:\n{$run->stdout}";

        self::assertSame(0, $run->exitCode, $context);
        $result = \json_decode($run->stdout, true, 8, \JSON_THROW_ON_ERROR);
        if ($result['roadrunner']) {
            self::markTestSkipped('spiral/roadrunner-worker is installed');
        }
        self::assertNull($result['console'], $context);
        self::assertIsString($result['ticking'], $context);
        self::assertStringStartsWith('LogicException: ', $result['ticking']);
        self::assertStringContainsString('composer require spiral/roadrunner-worker', $result['ticking']);
    }
}
