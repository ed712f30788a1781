<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support;

/**
 * Runs tests/php/fixtures/e2e/cookbook.php (see there what it is and what its environment means)
 * in a PHP subprocess, and reads what its processes logged.
 */
final class CookbookApp
{
    private const SCRIPT = __DIR__ . '/../fixtures/e2e/cookbook.php';

    public readonly string $log;

    public function __construct()
    {
        $this->log = (string) \tempnam(\sys_get_temp_dir(), 'ticker-cookbook-');
    }

    public function __destruct()
    {
        @\unlink($this->log);
    }

    /**
     * @param array<string, string> $env on top of this process's, less what belongs to whoever
     *                                   started the tests (RR_MODE, RR_RELAY) and to the app's switches
     * @param list<string> $phpOptions such as `-d extension=...`
     * @param (\Closure(list<array<string, mixed>>): bool)|null $terminateWhen given the records so far;
     *                                                                   true sends SIGTERM to the app
     */
    public function run(array $env, array $phpOptions = [], ?\Closure $terminateWhen = null): Subprocess
    {
        $inherited = \array_filter(
            \getenv(),
            static fn (string $name): bool => !\str_starts_with($name, 'COOKBOOK_')
                && !\in_array($name, ['RR_MODE', 'RR_RELAY', 'TICKER_TEST_SPIRAL_LINE'], true),
            \ARRAY_FILTER_USE_KEY,
        );

        return Subprocess::run(
            [\PHP_BINARY, ...$phpOptions, self::SCRIPT],
            ['COOKBOOK_LOG' => $this->log] + $env + $inherited,
            30.0,
            $terminateWhen === null ? null : fn (): bool => $terminateWhen($this->records()),
        );
    }

    /**
     * @return list<array<string, mixed>>
     */
    public function records(): array
    {
        return JsonLines::read($this->log);
    }

    /**
     * @return list<array<string, mixed>> the records of handled ticks, in the order they were logged
     */
    public function ticks(): array
    {
        return self::ticksIn($this->records());
    }

    /**
     * @param list<array<string, mixed>> $records
     * @return list<array<string, mixed>>
     */
    public static function ticksIn(array $records): array
    {
        return \array_values(\array_filter($records, static fn (array $record): bool => isset($record['tick'])));
    }

    /**
     * @param list<array<string, mixed>> $records
     * @return list<mixed> the values records have under $key, each once, in the order first seen
     */
    public static function distinct(array $records, string $key): array
    {
        return \array_values(\array_unique(\array_column($records, $key), \SORT_REGULAR));
    }

    /**
     * @return array<string, mixed> what the process logged right after booting
     */
    public function booted(): array
    {
        foreach ($this->records() as $record) {
            if (isset($record['booted'])) {
                return $record;
            }
        }

        throw new \RuntimeException("The app did not boot; it logged:\n" . \file_get_contents($this->log));
    }

    public function describe(Subprocess $run): string
    {
        return "stderr:\n{$run->stderr}\nstdout:\n{$run->stdout}\nlog:\n" . \file_get_contents($this->log);
    }
}
