"""Path normalisation shared by every analyser: one spelling per place, never touching the disk."""

from __future__ import annotations

import posixpath

_HOME_PREFIXES = ("~/", "$HOME/", "${HOME}/")


def normalize_path(raw: str, cwd: str | None = None) -> str:
    """``~``/``$HOME`` become ``~``; relative paths join ``cwd``; ``..`` and ``//`` are folded.

    The home directory stays symbolic because Corral judges the action before it runs and does
    not know which user's home it will be; rules match ``~/.ssh/*`` and ``*/.ssh/*`` alike.
    """
    path = raw.strip()
    if not path:
        return path
    if path in ("~", "$HOME", "${HOME}"):
        return "~"
    for prefix in _HOME_PREFIXES:
        if path.startswith(prefix):
            return "~/" + posixpath.normpath(path[len(prefix) :]).lstrip("/")
    if path.startswith("/"):
        folded = posixpath.normpath(path)
        # POSIX keeps a leading '//' as implementation-defined; Linux treats it as '/'.
        return "/" + folded.lstrip("/")
    if cwd:
        return normalize_path(posixpath.join(cwd, path))
    return posixpath.normpath(path)
