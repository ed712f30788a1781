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
     * @return list<array<string, mixed>>
     */
    public static function read(string $file): array
    {
        return \array_map(
            static fn (string $line): array => \json_decode($line, true, 8, \JSON_THROW_ON_ERROR),
            @\file($file, \FILE_IGNORE_NEW_LINES | \FILE_SKIP_EMPTY_LINES) ?: [],
        );
    }
}
