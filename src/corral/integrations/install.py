"""Register ``corral hook`` in a coding agent's settings, without disturbing what is there.

The snippet names the hook by an absolute path: a hook command that is not found exits 127, which
these agents treat as a non-blocking error and run the tool anyway.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOOK_TIMEOUT_S = 30


class InstallError(Exception):
    """Settings that cannot be merged safely (not JSON, not the expected shape)."""


@dataclass(frozen=True, slots=True)
class AgentSettings:
    """Where an agent keeps its hooks and what its events are called."""

    user_file: str
    project_file: str
    pre_event: str
    post_event: str
    matcher: str
    timeout_unit_ms: bool


AGENT_SETTINGS: dict[str, AgentSettings] = {
    "claude-code": AgentSettings(
        "~/.claude/settings.json", ".claude/settings.json", "PreToolUse", "PostToolUse", "*", False
    ),
    "codex": AgentSettings(
        "~/.codex/hooks.json", ".codex/hooks.json", "PreToolUse", "PostToolUse", "", False
    ),
    "gemini": AgentSettings(
        "~/.gemini/settings.json", ".gemini/settings.json", "BeforeTool", "AfterTool", ".*", True
    ),
}


def hook_command(agent: str, extra_args: list[str]) -> str:
    """``corral hook AGENT`` run as ``<this python> -m corral.cli.hook AGENT``.

    The module form is the same command without loading every other subcommand at start-up (it
    answers in tens of milliseconds when a server judges), and the absolute interpreter path
    does not depend on the agent's PATH.
    """
    args = " ".join(shlex.quote(a) for a in extra_args)
    base = f"{shlex.quote(sys.executable)} -m corral.cli.hook {agent}"
    return f"{base} {args}" if args else base


def snippet(agent: str, extra_args: list[str], *, on_failure_block: bool = False) -> dict[str, Any]:
    """The ``{"hooks": {...}}`` settings that send every tool call through Corral."""
    spec = AGENT_SETTINGS[agent]
    handler: dict[str, Any] = {
        "type": "command",
        "command": hook_command(agent, extra_args),
        "timeout": HOOK_TIMEOUT_S * 1000 if spec.timeout_unit_ms else HOOK_TIMEOUT_S,
    }
    if agent == "gemini":
        handler = {"name": "corral", **handler}
    if on_failure_block and agent == "claude-code":
        handler["onFailure"] = "block"

    def group() -> dict[str, Any]:
        out: dict[str, Any] = {"hooks": [dict(handler)]}
        if spec.matcher:
            out = {"matcher": spec.matcher, **out}
        return out

    return {"hooks": {spec.pre_event: [group()], spec.post_event: [group()]}}


def settings_path(agent: str, scope: str) -> Path:
    spec = AGENT_SETTINGS[agent]
    name = spec.user_file if scope == "user" else spec.project_file
    return Path(os.path.expanduser(name))


def merge(existing: dict[str, Any], addition: dict[str, Any], agent: str) -> bool:
    """Add the Corral hook groups to ``existing`` in place; False when they are already there.

    Other hooks are kept as they are; a Corral hook for this agent already registered for an
    event is left alone (running it twice would only cost time).
    """
    hooks = existing.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise InstallError("its 'hooks' entry is not an object")
    changed = False
    for event, groups in addition["hooks"].items():
        current = hooks.setdefault(event, [])
        if not isinstance(current, list):
            raise InstallError(f"its 'hooks.{event}' entry is not a list")
        if not any(_is_corral_group(g, agent) for g in current):
            current.extend(groups)
            changed = True
    return changed


def _is_corral_group(group: Any, agent: str) -> bool:
    if not isinstance(group, dict) or not isinstance(group.get("hooks"), list):
        return False
    markers = (f" hook {agent}", f"corral.cli.hook {agent}")
    return any(
        isinstance(h, dict)
        and any(m in str(h.get("command", "")) for m in markers)
        and "corral" in str(h)
        for h in group["hooks"]
    )


def install(path: Path, addition: dict[str, Any], agent: str) -> tuple[bool, Path | None]:
    """Merge into the settings file at ``path``; returns (changed, backup path).

    The old file is copied to ``<name>.corral-backup-<time>`` first and the new one replaces it
    atomically, so an interrupted install leaves either the old or the new settings.
    """
    existing: dict[str, Any] = {}
    if path.exists():
        text = path.read_text(encoding="utf-8")
        try:
            loaded = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise InstallError(
                f"{path} line {exc.lineno} column {exc.colno}: not valid JSON ({exc.msg}); "
                "fix it or merge the snippet printed by --print by hand"
            ) from exc
        if not isinstance(loaded, dict):
            raise InstallError(f"{path}: the settings must be a JSON object")
        existing = loaded
    try:
        changed = merge(existing, addition, agent)
    except InstallError as exc:
        raise InstallError(f"{path}: {exc}") from exc
    if not changed:
        return False, None
    backup = None
    if path.exists():
        backup = path.with_name(f"{path.name}.corral-backup-{time.strftime('%Y%m%d%H%M%S')}")
        shutil.copy2(path, backup)
    _write_atomically(path, json.dumps(existing, indent=2, ensure_ascii=False) + "\n")
    return True, backup


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
