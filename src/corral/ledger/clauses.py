"""The ledger's clause ids: they appear in decisions like rule ids, so every budget denial or
question names exactly which budget decided."""

from __future__ import annotations

from corral.model.decisions import Severity
from corral.policy.clauses import Clause

OVER_HARD = Clause(
    "CR-BUD-001",
    "Spend over a hard budget limit",
    "ledger.limits",
    Severity.high,
    "deny",
    ("T1496", "T1657"),
)
OVER_SOFT = Clause(
    "CR-BUD-002",
    "Spend over a soft budget limit needs approval",
    "ledger.limits",
    Severity.medium,
    "ask",
)
UNKNOWN_COST = Clause(
    "CR-BUD-003",
    "Costly action whose cost cannot be estimated",
    "ledger.unknown_cost",
    Severity.medium,
    "ask",
)
APPROVAL_NEEDED = Clause(
    "CR-BUD-004",
    "Action waits for a person's approval",
    "approvals",
    Severity.medium,
    "ask",
)
APPROVAL_DENIED = Clause(
    "CR-BUD-005",
    "A person denied this action",
    "approvals",
    Severity.high,
    "deny",
)
LEDGER_FAILED = Clause(
    "CR-BUD-006",
    "Budget ledger unavailable",
    "ledger.url",
    Severity.high,
    "deny",
)
INVALID_AMOUNT = Clause(
    "CR-BUD-007",
    "Invalid amount or currency",
    "ledger",
    Severity.high,
    "deny",
)
UNCOVERED_UNIT = Clause(
    "CR-BUD-008",
    "Spend in a unit no budget covers",
    "ledger.limits",
    Severity.medium,
    "ask",
)

BUDGET_CLAUSES: dict[str, Clause] = {
    c.id: c
    for c in (
        OVER_HARD,
        OVER_SOFT,
        UNKNOWN_COST,
        APPROVAL_NEEDED,
        APPROVAL_DENIED,
        LEDGER_FAILED,
        INVALID_AMOUNT,
        UNCOVERED_UNIT,
    )
}
