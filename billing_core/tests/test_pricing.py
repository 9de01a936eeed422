"""Tests for ``billing_core.pricing`` (pure Python, no Odoo).

Run with::

    cd /work/main && PYTHONPATH=. python3 -m pytest -q -p no:cacheprovider billing_core/tests

(``billing_core/tests/pytest.ini`` disables the pytest-odoo plugin, ``-p no:odoo``.)

Expected amounts are written out literally or computed independently of the
code under test: exact ``Fraction`` rounding, unit-by-unit tier pricing.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from math import floor

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from billing_core.pricing import (
    GRADUATED,
    VOLUME,
    Rating,
    Tier,
    TierCharge,
    allocate,
    discount_value,
    rate_per_unit,
    rate_tiered,
    round_to,
    to_decimal,
    validate_tiers,
)

# database=None: don't write a .hypothesis/ example database into the repo
PROPERTY = settings(max_examples=200, deadline=None, database=None)

D = Decimal

#: the worked example: 1-10 at 5, 11-20 at 4 plus a flat fee of 10, above 20 at 3
EXAMPLE_TIERS = [Tier(D(10), D(5)), Tier(D(20), D(4), D(10)), Tier(None, D(3))]

STEPS = [D("0.01"), D("0.05"), D("1"), D("0.5"), D("0.001"), D("0.25"), D("10")]

steps = st.sampled_from(STEPS)
amounts = st.decimals(min_value=-(10**7), max_value=10**7, places=4, allow_nan=False, allow_infinity=False)
prices = st.decimals(min_value=0, max_value=1000, places=4, allow_nan=False, allow_infinity=False)
quantities = st.decimals(min_value=0, max_value=10_000, places=3, allow_nan=False, allow_infinity=False)
modes = st.sampled_from([GRADUATED, VOLUME])


def ref_round(value, step) -> Fraction:
    """Exact half-away-from-zero rounding of ``value`` to a multiple of ``step``."""
    value, step = Fraction(value), Fraction(step)
    magnitude = floor(abs(value) / step + Fraction(1, 2)) * step
    return magnitude if value >= 0 else -magnitude


@st.composite
def tier_tables(draw, integer_limits=False, max_tiers=5):
    """Valid tier tables: increasing positive limits, the last one unlimited."""
    count = draw(st.integers(1, max_tiers))
    if integer_limits:
        limits = draw(st.lists(st.integers(1, 60), min_size=count - 1, max_size=count - 1, unique=True))
        limits = [D(limit) for limit in sorted(limits)]
    else:
        raw = st.decimals(min_value=D("0.01"), max_value=500, places=2, allow_nan=False, allow_infinity=False)
        limits = sorted(set(draw(st.lists(raw, min_size=count - 1, max_size=count - 1))))
    fees = st.one_of(st.just(D(0)), prices)
    return [Tier(limit, draw(prices), draw(fees)) for limit in [*limits, None]]


def brute_force_graduated(quantity: int, tiers) -> Decimal:
    """Graduated price of an integer quantity, unit by unit (integer tier limits)."""
    total = D(0)
    used = set()
    for unit in range(1, quantity + 1):
        index = next(i for i, tier in enumerate(tiers) if tier.up_to is None or unit <= tier.up_to)
        total += tiers[index].unit_price
        used.add(index)
    return total + sum((tiers[index].flat_fee for index in used), D(0))


# ---------------------------------------------------------------------------
# to_decimal and round_to
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (0.1, D("0.1")),
        (2.675, D("2.675")),
        (10, D(10)),
        ("  1.50 ", D("1.50")),
        (D("3.3"), D("3.3")),
    ],
)
def test_to_decimal(value, expected):
    result = to_decimal(value)
    assert isinstance(result, Decimal)
    assert result == expected
    assert str(result) == str(expected)


@pytest.mark.parametrize("value", ["abc", "NaN", "Infinity", float("inf"), float("nan"), D("NaN")])
def test_to_decimal_rejects_non_numbers(value):
    with pytest.raises(ValueError):
        to_decimal(value)


@pytest.mark.parametrize("value", [True, None, Fraction(1, 3), [1]])
def test_to_decimal_rejects_other_types(value):
    with pytest.raises(TypeError):
        to_decimal(value)


@pytest.mark.parametrize(
    "amount, step, expected",
    [
        ("2.345", "0.01", "2.35"),
        ("2.344", "0.01", "2.34"),
        ("-2.345", "0.01", "-2.35"),
        ("1.025", "0.05", "1.05"),
        ("1.024", "0.05", "1.00"),
        ("1.075", "0.05", "1.10"),
        ("2.5", "1", "3"),
        ("-2.5", "1", "-3"),
        ("3.5", "1", "4"),
        ("0.004", "0.01", "0.00"),
        ("-0.004", "0.01", "0.00"),
        ("5", "0.01", "5.00"),
        ("12.5", "0.25", "12.50"),
        ("1234", "10", "1230"),
        ("1235", "10", "1240"),
        (2.675, 0.01, "2.68"),  # as floats 2.675 rounds to 2.67; through str it is 2.675
        (0.1 + 0.2, "0.01", "0.30"),
    ],
)
def test_round_to_examples(amount, step, expected):
    result = round_to(amount, step)
    assert str(result) == expected  # value and exponent, and no "-0.00"


@pytest.mark.parametrize("step", ["0", "-0.01", 0])
def test_round_to_rejects_non_positive_steps(step):
    with pytest.raises(ValueError):
        round_to(D(1), step)


@PROPERTY
@given(amount=amounts, step=steps)
def test_round_to_is_exact_half_up(amount, step):
    assert Fraction(round_to(amount, step)) == ref_round(amount, step)


@PROPERTY
@given(amount=amounts)
def test_round_to_cents_matches_quantize_half_up(amount):
    assert round_to(amount, D("0.01")) == amount.quantize(D("0.01"), rounding=ROUND_HALF_UP)


@PROPERTY
@given(amount=amounts, step=steps)
def test_round_to_is_idempotent_symmetric_and_a_multiple_of_step(amount, step):
    rounded = round_to(amount, step)
    assert round_to(rounded, step) == rounded
    assert rounded % step == 0
    assert abs(rounded - amount) <= step / 2
    assert round_to(-amount, step) == -rounded
    assert rounded.as_tuple().exponent == step.as_tuple().exponent


# ---------------------------------------------------------------------------
# validate_tiers
# ---------------------------------------------------------------------------


def test_valid_tables_pass():
    validate_tiers(EXAMPLE_TIERS)
    validate_tiers([Tier(None, D(0))])
    validate_tiers((Tier(D("0.5"), D(1)), Tier(None, D(1))))


@pytest.mark.parametrize(
    "tiers, message",
    [
        ([], "at least one tier"),
        ([Tier(D(10), D(1))], "tier 0: the last tier must be unlimited"),
        ([Tier(None, D(1)), Tier(None, D(1))], "tier 0: only the last tier"),
        ([Tier(D(10), D(1)), Tier(None, D(1)), Tier(D(30), D(1))], "tier 1: only the last tier"),
        ([Tier(D(10), D(1)), Tier(D(10), D(1)), Tier(None, D(1))], "tier 1: up_to 10 must be greater"),
        ([Tier(D(10), D(1)), Tier(D(5), D(1)), Tier(None, D(1))], "tier 1: up_to 5 must be greater"),
        ([Tier(D(0), D(1)), Tier(None, D(1))], "tier 0: up_to must be positive"),
        ([Tier(D(-5), D(1)), Tier(None, D(1))], "tier 0: up_to must be positive"),
        ([Tier(D(10), D(1)), Tier(None, D(-1))], "tier 1: unit price cannot be negative"),
        ([Tier(D(10), D(1), D("-0.01")), Tier(None, D(1))], "tier 0: flat fee cannot be negative"),
    ],
)
def test_invalid_tables_name_the_tier(tiers, message):
    with pytest.raises(ValueError, match=message):
        validate_tiers(tiers)


def test_tier_converts_odoo_floats_and_strings():
    tier = Tier(10.0, 0.1, "2.50")
    assert tier.up_to == D(10) and isinstance(tier.up_to, Decimal)
    assert tier.unit_price == D("0.1")
    assert tier.flat_fee == D("2.50")
    assert Tier(None, 1).up_to is None


# ---------------------------------------------------------------------------
# rate_tiered: worked examples
# ---------------------------------------------------------------------------


def test_graduated_worked_example():
    """25 units: 10*5 + (10*4 + 10) + 5*3 = 115."""
    rating = rate_tiered(25, EXAMPLE_TIERS, GRADUATED)
    assert rating == Rating(
        quantity=D(25),
        included=D(0),
        billable=D(25),
        amount=D(115),
        charges=(
            TierCharge(0, D(10), D(5), D(0), D(50)),
            TierCharge(1, D(10), D(4), D(10), D(50)),
            TierCharge(2, D(5), D(3), D(0), D(15)),
        ),
    )


def test_volume_worked_example():
    """25 units all at the third tier's price: 25*3 = 75 (that tier has no flat fee)."""
    rating = rate_tiered(25, EXAMPLE_TIERS, VOLUME)
    assert rating.amount == D(75)
    assert rating.charges == (TierCharge(2, D(25), D(3), D(0), D(75)),)


@pytest.mark.parametrize(
    "quantity, graduated, volume",
    [
        (1, 5, 5),
        (10, 50, 50),  # limits are inclusive: the 10th unit is still in tier 0
        (11, 50 + 4 + 10, 11 * 4 + 10),
        (20, 50 + 40 + 10, 20 * 4 + 10),
        (21, 50 + 50 + 3, 21 * 3),
        ("10.5", D(50) + D("0.5") * 4 + 10, D("10.5") * 4 + 10),  # a fractional unit triggers the flat fee
    ],
)
def test_tier_boundaries(quantity, graduated, volume):
    assert rate_tiered(quantity, EXAMPLE_TIERS, GRADUATED).amount == D(graduated)
    assert rate_tiered(quantity, EXAMPLE_TIERS, VOLUME).amount == D(volume)


def test_volume_pricing_can_drop_when_crossing_a_tier():
    """The classic volume cliff: 20 units cost 90, 21 units only 63."""
    assert rate_tiered(20, EXAMPLE_TIERS, VOLUME).amount == D(90)
    assert rate_tiered(21, EXAMPLE_TIERS, VOLUME).amount == D(63)


@pytest.mark.parametrize("mode", [GRADUATED, VOLUME])
def test_zero_billable_costs_nothing_not_even_a_flat_fee(mode):
    tiers = [Tier(D(10), D(5), D(99)), Tier(None, D(3), D(99))]
    for quantity, included in [(0, 0), (5, 5), (5, 10)]:
        rating = rate_tiered(quantity, tiers, mode, included=included)
        assert rating.amount == 0
        assert rating.charges == ()
        assert rating.billable == 0
        assert rating.quantity == D(quantity) and rating.included == D(included)


def test_included_units_are_deducted_first():
    rating = rate_tiered(25, EXAMPLE_TIERS, GRADUATED, included=5)
    assert (rating.quantity, rating.included, rating.billable) == (D(25), D(5), D(20))
    assert rating.amount == D(100)  # 10*5 + 10*4 + 10


@pytest.mark.parametrize("mode", [GRADUATED, VOLUME])
def test_rate_tiered_rejects_bad_input(mode):
    with pytest.raises(ValueError, match="quantity cannot be negative"):
        rate_tiered(-1, EXAMPLE_TIERS, mode)
    with pytest.raises(ValueError, match="included quantity cannot be negative"):
        rate_tiered(1, EXAMPLE_TIERS, mode, included=-1)
    with pytest.raises(ValueError, match="tier 0"):
        rate_tiered(1, [Tier(D(10), D(1))], mode)
    with pytest.raises(ValueError, match="unknown tier mode"):
        rate_tiered(1, EXAMPLE_TIERS, "stairstep")


def test_rate_tiered_takes_floats_without_binary_noise():
    tiers = [Tier(None, 0.1)]
    assert rate_tiered(3.0, tiers, GRADUATED).amount == D("0.3")


# ---------------------------------------------------------------------------
# rate_tiered: properties
# ---------------------------------------------------------------------------


@PROPERTY
@given(tiers=tier_tables(integer_limits=True), quantity=st.integers(0, 80))
def test_graduated_matches_unit_by_unit_pricing(tiers, quantity):
    assert rate_tiered(quantity, tiers, GRADUATED).amount == brute_force_graduated(quantity, tiers)


@PROPERTY
@given(tiers=tier_tables(integer_limits=True), quantity=st.integers(1, 80))
def test_volume_prices_every_unit_at_the_tier_of_the_total(tiers, quantity):
    tier = next(t for t in tiers if t.up_to is None or quantity <= t.up_to)
    assert rate_tiered(quantity, tiers, VOLUME).amount == quantity * tier.unit_price + tier.flat_fee


@PROPERTY
@given(tiers=tier_tables(), quantity=quantities, mode=modes)
def test_amount_is_the_sum_of_the_charges(tiers, quantity, mode):
    rating = rate_tiered(quantity, tiers, mode)
    assert rating.amount == sum((charge.amount for charge in rating.charges), D(0))
    assert sum((charge.quantity for charge in rating.charges), D(0)) == rating.billable
    for charge in rating.charges:
        assert charge.quantity > 0
        assert charge.amount == charge.quantity * charge.unit_price + charge.flat_fee
        tier = tiers[charge.tier_index]
        assert (charge.unit_price, charge.flat_fee) == (tier.unit_price, tier.flat_fee)
    indexes = [charge.tier_index for charge in rating.charges]
    if mode == GRADUATED:
        assert indexes == list(range(len(indexes)))  # consecutive tiers from the first
    else:
        assert len(indexes) == (1 if quantity > 0 else 0)


@PROPERTY
@given(price=prices, fee=prices, quantity=quantities, included=quantities)
def test_graduated_and_volume_agree_with_one_tier(price, fee, quantity, included):
    tiers = [Tier(None, price, fee)]
    assert rate_tiered(quantity, tiers, GRADUATED, included) == rate_tiered(quantity, tiers, VOLUME, included)


@PROPERTY
@given(tiers=tier_tables(), a=quantities, b=quantities)
def test_graduated_is_monotonic(tiers, a, b):
    low, high = sorted([a, b])
    assert rate_tiered(low, tiers, GRADUATED).amount <= rate_tiered(high, tiers, GRADUATED).amount


@PROPERTY
@given(tiers=tier_tables(), a=quantities, b=quantities)
def test_volume_is_monotonic_when_prices_and_fees_do_not_decrease(tiers, a, b):
    tiers = [
        Tier(tier.up_to, price, fee)
        for tier, price, fee in zip(
            tiers, sorted(t.unit_price for t in tiers), sorted(t.flat_fee for t in tiers), strict=True
        )
    ]
    low, high = sorted([a, b])
    assert rate_tiered(low, tiers, VOLUME).amount <= rate_tiered(high, tiers, VOLUME).amount


@PROPERTY
@given(tiers=tier_tables(), quantity=quantities, included=quantities, mode=modes)
def test_included_units_equal_rating_the_rest(tiers, quantity, included, mode):
    with_included = rate_tiered(quantity, tiers, mode, included=included)
    rest = rate_tiered(max(D(0), quantity - included), tiers, mode)
    assert with_included.billable == rest.billable == rest.quantity
    assert with_included.amount == rest.amount
    assert with_included.charges == rest.charges


# ---------------------------------------------------------------------------
# rate_per_unit
# ---------------------------------------------------------------------------


def test_rate_per_unit_example():
    rating = rate_per_unit("12.5", "1.20", included=2)
    assert rating == Rating(
        D("12.5"), D(2), D("10.5"), D("12.600"), (TierCharge(0, D("10.5"), D("1.20"), D(0), D("12.6")),)
    )


def test_rate_per_unit_always_has_one_charge():
    rating = rate_per_unit(3, 5, included=10)
    assert rating.billable == 0 and rating.amount == 0
    assert rating.charges == (TierCharge(0, D(0), D(5), D(0), D(0)),)


def test_rate_per_unit_rejects_negatives():
    for args in [(-1, 1), (1, -1), (1, 1, -1)]:
        with pytest.raises(ValueError):
            rate_per_unit(*args)


@PROPERTY
@given(price=prices, quantity=quantities, included=quantities)
def test_rate_per_unit_equals_a_single_tier(price, quantity, included):
    flat = rate_per_unit(quantity, price, included)
    tiered = rate_tiered(quantity, [Tier(None, price)], GRADUATED, included)
    assert flat.amount == tiered.amount == flat.billable * price
    assert len(flat.charges) == 1


# ---------------------------------------------------------------------------
# allocate
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "total, weights, step, expected",
    [
        ("100.00", [1, 1, 1], "0.01", ["33.34", "33.33", "33.33"]),
        ("-100.00", [1, 1, 1], "0.01", ["-33.34", "-33.33", "-33.33"]),
        ("0.10", [1, 1, 1], "0.05", ["0.05", "0.05", "0.00"]),  # ties go to the earlier index
        ("10.00", [0, 3, 1], "0.01", ["0.00", "7.50", "2.50"]),
        ("1.00", [1, 2], "0.01", ["0.33", "0.67"]),
        ("1.00", ["0.3333", "0.6667"], "0.01", ["0.33", "0.67"]),
        ("7", [2, 2, 3], "1", ["2", "2", "3"]),
        ("1", [1, 1, 1, 1], "1", ["1", "0", "0", "0"]),
        ("0.00", [0, 0], "0.01", ["0.00", "0.00"]),
        ("0", [], "0.01", []),
    ],
)
def test_allocate_examples(total, weights, step, expected):
    result = allocate(D(total), weights, D(step))
    assert [str(part) for part in result] == expected


@pytest.mark.parametrize(
    "total, weights, message",
    [
        ("1.00", [0, 0], "sum to zero"),
        ("1.00", [], "sum to zero"),
        ("1.005", [1], "not a multiple"),
        ("1.00", [1, -1], "weight 1 cannot be negative"),
    ],
)
def test_allocate_rejects(total, weights, message):
    with pytest.raises(ValueError, match=message):
        allocate(D(total), weights, D("0.01"))


@PROPERTY
@given(
    units=st.integers(-(10**6), 10**6),
    weights=st.lists(st.decimals(min_value=0, max_value=1000, places=3), min_size=1, max_size=12),
    step=steps,
)
def test_allocate_sums_exactly_and_stays_within_a_step(units, weights, step):
    assume(sum(weights) > 0)
    total = units * step
    parts = allocate(total, weights, step)
    assert len(parts) == len(weights)
    assert sum(parts, D(0)) == total
    weight_sum = sum(Fraction(weight) for weight in weights)
    for part, weight in zip(parts, weights, strict=True):
        assert part % step == 0
        assert abs(Fraction(part) - Fraction(total) * Fraction(weight) / weight_sum) < Fraction(step)
        if weight == 0:
            assert part == 0


# ---------------------------------------------------------------------------
# discount_value
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount, percent, fixed, expected",
    [
        ("100", None, None, "0"),
        ("100", 10, None, "10"),
        ("100", None, 15, "15"),
        ("100", 10, 15, "25"),  # the percentage first, then the fixed amount off the rest
        ("100", 50, 80, "100"),  # capped: never below zero
        ("100", None, 150, "100"),
        ("100", 100, 5, "100"),
        ("19.99", "12.5", None, "2.49875"),  # unrounded: the line is rounded once, later
        ("-100", 10, 15, "-25"),  # a credit: mirrored
        ("-100", None, 150, "-100"),
        ("0", 10, 5, "0"),
        (99.9, 0.5, None, "0.4995"),
    ],
)
def test_discount_value_examples(amount, percent, fixed, expected):
    assert discount_value(amount, percent, fixed) == D(expected)


@pytest.mark.parametrize("percent, fixed", [(-1, None), ("100.01", None), (None, -1), (None, "-0.01")])
def test_discount_value_rejects(percent, fixed):
    with pytest.raises(ValueError):
        discount_value(D(100), percent, fixed)


@PROPERTY
@given(
    amount=amounts,
    percent=st.one_of(st.none(), st.decimals(min_value=0, max_value=100, places=2)),
    fixed=st.one_of(st.none(), prices),
)
def test_discount_never_exceeds_the_amount(amount, percent, fixed):
    discount = discount_value(amount, percent, fixed)
    assert abs(discount) <= abs(amount)
    net = amount - discount
    assert (net >= 0) if amount >= 0 else (net <= 0)
    assert discount_value(-amount, percent, fixed) == -discount
    if amount > 0:
        assert discount >= 0
        expected = Fraction(amount) * Fraction(percent or 0) / 100
        expected = min(Fraction(amount), expected + Fraction(fixed or 0))
        assert Fraction(discount) == expected
