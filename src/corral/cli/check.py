"""``corral check``: JSON Lines of actions in, JSON Lines of decisions out, streaming."""

from __future__ import annotations

import functools
import io
import json
import os
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any

import click

from corral.cli import log as log_cmd
from corral.cli.common import EXIT_CANNOT_RUN, make_guard, policy_option, workspace_option
from corral.engine.guard import Guard
from corral.integrations.guard_factory import attach_state, close_state
from corral.model.decisions import Decision
from corral.sinks import DecisionLog
from corral.util.statedir import STATE_DIR_ENV

MAX_LINE_BYTES = 4 * 1024 * 1024


def read_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """Numbered lines; an over-long line yields ``None`` after being skipped to its end."""
    number = 0
    while True:
        chunk = stream.readline(MAX_LINE_BYTES + 1)
        if not chunk:
            return
        number += 1
        if len(chunk) > MAX_LINE_BYTES and not chunk.endswith(b"\n"):
            while chunk and not chunk.endswith(b"\n"):
                chunk = stream.readline(MAX_LINE_BYTES)
            yield number, None
            continue
        yield number, chunk


def check_stream(
    guard: Guard, source: IO[bytes], sink: IO[str], log: DecisionLog | None = None
) -> int:
    """Judge every line of ``source``; returns 0 if all were well-formed, else 1.

    With ``log`` each decision is written out only once the log holds it durably (a log error
    propagates as :class:`corral.sinks.LogError`, so nothing unlogged is written out). Each
    decision is flushed as soon as it is made when the input is a pipe or a terminal (someone is
    waiting for it); reading a regular file, output is flushed in blocks.
    """
    write = partial(_write, flush=not _is_regular_file(source))
    status = 0
    for number, raw in read_lines(source):
        if raw is not None and not raw.strip():
            continue
        action: object
        if raw is None:
            action = f"the line is over the {MAX_LINE_BYTES}-byte limit"
        else:
            action = _decode(raw)
        if isinstance(action, str):
            decision = guard.reject(action, line=number)
        else:
            decision = guard.decide(action, line=number)
        if decision.error is not None:
            status = 1
        if log is None:
            write(sink, decision)
        else:
            logged = raw if isinstance(action, str) else action  # the raw line when unparsable
            log.append(decision, logged, on_durable=partial(write, sink, decision))
    sink.flush()
    return status


def _is_regular_file(stream: IO[bytes]) -> bool:
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, io.UnsupportedOperation):
        return False


def _write(sink: IO[str], decision: Decision, *, flush: bool) -> None:
    sink.write(json.dumps(decision.to_dict(), ensure_ascii=False) + "\n")
    if flush:
        sink.flush()


def _decode(raw: bytes) -> object:
    """The parsed JSON, or a string describing why the line is not JSON."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not valid UTF-8 at byte {exc.start}"
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} at column {exc.colno}"
    except RecursionError:
        return "not valid JSON: nested too deeply"


# -- sessions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionOptions:
    state_dir: Path | None
    enabled: bool
    replay_time: bool


def session_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Adds ``--state-dir``, ``--no-sessions`` and ``--replay-time``, passed on as ``sessions``."""

    @click.option(
        "--state-dir",
        type=click.Path(file_okay=False, path_type=Path),
        metavar="DIR",
        help="Where session state, stored decisions and alerts live "
        f"(default: ${STATE_DIR_ENV} or Corral's state directory).",
    )
    @click.option(
        "--no-sessions",
        is_flag=True,
        help="Judge every action on its own, even when it carries 'session'.",
    )
    @click.option(
        "--replay-time",
        is_flag=True,
        help="Use each action's 'ts' as the session clock (for replaying recorded sessions; "
        "agents control 'ts', so never for live use).",
    )
    @functools.wraps(command)
    def wrapper(
        *args: Any, state_dir: Path | None, no_sessions: bool, replay_time: bool, **kwargs: Any
    ) -> Any:
        options = SessionOptions(state_dir, not no_sessions, replay_time)
        return command(*args, sessions=options, **kwargs)

    return wrapper


@click.command()
@policy_option
@workspace_option
@log_cmd.log_options
@session_options
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def check(
    policy: str,
    workspace: tuple[str, ...],
    file: Path | None,
    log: log_cmd.LogOptions | None,
    sessions: SessionOptions,
) -> None:
    """Judge actions (JSON Lines, from FILE or stdin); write decisions as JSON Lines.

    Actions that carry 'session' are judged with their session's history (kept in the state
    directory). Exit status: 0 every line judged cleanly, 1 some line was malformed, 2 could not
    run.
    """
    guard = attach_state(
        make_guard(policy, workspace),
        state_dir=sessions.state_dir,
        sessions=sessions.enabled,
        replay_time=sessions.replay_time,
    )
    source: IO[bytes]
    if file is None or str(file) == "-":
        source = sys.stdin.buffer
    else:
        try:
            source = file.open("rb")
        except OSError as exc:
            click.echo(f"corral: cannot read {file}: {exc.strerror}", err=True)
            sys.exit(EXIT_CANNOT_RUN)
    try:
        with source, log_cmd.opened_log(log) as decision_log:
            status = check_stream(guard, source, sys.stdout, decision_log)
    finally:
        for message in close_state(guard):
            click.echo(f"corral: {message}", err=True)
    sys.exit(status)
