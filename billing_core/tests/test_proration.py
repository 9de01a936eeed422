"""Tests for ``billing_core.proration`` (pure Python, no Odoo).

Run with::

    cd /work/main && PYTHONPATH=. python3 -m pytest -q -p no:cacheprovider billing_core/tests

(``billing_core/tests/pytest.ini`` disables the pytest-odoo plugin, ``-p no:odoo``.)

Expected amounts are written out literally or computed independently of the
code under test, with exact ``Fraction`` arithmetic and half-away-from-zero
rounding.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from math import floor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_core.pricing import round_to
from billing_core.proration import CHARGE, CREDIT, ProrationLine, change_proration, prorated, split_days

# database=None: don't write a .hypothesis/ example database into the repo
PROPERTY = settings(max_examples=200, deadline=None, database=None)

D = Decimal
ONE_DAY = timedelta(days=1)

steps = st.sampled_from([D("0.01"), D("0.05"), D("1"), D("0.001")])
prices = st.decimals(min_value=0, max_value=100_000, places=2, allow_nan=False, allow_infinity=False)
signed_prices = st.decimals(min_value=-100_000, max_value=100_000, places=2, allow_nan=False, allow_infinity=False)


def ref_round(value, step) -> Fraction:
    """Exact half-away-from-zero rounding of ``value`` to a multiple of ``step``."""
    value, step = Fraction(value), Fraction(step)
    magnitude = floor(abs(value) / step + Fraction(1, 2)) * step
    return magnitude if value >= 0 else -magnitude


def ref_prorated_rounded(amount, days: int, period_days: int, step) -> Fraction:
    return ref_round(Fraction(amount) * days / period_days, step)


@st.composite
def periods(draw):
    """``(start, end)`` of a period of 1..400 days."""
    start = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
    return start, start + timedelta(days=draw(st.integers(0, 399)))


@st.composite
def periods_with_changes(draw, changes=1):
    """A period and ``changes`` sorted change dates in ``[start, end + 1]``."""
    start, end = draw(periods())
    length = (end - start).days + 1
    offsets = sorted(draw(st.lists(st.integers(0, length), min_size=changes, max_size=changes)))
    return start, end, [start + timedelta(days=offset) for offset in offsets]


def total(lines) -> Decimal:
    return sum((line.amount for line in lines), D(0))


# ---------------------------------------------------------------------------
# prorated
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount, days, period_days, expected",
    [
        ("10", 15, 30, "5"),
        ("20", 15, 30, "10"),
        ("100", 0, 31, "0"),
        ("99.99", 31, 31, "99.99"),
        ("100", 1, 3, "33.33333333333333333333333333333333333333"),  # 40 significant digits
        ("-60", 1, 4, "-15"),
        (29.9, 1, 2, "14.95"),
    ],
)
def test_prorated_examples(amount, days, period_days, expected):
    assert prorated(amount, days, period_days) == D(expected)


@pytest.mark.parametrize("days, period_days", [(-1, 30), (31, 30), (0, 0), (1, 0)])
def test_prorated_rejects_out_of_range_days(days, period_days):
    with pytest.raises(ValueError):
        prorated(D(10), days, period_days)


def test_prorated_rejects_non_integer_days():
    with pytest.raises(TypeError):
        prorated(D(10), 1.5, 30)


@PROPERTY
@given(amount=signed_prices, data=st.data())
def test_prorated_is_exact_to_40_digits(amount, data):
    period_days = data.draw(st.integers(1, 400))
    days = data.draw(st.integers(0, period_days))
    exact = Fraction(amount) * days / period_days
    assert abs(Fraction(prorated(amount, days, period_days)) - exact) <= abs(exact) * Fraction(1, 10**39)
    assert prorated(amount, period_days, period_days) == amount


# ---------------------------------------------------------------------------
# split_days
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start, end, change, expected",
    [
        (date(2024, 6, 1), date(2024, 6, 30), date(2024, 6, 16), (15, 15, 30)),
        (date(2024, 6, 1), date(2024, 6, 30), date(2024, 6, 1), (0, 30, 30)),
        (date(2024, 6, 1), date(2024, 6, 30), date(2024, 6, 30), (29, 1, 30)),
        (date(2024, 6, 1), date(2024, 6, 30), date(2024, 7, 1), (30, 0, 30)),
        (date(2024, 2, 1), date(2024, 2, 29), date(2024, 2, 15), (14, 15, 29)),
        (date(2024, 1, 1), date(2024, 12, 31), date(2024, 7, 1), (182, 184, 366)),
        (date(2024, 5, 5), date(2024, 5, 5), date(2024, 5, 5), (0, 1, 1)),
    ],
)
def test_split_days_examples(start, end, change, expected):
    assert split_days(start, end, change) == expected


@pytest.mark.parametrize(
    "start, end, change",
    [
        (date(2024, 6, 1), date(2024, 6, 30), date(2024, 5, 31)),
        (date(2024, 6, 1), date(2024, 6, 30), date(2024, 7, 2)),
        (date(2024, 6, 30), date(2024, 6, 1), date(2024, 6, 15)),
    ],
)
def test_split_days_rejects(start, end, change):
    with pytest.raises(ValueError):
        split_days(start, end, change)


@PROPERTY
@given(data=periods_with_changes())
def test_split_days_adds_up(data):
    start, end, (change,) = data
    used, remaining, period_days = split_days(start, end, change)
    assert used + remaining == period_days == (end - start).days + 1
    assert start + timedelta(days=used) == change
    assert change + timedelta(days=remaining) == end + ONE_DAY


# ---------------------------------------------------------------------------
# change_proration: worked examples
# ---------------------------------------------------------------------------


def test_stripe_upgrade_halfway_through_the_month():
    """10 -> 20 per month, changed on day 16 of a 30-day month: 15 of 30 days remain."""
    lines = change_proration(D(10), D(20), date(2024, 6, 1), date(2024, 6, 30), date(2024, 6, 16), D("0.01"))
    assert lines == [
        ProrationLine(CREDIT, date(2024, 6, 16), date(2024, 6, 30), D("-5.00")),
        ProrationLine(CHARGE, date(2024, 6, 16), date(2024, 6, 30), D("10.00")),
    ]
    assert total(lines) == D("5.00")
    assert [str(line.amount) for line in lines] == ["-5.00", "10.00"]


def test_downgrade_credits_more_than_it_charges():
    lines = change_proration("20", "10", date(2024, 6, 1), date(2024, 6, 30), date(2024, 6, 16), "0.01")
    assert [(line.kind, line.amount) for line in lines] == [(CREDIT, D("-10.00")), (CHARGE, D("5.00"))]


def test_each_line_is_rounded_once():
    """100 -> 50 with 1 of 3 days left: credit -33.33, charge 16.67 (16.666... rounds up)."""
    lines = change_proration("100", "50", date(2024, 6, 1), date(2024, 6, 3), date(2024, 6, 3), "0.01")
    assert [line.amount for line in lines] == [D("-33.33"), D("16.67")]


def test_swiss_franc_rounding_step():
    """CHF rounds to 0.05: 29.90 with 10 of 31 days left = 9.645... -> 9.65."""
    lines = change_proration("29.90", "0", date(2024, 1, 1), date(2024, 1, 31), date(2024, 1, 22), "0.05")
    assert lines == [ProrationLine(CREDIT, date(2024, 1, 22), date(2024, 1, 31), D("-9.65"))]


def test_change_after_the_period_gives_no_lines():
    assert change_proration(D(10), D(20), date(2024, 6, 1), date(2024, 6, 30), date(2024, 7, 1), D("0.01")) == []


def test_zero_lines_are_left_out():
    start, end, change = date(2024, 6, 1), date(2024, 6, 30), date(2024, 6, 16)
    assert [line.kind for line in change_proration(0, 20, start, end, change, "0.01")] == [CHARGE]
    assert [line.kind for line in change_proration(20, 0, start, end, change, "0.01")] == [CREDIT]
    assert change_proration(0, 0, start, end, change, "0.01") == []
    # an amount that rounds to zero is left out too
    assert change_proration("0.01", "0.01", start, end, date(2024, 6, 30), "0.01") == []


def test_change_on_the_first_day_reverses_the_whole_period():
    lines = change_proration("10", "20", date(2024, 6, 1), date(2024, 6, 30), date(2024, 6, 1), "0.01")
    assert [line.amount for line in lines] == [D("-10.00"), D("20.00")]


def test_change_outside_the_period_raises():
    with pytest.raises(ValueError):
        change_proration(D(10), D(20), date(2024, 6, 1), date(2024, 6, 30), date(2024, 7, 2), D("0.01"))


# ---------------------------------------------------------------------------
# change_proration: properties
# ---------------------------------------------------------------------------


@PROPERTY
@given(price=prices, data=periods_with_changes(), step=steps)
def test_prorated_pieces_add_up_to_the_full_price_within_one_step(price, data, step):
    start, end, (change,) = data
    used, remaining, period_days = split_days(start, end, change)
    used_part = round_to(prorated(price, used, period_days), step)
    remaining_part = round_to(prorated(price, remaining, period_days), step)
    assert Fraction(used_part) == ref_prorated_rounded(price, used, period_days, step)
    assert Fraction(remaining_part) == ref_prorated_rounded(price, remaining, period_days, step)
    assert abs(used_part + remaining_part - round_to(price, step)) <= step


@PROPERTY
@given(old=prices, new=prices, data=periods_with_changes(), step=steps)
def test_lines_match_exact_reference_rounding(old, new, data, step):
    start, end, (change,) = data
    _used, remaining, period_days = split_days(start, end, change)
    lines = change_proration(old, new, start, end, change, step)
    expected = [
        (CREDIT, -ref_prorated_rounded(old, remaining, period_days, step)),
        (CHARGE, ref_prorated_rounded(new, remaining, period_days, step)),
    ]
    assert [(line.kind, Fraction(line.amount)) for line in lines] == [item for item in expected if item[1] != 0]
    for line in lines:
        assert (line.start, line.end) == (change, end)
        assert line.amount % step == 0
        assert line.amount != 0
        assert (line.amount < 0) if line.kind == CREDIT else (line.amount > 0)


@PROPERTY
@given(a=signed_prices, b=signed_prices, data=periods_with_changes(), step=steps)
def test_change_and_back_on_the_same_day_nets_to_zero(a, b, data, step):
    start, end, (change,) = data
    lines = change_proration(a, b, start, end, change, step) + change_proration(b, a, start, end, change, step)
    assert total(lines) == 0


@PROPERTY
@given(a=prices, b=prices, c=prices, data=periods_with_changes(changes=2), step=steps)
def test_two_changes_total_the_four_rounded_pieces(a, b, c, data, step):
    start, end, (first, second) = data
    _u, remaining_1, period_days = split_days(start, end, first)
    _u, remaining_2, _p = split_days(start, end, second)
    lines = change_proration(a, b, start, end, first, step) + change_proration(b, c, start, end, second, step)
    expected = (
        -ref_prorated_rounded(a, remaining_1, period_days, step)
        + ref_prorated_rounded(b, remaining_1, period_days, step)
        - ref_prorated_rounded(b, remaining_2, period_days, step)
        + ref_prorated_rounded(c, remaining_2, period_days, step)
    )
    assert Fraction(total(lines)) == expected


@PROPERTY
@given(a=prices, b=prices, data=periods_with_changes(changes=2), step=steps)
def test_there_and_back_costs_the_difference_for_the_days_between(a, b, data, step):
    """A -> B on d1, B -> A on d2: the net is (B - A) for the days d1..d2-1, within 2 steps."""
    start, end, (first, second) = data
    lines = change_proration(a, b, start, end, first, step) + change_proration(b, a, start, end, second, step)
    period_days = (end - start).days + 1
    exact = (Fraction(b) - Fraction(a)) * (second - first).days / period_days
    assert abs(Fraction(total(lines)) - exact) <= 2 * Fraction(step)
