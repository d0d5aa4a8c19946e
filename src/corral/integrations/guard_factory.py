"""The one place every door gets its guard: the engine with its session and budget layers.

``corral check``, the hooks, the decision API, the SDK and the gateways all build their guard
here, so every door judges the same action the same way: with the session's history (a store in
the state directory) and the budget ledger (SQLite in the state directory, or the PostgreSQL
named by the policy or ``$CORRAL_LEDGER_URL``). Both open on first use, so a run that never
carries ``session`` and never spends never touches the state directory.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from corral.engine.guard import Guard


def make_guard(
    policy: str | Path = "default",
    workspace: Sequence[str] | None = None,
    state_dir: Path | None = None,
) -> Guard:
    """A guard for ``policy`` (a built-in name or a policy file) with sessions and the ledger.

    Raises :class:`corral.util.yamlfile.SourceError` when the policy file is bad.
    """
    guard = Guard(policy, workspace=list(workspace) if workspace else None)
    return attach_state(guard, state_dir=state_dir)


def attach_state(
    guard: Guard,
    *,
    state_dir: Path | None = None,
    sessions: bool = True,
    ledger: bool = True,
    replay_time: bool = False,
    alert_stream: IO[str] | None = None,
) -> Guard:
    """Give ``guard`` its session layer and budget ledger (each opened on first use)."""
    # Imported here: a door that never needs them does not pay for loading them.
    from corral.ledger.hook import LedgerHook  # noqa: PLC0415 - lazy
    from corral.ledger.open import DEFAULT_FILE, open_ledger  # noqa: PLC0415 - lazy
    from corral.sessions import SessionTracker  # noqa: PLC0415 - lazy
    from corral.store import SQLiteStore  # noqa: PLC0415 - lazy

    if sessions:
        guard.sessions = SessionTracker(
            lambda: SQLiteStore.in_state_dir(state_dir),
            action_time=replay_time,
            alert_stream=alert_stream if alert_stream is not None else sys.stderr,
        )
    if ledger:
        policy_url = guard.policy.spec.ledger.url
        explicit = str(state_dir / DEFAULT_FILE) if state_dir is not None else None
        guard.ledger = LedgerHook(lambda: open_ledger(explicit, policy_url=policy_url))
    return guard


def close_state(guard: Guard) -> list[str]:
    """Close what :func:`attach_state` opened; one message per alert sink that dropped alerts."""
    messages: list[str] = []
    tracker = guard.sessions
    close = getattr(tracker, "close", None)
    if close is not None:
        close()
        alerts = getattr(tracker, "alerts", None)
        if alerts is not None and alerts.dropped():
            for name, stats in alerts.stats().items():
                if stats["dropped"]:
                    messages.append(
                        f"alert sink {name} dropped {stats['dropped']} alert(s) "
                        f"({stats['errors']} delivery errors)"
                    )
    closer = getattr(guard.ledger, "close", None)
    if closer is not None:
        closer()
    return messages
