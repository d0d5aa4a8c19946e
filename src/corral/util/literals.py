"""Required literals of a regular expression: a cheap necessary condition for a match.

Most rule regexes contain a fixed piece (``stratum+``, ``/dev/tcp/``, ``--donate-level``). If no
such piece occurs anywhere in an action, the regex cannot match and need not run; across a
couple of hundred rules that is most of the work saved. Strings are compared case-folded, which
is at least as permissive as ``re.IGNORECASE`` (so the shortcut can never hide a match).
"""

from __future__ import annotations

import importlib
import re
from typing import Any

try:  # the regex parser is internal to CPython; without it there is simply no shortcut
    _c: Any = importlib.import_module("re._constants")
    _p: Any = importlib.import_module("re._parser")
except ImportError:  # pragma: no cover - other interpreters
    _p = None
    _c = None

MIN_LITERAL = 3


def parse_regex(pattern: str) -> Any:
    """Check ``pattern`` by parsing it (about half the cost of compiling); raises ``re.error``.

    Returns the parse tree for :func:`literals_of_trees`, or None where the parser is not
    available (the pattern is then compiled to check it). The errors only compiling finds are
    about look-behinds (variable width, group references), so those few patterns are compiled.
    """
    if _p is None:  # pragma: no cover - other interpreters
        re.compile(pattern, re.IGNORECASE)
        return None
    try:
        tree = _p.parse(pattern, re.IGNORECASE)
        if "(?<" in pattern:  # (?<= or (?<! : Python has no other "(?<" syntax
            re.compile(pattern, re.IGNORECASE)
    except (RecursionError, OverflowError, ValueError) as exc:
        raise re.error(str(exc)) from exc
    return tree


def literals_of_trees(trees: list[Any]) -> frozenset[str] | None:
    """Like :func:`literals_of_all`, for patterns already parsed by :func:`parse_regex`."""
    found: set[str] = set()
    for tree in trees:
        lits = None if tree is None else _sequence(list(tree))
        if lits is None:
            return None
        found |= lits
    return frozenset(found)


def required_literals(pattern: str) -> frozenset[str] | None:
    """Case-folded strings one of which occurs in every text ``pattern`` matches, or None."""
    if _p is None:
        return None
    try:
        tree = _p.parse(pattern, re.IGNORECASE)
    except (re.error, RecursionError, ValueError):
        return None
    return _sequence(list(tree))


def _sequence(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    """The most selective literal set found along one sequence of regex nodes."""
    assert _c is not None
    candidates: list[frozenset[str]] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) >= MIN_LITERAL:
            candidates.append(frozenset({"".join(run).casefold()}))
        run.clear()

    for op, av in items:
        if op is _c.LITERAL:
            run.append(chr(av))
            continue
        flush()
        inner: frozenset[str] | None = None
        if op is _c.SUBPATTERN:
            inner = _sequence(list(av[-1]))
        elif op is _c.BRANCH:
            branches = [_sequence(list(b)) for b in av[1]]
            if all(b is not None for b in branches):
                inner = frozenset().union(*(b for b in branches if b is not None))
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT) and av[0] >= 1:
            inner = _sequence(list(av[2]))
        if inner:
            candidates.append(inner)
    flush()
    if not candidates:
        return None
    return max(candidates, key=lambda c: min(len(s) for s in c))


def literals_of_all(patterns: list[str]) -> frozenset[str] | None:
    """For an alternation of ``patterns``: the union, or None if any pattern has none."""
    found: set[str] = set()
    for pattern in patterns:
        lits = required_literals(pattern)
        if lits is None:
            return None
        found |= lits
    return frozenset(found)


def glob_literal(glob: str) -> str | None:
    """The longest fixed piece (case-folded, at least MIN_LITERAL long) of an fnmatch glob.

    A character class whose members are one letter in either case (``[Xx]``) counts as that
    letter; ``*``, ``?`` and any other class end a piece.
    """
    best = ""
    run: list[str] = []
    index = 0
    while index < len(glob):
        char = glob[index]
        if char == "[":
            end = glob.find("]", index + 2)
            members = {m.casefold() for m in glob[index + 1 : end]} if end != -1 else set()
            if end != -1 and len(members) == 1 and glob[index + 1] not in "!^":
                run.append(members.pop())
                index = end + 1
                continue
            char = "*"  # any other class (or a lone "[") is a wildcard for our purpose
            index = len(glob) if end == -1 else end
        if char in "*?":
            best = max(best, "".join(run), key=len)
            run.clear()
        else:
            run.append(char.casefold())
        index += 1
    best = max(best, "".join(run), key=len)
    return best if len(best) >= MIN_LITERAL else None


def globs_literals(globs: list[str]) -> frozenset[str] | None:
    """For a list of alternative globs: a literal of each, or None if any has none."""
    found: set[str] = set()
    for glob in globs:
        literal = glob_literal(glob)
        if literal is None:
            return None
        found.add(literal)
    return frozenset(found)
