"""Ageing of open receivable items: days overdue, bucket, exact bucket totals.

Free of any Odoo import. An item is *not due* while its due date is on or
after the reference date (``date_ref``); from the day after the due date on it
is overdue by ``(date_ref - due_date).days`` days and falls into one of the
buckets 1–30, 31–60, 61–90 or more than 90 days. Amounts are signed residuals
(an invoice is positive, a credit note or an unmatched payment negative) and
must be :class:`~decimal.Decimal`, so that totals are exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

NOT_DUE = "not_due"
DAYS_1_30 = "1_30"
DAYS_31_60 = "31_60"
DAYS_61_90 = "61_90"
OVER_90 = "over_90"

#: The buckets, youngest first; every result of :func:`ageing_totals` has all of them.
BUCKETS = (NOT_DUE, DAYS_1_30, DAYS_31_60, DAYS_61_90, OVER_90)

#: (last day overdue included, bucket) for the overdue buckets, youngest first
_LIMITS = ((30, DAYS_1_30), (60, DAYS_31_60), (90, DAYS_61_90))


def days_overdue(due_date: date, date_ref: date) -> int:
    """Days ``due_date`` lies before ``date_ref``; 0 when the item is not yet due."""
    return max((date_ref - due_date).days, 0)


def ageing_bucket(due_date: date, date_ref: date) -> str:
    """The bucket of an item due on ``due_date``, seen on ``date_ref``.

    >>> ageing_bucket(date(2026, 1, 31), date(2026, 1, 31))
    'not_due'
    >>> ageing_bucket(date(2026, 1, 1), date(2026, 1, 31))
    '1_30'
    """
    days = days_overdue(due_date, date_ref)
    if days == 0:
        return NOT_DUE
    for last_day, bucket in _LIMITS:
        if days <= last_day:
            return bucket
    return OVER_90


def ageing_totals(items: Iterable[tuple[date, Decimal]], date_ref: date) -> dict[str, Decimal]:
    """Sum of the signed residual amounts per bucket, exactly.

    ``items`` are ``(due_date, amount)`` pairs. The result has every bucket of
    :data:`BUCKETS` (``Decimal(0)`` when empty) and ``"total"``, the sum of all
    amounts, which always equals the sum of the buckets.

    :raises TypeError: when an amount is not a ``Decimal`` (a float would make
        the totals inexact).
    """
    totals = dict.fromkeys(BUCKETS, Decimal(0))
    for due_date, amount in items:
        if not isinstance(amount, Decimal):
            raise TypeError(f"amount {amount!r} due {due_date} must be a Decimal, not {type(amount).__name__}")
        bucket = ageing_bucket(due_date, date_ref)
        totals[bucket] += amount
    totals["total"] = sum((totals[bucket] for bucket in BUCKETS), Decimal(0))
    return totals
