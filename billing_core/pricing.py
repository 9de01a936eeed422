"""Pricing of subscription lines: per-unit and tiered rating, rounding, allocation.

Free of any Odoo import. All money math is exact :class:`~decimal.Decimal`
arithmetic, never float: inputs may be ``int``, ``str``, ``Decimal`` or (as
Odoo hands them over) ``float``, which is converted through its shortest
``repr`` (``Decimal(str(x))``, so ``0.1`` becomes ``Decimal("0.1")``).

Amounts are kept unrounded until the end of a line and then rounded *once*
with :func:`round_to` to the currency's rounding step (``0.01``, ``0.05``,
``1`` ...), half away from zero (``ROUND_HALF_UP``).

Tiered pricing (Stripe's vocabulary):

* ``graduated``: each tier prices the units that fall in it (units 1..10 at
  the first tier's price, 11..20 at the second's ...), plus the flat fee of
  every tier that receives any quantity;
* ``volume``: every billable unit is priced at the tier the billable total
  falls in, plus that tier's flat fee. Volume pricing is not monotonic in
  general: crossing into a cheaper tier can lower the total.

Tier limits are inclusive and cumulative: ``up_to=10`` means "up to and
including the 10th unit". The last tier has no limit (``up_to=None``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, Inexact, InvalidOperation, localcontext
from fractions import Fraction
from math import floor

GRADUATED = "graduated"
VOLUME = "volume"
MODES = (GRADUATED, VOLUME)

ZERO = Decimal(0)

#: precision of the exact context: additions and multiplications of money
#: amounts never come near it; if one ever did, ``Inexact`` is raised instead
#: of rounding silently
_EXACT_PREC = 100


@contextmanager
def exact_context() -> Iterator[None]:
    """A decimal context for exact addition/multiplication: raises ``decimal.Inexact`` rather than round."""
    with localcontext() as ctx:
        ctx.prec = _EXACT_PREC
        ctx.traps[Inexact] = True
        yield


def to_decimal(value, name: str = "value") -> Decimal:
    """``value`` (``Decimal``, ``int``, ``str`` or ``float``) as a finite ``Decimal``.

    Floats go through ``str`` so that Odoo's ``0.1`` is ``Decimal("0.1")``,
    not the binary expansion. ``bool`` is refused (``True`` is not a quantity).
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(str(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{name} is not a number: {value!r}") from None
    else:
        raise TypeError(f"{name} must be a Decimal, int, str or float, got {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"{name} must be finite, got {value!r}")
    return result


def _step(step) -> Decimal:
    step = to_decimal(step, "rounding step")
    if step <= 0:
        raise ValueError(f"rounding step must be positive, got {step}")
    return step


def _non_negative(value, name: str) -> Decimal:
    value = to_decimal(value, name)
    if value < 0:
        raise ValueError(f"{name} cannot be negative, got {value}")
    return value


def round_to(amount, step) -> Decimal:
    """``amount`` rounded to a multiple of ``step``, ties away from zero (``ROUND_HALF_UP``).

    The result has the exponent of ``step`` (``round_to("2.345", "0.01") ==
    Decimal("2.35")``, ``round_to("1.03", "0.05") == Decimal("1.05")``) and is
    never a negative zero. Symmetric: ``round_to(-x, s) == -round_to(x, s)``.
    """
    amount = to_decimal(amount, "amount")
    step = _step(step)
    with exact_context():
        # divmod is exact: integer quotient truncated toward zero, remainder with amount's sign
        units, remainder = divmod(amount, step)
        if 2 * abs(remainder) >= step:
            units += 1 if amount > 0 else -1
        result = units * step
    return result.copy_abs() if result == 0 else result


# ---------------------------------------------------------------------------
# Tiers and ratings
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Tier:
    """One row of a tier table: units up to ``up_to`` (inclusive, cumulative) at ``unit_price``.

    ``up_to=None`` means no limit (the last tier). ``flat_fee`` is charged once
    when the tier is used. Values are converted to ``Decimal`` on creation;
    :func:`validate_tiers` checks a whole table.
    """

    up_to: Decimal | None
    unit_price: Decimal
    flat_fee: Decimal = ZERO

    def __post_init__(self):
        if self.up_to is not None:
            object.__setattr__(self, "up_to", to_decimal(self.up_to, "up_to"))
        object.__setattr__(self, "unit_price", to_decimal(self.unit_price, "unit_price"))
        object.__setattr__(self, "flat_fee", to_decimal(self.flat_fee, "flat_fee"))


@dataclass(frozen=True)
class TierCharge:
    """One tier's share of a rated quantity, for the invoice text (``amount`` unrounded)."""

    tier_index: int
    quantity: Decimal
    unit_price: Decimal
    flat_fee: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Rating:
    """The price of a quantity: ``amount`` (unrounded) is the sum of the ``charges``' amounts.

    ``included`` free units are deducted first: ``billable = max(0, quantity - included)``.
    """

    quantity: Decimal
    included: Decimal
    billable: Decimal
    amount: Decimal
    charges: tuple[TierCharge, ...]


def validate_tiers(tiers: Sequence[Tier]) -> None:
    """Raise ``ValueError`` (naming the tier, 0-based) unless ``tiers`` is a valid table.

    Valid: non-empty; every ``up_to`` positive and strictly greater than the
    previous one; only the last tier, and it must, has ``up_to=None``; no
    negative unit price or flat fee.
    """
    tiers = list(tiers)
    if not tiers:
        raise ValueError("a tier table needs at least one tier")
    previous = None
    last = len(tiers) - 1
    for index, tier in enumerate(tiers):
        if not isinstance(tier, Tier):
            raise TypeError(f"tier {index}: expected a Tier, got {type(tier).__name__}")
        if tier.unit_price < 0:
            raise ValueError(f"tier {index}: unit price cannot be negative ({tier.unit_price})")
        if tier.flat_fee < 0:
            raise ValueError(f"tier {index}: flat fee cannot be negative ({tier.flat_fee})")
        if tier.up_to is None:
            if index != last:
                raise ValueError(f"tier {index}: only the last tier can be unlimited")
            continue
        if index == last:
            raise ValueError(f"tier {index}: the last tier must be unlimited (up_to=None), got {tier.up_to}")
        if tier.up_to <= 0:
            raise ValueError(f"tier {index}: up_to must be positive, got {tier.up_to}")
        if previous is not None and tier.up_to <= previous:
            raise ValueError(
                f"tier {index}: up_to {tier.up_to} must be greater than the previous tier's up_to {previous}"
            )
        previous = tier.up_to


def _billable(quantity, included) -> tuple[Decimal, Decimal, Decimal]:
    quantity = _non_negative(quantity, "quantity")
    included = _non_negative(included, "included quantity")
    with exact_context():
        billable = max(ZERO, quantity - included)
    return quantity, included, billable


def _charge(index: int, quantity: Decimal, unit_price: Decimal, flat_fee: Decimal) -> TierCharge:
    with exact_context():
        amount = quantity * unit_price + flat_fee
    return TierCharge(index, quantity, unit_price, flat_fee, amount)


def _rating(quantity, included, billable, charges: list[TierCharge]) -> Rating:
    with exact_context():
        amount = sum((charge.amount for charge in charges), ZERO)
    return Rating(quantity, included, billable, amount, tuple(charges))


def rate_tiered(quantity, tiers: Sequence[Tier], mode: str, included=0) -> Rating:
    """Rate ``quantity`` against a tier table, ``mode`` ``GRADUATED`` or ``VOLUME``.

    ``included`` free units are deducted first. A billable quantity of zero
    costs nothing (no charges, no flat fee). Negative quantities raise
    ``ValueError``, as do an invalid table or an unknown mode.
    """
    if mode not in MODES:
        raise ValueError(f"unknown tier mode {mode!r}, expected one of {MODES}")
    tiers = list(tiers)
    validate_tiers(tiers)
    quantity, included, billable = _billable(quantity, included)
    charges: list[TierCharge] = []
    if billable == 0:
        return _rating(quantity, included, billable, charges)

    if mode == VOLUME:
        for index, tier in enumerate(tiers):
            if tier.up_to is None or billable <= tier.up_to:
                charges.append(_charge(index, billable, tier.unit_price, tier.flat_fee))
                break
        return _rating(quantity, included, billable, charges)

    lower = ZERO
    for index, tier in enumerate(tiers):
        upper = billable if tier.up_to is None else min(billable, tier.up_to)
        with exact_context():
            in_tier = upper - lower
        charges.append(_charge(index, in_tier, tier.unit_price, tier.flat_fee))
        if tier.up_to is None or billable <= tier.up_to:
            break
        lower = tier.up_to
    return _rating(quantity, included, billable, charges)


def rate_per_unit(quantity, unit_price, included=0) -> Rating:
    """Rate a flat per-unit line: always exactly one charge (tier 0, no flat fee), even for 0 units."""
    unit_price = _non_negative(unit_price, "unit price")
    quantity, included, billable = _billable(quantity, included)
    return _rating(quantity, included, billable, [_charge(0, billable, unit_price, ZERO)])


# ---------------------------------------------------------------------------
# Allocation and discounts
# ---------------------------------------------------------------------------


def allocate(total, weights: Sequence, step) -> list[Decimal]:
    """Split ``total`` over ``weights`` proportionally, in multiples of ``step``, summing exactly to ``total``.

    Largest-remainder method: every part gets the floor of its exact share (in
    steps), the steps left over go to the largest remainders, ties to the
    earlier index. A negative ``total`` is split by its magnitude and negated.
    ``total`` must be a multiple of ``step``; weights must not be negative.
    All-zero (or no) weights are only allowed with a zero total (all parts 0).
    """
    total = to_decimal(total, "total")
    step = _step(step)
    weights = [_non_negative(weight, f"weight {index}") for index, weight in enumerate(weights)]
    with exact_context():
        units, remainder = divmod(total, step)
    if remainder != 0:
        raise ValueError(f"total {total} is not a multiple of the rounding step {step}")
    units = int(units)
    weight_sum = sum((Fraction(weight) for weight in weights), Fraction(0))
    if weight_sum == 0:
        if units != 0:
            raise ValueError(f"cannot allocate {total} over weights that sum to zero")
        return [ZERO * step for _weight in weights]

    sign, units = (-1, -units) if units < 0 else (1, units)
    shares = [units * Fraction(weight) / weight_sum for weight in weights]
    parts = [floor(share) for share in shares]
    left = units - sum(parts)
    by_remainder = sorted(range(len(shares)), key=lambda index: (parts[index] - shares[index], index))
    for index in by_remainder[:left]:
        parts[index] += 1
    with exact_context():
        return [Decimal(sign * part) * step for part in parts]


def discount_value(amount, percent=None, fixed=None) -> Decimal:
    """The discount on ``amount`` (unrounded): ``percent`` of it (0..100) first, then ``fixed`` off the rest.

    The discount never exceeds the amount (the fixed part is capped at what
    the percentage leaves), so ``amount - discount_value(...)`` never crosses
    zero. For a positive amount the discount is positive; for a negative
    amount (a credit) it is mirrored: ``discount_value(-a, ...) ==
    -discount_value(a, ...)``.
    """
    amount = to_decimal(amount, "amount")
    percent = ZERO if percent is None else to_decimal(percent, "discount percent")
    fixed = ZERO if fixed is None else to_decimal(fixed, "fixed discount")
    if not 0 <= percent <= 100:
        raise ValueError(f"discount percent must be between 0 and 100, got {percent}")
    if fixed < 0:
        raise ValueError(f"fixed discount cannot be negative, got {fixed}")
    base = abs(amount)
    with exact_context():
        by_percent = base * percent / 100
        discount = by_percent + min(fixed, base - by_percent)
    return -discount if amount < 0 else discount
