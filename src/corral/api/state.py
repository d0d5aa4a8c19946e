"""The session store and the ledger as the decision API reads and changes them.

The API answers about the same sessions and approvals its guard writes: the store is the session
layer's own (``guard.sessions.store``), so a release is seen by the very next decision, and the
ledger is the one :func:`corral.integrations.guard_factory.attach_state` opens (same URL rules:
``$CORRAL_LEDGER_URL``, the policy's ``ledger.url``, else the state directory). The ledger gets
its own connection: SQLite and PostgreSQL both serialise its writers across connections and
processes, so a person's answer is visible to the guard's next look-up. Both open on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from corral.engine.guard import Guard

if TYPE_CHECKING:
    from corral.ledger.store import Ledger
    from corral.sessions import SessionTracker
    from corral.store.base import Store


class ApiState:
    """Lazily opened store and ledger; closes only what it opened itself."""

    def __init__(self, guard: Guard, state_dir: Path | None = None) -> None:
        self.guard = guard
        self.state_dir = state_dir
        self._own_store: Store | None = None
        self._ledger: Ledger | None = None

    def tracker(self) -> SessionTracker | None:
        from corral.sessions import SessionTracker  # noqa: PLC0415 - lazy: decide never needs it

        tracker = self.guard.sessions
        return tracker if isinstance(tracker, SessionTracker) else None

    def store(self) -> Store:
        """The guard's session store, or one opened in the state directory when it has none."""
        tracker = self.tracker()
        if tracker is not None:
            return tracker.store
        if self._own_store is None:
            from corral.store import SQLiteStore  # noqa: PLC0415 - lazy, as above

            self._own_store = SQLiteStore.in_state_dir(self.state_dir)
        return self._own_store

    def ledger(self) -> Ledger:
        if self._ledger is None:
            from corral.ledger.open import DEFAULT_FILE, open_ledger  # noqa: PLC0415 - lazy

            explicit = str(self.state_dir / DEFAULT_FILE) if self.state_dir is not None else None
            policy_url = self.guard.policy.spec.ledger.url
            self._ledger = open_ledger(explicit, policy_url=policy_url)
        return self._ledger

    def alert_sink_stats(self) -> dict[str, dict[str, int]]:
        """Per alert sink: sent, dropped, errors (empty before the first session alert)."""
        tracker = self.tracker()
        if tracker is None or tracker.alerts is None:
            return {}
        return tracker.alerts.stats()

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
        if self._own_store is not None:
            self._own_store.close()
            self._own_store = None
