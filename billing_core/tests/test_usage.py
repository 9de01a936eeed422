"""Tests for ``billing_core.usage`` (pure Python, no Odoo).

Run with::

    cd /work/main && PYTHONPATH=. python3 -m pytest -q -p no:cacheprovider billing_core/tests

(``billing_core/tests/pytest.ini`` disables the pytest-odoo plugin, ``-p no:odoo``.)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_core.usage import COUNT_DISTINCT, LAST, MAX, METHODS, SUM, UsageEvent, aggregate

# database=None: don't write a .hypothesis/ example database into the repo
PROPERTY = settings(max_examples=200, deadline=None, database=None)

D = Decimal
T0 = datetime(2024, 6, 1, 8, 0)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def ev(quantity, hours: float = 0, value: str | None = None) -> UsageEvent:
    return UsageEvent(D(quantity), at(hours), value)


quantities = st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False, allow_infinity=False)
signed_quantities = st.decimals(min_value=-(10**6), max_value=10**6, places=3, allow_nan=False, allow_infinity=False)
timestamps = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2024, 1, 3))  # narrow: many ties
values = st.one_of(st.none(), st.just(""), st.sampled_from(["alice", "bob", "carol", "dave", "Alice"]))
events = st.builds(UsageEvent, quantity=signed_quantities, timestamp=timestamps, value=values)
non_negative_events = st.builds(UsageEvent, quantity=quantities, timestamp=timestamps, value=values)


# ---------------------------------------------------------------------------
# Examples
# ---------------------------------------------------------------------------


SAMPLE = [ev("3", 0, "alice"), ev("10", 1, "bob"), ev("2.5", 2, "alice"), ev("4", 3, None), ev("1", 4, "")]


@pytest.mark.parametrize(
    "method, expected",
    [(SUM, "20.5"), (MAX, "10"), (COUNT_DISTINCT, "2"), (LAST, "1")],
)
def test_each_method_on_a_sample(method, expected):
    result = aggregate(SAMPLE, method)
    assert isinstance(result, Decimal)
    assert result == D(expected)


@pytest.mark.parametrize("method", METHODS)
def test_no_events_give_zero(method):
    assert aggregate([], method) == 0
    assert aggregate(iter(()), method) == 0


def test_sum_applies_corrections():
    assert aggregate([ev(10, 0), ev(-3, 1), ev("0.5", 2)], SUM) == D("7.5")


def test_sum_never_goes_below_zero():
    assert aggregate([ev(2, 0), ev(-5, 1)], SUM) == 0
    assert aggregate([ev(-1, 0)], SUM) == 0


def test_sum_is_exact_for_odoo_floats():
    """0.1 + 0.2 is 0.3 here, not 0.30000000000000004."""
    events_ = [UsageEvent(0.1, T0), UsageEvent(0.2, T0)]
    assert aggregate(events_, SUM) == D("0.3")
    assert events_[0].quantity == D("0.1")


def test_max_and_last_are_clamped_at_zero():
    assert aggregate([ev(-2, 0), ev(-1, 1)], MAX) == 0
    assert aggregate([ev(5, 0), ev(-1, 1)], LAST) == 0


def test_count_distinct_ignores_quantities_and_empty_values():
    events_ = [ev(0, 0, "u1"), ev(-1, 1, "u2"), ev(5, 2, "u1"), ev(1, 3, None), ev(1, 4, ""), ev(1, 5, "U1")]
    assert aggregate(events_, COUNT_DISTINCT) == 3  # u1, u2, U1: values are compared exactly


def test_last_takes_the_latest_timestamp_not_the_last_in_the_list():
    assert aggregate([ev(7, 5), ev(3, 1), ev(4, 2)], LAST) == 7


def test_last_on_a_tie_takes_the_later_event_in_the_list():
    assert aggregate([ev(1, 0), ev(7, 5), ev(3, 5), ev(4, 2)], LAST) == 3


def test_unknown_method_raises():
    with pytest.raises(ValueError, match="unknown aggregation method"):
        aggregate(SAMPLE, "avg")
    with pytest.raises(ValueError):
        aggregate([], "avg")


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------


@PROPERTY
@given(events_=st.lists(non_negative_events, max_size=30), data=st.data())
def test_sum_of_halves(events_, data):
    cut = data.draw(st.integers(0, len(events_)))
    whole = aggregate(events_, SUM)
    assert whole == aggregate(events_[:cut], SUM) + aggregate(events_[cut:], SUM)
    assert whole == sum((event.quantity for event in events_), D(0))


@PROPERTY
@given(events_=st.lists(events, max_size=30))
def test_sum_is_the_clamped_total(events_):
    assert aggregate(events_, SUM) == max(D(0), sum((event.quantity for event in events_), D(0)))


@PROPERTY
@given(events_=st.lists(events, max_size=30), data=st.data())
def test_count_distinct_is_order_independent(events_, data):
    shuffled = data.draw(st.permutations(events_))
    assert aggregate(shuffled, COUNT_DISTINCT) == aggregate(events_, COUNT_DISTINCT)
    assert aggregate(events_, COUNT_DISTINCT) == len({event.value for event in events_} - {None, ""})


@PROPERTY
@given(events_=st.lists(non_negative_events, min_size=1, max_size=30))
def test_last_is_the_quantity_at_the_latest_timestamp(events_):
    index = max(range(len(events_)), key=lambda i: (events_[i].timestamp, i))
    assert aggregate(events_, LAST) == events_[index].quantity


@PROPERTY
@given(events_=st.lists(non_negative_events, min_size=1, max_size=30))
def test_max_is_the_largest_quantity(events_):
    assert aggregate(events_, MAX) == max(event.quantity for event in events_)


@PROPERTY
@given(events_=st.lists(events, max_size=30), method=st.sampled_from(METHODS))
def test_aggregates_are_never_negative(events_, method):
    assert aggregate(events_, method) >= 0
