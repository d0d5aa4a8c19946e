"""What the supervisor enforces: resource limits, detector thresholds and the response ladder.

The settings are the policy's ``supervision:`` section (:class:`corral.policy.model.
SupervisionSpec`, typed and validated with the rest of the policy; the built-in policies carry
the defaults). Nothing here is read from the agent's environment or workspace: the agent cannot
loosen its own fence.
"""

from __future__ import annotations

from corral.policy.loader import Policy
from corral.policy.model import (
    DetectorSpec,
    LadderSpec,
    LimitsSpec,
    SupervisionSpec,
    SupervisionStep,
)

Step = SupervisionStep
STEP_ORDER: dict[str, int] = {"alert": 0, "throttle": 1, "freeze": 2, "kill": 3}


def from_policy(policy: Policy) -> SupervisionSpec:
    """The policy's ``supervision`` section (its defaults when the file has none)."""
    return policy.spec.supervision


__all__ = [
    "STEP_ORDER",
    "DetectorSpec",
    "LadderSpec",
    "LimitsSpec",
    "Step",
    "SupervisionSpec",
    "from_policy",
]
