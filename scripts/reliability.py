#!/usr/bin/env python3
"""The proof of ticker's reliability, kept in docs/reliability.md.

    reliability.py soak [--duration 10m]   a long run under attack (make soak SOAK=30m)
    reliability.py faults                  the fault tests of tests/e2e/faults.rs and the tests of
                                           the holes found under attack (make faults)

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

Both need the release build (`cargo build --release --workspace`); the Makefile's targets
build it first. A run that loses anything exits 1, and still writes the doc.
"""

from __future__ import annotations

import argparse
import datetime
import json
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("soak", help="a long run under attack")
    s.add_argument("--duration", type=parse_duration, default=parse_duration("10m"),
                   help="how long to attack, e.g. 3m, 30m, 1h (default 10m)")
    sub.add_parser("faults", help="the fault tests, reported")
    args = parser.parse_args()
    if args.command == "soak":
        return soak(args.duration)
    return faults()


if __name__ == "__main__":
    sys.exit(main())
