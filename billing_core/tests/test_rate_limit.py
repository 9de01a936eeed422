import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_core.rate_limit import DEFAULT_LIMIT, WINDOW_SECONDS, decide, parse_limit


def test_parse_limit():
    """'120' is 120, '0' switches the limit off, garbage and negatives fall back to the default."""
    assert parse_limit("120") == 120
    assert parse_limit(" 0 ") == 0
    assert parse_limit(None) == DEFAULT_LIMIT
    assert parse_limit("lots") == DEFAULT_LIMIT
    assert parse_limit("-5") == DEFAULT_LIMIT


def test_third_request_of_a_two_per_minute_window_is_refused():
    """Limit 2, 12.3 s left: requests 1 and 2 pass (remaining 1, 0), request 3 is refused with
    Retry-After 13 (12.3 rounded up)."""
    assert decide(2, 1, 12.3) == (
        True,
        [("RateLimit-Limit", "2"), ("RateLimit-Remaining", "1"), ("RateLimit-Reset", "13")],
    )
    assert decide(2, 2, 12.3)[1][1] == ("RateLimit-Remaining", "0")
    allowed, headers = decide(2, 3, 12.3)
    assert not allowed
    assert dict(headers) == {
        "RateLimit-Limit": "2",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "13",
        "Retry-After": "13",
    }


def test_zero_seconds_left_still_waits_one_second():
    assert dict(decide(1, 2, 0.0)[1])["Retry-After"] == "1"


def test_zero_limit_and_zero_count_are_programming_errors():
    with pytest.raises(ValueError):
        decide(0, 1, 10)
    with pytest.raises(ValueError):
        decide(5, 0, 10)


@given(
    limit=st.integers(1, 10_000),
    count=st.integers(1, 20_000),
    left=st.floats(0, WINDOW_SECONDS, allow_nan=False),
)
def test_exactly_limit_requests_pass_and_reset_is_within_the_window(limit, count, left):
    """Allowed iff count <= limit; remaining never negative; reset in 1..60 and >= the time left."""
    allowed, headers = decide(limit, count, left)
    headers = dict(headers)
    assert allowed == (count <= limit)
    assert int(headers["RateLimit-Remaining"]) == max(0, limit - count)
    reset = int(headers["RateLimit-Reset"])
    assert 1 <= reset <= WINDOW_SECONDS
    assert reset >= left
    assert ("Retry-After" in headers) == (not allowed)
