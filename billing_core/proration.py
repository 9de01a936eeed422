"""Proration by days: partial periods and immediate price changes mid-period.

Free of any Odoo import. Money is :class:`~decimal.Decimal` (see
:mod:`.pricing`); dates are inclusive (``period_end`` is the last day of
service). A change on ``change_date`` takes effect that day: the days before
it were used at the old price, ``change_date``..``period_end`` are the
remaining days.

:func:`change_proration` handles a change inside a period that was already
billed in advance at the old price: it credits the unused remaining time at
the old price and charges the remaining time at the new price (Stripe's
``create_prorations``), each line rounded once to the currency step.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, localcontext

from .pricing import round_to, to_decimal

CREDIT = "credit"
CHARGE = "charge"

#: significant digits of a prorated amount, far beyond any currency's needs
PRORATION_PRECISION = 40


def prorated(amount, days: int, period_days: int) -> Decimal:
    """``amount * days / period_days``, unrounded (40 significant digits).

    ``period_days`` must be at least 1 and ``days`` within ``0..period_days``.
    ``days == period_days`` gives ``amount`` itself.
    """
    amount = to_decimal(amount, "amount")
    days = operator.index(days)
    period_days = operator.index(period_days)
    if period_days < 1:
        raise ValueError(f"period_days must be at least 1, got {period_days}")
    if not 0 <= days <= period_days:
        raise ValueError(f"days must be between 0 and {period_days}, got {days}")
    with localcontext() as ctx:
        ctx.prec = PRORATION_PRECISION
        return amount * days / period_days


def split_days(period_start: date, period_end: date, change_date: date) -> tuple[int, int, int]:
    """``(used_days, remaining_days, period_days)`` of a period split on ``change_date``.

    Used days are ``period_start``..``change_date - 1``, remaining days
    ``change_date``..``period_end`` (both inclusive). ``change_date`` may be
    ``period_end + 1`` (nothing remains); outside ``[period_start,
    period_end + 1]`` it raises ``ValueError``.
    """
    if period_end < period_start:
        raise ValueError(f"period ends ({period_end}) before it starts ({period_start})")
    if not period_start <= change_date <= period_end + timedelta(days=1):
        raise ValueError(f"change date {change_date} is outside the period {period_start}..{period_end} (+1 day)")
    period_days = (period_end - period_start).days + 1
    used_days = (change_date - period_start).days
    return used_days, period_days - used_days, period_days


@dataclass(frozen=True)
class ProrationLine:
    """One invoice line of a price change.

    ``kind`` is ``"credit"`` (the unused time at the old price, negative
    amount for a positive old price) or ``"charge"`` (the remaining time at
    the new price). ``start``..``end`` is the time covered (inclusive);
    ``amount`` is rounded to the currency step.
    """

    kind: str
    start: date
    end: date
    amount: Decimal


def change_proration(
    old_amount, new_amount, period_start: date, period_end: date, change_date: date, step
) -> list[ProrationLine]:
    """The lines for an immediate change from ``old_amount`` to ``new_amount`` on ``change_date``.

    ``old_amount``/``new_amount`` are the full-period prices of the already
    billed period ``period_start``..``period_end``. Returns the credit
    ``-round(prorated(old, remaining, period_days))`` and the charge
    ``+round(prorated(new, remaining, period_days))``, in that order, both
    over ``change_date``..``period_end``; a line that rounds to zero is left
    out, so a change on ``period_end + 1`` gives ``[]``.
    """
    old_amount = to_decimal(old_amount, "old amount")
    new_amount = to_decimal(new_amount, "new amount")
    _used, remaining, period_days = split_days(period_start, period_end, change_date)
    if remaining == 0:
        return []
    credit = -round_to(prorated(old_amount, remaining, period_days), step)
    charge = round_to(prorated(new_amount, remaining, period_days), step)
    lines = [
        ProrationLine(CREDIT, change_date, period_end, credit),
        ProrationLine(CHARGE, change_date, period_end, charge),
    ]
    return [line for line in lines if line.amount != 0]
