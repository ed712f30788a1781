<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support;

/**
 * Runs a command with a deadline; output goes to files, so a chatty process cannot block on a
 * full pipe while the test waits for it.
 */
final class Subprocess
{
    private function __construct(
        public readonly ?int $exitCode,
        public readonly bool $timedOut,
        public readonly string $stdout,
        public readonly string $stderr,
    ) {
    }

    /**
     * @param list<string> $command
     * @param array<string, string> $env the whole environment of the process
     * @param (\Closure(): bool)|null $terminateWhen asked while the process runs; once it says true, the
     *                                          process gets SIGTERM (once) and the deadline still holds
     */
    public static function run(array $command, array $env, float $timeoutSeconds, ?\Closure $terminateWhen = null): self
    {
        $stdout = \tempnam(\sys_get_temp_dir(), 'ticker-out-');
        $stderr = \tempnam(\sys_get_temp_dir(), 'ticker-err-');
        $descriptors = [0 => ['file', '/dev/null', 'r'], 1 => ['file', $stdout, 'w'], 2 => ['file', $stderr, 'w']];
        $process = \proc_open($command, $descriptors, $pipes, null, $env);
        if ($process === false) {
            throw new \RuntimeException('Cannot start ' . \implode(' ', $command));
        }

        $deadline = \microtime(true) + $timeoutSeconds;
        $status = \proc_get_status($process);
        while ($status['running'] && \microtime(true) < $deadline) {
            if ($terminateWhen !== null && $terminateWhen()) {
                \posix_kill($status['pid'], \SIGTERM);
                $terminateWhen = null;
            }
            \usleep(20_000);
            $status = \proc_get_status($process);
        }
        $timedOut = $status['running'];
        if ($timedOut) {
            self::kill($process, $status['pid']);
            $status = \proc_get_status($process);
        }
        \proc_close($process);

        $result = new self(
            $timedOut ? null : $status['exitcode'],
            $timedOut,
            (string) \file_get_contents($stdout),
            (string) \file_get_contents($stderr),
        );
        \unlink($stdout);
        \unlink($stderr);

        return $result;
    }

    /**
     * @param resource $process
     */
    private static function kill($process, int $pid): void
    {
        \posix_kill($pid, \SIGTERM);
        $grace = \microtime(true) + 2.0;
        while (\proc_get_status($process)['running'] && \microtime(true) < $grace) {
            \usleep(20_000);
        }
        if (\proc_get_status($process)['running']) {
            \posix_kill($pid, \SIGKILL);
        }
    }
}
