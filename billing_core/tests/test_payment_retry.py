"""Tests for ``billing_core.payment_retry`` (pure Python, no Odoo).

Run with::

    PYTHONPATH=. python3 -m pytest -q -p no:cacheprovider billing_core/tests/test_payment_retry.py

Expected dates are written out literally, never computed by the code under test.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_core import payment_retry as pr


def test_default_schedule_parses_to_four_retries():
    """The schedule "1,3,5,7" gives the offsets 1, 3, 5 and 7 days."""
    assert pr.parse_schedule(pr.DEFAULT_SCHEDULE) == (1, 3, 5, 7)


def test_spaces_and_empty_schedule():
    """Spaces around the numbers are fine; an empty schedule means no retry."""
    assert pr.parse_schedule(" 2 , 4,10 ") == (2, 4, 10)
    assert pr.parse_schedule("") == ()
    assert pr.parse_schedule(None) == ()
    assert pr.parse_schedule("   ") == ()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1,,3", "syntax"),
        ("1;3", "syntax"),
        ("1,-3", "syntax"),
        ("1.5", "syntax"),
        ("１,２", "syntax"),  # full-width digits are not ASCII digits
        ("0,3", "range"),
        ("1,61", "range"),
        ("3,3", "order"),
        ("5,3", "order"),
        ("1,2,3,4,5,6,7,8,9,10,11", "too_many"),
    ],
)
def test_bad_schedules_are_refused_with_a_code(text, code):
    """Every kind of bad schedule raises ScheduleError with a code saying what is wrong."""
    with pytest.raises(pr.ScheduleError) as info:
        pr.parse_schedule(text)
    assert info.value.code == code


def test_next_attempt_dates_of_the_default_schedule():
    """First failure on 2026-03-30, schedule 1,3,5,7: retries on 31 Mar, 2 Apr, 4 Apr, 6 Apr, then none."""
    offsets = (1, 3, 5, 7)
    first = date(2026, 3, 30)
    assert pr.next_attempt_date(first, 1, offsets) == date(2026, 3, 31)
    assert pr.next_attempt_date(first, 2, offsets) == date(2026, 4, 2)
    assert pr.next_attempt_date(first, 3, offsets) == date(2026, 4, 4)
    assert pr.next_attempt_date(first, 4, offsets) == date(2026, 4, 6)
    assert pr.next_attempt_date(first, 5, offsets) is None


def test_no_retry_schedule_is_exhausted_at_once():
    assert pr.next_attempt_date(date(2026, 1, 1), 1, ()) is None


def test_next_attempt_needs_a_failure():
    with pytest.raises(ValueError):
        pr.next_attempt_date(date(2026, 1, 1), 0, (1,))


@pytest.mark.parametrize(
    "message",
    [
        "Your card has expired.",
        "Card EXPIRED (54)",
        "Token revoked by the customer",
        "stolen card",
        "Invalid account number",
        "Do not honor",
    ],
)
def test_hard_decline_markers(message):
    """Providers' messages that a retry cannot cure are hard, in error and cancel state alike."""
    assert pr.classify_failure("error", message) == pr.HARD
    assert pr.classify_failure("cancel", message) == pr.HARD


@pytest.mark.parametrize("message", [None, "", "Insufficient funds", "Timeout", "You selected error"])
def test_soft_failures(message):
    assert pr.classify_failure("error", message) == pr.SOFT
    assert pr.classify_failure("cancel", message) == pr.SOFT


def test_archived_token_is_hard_whatever_the_message():
    assert pr.classify_failure("error", "Insufficient funds", token_active=False) == pr.HARD


def test_markers_are_words_not_substrings():
    """The text "unexpired" does not contain the word "expired" (word boundaries)."""
    assert pr.classify_failure("error", "unexpiredness check failed") == pr.SOFT


def test_is_due():
    assert pr.is_due(date(2026, 1, 2), date(2026, 1, 2))
    assert not pr.is_due(date(2026, 1, 3), date(2026, 1, 2))
    assert not pr.is_due(None, date(2026, 1, 2))


# ----------------------------------------------------------------------
# Properties
# ----------------------------------------------------------------------
valid_schedules = st.lists(
    st.integers(min_value=1, max_value=pr.MAX_OFFSET_DAYS), max_size=pr.MAX_RETRIES, unique=True
).map(sorted)


@given(valid_schedules)
def test_format_then_parse_is_identity(offsets):
    """Any valid schedule survives writing and reading back."""
    assert pr.parse_schedule(pr.format_schedule(offsets)) == tuple(offsets)


@given(valid_schedules, st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)))
def test_retry_dates_strictly_increase_and_stay_within_the_bound(offsets, first):
    """The retry dates follow each other, all after the first failure and within MAX_OFFSET_DAYS of it;
    after len(offsets) failures there is none."""
    dates = [pr.next_attempt_date(first, k, offsets) for k in range(1, len(offsets) + 1)]
    assert all(a < b for a, b in zip(dates, dates[1:], strict=False))
    assert all(first < d <= first + timedelta(days=pr.MAX_OFFSET_DAYS) for d in dates)
    assert pr.next_attempt_date(first, len(offsets) + 1, offsets) is None


@given(st.text(max_size=40))
def test_parse_either_returns_a_valid_schedule_or_raises(text):
    """Whatever the input: a bounded, strictly increasing schedule, or ScheduleError (never anything else)."""
    try:
        offsets = pr.parse_schedule(text)
    except pr.ScheduleError:
        return
    assert len(offsets) <= pr.MAX_RETRIES
    assert all(1 <= o <= pr.MAX_OFFSET_DAYS for o in offsets)
    assert all(a < b for a, b in zip(offsets, offsets[1:], strict=False))


@given(st.sampled_from(["error", "cancel", "pending", "done"]), st.one_of(st.none(), st.text(max_size=60)))
def test_classification_is_total_and_inactive_token_always_hard(state, message):
    assert pr.classify_failure(state, message) in (pr.HARD, pr.SOFT)
    assert pr.classify_failure(state, message, token_active=False) == pr.HARD
