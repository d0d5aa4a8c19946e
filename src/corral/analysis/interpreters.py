"""Interpreter one-liners: what python/perl/ruby/node/php/lua/awk code would do (interface)."""

from __future__ import annotations

from dataclasses import dataclass, field

from corral.analysis.facts import CodeFinding, FileAccess, NetTarget


@dataclass(slots=True)
class CodeAnalysis:
    findings: list[CodeFinding] = field(default_factory=list)
    targets: list[NetTarget] = field(default_factory=list)
    files: list[FileAccess] = field(default_factory=list)
    shell_commands: list[str] = field(default_factory=list)


def interpreter_language(program: str) -> str | None:
    """``python3.11`` -> ``python``; ``nodejs`` -> ``node``; ``None`` for non-interpreters."""
    raise NotImplementedError


def inline_code(language: str, args: list[str]) -> str | None:
    """The code an interpreter argv runs inline (``-c``/``-e``/``-r``/awk program), if any."""
    raise NotImplementedError


def analyze_code(language: str, code: str) -> CodeAnalysis:
    """Capabilities of ``code``; ``shell_commands`` are strings it hands to a shell (os.system...)."""
    raise NotImplementedError
