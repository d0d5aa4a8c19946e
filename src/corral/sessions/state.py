"""What a session remembers between actions: bounded, whatever the agent does.

Stages, risk and counters are fixed-size and the recent deny times are capped by
``sessions.quarantine.denies``, so a session of 100,000 actions weighs what a session of 100 does.
The contacted hosts (capped by ``sessions.memory.hosts``) and the timeline (the session's rows in
the decision table) live in the store and are read back only as far as a step needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class SessionState:
    stages: dict[str, float] = field(default_factory=dict)  # stage name -> when first reached
    risk: float = 0.0
    risk_ts: float = 0.0
    secrets_ts: float | None = None  # when the session last gathered environment or credentials
    deny_times: list[float] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    chains: list[str] = field(default_factory=list)
    step: int = 0

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SessionState:
        return cls(
            stages=dict(raw.get("stages", {})),
            risk=float(raw.get("risk", 0.0)),
            risk_ts=float(raw.get("risk_ts", 0.0)),
            secrets_ts=raw.get("secrets_ts"),
            deny_times=list(raw.get("deny_times", [])),
            counters=dict(raw.get("counters", {})),
            chains=list(raw.get("chains", [])),
            step=int(raw.get("step", 0)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "stages": self.stages,
            "risk": self.risk,
            "risk_ts": self.risk_ts,
            "secrets_ts": self.secrets_ts,
            "deny_times": self.deny_times,
            "counters": self.counters,
            "chains": self.chains,
            "step": self.step,
        }

    def decayed_risk(self, now: float, half_life_s: float) -> float:
        """Risk halves every ``half_life_s`` seconds of quiet (never grows with time)."""
        elapsed = max(0.0, now - self.risk_ts)
        return self.risk * math.pow(0.5, elapsed / half_life_s)

    def count(self, key: str) -> None:
        self.counters[key] = self.counters.get(key, 0) + 1

    def note_chain(self, name: str) -> None:
        if name not in self.chains:
            self.chains.append(name)
            del self.chains[:-20]
