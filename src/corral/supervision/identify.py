"""Which program a process really runs, whatever its argv[0] says.

The exec rules know a program by its name: ``cp /usr/bin/ssh ./sync-helper`` and then
``./sync-helper -N -R ...`` would be judged as an unknown program. :class:`KnownBinaries`
identifies what ``/proc/<pid>/exe`` points at: the same file (device and inode) as one of a small,
explicit set of sensitive programs found on the host when the supervisor starts, or a copy of
one (same size and SHA-256). Hashing happens only when the size equals one of the known
binaries' sizes, and each file is judged once (cached by device, inode, size and times).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# The rules' shared lists whose programs are worth recognising under another name (ssh clients
# open tunnels, netcat tools relay and spawn shells, miners mine), plus single programs.
KNOWN_LISTS = ("ssh_clients", "netcat_tools", "miner_binaries")
KNOWN_EXTRA = ("socat",)
# Multi-call binaries answer to every applet name: identifying one as "nc" would misname them all.
MULTI_CALL = frozenset({"busybox", "toybox"})
HASH_CHUNK = 1 << 20
CACHE_MAX = 4096

FileKey = tuple[int, int, int, int, int]  # dev, inode, size, mtime_ns, ctime_ns


@dataclass(frozen=True, slots=True)
class Identity:
    """A process's executable recognised as a known program."""

    name: str  # the program's name as the rules know it ("ssh")
    path: str  # the known binary on the host ("/usr/bin/ssh")
    names: frozenset[str]  # every name that resolves to that binary ("nc", "nc.openbsd")
    how: str  # "same file" or "copy" (same size and SHA-256)

    def renamed(self, argv0: str) -> bool:
        """Whether ``argv0`` hides the program under another name."""
        return os.path.basename(argv0) not in self.names

    def note(self, argv0: str) -> str:
        base = os.path.basename(argv0) or argv0
        if self.how == "copy":
            return f"{base} is a copy of {self.path}"
        return f"{base} is {self.path} under another name"


@dataclass(slots=True)
class _Known:
    name: str
    path: str
    names: set[str]
    size: int
    digest: str | None = None


def program_names(lists: Mapping[str, Iterable[object]]) -> list[str]:
    """The program names to recognise, drawn from the rules' shared lists."""
    names: list[str] = []
    for key in KNOWN_LISTS:
        names += [str(item) for item in lists.get(key, ()) if isinstance(item, str)]
    return [*names, *KNOWN_EXTRA]


class KnownBinaries:
    """Sensitive binaries present on this host, and the identification of running executables."""

    def __init__(self, names: Iterable[str], path: str | None = None) -> None:
        self._by_file: dict[tuple[int, int], _Known] = {}
        for name in dict.fromkeys(names):
            self._add(name, path)
        self._sizes = {known.size for known in self._by_file.values()}
        self._cache: dict[FileKey, Identity | None] = {}
        self._lock = threading.Lock()

    def _add(self, name: str, path: str | None) -> None:
        found = shutil.which(name, path=path)
        if found is None:
            return
        real = os.path.realpath(found)
        if os.path.basename(real) in MULTI_CALL:
            return
        try:
            st = os.stat(real)
        except OSError:
            return
        key = (st.st_dev, st.st_ino)
        known = self._by_file.get(key)
        if known is None:
            # The file's own name when it is one of the list's names (nc -> nc.openbsd).
            own = os.path.basename(real)
            self._by_file[key] = _Known(own if own == name else name, real, {name}, st.st_size)
        else:
            known.names.add(name)
            if os.path.basename(real) == name:
                known.name = name

    @property
    def paths(self) -> list[str]:
        return sorted(known.path for known in self._by_file.values())

    def identify_pid(self, pid: int) -> Identity | None:
        """What ``pid`` executes, when it is one of the known binaries or a copy of one."""
        return self.identify_file(f"/proc/{pid}/exe")

    def identify_file(self, path: str) -> Identity | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        known = self._by_file.get((st.st_dev, st.st_ino))
        if known is not None:
            return _identity(known, "same file")
        if st.st_size not in self._sizes:
            return None
        key: FileKey = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        found = self._by_copy(path, st.st_size)
        with self._lock:
            if len(self._cache) >= CACHE_MAX:
                self._cache.clear()
            self._cache[key] = found
        return found

    def _by_copy(self, path: str, size: int) -> Identity | None:
        candidates = [k for k in self._by_file.values() if k.size == size]
        digest = _sha256(path)
        if digest is None:
            return None
        for known in candidates:
            if known.digest is None:
                known.digest = _sha256(known.path)
            if known.digest == digest:
                return _identity(known, "copy")
        return None


def _identity(known: _Known, how: str) -> Identity:
    return Identity(known.name, known.path, frozenset(known.names | {known.name}), how)


def _sha256(path: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(HASH_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()
