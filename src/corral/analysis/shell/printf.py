"""What ``printf`` and ``echo`` print, computed without running them.

Both return the output and whether a byte escape (``\\x73``, ``\\163``, ``\\u0073``) was decoded
on the way: printing ``\\x73\\x73\\x68`` is how ``ssh`` is hidden from a plain text search.
"""

from __future__ import annotations

import re

from corral.analysis.shell.words import SIMPLE_ESCAPES, code_point

_MAX_FIELD = 1024
_MAX_ROUNDS = 256

_FORMAT_ESCAPE = re.compile(
    r"\\(x[0-9A-Fa-f]{1,2}|u[0-9A-Fa-f]{1,4}|U[0-9A-Fa-f]{1,8}|[0-7]{1,3}|.)", re.DOTALL
)
# In %b arguments and echo -e, octal escapes are written \0nnn (bash also takes \nnn).
_ARG_ESCAPE = re.compile(
    r"\\(x[0-9A-Fa-f]{1,2}|u[0-9A-Fa-f]{1,4}|U[0-9A-Fa-f]{1,8}|0[0-7]{0,3}|[1-7][0-7]{0,2}|c|.)",
    re.DOTALL,
)
_SPEC = re.compile(r"%([-+ #0]*)(\*|\d+)?(?:\.(\*|\d*))?([diouxXcsbqfFeEgGaA%])")


class _Unsupported(Exception):
    pass


def _unescape(text: str, pattern: re.Pattern[str]) -> tuple[str, bool, bool]:
    """(text with escapes decoded, a byte escape was decoded, ``\\c`` stopped the output)."""
    if "\\" not in text:
        return text, False, False
    decoded = False
    out: list[str] = []
    pos = 0
    for match in pattern.finditer(text):
        out.append(text[pos : match.start()])
        pos = match.end()
        body = match.group(1)
        head = body[0]
        if head == "c" and len(body) == 1 and pattern is _ARG_ESCAPE:
            return "".join(out), decoded, True
        if head == "x" and len(body) > 1:
            out.append(chr(int(body[1:], 16)))
            decoded = True
        elif head in "uU" and len(body) > 1:
            out.append(code_point(int(body[1:], 16)))
            decoded = True
        elif head in "01234567":
            digits = body[1:] if pattern is _ARG_ESCAPE and head == "0" else body
            out.append(chr(int(digits or "0", 8) & 0xFF))
            decoded = True
        else:
            simple = SIMPLE_ESCAPES.get(body)
            out.append(simple if simple is not None else "\\" + body)
    out.append(text[pos:])
    return "".join(out), decoded, False


def _integer(arg: str) -> int:
    arg = arg.strip()
    if not arg:
        return 0
    if arg[0] in "'\"":
        return ord(arg[1]) if len(arg) > 1 else 0
    sign = -1 if arg.startswith("-") else 1
    body = arg.lstrip("+-")
    try:
        if body.lower().startswith("0x"):
            return sign * int(body[2:], 16)
        if body.startswith("0") and len(body) > 1:
            return sign * int(body, 8)
        return sign * int(body, 10)
    except ValueError as exc:
        raise _Unsupported from exc


def _number(arg: str) -> float:
    try:
        return float(arg.strip() or "0")
    except ValueError as exc:
        raise _Unsupported from exc


def _size(text: str | None, args: list[str]) -> str:
    if text == "*":
        value = _integer(args.pop(0)) if args else 0
        text = str(value)
    if text and abs(int(text)) > _MAX_FIELD:
        raise _Unsupported
    return text or ""


def printf(fmt: str, args: list[str], limit: int) -> tuple[str, bool] | None:
    """``printf FMT ARGS...`` output, or None when a directive is not understood or the
    output would exceed ``limit`` characters."""
    fmt, decoded, _ = _unescape(fmt, _FORMAT_ESCAPE)
    pending = list(args)
    out: list[str] = []
    size = 0
    try:
        for _round in range(_MAX_ROUNDS):
            consumed = False
            pos = 0
            for match in _SPEC.finditer(fmt):
                out.append(fmt[pos : match.start()])
                pos = match.end()
                flags, width, precision, conv = match.groups()
                if conv == "%":
                    out.append("%")
                    continue
                width = _size(width, pending)
                precision = _size(precision, pending) if precision is not None else None
                consumed = consumed or bool(pending)
                arg = pending.pop(0) if pending else ""
                piece, stop, was_decoded = _convert(conv, flags, width, precision, arg)
                decoded = decoded or was_decoded
                out.append(piece)
                size += len(piece)
                if stop:
                    return "".join(out), decoded
                if size > limit:
                    return None
            out.append(fmt[pos:])
            if not pending or not consumed:
                break
        else:
            return None  # more arguments than rounds: the output is not computed in full
    except (_Unsupported, ValueError, OverflowError, TypeError):
        return None
    text = "".join(out)
    return (text, decoded) if len(text) <= limit else None


def _convert(
    conv: str, flags: str, width: str, precision: str | None, arg: str
) -> tuple[str, bool, bool]:
    """One directive: (text, ``\\c`` seen, byte escape decoded)."""
    spec = "%" + flags + width + ("." + precision if precision is not None else "")
    if conv == "b":
        text, decoded, stop = _unescape(arg, _ARG_ESCAPE)
        return (spec + "s") % text, stop, decoded
    if conv == "q":
        return (spec + "s") % arg, False, False
    if conv == "s":
        return (spec + "s") % arg, False, False
    if conv == "c":
        return (spec + "s") % arg[:1], False, False
    if conv in "diouxX":
        value = _integer(arg)
        if conv == "u":
            conv = "d"
        return (spec + conv) % value, False, False
    return (spec + conv) % _number(arg), False, False


def echo(args: list[str], escapes: bool = False) -> tuple[str, bool]:
    """``echo [-neE] ARGS...`` output and whether ``-e`` decoded a byte escape."""
    newline = True
    index = 0
    for index, arg in enumerate(args):  # noqa: B007 - index is used after the loop
        if len(arg) < 2 or arg[0] != "-" or any(c not in "neE" for c in arg[1:]):
            break
        newline = newline and "n" not in arg
        if "e" in arg:
            escapes = True
        if "E" in arg:
            escapes = False
    else:
        index = len(args)
    text = " ".join(args[index:])
    decoded = False
    if escapes:
        text, decoded, stop = _unescape(text, _ARG_ESCAPE)
        if stop:
            return text, decoded
    return (text + "\n" if newline else text), decoded
