"""Entry points of the shell analyser (interface; implementation in progress)."""

from __future__ import annotations

from dataclasses import dataclass

from corral.analysis.facts import Analysis


@dataclass(frozen=True, slots=True)
class ShellLimits:
    """Bounds on the work done for one command line; exceeding one is a problem (deny)."""

    max_bytes: int = 256 * 1024
    max_depth: int = 24
    max_commands: int = 2000
    max_decode_bytes: int = 64 * 1024


def analyze_command_line(
    line: str, *, cwd: str | None = None, limits: ShellLimits = ShellLimits()
) -> Analysis:
    """Every simple command ``line`` would run, with the targets, files and code it touches."""
    raise NotImplementedError


def analyze_argv(
    argv: list[str], *, cwd: str | None = None, limits: ShellLimits = ShellLimits()
) -> Analysis:
    """Like :func:`analyze_command_line` for an argv that is executed without a shell."""
    raise NotImplementedError
