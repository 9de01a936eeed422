"""Tests for ``billing_core.forecast``: the invoices the daily runs create, projected without writing.

Scenarios have their amounts computed by hand in the docstrings; the property test checks that the
projected service periods of random timelines tile the unbilled billable days without gaps or overlaps
and never include a billed day.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing_core import forecast, schedule
from billing_core.periods import ALIGNMENTS, DAY, MONTH, WEEK, YEAR, Interval
from billing_core.pricing import Tier

ONE_DAY = timedelta(days=1)
CENT = Decimal("0.01")
MONTHLY = forecast.PlanSpec(1, schedule.PlanRules(Interval(1, MONTH)), journal_id=7)
YEARLY = forecast.PlanSpec(2, schedule.PlanRules(Interval(1, YEAR)), journal_id=7)
ARREARS = forecast.PlanSpec(3, schedule.PlanRules(Interval(1, MONTH), in_advance=False), journal_id=7)
VAT = (19,)


def line(line_id=1, price="100", quantity="1", **kw):
    values = {
        "id": line_id,
        "order": (10, line_id),
        "line_type": forecast.RECURRING,
        "product_id": 50 + line_id,
        "name": f"Line {line_id}",
        "quantity": Decimal(quantity),
        "price_unit": Decimal(price),
        "tax_key": VAT,
    }
    values.update(kw)
    return forecast.LineSpec(**values)


def sub(sub_id=1, start=date(2026, 1, 1), next_start=date(2026, 2, 1), plan=MONTHLY, lines=None, **kw):
    timeline_kw = {key: kw.pop(key) for key in ("trial_end", "end_date", "pause_date", "billed") if key in kw}
    anchor = kw.pop("anchor", None) or (timeline_kw.get("trial_end") or start - ONE_DAY) + ONE_DAY
    timeline = schedule.Timeline(start=start, anchor=anchor, next_start=next_start, **timeline_kw)
    return forecast.SubscriptionSpec(
        sub_id,
        timeline,
        plan,
        tuple(lines or [line()]),
        CENT,
        customer_id=kw.pop("customer_id", 100 + sub_id),
        invoice_key=kw.pop("invoice_key", (100 + sub_id, 1, 1, 0, 0, 0)),
        **kw,
    )


def summary(invoices):
    return [(inv.invoice_date, tuple(inv.subscription_ids), inv.amount_untaxed) for inv in invoices]


def test_monthly_in_advance_bills_each_month_on_its_first_day():
    """100.00 a month from 1 Jan, January billed: February to April on the 1st, 100.00 each."""
    invoices = forecast.project([sub()], date(2026, 2, 1), date(2026, 4, 30), date(2026, 2, 1))
    assert summary(invoices) == [(date(2026, m, 1), (1,), Decimal("100.00")) for m in (2, 3, 4)]


def test_end_date_prorates_the_last_period_and_stops():
    """Ends 14 Feb: 1–14 Feb is 14 of February's 28 days, 100 × 14/28 = 50.00; nothing after."""
    invoices = forecast.project(
        [sub(end_date=date(2026, 2, 14))], date(2026, 2, 1), date(2026, 6, 30), date(2026, 2, 1)
    )
    assert summary(invoices) == [(date(2026, 2, 1), (1,), Decimal("50.00"))]


def test_arrears_bill_the_month_after_it_ends():
    """In arrears, January billed: February is invoiced on 1 Mar, March on 1 Apr (100.00 each)."""
    invoices = forecast.project([sub(plan=ARREARS)], date(2026, 2, 1), date(2026, 4, 1), date(2026, 2, 1))
    assert summary(invoices) == [
        (date(2026, 3, 1), (1,), Decimal("100.00")),
        (date(2026, 4, 1), (1,), Decimal("100.00")),
    ]
    assert [(inv.lines[0].start, inv.lines[0].end) for inv in invoices] == [
        (date(2026, 2, 1), date(2026, 2, 28)),
        (date(2026, 3, 1), date(2026, 3, 31)),
    ]


def test_trial_ending_inside_the_window_starts_billing_the_day_after():
    """Trial to 2 Feb (anchor 3 Feb), nothing billed: first invoice 3 Feb, then 3 Mar (100.00 each)."""
    spec = sub(start=date(2026, 1, 20), trial_end=date(2026, 2, 2), next_start=date(2026, 2, 3))
    invoices = forecast.project([spec], date(2026, 2, 1), date(2026, 3, 31), date(2026, 2, 1))
    assert summary(invoices) == [
        (date(2026, 2, 3), (1,), Decimal("100.00")),
        (date(2026, 3, 3), (1,), Decimal("100.00")),
    ]


def test_coupon_for_two_periods_runs_out():
    """10 % for 2 periods, one already invoiced: February 100 − 10 = 90.00, March and April 100.00."""
    discount = forecast.DiscountSpec(9, "percent", percent=Decimal(10), duration=2, applied=1)
    invoices = forecast.project([sub(discounts=(discount,))], date(2026, 2, 1), date(2026, 4, 30), date(2026, 2, 1))
    assert [inv.amount_untaxed for inv in invoices] == [Decimal("90.00"), Decimal("100.00"), Decimal("100.00")]


def test_fixed_discount_is_split_over_tax_sets_and_capped():
    """30.00 off 100 (19 %) + 50 (7 %): split 2:1, −20.00 and −10.00, 120.00 left."""
    lines = [line(1, "100"), line(2, "50", tax_key=(7,))]
    discount = forecast.DiscountSpec(9, "fixed", amount=Decimal(30))
    [invoice] = forecast.project(
        [sub(lines=lines, discounts=(discount,))], date(2026, 2, 1), date(2026, 2, 28), date(2026, 2, 1)
    )
    assert [(ln.tax_key, ln.price_unit) for ln in invoice.lines if ln.kind == forecast.DISCOUNT] == [
        (VAT, Decimal("-20.00")),
        ((7,), Decimal("-10.00")),
    ]
    assert invoice.amount_untaxed == Decimal("120.00")


def test_graduated_tiers_and_seats():
    """12 seats, graduated 1–10 at 5.00, then 4.00: 10 × 5 + 2 × 4 = 58.00, one rated line."""
    tiers = (Tier(Decimal(10), Decimal(5)), Tier(None, Decimal(4)))
    seats = line(quantity="12", pricing_model="graduated", tiers=tiers)
    [invoice] = forecast.project([sub(lines=[seats])], date(2026, 2, 1), date(2026, 2, 28), date(2026, 2, 1))
    assert (invoice.lines[0].quantity, invoice.lines[0].price_unit) == (Decimal(1), Decimal("58.00"))


def test_scheduled_change_applies_from_its_effective_date():
    """Pro 150 until 28 Feb, then Basic 100 (scheduled for 1 Mar): February 150.00, March 100.00."""
    pro = line(1, "150")
    change = forecast.ChangeSpec(date(2026, 3, 1), MONTHLY, ends=(1,), adds=(line(2, "100"),))
    invoices = forecast.project(
        [sub(lines=[pro], changes=(change,))], date(2026, 2, 1), date(2026, 3, 31), date(2026, 2, 1)
    )
    assert [inv.amount_untaxed for inv in invoices] == [Decimal("150.00"), Decimal("100.00")]


def test_setup_fee_once_and_usage_to_be_rated():
    """Setup 49.00 not billed yet, usage line: February 100 + 49 = 149.00 with January's usage to be rated;
    March 100.00 with February's usage to be rated."""
    lines = [line(1), line(2, "49", line_type=forecast.SETUP), line(3, "0", line_type=forecast.USAGE)]
    invoices = forecast.project([sub(lines=lines)], date(2026, 2, 1), date(2026, 3, 31), date(2026, 2, 1))
    assert [inv.amount_untaxed for inv in invoices] == [Decimal("149.00"), Decimal("100.00")]
    usage = [[(ln.start, ln.end) for ln in inv.lines if ln.to_be_rated] for inv in invoices]
    assert usage == [[(date(2026, 1, 1), date(2026, 1, 31))], [(date(2026, 2, 1), date(2026, 2, 28))]]


def test_grouping_customer_gets_one_invoice_per_date():
    """Two subscriptions of a grouping customer, both due 1 Feb: one invoice of 100 + 100 = 200.00."""
    key = (200, 1, 1, 0, 0, 0)
    specs = [sub(1, groups=True, invoice_key=key), sub(2, groups=True, invoice_key=key)]
    invoices = forecast.project(specs, date(2026, 2, 1), date(2026, 2, 28), date(2026, 2, 1))
    assert summary(invoices) == [(date(2026, 2, 1), (1, 2), Decimal("200.00"))]


def test_periods_due_before_a_future_window_are_not_reported():
    """Forecast from 1 Mar on 1 Feb: February (due 1 Feb) is billed by the run before the window; March only."""
    invoices = forecast.project([sub()], date(2026, 3, 1), date(2026, 3, 31), date(2026, 2, 1))
    assert summary(invoices) == [(date(2026, 3, 1), (1,), Decimal("100.00"))]


# ---------------------------------------------------------------------------
# Property: projected periods tile the unbilled billable days
# ---------------------------------------------------------------------------

DAYS = st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31))


@st.composite
def timelines(draw):
    start = draw(DAYS)
    unit = draw(st.sampled_from([DAY, WEEK, MONTH, YEAR]))
    count = draw(st.integers(1, 3 if unit != DAY else 20))
    rules = schedule.PlanRules(Interval(count, unit), draw(st.sampled_from(ALIGNMENTS)), draw(st.booleans()))
    trial = draw(st.one_of(st.none(), st.integers(0, 40)))
    timeline = schedule.start(
        schedule.Timeline(start=start), start + timedelta(days=trial) if trial is not None else None
    )
    # the history: invoiced service (with gaps, e.g. released periods) before the first unbilled day
    next_start = timeline.anchor + timedelta(days=draw(st.integers(0, 400)))
    billed = []
    cursor = timeline.anchor
    for _ in range(draw(st.integers(0, 3))):
        start_gap = cursor + timedelta(days=draw(st.integers(0, 60)))
        end_day = start_gap + timedelta(days=draw(st.integers(0, 60)))
        if end_day >= next_start:
            break
        billed.append((start_gap, end_day))
        cursor = end_day + ONE_DAY
    end = draw(st.one_of(st.none(), st.integers(0, 800)))
    pause = draw(st.one_of(st.none(), st.integers(0, 800)))
    timeline = schedule.Timeline(
        start=start,
        trial_end=timeline.trial_end,
        anchor=timeline.anchor,
        next_start=next_start,
        end_date=start + timedelta(days=end) if end is not None else None,
        pause_date=start + timedelta(days=pause) if pause is not None else None,
        billed=tuple(billed),
    )
    return timeline, rules


@settings(max_examples=300, deadline=None)
@given(timelines(), DAYS, st.integers(0, 500))
def test_projected_periods_tile_the_timeline_and_never_bill_a_billed_day(case, date_from, length):
    """Over any window, the projected service periods of one subscription are disjoint, contiguous except
    where billed days or the last billable day cut them, start on or after the first unbilled day, end by the
    last billable day, and none contains a billed day; a second projection from the end of the first finds
    no period the first already holds."""
    timeline, rules = case
    date_to = date_from + timedelta(days=length)
    plan = forecast.PlanSpec(1, rules)
    spec = forecast.SubscriptionSpec(1, timeline, plan, (line(),), CENT)
    invoices = forecast.project([spec], date_from, date_to, date_from)
    periods = sorted((period.start, period.end) for inv in invoices for _sub, period in inv.items)
    billed_days = {d for start, end in timeline.billed for d in _days(start, end)}
    first = max(timeline.next_start, timeline.anchor)
    last = timeline.last_billable_day
    seen = set()
    for start, end in periods:
        covered = _days(start, end)
        assert start >= first
        assert last is None or end <= last
        assert not covered & billed_days, "a billed day is projected again"
        assert not covered & seen, "two projected periods overlap"
        seen |= covered
    # between the first and last projected day, every day is projected, billed, or after the last billable day
    if periods:
        for day in _days(periods[0][0], periods[-1][1]):
            assert day in seen or day in billed_days
    # the invoice dates lie in the window (the runs of its days)
    for inv in invoices:
        assert inv.run_date >= date_from and inv.run_date <= date_to


def _days(start, end):
    return {start + timedelta(days=n) for n in range((end - start).days + 1)}
