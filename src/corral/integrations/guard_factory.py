"""The one place every integration gets its guard.

Hooks, the decision API, the SDK and the gateways all call :func:`make_guard`, so when decisions
start to depend on a session's history (a session store under ``state_dir``) only this function
changes and every door judges the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from corral.engine.guard import Guard


def make_guard(
    policy: str | Path = "default",
    workspace: Sequence[str] | None = None,
    state_dir: Path | None = None,
) -> Guard:
    """A guard for ``policy`` (a built-in name or a policy file).

    ``state_dir`` is where session state will live; the guard is stateless for now and ignores it.
    Raises :class:`corral.util.yamlfile.SourceError` when the policy file is bad.
    """
    del state_dir  # reserved for the session-aware guard
    return Guard(policy, workspace=list(workspace) if workspace else None)
