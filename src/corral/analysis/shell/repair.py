"""Rewrite valid bash that tree-sitter-bash misreads into an equivalent it reads correctly.

Two passes, both quote-aware and both leaving here-document bodies alone:

* :func:`join_lines` removes backslash-newline outside single quotes before parsing, as bash
  does before it splits words: tree-sitter would read ``s\\<newline>sh`` as two words.
* :func:`repair` runs only when a parse fails, for forms tree-sitter-bash 0.25 reports as
  errors: a here-document whose command is followed by ``&`` or ``;`` (``cat <<EOF | sh &``),
  two here-documents on one line, the read-write redirection ``<>``
  (``exec 3<>/dev/tcp/host/80``) and a brace expansion as the first word (``{ssh,-R,...}``).
  Each here-document becomes a here-string naming a stored body (:class:`Heredoc`), ``<>``
  becomes ``>|`` at a recorded offset so that the walker puts ``<>`` back, and a leading ``{``
  gets an empty quote in front (``''{a,b}`` expands like ``{a,b}``). The rewrite is used only
  when it parses without errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from corral.analysis.shell.words import strip_quotes

MARKER = "__corral_heredoc_{}__"
_WORD_END = " \t\n;&|<>()"
_COMMAND_START = ";&|(\n`"
_PLAIN = re.compile(r"[^\\'\"#<{\n]+")  # runs of characters the rewriter copies as they are


@dataclass(slots=True)
class Heredoc:
    body: str
    quoted: bool


@dataclass(slots=True)
class Repaired:
    text: str
    heredocs: dict[str, Heredoc] = field(default_factory=dict)
    readwrite: set[int] = field(default_factory=set)


def join_lines(text: str) -> str:
    """``text`` without backslash-newline line continuations (outside single quotes)."""
    if "\\\n" not in text:
        return text
    return _Rewriter(text, repair=False).run().text


def repair(text: str) -> Repaired | None:
    """The rewritten text, or None when there is nothing this module knows how to rewrite."""
    if "<<" not in text and "<>" not in text and "{" not in text:
        return None
    return _Rewriter(text, repair=True).run()


class _Rewriter:
    """One pass over the text with just enough of bash's lexer: quotes, comments, here-docs."""

    def __init__(self, text: str, repair: bool):
        self.text = text
        self.repair = repair
        self.parts: list[str] = []
        self.size = 0  # UTF-8 bytes written so far: offsets must match the parse tree's
        self.result = Repaired("")
        self.pending: list[tuple[str, str, bool, bool]] = []  # marker, delimiter, quoted, strip
        self.last = ""  # the last character written outside blanks

    def add(self, piece: str) -> None:
        self.parts.append(piece)
        self.size += len(piece.encode("utf-8", "surrogatepass"))
        stripped = piece.rstrip(" \t")
        if stripped:
            self.last = stripped[-1]

    def run(self) -> Repaired:
        text, n = self.text, len(self.text)
        i = 0
        quote = ""
        while i < n:
            ch = text[i]
            if quote:
                i, closed = self._quoted(i, quote)
                if closed:
                    quote = ""
                continue
            if ch == "\\" and i + 1 < n:
                if text[i + 1] != "\n":
                    self.add(text[i : i + 2])
                i += 2
            elif ch in "'\"":
                quote = "$" if ch == "'" and i and text[i - 1] == "$" else ch
                self.add(ch)
                i += 1
            elif ch == "#" and (i == 0 or text[i - 1] in " \t\n;&|("):
                end = text.find("\n", i)
                end = n if end < 0 else end
                self.add(text[i:end])
                i = end
            elif text.startswith("<<<", i):
                self.add("<<<")
                i += 3
            elif text.startswith("<<", i):
                i = self._heredoc_operator(i)
            elif self.repair and text.startswith("<>", i):
                self.result.readwrite.add(self.size)
                self.add(">|")
                i += 2
            elif (
                self.repair
                and ch == "{"
                and i + 1 < n
                and text[i + 1] not in " \t\n}"
                and self.last in ("", *_COMMAND_START)
            ):
                self.add("''{")
                i += 1
            elif ch == "\n" and self.pending:
                self.add("\n")
                i = self._bodies(i + 1)
            else:
                match = _PLAIN.match(text, i + 1)
                end = match.end() if match else i + 1
                self.add(text[i:end])
                i = end
        for marker, _delim, quoted, _strip in self.pending:  # unterminated: read to the end
            self.result.heredocs[marker] = Heredoc("", quoted)
        self.result.text = "".join(self.parts)
        return self.result

    def _quoted(self, i: int, quote: str) -> tuple[int, bool]:
        """Copy quoted text up to and including the closing quote: (new position, closed).

        ``quote`` is ``'``, ``"`` or ``$`` for ``$'...'``, where backslashes escape too."""
        text = self.text
        closer = '"' if quote == '"' else "'"
        j = i
        while j < len(text):
            ch = text[j]
            if ch == "\\" and quote != "'" and j + 1 < len(text):
                if text[j + 1] == "\n" and quote == '"':
                    self.add(text[i:j])
                    i = j + 2
                j += 2
                continue
            j += 1
            if ch == closer:
                self.add(text[i:j])
                return j, True
        self.add(text[i:j])
        return j, False

    def _heredoc_operator(self, i: int) -> int:
        text = self.text
        strip = text.startswith("<<-", i)
        j = i + (3 if strip else 2)
        while j < len(text) and text[j] in " \t":
            j += 1
        start = j
        quote = ""
        while j < len(text):
            ch = text[j]
            if quote:
                if ch == quote:
                    quote = ""
            elif ch in "'\"":
                quote = ch
            elif ch == "\\" and j + 1 < len(text):
                j += 1
            elif ch in _WORD_END:
                break
            j += 1
        raw = text[start:j]
        if not raw:
            self.add(text[i:j])
            return j
        marker = MARKER.format(len(self.result.heredocs) + len(self.pending))
        self.pending.append((marker, strip_quotes(raw), any(c in raw for c in "'\"\\"), strip))
        self.add(f"<<< {marker}" if self.repair else text[i:j])
        return j

    def _bodies(self, i: int) -> int:
        """Consume the bodies of the pending here-documents from ``i``; the new position."""
        text, n = self.text, len(self.text)
        for marker, delim, quoted, strip in self.pending:
            lines: list[str] = []
            while i < n:
                end = text.find("\n", i)
                line = text[i:] if end < 0 else text[i:end]
                start, i = i, (n if end < 0 else end + 1)
                if not self.repair:
                    self.add(text[start:i])
                check = line.lstrip("\t") if strip else line
                if check == delim:
                    break
                lines.append(check if strip else line)
            self.result.heredocs[marker] = Heredoc("".join(f"{x}\n" for x in lines), quoted)
        self.pending = []
        return i
