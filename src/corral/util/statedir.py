"""Where Corral keeps its own state (store, logs, quarantine records): one directory it owns.

Every component that persists something asks here, so that an operator moves all of it with one
setting and the supervisor can hide or protect exactly one place from the agent.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR_ENV = "CORRAL_STATE_DIR"


def default_state_dir() -> Path:
    """``$CORRAL_STATE_DIR``; else ``/var/lib/corral`` for root, ``$XDG_STATE_HOME/corral`` or
    ``~/.local/state/corral`` for everyone else."""
    configured = os.environ.get(STATE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    if os.geteuid() == 0:
        return Path("/var/lib/corral")
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "corral"


def ensure_state_dir(path: Path | None = None) -> Path:
    """Create the state directory (mode 0700: it holds evidence and secrets-adjacent data)."""
    target = path or default_state_dir()
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    return target
