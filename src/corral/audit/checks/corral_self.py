"""Could the agent read or change Corral itself: its policy, state, log and program files?

An agent that can edit the policy or the state directory (where the decision log lives) can turn
the fence off or rewrite its history; one that can edit Corral's code can do both silently.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import corral
from corral.audit.checks.base import Out, creatable, readable, writable
from corral.audit.config import AuditConfig
from corral.policy.loader import BUILTIN_POLICIES, builtin_path

_WALK_LIMIT = 500  # files looked at per directory tree: enough to find one writable file


def check_policy_access(cfg: AuditConfig, out: Out) -> None:
    path = cfg.policy_file or policy_file(cfg.policy)
    if not os.path.exists(path):
        out.could_not(f"policy {cfg.policy}", f"{path} does not exist")
        return
    if writable(path):
        out.add("CR-AUD-060", str(path), detail="the agent can edit the policy")
    elif writable(path.parent):
        out.add("CR-AUD-060", str(path.parent), detail="the agent can replace the policy file")
    elif readable(path):
        out.add("CR-AUD-061", str(path), detail="the agent can read the policy it runs under")


def policy_file(policy: str) -> Path:
    """Where the policy named on the command line lives (a built-in's file in the package)."""
    if policy in BUILTIN_POLICIES:
        return builtin_path(policy)
    return Path(policy).expanduser().resolve()


def check_state_access(cfg: AuditConfig, out: Out) -> None:
    places = list(dict.fromkeys([cfg.state_dir, *cfg.corral_paths]))
    for place in places:
        if not os.path.lexists(place):
            if place == cfg.state_dir and creatable(place):
                out.add(
                    "CR-AUD-065",
                    str(place),
                    detail="absent; the agent could create it first and own it",
                )
            continue
        if _report_writable(out, "CR-AUD-062", place, "Corral's state or decision log"):
            continue
        if readable(place) and not _empty_directory(place):
            out.add("CR-AUD-063", str(place), detail="the agent can read Corral's state")


def _empty_directory(path: Path) -> bool:
    """An empty directory the agent cannot change (checked before) holds no state to read: it is
    what a fence leaves in place of a hidden one (a read-only tmpfs or an empty bind)."""
    try:
        with os.scandir(path) as entries:
            return next(entries, None) is None
    except OSError:
        return False


def check_program_files(cfg: AuditConfig, out: Out) -> None:
    package = Path(corral.__file__).resolve().parent
    candidates = [package, Path(sys.executable).resolve()]
    script = shutil.which("corral", path=cfg.env.get("PATH", ""))
    if script:
        candidates.append(Path(script).resolve())
    for path in dict.fromkeys(candidates):
        _report_writable(out, "CR-AUD-064", path, "the code that enforces its policy")


def _report_writable(out: Out, kind_id: str, path: Path, what: str) -> bool:
    """Report ``path`` (and the first changeable thing under it) when the agent can change it."""
    changeable = first_writable(path)
    if changeable is None:
        return False
    evidence = [str(path), *([str(changeable)] if changeable != path else [])]
    out.add(kind_id, *evidence, detail=f"the agent can change {what}")
    return True


def first_writable(path: Path) -> Path | None:
    """``path`` or the first file or directory under it that the current user can change."""
    if writable(path):
        return path
    if not os.path.isdir(path):
        return None
    seen = 0
    for folder, dirs, files in os.walk(path, onerror=lambda _: None):
        for name in [*dirs, *files]:
            seen += 1
            candidate = Path(folder) / name
            if not os.path.islink(candidate) and writable(candidate):
                return candidate
            if seen >= _WALK_LIMIT:
                return None
    return None
