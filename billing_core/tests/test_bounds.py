"""Tests for ``billing_core.bounds`` (pure Python, no Odoo)."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_core import bounds

TODAY = date(2026, 3, 15)


@pytest.mark.parametrize(
    ("value", "places", "allow_negative", "expected"),
    [
        (0, 2, False, None),
        (12.5, 2, False, None),
        ("3.25", 2, False, None),
        (Decimal("9999999999999.99"), 2, False, None),
        (1e13, 2, False, bounds.TOO_LARGE),
        (math.nan, 2, False, bounds.NOT_FINITE),
        (math.inf, 2, False, bounds.NOT_FINITE),
        (-math.inf, 2, True, bounds.NOT_FINITE),
        (-1, 2, False, bounds.NEGATIVE),
        (-1, 2, True, None),
        ("abc", 2, False, bounds.NOT_A_NUMBER),
        (None, 2, False, bounds.NOT_A_NUMBER),
        (True, 2, False, bounds.NOT_A_NUMBER),
        (1e15, 0, False, bounds.TOO_LARGE),
        (99999999999999, 0, False, None),
    ],
)
def test_check_number(value, places, allow_negative, expected):
    assert bounds.check_number(value, places, allow_negative=allow_negative) == expected


def test_max_abs_value_shrinks_with_decimal_places():
    assert bounds.max_abs_value(0) > bounds.max_abs_value(2) > bounds.max_abs_value(6)
    assert bounds.max_abs_value(2) == pytest.approx(1e13 - 0.01)


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=0, max_value=1e12))
def test_every_plausible_amount_is_accepted(value):
    assert bounds.check_number(value, 2) is None


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=1e13, max_value=1e300))
def test_every_huge_amount_is_refused(value):
    assert bounds.check_number(value, 2) == bounds.TOO_LARGE


@pytest.mark.parametrize(
    ("count", "unit", "expected"),
    [
        (1, "month", None),
        (0, "month", None),
        (120, "month", None),
        (121, "month", bounds.TOO_LARGE),
        (10, "year", None),
        (11, "year", bounds.TOO_LARGE),
        (3660, "day", None),
        (3661, "day", bounds.TOO_LARGE),
        (-1, "week", bounds.NEGATIVE),
        (2**40, "day", bounds.TOO_LARGE),
        (1.5, "day", bounds.NOT_A_NUMBER),
    ],
)
def test_check_interval(count, unit, expected):
    assert bounds.check_interval(count, unit) == expected


@pytest.mark.parametrize(
    ("value", "horizon", "expected"),
    [
        (TODAY, 100, None),
        (date(1926, 3, 15), 100, None),
        (date(1926, 3, 14), 100, bounds.TOO_EARLY),
        (date(2126, 3, 15), 100, None),
        (date(2126, 3, 16), 100, bounds.TOO_LATE),
        (date(9999, 12, 31), 100, bounds.TOO_LATE),
        (date(1, 1, 1), 100, bounds.TOO_EARLY),
        (datetime(2200, 1, 1, 12, 0), 100, bounds.TOO_LATE),
        (date(2040, 1, 1), 10, bounds.TOO_LATE),
        (False, 100, None),
        (None, 100, None),
    ],
)
def test_check_date(value, horizon, expected):
    assert bounds.check_date(value, TODAY, horizon) == expected


def test_date_range_on_29_february():
    first, last = bounds.date_range(date(2024, 2, 29), 1)
    assert (first, last) == (date(2023, 2, 28), date(2025, 2, 28))


def test_date_range_stays_within_python_dates():
    first, last = bounds.date_range(date(9990, 1, 1), 100)
    assert last.year == 9999
    assert first.year == 9890
