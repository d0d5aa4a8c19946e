"""State of one analysis: the facts found so far, the budgets left, variables in scope."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from corral.analysis.facts import Analysis, Payload, Redirect

if TYPE_CHECKING:
    from corral.analysis.shell.analyzer import ShellLimits
    from corral.analysis.shell.parse import Source


WORK_UNITS = 100_000
"""Words, expansions and statements one analysis may process, nested analyses included."""


class Stop(Exception):
    """Raised when a global limit is hit: the walk ends, the problem is already recorded."""


@dataclass(slots=True)
class Known:
    """Text whose value is known before the command runs (a variable, a command's output).

    ``via`` lists the decoders that produced it, outermost first (``("rev", "base64 -d")``);
    ``unresolved`` says that it embeds a placeholder for a value Corral could not determine.
    """

    text: str
    via: tuple[str, ...] = ()
    unresolved: bool = False
    raw: bytes | None = None

    def data(self) -> bytes:
        """The bytes behind the text (binary decoder output keeps its exact bytes)."""
        if self.raw is not None:
            return self.raw
        return self.text.encode("utf-8", "surrogateescape")


EMPTY = Known("")


@dataclass(slots=True)
class Scope:
    """Variables, arrays, positional parameters and working directory of one shell process."""

    vars: dict[str, Known] = field(default_factory=dict)
    arrays: dict[str, list[str]] = field(default_factory=dict)
    positional: list[str] | None = None
    exported: set[str] = field(default_factory=set)
    cwd: str | None = None

    def copy(self) -> Scope:
        """The scope of a subshell: it sees the parent's variables, its changes do not leak."""
        return Scope(
            dict(self.vars),
            {k: list(v) for k, v in self.arrays.items()},
            self.positional,
            set(self.exported),
            self.cwd,
        )

    def child(self, positional: list[str] | None) -> Scope:
        """The scope of a new shell process: only exported variables are inherited."""
        inherited = {k: v for k, v in self.vars.items() if k in self.exported}
        return Scope(inherited, {}, positional, set(self.exported), self.cwd)


@dataclass(slots=True)
class Frame:
    """Where the walk is: the source being read, its scope, the wrapper chain and the depth."""

    src: Source
    scope: Scope
    via: tuple[str, ...]
    depth: int
    background: bool = False
    group: tuple[Redirect, ...] = ()  # redirections of an enclosing { ...; } or ( ... )

    def deeper(self) -> Frame:
        return Frame(self.src, self.scope, self.via, self.depth + 1, self.background, self.group)


class Ctx:
    """The analysis being filled and the budgets every branch of the walk draws from."""

    __slots__ = (
        "analysis",
        "commands_left",
        "cwd",
        "data_spans",
        "decode_left",
        "expand_left",
        "limits",
        "parse_left",
        "problem_set",
        "text_set",
        "top",
        "work_left",
    )

    def __init__(self, analysis: Analysis, limits: ShellLimits, cwd: str | None):
        self.analysis = analysis
        self.limits = limits
        self.cwd = cwd
        self.commands_left = limits.max_commands
        self.decode_left = limits.max_decode_bytes
        # Re-analysed text (bash -c strings, eval, decoded payloads) and expanded variable text
        # are bounded too, so that a short line cannot make the analyser do unbounded work.
        self.parse_left = 4 * limits.max_bytes
        self.expand_left = 4 * limits.max_bytes
        self.work_left = WORK_UNITS
        self.problem_set: set[str] = set()
        self.text_set: set[str] = set()
        # The typed line and the byte spans of its data-only arguments (``echo``/``printf``
        # text), which are left out of the line's pattern scan: see analyzer.scanned_line.
        self.top: object | None = None
        self.data_spans: list[tuple[int, int]] = []

    def problem(self, message: str) -> None:
        if message not in self.problem_set:
            self.problem_set.add(message)
            self.analysis.problems.append(message)

    def stop(self, message: str) -> Stop:
        self.problem(message)
        return Stop(message)

    def spend(self, units: int = 1) -> None:
        """Draw from the work budget; past it the analysis stops with a problem."""
        self.work_left -= units
        if self.work_left < 0:
            raise self.stop(
                f"the command line is too complex to analyse (over {WORK_UNITS} words, "
                "expansions and statements); Corral stopped reading there"
            )

    def text(self, value: str) -> None:
        if value and value not in self.text_set:
            self.text_set.add(value)
            self.analysis.texts.append(value)

    def payload(self, encoding: str, text: str, source: str) -> None:
        self.analysis.payloads.append(Payload(encoding=encoding, text=text, source=source))
        self.text(text)

    def charge_decode(self, size: int) -> bool:
        """Draw ``size`` decoded bytes from the budget; False (and a problem) when exhausted."""
        if size > self.decode_left:
            limit = self.limits.max_decode_bytes
            self.problem(
                f"decoded payloads exceed the {limit}-byte analysis limit; the rest was not decoded"
            )
            self.decode_left = 0
            return False
        self.decode_left -= size
        return True

    def charge_expand(self, size: int) -> bool:
        if size > self.expand_left:
            self.problem(
                f"expanded words exceed {4 * self.limits.max_bytes} bytes; "
                "the rest was left unexpanded"
            )
            self.expand_left = 0
            return False
        self.expand_left -= size
        return True
