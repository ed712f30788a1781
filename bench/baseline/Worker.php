<?php

declare(strict_types=1);

/*
 * The plain-PHP baseline: the best a PHP developer can do without an extension.
 *
 * The same shape as Ticker\Worker, so that bench/app.php runs unchanged on both:
 * `Baseline\Worker::create()` in the master, then the master's first `waitPayload()` forks
 * the workers (pcntl_fork, copy-on-write with the booted application) and runs the
 * scheduling loop until SIGTERM/SIGINT; it then returns null. In each worker the same call
 * returns that worker's ticks.
 *
 *  - one socket pair per worker (stream_socket_pair, AF_UNIX stream);
 *  - frames: 8 bytes (header length, body length; big-endian uint32), header, body;
 *  - the master: one stream_select loop whose timeout is the time left to the next due
 *    instant; tick N is due at start + N × interval on hrtime(true), so nothing drifts;
 *  - a tick goes to the worker idle longest; one tick at a time per worker;
 *  - no free worker at a due instant: one tick waits (sent as soon as a worker answers),
 *    further ones are skipped and counted (header `skipped` of the next delivered tick);
 *    with BASELINE_MISSED=burst every missed tick waits (the extension's `missed: burst`);
 *  - a worker that dies (EOF on its socket) is reaped and replaced by a fresh fork at once;
 *  - interval 0 means "unpaced": every free worker gets the next tick at once (a pure
 *    ping-pong, to show the ceiling of this design).
 *
 * Settings (environment): BASELINE_INTERVAL_NS, BASELINE_WORKERS, BASELINE_MISSED (skip|burst),
 * BASELINE_DESTROY_TIMEOUT_NS (how long the stop waits for workers before SIGKILL; 5 s).
 *
 * Named schedules (BASELINE_SCHEDULES: a file of `name expression` lines, instead of the
 * interval): what a PHP scheduler does today (Laravel's `schedule:work`, spiral-packages/
 * scheduler). The master wakes at each second of the wall clock and, for every schedule,
 * parses its cron expression and asks `isDue()` for that second in BASELINE_TIMEZONE (UTC)
 * (bench/baseline/CronExpression.php, a stand-in for dragonmantank/cron-expression); each
 * due one becomes a tick for the workers, due at that second (header `schedule` names it,
 * the body's N counts that schedule's ticks). As the extension's `skip`, each schedule has
 * at most one tick waiting for a worker; more are skipped. It writes
 * `baseline: ticking N schedules at UNIX` to stderr once its workers are forked.
 */

namespace Baseline;

final class Payload
{
    public function __construct(public readonly string $body = '', public readonly string $header = '')
    {
    }
}

final class Worker
{
    private const STOP = "\xff";

    private static ?Worker $instance = null;

    private bool $isMaster = true;
    /** @var resource|null the worker's end of its socket pair */
    private $sock = null;
    private int $intervalNs;
    private int $numWorkers;
    /** @var array<string, string>|null name => cron expression (BASELINE_SCHEDULES) */
    private ?array $schedules = null;

    // master state
    /** @var array<int, resource> pid => master's end */
    private array $socks = [];
    /** @var array<int, string> pid => read buffer */
    private array $bufs = [];
    /** @var int[] free worker pids, idle longest first */
    private array $idle = [];
    private bool $stopping = false;
    /** @var \SplQueue<array{0: int, 1: int, 2: ?string}> ticks that wait for a free worker
     *  (number, due hrtime, schedule): at most one per schedule (skip), or all (burst) */
    private \SplQueue $waiting;
    /** @var array<string, int> per schedule (the interval's is ''), its ticks in $waiting */
    private array $waitingOf = [];
    private int $maxWaiting;
    private int $skipped = 0;          // skipped since the previous delivered tick
    private int $skippedTotal = 0;
    private ?float $lastDueUnix = null;
    private int $startNs = 0;
    private float $startUnix = 0.0;

    private function __construct()
    {
        $interval = getenv('BASELINE_INTERVAL_NS');
        $this->intervalNs = $interval === false || $interval === '' ? 1_000_000_000 : (int) $interval;
        $this->numWorkers = max(1, (int) (getenv('BASELINE_WORKERS') ?: 2));
        $this->maxWaiting = getenv('BASELINE_MISSED') === 'burst' ? PHP_INT_MAX : 1;
        $this->waiting = new \SplQueue();
        $file = getenv('BASELINE_SCHEDULES');
        if ($file !== false && $file !== '') {
            require_once __DIR__ . '/CronExpression.php';
            $this->schedules = [];
            foreach (file($file, FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES) as $line) {
                [$name, $expression] = explode(' ', $line, 2);
                $this->schedules[$name] = $expression;
            }
        }
    }

    public static function create(): self
    {
        return self::$instance ??= new self();
    }

    public function waitPayload(): ?Payload
    {
        if ($this->isMaster) {
            if (!$this->runMaster()) {
                return null;        // the master, stopped
            }
            // here we are a freshly forked worker: fall through
        }
        $frame = self::readFrame($this->sock);
        if ($frame === null || $frame[0] === self::STOP) {
            return null;
        }
        return new Payload($frame[1], $frame[0]);
    }

    public function respond(Payload $payload): void
    {
        if ($this->isMaster) {
            throw new \RuntimeException('respond() in the master');
        }
        if (!self::writeAll($this->sock, self::frame($payload->header, $payload->body))) {
            throw new \RuntimeException('write to the master failed');
        }
    }

    // ------------------------------------------------------------------------------------
    // master

    /** @return bool true in a new worker (just forked), false in the master once stopped */
    private function runMaster(): bool
    {
        pcntl_async_signals(true);
        $stop = function (): void {
            $this->stopping = true;
        };
        pcntl_signal(SIGTERM, $stop);
        pcntl_signal(SIGINT, $stop);

        for ($i = 0; $i < $this->numWorkers; $i++) {
            if ($this->spawn()) {
                return true;
            }
        }

        $this->startNs = hrtime(true);
        $this->startUnix = microtime(true);
        if ($this->schedules !== null) {
            if ($this->runSchedules()) {
                return true;
            }
            $this->shutdown();
            return false;
        }
        $interval = $this->intervalNs;
        $n = 0;
        $nextDue = $interval > 0 ? $this->startNs + $interval : PHP_INT_MAX;

        while (!$this->stopping) {
            $now = hrtime(true);
            if ($interval > 0) {
                while ($now >= $nextDue) {
                    $this->due($n, $nextDue);
                    $n++;
                    $nextDue = $this->startNs + ($n + 1) * $interval;
                }
            } else {
                while ($this->idle) {
                    $this->send(array_shift($this->idle), $n++, $now);
                }
            }

            $left = $interval > 0 ? $nextDue - hrtime(true) : 1_000_000_000;
            if ($left > 0 && $this->serve($left)) {
                return true;                               // a replacement worker, just forked
            }
        }
        $this->shutdown();
        return false;
    }

    /** The loop over named schedules: each second, every schedule's isDue().
     *  @return bool true in a replacement worker, just forked; false once stopped */
    private function runSchedules(): bool
    {
        $zone = new \DateTimeZone(getenv('BASELINE_TIMEZONE') ?: 'UTC');
        $numbers = array_fill_keys(array_keys($this->schedules), 0);
        $second = (int) floor($this->startUnix) + 1;
        fwrite(STDERR, sprintf("baseline: ticking %d schedules at %.6f\n", count($this->schedules), microtime(true)));
        while (!$this->stopping) {
            // The second on hrtime(true), through the one reading of both clocks at the start.
            $dueNs = $this->startNs + (int) round(($second - $this->startUnix) * 1e9);
            $left = $dueNs - hrtime(true);
            // Answers are read on every pass, also when the checks fall behind the clock.
            if ($this->serve(max(0, $left))) {
                return true;
            }
            if ($left > 0) {
                continue;
            }
            $at = (new \DateTimeImmutable('@' . $second))->setTimezone($zone);
            foreach ($this->schedules as $name => $expression) {
                if ((new CronExpression($expression))->isDue($at)) {
                    $this->due($numbers[$name]++, $dueNs, $name);
                }
            }
            // The next second checked is the one after the clock's: a loop that looks at the
            // clock each time (as `schedule:work`'s does) never checks the seconds it spent
            // checking, and their runs are lost.
            $second = max($second + 1, (int) floor(microtime(true)) + 1);
        }
        return false;
    }

    /** Waits up to $leftNs for answers (rounded up to the µs: never wakes early on purpose),
     *  and handles those that came. @return bool true in a replacement worker, just forked */
    private function serve(int $leftNs): bool
    {
        $read = array_values($this->socks);
        $write = $except = null;
        $us = intdiv($leftNs + 999, 1000);
        $ready = @stream_select($read, $write, $except, intdiv($us, 1_000_000), $us % 1_000_000);
        if ($ready === false || $ready === 0) {
            return false;                                  // timeout, or EINTR (a signal)
        }
        foreach ($read as $s) {
            $pid = array_search($s, $this->socks, true);
            if ($pid !== false && $this->onReadable($pid)) {
                return true;
            }
        }
        return false;
    }

    /** Tick $n of $schedule (null: the interval) comes due. */
    private function due(int $n, int $dueNs, ?string $schedule = null): void
    {
        if ($this->idle) {
            $this->send(array_shift($this->idle), $n, $dueNs, $schedule);
        } elseif (($this->waitingOf[$schedule ?? ''] ?? 0) < $this->maxWaiting) {
            $this->wait($n, $dueNs, $schedule);
        } else {
            $this->skipped++;
            $this->skippedTotal++;
        }
    }

    private function wait(int $n, int $dueNs, ?string $schedule): void
    {
        $this->waiting->enqueue([$n, $dueNs, $schedule]);
        $this->waitingOf[$schedule ?? ''] = ($this->waitingOf[$schedule ?? ''] ?? 0) + 1;
    }

    /** Hands the tick that waited longest to worker $pid. */
    private function sendWaiting(int $pid): void
    {
        [$n, $dueNs, $schedule] = $this->waiting->dequeue();
        $this->waitingOf[$schedule ?? '']--;
        $this->send($pid, $n, $dueNs, $schedule);
    }

    private function send(int $pid, int $n, int $dueNs, ?string $schedule = null): void
    {
        $dueUnix = $this->startUnix + ($dueNs - $this->startNs) / 1e9;
        $header = [
            'lastTick' => $this->lastDueUnix,
            'due' => round($dueUnix, 6),
            'dueHrtime' => $dueNs,
            'skipped' => $this->skipped,
        ];
        if ($schedule !== null) {
            $header['schedule'] = $schedule;
        }
        $header = json_encode($header);
        $this->lastDueUnix = $dueUnix;
        $this->skipped = 0;
        if (!self::writeAll($this->socks[$pid], self::frame($header, '{"tick":' . $n . '}'))) {
            // The worker died (killed) before its end of stream was read: the tick is lost,
            // as with the extension, and the end of stream replaces the worker.
            fwrite(STDERR, "baseline: tick $n lost: worker $pid is gone\n");
        }
    }

    /** @return bool true when this process is now a freshly forked worker */
    private function onReadable(int $pid): bool
    {
        $data = fread($this->socks[$pid], 1 << 20);
        if ($data === '' || $data === false) {
            if (feof($this->socks[$pid])) {
                return $this->onDeath($pid);
            }
            return false;
        }
        $this->bufs[$pid] .= $data;
        // answers: complete frames
        while (strlen($this->bufs[$pid]) >= 8) {
            ['h' => $h, 'b' => $b] = unpack('Nh/Nb', $this->bufs[$pid]);
            if (strlen($this->bufs[$pid]) < 8 + $h + $b) {
                break;
            }
            $this->bufs[$pid] = substr($this->bufs[$pid], 8 + $h + $b);
            $this->onAnswer($pid);
        }
        return false;
    }

    private function onAnswer(int $pid): void
    {
        if (!$this->waiting->isEmpty() && !$this->stopping) {
            $this->sendWaiting($pid);
        } else {
            $this->idle[] = $pid;
        }
    }

    private function onDeath(int $pid): bool
    {
        fclose($this->socks[$pid]);
        unset($this->socks[$pid], $this->bufs[$pid]);
        $this->idle = array_values(array_diff($this->idle, [$pid]));
        pcntl_waitpid($pid, $status);
        fwrite(STDERR, "baseline: worker $pid died; replacing it\n");
        if ($this->stopping) {
            return false;
        }
        return $this->spawn();
    }

    /** Forks one worker. @return bool true in the child */
    private function spawn(): bool
    {
        $pair = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, STREAM_IPPROTO_IP);
        if ($pair === false) {
            throw new \RuntimeException('stream_socket_pair failed');
        }
        $pid = pcntl_fork();
        if ($pid < 0) {
            throw new \RuntimeException('fork failed');
        }
        if ($pid === 0) {
            // the worker: drop the master's state, keep our end
            foreach ($this->socks as $s) {
                fclose($s);
            }
            fclose($pair[0]);
            $this->socks = $this->bufs = $this->idle = [];
            $this->isMaster = false;
            pcntl_signal(SIGTERM, SIG_DFL);
            pcntl_signal(SIGINT, SIG_IGN);     // Ctrl-C is for the master
            posix_setpgid(0, 0);
            $this->sock = $pair[1];
            stream_set_read_buffer($this->sock, 0);
            stream_set_chunk_size($this->sock, 1 << 20);
            return true;
        }
        fclose($pair[1]);
        stream_set_blocking($pair[0], false);
        stream_set_read_buffer($pair[0], 0);
        stream_set_chunk_size($pair[0], 1 << 20);
        $this->socks[$pid] = $pair[0];
        $this->bufs[$pid] = '';
        if (!$this->waiting->isEmpty()) {
            $this->sendWaiting($pid);
        } else {
            $this->idle[] = $pid;
        }
        return false;
    }

    private function shutdown(): void
    {
        foreach ($this->socks as $s) {
            stream_set_blocking($s, true);
            @fwrite($s, self::frame(self::STOP, ''));
        }
        $deadline = hrtime(true) + (int) (getenv('BASELINE_DESTROY_TIMEOUT_NS') ?: 5_000_000_000);
        $left = array_keys($this->socks);
        while ($left && hrtime(true) < $deadline) {
            foreach ($left as $i => $pid) {
                if (pcntl_waitpid($pid, $status, WNOHANG) !== 0) {
                    unset($left[$i]);
                }
            }
            if ($left) {
                usleep(1000);
            }
        }
        foreach ($left as $pid) {
            posix_kill($pid, SIGKILL);
            pcntl_waitpid($pid, $status);
        }
        foreach ($this->socks as $s) {
            fclose($s);
        }
        $this->socks = [];
    }

    // ------------------------------------------------------------------------------------
    // frames

    private static function frame(string $header, string $body): string
    {
        return pack('NN', strlen($header), strlen($body)) . $header . $body;
    }

    /** @return array{0: string, 1: string}|null header and body; null at EOF */
    private static function readFrame($sock): ?array
    {
        $head = self::readExactly($sock, 8);
        if ($head === null) {
            return null;
        }
        ['h' => $h, 'b' => $b] = unpack('Nh/Nb', $head);
        $rest = $h + $b > 0 ? self::readExactly($sock, $h + $b) : '';
        if ($rest === null) {
            return null;
        }
        return [substr($rest, 0, $h), substr($rest, $h)];
    }

    private static function readExactly($sock, int $len): ?string
    {
        $data = '';
        while (strlen($data) < $len) {
            $chunk = fread($sock, $len - strlen($data));
            if ($chunk === '' || $chunk === false) {
                if (feof($sock)) {
                    return null;
                }
                continue;
            }
            $data .= $chunk;
        }
        return $data;
    }

    /** @return bool false when the peer is gone */
    private static function writeAll($sock, string $data): bool
    {
        while ($data !== '') {
            $n = @fwrite($sock, $data);
            if ($n === false) {
                return false;
            }
            if ($n === 0) {
                // the peer's buffer is full (non-blocking master side): wait until writable
                $r = $e = null;
                $w = [$sock];
                @stream_select($r, $w, $e, 1, 0);
                continue;
            }
            $data = substr($data, $n);
        }
        return true;
    }
}
