"""The amounts of a subscription invoice's lines, free of any Odoo import.

The billing run (``subscription.line._prepare_invoice_line_values`` and
``subscription.subscription._prepare_discount_invoice_lines``) and the billing
forecast's projection (:mod:`.forecast`) both price invoice lines with these
functions, so a forecast cannot drift from what the run invoices.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from . import pricing
from .periods import Period

PERCENT = "percent"
FIXED = "fixed"


def billed_part(period: Period, date_start: date | None, date_end: date | None) -> Period | None:
    """The part of ``period`` a line billed from ``date_start`` to ``date_end`` (either open) covers, or ``None``."""
    start = max(period.start, date_start) if date_start else period.start
    end = min(period.end, date_end) if date_end else period.end
    if start > end:
        return None
    return Period(period.index, start, end, period.full_start, period.full_end)


def period_line_price(
    *, quantity, price_unit, rating_amount, per_unit: bool, part: Period, prorate: bool, step
) -> tuple[Decimal, Decimal, bool]:
    """``(quantity, price_unit, as_rated_amount)`` of the invoice line billing a recurring or setup line for ``part``.

    A per-unit line keeps its quantity and unit price (prorated by days and rounded when the period is
    partial, unless that would round each of several units). Otherwise the line is one rated amount
    (tiers, included units, or several units of a partial period), prorated and rounded once: 12 × 8.00
    for 22 of 31 days is 96.00 × 22/31 = 68.13, not 12 × round(8.00 × 22/31) = 68.16.
    """
    quantity = pricing.to_decimal(quantity, "quantity")
    if per_unit and (not prorate or quantity == 1):
        price = pricing.to_decimal(price_unit, "unit price")
        if prorate:
            price = price * part.days / part.full_days
        return quantity, pricing.round_to(price, step), False
    amount = pricing.to_decimal(rating_amount, "rated amount")
    if prorate:
        amount = amount * part.days / part.full_days
    return Decimal(1), pricing.round_to(amount, step), True


def net_amount(price_unit, quantity, discount_percent, step) -> Decimal:
    """Untaxed amount of an invoice line (after its percentage discount), rounded to ``step``."""
    amount = (
        pricing.to_decimal(price_unit, "unit price")
        * pricing.to_decimal(quantity, "quantity")
        * (1 - pricing.to_decimal(discount_percent or 0, "discount") / 100)
    )
    return pricing.round_to(amount, step)


def discount_reductions(groups, discount_type: str, percent, fixed, step) -> list[tuple[object, Decimal]]:
    """How a discount reduces the discounted amount of each tax set of one period.

    :param groups: ``[(tax key, amount)]`` in invoice line order (each amount rounded to ``step``)
    :return: ``[(tax key, reduction)]`` for the positive groups, in order; a reduction may be zero
        (no line is written for it). A percentage is taken of each group and rounded; a fixed amount
        (capped at the total) is split in proportion with :func:`pricing.allocate`.
    """
    keys = [(key, amount) for key, amount in groups if amount > 0]
    if not keys:
        return []
    if discount_type == PERCENT:
        return [
            (key, pricing.round_to(pricing.discount_value(amount, percent=pricing.to_decimal(percent)), step))
            for key, amount in keys
        ]
    total = sum((amount for _key, amount in keys), Decimal(0))
    capped = min(pricing.round_to(pricing.to_decimal(fixed), step), total)
    reductions = pricing.allocate(capped, [amount for _key, amount in keys], step)
    return [(key, reduction) for (key, _amount), reduction in zip(keys, reductions, strict=True)]
