"""The decision log of hook calls: every pre-tool decision and every call that actually ran.

An agent may run several hooks at once (parallel tool calls), and the log has exactly one writer,
so each hook process waits its turn for the lock rather than failing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from corral.integrations.agent_tools import Action
from corral.integrations.combine import DecisionDict
from corral.integrations.hooks import HookEvent
from corral.sinks import DecisionLog, LogLocked

LOCK_WAIT_S = 5.0


def open_log(path: Path, wait_s: float = LOCK_WAIT_S) -> DecisionLog:
    """Open ``path`` for appending, waiting up to ``wait_s`` for another hook to finish."""
    deadline = time.monotonic() + wait_s
    delay = 0.005
    while True:
        try:
            return DecisionLog(path)
        except LogLocked:
            if time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


class HookLog:
    """A recorder for :func:`corral.integrations.hooks.handle` that appends to one log file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(
        self, event: HookEvent, decision: DecisionDict | None, actions: list[Action]
    ) -> None:
        logged: Any = actions[0] if len(actions) == 1 else actions
        log = open_log(self.path)
        try:
            if decision is not None:
                log.append(decision, logged)
            else:
                log.append(_ran_record(event), logged)
        finally:
            log.close()


def _ran_record(event: HookEvent) -> dict[str, Any]:
    """The record of a call the agent reports it ran (an after-tool event)."""
    return {
        "record": "ran",
        "agent": event.agent,
        "event": event.event_name,
        "tool": event.tool_name,
        "id": event.tool_use_id,
        "session": event.session,
    }
