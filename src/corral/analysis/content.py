"""What written file content would do, judged by what the file is.

Writing a file runs nothing, but a reverse shell written into ``~/.bashrc``, a cron entry or a
``run.sh`` runs later. So content is analysed the way it will be used: shell scripts and startup
files as shell, source files as their language, configuration as text to scan. Prose (Markdown,
plain text, reStructuredText...) is not scanned: documentation and test fixtures that *describe*
attacks are everyday work, and scanning them would teach people to ignore Corral.

Facts found in content are marked with the origin ``content of PATH`` (in ``via`` and in
``source``), so rules see them but policy clauses about what the action itself reaches
(egress, workspace, privilege) do not treat a written script as an executed one.
"""

from __future__ import annotations

import posixpath

from corral.analysis.facts import Analysis
from corral.analysis.interpreters import analyze_code
from corral.analysis.shell import ShellLimits, analyze_command_line

CONTENT_ORIGIN = "content of "

_PROSE = frozenset(
    {".md", ".markdown", ".rst", ".txt", ".adoc", ".org", ".tex", ".csv", ".tsv", ".log"}
)
_SOURCE = {
    ".py": "python",
    ".pyw": "python",
    ".pl": "perl",
    ".pm": "perl",
    ".rb": "ruby",
    ".js": "node",
    ".mjs": "node",
    ".cjs": "node",
    ".ts": "node",
    ".php": "php",
    ".lua": "lua",
    ".awk": "awk",
}
_SHELL = frozenset({".sh", ".bash", ".zsh", ".ksh", ".command"})
_SHEBANG_LANGS = (
    ("python", "python"),
    ("perl", "perl"),
    ("ruby", "ruby"),
    ("node", "node"),
    ("php", "php"),
    ("lua", "lua"),
    ("awk", "awk"),
)
_SHELL_PLACES = (
    "/.bashrc",
    "/.bash_profile",
    "/.profile",
    "/.zshrc",
    "/.zprofile",
    "/.bash_login",
    "/etc/profile",
    "/etc/bash.bashrc",
    "/etc/rc.local",
    "/cron",
    "/.git/hooks/",
    "/etc/init.d/",
)


def content_kind(path: str, content: str) -> tuple[str, str | None]:
    """``("prose"|"source"|"shell"|"config", language)`` for a file about to be written."""
    first = content.lstrip()[:120].splitlines()[0] if content.strip() else ""
    if first.startswith("#!"):
        for needle, language in _SHEBANG_LANGS:
            if needle in first:
                return "source", language
        return "shell", None
    suffix = posixpath.splitext(path)[1].lower()
    if suffix in _PROSE:
        return "prose", None
    if suffix in _SOURCE:
        return "source", _SOURCE[suffix]
    if suffix in _SHELL or any(place in path for place in _SHELL_PLACES):
        return "shell", None
    return "config", None


def analyze_content(path: str, content: str, into: Analysis, limits: ShellLimits) -> None:
    """Add what ``content`` would do once ``path`` is used to ``into``."""
    kind, language = content_kind(path, content)
    origin = CONTENT_ORIGIN + path
    if kind == "prose":
        return
    if kind == "source" and language is not None:
        code = analyze_code(language, content[: limits.max_bytes])
        into.code.extend(code.findings)
        for target in code.targets:
            target.source = origin
            into.targets.append(target)
        return
    if kind == "config":
        into.texts.append(content[: limits.max_bytes])
        return
    script = analyze_command_line(content[: limits.max_bytes], limits=limits)
    for command in script.commands:
        command.via = (origin, *command.via)
        into.commands.append(command)
    for target in script.targets:
        target.source = origin
        into.targets.append(target)
    for access in script.files:
        access.source = origin
        into.files.append(access)
    into.code.extend(script.code)
    into.payloads.extend(script.payloads)
    into.texts.extend(script.texts)
    # A script Corral cannot parse is written, not run: its problems are not the action's.
