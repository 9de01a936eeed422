"""Tests for ``billing_core.terms`` (pure Python, no Odoo).

Run with::

    cd /work/main && PYTHONPATH=. python3 -m pytest -q -p no:cacheprovider billing_core/tests

(``billing_core/tests/pytest.ini`` disables the pytest-odoo plugin, ``-p no:odoo``.)

Expected dates are written out literally or computed with ``calendar.monthrange``,
never by calling the code under test.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from billing_core.periods import ANNIVERSARY, DAY, MONTH, WEEK, YEAR, Interval, add_interval, period_for_index
from billing_core.terms import (
    CONSUMER_MAX_INITIAL_TERM,
    CONSUMER_MAX_NOTICE,
    TermRules,
    consumer_rule_violations,
    earliest_end_date,
    initial_term_end,
    notice_deadline_end,
    term_end_on,
)

# database=None: don't write a .hypothesis/ example database into the repo
PROPERTY = settings(max_examples=200, deadline=None, database=None)

ONE_DAY = timedelta(days=1)
ONE_MONTH = Interval(1, MONTH)
TWELVE_MONTHS = Interval(12, MONTH)
JAN_1_2024 = date(2024, 1, 1)


def ref_add_months(day: date, months: int, anchor_day: int | None = None) -> date:
    """Reference month addition, clamped to the month's length with monthrange."""
    anchor_day = anchor_day or day.day
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    month += 1
    return date(year, month, min(anchor_day, calendar.monthrange(year, month)[1]))


# ---------------------------------------------------------------------------
# initial_term_end
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start, min_term, expected",
    [
        (date(2024, 1, 1), Interval(12, MONTH), date(2024, 12, 31)),
        (date(2024, 1, 31), Interval(12, MONTH), date(2025, 1, 30)),
        (date(2024, 1, 1), Interval(1, YEAR), date(2024, 12, 31)),
        (date(2024, 1, 1), Interval(24, MONTH), date(2025, 12, 31)),
        (date(2024, 3, 15), Interval(1, MONTH), date(2024, 4, 14)),
        (date(2024, 1, 31), Interval(1, MONTH), date(2024, 2, 28)),  # anniversary Feb 29
        (date(2023, 1, 31), Interval(1, MONTH), date(2023, 2, 27)),  # anniversary Feb 28
        (date(2024, 1, 1), Interval(4, WEEK), date(2024, 1, 28)),
        (date(2024, 1, 1), Interval(30, DAY), date(2024, 1, 30)),
    ],
)
def test_initial_term_end_is_day_before_anniversary(start, min_term, expected):
    assert initial_term_end(start, TermRules(min_term=min_term)) == expected


def test_initial_term_end_is_none_without_min_term():
    assert initial_term_end(JAN_1_2024, TermRules()) is None
    assert initial_term_end(JAN_1_2024, TermRules(notice=ONE_MONTH)) is None


# ---------------------------------------------------------------------------
# notice_deadline_end
# ---------------------------------------------------------------------------


def test_notice_deadline_end_adds_notice():
    assert notice_deadline_end(date(2025, 3, 10), TermRules(notice=ONE_MONTH)) == date(2025, 4, 10)
    assert notice_deadline_end(date(2025, 3, 10), TermRules(notice=Interval(2, WEEK))) == date(2025, 3, 24)
    assert notice_deadline_end(date(2025, 1, 31), TermRules(notice=ONE_MONTH)) == date(2025, 2, 28)


def test_notice_deadline_end_without_notice_is_request_date():
    assert notice_deadline_end(date(2025, 3, 10), TermRules()) == date(2025, 3, 10)


def test_notice_deadline_end_consumer_rule_caps_notice_at_one_month():
    rules = TermRules(notice=Interval(3, MONTH), consumer_rule=True)
    assert notice_deadline_end(date(2025, 3, 10), rules) == date(2025, 4, 10)
    shorter = TermRules(notice=Interval(2, WEEK), consumer_rule=True)
    assert notice_deadline_end(date(2025, 3, 10), shorter) == date(2025, 3, 24)


# ---------------------------------------------------------------------------
# earliest_end_date: examples
# ---------------------------------------------------------------------------


NOTICE_1M_TERM_12M = TermRules(min_term=TWELVE_MONTHS, notice=ONE_MONTH)


def test_notice_given_by_nov_30_ends_term_on_dec_31():
    # term runs 1 Jan - 31 Dec 2024; 30 Nov + 1 month = 30 Dec <= 31 Dec
    assert earliest_end_date(JAN_1_2024, date(2024, 11, 30), NOTICE_1M_TERM_12M) == date(2024, 12, 31)


def test_notice_given_on_dec_1_ends_at_end_of_next_renewal():
    # 1 Dec + 1 month = 1 Jan > 31 Dec: too late, the contract renews for 2025
    assert earliest_end_date(JAN_1_2024, date(2024, 12, 1), NOTICE_1M_TERM_12M) == date(2025, 12, 31)


def test_notice_in_renewal_term_ends_that_renewal_or_the_next():
    assert earliest_end_date(JAN_1_2024, date(2025, 11, 30), NOTICE_1M_TERM_12M) == date(2025, 12, 31)
    assert earliest_end_date(JAN_1_2024, date(2025, 12, 1), NOTICE_1M_TERM_12M) == date(2026, 12, 31)
    assert earliest_end_date(JAN_1_2024, date(2025, 1, 1), NOTICE_1M_TERM_12M) == date(2025, 12, 31)


def test_request_early_in_initial_term_ends_at_initial_term_end():
    assert earliest_end_date(JAN_1_2024, date(2024, 1, 1), NOTICE_1M_TERM_12M) == date(2024, 12, 31)
    assert earliest_end_date(JAN_1_2024, date(2024, 6, 15), NOTICE_1M_TERM_12M) == date(2024, 12, 31)


def test_without_auto_renew_contract_ends_at_initial_term_end():
    rules = TermRules(min_term=TWELVE_MONTHS, notice=Interval(3, MONTH), auto_renew=False)
    # even a request whose notice would not reach the term end: nothing renews
    assert earliest_end_date(JAN_1_2024, date(2024, 12, 15), rules) == date(2024, 12, 31)
    assert earliest_end_date(JAN_1_2024, date(2024, 3, 1), rules) == date(2024, 12, 31)


def test_without_auto_renew_request_after_term_end_returns_the_past_term_end():
    # documents current behaviour: the contract already ended on 31 Dec 2024,
    # so the returned "earliest end" lies before the request date
    rules = TermRules(min_term=TWELVE_MONTHS, notice=ONE_MONTH, auto_renew=False)
    assert earliest_end_date(JAN_1_2024, date(2025, 3, 1), rules) == date(2024, 12, 31)


def test_renewal_term_differs_from_min_term():
    rules = TermRules(min_term=Interval(24, MONTH), renewal_term=TWELVE_MONTHS, notice=ONE_MONTH)
    assert initial_term_end(JAN_1_2024, rules) == date(2025, 12, 31)
    assert earliest_end_date(JAN_1_2024, date(2024, 12, 1), rules) == date(2025, 12, 31)
    assert earliest_end_date(JAN_1_2024, date(2025, 11, 30), rules) == date(2025, 12, 31)
    assert earliest_end_date(JAN_1_2024, date(2025, 12, 1), rules) == date(2026, 12, 31)
    assert earliest_end_date(JAN_1_2024, date(2026, 6, 15), rules) == date(2026, 12, 31)
    assert earliest_end_date(JAN_1_2024, date(2026, 12, 1), rules) == date(2027, 12, 31)


def test_renewal_term_shorter_than_notice_skips_to_reachable_renewal():
    rules = TermRules(min_term=TWELVE_MONTHS, renewal_term=ONE_MONTH, notice=Interval(3, MONTH))
    # 15 Dec 2024 + 3 months = 15 Mar 2025 -> the monthly renewal ending 31 Mar 2025
    assert earliest_end_date(JAN_1_2024, date(2024, 12, 15), rules) == date(2025, 3, 31)


def test_no_min_term_ends_at_request_plus_notice():
    assert earliest_end_date(JAN_1_2024, date(2025, 3, 10), TermRules(notice=ONE_MONTH)) == date(2025, 4, 10)
    assert earliest_end_date(JAN_1_2024, date(2025, 3, 10), TermRules(notice=Interval(2, WEEK))) == date(2025, 3, 24)
    assert earliest_end_date(JAN_1_2024, date(2025, 1, 31), TermRules(notice=ONE_MONTH)) == date(2025, 2, 28)


def test_no_min_term_and_no_notice_ends_on_request_date():
    assert earliest_end_date(JAN_1_2024, date(2025, 3, 10), TermRules()) == date(2025, 3, 10)


CONSUMER_3M_NOTICE = TermRules(min_term=TWELVE_MONTHS, notice=Interval(3, MONTH), consumer_rule=True)


def test_consumer_rule_after_initial_term_caps_notice_at_one_month():
    # initial term ended 31 Dec 2024; notice 3 months is capped at 1 month
    assert earliest_end_date(JAN_1_2024, date(2025, 3, 10), CONSUMER_3M_NOTICE) == date(2025, 4, 10)


def test_consumer_rule_after_initial_term_keeps_a_shorter_notice():
    rules = TermRules(min_term=TWELVE_MONTHS, notice=Interval(2, WEEK), consumer_rule=True)
    assert earliest_end_date(JAN_1_2024, date(2025, 3, 10), rules) == date(2025, 3, 24)


def test_consumer_rule_before_initial_term_end_caps_notice_at_one_month():
    # 20 Nov + 1 month (not 3) = 20 Dec <= 31 Dec: the initial term end is reachable
    assert earliest_end_date(JAN_1_2024, date(2024, 11, 20), CONSUMER_3M_NOTICE) == date(2024, 12, 31)
    # the same request without the consumer rule is too late for 2024 and renews
    plain = TermRules(min_term=TWELVE_MONTHS, notice=Interval(3, MONTH))
    assert earliest_end_date(JAN_1_2024, date(2024, 11, 20), plain) == date(2025, 12, 31)


def test_consumer_rule_late_request_ends_one_month_later_instead_of_renewing():
    # 15 Dec + 1 month = 15 Jan 2025 > 31 Dec 2024: contract continues indefinitely
    assert earliest_end_date(JAN_1_2024, date(2024, 12, 15), CONSUMER_3M_NOTICE) == date(2025, 1, 15)


def test_consumer_rule_without_auto_renew_ends_at_initial_term_end():
    rules = TermRules(min_term=TWELVE_MONTHS, notice=ONE_MONTH, consumer_rule=True, auto_renew=False)
    assert earliest_end_date(JAN_1_2024, date(2024, 12, 15), rules) == date(2024, 12, 31)


# ---------------------------------------------------------------------------
# term_end_on
# ---------------------------------------------------------------------------


def test_term_end_on_is_none_without_min_term():
    assert term_end_on(JAN_1_2024, TermRules(notice=ONE_MONTH), date(2024, 6, 1)) is None


def test_term_end_on_is_none_after_initial_term_under_consumer_rule():
    assert term_end_on(JAN_1_2024, CONSUMER_3M_NOTICE, date(2024, 12, 31)) == date(2024, 12, 31)
    assert term_end_on(JAN_1_2024, CONSUMER_3M_NOTICE, date(2025, 1, 1)) is None
    assert term_end_on(JAN_1_2024, CONSUMER_3M_NOTICE, date(2030, 6, 1)) is None


def test_term_end_on_during_initial_term_and_renewals():
    rules = TermRules(min_term=TWELVE_MONTHS)
    assert term_end_on(JAN_1_2024, rules, date(2024, 1, 1)) == date(2024, 12, 31)
    assert term_end_on(JAN_1_2024, rules, date(2024, 12, 31)) == date(2024, 12, 31)
    assert term_end_on(JAN_1_2024, rules, date(2025, 1, 1)) == date(2025, 12, 31)
    assert term_end_on(JAN_1_2024, rules, date(2027, 7, 14)) == date(2027, 12, 31)


def test_term_end_on_with_different_renewal_term():
    rules = TermRules(min_term=Interval(24, MONTH), renewal_term=Interval(6, MONTH))
    assert term_end_on(JAN_1_2024, rules, date(2025, 12, 31)) == date(2025, 12, 31)
    assert term_end_on(JAN_1_2024, rules, date(2026, 1, 1)) == date(2026, 6, 30)
    assert term_end_on(JAN_1_2024, rules, date(2026, 7, 1)) == date(2026, 12, 31)


def test_term_end_on_without_auto_renew_stays_at_initial_term_end():
    rules = TermRules(min_term=TWELVE_MONTHS, auto_renew=False)
    assert term_end_on(JAN_1_2024, rules, date(2026, 5, 1)) == date(2024, 12, 31)


# ---------------------------------------------------------------------------
# Renewal terms anchored on the contract start (month-end anniversaries)
# ---------------------------------------------------------------------------

MONTH_END_CASES = [
    # (start, term in months, a day in a later renewal term)
    (date(2024, 1, 31), 1, date(2024, 3, 10)),
    (date(2023, 3, 31), 1, date(2023, 5, 10)),
    (date(2023, 8, 31), 6, date(2024, 4, 1)),
    (date(2024, 2, 29), 12, date(2028, 1, 10)),
]


def _expected_term_end(start: date, months: int, day: date) -> date:
    """End of the term containing ``day``, terms anchored on ``start``'s day (like billing periods)."""
    k = 1
    while ref_add_months(start, k * months, start.day) - ONE_DAY < day:
        k += 1
    return ref_add_months(start, k * months, start.day) - ONE_DAY


@pytest.mark.parametrize("start, months, day", MONTH_END_CASES)
def test_renewal_term_ends_stay_on_contract_anniversaries(start, months, day):
    rules = TermRules(min_term=Interval(months, MONTH))
    assert term_end_on(start, rules, day) == _expected_term_end(start, months, day)


@pytest.mark.parametrize("start, months, day", MONTH_END_CASES)
def test_renewal_term_ends_coincide_with_anniversary_billing_period_ends(start, months, day):
    rules = TermRules(min_term=Interval(months, MONTH))
    billing_ends = {period_for_index(start, Interval(months, MONTH), ANNIVERSARY, n).end for n in range(60)}
    assert earliest_end_date(start, day, rules) in billing_ends


def test_renewal_term_ends_stay_on_anniversaries_when_first_renewal_is_not_clamped():
    # the initial term ends on Jan 30, so renewals start on Jan 31 and keep the month end
    rules = TermRules(min_term=TWELVE_MONTHS, renewal_term=ONE_MONTH)
    start = date(2024, 1, 31)
    assert term_end_on(start, rules, date(2025, 2, 10)) == date(2025, 2, 27)
    assert term_end_on(start, rules, date(2025, 3, 10)) == date(2025, 3, 30)
    assert term_end_on(start, rules, date(2025, 4, 10)) == date(2025, 4, 29)


# ---------------------------------------------------------------------------
# consumer_rule_violations
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rules, expected",
    [
        (TermRules(), []),
        (TermRules(min_term=Interval(24, MONTH), notice=ONE_MONTH), []),
        (TermRules(min_term=Interval(2, YEAR), notice=Interval(4, WEEK)), []),
        (TermRules(min_term=Interval(25, MONTH)), ["min_term"]),
        (TermRules(min_term=Interval(3, YEAR)), ["min_term"]),
        (TermRules(min_term=Interval(105, WEEK)), ["min_term"]),
        (TermRules(notice=Interval(2, MONTH)), ["notice"]),
        (TermRules(notice=Interval(5, WEEK)), ["notice"]),
        (TermRules(notice=Interval(32, DAY)), ["notice"]),
        (TermRules(min_term=Interval(36, MONTH), notice=Interval(3, MONTH)), ["min_term", "notice"]),
    ],
)
def test_consumer_rule_violations_flags_long_min_term_and_notice(rules, expected):
    assert consumer_rule_violations(rules) == expected


def test_consumer_limits_are_24_months_and_1_month():
    assert CONSUMER_MAX_INITIAL_TERM == Interval(24, MONTH)
    assert CONSUMER_MAX_NOTICE == Interval(1, MONTH)


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

starts = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))
term_intervals = st.one_of(
    st.builds(Interval, st.integers(1, 36), st.just(MONTH)),
    st.builds(Interval, st.integers(1, 3), st.just(YEAR)),
    st.builds(Interval, st.integers(1, 20), st.just(WEEK)),
    st.builds(Interval, st.integers(7, 400), st.just(DAY)),
)
notice_intervals = st.one_of(
    st.builds(Interval, st.integers(1, 6), st.just(MONTH)),
    st.builds(Interval, st.integers(1, 8), st.just(WEEK)),
    st.builds(Interval, st.integers(1, 90), st.just(DAY)),
)
term_rules = st.builds(
    TermRules,
    min_term=st.none() | term_intervals,
    renewal_term=st.none() | term_intervals,
    auto_renew=st.booleans(),
    notice=st.none() | notice_intervals,
    consumer_rule=st.booleans(),
)
renewing_rules = st.builds(
    TermRules,
    min_term=term_intervals,
    renewal_term=st.none() | term_intervals,
    auto_renew=st.just(True),
    notice=st.none() | notice_intervals,
    consumer_rule=st.just(False),
)


@PROPERTY
@given(start=starts, rules=term_rules, offset=st.integers(-60, 6 * 366))
def test_earliest_end_date_respects_request_date_and_notice(start, rules, offset):
    request = start + timedelta(days=offset)
    first_end = initial_term_end(start, rules)
    # a non-renewing contract whose term is already over has ended in the past
    assume(not (first_end is not None and not rules.auto_renew and request > first_end))
    end = earliest_end_date(start, request, rules)
    assert end >= request
    if first_end is not None:
        assert end >= first_end
    if rules.notice and not rules.consumer_rule and (first_end is None or rules.auto_renew):
        assert end >= add_interval(request, rules.notice)
    if rules.consumer_rule:
        # never more than one month's notice beyond the initial term end
        assert end <= max(first_end or request, add_interval(request, CONSUMER_MAX_NOTICE))


@PROPERTY
@given(
    start=starts,
    rules=term_rules,
    offset=st.integers(-60, 5 * 366),
    delta=st.integers(0, 800),
)
def test_earliest_end_date_is_monotonic_in_request_date(start, rules, offset, delta):
    earlier = start + timedelta(days=offset)
    later = earlier + timedelta(days=delta)
    assert earliest_end_date(start, earlier, rules) <= earliest_end_date(start, later, rules)


@PROPERTY
@given(start=starts, rules=renewing_rules, offset=st.integers(0, 6 * 366))
def test_earliest_end_date_of_a_renewing_contract_is_a_term_end(start, rules, offset):
    request = start + timedelta(days=offset)
    end = earliest_end_date(start, request, rules)
    assert term_end_on(start, rules, end) == end
    # and it is the first term end the notice can reach
    reachable = add_interval(request, rules.notice) if rules.notice else request
    assert end == term_end_on(start, rules, max(reachable, start))


@PROPERTY
@given(start=starts, rules=term_rules, offset=st.integers(0, 6 * 366))
def test_term_end_on_returns_the_end_of_the_term_running_on_the_day(start, rules, offset):
    day = start + timedelta(days=offset)
    end = term_end_on(start, rules, day)
    first_end = initial_term_end(start, rules)
    if first_end is None:
        assert end is None
    elif day <= first_end or not rules.auto_renew:
        assert end == first_end
    elif rules.consumer_rule:
        assert end is None
    else:
        assert end >= day
        # the day after the end starts a new term; the term containing it ends later
        assert term_end_on(start, rules, end + ONE_DAY) > end


@PROPERTY
@given(
    start=st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)),
    months=st.integers(1, 36),
)
def test_initial_term_end_matches_monthrange_reference(start, months):
    rules = TermRules(min_term=Interval(months, MONTH))
    assert initial_term_end(start, rules) == ref_add_months(start, months, start.day) - ONE_DAY


@pytest.mark.parametrize(
    "rules, expected",
    [
        (TermRules(notice=Interval(28, DAY)), []),
        (TermRules(notice=Interval(29, DAY)), ["notice"]),  # February has 28 days
        (TermRules(notice=Interval(4, WEEK)), []),
        (TermRules(notice=Interval(5, WEEK)), ["notice"]),
        (TermRules(min_term=Interval(730, DAY)), []),
        (TermRules(min_term=Interval(731, DAY)), ["min_term"]),  # 24 months can be 730 days
        (TermRules(min_term=Interval(2, YEAR)), []),
        (TermRules(min_term=Interval(3, YEAR)), ["min_term"]),
    ],
)
def test_consumer_limits_in_days_and_weeks_hold_for_every_start_date(rules, expected):
    assert consumer_rule_violations(rules) == expected
