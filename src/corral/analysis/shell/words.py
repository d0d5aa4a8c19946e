"""Word-level rules of bash that need no tree: quote removal, escapes, braces, field splitting.

Everything here is a pure function on strings, bounded in the work it does: brace expansion
gives up (returns ``None``) past a fixed number of results instead of expanding
``{a,b}{a,b}...`` into millions of words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

MAX_BRACE_RESULTS = 256
MAX_BRACE_WORD = 1024  # longer words are left unexpanded (and unresolved)
_MAX_RANGE = 256
_BRACE_TOKENS = re.compile(r"\\.|[{},]", re.DOTALL)

# ---- quote removal -----------------------------------------------------------------------------

_UNQUOTED_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_DQUOTED_ESCAPE = re.compile(r'\\([$`"\\\n])')
_HEREDOC_ESCAPE = re.compile(r"\\([$`\\\n])")


def _drop_backslash(match: re.Match[str]) -> str:
    char = match.group(1)
    return "" if char == "\n" else char


def unescape_unquoted(raw: str) -> str:
    """Quote removal for unquoted text: ``\\s\\s\\h`` is ``ssh``, backslash-newline joins lines."""
    if "\\" not in raw:
        return raw
    return _UNQUOTED_ESCAPE.sub(_drop_backslash, raw)


def unescape_dquoted(raw: str) -> str:
    """Inside double quotes a backslash only escapes ``$ ` " \\`` and newline."""
    if "\\" not in raw:
        return raw
    return _DQUOTED_ESCAPE.sub(_drop_backslash, raw)


def unescape_heredoc(raw: str) -> str:
    """In an unquoted here-document a backslash escapes ``$ ` \\`` and newline, not quotes."""
    if "\\" not in raw:
        return raw
    return _HEREDOC_ESCAPE.sub(_drop_backslash, raw)


_ANSI_ESCAPE = re.compile(
    r"\\(x[0-9A-Fa-f]{1,2}|u[0-9A-Fa-f]{1,4}|U[0-9A-Fa-f]{1,8}|[0-7]{1,3}|c.|.)", re.DOTALL
)
# The backslash escapes bash shares between $'...', echo -e and printf.
SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}


def code_point(value: int) -> str:
    """A character for a numeric escape; invalid code points become U+FFFD."""
    if 0 <= value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF:
        return chr(value)
    return "\ufffd"


def _ansi_one(match: re.Match[str]) -> str:
    body = match.group(1)
    head = body[0]
    if head == "x" and len(body) > 1:
        return chr(int(body[1:], 16))
    if head in "uU" and len(body) > 1:
        return code_point(int(body[1:], 16))
    if head in "01234567":
        return chr(int(body, 8) & 0xFF)
    if head == "c" and len(body) == 2:
        return chr(ord(body[1]) & 0x1F)
    simple = SIMPLE_ESCAPES.get(body)
    return simple if simple is not None else "\\" + body


def ansi_c(body: str) -> str:
    """The value of ``$'body'``: C escapes (``\\x73``, ``\\163``, ``\\u0073``, ``\\n``...)."""
    if "\\" not in body:
        return body
    return _ANSI_ESCAPE.sub(_ansi_one, body)


def strip_quotes(raw: str) -> str:
    """Rough quote removal for a pattern or delimiter as written (``'EOF'``, ``E"O"F``)."""
    out: list[str] = []
    quote = ""
    i = 0
    while i < len(raw):
        ch = raw[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote == '"' and i + 1 < len(raw):
                i += 1
                out.append(raw[i])
            else:
                out.append(ch)
        elif ch in "'\"":
            quote = ch
        elif ch == "\\" and i + 1 < len(raw):
            i += 1
            out.append(raw[i])
        else:
            out.append(ch)
        i += 1
    return "".join(out)


# ---- field splitting ---------------------------------------------------------------------------

LITERAL = 0  # quoted text or literal unquoted text: never split
SPLIT = 1  # result of an unquoted expansion: split on blanks
Chunk = tuple[str | tuple[str, ...], int]
"""A piece of one word: text and how it behaves; a tuple of strings is ``"$@"`` (one field each)."""


def fields_of(chunks: list[Chunk]) -> list[str]:
    """Split a word's chunks into fields the way bash does with the default IFS."""
    fields: list[str] = []
    current: list[str] = []
    started = False
    for value, kind in chunks:
        if isinstance(value, tuple):
            current = _add_parts(fields, current, value)
            started = started or bool(value)
            continue
        if kind == LITERAL:
            current.append(value)
            started = True
            continue
        parts = value.split()
        if not parts:
            if value and started:  # only blanks: ends the current field
                fields.append("".join(current))
                current, started = [], False
            continue
        if value[0].isspace() and started:
            fields.append("".join(current))
            current = []
        current = _add_parts(fields, current, parts)
        started = True
        if value[-1].isspace():
            fields.append("".join(current))
            current, started = [], False
    if started:
        fields.append("".join(current))
    return fields


def _add_parts(fields: list[str], current: list[str], parts: Sequence[str]) -> list[str]:
    """Add ``parts`` to the word: the first continues the current field, each later one ends
    the field before it. Returns the pieces of the field now being built."""
    for index, part in enumerate(parts):
        if index:
            fields.append("".join(current))
            current = []
        current.append(part)
    return current


# ---- brace expansion ---------------------------------------------------------------------------

_SEQUENCE = re.compile(r"^(-?\d+|[A-Za-z])\.\.(-?\d+|[A-Za-z])(?:\.\.(-?\d+))?$")


def _sequence(body: str) -> list[str] | None:
    match = _SEQUENCE.match(body)
    if match is None:
        return None
    first, last, step_text = match.groups()
    step = abs(int(step_text)) if step_text else 1
    step = step or 1
    if first.lstrip("-").isdigit() and last.lstrip("-").isdigit():
        lo, hi = int(first), int(last)
        if abs(hi - lo) // step >= _MAX_RANGE:
            return None
        width = max(len(first), len(last)) if first.lstrip("-").startswith("0") else 0
        rng = range(lo, hi + 1, step) if lo <= hi else range(lo, hi - 1, -step)
        return [str(n).zfill(width) for n in rng]
    if len(first) == 1 and len(last) == 1 and first.isalpha() and last.isalpha():
        lo, hi = ord(first), ord(last)
        rng = range(lo, hi + 1, step) if lo <= hi else range(lo, hi - 1, -step)
        return [chr(n) for n in rng]
    return None


def brace_expand(text: str, limit: int = MAX_BRACE_RESULTS) -> list[str] | None:
    """``a{b,c}d`` -> ``[abd, acd]``; ``{1..3}`` -> ``[1, 2, 3]``; ``None`` past ``limit`` results
    or for a word longer than :data:`MAX_BRACE_WORD`.

    Backslash-escaped braces do not expand; text without an expandable brace comes back as is.
    """
    if len(text) > MAX_BRACE_WORD:
        return None
    pending = [text]
    done: list[str] = []
    while pending:
        item = pending.pop()
        expanded = _expand_first(item)
        if expanded is None:
            done.append(item)
        else:
            pending.extend(reversed(expanded))
        if len(done) + len(pending) > limit:
            return None
    return done


def _expand_first(text: str) -> list[str] | None:
    """Expand the leftmost expandable brace group of ``text``; ``None`` when there is none."""
    stack: list[tuple[int, list[int]]] = []
    best: tuple[int, int, list[int]] | None = None
    for match in _BRACE_TOKENS.finditer(text):
        token, pos = match.group(), match.start()
        if token == "{":
            stack.append((pos, []))
        elif token == "," and stack:
            stack[-1][1].append(pos)
        elif token == "}" and stack:
            start, commas = stack.pop()
            if best is not None and best[0] < start:
                continue
            if commas or _sequence(text[start + 1 : pos]) is not None:
                best = (start, pos, commas)
    if best is None:
        return None
    start, end, commas = best
    prefix, suffix = text[:start], text[end + 1 :]
    if commas:
        cuts = [start, *commas, end]
        alternatives = [text[cuts[k] + 1 : cuts[k + 1]] for k in range(len(cuts) - 1)]
        return [prefix + alt + suffix for alt in alternatives]
    sequence = _sequence(text[start + 1 : end]) or []
    return [prefix + item + suffix for item in sequence]


# ---- patterns ----------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A compiled regex for a shell pattern (``*``, ``?``, ``[...]``, backslash escapes)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                out.append(re.escape(ch))
            else:
                inner = pattern[i + 1 : end]
                if inner.startswith("!"):
                    inner = "^" + inner[1:]
                out.append("[" + inner.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error:
        return re.compile(re.escape(pattern), re.DOTALL)


def has_glob(text: str) -> bool:
    return "*" in text or "?" in text or "[" in text
