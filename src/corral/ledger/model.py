"""The ledger's records: limits, reservations, outcomes and approvals.

Amounts here are whole micro-units (see :mod:`corral.ledger.amounts`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from corral.ledger.amounts import shown

Scope = Literal["session", "agent", "account", "global"]
Window = Literal["action", "hour", "day", "total"]
LedgerVerdict = Literal["allow", "ask", "deny"]
ReservationState = Literal["held", "committed", "released", "expired"]
ApprovalState = Literal["pending", "approved", "denied", "used", "expired"]

WINDOW_SECONDS: dict[str, int] = {"hour": 3600, "day": 86400}
NO_SUBJECT = "(none)"


@dataclass(frozen=True, slots=True)
class Subjects:
    """Who spends: the budgets of each of them apply at once."""

    session: str | None = None
    agent: str | None = None
    account: str | None = None

    def of(self, scope: Scope) -> str:
        if scope == "global":
            return "*"
        # Actions that do not say who they are share one bucket, so leaving the field out
        # never escapes a budget.
        return getattr(self, scope) or NO_SUBJECT


@dataclass(frozen=True, slots=True)
class Limit:
    scope: Scope
    window: Window
    unit: str
    hard: int | None = None
    soft: int | None = None

    @property
    def label(self) -> str:
        per = "per action" if self.window == "action" else f"per {self.window}"
        if self.window == "total":
            per = "in total"
        return f"{self.scope} budget {per}"

    def describe(self) -> str:
        parts = []
        if self.hard is not None:
            parts.append(f"hard {shown(self.hard, self.unit)}")
        if self.soft is not None:
            parts.append(f"soft {shown(self.soft, self.unit)}")
        return f"{self.label} ({', '.join(parts)})"


@dataclass(frozen=True, slots=True)
class Bucket:
    """Where one limit counts for one subject in one window."""

    key: str
    wstart: int
    limit: Limit
    subject: str

    @staticmethod
    def make_key(scope: str, subject: str, unit: str, window: str) -> str:
        return json.dumps([scope, subject, unit, window], separators=(",", ":"))

    @staticmethod
    def for_limit(limit: Limit, subjects: Subjects, now: float) -> Bucket:
        subject = subjects.of(limit.scope)
        span = WINDOW_SECONDS.get(limit.window)
        wstart = int(now // span) * span if span else 0
        return Bucket(
            Bucket.make_key(limit.scope, subject, limit.unit, limit.window), wstart, limit, subject
        )


@dataclass(slots=True)
class Reservation:
    id: str
    state: ReservationState
    charges: dict[str, int]
    created_at: float
    expires_at: float
    subjects: Subjects = field(default_factory=Subjects)
    idem_key: str | None = None
    spent: dict[str, int] | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "charges": {u: shown(a, u) for u, a in self.charges.items()},
            "spent": None
            if self.spent is None
            else {u: shown(a, u) for u, a in self.spent.items()},
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "session": self.subjects.session,
            "agent": self.subjects.agent,
            "account": self.subjects.account,
            "idempotency_key": self.idem_key,
            "note": self.note,
        }


@dataclass(slots=True)
class Outcome:
    """What a reservation request came to.

    ``allow`` carries the reservation; ``ask`` and ``deny`` carry the limit that decided, how
    much of it was already used and the amount asked for.
    """

    verdict: LedgerVerdict
    reason: str
    reservation: Reservation | None = None
    limit: Limit | None = None
    used: int = 0
    amount: int = 0
    replayed: bool = False


@dataclass(slots=True)
class Approval:
    id: str
    fingerprint: str
    state: ApprovalState
    created_at: float
    expires_at: float
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)
    session: str | None = None
    agent: str | None = None
    decided_at: float | None = None
    decided_by: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "summary": self.summary,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "session": self.session,
            "agent": self.agent,
            "decided_at": self.decided_at,
            "decided_by": self.decided_by,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(slots=True)
class BucketUsage:
    scope: str
    subject: str
    unit: str
    window: str
    wstart: int
    spent: int
    held: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "subject": self.subject,
            "unit": self.unit,
            "window": self.window,
            "window_start": self.wstart,
            "spent": shown(self.spent, self.unit),
            "held": shown(self.held, self.unit),
            "spent_micro": self.spent,
            "held_micro": self.held,
        }
