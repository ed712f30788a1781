<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support;

/**
 * A file of JSON lines that several processes append to (the master and its forked workers):
 * each record is written whole, under a lock.
 */
final class JsonLines
{
    /**
     * @param array<string, mixed> $record
     */
    public static function append(string $file, array $record): void
    {
        \file_put_contents($file, \json_encode($record, \JSON_THROW_ON_ERROR) . "\n", \FILE_APPEND | \LOCK_EX);
    }

    /**
     * Reads under a shared lock, so a record being appended is never seen half written.
     *
     * @return list<array<string, mixed>>
     */
    public static function read(string $file): array
    {
        $handle = @\fopen($file, 'r');
        if ($handle === false) {
            return [];
        }
        \flock($handle, \LOCK_SH);
        $content = (string) \stream_get_contents($handle);
        \flock($handle, \LOCK_UN);
        \fclose($handle);

        $lines = \array_filter(\explode("\n", $content), static fn (string $line): bool => $line !== '');

        return \array_values(\array_map(
            static fn (string $line): array => \json_decode($line, true, 8, \JSON_THROW_ON_ERROR),
            $lines,
        ));
    }
}
