"""A rule as data: identity, lifecycle, meaning and its compiled condition."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from corral.model.decisions import Severity, Verdict
from corral.rules.conditions import Compiled

RULE_ID = r"^CR-[A-Z]{2,6}-\d{3}$"
ATTACK_ID = r"^T\d{4}(\.\d{3})?$"

Category = Literal[
    "tunnel",
    "reverse_shell",
    "mining",
    "resource_acquisition",
    "credential_access",
    "persistence",
    "privilege_escalation",
    "defense_evasion",
    "exfiltration",
    "wallet_abuse",
    "recon",
    "execution",
]

DEFAULT_VERDICT: dict[Severity, Verdict] = {
    Severity.critical: "deny",
    Severity.high: "deny",
    Severity.medium: "ask",
    Severity.low: "allow",
    Severity.info: "allow",
}


class Examples(BaseModel):
    model_config = ConfigDict(extra="forbid")

    match: Annotated[list[str | dict[str, Any]], Field(min_length=1)]
    not_match: Annotated[list[str | dict[str, Any]], Field(min_length=1)]


class RuleSpec(BaseModel):
    """The YAML shape of one rule; ``when`` is compiled separately so its errors carry lines."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, StringConstraints(pattern=RULE_ID)]
    title: Annotated[str, StringConstraints(min_length=3, max_length=120)]
    description: Annotated[str, StringConstraints(min_length=20)]
    evasions: Annotated[str, StringConstraints(min_length=10)]
    severity: Literal["info", "low", "medium", "high", "critical"]
    confidence: Literal["low", "medium", "high"]
    status: Literal["stable", "experimental", "deprecated"]
    category: Category
    attack: Annotated[
        list[Annotated[str, StringConstraints(pattern=ATTACK_ID)]], Field(min_length=1)
    ]
    decision: Literal["allow", "ask", "deny"] | None = None
    reason: str | None = None
    when: dict[str, Any]
    examples: Examples
    references: list[str] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Rule:
    spec: RuleSpec
    condition: Compiled
    file: str
    line: int
    severity: Severity = field(init=False)
    verdict: Verdict = field(init=False)

    def __post_init__(self) -> None:
        severity = Severity.parse(self.spec.severity)
        object.__setattr__(self, "severity", severity)
        object.__setattr__(self, "verdict", self.spec.decision or DEFAULT_VERDICT[severity])

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def title(self) -> str:
        return self.spec.title

    def reason_for(self, evidence: str) -> str:
        template = self.spec.reason or f"{self.spec.title}: {{evidence}}"
        return template.replace("{evidence}", evidence or "(see analysis)")
