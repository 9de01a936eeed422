"""Tests for ``billing_core.webhooks`` (pure Python, no Odoo)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_core.webhooks import (
    MAX_ATTEMPTS,
    RETRY_DELAYS,
    is_success,
    next_retry_delay,
    total_retry_span,
    wants_event,
)


def test_retries_span_at_least_three_days():
    """5 s + 30 s + 2 min + 10 min + 30 min + 1 h + 2 h + 4 h + 8 h + 5 x 12 h = 3 d 3 h 42 min 35 s."""
    assert total_retry_span() == timedelta(days=3, hours=3, minutes=42, seconds=35)
    assert total_retry_span() >= timedelta(days=3)


@given(st.integers(min_value=1, max_value=len(RETRY_DELAYS) - 1))
def test_delays_never_shrink(attempt):
    assert next_retry_delay(attempt + 1) >= next_retry_delay(attempt)


def test_gives_up_after_the_last_attempt():
    assert next_retry_delay(len(RETRY_DELAYS)) == timedelta(hours=12)
    assert next_retry_delay(len(RETRY_DELAYS) + 1) is None
    assert MAX_ATTEMPTS == 15
    with pytest.raises(ValueError):
        next_retry_delay(0)


@pytest.mark.parametrize(
    ("spec", "event_type", "wanted"),
    [
        ("*", "invoice.posted", True),
        (None, "invoice.posted", True),
        ("subscription.*", "subscription.paused", True),
        ("subscription.*", "invoice.posted", False),
        ("invoice.posted, subscription.ended", "subscription.ended", True),
        ("invoice.posted subscription.ended", "invoice.paid", False),
    ],
)
def test_event_type_patterns(spec, event_type, wanted):
    assert wants_event(spec, event_type) is wanted


@given(st.integers(min_value=100, max_value=599))
def test_only_2xx_is_success(status):
    assert is_success(status) is (200 <= status < 300)
