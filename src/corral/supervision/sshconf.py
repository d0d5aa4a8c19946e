"""Which tunnels an ssh client asked for: on its command line, in ``-o`` options, in its config.

A *tunnel* here is what lets the outside in or routes around the egress fence: a remote forward
(``-R``, ``RemoteForward``), a dynamic SOCKS forward (``-D``, ``DynamicForward``) or a tun/tap
device (``-w``, ``Tunnel``). A local forward (``-L``) only reaches out from the sandbox, which
egress judges, and is reported separately. ``ClearAllForwardings yes`` cancels every port
forward, as ssh does.

The command line is read with the analysis layer's option table for ssh (getopt-style bundles,
option reading stops at the destination, so ``ssh host ls -R /`` has no forward). Config files
are read the way ssh reads them, conservatively: the top level, ``Host`` blocks whose patterns
match the destination, ``Match`` blocks unless a ``host``/``originalhost`` criterion rules them
out (the other criteria cannot be evaluated from outside and count as matching), and
``Include`` (bounded: depth, file count and size caps).
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from corral.analysis.optspec import parse

FORWARD_KEYS = {
    "remoteforward": ("R", "RemoteForward"),
    "dynamicforward": ("D", "DynamicForward"),
    "localforward": ("L", "LocalForward"),
}
FILE_CAP = 64 << 10  # bytes read from one config file
TOTAL_CAP = 256 << 10  # bytes read for one ssh process
MAX_FILES = 16
MAX_DEPTH = 4
_KEYWORD = re.compile(r"^\s*([A-Za-z][A-Za-z0-9]*)(?:\s*=\s*|\s+)(.*?)\s*$")

Reader = Callable[[str], str | None]  # absolute path (as the process sees it) -> text


@dataclass(slots=True)
class SshRequest:
    """What one ssh invocation asks for."""

    # Port forwards as (kind, text): kind "R" (remote), "D" (dynamic) or "L" (local).
    forwards: list[tuple[str, str]] = field(default_factory=list)
    tun: str | None = None  # the tun/tap device asked for (-w SPEC, or Tunnel MODE)
    host: str | None = None  # the destination as typed (for Host matching)
    config: str | None = None  # -F FILE
    cleared: bool = False  # ClearAllForwardings yes took effect
    # First-value-wins settings seen so far, lowercase keyword -> value (ssh's own semantics).
    first: dict[str, str] = field(default_factory=dict)
    tun_flag: str | None = None  # -w SPEC

    @property
    def tunnels(self) -> list[str]:
        """Remote and dynamic forwards and the tun/tap device: what CR-SUP-002 counts."""
        out = [text for kind, text in self.forwards if kind in "RD"]
        return [*out, self.tun] if self.tun else out

    @property
    def local(self) -> list[str]:
        return [text for kind, text in self.forwards if kind == "L"]


def parse_option(text: str) -> tuple[str, str] | None:
    """``Key=value``, ``Key value`` or ``Key = value``: (lowercase key, value)."""
    m = _KEYWORD.match(text)
    if m is None:
        return None
    return m.group(1).lower(), m.group(2)


def command_line(args: list[str]) -> SshRequest:
    """Read ssh's argv (without argv[0]); forwards from ``-R/-D/-L/-w`` and ``-o``."""
    parsed = parse("ssh", args)
    req = SshRequest()
    for kind in "RDL":
        req.forwards += [(kind, f"-{kind} {v}") for v in parsed.all_values(f"-{kind}")]
    tun = parsed.all_values("-w")
    if tun:
        req.tun_flag = tun[0]
    for value in parsed.all_values("-o"):
        option = parse_option(value)
        if option is not None:
            _apply(req, option[0], option[1], "-o ")
    req.config = parsed.value("-F")
    if parsed.positionals:
        req.host = destination_host(parsed.positionals[0])
    return req


def destination_host(dest: str) -> str:
    """The host part of ``[user@]host`` or ``ssh://[user@]host[:port]``, lowercased."""
    if dest.lower().startswith("ssh://"):
        rest = dest[6:].split("/", 1)[0].rpartition("@")[2]
        if rest.startswith("["):
            return rest[1:].split("]", 1)[0].lower()
        return rest.rsplit(":", 1)[0].lower() if rest.count(":") == 1 else rest.lower()
    return dest.rpartition("@")[2].lower()


def _apply(req: SshRequest, key: str, value: str, where: str, source: str = "") -> None:
    found = FORWARD_KEYS.get(key)
    if found is not None:
        kind, label = found
        req.forwards.append((kind, f"{where}{label} {value}{source}"))
    elif key in ("clearallforwardings", "tunnel"):
        req.first.setdefault(key, value)


def finish(req: SshRequest) -> SshRequest:
    """Apply ``ClearAllForwardings`` and ``Tunnel``/``-w`` (first value wins, as in ssh)."""
    if req.first.get("clearallforwardings", "").strip().lower() == "yes":
        req.cleared = True
        req.forwards = []
    tunnel = req.first.get("tunnel", "").strip().lower()
    if req.tun_flag is not None:
        req.tun = f"-w {req.tun_flag}"
    elif tunnel and tunnel != "no":
        req.tun = f"Tunnel {tunnel}"
    return req


def with_config(req: SshRequest, read: Reader, home: str | None) -> SshRequest:
    """Add what ssh's config files ask for (``-F FILE``, else ~/.ssh/config and the system's)."""
    reader = _ConfigReader(req, read, home)
    if req.config is not None:
        if req.config.lower() != "none":
            reader.file(req.config, 0, user=True)
        return req
    if home:
        reader.file(os.path.join(home, ".ssh", "config"), 0, user=True)
    reader.file("/etc/ssh/ssh_config", 0, user=False)
    return req


@dataclass(slots=True)
class _ConfigReader:
    """One ssh process's config files, read within the file, depth and size caps."""

    req: SshRequest
    read: Reader
    home: str | None
    files: int = 0
    size: int = 0

    def file(self, path: str, depth: int, *, user: bool) -> None:
        if depth > MAX_DEPTH or self.files >= MAX_FILES or self.size >= TOTAL_CAP:
            return
        text = self.read(path)
        self.files += 1
        if text is None:
            return
        text = text[: min(FILE_CAP, TOTAL_CAP - self.size)]
        self.size += len(text)
        active = True
        for key, value in _lines(text):
            if key == "host":
                active = _host_matches(value, self.req.host)
            elif key == "match":
                active = _match_matches(value, self.req.host)
            elif not active:
                continue
            elif key == "include":
                for included in _includes(value, self.home, user):
                    self.file(included, depth + 1, user=user)
            else:
                _apply(self.req, key, value, "", f" (in {path})")


def _lines(text: str) -> Iterator[tuple[str, str]]:
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        option = parse_option(line)
        if option is not None:
            yield option


def _words(value: str) -> list[str]:
    try:
        return shlex.split(value, comments=True)
    except ValueError:
        return value.split()


def _host_matches(value: str, host: str | None) -> bool:
    """ssh's pattern list: some positive pattern matches and no negated one does."""
    if host is None:
        return True  # no destination known: count the block (conservative)
    hit = False
    for pattern in _words(value):
        negated = pattern.startswith("!")
        if fnmatch.fnmatchcase(host, pattern.lstrip("!").lower()):
            if negated:
                return False
            hit = True
    return hit


def _match_matches(value: str, host: str | None) -> bool:
    """``Match`` criteria: only host and originalhost can be checked from outside."""
    words = _words(value)
    i = 0
    while i < len(words):
        criterion = words[i].lower()
        negated = criterion.startswith("!")
        criterion = criterion.lstrip("!")
        if criterion in ("all", "canonical", "final"):
            i += 1
            continue
        argument = words[i + 1] if i + 1 < len(words) else ""
        i += 2
        if criterion in ("host", "originalhost") and host is not None:
            matched = _host_matches(argument.replace(",", " "), host)
            if matched == negated:
                return False
    return True


def _includes(value: str, home: str | None, user: bool) -> list[str]:
    base = os.path.join(home, ".ssh") if user and home else "/etc/ssh"
    out: list[str] = []
    for word in _words(value):
        path = os.path.join(home, word[2:]) if word.startswith("~/") and home else word
        out.append(path if os.path.isabs(path) else os.path.join(base, path))
    return out


def in_process(pid: int) -> tuple[Reader, str | None]:
    """A reader of files as process ``pid`` sees them (its root and cwd), and its HOME."""

    def read(path: str) -> str | None:
        # The magic links resolve inside the process's own mount namespace.
        base = f"/proc/{pid}/root" if os.path.isabs(path) else f"/proc/{pid}/cwd/"
        full = base + os.path.normpath(path)
        return _read_glob(full) if any(ch in path for ch in "*?[") else _read_capped(full)

    return read, _home(pid)


def _read_glob(pattern: str) -> str | None:
    texts = [_read_capped(match) or "" for match in sorted(glob.glob(pattern))[:MAX_FILES]]
    return "\n".join(texts) if texts else None


def _read_capped(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return handle.read(FILE_CAP).decode(errors="replace")
    except OSError:
        return None


def _home(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environ = handle.read(TOTAL_CAP)
    except OSError:
        return None
    for entry in environ.split(b"\0"):
        if entry.startswith(b"HOME="):
            return entry[5:].decode(errors="replace") or None
    return None


def request_of(pid: int, argv: list[str]) -> SshRequest:
    """Everything the ssh process ``pid`` (running ``argv``) asked for, config files included."""
    req = command_line(argv[1:])
    read, home = in_process(pid)
    return finish(with_config(req, read, home))
