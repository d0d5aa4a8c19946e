"""Policy clauses: the stable ids under which a policy (not a behaviour rule) decides.

They appear in decisions exactly like rules, so a person sees one list of ids, and an exception
or override can name them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from corral.model.decisions import Severity, Verdict


@dataclass(frozen=True, slots=True)
class Clause:
    id: str
    title: str
    clause: str
    severity: Severity
    verdict: Verdict
    attack: tuple[str, ...] = ()


EGRESS = Clause(
    "CR-POL-001",
    "Egress to a host outside the allowlist",
    "egress.allow",
    Severity.high,
    "deny",
    ("T1071",),
)
PRIVATE_NET = Clause(
    "CR-POL-002",
    "Private, link-local or metadata address not named in the policy",
    "egress.allow",
    Severity.high,
    "deny",
    ("T1590",),
)
OUTSIDE_WORKSPACE = Clause(
    "CR-POL-003", "Write outside the workspace", "workspace", Severity.high, "deny"
)
PROTECTED = Clause(
    "CR-POL-004",
    "Change to a protected path (Corral's policy or state)",
    "protected",
    Severity.critical,
    "deny",
    ("T1562.001",),
)
PROGRAM_DENIED = Clause(
    "CR-POL-005", "Program on the policy's deny list", "programs.deny", Severity.high, "deny"
)
OVER_BUDGET = Clause(
    "CR-POL-006",
    "Spend over the policy's budget",
    "spend.budget",
    Severity.high,
    "deny",
    ("T1496",),
)
PRIVILEGE = Clause("CR-POL-007", "Privilege change", "privilege", Severity.high, "deny", ("T1548",))
UNANALYSABLE = Clause(
    "CR-POL-008", "Action that could not be analysed", "analysis", Severity.high, "deny"
)
CURRENCY = Clause(
    "CR-POL-009",
    "Spend in a currency the budget does not cover",
    "spend.currency",
    Severity.medium,
    "ask",
)

CLAUSES: dict[str, Clause] = {
    c.id: c
    for c in (
        EGRESS,
        PRIVATE_NET,
        OUTSIDE_WORKSPACE,
        PROTECTED,
        PROGRAM_DENIED,
        OVER_BUDGET,
        PRIVILEGE,
        UNANALYSABLE,
        CURRENCY,
    )
}
