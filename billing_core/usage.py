"""Aggregation of metered usage over a billing period.

Free of any Odoo import. A usage metric reports events (a quantity at a
time, optionally with a ``value`` such as a user id); a period's billable
quantity is one aggregate of its events:

* ``sum``: the total of the quantities; negative quantities are corrections
  of earlier events, but the total never goes below 0;
* ``max``: the largest quantity (peak usage);
* ``count_distinct``: the number of distinct non-empty values (active users);
* ``last``: the quantity of the latest event (a gauge such as storage used).

An aggregate is a ``Decimal``, never negative, ``0`` for no events, so it
can be rated directly (:func:`.pricing.rate_tiered`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .pricing import ZERO, exact_context, to_decimal

SUM = "sum"
MAX = "max"
COUNT_DISTINCT = "count_distinct"
LAST = "last"
METHODS = (SUM, MAX, COUNT_DISTINCT, LAST)


@dataclass(frozen=True)
class UsageEvent:
    """One usage record: ``quantity`` at ``timestamp``; ``value`` is what ``count_distinct`` counts."""

    quantity: Decimal
    timestamp: datetime
    value: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "quantity", to_decimal(self.quantity, "quantity"))


def aggregate(events: Iterable[UsageEvent], method: str) -> Decimal:
    """The period's quantity of ``events`` by ``method`` (``SUM``, ``MAX``, ``COUNT_DISTINCT``, ``LAST``).

    No events give ``0``; the result is clamped at ``0`` (a ``sum`` of
    corrections, a negative ``max`` or ``last``). ``last`` takes the event
    with the latest timestamp, the later one in ``events`` on a tie. An
    unknown method raises ``ValueError``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown aggregation method {method!r}, expected one of {METHODS}")
    events = list(events)
    if not events:
        return ZERO
    if method == SUM:
        with exact_context():
            result = sum((event.quantity for event in events), ZERO)
    elif method == MAX:
        result = max(event.quantity for event in events)
    elif method == COUNT_DISTINCT:
        result = Decimal(len({event.value for event in events if event.value}))
    else:
        latest = events[0]
        for event in events[1:]:
            if event.timestamp >= latest.timestamp:
                latest = event
        result = latest.quantity
    return result if result > 0 else ZERO
