#!/usr/bin/env python3
"""The ticker benchmark: the extension against the plain-PHP baseline, same machine, same run.

Called by bench/run (see bench/README.md). Every measurement runs bench/app.php, the same
handler on both systems; this script only starts processes, sends signals, reads /proc and
the files the workers write, and computes figures.
"""

import argparse
import datetime
import json
import math
import os
import platform
import random
import re
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
APP = os.path.join(BENCH, "app.php")
RESULTS = os.path.join(BENCH, "results")
SYSTEMS = ("ticker", "baseline")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

# ------------------------------------------------------------------------------------------
# profiles: durations per measurement


PROFILES = {
    "full": dict(reps=5, lat10_ticks=800, lat1_ticks=5000, rt_seconds=2.0, unpaced_seconds=1.0, stall_seconds=1.0,
                 kills=5, idle_seconds=60.0, boot_mb=20, ffi_ticks=5000),
    "quick": dict(reps=2, lat10_ticks=200, lat1_ticks=2000, rt_seconds=1.0, unpaced_seconds=0.5, stall_seconds=0.5,
                  kills=3, idle_seconds=10.0, boot_mb=20, ffi_ticks=2000),
    # bench/run --ffi: only the one-process comparison (6), about 2 minutes.
    "ffi": dict(reps=3, ffi_ticks=10000),
    # bench/run --scaling: the pool from 2 to 500 workers (7), about 10 minutes.
    # window_ticks: a steady window holds at least that many ticks, so that its p99 is not one
    # stalled tick (a 2 s window at 10 ms has 200, its p99 the second-latest).
    "scaling": dict(reps=3, sizes=(2, 16, 64, 256, 500), window_s=2.0, window_ticks=1000, settle_s=0.3, kills=3,
                    kill_gap_s=0.15, boot_mb=20, big_boot_mb=200, big_workers=500, lat1_ticks=5000, calm_s=3.0),
    # bench/run --schedules: 1 to 10,000 named schedules in one pool of 2 workers (8), about 3 minutes.
    "schedules": dict(reps=1, counts=(1, 100, 10_000), shapes=("every", "cron"), workers=2, settle_s=2.0,
                      window_s=10),
}
MEASUREMENTS = "lateness,roundtrips,replacement,idle,memory,ffi"
FFI_MODES = ("ffi", "usleep", "spin")
# the wake-up floor's two ways of returning to a due instant (bench/wakeup.rs)
WAKEUP_MODES = ("sleep", "spin")
RT_INTERVAL_NS = 100_000     # the smallest interval the extension accepts
PADS = {"1KB": 1024, "64KB": 65536}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def go_duration(ns):
    if ns % 1_000_000_000 == 0:
        return f"{ns // 1_000_000_000}s"
    if ns % 1_000_000 == 0:
        return f"{ns // 1_000_000}ms"
    if ns % 1_000 == 0:
        return f"{ns // 1_000}us"
    return f"{ns}ns"


class Run:
    """One process of bench/app.php on one system, with its own result directory."""

    def __init__(self, args, system, interval_ns, workers, ticks=0, pad=2, boot_mb=0, ready=False,
                 missed="skip", destroy_timeout_s=5, php_env=None, supervisor=None, schedules=None):
        """`system`: ticker, baseline, or reference (the extension `--reference` names, run as
        ticker). `ready`: False, True (every worker's first tick) or "first" (tick 0 only).
        `php_env`: more environment for PHP itself (USE_ZEND_ALLOC_HUGE_PAGES). `supervisor`:
        lines of the ticker's `pool.supervisor` section (ticker only). `schedules`: named
        schedules instead of the interval, [(name, the ticker's YAML mapping, the baseline's cron
        expression)], in UTC; the ticker then logs JSON lines (see ready_unix())."""
        self.system = system
        ext = args.reference if system == "reference" else args.ext
        system = "ticker" if system == "reference" else system
        self.dir = tempfile.mkdtemp(prefix=f"bench-{system}-", dir=args.tmp)
        env = dict(os.environ)
        for k in list(env):
            if k.startswith(("TICKER_", "BASELINE_", "BENCH_")) or k == "RR_MODE":
                del env[k]
        env.pop(HUGE_PAGES, None)
        env.update(php_env or {})
        env.update(BENCH_SYSTEM=system, BENCH_OUT=self.dir, BENCH_TICKS=str(ticks),
                   BENCH_PAD=str(pad), BENCH_BOOT_MB=str(boot_mb),
                   BENCH_READY={True: "1", False: "0"}.get(ready, ready))
        cmd = [args.php, "-d", "memory_limit=-1"]
        if system == "ticker":
            conf = os.path.join(self.dir, "ticker.yaml")
            with open(conf, "w") as f:
                f.write("ticker:\n"
                        + (f"  interval: {go_duration(interval_ns)}\n" if schedules is None else "")
                        + f"  missed: {missed}\n"
                        "  pool:\n"
                        "    max_queue_size: 0\n"
                        f"    num_workers: {workers}\n"
                        f"    destroy_timeout: {destroy_timeout_s}s\n")
                if supervisor:
                    f.write("    supervisor:\n" + "".join(f"      {line}\n" for line in supervisor))
                if schedules is not None:
                    f.write("  timezone: UTC\n  schedules:\n"
                            + "".join(f"    {name}: {yaml}\n" for name, yaml, _ in schedules)
                            + "logs:\n  encoding: json\n")
            env["TICKER_CONFIG"] = conf
            cmd += ["-d", f"extension={ext}"]
        else:
            env["BASELINE_INTERVAL_NS"] = str(interval_ns)
            env["BASELINE_WORKERS"] = str(workers)
            env["BASELINE_MISSED"] = missed
            env["BASELINE_DESTROY_TIMEOUT_NS"] = str(destroy_timeout_s * 1_000_000_000)
            if schedules is not None:
                env["BASELINE_SCHEDULES"] = os.path.join(self.dir, "schedules.txt")
                env["BASELINE_TIMEZONE"] = "UTC"
                with open(env["BASELINE_SCHEDULES"], "w") as f:
                    f.write("".join(f"{name} {expr}\n" for name, _, expr in schedules))
        cmd.append(APP)
        self.stderr = open(os.path.join(self.dir, "stderr.txt"), "w")
        self.exec_unix, self.exec_mono = time.time(), time.monotonic_ns()
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=self.stderr,
                                     cwd=self.dir)
        self.pid = self.proc.pid

    def wait(self, timeout):
        """Waits for the run to end by itself; meanwhile samples the master's CPU time
        (schedstat), so that master_cpu_pct() gives its CPU share over the run."""
        deadline = time.monotonic() + timeout
        self.cpu, self.tree = [], []
        while self.proc.poll() is None and time.monotonic() < deadline:
            try:
                now = time.monotonic_ns()
                self.cpu.append((now, sched_ns(self.pid)))
                _, sched, pids = tree_cpu(self.pid)
                self.tree.append((now, sched, len(pids)))
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        if self.proc.poll() is None:
            log(f"  {self.system}: no stop after {timeout:.0f}s; SIGTERM")
            self.stop()
        self.proc.wait()
        self.stderr.close()
        if self.proc.returncode != 0:
            log(f"  {self.system}: exit status {self.proc.returncode}; see {self.dir}/stderr.txt")

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log(f"  {self.system}: still running {timeout}s after SIGTERM; SIGKILL")
                self.proc.kill()
                self.proc.wait()
        if not self.stderr.closed:
            self.stderr.close()

    def master_cpu_pct(self):
        """The master's CPU share (% of one CPU) between the first and last samples."""
        if len(getattr(self, "cpu", [])) < 3:
            return None
        (t0, c0), (t1, c1) = self.cpu[1], self.cpu[-1]     # [0] may still be PHP's start-up
        return 100.0 * (c1 - c0) / (t1 - t0) if t1 > t0 else None

    def tree_us_per_tick(self, interval_ns):
        """CPU of the master and every worker (schedstat) per tick due, in µs, between the
        second sample and the last one at which the whole pool was still there: a worker's
        CPU leaves the sum when it exits."""
        full = max((n for _, _, n in self.tree), default=0)
        span = [x for x in self.tree[1:] if x[2] == full]
        if full < 2 or len(span) < 3:
            return None
        (t0, c0, _), (t1, c1, _) = span[0], span[-1]
        return us_per_tick(c1 - c0, t1 - t0, interval_ns)

    def ready_files(self, skip=()):
        """{pid: (first tick hrtime, tick)} of every worker that handled a tick, but those in
        `skip` (not read, so that polling costs little beside a pool of hundreds)."""
        found = {}
        for name in os.listdir(self.dir):
            if name.startswith("ready-") and int(name[6:-4]) not in skip:
                try:
                    with open(os.path.join(self.dir, name)) as f:
                        pid, t, tick = f.read().split()
                    found[int(pid)] = (int(t), int(tick))
                except (ValueError, OSError):
                    pass    # being written
        return found

    def first_tick(self):
        """(pid, hrtime) of tick 0, once its worker has written first.txt (ready="first")."""
        try:
            with open(os.path.join(self.dir, "first.txt")) as f:
                pid, t, _tick = f.read().split()
            return int(pid), int(t)
        except (ValueError, OSError):
            return None     # not there yet, or being written

    def booted(self):
        """hrtime when the application was booted, right before the master's first waitPayload()."""
        with open(os.path.join(self.dir, "master.txt")) as f:
            return int(f.read().split()[3])

    def ready_unix(self):
        """Unix time at which the master started ticking its schedules, from its own line on
        stderr: the ticker's JSON log line "... ticking ..." (its `ts`), the baseline's
        "baseline: ticking N schedules at UNIX"; None until it is there."""
        with open(os.path.join(self.dir, "stderr.txt"), "rb") as f:
            for line in f:
                if line.startswith(b"baseline: ticking "):
                    return float(line.split()[-1])
                # Only the start: the line (which names schedules) may still be being written.
                ticking = re.match(rb'\{"level":"info","ts":([0-9.]+),"logger":"ticker","msg":"master [0-9]+ ticking ',
                                   line)
                if ticking:
                    return float(ticking.group(1))
        return None

    def by_worker(self):
        """{pid: [(tick, lateness ns, receive hrtime)]} of every worker that wrote its figures."""
        out = {}
        for name in os.listdir(self.dir):
            if name.startswith("worker-"):
                with open(os.path.join(self.dir, name)) as f:
                    out[int(name[7:-4])] = [tuple(map(int, line.split())) for line in f if not line.startswith("#")]
        return out

    def terminate_timed(self, timeout):
        """SIGTERM, then the seconds until the master has exited (pidfd: no polling delay)."""
        fd = os.pidfd_open(self.pid)
        try:
            t0 = time.monotonic_ns()
            self.proc.send_signal(signal.SIGTERM)
            ready, _, _ = select.select([fd], [], [], timeout)
            took = (time.monotonic_ns() - t0) / 1e9
        finally:
            os.close(fd)
        if not ready:
            log(f"  {self.system}: still running {timeout}s after SIGTERM")
            return None
        self.proc.wait()
        return took

    def samples(self):
        """[(tick, lateness ns, receive hrtime)] over all workers, and skipped total."""
        rows, skipped = [], 0
        for name in os.listdir(self.dir):
            if not name.startswith("worker-"):
                continue
            with open(os.path.join(self.dir, name)) as f:
                for line in f:
                    if line.startswith("#"):
                        skipped += int(line.split()[-1])
                        continue
                    tick, late, at = line.split()
                    rows.append((int(tick), int(late), int(at)))
        rows.sort()
        return rows, skipped

    def wait_for(self, cond, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = cond()
            if v:
                return v
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.system} exited ({self.proc.returncode}) while waiting for {what}; "
                                   f"see {self.dir}/stderr.txt")
            time.sleep(0.002)
        raise RuntimeError(f"{self.system}: timed out waiting for {what}; see {self.dir}/stderr.txt")


def pct(sorted_vals, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


# ------------------------------------------------------------------------------------------
# 1. lateness and delivery


def m_lateness(args, system, interval_ns, ticks):
    r = Run(args, system, interval_ns, workers=2, ticks=ticks)
    r.wait(timeout=ticks * interval_ns / 1e9 + 20)
    rows, skipped = r.samples()
    rows = [x for x in rows if x[0] < ticks]
    late = sorted(x[1] for x in rows)
    delivered = len({x[0] for x in rows})
    return {
        "due": ticks, "delivered": delivered, "delivered_ratio": delivered / ticks,
        "p50_us": pct(late, 50) / 1e3, "p99_us": pct(late, 99) / 1e3, "p999_us": pct(late, 99.9) / 1e3,
        "max_us": late[-1] / 1e3, "skipped_reported": skipped, "master_cpu_pct": r.master_cpu_pct(),
        "tree_us_per_tick": r.tree_us_per_tick(interval_ns),
    }, [x / 1e3 for x in late]


# ------------------------------------------------------------------------------------------
# 2. round trips per second


def m_paced(args, system, pad, seconds, interval_ns=RT_INTERVAL_NS):
    """Ticks at the smallest interval (or unpaced for the baseline: interval 0), skip policy:
    answered ticks per second, and delivered ÷ due."""
    if interval_ns:
        ticks = int(seconds * 1e9 / interval_ns)
    else:
        ticks = int(seconds * 40_000)           # unpaced: a guess at the rate, for the length
    r = Run(args, system, interval_ns, workers=2, ticks=ticks, pad=pad)
    r.wait(timeout=seconds * 3 + 30)
    rows, skipped = r.samples()
    rows = [x for x in rows if x[0] < ticks]
    at = sorted(x[2] for x in rows)
    span = (at[-1] - at[0]) / 1e9 if len(at) > 1 else float("nan")
    out = {"answered": len(rows), "span_s": span, "per_s": (len(rows) - 1) / span,
           "skipped_reported": skipped, "master_cpu_pct": r.master_cpu_pct()}
    if interval_ns:
        out["due"] = ticks
        out["due_per_s"] = 1e9 / interval_ns
        out["delivered_ratio"] = len({x[0] for x in rows}) / ticks
    return out


def m_saturated(args, system, pad, stall_s, interval_ns=RT_INTERVAL_NS, after_s=1.5):
    """Round trips per second with the pool running flat out.

    `missed: burst` with an unlimited queue, 100 µs ticks (or interval_ns), 2 workers. The master is stopped
    (SIGSTOP) for stall_s, so stall_s / interval ticks fall due at once; after SIGCONT both
    systems hand them out as fast as workers answer. The drain is the ticks received after
    SIGCONT up to the first one that is less than 1 ms late (the queue has run dry; if it
    never does, up to the stop): each was handed out by a saturated pool, and the rate is
    their number over the time between the first and the last of them.
    """
    r = Run(args, system, interval_ns, workers=2, pad=pad, ready=True, missed="burst")
    try:
        r.wait_for(lambda: len(r.ready_files()) >= 2, 15, "two workers")
        time.sleep(0.3)
        os.kill(r.pid, signal.SIGSTOP)
        time.sleep(stall_s)
        t_cont = time.monotonic_ns()            # CLOCK_MONOTONIC, as PHP's hrtime(true)
        os.kill(r.pid, signal.SIGCONT)
        time.sleep(max(after_s, 3 * stall_s * RT_INTERVAL_NS / interval_ns))
    finally:
        r.stop()
    rows, _ = r.samples()
    after = sorted((x[2], x[1]) for x in rows if x[2] >= t_cont)     # (received, lateness)
    drain = []
    for at, late in after:
        if late < 1_000_000:
            break                               # the queue has run dry: the drain is over
        drain.append(at)
    span = (drain[-1] - drain[0]) / 1e9 if len(drain) > 1 else float("nan")
    return {"backlog_ticks": len(drain), "span_s": span, "per_s": (len(drain) - 1) / span,
            "stall_s": stall_s, "drained": len(drain) < len(after)}


def m_wakeup_floor(args, mode, interval_ns, ticks):
    """The wake-up floor (bench/wakeup.rs): one plain Rust process returning to each due
    instant of a grid, by one sleep (`sleep`) or the extension's own sleep-then-spin (`spin`),
    no PHP, no pool. A tail here is the host's, beyond what any ticker on it can hide."""
    out = subprocess.run([args.wakeup, str(interval_ns // 1000), str(ticks), mode], capture_output=True,
                         text=True, check=True, timeout=ticks * interval_ns / 1e9 * 5 + 30).stdout
    return json.loads(out)


def m_floor(args, pad, seconds):
    """The floor (bench/floor.rs): a master and two workers in plain Rust passing the same
    frames over socket pairs, no PHP. No design with a process per worker beats it here."""
    out = subprocess.run([args.floor, str(pad), str(seconds), "2"], capture_output=True,
                         text=True, check=True, timeout=seconds * 5 + 30).stdout
    return json.loads(out)


# ------------------------------------------------------------------------------------------
# 3. worker replacement


def m_replacement(args, system, kills):
    r = Run(args, system, 1_000_000, workers=1, ready=True)
    times, pids = [], []
    try:
        first = r.wait_for(r.ready_files, 10, "the first worker")
        pid = next(iter(first))
        pids.append(pid)
        for _ in range(kills):
            time.sleep(0.2)
            before = set(r.ready_files())
            t0 = time.monotonic_ns()        # CLOCK_MONOTONIC, the clock of PHP's hrtime(true)
            os.kill(pid, signal.SIGKILL)
            new = r.wait_for(lambda: {p: v for p, v in r.ready_files().items() if p not in before},
                             10, "a replacement worker's first tick")
            pid, (t1, _tick) = next(iter(new.items()))
            pids.append(pid)
            times.append((t1 - t0) / 1e6)
    finally:
        r.stop()
    return {"ms": times, "median_ms": statistics.median(times), "max_ms": max(times), "pids": pids}


# ------------------------------------------------------------------------------------------
# 4. idle master CPU; 5. memory


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])        # utime + stime (fields 14, 15)


def sched_ns(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            total += int(f.read().split()[0])
    return total


def m_idle_cpu(args, seconds):
    """Both systems at once (they sleep almost all the time), 1 s interval, 2 workers."""
    runs = {s: Run(args, s, 1_000_000_000, workers=2, ready=True) for s in SYSTEMS}
    out = {}
    try:
        for r in runs.values():
            r.wait_for(lambda: len(r.ready_files()) >= 1, 15, "the first tick")
        start = {s: (time.monotonic(), cpu_ticks(r.pid), sched_ns(r.pid)) for s, r in runs.items()}
        time.sleep(seconds)
        for s, r in runs.items():
            t0, c0, n0 = start[s]
            wall = time.monotonic() - t0
            c1, n1 = cpu_ticks(r.pid), sched_ns(r.pid)
            out[s] = {"seconds": wall, "cpu_pct": 100.0 * (c1 - c0) / CLK_TCK / wall,
                      "cpu_ms": 1000.0 * (c1 - c0) / CLK_TCK,
                      "sched_cpu_pct": 100.0 * (n1 - n0) / 1e9 / wall}
    finally:
        for r in runs.values():
            r.stop()
    return out


def smaps(pid):
    v = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[-1] == "kB":
                v[parts[0].rstrip(":")] = int(parts[1])
    return {"rss_kb": v["Rss"], "pss_kb": v["Pss"],
            "uss_kb": v.get("Private_Clean", 0) + v.get("Private_Dirty", 0)}


def m_memory(args, system, boot_mb):
    r = Run(args, system, 100_000_000, workers=2, boot_mb=boot_mb, ready=True)
    try:
        # The ticker hands every tick to the worker idle since last, so at 100 ms one worker
        # handles them all: the pool's workers are measured once the first tick was handled.
        r.wait_for(r.ready_files, 20, "the first tick")
        time.sleep(0.5)                                  # a few more ticks
        master = smaps(r.pid)
        workers = [smaps(p) for p in sorted(children(r.pid))]
        with open(os.path.join(r.dir, "master.txt")) as f:
            php_mem = int(f.read().split()[1])
    finally:
        r.stop()
    return {
        "master_rss_mb": master["rss_kb"] / 1024, "master_pss_mb": master["pss_kb"] / 1024,
        "master_uss_mb": master["uss_kb"] / 1024, "php_memory_usage_mb": php_mem / 2**20,
        "worker_uss_mb": statistics.mean(w["uss_kb"] for w in workers) / 1024,
        "worker_pss_mb": statistics.mean(w["pss_kb"] for w in workers) / 1024,
        "worker_rss_mb": statistics.mean(w["rss_kb"] for w in workers) / 1024,
    }


# ------------------------------------------------------------------------------------------
# 6. one process: the FFI ticker against usleep() and hrtime() busy-waiting


def m_ffi(args, mode, interval_ns, ticks):
    """bench/ffi.php in one mode: lateness of every tick (hrtime(true) when the handler runs,
    minus the due instant), delivered ÷ due, and the process's CPU share."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TICKER_", "BENCH_"))}
    env.update(BENCH_MODE=mode, BENCH_INTERVAL_NS=str(interval_ns), BENCH_TICKS=str(ticks), TICKER_LIB=args.lib)
    done = subprocess.run([args.php, os.path.join(BENCH, "ffi.php")], env=env, capture_output=True, text=True,
                          timeout=ticks * interval_ns / 1e9 * 3 + 30)
    if done.returncode != 0:
        raise RuntimeError(f"bench/ffi.php ({mode}) failed with status {done.returncode}: {done.stderr.strip()}")
    out = json.loads(done.stdout)
    late = sorted(out["late_ns"])
    return {
        "due": ticks, "handled": out["handled"], "skipped": out["skipped"], "delivered_ratio": out["handled"] / ticks,
        "p50_us": pct(late, 50) / 1e3, "p99_us": pct(late, 99) / 1e3, "max_us": late[-1] / 1e3,
        "cpu_pct": 100.0 * out["cpu_ns"] / out["wall_ns"],
        "cpu_us_per_tick": out["cpu_ns"] / 1e3 / ticks,
    }


# ------------------------------------------------------------------------------------------
# 7. scaling: the pool from 2 to 500 workers

SCALING_INTERVALS = (("10ms", 10_000_000), ("1ms", 1_000_000))
# pool.supervisor for the limits run: every limit that the watch_tick round checks.
SCALING_LIMITS = ("watch_tick: 1s", "ttl: 1h", "idle_ttl: 1h", "max_worker_memory: 512")
# PHP's own switch for its heap on transparent huge pages: fewer page-table entries to copy at
# each fork and to tear down at each exit. Unset in every other run.
HUGE_PAGES = "USE_ZEND_ALLOC_HUGE_PAGES"


def children(pid):
    """The pids of a process's children: the master's workers."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return {int(p) for p in f.read().split()}
    except OSError:
        return set()


def m_scaling(args, system, workers, interval_ns, prof, boot_mb, window_s, php_env=None, supervisor=None):
    """One pool of `workers` ticking every `interval_ns`, watched from outside: the time from
    the booted application to tick 0; over a steady window, the lateness of every tick due
    in it and the master's CPU; the master's RSS; and the time from SIGTERM to the master's
    exit, every worker stopped."""
    r = Run(args, system, interval_ns, workers=workers, boot_mb=boot_mb, ready="first", destroy_timeout_s=60,
            php_env=php_env, supervisor=supervisor)
    try:
        _, first_at = r.wait_for(r.first_tick, 120, "tick 0")
        booted = r.booted()
        time.sleep(prof["settle_s"])
        # Reading hundreds of workers' /proc files takes this script tens of ms of a CPU: the
        # window of lateness starts after it, so that a big pool's ticks do not pay for it.
        tree0 = tree_snapshot(r.pid)
        t0, c0 = time.monotonic_ns(), sched_ns(r.pid)
        time.sleep(window_s)
        t1, c1 = time.monotonic_ns(), sched_ns(r.pid)
        tree1 = tree_snapshot(r.pid)
        rss_mb = smaps(r.pid)["rss_kb"] / 1024
        pool = len(children(r.pid))
        stop_s = r.terminate_timed(60)
    finally:
        r.stop()
    rows = r.by_worker()
    window = sorted((tick, late) for pid_rows in rows.values() for tick, late, at in pid_rows
                    if t0 <= at - late < t1)
    late = sorted(x[1] for x in window)
    numbers = {x[0] for x in window}
    if not late:
        raise RuntimeError(f"{system}: no tick due in the {window_s} s window; see {r.dir}/stderr.txt")
    return {
        "workers": workers, "pool_seen": pool, "boot_mb": boot_mb,
        "first_tick_s": (first_at - booted) / 1e9, "stop_s": stop_s,
        "master_cpu_pct": 100.0 * (c1 - c0) / (t1 - t0), "master_rss_mb": rss_mb,
        # Only over an unchanged pool: a worker gone takes its CPU out of the sum.
        "tree_us_per_tick": us_per_tick(tree1[1] - tree0[1], tree1[0] - tree0[0], interval_ns)
        if tree0[2] == tree1[2] else None,
        "ticks": len(late), "p50_us": pct(late, 50) / 1e3, "p99_us": pct(late, 99) / 1e3,
        "max_us": late[-1] / 1e3,
        "delivered_ratio": len(numbers) / (max(numbers) - min(numbers) + 1),
        "workers_used": sum(1 for p in rows.values() if any(t0 <= at - lt < t1 for _, lt, at in p)),
    }


def m_scaling_replacement(args, system, workers, prof, php_env=None):
    """A pool of `workers` at 1 ms: `kills` random workers SIGKILLed one at a time, and for
    each the time until its replacement handled its first tick (its ready file: a worker's
    figures die with it if it is the next victim). The replacement is the one worker that
    was not a child of the master before the kill, nor killed earlier."""
    r = Run(args, system, 1_000_000, workers=workers, boot_mb=prof["boot_mb"], ready=True,
            destroy_timeout_s=60, php_env=php_env)
    rng = random.Random(workers)
    times, unseen, killed = [], 0, set()
    try:
        r.wait_for(r.ready_files, 120, "the first tick")
        time.sleep(prof["settle_s"])
        for _ in range(prof["kills"]):
            before = children(r.pid)
            if not before:
                break
            victim = rng.choice(sorted(before))
            killed.add(victim)
            t0 = time.monotonic_ns()        # CLOCK_MONOTONIC, the clock of PHP's hrtime(true)
            os.kill(victim, signal.SIGKILL)
            try:
                new = r.wait_for(lambda: [t for t, _ in r.ready_files(skip=before | killed).values()],
                                 10, "a replacement worker's first tick")
                times.append((min(new) - t0) / 1e6)
            except RuntimeError as e:
                log(f"  {system}: {e}")
                unseen += 1
            time.sleep(prof["kill_gap_s"])
        r.terminate_timed(60)
    finally:
        r.stop()
    return {"ms": times, "unseen": unseen}


def scaling_window_s(prof, interval_ns):
    """The steady window at `interval_ns`: `window_s`, or longer, to hold `window_ticks` ticks."""
    return max(prof["window_s"], prof.get("window_ticks", 0) * interval_ns / 1e9)


def scaling_key(name, workers):
    return f"scaling_{name}_{workers}"


def run_scaling(args, prof, rep, order, rep_index):
    """One repetition of 7: every size at both intervals, the 200 MB start and stop, and
    measurement 1 at 1 ms for the 2-worker comparison."""
    for n in prof["sizes"]:
        for name, iv in SCALING_INTERVALS:
            for s in order:
                fig = m_scaling(args, s, n, iv, prof, prof["boot_mb"], window_s=scaling_window_s(prof, iv))
                rep[s][scaling_key(name, n)] = fig
                log(f"  {n:3} workers {name:>4} {s:9}: p50 {fig['p50_us']:7.1f} p99 {fig['p99_us']:7.1f} "
                    f"max {fig['max_us']:8.1f} µs, CPU {fig['master_cpu_pct']:5.2f} % "
                    f"(tree {fmt(fig['tree_us_per_tick'], 'us')}/tick), first tick "
                    f"{fig['first_tick_s']:.3f} s, stop {fig['stop_s']:.3f} s, RSS {fig['master_rss_mb']:.1f} MB, "
                    f"{fig['workers_used']} workers used")
        for s in order:
            fig = m_scaling_replacement(args, s, n, prof)
            rep[s][f"scaling_replacement_{n}"] = fig
            log(f"  {n:3} workers  1ms {s:9}: replacement {', '.join(f'{x:.2f}' for x in fig['ms'])} ms"
                + (f" ({fig['unseen']} not seen)" if fig["unseen"] else ""))
    for s in order:
        fig = m_scaling(args, s, prof["big_workers"], 10_000_000, prof, prof["big_boot_mb"], window_s=1.0)
        rep[s]["scaling_big"] = fig
        log(f"  {prof['big_workers']} workers, {prof['big_boot_mb']} MB app, {s:9}: first tick "
            f"{fig['first_tick_s']:.3f} s, stop {fig['stop_s']:.3f} s, master RSS {fig['master_rss_mb']:.0f} MB")
    for n in sorted({prof["sizes"][0], prof["sizes"][-1]}):
        for s in order:
            fig = m_scaling_replacement(args, s, n, prof, php_env={HUGE_PAGES: "1"})
            rep[s][f"scaling_replacement_huge_{n}"] = fig
            log(f"  {n:3} workers  1ms {s:9}, {HUGE_PAGES}=1: replacement "
                f"{', '.join(f'{x:.2f}' for x in fig['ms'])} ms" + (f" ({fig['unseen']} not seen)" if fig["unseen"] else ""))
    for s in order:
        fig = m_scaling(args, s, prof["big_workers"], 10_000_000, prof, prof["big_boot_mb"], window_s=1.0,
                        php_env={HUGE_PAGES: "1"})
        rep[s]["scaling_big_huge"] = fig
        log(f"  {prof['big_workers']} workers, {prof['big_boot_mb']} MB app, {HUGE_PAGES}=1, {s:9}: first tick "
            f"{fig['first_tick_s']:.3f} s, stop {fig['stop_s']:.3f} s, master RSS {fig['master_rss_mb']:.0f} MB")
    # The limits of pool.supervisor, checked every watch_tick (max_worker_memory reads each
    # worker's RSS): the largest pool at 1 ms, the ticker only (the baseline has no limits).
    fig = m_scaling(args, "ticker", prof["sizes"][-1], 1_000_000, prof, prof["boot_mb"],
                    window_s=scaling_window_s(prof, 1_000_000), supervisor=SCALING_LIMITS)
    rep["ticker"]["scaling_limits"] = fig
    log(f"  {prof['sizes'][-1]} workers  1ms ticker    with {', '.join(SCALING_LIMITS[1:])}: "
        f"p50 {fig['p50_us']:7.1f} p99 {fig['p99_us']:7.1f} max {fig['max_us']:8.1f} µs, "
        f"CPU {fig['master_cpu_pct']:5.2f} %")
    # The big pools' ends leave the kernel busy for a moment (freeing, page scanning): the
    # first run after them would pay for it. Then every system goes first in turn.
    time.sleep(prof["calm_s"])
    systems = order + (("reference",) if args.reference else ())
    turn = rep_index % len(systems)
    for s in systems[turn:] + systems[:turn]:
        fig, _ = m_lateness(args, s, 1_000_000, prof["lat1_ticks"])
        rep.setdefault(s, {})["lateness_1ms"] = fig
        log(f"  lateness   1ms {s:9}: p50 {fig['p50_us']:7.1f} p99 {fig['p99_us']:7.1f} "
            f"max {fig['max_us']:8.1f} µs, delivered {fig['delivered']}/{fig['due']} (measurement 1)")


def scaling_medians(reps, prof, systems):
    med = {}
    for s in systems:
        m = med[s] = {}
        for name, _ in SCALING_INTERVALS:
            for n in prof["sizes"]:
                k = scaling_key(name, n)
                m[k] = {f: median_of([r.get(s, {}) for r in reps], k, f)
                        for f in ("p50_us", "p99_us", "max_us", "master_cpu_pct", "tree_us_per_tick",
                                  "master_rss_mb", "first_tick_s", "stop_s", "delivered_ratio",
                                  "workers_used")}
                if name != "1ms":
                    continue
                for kind, key in (("", "replacement"), ("huge_", "replacement_huge")):
                    kills = [r.get(s, {}).get(f"scaling_replacement_{kind}{n}", {}) for r in reps]
                    times = [x for kill in kills for x in kill.get("ms", [])]
                    m[k][f"{key}_ms"] = statistics.median(times) if times else None
                    m[k][f"{key}_max_ms"] = max(times) if times else None
                    m[k][f"{key}_unseen"] = sum(kill.get("unseen", 0) for kill in kills)
        for big in ("scaling_big", "scaling_big_huge"):
            m[big] = {f: median_of([r.get(s, {}) for r in reps], big, f)
                      for f in ("first_tick_s", "stop_s", "master_rss_mb", "p50_us", "p99_us")}
        m["scaling_limits"] = {f: median_of([r.get(s, {}) for r in reps], "scaling_limits", f)
                               for f in ("p50_us", "p99_us", "max_us", "master_cpu_pct", "tree_us_per_tick",
                                         "delivered_ratio")}
        m["lateness_1ms"] = {f: median_of([r.get(s, {}) for r in reps], "lateness_1ms", f)
                             for f in ("p50_us", "p99_us", "max_us", "delivered_ratio", "tree_us_per_tick")}
    return med


# ------------------------------------------------------------------------------------------
# 8. named schedules: 1 to 10,000 in one pool

# The cron shape: each schedule runs at 12 seconds of its own in a minute, one in each five
# (so that no 10 s window misses a schedule's run in a minute it runs), and in every minute,
# the even ones or the odd ones (by its number): occurrences spread over every second.
CRON_MINUTES = ("*", "*/2", "1-59/2")


def cron_seconds(i):
    rng = random.Random(i)
    return [5 * k + rng.randrange(5) for k in range(12)]


def schedule_set(shape, n):
    """[(name, the ticker's YAML mapping, the baseline's cron expression)] of `n` schedules.

    every: `every: 1s, jitter: 1s` each: the timetable starts every interval one interval after
    the pool is up, each grid shifted by a phase of its own in [0, 1 s) hashed from its name,
    so their ticks spread over each second instead of falling due together. The baseline checks
    `* * * * * *` for each (Laravel's everySecond() is a minute's event repeated each second)
    and cannot stagger them: it looks at the clock once a second.
    cron: 6-field expressions with their own seconds and minutes (see cron_seconds and
    CRON_MINUTES), the same text for both systems; the ticker's with `jitter: 1s` too, each run
    moved by an offset of its own in [0, 1 s), since hundreds of them share each second.
    """
    if shape.startswith("rate"):
        return [("rate", f"{{every: {go_duration(rate_interval_ns(shape, n))}}}", None)]
    if shape.startswith("spread"):
        k, every = spread_of(shape, n)
        return [(f"s{i:05d}", f"{{every: {every}, jitter: {every}}}", None) for i in range(k)]
    out = []
    for i in range(n):
        name = f"s{i:05d}"
        if shape == "every":
            out.append((name, "{every: 1s, jitter: 1s}", "* * * * * *"))
        else:
            expr = f"{','.join(map(str, cron_seconds(i)))} {CRON_MINUTES[i % 3]} * * * *"
            out.append((name, f'{{cron: "{expr}", jitter: 1s}}', expr))
    return out


def rate_shape(shape):
    """The ticker-only comparator of `shape`'s largest count: one schedule ticking as often as
    all of them together, so that a figure that grows with the count is told apart from one
    that grows with the rate of ticks."""
    return f"rate-{shape}"


def rate_interval_ns(shape, n):
    """The interval of one schedule as frequent as `n` schedules of the shape `rate-<shape>`
    names: n per second (every), or the cron shape's average over two minutes, to the µs;
    None where that is under the shortest interval a schedule may have."""
    per_s = n if shape == "rate-every" else cron_due_count(n, 0, 120) / 120
    interval = round(1e9 / per_s / 1000) * 1000
    return interval if interval >= RT_INTERVAL_NS else None


# The every shape's largest count, as fewer schedules at the same rate and with the same
# random phases: k schedules, each every k/n s with a jitter of as much.
SPREAD_COUNTS = (10, 100, 1000)


def spread_shape(k):
    return f"spread-{k}"


def spread_interval_ns(shape, n):
    """The interval of each of the k schedules of `spread-<k>` standing in for `n` every-1s
    schedules."""
    return round(1e9 * int(shape.split("-")[1]) / n)


def spread_of(shape, n):
    """(k, the interval as Go writes it) of `spread-<k>` standing in for `n` every-1s schedules."""
    return int(shape.split("-")[1]), go_duration(spread_interval_ns(shape, n))


def cron_due_count(n, t0_unix, seconds):
    """How many runs of the cron shape's first `n` schedules fall in the `seconds` whole
    seconds of Unix time from `t0_unix` (a whole second)."""
    per = {(s, odd): 0 for s in range(60) for odd in (0, 1)}
    for i in range(n):
        for s in cron_seconds(i):
            for odd in (0, 1):
                if CRON_MINUTES[i % 3] == "*" or (CRON_MINUTES[i % 3] == "1-59/2") == bool(odd):
                    per[(s, odd)] += 1
    return sum(per[(u % 60, (u // 60) % 2)] for u in range(t0_unix, t0_unix + seconds))


def us_per_tick(cpu_ns, wall_ns, interval_ns):
    """CPU time per tick due over a stretch of wall time, in µs."""
    ticks = wall_ns / interval_ns
    return cpu_ns / 1e3 / ticks if ticks > 0 else None


def tree_snapshot(pid):
    """(instant, schedstat ns of the master and every worker, their pids), the instant taken
    halfway through the reads (hundreds of workers take a while to read)."""
    before = time.monotonic_ns()
    _, sched, pids = tree_cpu(pid)
    return (before + time.monotonic_ns()) // 2, sched, pids


def tree_cpu(pid):
    """(utime + stime in ns from /proc/<pid>/stat, the same from schedstat) of the master and
    each of its children, and the pids counted."""
    pids = [pid, *sorted(children(pid))]
    stat = sched = 0
    for p in pids:
        try:
            stat += cpu_ticks(p) * 1_000_000_000 // CLK_TCK
            sched += sched_ns(p)
        except (OSError, ValueError):
            pass
    return stat, sched, pids


def m_schedules(args, system, shape, n, prof):
    """A pool of 2 workers running `n` schedules of `shape`, watched from outside.

    Start: from the exec of PHP to the master's "ticking" line (the schedules read, the
    workers forked, the first runs computed), and to the first tick a worker received. Then,
    after `settle_s`, a window of `window_s` whole seconds whose ends fall half-way between two
    due seconds: every tick due in it is counted once, against the number due by the schedules'
    definitions (delivered ÷ due), with its lateness; the master's CPU and the whole tree's
    (master + workers) over the window, and per delivered tick, from each process's
    /proc/<pid>/schedstat (ns; /proc/<pid>/stat's utime + stime, in 10 ms units, is in the JSON
    as tree_cpu_pct, too coarse for the small counts); the master's RSS at the window's end."""
    r = Run(args, system, 1_000_000_000, workers=prof["workers"], schedules=schedule_set(shape, n))
    window = prof["window_s"]
    try:
        ready = r.wait_for(r.ready_unix, 120, "the master's ticking line")
        # What the start cost the master, whatever else the machine runs (read a few ms
        # after the line: the first ticks' cost is in it).
        start_cpu_s = sched_ns(r.pid) / 1e9
        # The window starts half-way between two of the baseline's due seconds (the wall
        # clock's whole seconds, its isDue() seconds), so that no tick sits on its edges. The
        # ticker's schedules all have `jitter: 1s`: its window starts on a whole second, and
        # a cron run, due in [u, u + 1 s) for its occurrence u, falls in it exactly when its
        # occurrence does; an interval has one run in any window of whole seconds, wherever
        # its phase puts it.
        edge = 0.5 if system == "baseline" else 0.0
        earliest = ready + prof["settle_s"]
        t0_unix = math.floor(earliest - edge) + 1 + edge
        off = time.time() - time.monotonic()
        time.sleep(max(0.0, t0_unix - off - time.monotonic()))
        c0 = (time.monotonic_ns(), sched_ns(r.pid), *tree_cpu(r.pid)[:2])
        time.sleep(max(0.0, t0_unix + window - off - time.monotonic()))
        c1 = (time.monotonic_ns(), sched_ns(r.pid), *tree_cpu(r.pid)[:2])
        tree = tree_cpu(r.pid)[2]
        rss_mb = smaps(r.pid)["rss_kb"] / 1024
    finally:
        r.stop()
    t0_mono = (t0_unix - off) * 1e9
    rows = [x for pid_rows in r.by_worker().values() for x in pid_rows]
    late = sorted(lt for _, lt, at in rows if t0_mono <= at - lt < t0_mono + window * 1e9)
    if shape == "every":
        due = n * window
    elif shape.startswith("spread"):
        k, _ = spread_of(shape, n)
        due = k * round(window * 1e9 / spread_interval_ns(shape, n))
    elif shape.startswith("rate"):
        due = round(window * 1e9 / rate_interval_ns(shape, n))
    else:
        due = cron_due_count(n, math.ceil(t0_unix), window)
    wall_ns = c1[0] - c0[0]
    delivered = len(late)
    return {
        "schedules": n, "shape": shape, "workers": len(tree) - 1,
        "start_ready_s": ready - r.exec_unix,
        "start_first_tick_s": (min(at for _, _, at in rows) - r.exec_mono) / 1e9 if rows else None,
        "start_cpu_s": start_cpu_s,
        "due": due, "delivered": delivered, "delivered_ratio": delivered / due if due else None,
        "ticks_per_s": delivered / window,
        "master_cpu_pct": 100.0 * (c1[1] - c0[1]) / wall_ns,
        "tree_cpu_pct": 100.0 * (c1[2] - c0[2]) / wall_ns,
        "tree_sched_cpu_pct": 100.0 * (c1[3] - c0[3]) / wall_ns,
        "master_us_per_tick": (c1[1] - c0[1]) / 1e3 / delivered if delivered else None,
        "tree_us_per_tick": (c1[3] - c0[3]) / 1e3 / delivered if delivered else None,
        "p50_us": pct(late, 50) / 1e3 if late else None, "p99_us": pct(late, 99) / 1e3 if late else None,
        "p999_us": pct(late, 99.9) / 1e3 if late else None, "max_us": late[-1] / 1e3 if late else None,
        "master_rss_mb": rss_mb,
    }


SCHEDULE_FIGURES = ("start_ready_s", "start_first_tick_s", "start_cpu_s", "due", "delivered", "delivered_ratio", "ticks_per_s",
                    "master_cpu_pct", "tree_cpu_pct", "tree_sched_cpu_pct", "master_us_per_tick",
                    "tree_us_per_tick", "p50_us", "p99_us", "p999_us", "max_us", "master_rss_mb")


def rate_shapes(prof):
    """The "as one" comparators of a run: one per shape, where one schedule can tick as often."""
    return [rate_shape(shape) for shape in prof["shapes"]
            if rate_interval_ns(rate_shape(shape), prof["counts"][-1]) is not None]


def spread_shapes(prof):
    """The spread comparators of a run: only for the every shape, and for counts under its largest."""
    big = prof["counts"][-1]
    return [spread_shape(k) for k in SPREAD_COUNTS if k < big] if "every" in prof["shapes"] else []


def schedules_key(shape, n):
    return f"schedules_{shape}_{n}"


def main_schedules(args, prof, tmp_root):
    def one_rep(rep, order, _i):
        for shape in prof["shapes"]:
            for n in prof["counts"]:
                for s in order:
                    fig = m_schedules(args, s, shape, n, prof)
                    rep[s][schedules_key(shape, n)] = fig
                    log(f"  {shape:5} {n:6} {s:8}: delivered {fig['delivered']}/{fig['due']}, "
                        f"p50 {fmt(fig['p50_us'], 'us')} p99 {fmt(fig['p99_us'], 'us')} "
                        f"max {fmt(fig['max_us'], 'us')}, master CPU {fig['master_cpu_pct']:.2f} % "
                        f"({fmt(fig['master_us_per_tick'], 'us')}/tick), tree {fig['tree_sched_cpu_pct']:.1f} %, "
                        f"RSS {fig['master_rss_mb']:.1f} MB, ticking after {fig['start_ready_s']:.3f} s")
        big = prof["counts"][-1]
        for shape in rate_shapes(prof):
            fig = m_schedules(args, "ticker", shape, big, prof)
            rep["ticker"][schedules_key(shape, big)] = fig
            log(f"  one schedule every {go_duration(rate_interval_ns(shape, big))} ({shape}) ticker: "
                f"delivered {fig['delivered']}/{fig['due']}, p50 {fmt(fig['p50_us'], 'us')} "
                f"p99 {fmt(fig['p99_us'], 'us')} max {fmt(fig['max_us'], 'us')}, "
                f"master CPU {fig['master_cpu_pct']:.2f} % ({fmt(fig['master_us_per_tick'], 'us')}/tick)")
        for shape in spread_shapes(prof):
            fig = m_schedules(args, "ticker", shape, big, prof)
            rep["ticker"][schedules_key(shape, big)] = fig
            k, every = spread_of(shape, big)
            log(f"  {k} schedules every {every}, jitter {every} ({shape}) ticker: "
                f"delivered {fig['delivered']}/{fig['due']}, p50 {fmt(fig['p50_us'], 'us')} "
                f"p99 {fmt(fig['p99_us'], 'us')} max {fmt(fig['max_us'], 'us')}, "
                f"master CPU {fig['master_cpu_pct']:.2f} % ({fmt(fig['master_us_per_tick'], 'us')}/tick)")

    reps, started, load_before = repeat(prof, one_rep)
    med = {s: {schedules_key(shape, n): {f: median_of([r[s] for r in reps], schedules_key(shape, n), f)
                                         for f in SCHEDULE_FIGURES}
               for shape in prof["shapes"] for n in prof["counts"]} for s in SYSTEMS}
    for shape in [*rate_shapes(prof), *spread_shapes(prof)]:
        key = schedules_key(shape, prof["counts"][-1])
        med["ticker"][key] = {f: median_of([r["ticker"] for r in reps], key, f) for f in SCHEDULE_FIGURES}
    record = run_record(args, "schedules", prof, started, load_before, med, reps)
    finish(args, tmp_root, record, schedules_summary(record))


# the start target: 10,000 cron schedules, exec to ticking
SCHEDULES_START_LIMIT_S = 1.0


def schedules_summary(rec):
    prof, med = rec["settings"], rec["medians"]
    counts, small = prof["counts"], prof["counts"][0]

    def per_schedule(s, shape, n):
        a, b = med[s][schedules_key(shape, n)]["master_rss_mb"], med[s][schedules_key(shape, small)]["master_rss_mb"]
        if n == small or a is None or b is None:
            return "–"
        return f"{(a - b) * 1024 * 1024 / (n - small):,.0f} B"

    def late(v):
        return fmt(v, "us") if v is None or v < 10_000 else f"{v / 1e3:,.0f} ms"

    def ticks_per_s(v):
        return "–" if v is None else f"{v:.1f}/s" if v < 10 else fmt(v, "rate")

    def growth(s, shape, n):
        a, b = (med[s][schedules_key(shape, m)]["master_us_per_tick"] for m in (n, small))
        return "–" if a is None or not b else f"{a / b:.2f}×"

    out = [headline(rec), "",
           f"8. Named schedules in one pool of {prof['workers']} workers, a {prof['window_s']} s window "
           f"{prof['settle_s']:.0f} s after the start. CPU per tick: the window's CPU over the ticks "
           f"delivered in it; \"÷ {small}\": that figure against the same shape's with {small} "
           f"schedule{'s' if small != 1 else ''}. Memory per schedule: (master RSS − RSS with {small}) ÷ the "
           "schedules added. Start: exec of PHP → the master ticking / → the first tick in a worker, "
           "and the master's CPU time when it was ticking.", "",
           "| shape | schedules | system | delivered ÷ due | ticks/s | master CPU | tree CPU | "
           "master CPU/tick | ÷ 1 | tree CPU/tick | lateness p50 | p99 | p99.9 | max | master RSS | "
           "per schedule | start → ticking | → first tick | master CPU to ticking |",
           "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    def row(shape, count, system, m, growth_cell, start_cells):
        """One line of the table; the comparators have no growth, memory or start cells."""
        return (f"| {shape} | {count} | {system} | {fmt(m['delivered_ratio'], 'ratio3')} | "
                f"{ticks_per_s(m['ticks_per_s'])} | {fmt(m['master_cpu_pct'], 'pct')} | "
                f"{fmt(m['tree_sched_cpu_pct'], 'pct')} | {fmt(m['master_us_per_tick'], 'us')} |"
                f"{f' {growth_cell} ' if growth_cell else ' '}| {fmt(m['tree_us_per_tick'], 'us')} | "
                f"{late(m['p50_us'])} | {late(m['p99_us'])} | {late(m['p999_us'])} | "
                f"{late(m['max_us'])} | {start_cells} |")

    for shape in prof["shapes"]:
        for n in counts:
            for s in SYSTEMS:
                m = med[s][schedules_key(shape, n)]
                out.append(row(shape, f"{n:,}", s, m, growth(s, shape, n),
                               f"{fmt(m['master_rss_mb'], 'mb')} | {per_schedule(s, shape, n)} | "
                               f"{fmt(m['start_ready_s'], 's')} | {fmt(m['start_first_tick_s'], 's')} | "
                               f"{fmt(m['start_cpu_s'], 's')}"))
        m = med["ticker"].get(schedules_key(rate_shape(shape), counts[-1]))
        if m:
            every = go_duration(rate_interval_ns(rate_shape(shape), counts[-1]))
            out.append(row(f"{shape}, as one", f"1, every {every}", "ticker", m, "", "| | | |"))
        for spread in (spread_shapes(prof) if shape == "every" else []):
            m = med["ticker"].get(schedules_key(spread, counts[-1]))
            if m:
                k, every = spread_of(spread, counts[-1])
                out.append(row(f"every, as {k:,}", f"{k:,}, every {every}, jitter {every}", "ticker", m, "",
                               "| | | |"))
    out.append("")
    notes = []
    if any(schedules_key(r, counts[-1]) in med["ticker"] for r in rate_shapes(prof)):
        notes.append(f"\"as one\": one schedule ticking as often as the {counts[-1]:,} of the shape together "
                     "(the ticker only), so that what grows with the number of schedules is told apart from "
                     "what grows with the rate of ticks.")
    if any(schedules_key(k, counts[-1]) in med["ticker"] for k in spread_shapes(prof)):
        notes.append(f"\"as k\": k schedules as frequent together as the {counts[-1]:,}, each with a jitter "
                     "of its interval, so as randomly phased (the ticker only).")
    if notes:
        out += [" ".join(notes), ""]
    out += ["Targets (the ticker's figures):", "", "| target | ticker | baseline | met? |", "|---|---|---|---|"]
    big = counts[-1]
    for shape in prof["shapes"]:
        if big == small:
            break
        # Against every smaller count m: within log₂(big / m) of m's figure.
        cells, oks = {}, []
        for s in SYSTEMS:
            parts = []
            for m in counts[:-1]:
                a, b = (med[s][schedules_key(shape, k)]["master_us_per_tick"] for k in (big, m))
                r = None if a is None or not b else a / b
                parts.append(f"÷ {m:,}: {fr(r)}")
                if s == "ticker":
                    oks.append(None if r is None else r <= max(1.0, math.log2(big / m)))
            cells[s] = ", ".join(parts)
        ok = None if None in oks else all(oks)
        bounds = ", ".join(f"{max(1.0, math.log2(big / m)):.1f}× of {m:,}" for m in counts[:-1])
        out.append(f"| {shape}: master CPU per tick at {big:,} schedules within log₂ of the ratio of counts "
                   f"({bounds}) | {cells['ticker']} | {cells['baseline']} | {met(ok)} |")
    for shape in prof["shapes"]:
        one = med["ticker"].get(schedules_key(rate_shape(shape), big))
        if big == small or not one:
            continue
        a, b = med["ticker"][schedules_key(shape, big)]["p99_us"], one["p99_us"]
        r = None if a is None or not b else a / b
        out.append(f"| {shape}: lateness p99 at {big:,} schedules within 1.5× of one schedule's at the same rate "
                   f"(every {go_duration(rate_interval_ns(rate_shape(shape), big))}) | {late(a)} against "
                   f"{late(b)} ({fr(r)}) | | {met(None if r is None else r <= 1.5)} |")
    spreads = [(spread, med["ticker"].get(schedules_key(spread, big))) for spread in spread_shapes(prof)]
    spreads = [(spread, m) for spread, m in spreads if m and m["p99_us"]]
    if spreads:
        a = med["ticker"][schedules_key("every", big)]["p99_us"]
        ratios = [(spread_of(spread, big)[0], m["p99_us"], None if a is None else a / m["p99_us"])
                  for spread, m in spreads]
        ok = None if any(r is None for _, _, r in ratios) else all(r <= 1.5 for _, _, r in ratios)
        out.append(f"| every: lateness p99 at {big:,} schedules within 1.5× of that of fewer schedules at the same "
                   f"rate and as randomly phased ({', '.join(f'{k:,}' for k, _, _ in ratios)}) | {late(a)} against "
                   + ", ".join(f"{late(b)} ({fr(r)})" for _, b, r in ratios) + f" | | {met(ok)} |")
    if "cron" in prof["shapes"]:
        t, b = (med[s][schedules_key("cron", big)]["start_ready_s"] for s in SYSTEMS)
        ok = None if t is None else t < SCHEDULES_START_LIMIT_S
        c = med["ticker"][schedules_key("cron", big)]["start_cpu_s"]
        out.append(f"| {big:,} cron schedules: exec → ticking under {SCHEDULES_START_LIMIT_S:.0f} s | "
                   f"{fmt(t, 's')} (master CPU {fmt(c, 's')}) | {fmt(b, 's')} | {met(ok)} |")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------
# the whole run


def median_of(reps, *path):
    vals = []
    for rep in reps:
        v = rep
        for k in path:
            v = v.get(k) if isinstance(v, dict) else None
            if v is None:
                break
        if v is not None:
            vals.append(v)
    return statistics.median(vals) if vals else None


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="a ~2 minute smoke run")
    ap.add_argument("--ffi", action="store_true",
                    help="only the one-process comparison: the FFI ticker, usleep() and hrtime() busy-waiting "
                         "at 1 ms (~2 minutes)")
    ap.add_argument("--scaling", action="store_true",
                    help="only the pool from 2 to 500 workers at 10 ms and 1 ms (~10 minutes)")
    ap.add_argument("--reference", help="with --scaling: another build of the extension, measured at 1 ms with "
                                        "2 workers beside this one (measurement 1), for a before/after")
    ap.add_argument("--sizes", help="with --scaling: comma-separated pool sizes (default 2,16,64,256,500)")
    ap.add_argument("--schedules", action="store_true",
                    help="only 1, 100 and 10,000 named schedules in one pool, every: 1s and cron, against a "
                         "PHP loop of isDue() checks (~3 minutes)")
    ap.add_argument("--counts", help="with --schedules: comma-separated schedule counts (default 1,100,10000)")
    ap.add_argument("--shapes", help="with --schedules: every, cron or both (default every,cron)")
    ap.add_argument("--window", type=int, help="with --schedules: seconds of the measured window (default 10)")
    ap.add_argument("--reps", type=int, help="repetitions of every measurement")
    ap.add_argument("--idle-seconds", type=float, help="length of the idle-CPU window")
    ap.add_argument("--only", default=MEASUREMENTS, help=f"comma-separated subset of {MEASUREMENTS}")
    ap.add_argument("--ext", default=os.path.join(ROOT, "target/release/libticker_php.so"))
    ap.add_argument("--php", default="php")
    ap.add_argument("--lib", default=os.path.join(ROOT, "target/release/libticker.so"),
                    help="the C library, for the FFI ticker")
    ap.add_argument("--wakeup", default=os.path.join(ROOT, "target/release/examples/wakeup_floor"),
                    help="the wake-up floor program (bench/wakeup.rs)")
    ap.add_argument("--floor", default=os.path.join(ROOT, "target/release/examples/roundtrip_floor"),
                    help="the floor program (bench/floor.rs)")
    ap.add_argument("--pause-damon", action="store_true",
                    help="switch the kernel's DAMON monitors off for the run and on again at its end "
                         "(root): their page sampling stalls a CPU for milliseconds every sample "
                         "interval, longer the more processes share a page")
    ap.add_argument("--results", default=RESULTS)
    ap.add_argument("--tmp", default=None, help="where each run's files go (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the per-run files")
    args = ap.parse_args()

    profile = ("ffi" if args.ffi else "scaling" if args.scaling else "schedules" if args.schedules
               else "quick" if args.quick else "full")
    prof = dict(PROFILES[profile])
    if args.reps:
        prof["reps"] = args.reps
    if args.idle_seconds:
        prof["idle_seconds"] = args.idle_seconds
    if args.sizes:
        prof["sizes"] = tuple(int(n) for n in args.sizes.split(","))
    if args.counts:
        prof["counts"] = tuple(int(n) for n in args.counts.split(","))
    if args.shapes:
        prof["shapes"] = tuple(args.shapes.split(","))
    if args.window:
        prof["window_s"] = args.window
    only = {"ffi"} if args.ffi else set(args.only.split(","))
    os.makedirs(args.results, exist_ok=True)
    tmp_root = tempfile.mkdtemp(prefix="ticker-bench-", dir=args.tmp)
    args.tmp = tmp_root
    args.damon = damon()    # as found, before --pause-damon switches any off
    args.kdamond_threads = kdamond_threads()
    with DamonPaused(args.pause_damon) as paused:
        args.damon_paused = paused.paused
        return measure(args, profile, prof, only, tmp_root)


def measure(args, profile, prof, only, tmp_root):
    """The run of `profile`, every measurement in `only`: its record, table and plot."""
    if profile == "scaling":
        return main_scaling(args, prof, tmp_root)
    if profile == "schedules":
        return main_schedules(args, prof, tmp_root)

    started = time.time()
    load_before = os.getloadavg()
    reps = []
    lat_samples = {f"{s}_{iv}": [] for s in SYSTEMS for iv in ("1ms", "10ms")}
    for i in range(prof["reps"]):
        order = SYSTEMS if i % 2 == 0 else SYSTEMS[::-1]    # alternate who goes first
        rep = {s: {} for s in SYSTEMS}
        rep["floor"] = {}
        log(f"repetition {i + 1}/{prof['reps']} (order: {', '.join(order)})")
        if "lateness" in only:
            for name, iv, ticks in (("10ms", 10_000_000, prof["lat10_ticks"]),
                                    ("1ms", 1_000_000, prof["lat1_ticks"])):
                for s in order:
                    fig, late = m_lateness(args, s, iv, ticks)
                    rep[s][f"lateness_{name}"] = fig
                    lat_samples[f"{s}_{name}"].extend(late)
                    log(f"  lateness {name:>4} {s:8}: p50 {fig['p50_us']:7.1f} p99 {fig['p99_us']:7.1f} "
                        f"max {fig['max_us']:8.1f} µs, delivered {fig['delivered']}/{fig['due']}")
                if name == "1ms":
                    for mode in WAKEUP_MODES:
                        fig = m_wakeup_floor(args, mode, iv, ticks)
                        rep["floor"][f"wakeup_{mode}"] = fig
                        log(f"  lateness {name:>4} floor {mode:5} (Rust, no PHP): p50 {fig['p50_us']:7.1f} "
                            f"p99 {fig['p99_us']:7.1f} p99.9 {fig['p999_us']:7.1f} max {fig['max_us']:8.1f} µs")
        if "roundtrips" in only:
            for name, pad in PADS.items():
                for s in order:
                    fig = m_saturated(args, s, pad, prof["stall_seconds"])
                    rep[s][f"roundtrips_{name}"] = fig
                    log(f"  round trips {name:>4} {s:8}: {fig['per_s']:8.0f}/s saturated "
                        f"({fig['backlog_ticks']} queued ticks in {fig['span_s']:.3f} s)")
                for s in order:
                    fig = m_saturated(args, s, pad, 3 * prof["stall_seconds"], interval_ns=1_000_000)
                    rep[s][f"roundtrips_1ms_{name}"] = fig
                    log(f"  round trips {name:>4} {s:8}: {fig['per_s']:8.0f}/s saturated, 1 ms ticks "
                        f"({fig['backlog_ticks']} queued ticks in {fig['span_s']:.3f} s)")
                for s in order:
                    fig = m_paced(args, s, pad, prof["rt_seconds"])
                    rep[s][f"paced_{name}"] = fig
                    log(f"  paced 100µs {name:>4} {s:8}: {fig['per_s']:8.0f}/s answered, "
                        f"delivered {fig['delivered_ratio']:.3f} of the ticks due")
                fig = m_paced(args, "baseline", pad, prof["unpaced_seconds"], interval_ns=0)
                rep["baseline"][f"roundtrips_unpaced_{name}"] = fig
                log(f"  round trips {name:>4} baseline unpaced: {fig['per_s']:8.0f}/s")
                fig = m_floor(args, pad, prof["unpaced_seconds"])
                rep["floor"][f"roundtrips_{name}"] = fig
                log(f"  round trips {name:>4} floor (Rust, no PHP): {fig['per_s']:8.0f}/s")
        if "replacement" in only:
            for s in order:
                fig = m_replacement(args, s, prof["kills"])
                rep[s]["replacement"] = fig
                log(f"  replacement {s:8}: median {fig['median_ms']:.2f} ms, max {fig['max_ms']:.2f} ms "
                    f"(pids {' -> '.join(map(str, fig['pids']))})")
        if "memory" in only:
            for s in order:
                fig = m_memory(args, s, prof["boot_mb"])
                rep[s]["memory"] = fig
                log(f"  memory {s:8}: master RSS {fig['master_rss_mb']:.1f} MB, worker USS "
                    f"{fig['worker_uss_mb']:.2f} MB, PSS {fig['worker_pss_mb']:.2f} MB")
        if "ffi" in only:
            for mode in FFI_MODES[i % 3:] + FFI_MODES[:i % 3]:      # rotate who goes first
                fig = m_ffi(args, mode, 1_000_000, prof["ffi_ticks"])
                rep.setdefault("ffi", {})[mode] = fig
                log(f"  one process, 1 ms, {mode:6}: p50 {fig['p50_us']:7.1f} p99 {fig['p99_us']:7.1f} "
                    f"max {fig['max_us']:8.1f} µs, CPU {fig['cpu_pct']:5.1f} %, "
                    f"handled {fig['handled']}/{fig['due']}")
        if "idle" in only:
            log(f"  idle CPU: both systems for {prof['idle_seconds']:.0f} s ...")
            figs = m_idle_cpu(args, prof["idle_seconds"])
            for s in SYSTEMS:
                rep[s]["idle"] = figs[s]
                log(f"  idle CPU {s:8}: {figs[s]['cpu_pct']:.4f} % (schedstat {figs[s]['sched_cpu_pct']:.4f} %)")
        reps.append(rep)

    med = {s: {} for s in SYSTEMS}
    keys = {
        "lat10_p50_us": ("lateness_10ms", "p50_us"), "lat10_p99_us": ("lateness_10ms", "p99_us"),
        "lat10_max_us": ("lateness_10ms", "max_us"), "lat10_delivered": ("lateness_10ms", "delivered_ratio"),
        "lat1_p50_us": ("lateness_1ms", "p50_us"), "lat1_p99_us": ("lateness_1ms", "p99_us"),
        "lat1_max_us": ("lateness_1ms", "max_us"), "lat1_delivered": ("lateness_1ms", "delivered_ratio"),
        "lat1_cpu_pct": ("lateness_1ms", "master_cpu_pct"), "lat10_cpu_pct": ("lateness_10ms", "master_cpu_pct"),
        "lat1_p999_us": ("lateness_1ms", "p999_us"), "lat10_p999_us": ("lateness_10ms", "p999_us"),
        "lat1_tree_us": ("lateness_1ms", "tree_us_per_tick"), "lat10_tree_us": ("lateness_10ms", "tree_us_per_tick"),
        "paced_1KB_cpu_pct": ("paced_1KB", "master_cpu_pct"),
        "rt_1ms_1KB_per_s": ("roundtrips_1ms_1KB", "per_s"),
        "rt_1ms_64KB_per_s": ("roundtrips_1ms_64KB", "per_s"),
        "rt_1KB_per_s": ("roundtrips_1KB", "per_s"), "rt_64KB_per_s": ("roundtrips_64KB", "per_s"),
        "paced_1KB_per_s": ("paced_1KB", "per_s"), "paced_64KB_per_s": ("paced_64KB", "per_s"),
        "paced_1KB_delivered": ("paced_1KB", "delivered_ratio"),
        "paced_64KB_delivered": ("paced_64KB", "delivered_ratio"),
        "rt_unpaced_1KB_per_s": ("roundtrips_unpaced_1KB", "per_s"),
        "rt_unpaced_64KB_per_s": ("roundtrips_unpaced_64KB", "per_s"),
        "replacement_ms": ("replacement", "median_ms"), "replacement_max_ms": ("replacement", "max_ms"),
        "idle_cpu_pct": ("idle", "cpu_pct"), "idle_sched_cpu_pct": ("idle", "sched_cpu_pct"),
        "master_rss_mb": ("memory", "master_rss_mb"), "worker_uss_mb": ("memory", "worker_uss_mb"),
        "worker_pss_mb": ("memory", "worker_pss_mb"), "php_memory_usage_mb": ("memory", "php_memory_usage_mb"),
    }
    for s in SYSTEMS:
        for k, path in keys.items():
            med[s][k] = median_of([r[s] for r in reps], *path)
    med["ffi"] = {m: {k: median_of([r.get("ffi", {}) for r in reps], m, k)
                      for k in ("p50_us", "p99_us", "max_us", "cpu_pct", "cpu_us_per_tick", "delivered_ratio")}
                for m in FFI_MODES}
    med["floor"] = {f"rt_{name}_per_s": median_of([r["floor"] for r in reps], f"roundtrips_{name}", "per_s")
                    for name in PADS}
    for mode in WAKEUP_MODES:
        for k in ("p50_us", "p99_us", "p999_us", "max_us", "cpu_us_per_tick"):
            med["floor"][f"wakeup_{mode}_{k}"] = median_of([r["floor"] for r in reps], f"wakeup_{mode}", k)
    worst = {s: {k: min((r[s][p]["delivered_ratio"] for r in reps if p in r[s]), default=None)
                 for k, p in (("lat10_delivered", "lateness_10ms"), ("lat1_delivered", "lateness_1ms"))}
             for s in SYSTEMS}

    record = {
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "profile": profile, "settings": prof,
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                    "php": subprocess.run([args.php, "-r", "echo PHP_VERSION;"], capture_output=True,
                                          text=True).stdout,
                    "damon": args.damon, "damon_paused": args.damon_paused,
                    "kdamond_threads": args.kdamond_threads,
                    "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "git": git_info(), "duration_s": round(time.time() - started, 1),
        "medians": med, "worst_delivered": worst, "reps": reps,
    }
    with open(os.path.join(args.results, "runs.jsonl"), "a") as f:
        f.write(json.dumps(record, separators=(",", ":")) + "\n")

    parts = []
    if only - {"ffi"}:
        parts.append(summary(record))
    if "ffi" in only:
        parts.append(ffi_summary(record, standalone=not parts))
    table = "\n".join(parts)
    with open(os.path.join(args.results, "summary.md"), "w") as f:
        f.write(table)
    print(table)
    if "lateness" in only:
        plot(lat_samples, record, os.path.join(args.results, "lateness.png"))
        print(f"plot: {os.path.relpath(os.path.join(args.results, 'lateness.png'))}")
    if not args.keep:
        subprocess.run(["rm", "-rf", tmp_root])
    else:
        log(f"per-run files kept in {tmp_root}")


def main_scaling(args, prof, tmp_root):
    reps, started, load_before = repeat(prof, lambda rep, order, i: run_scaling(args, prof, rep, order, i))
    systems = SYSTEMS + (("reference",) if args.reference else ())
    record = run_record(args, "scaling", prof, started, load_before, scaling_medians(reps, prof, systems), reps,
                        reference=args.reference, transparent_hugepage=transparent_hugepage())
    finish(args, tmp_root, record, scaling_summary(record),
           plot=lambda path: plot_scaling(record, path), plot_name="scaling.png")


def repeat(prof, one_rep):
    """Runs `one_rep(rep, order, i)` `prof["reps"]` times, the systems' order alternating;
    returns the repetitions' figures, the start time and the load average before."""
    started = time.time()
    load_before = os.getloadavg()
    reps = []
    for i in range(prof["reps"]):
        order = SYSTEMS if i % 2 == 0 else SYSTEMS[::-1]
        rep = {s: {} for s in SYSTEMS}
        log(f"repetition {i + 1}/{prof['reps']} (order: {', '.join(order)}), load {os.getloadavg()[0]:.2f}")
        one_rep(rep, order, i)
        reps.append(rep)
    return reps, started, load_before


def run_record(args, profile, prof, started, load_before, medians, reps, reference=None, **machine):
    """The JSON line of one run: settings, machine (and `machine`'s extra keys), commit, figures."""
    record = {
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "profile": profile, "settings": prof,
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                    "php": subprocess.run([args.php, "-r", "echo PHP_VERSION;"], capture_output=True,
                                          text=True).stdout,
                    **machine, "damon": args.damon, "damon_paused": args.damon_paused,
                    "kdamond_threads": args.kdamond_threads,
                    "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "git": git_info(), "duration_s": round(time.time() - started, 1),
        "medians": medians, "reps": reps,
    }
    if reference is not None:
        record["reference"] = reference
    return record


def finish(args, tmp_root, record, table, plot=None, plot_name=None):
    """Appends the record to runs.jsonl, writes and prints the table, draws the plot, and
    removes the per-run files unless --keep."""
    with open(os.path.join(args.results, "runs.jsonl"), "a") as f:
        f.write(json.dumps(record, separators=(",", ":")) + "\n")
    with open(os.path.join(args.results, "summary.md"), "w") as f:
        f.write(table)
    print(table)
    if plot:
        path = os.path.join(args.results, plot_name)
        plot(path)
        print(f"plot: {os.path.relpath(path)}")
    if not args.keep:
        subprocess.run(["rm", "-rf", tmp_root])
    else:
        log(f"per-run files kept in {tmp_root}")


DAMON_KDAMONDS = "/sys/kernel/mm/damon/admin/kdamonds"


def damon():
    """The kernel's DAMON monitors that are on ([{"kdamond", "ops", "sample_us", "actions"}]):
    a physical-address monitor samples pages every sample_us and, for each, walks every
    mapping of it (a page shared by N forked workers, N times), on a kernel with
    PREEMPT_NONE without giving its CPU up. Empty when there is none, or no sysfs to tell."""
    found = []
    try:
        names = sorted(n for n in os.listdir(DAMON_KDAMONDS) if n.isdigit())
    except OSError:
        return found
    for name in names:
        d = os.path.join(DAMON_KDAMONDS, name)

        def read(rel):
            try:
                with open(os.path.join(d, rel)) as f:
                    return f.read().strip()
            except OSError:
                return None
        if read("state") != "on":
            continue
        ctx = "contexts/0"
        sample = read(f"{ctx}/monitoring_attrs/intervals/sample_us")
        schemes = [read(f"{ctx}/schemes/{i}/action") for i in range(int(read(f"{ctx}/schemes/nr_schemes") or 0))]
        found.append({"kdamond": name, "ops": read(f"{ctx}/operations"),
                      "sample_us": int(sample) if sample and sample.isdigit() else None, "actions": schemes})
    return found


def kdamond_threads():
    """The names of the kernel's DAMON threads (kthreadd's children named kdamond.N), which
    any user may see where DAMON's settings are root's to read."""
    try:
        with open("/proc/2/task/2/children") as f:
            pids = f.read().split()
    except OSError:
        return []
    names = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue
        if name.startswith("kdamond"):
            names.append(name)
    return names


class DamonPaused:
    """`--pause-damon`: the DAMON monitors that are on are switched off for the run and on
    again at its end, on an exception, Ctrl-C, SIGTERM or SIGHUP (not on SIGKILL: then
    `echo on > .../kdamonds/N/state` as root, which the start's line names). Needs root."""

    RESTORE_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)

    def __init__(self, enabled):
        self.enabled = enabled
        self.paused = []        # the kdamonds switched off so far, each switched on again

    def _state(self, name):
        return os.path.join(DAMON_KDAMONDS, name, "state")

    def __enter__(self):
        if not self.enabled:
            return self
        found = [m["kdamond"] for m in damon()]
        if not found:
            if kdamond_threads():
                sys.exit("bench: --pause-damon: DAMON runs here but its settings are root's to switch; "
                         "run as root, or without --pause-damon")
            log("DAMON: --pause-damon: no DAMON monitor is on; nothing to pause")
            return self
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda num, _: sys.exit(128 + num))
        try:
            for name in found:
                with open(self._state(name), "w") as f:
                    f.write("off")
                self.paused.append(name)
        except BaseException:
            self.__exit__()
            raise
        log(f"DAMON: kdamond {', '.join(self.paused)} off for this run (--pause-damon); should this "
            f"run be killed, `echo on > {' '.join(map(self._state, self.paused))}` switches it on")
        return self

    def __exit__(self, *exc):
        if not self.paused:
            return False
        # A second signal must not cut the restore short.
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in self.RESTORE_SIGNALS}
        try:
            for name in self.paused:
                with open(self._state(name), "w") as f:
                    f.write("on")
            log(f"DAMON: kdamond {', '.join(self.paused)} on again")
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return False


def transparent_hugepage():
    """The kernel's THP mode ("always [madvise] never"): USE_ZEND_ALLOC_HUGE_PAGES needs madvise or always."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return f.read().strip()
    except OSError:
        return None


def git_info():
    def g(*a):
        return subprocess.run(["git", "-C", ROOT, *a], capture_output=True, text=True).stdout.strip()
    return {"commit": g("rev-parse", "--short", "HEAD"), "dirty": bool(g("status", "--porcelain", "--", "src"))}


# ------------------------------------------------------------------------------------------
# the table


def fmt(v, kind):
    if v is None:
        return "–"
    if kind == "us":
        return f"{v:.0f} µs" if v >= 100 else f"{v:.1f} µs"
    if kind == "ratio3":
        return f"{v:.3f}"
    if kind == "rate":
        return f"{v:,.0f}/s"
    if kind == "ms":
        return f"{v:.2f} ms"
    if kind == "pct":
        return f"{v:.3f} %" if v < 1 else f"{v:.1f} %"
    if kind == "mb":
        return f"{v:.1f} MB"
    if kind == "s":
        return f"{v:.3f} s" if v < 1 else f"{v:.2f} s"
    if kind == "int":
        return f"{v:.0f}"
    return str(v)


def met(cond):
    """A `met?` cell: yes, **no**, or – when the figure is missing."""
    return "–" if cond is None else ("yes" if cond else "**no**")


def fr(v):
    """A ratio cell."""
    return "–" if v is None else f"{v:.2f}×"


def headline(rec):
    s = rec["settings"]
    return (f"Ticker benchmark, {rec['time']}, commit {rec['git']['commit']}"
            f"{' (src modified)' if rec['git']['dirty'] else ''}, {rec['profile']} profile: "
            f"medians of {s['reps']} repetitions, {rec['machine']['cpus']} CPUs, "
            f"load {rec['machine']['loadavg_before'][0]:.2f} before / {rec['machine']['loadavg_after'][0]:.2f} after; "
            f"{damon_line(rec['machine'])}.")


def damon_line(machine):
    """The host's page sampler, as the headline says it: it stalls a CPU every sample_us."""
    if "damon" not in machine:
        return "DAMON not recorded"
    if machine.get("damon_paused"):
        paused = machine["damon_paused"]
        names = ", ".join(paused) if isinstance(paused, list) else "?"
        return f"DAMON paused for the run (--pause-damon: kdamond {names})"
    monitors = machine.get("damon") or []
    if not monitors:
        threads = machine.get("kdamond_threads")
        return (f"DAMON runs ({', '.join(threads)}; its settings are root's to read)" if threads
                else "no DAMON monitor on")

    def one(m):
        sample = f", sampling every {m['sample_us'] / 1000:g} ms" if m.get("sample_us") else ""
        return f"kdamond {m['kdamond']}: {m['ops']}{sample}, {', '.join(a for a in m['actions'] if a) or 'no scheme'}"
    return "DAMON on (" + "; ".join(map(one, monitors)) + ")"


def ffi_summary(rec, standalone):
    """6: one PHP process ticking at 1 ms three ways; ratios against usleep(), what PHP code does."""
    m = rec["medians"]["ffi"]
    f, u, sp = m["ffi"], m["usleep"], m["spin"]

    def ratio(k):
        return "–" if f.get(k) is None or not u.get(k) else f"{f[k] / u[k]:.2f}×"

    rows = [("lateness p50", "p50_us", "us"), ("lateness p99", "p99_us", "us"), ("lateness max", "max_us", "us"),
            ("delivered ÷ due", "delivered_ratio", "ratio3"), ("CPU of the process", "cpu_pct", "pct"),
            ("CPU per tick due", "cpu_us_per_tick", "us")]
    out = [headline(rec), ""] if standalone else []
    out += [f"6. One PHP process, ticks every 1 ms ({rec['settings']['ffi_ticks']} per run), no pool:",
            "",
            "| measurement | FFI ticker | usleep() | hrtime() busy-wait | FFI ÷ usleep() |",
            "|---|---:|---:|---:|---:|"]
    for label, k, kind in rows:
        out.append(f"| {label} | {fmt(f.get(k), kind)} | {fmt(u.get(k), kind)} | {fmt(sp.get(k), kind)} | {ratio(k)} |")
    return "\n".join(out) + "\n"


def summary(rec):
    t, b = rec["medians"]["ticker"], rec["medians"]["baseline"]
    w = rec["worst_delivered"]

    def ratio(k):
        if t.get(k) is None or b.get(k) in (None, 0):
            return "–"
        return f"{t[k] / b[k]:.2f}×"

    def safe(f):
        try:
            return f()
        except TypeError:
            return None

    rows = [
        # label, key, kind, target text, met
        ("1. lateness p50 at 10 ms", "lat10_p50_us", "us", "", None),
        ("1. lateness p99 at 10 ms", "lat10_p99_us", "us", "", None),
        ("1. lateness p99.9 at 10 ms", "lat10_p999_us", "us", "", None),
        ("1. lateness max at 10 ms", "lat10_max_us", "us", "", None),
        ("1. delivered ÷ due at 10 ms", "lat10_delivered", "ratio3", "1.000",
         safe(lambda: t["lat10_delivered"] >= 1.0)),
        ("1. lateness p50 at 1 ms", "lat1_p50_us", "us", "≤ 50 µs", safe(lambda: t["lat1_p50_us"] <= 50)),
        ("1. lateness p99 at 1 ms", "lat1_p99_us", "us", "≤ 250 µs and ≤ ½ baseline",
         safe(lambda: t["lat1_p99_us"] <= 250 and t["lat1_p99_us"] * 2 <= b["lat1_p99_us"])),
        ("1. lateness p99.9 at 1 ms", "lat1_p999_us", "us", "≤ 50 µs", safe(lambda: t["lat1_p999_us"] <= 50)),
        ("1. lateness max at 1 ms", "lat1_max_us", "us", "", None),
        ("1. delivered ÷ due at 1 ms", "lat1_delivered", "ratio3", "1.000",
         safe(lambda: t["lat1_delivered"] >= 1.0)),
        ("1. master CPU while ticking at 10 ms", "lat10_cpu_pct", "pct", "", None),
        ("1. master CPU while ticking at 1 ms", "lat1_cpu_pct", "pct", "", None),
        ("1. CPU per tick, master + workers, at 10 ms", "lat10_tree_us", "us", "≤ baseline",
         safe(lambda: t["lat10_tree_us"] <= b["lat10_tree_us"])),
        ("1. CPU per tick, master + workers, at 1 ms", "lat1_tree_us", "us", "≤ baseline",
         safe(lambda: t["lat1_tree_us"] <= b["lat1_tree_us"])),
        ("2. round trips/s, 1 KB answers (saturated pool)", "rt_1KB_per_s", "rate", "", None),
        ("2. round trips/s, 64 KB answers (saturated pool)", "rt_64KB_per_s", "rate", "", None),
        ("2. round trips/s, 1 KB, saturated, 1 ms ticks", "rt_1ms_1KB_per_s", "rate", "", None),
        ("2. round trips/s, 64 KB, saturated, 1 ms ticks", "rt_1ms_64KB_per_s", "rate", "", None),
        ("2. answered/s, 1 KB, ticks every 100 µs", "paced_1KB_per_s", "rate", "", None),
        ("2. delivered ÷ due, 1 KB, ticks every 100 µs", "paced_1KB_delivered", "ratio3", "", None),
        ("2. master CPU, 1 KB, ticks every 100 µs", "paced_1KB_cpu_pct", "pct", "", None),
        ("2. answered/s, 64 KB, ticks every 100 µs", "paced_64KB_per_s", "rate", "", None),
        ("2. delivered ÷ due, 64 KB, ticks every 100 µs", "paced_64KB_delivered", "ratio3", "", None),
        ("3. worker replacement (SIGKILL → next tick)", "replacement_ms", "ms", "< 5 ms",
         safe(lambda: t["replacement_ms"] < 5)),
        ("3. worker replacement, worst", "replacement_max_ms", "ms", "", None),
        ("4. idle master CPU at 1 s (utime+stime)", "idle_cpu_pct", "pct", "< 0.1 %",
         safe(lambda: t["idle_cpu_pct"] < 0.1)),
        ("4. idle master CPU at 1 s (schedstat)", "idle_sched_cpu_pct", "pct", "", None),
        ("5. master RSS (20 MB app)", "master_rss_mb", "mb", "", None),
        ("5. worker USS (private)", "worker_uss_mb", "mb", "", None),
        ("5. worker PSS", "worker_pss_mb", "mb", "", None),
    ]
    out = [headline(rec),
           "",
           "| measurement | ticker | baseline | ticker ÷ baseline | target | met? |",
           "|---|---:|---:|---:|---|---|"]
    for label, k, kind, target, ok in rows:
        if t.get(k) is None and b.get(k) is None:
            continue
        out.append(f"| {label} | {fmt(t.get(k), kind)} | {fmt(b.get(k), kind)} | {ratio(k)} | {target} | "
                   f"{met(ok) if target else ''} |")
    out.append("")
    notes = []
    if w["ticker"].get("lat1_delivered") is not None:
        notes.append("Worst repetition, delivered ÷ due: ticker "
                     f"{w['ticker']['lat10_delivered']:.3f} (10 ms) / {w['ticker']['lat1_delivered']:.3f} (1 ms), "
                     f"baseline {w['baseline']['lat10_delivered']:.3f} / {w['baseline']['lat1_delivered']:.3f}.")
    if b.get("rt_unpaced_1KB_per_s"):
        notes.append("The baseline as a pure ping-pong (no timer, no queue: the next tick as soon as a "
                     "worker answers; the extension has no such mode): "
                     f"{b['rt_unpaced_1KB_per_s']:,.0f}/s with 1 KB answers, "
                     f"{b['rt_unpaced_64KB_per_s']:,.0f}/s with 64 KB. "
                     "Ticks every 100 µs (the shortest interval) cap both systems at 10,000/s.")
    f = rec["medians"].get("floor", {})
    if f.get("rt_1KB_per_s") and b.get("rt_1KB_per_s") and t.get("rt_1KB_per_s"):
        notes.append("The floor: a master and two workers in plain Rust passing the same frames over "
                     "socket pairs, with no PHP at all (`bench/floor.rs`): "
                     f"{f['rt_1KB_per_s']:,.0f}/s with 1 KB answers, {f['rt_64KB_per_s']:,.0f}/s with 64 KB. "
                     "That is the extension's own master and channels with workers that cost nothing, "
                     "the most any PHP handler could get out of them here (at 1 KB a round trip's cost "
                     "is its two wake-ups, not its bytes). The saturated 1 KB rates are "
                     f"{t['rt_1KB_per_s'] / f['rt_1KB_per_s']:.0%} of it (ticker) and "
                     f"{b['rt_1KB_per_s'] / f['rt_1KB_per_s']:.0%} (baseline).")
    if f.get("wakeup_spin_p999_us") is not None:
        notes.append("The wake-up floor at 1 ms: one plain Rust process, no PHP and no pool, returning to "
                     "each due instant of the same number of ticks (`bench/wakeup.rs`). By one absolute "
                     f"sleep: p50 {f['wakeup_sleep_p50_us']:.1f}, p99 {f['wakeup_sleep_p99_us']:.1f}, "
                     f"p99.9 {f['wakeup_sleep_p999_us']:.1f}, max {f['wakeup_sleep_max_us']:.0f} µs; "
                     "by a worker's own sleep-then-spin: "
                     f"p50 {f['wakeup_spin_p50_us']:.1f}, p99 {f['wakeup_spin_p99_us']:.1f}, "
                     f"p99.9 {f['wakeup_spin_p999_us']:.1f}, max {f['wakeup_spin_max_us']:.0f} µs "
                     f"({f['wakeup_spin_cpu_us_per_tick']:.1f} µs of CPU per tick, against "
                     f"{f['wakeup_sleep_cpu_us_per_tick']:.1f} µs sleeping). A tail the floor has is this "
                     "host's, not the ticker's.")
    if b.get("php_memory_usage_mb") is not None:
        notes.append(f"The app's PHP heap at boot (memory_get_usage): {t['php_memory_usage_mb']:.1f} MB (ticker), "
                     f"{b['php_memory_usage_mb']:.1f} MB (baseline).")
    out += notes
    return "\n".join(out) + "\n"


# the growth targets: at these sizes, p50, p99 and master CPU within this factor of 2 workers'
SCALING_LIMIT = 1.5
SCALING_TARGET_SIZES = (256, 500)
# measurement 1 at 1 ms "not worse" than the reference build: within this factor of its medians
REFERENCE_LIMIT = 1.2


def scaling_summary(rec):
    prof, med = rec["settings"], rec["medians"]
    t, b = med["ticker"], med["baseline"]
    sizes = prof["sizes"]
    small = sizes[0]

    def ratio(a, c):
        return None if a is None or not c else a / c

    def repl(m):
        if m.get("replacement_ms") is None:
            return "–" if not m.get("replacement_unseen") else f"none seen ({m['replacement_unseen']})"
        text = f"{m['replacement_ms']:.2f} / {m['replacement_max_ms']:.2f} ms"
        return text + (f" ({m['replacement_unseen']} not seen)" if m.get("replacement_unseen") else "")

    out = [headline(rec), "",
           f"7. The pool from {small} to {sizes[-1]} workers, a {prof['boot_mb']} MB application; lateness "
           f"(hrtime at waitPayload() return − due) and master CPU over "
           + ", ".join(f"{scaling_window_s(prof, iv):.0f} s at {name}" for name, iv in SCALING_INTERVALS)
           + " of steady ticking; replacement (1 ms, a run of its own): SIGKILL of a random worker → its "
           f"replacement's first tick, median / worst of {prof['kills']} kills in each of {prof['reps']} runs:", "",
           "| interval | workers | system | master CPU | tree CPU per tick | lateness p50 | p99 | max "
           "| delivered ÷ due | workers used | start → tick 0 | stop | replacement | master RSS |",
           "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, _ in SCALING_INTERVALS:
        for n in sizes:
            for s in SYSTEMS:
                m = med[s][scaling_key(name, n)]
                out.append(f"| {name[:-2]} ms | {n} | {s} | {fmt(m['master_cpu_pct'], 'pct')} | "
                           f"{fmt(m['tree_us_per_tick'], 'us')} | {fmt(m['p50_us'], 'us')} | {fmt(m['p99_us'], 'us')} | {fmt(m['max_us'], 'us')} | "
                           f"{fmt(m['delivered_ratio'], 'ratio3')} | {fmt(m['workers_used'], 'int')} | "
                           f"{fmt(m['first_tick_s'], 's')} | {fmt(m['stop_s'], 's')} | "
                           f"{repl(m) if name == '1ms' else ''} | {fmt(m['master_rss_mb'], 'mb')} |")
    lim = t.get("scaling_limits", {})
    if lim.get("p50_us") is not None:
        out.append(f"| 1 ms | {sizes[-1]}, `pool.supervisor` limits | ticker | {fmt(lim['master_cpu_pct'], 'pct')} | "
                   f"{fmt(lim['tree_us_per_tick'], 'us')} | {fmt(lim['p50_us'], 'us')} | {fmt(lim['p99_us'], 'us')} | {fmt(lim['max_us'], 'us')} | "
                   f"{fmt(lim['delivered_ratio'], 'ratio3')} | | | | | |")
    for big, how in (("scaling_big", ""), ("scaling_big_huge", f", `{HUGE_PAGES}=1`")):
        for s in SYSTEMS:
            m = med[s].get(big, {})
            out.append(f"| 10 ms | {prof['big_workers']}, {prof['big_boot_mb']} MB app{how} | {s} | | | "
                       f"{fmt(m.get('p50_us'), 'us')} | {fmt(m.get('p99_us'), 'us')} | | | | "
                       f"{fmt(m.get('first_tick_s'), 's')} | {fmt(m.get('stop_s'), 's')} | | "
                       f"{fmt(m.get('master_rss_mb'), 'mb')} |")
    out.append("")
    out.append("\"start → tick 0\" runs from the booted application's first waitPayload() to tick 0's "
               "return in a worker, and includes the interval: tick 0 is due one interval after the pool "
               "is up. \"stop\" is SIGTERM to the master's exit, every worker gone. \"workers used\": "
               "workers that handled a tick in the window. \"tree CPU per tick\": the CPU of the master "
               "and every worker (schedstat) over the window, per tick due in it.")
    out.append("")
    out.append(f"Transparent huge pages on this machine: `{rec['machine'].get('transparent_hugepage')}` "
               f"(`{HUGE_PAGES}=1` needs `madvise` or `always`).")
    out.append("")

    out += [f"Targets (the ticker's figures; ratios to the same run's {small}-worker figures):", "",
            "| target | ticker | baseline | met? |", "|---|---|---|---|"]
    for name, _ in SCALING_INTERVALS:
        for n in SCALING_TARGET_SIZES:
            if n not in sizes:
                continue
            cells, oks = {}, []
            for s in SYSTEMS:
                m, m2 = med[s][scaling_key(name, n)], med[s][scaling_key(name, small)]
                rs = [ratio(m[f], m2[f]) for f in ("p50_us", "p99_us", "master_cpu_pct")]
                cells[s] = f"p50 {fr(rs[0])}, p99 {fr(rs[1])}, CPU {fr(rs[2])}"
                if s == "ticker":
                    oks = rs
            ok = None if None in oks else all(r <= SCALING_LIMIT for r in oks)
            out.append(f"| {n} workers at {name[:-2]} ms: p50, p99 and master CPU within {SCALING_LIMIT}× of "
                       f"{small} workers | {cells['ticker']} | {cells['baseline']} | {met(ok)} |")
    for name, _ in SCALING_INTERVALS:
        tt, bt = (med[s][scaling_key(name, small)]["tree_us_per_tick"] for s in SYSTEMS)
        ok = None if tt is None or bt is None else tt <= bt
        out.append(f"| {small} workers at {name[:-2]} ms: the tree's CPU per tick (master and workers) at "
                   f"most the baseline's | {fmt(tt, 'us')} ({fr(ratio(tt, bt))}) | {fmt(bt, 'us')} | {met(ok)} |")
    if lim.get("p50_us") is not None:
        plain = t[scaling_key("1ms", sizes[-1])]
        rs = [ratio(lim[f], plain[f]) for f in ("p99_us", "master_cpu_pct")]
        ok = None if None in rs else all(r <= SCALING_LIMIT for r in rs)
        out.append(f"| {sizes[-1]} workers at 1 ms with `pool.supervisor` limits ({', '.join(SCALING_LIMITS)}): "
                   f"p99 and master CPU within {SCALING_LIMIT}× of the same pool without them | "
                   f"p99 {fr(rs[0])}, CPU {fr(rs[1])} | | {met(ok)} |")
    for big, how in (("scaling_big", ""), ("scaling_big_huge", f", PHP's heap on huge pages (`{HUGE_PAGES}=1`)")):
        big_t, big_b = t.get(big, {}), b.get(big, {})
        label = f"{prof['big_workers']} workers from a {prof['big_boot_mb']} MB app{how}"
        for f, what in (("first_tick_s", "start → tick 0 under 1 s"), ("stop_s", "stop under 1 s")):
            ok = None if big_t.get(f) is None else big_t[f] < 1.0
            out.append(f"| {label}: {what} | {fmt(big_t.get(f), 's')} | {fmt(big_b.get(f), 's')} | {met(ok)} |")
    def worst(s, key):
        """The worst size's median replacement, that size, and the kills whose replacement was not seen."""
        ms = [(med[s][scaling_key("1ms", n)].get(f"{key}_ms"), n) for n in sizes]
        seen = [(v, n) for v, n in ms if v is not None]
        unseen = sum(med[s][scaling_key("1ms", n)].get(f"{key}_unseen") or 0 for n in sizes)
        return (*(max(seen) if seen else (None, None)), unseen)

    def worst_text(s, key):
        v, n, unseen = worst(s, key)
        text = "–" if v is None else f"{v:.2f} ms (at {n} workers)"
        return text + (f", {unseen} not seen" if unseen else "")

    for key, what in (("replacement", "at every size"),
                      ("replacement_huge", f"at {' and '.join(map(str, sorted({small, sizes[-1]})))} workers, "
                                           f"PHP's heap on huge pages (`{HUGE_PAGES}=1`)")):
        v, _, unseen = worst("ticker", key)
        ok = None if v is None else v < 5 and unseen == 0
        out.append(f"| replacement under 5 ms {what} (the worst size's median, 1 ms ticks) | "
                   f"{worst_text('ticker', key)} | {worst_text('baseline', key)} | {met(ok)} |")
    l1 = t["lateness_1ms"]
    r = med.get("reference", {}).get("lateness_1ms")
    if r and r.get("p50_us") is not None:
        ok = None if l1["p50_us"] is None else (l1["p50_us"] <= REFERENCE_LIMIT * r["p50_us"]
                                                and l1["p99_us"] <= REFERENCE_LIMIT * r["p99_us"])
        out.append(f"| measurement 1 at 1 ms, 2 workers: p50 and p99 not worse (within {REFERENCE_LIMIT}×) than "
                   f"the reference build's {fmt(r['p50_us'], 'us')} / {fmt(r['p99_us'], 'us')} | "
                   f"{fmt(l1['p50_us'], 'us')} / {fmt(l1['p99_us'], 'us')} | "
                   f"{fmt(b['lateness_1ms']['p50_us'], 'us')} / {fmt(b['lateness_1ms']['p99_us'], 'us')} | "
                   f"{met(ok)} |")
    else:
        ok = None if l1["p50_us"] is None else (l1["p50_us"] <= 50 and l1["p99_us"] <= 250
                                                and 2 * l1["p99_us"] <= b["lateness_1ms"]["p99_us"])
        out.append(f"| measurement 1 at 1 ms, 2 workers: p50 ≤ 50 µs, p99 ≤ 250 µs and ≤ ½ baseline "
                   f"(no `--reference` build to compare with) | {fmt(l1['p50_us'], 'us')} / "
                   f"{fmt(l1['p99_us'], 'us')} | {fmt(b['lateness_1ms']['p50_us'], 'us')} / "
                   f"{fmt(b['lateness_1ms']['p99_us'], 'us')} | {met(ok)} |")
    return "\n".join(out) + "\n"


def plot_scaling(rec, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    prof, med = rec["settings"], rec["medians"]
    sizes = prof["sizes"]
    colors = {"ticker": "#1f77b4", "baseline": "#d62728"}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    for col, (name, _) in enumerate(SCALING_INTERVALS):
        ax = axes[col]
        for s in SYSTEMS:
            for f, style, label in (("p50_us", "-", "p50"), ("p99_us", "--", "p99")):
                ys = [med[s][scaling_key(name, n)][f] for n in sizes]
                ax.plot(sizes, ys, style, marker="o", color=colors[s], label=f"{s} {label}")
        base = med["ticker"][scaling_key(name, sizes[0])]
        for f in ("p50_us", "p99_us"):
            if base[f]:
                ax.axhline(base[f] * SCALING_LIMIT, color="green", linestyle=":", linewidth=1)
        ax.set_title(f"lateness at {name[:-2]} ms against pool size")
        ax.set_ylabel("lateness (µs, log scale)")
        ax.set_yscale("log")
    ax = axes[2]
    for s in SYSTEMS:
        for name, style in (("10ms", "-"), ("1ms", "--")):
            ax.plot(sizes, [med[s][scaling_key(name, n)]["master_cpu_pct"] for n in sizes], style, marker="o",
                    color=colors[s], label=f"{s}, {name[:-2]} ms")
    ax.set_title("master CPU against pool size")
    ax.set_ylabel("% of one CPU (log scale)")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.yaxis.set_minor_formatter(matplotlib.ticker.ScalarFormatter())
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xticks(sizes)
        ax.set_xticklabels([str(n) for n in sizes])
        ax.set_xlabel("workers")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle(f"ticker extension vs plain-PHP baseline, 2 to {sizes[-1]} workers (medians of "
                 f"{prof['reps']} repetitions; dotted: {SCALING_LIMIT}× the ticker's 2-worker p50 and p99)"
                 f"\n{rec['time']}, commit {rec['git']['commit']}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ------------------------------------------------------------------------------------------
# the plot


def plot(samples, rec, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    colors = {"ticker": "#1f77b4", "baseline": "#d62728"}
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    for col, iv in enumerate(("1ms", "10ms")):
        vals = {s: np.clip(np.array(samples[f"{s}_{iv}"]), 1.0, None) for s in SYSTEMS}
        if not all(len(v) for v in vals.values()):
            continue
        lo = max(1.0, min(v.min() for v in vals.values()))
        hi = max(v.max() for v in vals.values())
        bins = np.logspace(np.log10(lo), np.log10(hi * 1.01), 80)
        ax = axes[0][col]
        for s in SYSTEMS:
            v = vals[s]
            ax.hist(v, bins=bins, histtype="step", linewidth=1.6, color=colors[s],
                    weights=np.full(len(v), 100.0 / len(v)),
                    label=f"{s}: p50 {np.percentile(v, 50):.0f} µs, p99 {np.percentile(v, 99):.0f} µs")
        ax.set_xscale("log")
        ax.set_title(f"tick lateness at {iv[:-2]} ms, 2 workers ({len(vals['ticker'])} / "
                     f"{len(vals['baseline'])} ticks)")
        ax.set_ylabel("% of ticks per bin")
        ax.set_xlabel("lateness (µs, log scale)")
        ax.legend(fontsize=9)
        ax.grid(alpha=0.3, which="both")

        ax = axes[1][col]
        for s in SYSTEMS:
            v = np.sort(vals[s])
            ccdf = 1.0 - np.arange(len(v)) / len(v)
            ax.step(v, ccdf, where="post", color=colors[s], linewidth=1.6, label=s)
        for y, lab in ((0.5, "p50"), (0.01, "p99")):
            ax.axhline(y, color="grey", linestyle=":", linewidth=1)
            ax.text(lo * 1.05, y * 1.1, lab, color="grey", fontsize=8)
        if iv == "1ms":
            ax.axvline(50, color="green", linestyle="--", linewidth=1)
            ax.axvline(250, color="green", linestyle="--", linewidth=1)
            ax.text(52, 0.7, "target p50 ≤ 50", color="green", fontsize=8, rotation=90, va="top")
            ax.text(255, 0.7, "target p99 ≤ 250", color="green", fontsize=8, rotation=90, va="top")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(max(1e-5, 0.5 / max(len(v) for v in vals.values())), 1.05)
        ax.set_xlabel("lateness (µs, log scale)")
        ax.set_ylabel("fraction of ticks later than x")
        ax.legend(fontsize=9)
        ax.grid(alpha=0.3, which="both")
    fig.suptitle(f"ticker extension vs plain-PHP baseline: lateness = hrtime at waitPayload() return − due instant"
                 f"\n{rec['time']}, commit {rec['git']['commit']}, all {rec['settings']['reps']} repetitions pooled",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
