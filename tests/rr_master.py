#!/usr/bin/env python3
"""A RoadRunner-style master for one worker, written apart from the extension it tests.

It does with one PHP worker what RoadRunner's server, pool and ticker plugin do, byte for
byte as far as the worker can tell:

- starts the command given after `--` with the master's environment plus `RR_MODE=ticker`,
  `RR_RELAY` and `RR_VERSION`; with `--relay pipes` the worker's stdin and stdout are the
  channel, with `unix` or `tcp` it listens first and the worker connects;
- sends the pid handshake (flags CONTROL|CODEC_JSON, `{"pid":<master pid>}`): at once, before
  the worker has even booted, as RoadRunner does, or with `--late-handshake` only once the
  worker said "ready" on stderr; expects flags CONTROL, no options, `{"pid":<worker pid>}`;
- sends one job per action as the ticker plugin does: flags 0, options `[len(header)]`,
  header `{"lastTick":<unix seconds of the previous tick>}` (Go's zero time first), body
  `{"tick":N}`;
- verifies the version, header length and CRC32 of every frame the worker sends (RoadRunner's
  Go master does), that an answer carries exactly one option (RoadRunner rejects others),
  that an error frame carries none, and that a stop request is the header `{"stop":true}`
  with an empty body (after it, no more jobs: RoadRunner replaces the worker);
- then sends the stop control frame (CONTROL, `{"stop":true}`) and expects the worker to
  exit with status 0 within the deadline, having sent nothing more;
- with pipes, checks that nothing but frames came on the worker's stdout and that what the
  worker and a child process of it printed reached its stderr (with sockets, its stdout).

With `--expect-corrupt` the worker is expected to print to stdout before it speaks, so that
the first "frame" is text: the master refuses it, as RoadRunner would, and kills the worker.

The command gets the actions as its last argument, comma-separated: what the worker does
with tick N (`respond`, `error` or `stop`). The worker answers `respond` with the body
`{"tick":N,"pid":<pid>,"lastTick":<the header's>}`, and `error` with `tick N failed`.

Prints one JSON line of what it saw on stdout; exits 0 when every check held, and 1 after a
line `rr_master: FAIL: ...` on stderr otherwise. Every wait has a generous deadline.

Usage: rr_master.py --relay pipes|unix|tcp --actions respond,error,stop
                    [--late-handshake] [--expect-corrupt] -- php worker.php
"""

import argparse
import json
import os
import select
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

CONTROL = 0x01
CODEC_JSON = 0x08
ERROR = 0x40
GO_ZERO_TIME = -62135596800
STOP = b'{"stop":true}'
DEADLINE = 20.0


class Fail(Exception):
    """A check that did not hold."""


class BadFrame(Fail):
    """Bytes from the worker that are no goridge frame."""


def crc32(data):
    # IEEE 802.3, as Go's crc32.ChecksumIEEE.
    return zlib.crc32(data) & 0xFFFFFFFF


def encode(flags, options, payload):
    head = bytes([0x10 | (3 + len(options)), flags]) + struct.pack("<I", len(payload))
    head += struct.pack("<I", crc32(head)) + bytes([0, 0])
    return head + b"".join(struct.pack("<I", o) for o in options) + payload


def compact(value):
    return json.dumps(value, separators=(",", ":")).encode()


class Channel:
    """The master's end: a read fd and a write fd (pipes), or one socket for both."""

    def __init__(self, read_fd, write_fd):
        self.read_fd = read_fd
        self.write_fd = write_fd

    def send(self, data):
        view = memoryview(data)
        while view:
            written = os.write(self.write_fd, view)
            view = view[written:]

    def read_exact(self, n, deadline, what):
        data = b""
        while len(data) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail(f"no {what} from the worker within {DEADLINE}s (got {data!r})")
            ready, _, _ = select.select([self.read_fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.read_fd, n - len(data))
            if not chunk:
                raise Fail(f"the worker closed the channel while {what} was due (got {data!r})")
            data += chunk
        return data

    def read_frame(self):
        deadline = time.monotonic() + DEADLINE
        head = self.read_exact(12, deadline, "frame header")
        version, words = head[0] >> 4, head[0] & 0x0F
        if version != 1:
            raise BadFrame(f"frame version {version}, expected 1 (header bytes {head!r})")
        if not 3 <= words <= 13:
            raise BadFrame(f"frame header of {words} words (header bytes {head!r})")
        (crc,) = struct.unpack("<I", head[6:10])
        if crc != crc32(head[:6]):
            raise BadFrame(f"frame header CRC {crc:#010x}, expected {crc32(head[:6]):#010x}")
        (length,) = struct.unpack("<I", head[2:6])
        options = [
            struct.unpack("<I", self.read_exact(4, deadline, "option"))[0]
            for _ in range(words - 3)
        ]
        payload = self.read_exact(length, deadline, "payload")
        return head[1], options, payload

    def rest(self):
        """Whatever the worker still sends until it closes its end."""
        data = b""
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.read_fd], [], [], deadline - time.monotonic())
            if not ready:
                continue
            chunk = os.read(self.read_fd, 65536)
            if not chunk:
                return data
            data += chunk
        raise Fail("the worker did not close the channel")


class Lines:
    """Collects a stream of the worker line by line, echoing it to our stderr."""

    def __init__(self, stream, name):
        self.lines = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self.pump, args=(stream, name), daemon=True)
        self.thread.start()

    def pump(self, stream, name):
        for raw in stream:
            line = raw.decode(errors="replace").rstrip("\n")
            print(f"worker {name}: {line}", file=sys.stderr, flush=True)
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()

    def wait_for(self, text):
        deadline = time.monotonic() + DEADLINE
        with self.cond:
            while not any(text in line for line in self.lines):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Fail(f"the worker never printed {text!r}")
                self.cond.wait(left)

    def all(self):
        self.thread.join(DEADLINE)
        with self.cond:
            return list(self.lines)


def expect(condition, message):
    if not condition:
        raise Fail(message)


def handshake(channel, worker_pid):
    channel.send(encode(CONTROL | CODEC_JSON, [], compact({"pid": os.getpid()})))
    flags, options, payload = channel.read_frame()
    expect(flags == CONTROL, f"handshake answer flags {flags:#04x}, expected CONTROL (0x01)")
    expect(options == [], f"handshake answer options {options}, expected none")
    answer = json.loads(payload)
    expect(
        answer == {"pid": worker_pid},
        f"handshake answer {payload!r}, expected the worker's pid {worker_pid}",
    )
    return answer


def run_jobs(channel, actions, worker_pid, seen):
    last_tick = GO_ZERO_TIME
    for tick, action in enumerate(actions):
        header = compact({"lastTick": last_tick})
        body = compact({"tick": tick})
        channel.send(encode(0, [len(header)], header + body))
        flags, options, payload = channel.read_frame()
        if flags & ERROR:
            expect(action == "error", f"tick {tick}: an error frame, expected {action}")
            expect(options == [], f"tick {tick}: an error frame with options {options}")
            expect(payload == f"tick {tick} failed".encode(), f"tick {tick}: error {payload!r}")
            seen["errors"].append(payload.decode())
        else:
            expect(not flags & CONTROL, f"tick {tick}: a control frame instead of an answer")
            expect(flags == 0, f"tick {tick}: answer flags {flags:#04x}, expected 0")
            expect(
                len(options) == 1,
                f"tick {tick}: an answer with {len(options)} options; RoadRunner takes one",
            )
            expect(options[0] <= len(payload), f"tick {tick}: header longer than the payload")
            answer_header, answer_body = payload[: options[0]], payload[options[0] :]
            if action == "stop":
                expect(
                    answer_header == STOP and answer_body == b"",
                    f"tick {tick}: {payload!r}, expected the stop request",
                )
                seen["stop_request"] = tick
                return
            expect(action == "respond", f"tick {tick}: an answer, expected {action}")
            answer = json.loads(answer_body)
            expect(
                answer == {"tick": tick, "pid": worker_pid, "lastTick": last_tick},
                f"tick {tick}: answer {answer_body!r}",
            )
            seen["answers"].append(tick)
        last_tick = int(time.time())


def listen(relay, scratch):
    if relay == "unix":
        path = os.path.join(scratch, "rr.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        address = f"unix://{path}"
    else:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    listener.listen(1)
    listener.settimeout(DEADLINE)
    return listener, address


def serve(args, scratch, seen):
    env = dict(os.environ, RR_MODE="ticker", RR_VERSION="2024.3.0")
    listener = None
    if args.relay == "pipes":
        env["RR_RELAY"] = "pipes"
    else:
        listener, env["RR_RELAY"] = listen(args.relay, scratch)
    seen["rr_relay"] = env["RR_RELAY"]
    worker = subprocess.Popen(
        args.command + [",".join(args.actions)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        return talk(args, worker, listener, seen)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def talk(args, worker, listener, seen):
    seen["pid"] = worker.pid
    stderr = Lines(worker.stderr, "stderr")
    stdout = None
    if listener is None:
        channel = Channel(worker.stdout.fileno(), worker.stdin.fileno())
    else:
        stdout = Lines(worker.stdout, "stdout")
        # The worker connects at its first waitPayload(), after it booted.
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            raise Fail(f"the worker did not connect to {seen['rr_relay']} within {DEADLINE}s")
        channel = Channel(conn.fileno(), conn.fileno())
    if args.late_handshake:
        stderr.wait_for("ready")
        # Likely blocked in waitPayload() by now; a correct worker answers either way.
        time.sleep(0.2)

    if args.expect_corrupt:
        try:
            handshake(channel, worker.pid)
        except BadFrame as refused:
            seen["corrupt"] = str(refused)
            return
        raise Fail("the worker's output before create() did not reach the channel")

    seen["handshake"] = handshake(channel, worker.pid)
    run_jobs(channel, args.actions, worker.pid, seen)
    channel.send(encode(CONTROL, [], STOP))
    try:
        status = worker.wait(DEADLINE)
    except subprocess.TimeoutExpired:
        raise Fail(f"the worker did not exit within {DEADLINE}s of the stop control frame")
    seen["exit"] = status
    extra = channel.rest()
    expect(extra == b"", f"the worker sent more after the stop control frame: {extra!r}")
    errors = stderr.all()
    expect(status == 0, f"the worker exited with {status}; stderr: {errors}")
    printed = stdout.all() if stdout else errors
    for text in ("printed after create()", "printed by a child process"):
        expect(text in printed, f"{text!r} is not on the worker's stdout or stderr: {printed}")
    seen["echoes"] = [line for line in printed if line.startswith("echo from tick")]
    seen["echoed_on"] = "stdout" if stdout else "stderr"
    handled = len(seen["answers"]) + len(seen["errors"]) + (seen["stop_request"] is not None)
    expect(
        len(seen["echoes"]) == handled,
        f"{handled} ticks handled, echoes on the worker's {seen['echoed_on']}: {printed}",
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relay", choices=["pipes", "unix", "tcp"], required=True)
    parser.add_argument("--actions", required=True, type=lambda s: s.split(","))
    parser.add_argument("--late-handshake", action="store_true")
    parser.add_argument("--expect-corrupt", action="store_true")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    for action in args.actions:
        if action not in ("respond", "error", "stop"):
            parser.error(f"unknown action {action!r}")
    seen = {"answers": [], "errors": [], "stop_request": None}
    with tempfile.TemporaryDirectory(prefix="rr-master-") as scratch:
        try:
            serve(args, scratch, seen)
        except Fail as failed:
            print(f"rr_master: FAIL: {failed}", file=sys.stderr, flush=True)
            return 1
    print(json.dumps(seen), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
