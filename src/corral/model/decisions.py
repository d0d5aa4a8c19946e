"""Decisions: Corral's verdict on one action, in the contract's JSON shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Literal

Verdict = Literal["allow", "ask", "deny"]

VERDICT_ORDER: dict[str, int] = {"allow": 0, "ask": 1, "deny": 2}


class Severity(IntEnum):
    info = 0
    low = 1
    medium = 2
    high = 3
    critical = 4

    @classmethod
    def parse(cls, name: str) -> Severity:
        return cls[name]


def stricter(a: Verdict, b: Verdict) -> Verdict:
    return a if VERDICT_ORDER[a] >= VERDICT_ORDER[b] else b


@dataclass(frozen=True, slots=True)
class RuleRef:
    """A rule (or policy clause) that matched, as it appears in a decision."""

    id: str
    title: str
    attack: tuple[str, ...] = ()
    severity: Severity = Severity.info
    decision: Verdict = "allow"
    evidence: str = ""
    clause: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "title": self.title, "attack": list(self.attack)}
        if self.clause:
            out["clause"] = self.clause
        return out


@dataclass(slots=True)
class Decision:
    decision: Verdict
    severity: Severity
    reason: str
    policy: str
    decision_id: str
    id: str | int | None = None
    rules: list[RuleRef] = field(default_factory=list)
    error: str | None = None
    line: int | None = None
    mode: str = "enforce"
    would_decide: Verdict | None = None
    session: str | None = None
    # What the session layer concluded (stage, risk, chain, off_task, quarantined, alert), present
    # only for actions judged with their session's history.
    session_state: dict[str, Any] | None = None

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "decision_id": self.decision_id,
            "decision": self.decision,
            "severity": self.severity.name,
            "rules": [r.to_dict() for r in self.rules],
            "reason": self.reason,
            "policy": self.policy,
        }
        if self.error is not None:
            out["error"] = self.error
        if self.line is not None:
            out["line"] = self.line
        if self.mode != "enforce":
            out["mode"] = self.mode
            out["would_decide"] = self.would_decide
        if self.session is not None:
            out["session"] = self.session
        if self.session_state is not None:
            out["session_state"] = self.session_state
        return out
