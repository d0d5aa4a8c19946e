"""What can go wrong in the ledger, as exceptions a caller can tell apart."""

from __future__ import annotations


class LedgerError(Exception):
    """Any ledger failure. The guard treats every one of them as a deny (fail closed)."""


class InvalidAmount(LedgerError, ValueError):
    """A negative, NaN, infinite or absurd amount, or an unknown currency or unit."""


class LedgerUnavailable(LedgerError):
    """The ledger's database cannot be opened or reached, or its schema is newer than Corral."""


class ReservationNotFound(LedgerError, KeyError):
    pass


class ReservationClosed(LedgerError):
    """Commit or release of a reservation that expired or was already released."""


class BudgetExceeded(LedgerError):
    """A commit of more than was reserved does not fit the hard limits."""


class ApprovalError(LedgerError):
    """An approval that does not exist, has expired or was already decided."""
