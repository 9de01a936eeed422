"""MRR movements and revenue KPIs (pure Python, no Odoo import).

A subscription's MRR over time is a *timeline*: ``(date, mrr)`` points, each
meaning "from this day on, the monthly recurring revenue is ``mrr``" (``0``
while not active: draft, trial, paused, ended). :func:`movements` turns a
timeline into movements, one per change of MRR, classified as:

* ``new``: from 0 to more than 0 for the first time;
* ``reactivation``: from 0 to more than 0 after an earlier active time
  (a resume after a pause, a restart after the end);
* ``expansion`` / ``contraction``: from one positive MRR to a higher / lower one;
* ``churn``: from more than 0 to 0 (an end or a pause).

The ledger invariant: for any day, the sum of the deltas of the movements
dated on or before that day equals the timeline's MRR on that day; summed over
subscriptions, it equals the MRR of the active subscriptions.

The KPIs (:func:`bridge`, :func:`rates`, :func:`clv`, :func:`cohorts`) work on
plain numbers; the README gives each definition.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

NEW = "new"
EXPANSION = "expansion"
CONTRACTION = "contraction"
CHURN = "churn"
REACTIVATION = "reactivation"
KINDS = (NEW, EXPANSION, CONTRACTION, CHURN, REACTIVATION)

ZERO = Decimal(0)


@dataclass(frozen=True)
class Movement:
    """One change of a subscription's MRR, effective ``date``."""

    date: date
    kind: str
    before: Decimal
    after: Decimal

    @property
    def delta(self) -> Decimal:
        return self.after - self.before


def classify(before: Decimal, after: Decimal, was_active: bool) -> str | None:
    """Kind of the move from ``before`` to ``after`` (None when the MRR does not change).

    :param was_active: the subscription had a positive MRR at some time before
    """
    if before < 0 or after < 0:
        raise ValueError("MRR cannot be negative")
    if before == after:
        return None
    if before == 0:
        return REACTIVATION if was_active else NEW
    if after == 0:
        return CHURN
    return EXPANSION if after > before else CONTRACTION


def movements(timeline: Iterable[tuple[date, Decimal]], before: Decimal = ZERO, was_active=None) -> list[Movement]:
    """Movements of a timeline of ``(date, mrr)`` points, in date order (points of one day in the given order).

    :param before: the MRR before the first point (the last movement's ``after`` when appending)
    :param was_active: whether the subscription was ever active before the first point
        (default: ``before > 0``)
    """
    current = Decimal(before)
    active = bool(current > 0) if was_active is None else bool(was_active) or current > 0
    result = []
    for day, mrr in sorted(timeline, key=lambda point: point[0]):
        mrr = Decimal(mrr)
        kind = classify(current, mrr, active)
        if kind:
            result.append(Movement(day, kind, current, mrr))
        current = mrr
        active = active or mrr > 0
    return result


def mrr_on(moves: Iterable[Movement], day: date) -> Decimal:
    """MRR on ``day``: the sum of the deltas of the movements dated on or before it."""
    return sum((move.delta for move in moves if move.date <= day), ZERO)


def timeline_value(timeline: Sequence[tuple[date, Decimal]], day: date) -> Decimal:
    """The timeline's MRR on ``day``: its last point on or before ``day`` (0 before the first)."""
    value = ZERO
    for point_day, mrr in sorted(timeline, key=lambda point: point[0]):
        if point_day > day:
            break
        value = Decimal(mrr)
    return value


@dataclass
class Bridge:
    """MRR bridge of a period: opening + new + expansion − contraction − churn + reactivation = closing.

    Contraction and churn are positive amounts (subtracted).
    """

    opening: Decimal = ZERO
    new: Decimal = ZERO
    expansion: Decimal = ZERO
    contraction: Decimal = ZERO
    churn: Decimal = ZERO
    reactivation: Decimal = ZERO
    closing: Decimal = ZERO

    def balances(self) -> bool:
        return (
            self.opening + self.new + self.expansion - self.contraction - self.churn + self.reactivation == self.closing
        )


def bridge(deltas: Iterable[tuple[date, str, Decimal]], start: date, end: date) -> Bridge:
    """MRR bridge from ``start`` to ``end`` (both inclusive) of ``(date, kind, delta)`` movements.

    Opening: MRR on the day before ``start`` (the movements before it); closing: MRR on ``end``.
    """
    result = Bridge()
    for day, kind, delta in deltas:
        delta = Decimal(delta)
        if day < start:
            result.opening += delta
        elif day <= end:
            if kind in (CONTRACTION, CHURN):
                setattr(result, kind, getattr(result, kind) - delta)
            else:
                setattr(result, kind, getattr(result, kind) + delta)
        else:
            continue
        result.closing += delta
    return result


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """``numerator / denominator``, or None when the denominator is 0 (a rate of nothing is undefined)."""
    if not denominator:
        return None
    return Decimal(numerator) / Decimal(denominator)


@dataclass(frozen=True)
class Rates:
    """Churn and retention rates of a period (fractions, not percent; None when undefined)."""

    logo_churn: Decimal | None
    gross_revenue_churn: Decimal | None
    net_revenue_churn: Decimal | None
    net_revenue_retention: Decimal | None


def rates(period: Bridge, customers_at_start: int, customers_lost: int) -> Rates:
    """Rates of a period from its bridge and the customer counts.

    * logo churn = customers lost ÷ customers at start;
    * gross revenue churn = (churn + contraction) ÷ opening MRR;
    * net revenue churn = (churn + contraction − expansion) ÷ opening MRR;
    * net revenue retention = (opening + expansion − contraction − churn) ÷ opening MRR.

    New and reactivated MRR are not part of any rate (they do not come from the opening base).
    """
    opening = period.opening
    lost = period.churn + period.contraction
    return Rates(
        logo_churn=ratio(Decimal(customers_lost), Decimal(customers_at_start)),
        gross_revenue_churn=ratio(lost, opening),
        net_revenue_churn=ratio(lost - period.expansion, opening),
        net_revenue_retention=ratio(opening + period.expansion - lost, opening),
    )


def clv(arpa: Decimal, gross_margin: Decimal, revenue_churn: Decimal | None) -> Decimal | None:
    """Customer lifetime value = ARPA × gross margin ÷ monthly gross revenue churn rate (None without churn)."""
    if not revenue_churn:
        return None
    return Decimal(arpa) * Decimal(gross_margin) / Decimal(revenue_churn)


@dataclass
class CohortRow:
    """A signup month's cohort: customers and MRR still there at the end of each month after the signup."""

    month: date
    customers: list[int] = field(default_factory=list)
    revenue: list[Decimal] = field(default_factory=list)


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    """First day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_end(day: date) -> date:
    return date.fromordinal(add_months(day, 1).toordinal() - 1)


def months_between(start: date, end: date) -> Decimal:
    """Length of the period from ``start`` to ``end`` (inclusive) in months: whole calendar months when it
    starts on a 1st and ends on a month's last day, else its days ÷ 30."""
    if start.day == 1 and end == month_end(end) and end >= start:
        return Decimal((end.year - start.year) * 12 + end.month - start.month + 1)
    return Decimal((end - start).days + 1) / Decimal(30)


def cohorts(
    signups: dict[object, date], mrr_by_customer: dict[object, dict[date, Decimal]], first: date, months: int
) -> list[CohortRow]:
    """Cohort retention table.

    :param signups: customer → day the customer first had a positive MRR
    :param mrr_by_customer: customer → {month end: MRR on that day}
    :param first: first signup month of the table
    :param months: number of signup months (and of columns)
    :return: one row per signup month; column ``k`` = customers with a positive MRR, and their MRR,
        at the end of the ``k``-th month after the signup month (column 0: the signup month itself);
        columns after the last month of the table are left out
    """
    last = add_months(first, months)
    members = defaultdict(list)
    for customer, signup in signups.items():
        if first <= signup < last:
            members[month_start(signup)].append(customer)
    table = []
    for index in range(months):
        month = add_months(first, index)
        row = CohortRow(month)
        for offset in range(months - index):
            day = month_end(add_months(month, offset))
            values = [mrr_by_customer.get(customer, {}).get(day, ZERO) for customer in members.get(month, ())]
            row.customers.append(sum(1 for value in values if value > 0))
            row.revenue.append(sum(values, ZERO))
        table.append(row)
    return table
