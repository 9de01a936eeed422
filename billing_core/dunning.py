"""Dunning: which overdue item reaches which level, default interest, fees per letter.

Free of any Odoo import. Amounts are :class:`~decimal.Decimal`; dates are
:class:`datetime.date`.

Conventions
-----------
* An item is overdue from the day after its *start* (the due date, or the day a
  direct debit came back / automatic charging gave up). It is ``(date_ref -
  start).days`` days overdue on ``date_ref``.
* A level with ``days`` is *reached* on ``date_ref`` when ``start + days <=
  date_ref``. An item is dunned at the highest level reached that is higher
  than every level it already got; an item never gets a level twice and never
  goes down.
* One letter per customer: its level is the highest level among the customer's
  items dunned in the run; a customer without a newly reached level gets no letter.
* Default interest (§ 288 BGB): simple interest on the overdue amount per day,
  **actual days / 365**, at the base rate (§ 247 BGB) plus the points (5 for
  consumers, 9 for businesses). The period ``(start, end]`` counts ``(end -
  start).days`` days and is split at each base-rate change: each slice at the
  rate valid on its days. The sum is rounded once, half up, to the currency's
  decimals.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

#: percentage points above the base rate, § 288 (1) and (2) BGB
POINTS_CONSUMER = Decimal(5)
POINTS_BUSINESS = Decimal(9)

#: the flat fee of § 288 (5) BGB per claim against a non-consumer
FLAT_FEE_B2B = Decimal(40)

_DAYS_PER_YEAR = Decimal(365)
_HUNDRED = Decimal(100)


# ----------------------------------------------------------------------
# Default interest
# ----------------------------------------------------------------------
def interest_slices(start: date, end: date, base_rates: Iterable[tuple[date, Decimal]]):
    """The slices of the overdue period ``(start, end]`` with one base rate each.

    :param base_rates: ``(valid_from, rate in percent)``; the rate of a day is the
        one with the latest ``valid_from`` on or before that day (0 before the first)
    :return: list of ``(first_day, last_day, days, base_rate)``, covering every day
        of the period exactly once, oldest first
    """
    if end <= start:
        return []
    table = sorted(base_rates)
    starts = [valid_from for valid_from, _rate in table]
    slices = []
    day = start + timedelta(days=1)
    while day <= end:
        pos = bisect_right(starts, day)
        rate = table[pos - 1][1] if pos else Decimal(0)
        next_change = starts[pos] if pos < len(starts) else None
        last = end if next_change is None or next_change > end else next_change - timedelta(days=1)
        slices.append((day, last, (last - day).days + 1, Decimal(rate)))
        day = last + timedelta(days=1)
    return slices


def default_interest(
    amount: Decimal,
    start: date,
    end: date,
    base_rates: Iterable[tuple[date, Decimal]],
    points: Decimal,
    decimals: int = 2,
) -> Decimal:
    """Default interest on ``amount`` for the days ``(start, end]``.

    Each slice of :func:`interest_slices` earns ``amount * (base + points) / 100 *
    days / 365``; the exact sum is rounded once, half up, to ``decimals``. A negative
    total rate (a very negative base rate) earns nothing.

    >>> default_interest(Decimal("1000"), date(2025, 6, 20), date(2025, 7, 10),
    ...                  [(date(2025, 1, 1), Decimal("2.27")), (date(2025, 7, 1), Decimal("1.27"))], Decimal(9))
    Decimal('5.90')
    """
    amount = Decimal(amount)
    if amount <= 0:
        return Decimal(0).quantize(Decimal(1).scaleb(-decimals))
    total = Decimal(0)
    for _first, _last, days, base in interest_slices(start, end, base_rates):
        rate = max(base + Decimal(points), Decimal(0))
        total += amount * rate / _HUNDRED * days / _DAYS_PER_YEAR
    return total.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


# ----------------------------------------------------------------------
# Levels
# ----------------------------------------------------------------------
@dataclass(frozen=True)
class Level:
    """A dunning level: reached ``days`` after the start of an item."""

    key: Hashable
    days: int
    fee: Decimal = Decimal(0)
    charge_interest: bool = False
    flat_fee: bool = False


@dataclass(frozen=True)
class Item:
    """An overdue item of a customer (``partner``)."""

    key: Hashable
    partner: Hashable
    start: date
    amount: Decimal
    sent: frozenset = field(default_factory=frozenset)
    blocked: bool = False
    flat_fee_charged: bool = False


def _ordered(levels: Sequence[Level]) -> list[Level]:
    return sorted(levels, key=lambda lvl: (lvl.days, str(lvl.key)))


def item_level(item: Item, levels: Sequence[Level], date_ref: date) -> Level | None:
    """The level ``item`` reaches now, or None (not due for a new level, or blocked).

    The highest level reached on ``date_ref`` if it is higher than every level the
    item already got (``item.sent``, level keys).
    """
    if item.blocked:
        return None
    ordered = _ordered(levels)
    rank = {lvl.key: pos for pos, lvl in enumerate(ordered)}
    reached = [lvl for lvl in ordered if item.start + timedelta(days=lvl.days) <= date_ref]
    if not reached:
        return None
    top = reached[-1]
    sent_ranks = [rank[key] for key in item.sent if key in rank]
    if sent_ranks and max(sent_ranks) >= rank[top.key]:
        return None
    return top


def level_due(items: Iterable[Item], levels: Sequence[Level], date_ref: date):
    """The letters of a run on ``date_ref``: ``{partner: (letter level, {item key: level})}``.

    Only items reaching a new level are in a letter; the letter's level is the
    highest of them. Customers without such an item get no letter.
    """
    rank = {lvl.key: pos for pos, lvl in enumerate(_ordered(levels))}
    letters = {}
    for item in items:
        level = item_level(item, levels, date_ref)
        if level is None:
            continue
        top, per_item = letters.setdefault(item.partner, (level, {}))
        per_item[item.key] = level
        if rank[level.key] > rank[top.key]:
            letters[item.partner] = (level, per_item)
    return letters


# ----------------------------------------------------------------------
# Fees
# ----------------------------------------------------------------------
def letter_fees(letter_level: Level, dunned: Iterable[tuple[Item, Level]], business: bool, flat_fee_enabled: bool):
    """Fees of one letter: ``(letter fee, {item key: flat fee})``.

    The letter's level fee once per letter (not per item). For a business customer
    where the company enables it, the € 40 flat fee of § 288 (5) BGB once per item
    (claim), when it reaches a level that claims it, and never for an item that
    already had it.
    """
    flat = {}
    if business and flat_fee_enabled:
        for item, level in dunned:
            if level.flat_fee and not item.flat_fee_charged:
                flat[item.key] = FLAT_FEE_B2B
    return Decimal(letter_level.fee or 0), flat
