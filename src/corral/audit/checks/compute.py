"""Compute the agent could burn: GPUs it can see (and who else uses them) and the cgroup limits
that would stop a runaway process, on cgroup v1, v2 and hybrid hosts."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corral.audit.checks.base import Out, expand, read_head
from corral.audit.config import AuditConfig
from corral.audit.model import Severity

# ---------------------------------------------------------------------------------------------
# GPUs
# ---------------------------------------------------------------------------------------------

_DEVICE_PATTERNS = ("nvidia[0-9]*", "dri/renderD*", "kfd", "accel/accel*")


def check_gpus(cfg: AuditConfig, out: Out) -> None:
    if _nvml_report(out):
        return
    for pattern in _DEVICE_PATTERNS:
        for path in expand(cfg.sys_path("/dev"), pattern, out):
            if os.access(path, os.R_OK | os.W_OK):
                out.add("CR-AUD-050", str(path), detail="GPU device node open to the agent")


def _nvml_report(out: Out) -> bool:
    """Report GPUs through NVML when the bindings and driver are present; False otherwise."""
    try:
        nvml: Any = importlib.import_module("pynvml")
    except ImportError:
        return False
    try:
        nvml.nvmlInit()
    except Exception:  # NVMLError subclasses Exception; no driver means "look at /dev"
        return False
    try:
        for index in range(nvml.nvmlDeviceGetCount()):
            _nvml_device(nvml, index, out)
    except Exception as exc:  # a driver error on one call must not sink the audit
        out.could_not("GPUs through NVML", str(exc) or type(exc).__name__)
    finally:
        nvml.nvmlShutdown()
    return True


def _nvml_device(nvml: Any, index: int, out: Out) -> None:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    name = nvml.nvmlDeviceGetName(handle)
    name = name.decode() if isinstance(name, bytes) else str(name)
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    evidence = f"GPU {index}: {name}"
    out.add("CR-AUD-050", evidence, detail=f"{memory.total // 2**30} GiB visible through NVML")
    others = [
        p
        for p in [
            *nvml.nvmlDeviceGetComputeRunningProcesses(handle),
            *nvml.nvmlDeviceGetGraphicsRunningProcesses(handle),
        ]
        if p.pid != os.getpid()
    ]
    if others:
        used = sum((p.usedGpuMemory or 0) for p in others) // 2**20
        out.add(
            "CR-AUD-051",
            evidence,
            *(f"pid {p.pid}" for p in others[:5]),
            detail=f"{len(others)} other processes use {used} MiB on it",
        )


# ---------------------------------------------------------------------------------------------
# cgroup limits
# ---------------------------------------------------------------------------------------------

_UNLIMITED_V1 = 1 << 62  # memory.limit_in_bytes reads as a page-rounded LONG_MAX when unset


@dataclass(frozen=True, slots=True)
class Limit:
    resource: str
    v2_file: str
    v1_controller: str
    v1_file: str
    severity: Severity


LIMITS = (
    Limit("memory", "memory.max", "memory", "memory.limit_in_bytes", "medium"),
    Limit("cpu", "cpu.max", "cpu", "cpu.cfs_quota_us", "low"),
    Limit("pids", "pids.max", "pids", "pids.max", "medium"),
)


def cgroup_memberships(cfg: AuditConfig) -> tuple[str | None, dict[str, str]]:
    """(the unified (v2) path or None, {v1 controller: path}) from /proc/self/cgroup."""
    unified: str | None = None
    v1: dict[str, str] = {}
    for line in read_head(cfg.proc / "self" / "cgroup").text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            unified = path
        for controller in controllers.split(","):
            if controller and not controller.startswith("name="):
                v1[controller] = path
    return unified, v1


def check_cgroup_limits(cfg: AuditConfig, out: Out) -> None:
    unified, v1 = cgroup_memberships(cfg)
    base = cfg.sys_path("/sys/fs/cgroup")
    v2_root = base if os.path.exists(base / "cgroup.controllers") else base / "unified"
    for limit in LIMITS:
        if limit.v1_controller in v1:
            found = _v1_limit(base, limit, v1[limit.v1_controller], out)
            where = f"cgroup v1 {limit.v1_controller}:{v1[limit.v1_controller]}"
        elif unified is not None and os.path.isdir(v2_root):
            found = _v2_limit(v2_root, limit, unified, out)
            where = f"cgroup v2 {unified}"
        else:
            out.could_not(f"{limit.resource} limit", "no cgroup hierarchy holds this controller")
            continue
        if found is None:
            continue  # unreadable: reported by the helper
        if found == "":
            out.add(
                "CR-AUD-052",
                f"{where}: no {limit.resource} limit",
                severity=limit.severity,
                detail=f"nothing bounds the agent's {limit.resource} use "
                "(a limit above a cgroup namespace would not be visible)",
            )


def _ancestors(root: Path, cgroup: str) -> list[Path]:
    parts = [p for p in cgroup.split("/") if p]
    return [root.joinpath(*parts[:depth]) for depth in range(len(parts), -1, -1)]


def _v2_limit(root: Path, limit: Limit, cgroup: str, out: Out) -> str | None:
    """The tightest limit set on the cgroup or an ancestor; "" when none; None when unknown."""
    for folder in _ancestors(root, cgroup):
        path = folder / limit.v2_file
        try:
            value = read_head(path, 256).text.split()
        except FileNotFoundError:
            continue  # the root cgroup carries no limit files
        except OSError as exc:
            out.could_not(str(path), exc)
            return None
        if value and value[0] != "max":
            return " ".join(value)
    return ""


def _v1_limit(base: Path, limit: Limit, cgroup: str, out: Out) -> str | None:
    mount = _v1_mount(base, limit.v1_controller)
    if mount is None:
        out.could_not(f"{limit.resource} limit", f"no v1 mount for {limit.v1_controller}")
        return None
    for folder in _ancestors(mount, cgroup):
        path = folder / limit.v1_file
        try:
            text = read_head(path, 256).text.strip()
        except FileNotFoundError:
            continue
        except OSError as exc:
            out.could_not(str(path), exc)
            return None
        if _v1_is_limit(limit, text):
            return text
    return ""


def _v1_mount(base: Path, controller: str) -> Path | None:
    for name in (controller, f"{controller},cpuacct", f"cpuacct,{controller}"):
        if os.path.isdir(base / name):
            return base / name
    return None


def _v1_is_limit(limit: Limit, text: str) -> bool:
    if limit.v1_file == "pids.max":
        return text != "max"
    try:
        value = int(text)
    except ValueError:
        return False
    if limit.v1_file == "cpu.cfs_quota_us":
        return value > 0
    return value < _UNLIMITED_V1
