"""GPU use per process, behind a small provider interface (NVML when present).

:class:`NvmlProvider` uses NVIDIA's ``nvidia-ml-py`` (module ``pynvml``), an optional dependency:
``nvmlDeviceGetComputeRunningProcesses`` names the processes holding a CUDA context and their
memory, ``nvmlDeviceGetProcessUtilization`` gives each one's SM share over the last window. NVML
raises "Not Found" for the latter when the window has no samples: that means idle, not an error.
Tests and machines without a GPU use any object with the same two methods.
"""

from __future__ import annotations

import contextlib
import importlib
import time
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class GpuUse:
    pid: int
    memory_bytes: int
    sm_percent: float  # 0..100 over the provider's last window; 0 when idle
    device: int = 0


class GpuProvider(Protocol):
    name: str

    def sample(self) -> dict[int, GpuUse]:
        """Every process using a GPU now, by host pid."""
        ...

    def close(self) -> None: ...


class NvmlProvider:
    name = "nvml"

    def __init__(self, nvml: Any) -> None:
        self._nvml = nvml
        nvml.nvmlInit()
        self._handles = [
            nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())
        ]
        self._last_seen = [0] * len(self._handles)

    @property
    def devices(self) -> int:
        return len(self._handles)

    def sample(self) -> dict[int, GpuUse]:
        out: dict[int, GpuUse] = {}
        for index, handle in enumerate(self._handles):
            memory = {
                proc.pid: int(proc.usedGpuMemory or 0)
                for proc in self._nvml.nvmlDeviceGetComputeRunningProcesses(handle)
            }
            busy = self._utilization(index, handle)
            for pid in memory.keys() | busy.keys():
                out[pid] = GpuUse(pid, memory.get(pid, 0), busy.get(pid, 0.0), index)
        return out

    def _utilization(self, index: int, handle: Any) -> dict[int, float]:
        try:
            samples = self._nvml.nvmlDeviceGetProcessUtilization(handle, self._last_seen[index])
        except self._nvml.NVMLError_NotFound:
            return {}  # no samples in the window: every process was idle
        busy: dict[int, float] = {}
        for entry in samples:
            busy[entry.pid] = max(busy.get(entry.pid, 0.0), float(entry.smUtil))
            self._last_seen[index] = max(self._last_seen[index], int(entry.timeStamp))
        if not samples:
            self._last_seen[index] = int(time.time() * 1e6) - 1_000_000
        return busy

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._nvml.nvmlShutdown()


def open_gpu_provider() -> tuple[NvmlProvider | None, str]:
    """NVML when importable and a GPU is present; else ``None`` and why not."""
    try:
        nvml = importlib.import_module("pynvml")
    except ImportError:
        return None, "nvidia-ml-py is not installed (pip install 'corral[gpu]')"
    try:
        provider = NvmlProvider(nvml)
    except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
        return None, f"NVML is not usable here: {exc}"
    if not provider.devices:
        provider.close()
        return None, "NVML sees no GPU"
    return provider, f"NVML, {provider.devices} GPU(s)"
