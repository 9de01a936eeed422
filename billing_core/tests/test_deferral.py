"""Tests for ``billing_core.deferral`` (pure Python, no Odoo).

Run with::

    cd /work/main && python3 -m pytest -q billing_core/tests/test_deferral.py

(``billing_core/tests/pytest.ini`` disables the pytest-odoo plugin, ``-p no:odoo``.)

Expected schedules are written out literally or computed here from the method's definition:
the days of the period in each calendar month (counted by walking the period day by day) or,
for the ``equal`` method, the fraction of each month covered, shared out with exact ``Fraction``
arithmetic and half-away-from-zero rounding of the running total. Nothing is copied from the
output of the code under test.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from math import floor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_core.deferral import (
    METHOD_DAYS,
    METHOD_EQUAL,
    METHODS,
    allocate,
    historical_share,
    month_end,
    needs_deferral,
    recognition_schedule,
    reduce_pending,
    round_to,
)

# database=None: don't write a .hypothesis/ example database into the repo
PROPERTY = settings(max_examples=200, deadline=None, database=None)

D = Decimal
ONE_DAY = timedelta(days=1)
CENT = D("0.01")
YEN = D("1")

# days per month of 2026 (not a leap year) and of 2028 (a leap year), January first
DAYS_2026 = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
DAYS_2028 = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


# ---------------------------------------------------------------------------
# Reference helpers (independent of the code under test)
# ---------------------------------------------------------------------------


def ref_round(value, step) -> Fraction:
    """Exact half-away-from-zero rounding of ``value`` to a multiple of ``step``."""
    value, step = Fraction(value), Fraction(step)
    magnitude = floor(abs(value) / step + Fraction(1, 2)) * step
    return magnitude if value >= 0 else -magnitude


def ref_running_total_split(amount, weights, step) -> list[Decimal]:
    """``amount`` split by ``weights``: part *i* = rounded cumulative share to *i* minus the one before."""
    total_weight = sum(Fraction(w) for w in weights)
    parts, cumulative, previous = [], Fraction(0), Fraction(0)
    for weight in weights:
        cumulative += Fraction(weight)
        rounded = ref_round(Fraction(amount) * cumulative / total_weight, step)
        parts.append(rounded - previous)
        previous = rounded
    return [D(p.numerator) / D(p.denominator) for p in parts]


def days_in_month(year: int, month: int) -> int:
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return (following - date(year, month, 1)).days


def ref_month_weights(start: date, end: date, method: str) -> list[tuple[date, Fraction]]:
    """(month end, weight) per calendar month, by walking the period one day at a time."""
    counts: dict[tuple[int, int], int] = {}
    day = start
    while day <= end:
        counts[day.year, day.month] = counts.get((day.year, day.month), 0) + 1
        day += ONE_DAY
    weights = []
    for (year, month), days in counts.items():
        length = days_in_month(year, month)
        weight = Fraction(days) if method == METHOD_DAYS else Fraction(days, length)
        weights.append((date(year, month, length), weight))
    return weights


def month_ends(year: int, days: list[int]) -> list[date]:
    return [date(year, month, last) for month, last in enumerate(days, start=1)]


def amounts(schedule) -> list[Decimal]:
    return [amount for _month, amount in schedule]


def months(schedule) -> list[date]:
    return [month for month, _amount in schedule]


def total(values) -> Decimal:
    return sum(values, D(0))


def is_multiple(value: Decimal, step: Decimal) -> bool:
    return value % step == 0


# ---------------------------------------------------------------------------
# month_end
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "day, expected",
    [
        (date(2026, 1, 1), date(2026, 1, 31)),
        (date(2026, 1, 31), date(2026, 1, 31)),
        (date(2026, 2, 10), date(2026, 2, 28)),
        (date(2028, 2, 10), date(2028, 2, 29)),  # leap year
        (date(2100, 2, 1), date(2100, 2, 28)),  # divisible by 100, not by 400: no leap year
        (date(2000, 2, 1), date(2000, 2, 29)),  # divisible by 400: leap year
        (date(2026, 4, 15), date(2026, 4, 30)),
        (date(2026, 12, 31), date(2026, 12, 31)),
    ],
)
def test_month_end_is_last_day_of_the_month(day, expected):
    assert month_end(day) == expected


# ---------------------------------------------------------------------------
# needs_deferral
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "invoice_date, start, end",
    [
        (date(2026, 3, 10), date(2026, 3, 1), date(2026, 3, 31)),  # whole invoice month
        (date(2026, 3, 31), date(2026, 3, 5), date(2026, 3, 5)),  # one day
        (date(2026, 3, 10), date(2026, 1, 1), date(2026, 3, 31)),  # started earlier, ends in the month
        (date(2026, 3, 10), date(2025, 1, 1), date(2025, 12, 31)),  # entirely in the past
    ],
)
def test_needs_deferral_false_when_service_ends_within_invoice_month(invoice_date, start, end):
    assert needs_deferral(invoice_date, start, end) is False


@pytest.mark.parametrize(
    "invoice_date, start, end",
    [
        (date(2026, 3, 31), date(2026, 3, 1), date(2026, 4, 1)),  # one day into the next month
        (date(2026, 3, 1), date(2026, 3, 1), date(2027, 2, 28)),  # a year
        (date(2026, 3, 10), date(2026, 5, 1), date(2026, 5, 31)),  # entirely in a later month
        (date(2026, 12, 15), date(2026, 12, 1), date(2027, 1, 1)),  # across the year end
    ],
)
def test_needs_deferral_true_when_service_reaches_beyond_invoice_month(invoice_date, start, end):
    assert needs_deferral(invoice_date, start, end) is True


@pytest.mark.parametrize(
    "start, end",
    [(None, date(2027, 1, 1)), (date(2026, 1, 1), None), (None, None)],
)
def test_needs_deferral_false_without_service_dates(start, end):
    assert needs_deferral(date(2026, 1, 15), start, end) is False


# ---------------------------------------------------------------------------
# recognition_schedule, method "days"
# ---------------------------------------------------------------------------


def test_days_calendar_year_gives_each_month_its_day_count():
    """365.00 over 1 Jan - 31 Dec 2026: one unit per day, so each month gets its number of days."""
    schedule = recognition_schedule(date(2026, 1, 1), date(2026, 12, 31), D("365.00"), CENT, METHOD_DAYS)
    assert schedule == list(zip(month_ends(2026, DAYS_2026), [D(n) for n in DAYS_2026], strict=True))


def test_days_leap_year_february_gets_29_days():
    """366.00 over the leap year 2028: February 2028 gets 29.00 and its month end is 29 February."""
    schedule = recognition_schedule(date(2028, 1, 1), date(2028, 12, 31), D("366.00"), CENT)
    assert schedule[1] == (date(2028, 2, 29), D("29.00"))
    assert schedule == list(zip(month_ends(2028, DAYS_2028), [D(n) for n in DAYS_2028], strict=True))


def test_days_is_the_default_method():
    start, end, amount = date(2026, 1, 15), date(2027, 1, 14), D("1200.00")
    assert recognition_schedule(start, end, amount, CENT) == recognition_schedule(start, end, amount, CENT, METHOD_DAYS)


def test_days_period_15_january_to_14_january():
    """1200.00 over 15 Jan 2026 - 14 Jan 2027 (365 days): January 2026 has 17 of them, then whole
    months, then 14 days of January 2027; shares are rounded on the running total."""
    day_counts = [17] + DAYS_2026[1:] + [14]
    assert sum(day_counts) == 365
    schedule = recognition_schedule(date(2026, 1, 15), date(2027, 1, 14), D("1200.00"), CENT)

    expected_months = month_ends(2026, DAYS_2026) + [date(2027, 1, 31)]
    assert months(schedule) == expected_months
    assert amounts(schedule) == ref_running_total_split(D("1200.00"), day_counts, CENT)
    # by hand: 17/365 * 1200 = 55.890..., cumulative 45/365 * 1200 = 147.945... -> 147.95 - 55.89
    assert amounts(schedule)[0] == D("55.89")
    assert amounts(schedule)[1] == D("92.06")
    # last: 1200 - round(351/365 * 1200 = 1153.972...) = 46.03 (and 14/365 * 1200 = 46.027...)
    assert amounts(schedule)[-1] == D("46.03")
    assert total(amounts(schedule)) == D("1200.00")


def test_single_month_period_is_one_entry():
    for method in METHODS:
        schedule = recognition_schedule(date(2026, 3, 10), date(2026, 3, 20), D("50.00"), CENT, method)
        assert schedule == [(date(2026, 3, 31), D("50.00"))], method


def test_one_day_period():
    schedule = recognition_schedule(date(2026, 2, 28), date(2026, 2, 28), D("9.99"), CENT)
    assert schedule == [(date(2026, 2, 28), D("9.99"))]


# ---------------------------------------------------------------------------
# recognition_schedule, method "equal"
# ---------------------------------------------------------------------------


def test_equal_calendar_year_gives_each_month_the_same():
    """1200.00 over 1 Jan - 31 Dec 2026: twelve full months of 100.00, February included."""
    schedule = recognition_schedule(date(2026, 1, 1), date(2026, 12, 31), D("1200.00"), CENT, METHOD_EQUAL)
    assert schedule == [(month, D("100.00")) for month in month_ends(2026, DAYS_2026)]


def test_equal_period_15_january_to_14_january():
    """1200.00 over 15 Jan 2026 - 14 Jan 2027: 17/31 + 11 + 14/31 = exactly 12 months, so 100.00 a
    month; January 2026 gets 17/31 * 100 = 54.838... -> 54.84, the eleven full months 100.00 each
    (the running total is 54.838... + 100k, always rounding to 54.84 + 100k) and January 2027 the
    rest, 14/31 * 100 = 45.161... -> 45.16."""
    schedule = recognition_schedule(date(2026, 1, 15), date(2027, 1, 14), D("1200.00"), CENT, METHOD_EQUAL)
    assert months(schedule) == month_ends(2026, DAYS_2026) + [date(2027, 1, 31)]
    assert amounts(schedule) == [D("54.84")] + [D("100.00")] * 11 + [D("45.16")]


def test_equal_leap_february_counts_as_fraction_of_29_days():
    """15 Feb 2028 - 14 Feb 2029: February 2028 is covered 15/29, February 2029 14/28; the total
    is 15/29 + 11 + 1/2 months (not exactly 12), so a full month is 1200 / (11 + 15/29 + 1/2)."""
    weights = [Fraction(15, 29)] + [Fraction(1)] * 11 + [Fraction(14, 28)]
    schedule = recognition_schedule(date(2028, 2, 15), date(2029, 2, 14), D("1200.00"), CENT, METHOD_EQUAL)
    assert months(schedule) == month_ends(2028, DAYS_2028)[1:] + [date(2029, 1, 31), date(2029, 2, 28)]
    assert amounts(schedule) == ref_running_total_split(D("1200.00"), weights, CENT)
    full_month = Fraction(1200) / (11 + Fraction(15, 29) + Fraction(1, 2))
    for amount in amounts(schedule)[1:-1]:
        assert abs(Fraction(amount) - full_month) <= Fraction(CENT)
    assert total(amounts(schedule)) == D("1200.00")


def test_equal_and_days_differ_for_february():
    """Over a calendar year, "equal" gives February a twelfth, "days" only 28/365."""
    start, end, amount = date(2026, 1, 1), date(2026, 12, 31), D("365.00")
    by_days = recognition_schedule(start, end, amount, CENT, METHOD_DAYS)
    equal = recognition_schedule(start, end, amount, CENT, METHOD_EQUAL)
    assert by_days[1][1] == D("28.00")
    assert equal[1][1] == ref_round(Fraction(365 * 2, 12), CENT) - ref_round(Fraction(365, 12), CENT)


# ---------------------------------------------------------------------------
# recognition_schedule, first_month_end
# ---------------------------------------------------------------------------


def test_first_month_end_moves_earlier_months_into_invoice_month_days():
    """Invoiced 10 March for 2026: January, February and March (31 + 28 + 31 = 90 days) are all
    recognised at the end of March; the invoice date need not be a month end."""
    schedule = recognition_schedule(
        date(2026, 1, 1), date(2026, 12, 31), D("365.00"), CENT, first_month_end=date(2026, 3, 10)
    )
    assert schedule[0] == (date(2026, 3, 31), D("90.00"))
    assert schedule[1:] == list(zip(month_ends(2026, DAYS_2026)[3:], [D(n) for n in DAYS_2026[3:]], strict=True))


def test_first_month_end_moves_earlier_months_into_invoice_month_equal():
    """Invoiced in April for 2026 at 100.00 a month: 400.00 in April, then 100.00 for May-December."""
    schedule = recognition_schedule(
        date(2026, 1, 1), date(2026, 12, 31), D("1200.00"), CENT, METHOD_EQUAL, first_month_end=date(2026, 4, 30)
    )
    assert schedule == [(date(2026, 4, 30), D("400.00"))] + [
        (month, D("100.00")) for month in month_ends(2026, DAYS_2026)[4:]
    ]


def test_first_month_end_with_partial_first_month():
    """15 Jan 2026 - 14 Jan 2027 of 1200.00 invoiced 3 February: February takes 17 + 28 = 45 days."""
    schedule = recognition_schedule(
        date(2026, 1, 15), date(2027, 1, 14), D("1200.00"), CENT, first_month_end=date(2026, 2, 3)
    )
    day_counts = [45] + DAYS_2026[2:] + [14]
    assert months(schedule) == month_ends(2026, DAYS_2026)[1:] + [date(2027, 1, 31)]
    assert amounts(schedule) == ref_running_total_split(D("1200.00"), day_counts, CENT)
    assert amounts(schedule)[0] == D("147.95")  # round(45/365 * 1200 = 147.945...)
    assert total(amounts(schedule)) == D("1200.00")


def test_first_month_end_after_the_period_puts_everything_in_invoice_month():
    """Service January-March invoiced in May: all of it is recognised at the end of May."""
    for method in METHODS:
        schedule = recognition_schedule(
            date(2026, 1, 1), date(2026, 3, 31), D("90.00"), CENT, method, first_month_end=date(2026, 5, 15)
        )
        assert schedule == [(date(2026, 5, 31), D("90.00"))], method


def test_first_month_end_before_the_period_changes_nothing():
    """Invoiced in January for March-May (billed in advance): the schedule starts in March."""
    start, end = date(2026, 3, 1), date(2026, 5, 31)
    schedule = recognition_schedule(start, end, D("92.00"), CENT, first_month_end=date(2026, 1, 20))
    assert schedule == [
        (date(2026, 3, 31), D("31.00")),
        (date(2026, 4, 30), D("30.00")),
        (date(2026, 5, 31), D("31.00")),
    ]


def test_first_month_end_in_last_month_of_the_period():
    schedule = recognition_schedule(
        date(2026, 1, 1), date(2026, 3, 31), D("90.00"), CENT, first_month_end=date(2026, 3, 1)
    )
    assert schedule == [(date(2026, 3, 31), D("90.00"))]


# ---------------------------------------------------------------------------
# recognition_schedule, rounding and sign
# ---------------------------------------------------------------------------


def test_ten_cents_over_twelve_equal_months():
    """0.10 / 12 per month; running totals 0.10 * k/12 rounded: .0083->.01, .0167->.02, .025->.03,
    .0333->.03, .0417->.04, .05, .0583->.06, .0667->.07, .075->.08, .0833->.08, .0917->.09, .10."""
    schedule = recognition_schedule(date(2026, 1, 1), date(2026, 12, 31), D("0.10"), CENT, METHOD_EQUAL)
    cents = ["0.01", "0.01", "0.01", "0.00", "0.01", "0.01", "0.01", "0.01", "0.01", "0.00", "0.01", "0.01"]
    assert amounts(schedule) == [D(c) for c in cents]


def test_ten_cents_over_twelve_months_by_days_never_negative_and_sums_exactly():
    schedule = recognition_schedule(date(2026, 1, 1), date(2026, 12, 31), D("0.10"), CENT)
    values = amounts(schedule)
    assert values == ref_running_total_split(D("0.10"), DAYS_2026, CENT)
    assert all(v in (D("0.00"), D("0.01")) for v in values)
    assert total(values) == D("0.10")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "start, end, amount, step",
    [
        (date(2026, 1, 1), date(2026, 12, 31), D("0.10"), CENT),  # halves at 3/12 and 9/12 (equal)
        (date(2026, 1, 15), date(2027, 1, 14), D("1200.00"), CENT),
        (date(2028, 2, 15), date(2029, 2, 14), D("999.99"), CENT),
        (date(2026, 1, 1), date(2026, 12, 31), D("6"), D("1")),  # 0.5 a month in yen: halves everywhere
        (date(2026, 3, 31), date(2026, 4, 1), D("0.01"), CENT),
    ],
)
def test_credit_note_schedule_mirrors_invoice_schedule(start, end, amount, step, method):
    """schedule(-x) == -schedule(x): rounding is half away from zero, symmetric in sign."""
    positive = recognition_schedule(start, end, amount, step, method)
    negative = recognition_schedule(start, end, -amount, step, method)
    assert negative == [(month, -value) for month, value in positive]
    assert total(amounts(negative)) == -amount


def test_negative_ten_cents_equal_rounds_halves_away_from_zero():
    """-0.10 / 12: the running total -0.025 rounds to -0.03 (not -0.02), so March gets -0.01."""
    schedule = recognition_schedule(date(2026, 1, 1), date(2026, 12, 31), D("-0.10"), CENT, METHOD_EQUAL)
    assert amounts(schedule)[:4] == [D("-0.01"), D("-0.01"), D("-0.01"), D("0.00")]


def test_zero_amount_gives_zero_every_month():
    schedule = recognition_schedule(date(2026, 1, 1), date(2026, 3, 31), D("0.00"), CENT)
    assert amounts(schedule) == [D(0)] * 3


def test_amount_not_a_multiple_of_step_is_rejected():
    """An amount not rounded to its currency (0.9 with step 1) would let the last month change sign
    (July 1, December -0.1): it is refused instead."""
    with pytest.raises(ValueError, match="multiple"):
        recognition_schedule(date(2026, 1, 1), date(2026, 12, 31), D("0.9"), YEN)
    with pytest.raises(ValueError, match="multiple"):
        allocate(D("0.9"), [1] * 12, YEN)


# ---------------------------------------------------------------------------
# recognition_schedule, invalid input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_end_before_start_is_rejected(method):
    with pytest.raises(ValueError):
        recognition_schedule(date(2026, 3, 1), date(2026, 2, 28), D("10.00"), CENT, method)


def test_end_before_start_is_rejected_with_first_month_end():
    with pytest.raises(ValueError):
        recognition_schedule(date(2026, 3, 1), date(2026, 2, 28), D("10.00"), CENT, first_month_end=date(2026, 3, 1))


@pytest.mark.parametrize("method", ["weeks", "", "Days", None])
def test_unknown_method_is_rejected(method):
    with pytest.raises(ValueError):
        recognition_schedule(date(2026, 1, 1), date(2026, 12, 31), D("10.00"), CENT, method)


# ---------------------------------------------------------------------------
# round_to
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, step, expected",
    [
        (Fraction(1, 200), CENT, "0.01"),  # 0.005: half, away from zero
        (Fraction(-1, 200), CENT, "-0.01"),
        (Fraction(1, 3), CENT, "0.33"),
        (D("2.5"), YEN, "3"),
        (D("-2.5"), YEN, "-3"),
        (D("2.49"), YEN, "2"),
        (D("0.024"), D("0.05"), "0.00"),
        (D("0.025"), D("0.05"), "0.05"),
    ],
)
def test_round_to_half_away_from_zero(value, step, expected):
    assert round_to(value, step) == D(expected)


# ---------------------------------------------------------------------------
# allocate
# ---------------------------------------------------------------------------


def test_allocate_three_equal_parts():
    """Running totals 33.333... -> 33.33 and 66.666... -> 66.67; the last takes 100 - 66.67."""
    assert allocate(D("100.00"), [1, 1, 1], CENT) == [D("33.33"), D("33.34"), D("33.33")]


def test_allocate_negative_total_mirrors():
    assert allocate(D("-100.00"), [1, 1, 1], CENT) == [D("-33.33"), D("-33.34"), D("-33.33")]


def test_allocate_in_whole_units():
    """10 in three with step 1: running totals 3.33 -> 3 and 6.67 -> 7, last 10 - 7."""
    assert allocate(D("10"), [1, 1, 1], YEN) == [D(3), D(4), D(3)]


def test_allocate_accepts_int_fraction_and_decimal_weights():
    """Weights 1/2, 0.5 and 1 (sum 2): 10.00 splits 2.50, 2.50, 5.00."""
    assert allocate(D("10.00"), [Fraction(1, 2), D("0.5"), 1], CENT) == [D("2.50"), D("2.50"), D("5.00")]


def test_allocate_zero_weight_gets_zero():
    """Weights 0, 3, 0, 1: running totals 0, 7.50, 7.50, 10.00."""
    assert allocate(D("10.00"), [0, 3, 0, 1], CENT) == [D("0.00"), D("7.50"), D("0.00"), D("2.50")]


def test_allocate_single_weight_takes_everything():
    assert allocate(D("12.34"), [7], CENT) == [D("12.34")]


@pytest.mark.parametrize(
    "weights, message",
    [([], "nothing"), ([1, -1, 2], "negative"), ([0, 0], "positive sum"), ([Fraction(0)], "positive sum")],
)
def test_allocate_rejects_bad_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        allocate(D("10.00"), weights, CENT)


# ---------------------------------------------------------------------------
# reduce_pending
# ---------------------------------------------------------------------------


def check_invariant(pending, reduction, new, excess):
    assert total(pending) - total(new) + excess == reduction
    assert len(new) == len(pending)


def test_reduce_pending_full_credit_of_remaining():
    pending = [D("30.00"), D("30.00"), D("40.00")]
    new, excess = reduce_pending(pending, D("100.00"), CENT)
    assert new == [D(0)] * 3
    assert excess == D(0)  # reduction - remaining = 100 - 100
    check_invariant(pending, D("100.00"), new, excess)


def test_reduce_pending_credit_larger_than_remaining_returns_excess():
    """150.00 credited with 100.00 still pending: the 50.00 already recognised is the excess."""
    pending = [D("30.00"), D("30.00"), D("40.00")]
    new, excess = reduce_pending(pending, D("150.00"), CENT)
    assert new == [D(0)] * 3
    assert excess == D("50.00")
    check_invariant(pending, D("150.00"), new, excess)


def test_reduce_pending_partial_credit_is_proportional():
    """30.00 off 10 + 20 + 30: 30.00 stays, in proportion 1:2:3."""
    pending = [D("10.00"), D("20.00"), D("30.00")]
    new, excess = reduce_pending(pending, D("30.00"), CENT)
    assert new == [D("5.00"), D("10.00"), D("15.00")]
    assert excess == D(0)
    check_invariant(pending, D("30.00"), new, excess)


def test_reduce_pending_partial_credit_rounds_on_running_total():
    """50.00 off 33.33 + 33.33 + 33.34: half stays; running totals 16.665 -> 16.67, 33.33, 50.00."""
    pending = [D("33.33"), D("33.33"), D("33.34")]
    new, excess = reduce_pending(pending, D("50.00"), CENT)
    assert new == [D("16.67"), D("16.66"), D("16.67")]
    assert excess == D(0)
    check_invariant(pending, D("50.00"), new, excess)


def test_reduce_pending_negative_schedule():
    """A credit note's pending schedule (negative) reduced by a negative amount."""
    pending = [D("-100.00"), D("-100.00")]
    new, excess = reduce_pending(pending, D("-50.00"), CENT)
    assert new == [D("-75.00"), D("-75.00")]
    assert excess == D(0)
    check_invariant(pending, D("-50.00"), new, excess)


@pytest.mark.parametrize(
    "pending, reduction",
    [([D("100.00"), D("100.00")], D("-20.00")), ([D("-100.00")], D("20.00"))],
)
def test_reduce_pending_opposite_sign_changes_nothing(pending, reduction):
    new, excess = reduce_pending(pending, reduction, CENT)
    assert new == pending
    assert excess == reduction
    check_invariant(pending, reduction, new, excess)


@pytest.mark.parametrize(
    "pending",
    [[], [D("0.00"), D("0.00")], [D("50.00"), D("-50.00")]],
)
def test_reduce_pending_nothing_remaining_is_all_excess(pending):
    new, excess = reduce_pending(pending, D("20.00"), CENT)
    assert new == pending
    assert excess == D("20.00")
    check_invariant(pending, D("20.00"), new, excess)


def test_reduce_pending_zero_reduction_changes_nothing():
    pending = [D("10.00"), D("20.00")]
    assert reduce_pending(pending, D(0), CENT) == (pending, D(0))


def test_reduce_pending_months_of_opposite_sign_get_no_share():
    """Pending 100.00 and -30.00 (remaining 70.00), 35.00 credited: the 35.00 left goes all to the
    positive month, the negative month is cleared."""
    pending = [D("100.00"), D("-30.00")]
    new, excess = reduce_pending(pending, D("35.00"), CENT)
    assert new == [D("35.00"), D("0.00")]
    assert excess == D(0)
    check_invariant(pending, D("35.00"), new, excess)


def test_reduce_pending_does_not_modify_its_argument():
    pending = [D("10.00"), D("20.00")]
    new, _excess = reduce_pending(pending, D("-5.00"), CENT)
    new.append(D(1))
    assert pending == [D("10.00"), D("20.00")]


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

methods = st.sampled_from(METHODS)
cent_amounts = st.decimals(min_value=-10_000_000, max_value=10_000_000, places=2, allow_nan=False, allow_infinity=False)
yen_amounts = st.integers(-10_000_000, 10_000_000).map(D)


@st.composite
def amounts_and_steps(draw):
    """(amount, step): cents with step 0.01, or whole units (JPY-like) with step 1."""
    if draw(st.booleans()):
        return draw(cent_amounts), CENT
    return draw(yen_amounts), YEN


@st.composite
def service_periods(draw):
    """(start, end) with start in 2000-2100 and 0..1500 days between them."""
    start = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
    return start, start + timedelta(days=draw(st.integers(0, 1500)))


def check_schedule(schedule, weights, amount, step):
    """Common properties of a schedule against reference (month end, weight) rows."""
    assert months(schedule) == [month for month, _w in weights]
    assert all(a < b for a, b in zip(months(schedule), months(schedule)[1:], strict=False))
    assert total(amounts(schedule)) == amount
    total_weight = sum(w for _month, w in weights)
    for (_month, weight), value in zip(weights, amounts(schedule), strict=True):
        assert is_multiple(value, step)
        assert value == 0 or (value > 0) == (amount > 0)
        exact_share = Fraction(amount) * weight / total_weight
        assert abs(Fraction(value) - exact_share) <= Fraction(step)


@PROPERTY
@given(period=service_periods(), amount_step=amounts_and_steps(), method=methods)
def test_schedule_properties(period, amount_step, method):
    """Sums exactly, one entry per calendar month touched, month ends increasing, signs kept,
    every month within one step of its exact pro-rata share."""
    (start, end), (amount, step) = period, amount_step
    schedule = recognition_schedule(start, end, amount, step, method)
    months_touched = (end.year - start.year) * 12 + end.month - start.month + 1
    assert len(schedule) == months_touched
    assert months(schedule)[0] == month_end(start) and months(schedule)[-1] == month_end(end)
    check_schedule(schedule, ref_month_weights(start, end, method), amount, step)


@PROPERTY
@given(period=service_periods(), amount_step=amounts_and_steps(), method=methods, data=st.data())
def test_schedule_properties_with_first_month_end(period, amount_step, method, data):
    """With an invoice date inside the period: no month before the invoice month, the invoice
    month carries all earlier shares, and the sum is still exact."""
    (start, end), (amount, step) = period, amount_step
    invoice_date = start + timedelta(days=data.draw(st.integers(0, (end - start).days)))
    invoice_month = month_end(invoice_date)
    schedule = recognition_schedule(start, end, amount, step, method, first_month_end=invoice_date)
    assert all(month >= invoice_month for month in months(schedule))
    assert months(schedule)[0] == invoice_month

    weights = ref_month_weights(start, end, method)
    moved = sum(w for month, w in weights if month <= invoice_month)
    expected_weights = [(invoice_month, moved)] + [(month, w) for month, w in weights if month > invoice_month]
    check_schedule(schedule, expected_weights, amount, step)


@PROPERTY
@given(period=service_periods(), amount_step=amounts_and_steps(), method=methods)
def test_schedule_of_negated_amount_is_negated(period, amount_step, method):
    (start, end), (amount, step) = period, amount_step
    positive = recognition_schedule(start, end, amount, step, method)
    negative = recognition_schedule(start, end, -amount, step, method)
    assert negative == [(month, -value) for month, value in positive]


@PROPERTY
@given(
    amount_step=amounts_and_steps(),
    weights=st.lists(st.integers(0, 1000), min_size=1, max_size=60).filter(any),
)
def test_allocate_properties(amount_step, weights):
    """Sums exactly, each part within one step of its exact share, no sign change, zero weight
    gets zero."""
    amount, step = amount_step
    parts = allocate(amount, weights, step)
    assert len(parts) == len(weights)
    assert total(parts) == amount
    weight_sum = sum(weights)
    for weight, part in zip(weights, parts, strict=True):
        assert is_multiple(part, step)
        assert part == 0 or (part > 0) == (amount > 0)
        assert abs(Fraction(part) - Fraction(amount) * weight / weight_sum) <= Fraction(step)
        if weight == 0:
            assert part == 0


pending_amounts = st.decimals(min_value=0, max_value=1_000_000, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def single_sign_pending(draw):
    """A pending schedule of one sign (zeros allowed), as recognition_schedule produces."""
    sign = draw(st.sampled_from([1, -1]))
    return [sign * value for value in draw(st.lists(pending_amounts, max_size=40))]


mixed_pending = st.lists(
    st.decimals(min_value=-1_000_000, max_value=1_000_000, places=2, allow_nan=False, allow_infinity=False),
    max_size=40,
)
reductions = st.decimals(min_value=-3_000_000, max_value=3_000_000, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def reductions_for(draw, pending):
    """Any reduction, or one inside the pending total (a partial credit, the interesting case)."""
    remaining = total(pending)
    if remaining != 0 and draw(st.booleans()):
        cents = draw(st.integers(0, abs(int(remaining * 100))))
        return D(cents) / 100 * (1 if remaining > 0 else -1)
    return draw(reductions)


@PROPERTY
@given(pending=st.one_of(single_sign_pending(), mixed_pending), data=st.data())
def test_reduce_pending_properties(pending, data):
    """Invariant sum(pending) - sum(new) + excess == reduction; new amounts are zero or of the
    remaining total's sign unless left unchanged; |sum(new)| <= |sum(pending)|."""
    reduction = data.draw(reductions_for(pending))
    new, excess = reduce_pending(pending, reduction, CENT)
    check_invariant(pending, reduction, new, excess)
    remaining = total(pending)
    assert abs(total(new)) <= abs(remaining)
    if new != pending:
        assert all(value == 0 or (value > 0) == (remaining > 0) for value in new)
        assert all(is_multiple(value, CENT) for value in new)
    if excess != reduction:  # the reduction was (partly) applied, so it has the remaining total's sign
        assert (reduction > 0) == (remaining > 0)
        assert excess == 0 or (excess > 0) == (reduction > 0)


@PROPERTY
@given(pending=single_sign_pending(), data=st.data())
def test_reduce_pending_single_sign_schedule(pending, data):
    """On a one-sign schedule every new month keeps its sign and never grows beyond the old one."""
    reduction = data.draw(reductions_for(pending))
    new, excess = reduce_pending(pending, reduction, CENT)
    check_invariant(pending, reduction, new, excess)
    for old, value in zip(pending, new, strict=True):
        assert value == 0 or (value > 0) == (old > 0)
        assert abs(value) <= abs(old)
    remaining = total(pending)
    if remaining != 0 and (reduction > 0) == (remaining > 0) and 0 < abs(reduction) < abs(remaining):
        # partial credit: what stays is spread in proportion to the old months, within one step
        kept = remaining - reduction
        assert excess == 0
        for old, value in zip(pending, new, strict=True):
            assert abs(Fraction(value) - Fraction(kept) * Fraction(old) / Fraction(remaining)) <= Fraction(CENT)


# ---------------------------------------------------------------------------
# historical_share
# ---------------------------------------------------------------------------


def test_historical_share_takes_the_same_fraction_of_the_company_amounts():
    """Half the foreign amount taken off takes half the company amount, whatever today's rate."""
    pending, pending_currency = [D("50.00"), D("50.00")], [D("100.00"), D("100.00")]
    assert historical_share(pending, pending_currency, [D("50.00"), D("50.00")], CENT) == D("50.00")
    assert historical_share(pending, pending_currency, [D("0"), D("0")], CENT) == D("100.00")
    assert historical_share(pending, pending_currency, pending_currency, CENT) == D("0.00")
    # a third of 100.00 rounds to the cent
    assert historical_share([D("100.00")], [D("3.00")], [D("2.00")], CENT) == D("33.33")


def test_historical_share_of_nothing_pending_is_zero():
    assert historical_share([D("10.00")], [D("0")], [D("0")], CENT) == D("0")
