"""Helpers shared by the shell analyser tests."""

from __future__ import annotations

from corral.analysis.facts import Analysis, Command
from corral.analysis.shell import analyze_command_line


def analyze(line: str, cwd: str | None = None) -> Analysis:
    return analyze_command_line(line, cwd=cwd)


def commands(line: str) -> list[Command]:
    result = analyze(line)
    assert result.problems == [], result.problems
    return result.commands


def argvs(line: str) -> list[list[str]]:
    return [c.argv for c in commands(line)]


def first(line: str, program: str) -> Command:
    """The first command running ``program``; fails the test when there is none."""
    result = analyze(line)
    for cmd in result.commands:
        if cmd.program == program:
            return cmd
    raise AssertionError(f"no {program} in {[c.argv for c in result.commands]} ({result.problems})")
