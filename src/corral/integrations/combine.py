"""One verdict for a call that is several actions (a patch touching three files, a multi-read).

Works on decisions as contract dicts (``Decision.to_dict()`` or a decision API answer), so a hook
that asks a running server never needs to load the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

DecisionDict = dict[str, Any]

_ORDER = {"allow": 0, "ask": 1, "deny": 2}


def strictest(decisions: Sequence[DecisionDict]) -> DecisionDict:
    """The decision with the strictest verdict (deny > ask > allow); the first one on a tie.

    A call is only as safe as its most dangerous part, so one denied file in a patch denies it.
    Anything that is not a known verdict counts as deny.
    """
    if not decisions:
        raise ValueError("strictest() needs at least one decision")
    return max(decisions, key=lambda d: _ORDER.get(d.get("decision"), 2))  # type: ignore[arg-type]


def verdict_of(decision: DecisionDict) -> str:
    verdict = decision.get("decision")
    return verdict if verdict in _ORDER else "deny"


def describe(decision: DecisionDict) -> str:
    """One line for a person or a model: the verdict, the reason and the rule ids."""
    rules = ", ".join(str(r.get("id")) for r in decision.get("rules") or [] if isinstance(r, dict))
    suffix = f" [rules: {rules}; policy: {decision.get('policy')}]" if rules else ""
    lead = {"allow": "allowed", "ask": "needs approval", "deny": "blocked"}[verdict_of(decision)]
    return f"Corral {lead}: {decision.get('reason') or 'no reason given'}{suffix}"
