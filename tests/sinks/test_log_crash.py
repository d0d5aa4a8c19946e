"""Real writers killed with SIGKILL at random points lose nothing they acknowledged.

A record is acknowledged when the writer prints it (``corral check --log`` prints a decision only
after the log holds it durably). After each kill: every acknowledged record is in the log, and
``verify`` passes or reports exactly a torn last line, which the next writer moves aside.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from log_support import decision_ids, lines

from corral.sinks import DecisionLog, VerifyResult, verify

HERE = Path(__file__).resolve().parent
ACTIONS: list[dict[str, Any]] = [
    {"kind": "exec", "command": "pytest -q", "cwd": "/workspace"},
    {"kind": "net", "host": "127.0.0.1", "port": 8000},
    {"kind": "http", "method": "GET", "url": "https://example.com/?token=t0k"},
    {"kind": "exec", "command": "ssh -R 8080:localhost:22 me@203.0.113.7"},
    {"kind": "file", "op": "read", "path": "/etc/os-release"},
]


def run_and_kill(
    command: list[str], delay: float, feed: Callable[[], bytes] | None = None, *, after_first: bool
) -> list[str]:
    """Start ``command`` and SIGKILL it ``delay`` seconds later (counted from its first line of
    output when ``after_first``); returns the lines it printed completely."""
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE if feed else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
        )

        def pump() -> None:
            assert proc.stdin is not None and feed is not None
            with contextlib.suppress(OSError, ValueError):  # the pipe breaks at the kill
                while True:
                    proc.stdin.write(feed())

        if feed:
            threading.Thread(target=pump, daemon=True).start()
        killer = threading.Timer(delay, proc.kill)
        backstop = threading.Timer(60, proc.kill)  # never wait forever for a first line
        backstop.start()
        if not after_first:
            killer.start()
        printed: list[bytes] = []
        try:
            assert proc.stdout is not None
            for line in proc.stdout:  # until the kill closes the pipe
                if not printed and after_first:
                    killer.start()
                printed.append(line)
        finally:
            killer.cancel()
            backstop.cancel()
            proc.kill()
            proc.wait(timeout=60)
        errors.seek(0)
        assert proc.returncode == -signal.SIGKILL, errors.read().decode(errors="replace")
    # A last line without its newline was not completely printed: not acknowledged.
    return [line.decode().rstrip("\n") for line in printed if line.endswith(b"\n")]


def check_after_kill(path: Path, acknowledged: set[str], context: str) -> VerifyResult | None:
    if not path.exists():
        assert not acknowledged, context
        return None
    result = verify(path)
    if not result.ok:
        assert result.problem is not None
        assert result.problem.kind == "torn", f"{context}: {result.describe()}"
        assert result.problem.line == len(lines(path)), context
    missing = acknowledged - decision_ids(path)
    assert not missing, f"{context}: acknowledged but not in the log: {sorted(missing)[:5]}"
    return result


def recover(path: Path, result: VerifyResult | None, context: str) -> None:
    """The next writer moves a torn tail aside and the chain verifies again."""
    size = path.stat().st_size if path.exists() else 0
    torn_tail = result is not None and not result.ok
    with DecisionLog(path) as log:
        assert (log.torn is not None) == torn_tail, context
        if log.torn is not None:
            assert log.torn.offset + log.torn.size == size
            assert log.torn.moved_to.stat().st_size == log.torn.size
    assert verify(path).ok, context


def test_a_killed_writer_loses_nothing_it_acknowledged(tmp_path: Path) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    path = tmp_path / "decisions.jsonl"
    acknowledged: set[str] = set()
    for run in range(6):
        sync = ("always", "batch")[run % 2]
        context = f"seed {seed}, run {run}, sync={sync}"
        command = [sys.executable, str(HERE / "crash_writer.py"), str(path), sync, f"r{run}"]
        delay, after_first = rng.uniform(0.0, 0.5), run % 3 != 1
        printed = run_and_kill(
            [*command, str(rng.randrange(2**32))], delay, after_first=after_first
        )
        acknowledged |= set(printed)
        result = check_after_kill(path, acknowledged, context)
        if run % 3 != 2:  # otherwise the next killed writer itself must recover the tail
            recover(path, result, context)
    recover(path, check_after_kill(path, acknowledged, f"seed {seed}, end"), f"seed {seed}, end")
    assert acknowledged <= decision_ids(path)
    for torn in tmp_path.glob(
        "decisions.jsonl.torn-*"
    ):  # moved aside, never an acknowledged record
        assert not torn.read_bytes().endswith(b"\n") or b'"decision"' not in torn.read_bytes()


def test_a_killed_corral_check_loses_no_decision_it_printed(
    tmp_path: Path, corral: list[str]
) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    path = tmp_path / "decisions.jsonl"
    counter = iter(range(10**9))

    def feed() -> bytes:
        action = dict(ACTIONS[next(counter) % len(ACTIONS)])
        return (json.dumps(action) + "\n").encode()

    acknowledged: set[str] = set()
    for run in range(3):
        sync = ("always", "batch", "always")[run]
        context = f"seed {seed}, run {run}, sync={sync}"
        command = [*corral, "check", "--log", str(path), "--log-sync", sync]
        delay, after_first = rng.uniform(0.0, 0.8), run != 2
        printed = run_and_kill(command, delay, feed, after_first=after_first)
        acknowledged |= {json.loads(line)["decision_id"] for line in printed}
        check_after_kill(path, acknowledged, context)
    result = check_after_kill(path, acknowledged, f"seed {seed}, before restart")
    # The next `corral check --log` recovers the log itself and reports a torn tail if any.
    proc = subprocess.run(
        [*corral, "check", "--log", str(path)],
        input=json.dumps(ACTIONS[0]).encode() + b"\n",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    torn_tail = result is not None and not result.ok
    assert (b"was incomplete" in proc.stderr) == torn_tail
    final = verify(path)
    assert final.ok, final.describe()
    assert acknowledged | {json.loads(proc.stdout)["decision_id"]} <= decision_ids(path)
