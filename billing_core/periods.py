"""Billing-period arithmetic, free of any Odoo import.

A subscription is billed in consecutive periods that tile time without gaps or
overlaps. Periods are computed from an *anchor* date (the first billable day)
and an index ``n`` (0, 1, 2, ...), never by adding an interval to the previous
period's end: that keeps month-end anniversaries on the month end
(Jan 31 -> Feb 28/29 -> Mar 31) instead of drifting to the 28th.

Two alignments exist:

* ``anniversary``: period ``n`` starts ``n`` intervals after the anchor.
* ``calendar``: periods start on calendar boundaries (1st of the month, 1st of
  January, Monday for weeks; for N months the boundaries are the months whose
  index is a multiple of N, so quarters start in Jan/Apr/Jul/Oct). The first
  period runs from the anchor to the next boundary and is prorated by days.

All end dates are inclusive (the last day of service).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from functools import lru_cache

from dateutil.relativedelta import relativedelta

DAY = "day"
WEEK = "week"
MONTH = "month"
YEAR = "year"
UNITS = (DAY, WEEK, MONTH, YEAR)

ANNIVERSARY = "anniversary"
CALENDAR = "calendar"
ALIGNMENTS = (ANNIVERSARY, CALENDAR)


@dataclass(frozen=True)
class Interval:
    """A length of time such as "1 month" or "2 weeks"."""

    count: int
    unit: str

    def __post_init__(self):
        if self.unit not in UNITS:
            raise ValueError(f"unknown interval unit {self.unit!r}")
        if self.count < 1:
            raise ValueError(f"interval count must be at least 1, got {self.count}")


@dataclass(frozen=True)
class Period:
    """One billing period.

    ``start``/``end`` are the billed days (inclusive). ``full_start``/``full_end``
    are the nominal period they belong to; they differ from ``start``/``end``
    only for a partial period (calendar alignment's first period, or a last
    period cut by the contract's end date). ``factor`` is the share of the
    full price this period costs, by days.
    """

    index: int
    start: date
    end: date
    full_start: date
    full_end: date
    #: the usage window billed with this period (set by :func:`billing_core.schedule.due`)
    usage: Period | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def full_days(self) -> int:
        return (self.full_end - self.full_start).days + 1

    @property
    def factor(self) -> Fraction:
        return Fraction(self.days, self.full_days)

    @property
    def is_partial(self) -> bool:
        return self.start != self.full_start or self.end != self.full_end

    def truncated(self, last_day: date) -> Period:
        """This period cut so that it ends on ``last_day`` at the latest."""
        if last_day >= self.end:
            return self
        if last_day < self.start:
            raise ValueError(f"cannot truncate period starting {self.start} at {last_day}")
        return Period(self.index, self.start, last_day, self.full_start, self.full_end)


# ---------------------------------------------------------------------------
# Date arithmetic
# ---------------------------------------------------------------------------


def add_months(day: date, months: int, anchor_day: int | None = None) -> date:
    """``day`` plus ``months`` calendar months.

    The day of the month is ``anchor_day`` (default: ``day.day``), clamped to
    the length of the target month, so Jan 31 + 1 month = Feb 28 (or 29) and,
    with ``anchor_day=31``, Feb 28 + 1 month = Mar 31.

    ``relativedelta(months=n, day=d)`` does exactly that: it moves the month,
    then sets the day to ``min(d, last day of the target month)``; ``day=None``
    (or 0) keeps ``day.day``. Callers pass the schedule's anchor day and count
    ``months`` from the anchor, never from the previous result, so a 31st
    anchor comes back to the 31st after February. billing_core/tests/
    test_periods.py compares it with the former hand-written month index
    arithmetic over thousands of dates.
    """
    return day + relativedelta(months=months, day=anchor_day or None)


def add_interval(day: date, interval: Interval, times: int = 1, anchor_day: int | None = None) -> date:
    """``day`` plus ``times`` × ``interval`` (``times`` may be negative)."""
    amount = interval.count * times
    if interval.unit == DAY:
        return day + timedelta(days=amount)
    if interval.unit == WEEK:
        return day + timedelta(weeks=amount)
    if interval.unit == MONTH:
        return add_months(day, amount, anchor_day)
    return add_months(day, amount * 12, anchor_day)


def _calendar_boundary_on_or_before(day: date, interval: Interval) -> date:
    """The calendar boundary at or before ``day`` for ``interval``."""
    if interval.unit == DAY:
        return day
    if interval.unit == WEEK:
        monday = day - timedelta(days=day.weekday())
        if interval.count == 1:
            return monday
        # multi-week periods: boundaries every N weeks counted from 0001-01-01 (a Monday)
        weeks = (monday - date(1, 1, 1)).days // 7
        return monday - timedelta(weeks=weeks % interval.count)
    if interval.unit == MONTH:
        month_index = day.year * 12 + (day.month - 1)
        month_index -= month_index % interval.count
        year, month = divmod(month_index, 12)
        return date(year, month + 1, 1)
    year = day.year - (day.year % interval.count if interval.count > 1 else 0)
    return date(year, 1, 1)


# ---------------------------------------------------------------------------
# Periods
# ---------------------------------------------------------------------------


@lru_cache(maxsize=1 << 16)
def period_for_index(anchor: date, interval: Interval, alignment: str, index: int) -> Period:
    """Billing period number ``index`` (0-based) of a schedule starting on ``anchor``.

    Memoised: a pure function of hashable arguments returning a frozen :class:`Period`; a forecast or
    billing run over thousands of subscriptions asks for the same few thousand periods again and again.
    """
    if index < 0:
        raise ValueError("period index must not be negative")
    if alignment == ANNIVERSARY:
        start = add_interval(anchor, interval, index, anchor_day=anchor.day)
        end = add_interval(anchor, interval, index + 1, anchor_day=anchor.day) - timedelta(days=1)
        return Period(index, start, end, start, end)
    if alignment != CALENDAR:
        raise ValueError(f"unknown alignment {alignment!r}")
    first_boundary = _calendar_boundary_on_or_before(anchor, interval)
    full_start = add_interval(first_boundary, interval, index, anchor_day=1)
    full_end = add_interval(first_boundary, interval, index + 1, anchor_day=1) - timedelta(days=1)
    start = anchor if index == 0 else full_start
    return Period(index, start, full_end, full_start, full_end)


def index_of_day(anchor: date, interval: Interval, alignment: str, day: date) -> int:
    """Index of the period that contains ``day`` (``day`` >= ``anchor``)."""
    if day < anchor:
        raise ValueError(f"{day} lies before the schedule's anchor {anchor}")
    # estimate, then walk: at most a couple of steps either way
    approx_days = {DAY: 1, WEEK: 7, MONTH: 28, YEAR: 365}[interval.unit] * interval.count
    index = max(0, (day - anchor).days // approx_days - 1)
    while index > 0 and period_for_index(anchor, interval, alignment, index).start > day:
        index -= 1
    while period_for_index(anchor, interval, alignment, index).end < day:
        index += 1
    return index


def period_containing(anchor: date, interval: Interval, alignment: str, day: date) -> Period:
    """The period that contains ``day``."""
    return period_for_index(anchor, interval, alignment, index_of_day(anchor, interval, alignment, day))


def invoice_date_of(period: Period, in_advance: bool) -> date:
    """When a period is due: its first day in advance, the day after it in arrears."""
    return period.start if in_advance else period.end + timedelta(days=1)


def due_periods(
    anchor: date,
    interval: Interval,
    alignment: str,
    next_start: date,
    date_ref: date,
    in_advance: bool = True,
    last_day: date | None = None,
    limit: int | None = None,
):
    """The periods not yet billed (from ``next_start`` on) whose invoice date is <= ``date_ref``.

    Oldest first. A period beyond ``last_day`` (the contract's end) is never
    returned; the period containing ``last_day`` is cut at ``last_day``. In
    arrears, a period cut by ``last_day`` is due the day after ``last_day``.
    """
    if next_start < anchor:
        raise ValueError("next_start lies before the anchor")
    result = []
    index = index_of_day(anchor, interval, alignment, next_start)
    while limit is None or len(result) < limit:
        period = period_for_index(anchor, interval, alignment, index)
        if period.start < next_start:
            # the schedule was re-anchored or partly billed: bill only the rest
            period = Period(period.index, next_start, period.end, period.full_start, period.full_end)
        if last_day is not None:
            if period.start > last_day:
                break
            period = period.truncated(last_day)
        if invoice_date_of(period, in_advance) > date_ref:
            break
        result.append(period)
        index += 1
    return result
