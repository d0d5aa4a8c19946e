"""cgroup limits on v1, v2 and hybrid layouts, read from a planted procfs and /sys/fs/cgroup."""

from __future__ import annotations

from pathlib import Path

from audit_support import Planted

from corral.audit import run_audit
from corral.audit.model import Report

GROUP = "system.slice/agent.service"


def _files(base: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = base / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _limits(planted: Planted, cgroup: str, files: dict[str, str]) -> tuple[set[str], Report]:
    proc = planted.base / "proc"
    _files(proc, {"self/cgroup": cgroup})
    _files(planted.root / "sys/fs/cgroup", files)
    report = run_audit(planted.config(proc=proc, only=("cgroup-limits",)))
    missing = {f.evidence[0].rsplit(" no ", 1)[1] for f in report.findings if f.id == "CR-AUD-052"}
    return missing, report


def test_v2_limits_found_on_an_ancestor(planted: Planted) -> None:
    missing, report = _limits(
        planted,
        f"0::/{GROUP}\n",
        {
            "cgroup.controllers": "cpu memory pids\n",
            f"{GROUP}/memory.max": "max\n",
            "system.slice/memory.max": "1073741824\n",  # set one level up: still a limit
            f"{GROUP}/cpu.max": "max 100000\n",
            f"{GROUP}/pids.max": "512\n",
        },
    )
    assert missing == {"cpu limit"}
    assert not report.errors


def test_v1_without_limits(planted: Planted) -> None:
    missing, _ = _limits(
        planted,
        f"4:memory:/{GROUP}\n3:cpu,cpuacct:/{GROUP}\n2:pids:/{GROUP}\n1:name=systemd:/x\n",
        {
            f"memory/{GROUP}/memory.limit_in_bytes": "9223372036854771712\n",
            f"cpu,cpuacct/{GROUP}/cpu.cfs_quota_us": "-1\n",
            f"pids/{GROUP}/pids.max": "max\n",
        },
    )
    assert missing == {"memory limit", "cpu limit", "pids limit"}


def test_hybrid_uses_v1_controllers_and_the_unified_tree_for_the_rest(planted: Planted) -> None:
    missing, _ = _limits(
        planted,
        f"5:memory:/{GROUP}\n0::/{GROUP}\n",
        {
            f"memory/{GROUP}/memory.limit_in_bytes": "536870912\n",
            f"unified/{GROUP}/pids.max": "max\n",
            f"unified/{GROUP}/cpu.max": "50000 100000\n",
        },
    )
    assert missing == {"pids limit"}


def test_unreadable_limit_is_reported(planted: Planted) -> None:
    _, report = _limits(
        planted,
        f"0::/{GROUP}\n",
        {"cgroup.controllers": "", f"{GROUP}/cpu.max": "max 100000\n", f"{GROUP}/pids.max": "1\n"},
    )
    (planted.root / f"sys/fs/cgroup/{GROUP}/memory.max").mkdir()  # a directory, not a file
    report = run_audit(planted.config(proc=planted.base / "proc", only=("cgroup-limits",)))
    assert any("memory.max" in f.title for f in report.errors), report.findings
