<?php

/**
 * IDE and static-analysis stubs for the ticker extension. Never load this file at run time: the
 * extension defines these classes. tests/php/Extension/StubTest.php compares it with the loaded
 * extension through Reflection, so a change on either side fails the tests.
 */

namespace Ticker;

/**
 * An immutable message between master and worker, like Spiral\RoadRunner\Payload.
 */
final class Payload
{
    /**
     * Read-only: the extension serves it from native memory, so Reflection shows it untyped and
     * not `readonly`, but writing it throws.
     *
     * @var string
     * @readonly
     */
    public $body;

    /**
     * Read-only, like $body. For a tick from a ticker master, a JSON object:
     *
     * - `lastTick`: int unix seconds of the previous delivered tick's due time, null for the first
     *   (RoadRunner's plugin sends Go's zero time, -62135596800);
     * - `due`: float unix seconds this tick was due;
     * - `dueHrtime`: int, the due instant on the `hrtime(true)` clock, ns;
     * - `skipped`: int, ticks dropped since the previous delivered one (for a `catchUp` run, plus the
     *   occurrences missed while no master ran);
     * - `attempt`: 1, or 2 when the tick runs again after `stop()`;
     * - `schedule`: string, the name of the tick's schedule (`default` for the plain
     *   `ticker.interval`); a header without it, such as RoadRunner's, means `default`;
     * - `scheduled`: only for a cron schedule, the occurrence in the schedule's zone, RFC 3339
     *   with its offset, e.g. "2025-03-30T03:00:00+02:00";
     * - `manual`: true only for a run an operator started with `ticker run NAME`, else absent;
     * - `catchUp`: true only for the one run at start of a schedule with `catch_up: once` that missed
     *   runs while no master ran (in a cluster: when an instance becomes leader, for the runs that
     *   passed while none led; `skipped` says how many), else absent;
     * - `fence`: only with `ticker.cluster`, int, the fencing token of the lease the tick was
     *   handed out under; it grows with every new leader.
     *
     * RoadRunner's header has `lastTick` only.
     *
     * @var string
     * @readonly
     */
    public $header;

    /**
     * @param string|null $body null becomes ''
     * @param string|null $header null becomes ''
     */
    public function __construct(?string $body = null, ?string $header = null)
    {
    }
}

/**
 * The process's end of the pool: a master's when the script started the pool, a worker's in a
 * forked worker, and in a process that a RoadRunner-style master (RoadRunner, or the extension's
 * command mode) started with `RR_RELAY`, that master's worker over the relay. A tick's body is
 * `{"tick":N}`, N counted from 0 for each schedule; a ticker master's header is a JSON object with
 * `lastTick`, `due`, `dueHrtime`, `skipped`, `attempt` and `schedule`, and where they apply
 * `scheduled`, `manual`, `catchUp` and `fence` (see Payload::$header); RoadRunner's has `lastTick`
 * only.
 */
final class Worker
{
    /**
     * Not constructible: it throws. Use Worker::create().
     *
     * @internal
     */
    public function __construct()
    {
    }

    /**
     * The worker of this process. Under a RoadRunner-style master the first call takes the relay:
     * with `RR_RELAY=pipes`, stdin and stdout become the channel and PHP's output goes to stderr
     * from then on; a socket relay is connected at the first waitPayload(). Every call returns a
     * handle on the same worker.
     *
     * @throws Exception when the extension is inert: no config, no `ticker` section, RR_MODE set
     *                   without RR_RELAY, or an RR_RELAY that names no relay
     */
    public static function create(): Worker
    {
    }

    /**
     * Master: forks the pool on the first call, blocks until shutdown, then returns null.
     * Worker: the next tick, or null when the master tells the worker to stop.
     */
    public function waitPayload(): ?Payload
    {
    }

    /**
     * Answers the current tick: it succeeded.
     */
    public function respond(Payload $payload): void
    {
    }

    /**
     * Answers the current tick: it failed. The worker stays in the pool.
     */
    public function error(string $message): void
    {
    }

    /**
     * Asks the master to replace this worker.
     */
    public function stop(): void
    {
    }
}

/**
 * Schedules an application declares in code, beside the `ticker.schedules` of its `.rr.yaml`,
 * as Laravel and Symfony applications declare theirs.
 *
 * ```php
 * Ticker\Schedules::add('nightly-report', ['cron' => '30 2 * * *', 'timezone' => 'Europe/Berlin']);
 * $worker = Ticker\Worker::create();
 * while ($payload = $worker->waitPayload()) { ... }
 * ```
 */
final class Schedules
{
    /**
     * Adds a schedule to the pool this master runs, with the settings of a `ticker.schedules`
     * entry (`every` or `cron`, `timezone`, `jitter`, `missed`, `overlap`, `paused`), read by the
     * same rules. Call it in the master before the first waitPayload(); in any other process
     * (a worker started from a command runs the same script, an inert process runs no pool) it
     * does nothing.
     *
     * @param array<string, string|int|float|bool|null> $settings
     *
     * @throws Exception with the config's message when the settings are refused, the name is
     *                   taken (by the config file or an earlier add()), or the pool runs already
     */
    public static function add(string $name, array $settings): void
    {
    }
}

/**
 * What the extension throws.
 */
class Exception extends \RuntimeException
{
}
