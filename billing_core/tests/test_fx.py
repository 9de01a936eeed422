"""Tests for ``billing_core.fx`` (pure Python, no Odoo).

Run with::

    cd <addon root> && PYTHONPATH=. python3 -m pytest -q -p no:cacheprovider billing_core/tests

Expected amounts are written out literally or computed independently of the
code under test, with exact ``Fraction`` arithmetic and half-away-from-zero rounding.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from math import floor

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from billing_core.fx import Conversion, convert, convert_back, format_rate, to_rate

# database=None: don't write a .hypothesis/ example database into the repo
PROPERTY = settings(max_examples=300, deadline=None, database=None)

D = Decimal

steps = st.sampled_from([D("0.01"), D("0.05"), D("1"), D("0.001")])
amounts = st.decimals(min_value=-(10**7), max_value=10**7, places=4, allow_nan=False, allow_infinity=False)
rates = st.decimals(min_value=D("0.0001"), max_value=10_000, places=6, allow_nan=False, allow_infinity=False).filter(
    lambda r: r > 0
)


def ref_round(value, step) -> Fraction:
    """Exact half-away-from-zero rounding of ``value`` to a multiple of ``step``."""
    value, step = Fraction(value), Fraction(step)
    magnitude = floor(abs(value) / step + Fraction(1, 2)) * step
    return magnitude if value >= 0 else -magnitude


# ---------------------------------------------------------------------------
# examples
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("amount", "rate", "step", "expected"),
    [
        ("100", "1.085", "0.01", "108.50"),
        ("100", "0.9437", "0.01", "94.37"),
        ("50", "0.9437", "0.01", "47.19"),  # 47.185: a tie, away from zero
        ("-50", "0.9437", "0.01", "-47.19"),
        ("87.5", "0.9437", "0.05", "82.55"),  # 82.57375: 0.02375 above 82.55
        ("1234.56", "151.23", "1", "186703"),  # 186 702.5088: yen have no cents
        ("0", "1.3", "0.01", "0.00"),
    ],
)
def test_convert_examples(amount, rate, step, expected):
    assert convert(D(amount), D(rate), D(step)) == D(expected)


def test_float_noise_of_an_odoo_rate_does_not_flip_a_tie():
    # 1 / (1 / 0.9437) in binary floating point is 0.9437000000000001
    noisy = 1 / (1 / 0.9437)
    assert noisy != 0.9437
    assert to_rate(noisy) == D("0.9437")
    assert convert(D("50"), noisy, D("0.01")) == D("47.19")


@pytest.mark.parametrize("rate", [0, -1, "0", "-0.5"])
def test_rate_must_be_positive(rate):
    with pytest.raises(ValueError):
        convert(D("1"), rate, D("0.01"))


@pytest.mark.parametrize(
    ("rate", "text"),
    [
        ("1.085", "1.0850"),
        ("0.95", "0.9500"),
        ("0.87557612", "0.875576"),
        ("0.869769585253", "0.869770"),
        ("0.12345", "0.12345"),
        ("151.2", "151.2000"),
        ("2", "2.0000"),
        ("1E+2", "100.0000"),
    ],
)
def test_format_rate(rate, text):
    assert format_rate(D(rate)) == text


def test_conversion_describes_its_rate_and_rounds_on_both_sides():
    conversion = Conversion("EUR", "USD", 1.085, date(2026, 1, 1), 0.01, 0.01)
    assert conversion.rate_text == "1 EUR = 1.0850 USD"
    assert conversion.round_source(D("46.6666")) == D("46.67")
    assert conversion.convert(conversion.round_source(D("46.6666"))) == D("50.64")  # 50.63695


# ---------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------
@PROPERTY
@given(amounts, rates, steps)
def test_conversion_is_the_exact_product_rounded_once(amount, rate, step):
    result = convert(amount, rate, step)
    assert Fraction(result) == ref_round(Fraction(amount) * Fraction(rate), step)
    assert abs(Fraction(result) - Fraction(amount) * Fraction(rate)) <= Fraction(step) / 2


@PROPERTY
@given(rates, steps)
def test_zero_converts_to_zero(rate, step):
    assert convert(D(0), rate, step) == 0


@PROPERTY
@given(amounts, amounts, rates, steps)
def test_conversion_is_monotonic(first, second, rate, step):
    low, high = sorted((first, second))
    assert convert(low, rate, step) <= convert(high, rate, step)


@PROPERTY
@given(amounts, rates, steps)
def test_conversion_is_odd(amount, rate, step):
    assert convert(-amount, rate, step) == -convert(amount, rate, step)


@PROPERTY
@given(amounts, rates, steps, steps)
def test_round_trip_stays_within_half_a_step_each_way(amount, rate, source_step, target_step):
    amount = ref_round(amount, source_step)
    source = D(amount.numerator) / D(amount.denominator)
    there = convert(source, rate, target_step)
    back = convert_back(there, rate, source_step)
    bound = Fraction(source_step) / 2 + Fraction(target_step) / (2 * Fraction(rate))
    # the division is carried to 50 digits: allow for its last digit
    assert abs(Fraction(back) - amount) <= bound + Fraction(1, 10**30)


@PROPERTY
@given(st.floats(min_value=1e-4, max_value=1e4, allow_nan=False, allow_infinity=False))
def test_float_rate_keeps_twelve_significant_digits(value):
    rate = to_rate(value)
    assume(rate != 0)
    assert len(rate.as_tuple().digits) <= 12
    assert abs(Fraction(rate) - Fraction(value)) <= Fraction(value) * Fraction(1, 10**11)
