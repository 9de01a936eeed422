"""Tests for ``billing_core.periods`` (pure Python, no Odoo).

Run with::

    cd /work/main && PYTHONPATH=. python3 -m pytest -q -p no:cacheprovider -p no:odoo billing_core/tests

(``-p no:odoo`` disables the pytest-odoo plugin, whose autouse session fixture
would otherwise try to load an Odoo registry and fail without a database.)

Expected dates are computed independently of the code under test, with
``calendar.monthrange`` and brute-force searches, or written out literally.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_core.periods import (
    ALIGNMENTS,
    ANNIVERSARY,
    CALENDAR,
    DAY,
    MONTH,
    UNITS,
    WEEK,
    YEAR,
    Interval,
    Period,
    add_interval,
    add_months,
    due_periods,
    index_of_day,
    invoice_date_of,
    period_containing,
    period_for_index,
)

# database=None: don't write a .hypothesis/ example database into the repo
PROPERTY = settings(max_examples=200, deadline=None, database=None)

ONE_DAY = timedelta(days=1)

anchors = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))
intervals = st.builds(Interval, count=st.integers(1, 12), unit=st.sampled_from(UNITS))
alignments = st.sampled_from(ALIGNMENTS)


@st.composite
def month_end_heavy_anchors(draw):
    """Anchors whose day of month is often 28-31, where clamping matters."""
    year = draw(st.integers(1990, 2100))
    month = draw(st.integers(1, 12))
    last = calendar.monthrange(year, month)[1]
    day = draw(st.one_of(st.integers(1, last), st.integers(max(1, last - 3), last)))
    return date(year, month, day)


# ---------------------------------------------------------------------------
# Independent reference helpers
# ---------------------------------------------------------------------------


def ref_add_months(day: date, months: int, anchor_day: int | None = None) -> date:
    """Reference month addition: step month by month, clamp with monthrange."""
    anchor_day = anchor_day or day.day
    year, month = day.year, day.month
    step = 1 if months >= 0 else -1
    for _ in range(abs(months)):
        month += step
        if month == 13:
            year, month = year + 1, 1
        elif month == 0:
            year, month = year - 1, 12
    return date(year, month, min(anchor_day, calendar.monthrange(year, month)[1]))


def is_calendar_boundary(day: date, interval: Interval) -> bool:
    """Whether ``day`` starts a calendar-aligned period (by the documented rules)."""
    if interval.unit == WEEK:
        # weeks start on Monday; N-week periods every N weeks counted from 0001-01-01 (a Monday)
        return day.weekday() == 0 and ((day - date(1, 1, 1)).days // 7) % interval.count == 0
    if interval.unit == MONTH:
        return day.day == 1 and (day.year * 12 + day.month - 1) % interval.count == 0
    if interval.unit == YEAR:
        return day.month == 1 and day.day == 1 and day.year % interval.count == 0
    raise AssertionError("day intervals have no calendar boundary")


def _candidates(day: date, interval: Interval, forward: bool):
    """Mondays (weeks) or 1sts of the month (months/years) from ``day`` on, in one direction."""
    if interval.unit == WEEK:
        monday = day - timedelta(days=day.weekday())
        step = timedelta(weeks=1 if forward else -1)
        if forward and monday <= day:
            monday += timedelta(weeks=1)
        while True:
            yield monday
            monday += step
    first = day.replace(day=1)
    if forward:
        first = ref_add_months(first, 1)
    while True:
        yield first
        first = ref_add_months(first, 1 if forward else -1)


def ref_boundary_on_or_before(day: date, interval: Interval) -> date:
    if interval.unit == DAY:
        return day
    if is_calendar_boundary(day, interval):
        return day
    for candidate in _candidates(day, interval, forward=False):
        if candidate <= day and is_calendar_boundary(candidate, interval):
            return candidate
    raise AssertionError("unreachable")


def ref_boundary_after(day: date, interval: Interval) -> date:
    """The first calendar boundary strictly after ``day``."""
    if interval.unit == DAY:
        return day + timedelta(days=interval.count)
    for candidate in _candidates(day, interval, forward=True):
        if candidate > day and is_calendar_boundary(candidate, interval):
            return candidate
    raise AssertionError("unreachable")


def test_reference_helpers_agree_with_hand_computed_values():
    assert ref_add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert ref_add_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert ref_add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert ref_boundary_after(date(2024, 2, 15), Interval(3, MONTH)) == date(2024, 4, 1)
    assert ref_boundary_on_or_before(date(2024, 2, 15), Interval(3, MONTH)) == date(2024, 1, 1)
    assert ref_boundary_after(date(2024, 1, 17), Interval(1, WEEK)) == date(2024, 1, 22)
    assert ref_boundary_on_or_before(date(2024, 1, 17), Interval(1, WEEK)) == date(2024, 1, 15)


# ---------------------------------------------------------------------------
# Interval / Period basics
# ---------------------------------------------------------------------------


def test_interval_rejects_unknown_unit():
    with pytest.raises(ValueError):
        Interval(1, "fortnight")


@pytest.mark.parametrize("count", [0, -1])
def test_interval_rejects_count_below_one(count):
    with pytest.raises(ValueError):
        Interval(count, MONTH)


def test_period_for_index_rejects_negative_index():
    with pytest.raises(ValueError):
        period_for_index(date(2024, 1, 1), Interval(1, MONTH), ANNIVERSARY, -1)


def test_period_for_index_rejects_unknown_alignment():
    with pytest.raises(ValueError):
        period_for_index(date(2024, 1, 1), Interval(1, MONTH), "fiscal", 0)


def test_period_days_factor_and_partial_flag():
    full = Period(0, date(2024, 1, 1), date(2024, 1, 31), date(2024, 1, 1), date(2024, 1, 31))
    assert full.days == 31
    assert full.full_days == 31
    assert full.factor == 1
    assert not full.is_partial
    part = Period(0, date(2024, 1, 15), date(2024, 1, 31), date(2024, 1, 1), date(2024, 1, 31))
    assert part.days == 17
    assert part.factor == Fraction(17, 31)
    assert part.is_partial


def test_truncated_returns_same_period_when_last_day_on_or_after_end():
    period = Period(3, date(2024, 4, 1), date(2024, 4, 30), date(2024, 4, 1), date(2024, 4, 30))
    assert period.truncated(date(2024, 4, 30)) is period
    assert period.truncated(date(2030, 1, 1)) is period


def test_truncated_cuts_end_and_keeps_full_period():
    period = Period(3, date(2024, 4, 1), date(2024, 4, 30), date(2024, 4, 1), date(2024, 4, 30))
    cut = period.truncated(date(2024, 4, 10))
    assert cut == Period(3, date(2024, 4, 1), date(2024, 4, 10), date(2024, 4, 1), date(2024, 4, 30))
    assert cut.is_partial
    assert cut.factor == Fraction(10, 30)


def test_truncated_on_start_day_leaves_a_single_day():
    period = Period(3, date(2024, 4, 1), date(2024, 4, 30), date(2024, 4, 1), date(2024, 4, 30))
    cut = period.truncated(date(2024, 4, 1))
    assert cut.start == cut.end == date(2024, 4, 1)
    assert cut.days == 1


def test_truncated_before_start_raises():
    period = Period(3, date(2024, 4, 1), date(2024, 4, 30), date(2024, 4, 1), date(2024, 4, 30))
    with pytest.raises(ValueError):
        period.truncated(date(2024, 3, 31))


def test_truncated_keeps_a_partial_start():
    period = Period(0, date(2024, 1, 15), date(2024, 1, 31), date(2024, 1, 1), date(2024, 1, 31))
    cut = period.truncated(date(2024, 1, 20))
    assert (cut.start, cut.end, cut.full_start, cut.full_end) == (
        date(2024, 1, 15),
        date(2024, 1, 20),
        date(2024, 1, 1),
        date(2024, 1, 31),
    )
    assert cut.factor == Fraction(6, 31)


# ---------------------------------------------------------------------------
# add_months / add_interval
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "day, months, anchor_day, expected",
    [
        (date(2024, 1, 31), 1, None, date(2024, 2, 29)),  # leap year clamp
        (date(2023, 1, 31), 1, None, date(2023, 2, 28)),  # non-leap clamp
        (date(2024, 1, 31), 3, None, date(2024, 4, 30)),
        (date(2024, 2, 29), 12, None, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, None, date(2028, 2, 29)),
        (date(2024, 2, 28), 1, 31, date(2024, 3, 31)),  # anchor day restores the month end
        (date(2023, 2, 28), 1, 30, date(2023, 3, 30)),
        (date(2024, 12, 15), 1, None, date(2025, 1, 15)),  # year wrap forward
        (date(2024, 1, 15), -1, None, date(2023, 12, 15)),  # year wrap backward
        (date(2024, 3, 31), -1, None, date(2024, 2, 29)),  # negative with clamping
        (date(2023, 3, 31), -1, None, date(2023, 2, 28)),
        (date(2024, 5, 31), -25, None, date(2022, 4, 30)),
        (date(2024, 5, 17), 0, None, date(2024, 5, 17)),
        (date(2024, 5, 17), 0, 31, date(2024, 5, 31)),
    ],
)
def test_add_months_clamps_to_month_end(day, months, anchor_day, expected):
    assert add_months(day, months, anchor_day) == expected


@PROPERTY
@given(
    day=st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)),
    months=st.integers(-240, 240),
    anchor_day=st.none() | st.integers(1, 31),
)
def test_add_months_matches_month_by_month_reference(day, months, anchor_day):
    assert add_months(day, months, anchor_day) == ref_add_months(day, months, anchor_day)


@pytest.mark.parametrize(
    "day, interval, times, expected",
    [
        (date(2024, 3, 10), Interval(5, DAY), -1, date(2024, 3, 5)),
        (date(2024, 3, 1), Interval(1, DAY), -1, date(2024, 2, 29)),
        (date(2024, 3, 10), Interval(2, WEEK), -1, date(2024, 2, 25)),
        (date(2024, 3, 10), Interval(1, WEEK), -3, date(2024, 2, 18)),
        (date(2024, 3, 31), Interval(1, MONTH), -1, date(2024, 2, 29)),
        (date(2024, 5, 31), Interval(3, MONTH), -1, date(2024, 2, 29)),
        (date(2024, 1, 15), Interval(2, MONTH), -6, date(2023, 1, 15)),
        (date(2024, 2, 29), Interval(1, YEAR), -1, date(2023, 2, 28)),
        (date(2028, 2, 29), Interval(2, YEAR), -2, date(2024, 2, 29)),
        (date(2024, 7, 4), Interval(3, MONTH), 0, date(2024, 7, 4)),
        (date(2024, 1, 31), Interval(1, MONTH), 2, date(2024, 3, 31)),
        (date(2024, 1, 1), Interval(3, WEEK), 2, date(2024, 2, 12)),
    ],
)
def test_add_interval_supports_negative_and_zero_times(day, interval, times, expected):
    assert add_interval(day, interval, times) == expected


def test_add_interval_negative_times_with_anchor_day_returns_to_month_end():
    assert add_interval(date(2024, 4, 30), Interval(1, MONTH), -1, anchor_day=31) == date(2024, 3, 31)
    assert add_interval(date(2024, 4, 30), Interval(2, MONTH), -1, anchor_day=31) == date(2024, 2, 29)


@PROPERTY
@given(
    day=anchors,
    count=st.integers(1, 12),
    unit=st.sampled_from([DAY, WEEK]),
    times=st.integers(-50, 50),
)
def test_add_interval_of_days_and_weeks_is_invertible(day, count, unit, times):
    interval = Interval(count, unit)
    moved = add_interval(day, interval, times)
    per_unit = 1 if unit == DAY else 7
    assert (moved - day).days == count * times * per_unit
    assert add_interval(moved, interval, -times) == day


@PROPERTY
@given(day=anchors, count=st.integers(1, 12), unit=st.sampled_from([MONTH, YEAR]), times=st.integers(-20, 20))
def test_add_interval_of_months_and_years_matches_reference(day, count, unit, times):
    months = count * times * (12 if unit == YEAR else 1)
    assert add_interval(day, Interval(count, unit), times) == ref_add_months(day, months)


# ---------------------------------------------------------------------------
# period_for_index: tiling
# ---------------------------------------------------------------------------


@PROPERTY
@given(anchor=anchors, interval=intervals, alignment=alignments, index=st.integers(0, 40))
def test_consecutive_periods_tile_without_gap_or_overlap(anchor, interval, alignment, index):
    period = period_for_index(anchor, interval, alignment, index)
    following = period_for_index(anchor, interval, alignment, index + 1)
    assert period.index == index
    assert following.index == index + 1
    # no gap, no overlap
    assert following.start == period.end + ONE_DAY
    assert following.full_start == period.full_end + ONE_DAY
    for p in (period, following):
        assert p.start <= p.end
        assert p.full_start <= p.start <= p.end == p.full_end
        assert 0 < p.factor <= 1
    # only index 0 can be partial, and only with calendar alignment
    assert not following.is_partial
    if alignment == ANNIVERSARY or index > 0:
        assert not period.is_partial
    if index == 0:
        assert period.start == anchor


@PROPERTY
@given(anchor=anchors, interval=intervals, alignment=alignments)
def test_first_periods_tile_from_the_anchor(anchor, interval, alignment):
    periods = [period_for_index(anchor, interval, alignment, n) for n in range(25)]
    assert periods[0].start == anchor
    for before, after in zip(periods, periods[1:], strict=False):
        assert after.start == before.end + ONE_DAY
    assert [p.is_partial for p in periods[1:]] == [False] * 24


@PROPERTY
@given(anchor=anchors, interval=intervals, index=st.integers(0, 40))
def test_anniversary_periods_have_the_nominal_length(anchor, interval, index):
    period = period_for_index(anchor, interval, ANNIVERSARY, index)
    if interval.unit in (DAY, WEEK):
        per_unit = 1 if interval.unit == DAY else 7
        assert period.days == interval.count * per_unit
        assert (period.start - anchor).days == index * interval.count * per_unit
    else:
        months = interval.count * (12 if interval.unit == YEAR else 1)
        assert period.start == ref_add_months(anchor, index * months, anchor.day)
        assert period.end == ref_add_months(anchor, (index + 1) * months, anchor.day) - ONE_DAY


# ---------------------------------------------------------------------------
# Month-end anniversaries
# ---------------------------------------------------------------------------


def _month_end(year, month):
    return date(year, month, calendar.monthrange(year, month)[1])


@pytest.mark.parametrize("year", [2024, 2023])
def test_month_end_anniversary_stays_on_month_end(year):
    anchor = date(year, 1, 31)
    periods = [period_for_index(anchor, Interval(1, MONTH), ANNIVERSARY, n) for n in range(36)]
    expected_starts = [_month_end(year + (n // 12), n % 12 + 1) for n in range(36)]
    assert [p.start for p in periods] == expected_starts
    # each period ends the day before the next month end
    assert [p.end for p in periods] == [s - ONE_DAY for s in expected_starts[1:]] + [_month_end(year + 3, 1) - ONE_DAY]


def test_month_end_anniversary_literal_leap_year():
    anchor = date(2024, 1, 31)
    starts = [period_for_index(anchor, Interval(1, MONTH), ANNIVERSARY, n).start for n in range(5)]
    assert starts == [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30), date(2024, 5, 31)]
    first = period_for_index(anchor, Interval(1, MONTH), ANNIVERSARY, 0)
    second = period_for_index(anchor, Interval(1, MONTH), ANNIVERSARY, 1)
    assert (first.start, first.end) == (date(2024, 1, 31), date(2024, 2, 28))
    assert (second.start, second.end) == (date(2024, 2, 29), date(2024, 3, 30))


def test_month_end_anniversary_literal_non_leap_year():
    anchor = date(2023, 1, 31)
    starts = [period_for_index(anchor, Interval(1, MONTH), ANNIVERSARY, n).start for n in range(4)]
    assert starts == [date(2023, 1, 31), date(2023, 2, 28), date(2023, 3, 31), date(2023, 4, 30)]
    assert period_for_index(anchor, Interval(1, MONTH), ANNIVERSARY, 0).end == date(2023, 2, 27)


def test_feb_29_yearly_anniversary_returns_to_feb_29_in_leap_years():
    anchor = date(2024, 2, 29)
    periods = [period_for_index(anchor, Interval(1, YEAR), ANNIVERSARY, n) for n in range(9)]
    assert [p.start for p in periods] == [
        date(2024, 2, 29),
        date(2025, 2, 28),
        date(2026, 2, 28),
        date(2027, 2, 28),
        date(2028, 2, 29),
        date(2029, 2, 28),
        date(2030, 2, 28),
        date(2031, 2, 28),
        date(2032, 2, 29),
    ]
    assert [p.end for p in periods[:5]] == [
        date(2025, 2, 27),
        date(2026, 2, 27),
        date(2027, 2, 27),
        date(2028, 2, 28),
        date(2029, 2, 27),
    ]


def test_month_end_anniversary_every_two_months_stays_on_month_end():
    anchor = date(2023, 8, 31)
    starts = [period_for_index(anchor, Interval(2, MONTH), ANNIVERSARY, n).start for n in range(6)]
    assert starts == [
        date(2023, 8, 31),
        date(2023, 10, 31),
        date(2023, 12, 31),
        date(2024, 2, 29),
        date(2024, 4, 30),
        date(2024, 6, 30),
    ]


@PROPERTY
@given(anchor=month_end_heavy_anchors(), count=st.integers(1, 12), index=st.integers(0, 60))
def test_monthly_anniversary_never_drifts_from_the_anchor_day(anchor, count, index):
    start = period_for_index(anchor, Interval(count, MONTH), ANNIVERSARY, index).start
    year, month = divmod(anchor.year * 12 + anchor.month - 1 + index * count, 12)
    month += 1
    assert start == date(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


# ---------------------------------------------------------------------------
# Calendar alignment
# ---------------------------------------------------------------------------


def test_calendar_monthly_prorates_first_period_by_days():
    anchor = date(2024, 1, 15)
    first = period_for_index(anchor, Interval(1, MONTH), CALENDAR, 0)
    assert (first.start, first.end) == (date(2024, 1, 15), date(2024, 1, 31))
    assert (first.full_start, first.full_end) == (date(2024, 1, 1), date(2024, 1, 31))
    assert first.is_partial
    assert first.factor == Fraction(17, 31)
    second = period_for_index(anchor, Interval(1, MONTH), CALENDAR, 1)
    assert (second.start, second.end) == (date(2024, 2, 1), date(2024, 2, 29))
    assert second.factor == 1


def test_calendar_quarterly_boundaries_fall_in_jan_apr_jul_oct():
    anchor = date(2024, 2, 15)
    periods = [period_for_index(anchor, Interval(3, MONTH), CALENDAR, n) for n in range(6)]
    assert (periods[0].start, periods[0].end) == (date(2024, 2, 15), date(2024, 3, 31))
    assert periods[0].full_start == date(2024, 1, 1)
    assert periods[0].factor == Fraction(15 + 31, 31 + 29 + 31)  # 15-29 Feb + March
    assert [(p.start, p.end) for p in periods[1:]] == [
        (date(2024, 4, 1), date(2024, 6, 30)),
        (date(2024, 7, 1), date(2024, 9, 30)),
        (date(2024, 10, 1), date(2024, 12, 31)),
        (date(2025, 1, 1), date(2025, 3, 31)),
        (date(2025, 4, 1), date(2025, 6, 30)),
    ]


def test_calendar_quarterly_anchor_in_last_month_of_quarter():
    first = period_for_index(date(2024, 12, 20), Interval(3, MONTH), CALENDAR, 0)
    assert (first.full_start, first.end) == (date(2024, 10, 1), date(2024, 12, 31))
    assert first.factor == Fraction(12, 92)


def test_calendar_yearly_first_period_ends_on_dec_31():
    anchor = date(2024, 1, 15)
    first = period_for_index(anchor, Interval(1, YEAR), CALENDAR, 0)
    assert (first.start, first.end) == (date(2024, 1, 15), date(2024, 12, 31))
    assert first.full_start == date(2024, 1, 1)
    assert first.factor == Fraction(352, 366)
    second = period_for_index(anchor, Interval(1, YEAR), CALENDAR, 1)
    assert (second.start, second.end) == (date(2025, 1, 1), date(2025, 12, 31))


def test_calendar_weekly_first_period_ends_on_sunday():
    anchor = date(2024, 1, 17)  # a Wednesday
    first = period_for_index(anchor, Interval(1, WEEK), CALENDAR, 0)
    assert (first.start, first.end) == (date(2024, 1, 17), date(2024, 1, 21))
    assert first.end.weekday() == 6
    assert first.full_start == date(2024, 1, 15)
    assert first.factor == Fraction(5, 7)
    second = period_for_index(anchor, Interval(1, WEEK), CALENDAR, 1)
    assert (second.start, second.end) == (date(2024, 1, 22), date(2024, 1, 28))
    assert second.start.weekday() == 0


@pytest.mark.parametrize(
    "anchor, interval",
    [
        (date(2024, 1, 1), Interval(1, MONTH)),
        (date(2024, 4, 1), Interval(3, MONTH)),
        (date(2024, 1, 1), Interval(1, YEAR)),
        (date(2024, 1, 15), Interval(1, WEEK)),  # a Monday
        (date(2024, 3, 7), Interval(1, DAY)),
    ],
)
def test_calendar_anchor_on_a_boundary_gives_a_full_first_period(anchor, interval):
    first = period_for_index(anchor, interval, CALENDAR, 0)
    assert first.start == first.full_start == anchor
    assert not first.is_partial
    assert first.factor == 1


@PROPERTY
@given(anchor=anchors, interval=intervals)
def test_calendar_first_period_factor_is_days_to_boundary_over_full_period(anchor, interval):
    first = period_for_index(anchor, interval, CALENDAR, 0)
    previous_boundary = ref_boundary_on_or_before(anchor, interval)
    next_boundary = ref_boundary_after(anchor, interval)
    assert first.start == anchor
    assert first.full_start == previous_boundary
    assert first.end == first.full_end == next_boundary - ONE_DAY
    assert first.factor == Fraction((next_boundary - anchor).days, (next_boundary - previous_boundary).days)
    assert first.is_partial == (anchor != previous_boundary)


@PROPERTY
@given(anchor=anchors, interval=intervals, index=st.integers(1, 40))
def test_calendar_later_periods_are_full_and_start_on_boundaries(anchor, interval, index):
    period = period_for_index(anchor, interval, CALENDAR, index)
    assert period.factor == 1
    assert not period.is_partial
    if interval.unit != DAY:
        assert is_calendar_boundary(period.start, interval)
        assert is_calendar_boundary(period.end + ONE_DAY, interval)
        # no boundary strictly inside the period
        assert ref_boundary_after(period.start, interval) == period.end + ONE_DAY


# ---------------------------------------------------------------------------
# index_of_day / period_containing
# ---------------------------------------------------------------------------


@PROPERTY
@given(anchor=anchors, interval=intervals, alignment=alignments, offset=st.integers(0, 3660))
def test_period_containing_contains_the_day(anchor, interval, alignment, offset):
    day = anchor + timedelta(days=offset)
    index = index_of_day(anchor, interval, alignment, day)
    period = period_containing(anchor, interval, alignment, day)
    assert period.index == index
    assert period == period_for_index(anchor, interval, alignment, index)
    assert period.start <= day <= period.end
    if index > 0:
        assert period_for_index(anchor, interval, alignment, index - 1).end < day


@pytest.mark.parametrize("alignment", ALIGNMENTS)
def test_index_of_day_on_the_anchor_is_zero(alignment):
    assert index_of_day(date(2024, 1, 15), Interval(1, MONTH), alignment, date(2024, 1, 15)) == 0


def test_index_of_day_examples():
    anchor = date(2024, 1, 31)
    monthly = Interval(1, MONTH)
    assert index_of_day(anchor, monthly, ANNIVERSARY, date(2024, 2, 28)) == 0
    assert index_of_day(anchor, monthly, ANNIVERSARY, date(2024, 2, 29)) == 1
    assert index_of_day(anchor, monthly, ANNIVERSARY, date(2034, 1, 31)) == 120
    assert index_of_day(anchor, monthly, CALENDAR, date(2024, 1, 31)) == 0
    assert index_of_day(anchor, monthly, CALENDAR, date(2024, 2, 1)) == 1


def test_index_of_day_before_anchor_raises():
    with pytest.raises(ValueError):
        index_of_day(date(2024, 1, 15), Interval(1, MONTH), ANNIVERSARY, date(2024, 1, 14))


# ---------------------------------------------------------------------------
# invoice_date_of / due_periods
# ---------------------------------------------------------------------------


def test_invoice_date_is_start_in_advance_and_day_after_end_in_arrears():
    period = Period(0, date(2024, 1, 1), date(2024, 1, 31), date(2024, 1, 1), date(2024, 1, 31))
    assert invoice_date_of(period, True) == date(2024, 1, 1)
    assert invoice_date_of(period, False) == date(2024, 2, 1)


MONTHLY = Interval(1, MONTH)
JAN_1 = date(2024, 1, 1)


def _spans(periods):
    return [(p.start, p.end) for p in periods]


def test_due_periods_in_advance_bills_a_period_on_its_first_day():
    assert _spans(due_periods(JAN_1, MONTHLY, ANNIVERSARY, JAN_1, date(2023, 12, 31))) == []
    assert _spans(due_periods(JAN_1, MONTHLY, ANNIVERSARY, JAN_1, date(2024, 1, 1))) == [
        (date(2024, 1, 1), date(2024, 1, 31))
    ]
    assert len(due_periods(JAN_1, MONTHLY, ANNIVERSARY, JAN_1, date(2024, 1, 31))) == 1
    assert len(due_periods(JAN_1, MONTHLY, ANNIVERSARY, JAN_1, date(2024, 2, 1))) == 2


def test_due_periods_in_arrears_bills_a_period_the_day_after_it_ends():
    def due(ref):
        return _spans(due_periods(JAN_1, MONTHLY, ANNIVERSARY, JAN_1, ref, in_advance=False))

    assert due(date(2024, 1, 1)) == []
    assert due(date(2024, 1, 31)) == []
    assert due(date(2024, 2, 1)) == [(date(2024, 1, 1), date(2024, 1, 31))]
    assert due(date(2024, 2, 29)) == [(date(2024, 1, 1), date(2024, 1, 31))]
    assert due(date(2024, 3, 1)) == [(date(2024, 1, 1), date(2024, 1, 31)), (date(2024, 2, 1), date(2024, 2, 29))]


def test_due_periods_catch_up_returns_every_missed_period_oldest_first_once():
    due = due_periods(JAN_1, MONTHLY, ANNIVERSARY, JAN_1, date(2024, 6, 15))
    assert [p.index for p in due] == [0, 1, 2, 3, 4, 5]
    assert [p.start for p in due] == [date(2024, m, 1) for m in range(1, 7)]
    assert all(p.factor == 1 for p in due)


def test_due_periods_catch_up_in_arrears():
    due = due_periods(JAN_1, MONTHLY, ANNIVERSARY, JAN_1, date(2024, 6, 15), in_advance=False)
    assert [p.start for p in due] == [date(2024, m, 1) for m in range(1, 6)]


def test_due_periods_from_mid_period_next_start_bills_only_the_rest():
    due = due_periods(JAN_1, MONTHLY, ANNIVERSARY, date(2024, 1, 16), date(2024, 1, 16))
    assert len(due) == 1
    rest = due[0]
    assert rest.index == 0
    assert (rest.start, rest.end) == (date(2024, 1, 16), date(2024, 1, 31))
    assert (rest.full_start, rest.full_end) == (date(2024, 1, 1), date(2024, 1, 31))
    assert rest.factor == Fraction(16, 31)
    assert rest.factor < 1


def test_due_periods_from_mid_period_continues_with_full_periods():
    due = due_periods(JAN_1, MONTHLY, ANNIVERSARY, date(2024, 1, 16), date(2024, 3, 1))
    assert _spans(due) == [
        (date(2024, 1, 16), date(2024, 1, 31)),
        (date(2024, 2, 1), date(2024, 2, 29)),
        (date(2024, 3, 1), date(2024, 3, 31)),
    ]
    assert [p.factor for p in due] == [Fraction(16, 31), 1, 1]


def test_due_periods_from_mid_period_in_arrears_waits_for_period_end():
    assert due_periods(JAN_1, MONTHLY, ANNIVERSARY, date(2024, 1, 16), date(2024, 1, 31), in_advance=False) == []
    due = due_periods(JAN_1, MONTHLY, ANNIVERSARY, date(2024, 1, 16), date(2024, 2, 1), in_advance=False)
    assert _spans(due) == [(date(2024, 1, 16), date(2024, 1, 31))]


def test_due_periods_last_day_truncates_last_period_and_stops():
    due = due_periods(JAN_1, MONTHLY, ANNIVERSARY, JAN_1, date(2025, 12, 31), last_day=date(2024, 3, 15))
    assert _spans(due) == [
        (date(2024, 1, 1), date(2024, 1, 31)),
        (date(2024, 2, 1), date(2024, 2, 29)),
        (date(2024, 3, 1), date(2024, 3, 15)),
    ]
    assert due[-1].full_end == date(2024, 3, 31)
    assert due[-1].factor == Fraction(15, 31)


def test_due_periods_last_day_on_a_period_end_is_not_partial():
    due = due_periods(JAN_1, MONTHLY, ANNIVERSARY, JAN_1, date(2025, 12, 31), last_day=date(2024, 2, 29))
    assert _spans(due) == [(date(2024, 1, 1), date(2024, 1, 31)), (date(2024, 2, 1), date(2024, 2, 29))]
    assert not due[-1].is_partial


def test_due_periods_in_arrears_cut_period_is_due_the_day_after_last_day():
    def due(ref):
        return _spans(
            due_periods(JAN_1, MONTHLY, ANNIVERSARY, JAN_1, ref, in_advance=False, last_day=date(2024, 3, 15))
        )

    assert due(date(2024, 3, 15)) == [(date(2024, 1, 1), date(2024, 1, 31)), (date(2024, 2, 1), date(2024, 2, 29))]
    assert due(date(2024, 3, 16))[-1] == (date(2024, 3, 1), date(2024, 3, 15))
    assert len(due(date(2030, 1, 1))) == 3


def test_due_periods_after_last_day_returns_nothing():
    after_end = due_periods(JAN_1, MONTHLY, ANNIVERSARY, date(2024, 4, 1), date(2030, 1, 1), last_day=date(2024, 3, 31))
    assert after_end == []


def test_due_periods_respects_limit():
    due = due_periods(JAN_1, MONTHLY, ANNIVERSARY, JAN_1, date(2024, 12, 31), limit=3)
    assert [p.index for p in due] == [0, 1, 2]
    assert due_periods(JAN_1, MONTHLY, ANNIVERSARY, JAN_1, date(2024, 12, 31), limit=0) == []
    assert len(due_periods(JAN_1, MONTHLY, ANNIVERSARY, JAN_1, date(2024, 12, 31), limit=100)) == 12


def test_due_periods_calendar_first_period_is_prorated():
    anchor = date(2024, 1, 15)
    due = due_periods(anchor, MONTHLY, CALENDAR, anchor, date(2024, 2, 1))
    assert _spans(due) == [(date(2024, 1, 15), date(2024, 1, 31)), (date(2024, 2, 1), date(2024, 2, 29))]
    assert due[0].factor == Fraction(17, 31)


def test_due_periods_next_start_before_anchor_raises():
    with pytest.raises(ValueError):
        due_periods(JAN_1, MONTHLY, ANNIVERSARY, date(2023, 12, 31), date(2024, 6, 1))


@PROPERTY
@given(
    anchor=anchors,
    interval=intervals,
    alignment=alignments,
    in_advance=st.booleans(),
    ref_offset=st.integers(-5, 800),
    last_offset=st.none() | st.integers(0, 800),
)
def test_due_periods_cover_anchor_to_last_due_end_exactly(
    anchor, interval, alignment, in_advance, ref_offset, last_offset
):
    date_ref = anchor + timedelta(days=ref_offset)
    last_day = None if last_offset is None else anchor + timedelta(days=last_offset)
    due = due_periods(anchor, interval, alignment, anchor, date_ref, in_advance, last_day)

    # exactly [anchor, due[-1].end], no gap, no overlap, oldest first, each once
    if due:
        assert due[0].start == anchor
    for n, period in enumerate(due):
        assert period.index == n
        assert period.start <= period.end
        assert invoice_date_of(period, in_advance) <= date_ref
        if last_day is not None:
            assert period.end <= last_day
        nominal = period_for_index(anchor, interval, alignment, n)
        assert period.start == nominal.start
        assert (period.full_start, period.full_end) == (nominal.full_start, nominal.full_end)
        if n < len(due) - 1:
            assert period.end == nominal.end
            assert due[n + 1].start == period.end + ONE_DAY
        else:
            expected_end = nominal.end if last_day is None else min(nominal.end, last_day)
            assert period.end == expected_end

    # nothing due was left out: the next period is not yet due (or beyond last_day)
    next_start = due[-1].end + ONE_DAY if due else anchor
    if last_day is None or next_start <= last_day:
        following = period_containing(anchor, interval, alignment, next_start)
        assert following.start == next_start
        if last_day is not None:
            following = following.truncated(last_day)
        assert invoice_date_of(following, in_advance) > date_ref

    # calling again from the day after the last billed day returns nothing new
    assert due_periods(anchor, interval, alignment, next_start, date_ref, in_advance, last_day) == []


@PROPERTY
@given(
    anchor=anchors,
    interval=intervals,
    alignment=alignments,
    in_advance=st.booleans(),
    first_offset=st.integers(0, 400),
    second_offset=st.integers(0, 400),
    last_offset=st.none() | st.integers(0, 800),
)
def test_billing_in_two_runs_equals_billing_in_one_run(
    anchor, interval, alignment, in_advance, first_offset, second_offset, last_offset
):
    first_ref = anchor + timedelta(days=first_offset)
    second_ref = first_ref + timedelta(days=second_offset)
    last_day = None if last_offset is None else anchor + timedelta(days=last_offset)
    first_run = due_periods(anchor, interval, alignment, anchor, first_ref, in_advance, last_day)
    next_start = first_run[-1].end + ONE_DAY if first_run else anchor
    second_run = due_periods(anchor, interval, alignment, next_start, second_ref, in_advance, last_day)
    assert first_run + second_run == due_periods(anchor, interval, alignment, anchor, second_ref, in_advance, last_day)


@PROPERTY
@given(
    anchor=anchors,
    interval=intervals,
    alignment=alignments,
    in_advance=st.booleans(),
    ref_offset=st.integers(0, 500),
    limit=st.integers(1, 5),
)
def test_due_periods_with_limit_returns_a_prefix_and_resumes_without_repeats(
    anchor, interval, alignment, in_advance, ref_offset, limit
):
    date_ref = anchor + timedelta(days=ref_offset)
    everything = due_periods(anchor, interval, alignment, anchor, date_ref, in_advance)
    collected = []
    next_start = anchor
    while True:
        batch = due_periods(anchor, interval, alignment, next_start, date_ref, in_advance, limit=limit)
        assert len(batch) <= limit
        if not batch:
            break
        collected.extend(batch)
        next_start = batch[-1].end + ONE_DAY
    assert collected == everything


@PROPERTY
@given(
    anchor=anchors,
    interval=intervals,
    alignment=alignments,
    start_offset=st.integers(0, 1000),
)
def test_due_periods_from_any_next_start_begins_exactly_there(anchor, interval, alignment, start_offset):
    next_start = anchor + timedelta(days=start_offset)
    containing = period_containing(anchor, interval, alignment, next_start)
    due = due_periods(anchor, interval, alignment, next_start, next_start, in_advance=True)
    assert len(due) == 1
    assert due[0].start == next_start
    assert due[0].end == containing.end
    assert due[0].index == containing.index
    if next_start > containing.full_start:
        assert due[0].factor < 1
    else:
        assert due[0].factor == 1


# ---------------------------------------------------------------------------
# dateutil.relativedelta replaced the hand-written month arithmetic (issue 15)
# ---------------------------------------------------------------------------


def former_add_months(day: date, months: int, anchor_day: int | None = None) -> date:
    """The hand-written ``add_months`` that ``relativedelta`` replaced, kept as the oracle."""
    anchor_day = anchor_day or day.day
    month_index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(month_index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(anchor_day, last))


MANY = settings(max_examples=3000, deadline=None, database=None)


@MANY
@given(
    day=st.one_of(month_end_heavy_anchors(), st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))),
    months=st.integers(-2400, 2400),
    anchor_day=st.one_of(st.none(), st.integers(0, 31)),
)
def test_relativedelta_add_months_equals_the_former_hand_written_one(day, months, anchor_day):
    """Same date, or the same ValueError (a year outside 1..9999), as the former implementation."""
    try:
        expected = former_add_months(day, months, anchor_day)
    except ValueError:
        with pytest.raises(ValueError):
            add_months(day, months, anchor_day)
        return
    assert add_months(day, months, anchor_day) == expected


@MANY
@given(anchor=month_end_heavy_anchors(), months=st.integers(0, 120))
def test_anchor_day_is_followed_not_the_previous_result(anchor, months):
    """A 31st anchor: Jan 31 -> Feb 28/29 -> Mar 31 (not Mar 28), as the schedules count from the anchor.

    Stepping one month at a time from the previous result *with the anchor day* gives the same
    dates as jumping ``months`` from the anchor, in both implementations.
    """
    stepped = anchor
    for _ in range(months):
        stepped = add_months(stepped, 1, anchor_day=anchor.day)
    jumped = add_months(anchor, months, anchor_day=anchor.day)
    assert stepped == jumped == former_add_months(anchor, months, anchor.day)


def test_month_end_anchor_comes_back_to_the_31st():
    """By hand: Jan 31 2026 + 1 month = Feb 28; Feb 28 + 1 month with anchor 31 = Mar 31; +3 = Apr 30."""
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 2, 28), 1, anchor_day=31) == date(2026, 3, 31)
    assert add_months(date(2026, 1, 31), 3, anchor_day=31) == date(2026, 4, 30)
    assert add_months(date(2024, 1, 31), 1, anchor_day=31) == date(2024, 2, 29)


@MANY
@given(anchor=month_end_heavy_anchors(), interval=intervals, alignment=alignments, index=st.integers(0, 60))
def test_periods_equal_those_of_the_former_month_arithmetic(anchor, interval, alignment, index):
    """Every period of every schedule is the one the former ``add_months`` produced."""
    from billing_core import periods

    new = period_for_index(anchor, interval, alignment, index)
    original = periods.add_months
    periods.add_months = former_add_months
    try:
        old = period_for_index(anchor, interval, alignment, index)
    finally:
        periods.add_months = original
    assert new == old
