"""Periodic samples of the agent: per-process CPU, memory, GPU, sockets and the process tree.

One :class:`Observer` per agent turns the pid list into :class:`Snapshot` objects and keeps the
recent history the detectors need (sustained saturation, connection age).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import psutil

from corral.supervision import procfs
from corral.supervision.gpu import GpuProvider, GpuUse
from corral.supervision.procfs import Connection

HISTORY_S = 10.0


DEMAND_FROM = 0.2  # cores: below this a process is not a saturation suspect


@dataclass(slots=True)
class Proc:
    pid: int
    ppid: int
    name: str
    argv: list[str]
    exe: str
    cpu: float  # cores used over the last interval (1.0 = one full core)
    rss: int
    sockets: dict[int, int] = field(default_factory=dict)  # fd -> inode
    gpu: GpuUse | None = None
    program: str = ""  # the known program its executable is, when argv[0] hides it ("ssh")
    # Cores it wanted: running plus waiting for a CPU (from the scheduler's own accounting).
    # On a busy machine a miner gets less than a core but still wants one, all the time.
    demand: float = 0.0

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "pid": self.pid,
            "ppid": self.ppid,
            "name": self.name,
            "argv": self.argv,
            "exe": self.exe,
            **({"program": self.program} if self.program else {}),
            "cpu_cores": round(self.cpu, 3),
            "rss_mb": round(self.rss / 2**20, 1),
        }
        if self.gpu is not None:
            out["gpu"] = {
                "sm_percent": self.gpu.sm_percent,
                "memory_mb": self.gpu.memory_bytes >> 20,
            }
        return out


@dataclass(slots=True)
class Snapshot:
    mono: float
    procs: dict[int, Proc]
    tcp: dict[int, Connection]  # inode -> connection, in the agent's network namespace
    first_seen: dict[int, float]  # inode -> when it was first seen
    pids_max_hits: int = 0
    forks_per_s: float = 0.0

    def children(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for proc in self.procs.values():
            out.setdefault(proc.ppid, []).append(proc.pid)
        return out

    def subtree(self, pid: int) -> list[int]:
        kids = self.children()
        out, queue = [], [pid]
        while queue:
            current = queue.pop()
            if current in self.procs and current not in out:
                out.append(current)
                queue += kids.get(current, [])
        return out

    def listening_ports(self) -> set[int]:
        return {c.local[1] for c in self.tcp.values() if c.state == "LISTEN"}

    def outbound(self, pid: int) -> list[Connection]:
        """Established connections ``pid`` opened (its local port is nobody's listener)."""
        listening = self.listening_ports()
        proc = self.procs.get(pid)
        if proc is None:
            return []
        conns = [self.tcp[i] for i in proc.sockets.values() if i in self.tcp]
        return [c for c in conns if c.state == "ESTABLISHED" and c.local[1] not in listening]

    def age(self, conn: Connection) -> float:
        return self.mono - self.first_seen.get(conn.inode, self.mono)

    def evidence_tree(self) -> list[dict[str, object]]:
        return [p.to_dict() for p in sorted(self.procs.values(), key=lambda p: p.pid)]

    def evidence_connections(self) -> list[dict[str, object]]:
        out = []
        for proc in self.procs.values():
            for fd, inode in proc.sockets.items():
                conn = self.tcp.get(inode)
                if conn is not None:
                    out.append(
                        {
                            "pid": proc.pid,
                            "fd": fd,
                            **conn.to_dict(),
                            "age_s": round(self.age(conn), 2),
                        }
                    )
        return out


class Observer:
    """Samples the agent's processes; keeps CPU history per pid for the detectors."""

    def __init__(self, gpu: GpuProvider | None = None) -> None:
        self.gpu = gpu
        self._psutil: dict[int, psutil.Process] = {}
        self._last_cpu: dict[int, tuple[float, float]] = {}  # pid -> (mono, cpu seconds)
        self._last_demand: dict[int, tuple[float, int]] = {}  # pid -> (mono, run+wait ns)
        self._static: dict[int, tuple[float, list[str], str]] = {}  # pid -> (start, argv, exe)
        self._first_seen: dict[int, float] = {}
        self.history: dict[int, deque[tuple[float, float, float]]] = {}  # pid -> (t, tree cpu, gpu)
        self._last_count: tuple[float, int] | None = None
        # pid -> the known program its executable was identified as at exec (the supervisor's
        # exec watcher fills it; renamed copies of ssh stay ssh to the detectors).
        self.programs: dict[int, str] = {}

    def forget_static(self, pid: int) -> None:
        """Re-read argv and exe (the process exec'd)."""
        self._static.pop(pid, None)

    def snapshot(self, pids: list[int], pids_max_hits: int = 0) -> Snapshot:
        now = time.monotonic()
        procs: dict[int, Proc] = {}
        for pid in pids:
            proc = self._sample(pid, now)
            if proc is not None:
                procs[pid] = proc
        for gone in self._psutil.keys() - procs.keys():
            self._drop(gone)
        if self.gpu is not None:
            for pid, use in self.gpu.sample().items():
                if pid in procs:
                    procs[pid].gpu = use
        holds_sockets = any(proc.sockets for proc in procs.values())
        tcp = procfs.tcp_table(next(iter(procs))) if holds_sockets else {}
        for inode in tcp:
            self._first_seen.setdefault(inode, now)
        for inode in self._first_seen.keys() - tcp.keys():
            del self._first_seen[inode]
        snap = Snapshot(now, procs, tcp, dict(self._first_seen), pids_max_hits)
        snap.forks_per_s = self._fork_rate(now, len(procs))
        self._record_history(snap)
        return snap

    def _sample(self, pid: int, now: float) -> Proc | None:
        try:
            handle = self._psutil.get(pid)
            if handle is None:
                handle = self._psutil[pid] = psutil.Process(pid)
            with handle.oneshot():
                times = handle.cpu_times()
                used = times.user + times.system
                rss = handle.memory_info().rss
                ppid = handle.ppid()
                name = handle.name()
                start = handle.create_time()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            self._drop(pid)
            return None
        previous = self._last_cpu.get(pid)
        self._last_cpu[pid] = (now, used)
        cpu = 0.0
        if previous is not None and now > previous[0]:
            cpu = max(0.0, (used - previous[1]) / (now - previous[0]))
        static = self._static.get(pid)
        if static is None or static[0] != start:
            static = (start, procfs.cmdline(pid) or [name], procfs.exe(pid) or "")
            self._static[pid] = static
        proc = Proc(pid, ppid, name, static[1], static[2], cpu, rss, procfs.socket_fds(pid))
        proc.program = self.programs.get(pid, "")
        proc.demand = self._demand(pid, now, cpu)
        return proc

    def _demand(self, pid: int, now: float, cpu: float) -> float:
        """Cores the process wanted over the last interval; only read for busy processes (it
        costs a read per thread), and never less than what it actually got."""
        if cpu < DEMAND_FROM:
            self._last_demand.pop(pid, None)
            return cpu
        total = procfs.sched_demand_ns(pid)
        if total is None:
            return cpu
        previous = self._last_demand.get(pid)
        self._last_demand[pid] = (now, total)
        if previous is None or now <= previous[0]:
            return cpu
        return max(cpu, (total - previous[1]) / 1e9 / (now - previous[0]))

    def _drop(self, pid: int) -> None:
        self._psutil.pop(pid, None)
        self._last_cpu.pop(pid, None)
        self._last_demand.pop(pid, None)
        self._static.pop(pid, None)
        self.history.pop(pid, None)
        self.programs.pop(pid, None)

    def _fork_rate(self, now: float, count: int) -> float:
        previous, self._last_count = self._last_count, (now, count)
        if previous is None or now <= previous[0]:
            return 0.0
        return max(0.0, (count - previous[1]) / (now - previous[0]))

    def _record_history(self, snap: Snapshot) -> None:
        kids = snap.children()
        totals: dict[int, tuple[float, float]] = {}

        def total(pid: int, depth: int = 0) -> tuple[float, float]:
            if pid in totals:
                return totals[pid]
            proc = snap.procs[pid]
            cpu, gpu = max(proc.cpu, proc.demand), proc.gpu.sm_percent if proc.gpu else 0.0
            if depth < 64:
                for child in kids.get(pid, []):
                    sub = total(child, depth + 1)
                    cpu, gpu = cpu + sub[0], max(gpu, sub[1])
            totals[pid] = (cpu, gpu)
            return totals[pid]

        for pid in snap.procs:
            cpu, gpu = total(pid)
            series = self.history.setdefault(pid, deque())
            series.append((snap.mono, cpu, gpu))
            while series and snap.mono - series[0][0] > HISTORY_S:
                series.popleft()

    def sustained(self, pid: int, now: float, window: float, cpu_at: float, gpu_at: float) -> str:
        """ "cpu" or "gpu" when the subtree of ``pid`` stayed saturated for ``window`` seconds."""
        series = self.history.get(pid)
        if not series or now - series[0][0] < window:
            return ""
        recent = [s for s in series if now - s[0] <= window]
        if len(recent) < 2:
            return ""
        if all(s[1] >= cpu_at for s in recent[1:]):
            return "cpu"
        if all(s[2] >= gpu_at for s in recent):
            return "gpu"
        return ""

    def samples(self, pid: int) -> list[dict[str, float]]:
        return [
            {"t": round(t, 3), "tree_cpu_cores_wanted": round(c, 3), "gpu_sm": g}
            for t, c, g in self.history.get(pid, ())
        ][-12:]
