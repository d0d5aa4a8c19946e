"""The ledger as the engine's budget hook: ``Guard(policy, ledger=LedgerHook(...))``.

Doors that judge an action *before* it runs (``corral check``, the hooks, the API, the SDK) have
no later moment at which the agent reports what the action really cost, so an allowed costly
action is committed at its estimate as soon as the final decision allows it; a decision that ends
as ``deny`` or ``ask`` (after the session layer too) releases what was reserved. Callers that can
report the real cost use :class:`~corral.ledger.guard.LedgerGate` directly.

The ledger is opened on the first action that needs it (a costly action or an ``ask``), so runs
that never spend never touch the state directory.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from corral.engine.guard import Explanation
from corral.engine.hooks import Step
from corral.ledger.costing import estimate
from corral.ledger.guard import Gated, LedgerGate
from corral.ledger.store import Ledger
from corral.model.decisions import Decision


class LedgerHook:
    """Reserve on review, commit or release on settle; one pending reservation per action."""

    def __init__(self, open_ledger: Callable[[], Ledger]):
        self._open = open_ledger
        self._gate: LedgerGate | None = None
        self._lock = threading.Lock()
        self._pending: dict[int, Gated] = {}

    def review(self, step: Step) -> Decision:
        decision = step.decision
        if not self._needs_ledger(step):
            return decision
        gated = self._gate_for(step).review(Explanation(decision, step.action, step.analysis, None))
        if gated.reservation is not None:
            with self._lock:
                self._pending[id(step.action)] = gated
        return gated.decision

    def settle(self, step: Step, final: Decision) -> None:
        with self._lock:
            gated = self._pending.pop(id(step.action), None)
        if gated is None or self._gate is None:
            return
        if final.decision == "allow":
            self._gate.commit(gated)
        else:
            self._gate.release(gated)

    def close(self) -> None:
        with self._lock:
            if self._gate is not None:
                self._gate.ledger.close()
                self._gate = None

    def _needs_ledger(self, step: Step) -> bool:
        """Only an ``ask`` or a costly ``allow`` can change; everything else passes untouched."""
        decision = step.decision
        if decision.error is not None or step.analysis is None or decision.mode == "monitor":
            return False
        if decision.decision == "ask":
            return True
        if decision.decision != "allow":
            return False
        return estimate(step.analysis, decision.rules, step.rules, step.policy).costly

    def _gate_for(self, step: Step) -> LedgerGate:
        with self._lock:
            if self._gate is None:
                self._gate = LedgerGate(self._open(), step.policy, step.rules)
            return self._gate
