"""Sessions: what an agent did before, kill chains, quarantine and off-task steps.

``Guard(policy, sessions=SessionTracker(store))`` judges every action that carries ``session``
with its history; :mod:`corral.sessions.review` holds the judgement, :mod:`corral.store` the
state. See docs/sessions.md.
"""

from corral.sessions.rules import SESSION_RULES, SessionRule
from corral.sessions.stages import CATEGORY_STAGE, Stage
from corral.sessions.state import SessionState
from corral.sessions.tracker import SessionTracker

__all__ = [
    "CATEGORY_STAGE",
    "SESSION_RULES",
    "SessionRule",
    "SessionState",
    "SessionTracker",
    "Stage",
]
