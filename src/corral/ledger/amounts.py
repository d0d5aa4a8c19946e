"""Amounts and units: validated once, then kept as whole micro-units so sums are exact.

Floats drift (0.1 + 0.2 != 0.3); a ledger that has to show every unit accounted for keeps
integers. One unit is 1,000,000 micro-units: a millionth of a dollar or of a GPU-hour.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from corral.ledger.errors import InvalidAmount
from corral.policy.model import MAX_AMOUNT, check_unit

MICRO = 1_000_000


def unit_of(value: object) -> str:
    """A validated unit (``USD``, ``EUR``, ``gpu_hours``...) or InvalidAmount."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidAmount(f"unit must be a currency code or a quota name, not {value!r}")
    try:
        return check_unit(value)
    except ValueError as exc:
        raise InvalidAmount(str(exc)) from None


def to_micro(value: object, what: str = "amount") -> int:
    """``value`` (a number or numeric string) in micro-units; refuses what a budget cannot mean."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise InvalidAmount(f"{what} must be a number, not {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidAmount(f"{what} must be a finite number, not {value}")
    try:
        exact = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidAmount(f"{what} {value!r} is not a number") from None
    if not exact.is_finite():
        raise InvalidAmount(f"{what} must be a finite number, not {value}")
    if exact < 0:
        raise InvalidAmount(f"{what} must not be negative ({value})")
    if exact > Decimal(str(MAX_AMOUNT)):
        raise InvalidAmount(
            f"{what} {value} is above {MAX_AMOUNT:g}, more than any budget can mean; "
            "check the unit (cents for dollars?)"
        )
    return int((exact * MICRO).to_integral_value())


def from_micro(micro: int) -> float:
    return micro / MICRO


def shown(micro: int, unit: str) -> str:
    """``12.5 USD``, ``3 gpu_hours``: how an amount appears in reasons and listings."""
    return f"{Decimal(micro).scaleb(-6).normalize():f} {unit}"
