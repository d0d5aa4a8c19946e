"""The agent's cgroup: detect the host's layout (v2, hybrid, v1), create, limit, freeze, kill.

Layouts, read from ``/proc/self/mountinfo`` (never assumed):

- ``v2``: one cgroup2 hierarchy at ``/sys/fs/cgroup`` with the cpu, memory and pids controllers;
  limits via ``cpu.max``/``memory.max``/``pids.max``, ``cgroup.freeze``, ``cgroup.kill``.
- ``hybrid``: v1 controller hierarchies plus a cgroup2 ``unified`` mount without them. The agent
  joins every hierarchy; limits come from v1, freezing and killing from v2 when it offers them.
- ``v1``: only v1 hierarchies; the freezer controller freezes, killing walks ``cgroup.procs``
  while frozen so that nothing forks away.

The agent's cgroup is created beneath the supervisor's own cgroup in each hierarchy, so that any
limit the host puts on the supervisor also bounds the agent.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Layout = Literal["v2", "hybrid", "v1", "none"]
V1_CONTROLLERS = ("cpu", "memory", "pids", "freezer")
V2_CONTROLLERS = ("cpu", "memory", "pids")
CPU_PERIOD_US = 100_000


class CgroupError(Exception):
    """A cgroup step failed; ``fix`` says what a person can do about it."""

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.fix = fix


@dataclass(frozen=True, slots=True)
class Mount:
    path: Path
    fstype: str  # "cgroup" (v1) or "cgroup2"
    controllers: frozenset[str]
    root: str  # the hierarchy path the mount shows at its top


@dataclass(frozen=True, slots=True)
class CgroupLayout:
    kind: Layout
    v1: dict[str, Mount] = field(default_factory=dict)  # controller -> mount
    v2: Mount | None = None

    def describe(self) -> str:
        parts = [f"layout {self.kind}"]
        if self.v2 is not None:
            parts.append(f"v2 at {self.v2.path} ({' '.join(sorted(self.v2.controllers)) or '-'})")
        if self.v1:
            parts.append("v1 " + " ".join(sorted(self.v1)))
        return "; ".join(parts)


def parse_mountinfo(text: str) -> list[Mount]:
    """The cgroup mounts in a ``/proc/self/mountinfo`` text."""
    mounts = []
    for line in text.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        options = set(tail[2].split(","))
        mounts.append(
            Mount(
                path=Path(_unescape(fields[4])),
                fstype=tail[0],
                controllers=frozenset(c for c in V1_CONTROLLERS if c in options),
                root=_unescape(fields[3]),
            )
        )
    return mounts


def _unescape(text: str) -> str:
    return text.replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")


def detect_layout(mountinfo: str | None = None, v2_controllers: str | None = None) -> CgroupLayout:
    """The host's layout; arguments let tests feed another host's files."""
    if mountinfo is None:
        mountinfo = Path("/proc/self/mountinfo").read_text()
    mounts = parse_mountinfo(mountinfo)
    v1: dict[str, Mount] = {}
    v2: Mount | None = None
    for mount in mounts:
        if mount.fstype == "cgroup2":
            if v2 is None:
                v2 = mount
        else:
            for controller in mount.controllers:
                v1.setdefault(controller, mount)
    if v2 is not None:
        if v2_controllers is None:
            try:
                v2_controllers = (v2.path / "cgroup.controllers").read_text()
            except OSError:
                v2_controllers = ""
        v2 = Mount(v2.path, v2.fstype, frozenset(v2_controllers.split()), v2.root)
    if v2 is not None and not v1:
        return CgroupLayout("v2", {}, v2)
    if v1 and v2 is not None:
        return CgroupLayout("hybrid", v1, v2)
    if v1:
        return CgroupLayout("v1", v1, None)
    return CgroupLayout("none", {}, None)


def own_cgroups(text: str | None = None) -> dict[str, str]:
    """``/proc/self/cgroup`` as {controller or "" for v2: path}."""
    if text is None:
        text = Path("/proc/self/cgroup").read_text()
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for controller in parts[1].split(",") if parts[1] else [""]:
            out[controller] = parts[2]
    return out


@dataclass(slots=True)
class Limits:
    cpu_cores: float | None = None
    memory_bytes: int | None = None
    pids: int | None = None


def _under(mount: Mount, own_path: str, name: str) -> Path:
    """The agent's directory: beneath our own cgroup in this hierarchy, seen through ``mount``."""
    relative = own_path
    if mount.root != "/" and relative.startswith(mount.root):
        relative = relative[len(mount.root) :]
    return mount.path / relative.lstrip("/") / name


class AgentCgroup:
    """One agent's cgroup(s). Create with :meth:`create`; always :meth:`destroy` afterwards."""

    def __init__(self, layout: CgroupLayout, name: str) -> None:
        self.layout = layout
        self.name = name
        self.v1_dirs: dict[str, Path] = {}
        self.v2_dir: Path | None = None
        self.limits = Limits()

    # -- setup --------------------------------------------------------------------------------

    @classmethod
    def create(cls, layout: CgroupLayout, name: str, limits: Limits) -> AgentCgroup:
        if layout.kind == "none":
            raise CgroupError(
                "no cgroup hierarchy is mounted",
                "mount cgroup2 on /sys/fs/cgroup (mount -t cgroup2 none /sys/fs/cgroup)",
            )
        group = cls(layout, name)
        own = own_cgroups()
        try:
            if layout.v2 is not None:
                group.v2_dir = group._make_v2(layout.v2, own.get("", "/"))
            made: dict[Path, Path] = {}  # mount path -> agent dir (controllers may share one)
            for controller in V1_CONTROLLERS:
                mount = layout.v1.get(controller)
                if mount is None:
                    continue
                if mount.path not in made:
                    made[mount.path] = _under(mount, own.get(controller, "/"), name)
                    _mkdir(made[mount.path])
                group.v1_dirs[controller] = made[mount.path]
            group.apply(limits)
        except BaseException:
            group.destroy()
            raise
        return group

    def _make_v2(self, mount: Mount, own_path: str) -> Path:
        parent = _under(mount, own_path, "")
        wanted = [c for c in V2_CONTROLLERS if c in mount.controllers]
        if self.layout.kind == "v2" and wanted and not _enable(parent, wanted):
            # Our own cgroup holds processes, so it cannot hand controllers to children (the
            # "no internal processes" rule); use a Corral-owned cgroup under the root instead.
            parent = mount.path / "corral"
            _mkdir(parent)
            if not _enable(mount.path, wanted) or not _enable(parent, wanted):
                raise CgroupError(
                    f"cannot enable the {' '.join(wanted)} controllers for {parent}",
                    "run as root on a host whose root cgroup delegates cpu, memory and pids",
                )
        directory = parent / self.name
        _mkdir(directory)
        return directory

    def procs_files(self) -> list[str]:
        """Every ``cgroup.procs`` the agent must join (written by the stage-2 launcher)."""
        files = [str(d / "cgroup.procs") for d in dict.fromkeys(self.v1_dirs.values())]
        if self.v2_dir is not None:
            files.append(str(self.v2_dir / "cgroup.procs"))
        return files

    def apply(self, limits: Limits) -> None:
        self.limits = limits
        self.set_cpu(limits.cpu_cores)
        if limits.memory_bytes is not None:
            self._write_limit("memory", "memory.max", "memory.limit_in_bytes", limits.memory_bytes)
        if limits.pids is not None:
            self._write_limit("pids", "pids.max", "pids.max", limits.pids)

    def set_cpu(self, cores: float | None) -> None:
        """CPU quota in cores (``None``: unlimited); the throttle step lowers it."""
        if cores is None:
            v2_value, v1_value = f"max {CPU_PERIOD_US}", "-1"
        else:
            quota = max(1000, int(cores * CPU_PERIOD_US))
            v2_value, v1_value = f"{quota} {CPU_PERIOD_US}", str(quota)
        if "cpu" in self.v1_dirs:
            _write(self.v1_dirs["cpu"] / "cpu.cfs_period_us", str(CPU_PERIOD_US))
            _write(self.v1_dirs["cpu"] / "cpu.cfs_quota_us", v1_value)
        elif self._v2_has("cpu"):
            assert self.v2_dir is not None
            _write(self.v2_dir / "cpu.max", v2_value)
        elif cores is not None:
            raise CgroupError("no cpu controller to set a CPU quota with")

    def _write_limit(self, controller: str, v2_file: str, v1_file: str, value: int) -> None:
        if controller in self.v1_dirs:
            _write(self.v1_dirs[controller] / v1_file, str(value))
        elif self._v2_has(controller):
            assert self.v2_dir is not None
            _write(self.v2_dir / v2_file, str(value))
        else:
            raise CgroupError(f"no {controller} controller to set {v2_file} with")

    def _v2_has(self, controller: str) -> bool:
        return (
            self.v2_dir is not None
            and self.layout.v2 is not None
            and controller in self.layout.v2.controllers
        )

    # -- reading ------------------------------------------------------------------------------

    def pids(self) -> list[int]:
        """Every process (thread-group id) in the agent's cgroup."""
        source = self._procs_dir()
        if source is None:
            return []
        try:
            text = (source / "cgroup.procs").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def _procs_dir(self) -> Path | None:
        if self.v2_dir is not None:
            return self.v2_dir
        return self.v1_dirs.get("pids") or next(iter(self.v1_dirs.values()), None)

    def pids_max_hits(self) -> int:
        """How often a fork failed on the pids limit (``pids.events`` ``max``)."""
        directory = self.v1_dirs.get("pids") or (self.v2_dir if self._v2_has("pids") else None)
        if directory is None:
            return 0
        try:
            for line in (directory / "pids.events").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "max":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def marker(self) -> str:
        """A string found in ``/proc/<pid>/cgroup`` of exactly the agent's processes."""
        return "/" + self.name

    # -- responses ----------------------------------------------------------------------------

    def freeze(self) -> None:
        self._set_frozen(True)

    def thaw(self) -> None:
        self._set_frozen(False)

    def _set_frozen(self, frozen: bool) -> None:
        if self.v2_dir is not None and (self.v2_dir / "cgroup.freeze").exists():
            _write(self.v2_dir / "cgroup.freeze", "1" if frozen else "0")
            return
        if "freezer" in self.v1_dirs:
            _write(self.v1_dirs["freezer"] / "freezer.state", "FROZEN" if frozen else "THAWED")
            return
        raise CgroupError("no freezer: neither cgroup.freeze (v2) nor the v1 freezer controller")

    def kill(self, timeout_s: float = 2.0) -> None:
        """SIGKILL every process in the cgroup and wait until it is empty."""
        if self.v2_dir is not None and (self.v2_dir / "cgroup.kill").exists():
            _write(self.v2_dir / "cgroup.kill", "1")
        else:
            self._kill_frozen()
        deadline = time.monotonic() + timeout_s
        while self.pids() and time.monotonic() < deadline:
            self._signal_all()
            time.sleep(0.005)

    def _kill_frozen(self) -> None:
        with contextlib.suppress(CgroupError):
            self.freeze()  # nothing forks while frozen, so one pass sees every process
        self._signal_all()
        with contextlib.suppress(CgroupError):
            self.thaw()  # SIGKILL is delivered on thaw

    def _signal_all(self) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def destroy(self) -> None:
        """Kill what is left and remove the directories (children first)."""
        with contextlib.suppress(CgroupError, OSError):
            if self.pids():
                self.kill()
        for directory in [self.v2_dir, *dict.fromkeys(self.v1_dirs.values())]:
            if directory is None:
                continue
            for _ in range(50):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY:
                        break
                    time.sleep(0.01)


def _enable(directory: Path, controllers: list[str]) -> bool:
    try:
        present = set((directory / "cgroup.subtree_control").read_text().split())
        missing = [c for c in controllers if c not in present]
        if missing:
            _write(directory / "cgroup.subtree_control", " ".join(f"+{c}" for c in missing))
    except (OSError, CgroupError):
        return False
    return True


def _mkdir(directory: Path) -> None:
    try:
        directory.mkdir(parents=False, exist_ok=True)
    except OSError as exc:
        raise CgroupError(
            f"cannot create the agent's cgroup {directory}: {exc.strerror}",
            "run corral as root, or from a cgroup delegated to you "
            "(systemd-run --user --scope -p Delegate=yes corral run ...)",
        ) from exc


def _write(path: Path, value: str) -> None:
    try:
        with open(path, "w") as handle:
            handle.write(value)
    except OSError as exc:
        raise CgroupError(f"cannot write {value!r} to {path}: {exc.strerror}") from exc
