"""What is due, decided in one place from a subscription's timeline (no Odoo import).

The ORM keeps a subscription's billing position in a few dates (the contract's
start, trial end, end and pause; the schedule's anchor and first unbilled day;
how far usage is billed) plus the service periods its live invoices already
cover. :class:`Timeline` holds exactly that, and the functions here are the
only place where

* a lifecycle event (start, end of trial, trial moved, pause, resume,
  reactivation, a cancelled invoice billed again) moves the schedule:
  :func:`start`, :func:`end_trial`, :func:`move_trial_end`, :func:`pause`,
  :func:`resume`, :func:`reactivate`, :func:`rewind`;
* the periods and usage windows due on a date are computed: :func:`due`.

The rule that makes "never twice" hold by construction: **a schedule is never
anchored on a day that a live invoice already covers** (:func:`free_anchor`).
A new schedule starts on the event's day or on the first day after the billed
service that reaches past it, whichever is later. Usage windows are cut from a
cursor (the day after the last billed usage), so a window never overlaps an
earlier one, whatever the schedule did in between (pauses, resumes, re-anchors).

Property tests (``billing_core/tests/test_schedule.py``) drive these functions
through thousands of random histories and check after every step that no day
is billed twice, that no billable day up to a billing run's date is left
unbilled, and that every usage day is billed exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from . import periods as period_math
from .periods import Interval, Period

ONE_DAY = timedelta(days=1)

#: index of a usage-only item (the last period's usage of an advance plan, after the end)
USAGE_ONLY = -1


@dataclass(frozen=True)
class PlanRules:
    """What of the plan shapes the schedule."""

    interval: Interval
    alignment: str = period_math.ANNIVERSARY
    in_advance: bool = True


@dataclass(frozen=True)
class Timeline:
    """A subscription's billing position.

    ``billed`` are the service periods (start, end inclusive) of live invoice
    lines of the recurring lines: what the database already holds.
    ``anchor``/``next_start`` are ``None`` until the subscription starts.
    """

    start: date
    trial_end: date | None = None
    end_date: date | None = None
    pause_date: date | None = None
    anchor: date | None = None
    next_start: date | None = None
    usage_billed_until: date | None = None
    billed: tuple[tuple[date, date], ...] = field(default_factory=tuple)

    @property
    def first_billable_day(self) -> date:
        """The first day of paid service: the day after the trial, or the start."""
        return self.trial_end + ONE_DAY if self.trial_end else self.start

    @property
    def last_billable_day(self) -> date | None:
        """The last day that may be billed: the end date, or the day before a pause."""
        candidates = [d for d in (self.end_date, self.pause_date and self.pause_date - ONE_DAY) if d]
        return min(candidates) if candidates else None


# ---------------------------------------------------------------------------
# Moving the schedule
# ---------------------------------------------------------------------------


def free_anchor(proposed: date, billed) -> date:
    """``proposed``, or the day after the billed service that covers or follows it.

    Billed service periods are contiguous runs; any run that ends on or after
    ``proposed`` pushes the anchor past its end, so the new schedule can never
    bill a day that a live invoice already covers.
    """
    anchor = proposed
    for start, end in sorted(billed):
        if end >= anchor and start <= end:
            anchor = max(anchor, end + ONE_DAY)
    return anchor


def first_unbilled_day(day: date, billed) -> date:
    """``day``, or the day after the billed service that covers it (contiguous runs chain).

    Unlike :func:`free_anchor`, a billed run that starts after a gap does not move
    the day: the gap is unbilled service and must stay due. This is where the billing
    run continues after billing a released period again while later service is billed.
    """
    for start, end in sorted(billed):
        if start <= day <= end:
            day = end + ONE_DAY
    return day


def reanchored(timeline: Timeline, proposed: date) -> Timeline:
    """A new schedule starting on ``proposed`` (or later, see :func:`free_anchor`)."""
    anchor = free_anchor(proposed, timeline.billed)
    return replace(timeline, anchor=anchor, next_start=anchor)


def start(timeline: Timeline, trial_end: date | None) -> Timeline:
    """Start the contract: billing is anchored on the first day after the trial (or the start)."""
    timeline = replace(timeline, trial_end=trial_end)
    return reanchored(timeline, timeline.first_billable_day)


def end_trial(timeline: Timeline, date_ref: date) -> Timeline:
    """End the trial on ``date_ref``: paid service starts the day after (never before the start)."""
    last_trial_day = max(date_ref, timeline.start - ONE_DAY)
    return move_trial_end(timeline, last_trial_day)


def move_trial_end(timeline: Timeline, new_trial_end: date) -> Timeline:
    """Move the last trial day to ``new_trial_end`` (extend or shorten a running trial)."""
    if new_trial_end < timeline.start - ONE_DAY:
        raise ValueError(f"the trial cannot end ({new_trial_end}) before the contract starts ({timeline.start})")
    return reanchored(replace(timeline, trial_end=new_trial_end), new_trial_end + ONE_DAY)


def pause(timeline: Timeline, date_ref: date) -> Timeline:
    """Pause from ``date_ref`` on (never before the start): no later day is billed until resumed."""
    return replace(timeline, pause_date=max(date_ref, timeline.start))


def resume(timeline: Timeline, date_ref: date) -> Timeline:
    """Resume on ``date_ref``: a new schedule from that day, or after the service already billed."""
    proposed = max(date_ref, timeline.next_start or date_ref)
    return reanchored(replace(timeline, pause_date=None), proposed)


def reactivate(timeline: Timeline, date_ref: date) -> Timeline:
    """Restart an ended contract on ``date_ref`` (no end date, no pause), after what was billed."""
    proposed = max(date_ref, timeline.next_start or date_ref)
    return reanchored(replace(timeline, end_date=None, pause_date=None), proposed)


def rewind(timeline: Timeline, released_start: date) -> Timeline:
    """Bill again from ``released_start``, the first day a cancelled invoice released.

    The first unbilled day moves back; the anchor stays, so the released
    periods come out with the boundaries they were first billed with.
    """
    if timeline.anchor is None or released_start < timeline.anchor:
        raise ValueError(f"{released_start} lies before the schedule's anchor {timeline.anchor}")
    return replace(timeline, next_start=min(released_start, timeline.next_start or released_start))


# ---------------------------------------------------------------------------
# What is due
# ---------------------------------------------------------------------------


def due(
    timeline: Timeline,
    plan: PlanRules,
    date_ref: date,
    *,
    has_usage: bool = False,
    limit: int | None = None,
) -> list[Period]:
    """The periods to invoice on ``date_ref``, oldest first, each with its usage window.

    Periods come from the schedule (anchor, first unbilled day, last billable
    day); any part of a period that a live invoice already covers is left out,
    so even a wrongly anchored schedule cannot bill a day twice. With
    ``has_usage``, each item carries the usage window billed with it: in
    arrears the unbilled usage days up to the period's end, in advance those
    before the period starts (the previous period's usage, including days before a
    pause). After the contract's end, an advance plan's last usage comes as a
    usage-only item (index :data:`USAGE_ONLY`, the window as its days) due the
    day after the last day of service. ``period.usage`` is the window (or ``None``).
    """
    if timeline.anchor is None or timeline.next_start is None:
        return []
    periods = list(_unbilled_periods(timeline, plan, date_ref, limit))
    cursor = usage_cursor(timeline)
    items = []
    for period in periods:
        window = None
        if has_usage:
            if plan.in_advance:
                window_start, window_end = cursor, period.start - ONE_DAY
            else:
                # from the cursor: usage on days before the period (a pause) is not lost
                window_start, window_end = cursor, period.end
            if window_start <= window_end:
                window = Period(0, window_start, window_end, window_start, window_end)
                cursor = window_end + ONE_DAY
        items.append(replace(period, usage=window))
    if (limit is not None and len(items) >= limit) or not has_usage:
        return items
    after = replace(timeline, next_start=max(timeline.next_start, periods[-1].end + ONE_DAY)) if periods else timeline
    closing = closing_usage_window(after, plan, cursor)
    if closing is not None and invoice_date(closing, plan) <= date_ref:
        items.append(closing)
    return items


def _unbilled_periods(timeline: Timeline, plan: PlanRules, date_ref: date, limit: int | None):
    """Periods from the first unbilled day on, cut at the last billable day, minus billed days."""
    last_day = timeline.last_billable_day
    next_start = max(timeline.next_start, timeline.anchor)
    if last_day is not None and next_start > last_day:
        return
    billed = sorted(timeline.billed)
    index = period_math.index_of_day(timeline.anchor, plan.interval, plan.alignment, next_start)
    found = 0
    while True:
        period = period_math.period_for_index(timeline.anchor, plan.interval, plan.alignment, index)
        index += 1
        if period.end < next_start:
            continue
        start = max(period.start, next_start)
        end = period.end if last_day is None else min(period.end, last_day)
        if start > end:
            return
        for piece_start, piece_end in _subtract(start, end, billed):
            piece = Period(period.index, piece_start, piece_end, period.full_start, period.full_end)
            if period_math.invoice_date_of(piece, plan.in_advance) > date_ref:
                return
            yield piece
            found += 1
            if limit is not None and found >= limit:
                return
        if last_day is not None and period.end >= last_day:
            return
        if period.start > date_ref:
            return


def _subtract(start: date, end: date, billed):
    """The runs of ``start..end`` (inclusive) not covered by the sorted ``billed`` ranges."""
    cursor = start
    for billed_start, billed_end in billed:
        if billed_end < cursor or billed_start > end:
            continue
        if billed_start > cursor:
            yield cursor, billed_start - ONE_DAY
        cursor = max(cursor, billed_end + ONE_DAY)
        if cursor > end:
            return
    if cursor <= end:
        yield cursor, end


def usage_cursor(timeline: Timeline) -> date:
    """The first day of usage not billed yet."""
    if timeline.usage_billed_until is not None:
        return max(timeline.usage_billed_until + ONE_DAY, timeline.first_billable_day)
    return timeline.first_billable_day


def closing_usage_window(timeline: Timeline, plan: PlanRules, cursor: date | None = None) -> Period | None:
    """The usage still unbilled when an advance contract has ended and all its periods are billed.

    In advance, usage rides on the next period's invoice; the last period has
    none, so its usage is billed on its own the day after the last day of
    service. ``None`` when nothing is left (or the contract has not ended).
    """
    last_day = timeline.end_date
    if (
        not plan.in_advance
        or last_day is None
        or timeline.anchor is None
        or timeline.last_billable_day != last_day
        or (timeline.next_start is not None and timeline.next_start <= last_day)
    ):
        return None
    cursor = usage_cursor(timeline) if cursor is None else cursor
    if cursor > last_day:
        return None
    window = Period(0, cursor, last_day, cursor, last_day)
    return Period(USAGE_ONLY, cursor, last_day, cursor, last_day, usage=window)


def invoice_date(period: Period, plan: PlanRules) -> date:
    """When ``period`` is due: its first day in advance, the day after it in arrears and for
    a usage-only item."""
    if period.index == USAGE_ONLY:
        return period.end + ONE_DAY
    return period_math.invoice_date_of(period, plan.in_advance)


def next_invoice_date(timeline: Timeline, plan: PlanRules, *, has_usage: bool = False) -> date | None:
    """When the next item falls due (``None`` when nothing is left to bill)."""
    upcoming = due(timeline, plan, date.max - timedelta(days=400), has_usage=has_usage, limit=1)
    return invoice_date(upcoming[0], plan) if upcoming else None


def billed_after(timeline: Timeline, period: Period) -> Timeline:
    """The timeline once ``period`` (and its usage window) is invoiced, as the billing run writes it."""
    billed = timeline.billed
    next_start = timeline.next_start
    if period.index != USAGE_ONLY:
        billed = (*billed, (period.start, period.end))
        next_start = max(next_start, period.end + ONE_DAY)
    usage_until = timeline.usage_billed_until
    if period.usage is not None:
        usage_until = max(usage_until or period.usage.end, period.usage.end)
    return replace(timeline, billed=billed, next_start=next_start, usage_billed_until=usage_until)
