"""``corral log verify`` and the ``--log`` options of ``corral check`` (the decision log)."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click

from corral.cli.common import EXIT_CANNOT_RUN
from corral.sinks import DecisionLog, LogError, load_key, verify
from corral.sinks.decision_log import SyncMode

EXIT_TAMPERED = 1


@click.group("log")
def log() -> None:
    """Work with tamper-evident decision logs (written by `corral check --log`)."""


@log.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--key",
    "key_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="KEYFILE",
    help="The checkpoint key the log was written with; also checks the keyed checkpoints.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify_command(file: Path, key_file: Path | None, as_json: bool) -> None:
    """Check a decision log's hash chain; name the first record that was tampered with.

    Exit status: 0 intact, 1 tampered (or a torn last record), 2 the log or key cannot be read.
    """
    try:
        key = load_key(key_file) if key_file is not None else None
    except LogError as exc:
        _cannot_run(str(exc))
    try:
        result = verify(file, key)
    except OSError as exc:
        _cannot_run(f"cannot read {file}: {exc.strerror}")
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        click.echo(result.describe())
    sys.exit(0 if result.ok else EXIT_TAMPERED)


# -- `corral check --log` ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogOptions:
    path: Path
    key_file: Path | None
    sync: SyncMode


def log_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Adds ``--log``, ``--log-key`` and ``--log-sync``, passed on as one ``log`` argument."""

    @click.option(
        "--log",
        "log_file",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="FILE",
        help="Append every decision (with its action, secrets redacted) to this tamper-evident "
        "log before writing it out; stop with status 2 if the log cannot be written.",
    )
    @click.option(
        "--log-key",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="KEYFILE",
        help="Add keyed (HMAC) checkpoints to the log with the key in this file.",
    )
    @click.option(
        "--log-sync",
        type=click.Choice(["always", "batch"]),
        default="always",
        show_default=True,
        help="fsync every decision before writing it out (always), or group fsyncs and hold "
        "decisions back until theirs is done (batch: faster, adds up to 10 ms).",
    )
    @functools.wraps(command)
    def wrapper(
        *args: Any, log_file: Path | None, log_key: Path | None, log_sync: SyncMode, **kwargs: Any
    ) -> Any:
        if log_file is None and log_key is not None:
            raise click.UsageError("--log-key needs --log FILE")
        options = LogOptions(log_file, log_key, log_sync) if log_file is not None else None
        return command(*args, log=options, **kwargs)

    return wrapper


@contextmanager
def opened_log(options: LogOptions | None) -> Iterator[DecisionLog | None]:
    """The decision log for ``corral check``, failing closed (exit 2) on any log error.

    On a normal end (including ``sys.exit``) the log is closed, which fsyncs and releases any
    decisions still held back; after a log error nothing more is written out.
    """
    if options is None:
        yield None
        return
    try:
        key = load_key(options.key_file) if options.key_file is not None else None
        decision_log = DecisionLog(options.path, sync=options.sync, key=key)
    except LogError as exc:
        _cannot_run(f"decision log: {exc}")
    if decision_log.torn is not None:
        torn = decision_log.torn
        click.echo(
            f"corral: decision log {options.path}: its last record was incomplete (a writer "
            f"stopped mid-append); moved {torn.size} bytes to {torn.moved_to} and continued "
            "the chain from the last complete record",
            err=True,
        )
    try:
        yield decision_log
    except LogError as exc:
        decision_log.abort()
        _log_failed(options.path, exc)
    except BaseException:
        _close(decision_log, options.path)
        raise
    _close(decision_log, options.path)


def _close(decision_log: DecisionLog, path: Path) -> None:
    try:
        decision_log.close()
    except LogError as exc:
        _log_failed(path, exc)


def _log_failed(path: Path, exc: LogError) -> NoReturn:
    _cannot_run(
        f"decision log {path} could not be written ({exc}); stopped without writing out "
        "decisions that were not logged"
    )


def _cannot_run(message: str) -> NoReturn:
    click.echo(f"corral: {message}", err=True)
    sys.exit(EXIT_CANNOT_RUN)
