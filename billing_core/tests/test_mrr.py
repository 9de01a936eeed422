"""Tests for ``billing_core.mrr`` (pure Python, no Odoo).

Run with::

    python3 -m pytest -q -p no:cacheprovider billing_core/tests/test_mrr.py

Expected figures are written out by hand in each docstring.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_core import mrr

PROPERTY = settings(max_examples=300, deadline=None, database=None)

D = Decimal


def test_movements_classify_a_full_history():
    """New 100 on 1 Jan, upgrade to 150 on 1 Feb (expansion +50), downgrade to 120 on 1 Mar
    (contraction −30), pause on 1 Apr (churn −120), resume on 1 May (reactivation +120),
    end on 1 Jun (churn −120)."""
    timeline = [
        (date(2026, 1, 1), D(100)),
        (date(2026, 2, 1), D(150)),
        (date(2026, 3, 1), D(120)),
        (date(2026, 4, 1), D(0)),
        (date(2026, 5, 1), D(120)),
        (date(2026, 6, 1), D(0)),
    ]
    moves = mrr.movements(timeline)
    assert [(m.kind, m.delta) for m in moves] == [
        (mrr.NEW, D(100)),
        (mrr.EXPANSION, D(50)),
        (mrr.CONTRACTION, D(-30)),
        (mrr.CHURN, D(-120)),
        (mrr.REACTIVATION, D(120)),
        (mrr.CHURN, D(-120)),
    ]


def test_unchanged_mrr_writes_no_movement():
    """A point repeating the current MRR (a trial start at 0, a plan change at the same price) is no movement."""
    assert mrr.movements([(date(2026, 1, 1), D(0)), (date(2026, 2, 1), D(0))]) == []
    assert mrr.movements([(date(2026, 2, 1), D(50))], before=D(50)) == []


def test_appending_after_a_churn_is_a_reactivation():
    """Appending to a ledger whose last MRR is 0 but that was active before: reactivation, not new."""
    (move,) = mrr.movements([(date(2026, 3, 1), D(80))], before=D(0), was_active=True)
    assert move.kind == mrr.REACTIVATION


def test_negative_mrr_is_refused():
    with pytest.raises(ValueError):
        mrr.classify(D(0), D(-1), False)


def test_bridge_of_a_month():
    """Two subscriptions. A: new 100 on 5 Jan, +50 on 3 Feb, churn −150 on 20 Feb.
    B: new 200 on 10 Feb, −40 on 25 Feb. Bridge of February:
    opening 100 (A), new 200, expansion 50, contraction 40, churn 150, reactivation 0,
    closing 100 + 200 + 50 − 40 − 150 = 160 (B's 160)."""
    deltas = [
        (date(2026, 1, 5), mrr.NEW, D(100)),
        (date(2026, 2, 3), mrr.EXPANSION, D(50)),
        (date(2026, 2, 20), mrr.CHURN, D(-150)),
        (date(2026, 2, 10), mrr.NEW, D(200)),
        (date(2026, 2, 25), mrr.CONTRACTION, D(-40)),
        (date(2026, 3, 1), mrr.CHURN, D(-160)),
    ]
    result = mrr.bridge(deltas, date(2026, 2, 1), date(2026, 2, 28))
    assert result == mrr.Bridge(D(100), D(200), D(50), D(40), D(150), D(0), D(160))
    assert result.balances()


def test_rates_and_clv():
    """Opening 1,000 over 10 customers; expansion 100, contraction 50, churn 150; 2 customers lost.
    Logo churn 2/10 = 0.2; gross revenue churn (150+50)/1000 = 0.2; net (200−100)/1000 = 0.1;
    NRR (1000+100−200)/1000 = 0.9. CLV with ARPA 100 and margin 0.8 at churn 0.2: 100×0.8/0.2 = 400."""
    period = mrr.Bridge(D(1000), D(0), D(100), D(50), D(150), D(0), D(900))
    result = mrr.rates(period, 10, 2)
    assert result == mrr.Rates(D("0.2"), D("0.2"), D("0.1"), D("0.9"))
    assert mrr.clv(D(100), D("0.8"), result.gross_revenue_churn) == D(400)
    assert mrr.clv(D(100), D("0.8"), D(0)) is None
    assert mrr.rates(mrr.Bridge(), 0, 0).logo_churn is None


def test_cohort_table():
    """Customers a (signup Jan, 100, gone in March) and b (signup Jan, 50, stays), c (signup Feb, 70).
    Jan row: customers [2, 2, 1], revenue [150, 150, 50]; Feb row: [1, 1], [70, 70]; Mar row: [0], [0]."""
    ends = [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)]
    mrr_by_customer = {
        "a": {ends[0]: D(100), ends[1]: D(100), ends[2]: D(0)},
        "b": dict.fromkeys(ends, D(50)),
        "c": {ends[1]: D(70), ends[2]: D(70)},
    }
    signups = {"a": date(2026, 1, 3), "b": date(2026, 1, 20), "c": date(2026, 2, 2)}
    table = mrr.cohorts(signups, mrr_by_customer, date(2026, 1, 1), 3)
    assert [(row.customers, row.revenue) for row in table] == [
        ([2, 2, 1], [D(150), D(150), D(50)]),
        ([1, 1], [D(70), D(70)]),
        ([0], [D(0)]),
    ]


amounts = st.integers(min_value=0, max_value=5).map(lambda n: D(n * 25))
points = st.lists(st.tuples(st.integers(min_value=0, max_value=400), amounts), max_size=12)


@PROPERTY
@given(st.lists(points, min_size=1, max_size=6), st.integers(min_value=-5, max_value=410))
def test_ledger_invariant(histories, offset):
    """For any day, the sum of all subscriptions' movements up to it equals the sum of their MRR that day."""
    origin = date(2026, 1, 1)
    day = origin + timedelta(days=offset)
    ledger = []
    expected = D(0)
    for history in histories:
        timeline = [(origin + timedelta(days=n), value) for n, value in history]
        ledger.extend(mrr.movements(timeline))
        expected += mrr.timeline_value(timeline, day)
    assert mrr.mrr_on(ledger, day) == expected


@PROPERTY
@given(points, st.integers(min_value=0, max_value=400), st.integers(min_value=0, max_value=60))
def test_bridge_balances_and_kinds_have_their_sign(history, start, length):
    """Every bridge balances; new/expansion/reactivation are increases, contraction/churn decreases."""
    origin = date(2026, 1, 1)
    moves = mrr.movements([(origin + timedelta(days=n), value) for n, value in history])
    for move in moves:
        assert (move.delta > 0) == (move.kind in (mrr.NEW, mrr.EXPANSION, mrr.REACTIVATION))
    assert sum(1 for move in moves if move.kind == mrr.NEW) <= 1
    first = origin + timedelta(days=start)
    result = mrr.bridge([(m.date, m.kind, m.delta) for m in moves], first, first + timedelta(days=length))
    assert result.balances()
    assert result.opening == mrr.mrr_on(moves, first - timedelta(days=1))


def test_months_between():
    """Jan–Mar 2026 is 3 months; February alone is 1; 1–15 Jan is 15 days ÷ 30 = 0.5."""
    assert mrr.months_between(date(2026, 1, 1), date(2026, 3, 31)) == D(3)
    assert mrr.months_between(date(2026, 2, 1), date(2026, 2, 28)) == D(1)
    assert mrr.months_between(date(2026, 1, 1), date(2026, 1, 15)) == D("0.5")
