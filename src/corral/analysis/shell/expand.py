"""Turn a word of the parse tree into the fields bash would pass to a command.

Quote removal, ``$'...'``, parameter expansion with the variables known so far, command and
process substitution (their commands are walked; their output is used when it is known), brace
expansion and field splitting. A value that cannot be known keeps its source text as a
placeholder (``$CMD``) and marks the word unresolved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tree_sitter import Node

from corral.analysis.shell import params
from corral.analysis.shell.context import Frame, Known
from corral.analysis.shell.words import (
    LITERAL,
    SPLIT,
    Chunk,
    ansi_c,
    brace_expand,
    fields_of,
    has_glob,
    strip_quotes,
    unescape_dquoted,
    unescape_heredoc,
    unescape_unquoted,
)

if TYPE_CHECKING:
    from corral.analysis.shell.walk import Walker

RAW = 2  # unquoted source text: backslash escapes and brace expansion still apply

# Variables whose value is unknown but harmless to leave symbolic: they do not make a command
# "unresolved" (``cat $HOME/.bashrc`` is fully understood; paths normalise ``$HOME`` to ``~``).
BENIGN = frozenset(
    {"HOME", "USER", "LOGNAME", "PWD", "OLDPWD", "PATH", "SHELL", "TMPDIR", "TERM", "LANG"}
    | {"LC_ALL", "HOSTNAME", "UID", "EUID", "PPID", "RANDOM", "SECONDS", "LINENO", "BASHPID"}
    | {"BASH_SOURCE", "HOSTTYPE", "OSTYPE", "?", "$", "!", "#", "-", "0", "_"}
)
_PLACEHOLDER_BASE = 0xE000
DEFAULT_IFS = " \t\n"


class Word:
    """The fields of one word, and what is known about how they were made."""

    __slots__ = ("content", "fields", "glob", "unknown", "unresolved", "via")

    def __init__(self) -> None:
        self.fields: list[str] = []
        self.unresolved = False  # a value Corral could not determine (not a benign variable)
        self.unknown = False  # any undetermined value, benign ones included
        self.glob = False  # unquoted * ? [ that bash would match against files
        self.via: tuple[str, ...] = ()  # decoders that produced part of the word
        self.content: Known | None = None  # what reading this path gives (process substitution)

    def add_via(self, via: tuple[str, ...]) -> None:
        for item in via:
            if item not in self.via:
                self.via = (*self.via, item)

    def text(self) -> str:
        return " ".join(self.fields)


def expand(w: Walker, nodes: list[Node], frame: Frame, *, split: bool = True) -> Word:
    """Expand one shell word written as the adjacent ``nodes``.

    With ``split`` the result is what a command receives (brace expansion, field splitting);
    without it, one string as in an assignment or a redirection target.
    """
    if len(nodes) == 1 and nodes[0].type == "word":  # the common case: a plain word
        raw = frame.src.text(nodes[0])
        if "{" not in raw or not split:
            word = Word()
            word.fields.append(unescape_unquoted(raw))
            word.glob = has_glob(raw)
            return word
    expander = _Expander(w, frame)
    for index, node in enumerate(nodes):
        if node.type == "$" and index + 1 < len(nodes) and nodes[index + 1].type == "string":
            continue  # $"..." is a translatable string: the $ is not part of the value
        expander.chunks(node, quoted=False)
    return expander.finish(split)


def expand_one(w: Walker, node: Node, frame: Frame) -> Word:
    return expand(w, [node], frame, split=False)


def heredoc_text(w: Walker, body: Node, frame: Frame, quoted: bool) -> Known:
    """The text a here-document feeds; expansions are done unless its delimiter was quoted."""
    src = frame.src
    if quoted or body.named_child_count == 0:
        return Known(src.text(body))
    expander = _Expander(w, frame)
    expander.interleave(body, body.start_byte, body.end_byte, "heredoc_content", unescape_heredoc)
    word = expander.finish(split=False)
    return Known(word.fields[0], word.via, word.unresolved)


class _Expander:
    """Collects the chunks of one word from its nodes, then splits them into fields."""

    __slots__ = ("frame", "out", "src", "w", "word")

    def __init__(self, w: Walker, frame: Frame):
        self.w = w
        self.frame = frame
        self.src = frame.src
        self.word = Word()
        self.out: list[Chunk] = []

    def finish(self, split: bool) -> Word:
        word, chunks = self.word, self.out
        if split and any(kind == RAW and "{" in value for value, kind in chunks):
            word.fields = _brace_fields(chunks, word)
            self.w.ctx.spend(len(word.fields))
            return word
        for i, (value, kind) in enumerate(chunks):
            if kind == RAW:
                assert isinstance(value, str)
                word.glob = word.glob or has_glob(value)
                chunks[i] = (unescape_unquoted(value), LITERAL)
        if split:
            word.fields = fields_of(chunks)
        else:
            word.fields = ["".join(v if isinstance(v, str) else " ".join(v) for v, _k in chunks)]
        return word

    def unknown(self, text: str, benign: bool = False) -> None:
        self.word.unknown = True
        if not benign:
            self.word.unresolved = True
        self.out.append((text, LITERAL))

    def known(self, value: Known, quoted: bool, strip_newlines: bool = False) -> None:
        self.word.add_via(value.via)
        self.word.unresolved = self.word.unresolved or value.unresolved
        text = value.text.rstrip("\n") if strip_newlines else value.text
        if quoted:
            self.out.append((text, LITERAL))
            return
        ifs = self.frame.scope.vars.get("IFS")
        if ifs is not None and ifs.text != DEFAULT_IFS:
            # Approximation: every IFS character separates fields (bash keeps empty fields
            # between two non-blank separators).
            text = "".join(" " if ch in ifs.text else ch for ch in text) if ifs.text else text
            if not ifs.text:
                self.out.append((text, LITERAL))
                return
        self.out.append((text, SPLIT))

    def chunks(self, node: Node, quoted: bool) -> None:
        self.w.ctx.spend()
        kind = node.type
        src = self.src
        if kind in ("word", "brace_expression"):
            self.out.append((src.text(node), LITERAL if quoted else RAW))
        elif kind == "raw_string":
            self.out.append((src.text(node)[1:-1], LITERAL))
        elif kind in ("string", "translated_string"):
            self.string(node)
        elif kind == "ansi_c_string":
            self.out.append((ansi_c(src.text(node)[2:-1]), LITERAL))
        elif kind == "concatenation":
            for child in node.children:
                self.chunks(child, quoted)
        elif kind in ("simple_expansion", "expansion"):
            self.parameter(node, quoted)
        elif kind == "command_substitution":
            known = self.w.substitution(node, self.frame)
            if known is None:
                self.unknown(src.text(node))
            else:
                self.known(known, quoted, strip_newlines=True)
        elif kind == "process_substitution":
            path, content = self.w.process_substitution(node, self.frame)
            self.word.content = content
            self.out.append((path, LITERAL))
        elif kind == "arithmetic_expansion":
            self.w.scan(node, self.frame)
            self.out.append((src.text(node), LITERAL))
        else:  # numbers, "$", patterns and anything else: the source text as written
            self.out.append((src.text(node), LITERAL))

    def string(self, node: Node) -> None:
        """A double-quoted string: literal text with ``\\$``-style escapes, and expansions."""
        if node.type == "translated_string":
            for child in node.children:
                if child.type == "string":
                    self.string(child)
            return
        self.out.append(("", LITERAL))  # a quoted string makes a field even when it is empty
        end = max(node.end_byte - 1, node.start_byte + 1)
        self.interleave(node, node.start_byte + 1, end, "string_content", unescape_dquoted)

    def interleave(
        self, node: Node, start: int, end: int, text_type: str, unescape: Callable[[str], str]
    ) -> None:
        """Quoted text between ``start`` and ``end`` of ``node``: the source between its
        expansions, unescaped as that quoting says (the ``text_type`` children are that text),
        and each expansion in turn."""
        pos = start
        for child in node.children:
            if not child.is_named or child.type == text_type:
                continue
            if child.start_byte > pos:
                self.out.append((unescape(self.src.span(pos, child.start_byte)), LITERAL))
            self.chunks(child, quoted=True)
            pos = child.end_byte
        if end > pos:
            self.out.append((unescape(self.src.span(pos, end)), LITERAL))

    def parameter(self, node: Node, quoted: bool) -> None:
        source = self.src.text(node)
        if node.type == "simple_expansion":
            children = node.children
            name = self.src.text(children[-1]) if len(children) > 1 else ""
            self.emit(name, None, quoted, source)
            return
        result = self.braced(node)
        if result is None:
            self.unknown(source)
        elif isinstance(result, tuple):  # a plain ${name} or ${name[index]}
            self.emit(result[0], result[1], quoted, source)
        else:
            self.known(result, quoted)

    def emit(self, name: str, index: str | None, quoted: bool, source: str) -> None:
        """Output the value of ``$name`` / ``${name[index]}``."""
        frame = self.frame
        if index in ("@", "*") or (index is None and name in ("@", "*")):
            items = _items(frame, name)
            if items is None:
                self.unknown(source)
            elif quoted and (index == "@" or name == "@"):
                self.out.append((tuple(items), LITERAL))
            else:
                self.out.append((" ".join(items), LITERAL if quoted else SPLIT))
            return
        value = lookup(frame, name, index)
        if value is None:
            self.unknown(source, benign=index is None and name in BENIGN)
        elif not self.w.ctx.charge_expand(len(value.text)):
            self.unknown(source)
        else:
            self.known(value, quoted)

    # ---- ${...} ---------------------------------------------------------------------------

    def braced(self, node: Node) -> Known | tuple[str, str | None] | None:
        """A ``${...}`` expansion: its value, ``(name, index)`` for a plain reference, or None
        when it cannot be determined."""
        src = self.src
        frame = self.frame
        children = node.children[1:-1] if node.child_count >= 2 else []
        prefix = ""
        i = 0
        if i < len(children) and not children[i].is_named and children[i].type in ("#", "!"):
            prefix = children[i].type
            i += 1
        if i >= len(children):
            return ("#", None) if prefix == "#" else None
        name_node = children[i]
        i += 1
        index: str | None = None
        if name_node.type == "subscript":
            name_child = name_node.child_by_field_name("name")
            index_child = name_node.child_by_field_name("index")
            name = src.text(name_child) if name_child is not None else ""
            index = strip_quotes(src.text(index_child)) if index_child is not None else None
        elif name_node.is_named:
            name = src.text(name_node)
        else:
            return None
        ops: list[tuple[str, list[Node]]] = []
        for child in children[i:]:
            if not child.is_named:
                ops.append((child.type, []))
            elif ops:
                ops[-1][1].append(child)
            else:
                return None
        if not prefix and not ops:
            return (name, index)
        if prefix == "#":
            items = _items(frame, name) if index in ("@", "*") else None
            if items is not None:
                return Known(str(len(items)))
            known = lookup(frame, name, index)
            return None if known is None else Known(str(len(known.text)))
        if prefix == "!":
            if ops and ops[0][0] in ("*", "@"):
                scope = frame.scope
                return Known(" ".join(sorted(n for n in scope.vars if n.startswith(name))))
            target = lookup(frame, name, index)
            if target is None:
                return None
            value = lookup(frame, target.text)
            return value if not ops or value is None else self.operate(value, target.text, ops)
        return self.operate(lookup(frame, name, index), name, ops)

    def operand(self, nodes: list[Node]) -> Known:
        if not nodes:
            return Known("")
        inner = expand(self.w, nodes, self.frame, split=False)
        self.word.add_via(inner.via)
        return Known(inner.fields[0] if inner.fields else "", inner.via, inner.unresolved)

    def pattern(self, nodes: list[Node]) -> str:
        return strip_quotes("".join(self.src.text(n) for n in nodes))

    def operate(
        self, value: Known | None, name: str, ops: list[tuple[str, list[Node]]]
    ) -> Known | None:
        op, operands = ops[0]
        if op in (":-", "-", ":=", "="):
            if value is not None and (value.text or op in ("-", "=")):
                return value
            default = self.operand(operands)
            if op in (":=", "="):
                self.frame.scope.vars[name] = default
            return default
        if op in (":+", "+"):
            if value is None:
                return None
            return self.operand(operands) if value.text or op == "+" else Known("")
        if value is None:
            return None
        text = value.text
        result: str | None
        if op in ("#", "##", "%", "%%"):
            result = params.remove_affix(text, op, self.pattern(operands))
        elif op in ("/", "//", "/#", "/%"):
            replacement = ""
            if len(ops) > 1 and ops[1][0] == "/":
                replacement = self.operand(ops[1][1]).text
            result = params.replace(text, op, self.pattern(operands), replacement)
        elif op in ("^^", ",,", "^", ",", "~~", "~"):
            result = params.change_case(text, op)
        elif op == ":":
            offset = self.pattern(operands)
            length = self.pattern(ops[1][1]) if len(ops) > 1 and ops[1][0] == ":" else None
            result = params.substring(text, offset, length)
        elif op == "@" and len(ops) > 1:
            result = params.transform(text, ops[1][0])
        elif op in (":?", "?"):
            result = text
        else:
            result = None
        return None if result is None else Known(result, value.via, value.unresolved)


def _brace_fields(chunks: list[Chunk], word: Word) -> list[str]:
    """Brace-expand the unquoted text of ``chunks``; quoted parts ride along as placeholders."""
    template: list[str] = []
    stored: list[Chunk] = []
    for value, kind in chunks:
        if kind == RAW:
            assert isinstance(value, str)
            template.append(value)
        else:
            template.append(chr(_PLACEHOLDER_BASE + len(stored)))
            stored.append((value, kind))
    expanded = brace_expand("".join(template))
    if expanded is None:
        word.unresolved = word.unknown = True
        expanded = ["".join(template)]
    fields: list[str] = []
    for item in expanded:
        parts: list[Chunk] = []
        literal: list[str] = []
        for ch in item:
            index = ord(ch) - _PLACEHOLDER_BASE
            if 0 <= index < len(stored):
                if literal:
                    raw = "".join(literal)
                    word.glob = word.glob or has_glob(raw)
                    parts.append((unescape_unquoted(raw), LITERAL))
                    literal = []
                parts.append(stored[index])
            else:
                literal.append(ch)
        if literal:
            raw = "".join(literal)
            word.glob = word.glob or has_glob(raw)
            parts.append((unescape_unquoted(raw), LITERAL))
        fields.extend(fields_of(parts))
    return fields


def _items(frame: Frame, name: str) -> list[str] | None:
    scope = frame.scope
    if name in ("@", "*"):
        return None if scope.positional is None else scope.positional[1:]
    if name in scope.arrays:
        return scope.arrays[name]
    known = scope.vars.get(name)
    return None if known is None else [known.text]


def lookup(frame: Frame, name: str, index: str | None = None) -> Known | None:
    """The value of a variable (or array element, or positional parameter) if it is known."""
    scope = frame.scope
    if index is not None:
        items = scope.arrays.get(name)
        if items is None:
            return scope.vars.get(name) if index == "0" else None
        try:
            return Known(items[int(index)])
        except (ValueError, IndexError):
            return None
    known = scope.vars.get(name)
    if known is not None:
        return known
    if name == "IFS":
        return Known(DEFAULT_IFS)
    if name in scope.arrays:
        items = scope.arrays[name]
        return Known(items[0] if items else "")
    if name.isdigit() and scope.positional is not None:
        position = int(name)
        return Known(scope.positional[position] if position < len(scope.positional) else "")
    if name == "#" and scope.positional is not None:
        return Known(str(max(len(scope.positional) - 1, 0)))
    return None
