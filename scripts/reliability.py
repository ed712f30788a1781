#!/usr/bin/env python3
"""The proof of ticker's reliability, kept in docs/reliability.md.

    reliability.py soak [--duration 10m]   a long run under attack (make soak SOAK=30m)
    reliability.py faults                  the fault tests of tests/e2e/faults.rs and the tests of
                                           the holes found under attack (make faults)
    reliability.py scrape [--reference OTHER.so]
                                           ticks' lateness while the doors are flooded (make
                                           scrape); with another build beside this one

`soak` ticks at 1 ms with 4 workers (scripts/soak.php) while it SIGKILLs a random worker
every 100-250 ms, resets the pool (`ticker reset`) every 10 s, and hammers the metrics
endpoint and the control socket from other threads. At the end it stops the master
gracefully and accounts for every tick: due, delivered, completed, failed, skipped, from
the master's last line; every tick handed to PHP, from the app's log; what was lost (a tick
due that left no trace anywhere, a failure no kill explains) and what was duplicated. It
prints the report, with the master's RSS and descriptors at start and end and the longest
gap between two delivered ticks, and rewrites the soak section of docs/reliability.md.

`faults` runs the fault tests with TICKER_FAULT_REPORT set, collects what each one tried
and counted, and rewrites the fault section of docs/reliability.md.

`scrape` asks whether clients of the doors can make ticks late. A pool of 4 workers, then
one of 200, ticks every 10 ms (scripts/scrape.php logs each tick's due instant and when its
handler got it): 5 s with no requests, then 5 s while 4 threads send `GET /metrics` and one
sends `status` on the control socket, all back to back. It prints the answers per second and
the ticks' lateness in each phase, and rewrites the scrape section of docs/reliability.md.
Timings are not judged: it exits 1 only when a master did not tick, a door did not answer
or a master did not exit with 0 after SIGTERM.

All need the release build (`cargo build --release --workspace`); the Makefile's targets
build it first. A run that loses anything exits 1, and still writes the doc.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reliability.md"
EXT = ROOT / "target" / "release" / "libticker_php.so"
TICKER = ROOT / "target" / "release" / "ticker"
APP = ROOT / "scripts" / "soak.php"

KILL_EVERY_MS = (100, 250)
RESET_EVERY_S = 10.0
METRICS_THREADS = 2
CONTROL_THREADS = 1
# Each hammering thread pauses this long between requests: hundreds of requests a second
# each, without taking the machine's two cores from the pool being measured.
HAMMER_PAUSE_S = 0.002


def parse_duration(text: str) -> float:
    """Seconds in `90s`, `10m`, `1h30m`, or a bare number of seconds."""
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 90s, 10m or 1h")
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(n) * scale[u] for n, u in parts)


def human(seconds: float) -> str:
    seconds = round(seconds)
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return "".join(f"{v}{u}" for v, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if v) or "0s"


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        # The doc itself is what the runs rewrite: its changes do not make the code dirty.
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "--",
             ".", ":!docs/reliability.md"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        return out + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def replace_section(name: str, body: str) -> None:
    """Puts `body` between the `<!-- name:begin -->` and `<!-- name:end -->` markers."""
    text = DOC.read_text()
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if begin not in text or end not in text:
        raise SystemExit(f"{DOC}: no {begin} ... {end} section to rewrite")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    DOC.write_text(f"{head}{begin}\n{body.strip()}\n{end}{tail}")


def need_build() -> None:
    for path in (EXT, TICKER):
        if not path.is_file():
            raise SystemExit(f"{path} is missing: run `cargo build --release --workspace`")


# ---------------------------------------------------------------------------------------
# The soak
# ---------------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Tally:
    """What the attacking threads did."""

    kills: int = 0
    resets: int = 0
    resets_refused: int = 0
    metrics_ok: int = 0
    metrics_failed: int = 0
    control_ok: int = 0
    control_failed: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, what: str, error: str | None = None) -> None:
        with self.lock:
            setattr(self, what, getattr(self, what) + 1)
            if error is not None and len(self.errors) < 100:
                self.errors.append(error)


def control_request(path: Path, request: str, timeout: float = 5.0) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(request.encode() + b"\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return json.loads(data)


def metrics_request(port: int, timeout: float = 5.0) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data.startswith(b"HTTP/1.1 200") and b"ticker_ticks_due_total" in data


def soak(duration: float) -> int:
    need_build()
    work = Path(tempfile.mkdtemp(prefix="ticker-soak-"))
    os.chmod(work, 0o700)
    port = free_port()
    config = work / ".rr.yaml"
    config.write_text(
        "ticker:\n"
        "  interval: 1ms\n"
        f"  metrics:\n    address: 127.0.0.1:{port}\n"
        "  pool:\n    num_workers: 4\n    destroy_timeout: 10s\n"
    )
    ticks_log = work / "ticks.log"
    stderr_path = work / "stderr.txt"
    env = dict(os.environ, TICKER_CONFIG=str(config), TICKER_RUNTIME_DIR=str(work),
               TICKER_SOAK_LOG=str(ticks_log))
    env.pop("RR_MODE", None)
    with open(stderr_path, "wb") as stderr:
        master = subprocess.Popen(
            ["php", "-d", f"extension={EXT}", str(APP)],
            cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=stderr, start_new_session=True,
        )
    sock = work / f"{master.pid}.sock"
    try:
        return run_soak(master, sock, port, duration, ticks_log, stderr_path, work)
    finally:
        if master.poll() is None:
            os.killpg(master.pid, signal.SIGKILL)
            master.wait()


def run_soak(master, sock: Path, port: int, duration: float, ticks_log: Path,
             stderr_path: Path, work: Path) -> int:
    deadline = time.monotonic() + 30
    while not (sock.exists() and ticks_log.exists() and len(children(master.pid)) == 4):
        if master.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the master did not start:\n{stderr_path.read_text()}")
        time.sleep(0.05)
    time.sleep(2)  # warm: the first figures are the pool's at work, not at birth
    start_rss, start_fds = rss_mb(master.pid), fd_count(master.pid)
    started = time.monotonic()
    print(f"soak: master {master.pid}, {human(duration)} at 1 ms with 4 workers, in {work}",
          flush=True)

    tally = Tally()
    stop = threading.Event()
    rng = random.Random()

    def killer() -> None:
        while not stop.wait(rng.uniform(*KILL_EVERY_MS) / 1000):
            workers = children(master.pid)
            if workers:
                try:
                    os.kill(rng.choice(workers), signal.SIGKILL)
                    tally.count("kills")
                except ProcessLookupError:
                    pass

    def resetter() -> None:
        while not stop.wait(RESET_EVERY_S):
            done = subprocess.run(
                [str(TICKER), "reset", str(master.pid)],
                env=dict(os.environ, TICKER_RUNTIME_DIR=str(sock.parent)),
                capture_output=True, text=True, timeout=30,
            )
            if done.returncode == 0:
                tally.count("resets")
            else:
                tally.count("resets_refused", f"ticker reset: {done.stderr.strip()}")

    def metrics() -> None:
        while not stop.wait(HAMMER_PAUSE_S):
            try:
                ok = metrics_request(port)
                tally.count("metrics_ok" if ok else "metrics_failed", None if ok else "metrics: bad answer")
            except OSError as e:
                tally.count("metrics_failed", f"metrics: {e}")

    def control() -> None:
        while not stop.wait(HAMMER_PAUSE_S):
            try:
                ok = "ticks" in control_request(sock, "status")
                tally.count("control_ok" if ok else "control_failed", None if ok else "control: bad answer")
            except (OSError, ValueError) as e:
                tally.count("control_failed", f"control: {e}")

    threads = [threading.Thread(target=killer), threading.Thread(target=resetter)]
    threads += [threading.Thread(target=metrics) for _ in range(METRICS_THREADS)]
    threads += [threading.Thread(target=control) for _ in range(CONTROL_THREADS)]
    for t in threads:
        t.start()
    next_line = started + 60
    try:
        while (now := time.monotonic()) < started + duration:
            if master.poll() is not None:
                break
            if now >= next_line:
                status = control_request(sock, "status")["ticks"]
                print(f"soak: {human(now - started)}: due {status['due']}, "
                      f"delivered {status['delivered']}, failed {status['failed']}, "
                      f"skipped {status['skipped']}, {tally.kills} kills", flush=True)
                next_line += 60
            time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join()
    if master.poll() is not None:
        raise SystemExit(f"the master died during the soak:\n{stderr_path.read_text()[-5000:]}")
    ran = time.monotonic() - started
    # Let the pool settle after the last kill, then take the end figures while it ticks.
    time.sleep(1)
    end_rss, end_fds = rss_mb(master.pid), fd_count(master.pid)
    master.send_signal(signal.SIGTERM)
    try:
        code = master.wait(timeout=60)
    except subprocess.TimeoutExpired:
        raise SystemExit("the master did not stop within 60 s of SIGTERM")
    result = account(stderr_path.read_text(), ticks_log, tally)
    result.update(
        duration=ran, code=code, start_rss=start_rss, end_rss=end_rss,
        start_fds=start_fds, end_fds=end_fds,
    )
    print_soak(result)
    replace_section("soak", soak_section(result))
    print(f"soak: {DOC.relative_to(ROOT)} rewritten", flush=True)
    if result["lost_total"] == 0 and code == 0:
        shutil.rmtree(work)
        return 0
    print(f"soak: something was lost; the run's files are kept in {work}", file=sys.stderr)
    return 1


def account(stderr: str, ticks_log: Path, tally: Tally) -> dict:
    final = re.search(
        r"stopped: ticks due (\d+), delivered (\d+), completed (\d+), failed (\d+), "
        r"skipped (\d+)", stderr)
    if not final:
        raise SystemExit(f"no final counters in the master's log:\n{stderr[-5000:]}")
    due, delivered, completed, failed, skipped = map(int, final.groups())

    tick_of = re.compile(r"tick (\d+)")
    failed_ticks, skipped_ticks, explained_failures = set(), set(), set()
    for line in stderr.splitlines():
        m = tick_of.search(line)
        if not m:
            continue
        n = int(m.group(1))
        if "failed" in line:
            failed_ticks.add(n)
            # A failure is explained when the worker holding the tick died of a SIGKILL
            # (the soak's) or was killed by the master.
            if "was killed" in line:
                explained_failures.add(n)
        elif "skipped" in line or "dropped" in line:
            skipped_ticks.add(n)

    received: dict[int, int] = {}
    arrivals: list[tuple[int, int]] = []
    with open(ticks_log) as log:
        for line in log:
            parts = line.split()
            if len(parts) != 3:
                continue  # a line cut by a SIGKILL in the middle of a write
            n, hr = int(parts[0]), int(parts[2])
            received[n] = received.get(n, 0) + 1
            arrivals.append((hr, n))
    duplicates = sorted(n for n, c in received.items() if c > 1)
    no_trace = [n for n in range(due)
                if n not in received and n not in failed_ticks and n not in skipped_ticks]
    unexplained = sorted(failed_ticks - explained_failures)
    arrivals.sort()
    gap, gap_after = 0, None
    for (a, na), (b, _) in zip(arrivals, arrivals[1:]):
        if b - a > gap:
            gap, gap_after = b - a, na
    errors = sorted(set(tally.errors))
    books = [
        ("due = delivered + skipped", due - delivered - skipped),
        ("delivered = completed + failed", delivered - completed - failed),
        ("the log names every failed tick", failed - len(failed_ticks)),
        ("the log names every skipped tick", skipped - len(skipped_ticks)),
    ]
    lost_total = (len(no_trace) + len(duplicates) + len(unexplained)
                  + sum(abs(d) for _, d in books))
    return dict(
        due=due, delivered=delivered, completed=completed, failed=failed, skipped=skipped,
        handled=len(received), no_trace=no_trace, duplicates=duplicates,
        unexplained=unexplained, books=books, lost_total=lost_total,
        gap_ms=gap / 1e6, gap_after=gap_after, tally=tally, errors=errors,
    )


def print_soak(r: dict) -> None:
    t = r["tally"]
    print(f"soak: ran {human(r['duration'])}; master exit status {r['code']}")
    print(f"  ticks   due {r['due']}  delivered {r['delivered']}  completed {r['completed']}  "
          f"failed {r['failed']}  skipped {r['skipped']}")
    print(f"  faults  {t.kills} SIGKILLs, {t.resets} resets ({t.resets_refused} refused), "
          f"{t.metrics_ok} metrics requests ({t.metrics_failed} failed), "
          f"{t.control_ok} status requests ({t.control_failed} failed)")
    print(f"  master  RSS {r['start_rss']:.1f} -> {r['end_rss']:.1f} MB, "
          f"descriptors {r['start_fds']} -> {r['end_fds']}")
    print(f"  longest gap between delivered ticks {r['gap_ms']:.1f} ms (after tick {r['gap_after']})")
    for name, diff in r["books"]:
        print(f"  {'ok  ' if diff == 0 else 'OFF '} {name}" + (f" (off by {diff})" if diff else ""))
    print(f"  lost: {len(r['no_trace'])} ticks without a trace, {len(r['duplicates'])} handled "
          f"twice, {len(r['unexplained'])} failures no kill explains")
    for e in r["errors"][:10]:
        print(f"  client error: {e}")


def soak_section(r: dict) -> str:
    t = r["tally"]
    lost = "nothing" if r["lost_total"] == 0 else f"**{r['lost_total']}**"
    rows = [
        ("ticks due at 1 ms, 4 workers", r["due"],
         f"{r['skipped']:,} skipped (logged, counted, in the next header), "
         f"{len(r['no_trace'])} without a trace"),
        ("ticks delivered", r["delivered"],
         f"{r['completed']:,} completed, {r['failed']:,} failed: each the tick a killed "
         f"worker held ({len(r['unexplained'])} failures no kill explains)"),
        ("ticks handled twice", len(r["duplicates"]), "-"),
        ("random worker SIGKILLed, every 100–250 ms", t.kills, "its tick, reported as failed"),
        ("`ticker reset` (rolling replacement), every 10 s", t.resets,
         f"nothing ({t.resets_refused} refused)"),
        ("`GET /metrics` from 2 threads, back to back", t.metrics_ok + t.metrics_failed,
         f"{t.metrics_failed} requests failed"),
        ("`status` on the control socket, back to back", t.control_ok + t.control_failed,
         f"{t.control_failed} requests failed"),
    ]
    books = "; ".join(f"{name}: {'holds' if d == 0 else f'off by {d}'}" for name, d in r["books"])
    lines = [
        f"Soak of {human(r['duration'])}, "
        f"{datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}, "
        f"commit {commit()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} at the end "
        f"(`make soak SOAK={human(r['duration'])}`). Lost: {lost}.",
        "",
        "| what was tried | how many | what was lost |",
        "|---|---:|---|",
        *(f"| {a} | {b:,} | {c} |" for a, b, c in rows),
        "",
        f"- Books: {books}.",
        f"- Master RSS {r['start_rss']:.1f} MB at the start, {r['end_rss']:.1f} MB at the end; "
        f"descriptors {r['start_fds']} and {r['end_fds']}.",
        f"- Longest gap between two delivered ticks: {r['gap_ms']:.1f} ms (after tick "
        f"{r['gap_after']}), on a machine shared with other work.",
        f"- The master exited with status {r['code']} after SIGTERM.",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# The fault tests
# ---------------------------------------------------------------------------------------


# The holes found under attack, each closed with an end-to-end test that failed before its fix:
# what was tried, and the test that tries it again.
HOLES = [
    ("another local user's runtime directory (mode 0777, owned by nobody, a symlink)",
     "doors::a_runtime_dir_someone_else_controls_is_refused_by_master_and_command"),
    ("a control socket served by another user",
     "doors::the_command_believes_only_a_server_of_its_own_user"),
    ("100 idle connections on each door while ticking, then a SIGKILLed worker",
     "doors::idle_connections_neither_stop_ticks_nor_lock_the_operator_out"),
    ("clients that take every descriptor under a low RLIMIT_NOFILE",
     "doors::clients_at_the_fd_limit_leave_the_pool_its_descriptors"),
    ("ticker.control naming the config file, a live socket; the socket swapped before exit",
     "doors::ticker_control_leaves_alone_what_is_not_a_dead_socket_of_its_own"),
    ("answers with a negative or huge interval, garbage, silence",
     "doors::answers_the_command_cannot_read_are_errors_not_crashes"),
    ("500 KB of nested YAML",
     "config::a_deeply_nested_file_is_refused_at_once_naming_the_limit"),
    ("supervisor.watch_tick: 1ns",
     "config::a_watch_tick_below_its_floor_is_refused"),
    ("a worker that sends garbage, at 1 ms, 30 times",
     "supervision::a_worker_killed_for_a_protocol_error_takes_no_tick"),
    ("a worker held at its exit (ptrace) so that SIGKILL cannot end it at once",
     "supervision::a_worker_that_cannot_die_at_once_does_not_stall_ticking"),
    ("an application that sets SIGCHLD to SIG_IGN",
     "process_state::an_app_that_ignores_sigchld_still_has_its_workers_reaped_and_reported"),
    ("workers under a terminal with stty tostop, reading stdin and writing",
     "process_state::workers_under_a_terminal_are_never_stopped_by_it"),
    ("status and metrics answers on 40 workers, counting the master's read calls",
     "descriptors::an_answer_reads_nothing_per_worker"),
    ("100 workers under `ulimit -n 64`",
     "descriptors::a_pool_the_hard_file_limit_cannot_hold_is_refused_at_start_with_the_fix"),
    ("the open file limit lowered under a running master, then a worker killed",
     "descriptors::a_pool_short_of_descriptors_ticks_with_the_workers_it_has_and_says_what_it_lacks"),
    ("a NUL byte in pool.command, server.user, server.on_init.command",
     "config::a_nul_byte_where_the_kernel_takes_a_string_is_refused_at_start"),
]


def holes() -> list[str] | None:
    """Runs the tests of HOLES; the table's lines, or None when one failed."""
    env = dict(os.environ, TICKER_EXT=str(EXT))
    started = time.monotonic()
    done = subprocess.run(
        ["cargo", "test", "--release", "--test", "e2e", "--", "--exact",
         *(test for _, test in HOLES)],
        cwd=ROOT, env=env,
    )
    if done.returncode != 0:
        return None
    return [
        f"Holes found under attack, each tried again by its end-to-end test "
        f"({len(HOLES)} tests, {human(time.monotonic() - started)}); every test failed on the "
        f"code from before its fix, and passes here. Lost: nothing.",
        "",
        "| what was tried | test | result |",
        "|---|---|---|",
        *(f"| {what} | `{test}` | passed |" for what, test in HOLES),
    ]


def faults() -> int:
    need_build()
    hole_lines = holes()
    if hole_lines is None:
        print("faults: a hole's test failed; docs/reliability.md is left as it was",
              file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="ticker-faults-") as tmp:
        report = Path(tmp) / "faults.jsonl"
        env = dict(os.environ, TICKER_EXT=str(EXT), TICKER_FAULT_REPORT=str(report))
        started = time.monotonic()
        done = subprocess.run(
            ["cargo", "test", "--release", "--test", "e2e", "faults::"], cwd=ROOT, env=env,
        )
        rows = [json.loads(line) for line in report.read_text().splitlines()] \
            if report.exists() else []
    took = time.monotonic() - started
    if done.returncode != 0:
        print("faults: a fault test failed; docs/reliability.md is left as it was",
              file=sys.stderr)
        return 1
    rows.sort(key=lambda r: r["fault"])
    lines = [
        f"Fault tests (`make faults`: `cargo test --release --test e2e faults::`), "
        f"{datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}, "
        f"commit {commit()}, {human(took)} with the build. Each passed its audit.",
        "",
        "| fault | times | due | delivered | completed | failed | skipped | lost | twice |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(f"| {r['fault']} | {r['times']:,} | {r['due']:,} | {r['delivered']:,} | "
          f"{r['completed']:,} | {r['failed']:,} | {r['skipped']:,} | {r['lost']} | "
          f"{r['duplicates']} |" for r in rows),
    ]
    replace_section("faults", "\n".join(lines))
    replace_section("holes", "\n".join(hole_lines))
    print(f"faults: {len(rows)} runs and {len(HOLES)} holes; {DOC.relative_to(ROOT)} rewritten")
    return 0


# ---------------------------------------------------------------------------------------
# Doors under a flood
# ---------------------------------------------------------------------------------------


SCRAPE_APP = ROOT / "scripts" / "scrape.php"
SCRAPE_POOLS = (4, 200)
SCRAPE_INTERVAL_NS = 10_000_000
SCRAPE_PHASE_S = 5.0
SCRAPE_METRICS_THREADS = 4
SCRAPE_CONTROL_THREADS = 1


@dataclass
class Phase:
    """One phase of a scrape run: the instants it covered and what its clients got."""

    name: str
    start_ns: int = 0
    end_ns: int = 0
    seconds: float = 0.0
    tally: Tally = field(default_factory=Tally)
    lateness_us: list[int] = field(default_factory=list)
    due: int = 0

    def rate(self, ok: str) -> float:
        return getattr(self.tally, ok) / self.seconds if self.seconds else 0.0

    def percentiles(self) -> tuple[int, int, int] | None:
        """p50, p99 and max by nearest rank, as the master computes its own."""
        if not self.lateness_us:
            return None
        values = sorted(self.lateness_us)
        rank = lambda p: values[min(max(math.ceil(p * len(values)), 1), len(values)) - 1]
        return rank(0.50), rank(0.99), values[-1]


def scrape(reference: Path | None) -> int:
    need_build()
    builds = [("this", EXT)] + ([("reference", reference)] if reference else [])
    results = [scrape_pool(workers, build, ext)
               for workers in SCRAPE_POOLS for build, ext in builds]
    print_scrape(results)
    replace_section("scrape", scrape_section(results))
    print(f"scrape: {DOC.relative_to(ROOT)} rewritten", flush=True)
    failures = [f"{r['workers']} workers ({r['build']} build): {f}" for r in results for f in r["failures"]]
    for failure in failures:
        print(f"scrape: {failure}", file=sys.stderr)
    return 1 if failures else 0


def scrape_pool(workers: int, build: str, ext: Path) -> dict:
    """Starts a master of `workers` workers with the extension `ext`, runs the quiet then the
    scraped phase, stops it."""
    work = Path(tempfile.mkdtemp(prefix=f"ticker-scrape-{workers}-"))
    os.chmod(work, 0o700)
    port = free_port()
    config = work / ".rr.yaml"
    config.write_text(
        "ticker:\n"
        f"  interval: {SCRAPE_INTERVAL_NS // 1_000_000}ms\n"
        f"  metrics:\n    address: 127.0.0.1:{port}\n"
        f"  pool:\n    num_workers: {workers}\n    destroy_timeout: 10s\n"
    )
    ticks_log = work / "ticks.log"
    stderr_path = work / "stderr.txt"
    env = dict(os.environ, TICKER_CONFIG=str(config), TICKER_RUNTIME_DIR=str(work),
               TICKER_SCRAPE_LOG=str(ticks_log))
    env.pop("RR_MODE", None)
    with open(stderr_path, "wb") as stderr:
        master = subprocess.Popen(
            ["php", "-d", f"extension={ext}", str(SCRAPE_APP)],
            cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=stderr, start_new_session=True,
        )
    sock = work / f"{master.pid}.sock"
    failures: list[str] = []
    quiet, scraped = Phase("quiet"), Phase("scraped")
    try:
        deadline = time.monotonic() + 60
        while "ticking every" not in stderr_path.read_text() or not sock.exists():
            if master.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"scrape: the master of {workers} workers did not tick; "
                                 f"its log is in {stderr_path}:\n{stderr_path.read_text()[-5000:]}")
            time.sleep(0.05)
        time.sleep(1)  # warm: the first ticks are the pool's at birth
        print(f"scrape: master {master.pid} ({build} build) ticking every 10 ms with "
              f"{workers} workers, in {work}", flush=True)
        run_phase(quiet, sock, port, flood=False)
        try:
            l = control_request(sock, "status")["lateness"]
            print(f"scrape:   quiet: the master's own window (last {l['samples']} ticks): "
                  f"p50 {l['p50_us']} µs, p99 {l['p99_us']} µs, max {l['max_us']} µs", flush=True)
        except (OSError, ValueError, KeyError) as e:
            failures.append(f"no answer to status after the quiet phase: {e}")
        run_phase(scraped, sock, port, flood=True)
        if master.poll() is not None:
            failures.append(f"the master died (status {master.returncode})")
        else:
            master.send_signal(signal.SIGTERM)
        try:
            code = master.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
    finally:
        if master.poll() is None:
            os.killpg(master.pid, signal.SIGKILL)
            master.wait()
    if code != 0:
        failures.append("the master did not stop within 60 s of SIGTERM" if code is None
                        else f"the master exited with status {code} after SIGTERM")
    read_ticks(ticks_log, (quiet, scraped))
    for phase in (quiet, scraped):
        if not phase.lateness_us:
            failures.append(f"no tick reached PHP in the {phase.name} phase")
    t = scraped.tally
    for door, ok, failed in (("GET /metrics", t.metrics_ok, t.metrics_failed),
                             ("status", t.control_ok, t.control_failed)):
        if ok == 0 or failed:
            failures.append(f"{door}: {failed} of {ok + failed} requests got no good answer")
    failures += [f"client error: {e}" for e in sorted(set(t.errors))[:5]]
    if failures:
        print(f"scrape: the run's files are kept in {work}", file=sys.stderr)
    else:
        shutil.rmtree(work)
    return dict(workers=workers, build=build, quiet=quiet, scraped=scraped, code=code,
                failures=failures)


def run_phase(phase: Phase, sock: Path, port: int, flood: bool) -> None:
    """SCRAPE_PHASE_S seconds, with the doors flooded when `flood`."""
    tally, stop = phase.tally, threading.Event()

    def metrics() -> None:
        while not stop.is_set():
            try:
                ok = metrics_request(port)
                tally.count("metrics_ok" if ok else "metrics_failed",
                            None if ok else "metrics: bad answer")
            except OSError as e:
                tally.count("metrics_failed", f"metrics: {e}")

    def control() -> None:
        while not stop.is_set():
            try:
                ok = "ticks" in control_request(sock, "status")
                tally.count("control_ok" if ok else "control_failed",
                            None if ok else "status: bad answer")
            except (OSError, ValueError) as e:
                tally.count("control_failed", f"status: {e}")

    threads = []
    if flood:
        threads += [threading.Thread(target=metrics) for _ in range(SCRAPE_METRICS_THREADS)]
        threads += [threading.Thread(target=control) for _ in range(SCRAPE_CONTROL_THREADS)]
    phase.start_ns = time.monotonic_ns()
    for t in threads:
        t.start()
    time.sleep(max(0.0, phase.start_ns / 1e9 + SCRAPE_PHASE_S - time.monotonic()))
    phase.end_ns = time.monotonic_ns()
    stop.set()
    for t in threads:
        t.join()
    # The answers of the requests in flight at the end count too, over the time they took.
    phase.seconds = (time.monotonic_ns() - phase.start_ns) / 1e9


def read_ticks(ticks_log: Path, phases: tuple[Phase, ...]) -> None:
    """Each phase's ticks: the lateness of those due within it, and how many came due.

    hrtime(true) in PHP and time.monotonic_ns() here read the same CLOCK_MONOTONIC, and tick
    N is due at the grid's origin + N intervals, whether it reached PHP or was skipped."""
    ticks: dict[int, tuple[int, int]] = {}
    if ticks_log.exists():
        for line in ticks_log.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3:
                n, due, started = map(int, parts)
                ticks[n] = (due, started)
    if not ticks:
        return
    n0, (due0, _) = next(iter(ticks.items()))
    origin = due0 - n0 * SCRAPE_INTERVAL_NS
    for phase in phases:
        first = -(-(phase.start_ns - origin) // SCRAPE_INTERVAL_NS)  # ceiling division
        last = -(-(phase.end_ns - origin) // SCRAPE_INTERVAL_NS)     # exclusive
        phase.due = max(0, last - first)
        phase.lateness_us = [(started - due) // 1000 for n, (due, started) in ticks.items()
                             if first <= n < last]


def lateness_cell(phase: Phase) -> str:
    p = phase.percentiles()
    return "-" if p is None else " / ".join(f"{v:,}" for v in p) + " µs"


def print_scrape(results: list[dict]) -> None:
    print(f"scrape: ticks every 10 ms, {SCRAPE_PHASE_S:.0f} s quiet then {SCRAPE_PHASE_S:.0f} s "
          f"with {SCRAPE_METRICS_THREADS} threads on /metrics and {SCRAPE_CONTROL_THREADS} on "
          f"status; lateness p50 / p99 / max")
    print(f"  {'pool':>11}  {'metrics/s':>9}  {'status/s':>8}  {'quiet':>26}  {'scraped':>26}")
    for r in results:
        q, s = r["quiet"], r["scraped"]
        print(f"  {r['workers']:>3} workers {r['build']:>9}  {s.rate('metrics_ok'):>9,.0f}  "
              f"{s.rate('control_ok'):>8,.0f}  {lateness_cell(q):>26}  {lateness_cell(s):>26}")
    for r in results:
        q, s, t = r["quiet"], r["scraped"], r["scraped"].tally
        print(f"  {r['workers']} workers, {r['build']} build: ticks handled/due quiet {len(q.lateness_us)}/{q.due}, "
              f"scraped {len(s.lateness_us)}/{s.due}; requests failed: metrics "
              f"{t.metrics_failed}, status {t.control_failed}; exit status {r['code']}")


def scrape_section(results: list[dict]) -> str:
    rows = [
        f"| {r['workers']} | {r['build']} | {r['scraped'].rate('metrics_ok'):,.0f} | "
        f"{r['scraped'].rate('control_ok'):,.0f} | {lateness_cell(r['quiet'])} | "
        f"{lateness_cell(r['scraped'])} |"
        for r in results
    ]
    ticks = "; ".join(
        f"{r['workers']} workers, {r['build']} build: {len(r['quiet'].lateness_us):,} of {r['quiet'].due:,} quiet, "
        f"{len(r['scraped'].lateness_us):,} of {r['scraped'].due:,} scraped"
        for r in results)
    failed = "; ".join(
        f"{r['workers']} workers, {r['build']} build: {r['scraped'].tally.metrics_failed} metrics, "
        f"{r['scraped'].tally.control_failed} status" for r in results)
    codes = ", ".join(str(r["code"]) for r in results)
    lines = [
        f"Doors under a flood, "
        f"{datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}, "
        f"commit {commit()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} at the end "
        f"(`make scrape`).",
        "",
        "| pool size | build | metrics answers/s | status answers/s "
        "| lateness p50 / p99 / max, quiet | lateness p50 / p99 / max, scraped |",
        "|---:|---|---:|---:|---:|---:|",
        *rows,
        "",
        f"- Ticks handed to PHP of those due in each {SCRAPE_PHASE_S:.0f} s phase: {ticks}.",
        f"- Requests without a good answer: {failed}.",
        f"- The masters exited with status {codes} after SIGTERM.",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("soak", help="a long run under attack")
    s.add_argument("--duration", type=parse_duration, default=parse_duration("10m"),
                   help="how long to attack, e.g. 3m, 30m, 1h (default 10m)")
    sub.add_parser("faults", help="the fault tests, reported")
    sc = sub.add_parser("scrape", help="ticks' lateness while the doors are flooded")
    sc.add_argument("--reference", type=Path, metavar="OTHER.so",
                    help="also run an extension built from another commit, for a before/after")
    args = parser.parse_args()
    if args.command == "soak":
        return soak(args.duration)
    if args.command == "scrape":
        return scrape(args.reference)
    return faults()


if __name__ == "__main__":
    sys.exit(main())
