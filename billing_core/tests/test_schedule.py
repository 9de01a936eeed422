"""Tests for ``billing_core.schedule``: what is due, from a subscription's timeline.

The stateful test at the end drives the same functions the ORM calls through
random histories (start, trial changes, pauses, resumes, ends, reactivations,
usage, billing runs on arbitrary dates, cancelled invoices billed again) and
checks after every step, against an independent record of the contract's
service days, that no day is billed twice, that every billable day up to a
run's date is billed, and that every usage day is billed exactly once.
"""

from __future__ import annotations

import os
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from billing_core import schedule
from billing_core.periods import ALIGNMENTS, DAY, MONTH, UNITS, WEEK, YEAR, Interval

ONE_DAY = timedelta(days=1)
MONTHLY = schedule.PlanRules(Interval(1, MONTH))


def days(start, end):
    return {start + timedelta(days=n) for n in range((end - start).days + 1)}


# ---------------------------------------------------------------------------
# The defects of issue 9, as pure scenarios
# ---------------------------------------------------------------------------


def test_end_trial_after_billing_does_not_bill_the_same_days_again():
    """Trial 1–14 Nov, first paid month 15 Nov – 14 Dec billed; "End Trial Today" on 7 Dec.

    The old code re-anchored on 8 Dec and billed 8 Dec – 7 Jan: 8–14 Dec twice.
    Now the new schedule starts after the billed service: 15 Dec.
    """
    timeline = schedule.start(schedule.Timeline(start=date(2026, 11, 1)), trial_end=date(2026, 11, 14))
    [first] = schedule.due(timeline, MONTHLY, date(2026, 11, 20))
    assert (first.start, first.end) == (date(2026, 11, 15), date(2026, 12, 14))
    timeline = schedule.billed_after(timeline, first)
    timeline = schedule.end_trial(timeline, date(2026, 12, 7))
    assert timeline.anchor == date(2026, 12, 15)
    [second] = schedule.due(timeline, MONTHLY, date(2026, 12, 31))
    assert (second.start, second.end) == (date(2026, 12, 15), date(2027, 1, 14))


def test_usage_before_a_pause_is_billed_after_the_resume():
    """In advance, monthly from 1 Jan; usage in January; paused 1 Feb (January's invoice
    was the only one), resumed 10 Mar. The first invoice after the resume (period
    10 Mar – 9 Apr) carries the usage of 1 Jan – 9 Mar (January's usage, and the pause)."""
    timeline = schedule.start(schedule.Timeline(start=date(2026, 1, 1)), trial_end=None)
    [jan] = schedule.due(timeline, MONTHLY, date(2026, 1, 1), has_usage=True)
    assert jan.usage is None  # nothing used before the first period
    timeline = schedule.billed_after(timeline, jan)
    timeline = schedule.pause(timeline, date(2026, 2, 1))
    assert schedule.due(timeline, MONTHLY, date(2026, 3, 9), has_usage=True) == []
    timeline = schedule.resume(timeline, date(2026, 3, 10))
    [item] = schedule.due(timeline, MONTHLY, date(2026, 3, 10), has_usage=True)
    assert (item.start, item.end) == (date(2026, 3, 10), date(2026, 4, 9))
    assert (item.usage.start, item.usage.end) == (date(2026, 1, 1), date(2026, 3, 9))


def test_catch_up_gives_each_period_its_own_usage_window():
    """Three months due at once in advance: usage windows Jan, Feb (with Feb, Mar, Apr invoices)."""
    timeline = schedule.start(schedule.Timeline(start=date(2026, 1, 1)), trial_end=None)
    items = schedule.due(timeline, MONTHLY, date(2026, 3, 1), has_usage=True)
    assert [(i.start, i.usage and i.usage.start, i.usage and i.usage.end) for i in items] == [
        (date(2026, 1, 1), None, None),
        (date(2026, 2, 1), date(2026, 1, 1), date(2026, 1, 31)),
        (date(2026, 3, 1), date(2026, 2, 1), date(2026, 2, 28)),
    ]


def test_closing_usage_window_after_the_end():
    """Ends 15 Mar, all billed to 15 Mar with usage to 28 Feb: March's 1–15 usage is due 16 Mar."""
    timeline = schedule.Timeline(
        start=date(2026, 1, 1),
        end_date=date(2026, 3, 15),
        anchor=date(2026, 1, 1),
        next_start=date(2026, 3, 16),
        usage_billed_until=date(2026, 2, 28),
        billed=((date(2026, 1, 1), date(2026, 3, 15)),),
    )
    assert schedule.due(timeline, MONTHLY, date(2026, 3, 15), has_usage=True) == []
    [item] = schedule.due(timeline, MONTHLY, date(2026, 3, 16), has_usage=True)
    assert item.index == schedule.USAGE_ONLY
    assert (item.usage.start, item.usage.end) == (date(2026, 3, 1), date(2026, 3, 15))
    assert schedule.invoice_date(item, MONTHLY) == date(2026, 3, 16)


def test_a_wrong_anchor_still_skips_billed_days():
    """Anchored 8 Dec while 15 Nov – 14 Dec is billed: the period 8 Dec – 7 Jan is billed
    from 15 Dec only (a partial period of 24 of 31 days)."""
    timeline = schedule.Timeline(
        start=date(2026, 11, 1),
        anchor=date(2026, 12, 8),
        next_start=date(2026, 12, 8),
        billed=((date(2026, 11, 15), date(2026, 12, 14)),),
    )
    [item] = schedule.due(timeline, MONTHLY, date(2026, 12, 20))
    assert (item.start, item.end, item.days, item.full_days) == (
        date(2026, 12, 15),
        date(2027, 1, 7),
        24,
        31,
    )


def test_rewind_before_the_anchor_is_refused():
    timeline = schedule.Timeline(start=date(2026, 1, 1), anchor=date(2026, 3, 10), next_start=date(2026, 4, 10))
    with pytest.raises(ValueError):
        schedule.rewind(timeline, date(2026, 1, 1))
    assert schedule.rewind(timeline, date(2026, 3, 10)).next_start == date(2026, 3, 10)


def test_free_anchor():
    billed = ((date(2026, 1, 1), date(2026, 1, 31)), (date(2026, 2, 1), date(2026, 2, 28)))
    assert schedule.free_anchor(date(2026, 1, 15), billed) == date(2026, 3, 1)
    assert schedule.free_anchor(date(2026, 3, 5), billed) == date(2026, 3, 5)


def test_first_unbilled_day_skips_only_the_billed_run_that_covers_the_day():
    """January billed again after January and February were cancelled, March still billed: the
    first unbilled day is 1 Feb (a gap), not 1 Apr as free_anchor would say; on a day inside
    March's run it is 1 Apr, and chained runs (March, April) are skipped together."""
    march = (date(2026, 3, 1), date(2026, 3, 31))
    april = (date(2026, 4, 1), date(2026, 4, 30))
    assert schedule.first_unbilled_day(date(2026, 2, 1), (march,)) == date(2026, 2, 1)
    assert schedule.free_anchor(date(2026, 2, 1), (march,)) == date(2026, 4, 1)
    assert schedule.first_unbilled_day(date(2026, 3, 1), (april, march)) == date(2026, 5, 1)
    assert schedule.first_unbilled_day(date(2026, 3, 15), (march,)) == date(2026, 4, 1)


@given(
    day=st.dates(date(2026, 1, 1), date(2026, 12, 31)),
    runs=st.lists(st.tuples(st.dates(date(2026, 1, 1), date(2026, 12, 31)), st.integers(0, 60)), max_size=6),
)
def test_first_unbilled_day_is_unbilled_and_nothing_unbilled_is_jumped(day, runs):
    """The result is not billed, and every day from ``day`` up to it is billed (no gap skipped)."""
    billed = [(start, start + timedelta(days=length)) for start, length in runs]
    result = schedule.first_unbilled_day(day, billed)

    def covered(day_):
        return any(start <= day_ <= end for start, end in billed)

    assert result >= day
    assert not covered(result)
    assert all(covered(day + timedelta(days=offset)) for offset in range((result - day).days))


# ---------------------------------------------------------------------------
# Stateful: random histories
# ---------------------------------------------------------------------------

MAX_PERIOD_DAYS = {DAY: 1, WEEK: 7, MONTH: 31, YEAR: 366}


class ContractHistory(RuleBasedStateMachine):
    """One subscription through a random history; ``self.timeline`` is what the ORM stores."""

    @initialize(
        unit=st.sampled_from(UNITS),
        count=st.integers(1, 3),
        alignment=st.sampled_from(ALIGNMENTS),
        in_advance=st.booleans(),
        start=st.dates(date(2024, 1, 1), date(2028, 12, 31)),
        trial_days=st.sampled_from([0, 0, 7, 14, 30]),
        delay=st.integers(0, 40),
        has_usage=st.booleans(),
    )
    def begin(self, unit, count, alignment, in_advance, start, trial_days, delay, has_usage):
        if unit == YEAR:
            count = 1
        self.plan = schedule.PlanRules(Interval(count, unit), alignment, in_advance)
        self.has_usage = has_usage
        trial_end = start + timedelta(days=trial_days - 1) if trial_days else None
        self.timeline = schedule.start(schedule.Timeline(start=start), trial_end)
        self.today = start + timedelta(days=delay)  # started late (back-dated) or on the day
        self.pauses = []  # [first paused day, resume day or None]
        self.windows = []  # usage windows billed
        self.usage_days = set()
        self.ended_at = None  # the day the end date was passed (state "ended")
        self.ranges = []  # billed periods: (start, end, has_usage_window)

    # --- helpers -----------------------------------------------------------
    def _bill(self):
        for item in schedule.due(self.timeline, self.plan, self.today, has_usage=self.has_usage):
            assert schedule.invoice_date(item, self.plan) <= self.today
            self.timeline = schedule.billed_after(self.timeline, item)
            if item.index != schedule.USAGE_ONLY:
                period = item
                assert period.start <= period.end and period.days <= period.full_days
                self.ranges.append((period.start, period.end, item.usage is not None))
            if item.usage is not None:
                self.windows.append((item.usage.start, item.usage.end))
        self._check_nothing_left_behind()

    def _check_nothing_left_behind(self):
        """Right after a run: every day of service up to the run's date (in arrears: up to the
        last period that has ended) is billed; trial, pauses and time after the end are not service."""
        timeline = self.timeline
        lag = 0 if self.plan.in_advance else MAX_PERIOD_DAYS[self.plan.interval.unit] * self.plan.interval.count + 1
        horizon = self.today - timedelta(days=lag)
        if timeline.end_date is not None:
            horizon = min(horizon, timeline.end_date)
        first = timeline.first_billable_day
        if horizon < first:
            return
        required = [(first, horizon)]
        for paused_from, resumed_on in self.pauses:
            gap_end = (resumed_on - ONE_DAY) if resumed_on else horizon
            required = list(subtract(required, [(paused_from, gap_end)]))
        billed = [(s, e) for s, e, _u in self.ranges]
        missing = list(subtract(required, billed))
        assert not missing, f"never billed: {missing[:2]} (run on {self.today})"

    def _in_trial(self):
        return self.timeline.trial_end is not None and self.today <= self.timeline.trial_end

    def _paused(self):
        return self.timeline.pause_date is not None

    def _ended(self):
        return self.timeline.end_date is not None and self.timeline.end_date < self.today

    # --- operations --------------------------------------------------------
    @rule(n=st.integers(1, 120))
    def wait(self, n):
        self.today += timedelta(days=n)

    @rule()
    def billing_run(self):
        self._bill()

    @precondition(lambda self: self._in_trial())
    @rule()
    def end_trial_today(self):
        self.timeline = schedule.end_trial(self.timeline, self.today)

    @precondition(lambda self: self._in_trial())
    @rule(n=st.integers(0, 40))
    def move_trial_end(self, n):
        self.timeline = schedule.move_trial_end(self.timeline, max(self.today, self.timeline.start) + timedelta(days=n))

    @precondition(lambda self: not self._paused() and not self._ended())
    @rule()
    def pause_today(self):
        # the ORM bills what is due before it pauses only when a run comes; pausing itself bills nothing
        self.timeline = schedule.pause(self.timeline, self.today)
        self.pauses.append([self.timeline.pause_date, None])

    @precondition(lambda self: self._paused() and not self._ended())
    @rule()
    def resume_today(self):
        assume(self.today >= self.timeline.pause_date)
        self._bill()  # the ORM bills what the old schedule still owes before re-anchoring
        self.timeline = schedule.resume(self.timeline, self.today)
        self.pauses[-1][1] = self.today

    @precondition(lambda self: self.timeline.end_date is None)
    @rule(n=st.integers(0, 60))
    def cancel(self, n):
        self.timeline = schedule.replace(
            self.timeline, end_date=max(self.today, self.timeline.start) + timedelta(days=n)
        )

    @precondition(lambda self: self._ended())
    @rule()
    def reactivate_today(self):
        self._bill()
        self.ended_at = self.timeline.end_date
        self.pauses.append([self.timeline.end_date + ONE_DAY, self.today])  # not in service in between
        if self._paused():
            self.pauses.append([self.timeline.pause_date, self.today])
        self.timeline = schedule.reactivate(self.timeline, self.today)

    @precondition(lambda self: self.has_usage and self.today >= self.timeline.first_billable_day)
    @rule(back=st.integers(0, 45))
    def record_usage(self, back):
        day = self.today - timedelta(days=back)
        cursor = schedule.usage_cursor(self.timeline)
        assume(day >= cursor)  # the ORM refuses usage for days already billed
        self.usage_days.add(day)

    @precondition(lambda self: any(not with_usage for _s, _e, with_usage in self.ranges))
    @rule(data=st.data())
    def cancel_invoice_and_bill_again(self, data):
        candidates = [r for r in self.ranges if not r[2] and r[0] >= self.timeline.anchor]
        assume(candidates)
        start, end, _with_usage = data.draw(st.sampled_from(candidates))
        self.ranges.remove((start, end, False))
        billed = tuple(b for b in self.timeline.billed if b != (start, end))
        self.timeline = schedule.rewind(schedule.replace(self.timeline, billed=billed), start)
        self._bill()

    # --- invariants --------------------------------------------------------
    @invariant()
    def no_day_billed_twice(self):
        assert_disjoint([(s, e) for s, e, _u in self.ranges])
        assert sorted((s, e) for s, e, _u in self.ranges) == sorted(self.timeline.billed)

    @invariant()
    def every_usage_day_billed_exactly_once(self):
        assert_disjoint(self.windows)
        cursor = schedule.usage_cursor(self.timeline)
        for day in self.usage_days:
            billed = any(s <= day <= e for s, e in self.windows)
            assert billed == (day < cursor), f"usage of {day}: billed {billed}, cursor {cursor}"


def assert_disjoint(ranges):
    ordered = sorted(ranges)
    for (_s1, e1), (s2, _e2) in zip(ordered, ordered[1:], strict=False):
        assert s2 > e1, f"{s2} billed twice"


def subtract(ranges, holes):
    """The parts of the inclusive date ``ranges`` outside the ``holes``."""
    for start, end in ranges:
        pieces = [(start, end)]
        for hole_start, hole_end in holes:
            next_pieces = []
            for s, e in pieces:
                if hole_end < s or hole_start > e:
                    next_pieces.append((s, e))
                    continue
                if hole_start > s:
                    next_pieces.append((s, hole_start - ONE_DAY))
                if hole_end < e:
                    next_pieces.append((hole_end + ONE_DAY, e))
            pieces = next_pieces
        yield from pieces


ContractHistory.TestCase.settings = settings(
    max_examples=int(os.environ.get("SB_HISTORIES", "2000")),
    stateful_step_count=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
test_contract_histories = ContractHistory.TestCase
