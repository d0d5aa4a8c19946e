"""The one place the engine lets a later layer take part in a decision: the session hook.

The engine must not import the session layer (it sits above), so it names only the shape of what
it calls. ``Guard(policy, sessions=hook)`` hands every action that carries ``session`` to
``hook.review`` after the stateless judgement; without a hook nothing changes.
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
