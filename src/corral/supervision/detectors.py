"""Behaviour detectors: what a process tree *does*, whatever its command line says.

Each detector reads one :class:`~corral.supervision.observe.Snapshot` (plus the observer's
history) and returns :class:`Finding` objects. Findings carry a stable key (same behaviour, same
key) so that the response ladder can escalate while a behaviour persists. The registry is an
explicit dict.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from corral.model.decisions import RuleRef, Severity
from corral.supervision.config import SupervisionSpec
from corral.supervision.observe import Observer, Proc, Snapshot
from corral.supervision.sshconf import SshRequest, request_of

SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox", "fish", "tcsh"})
INTERPRETERS = frozenset({"python", "perl", "ruby", "php", "node", "lua", "awk", "nc", "ncat"})
SCRATCH_DIRS = ("/tmp/", "/var/tmp/", "/dev/shm/")


@dataclass(frozen=True, slots=True)
class Finding:
    rule: RuleRef
    severity: Severity
    key: str
    pids: tuple[int, ...]
    reason: str
    details: dict[str, object] = field(default_factory=dict)


RULES: dict[str, RuleRef] = {
    "miner": RuleRef(
        "CR-SUP-001", "Mining profile: sustained saturation with a held connection", ("T1496",)
    ),
    "tunnel": RuleRef(
        "CR-SUP-002", "Tunnel profile: ssh holding a remote, dynamic or tun forward", ("T1572",)
    ),
    "relay": RuleRef(
        "CR-SUP-003", "Relay profile: a listener relaying to an outbound connection", ("T1090",)
    ),
    "reverse_shell": RuleRef(
        "CR-SUP-004", "Reverse shell: interpreter wired to a TCP socket", ("T1059", "T1071")
    ),
    "fork_bomb": RuleRef(
        "CR-SUP-005", "Fork bomb: process limit hit or runaway forking", ("T1499",)
    ),
    "deleted_exe": RuleRef(
        "CR-SUP-006", "Hidden executable: the binary deleted itself", ("T1070.004",)
    ),
    "memfd_exe": RuleRef("CR-SUP-007", "Hidden executable: run from memory (memfd)", ("T1620",)),
    "scratch_exe": RuleRef("CR-SUP-008", "Executable run from a scratch directory", ("T1036",)),
    "gpu_forbidden": RuleRef("CR-SUP-009", "GPU used although the policy allows none", ("T1496",)),
}

Detector = Callable[[Snapshot, Observer, SupervisionSpec], list[Finding]]


def _base(proc: Proc) -> str:
    """The program's name: what its executable was identified as, else argv[0]'s basename."""
    if proc.program:
        return proc.program
    first = proc.argv[0] if proc.argv else proc.name
    name = first if first.startswith("[") else os.path.basename(first)
    return name.rstrip("0123456789.") or name


def _outbound_of(snap: Snapshot, pids: list[int]) -> list[tuple[int, object]]:
    return [(pid, conn) for pid in pids for conn in snap.outbound(pid)]


def detect_miner(snap: Snapshot, observer: Observer, spec: SupervisionSpec) -> list[Finding]:
    d, limits = spec.detectors, spec.limits
    cores = min(1.0, limits.cpu_cores) if limits.cpu_cores else 1.0
    cpu_at, gpu_at = d.saturation * cores, d.saturation * 100
    hits: list[Finding] = []
    for pid in snap.procs:
        kind = observer.sustained(pid, snap.mono, d.sustain_s, cpu_at, gpu_at)
        if not kind:
            continue
        tree = snap.subtree(pid)
        conns = [
            (holder, conn)
            for holder in tree
            for conn in snap.outbound(holder)
            if snap.age(conn) >= d.connection_age_s or conn.remote[1] in d.stratum_ports
        ]
        if not conns:
            continue
        # Report the smallest tree that both saturates and holds the connection.
        if any(
            child in snap.procs and _still(observer, snap, child, d.sustain_s, (cpu_at, gpu_at))
            for child in tree[1:]
        ):
            continue
        holder, conn = conns[0]
        stratum = conn.remote[1] in d.stratum_ports
        hits.append(
            Finding(
                RULES["miner"],
                Severity.critical,
                f"miner:{pid}",
                tuple(tree),
                f"process tree {pid} ({_base(snap.procs[pid])}) kept {kind.upper()} saturated for "
                f"{d.sustain_s:g}s while pid {holder} held a connection to "
                f"{conn.remote[0]}:{conn.remote[1]}" + (" (a stratum port)" if stratum else ""),
                {"resource": kind, "samples": observer.samples(pid), "stratum_port": stratum},
            )
        )
    return hits


def _still(
    observer: Observer, snap: Snapshot, pid: int, sustain: float, at: tuple[float, float]
) -> bool:
    if not observer.sustained(pid, snap.mono, sustain, at[0], at[1]):
        return False
    return any(snap.outbound(p) for p in snap.subtree(pid))


class TunnelDetector:
    """ssh holding a live connection with a remote or dynamic forward or a tun device, asked for
    on its command line, in ``-o`` options or in its config files (read once per process)."""

    def __init__(self) -> None:
        self._requests: dict[tuple[int, tuple[str, ...]], SshRequest] = {}

    def __call__(self, snap: Snapshot, observer: Observer, spec: SupervisionSpec) -> list[Finding]:
        hits = []
        for proc in snap.procs.values():
            if _base(proc) != "ssh" or not snap.outbound(proc.pid):
                continue
            tunnels = self._request(proc).tunnels
            if tunnels:
                conn = snap.outbound(proc.pid)[0]
                hits.append(
                    Finding(
                        RULES["tunnel"],
                        Severity.critical,
                        f"tunnel:{proc.pid}",
                        (proc.pid,),
                        f"ssh (pid {proc.pid}) holds a connection to "
                        f"{conn.remote[0]}:{conn.remote[1]} with {'; '.join(tunnels)[:300]}",
                        {"tunnels": tunnels},
                    )
                )
        alive = {(p.pid, tuple(p.argv)) for p in snap.procs.values()}
        for gone in self._requests.keys() - alive:
            del self._requests[gone]
        return hits

    def _request(self, proc: Proc) -> SshRequest:
        key = (proc.pid, tuple(proc.argv))
        found = self._requests.get(key)
        if found is None:
            found = self._requests[key] = request_of(proc.pid, proc.argv)
        return found


def detect_relay(snap: Snapshot, observer: Observer, spec: SupervisionSpec) -> list[Finding]:
    hits = []
    for proc in snap.procs.values():
        listens = [
            snap.tcp[i]
            for i in proc.sockets.values()
            if i in snap.tcp and snap.tcp[i].state == "LISTEN"
        ]
        outbound = [
            c for c in snap.outbound(proc.pid) if snap.age(c) >= spec.detectors.connection_age_s
        ]
        if listens and outbound and _base(proc) != "ssh":
            hits.append(
                Finding(
                    RULES["relay"],
                    Severity.medium,
                    f"relay:{proc.pid}",
                    (proc.pid,),
                    f"pid {proc.pid} ({_base(proc)}) listens on port {listens[0].local[1]} and "
                    f"holds a connection to {outbound[0].remote[0]}:{outbound[0].remote[1]}",
                )
            )
    return hits


def detect_reverse_shell(
    snap: Snapshot, observer: Observer, spec: SupervisionSpec
) -> list[Finding]:
    hits = []
    for proc in snap.procs.values():
        base = _base(proc)
        if base not in SHELLS and base not in INTERPRETERS:
            continue
        wired = {
            fd: snap.tcp[inode]
            for fd, inode in proc.sockets.items()
            if fd in (0, 1, 2) and inode in snap.tcp and snap.tcp[inode].state == "ESTABLISHED"
        }
        if 0 in wired or 1 in wired:
            conn = wired.get(0) or wired[1]
            hits.append(
                Finding(
                    RULES["reverse_shell"],
                    Severity.critical,
                    f"revshell:{proc.pid}",
                    (proc.pid,),
                    f"{base} (pid {proc.pid}) has its "
                    f"{'stdin' if 0 in wired else 'stdout'} on a TCP connection to "
                    f"{conn.remote[0]}:{conn.remote[1]}",
                    {"fds": {str(fd): c.to_dict() for fd, c in wired.items()}},
                )
            )
    return hits


class ForkBomb:
    """Stateful: compares the pids limit's hit counter with the previous snapshot."""

    def __init__(self) -> None:
        self._hits = 0

    def __call__(self, snap: Snapshot, observer: Observer, spec: SupervisionSpec) -> list[Finding]:
        grew = snap.pids_max_hits > self._hits
        self._hits = snap.pids_max_hits
        fast = snap.forks_per_s >= spec.detectors.fork_rate
        if not (grew or fast):
            return []
        why = (
            f"the process limit was hit {snap.pids_max_hits} times"
            if grew
            else f"the tree grew by {snap.forks_per_s:.0f} processes per second"
        )
        return [
            Finding(
                RULES["fork_bomb"],
                Severity.high,
                "forkbomb",
                tuple(sorted(snap.procs)),
                f"{why} ({len(snap.procs)} processes)",
                {"processes": len(snap.procs), "pids_max_hits": snap.pids_max_hits},
            )
        ]


def detect_hidden_exe(snap: Snapshot, observer: Observer, spec: SupervisionSpec) -> list[Finding]:
    hits = []
    for proc in snap.procs.values():
        exe = proc.exe
        if exe.endswith(" (deleted)") and not exe.startswith("/memfd:"):
            rule, severity, what = "deleted_exe", Severity.high, "runs a binary that was deleted"
        elif exe.startswith("/memfd:"):
            rule, severity, what = "memfd_exe", Severity.high, "runs a binary held only in memory"
        elif exe.startswith(SCRATCH_DIRS):
            rule, severity, what = (
                "scratch_exe",
                Severity.medium,
                "runs a binary from scratch space",
            )
        else:
            continue
        hits.append(
            Finding(
                RULES[rule],
                severity,
                f"{rule}:{proc.pid}",
                (proc.pid,),
                f"pid {proc.pid} ({_base(proc)}) {what}: {exe}",
                {"exe": exe},
            )
        )
    return hits


def detect_gpu_forbidden(
    snap: Snapshot, observer: Observer, spec: SupervisionSpec
) -> list[Finding]:
    if spec.limits.gpu and spec.limits.gpu_memory_mb is None:
        return []
    hits = []
    for proc in snap.procs.values():
        if proc.gpu is None:
            continue
        over = (
            spec.limits.gpu_memory_mb is not None
            and (proc.gpu.memory_bytes >> 20) > spec.limits.gpu_memory_mb
        )
        if not spec.limits.gpu or over:
            hits.append(
                Finding(
                    RULES["gpu_forbidden"],
                    Severity.high,
                    f"gpu:{proc.pid}",
                    (proc.pid,),
                    f"pid {proc.pid} ({_base(proc)}) uses GPU {proc.gpu.device}: "
                    f"{proc.gpu.memory_bytes >> 20} MiB, {proc.gpu.sm_percent:.0f}% SM",
                )
            )
    return hits


def default_detectors() -> dict[str, Detector]:
    return {
        "miner": detect_miner,
        "tunnel": TunnelDetector(),
        "relay": detect_relay,
        "reverse_shell": detect_reverse_shell,
        "fork_bomb": ForkBomb(),
        "hidden_exe": detect_hidden_exe,
        "gpu": detect_gpu_forbidden,
    }
