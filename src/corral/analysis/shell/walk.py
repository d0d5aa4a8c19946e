"""Walk the parse tree the way bash would run it: statements, pipelines, lists, compound
commands, substitutions and redirections, handing each simple command to :mod:`execute`."""

from __future__ import annotations

import re
from collections.abc import Callable

from tree_sitter import Node

from corral.analysis.shell import execute, redirects
from corral.analysis.shell.context import Ctx, Frame, Known, Scope
from corral.analysis.shell.expand import Word, expand, expand_one
from corral.analysis.shell.parse import parse

_MAX_LOOP_VALUES = 4
_LOOP_BUDGET = 16  # extra walks of loop bodies (one per value) per analysis
_PLAIN = re.compile(r"[^\\{*?\[]+")


def join(outputs: list[Known]) -> Known | None:
    """What a sequence of commands prints, when at least one of them is known."""
    if not outputs:
        return None
    if len(outputs) == 1:
        return outputs[0]
    via: tuple[str, ...] = ()
    for out in outputs:
        via = via + tuple(v for v in out.via if v not in via)
    return Known("".join(o.text for o in outputs), via, any(o.unresolved for o in outputs))


class Walker:
    """Walks one command line and everything it runs; facts go to ``ctx``."""

    __slots__ = ("ctx", "fd_content", "loops_left", "next_fd")

    def __init__(self, ctx: Ctx):
        self.ctx = ctx
        self.fd_content: dict[str, Known] = {}
        self.next_fd = 63
        self.loops_left = _LOOP_BUDGET

    # ---- scripts --------------------------------------------------------------------------

    def script(
        self,
        text: str,
        parent: Frame,
        via: tuple[str, ...],
        *,
        where: str,
        scope: Scope | None = None,
        stdin: Known | None = None,
        positional: list[str] | None = None,
        env: dict[str, str] | None = None,
        fresh: bool = False,
    ) -> Known | None:
        """Analyse ``text`` as shell code run by ``where`` (``bash -c``, ``eval``...).

        Without ``scope`` it runs in a new shell process that inherits exported variables
        (none when ``fresh``: a remote shell on another host).
        """
        if not self.enter(parent.depth + 1) or not text.strip():
            return None
        ctx = self.ctx
        if len(text) > ctx.parse_left:
            ctx.problem(
                f"nested shell code exceeds {4 * ctx.limits.max_bytes} bytes in all; "
                f"the code run by {where} was not analysed"
            )
            return None
        ctx.parse_left -= len(text)
        ctx.text(text)  # the code itself is scanned, however it arrived (stdin, eval, a file)
        parsed = parse(text)
        if parsed.error is not None:
            ctx.problem(f"could not parse the command run by {where} {parsed.error}")
        if scope is None and fresh:
            scope = Scope(positional=positional)
        elif scope is None:
            scope = parent.scope.child(positional)
            for name, value in (env or {}).items():
                scope.vars[name] = Known(value)
        frame = Frame(parsed.src, scope, via, parent.depth + 1, parent.background)
        return self.statements(parsed.src.root, frame, stdin)

    def enter(self, depth: int) -> bool:
        if depth > self.ctx.limits.max_depth:
            self.ctx.problem(
                f"the command nests deeper than {self.ctx.limits.max_depth} levels; "
                "Corral did not read past that depth"
            )
            return False
        return True

    # ---- statements -----------------------------------------------------------------------

    def statements(self, node: Node, frame: Frame, stdin: Known | None = None) -> Known | None:
        """The statements among ``node``'s children, in order; ``&`` backgrounds the one before.

        Other named children (a ``case`` word, loop conditions' words...) are scanned for
        substitutions. Only the first statement reads ``stdin``.
        """
        outputs: list[Known] = []
        children = node.children
        count = len(children)
        for i, child in enumerate(children):
            if not child.is_named:
                continue
            kind = child.type
            if kind == "comment":
                continue
            if kind == "ERROR":  # already a problem; still report what can be read inside it
                if self.enter(frame.depth + 1):
                    self.statements(child, frame.deeper())
                continue
            self.ctx.spend()
            if kind not in _HANDLERS:
                self.scan(child, frame)
                continue
            current = frame
            if i + 1 < count and children[i + 1].type == "&" and not frame.background:
                current = Frame(frame.src, frame.scope, frame.via, frame.depth, True, frame.group)
            out = self.statement(child, current, stdin, [])
            stdin = None
            if out is not None:
                outputs.append(out)
        return join(outputs)

    def statement(
        self, node: Node, frame: Frame, stdin: Known | None, tail: list[Node]
    ) -> Known | None:
        handler = _HANDLERS.get(node.type)
        if handler is not None:
            return handler(self, node, frame, stdin, tail)
        if node.is_named and node.type not in redirects.KINDS and node.type != "ERROR":
            self.scan(node, frame)
        return None

    def compound(
        self, node: Node, frame: Frame, stdin: Known | None, tail: list[Node]
    ) -> Known | None:
        """``{ ...; }``, loops, conditionals: walk the statements inside one level deeper."""
        if not self.enter(frame.depth + 1):
            return None
        inner = frame.deeper()
        if tail:
            reds = redirects.evaluate(self, tail, frame)
            inner.group = (*frame.group, *reds.redirects)
            stdin = reds.stdin or stdin
        return self.statements(node, inner, stdin)

    def subshell(
        self, node: Node, frame: Frame, stdin: Known | None, tail: list[Node]
    ) -> Known | None:
        scope = frame.scope.copy()
        return self.compound(
            node,
            Frame(frame.src, scope, frame.via, frame.depth, frame.background, frame.group),
            stdin,
            tail,
        )

    def pipeline(
        self, node: Node, frame: Frame, stdin: Known | None, tail: list[Node]
    ) -> Known | None:
        elements = [c for c in node.named_children if c.type != "comment"]
        out = stdin
        last = len(elements) - 1
        for index, element in enumerate(elements):
            self.ctx.spend()
            out = self.statement(element, frame, out, tail if index == last else [])
        return out

    def list_(
        self, node: Node, frame: Frame, stdin: Known | None, tail: list[Node]
    ) -> Known | None:
        """``a && b || c``: tree-sitter nests these to the left; walk them flat, in order.

        What the list prints: ``a && b`` prints both; ``a || b`` prints ``b`` only when ``a``
        failed, so a known output of ``a`` is taken as the list's.
        """
        rights: list[list[tuple[str, Node]]] = []
        current = node
        while current.type == "list":
            operator = "&&"
            named: list[tuple[str, Node]] = []
            for child in current.children:
                if not child.is_named:
                    operator = child.type
                elif child.type != "comment":
                    named.append((operator, child))
            if not named:
                break
            rights.append(named[1:])
            current = named[0][1]
        items: list[tuple[str, Node]] = [("&&", current)]
        for group in reversed(rights):
            items.extend(group)
        outputs: list[Known] = []
        last = len(items) - 1
        for index, (operator, item) in enumerate(items):
            self.ctx.spend()
            out = self.statement(
                item, frame, stdin if index == 0 else None, tail if index == last else []
            )
            if out is not None and not (operator == "||" and outputs):
                outputs.append(out)
        return join(outputs)

    def negated(
        self, node: Node, frame: Frame, stdin: Known | None, tail: list[Node]
    ) -> Known | None:
        out: Known | None = None
        for child in node.children:
            if child.is_named:
                out = self.statement(child, frame, stdin, tail)
        return out

    def redirected(
        self, node: Node, frame: Frame, stdin: Known | None, tail: list[Node]
    ) -> Known | None:
        body: Node | None = None
        nodes: list[Node] = []
        for child in node.children:
            if child.type in redirects.KINDS:
                nodes.append(child)
            elif child.is_named and child.type not in ("comment", "ERROR") and body is None:
                body = child
        nodes.extend(tail)
        if body is None:
            redirects.evaluate(self, nodes, frame)
            return None
        return self.statement(body, frame, stdin, nodes)

    def function(
        self, node: Node, frame: Frame, stdin: Known | None, tail: list[Node]
    ) -> Known | None:
        """A function body is analysed where it is defined, in a scope of its own."""
        del stdin
        inner = Frame(
            frame.src, frame.scope.copy(), frame.via, frame.depth, frame.background, frame.group
        )
        for child in node.children:
            if child.is_named and child.type in _HANDLERS:
                self.statement(child, inner, None, tail)
        return None

    def for_loop(
        self, node: Node, frame: Frame, stdin: Known | None, tail: list[Node]
    ) -> Known | None:
        variable = ""
        values: list[str] = []
        known = True
        has_in = False
        body: Node | None = None
        for index, child in enumerate(node.children):
            field = node.field_name_for_child(index)
            if field == "variable":
                variable = frame.src.text(child)
            elif field == "value":
                has_in = True
                word = expand(self, [child], frame)
                known = known and not word.unknown
                values.extend(word.fields)
            elif field == "body":
                body = child
            elif child.type == "in":
                has_in = True
        if body is None:
            return None
        if not has_in:
            values, known = [], False
        distinct = list(dict.fromkeys(values))
        extra = len(distinct) - 1
        if known and distinct and len(distinct) <= _MAX_LOOP_VALUES and extra <= self.loops_left:
            self.loops_left -= extra
            outputs = []
            for value in distinct:
                frame.scope.vars[variable] = Known(value)
                out = self.compound(body, frame, stdin, tail)
                if out is not None:
                    outputs.append(out)
            return join(outputs)
        frame.scope.vars[variable] = Known("$" + variable, unresolved=True)
        return self.compound(body, frame, stdin, tail)

    # ---- assignments ----------------------------------------------------------------------

    def assignment(self, node: Node, frame: Frame) -> tuple[str, Known] | None:
        """Evaluate ``name=value`` (``+=``, arrays); the name and the new value."""
        src = frame.src
        name = ""
        append = False
        value: Node | None = None
        for child in node.children:
            if not child.is_named:
                append = append or child.type == "+="
            elif not name:
                name = src.text(child)
            elif value is None:
                value = child
        if not name:
            return None
        if "[" in name:  # a[1]=x: element assignment, kept as an unknown array
            frame.scope.arrays.pop(name.split("[", 1)[0], None)
            return None
        if value is not None and value.type == "array":
            items: list[str] = []
            for element in value.children:
                if element.is_named:
                    items.extend(expand(self, [element], frame).fields)
            old = frame.scope.arrays.get(name, []) if append else []
            frame.scope.arrays[name] = old + items
            frame.scope.vars.pop(name, None)
            return name, Known(" ".join(items))
        word = expand_one(self, value, frame) if value is not None else Word()
        text = word.fields[0] if word.fields else ""
        if append and name in frame.scope.vars:
            old_value = frame.scope.vars[name]
            text = old_value.text + text
        if len(text) > self.ctx.limits.max_bytes:
            self.ctx.problem(
                f"variable {name} grows past the {self.ctx.limits.max_bytes}-byte analysis limit"
            )
            frame.scope.vars.pop(name, None)
            return None
        return name, Known(text, word.via, word.unresolved)

    def assign(
        self, node: Node, frame: Frame, stdin: Known | None, tail: list[Node]
    ) -> Known | None:
        del stdin, tail
        children = node.children if node.type == "variable_assignments" else [node]
        for child in children:
            if child.type == "variable_assignment":
                result = self.assignment(child, frame)
                if result is not None:
                    frame.scope.vars[result[0]] = result[1]
        return None

    def declaration(
        self, node: Node, frame: Frame, stdin: Known | None, tail: list[Node]
    ) -> Known | None:
        """``export``/``declare``/``local``/``readonly``/``typeset``/``unset``: a command too."""
        del stdin
        argv: list[str] = []
        unresolved = False
        exporting = False
        scope = frame.scope
        for child in node.children:
            kind = child.type
            if not child.is_named:
                if kind not in ("=",):
                    argv.append(kind)
                    exporting = exporting or kind == "export"
                continue
            if kind == "variable_assignment":
                result = self.assignment(child, frame)
                if result is not None:
                    name, value = result
                    scope.vars[name] = value
                    if exporting:
                        scope.exported.add(name)
                    argv.append(f"{name}={value.text}")
                    unresolved = unresolved or value.unresolved
            elif kind == "variable_name":
                name = frame.src.text(child)
                argv.append(name)
                if argv[0] == "unset":
                    scope.vars.pop(name, None)
                    scope.arrays.pop(name, None)
                elif exporting:
                    scope.exported.add(name)
            elif kind not in ("comment", "ERROR"):
                word = expand(self, [child], frame)
                argv.extend(word.fields)
                unresolved = unresolved or word.unresolved
                if argv[0] in ("declare", "typeset") and "-x" in word.fields:
                    exporting = True
                if argv[0] == "unset":
                    for name in word.fields:
                        scope.vars.pop(name, None)
        reds = redirects.evaluate(self, tail, frame) if tail else None
        execute.run(
            self,
            frame,
            argv,
            env={},
            redirects=reds.redirects if reds else [],
            stdin=None,
            unresolved=unresolved,
        )
        return None

    # ---- simple commands ------------------------------------------------------------------

    def command(
        self, node: Node, frame: Frame, stdin: Known | None, tail: list[Node]
    ) -> Known | None:
        env: dict[str, str] = {}
        groups: list[list[Node]] = []
        redirect_nodes: list[Node] = []
        last_end = -1
        for child in node.children:
            kind = child.type
            if kind == "variable_assignment":
                result = self.assignment(child, frame)
                if result is not None:
                    env[result[0]] = result[1].text
            elif kind in redirects.KINDS:
                redirect_nodes.append(child)
            elif kind == "command_name":
                groups.append(list(child.children))
            elif child.is_named or kind == "$":
                if groups and child.start_byte == last_end:
                    groups[-1].append(child)
                else:
                    groups.append([child])
            last_end = child.end_byte
        redirect_nodes.extend(tail)
        reds = redirects.evaluate(self, redirect_nodes, frame) if redirect_nodes else redirects.NONE
        groups.extend(reds.args)
        argv: list[str] = []
        unresolved = reds.unresolved
        arg_via: dict[str, tuple[str, ...]] = {}
        src = frame.src
        for index, group in enumerate(groups):
            if not group:
                continue
            if len(group) == 1 and group[0].type == "word":
                raw = src.text(group[0])
                if _PLAIN.fullmatch(raw):  # nothing to expand, unescape or glob: the common case
                    argv.append(raw)
                    continue
            word = expand(self, group, frame)
            unresolved = unresolved or word.unresolved
            if index == 0 and word.fields:
                name = word.fields[0].rsplit("/", 1)[-1]
                if word.glob or (word.unknown and "$" in name):
                    unresolved = True
            if word.via:
                for field in word.fields:
                    arg_via[field] = word.via
            argv.extend(word.fields)
        if not argv:
            return None
        self.note_data_args(argv, groups[1:], frame)
        out = execute.run(
            self,
            frame,
            argv,
            env=env,
            redirects=reds.redirects,
            stdin=reds.stdin or stdin,
            unresolved=unresolved,
            arg_via=arg_via,
            source=reds.source if reds.stdin is not None else "stdin",
        )
        for continuation in reds.pipe:
            out = self.pipeline(continuation, frame, out, [])
        for after in reds.after:
            self.statement(after, frame, None, [])
        return out

    def note_data_args(self, argv: list[str], args: list[list[Node]], frame: Frame) -> None:
        """Mark the typed arguments of ``echo``/``printf`` as data for the line's text scan.

        Only arguments of the typed line itself, and only those that run nothing: a word with a
        substitution inside keeps its text, and ``printf -v`` assigns code-capable variables.
        """
        program = argv[0].rpartition("/")[2]
        if program not in execute.DATA_PRINTERS or frame.src is not self.ctx.top:
            return
        if "-v" in argv[1:2]:
            return
        for group in args:
            if not group:
                continue
            start, end = group[0].start_byte, group[-1].end_byte
            raw = frame.src.data[start:end]
            if b"$(" in raw or b"`" in raw or b"<(" in raw or b">(" in raw:
                continue
            self.ctx.data_spans.append((start, end))

    # ---- substitutions --------------------------------------------------------------------

    def substitution(self, node: Node, frame: Frame) -> Known | None:
        """Walk ``$(...)`` or backticks; what it prints when that is known."""
        src = frame.src
        text = src.text(node)
        if text.startswith("`") and "\\" in text:
            # Inside backticks \` \$ \\ are escapes: read the unescaped text as its own script.
            inner = text[1:-1] if text.endswith("`") and len(text) > 1 else text[1:]
            unescaped = (
                inner.replace("\\\\", "\x00")
                .replace("\\`", "`")
                .replace("\\$", "$")
                .replace("\x00", "\\")
            )
            return self.script(
                unescaped,
                frame,
                frame.via,
                where="a command substitution",
                scope=frame.scope.copy(),
            )
        if not self.enter(frame.depth + 1):
            return None
        inner_frame = Frame(src, frame.scope.copy(), frame.via, frame.depth + 1, False, ())
        return self.statements(node, inner_frame)

    def process_substitution(self, node: Node, frame: Frame) -> tuple[str, Known | None]:
        """Walk ``<(...)``/``>(...)``; the /dev/fd path it becomes and what reading it gives."""
        path = f"/dev/fd/{self.next_fd}"
        self.next_fd = max(self.next_fd - 1, 10)
        if not self.enter(frame.depth + 1):
            return path, None
        inner_frame = Frame(frame.src, frame.scope.copy(), frame.via, frame.depth + 1, False, ())
        out = self.statements(node, inner_frame)
        if frame.src.text(node).startswith("<(") and out is not None:
            self.fd_content[path] = out
            return path, out
        return path, None

    def scan(self, node: Node, frame: Frame) -> None:
        """Walk the substitutions found anywhere below ``node`` (test expressions, patterns...)."""
        stack = [node]
        while stack:
            current = stack.pop()
            kind = current.type
            self.ctx.spend()
            if kind == "command_substitution":
                self.substitution(current, frame)
            elif kind == "process_substitution":
                self.process_substitution(current, frame)
            elif current.child_count:
                stack.extend(reversed(current.children))


_Handler = Callable[[Walker, Node, Frame, "Known | None", list[Node]], "Known | None"]
_HANDLERS: dict[str, _Handler] = {
    "command": Walker.command,
    "pipeline": Walker.pipeline,
    "list": Walker.list_,
    "redirected_statement": Walker.redirected,
    "subshell": Walker.subshell,
    "compound_statement": Walker.compound,
    "if_statement": Walker.compound,
    "elif_clause": Walker.compound,
    "else_clause": Walker.compound,
    "while_statement": Walker.compound,
    "do_group": Walker.compound,
    "case_statement": Walker.compound,
    "case_item": Walker.compound,
    "c_style_for_statement": Walker.compound,
    "for_statement": Walker.for_loop,
    "function_definition": Walker.function,
    "negated_command": Walker.negated,
    "variable_assignment": Walker.assign,
    "variable_assignments": Walker.assign,
    "declaration_command": Walker.declaration,
    "unset_command": Walker.declaration,
}
