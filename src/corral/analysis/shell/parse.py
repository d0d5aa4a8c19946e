"""tree-sitter-bash: one parser per thread, source text access, syntax error reports."""

from __future__ import annotations

import threading

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

from corral.analysis.shell.repair import Repaired, join_lines, repair

_LANGUAGE = Language(tree_sitter_bash.language())
_local = threading.local()
_SNIPPET = 40
# tree-sitter-bash's scanner passes the lookahead character to <ctype.h> functions (isalpha,
# isdigit), which read out of bounds for anything above 255: wrong answers, and crashes for
# high code points (a command line must never crash the process judging it). So the parser only
# ever sees ASCII: every byte of a non-ASCII character is parsed as ".", an ordinary word
# character, as bash treats those characters. Byte offsets are unchanged, and the text of every
# node is read from the original.
_ASCII_ONLY = bytes(range(128)) + b"." * 128


def _parser() -> Parser:
    parser: Parser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = Parser(_LANGUAGE)
        _local.parser = parser
    return parser


class Source:
    """A parsed piece of shell text; ``text(node)`` gives a node's source as a string."""

    __slots__ = ("ascii", "data", "heredocs", "readwrite", "root", "string", "tree")

    def __init__(self, string: str, repaired: Repaired | None = None):
        self.string = string
        self.heredocs = repaired.heredocs if repaired else None
        self.readwrite = repaired.readwrite if repaired else None
        self.data = string.encode("utf-8", "surrogatepass")
        self.ascii = len(self.data) == len(string)
        parsed = self.data if self.ascii else self.data.translate(_ASCII_ONLY)
        self.tree = _parser().parse(parsed)
        self.root: Node = self.tree.root_node

    def text(self, node: Node) -> str:
        if self.ascii:
            return self.string[node.start_byte : node.end_byte]
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def span(self, start: int, end: int) -> str:
        if self.ascii:
            return self.string[start:end]
        return self.data[start:end].decode("utf-8", "replace")


class Parsed:
    """The source to walk and, when it did not parse cleanly, why."""

    __slots__ = ("error", "src")

    def __init__(self, src: Source, error: str | None):
        self.src = src
        self.error = error


def parse(text: str) -> Parsed:
    """Parse ``text`` (line continuations joined); when tree-sitter fails on valid bash it is
    known to trip on, parse a repaired copy (see :mod:`corral.analysis.shell.repair`)."""
    text = join_lines(text)
    src = Source(text)
    if not src.root.has_error:
        return Parsed(src, None)
    error = first_error(src)
    fixed = repair(text)
    if fixed is not None and fixed.text != text:
        second = Source(fixed.text, fixed)
        if not second.root.has_error:
            return Parsed(second, None)
    return Parsed(src, error)


def first_error(src: Source) -> str:
    """``near byte 17: ')'`` for the first ERROR or MISSING node of the tree."""
    node = src.root
    while True:
        for child in node.children:
            if child.is_missing:
                return f"near byte {child.start_byte}: missing {child.type!r}"
            if child.type == "ERROR":
                snippet = src.span(child.start_byte, child.end_byte)
                if len(snippet) > _SNIPPET:
                    snippet = snippet[: _SNIPPET - 1] + "…"
                return f"near byte {child.start_byte}: {snippet!r}"
            if child.has_error:
                node = child
                break
        else:
            if node.is_error or node.is_missing:
                return f"near byte {node.start_byte}: {src.span(node.start_byte, node.end_byte)!r}"
            return f"near byte {node.start_byte}"
