"""The operators of ``${name<op>word}`` applied to a value that is known.

Each function returns the new value, or ``None`` when bash's result cannot be determined here
(the caller then keeps the expansion as an unresolved placeholder).
"""

from __future__ import annotations

from corral.analysis.shell.words import ansi_c, glob_regex, has_glob

# Matching a pattern against every prefix or suffix is quadratic, and a pattern with many stars
# backtracks badly: past these sizes the result is left undetermined.
_MAX_PATTERN_VALUE = 256
_MAX_STARS = 2


def _too_costly(value: str, pattern: str) -> bool:
    return len(value) > _MAX_PATTERN_VALUE or len(pattern) > 64 or pattern.count("*") > _MAX_STARS


def remove_affix(value: str, op: str, pattern: str) -> str | None:
    """``#``/``##`` (prefix) and ``%``/``%%`` (suffix) removal, shortest or longest match."""
    if not has_glob(pattern):
        if op.startswith("#"):
            return value[len(pattern) :] if value.startswith(pattern) else value
        return value[: len(value) - len(pattern)] if pattern and value.endswith(pattern) else value
    if _too_costly(value, pattern):
        return None
    regex = glob_regex(pattern)
    n = len(value)
    # shortest prefix / longest suffix: cut from the left; longest prefix / shortest suffix: right
    cuts = range(n + 1) if op in ("#", "%%") else range(n, -1, -1)
    for cut in cuts:
        part = value[:cut] if op.startswith("#") else value[cut:]
        if regex.fullmatch(part):
            return value[cut:] if op.startswith("#") else value[:cut]
    return value


def replace(value: str, op: str, pattern: str, replacement: str) -> str | None:
    """``/pat/rep`` (first), ``//pat/rep`` (all), ``/#pat/rep`` (prefix), ``/%pat/rep`` (suffix)."""
    if not pattern:
        return value
    if not has_glob(pattern):
        if op == "//":
            return value.replace(pattern, replacement)
        if op == "/#":
            return replacement + value[len(pattern) :] if value.startswith(pattern) else value
        if op == "/%":
            return value[: -len(pattern)] + replacement if value.endswith(pattern) else value
        return value.replace(pattern, replacement, 1)
    if _too_costly(value, pattern):
        return None
    regex = glob_regex(pattern)
    if op == "/#":
        for cut in range(len(value), -1, -1):
            if regex.fullmatch(value[:cut]):
                return replacement + value[cut:]
        return value
    if op == "/%":
        for cut in range(len(value) + 1):
            if regex.fullmatch(value[cut:]):
                return value[:cut] + replacement
        return value
    # bash matches the longest string at the leftmost position; the regex is greedy already.
    count = 0 if op == "//" else 1
    return regex.sub(lambda _m: replacement, value, count=count)


def change_case(value: str, op: str) -> str:
    if op == "^^":
        return value.upper()
    if op == ",,":
        return value.lower()
    if op == "^":
        return value[:1].upper() + value[1:]
    if op == ",":
        return value[:1].lower() + value[1:]
    return value.swapcase() if op == "~~" else value


def substring(value: str, offset_text: str, length_text: str | None) -> str | None:
    """``${name:offset:length}`` with literal integers (negative counts from the end)."""
    try:
        offset = int(offset_text.strip() or "0")
        length = None if length_text is None else int(length_text.strip() or "0")
    except ValueError:
        return None
    if offset < 0:
        offset = max(len(value) + offset, 0)
    if length is None:
        return value[offset:]
    if length < 0:
        end = len(value) + length
        return value[offset:end] if end >= offset else None
    return value[offset : offset + length]


def transform(value: str, op: str) -> str | None:
    """``${name@X}``: ``E`` expands C escapes like ``$'...'``; ``Q`` quotes; ``U L u`` case."""
    if op == "E":
        return ansi_c(value)
    if op == "Q":
        return "'" + value.replace("'", "'\\''") + "'"
    if op == "U":
        return value.upper()
    if op == "L":
        return value.lower()
    if op == "u":
        return value[:1].upper() + value[1:]
    return None
