"""What every check shares: the collector it reports into and careful file probes.

Files are opened without following the caller's trust: non-blocking (a FIFO planted where a
credential file should be must not hang the audit), regular files only, and never read past a
small head (a huge file costs nothing).
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from corral.audit.catalog import KINDS
from corral.audit.model import COULD_NOT_CHECK, Finding, Severity

HEAD_BYTES = 64 * 1024


class Out:
    """Collects one check's findings; ``could_not`` records what it failed to look at, and why."""

    def __init__(self, check: str) -> None:
        self.check = check
        self.findings: list[Finding] = []

    def add(
        self,
        kind_id: str,
        *evidence: str,
        severity: Severity | None = None,
        detail: str = "",
        fix: str | None = None,
    ) -> None:
        kind = KINDS[kind_id]
        self.findings.append(
            Finding(
                id=kind.id,
                check=self.check,
                category=kind.category,
                severity=severity or kind.severity,
                title=kind.title,
                evidence=tuple(evidence),
                attack=kind.attack,
                fix=fix or kind.fix,
                detail=detail,
            )
        )

    def could_not(self, what: str, why: BaseException | str) -> None:
        reason = describe_error(why) if isinstance(why, BaseException) else why
        kind = KINDS[COULD_NOT_CHECK]
        self.findings.append(
            Finding(
                id=COULD_NOT_CHECK,
                check=self.check,
                category=kind.category,
                severity=kind.severity,
                title=f"could not check {what}: {reason}",
                evidence=(what,),
                attack=(),
                fix=kind.fix,
            )
        )


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


class NotAFile(OSError):
    """A path that is there but is not a regular file (FIFO, socket, device, directory)."""


class Hidden(FileNotFoundError):
    """A file hidden behind a placeholder: to the agent it is as good as absent."""


# Linux's null device is always character device 1:3 (Documentation/admin-guide/devices.txt).
_NULL_DEVICE = os.makedev(1, 3)


def is_placeholder(info: os.stat_result) -> bool:
    """Whether a file is the null device standing in for something hidden, as ``corral run``
    (and container runtimes) hide files: /dev/null bind-mounted over them. Reads give nothing
    and writes go nowhere, so the file is neither readable nor writable in any sense that
    matters."""
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == _NULL_DEVICE


def placeholder(path: Path | str) -> bool:
    try:
        return is_placeholder(os.stat(path))
    except OSError:
        return False


@dataclass(frozen=True, slots=True)
class Head:
    """The first bytes of a readable regular file, and its full size."""

    data: bytes
    size: int

    @property
    def truncated(self) -> bool:
        return self.size > len(self.data)

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


_TYPE_NAMES = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a directory",
}


def read_head(path: Path, limit: int = HEAD_BYTES) -> Head:
    """Open ``path`` like the agent would and read at most ``limit`` bytes.

    Raises PermissionError when the current user cannot read it (the answer, not a failure),
    FileNotFoundError when it is absent, a dangling link or hidden behind a placeholder
    (:class:`Hidden`), and NotAFile otherwise.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if is_placeholder(info):
            raise Hidden(errno.ENOENT, "hidden behind /dev/null")
        if not stat.S_ISREG(info.st_mode):
            kind = _TYPE_NAMES.get(stat.S_IFMT(info.st_mode), "not a regular file")
            raise NotAFile(errno.EINVAL, f"is {kind}, not a regular file")
        return Head(os.read(fd, limit), info.st_size)
    finally:
        os.close(fd)


def dangling(path: Path) -> str | None:
    """The target of ``path`` when it is a symbolic link that leads nowhere."""
    try:
        if os.path.islink(path) and not os.path.exists(path):
            return os.readlink(path)
    except OSError:
        return None
    return None


def writable(path: Path) -> bool:
    # The audit runs with real == effective ids (--as-user sets both), so access() answers for
    # the user the agent runs as. A device node is writable even on a read-only mount, but
    # writing to a /dev/null placeholder changes nothing.
    return os.access(path, os.W_OK) and not placeholder(path)


def readable(path: Path) -> bool:
    return os.access(path, os.R_OK) and not placeholder(path)


def creatable(path: Path) -> bool:
    """Whether ``path`` is absent but its nearest existing ancestor is writable (and enterable)."""
    if os.path.lexists(path):
        return False
    parent = path.parent
    while not os.path.exists(parent) and parent != parent.parent:
        parent = parent.parent
    return os.access(parent, os.W_OK | os.X_OK)


def expand(base: Path, pattern: str, out: Out) -> list[Path]:
    """Paths under ``base`` matching ``pattern`` (``/``-separated, ``*`` within a segment).

    Directories that cannot be listed are reported through ``out.could_not``; a literal
    segment is tried directly, so an unlistable but enterable directory still yields its files.
    """
    current = [base]
    for segment in pattern.split("/"):
        following: list[Path] = []
        for folder in current:
            if not any(ch in segment for ch in "*?["):
                following.append(folder / segment)
                continue
            following.extend(_matching(folder, segment, out))
        current = following
    return [p for p in current if os.path.lexists(p)]


def _matching(folder: Path, segment: str, out: Out) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            names = sorted(e.name for e in entries)
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        return []
    except OSError as exc:
        out.could_not(str(folder), exc)
        return []
    return [folder / n for n in names if fnmatch.fnmatchcase(n, segment)]
