"""The session layer's own findings: ids, titles and ATT&CK ids, as decisions show them."""

from __future__ import annotations

from dataclasses import dataclass

from corral.model.decisions import RuleRef, Severity, Verdict


@dataclass(frozen=True, slots=True)
class SessionRule:
    id: str
    title: str
    attack: tuple[str, ...] = ()

    def ref(self, severity: Severity, verdict: Verdict, evidence: str) -> RuleRef:
        return RuleRef(self.id, self.title, self.attack, severity, verdict, evidence, "sessions")


SECRET_THEN_NEW_HOST = SessionRule(
    "CR-SES-001",
    "Credentials read, then a connection to a host the session never contacted",
    ("T1041", "T1552"),
)
SECRETS_THEN_UPLOAD = SessionRule(
    "CR-SES-002", "Environment or credentials gathered, then uploaded", ("T1567", "T1048")
)
CHAIN_ADVANCED = SessionRule("CR-SES-003", "Kill chain advanced by this step")
RISK_OVER_THRESHOLD = SessionRule("CR-SES-004", "Session risk over the policy threshold")
QUARANTINED = SessionRule("CR-SES-005", "Session quarantined after repeated denied actions")
OFF_TASK = SessionRule("CR-SES-006", "Step unrelated to the session's task")

SESSION_RULES: dict[str, SessionRule] = {
    r.id: r
    for r in (
        SECRET_THEN_NEW_HOST,
        SECRETS_THEN_UPLOAD,
        CHAIN_ADVANCED,
        RISK_OVER_THRESHOLD,
        QUARANTINED,
        OFF_TASK,
    )
}
