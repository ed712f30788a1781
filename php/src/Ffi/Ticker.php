<?php

declare(strict_types=1);

namespace Ticker\Ffi;

/**
 * Precise ticks for this one PHP process, through PHP's FFI and the ticker C library
 * (`libticker.so`), where the ticker extension cannot be installed. There is no pool: no fork, no
 * workers, no supervision; the process that calls {@see next()} is the only consumer.
 *
 * ```php
 * $ticker = Ticker::every('100ms');
 * while (true) {
 *     $tick = $ticker->next();            // returns at the tick's due instant
 *     // ... the periodic work: $tick->number, $tick->lateNs, $tick->skipped ...
 * }
 * ```
 *
 * Tick N is due at the instant of `every()` plus (N + 1) intervals, on `hrtime(true)`'s clock:
 * nothing drifts, whatever the work costs. `next()` sleeps until shortly before the due instant
 * and spins the rest, so it returns within microseconds of it, at the cost of at most 100 µs of
 * CPU per tick.
 *
 * The caller counts as busy from the return of `next()` until its next call (and after a
 * timeout, until its next call); what becomes of a tick that comes due meanwhile is `$missed`,
 * the extension's `ticker.missed` with the caller as its only worker:
 *
 * - `skip` (default): that tick waits and the next call returns it at once, late; the ticks
 *   missed after it are skipped, counted, and reported in `Tick::$skipped`. The grid stays.
 * - `delay`: that tick waits and the next call returns it, late; the grid restarts one interval
 *   after that call. Nothing is skipped; later ticks shift.
 * - `burst`: every missed tick waits, and the next calls return them in order, at once. Nothing
 *   is skipped.
 *
 * A signal handled by PHP (pcntl) while `next()` sleeps runs when it returns: pass a timeout to
 * bound that. One instance serves one caller at a time.
 */
final class Ticker
{
    /** The C library's name, as the dynamic loader finds it once `make install` has run. */
    public const LIBRARY = 'libticker.so';

    private const POLICIES = ['skip' => 'TICKER_SKIP', 'delay' => 'TICKER_DELAY', 'burst' => 'TICKER_BURST'];

    /** @var array<string, \FFI> one per library, so that the header is read and parsed once */
    private static array $libraries = [];

    /** The `ticker_tick` that every `next()` call fills. */
    private readonly \FFI\CData $tick;

    private readonly int $timeout;

    /**
     * @param int $intervalNs the interval; 0 for a cron ticker
     * @param \DateTimeZone|null $zone a cron ticker's zone, in which `Tick::$scheduled` is given
     */
    private function __construct(
        private readonly \FFI $lib,
        private readonly \FFI\CData $handle,
        public readonly int $intervalNs,
        public readonly string $missed,
        private readonly ?\DateTimeZone $zone = null,
    ) {
        $this->tick = $lib->new('ticker_tick');
        $this->timeout = $lib->TICKER_TIMEOUT;
    }

    /**
     * @param string|int $interval a duration as in `.rr.yaml` (Go's syntax: `'250ms'`, `'1s'`,
     *                             `'1m30s'`, `'1.5s'`, `'100us'`), or an int of nanoseconds (as
     *                             `hrtime(true)` counts); 100 µs at least
     * @param string $missed `'skip'`, `'delay'` or `'burst'`: see the class
     * @param string|null $library the C library to load: a path, or a name the dynamic loader
     *                             finds (default {@see LIBRARY})
     *
     * @throws Exception when FFI is unavailable or disabled, the library cannot be loaded, or the
     *                   interval or policy is refused
     */
    public static function every(string|int $interval, string $missed = 'skip', ?string $library = null): self
    {
        $lib = self::library($library ?? self::LIBRARY);
        $policy = self::POLICIES[$missed] ?? throw new Exception(\sprintf(
            'Ticker::every(): missed policy %s is unknown; expected skip, delay or burst',
            \var_export($missed, true),
        ));
        $intervalNs = self::nanoseconds($lib, $interval);
        $handle = $lib->new('ticker*');
        $rc = $lib->ticker_new($intervalNs, $lib->{$policy}, \FFI::addr($handle));
        if ($rc !== 0) {
            $hint = \is_int($interval) && $intervalNs < 100_000
                ? " (an int interval is in nanoseconds: write '1s' or 1_000_000_000 for a second)"
                : '';
            throw new Exception('Ticker::every(): the interval is refused: ' . self::lastError($lib, $rc) . $hint);
        }

        return new self($lib, $handle, $intervalNs, $missed);
    }

    /**
     * A ticker whose ticks come at the occurrences of a cron expression in a time zone, by the
     * wall clock: 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first;
     * `*`, lists, ranges, steps, names (`MON-FRI`, `JAN`) and `@hourly`, `@daily`, `@weekly`,
     * `@monthly`, `@yearly`. Across DST it runs as Vixie cron does: a job at a fixed time that
     * falls in the spring-forward gap runs once at the end of the gap, and once in a fold; the
     * others follow real time. The rules are the extension's `ticker.schedules` ones.
     *
     * ```php
     * $nightly = Ticker::cron('30 2 * * *', 'Europe/Berlin');
     * $tick = $nightly->next();           // at 02:30 Berlin time
     * echo $tick->scheduled->format(DATE_RFC3339);
     * ```
     *
     * @param string $timezone an IANA zone name (`'Europe/Berlin'`, `'UTC'`)
     * @param string $missed `'skip'` or `'burst'` (`'delay'` moves an interval's grid; a cron
     *                       schedule has none)
     *
     * @throws Exception when FFI is unavailable, the library cannot be loaded, or the expression,
     *                   zone or policy is refused (the message names the field at fault)
     */
    public static function cron(
        string $expression,
        string $timezone = 'UTC',
        string $missed = 'skip',
        ?string $library = null,
    ): self {
        $lib = self::library($library ?? self::LIBRARY);
        if ($missed === 'delay' || !isset(self::POLICIES[$missed])) {
            throw new Exception(\sprintf(
                'Ticker::cron(): missed policy %s is not accepted; expected skip or burst',
                \var_export($missed, true),
            ));
        }
        if (\str_contains($expression . $timezone, "\0")) {
            throw new Exception('Ticker::cron(): the expression or zone contains a NUL byte');
        }
        $handle = $lib->new('ticker*');
        $rc = $lib->ticker_new_cron($expression, $timezone, $lib->{self::POLICIES[$missed]}, \FFI::addr($handle));
        if ($rc !== 0) {
            throw new Exception('Ticker::cron(): ' . self::lastError($lib, $rc));
        }

        return new self($lib, $handle, 0, $missed, new \DateTimeZone($timezone === '' ? 'UTC' : $timezone));
    }

    /**
     * The next tick, returned at its due instant, or at once if it is late (see the class).
     *
     * @param float|null $timeoutSeconds null waits as long as it takes; 0 or more returns null
     *                                   when no tick is due within that many seconds (0: a check
     *                                   that does not block)
     *
     * @throws Exception when the timeout is negative or NaN, or the library reports an error
     */
    public function next(?float $timeoutSeconds = null): ?Tick
    {
        $rc = $this->lib->ticker_next($this->handle, self::timeoutNs($timeoutSeconds), \FFI::addr($this->tick));
        if ($rc === $this->timeout) {
            return null;
        }
        if ($rc !== 0) {
            throw new Exception('Ticker::next(): ' . self::lastError($this->lib, $rc));
        }
        $tick = $this->tick;
        $scheduled = null;
        if ($this->zone !== null) {
            $seconds = \intdiv($tick->scheduled_unix_ns, 1_000_000_000);
            $scheduled = (new \DateTimeImmutable('@' . $seconds))->setTimezone($this->zone);
        }

        return new Tick($tick->number, $tick->due_ns, $tick->late_ns, $tick->skipped, $scheduled);
    }

    /**
     * The counts as of the last `next()` call (ticks that came due since are counted by the next
     * call): `due` = `delivered` + `skipped` + the ticks waiting to be returned.
     *
     * @return array{due: int, delivered: int, skipped: int}
     */
    public function stats(): array
    {
        $counts = $this->lib->new('ticker_counts');
        $rc = $this->lib->ticker_stats($this->handle, \FFI::addr($counts));
        if ($rc !== 0) {
            throw new Exception('Ticker::stats(): ' . self::lastError($this->lib, $rc));
        }

        return ['due' => $counts->due, 'delivered' => $counts->delivered, 'skipped' => $counts->skipped];
    }

    public function __destruct()
    {
        $this->lib->ticker_free($this->handle);
    }

    /** A copy would free the same C ticker twice. */
    private function __clone()
    {
    }

    private static function library(string $library): \FFI
    {
        if (isset(self::$libraries[$library])) {
            return self::$libraries[$library];
        }
        if (!\extension_loaded('ffi')) {
            throw new Exception(
                "PHP's FFI extension (ext-ffi) is not loaded: Ticker\\Ffi\\Ticker needs it (Debian and "
                . 'Ubuntu ship it in phpX.Y-common, enabled by default; elsewhere build PHP with --with-ffi)',
            );
        }
        $enable = \strtolower(\trim((string) \ini_get('ffi.enable')));
        if ($enable !== 'preload' && !\filter_var($enable, \FILTER_VALIDATE_BOOLEAN)) {
            throw new Exception(\sprintf(
                'FFI is disabled (ffi.enable=%s): Ticker\Ffi\Ticker needs ffi.enable=1, '
                . 'or ffi.enable=preload in the CLI',
                $enable === '' ? 'Off' : $enable,
            ));
        }
        try {
            $lib = \FFI::cdef(self::declarations(), $library);
        } catch (\FFI\Exception $e) {
            if ($enable === 'preload' && \PHP_SAPI !== 'cli') {
                throw new Exception(\sprintf(
                    'FFI is limited to preloaded code under %s (ffi.enable=preload): set ffi.enable=1, '
                    . 'or create the ticker from a file opcache.preload loads (%s)',
                    \PHP_SAPI,
                    $e->getMessage(),
                ), 0, $e);
            }
            throw new Exception(\sprintf(
                'Cannot load the ticker C library %s (%s): build and install it with `make install` from the '
                . 'ticker repository (it puts libticker.so into /usr/local/lib), or pass its path as $library',
                $library,
                $e->getMessage(),
            ), 0, $e);
        }

        return self::$libraries[$library] = $lib;
    }

    /** The C declarations of include/ticker.h, without its `#define FFI_*` lines (FFI::load's). */
    private static function declarations(): string
    {
        $path = \dirname(__DIR__, 3) . '/include/ticker.h';
        $header = \is_file($path) ? \file_get_contents($path) : false;
        if ($header === false) {
            throw new Exception("Cannot read the ticker C header $path, which the package ships: reinstall it");
        }

        return (string) \preg_replace('/^#define FFI_\w+ .*$/m', '', $header);
    }

    private static function nanoseconds(\FFI $lib, string|int $interval): int
    {
        if (\is_int($interval)) {
            if ($interval < 0) {
                throw new Exception(
                    "Ticker::every(): the interval $interval is negative; "
                    . "expected nanoseconds or a duration such as '1s'",
                );
            }

            return $interval;
        }
        if (\str_contains($interval, "\0")) {
            throw new Exception('Ticker::every(): the interval contains a NUL byte');
        }
        $ns = $lib->new('uint64_t');
        $rc = $lib->ticker_parse_duration($interval, \FFI::addr($ns));
        if ($rc !== 0) {
            throw new Exception('Ticker::every(): the interval is refused: ' . self::lastError($lib, $rc));
        }
        if ($ns->cdata < 0) {
            // Above PHP_INT_MAX nanoseconds (292 years) a uint64_t reads back negative.
            throw new Exception(\sprintf('Ticker::every(): the interval %s is too long', $interval));
        }

        return $ns->cdata;
    }

    private static function timeoutNs(?float $seconds): int
    {
        if ($seconds === null || $seconds === \INF || $seconds >= \PHP_INT_MAX / 1e9) {
            return -1;
        }
        if (\is_nan($seconds) || $seconds < 0) {
            throw new Exception(\sprintf(
                'Ticker::next(): the timeout %s is refused; expected null (no timeout) or 0 or more seconds',
                \var_export($seconds, true),
            ));
        }

        return (int) \round($seconds * 1e9);
    }

    private static function lastError(\FFI $lib, int $rc): string
    {
        return $lib->ticker_last_error() ?? "the ticker library returned $rc";
    }
}
