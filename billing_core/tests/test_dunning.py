"""Tests for ``billing_core.dunning`` (pure Python, no Odoo).

Expected interest is computed by hand in each docstring (actual days / 365,
base rate + points, split at 1 January / 1 July); the properties check the
invariants: slices tile the period, interest is additive over a split period
(up to rounding), an item never gets a level twice, one letter per customer at
the highest level.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing_core.dunning import (
    FLAT_FEE_B2B,
    Item,
    Level,
    default_interest,
    interest_slices,
    item_level,
    letter_fees,
    level_due,
)

PROPERTY = settings(max_examples=300, deadline=None, database=None)

RATES = [
    (date(2023, 1, 1), Decimal("1.62")),
    (date(2023, 7, 1), Decimal("3.12")),
    (date(2024, 1, 1), Decimal("3.62")),
    (date(2024, 7, 1), Decimal("3.37")),
    (date(2025, 1, 1), Decimal("2.27")),
    (date(2025, 7, 1), Decimal("1.27")),
]

REMINDER = Level("reminder", 7)
FIRST = Level("first", 21, fee=Decimal("2.50"), charge_interest=True, flat_fee=True)
SECOND = Level("second", 35, fee=Decimal("5.00"), charge_interest=True, flat_fee=True)
LEVELS = [SECOND, REMINDER, FIRST]  # any order: sorted by days


def test_interest_split_at_1_july():
    """1,000.00 € overdue from 20 Jun 2025 (due date) to 10 Jul 2025, business (+9 points).

    21–30 Jun: 10 days at 2.27 + 9 = 11.27 %; 1–10 Jul: 10 days at 1.27 + 9 = 10.27 %.
    1000 × (0.1127 × 10 + 0.1027 × 10) / 365 = 1000 × 2.154 / 365 = 5.90137 → 5.90 €.
    """
    assert default_interest(Decimal(1000), date(2025, 6, 20), date(2025, 7, 10), RATES, Decimal(9)) == Decimal("5.90")


def test_interest_split_at_1_january_consumer():
    """500.00 € overdue from 15 Dec 2024 to 15 Jan 2025, consumer (+5 points).

    16–31 Dec 2024: 16 days at 3.37 + 5 = 8.37 %; 1–15 Jan 2025: 15 days at 2.27 + 5 = 7.27 %.
    500 × (0.0837 × 16 + 0.0727 × 15) / 365 = 500 × (1.3392 + 1.0905) / 365 = 500 × 2.4297 / 365
    = 3.32836 → 3.33 €.
    """
    assert default_interest(Decimal(500), date(2024, 12, 15), date(2025, 1, 15), RATES, Decimal(5)) == Decimal("3.33")


def test_no_interest_for_no_days_or_nothing_overdue():
    assert default_interest(Decimal(100), date(2025, 1, 10), date(2025, 1, 10), RATES, Decimal(9)) == Decimal("0.00")
    assert default_interest(Decimal(0), date(2025, 1, 1), date(2025, 3, 1), RATES, Decimal(9)) == Decimal("0.00")


def test_slices_split_at_each_change():
    slices = interest_slices(date(2024, 6, 30), date(2025, 7, 2), RATES)
    assert [(s[0], s[1], s[3]) for s in slices] == [
        (date(2024, 7, 1), date(2024, 12, 31), Decimal("3.37")),
        (date(2025, 1, 1), date(2025, 6, 30), Decimal("2.27")),
        (date(2025, 7, 1), date(2025, 7, 2), Decimal("1.27")),
    ]


@PROPERTY
@given(
    start=st.dates(date(2022, 6, 1), date(2026, 6, 1)),
    length=st.integers(0, 900),
)
def test_slices_tile_the_period(start, length):
    end = start + timedelta(days=length)
    slices = interest_slices(start, end, RATES)
    assert sum(s[2] for s in slices) == length
    day = start + timedelta(days=1)
    for first, last, days, _rate in slices:
        assert first == day and (last - first).days + 1 == days
        day = last + timedelta(days=1)


@PROPERTY
@given(
    amount=st.decimals(Decimal("0.01"), Decimal("100000"), places=2),
    start=st.dates(date(2023, 1, 1), date(2025, 12, 1)),
    first=st.integers(0, 400),
    second=st.integers(0, 400),
)
def test_interest_is_additive_over_a_split(amount, start, first, second):
    """Interest charged in two letters (start → middle, middle → end) equals one charge to a cent per part."""
    middle = start + timedelta(days=first)
    end = middle + timedelta(days=second)
    whole = default_interest(amount, start, end, RATES, Decimal(9))
    parts = default_interest(amount, start, middle, RATES, Decimal(9)) + default_interest(
        amount, middle, end, RATES, Decimal(9)
    )
    assert abs(whole - parts) <= Decimal("0.01")


def test_levels_reached_on_their_days():
    """Due 1 Mar: reminder on 8 Mar (7 days), first dunning on 22 Mar (21), second on 5 Apr (35)."""
    due = date(2026, 3, 1)
    item = Item("inv", "cust", due, Decimal(100))
    assert item_level(item, LEVELS, date(2026, 3, 7)) is None
    assert item_level(item, LEVELS, date(2026, 3, 8)) == REMINDER
    assert item_level(item, LEVELS, date(2026, 3, 22)) == FIRST
    assert item_level(item, LEVELS, date(2026, 4, 5)) == SECOND
    sent = Item("inv", "cust", due, Decimal(100), sent=frozenset({"first"}))
    assert item_level(sent, LEVELS, date(2026, 3, 30)) is None
    assert item_level(sent, LEVELS, date(2026, 4, 5)) == SECOND
    blocked = Item("inv", "cust", due, Decimal(100), blocked=True)
    assert item_level(blocked, LEVELS, date(2026, 4, 5)) is None


def test_one_letter_per_customer_at_the_highest_level():
    items = [
        Item("a1", "A", date(2026, 3, 1), Decimal(100)),  # 40 days: second
        Item("a2", "A", date(2026, 4, 1), Decimal(100)),  # 9 days: reminder
        Item("a3", "A", date(2026, 4, 5), Decimal(100)),  # 5 days: nothing
        Item("b1", "B", date(2026, 3, 25), Decimal(50)),  # 16 days: reminder
    ]
    letters = level_due(items, LEVELS, date(2026, 4, 10))
    assert set(letters) == {"A", "B"}
    assert letters["A"][0] == SECOND
    assert letters["A"][1] == {"a1": SECOND, "a2": REMINDER}
    assert letters["B"] == (REMINDER, {"b1": REMINDER})


def test_fees_once_per_letter_and_flat_fee_once_per_item():
    a1 = Item("a1", "A", date(2026, 3, 1), Decimal(100))
    a2 = Item("a2", "A", date(2026, 3, 1), Decimal(100), flat_fee_charged=True)
    a3 = Item("a3", "A", date(2026, 4, 1), Decimal(100))
    fee, flat = letter_fees(FIRST, [(a1, FIRST), (a2, FIRST), (a3, REMINDER)], business=True, flat_fee_enabled=True)
    assert fee == Decimal("2.50")
    assert flat == {"a1": FLAT_FEE_B2B}
    assert letter_fees(FIRST, [(a1, FIRST)], business=False, flat_fee_enabled=True)[1] == {}
    assert letter_fees(FIRST, [(a1, FIRST)], business=True, flat_fee_enabled=False)[1] == {}
    assert letter_fees(REMINDER, [(a3, REMINDER)], business=True, flat_fee_enabled=True) == (Decimal(0), {})


@PROPERTY
@given(
    starts=st.lists(st.integers(0, 120), min_size=1, max_size=8),
    run_days=st.lists(st.integers(0, 150), min_size=1, max_size=10),
)
def test_an_item_never_gets_a_level_twice_nor_goes_down(starts, run_days):
    """Runs on arbitrary (also repeated, also unordered) days: every level at most once per item,
    and the levels an item gets rise strictly."""
    origin = date(2026, 1, 1)
    rank = {"reminder": 0, "first": 1, "second": 2}
    items = {f"i{n}": Item(f"i{n}", f"p{n % 3}", origin + timedelta(days=d), Decimal(10)) for n, d in enumerate(starts)}
    history = {key: [] for key in items}
    for day in run_days:
        letters = level_due(items.values(), LEVELS, origin + timedelta(days=day))
        for partner, (top, per_item) in letters.items():
            assert top == max(per_item.values(), key=lambda lvl: rank[lvl.key])
            for key, level in per_item.items():
                assert items[key].partner == partner
                history[key].append(level.key)
                items[key] = Item(key, partner, items[key].start, Decimal(10), sent=items[key].sent | {level.key})
    for got in history.values():
        assert len(got) == len(set(got))
        assert [rank[k] for k in got] == sorted(rank[k] for k in got)
