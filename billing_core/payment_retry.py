"""Automatic charging of saved payment methods: retry schedules and failure classification.

Free of any Odoo import.

A *retry schedule* is a short list of day offsets, written ``"1,3,5,7"``: after
the first failed charge of an invoice, it is charged again 1, 3, 5 and 7 days
after that first failure. The offsets count from the first failure (not from
the previous attempt), so a late cron run does not push the later attempts
back. The schedule is bounded (:data:`MAX_RETRIES` entries, each from 1 to
:data:`MAX_OFFSET_DAYS` days, strictly increasing): a typing error must not
charge a customer's card every day for a year. An empty schedule means "no
retry": the first failure hands the invoice to dunning.

A failed charge is *hard* when charging again cannot succeed (the saved method
is gone, or the provider says the card expired, was revoked, reported lost or
stolen, the account is invalid or closed) and *soft* otherwise (insufficient
funds, a timeout, a provider error): hard failures are not retried.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

#: at most this many retries after the first failure
MAX_RETRIES = 10
#: the last retry lies at most this many days after the first failure
MAX_OFFSET_DAYS = 60
#: the default schedule of a company
DEFAULT_SCHEDULE = "1,3,5,7"

HARD = "hard"
SOFT = "soft"

#: generic phrases by which providers report declines that a retry cannot cure (lower case, matched as words)
HARD_DECLINE_MARKERS = (
    "expired",
    "expiry",
    "revoked",
    "stolen",
    "lost card",
    "card lost",
    "reported lost",
    "pickup card",
    "pick up card",
    "invalid account",
    "account closed",
    "closed account",
    "invalid card",
    "invalid card number",
    "do not honor",
    "do not honour",
    "fraud",
    "mandate revoked",
    "no valid mandate",
    "token revoked",
    "deceased",
)

_MARKER_RE = re.compile(r"\b(?:" + "|".join(re.escape(m) for m in HARD_DECLINE_MARKERS) + r")\b")


class ScheduleError(ValueError):
    """A retry schedule that cannot be used.

    ``code`` says what is wrong (``syntax``, ``too_many``, ``range``, ``order``),
    ``value`` the offending piece; the caller words the message.
    """

    def __init__(self, code, value=None):
        super().__init__(f"{code}: {value!r}")
        self.code = code
        self.value = value


def parse_schedule(text: str | None) -> tuple[int, ...]:
    """The day offsets of a schedule written as ``"1, 3, 5, 7"`` (empty or ``None``: no retry).

    :raises ScheduleError: on anything but comma-separated integers, more than
        :data:`MAX_RETRIES` entries, an offset outside 1..:data:`MAX_OFFSET_DAYS`
        or offsets that do not strictly increase.
    """
    if text is None or not text.strip():
        return ()
    offsets = []
    for piece in text.split(","):
        piece = piece.strip()
        if not piece.isascii() or not piece.isdigit():
            raise ScheduleError("syntax", piece)
        offsets.append(int(piece))
    if len(offsets) > MAX_RETRIES:
        raise ScheduleError("too_many", len(offsets))
    for offset in offsets:
        if not 1 <= offset <= MAX_OFFSET_DAYS:
            raise ScheduleError("range", offset)
    for previous, offset in zip(offsets, offsets[1:], strict=False):
        if offset <= previous:
            raise ScheduleError("order", offset)
    return tuple(offsets)


def format_schedule(offsets) -> str:
    """The normal written form of ``offsets``: ``"1,3,5,7"``."""
    return ",".join(str(int(offset)) for offset in offsets)


def next_attempt_date(first_failure: date, failures: int, offsets) -> date | None:
    """When to charge again after ``failures`` failed attempts, the first on ``first_failure``.

    ``None`` when the schedule is exhausted (the invoice goes to dunning).
    ``failures`` counts every failed attempt, the first one included (so 1
    after the first failure gives ``first_failure + offsets[0]``).
    """
    if failures < 1:
        raise ValueError("next_attempt_date needs at least one failed attempt")
    if failures > len(offsets):
        return None
    return first_failure + timedelta(days=offsets[failures - 1])


def classify_failure(state: str, message: str | None, token_active: bool = True) -> str:
    """:data:`HARD` or :data:`SOFT` for a failed charge.

    :param state: the transaction's state (``error`` or ``cancel``); a failure
        in another state is soft (it may still change)
    :param message: the provider's message, if any
    :param token_active: whether the saved payment method still exists (an
        archived or revoked token is a hard failure whatever the message)
    """
    if not token_active:
        return HARD
    if state in ("error", "cancel") and message and _MARKER_RE.search(message.lower()):
        return HARD
    return SOFT


def is_due(next_attempt: date | None, date_ref: date) -> bool:
    """Whether an attempt planned for ``next_attempt`` is due on ``date_ref``."""
    return next_attempt is not None and next_attempt <= date_ref
