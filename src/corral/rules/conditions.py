"""The condition language of rules and policy exceptions, compiled into predicates.

A condition is a mapping; all its keys must hold (AND). ``any``/``all``/``not`` combine
conditions; the other keys each name one facet of the analysis (``command``, ``target``, ``file``,
``code``, ``text``, ``http``, ``spend``, ``tool``, ``kind``, ``payload``). Within one facet block
every field must hold for the *same* item: ``command: {program: [ssh], option: [-R]}`` needs one
ssh command that has ``-R``, not an ssh somewhere and a ``-R`` elsewhere.

A predicate returns the evidence it matched on (a short string for the reason) or None.
Strings starting with ``@`` in a list are replaced by the shared list of that name.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from corral.analysis.facts import Analysis, Command, FileAccess, NetTarget
from corral.analysis.tools import base_name
from corral.util.literals import globs_literals, literals_of_trees, parse_regex
from corral.util.yamlfile import LineDict, SourceError

Predicate = Callable[[Analysis], str | None]
ItemTest = Callable[[Any], bool]

_EVIDENCE_MAX = 160


class ConditionError(Exception):
    """A condition that cannot be compiled; ``field`` is the dotted path inside the condition."""

    def __init__(self, field: str, message: str, node: Any = None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.line = getattr(node, "line", 0)


@dataclass(frozen=True, slots=True)
class Trigger:
    """One way a condition can become true: these facets are non-empty and, when ``programs``
    is set, one of these programs runs. A rule is only evaluated when one trigger admits."""

    programs: frozenset[str] | None
    facets: frozenset[str]
    literals: tuple[frozenset[str], ...] = ()

    def admits(self, facets: frozenset[str], programs: set[str], blob: str) -> bool:
        if not self.facets <= facets:
            return False
        if self.programs is not None and self.programs.isdisjoint(programs):
            return False
        for group in self.literals:  # plain loops: this runs for every candidate rule
            for literal in group:
                if literal in blob:
                    break
            else:
                return False
        return True


ALWAYS: tuple[Trigger, ...] = (Trigger(None, frozenset()),)
_MAX_TRIGGERS = 32


@dataclass(frozen=True, slots=True)
class Compiled:
    """A compiled condition and the triggers under which it can possibly match."""

    test: Predicate
    triggers: tuple[Trigger, ...] = ALWAYS

    @property
    def programs(self) -> frozenset[str] | None:
        """Programs one of which must run for a match (None: no such constraint)."""
        if any(t.programs is None for t in self.triggers):
            return None
        return frozenset().union(*(t.programs or () for t in self.triggers))

    def may_match(self, facets: frozenset[str], programs: set[str], blob: str) -> bool:
        for trigger in self.triggers:  # noqa: SIM110 - a plain loop is faster on this hot path
            if trigger.admits(facets, programs, blob):
                return True
        return False


def _and_triggers(parts: list[Compiled]) -> tuple[Trigger, ...]:
    """Triggers of a conjunction: one trigger from each part, combined (bounded in number)."""
    combined: list[Trigger] = [ALWAYS[0]]
    for part in parts:
        combined = [
            Trigger(_either(a.programs, b.programs), a.facets | b.facets, a.literals + b.literals)
            for a in combined
            for b in part.triggers
        ]
        if len(combined) > _MAX_TRIGGERS:
            common = frozenset.intersection(*(t.facets for t in combined))
            return (Trigger(None, common),)
    return tuple(dict.fromkeys(combined))


def _either(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    # Both must hold, but they may be different commands (telnet ... | bash): keep one as key.
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b, key=len)


def present_facets(a: Analysis) -> frozenset[str]:
    """The facets of ``a`` that hold anything; a rule needing an absent facet cannot match."""
    names = []
    for name in ("commands", "targets", "files", "code", "payloads", "texts"):
        if getattr(a, name):
            names.append(name)
    for name in ("http", "spend", "tool"):
        if getattr(a, name) is not None:
            names.append(name)
    if any(c.unresolved for c in a.commands):
        names.append("unresolved")
    if any(c.redirects for c in a.commands):
        names.append("redirects")
    return frozenset(names)


def shorten(text: str, limit: int = _EVIDENCE_MAX) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class LazyPattern:
    """A regex compiled the first time it is used.

    Each action only runs the handful of rules the index picks, so a short-lived process (a
    coding-agent hook, `corral run`) would spend most of its start-up compiling patterns it never
    uses. Patterns are still parsed at load time, so a broken one is an error with its file and
    line. After the first use ``search`` and ``match`` are the compiled pattern's own methods
    (no wrapper on the hot path); the compiled form is the same whichever thread gets there first.
    """

    __slots__ = ("flags", "match", "pattern", "search")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags
        self.search: Callable[[str], re.Match[str] | None] = self._search_first
        self.match: Callable[[str], re.Match[str] | None] = self._match_first

    def compiled(self) -> re.Pattern[str]:
        compiled = re.compile(self.pattern, self.flags)
        self.search = compiled.search
        self.match = compiled.match
        return compiled

    def _search_first(self, text: str) -> re.Match[str] | None:
        return self.compiled().search(text)

    def _match_first(self, text: str) -> re.Match[str] | None:
        return self.compiled().match(text)


class ConditionCompiler:
    """Compiles condition mappings against a set of shared lists."""

    def __init__(self, lists: Mapping[str, list[Any]]):
        self.lists = lists

    # ---- shared helpers -------------------------------------------------------------------

    def values(self, raw: Any, field: str) -> list[Any]:
        items = raw if isinstance(raw, list) else [raw]
        out: list[Any] = []
        for item in items:
            if isinstance(item, str) and item.startswith("@"):
                name = item[1:]
                if name not in self.lists:
                    known = ", ".join(sorted(self.lists)) or "none"
                    raise ConditionError(
                        field, f"unknown list '@{name}' (known lists: {known})", raw
                    )
                out.extend(self.lists[name])
            else:
                out.append(item)
        return out

    def strings(self, raw: Any, field: str) -> list[str]:
        out = self.values(raw, field)
        for item in out:
            if not isinstance(item, str | int):
                raise ConditionError(field, f"expected strings, found {type(item).__name__}", raw)
        return [str(i) for i in out]

    def regexes(
        self, raw: Any, field: str, needs: list[frozenset[str]] | None = None
    ) -> LazyPattern:
        """One alternation, checked now and compiled on first use; when ``needs`` is given,
        its required literals go there."""
        patterns = self.strings(raw, field)
        trees = []
        for pattern in patterns:
            try:
                trees.append(parse_regex(pattern))
            except re.error as exc:
                raise ConditionError(
                    field, f"invalid regular expression {pattern!r}: {exc}", raw
                ) from exc
        if needs is not None:
            literals = literals_of_trees(trees)
            if literals:
                needs.append(literals)
        return LazyPattern("|".join(_scoped(p) for p in patterns), re.IGNORECASE)

    def globs(self, raw: Any, field: str, *, ignore_case: bool) -> LazyPattern:
        patterns = self.strings(raw, field)
        flags = re.IGNORECASE if ignore_case else 0
        return LazyPattern("|".join(fnmatch.translate(p) for p in patterns), flags)

    # ---- conditions -------------------------------------------------------------------------

    def compile(self, cond: Any, field: str = "when") -> Compiled:
        if not isinstance(cond, Mapping) or not cond:
            raise ConditionError(field, "a condition must be a non-empty mapping", cond)
        parts: list[Compiled] = []
        for key, value in cond.items():
            sub = f"{field}.{key}"
            builder = _FACETS.get(key)
            if builder is None:
                known = ", ".join(sorted(_FACETS))
                raise ConditionError(
                    sub, f"unknown condition key '{key}' (use one of: {known})", cond
                )
            parts.append(builder(self, value, sub))
        return _all_of(parts)


_GLOBAL_FLAGS = re.compile(r"^\(\?([imsx]+)\)")


def _scoped(pattern: str) -> str:
    """Wrap one pattern for alternation, turning leading global flags into scoped ones."""
    m = _GLOBAL_FLAGS.match(pattern)
    if m:
        return f"(?{m.group(1)}:{pattern[m.end() :]})"
    return f"(?:{pattern})"


def _all_of(parts: list[Compiled]) -> Compiled:
    if len(parts) == 1:
        return parts[0]
    tests = tuple(p.test for p in parts)

    def test(a: Analysis) -> str | None:
        evidence: list[str] = []
        for t in tests:
            found = t(a)
            if found is None:
                return None
            if found and found not in evidence:
                evidence.append(found)
        return "; ".join(evidence)

    return Compiled(test, _and_triggers(parts))


def _any_of(compiler: ConditionCompiler, raw: Any, field: str) -> Compiled:
    if not isinstance(raw, list) or not raw:
        raise ConditionError(field, "'any' takes a non-empty list of conditions", raw)
    parts = [compiler.compile(c, f"{field}[{i}]") for i, c in enumerate(raw)]
    tests = tuple(p.test for p in parts)

    def test(a: Analysis) -> str | None:
        for t in tests:
            found = t(a)
            if found is not None:
                return found
        return None

    return Compiled(test, tuple(dict.fromkeys(t for p in parts for t in p.triggers)))


def _all(compiler: ConditionCompiler, raw: Any, field: str) -> Compiled:
    if not isinstance(raw, list) or not raw:
        raise ConditionError(field, "'all' takes a non-empty list of conditions", raw)
    return _all_of([compiler.compile(c, f"{field}[{i}]") for i, c in enumerate(raw)])


def _not(compiler: ConditionCompiler, raw: Any, field: str) -> Compiled:
    inner = compiler.compile(raw, field).test
    return Compiled(lambda a: "" if inner(a) is None else None)


def _kind(compiler: ConditionCompiler, raw: Any, field: str) -> Compiled:
    kinds = frozenset(compiler.strings(raw, field))
    return Compiled(lambda a: "" if a.kind in kinds or a.declared_kind in kinds else None)


def _text(compiler: ConditionCompiler, raw: Any, field: str) -> Compiled:
    needs: list[frozenset[str]] = []
    pattern = compiler.regexes(raw, field, needs)

    def test(a: Analysis) -> str | None:
        for text in a.texts:
            m = pattern.search(text)
            if m:
                return shorten(m.group(0))
        return None

    return Compiled(test, (Trigger(None, frozenset({"texts"}), tuple(needs)),))


def _payload(compiler: ConditionCompiler, raw: Any, field: str) -> Compiled:
    spec = _block(raw, field, {"encoding", "text"})
    tests: list[ItemTest] = []
    needs: list[frozenset[str]] = []
    if "encoding" in spec:
        encodings = frozenset(compiler.strings(spec["encoding"], f"{field}.encoding"))
        tests.append(lambda p: p.encoding in encodings)
    if "text" in spec:
        pat = compiler.regexes(spec["text"], f"{field}.text", needs)
        tests.append(lambda p: pat.search(p.text) is not None)
    return _exists(
        lambda a: a.payloads,
        tests,
        lambda p: f"decoded {p.encoding}: {shorten(p.text, 80)}",
        facet="payloads",
        needs=needs,
    )


def _block(raw: Any, field: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping) or not raw:
        raise ConditionError(field, "expected a non-empty mapping", raw)
    for key in raw:
        if key not in allowed:
            raise ConditionError(
                f"{field}.{key}",
                f"unknown field '{key}' (allowed: {', '.join(sorted(allowed))})",
                raw,
            )
    return raw


def _exists(
    items: Callable[[Analysis], Iterable[Any]],
    tests: list[ItemTest],
    describe: Callable[[Any], str],
    programs: frozenset[str] | None = None,
    *,
    facet: str,
    needs: list[frozenset[str]] | None = None,
) -> Compiled:
    checks = tuple(tests)

    def test(a: Analysis) -> str | None:
        for item in items(a):
            for check in checks:
                if not check(item):
                    break
            else:
                return describe(item)
        return None

    return Compiled(test, (Trigger(programs, frozenset({facet}), tuple(needs or ())),))


# ---- command facet -----------------------------------------------------------------------------

_COMMAND_FIELDS = {
    "program",
    "option",
    "options_all",
    "option_value",
    "arg",
    "args_all",
    "argv",
    "subcommand",
    "via",
    "redirect",
    "env",
    "background",
    "not_option",
    "not_arg",
    "min_args",
    "unresolved",
}


def describe_command(cmd: Command) -> str:
    return shorten(" ".join(cmd.argv))


def _command(compiler: ConditionCompiler, raw: Any, field: str) -> Compiled:
    spec = _block(raw, field, _COMMAND_FIELDS)
    tests: list[ItemTest] = []
    needs: list[frozenset[str]] = []
    programs: frozenset[str] | None = None
    if "program" in spec:
        names = compiler.strings(spec["program"], f"{field}.program")
        exact = frozenset(n for n in names if not any(ch in n for ch in "*?["))
        wild = [n for n in names if n not in exact]
        wild_re = compiler.globs(wild, f"{field}.program", ignore_case=False) if wild else None
        tests.append(
            lambda c: (
                c.program in exact or (wild_re is not None and wild_re.match(c.program) is not None)
            )
        )
        programs = exact if wild_re is None else None
        wild_literals = globs_literals(wild) if wild else None
    for key, test in _command_field_tests(compiler, spec, field, needs):
        del key
        tests.append(test)
    compiled = _exists(
        lambda a: a.commands, tests, describe_command, programs, facet="commands", needs=needs
    )
    extra = _command_facets(spec)
    if extra:
        compiled = Compiled(
            compiled.test,
            tuple(Trigger(t.programs, t.facets | extra, t.literals) for t in compiled.triggers),
        )
    if programs is None and "program" in spec and wild_literals:
        # Program globs ("[Xx][Mm][Rr]ig*") still have a fixed piece that the command's argv[0]
        # must contain: index by it, and by the exact names, instead of running for every command.
        facets = frozenset({"commands"}) | extra
        triggers = [Trigger(None, facets, (*needs, wild_literals))]
        if exact:
            triggers.insert(0, Trigger(exact, facets, tuple(needs)))
        compiled = Compiled(compiled.test, tuple(triggers))
    return compiled


def _command_facets(spec: Mapping[str, Any]) -> frozenset[str]:
    """Facets a command block needs beyond ``commands``: a block that asks for an unresolved
    command or a redirection cannot match an action that has none."""
    extra = set()
    if spec.get("unresolved") is True:
        extra.add("unresolved")
    if "redirect" in spec:
        extra.add("redirects")
    return frozenset(extra)


def _command_field_tests(
    compiler: ConditionCompiler, spec: Mapping[str, Any], field: str, needs: list[frozenset[str]]
) -> Iterable[tuple[str, ItemTest]]:
    if "option" in spec:
        opts = frozenset(compiler.strings(spec["option"], f"{field}.option"))
        yield "option", lambda c: not opts.isdisjoint(c.options)
    if "not_option" in spec:
        nopts = frozenset(compiler.strings(spec["not_option"], f"{field}.not_option"))
        yield "not_option", lambda c: nopts.isdisjoint(c.options)
    if "options_all" in spec:
        all_opts = frozenset(compiler.strings(spec["options_all"], f"{field}.options_all"))
        yield "options_all", lambda c: all_opts.issubset(c.options)
    if "option_value" in spec:
        yield (
            "option_value",
            _option_value_test(compiler, spec["option_value"], f"{field}.option_value"),
        )
    if "arg" in spec:
        arg_re = compiler.regexes(spec["arg"], f"{field}.arg", needs)
        yield "arg", lambda c: any(arg_re.search(x) for x in c.argv[1:])
    if "not_arg" in spec:
        narg_re = compiler.regexes(spec["not_arg"], f"{field}.not_arg")
        yield "not_arg", lambda c: not any(narg_re.search(x) for x in c.argv[1:])
    if "args_all" in spec:
        all_res = [
            compiler.regexes(p, f"{field}.args_all[{i}]", needs)
            for i, p in enumerate(_as_list(spec["args_all"]))
        ]
        yield "args_all", lambda c: all(any(r.search(x) for x in c.argv[1:]) for r in all_res)
    if "argv" in spec:
        argv_re = compiler.regexes(spec["argv"], f"{field}.argv", needs)
        yield "argv", lambda c: argv_re.search(" ".join(c.argv)) is not None
    if "subcommand" in spec:
        yield "subcommand", _subcommand_test(compiler, spec["subcommand"], f"{field}.subcommand")
    if "via" in spec:
        via_re = compiler.globs(spec["via"], f"{field}.via", ignore_case=True)
        yield "via", lambda c: any(via_re.match(v) for v in c.via)
    if "redirect" in spec:
        yield "redirect", _redirect_test(compiler, spec["redirect"], f"{field}.redirect", needs)
    if "env" in spec:
        names = frozenset(compiler.strings(spec["env"], f"{field}.env"))
        yield "env", lambda c: not names.isdisjoint(c.env)
    if "background" in spec:
        want_bg = bool(spec["background"])
        yield "background", lambda c: c.background is want_bg
    if "unresolved" in spec:
        want_unres = bool(spec["unresolved"])
        yield "unresolved", lambda c: c.unresolved is want_unres
    if "min_args" in spec:
        minimum = spec["min_args"]
        if not isinstance(minimum, int):
            raise ConditionError(f"{field}.min_args", "min_args must be an integer", spec)
        yield "min_args", lambda c: len(c.argv) - 1 >= minimum


def _as_list(raw: Any) -> list[Any]:
    return raw if isinstance(raw, list) else [raw]


def _option_value_test(compiler: ConditionCompiler, raw: Any, field: str) -> ItemTest:
    if not isinstance(raw, Mapping) or not raw:
        raise ConditionError(field, "option_value maps an option to value patterns", raw)
    wanted = {str(opt): compiler.regexes(pats, f"{field}.{opt}") for opt, pats in raw.items()}

    def test(c: Command) -> bool:
        for opt, pattern in wanted.items():
            value = c.options.get(opt)
            if value is not None and pattern.search(value):
                return True
        return False

    return test


def positional(cmd: Command) -> list[str]:
    """Arguments that are not options or option values, in order (for subcommand matching)."""
    values = {v for v in cmd.options.values() if v}
    out: list[str] = []
    for arg in cmd.argv[1:]:
        if arg.startswith("-") and arg != "-":
            continue
        if arg in values and out == []:
            continue
        out.append(arg.lower())
    return out


def _subcommand_test(compiler: ConditionCompiler, raw: Any, field: str) -> ItemTest:
    phrases = [tuple(s.lower().split()) for s in compiler.strings(raw, field)]
    if not phrases or any(not p for p in phrases):
        raise ConditionError(
            field, "subcommand takes non-empty words such as 'ec2 run-instances'", raw
        )

    def test(c: Command) -> bool:
        words = positional(c)
        return any(_contains_in_order(words, p) for p in phrases)

    return test


def _contains_in_order(words: list[str], phrase: tuple[str, ...]) -> bool:
    """``phrase`` appears as consecutive words near the start (global options may precede it)."""
    n = len(phrase)
    return any(tuple(words[i : i + n]) == phrase for i in range(min(len(words) - n + 1, 4)))


def _redirect_test(
    compiler: ConditionCompiler, raw: Any, field: str, needs: list[frozenset[str]]
) -> ItemTest:
    spec = _block(raw, field, {"op", "target"})
    if "target" in spec:
        literals = globs_literals(compiler.strings(spec["target"], f"{field}.target"))
        if literals:
            needs.append(literals)  # redirection targets are part of the searched text
    ops = frozenset(compiler.strings(spec["op"], f"{field}.op")) if "op" in spec else None
    target = (
        compiler.globs(spec["target"], f"{field}.target", ignore_case=False)
        if "target" in spec
        else None
    )

    def test(c: Command) -> bool:
        return any(
            (ops is None or r.op in ops) and (target is None or target.match(r.target))
            for r in c.redirects
        )

    return test


# ---- target facet ------------------------------------------------------------------------------

_TARGET_FIELDS = {
    "host",
    "not_host",
    "port",
    "scheme",
    "direction",
    "proto",
    "cidr",
    "source",
    "url",
}


def describe_target(t: NetTarget) -> str:
    shown = t.url or (f"{t.host}:{t.port}" if t.port is not None else t.host)
    return shorten(f"{t.direction} {shown}" if t.direction == "listen" else shown)


def _ports(compiler: ConditionCompiler, raw: Any, field: str) -> frozenset[int]:
    ports: set[int] = set()
    for item in compiler.values(raw, field):
        if isinstance(item, int):
            ports.add(item)
        elif isinstance(item, str) and re.fullmatch(r"\d+-\d+", item):
            lo, hi = (int(x) for x in item.split("-"))
            ports.update(range(lo, hi + 1))
        else:
            raise ConditionError(
                field, f"ports are integers or ranges like '3333-3340', not {item!r}", raw
            )
    return frozenset(ports)


def compile_networks(
    compiler: ConditionCompiler, raw: Any, field: str
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    nets = []
    for item in compiler.strings(raw, field):
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ConditionError(field, f"invalid CIDR {item!r}: {exc}", raw) from exc
    return nets


def host_in(host: str, nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(addr in net for net in nets)


def _attr_in(name: str, allowed: frozenset[str]) -> ItemTest:
    def test(item: Any) -> bool:
        return (getattr(item, name) or "").lower() in allowed

    return test


def _attr_search(name: str, pattern: LazyPattern) -> ItemTest:
    def test(item: Any) -> bool:
        return pattern.search(getattr(item, name) or "") is not None

    return test


def _target(compiler: ConditionCompiler, raw: Any, field: str) -> Compiled:
    spec = _block(raw, field, _TARGET_FIELDS)
    tests: list[ItemTest] = []
    needs: list[frozenset[str]] = []
    if "host" in spec:
        host_re = compiler.globs(spec["host"], f"{field}.host", ignore_case=True)
        tests.append(lambda t: host_re.match(t.host) is not None)
    if "not_host" in spec:
        nhost_re = compiler.globs(spec["not_host"], f"{field}.not_host", ignore_case=True)
        tests.append(lambda t: nhost_re.match(t.host) is None)
    if "port" in spec:
        ports = _ports(compiler, spec["port"], f"{field}.port")
        tests.append(lambda t: t.port in ports)
    for key in ("scheme", "direction", "proto", "source"):
        if key in spec:
            allowed = frozenset(s.lower() for s in compiler.strings(spec[key], f"{field}.{key}"))
            tests.append(_attr_in(key, allowed))
    if "cidr" in spec:
        nets = compile_networks(compiler, spec["cidr"], f"{field}.cidr")
        tests.append(lambda t: host_in(t.host, nets))
    if "url" in spec:
        url_re = compiler.regexes(spec["url"], f"{field}.url", needs)
        tests.append(lambda t: t.url is not None and url_re.search(t.url) is not None)
    return _exists(lambda a: a.targets, tests, describe_target, facet="targets", needs=needs)


# ---- file facet --------------------------------------------------------------------------------


def describe_file(f: FileAccess) -> str:
    return shorten(f"{f.op} {f.path}")


def _file(compiler: ConditionCompiler, raw: Any, field: str) -> Compiled:
    spec = _block(raw, field, {"path", "not_path", "op", "content", "source"})
    tests: list[ItemTest] = []
    needs: list[frozenset[str]] = []
    if "path" in spec:
        path_re = compiler.globs(spec["path"], f"{field}.path", ignore_case=False)
        tests.append(lambda f: path_re.match(f.path) is not None)
        path_literals = globs_literals(compiler.strings(spec["path"], f"{field}.path"))
        if path_literals:
            needs.append(path_literals)  # every matching path contains one of these pieces
    if "not_path" in spec:
        npath_re = compiler.globs(spec["not_path"], f"{field}.not_path", ignore_case=False)
        tests.append(lambda f: npath_re.match(f.path) is None)
    if "op" in spec:
        ops = frozenset(compiler.strings(spec["op"], f"{field}.op"))
        tests.append(lambda f: f.op in ops)
    if "content" in spec:
        content_re = compiler.regexes(spec["content"], f"{field}.content", needs)
        tests.append(lambda f: f.content is not None and content_re.search(f.content) is not None)
    if "source" in spec:
        sources = frozenset(compiler.strings(spec["source"], f"{field}.source"))
        tests.append(lambda f: f.source in sources)
    return _exists(lambda a: a.files, tests, describe_file, facet="files", needs=needs)


# ---- code, http, spend, tool facets ------------------------------------------------------------


def _code(compiler: ConditionCompiler, raw: Any, field: str) -> Compiled:
    spec = _block(raw, field, {"capability", "language", "detail"})
    tests: list[ItemTest] = []
    needs: list[frozenset[str]] = []
    if "capability" in spec:
        caps = frozenset(compiler.strings(spec["capability"], f"{field}.capability"))
        tests.append(lambda c: c.capability in caps)
    if "language" in spec:
        langs = frozenset(compiler.strings(spec["language"], f"{field}.language"))
        tests.append(lambda c: c.language in langs)
    if "detail" in spec:
        detail_re = compiler.regexes(spec["detail"], f"{field}.detail", needs)
        tests.append(lambda c: detail_re.search(c.detail) is not None)
    return _exists(
        lambda a: a.code,
        tests,
        lambda c: shorten(f"{c.language} {c.capability}: {c.detail}"),
        facet="code",
        needs=needs,
    )


def _http(compiler: ConditionCompiler, raw: Any, field: str) -> Compiled:
    spec = _block(raw, field, {"method", "host", "path", "body", "header", "url"})
    tests: list[ItemTest] = []
    needs: list[frozenset[str]] = []
    if "method" in spec:
        methods = frozenset(m.upper() for m in compiler.strings(spec["method"], f"{field}.method"))
        tests.append(lambda h: h.method in methods)
    if "host" in spec:
        host_re = compiler.globs(spec["host"], f"{field}.host", ignore_case=True)
        tests.append(lambda h: host_re.match(h.host) is not None)
    for key in ("path", "body", "url"):
        if key in spec:
            pat = compiler.regexes(spec[key], f"{field}.{key}", needs)
            tests.append(_attr_search(key, pat))
    if "header" in spec:
        hdr = spec["header"]
        if not isinstance(hdr, Mapping):
            raise ConditionError(
                f"{field}.header", "header maps a header name to value patterns", hdr
            )
        wanted = {
            str(k).lower(): compiler.regexes(v, f"{field}.header.{k}") for k, v in hdr.items()
        }
        tests.append(
            lambda h: all(
                any(k.lower() == name and p.search(v) for k, v in h.headers.items())
                for name, p in wanted.items()
            )
        )
    return _exists(
        lambda a: [a.http] if a.http else [],
        tests,
        lambda h: shorten(f"{h.method} {h.url}"),
        facet="http",
        needs=needs,
    )


def _spend(compiler: ConditionCompiler, raw: Any, field: str) -> Compiled:
    spec = _block(raw, field, {"min_amount", "currency", "recipient", "purpose", "account"})
    tests: list[ItemTest] = []
    needs: list[frozenset[str]] = []
    if "min_amount" in spec:
        minimum = spec["min_amount"]
        if not isinstance(minimum, int | float) or isinstance(minimum, bool):
            raise ConditionError(f"{field}.min_amount", "min_amount must be a number", spec)
        tests.append(lambda s: s.amount >= minimum)
    if "currency" in spec:
        currencies = frozenset(
            c.upper() for c in compiler.strings(spec["currency"], f"{field}.currency")
        )
        tests.append(lambda s: s.currency in currencies)
    for key in ("recipient", "purpose", "account"):
        if key in spec:
            pat = compiler.regexes(spec[key], f"{field}.{key}", needs)
            tests.append(_attr_search(key, pat))
    return _exists(
        lambda a: [a.spend] if a.spend else [],
        tests,
        lambda s: shorten(f"{s.amount:g} {s.currency} to {s.recipient or 'unnamed recipient'}"),
        facet="spend",
        needs=needs,
    )


def _tool(compiler: ConditionCompiler, raw: Any, field: str) -> Compiled:
    spec = _block(raw, field, {"name", "args"})
    tests: list[ItemTest] = []
    needs: list[frozenset[str]] = []
    if "name" in spec:
        name_re = compiler.globs(spec["name"], f"{field}.name", ignore_case=True)
        tests.append(
            lambda t: name_re.match(t.name) is not None or name_re.match(_base(t.name)) is not None
        )
    if "args" in spec:
        args_re = compiler.regexes(spec["args"], f"{field}.args", needs)
        tests.append(lambda t: args_re.search(t.args_text) is not None)
    return _exists(
        lambda a: [a.tool] if a.tool else [],
        tests,
        lambda t: shorten(f"tool {t.name} {t.args_text}"),
        facet="tool",
        needs=needs,
    )


def _base(name: str) -> str:
    return base_name(name)


_FACETS: dict[str, Callable[[ConditionCompiler, Any, str], Compiled]] = {
    "any": _any_of,
    "all": _all,
    "not": _not,
    "kind": _kind,
    "text": _text,
    "payload": _payload,
    "command": _command,
    "target": _target,
    "file": _file,
    "code": _code,
    "http": _http,
    "spend": _spend,
    "tool": _tool,
}


def to_source_error(
    exc: ConditionError, file: str, base_field: str, fallback_line: int
) -> SourceError:
    field = f"{base_field}.{exc.field}" if base_field else exc.field
    return SourceError(file, exc.line or fallback_line, field, exc.message)


__all__ = ["Compiled", "ConditionCompiler", "ConditionError", "LineDict", "to_source_error"]
