"""Deferred revenue: which lines are deferred, their monthly recognition schedule and its reduction.

Amounts are :class:`~decimal.Decimal` in one currency, signed as revenue (an invoice line is
positive, a credit note line negative); ``step`` is the currency's rounding (``Decimal("0.01")``).

Two methods spread a service period over the calendar months it touches:

``days``
    each month gets the share of the period's days that fall into it (the default);
``equal``
    every full month gets the same amount; a month the period only partly covers counts as the
    fraction of that month's days it covers (15 January to 14 January of the next year is
    17/31 + 11 full months + 14/31 = exactly 12 months).

Amounts are rounded to ``step`` on the running total: month *i* gets the rounded cumulative share up
to *i* minus the rounded cumulative share before it. Each month is within one ``step`` of its exact
share, no month changes sign, and the last month takes what remains, so a schedule always sums
exactly to the line.
"""

import calendar
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

METHOD_DAYS = "days"
METHOD_EQUAL = "equal"
METHODS = (METHOD_DAYS, METHOD_EQUAL)


def month_end(day: date) -> date:
    """The last day of ``day``'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def needs_deferral(invoice_date: date, service_start: date | None, service_end: date | None) -> bool:
    """Whether a line's service period reaches beyond the month of its invoice date."""
    if not service_start or not service_end:
        return False
    return service_end > month_end(invoice_date)


def _month_weights(start: date, end: date, method: str) -> list[tuple[date, Fraction]]:
    """(month end, weight) for every month from ``start`` to ``end`` (both included)."""
    if end < start:
        raise ValueError(f"service period ends ({end}) before it starts ({start})")
    if method not in METHODS:
        raise ValueError(f"unknown recognition method {method!r}")
    weights = []
    first = start
    while first <= end:
        last_of_month = month_end(first)
        last = min(last_of_month, end)
        days = (last - first).days + 1
        if method == METHOD_DAYS:
            weight = Fraction(days)
        else:
            weight = Fraction(days, last_of_month.day)
        weights.append((last_of_month, weight))
        first = last_of_month + timedelta(days=1)
    return weights


def round_to(amount, step: Decimal) -> Decimal:
    """``amount`` (Decimal or Fraction) rounded half away from zero to a multiple of ``step``."""
    if not isinstance(amount, Decimal):
        amount = Decimal(amount.numerator) / Decimal(amount.denominator)
    return (amount / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step


def allocate(total: Decimal, weights: list, step: Decimal) -> list[Decimal]:
    """Split ``total`` in proportion to ``weights``, rounding the running total; the last part takes the rest.

    ``weights`` are non-negative numbers (int, Fraction or Decimal) with a positive sum; ``total`` is a
    multiple of ``step`` (an amount already rounded to its currency).
    """
    if not weights:
        raise ValueError("nothing to allocate to")
    fractions = [Fraction(w) for w in weights]
    if any(w < 0 for w in fractions):
        raise ValueError("allocation weights cannot be negative")
    weight_sum = sum(fractions)
    if weight_sum <= 0:
        raise ValueError("allocation weights must have a positive sum")
    if total % step:
        raise ValueError(f"amount {total} is not a multiple of the rounding step {step}")
    exact_total = Fraction(total)
    parts = []
    cumulative_weight = Fraction(0)
    previous = Decimal(0)
    for weight in fractions[:-1]:
        cumulative_weight += weight
        rounded = round_to(exact_total * cumulative_weight / weight_sum, step)
        parts.append(rounded - previous)
        previous = rounded
    parts.append(total - previous)
    return parts


def recognition_schedule(
    start: date,
    end: date,
    amount: Decimal,
    step: Decimal,
    method: str = METHOD_DAYS,
    first_month_end: date | None = None,
) -> list[tuple[date, Decimal]]:
    """The month ends and amounts recognising ``amount`` over the service period ``start``..``end``.

    :param first_month_end: the earliest month that may be recognised (the month of the invoice
        date): the shares of earlier months are recognised in it, since revenue cannot be
        recognised before it is invoiced.
    """
    weights = _month_weights(start, end, method)
    if first_month_end is not None:
        first_month_end = month_end(first_month_end)
        early = [w for month, w in weights if month < first_month_end]
        weights = [(month, w) for month, w in weights if month >= first_month_end]
        if early:
            if weights and weights[0][0] == first_month_end:
                weights[0] = (first_month_end, weights[0][1] + sum(early))
            else:
                weights.insert(0, (first_month_end, sum(early)))
    amounts = allocate(amount, [w for _month, w in weights], step)
    return [(month, part) for (month, _w), part in zip(weights, amounts, strict=True)]


def reduce_pending(pending: list[Decimal], reduction: Decimal, step: Decimal) -> tuple[list[Decimal], Decimal]:
    """Reduce the not yet recognised months of a schedule by ``reduction`` (a credit note's amount).

    The reduction is spread over ``pending`` in proportion to the amounts (the last month takes the
    rounding). What exceeds the pending total (revenue already recognised that is now credited) is
    returned as ``excess``, to be recognised at once. A reduction of the opposite sign to the
    pending total changes nothing and is all excess.

    :returns: (new pending amounts, excess), with ``sum(pending) - sum(new) + excess == reduction``
    """
    remaining = sum(pending, Decimal(0))
    if not pending or remaining == 0 or reduction == 0 or (reduction > 0) != (remaining > 0):
        return list(pending), reduction
    if abs(reduction) >= abs(remaining):
        return [Decimal(0)] * len(pending), reduction - remaining
    sign = 1 if remaining > 0 else -1
    weights = [max(amount * sign, Decimal(0)) for amount in pending]
    if not any(weights):
        weights[-1] = Decimal(1)
    return allocate(remaining - reduction, weights, step), Decimal(0)


def historical_share(
    pending: list[Decimal], pending_currency: list[Decimal], new_currency: list[Decimal], step: Decimal
) -> Decimal:
    """Company amount taken off ``pending`` when the foreign amounts go from ``pending_currency`` to
    ``new_currency``: the same fraction of the company amounts, i.e. at the invoice's own rate."""
    before = sum(pending_currency, Decimal(0))
    if not before:
        return Decimal(0)
    fraction = Fraction(before - sum(new_currency, Decimal(0))) / Fraction(before)
    return round_to(Fraction(sum(pending, Decimal(0))) * fraction, step)


def waterfall(
    opening: Decimal,
    months: list[date],
    added: dict,
    reduced: dict,
    recognised: dict,
    planned: dict | None = None,
) -> list[dict]:
    """Deferred revenue roll-forward per month: opening + added + reduced - recognised = closing.

    ``added``, ``reduced`` and ``recognised`` map a month end to its amount (missing months are zero);
    ``reduced`` is negative (credit notes), ``recognised`` positive when revenue is recognised.
    ``planned`` maps a month end to what the schedules still have to recognise for that month (not booked
    yet); ``planned_closing`` is the closing balance once every planned month up to this one is recognised.
    """
    planned = planned or {}
    rows = []
    balance = opening
    planned_total = Decimal(0)
    for month in months:
        row = {
            "month": month,
            "opening": balance,
            "added": added.get(month, Decimal(0)),
            "reduced": reduced.get(month, Decimal(0)),
            "recognised": recognised.get(month, Decimal(0)),
            "planned": planned.get(month, Decimal(0)),
        }
        balance = row["opening"] + row["added"] + row["reduced"] - row["recognised"]
        planned_total += row["planned"]
        row["closing"] = balance
        row["planned_closing"] = balance - planned_total
        rows.append(row)
    return rows


def month_ends_between(first: date, last: date) -> list[date]:
    """The month ends from ``first``'s month to ``last``'s month (both included)."""
    months = []
    current = month_end(first)
    while current <= month_end(last):
        months.append(current)
        current = month_end(current + timedelta(days=1))
    return months
