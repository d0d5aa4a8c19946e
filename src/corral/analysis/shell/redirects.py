"""Redirections of a command: targets, descriptors, and the input they feed it.

A here-document or here-string becomes the command's known standard input; ``< <(...)`` does
too when the process substitution's output is known. tree-sitter-bash attaches a few things to
redirection nodes that belong elsewhere, and they are put back: words after a redirection
target are arguments (``ls 2>/dev/null -la``), a descriptor number ending a target belongs to the
next redirection (``>& file 0>&1``), and a here-document node holds the rest of its line
(``cat <<EOF | sh``, ``cat <<EOF && next``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tree_sitter import Node

from corral.analysis.facts import Redirect
from corral.analysis.shell.context import Frame, Known
from corral.analysis.shell.expand import Word, expand, heredoc_text
from corral.analysis.shell.parse import Source
from corral.analysis.shell.words import strip_quotes

if TYPE_CHECKING:
    from corral.analysis.shell.walk import Walker

KINDS = frozenset({"file_redirect", "heredoc_redirect", "herestring_redirect"})


class Redirections:
    """The redirections of one command, evaluated."""

    __slots__ = ("after", "args", "pipe", "redirects", "source", "stdin", "unresolved")

    def __init__(self) -> None:
        self.redirects: list[Redirect] = []
        self.stdin: Known | None = None
        self.source = "stdin"  # how the command's input arrives: stdin (a pipe), << or <<<
        self.pipe: list[Node] = []  # here-doc continuations: "| cmd" after the here-doc word
        self.after: list[Node] = []  # and "&& cmd" / "|| cmd"
        self.args: list[list[Node]] = []  # words tree-sitter put after a redirection target
        self.unresolved = False


NONE = Redirections()
"""The redirections of a command that has none (shared, never modified)."""


def evaluate(w: Walker, nodes: list[Node], frame: Frame) -> Redirections:
    """Evaluate a command's redirection nodes, in order."""
    reds = Redirections()
    src = frame.src
    carry: int | None = None
    for position, node in enumerate(nodes):
        kind = node.type
        if kind == "file_redirect":
            following = nodes[position + 1] if position + 1 < len(nodes) else None
            carry = _file_redirect(w, node, frame, reds, fd=carry, following=following)
        elif kind == "herestring_redirect":
            words = [c for c in node.children if c.is_named]
            marker = src.text(words[0]) if len(words) == 1 else ""
            stored = src.heredocs.get(marker) if src.heredocs else None
            if stored is not None:
                reds.stdin = _stored_heredoc(w, stored.body, stored.quoted, frame)
                reds.source = "<<"
                reds.redirects.append(Redirect("<<", "EOF"))
                continue
            word = expand(w, words, frame, split=False) if words else Word()
            text = word.fields[0] if word.fields else ""
            reds.stdin = Known(text + "\n", word.via, word.unresolved)
            reds.source = "<<<"
            reds.redirects.append(Redirect("<<<", text))
        elif kind == "heredoc_redirect":
            _heredoc(w, node, frame, reds)
    return reds


def _file_redirect(
    w: Walker,
    node: Node,
    frame: Frame,
    reds: Redirections,
    *,
    fd: int | None = None,
    following: Node | None = None,
) -> int | None:
    """Record one redirection; returns the descriptor number that tree-sitter attached to
    this redirection but that belongs to the next one (``>& file 0>&1``)."""
    src = frame.src
    op = ""
    targets: list[Node] = []
    for child in node.children:
        if child.type == "file_descriptor":
            text = src.text(child)
            fd = int(text) if text.isdigit() else None
        elif not child.is_named:
            op = child.type
            if src.readwrite and op == ">|" and child.start_byte in src.readwrite:
                op = "<>"
        elif child.type != "ERROR":
            targets.append(child)
    carry: int | None = None
    if len(targets) > 1 and following is not None:
        last = targets[-1]
        digits = src.text(last)
        if digits.isdigit() and last.end_byte == following.start_byte:
            carry = int(digits)
            targets.pop()
    target = ""
    if targets:
        word = expand(w, [targets[0]], frame, split=False)
        target = word.fields[0] if word.fields else ""
        reds.unresolved = reds.unresolved or word.unresolved
        if op == "<" and word.content is not None:
            reds.stdin, reds.source = word.content, "stdin"
        reds.args.extend([t] for t in targets[1:])
    reds.redirects.append(Redirect(op, target, fd))
    return carry


def _heredoc(w: Walker, node: Node, frame: Frame, reds: Redirections) -> None:
    src = frame.src
    delimiter = ""
    strip = False
    body: Node | None = None
    expect_right = False
    for child in node.children:
        kind = child.type
        if kind == "heredoc_start":
            delimiter = src.text(child)
        elif kind == "<<-":
            strip = True
        elif kind == "heredoc_body":
            body = child
        elif kind == "pipeline":
            reds.pipe.append(child)
        elif kind == "file_redirect":
            _file_redirect(w, child, frame, reds)
        elif kind in ("&&", "||"):
            expect_right = True
        elif expect_right and child.is_named:
            reds.after.append(child)
            expect_right = False
    quoted = any(c in delimiter for c in "'\"\\")
    known = Known("") if body is None else heredoc_text(w, body, frame, quoted)
    if strip:
        known = Known(
            "".join(line.lstrip("\t") for line in known.text.splitlines(keepends=True)),
            known.via,
            known.unresolved,
        )
    reds.stdin = known
    reds.source = "<<"
    reds.redirects.append(Redirect("<<-" if strip else "<<", strip_quotes(delimiter)))


def _stored_heredoc(w: Walker, body: str, quoted: bool, frame: Frame) -> Known:
    """A here-document body set aside by :mod:`repair`, expanded unless it was quoted."""
    if quoted or ("$" not in body and "`" not in body and "\\" not in body):
        return Known(body)
    delimiter = "CORRAL_EOF"
    while delimiter in body:
        delimiter += "_"
    src = Source(f"cat <<{delimiter}\n{body}{delimiter}\n")
    inner = Frame(src, frame.scope, frame.via, frame.depth, frame.background, frame.group)
    stack = [src.root]
    while stack:
        node = stack.pop()
        if node.type == "heredoc_body":
            return heredoc_text(w, node, inner, quoted=False)
        stack.extend(node.children)
    return Known(body)
