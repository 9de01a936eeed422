"""Tests for ``billing_core.ageing`` (pure Python, no Odoo).

Run with::

    cd <addon root> && PYTHONPATH=. python3 -m pytest -q -p no:cacheprovider billing_core/tests

Expected buckets are written out per edge (0, 1, 30, 31, 60, 61, 90, 91 days
overdue); expected totals are summed by hand or, in the properties, with an
independent classification by day ranges.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_core.ageing import BUCKETS, ageing_bucket, ageing_totals, days_overdue

# database=None: don't write a .hypothesis/ example database into the repo
PROPERTY = settings(max_examples=300, deadline=None, database=None)

DATE_REF = date(2026, 3, 31)


def _due(days_before_ref):
    return DATE_REF - timedelta(days=days_before_ref)


# ----------------------------------------------------------------------
# Buckets at each edge
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("days_before_ref", "bucket", "days"),
    [
        (-400, "not_due", 0),  # due far in the future
        (-1, "not_due", 0),  # due tomorrow
        (0, "not_due", 0),  # due today: not yet overdue
        (1, "1_30", 1),
        (30, "1_30", 30),
        (31, "31_60", 31),
        (60, "31_60", 60),
        (61, "61_90", 61),
        (90, "61_90", 90),
        (91, "over_90", 91),
        (3650, "over_90", 3650),
    ],
)
def test_bucket_and_days_overdue_at_each_edge(days_before_ref, bucket, days):
    assert ageing_bucket(_due(days_before_ref), DATE_REF) == bucket
    assert days_overdue(_due(days_before_ref), DATE_REF) == days


def test_bucket_edges_across_month_and_leap_day():
    # 2024 is a leap year: 1 Jan -> 31 Mar is 90 days, 31 Dec 2023 -> 31 Mar is 91
    assert ageing_bucket(date(2024, 1, 1), date(2024, 3, 31)) == "61_90"
    assert ageing_bucket(date(2023, 12, 31), date(2024, 3, 31)) == "over_90"
    # 2026 is not: 31 Dec 2025 -> 31 Mar 2026 is 90 days
    assert ageing_bucket(date(2025, 12, 31), date(2026, 3, 31)) == "61_90"


# ----------------------------------------------------------------------
# Totals
# ----------------------------------------------------------------------
def test_totals_sum_signed_amounts_per_bucket():
    items = [
        (_due(-10), Decimal("100.00")),  # not due
        (_due(0), Decimal("0.10")),  # not due
        (_due(5), Decimal("200.00")),  # 1-30
        (_due(30), Decimal("-50.00")),  # 1-30, credit note
        (_due(45), Decimal("0.20")),  # 31-60
        (_due(61), Decimal("300.00")),  # 61-90
        (_due(91), Decimal("-119.00")),  # over 90, unmatched payment
    ]
    totals = ageing_totals(items, DATE_REF)
    assert totals == {
        "not_due": Decimal("100.10"),
        "1_30": Decimal("150.00"),
        "31_60": Decimal("0.20"),
        "61_90": Decimal("300.00"),
        "over_90": Decimal("-119.00"),
        "total": Decimal("431.30"),
    }


def test_totals_of_no_items_are_zero_in_every_bucket():
    assert ageing_totals([], DATE_REF) == dict.fromkeys((*BUCKETS, "total"), Decimal(0))


def test_float_amount_is_refused():
    with pytest.raises(TypeError, match="must be a Decimal"):
        ageing_totals([(DATE_REF, 0.1)], DATE_REF)


def _bucket_by_ranges(days):
    """Independent classification, by explicit ranges."""
    if days <= 0:
        return "not_due"
    if days in range(1, 31):
        return "1_30"
    if days in range(31, 61):
        return "31_60"
    if days in range(61, 91):
        return "61_90"
    return "over_90"


amounts = st.decimals(min_value=Decimal("-100000"), max_value=Decimal("100000"), places=2)
offsets = st.integers(min_value=-200, max_value=400)


@PROPERTY
@given(st.lists(st.tuples(offsets, amounts), max_size=40))
def test_totals_are_exact_and_match_independent_bucketing(rows):
    items = [(_due(days), amount) for days, amount in rows]
    totals = ageing_totals(items, DATE_REF)
    expected = dict.fromkeys(BUCKETS, Decimal(0))
    for days, amount in rows:
        expected[_bucket_by_ranges(days)] += amount
    for bucket in BUCKETS:
        assert totals[bucket] == expected[bucket]
    assert totals["total"] == sum((amount for _days, amount in rows), Decimal(0))
    assert totals["total"] == sum(totals[bucket] for bucket in BUCKETS)


@PROPERTY
@given(offsets, st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)))
def test_bucket_never_gets_younger_as_time_passes(days, date_ref):
    due = date_ref - timedelta(days=days)
    later = date_ref + timedelta(days=1)
    assert BUCKETS.index(ageing_bucket(due, later)) >= BUCKETS.index(ageing_bucket(due, date_ref))
    assert days_overdue(due, later) >= days_overdue(due, date_ref)
    assert days_overdue(due, date_ref) == max(days, 0)
