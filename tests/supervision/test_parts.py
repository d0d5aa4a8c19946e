"""The supervisor's parts on their own (no root needed): layouts, events, GPU, options."""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass

import click
import pytest

from corral.cli.run import parse_degraded
from corral.supervision.cgroups import detect_layout, own_cgroups
from corral.supervision.config import SupervisionSpec
from corral.supervision.detectors import detect_miner
from corral.supervision.execwatch import PROC_EVENT_EXEC, PROC_EVENT_FORK, parse_events
from corral.supervision.fence import FenceError, Missing
from corral.supervision.gpu import GpuUse, NvmlProvider
from corral.supervision.observe import Observer

HYBRID = """\
25 24 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
27 25 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
28 25 0:25 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
29 25 0:26 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
30 25 0:27 / /sys/fs/cgroup/freezer rw,nosuid - cgroup cgroup rw,freezer
"""
PURE_V2 = "30 24 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
V1_ONLY = "\n".join(line for line in HYBRID.splitlines() if "cgroup2" not in line)


def test_layouts_are_detected_not_assumed() -> None:
    hybrid = detect_layout(HYBRID, v2_controllers="")
    assert hybrid.kind == "hybrid"
    assert str(hybrid.v1["cpu"].path) == "/sys/fs/cgroup/cpu,cpuacct"
    assert hybrid.v2 is not None and str(hybrid.v2.path) == "/sys/fs/cgroup/unified"
    pure = detect_layout(PURE_V2, v2_controllers="cpuset cpu io memory pids")
    assert pure.kind == "v2" and {"cpu", "memory", "pids"} <= pure.v2.controllers  # type: ignore[union-attr]
    assert detect_layout(V1_ONLY).kind == "v1"
    assert detect_layout("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n").kind == "none"


def test_own_cgroup_lines() -> None:
    parsed = own_cgroups("4:memory:/a/b\n1:cpu,cpuacct:/\n0::/user.slice\n")
    assert parsed == {"memory": "/a/b", "cpu": "/", "cpuacct": "/", "": "/user.slice"}


def _message(what: int, body: bytes) -> bytes:
    event = struct.pack("=IIQ", what, 0, 123) + body
    cn = struct.pack("=IIIIHH", 1, 1, 0, 0, len(event), 0)
    return struct.pack("=IHHII", 16 + len(cn) + len(event), 3, 0, 0, 0) + cn + event


def test_proc_connector_messages_are_parsed() -> None:
    data = _message(PROC_EVENT_EXEC, struct.pack("=II", 42, 42))
    data += _message(PROC_EVENT_FORK, struct.pack("=IIII", 1, 1, 77, 77))
    data += _message(PROC_EVENT_FORK, struct.pack("=IIII", 1, 1, 78, 77))  # a thread: ignored
    events = parse_events(data)
    assert [(e.kind, e.pid, e.parent) for e in events] == [("exec", 42, 0), ("fork", 77, 1)]
    assert events[0].mono_ns == 123


class _NotFound(Exception):
    pass


@dataclass
class _Proc:
    pid: int
    usedGpuMemory: int


class FakeNvml:
    """The slice of pynvml that NvmlProvider uses; ``busy`` None means NVML's "Not Found"."""

    NVMLError_NotFound = _NotFound

    def __init__(self, pid: int, busy: float | None) -> None:
        self.pid, self.busy = pid, busy

    def nvmlInit(self) -> None: ...
    def nvmlShutdown(self) -> None: ...
    def nvmlDeviceGetCount(self) -> int:
        return 1

    def nvmlDeviceGetHandleByIndex(self, index: int) -> object:
        return object()

    def nvmlDeviceGetComputeRunningProcesses(self, handle: object) -> list[_Proc]:
        return [_Proc(self.pid, 512 << 20)]

    def nvmlDeviceGetProcessUtilization(self, handle: object, since: int) -> list[object]:
        if self.busy is None:
            raise _NotFound()

        @dataclass
        class Sample:
            pid: int
            smUtil: int
            timeStamp: int

        return [Sample(self.pid, int(self.busy), int(time.time() * 1e6))]


def test_nvml_not_found_means_idle() -> None:
    provider = NvmlProvider(FakeNvml(4242, None))
    assert provider.sample() == {4242: GpuUse(4242, 512 << 20, 0.0, 0)}
    busy = NvmlProvider(FakeNvml(4242, 99))
    assert busy.sample()[4242].sm_percent == 99.0


def test_gpu_saturation_with_a_held_connection_is_a_miner() -> None:
    """A GPU-bound process (per a fake NVML) that holds a connection: the miner profile."""
    server = socket.create_server(("127.0.0.1", 0))
    code = (
        "import socket, sys, time; s = socket.create_connection(('127.0.0.1', int(sys.argv[1])));"
        " time.sleep(30)"
    )
    child = subprocess.Popen([sys.executable, "-c", code, str(server.getsockname()[1])])
    try:
        conn, _ = server.accept()
        observer = Observer(NvmlProvider(FakeNvml(child.pid, 99)))
        spec = SupervisionSpec()
        findings = []
        for _ in range(8):
            snap = observer.snapshot([child.pid])
            findings = detect_miner(snap, observer, spec)
            if findings:
                break
            time.sleep(0.2)
        assert findings and findings[0].rule.id == "CR-SUP-001"
        assert findings[0].details["resource"] == "gpu"
        idle = Observer(NvmlProvider(FakeNvml(child.pid, None)))
        for _ in range(7):
            snap = idle.snapshot([child.pid])
            time.sleep(0.2)
        assert detect_miner(snap, idle, spec) == []
        conn.close()
    finally:
        child.kill()
        child.wait()
        server.close()


def test_degraded_parts_are_checked() -> None:
    assert parse_degraded(("cgroup,net",)) == {"cgroup", "net"}
    assert parse_degraded(("all",)) >= {"cgroup", "pid", "mount", "net", "seccomp"}
    with pytest.raises(click.BadParameter, match="unknown fence part"):
        parse_degraded(("firewall",))


def test_refusal_names_what_is_missing_and_the_fix() -> None:
    error = FenceError([Missing("seccomp", "libseccomp is not installed", "apt-get install x")])
    text = error.describe()
    assert "refusing to start" in text and "apt-get install x" in text
    assert "--degraded=seccomp" in text
