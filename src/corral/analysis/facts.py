"""What the analysis layer finds in an action: the facts rules and policies are judged on.

Every entry point turns an action into one :class:`Analysis`. Rules never look at raw JSON
or at shell syntax; they look at these facts, so an evasion that the analyser sees through
(quoting, wrappers, encodings, interpreters) is seen through for every rule at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FileOp = Literal["read", "write", "append", "delete", "chmod", "list", "exec"]
Direction = Literal["out", "listen"]


@dataclass(slots=True)
class Redirect:
    """One redirection of a simple command: ``2>/dev/null``, ``>> ~/.bashrc``, ``<&3``."""

    op: str
    target: str
    fd: int | None = None


@dataclass(slots=True)
class Command:
    """One simple command that bash would run, after quote removal and known substitutions.

    ``program`` is the basename of ``argv[0]`` (``/usr/bin/ssh`` and ``s''sh`` both give
    ``ssh``). ``via`` records how the command was reached, outermost first, e.g.
    ``("bash -c", "base64 -d")``; an empty tuple means it was typed directly.
    ``options`` maps every option found in ``argv`` to its value (``None`` for flags):
    short bundles are split the way getopt would (``-fNR 80:h:22`` gives ``-f``, ``-N``, ``-R``).
    """

    argv: list[str]
    program: str
    path: str
    options: dict[str, str | None] = field(default_factory=dict)
    via: tuple[str, ...] = ()
    redirects: list[Redirect] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    background: bool = False
    unresolved: bool = False

    @property
    def args(self) -> list[str]:
        return self.argv[1:]


@dataclass(slots=True)
class NetTarget:
    """A network endpoint the action would reach (or listen on)."""

    host: str
    port: int | None = None
    scheme: str | None = None
    url: str | None = None
    source: str = ""
    direction: Direction = "out"
    proto: str = "tcp"


@dataclass(slots=True)
class FileAccess:
    """A path the action touches. ``path`` is normalised: absolute when it could be resolved,
    ``~/...`` for the home directory (``$HOME``, ``${HOME}`` and ``~`` all become ``~``)."""

    path: str
    op: FileOp
    source: str = ""
    content: str | None = None


@dataclass(slots=True)
class CodeFinding:
    """A capability found in interpreter code (``python -c``, ``perl -e``, a heredoc to node...)."""

    language: str
    capability: str
    detail: str = ""


@dataclass(slots=True)
class Payload:
    """A payload that was decoded and analysed again (base64, hex, printf escapes, rev...)."""

    encoding: str
    text: str
    source: str = ""


@dataclass(slots=True)
class HttpFacts:
    method: str
    url: str
    host: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


@dataclass(slots=True)
class SpendFacts:
    amount: float
    currency: str
    account: str | None = None
    purpose: str | None = None
    recipient: str | None = None


@dataclass(slots=True)
class ToolFacts:
    name: str
    args_text: str = ""


@dataclass(slots=True)
class Analysis:
    """Everything found in one action.

    ``kind`` is the effective kind: a ``tool`` call recognised as a shell command has kind
    ``exec`` here, with ``declared_kind`` still ``tool``. ``texts`` holds every string worth a
    pattern scan (the raw command, decoded payloads, interpreter code, URLs, bodies, tool
    arguments). ``problems`` lists why the analysis could not be completed; the engine
    denies any action with a problem: a command Corral cannot read is one it cannot vouch for.
    """

    kind: str
    declared_kind: str
    commands: list[Command] = field(default_factory=list)
    targets: list[NetTarget] = field(default_factory=list)
    files: list[FileAccess] = field(default_factory=list)
    code: list[CodeFinding] = field(default_factory=list)
    payloads: list[Payload] = field(default_factory=list)
    http: HttpFacts | None = None
    spend: SpendFacts | None = None
    tool: ToolFacts | None = None
    texts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    blob: str | None = field(default=None, repr=False, compare=False)

    def programs(self) -> set[str]:
        return {c.program for c in self.commands}

    def search_blob(self) -> str:
        """Every string any rule pattern can look at, case-folded, in one text (cached).

        Rules use it as a necessary condition: a pattern whose fixed piece is nowhere in here
        cannot match any single field, so it is not run.
        """
        if self.blob is None:
            parts: list[str] = [*self.texts]
            for c in self.commands:
                parts.extend(c.argv)
                parts.extend(r.target for r in c.redirects)
                parts.extend(c.env.values())
                parts.extend(v for v in c.options.values() if v)
            for f in self.files:
                parts.append(f.path)
                if f.content:
                    parts.append(f.content)
            for t in self.targets:
                parts.extend((t.host, t.url or ""))
            parts.extend(c.detail for c in self.code)
            parts.extend(p.text for p in self.payloads)
            if self.http is not None:
                parts.extend((self.http.url, self.http.body, *self.http.headers.values()))
            if self.spend is not None:
                parts.extend(
                    x or "" for x in (self.spend.recipient, self.spend.purpose, self.spend.account)
                )
            if self.tool is not None:
                parts.extend((self.tool.name, self.tool.args_text))
            self.blob = "\n".join(parts).casefold()
        return self.blob
