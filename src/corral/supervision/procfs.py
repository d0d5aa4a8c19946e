"""What ``/proc`` says about the agent's processes: command lines, executables, fds, sockets.

Sockets are read from the agent's own network namespace (``/proc/<pid>/net/tcp*`` of any of its
processes), because psutil reads the supervisor's namespace and would see none of them; each
socket inode is matched to the process holding it through ``/proc/<pid>/fd``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import struct
from dataclasses import dataclass

TCP_STATES = {
    "01": "ESTABLISHED",
    "02": "SYN_SENT",
    "03": "SYN_RECV",
    "04": "FIN_WAIT1",
    "05": "FIN_WAIT2",
    "06": "TIME_WAIT",
    "07": "CLOSE",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
}


@dataclass(frozen=True, slots=True)
class Connection:
    inode: int
    local: tuple[str, int]
    remote: tuple[str, int]
    state: str
    family: str  # "tcp" or "tcp6"

    def to_dict(self) -> dict[str, object]:
        return {
            "local": f"{self.local[0]}:{self.local[1]}",
            "remote": f"{self.remote[0]}:{self.remote[1]}",
            "state": self.state,
        }


def read_text(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return handle.read().decode(errors="replace")
    except OSError:
        return None


def cmdline(pid: int) -> list[str] | None:
    """The argv of ``pid``; ``None`` when it is gone (or a kernel thread)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    if not raw:
        return None
    return [part.decode(errors="replace") for part in raw.rstrip(b"\0").split(b"\0")]


def readlink(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


def sched_demand_ns(pid: int) -> int | None:
    """Nanoseconds the process's threads ran plus waited for a CPU (``/proc/PID/task/*/
    schedstat``), or None when the kernel does not say."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for task in tasks[:_MAX_TASKS]:
        text = read_text(f"/proc/{pid}/task/{task}/schedstat")
        fields = text.split() if text else []
        if len(fields) < 2 or not (fields[0].isdigit() and fields[1].isdigit()):
            continue
        total += int(fields[0]) + int(fields[1])
    return total or None


_MAX_TASKS = 256  # threads read per process and sample: a miner has a few dozen at most


def exe(pid: int) -> str | None:
    return readlink(f"/proc/{pid}/exe")


def comm(pid: int) -> str | None:
    text = read_text(f"/proc/{pid}/comm")
    return text.strip() if text is not None else None


def ppid(pid: int) -> int | None:
    text = read_text(f"/proc/{pid}/stat")
    if text is None:
        return None
    # comm may hold spaces and parentheses: the fields after the last ')' are fixed.
    fields = text[text.rfind(")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 else None


def in_cgroup(pid: int, marker: str) -> bool:
    text = read_text(f"/proc/{pid}/cgroup")
    return text is not None and marker in text


def socket_fds(pid: int) -> dict[int, int]:
    """fd number -> socket inode, for every socket ``pid`` holds."""
    out: dict[int, int] = {}
    base = f"/proc/{pid}/fd"
    try:
        names = os.listdir(base)
    except OSError:
        return out
    for name in names:
        target = readlink(f"{base}/{name}")
        if target is not None and target.startswith("socket:["):
            out[int(name)] = int(target[8:-1])
    return out


def tcp_table(pid: int) -> dict[int, Connection]:
    """inode -> connection, for every TCP socket in the network namespace of ``pid``."""
    table: dict[int, Connection] = {}
    for family in ("tcp", "tcp6"):
        text = read_text(f"/proc/{pid}/net/{family}")
        if text is None:
            continue
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 10:
                continue
            with contextlib.suppress(ValueError):
                inode = int(fields[9])
                if inode:
                    table[inode] = Connection(
                        inode=inode,
                        local=_address(fields[1]),
                        remote=_address(fields[2]),
                        state=TCP_STATES.get(fields[3], fields[3]),
                        family=family,
                    )
    return table


def _address(text: str) -> tuple[str, int]:
    host_hex, port_hex = text.split(":")
    raw = bytes.fromhex(host_hex)
    if len(raw) == 4:
        host = socket.inet_ntop(socket.AF_INET, struct.pack("<I", int(host_hex, 16)))
    else:
        words = struct.unpack("<4I", raw)
        host = socket.inet_ntop(socket.AF_INET6, struct.pack(">4I", *words))
        mapped = ipaddress.IPv6Address(host).ipv4_mapped
        if mapped is not None:
            host = str(mapped)
    return host, int(port_hex, 16)


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (all its threads' children)."""
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        text = read_text(f"/proc/{pid}/task/{tid}/children")
        if text:
            out += [int(p) for p in text.split()]
    return out


def descendants(pid: int) -> list[int]:
    seen: list[int] = []
    queue = [pid]
    while queue:
        current = queue.pop()
        for child in children(current):
            if child not in seen:
                seen.append(child)
                queue.append(child)
    return seen
