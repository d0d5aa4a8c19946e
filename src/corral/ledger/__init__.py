"""The wallet and quota ledger: budgets per session, agent and account that no agent can exceed.

``open_ledger(url)`` gives a :class:`Ledger` (SQLite file by default, PostgreSQL for fleets);
``LedgerGate`` turns an engine decision on a costly action into a reservation, an approval
request or a denial.
"""

from corral.ledger.clock import ManualClock, system_clock
from corral.ledger.errors import (
    ApprovalError,
    BudgetExceeded,
    InvalidAmount,
    LedgerError,
    LedgerUnavailable,
    ReservationClosed,
    ReservationNotFound,
)
from corral.ledger.model import Approval, Limit, Outcome, Reservation, Subjects
from corral.ledger.open import LEDGER_URL_ENV, open_ledger
from corral.ledger.store import Ledger

__all__ = [
    "LEDGER_URL_ENV",
    "Approval",
    "ApprovalError",
    "BudgetExceeded",
    "InvalidAmount",
    "Ledger",
    "LedgerError",
    "LedgerUnavailable",
    "Limit",
    "ManualClock",
    "Outcome",
    "Reservation",
    "ReservationClosed",
    "ReservationNotFound",
    "Subjects",
    "open_ledger",
    "system_clock",
]
