"""What MTurk charges: the reward plus a 20% fee (40% for HITs with 10 or more assignments),
at least $0.01 per assignment or bonus. Fees are rounded up to the cent so the budget check is
an upper bound of what MTurk can take, never an underestimate."""
from __future__ import annotations

from decimal import ROUND_UP, Decimal

CENT = Decimal("0.01")
MIN_FEE = Decimal("0.01")
FEE = Decimal("0.20")
FEE_LARGE_HIT = Decimal("0.40")
LARGE_HIT_ASSIGNMENTS = 10
BONUS_FEE = Decimal("0.20")


def fee_rate(*, max_assignments: int) -> Decimal:
    return FEE_LARGE_HIT if max_assignments >= LARGE_HIT_ASSIGNMENTS else FEE


def _fee(amount: Decimal, rate: Decimal) -> Decimal:
    return max(MIN_FEE, (amount * rate).quantize(CENT, rounding=ROUND_UP))


def assignment_cost(*, reward: Decimal, max_assignments: int) -> Decimal:
    """Reward plus fee for one approved assignment of a HIT with `max_assignments`."""
    return reward + _fee(reward, fee_rate(max_assignments=max_assignments))


def hit_cost(*, reward: Decimal, max_assignments: int) -> Decimal:
    """The most a HIT can cost: every assignment approved."""
    return assignment_cost(reward=reward, max_assignments=max_assignments) * max_assignments


def bonus_cost(*, amount: Decimal) -> Decimal:
    return amount + _fee(amount, BONUS_FEE)


def money(value: Decimal) -> str:
    """MTurk's money strings: digits, a dot and two decimals (e.g. "0.50")."""
    return f"{value.quantize(CENT):f}"
