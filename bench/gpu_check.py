"""GPU check (root, NVIDIA GPU): a miner-like GPU loop under the supervisor, attributed and killed.

    sudo python bench/gpu_check.py            # needs: corral, psutil, nvidia-ml-py; no network

The worker runs inside the fence and spins a hashing-like CUDA kernel through the driver API
(``libcuda`` via ctypes, with a PTX kernel written below: no CUDA toolkit, no PyTorch). Two
scenarios, each printed as JSON and appended to bench/RESULTS-supervisor.md:

- ``forbidden``: the policy allows no GPU; the GPU detector (NVML process list) must attribute
  the worker's pid and kill the agent; target: <= 1 s from the CUDA context to the kill.
- ``miner``: GPU allowed, the worker also holds a stratum connection to a pool in the agent's
  network; the miner profile (sustained SM saturation + held connection) must kill it.

For each: when NVML first listed the pid, first saw SM >= 90 %, the kill, and how long the pid
stayed in NVML's list after the kill.
"""

from __future__ import annotations

import ctypes
import json
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from corral import Guard
from corral.supervision.cgroups import Limits
from corral.supervision.config import DetectorSpec, LadderSpec, LimitsSpec, SupervisionSpec
from corral.supervision.fence import FenceOptions
from corral.supervision.gpu import open_gpu_provider
from corral.supervision.supervisor import Supervisor

try:
    import pynvml
except ImportError:  # the worker inside the fence does not need it; main() says so
    pynvml = None

PTX = rb"""
.version 6.0
.target sm_50
.address_size 64
.visible .entry spin(.param .u64 out, .param .u32 iters)
{
  .reg .pred %p;
  .reg .b32 %r<5>;
  .reg .b64 %rd<3>;
  ld.param.u64 %rd1, [out];
  ld.param.u32 %r1, [iters];
  mov.u32 %r2, 0;
  mov.u32 %r3, 12345;
LOOP:
  mad.lo.u32 %r3, %r3, 1664525, 1013904223;
  add.u32 %r2, %r2, 1;
  setp.lt.u32 %p, %r2, %r1;
  @%p bra LOOP;
  cvta.to.global.u64 %rd2, %rd1;
  st.global.u32 [%rd2], %r3;
  ret;
}
"""


def worker(workspace: Path, pool_port: int) -> int:
    """Inside the fence: CUDA context, then launch the spin kernel forever."""
    cuda = ctypes.CDLL("libcuda.so.1")

    def check(result: int, what: str) -> None:
        if result != 0:
            raise SystemExit(f"{what} failed: CUDA error {result}")

    check(cuda.cuInit(0), "cuInit")
    device, context, module, kernel = (
        ctypes.c_int(),
        ctypes.c_void_p(),
        ctypes.c_void_p(),
        ctypes.c_void_p(),
    )
    check(cuda.cuDeviceGet(ctypes.byref(device), 0), "cuDeviceGet")
    check(cuda.cuCtxCreate_v2(ctypes.byref(context), 0, device), "cuCtxCreate")
    (workspace / "context").write_text(str(time.time()))
    if pool_port:
        sock = socket.create_connection(("127.0.0.1", pool_port))
        sock.sendall(b'{"id": 1, "method": "mining.subscribe", "params": []}\n')
    check(cuda.cuModuleLoadData(ctypes.byref(module), ctypes.c_char_p(PTX + b"\0")), "load")
    check(cuda.cuModuleGetFunction(ctypes.byref(kernel), module, b"spin"), "get function")
    out = ctypes.c_uint64()
    check(cuda.cuMemAlloc_v2(ctypes.byref(out), 4), "cuMemAlloc")
    iters = ctypes.c_uint32(1 << 22)
    params = (ctypes.c_void_p * 2)(
        ctypes.cast(ctypes.byref(out), ctypes.c_void_p),
        ctypes.cast(ctypes.byref(iters), ctypes.c_void_p),
    )
    while True:
        check(cuda.cuLaunchKernel(kernel, 1024, 1, 1, 256, 1, 1, 0, None, params, None), "launch")
        check(cuda.cuCtxSynchronize(), "sync")


def scenario(name: str) -> dict[str, object]:
    provider, why = open_gpu_provider()
    if provider is None:
        raise SystemExit(f"no GPU to check: {why}")
    forbidden = name == "forbidden"
    spec = SupervisionSpec(
        limits=LimitsSpec(gpu=not forbidden),
        detectors=DetectorSpec(interval_s=0.1, sustain_s=0.5, connection_age_s=0.2),
        ladder=LadderSpec(high=["kill"], critical=["kill"]),
    )
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        sup = Supervisor(
            Guard("permissive", workspace=[tmp]),
            spec,
            FenceOptions(
                workspace=(tmp,),
                limits=Limits(memory_bytes=8 << 30, pids=256),
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                cwd=tmp,
            ),
            gpu=provider,
        )
        port = 0 if forbidden else 3333
        sup.start([sys.executable, os.path.abspath(__file__), "--worker", tmp, str(port)])
        listener = sup.listen_in_agent_netns(3333) if port else None
        if listener is not None:
            threading.Thread(target=listener.accept, daemon=True).start()
        nvml_seen, busy_seen, gone = watch_nvml(pynvml, sup)
        outcome = sup.wait()
        context = float((ws / "context").read_text()) if (ws / "context").exists() else None
    kills = [e for e in outcome.events if e.step == "kill"]
    kill_wall = kills[0].wall if kills else None
    rel = lambda t: round(t - context, 3) if t and context else None  # noqa: E731
    return {
        "scenario": name,
        "killed_by": outcome.killed_by,
        "nvml_listed_after_s": rel(nvml_seen),
        "sm90_after_s": rel(busy_seen),
        "killed_after_s": rel(kill_wall),
        "left_nvml_after_kill_s": round(gone - kill_wall, 3) if gone and kill_wall else None,
    }


def watch_nvml(pynvml: object, sup: object) -> tuple[float | None, float | None, float | None]:
    """Poll NVML every 10 ms for the agent's pids until they leave NVML after the run ends."""
    nvml = pynvml
    handle = nvml.nvmlDeviceGetHandleByIndex(0)  # type: ignore[attr-defined]
    seen = busy = gone = None
    deadline = time.time() + 30
    while time.time() < deadline:
        pids = set(sup.agent_pids())  # type: ignore[attr-defined]
        listed = {p.pid for p in nvml.nvmlDeviceGetComputeRunningProcesses(handle)}  # type: ignore[attr-defined]
        mine = listed & pids
        if mine and seen is None:
            seen = time.time()
        if seen and busy is None:
            try:
                samples = nvml.nvmlDeviceGetProcessUtilization(handle, 0)  # type: ignore[attr-defined]
                if any(s.pid in pids and s.smUtil >= 90 for s in samples):
                    busy = time.time()
            except nvml.NVMLError_NotFound:  # type: ignore[attr-defined]
                pass
        if seen and sup._killed_by and not (listed & (pids | set(sup._own))):  # type: ignore[attr-defined]
            gone = time.time()
            break
        time.sleep(0.01)
    return seen, busy, gone


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        return worker(Path(sys.argv[2]), int(sys.argv[3]))
    if os.geteuid() != 0 or pynvml is None:
        print("bench/gpu_check.py needs root (the fence), an NVIDIA GPU and nvidia-ml-py")
        return 2
    results = [scenario("forbidden"), scenario("miner")]
    for result in results:
        print(json.dumps(result))
    out = Path(__file__).resolve().parent / "RESULTS-supervisor.md"
    with out.open("a") as handle:
        handle.write("\n## GPU check (bench/gpu_check.py)\n\n")
        handle.write(f"GPU: {gpu_name()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n")
        for result in results:
            handle.write(f"- `{json.dumps(result)}`\n")
    return 0


def gpu_name() -> str:
    pynvml.nvmlInit()
    name = pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(0))
    return name.decode() if isinstance(name, bytes) else str(name)


if __name__ == "__main__":
    sys.exit(main())
