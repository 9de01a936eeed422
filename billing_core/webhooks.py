"""Webhook delivery rules: the retry schedule and which endpoint wants which event (no Odoo import)."""

from __future__ import annotations

import fnmatch
from datetime import timedelta

#: waits before the 2nd, 3rd, ... attempt: quick retries for a blip, then hours, over 3 days and more
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
    timedelta(hours=12),
    timedelta(hours=12),
    timedelta(hours=12),
    timedelta(hours=12),
    timedelta(hours=12),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1


def next_retry_delay(failed_attempts: int) -> timedelta | None:
    """The wait after ``failed_attempts`` failed attempts (1 = the first failed), or None to give up."""
    if failed_attempts < 1:
        raise ValueError("failed_attempts starts at 1")
    if failed_attempts > len(RETRY_DELAYS):
        return None
    return RETRY_DELAYS[failed_attempts - 1]


def total_retry_span() -> timedelta:
    """Time from the first attempt to the last retry."""
    return sum(RETRY_DELAYS, timedelta())


def parse_event_types(spec: str | None) -> list[str]:
    """The patterns of an endpoint's event type field: comma or whitespace separated, ``*`` = all."""
    return [part for part in (spec or "*").replace(",", " ").split() if part]


def wants_event(spec: str | None, event_type: str) -> bool:
    """Whether an endpoint subscribed with ``spec`` (``*``, ``subscription.*``, exact types) wants ``event_type``."""
    return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in parse_event_types(spec))


def is_success(status_code: int | None) -> bool:
    """Only a 2xx answer delivers; a redirect is not followed and counts as a failure."""
    return status_code is not None and 200 <= status_code < 300
