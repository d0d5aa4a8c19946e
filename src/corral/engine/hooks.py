"""The places the engine lets a later layer take part in a decision: sessions and the ledger.

The engine must not import those layers (they sit above), so it names only the shape of what it
calls. ``Guard(policy, sessions=hook)`` hands every action to ``hook.review`` after the
stateless judgement (one that carries ``session`` is judged with its history; one without is
only recorded and, when denied or asked about, alerted). ``Guard(policy, ledger=hook)`` hands
every action to the budget ledger first (which may reserve its cost) and settles the
reservation once the final decision is known. Without hooks nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from corral.analysis.facts import Analysis
from corral.model.actions import Action
from corral.model.decisions import Decision
from corral.policy.loader import Policy
from corral.rules.loader import RuleSet


@dataclass(frozen=True, slots=True)
class Step:
    """One judged action of a session, as the session layer receives it."""

    action: Action
    analysis: Analysis | None
    decision: Decision
    rules: RuleSet
    policy: Policy


class SessionHook(Protocol):
    def review(self, step: Step) -> Decision:
        """The decision for ``step`` with its session's history taken into account."""
        ...


class LedgerHook(Protocol):
    def review(self, step: Step) -> Decision:
        """The decision for ``step`` once its cost meets the budgets (never looser)."""
        ...

    def settle(self, step: Step, final: Decision) -> None:
        """Commit what ``review`` reserved when ``final`` allows the action, else release it."""
        ...
